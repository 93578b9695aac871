//! Hyperparameter axes of a study (`--vary KEY=V1,V2,...`): which training setting an axis varies,
//! its values, and how a point of the grid changes a run's [`TrainConfig`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::{BetaSign, LrSchedule, TrainConfig};
use crate::error::{EpError, Result};
use crate::network::neuron_model::NeuronModel;
use crate::network::shape::NetworkShape;

/// A training setting a study can vary (the names are the `epchip train` flags without `--`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Setting {
    /// Learning rates: `0.2`, per projection `0.2:0.1`, or a multiple of the study's rates `x2`.
    Lr,
    /// Nudge strength β.
    Beta,
    /// Free-phase steps.
    T1,
    /// Nudged-phase steps.
    T2,
    /// Base time step Δt.
    Dt,
    /// Mini-batch size.
    Batch,
    /// Neuron model (`clip` or `sigmoid`); the model's own defaults apply to the settings the study
    /// did not set (β, estimate, Δt, learning rates and schedule).
    Neuron,
    /// Symmetric estimate (`true` / `false`).
    Symmetric,
    /// Always +β (`true`) or a random sign per mini-batch (`false`).
    PositiveBeta,
    /// Digital cores' weight range in multiples of the largest initial weight.
    WeightHeadroom,
    /// Learning-rate schedule (`constant`, `cosine[:floor=F]`).
    LrSchedule,
    /// Where the network learns: `on-chip` (EP on the chip) or `off-chip` (EP on the float twin, the
    /// parameters programmed onto the chip after every epoch and evaluated there).
    Training,
}

impl Setting {
    /// Every setting, in the order `--help` lists them.
    pub const ALL: [Setting; 12] = [
        Setting::Lr,
        Setting::Beta,
        Setting::T1,
        Setting::T2,
        Setting::Dt,
        Setting::Batch,
        Setting::Neuron,
        Setting::Symmetric,
        Setting::PositiveBeta,
        Setting::WeightHeadroom,
        Setting::LrSchedule,
        Setting::Training,
    ];

