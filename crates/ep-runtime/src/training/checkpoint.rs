//! Training checkpoints: the complete state of a run between two epochs, written atomically.
//!
//! A checkpoint holds the profile, the network shape, the data it trains on, the configuration, the
//! metrics so far, the positions of the run's random streams and the chip's learned state (weights
//! in the chip's own format, biases, update counters, read-noise generator). Device parameters are
//! rebuilt from the seed. Resuming from a checkpoint and training to the end gives exactly the files
//! an uninterrupted run gives.

use std::path::Path;

use chip_model::{ChipCheckpoint, HardwareProfile};
use serde::{Deserialize, Serialize};

use crate::atomic_file::write_atomic;
use crate::config::TrainConfig;
use crate::data::dataset::DatasetSplit;
use crate::error::{EpError, Result};
use crate::training::metrics::EpochMetrics;

/// Format tag written into every checkpoint.
pub const CHECKPOINT_FORMAT: &str = "epchip-checkpoint-1";

/// File name of a run's checkpoint inside its output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";

/// Which data a run trains on, with sizes to detect a dataset that changed between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunData {
    /// Dataset spec as given to `--dataset`.
    pub spec: String,
    /// `--train-limit`, if any.
    pub train_limit: Option<usize>,
    /// Training examples used.
    pub train_examples: usize,
    /// Test examples.
    pub test_examples: usize,
}

impl RunData {
    /// Describes `data`, loaded from `spec` and limited to `train_limit` training examples.
    pub fn describe(spec: &str, train_limit: Option<usize>, data: &DatasetSplit) -> Self {
        Self {
            spec: spec.to_string(),
            train_limit,
            train_examples: data.train.len(),
            test_examples: data.test.len(),
        }
    }

    /// Checks that `data` is the data this run was trained on.
    pub fn check(&self, data: &DatasetSplit) -> Result<()> {
        if data.train.len() != self.train_examples || data.test.len() != self.test_examples {
            return Err(EpError::DatasetMismatch(format!(
                "the checkpoint was trained on `{}` with {} training and {} test examples; it now has {} and {}",
                self.spec,
                self.train_examples,
                self.test_examples,
                data.train.len(),
                data.test.len()
            )));
        }
        Ok(())
    }
}

/// The complete state of a training run between two epochs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingCheckpoint {
    /// Format tag ([`CHECKPOINT_FORMAT`]).
    pub format: String,
    /// The hardware profile, in full (the run does not depend on the profile file any more).
    pub profile: HardwareProfile,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// The data.
    pub data: RunData,
    /// The training configuration.
    pub config: TrainConfig,
    /// Metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
    /// Why the run diverged, if it did.
    pub divergence: Option<String>,
    /// Position of the example-order stream.
    pub shuffle_word_pos: u128,
    /// Position of the β-sign stream.
    pub sign_word_pos: u128,
    /// What the chip learned.
    pub chip: ChipCheckpoint,
    /// Per-core operations and energy of the last completed epoch.
    #[serde(default)]
    pub cores_last_epoch: Vec<crate::training::metrics::CoreEnergy>,
}

impl TrainingCheckpoint {
    /// Writes the checkpoint atomically as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec(self)
            .map_err(|e| EpError::Output { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
        write_atomic(path, &text)
    }

    /// Reads the checkpoint of a run directory written by `epchip train`, with an error that names
    /// the directory if it is missing or holds no checkpoint.
    pub fn from_run_dir(dir: &Path) -> Result<Self> {
        let path = dir.join(CHECKPOINT_FILE);
        if !path.is_file() {
            return Err(EpError::InvalidParameter {
                field: "run".into(),
                value: dir.display().to_string(),
                allowed: if dir.is_dir() {
                    format!("a run directory with a {CHECKPOINT_FILE} (written by `epchip train`)")
                } else {
                    "an existing run directory written by `epchip train`".into()
                },
            });
        }
        Self::load(&path)
    }

    /// Reads a checkpoint, naming the file in every error.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).map_err(|source| EpError::FileRead { path: path.to_path_buf(), source })?;
        serde_json::from_slice(&bytes).map_err(|e| EpError::InvalidParameter {
            field: "checkpoint".into(),
            value: path.display().to_string(),
            allowed: format!("a checkpoint written by `epchip train` ({e})"),
        })
    }
}
