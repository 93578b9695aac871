//! The data a stability study produces: one record per run, one summary per condition.

use serde::{Deserialize, Serialize};

use crate::training::metrics::EpochMetrics;

/// One condition of the study grid (everything but the seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Position of the condition in the grid.
    pub index: usize,
    /// Time-constant distribution, as given to `--tau`.
    pub tau: String,
    /// Device-mismatch level (its meaning is given by the study's mismatch mode).
    pub mismatch: f64,
    /// Short label for tables and plots, e.g. `beta=0.1 lr=0.2:0.1 | lognormal:cv=0.5 | mismatch 0.1`.
    pub label: String,
    /// Position of its point in the study's hyperparameter grid (0 without `--vary`).
    #[serde(default)]
    pub point: usize,
    /// The settings of that point, as (setting, value) pairs in axis order.
    #[serde(default)]
    pub settings: Vec<(String, String)>,
}

/// Stability metrics of one run, computed from its epoch history (see docs/stability.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StabilityMetrics {
    /// Test accuracy after the last epoch (0..1).
    pub final_accuracy: f64,
    /// Best test accuracy over the epochs.
    pub best_accuracy: f64,
    /// Mean |Δ test accuracy| between consecutive epochs after the burn-in, in accuracy points (0..100).
    pub oscillation: f64,
    /// Largest drop of test accuracy below its running best, in accuracy points.
    pub drawdown: f64,
    /// The run diverged (non-finite, exploded, saturated or collapsed to chance).
    pub diverged: bool,
    /// Free-phase RMS residual of the last epoch.
    pub residual: f64,
    /// Share of training examples whose free phase had not settled (last epoch).
    pub unsettled_share: f64,
    /// Mean cosine between the on-chip EP update and the true gradient, if it was sampled.
    pub gradient_fidelity: Option<f64>,
    /// Instability index: oscillation + drawdown (points); 100 for a diverged run.
    pub instability: f64,
    /// Estimated chip energy per training example over the run, in joules.
    #[serde(default)]
    pub energy_per_example_j: f64,
    /// Mean free-phase steps over the run.
    #[serde(default)]
    pub free_steps: f64,
    /// First epoch whose test accuracy reached the study's target, if any.
    #[serde(default)]
    pub epochs_to_target: Option<usize>,
}

/// One finished run of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run directory name inside `study/runs/`.
    pub id: String,
    /// Index of its condition.
    pub condition: usize,
    /// Seed.
    pub seed: u64,
    /// Per-epoch metrics.
    pub history: Vec<EpochMetrics>,
    /// Why it diverged, if it did.
    pub divergence_reason: Option<String>,
    /// Gradient-fidelity samples (cosines), in the order they were taken.
    pub gradient_fidelity_samples: Vec<f64>,
    /// Stability metrics.
    pub stability: StabilityMetrics,
    /// Accuracy of the final network on its chip after each of the study's drift times (and after
    /// fine-tuning from there), if the study asked for it.
    #[serde(default)]
    pub retention: Vec<crate::deployment::report::DeployPoint>,
}

/// Mean, standard deviation and bootstrap 95 % interval of the mean over the seeds of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 with one value).
    pub std: f64,
    /// Number of values.
    pub n: usize,
    /// Lower end of the bootstrap 95 % interval of the mean (NaN below two values or when not computed).
    #[serde(default = "nan")]
    pub ci_low: f64,
    /// Upper end of the interval.
    #[serde(default = "nan")]
    pub ci_high: f64,
}

fn nan() -> f64 {
    f64::NAN
}

impl MeanStd {
    /// Mean and sample standard deviation of `values` (NaN-free; empty gives n = 0 and NaN mean).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self { mean: f64::NAN, std: f64::NAN, n, ci_low: f64::NAN, ci_high: f64::NAN };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Self { mean, std, n, ci_low: f64::NAN, ci_high: f64::NAN }
    }

    /// [`MeanStd::of`] with a seeded bootstrap 95 % interval of the mean.
    pub fn with_ci(values: &[f64], seed: u64) -> Self {
        let (ci_low, ci_high) = crate::study::statistics::bootstrap_mean_ci(values, seed);
        Self { ci_low, ci_high, ..Self::of(values) }
    }
}

