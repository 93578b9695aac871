//! Core kinds: the arithmetic of each kind of core, behind one interface that [`crate::Chip`] drives.
//!
//! As in Lava, where one neuron has float, fixed-point and bit-accurate process models side by side
//! and a tag chooses one, every kind of core is a module here that answers the same questions:
//! how it stores numbers it is given in real units (discretisation), how it turns the previous
//! step's activity into each neuron's drive (dendritic sums), how its neurons update, and how its
//! learning engine writes an update into the weights. The chip keeps allocation, routing, counters
//! and the public API and asks the kind for everything else.
//!
//! - [`float`]: the floating-point twin (32-bit floats, no limits);
//! - [`digital`]: a Loihi-like digital core (integer states, weight mantissas, decay constants,
//!   saturating accumulators, stochastic rounding);
//! - [`analog`]: an analog crossbar (conductances, DAC/ADC, read noise, pulsed updates);
//! - [`cuba_lif`]: Loihi's CUBA LIF compartment, a neuron program of digital cores.
//!
//! Adding a core kind: a module with a struct implementing [`CoreArithmetic`], and its variant in
//! [`CoreKind`] (the enum, [`CoreKind::for_profile`] and [`CoreKind::arithmetic`]).

pub mod analog;
pub mod cuba_lif;
pub mod digital;
pub mod float;
pub(crate) mod pulse_queue;
pub(crate) mod read_noise;

use ndarray::{Array2, ArrayView2};
use rand::rngs::Xoshiro256PlusPlus;

use crate::error::Result;
use crate::learning_rule::SumOfProducts;
use crate::mismatch::{MismatchQuantity, MismatchSampler};
use crate::population::Population;
use crate::profile::{Arithmetic, HardwareProfile, LearningEngineSpec};
use crate::rounding_noise::RoundingNoise;
use crate::synapse_group::SynapseGroup;

/// Which implementation computes steps and learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionPath {
    /// Batched matrix products (the normal path).
    #[default]
    Fast,
    /// Plain scalar loops, one neuron and one synapse at a time: the reference the fast path is
    /// checked against.
    Reference,
}

/// A nudge converted into the core's numbers: targets and β in real units and in state units.
#[derive(Debug, Clone)]
pub(crate) struct NudgeUnits {
    /// Index of the nudged population.
    pub pop: usize,
    /// Targets clamped to [0, 1].
    pub target_f: Array2<f32>,
    /// Targets in state units (digital cores).
    pub target_i: Array2<i64>,
    /// β in real units.
    pub beta_f: f32,
    /// β with `nudge_fraction_bits` of fraction (digital cores).
    pub beta_q: i64,
}

/// The chip's populations and synapses as a core kind's arithmetic sees them while running steps:
/// every population (the whole batch, or one shard of its examples), the synapse groups (read only)
/// and the settings of the run.
pub(crate) struct Dynamics<'a> {
    /// Every population, inputs included; their batch arrays hold `batch` examples.
    pub populations: &'a mut [Population],
    /// Every synapse group.
    pub groups: &'a [SynapseGroup],
    /// Examples (rows) held by the populations' batch arrays.
    pub batch: usize,
    /// Worker threads for matrix products (results do not depend on it).
    pub threads: usize,
    /// Fast or reference implementation.
    pub path: ExecutionPath,
    /// Where this step's read noise comes from (analog cores).
    pub noise: NoiseSource<'a>,
    /// Row in the whole batch of the populations' first row (the row the read noise is drawn for).
    pub first_row: usize,
}

