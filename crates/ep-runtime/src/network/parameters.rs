//! A trained network as numbers, independent of any chip: layer sizes, the weights each projection
//! applies (forward and feedback), biases, per-neuron time steps, and the settling schedule. This is
//! what the exporters write and the NIR importer reads back. They are read from a network on a chip
//! by `NetworkParameters::from_network` (in `on_chip::ep_network`) and from a run directory by
//! `NetworkParameters::from_run` (in `training::trainer`).

use ndarray::Array2;

use crate::error::{EpError, Result};
use crate::network::neuron_model::NeuronModel;

/// Numbers of a layered HTS-EP network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkParameters {
    /// Layer sizes, input first.
    pub layers: Vec<usize>,
    /// Forward weights of projection `l` (layer `l` → `l + 1`), `(n_l, n_{l+1})` (pre × post), as
    /// the chip applies them (digital: mantissa × step; analog: the devices' effective values).
    pub forward: Vec<Array2<f32>>,
    /// Feedback weights of projection `l` (layer `l + 1` → `l`), `(n_{l+1}, n_l)`; `None` for the
    /// first projection (the input is clamped).
    pub feedback: Vec<Option<Array2<f32>>>,
    /// Biases of every neuron layer (not the input).
    pub bias: Vec<Vec<f32>>,
    /// Per-neuron time steps `dt_i = Δt/τ_i` of every neuron layer, as realised on the chip.
    pub dt: Vec<Vec<f32>>,
    /// Free-phase steps used for inference.
    pub t1: usize,
    /// The neurons' rate model.
    pub neuron: NeuronModel,
}

impl NetworkParameters {
    /// Checks that every array has the shape the layer sizes call for and every number is finite.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(EpError::DoesNotFit(format!("inconsistent network parameters: {what}")));
        let n = self.layers.len();
        if n < 2 || self.layers.contains(&0) {
            return bad(format!(
                "layer sizes {:?} (need an input and at least one neuron layer)",
                self.layers
            ));
        }
        if self.forward.len() != n - 1
            || self.feedback.len() != n - 1
            || self.bias.len() != n - 1
            || self.dt.len() != n - 1
        {
            return bad(format!("{} layers but {} forward projections", n, self.forward.len()));
        }
        for l in 1..n {
            let (a, b) = (self.layers[l - 1], self.layers[l]);
            if self.forward[l - 1].dim() != (a, b) {
                return bad(format!(
                    "forward weights {l} are {:?}, expected ({a}, {b})",
                    self.forward[l - 1].dim()
                ));
            }
            match (&self.feedback[l - 1], l) {
                (None, 1) => {}
                (Some(w), l) if l > 1 && w.dim() == (b, a) => {}
                (other, _) => {
                    return bad(format!(
                        "feedback weights {l} are {:?}, expected {}",
                        other.as_ref().map(|w| w.dim()),
                        if l == 1 {
                            "none (the input is clamped)".to_string()
                        } else {
                            format!("({b}, {a})")
                        }
                    ));
                }
            }
            if self.bias[l - 1].len() != b || self.dt[l - 1].len() != b {
                return bad(format!(
                    "layer {l} has {b} neurons but {} biases and {} time steps",
                    self.bias[l - 1].len(),
                    self.dt[l - 1].len()
                ));
            }
            if let Some(x) = self.dt[l - 1].iter().find(|&&x| !(x > 0.0 && x <= 1.0)) {
                return bad(format!("layer {l}: time step {x} is outside (0, 1]"));
            }
        }
        let finite = self.forward.iter().all(|w| w.iter().all(|x| x.is_finite()))
            && self.feedback.iter().flatten().all(|w| w.iter().all(|x| x.is_finite()))
            && self.bias.iter().flatten().all(|x| x.is_finite());
        if !finite {
            return bad("a weight or bias is not finite".into());
        }
        if self.t1 == 0 {
            return bad("t1 = 0 free-phase steps".into());
        }
        Ok(())
    }
}
