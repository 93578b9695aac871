//! What a run measures: one row per epoch, and a summary of the whole run.

use serde::{Deserialize, Serialize};

/// Measurements of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Share of training examples the free phase classified correctly during the epoch.
    pub train_accuracy: f64,
    /// Share of test examples classified correctly after the epoch.
    pub test_accuracy: f64,
    /// Mean squared-error cost ½‖s_L − y‖² at the free fixed point during training.
    pub train_cost: f64,
    /// Mean RMS state change in the last free-phase step (how well the free phase settled).
    pub free_residual: f64,
    /// Wall-clock seconds of training (evaluation excluded).
    pub seconds: f64,
    /// Training examples per second.
    pub examples_per_second: f64,
    /// Wall-clock seconds of the test evaluation.
    pub eval_seconds: f64,
    /// Estimated chip energy per training example, in microjoules (from the operation counters).
    pub energy_per_example_uj: f64,
    /// Synaptic operations per training example.
    pub synaptic_ops_per_example: f64,
    /// Share of neuron states exactly at 0 or 1 at the end of the free phases of the epoch.
    pub saturated_share: f64,
    /// Share of training examples whose free phase had not settled (RMS change in its last step
    /// above 10⁻³).
    pub unsettled_share: f64,
    /// Mean steps of the free phases (T1 unless a settling tolerance ended them early).
    #[serde(default)]
    pub free_steps_mean: f64,
    /// Longest free phase of the epoch, in steps.
    #[serde(default)]
    pub free_steps_max: usize,
    /// Mean steps of the nudged phases of a mini-batch (both of them with the symmetric estimate).
    #[serde(default)]
    pub nudged_steps_mean: f64,
    /// Estimated chip energy of the epoch's training, in joules.
    #[serde(default)]
    pub energy_j: f64,
    /// Emulated chip time of the epoch's training: steps × examples × the profile's time per step.
    #[serde(default)]
    pub chip_seconds: f64,
}

impl EpochMetrics {
    /// Header of metrics.csv.
    pub const CSV_HEADER: &'static str = "epoch,train_accuracy,test_accuracy,train_cost,free_residual,\
seconds,examples_per_second,eval_seconds,energy_per_example_uj,synaptic_ops_per_example,saturated_share,unsettled_share,free_steps_mean,free_steps_max,nudged_steps_mean,\
energy_j,chip_seconds";

    /// Names of the columns that measure time (they differ between identical runs).
    pub const TIMING_COLUMNS: &'static [&'static str] = &["seconds", "examples_per_second", "eval_seconds"];

    /// One CSV row (no newline).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{:.6},{:.6},{:.6},{:.6e},{:.3},{:.1},{:.3},{:.6},{:.1},{:.6},{:.6},{:.3},{},{:.3},{:.6e},{:.6e}",
            self.epoch,
            self.train_accuracy,
            self.test_accuracy,
            self.train_cost,
            self.free_residual,
            self.seconds,
            self.examples_per_second,
            self.eval_seconds,
            self.energy_per_example_uj,
            self.synaptic_ops_per_example,
            self.saturated_share,
            self.unsettled_share,
            self.free_steps_mean,
            self.free_steps_max,
            self.nudged_steps_mean,
            self.energy_j,
            self.chip_seconds
        )
    }
}

/// One core's share of an epoch's training: its operations and their energy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreEnergy {
    /// Core on the board.
    pub core: usize,
    /// Chip that holds it.
    pub chip: usize,
    /// Operations the core performed.
    pub counters: chip_model::OpCounters,
    /// Their energy, in joules.
    pub energy_j: f64,
}

/// The summary of a run, written as summary.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Test accuracy after the last completed epoch (0..1).
    pub test_accuracy: f64,
    /// Best test accuracy over the epochs.
    pub best_test_accuracy: f64,
    /// Epoch of the best test accuracy.
    pub best_epoch: usize,
    /// Train accuracy of the last epoch.
    pub train_accuracy: f64,
    /// Completed epochs.
    pub epochs: usize,
    /// Mean training throughput over the epochs.
    pub examples_per_second: f64,
    /// Profile name.
    pub profile: String,
    /// Time-constant distribution, as given to `--tau`.
    pub tau: String,
    /// Run seed.
    pub seed: u64,
    /// True if training stopped because states or parameters became non-finite.
    pub diverged: bool,
    /// Why it diverged, if it did.
    pub divergence_reason: Option<String>,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// Dataset name.
    pub dataset: String,
    /// Cores the network occupies.
    pub cores_used: usize,
    /// Mean estimated chip energy per training example, in microjoules.
    pub energy_per_example_uj: f64,
    /// Estimated chip energy of all training epochs, in joules.
    pub energy_j: f64,
    /// Emulated chip time of all training epochs, in seconds (0 if the profile gives no time per step).
    pub chip_seconds: f64,
    /// Mean free-phase steps.
    pub free_steps_mean: f64,
    /// Mean nudged-phase steps per mini-batch.
    pub nudged_steps_mean: f64,
    /// The target test accuracy of `epochs_to_target`.
    pub target_accuracy: f64,
    /// First epoch whose test accuracy reached the target, if any.
    pub epochs_to_target: Option<usize>,
    /// Training energy spent until that epoch (included), in joules.
    pub energy_to_target_j: Option<f64>,
    /// The full training configuration.
    pub config: crate::config::TrainConfig,
    /// Per core (cores that did anything), the operations and energy of the last epoch's training
    /// (the mapping decides what each core does; relay cores of fan-in splitting included).
    pub cores_last_epoch: Vec<CoreEnergy>,
}
