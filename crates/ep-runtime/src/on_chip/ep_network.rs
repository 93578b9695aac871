//! A layered HTS-EP network mapped onto an emulated chip, and the EP phases run on it.
//!
//! Everything here goes through chip-model's public interface: allocate populations and synapse
//! groups, write inputs, run steps with or without a nudge, latch traces and apply the local EP rule
//! through the chip's learning engine. The runtime never touches weights during training. It also
//! reads a network's numbers back off the chip ([`NetworkParameters::from_network`]).

use chip_model::{
    Chip, ConnectOptions, GroupId, HardwareProfile, Nudge, PopulationId, PopulationSpec, SumOfProducts,
    TraceSlot,
};
use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Uniform};

use crate::config::{BetaSign, TrainConfig};
use crate::error::{EpError, Result};
use crate::mapping::placement::{Placement, place_network};
use crate::network::neuron_model::NeuronModel;
use crate::network::parameters::NetworkParameters;
use crate::network::seeds::{SeedPurpose, derive_seed};
use crate::network::shape::NetworkShape;
use crate::network::shape::layer_name;

/// Trace slot latched at the end of the free phase.
pub const SLOT_FREE: usize = 0;
/// Trace slot latched at the end of the nudged phase (+β, or the sign drawn for this batch).
pub const SLOT_PLUS: usize = 1;
/// Trace slot latched at the end of the −β phase (symmetric estimate).
pub const SLOT_MINUS: usize = 2;

/// What one training mini-batch reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchOutcome {
    /// Examples classified correctly by the free phase.
    pub correct: usize,
    /// RMS state change in the last free-phase step (equilibrium quality).
    pub free_residual: f32,
    /// Squared-error cost ½‖s_L − y‖² summed over the batch, at the free fixed point.
    pub cost: f64,
    /// Share of neuron states (all layers, all examples) exactly at 0 or 1 at the free fixed point.
    pub saturated: f64,
    /// Examples whose RMS state change in the last free step exceeded [`UNSETTLED_RESIDUAL`].
    pub unsettled: usize,
    /// Steps the free phase took (T1, or fewer with a settling tolerance).
    pub free_steps: usize,
    /// Steps the nudged phase(s) took together.
    pub nudged_steps: usize,
}

/// An example whose free phase still changes its states by more than this (RMS per step, state
/// units) at its last step has not settled.
pub const UNSETTLED_RESIDUAL: f32 = 1e-3;

/// An HTS-EP network living on one chip instance.
#[derive(Debug, Clone)]
pub struct EpNetwork {
    chip: Chip,
    shape: NetworkShape,
    placement: Placement,
    input: PopulationId,
    layers: Vec<PopulationId>,
    forward: Vec<GroupId>,
    feedback: Vec<Option<GroupId>>,
    designed_dt: Vec<Vec<f32>>,
    neuron: NeuronModel,
}

impl EpNetwork {
    /// Builds the network on a new chip instance of `profile`: places layers on cores, draws
    /// per-neuron time constants from `config.tau`, initialises the weights uniformly (the neuron
    /// model's bound, [`NeuronModel::init_limit`]), and creates the forward synapses and their
    /// feedback copies; the neurons run `config.neuron`.
    pub fn build(profile: &HardwareProfile, shape: &NetworkShape, config: &TrainConfig) -> Result<Self> {
        Self::build_with(profile, shape, config, None, None)
    }

    /// Builds the network of `params` (a trained or imported network) on a new chip instance of
    /// `profile`, as a toolchain programs a chip: its per-neuron time steps become the designed ones
    /// (the chip's own mismatch, if any, applies on top); each projection's weight range is the larger
    /// of the one training would start with and the largest weight (so a network trained elsewhere
    /// fits, scaled per layer the way analog-inference tools map `w_max` to `g_max`); weights are
    /// programmed with the chip's write error ([`Chip::program_weights`]) and biases written in the
    /// chip's own format.
    pub fn from_parameters(
        profile: &HardwareProfile,
        params: &NetworkParameters,
        config: &TrainConfig,
    ) -> Result<Self> {
        params.validate()?;
        let shape = NetworkShape::new(params.layers.clone())?;
        // The network runs the model it was trained with, whatever `config` says.
        let config = TrainConfig { neuron: params.neuron, ..config.clone() };
        let largest: Vec<f32> = (0..params.forward.len())
            .map(|l| {
                let fb = params.feedback[l].iter().flat_map(|w| w.iter());
                params.forward[l].iter().chain(fb).fold(0.0f32, |m, w| m.max(w.abs()))
            })
            .collect();
        let mut net = Self::build_with(profile, &shape, &config, Some(&params.dt), Some(&largest))?;
        for l in 1..params.layers.len() {
            let (fwd, post) = (net.forward[l - 1], net.layers[l - 1]);
            net.chip.program_weights(fwd, params.forward[l - 1].view())?;
            if let (Some(fb), Some(w)) = (net.feedback[l - 1], &params.feedback[l - 1]) {
                net.chip.program_weights(fb, w.view())?;
            }
            net.chip.write_bias(post, &params.bias[l - 1])?;
        }
        Ok(net)
    }

