//! Stability metrics of one run, computed from its epoch history (definitions in docs/stability.md).

use crate::study::results::StabilityMetrics;
use crate::training::metrics::EpochMetrics;

/// Instability index given to a run that diverged.
pub const DIVERGED_INSTABILITY: f64 = 100.0;

/// Computes the stability metrics of a run.
///
/// - oscillation: mean |Δ test accuracy| between consecutive epochs, in points, over the epochs after
///   the first `burn_in` (the first difference counted is between epochs `burn_in + 1` and `burn_in + 2`);
///   0 with fewer than two such epochs;
/// - drawdown: the largest drop of test accuracy below its running best, in points, over all epochs;
/// - instability: oscillation + drawdown, or [`DIVERGED_INSTABILITY`] for a diverged run.
pub fn stability_metrics(
    history: &[EpochMetrics],
    diverged: bool,
    burn_in: usize,
    fidelity_samples: &[f64],
    target_accuracy: f64,
) -> StabilityMetrics {
    let acc: Vec<f64> = history.iter().map(|m| 100.0 * m.test_accuracy).collect();
    let after: Vec<f64> = acc.iter().skip(burn_in).copied().collect();
    let oscillation = if after.len() >= 2 {
        after.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (after.len() - 1) as f64
    } else {
        0.0
    };
    let mut best = f64::NEG_INFINITY;
    let mut drawdown = 0.0f64;
    for &a in &acc {
        best = best.max(a);
        drawdown = drawdown.max(best - a);
    }
    let last = history.last();
    let fidelity: Vec<f64> = fidelity_samples.iter().copied().filter(|x| x.is_finite()).collect();
    StabilityMetrics {
        final_accuracy: last.map_or(0.0, |m| m.test_accuracy),
        best_accuracy: history.iter().map(|m| m.test_accuracy).fold(0.0, f64::max),
        oscillation,
        drawdown,
        diverged,
        residual: last.map_or(0.0, |m| m.free_residual),
        unsettled_share: last.map_or(0.0, |m| m.unsettled_share),
        gradient_fidelity: (!fidelity.is_empty())
            .then(|| fidelity.iter().sum::<f64>() / fidelity.len() as f64),
        instability: if diverged { DIVERGED_INSTABILITY } else { oscillation + drawdown },
        energy_per_example_j: mean(history.iter().map(|m| m.energy_per_example_uj * 1e-6)),
        free_steps: mean(history.iter().map(|m| m.free_steps_mean)),
        epochs_to_target: history.iter().find(|m| m.test_accuracy >= target_accuracy).map(|m| m.epoch),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}
