//! The training settings of `epchip.train` and `epchip.study`: the keywords parsed into
//! [`GivenSettings`], which the CLI's flags become too, and resolved there (a setting not given takes
//! the neuron model's default for that network and chip), so a call from Python and the same command
//! line train the same run. Messages name the keywords.

use chip_model::HardwareProfile;
use ep_runtime::study::axes::Setting;
use ep_runtime::{
    BetaSign, GivenSettings, LrSchedule, NetworkShape, PlacementStrategy, TauSpec, TrainConfig,
};
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
    pub fn fixed_settings(&self) -> PyResult<Vec<Setting>> {
        Ok(self.given()?.fixed_settings())
    }

    /// The keywords parsed, contradictions refused by keyword name; what they leave out takes the
    /// model's defaults in [`GivenSettings::config`], the resolver the CLI uses too.
    pub fn given(&self) -> PyResult<GivenSettings> {
        let beta_sign = match (self.positive_beta, self.beta_sign.as_deref()) {
            (true, None | Some("positive")) | (false, Some("positive")) => Some(BetaSign::Positive),
            (false, Some("random")) => Some(BetaSign::Random),
            (false, None) => None,
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
            (true, None | Some("symmetric")) | (false, Some("symmetric")) => Some(true),
            (false, Some("one-sided")) => Some(false),
            (false, None) => None,
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
            Some(LrArg::One(x)) => Some(vec![*x]),
            Some(LrArg::PerProjection(v)) => Some(v.clone()),
            Some(LrArg::Text(text)) => Some(TrainConfig::parse_lr(text).py()?),
            None => None,
        };
        Ok(GivenSettings {
            neuron: match &self.neuron {
                Some(name) => Some(name.parse::<ep_runtime::NeuronModel>().py()?),
                None => None,
            },
            beta_sign,
            symmetric,
            t1: self.t1,
            t2: self.t2,
            beta: self.beta,
            batch: self.batch,
            lr,
            lr_schedule: match &self.lr_schedule {
                Some(text) => Some(LrSchedule::parse(text).py()?),
                None => None,
            },
            dt: self.dt,
            weight_headroom: self.weight_headroom,
            settle_tol: self.settle_tol,
            target_accuracy: self.target_accuracy,
            placement: self.placement()?,
        })
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
        let config = self.given()?.config(profile, shape, tau, epochs, seed, threads).py()?;
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
