//! The programs a population's neurons can run, and the transfer function of the sigmoid model.
//!
//! Two rate models of the EP literature (docs/model.md), both with a per-neuron time step
//! `dt_i ∈ (0, 1]` and their output equal to their state:
//!
//! - [`NeuronProgram::Clip`] (Scellier & Bengio 2017, Euler steps of the continuous model):
//!   `s ← clip(s + dt·(u − s), 0, 1)`, fixed point `clip(u, 0, 1)`;
//! - [`NeuronProgram::Sigmoid`] (the discrete-time model of Ernoult et al. 2019 and Laborieux et al.
//!   2021, with HTS): `s ← s + dt·(σ(u) − s)` with `σ(u) = 1/(1 + e^(−(4u − 2)))`, fixed point `σ(u)`;
//!   with every `dt_i = 1` it is exactly that code's update `s ← σ(u)`.
//!
//! `u` is the neuron's drive `∂Φ/∂s_i = Σ_j W_ij s_j + b_i`, plus the nudge `β(y_i − s_i)` on a
//! nudged neuron (inside σ for the sigmoid model, as in that code).

/// The program a population's neurons run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NeuronProgram {
    /// The hard-sigmoid rate neuron, a normalised leaky integrator `s ← clip(s + dt·(u − s), 0, 1)`.
    /// Its fixed point `clip(u, 0, 1)` does not depend on `dt`.
    #[default]
    Clip,
    /// The sigmoid rate neuron `s ← s + dt·(σ(u) − s)`, `σ(u) = 1/(1 + e^(−(4u − 2)))`. Its fixed
    /// point `σ(u)` does not depend on `dt`. Digital cores evaluate σ with a lookup table
    /// (`DigitalArithmetic::sigmoid_table`).
    Sigmoid,
    /// Loihi's current-based leaky integrate-and-fire compartment, bit for bit as Lava's fixed-point
    /// model (see `cores/cuba_lif.rs`); its output is a binary spike.
    CubaLif,
}

impl NeuronProgram {
    /// The rate models by name, as the command line and configs spell them.
    pub const RATE_MODELS: [(&'static str, NeuronProgram); 2] =
        [("clip", NeuronProgram::Clip), ("sigmoid", NeuronProgram::Sigmoid)];

    /// The name of a rate model (`clip`, `sigmoid`; `cuba-lif` for the spiking compartment).
    pub fn name(self) -> &'static str {
        match self {
            NeuronProgram::Clip => "clip",
            NeuronProgram::Sigmoid => "sigmoid",
            NeuronProgram::CubaLif => "cuba-lif",
        }
    }

    /// A rate model by name.
    pub fn rate_model(name: &str) -> Option<Self> {
        Self::RATE_MODELS.iter().find(|(n, _)| *n == name).map(|&(_, p)| p)
    }
}

/// The sigmoid model's transfer function `σ(u) = 1/(1 + e^(−(4u − 2)))`: 0.5 at `u = 0.5`, slope 1
/// there, 0.018 at `u = −0.5` and 0.982 at `u = 1.5`. The exponential is [`crate::expf::expf`]
/// (glibc's numbers, vectorisable).
#[inline(always)]
pub fn sigmoid(u: f32) -> f32 {
    1.0 / (1.0 + crate::expf::expf(2.0 - 4.0 * u))
}

/// [`sigmoid`] in f64 (references and gradient checks).
#[inline]
pub fn sigmoid_f64(u: f64) -> f64 {
    1.0 / (1.0 + (2.0 - 4.0 * u).exp())
}
