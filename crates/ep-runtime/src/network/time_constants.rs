//! Heterogeneous time constants (HTS): per-neuron τ drawn from a distribution.
//!
//! Every distribution is parameterised by its mean (default 1, in units of the base step Δt) and,
//! where it has one, its coefficient of variation `cv`:
//! log-normal with `σ² = ln(1 + cv²)`, `μ = ln(mean) − σ²/2`; gamma with shape `1/cv²` and scale
//! `mean·cv²`; uniform on `[min, max]`. A neuron's time step is `dt_i = Δt / τ_i`, clipped to (0, 1].

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Uniform};

use crate::error::{EpError, Result};

/// The smallest time step a neuron may get (τ larger than 10⁴·Δt is clipped here).
pub const MIN_DT: f32 = 1e-4;

/// A distribution of per-neuron time constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TauSpec {
    /// Every neuron has τ = mean.
    Constant {
        /// The common time constant.
        mean: f64,
    },
    /// Log-normal τ with the given mean and coefficient of variation.
    LogNormal {
        /// Mean of τ.
        mean: f64,
        /// Coefficient of variation of τ.
        cv: f64,
    },
    /// Gamma-distributed τ with the given mean and coefficient of variation.
    Gamma {
        /// Mean of τ.
        mean: f64,
        /// Coefficient of variation of τ.
        cv: f64,
    },
    /// τ uniform on [min, max].
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
}

/// Accepted forms, for help and error messages.
pub const TAU_HELP: &str =
    "constant[:mean=M], lognormal:cv=X[,mean=M], gamma:cv=X[,mean=M], uniform:min=A,max=B (all > 0)";

impl Default for TauSpec {
    fn default() -> Self {
        TauSpec::Constant { mean: 1.0 }
    }
}

impl TauSpec {
    /// Draws `n` time constants.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<f64> {
        match *self {
            TauSpec::Constant { mean } => vec![mean; n],
            TauSpec::LogNormal { mean, cv } => {
                let s2 = (1.0 + cv * cv).ln();
                match LogNormal::new(mean.ln() - s2 / 2.0, s2.sqrt()) {
                    Ok(d) => (0..n).map(|_| d.sample(rng)).collect(),
                    Err(_) => vec![mean; n],
                }
            }
            TauSpec::Gamma { mean, cv } => match Gamma::new(1.0 / (cv * cv), mean * cv * cv) {
                Ok(d) => (0..n).map(|_| d.sample(rng)).collect(),
                Err(_) => vec![mean; n],
            },
            TauSpec::Uniform { min, max } => {
                if min == max {
                    return vec![min; n];
                }
                match Uniform::new_inclusive(min, max) {
                    Ok(d) => (0..n).map(|_| d.sample(rng)).collect(),
                    Err(_) => vec![min; n],
                }
            }
        }
    }

    /// Per-neuron time steps `dt_i = base_dt / τ_i`, clipped to [MIN_DT, 1].
    pub fn sample_dt<R: Rng + ?Sized>(&self, n: usize, base_dt: f64, rng: &mut R) -> Vec<f32> {
        self.sample(n, rng).into_iter().map(|tau| ((base_dt / tau) as f32).clamp(MIN_DT, 1.0)).collect()
    }

    /// The mean of τ.
    pub fn mean(&self) -> f64 {
        match *self {
            TauSpec::Constant { mean } | TauSpec::LogNormal { mean, .. } | TauSpec::Gamma { mean, .. } => {
                mean
            }
            TauSpec::Uniform { min, max } => (min + max) / 2.0,
        }
    }

    /// The coefficient of variation of τ.
    pub fn cv(&self) -> f64 {
        match *self {
            TauSpec::Constant { .. } => 0.0,
            TauSpec::LogNormal { cv, .. } | TauSpec::Gamma { cv, .. } => cv,
            TauSpec::Uniform { min, max } => (max - min) / (12f64.sqrt() * (min + max) / 2.0),
        }
    }
}

fn bad(value: &str, why: &str) -> EpError {
    EpError::InvalidParameter {
        field: "tau".into(),
        value: value.into(),
        allowed: format!("{why}; accepted forms: {TAU_HELP}"),
    }
}

impl FromStr for TauSpec {
    type Err = EpError;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let (kind, params) = text.split_once(':').unwrap_or((text, ""));
        let mut mean = 1.0;
        let mut cv = None;
        let mut min = None;
        let mut max = None;
        for part in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) =
                part.split_once('=').ok_or_else(|| bad(text, &format!("`{part}` is not key=value")))?;
            let x: f64 =
                value.trim().parse().map_err(|_| bad(text, &format!("`{value}` is not a number")))?;
            if !x.is_finite() || x < 0.0 {
                return Err(bad(text, &format!("{key} = {value} must be a finite number ≥ 0")));
            }
            match key.trim() {
                "mean" => mean = x,
                "cv" => cv = Some(x),
                "min" => min = Some(x),
                "max" => max = Some(x),
                other => return Err(bad(text, &format!("unknown parameter `{other}`"))),
            }
        }
        if mean <= 0.0 {
            return Err(bad(text, "mean must be > 0"));
        }
        let need_cv = |cv: Option<f64>| -> Result<f64> {
            let cv = cv.ok_or_else(|| bad(text, &format!("{kind} needs cv=X")))?;
            if cv <= 0.0 || cv > 10.0 {
                return Err(bad(text, "cv must be in (0, 10]"));
            }
            Ok(cv)
        };
        let spec = match kind {
            "constant" => {
                if cv.is_some() || min.is_some() || max.is_some() {
                    return Err(bad(text, "constant takes only mean=M"));
                }
                TauSpec::Constant { mean }
            }
            "lognormal" => TauSpec::LogNormal { mean, cv: need_cv(cv)? },
            "gamma" => TauSpec::Gamma { mean, cv: need_cv(cv)? },
            "uniform" => {
                let (Some(a), Some(b)) = (min, max) else {
                    return Err(bad(text, "uniform needs min=A,max=B"));
                };
                if a <= 0.0 || b < a {
                    return Err(bad(text, "uniform needs 0 < min ≤ max"));
                }
                TauSpec::Uniform { min: a, max: b }
            }
            _ => return Err(bad(text, &format!("unknown distribution `{kind}`"))),
        };
        Ok(spec)
    }
}

impl serde::Serialize for TauSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for TauSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TauSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TauSpec::Constant { mean: 1.0 } => write!(f, "constant"),
            TauSpec::Constant { mean } => write!(f, "constant:mean={mean}"),
            TauSpec::LogNormal { mean: 1.0, cv } => write!(f, "lognormal:cv={cv}"),
            TauSpec::LogNormal { mean, cv } => write!(f, "lognormal:cv={cv},mean={mean}"),
            TauSpec::Gamma { mean: 1.0, cv } => write!(f, "gamma:cv={cv}"),
            TauSpec::Gamma { mean, cv } => write!(f, "gamma:cv={cv},mean={mean}"),
            TauSpec::Uniform { min, max } => write!(f, "uniform:min={min},max={max}"),
        }
    }
}