    /// The name used in `--vary` and in condition labels.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Lr => "lr",
            Setting::Beta => "beta",
            Setting::T1 => "t1",
            Setting::T2 => "t2",
            Setting::Dt => "dt",
            Setting::Batch => "batch",
            Setting::Neuron => "neuron",
            Setting::Symmetric => "symmetric",
            Setting::PositiveBeta => "positive-beta",
            Setting::WeightHeadroom => "weight-headroom",
            Setting::LrSchedule => "lr-schedule",
            Setting::Training => "training",
        }
    }

    /// The settings a neuron model brings its own default for ([`TrainConfig::for_profile`]).
    pub const MODEL_DEFAULTS: [Setting; 5] =
        [Setting::Beta, Setting::Symmetric, Setting::Dt, Setting::Lr, Setting::LrSchedule];

    /// Sets this setting of `config` to `value` (checked against `shape` by [`TrainConfig::validate`]
    /// afterwards). `x`-multiples of the learning rate scale `config`'s current rates.
    pub fn apply(self, config: &mut TrainConfig, value: &str) -> Result<()> {
        let bad = |allowed: &str| EpError::InvalidParameter {
            field: format!("vary {}", self.name()),
            value: value.into(),
            allowed: allowed.into(),
        };
        let number =
            |allowed: &str| value.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or(bad(allowed));
        let count = |allowed: &str| value.trim().parse::<usize>().map_err(|_| bad(allowed));
        let flag = |allowed: &str| match value.trim() {
            "true" | "on" | "yes" => Ok(true),
            "false" | "off" | "no" => Ok(false),
            _ => Err(bad(allowed)),
        };
        match self {
            Setting::Lr => {
                let v = value.trim();
                let allowed = "a learning rate (0.2), one per projection joined by `:` (0.2:0.1), or a multiple \
                     of the study's rates (x0.5)";
                if let Some(m) = v.strip_prefix('x').or_else(|| v.strip_prefix('×')) {
                    let m =
                        m.parse::<f32>().ok().filter(|m| m.is_finite() && *m >= 0.0).ok_or(bad(allowed))?;
                    config.lr.iter_mut().for_each(|lr| *lr *= m);
                } else {
                    config.lr = v
                        .split(':')
                        .map(|p| p.trim().parse::<f32>().map_err(|_| bad(allowed)))
                        .collect::<Result<_>>()?;
                }
            }
            Setting::Beta => config.beta = number("a number in (0, 10]")? as f32,
            Setting::T1 => config.t1 = count("free-phase steps in 1..=100000")?,
            Setting::T2 => config.t2 = count("nudged-phase steps in 1..=100000")?,
            Setting::Dt => config.base_dt = number("a base time step in (0, 1]")? as f32,
            Setting::Batch => config.batch = count("examples per mini-batch in 1..=100000")?,
            Setting::Neuron => config.neuron = value.trim().parse::<NeuronModel>()?,
            Setting::Symmetric => config.symmetric = flag("true or false")?,
            Setting::PositiveBeta => {
                config.beta_sign = if flag("true or false")? { BetaSign::Positive } else { BetaSign::Random }
            }
            Setting::WeightHeadroom => config.weight_headroom = number("a number in [1, 1000]")? as f32,
            Setting::LrSchedule => {
                config.lr_schedule =
                    LrSchedule::parse(value).map_err(|_| bad("constant, or cosine[:floor=F]"))?
            }
            Setting::Training => {
                parse_training(value).ok_or(bad("on-chip or off-chip"))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Setting {
    type Err = EpError;

    fn from_str(text: &str) -> Result<Self> {
        let key = text.trim().replace('_', "-");
        Setting::ALL.into_iter().find(|s| s.name() == key).ok_or_else(|| EpError::InvalidParameter {
            field: "vary".into(),
            value: text.into(),
            allowed: format!(
                "a training setting: {}",
                Setting::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

/// `true` for `off-chip`, `false` for `on-chip`, `None` otherwise.
fn parse_training(value: &str) -> Option<bool> {
    match value.trim() {
        "on-chip" => Some(false),
        "off-chip" => Some(true),
        _ => None,
    }
}

impl crate::config::GivenSettings {
    /// The settings these fix: a study may not also vary them, and its `neuron` axis keeps them
    /// instead of the model's defaults.
    pub fn fixed_settings(&self) -> Vec<Setting> {
        [
            (Setting::Neuron, self.neuron.is_some()),
            (Setting::PositiveBeta, self.beta_sign.is_some()),
            (Setting::Symmetric, self.symmetric.is_some()),
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
}

/// One `--vary` axis: a setting and the values it takes, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaryAxis {
    /// The setting.
    pub setting: Setting,
    /// Its values, as written (checked when the study is validated).
    pub values: Vec<String>,
}

impl VaryAxis {
    /// Parses `KEY=V1,V2,...` (at least one value, no value twice).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |allowed: &str| EpError::InvalidParameter {
            field: "vary".into(),
            value: text.into(),
            allowed: allowed.into(),
        };
        let (key, list) =
            text.split_once('=').ok_or_else(|| bad("KEY=V1,V2,... (e.g. beta=0.05,0.1,0.5)"))?;
        let setting: Setting = key.parse()?;
        let values: Vec<String> =
            list.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err(bad("at least one value after `=`"));
        }
        if let Some(dup) = values.iter().enumerate().find(|(i, v)| values[..*i].contains(v)) {
            return Err(bad(&format!("distinct values (`{}` is given twice)", dup.1)));
        }
        Ok(Self { setting, values })
    }
}

impl fmt::Display for VaryAxis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.setting, self.values.join(","))
    }
}

/// The hyperparameter grid of a study: the product of its axes (one empty point without axes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SettingsGrid {
    /// The axes, in the order given; the last one changes fastest.
    pub axes: Vec<VaryAxis>,
    /// Settings the study fixed by flag: a `neuron` axis keeps these instead of the model's defaults.
    pub fixed: Vec<Setting>,
}

impl SettingsGrid {
    /// A grid over `axes`; refuses a setting varied twice, or varied and fixed by a flag.
    pub fn new(axes: Vec<VaryAxis>, fixed: Vec<Setting>) -> Result<Self> {
        for (i, axis) in axes.iter().enumerate() {
            let again = axes[..i].iter().any(|a| a.setting == axis.setting);
            if again || fixed.contains(&axis.setting) {
                return Err(EpError::InvalidParameter {
                    field: "vary".into(),
                    value: axis.to_string(),
                    allowed: format!(
                        "each setting once: `{}` is {}",
                        axis.setting,
                        if again { "varied twice" } else { "also set by its own flag; give one of them" }
                    ),
                });
            }
        }
        Ok(Self { axes, fixed })
    }

    /// Number of points (1 without axes).
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Whether the grid has no axes (a single point that changes nothing).
    pub fn is_empty(&self) -> bool {
        self.axes.is_empty()
    }

    /// The settings of point `p` (0-based, last axis fastest), as (setting, value) pairs.
    pub fn point(&self, p: usize) -> Vec<(Setting, String)> {
        let mut rest = p;
        let mut out: Vec<(Setting, String)> = self
            .axes
            .iter()
            .rev()
            .map(|a| {
                let v = a.values[rest % a.values.len()].clone();
                rest /= a.values.len();
                (a.setting, v)
            })
            .collect();
        out.reverse();
        out
    }

    /// Label of point `p`: `beta=0.1 lr=0.2:0.1` (empty without axes).
    pub fn label(&self, p: usize) -> String {
        self.point(p).iter().map(|(s, v)| format!("{s}={v}")).collect::<Vec<_>>().join(" ")
    }

    /// `base` changed to point `p`: a `neuron` value first brings that model's defaults on `profile`
    /// for every setting the study did not fix, then the other axes apply in order; the result is
    /// validated against `shape`.
    pub fn configure(
        &self,
        base: &TrainConfig,
        p: usize,
        shape: &NetworkShape,
        profile: &chip_model::HardwareProfile,
    ) -> Result<TrainConfig> {
        let mut config = base.clone();
        let point = self.point(p);
        if let Some((_, value)) = point.iter().find(|(s, _)| *s == Setting::Neuron) {
            let neuron: NeuronModel = value.parse()?;
            let defaults = TrainConfig::for_profile(neuron, shape, profile);
            for setting in Setting::MODEL_DEFAULTS.into_iter().filter(|s| !self.fixed.contains(s)) {
                match setting {
                    Setting::Beta => config.beta = defaults.beta,
                    Setting::Symmetric => config.symmetric = defaults.symmetric,
                    Setting::Dt => config.base_dt = defaults.base_dt,
                    Setting::Lr => config.lr = defaults.lr.clone(),
                    Setting::LrSchedule => config.lr_schedule = defaults.lr_schedule,
                    _ => {}
                }
            }
            config.neuron = neuron;
        }
        for (setting, value) in point.iter().filter(|(s, _)| *s != Setting::Neuron) {
            setting.apply(&mut config, value)?;
        }
        config.validate(shape).map_err(|e| match e {
            EpError::InvalidParameter { field, value, allowed } => EpError::InvalidParameter {
                field: format!("{field} at study point `{}`", self.label(p)),
                value,
                allowed,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Point `p` with axis `axis` set to its `value`-th value.
    pub fn with_value(&self, p: usize, axis: usize, value: usize) -> usize {
        let stride: usize = self.axes[axis + 1..].iter().map(|a| a.values.len()).product();
        let current = (p / stride) % self.axes[axis].values.len();
        p - current * stride + value * stride
    }

    /// True if point `p` trains off the chip (`training=off-chip`).
    pub fn off_chip(&self, p: usize) -> bool {
        self.point(p).iter().any(|(s, v)| *s == Setting::Training && parse_training(v) == Some(true))
    }

    /// Position of the axis of `setting`, if the grid varies it.
    pub fn axis_of(&self, setting: Setting) -> Option<usize> {
        self.axes.iter().position(|a| a.setting == setting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> NetworkShape {
        NetworkShape::parse("784,500,10").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn points_enumerate_the_product_last_axis_fastest() {
        let axes = vec![
            VaryAxis::parse("beta=0.1,0.5").unwrap_or_else(|e| panic!("{e}")),
            VaryAxis::parse("lr=0.2:0.1,x2,0.05").unwrap_or_else(|e| panic!("{e}")),
        ];
        let grid = SettingsGrid::new(axes, vec![]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(grid.len(), 6);
        assert_eq!(grid.label(0), "beta=0.1 lr=0.2:0.1");
        assert_eq!(grid.label(1), "beta=0.1 lr=x2");
        assert_eq!(grid.label(5), "beta=0.5 lr=0.05");
        let profile = chip_model::HardwareProfile::load("ideal").unwrap_or_else(|e| panic!("{e}"));
        let base = TrainConfig::default();
        let c = grid.configure(&base, 4, &shape(), &profile).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.beta, c.lr.clone()), (0.5, vec![0.8, 0.2]));
        let c = grid.configure(&base, 3, &shape(), &profile).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.beta, c.lr.clone()), (0.5, vec![0.2, 0.1]));
    }

    #[test]
    fn a_neuron_axis_brings_the_models_defaults_except_fixed_settings() {
        let profile = chip_model::HardwareProfile::load("ideal").unwrap_or_else(|e| panic!("{e}"));
        let axes = vec![VaryAxis::parse("neuron=clip,sigmoid").unwrap_or_else(|e| panic!("{e}"))];
        let base = TrainConfig { beta: 0.3, ..TrainConfig::default() };
        let free = SettingsGrid::new(axes.clone(), vec![]).unwrap_or_else(|e| panic!("{e}"));
        let clip = free.configure(&base, 0, &shape(), &profile).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (clip.neuron, clip.beta, clip.base_dt, clip.symmetric),
            (NeuronModel::Clip, 0.5, 0.5, false)
        );
        let fixed = SettingsGrid::new(axes, vec![Setting::Beta]).unwrap_or_else(|e| panic!("{e}"));
        let clip = fixed.configure(&base, 0, &shape(), &profile).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((clip.neuron, clip.beta), (NeuronModel::Clip, 0.3));
    }

    #[test]
    fn bad_axes_name_the_setting_value_and_what_is_allowed() {
        let err = |text: &str| VaryAxis::parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err("gamma=1,2").contains("beta"), "{}", err("gamma=1,2"));
        assert!(err("beta").contains("KEY=V1"));
        assert!(err("beta=").contains("at least one value"));
        assert!(err("beta=0.1,0.1").contains("given twice"));
        let twice = vec![
            VaryAxis::parse("beta=0.1").unwrap_or_else(|e| panic!("{e}")),
            VaryAxis::parse("beta=0.2").unwrap_or_else(|e| panic!("{e}")),
        ];
        assert!(SettingsGrid::new(twice, vec![]).is_err());
        let fixed = vec![VaryAxis::parse("t1=10,20").unwrap_or_else(|e| panic!("{e}"))];
        let e = SettingsGrid::new(fixed, vec![Setting::T1]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("own flag"), "{e}");
        // Values are checked when a point is configured, naming the point.
        let profile = chip_model::HardwareProfile::load("ideal").unwrap_or_else(|e| panic!("{e}"));
        let grid = SettingsGrid::new(
            vec![VaryAxis::parse("lr=0.1:0.2:0.3,nan").unwrap_or_else(|e| panic!("{e}"))],
            vec![],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = grid.configure(&TrainConfig::default(), 0, &shape(), &profile).err().map(|e| e.to_string());
        assert!(e.as_deref().unwrap_or("").contains("lr=0.1:0.2:0.3"), "{e:?}");
        let e = grid.configure(&TrainConfig::default(), 1, &shape(), &profile).err().map(|e| e.to_string());
        assert!(e.is_some());
        let beta =
            SettingsGrid::new(vec![VaryAxis::parse("beta=-1,abc").unwrap_or_else(|e| panic!("{e}"))], vec![])
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(beta.configure(&TrainConfig::default(), 0, &shape(), &profile).is_err());
        let e = beta.configure(&TrainConfig::default(), 1, &shape(), &profile).err().map(|e| e.to_string());
        assert!(e.as_deref().unwrap_or("").contains("abc"), "{e:?}");
    }
}
