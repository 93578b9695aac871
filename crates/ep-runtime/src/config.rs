//! Training parameters, validated before any work starts.

use serde::{Deserialize, Serialize};

use crate::error::{EpError, Result};
use crate::mapping::placement::PlacementStrategy;
use crate::network::neuron_model::NeuronModel;
use crate::network::shape::NetworkShape;
use crate::network::time_constants::TauSpec;

/// How the sign of β is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BetaSign {
    /// Always +β.
    Positive,
    /// A random sign per mini-batch (Laborieux et al. 2021), which cancels the estimator's
    /// first-order bias on average.
    Random,
}

/// How the learning rate changes from epoch to epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// The same learning rate in every epoch.
    Constant,
    /// Cosine annealing from the full rate in the first epoch to `floor` × the rate in the last.
    Cosine {
        /// Share of the learning rate left in the last epoch.
        floor: f32,
    },
}

impl LrSchedule {
    /// Multiplier of the learning rate in `epoch` (0-based) of `epochs`.
    pub fn factor(&self, epoch: usize, epochs: usize) -> f32 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine { floor } => {
                if epochs <= 1 {
                    return 1.0;
                }
                let t = epoch.min(epochs - 1) as f32 / (epochs - 1) as f32;
                floor + (1.0 - floor) * 0.5 * (1.0 + (std::f32::consts::PI * t).cos())
            }
        }
    }

    /// Parses `constant` or `cosine[:floor=F]`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || invalid("lr_schedule", text, "constant, or cosine[:floor=F] with F in [0, 1]");
        match text.trim() {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine { floor: 0.1 }),
            other => {
                let floor = other
                    .strip_prefix("cosine:floor=")
                    .and_then(|f| f.parse::<f32>().ok())
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or_else(bad)?;
                Ok(LrSchedule::Cosine { floor })
            }
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LrSchedule::Constant => write!(f, "constant"),
            LrSchedule::Cosine { floor } => write!(f, "cosine:floor={floor}"),
        }
    }
}

/// Everything that defines an EP training run besides the profile, network shape and data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The neurons' rate model (runs recorded before the choice existed read as `clip`).
    #[serde(default)]
    pub neuron: NeuronModel,
    /// Free-phase steps T1.
    pub t1: usize,
    /// Nudged-phase steps T2.
    pub t2: usize,
    /// Nudge strength β (> 0; its sign is chosen by `beta_sign`).
    pub beta: f32,
    /// Sign of β per mini-batch.
    pub beta_sign: BetaSign,
    /// Symmetric estimate: a second nudged phase at −β from the free state, update
    /// `(ρρ(+β) − ρρ(−β)) / 2β`.
    pub symmetric: bool,
    /// Examples per mini-batch (1 = online, the physically faithful on-chip mode).
    pub batch: usize,
    /// Learning rate per projection (one value applies to all).
    pub lr: Vec<f32>,
    /// Change of the learning rate over the epochs.
    pub lr_schedule: LrSchedule,
    /// Base time step Δt; neuron i gets dt_i = Δt/τ_i.
    pub base_dt: f32,
    /// Distribution of per-neuron time constants.
    pub tau: TauSpec,
    /// Digital cores: weight range of each projection = headroom × its largest initial weight.
    pub weight_headroom: f32,
    /// Training epochs.
    pub epochs: usize,
    /// Seed of everything random (chip instance, initialisation, τ, shuffling, β signs).
    pub seed: u64,
    /// Worker threads (results do not depend on it, so it is not part of a run's recorded config).
    #[serde(skip, default = "one_thread")]
    pub threads: usize,
    /// Examples per batch during evaluation.
    pub eval_batch: usize,
    /// End each phase early once no state changes by this much in one step (T1/T2 stay upper
    /// bounds); `None` runs every phase for exactly T1/T2 steps.
    #[serde(default)]
    pub settle_tol: Option<f32>,
    /// Test accuracy whose first epoch, and the energy spent until then, the summary reports.
    #[serde(default = "default_target")]
    pub target_accuracy: f64,
    /// How the mapper assigns population blocks to cores.
    #[serde(default)]
    pub placement: PlacementStrategy,
}

fn default_target() -> f64 {
    0.9
}