/// Where a step's read noise comes from.
pub(crate) enum NoiseSource<'a> {
    /// No conversions draw noise (the constant drives).
    None,
    /// Drawn during the step from the chip's noise generator (a run on one thread).
    InPlace(&'a mut Xoshiro256PlusPlus),
    /// Drawn ahead for the whole batch, in the same order (a run shared among threads).
    Drawn(&'a read_noise::StepNoise),
}

/// The chip's populations and synapses as a core kind's arithmetic sees them during a learning
/// update, with the chip-wide settings it needs.
pub(crate) struct Fabric<'a> {
    /// Every population, inputs included.
    pub populations: &'a mut [Population],
    /// Every synapse group.
    pub groups: &'a mut [SynapseGroup],
    /// Examples processed at once.
    pub batch: usize,
    /// Worker threads for matrix products (results do not depend on it).
    pub threads: usize,
    /// The learning engine's precision and rounding.
    pub learning: &'a LearningEngineSpec,
    /// Counter-based rounding numbers (digital learning).
    pub rounding_noise: RoundingNoise,
    /// The chip instance's seed (analog pulse streams).
    pub seed: u64,
    /// Each synapse group's pre × post buffer for its summed updates, kept between updates (one
    /// per group: a shared one would be reallocated whenever groups of different shapes learn in
    /// turn).
    pub scratch: &'a mut crate::learning_engine::UpdateBuffers,
}

impl Fabric<'_> {
    /// Group `g`'s update buffer (empty the first time), to be given back with
    /// [`Fabric::return_scratch`].
    pub fn take_scratch(&mut self, g: usize) -> Array2<f32> {
        self.scratch.take(g)
    }

    /// Keeps `buffer` as group `g`'s update buffer.
    pub fn return_scratch(&mut self, g: usize, buffer: Array2<f32>) {
        self.scratch.put(g, buffer);
    }
}

/// Draws per-device parameters of a synapse group on the cores of its postsynaptic population.
pub(crate) struct DeviceSampler<'a> {
    /// The chip's mismatch streams.
    pub mismatch: &'a MismatchSampler,
    /// The postsynaptic population (its placement decides which core's stream a device uses).
    pub post: &'a Population,
    /// Index of the group being connected (its substream).
    pub group: u64,
}

impl DeviceSampler<'_> {
    /// A pre × post array drawn on the post population's cores: `draw(core, n)` gives the `n` values
    /// of one core's block, laid out pre-major.
    pub fn group_array(&self, np: usize, draw: impl Fn(usize, usize) -> Vec<f32>) -> Array2<f32> {
        let pop = self.post;
        let mut out = Array2::zeros((np, pop.size));
        for block in &pop.placement {
            let f = draw(block.core, np * block.len);
            for j in 0..np {
                for k in 0..block.len {
                    out[[j, block.start + k]] = f[j * block.len + k];
                }
            }
        }
        out
    }

    /// Per-synapse gain factors (`None` without synapse-gain mismatch).
    pub fn synapse_gains(&self, np: usize) -> Option<Array2<f32>> {
        (self.mismatch.spread(MismatchQuantity::SynapseGain) > 0.0).then(|| {
            self.group_array(np, |core, n| {
                self.mismatch.factors(MismatchQuantity::SynapseGain, core, self.group, 0, n)
            })
        })
    }

    /// A pre × post array of per-device draws of `dist` from the `Device` streams of the post cores.
    pub fn device_draws<D: rand_distr::Distribution<f64> + Copy>(
        &self,
        np: usize,
        substream: u64,
        dist: D,
    ) -> Array2<f32> {
        self.group_array(np, |core, n| {
            self.mismatch.draws(MismatchQuantity::Device, core, substream, n, dist)
        })
    }
}

/// What every kind of core answers. Methods with a default are the floating-point behaviour.
pub(crate) trait CoreArithmetic {
    /// Payload bits of an input population's values (0: real values).
    fn input_bits(&self) -> u32 {
        0
    }

    /// Payload bits of a rate population's activity (0: real values).
    fn activation_bits(&self) -> u32 {
        0
    }

    /// Bits of one stored weight (synapse-memory accounting).
    fn weight_bits(&self) -> u32 {
        32
    }

    /// Whether the core runs CUBA LIF compartments.
    fn hosts_cuba_lif(&self) -> bool {
        false
    }

    /// Stores a rate population's realised time steps and biases in the core's formats.
    fn discretise_neurons(&self, pop: &mut Population, realised_dt: Vec<f32>, bias: Vec<f32>) {
        pop.dt = realised_dt;
        pop.bias = bias;
    }

