//! The neuron model an EP network runs: the rate models of the EP literature (docs/model.md).

use std::fmt;
use std::str::FromStr;

use chip_model::NeuronProgram;
use serde::{Deserialize, Serialize};

use crate::error::{EpError, Result};

/// Which rate model the network's neurons run.
///
/// Runs recorded before the choice existed used the clip model, so that is what a configuration
/// without the field reads as (`#[serde(default)]`); new runs take [`crate::TrainConfig`]'s default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NeuronModel {
    /// The hard-sigmoid model of Scellier & Bengio (2017): `s ← clip(s + dt·(u − s), 0, 1)`.
    #[default]
    Clip,
    /// The discrete-time model of the public EP code (Ernoult et al. 2019, Laborieux et al. 2021)
    /// with HTS: `s ← s + dt·(σ(u) − s)`, `σ(u) = 1/(1 + e^(−(4u − 2)))`; with every `dt = 1` it is
    /// that code's `s ← σ(u)`. The nudge `β(y − s)` acts inside σ.
    Sigmoid,
}

impl NeuronModel {
    /// Every model, in the order the help text lists them.
    pub const ALL: [NeuronModel; 2] = [NeuronModel::Clip, NeuronModel::Sigmoid];

    /// The chip's neuron program for this model.
    pub fn program(self) -> NeuronProgram {
        match self {
            NeuronModel::Clip => NeuronProgram::Clip,
            NeuronModel::Sigmoid => NeuronProgram::Sigmoid,
        }
    }

    /// The base time step Δt this model is run with unless told otherwise: 0.5 for clip (Scellier &
    /// Bengio's ε), 1 for sigmoid (the public code's update).
    pub fn default_dt(self) -> f32 {
        match self {
            NeuronModel::Clip => 0.5,
            NeuronModel::Sigmoid => 1.0,
        }
    }

    /// Bound of the uniform initial weights of a projection from `n_in` to `n_out` neurons: Glorot's
    /// `√(6/(n_in + n_out))` for clip (as Scellier & Bengio), `1/√n_in` for sigmoid (the public
    /// code's PyTorch default; Glorot's larger weights leave that model at 43–51 % after two epochs
    /// at β 0.1 in an independent numpy check, against 88–91 % with these).
    pub fn init_limit(self, n_in: usize, n_out: usize) -> f32 {
        match self {
            NeuronModel::Clip => (6.0 / (n_in + n_out) as f64).sqrt() as f32,
            NeuronModel::Sigmoid => (1.0 / n_in as f64).sqrt() as f32,
        }
    }

    /// The nudge's strength per unit of β: the output's drive gains `gain·β·(y − s)`. The clip model
    /// uses the cost `½‖y − s‖²` (gain 1); the sigmoid model the public code's `‖y − s‖²` (its
    /// summed squared error, gain 2). The update is divided by β either way.
    pub fn nudge_gain(self) -> f32 {
        match self {
            NeuronModel::Clip => 1.0,
            NeuronModel::Sigmoid => 2.0,
        }
    }

    /// The model's activation `f(u)` in f64: `clip(u, 0, 1)` or `σ(4u − 2)`.
    pub fn transfer(self, u: f64) -> f64 {
        match self {
            NeuronModel::Clip => u.clamp(0.0, 1.0),
            NeuronModel::Sigmoid => chip_model::neuron_program::sigmoid_f64(u),
        }
    }

    /// The activation between a neuron's state and what it sends, as export metadata states it.
    pub fn activation(self) -> &'static str {
        match self {
            NeuronModel::Clip => "hard_sigmoid: clip(v, 0, 1)",
            NeuronModel::Sigmoid => "sigmoid: 1 / (1 + exp(-(4 v - 2)))",
        }
    }

    /// The model whose [`NeuronModel::activation`] text is `text`.
    pub fn from_activation(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.activation() == text)
    }

    /// The model's name (`clip`, `sigmoid`).
    pub fn name(self) -> &'static str {
        self.program().name()
    }
}

impl fmt::Display for NeuronModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NeuronModel {
    type Err = EpError;

    fn from_str(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == text.trim()).ok_or_else(|| EpError::InvalidParameter {
            field: "neuron".into(),
            value: text.into(),
            allowed: "clip (hard sigmoid, Scellier & Bengio 2017) or sigmoid (σ(4u − 2), the public EP code)"
                .into(),
        })
    }
}
