//! Saving and restoring everything a chip instance learned, for checkpoints.
//!
//! Device parameters (mismatch, faults, pulse sizes) are not stored: they are a pure function of the
//! profile and the chip seed, so a chip rebuilt with the same profile, seed and network has the same
//! devices. What is stored is what changes while training: weights in the chip's own format (integer
//! mantissas on digital cores, conductances on analog cores, floats on float cores), biases, the
//! update counters that key stochastic rounding, and the read-noise generator's state.

use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::Chip;
use crate::error::{ChipError, Result};

/// The learned state of one synapse group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCheckpoint {
    /// Rows (presynaptic neurons).
    pub rows: usize,
    /// Columns (postsynaptic neurons).
    pub cols: usize,
    /// Weights in the chip's own format, row-major.
    pub weights: Vec<f32>,
    /// Learning updates applied so far.
    pub updates: u64,
}

/// The learned state of one population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationCheckpoint {
    /// Neurons.
    pub size: usize,
    /// Float and analog cores: biases in real units.
    pub bias: Vec<f32>,
    /// Digital cores: bias mantissas.
    pub bias_mant: Vec<i64>,
    /// Bias updates applied so far.
    pub bias_updates: u64,
}

/// Everything a chip instance learned, plus its read-noise generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipCheckpoint {
    /// Name of the profile the chip emulates.
    pub profile: String,
    /// The chip seed (device parameters are rebuilt from it).
    pub seed: u64,
    /// Per synapse group, in creation order.
    pub groups: Vec<GroupCheckpoint>,
    /// Per population, in allocation order.
    pub populations: Vec<PopulationCheckpoint>,
    /// State of the read-noise generator.
    pub noise_rng: Xoshiro256PlusPlus,
}

impl Chip {
    /// The learned state of this chip.
    pub fn checkpoint(&self) -> ChipCheckpoint {
        ChipCheckpoint {
            profile: self.profile.name.clone(),
            seed: self.seed,
            groups: self
                .groups
                .iter()
                .map(|g| GroupCheckpoint {
                    rows: g.weights.nrows(),
                    cols: g.weights.ncols(),
                    weights: g.weights.iter().copied().collect(),
                    updates: g.updates,
                })
                .collect(),
            populations: self
                .populations
                .iter()
                .map(|p| PopulationCheckpoint {
                    size: p.size,
                    bias: p.bias.clone(),
                    bias_mant: p.bias_mant.clone(),
                    bias_updates: p.bias_updates,
                })
                .collect(),
            noise_rng: self.noise_rng.clone(),
        }
    }

    /// Restores a checkpoint taken on a chip built the same way (same profile, seed and network).
    pub fn restore_checkpoint(&mut self, c: &ChipCheckpoint) -> Result<()> {
        let bad = |what: String| {
            Err(ChipError::InvalidConfig(format!("checkpoint does not fit this chip: {what}")))
        };
        if c.profile != self.profile.name || c.seed != self.seed {
            return bad(format!(
                "it was taken on profile `{}` with chip seed {}, this chip is `{}` with seed {}",
                c.profile, c.seed, self.profile.name, self.seed
            ));
        }
        if c.groups.len() != self.groups.len() || c.populations.len() != self.populations.len() {
            return bad(format!(
                "{} synapse groups and {} populations, the chip has {} and {}",
                c.groups.len(),
                c.populations.len(),
                self.groups.len(),
                self.populations.len()
            ));
        }
        for (k, (g, saved)) in self.groups.iter().zip(&c.groups).enumerate() {
            if (saved.rows, saved.cols) != g.weights.dim() || saved.weights.len() != saved.rows * saved.cols {
                return bad(format!("synapse group {k} has shape {:?}", g.weights.dim()));
            }
            if saved.weights.iter().any(|w| !w.is_finite()) {
                return bad(format!("synapse group {k} holds a non-finite weight"));
            }
            if let Some(why) = self.kind.arithmetic().check_saved_weights(g, &saved.weights) {
                return bad(format!("synapse group {k} {why}"));
            }
        }
        for (k, (p, saved)) in self.populations.iter().zip(&c.populations).enumerate() {
            if saved.size != p.size
                || saved.bias.len() != p.bias.len()
                || saved.bias_mant.len() != p.bias_mant.len()
            {
                return bad(format!("population {k} (`{}`) has {} neurons", p.name, p.size));
            }
            if saved.bias.iter().any(|b| !b.is_finite()) {
                return bad(format!("population {k} (`{}`) holds a non-finite bias", p.name));
            }
            if let Some(why) = self.kind.arithmetic().check_saved_bias(&saved.bias_mant) {
                return bad(format!("population {k} (`{}`) {why}", p.name));
            }
        }
        for (k, saved) in c.groups.iter().enumerate() {
            let g = &mut self.groups[k];
            for (w, &x) in g.weights.iter_mut().zip(&saved.weights) {
                *w = x;
            }
            g.updates = saved.updates;
            g.refresh_effective();
        }
        for (p, saved) in self.populations.iter_mut().zip(&c.populations) {
            p.bias.clone_from(&saved.bias);
            p.bias_mant.clone_from(&saved.bias_mant);
            p.bias_updates = saved.bias_updates;
        }
        self.noise_rng = c.noise_rng.clone();
        self.static_dirty = true;
        Ok(())
    }
}