    /// Sets a new synapse group's number format and device parameters (`mirror`: the forward group
    /// whose feedback copy this is).
    fn configure_group(
        &self,
        group: &mut SynapseGroup,
        mirror: Option<&SynapseGroup>,
        devices: &DeviceSampler<'_>,
    ) -> Result<()>;

    /// Writes weights given in real units into a group's storage.
    fn store_weights(&self, group: &mut SynapseGroup, weights: ArrayView2<f32>) {
        group.weights.assign(&weights);
    }

    /// A group's weights in real units.
    fn real_weights(&self, group: &SynapseGroup) -> Array2<f32> {
        (*group.weights).clone()
    }

    /// The weights the dynamics use (real units): stored weights times per-synapse gains.
    fn effective_weights(&self, group: &SynapseGroup) -> Array2<f32> {
        group.effective.as_deref().cloned().unwrap_or_else(|| self.real_weights(group))
    }

    /// Writes biases given in real units.
    fn store_bias(&self, pop: &mut Population, bias: &[f32]) {
        pop.bias = bias.to_vec();
    }

    /// A population's biases in real units.
    fn real_bias(&self, pop: &Population) -> Vec<f32> {
        pop.bias.clone()
    }

    /// Converts input values in [0, 1] into an input population's activity.
    fn encode_input(&self, activity: &mut Array2<f32>, values: ArrayView2<f32>);

    /// A population's activity in real units.
    fn real_activity(&self, pop: &Population) -> Array2<f32> {
        pop.activity.clone()
    }

    /// A population's neuron states in real units.
    fn real_state(&self, pop: &Population) -> Array2<f32> {
        pop.state_f.clone()
    }

    /// The unit of a state (1 in real units) and the fraction bits of β.
    fn nudge_units(&self) -> (f64, u32) {
        (1.0, 0)
    }

    /// Why saved weights of `group` cannot be loaded (`None` if they can).
    fn check_saved_weights(&self, _group: &SynapseGroup, _weights: &[f32]) -> Option<String> {
        None
    }

    /// Why saved bias mantissas cannot be loaded (`None` if they can).
    fn check_saved_bias(&self, _mantissas: &[i64]) -> Option<String> {
        None
    }

    /// Draws one step's read noise for `batch` examples of `populations` from `rng`, in the order
    /// the step's conversions would draw it (`None`: the core has no read noise).
    fn draw_read_noise(
        &self,
        _populations: &[Population],
        _batch: usize,
        _rng: &mut Xoshiro256PlusPlus,
    ) -> Option<read_noise::StepNoise> {
        None
    }

