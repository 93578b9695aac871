//! What a deployment measured: accuracy right after programming, after each drift time, and after
//! on-chip fine-tuning (`deploy.json`).

use serde::{Deserialize, Serialize};

/// Accuracy of the deployed network at one time after programming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployPoint {
    /// The time as given (`1d`).
    pub time: String,
    /// The time in seconds.
    pub seconds: f64,
    /// Test accuracy of the programmed network after that much drift.
    pub accuracy: f64,
    /// Test accuracy after fine-tuning on the chip from that state, per fine-tuning epoch.
    pub finetuned: Vec<f64>,
    /// Chip energy of the fine-tuning, in joules.
    pub finetune_energy_j: f64,
}

fn yes() -> bool {
    true
}

/// Everything `epchip deploy` measured (written as `deploy.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployReport {
    /// The run directory the parameters came from.
    pub source_run: String,
    /// The profile it was trained on.
    pub source_profile: String,
    /// Its last test accuracy there.
    pub source_accuracy: Option<f64>,
    /// The profile deployed to.
    pub target_profile: String,
    /// Seed of the target chip instance (its mismatch, stuck devices, write errors).
    pub seed: u64,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// Neuron model.
    pub neuron: String,
    /// Whether the target chip's synapses drift (false on digital and floating-point cores).
    pub drifts: bool,
    /// Fine-tuning epochs at each time.
    pub finetune_epochs: usize,
    /// False when the target is the run's own chip (same profile and seed): measured as trained,
    /// without programming it again.
    #[serde(default = "yes")]
    pub reprogrammed: bool,
    /// One entry per drift time, in the order given.
    pub points: Vec<DeployPoint>,
}

impl DeployReport {
    /// The table `epchip deploy` prints.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} ({}, {:.2} % there) → `{}` seed {}{}\n{:>8}  {:>12}  {:>18}\n",
            self.source_run,
            self.source_profile,
            100.0 * self.source_accuracy.unwrap_or(f64::NAN),
            self.target_profile,
            self.seed,
            match (self.reprogrammed, self.drifts) {
                (false, true) => " (the run's own chip, not reprogrammed)",
                (false, false) => " (the run's own chip, not reprogrammed; no drift on this chip)",
                (true, true) => "",
                (true, false) => " (no drift on this chip)",
            },
            "time",
            "accuracy %",
            if self.finetune_epochs > 0 { "after fine-tuning %" } else { "" }
        );
        for p in &self.points {
            let tuned = p.finetuned.last().map_or(String::new(), |a| format!("{:.2}", 100.0 * a));
            out.push_str(&format!("{:>8}  {:>12.2}  {:>18}\n", p.time, 100.0 * p.accuracy, tuned));
        }
        out
    }
}