/// The defaults of `epchip train` with no flags on 784-500-10: the sigmoid model at the published
/// settings (β 0.1, symmetric estimate), batch 20, learning rates 0.4 / 0.1 held constant, Δt 1.
/// Other networks and the clip model: [`TrainConfig::for_model`].
impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            neuron: NeuronModel::Sigmoid,
            t1: 30,
            t2: 10,
            beta: 0.1,
            beta_sign: BetaSign::Random,
            symmetric: true,
            batch: 20,
            lr: vec![0.4, 0.1],
            lr_schedule: LrSchedule::Constant,
            base_dt: 1.0,
            tau: TauSpec::default(),
            weight_headroom: 2.0,
            epochs: 10,
            seed: 1,
            threads: 1,
            eval_batch: 500,
            settle_tol: None,
            target_accuracy: 0.9,
            placement: PlacementStrategy::Greedy,
        }
    }
}

impl TrainConfig {
    /// The neuron model a run on `profile` uses unless told otherwise: sigmoid, except on analog
    /// cores, where the clip model at β 1 trains better (analog-rram, 784-500-10, 8 seeds, 8 epochs:
    /// 85.6 % for the sigmoid model at its best β there, 0.5; docs/results.md).
    pub fn default_model(profile: &chip_model::HardwareProfile) -> NeuronModel {
        if profile.analog().is_some() { NeuronModel::Clip } else { NeuronModel::Sigmoid }
    }

    /// [`TrainConfig::for_model`] on a chip of `profile`: on analog cores β is larger — read noise
    /// swamps the nudge's effect at small β (sigmoid on analog-rram, three epochs: 63 % at β 0.1,
    /// 88 % at β 0.5, 82 % at β 1) — so 0.5 for the sigmoid model and 1 for the clip model.
    pub fn for_profile(
        neuron: NeuronModel,
        shape: &NetworkShape,
        profile: &chip_model::HardwareProfile,
    ) -> Self {
        let mut config = Self::for_model(neuron, shape);
        if profile.analog().is_some() {
            config.beta = match neuron {
                NeuronModel::Sigmoid => 0.5,
                NeuronModel::Clip => 1.0,
            };
        }
        config
    }

    /// The settings a run of `neuron` on `shape` starts from (docs/model.md, "Defaults"): the
    /// model's β and estimate (sigmoid: 0.1, symmetric; clip: 0.5, one-sided, as before the choice
    /// existed), base step, learning-rate schedule and learning rates, and `T1 = 30` per hidden
    /// layer (deeper networks take longer to settle: 784-500-500-10 at T1 30 collapsed, at 60
    /// trained).
    ///
    /// Learning rates: `b_0 = 0.4` (sigmoid) or `0.2` (clip) for the input projection and
    /// `b_l = 0.1 · 4^−(l−1)` above it (the ratio Scellier & Bengio used in depth), each scaled down
    /// by `r / n_pre` when its presynaptic layer is wider than the width `r` they were measured at
    /// (784 inputs, 500 hidden neurons): 784-2000-10 at 0.4/0.1 fell to 21 % where 0.4/0.025 reached
    /// 86 % (one epoch of 4,000 examples); narrower layers keep `b_l`.
    pub fn for_model(neuron: NeuronModel, shape: &NetworkShape) -> Self {
        let sizes = shape.sizes();
        let hidden = sizes.len().saturating_sub(2).max(1);
        let lr = (0..sizes.len() - 1)
            .map(|l| {
                let (base, reference) = match l {
                    0 if neuron == NeuronModel::Sigmoid => (0.4, 784.0),
                    0 => (0.2, 784.0),
                    l => (0.1 / 4f32.powi(l as i32 - 1), 500.0),
                };
                base * (reference / sizes[l] as f32).min(1.0)
            })
            .collect();
        Self {
            neuron,
            beta: match neuron {
                NeuronModel::Clip => 0.5,
                NeuronModel::Sigmoid => 0.1,
            },
            symmetric: neuron == NeuronModel::Sigmoid,
            t1: 30 * hidden,
            base_dt: neuron.default_dt(),
            lr,
            lr_schedule: match neuron {
                NeuronModel::Clip => LrSchedule::Cosine { floor: 0.1 },
                NeuronModel::Sigmoid => LrSchedule::Constant,
            },
            ..Self::default()
        }
    }
}