    fn build_with(
        profile: &HardwareProfile,
        shape: &NetworkShape,
        config: &TrainConfig,
        dt: Option<&[Vec<f32>]>,
        largest_weight: Option<&[f32]>,
    ) -> Result<Self> {
        config.validate(shape)?;
        let placement = place_network(profile, shape, config.placement)?;
        let mut chip = Chip::new(profile, derive_seed(config.seed, SeedPurpose::Chip))?;
        chip.set_threads(config.threads);
        let sizes = shape.sizes();
        let count = sizes.len();
        let input = chip.add_population(PopulationSpec::input("input", sizes[0]))?;
        let mut tau_rng = ChaCha8Rng::seed_from_u64(derive_seed(config.seed, SeedPurpose::Tau));
        let mut layers = Vec::new();
        let mut designed_dt = Vec::new();
        for (l, &size) in sizes.iter().enumerate().skip(1) {
            let dt = match dt {
                Some(given) => given[l - 1].clone(),
                None => config.tau.sample_dt(size, f64::from(config.base_dt), &mut tau_rng),
            };
            let spec = PopulationSpec::rate_neurons(
                layer_name(l, count),
                dt.clone(),
                vec![0.0; size],
                placement.layers[l - 1].clone(),
            )
            .with_program(config.neuron.program());
            layers.push(chip.add_population(spec)?);
            designed_dt.push(dt);
        }
        let mut init_rng = ChaCha8Rng::seed_from_u64(derive_seed(config.seed, SeedPurpose::Init));
        let mut forward = Vec::new();
        let mut feedback = Vec::new();
        for l in 1..count {
            let (n_in, n_out) = (sizes[l - 1], sizes[l]);
            let limit = config.neuron.init_limit(n_in, n_out);
            let dist = Uniform::new_inclusive(-limit, limit)
                .map_err(|e| EpError::DoesNotFit(format!("cannot initialise weights: {e}")))?;
            let w = Array2::from_shape_fn((n_in, n_out), |_| dist.sample(&mut init_rng));
            let pre = if l == 1 { input } else { layers[l - 2] };
            let post = layers[l - 1];
            let initial_range = limit * config.weight_headroom;
            let range = largest_weight.map_or(initial_range, |m| initial_range.max(m[l - 1]));
            let g = chip.connect(
                pre,
                post,
                w.view(),
                ConnectOptions {
                    weight_range: Some(range),
                    mirror_of: None,
                    fan_in: placement.fan_in_of(l - 1, l).to_vec(),
                },
            )?;
            forward.push(g);
            if l >= 2 {
                let fb = chip.connect(
                    post,
                    pre,
                    w.t(),
                    ConnectOptions {
                        weight_range: Some(range),
                        mirror_of: Some(g),
                        fan_in: placement.fan_in_of(l, l - 1).to_vec(),
                    },
                )?;
                feedback.push(Some(fb));
            } else {
                feedback.push(None);
            }
        }
        Ok(Self {
            chip,
            shape: shape.clone(),
            placement,
            input,
            layers,
            forward,
            feedback,
            designed_dt,
            neuron: config.neuron,
        })
    }

    /// The chip the network runs on.
    pub fn chip(&self) -> &Chip {
        &self.chip
    }

    /// Mutable access to the chip (e.g. to reset counters or switch execution path).
    pub fn chip_mut(&mut self) -> &mut Chip {
        &mut self.chip
    }

    /// The rate model the neurons run.
    pub fn neuron_model(&self) -> NeuronModel {
        self.neuron
    }

    /// The network shape.
    pub fn shape(&self) -> &NetworkShape {
        &self.shape
    }

    /// Where the layers were placed.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// Population of neuron layer `l` (1-based: 1 is the first hidden layer, the last is the output).
    pub fn layer(&self, l: usize) -> Option<PopulationId> {
        l.checked_sub(1).and_then(|k| self.layers.get(k)).copied()
    }

