//! Statistics for studies: bootstrap confidence intervals over seeds, and paired comparisons of a
//! condition with a baseline condition that shares its seeds (the same chip instance and the same
//! initial weights for the same seed).
//!
//! - Confidence intervals: percentile bootstrap of the mean, 10,000 resamples from a seeded ChaCha
//!   generator (reproducible).
//! - Paired comparison: per-seed differences `condition − baseline`; their mean with a bootstrap
//!   interval, and the two-sided p-value of an exact sign-flip permutation test (all 2^n sign
//!   patterns for n ≤ 16 seeds, 200,000 seeded random patterns above): under the null hypothesis
//!   of no effect each difference is as likely positive as negative.
//! - Power: the seeds a paired test needs to detect the observed mean difference with 80 % power at
//!   α = 0.05, from the normal approximation `n = ((z₀.₉₇₅ + z₀.₈) · sd / |mean|)²`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use chip_model::rounding_noise::mix;

/// Resamples of every bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Below this many seeds the sign-flip test enumerates every pattern.
pub const EXACT_PERMUTATION_MAX_N: usize = 16;
/// Random sign patterns drawn above [`EXACT_PERMUTATION_MAX_N`] seeds.
pub const RANDOM_PERMUTATIONS: usize = 200_000;
/// Significance level used for verdicts.
pub const ALPHA: f64 = 0.05;

/// Percentile-bootstrap confidence interval of the mean of `values` (NaN values ignored);
/// `(NaN, NaN)` with fewer than two values.
pub fn bootstrap_mean_ci(values: &[f64], seed: u64) -> (f64, f64) {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = v.len();
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| v[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let at = |q: f64| {
        means[((q * (BOOTSTRAP_RESAMPLES - 1) as f64).round() as usize).min(BOOTSTRAP_RESAMPLES - 1)]
    };
    (at(tail), at(1.0 - tail))
}

/// Two-sided p-value of the sign-flip permutation test of mean(`diffs`) = 0.
pub fn sign_flip_p_value(diffs: &[f64], seed: u64) -> f64 {
    let d: Vec<f64> = diffs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = d.len();
    if n == 0 {
        return f64::NAN;
    }
    let observed = d.iter().sum::<f64>().abs();
    // A small tolerance so that patterns equal to the observed one count despite rounding.
    let tol = 1e-12 * (1.0 + observed);
    if n <= EXACT_PERMUTATION_MAX_N {
        let total = 1u64 << n;
        let extreme = (0..total)
            .filter(|mask| {
                let s: f64 =
                    d.iter().enumerate().map(|(i, x)| if mask >> i & 1 == 1 { -x } else { *x }).sum();
                s.abs() >= observed - tol
            })
            .count();
        extreme as f64 / total as f64
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let extreme = (0..RANDOM_PERMUTATIONS)
            .filter(|_| {
                let s: f64 = d.iter().map(|x| if rng.random::<bool>() { -x } else { *x }).sum();
                s.abs() >= observed - tol
            })
            .count();
        // The observed pattern itself counts once, so p is never 0.
        (extreme + 1) as f64 / (RANDOM_PERMUTATIONS + 1) as f64
    }
}

/// Seeds a paired test needs for 80 % power at α = 0.05 to detect the mean of `diffs`, from its
/// observed standard deviation; `None` without a mean difference (or one lost in rounding: more than
/// [`MAX_POWER_SEEDS`] seeds) or with fewer than two values.
pub fn seeds_for_power(diffs: &[f64]) -> Option<usize> {
    let d: Vec<f64> = diffs.iter().copied().filter(|x| x.is_finite()).collect();
    if d.len() < 2 {
        return None;
    }
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    if mean == 0.0 {
        return None;
    }
    if sd == 0.0 {
        return Some(2);
    }
    const Z: f64 = 1.959_964 + 0.841_621;
    let seeds = ((Z * sd / mean.abs()).powi(2)).ceil().max(2.0);
    (seeds.is_finite() && seeds <= MAX_POWER_SEEDS as f64).then_some(seeds as usize)
}

/// Above this many seeds a difference is treated as none (it is rounding noise in the mean: per-seed
/// differences that cancel to 1e-17 asked for 1.8·10¹⁹ seeds).
pub const MAX_POWER_SEEDS: usize = 1_000_000;

/// Which direction of a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Better {
    /// Larger is better (accuracy, gradient fidelity).
    Higher,
    /// Smaller is better (oscillation, drawdown, divergence, instability).
    Lower,
}

/// The verdict of a paired comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Significantly better than the baseline (p < 0.05).
    Better,
    /// Significantly worse than the baseline (p < 0.05).
    Worse,
    /// Not distinguishable from the baseline at this number of seeds.
    NotDistinguishable,
    /// No paired values to compare.
    NoData,
}

impl Verdict {
    /// Lower-case words for tables and sentences.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NotDistinguishable => "not distinguishable",
            Verdict::NoData => "no data",
        }
    }
}

/// One paired comparison of a condition with its baseline on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Compared condition.
    pub condition: usize,
    /// Baseline condition (same mismatch level, baseline τ).
    pub baseline: usize,
    /// Metric name.
    pub metric: String,
    /// Seeds present in both conditions.
    pub n: usize,
    /// Mean of the per-seed differences `condition − baseline`.
    pub mean_difference: f64,
    /// Bootstrap 95 % interval of that mean.
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
    /// Two-sided sign-flip permutation p-value.
    pub p_value: f64,
    /// Better, worse or not distinguishable.
    pub verdict: Verdict,
    /// Seeds needed to detect the observed difference with 80 % power.
    pub seeds_for_power: Option<usize>,
}

/// Compares paired values (seed, value) of a condition with those of its baseline.
pub fn compare(
    condition: usize,
    baseline: usize,
    metric: &str,
    better: Better,
    values: &[(u64, f64)],
    baseline_values: &[(u64, f64)],
) -> Comparison {
    let diffs: Vec<f64> = values
        .iter()
        .filter_map(|(seed, v)| {
            baseline_values.iter().find(|(s, _)| s == seed).map(|(_, b)| v - b).filter(|d| d.is_finite())
        })
        .collect();
    let seed = mix(condition as u64 ^ mix(baseline as u64 ^ mix(metric.len() as u64 ^ metric_hash(metric))));
    let n = diffs.len();
    let mean = if n > 0 { diffs.iter().sum::<f64>() / n as f64 } else { f64::NAN };
    let (ci_low, ci_high) = bootstrap_mean_ci(&diffs, seed);
    let p_value = sign_flip_p_value(&diffs, seed ^ 1);
    let verdict = if n == 0 {
        Verdict::NoData
    } else if p_value < ALPHA && mean != 0.0 {
        match (better, mean > 0.0) {
            (Better::Higher, true) | (Better::Lower, false) => Verdict::Better,
            _ => Verdict::Worse,
        }
    } else {
        Verdict::NotDistinguishable
    };
    Comparison {
        condition,
        baseline,
        metric: metric.to_string(),
        n,
        mean_difference: mean,
        ci_low,
        ci_high,
        p_value,
        verdict,
        seeds_for_power: seeds_for_power(&diffs),
    }
}

fn metric_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