/// Training settings as a user gives them (the CLI's flags, Python's keywords), already parsed:
/// each `None` takes the neuron model's default for the network and chip
/// ([`TrainConfig::for_profile`]). Both front ends resolve them here, so the same settings give the
/// same run whichever one was used.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenSettings {
    /// Neuron model (default: [`TrainConfig::default_model`] for the profile).
    pub neuron: Option<NeuronModel>,
    /// Sign of β.
    pub beta_sign: Option<BetaSign>,
    /// Symmetric estimate.
    pub symmetric: Option<bool>,
    /// Free-phase steps.
    pub t1: Option<usize>,
    /// Nudged-phase steps.
    pub t2: Option<usize>,
    /// Nudge strength.
    pub beta: Option<f32>,
    /// Examples per mini-batch.
    pub batch: Option<usize>,
    /// Learning rates.
    pub lr: Option<Vec<f32>>,
    /// Learning-rate schedule.
    pub lr_schedule: Option<LrSchedule>,
    /// Base time step.
    pub dt: Option<f32>,
    /// Weight range over the largest initial weight.
    pub weight_headroom: Option<f32>,
    /// Settling tolerance of the phases (none: fixed T1/T2).
    pub settle_tol: Option<f32>,
    /// Test accuracy whose first epoch the summary reports.
    pub target_accuracy: f64,
    /// Placement of population blocks on cores.
    pub placement: PlacementStrategy,
}

impl GivenSettings {
    /// The configuration of a run of `shape` on `profile` with these settings, validated.
    pub fn config(
        &self,
        profile: &chip_model::HardwareProfile,
        shape: &NetworkShape,
        tau: TauSpec,
        epochs: usize,
        seed: u64,
        threads: usize,
    ) -> Result<TrainConfig> {
        let neuron = self.neuron.unwrap_or_else(|| TrainConfig::default_model(profile));
        let defaults = TrainConfig::for_profile(neuron, shape, profile);
        let config = TrainConfig {
            neuron,
            t1: self.t1.unwrap_or(defaults.t1),
            t2: self.t2.unwrap_or(defaults.t2),
            beta: self.beta.unwrap_or(defaults.beta),
            beta_sign: self.beta_sign.unwrap_or(defaults.beta_sign),
            symmetric: self.symmetric.unwrap_or(defaults.symmetric),
            batch: self.batch.unwrap_or(defaults.batch),
            lr: self.lr.clone().unwrap_or(defaults.lr),
            lr_schedule: self.lr_schedule.unwrap_or(defaults.lr_schedule),
            base_dt: self.dt.unwrap_or(defaults.base_dt),
            tau,
            weight_headroom: self.weight_headroom.unwrap_or(defaults.weight_headroom),
            epochs,
            seed,
            threads,
            eval_batch: defaults.eval_batch,
            settle_tol: self.settle_tol,
            target_accuracy: self.target_accuracy,
            placement: self.placement,
        };
        config.validate(shape)?;
        Ok(config)
    }
}

fn one_thread() -> usize {
    1
}

fn invalid(field: &str, value: impl ToString, allowed: &str) -> EpError {
    EpError::InvalidParameter { field: field.into(), value: value.to_string(), allowed: allowed.into() }
}