    /// Forward synapse group of projection `l` (0-based: 0 connects the input to layer 1).
    pub fn forward_group(&self, l: usize) -> Option<GroupId> {
        self.forward.get(l).copied()
    }

    /// Feedback (mirror) synapse group of projection `l`, if it has one (every projection but the
    /// first: the input is clamped and receives no feedback).
    pub fn feedback_group(&self, l: usize) -> Option<GroupId> {
        self.feedback.get(l).copied().flatten()
    }

    /// Designed per-neuron time steps of neuron layer `l` (1-based).
    pub fn designed_dt(&self, l: usize) -> Option<&[f32]> {
        l.checked_sub(1).and_then(|k| self.designed_dt.get(k)).map(Vec::as_slice)
    }

    /// Output population.
    pub fn output(&self) -> PopulationId {
        self.layers[self.layers.len() - 1]
    }

    /// Resets the states, clamps `x` (batch × inputs, values in [0, 1]) and runs `steps` free steps.
    pub fn free_phase(&mut self, x: ArrayView2<f32>, steps: usize) -> Result<()> {
        self.free_phase_settled(x, steps, None).map(|_| ())
    }

    /// Like [`EpNetwork::free_phase`], but with a settling tolerance the phase ends as soon as no
    /// state changes by `tolerance` or more in one step (`steps` is then an upper bound). Returns the
    /// steps taken.
    pub fn free_phase_settled(
        &mut self,
        x: ArrayView2<f32>,
        steps: usize,
        tolerance: Option<f32>,
    ) -> Result<usize> {
        self.chip.set_batch_size(x.nrows())?;
        self.chip.reset_state();
        self.chip.apply_input(self.input, x)?;
        self.run_phase(steps, tolerance, None)
    }

    fn run_phase(&mut self, steps: usize, tolerance: Option<f32>, nudge: Option<&Nudge>) -> Result<usize> {
        match tolerance {
            Some(tol) => Ok(self.chip.run_until_settled(steps, tol, nudge)?),
            None => {
                self.chip.run(steps, nudge)?;
                Ok(steps)
            }
        }
    }

    /// The output states (batch × outputs) in real units.
    pub fn output_state(&self) -> Result<Array2<f32>> {
        Ok(self.chip.read_state(self.output())?)
    }

    /// Predicted class of each example after a free phase of `steps` steps.
    pub fn predict(&mut self, x: ArrayView2<f32>, steps: usize) -> Result<Vec<usize>> {
        self.predict_settled(x, steps, None)
    }

    /// [`EpNetwork::predict`] with an optional settling tolerance for the free phase.
    pub fn predict_settled(
        &mut self,
        x: ArrayView2<f32>,
        steps: usize,
        tolerance: Option<f32>,
    ) -> Result<Vec<usize>> {
        self.free_phase_settled(x, steps, tolerance)?;
        Ok(argmax_rows(&self.output_state()?))
    }