/// Aggregates of one condition over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionSummary {
    /// The condition.
    pub condition: Condition,
    /// Runs finished.
    pub runs: usize,
    /// Final test accuracy.
    pub final_accuracy: MeanStd,
    /// Best test accuracy.
    pub best_accuracy: MeanStd,
    /// Oscillation (points).
    pub oscillation: MeanStd,
    /// Drawdown (points).
    pub drawdown: MeanStd,
    /// Share of runs that diverged.
    pub divergence_share: f64,
    /// Free-phase residual.
    pub residual: MeanStd,
    /// Share of unsettled examples.
    pub unsettled_share: MeanStd,
    /// Gradient fidelity over the runs that sampled it.
    pub gradient_fidelity: MeanStd,
    /// Instability index.
    pub instability: MeanStd,
    /// Test accuracy per epoch: mean and standard deviation over seeds (index 0 = epoch 1).
    pub accuracy_curve: Vec<MeanStd>,
    /// Energy per training example (J).
    #[serde(default = "nan_mean_std")]
    pub energy_per_example: MeanStd,
    /// Mean free-phase steps.
    #[serde(default = "nan_mean_std")]
    pub free_steps: MeanStd,
    /// Epochs to reach the target accuracy, over the runs that reached it.
    #[serde(default = "nan_mean_std")]
    pub epochs_to_target: MeanStd,
    /// Share of runs that reached the target accuracy.
    #[serde(default)]
    pub target_reached_share: f64,
    /// Cumulative training energy (J) after each epoch: mean and standard deviation over seeds.
    #[serde(default)]
    pub energy_curve: Vec<MeanStd>,
}

fn nan_mean_std() -> MeanStd {
    MeanStd::of(&[])
}

/// Everything a study produced, as written to study.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyResults {
    /// The exact command that produced the study.
    pub command: String,
    /// Profile name.
    pub profile: String,
    /// Dataset spec.
    pub dataset: String,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// Epochs per run.
    pub epochs: usize,
    /// What `--mismatch` values mean (e.g. `tau_spread`, `all spreads`, `scale`).
    pub mismatch_mode: String,
    /// Conditions in grid order.
    pub conditions: Vec<Condition>,
    /// Per-condition aggregates, in condition order.
    pub summaries: Vec<ConditionSummary>,
    /// All finished runs, in grid order.
    pub runs: Vec<RunRecord>,
    /// The baseline τ distribution of the paired comparisons.
    #[serde(default)]
    pub baseline: String,
    /// Every condition compared with the baseline τ at the same mismatch level and hyperparameter
    /// point, per metric.
    #[serde(default)]
    pub comparisons: Vec<crate::study::statistics::Comparison>,
    /// The hyperparameter axes (`--vary`), as (setting, values).
    #[serde(default)]
    pub axes: Vec<(String, Vec<String>)>,
    /// The two axes of the robustness heatmaps (empty: the first two axes).
    #[serde(default)]
    pub heatmap_axes: Vec<String>,
    /// The accuracy a run must reach to count as trained.
    #[serde(default = "default_target")]
    pub target_accuracy: f64,
    /// Share of runs that trained, per τ distribution and mismatch level.
    #[serde(default)]
    pub robustness: Vec<crate::study::robustness::RobustnessRow>,
    /// The τ the robustness rows are compared with (the study's baseline τ).
    #[serde(default)]
    pub baseline_tau: String,
}

impl StudyResults {
    /// True if the paired comparisons' baseline is a `--vary` setting (`training=on-chip`), not a τ.
    pub fn baseline_is_setting(&self) -> bool {
        self.axes.iter().any(|(k, _)| self.baseline.starts_with(&format!("{k}=")))
    }

    /// The baseline as it reads in a sentence: `tau = constant` or `training=on-chip`.
    pub fn baseline_phrase(&self) -> String {
        if self.baseline_is_setting() { self.baseline.clone() } else { format!("tau = {}", self.baseline) }
    }

    /// What sets a compared condition apart from its baseline, to group comparisons by: its τ, or
    /// with a setting baseline its value of that setting and its τ (`training=off-chip | constant`).
    pub fn comparison_group(&self, condition: usize) -> String {
        let Some(c) = self.conditions.get(condition) else { return String::new() };
        if !self.baseline_is_setting() {
            return c.tau.clone();
        }
        let key = self.baseline.split('=').next().unwrap_or_default();
        let value = c.settings.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str());
        format!("{key}={value} | {}", c.tau)
    }
}

fn default_target() -> f64 {
    0.9
}