    /// The constant drive that input populations deliver to rate population `q`.
    fn static_drive(&self, net: &mut Dynamics<'_>, q: usize);

    /// Rate population `q`'s drive from the previous step's activity.
    fn compute_drive(&self, net: &mut Dynamics<'_>, q: usize);

    /// Updates every neuron of a rate population from its drive; returns the summed squared state
    /// change (measured only when `rows_sq` is given or on paths that always measure).
    fn update_neurons(
        &self,
        pop: &mut Population,
        nudge: Option<&NudgeUnits>,
        rows_sq: Option<&mut [f64]>,
        max_change: &mut f32,
        path: ExecutionPath,
    ) -> f64;

    /// The activity latched into a trace slot, in trace units.
    fn latch(&self, pop: &Population, _trace_bits: u32) -> Array2<f32> {
        pop.activity.clone()
    }

    /// Real value of one trace step.
    fn trace_lsb(&self, _pop: &Population, _trace_bits: u32) -> f64 {
        1.0
    }

    /// Fast path: applies a sum-of-products rule to every synapse of group `g`.
    fn learn_group(&self, net: &mut Fabric<'_>, g: usize, rule: &SumOfProducts, global: f32);

    /// Fast path: applies a sum-of-products rule to the biases of population `p`.
    fn learn_bias(&self, net: &mut Fabric<'_>, p: usize, rule: &SumOfProducts, global: f32);

    /// Whether the reference path hands the group's update to [`CoreArithmetic::write_group_update`]
    /// unscaled, with the rule's global scalar separately (pulsed devices).
    fn scales_update_itself(&self) -> bool {
        false
    }

    /// Writes `scale · delta` (real units, summed over the batch) into group `g`'s weights.
    fn write_group_update(&self, net: &mut Fabric<'_>, g: usize, delta: &Array2<f64>, scale: f64);

    /// Writes `delta` (real units, 1 × post) into population `p`'s biases.
    fn write_bias_update(&self, net: &mut Fabric<'_>, p: usize, delta: &Array2<f64>);

    /// Adds the write error of programming `group`'s weights from outside (the `programming`-th
    /// programming of this chip); exact by default.
    fn programming_error(&self, _group: &mut SynapseGroup, _devices: &DeviceSampler<'_>, _programming: u64) {}

    /// True if this core's conductances change with time.
    fn drifts(&self) -> bool {
        false
    }

    /// Changes `group`'s weights as `seconds` of retention after they were programmed would, in
    /// retention `episode` (each episode draws its own random directions); nothing by default
    /// (digital synapse memory and floating point hold their values).
    fn drift(&self, _group: &mut SynapseGroup, _devices: &DeviceSampler<'_>, _seconds: f64, _episode: u64) {}

    /// True if conductances also drift between training epochs.
    fn drifts_while_training(&self) -> bool {
        false
    }
}

/// The kind of core a chip is made of, chosen by the profile's `arithmetic`.
#[derive(Debug, Clone)]
pub(crate) enum CoreKind {
    /// The floating-point twin.
    Float(float::FloatCore),
    /// A Loihi-like digital core.
    Digital(digital::DigitalCore),
    /// An analog crossbar core.
    Analog(analog::AnalogCore),
}

impl CoreKind {
    /// The core kind of a profile.
    pub fn for_profile(profile: &HardwareProfile) -> Self {
        match &profile.arithmetic {
            Arithmetic::Float => CoreKind::Float(float::FloatCore),
            Arithmetic::Digital(d) => CoreKind::Digital(digital::DigitalCore::new(d.clone())),
            Arithmetic::Analog(a) => CoreKind::Analog(analog::AnalogCore::new(a.clone())),
        }
    }

    /// The kind's arithmetic.
    pub fn arithmetic(&self) -> &dyn CoreArithmetic {
        match self {
            CoreKind::Float(k) => k,
            CoreKind::Digital(k) => k,
            CoreKind::Analog(k) => k,
        }
    }

    /// Whether a step reads the activity of input populations (the analog tile's read noise grows
    /// with it); the other kinds take the inputs' drive from the constant drive computed once per
    /// input change.
    pub fn steps_read_input_activity(&self) -> bool {
        matches!(self, CoreKind::Analog(_))
    }

    /// The digital number formats, on digital cores.
    pub fn digital(&self) -> Option<&crate::profile::DigitalArithmetic> {
        match self {
            CoreKind::Digital(k) => Some(&k.d),
            _ => None,
        }
    }

    /// A population's drive: CUBA LIF compartments take their synaptic input from spikes, rate
    /// neurons from the kind's dendritic sums.
    pub fn compute_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        if net.populations[q].lif_template.is_some() {
            cuba_lif::synaptic_input(net, q);
        } else {
            self.arithmetic().compute_drive(net, q);
        }
    }

    /// Updates a population's neurons (CUBA LIF compartments or the kind's rate neurons).
    pub fn update_neurons(
        &self,
        pop: &mut Population,
        nudge: Option<&NudgeUnits>,
        rows_sq: Option<&mut [f64]>,
        max_change: &mut f32,
        path: ExecutionPath,
    ) -> f64 {
        if pop.lif_template.is_some() {
            cuba_lif::update_population(pop)
        } else {
            self.arithmetic().update_neurons(pop, nudge, rows_sq, max_change, path)
        }
    }
}