    /// One EP training step on a mini-batch: free phase, nudged phase(s), local update of every
    /// synapse and bias through the chip's learning engine. The learning rates of `config` are
    /// multiplied by `lr_factor` (the schedule's factor for the current epoch).
    pub fn train_batch<R: Rng + ?Sized>(
        &mut self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        labels: &[u8],
        config: &TrainConfig,
        lr_factor: f32,
        sign_rng: &mut R,
    ) -> Result<BatchOutcome> {
        let b = x.nrows();
        let free_steps = self.free_phase_settled(x, config.t1, config.settle_tol)?;
        let free_residual = self.chip.last_step_residual();
        let unsettled = self.chip.last_step_residuals().iter().filter(|&&r| r > UNSETTLED_RESIDUAL).count();
        let out = self.output_state()?;
        let correct = argmax_rows(&out).iter().zip(labels).filter(|(p, l)| **p == usize::from(**l)).count();
        let cost = 0.5 * (&out - &y).mapv(|d| f64::from(d) * f64::from(d)).sum();
        let mut at_bounds = 0usize;
        let mut states = 0usize;
        for &pop in &self.layers {
            let s = self.chip.read_state(pop)?;
            at_bounds += s.iter().filter(|&&v| v <= 0.0 || v >= 1.0).count();
            states += s.len();
        }
        let saturated = at_bounds as f64 / states.max(1) as f64;
        let free = TraceSlot::new(SLOT_FREE)?;
        let plus = TraceSlot::new(SLOT_PLUS)?;
        let minus = TraceSlot::new(SLOT_MINUS)?;
        self.chip.latch_traces(free);

        let sign = match config.beta_sign {
            BetaSign::Positive => 1.0,
            BetaSign::Random => {
                if sign_rng.random::<bool>() {
                    1.0
                } else {
                    -1.0
                }
            }
        };
        let beta = sign * config.beta;
        let nudged_steps;
        let (rule, denominator) = if config.symmetric {
            let snapshot = self.chip.save_state();
            let first = self.nudged_phase(y, beta, config.t2, config.settle_tol, plus)?;
            self.chip.restore_state(&snapshot)?;
            let second = self.nudged_phase(y, -beta, config.t2, config.settle_tol, minus)?;
            nudged_steps = first + second;
            (SumOfProducts::contrastive(plus, minus), 2.0 * beta)
        } else {
            nudged_steps = self.nudged_phase(y, beta, config.t2, config.settle_tol, plus)?;
            (SumOfProducts::contrastive(plus, free), beta)
        };
        // Every example weighs lr/(β·batch), also in a shorter last mini-batch of an epoch: dividing
        // by that batch's own size gave its few examples (4 of mnist10k's 8,004 at batch 50) a full
        // step's weight, a noisy jump right before each evaluation.
        let per_example = b.max(config.batch) as f32;
        for l in 0..self.forward.len() {
            let global = lr_factor * config.lr_for(l) / (denominator * per_example);
            self.chip.learn(self.forward[l], &rule, global)?;
            if let Some(fb) = self.feedback[l] {
                self.chip.learn(fb, &rule, global)?;
            }
            self.chip.learn_bias(self.layers[l], &rule, global)?;
        }
        Ok(BatchOutcome { correct, free_residual, cost, saturated, unsettled, free_steps, nudged_steps })
    }

    /// Runs `steps` steps nudging the output toward `y` with strength `beta`, then latches `slot`.
    fn nudged_phase(
        &mut self,
        y: ArrayView2<f32>,
        beta: f32,
        steps: usize,
        tolerance: Option<f32>,
        slot: TraceSlot,
    ) -> Result<usize> {
        let nudge = Nudge { population: self.output(), target: y, beta: beta * self.neuron.nudge_gain() };
        let taken = self.run_phase(steps, tolerance, Some(&nudge))?;
        self.chip.latch_traces(slot);
        Ok(taken)
    }

    /// Why the parameters are unusable, if they are: a non-finite weight or bias, or weights that
    /// exploded beyond `limit` in magnitude.
    pub fn parameter_problem(&self, limit: f32) -> Result<Option<String>> {
        for (l, &g) in self.forward.iter().enumerate() {
            let w = self.chip.read_weights(g)?;
            if w.iter().any(|w| !w.is_finite()) {
                return Ok(Some(format!("non-finite weight in projection {l}")));
            }
            let max = w.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            if max > limit {
                return Ok(Some(format!(
                    "weights exploded in projection {l} (max |w| = {max:.3e} > {limit})"
                )));
            }
        }
        for &p in &self.layers {
            if self.chip.read_bias(p)?.iter().any(|b| !b.is_finite()) {
                return Ok(Some(format!("non-finite bias in `{}`", self.chip.population_info(p)?.0)));
            }
        }
        Ok(None)
    }
}

/// Index of the largest value of each row (the first one on ties).
pub fn argmax_rows(a: &Array2<f32>) -> Vec<usize> {
    a.axis_iter(Axis(0))
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

impl NetworkParameters {
    /// Reads the numbers of a network living on a chip.
    pub fn from_network(net: &EpNetwork, t1: usize) -> Result<Self> {
        let layers = net.shape().sizes().to_vec();
        let chip = net.chip();
        let mut forward = Vec::new();
        let mut feedback = Vec::new();
        let mut bias = Vec::new();
        let mut dt = Vec::new();
        for l in 1..layers.len() {
            let missing = || EpError::DoesNotFit(format!("layer {l} is missing from the network"));
            forward.push(chip.read_effective_weights(net.forward_group(l - 1).ok_or_else(missing)?)?);
            feedback.push(match net.feedback_group(l - 1) {
                Some(g) => Some(chip.read_effective_weights(g)?),
                None => None,
            });
            let pop = net.layer(l).ok_or_else(missing)?;
            bias.push(chip.read_bias(pop)?);
            dt.push(chip.realised_dt(pop)?.to_vec());
        }
        Ok(Self { layers, forward, feedback, bias, dt, t1, neuron: net.neuron_model() })
    }
}
