//! The training settings of `epchip.train` and `epchip.study`, turned into a [`TrainConfig`]
//! exactly as the CLI's `TrainingFlags::config` does (src/commands/mod.rs): a setting not given
//! takes the neuron model's default for that network and chip ([`TrainConfig::for_profile`]), so a
//! call from Python and the same command line train the same run. Messages name the keywords.

use chip_model::HardwareProfile;
use ep_runtime::study::axes::Setting;
use ep_runtime::{BetaSign, LrSchedule, NetworkShape, PlacementStrategy, TauSpec, TrainConfig};
use pyo3::prelude::*;

use crate::errors::{PyResultExt, value_error};

/// The learning rate as given: one number, one per projection, or the CLI's text `0.4,0.1`.
#[derive(Debug, Clone, FromPyObject)]
pub enum LrArg {
    /// One rate for every projection.
    One(f32),
    /// One rate per projection.
    PerProjection(Vec<f32>),
    /// `0.4,0.1`, as `--lr` takes it.
    Text(String),
}

/// The settings shared by `epchip.train` and every run of `epchip.study` (the CLI's
/// `TrainingFlags`); `None` / `false` means "not given".
#[derive(Debug, Clone, Default)]
pub struct TrainingSettings {
    /// `neuron`: sigmoid or clip.
    pub neuron: Option<String>,
    /// `beta_sign`: random or positive.
    pub beta_sign: Option<String>,
    /// `positive_beta=True`.
    pub positive_beta: bool,
    /// `estimate`: one-sided or symmetric.
    pub estimate: Option<String>,
    /// `symmetric=True`.
    pub symmetric: bool,
    /// Free-phase steps.
    pub t1: Option<usize>,
    /// Nudged-phase steps.
    pub t2: Option<usize>,
    /// Nudge strength.
    pub beta: Option<f32>,
    /// Examples per mini-batch.
    pub batch: Option<usize>,
    /// Learning rates.
    pub lr: Option<LrArg>,
    /// `constant` or `cosine[:floor=F]`.
    pub lr_schedule: Option<String>,
    /// Base time step.
    pub dt: Option<f32>,
    /// Weight range over the largest initial weight.
    pub weight_headroom: Option<f32>,
    /// First N training examples only.
    pub train_limit: Option<usize>,
    /// Settling tolerance of the phases.
    pub settle_tol: Option<f32>,
    /// Test accuracy whose first epoch the summary reports.
    pub target_accuracy: f64,
    /// `greedy` or `traffic-aware`.
    pub placement: String,
}

impl TrainingSettings {
    /// The settings given, which a study may not also vary (the CLI's `fixed_settings`).
    pub fn fixed_settings(&self) -> Vec<Setting> {
        [
            (Setting::Neuron, self.neuron.is_some()),
            (Setting::PositiveBeta, self.positive_beta || self.beta_sign.is_some()),
            (Setting::Symmetric, self.symmetric || self.estimate.is_some()),
            (Setting::T1, self.t1.is_some()),
            (Setting::T2, self.t2.is_some()),
            (Setting::Beta, self.beta.is_some()),
            (Setting::Batch, self.batch.is_some()),
            (Setting::Lr, self.lr.is_some()),
            (Setting::LrSchedule, self.lr_schedule.is_some()),
            (Setting::Dt, self.dt.is_some()),
            (Setting::WeightHeadroom, self.weight_headroom.is_some()),
        ]
        .into_iter()
        .filter_map(|(s, given)| given.then_some(s))
        .collect()
    }

    /// The training configuration of a run of `shape` on `profile` (validated against `shape`).
    pub fn config(
        &self,
        profile: &HardwareProfile,
        shape: &NetworkShape,
        tau: TauSpec,
        epochs: usize,
        seed: u64,
        threads: usize,
    ) -> PyResult<TrainConfig> {
        let neuron = match &self.neuron {
            Some(name) => name.parse::<ep_runtime::NeuronModel>().py()?,
            None => TrainConfig::default_model(profile),
        };
        let defaults = TrainConfig::for_profile(neuron, shape, profile);
        let beta_sign = match (self.positive_beta, self.beta_sign.as_deref()) {
            (true, None | Some("positive")) | (false, Some("positive")) => BetaSign::Positive,
            (false, Some("random")) => BetaSign::Random,
            (false, None) => defaults.beta_sign,
            (true, Some(other)) => {
                return Err(value_error(format!(
                    "positive_beta=True contradicts beta_sign='{other}': give one of them"
                )));
            }
            (false, Some(other)) => {
                return Err(value_error(format!("invalid beta_sign='{other}': use random or positive")));
            }
        };
        let symmetric = match (self.symmetric, self.estimate.as_deref()) {
            (true, None | Some("symmetric")) | (false, Some("symmetric")) => true,
            (false, Some("one-sided")) => false,
            (false, None) => defaults.symmetric,
            (true, Some(other)) => {
                return Err(value_error(format!(
                    "symmetric=True contradicts estimate='{other}': give one of them"
                )));
            }
            (false, Some(other)) => {
                return Err(value_error(format!("invalid estimate='{other}': use one-sided or symmetric")));
            }
        };
        let lr = match &self.lr {
            Some(LrArg::One(x)) => vec![*x],
            Some(LrArg::PerProjection(v)) => v.clone(),
            Some(LrArg::Text(text)) => TrainConfig::parse_lr(text).py()?,
            None => defaults.lr,
        };
        let config = TrainConfig {
            neuron,
            t1: self.t1.unwrap_or(defaults.t1),
            t2: self.t2.unwrap_or(defaults.t2),
            beta: self.beta.unwrap_or(defaults.beta),
            beta_sign,
            symmetric,
            batch: self.batch.unwrap_or(defaults.batch),
            lr,
            lr_schedule: match &self.lr_schedule {
                Some(text) => LrSchedule::parse(text).py()?,
                None => defaults.lr_schedule,
            },
            base_dt: self.dt.unwrap_or(defaults.base_dt),
            tau,
            weight_headroom: self.weight_headroom.unwrap_or(defaults.weight_headroom),
            epochs,
            seed,
            threads,
            eval_batch: 500,
            settle_tol: self.settle_tol,
            target_accuracy: self.target_accuracy,
            placement: self.placement()?,
        };
        config.validate(shape).py()?;
        if self.train_limit == Some(0) {
            return Err(value_error("invalid train_limit=0: use a positive number of examples"));
        }
        Ok(config)
    }

    /// The placement strategy.
    pub fn placement(&self) -> PyResult<PlacementStrategy> {
        self.placement.parse::<PlacementStrategy>().py()
    }
}