impl TrainConfig {
    /// Checks every parameter, and the learning rates against the network's projections.
    pub fn validate(&self, shape: &NetworkShape) -> Result<()> {
        if self.t1 == 0 || self.t1 > 100_000 {
            return Err(invalid("t1", self.t1, "free-phase steps in 1..=100000"));
        }
        if self.t2 == 0 || self.t2 > 100_000 {
            return Err(invalid("t2", self.t2, "nudged-phase steps in 1..=100000 (EP needs a nudged phase)"));
        }
        if !(self.beta.is_finite() && self.beta > 0.0 && self.beta <= 10.0) {
            return Err(invalid("beta", self.beta, "a number in (0, 10]"));
        }
        if self.batch == 0 || self.batch > 100_000 {
            return Err(invalid("batch", self.batch, "examples per mini-batch in 1..=100000"));
        }
        if self.eval_batch == 0 || self.eval_batch > 100_000 {
            return Err(invalid("eval_batch", self.eval_batch, "an integer in 1..=100000"));
        }
        let p = shape.projections();
        if self.lr.len() != 1 && self.lr.len() != p {
            let text = self.lr.iter().map(f32::to_string).collect::<Vec<_>>().join(",");
            return Err(invalid(
                "lr",
                text,
                &format!("one learning rate, or one per projection ({p} for layers {shape})"),
            ));
        }
        if let Some(bad) = self.lr.iter().find(|x| !(x.is_finite() && **x >= 0.0 && **x <= 100.0)) {
            return Err(invalid("lr", bad, "learning rates in [0, 100]"));
        }
        if !(self.base_dt.is_finite() && self.base_dt > 0.0 && self.base_dt <= 1.0) {
            return Err(invalid("dt", self.base_dt, "a base time step in (0, 1]"));
        }
        if !(self.weight_headroom.is_finite()
            && self.weight_headroom >= 1.0
            && self.weight_headroom <= 1000.0)
        {
            return Err(invalid("weight_headroom", self.weight_headroom, "a number in [1, 1000]"));
        }
        if self.epochs > 100_000 {
            return Err(invalid("epochs", self.epochs, "an integer in 0..=100000"));
        }
        if let Some(tol) = self.settle_tol
            && !(tol.is_finite() && tol > 0.0 && tol <= 1.0)
        {
            return Err(invalid("settle_tol", tol, "a state change in (0, 1]"));
        }
        if !(self.target_accuracy > 0.0 && self.target_accuracy <= 1.0) {
            return Err(invalid("target_accuracy", self.target_accuracy, "an accuracy in (0, 1]"));
        }
        if self.threads == 0 || self.threads > 1024 {
            return Err(invalid("threads", self.threads, "an integer in 1..=1024"));
        }
        Ok(())
    }

    /// Learning rate of projection `l` (0-based).
    pub fn lr_for(&self, l: usize) -> f32 {
        if self.lr.len() == 1 { self.lr[0] } else { self.lr[l] }
    }

    /// Parses learning rates: `0.1` or `0.1,0.05`.
    pub fn parse_lr(text: &str) -> Result<Vec<f32>> {
        text.split(',')
            .map(|p| {
                p.trim().parse::<f32>().map_err(|_| {
                    invalid("lr", text, "one number, or comma-separated numbers, one per projection")
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod defaults_tests {
    use super::*;

    fn lr(neuron: NeuronModel, layers: &str) -> Vec<f32> {
        let shape = NetworkShape::parse(layers).unwrap_or_else(|e| panic!("{layers}: {e}"));
        TrainConfig::for_model(neuron, &shape).lr
    }

    #[test]
    fn defaults_follow_the_model_the_depth_and_the_width() {
        let shape = |l: &str| NetworkShape::parse(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert_eq!(lr(NeuronModel::Sigmoid, "784,500,10"), vec![0.4, 0.1]);
        assert_eq!(lr(NeuronModel::Clip, "784,500,10"), vec![0.2, 0.1]);
        assert_eq!(lr(NeuronModel::Sigmoid, "784,500,500,10"), vec![0.4, 0.1, 0.025]);
        // Wider layers than the reference scale down; narrower ones keep the base rate.
        assert_eq!(lr(NeuronModel::Sigmoid, "784,2000,10"), vec![0.4, 0.025]);
        assert_eq!(lr(NeuronModel::Sigmoid, "49,60,10"), vec![0.4, 0.1]);
        let deep = TrainConfig::for_model(NeuronModel::Sigmoid, &shape("784,500,500,10"));
        assert_eq!((deep.t1, deep.t2), (60, 10));
        assert!(deep.validate(&shape("784,500,500,10")).is_ok());
        let clip = TrainConfig::for_model(NeuronModel::Clip, &shape("784,500,10"));
        assert_eq!((clip.beta, clip.symmetric, clip.base_dt), (0.5, false, 0.5));
        assert_eq!(clip.lr_schedule, LrSchedule::Cosine { floor: 0.1 });
        // The library's default is the CLI's: the sigmoid model's defaults on 784-500-10.
        assert_eq!(
            TrainConfig::for_model(NeuronModel::Sigmoid, &shape("784,500,10")),
            TrainConfig::default()
        );
    }
}
