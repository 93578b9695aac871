//! Study statistics on synthetic metric tables with known answers.

use ep_runtime::study::statistics::{
    Better, Verdict, bootstrap_mean_ci, compare, seeds_for_power, sign_flip_p_value,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn normal(mean: f64, sd: f64) -> Normal<f64> {
    Normal::new(mean, sd).unwrap_or_else(|_| unreachable!("valid parameters"))
}

#[test]
fn sign_flip_p_values_are_exact_for_small_samples() {
    // All 5 differences positive: only the all-plus and all-minus patterns are as extreme: 2/32.
    assert!((sign_flip_p_value(&[0.1, 0.2, 0.3, 0.4, 0.5], 1) - 2.0 / 32.0).abs() < 1e-12);
    assert!((sign_flip_p_value(&[1.0; 6], 1) - 2.0 / 64.0).abs() < 1e-12);
    // Symmetric differences: every pattern is at least as extreme as a zero sum.
    assert_eq!(sign_flip_p_value(&[1.0, -1.0, 2.0, -2.0], 1), 1.0);
    // Above 16 values the test samples patterns; still tiny for a clear shift.
    let many: Vec<f64> = (0..20).map(|k| 1.0 + 0.01 * k as f64).collect();
    assert!(sign_flip_p_value(&many, 3) < 1e-4);
    assert!(sign_flip_p_value(&[], 1).is_nan());
}

#[test]
fn a_condition_shifted_by_a_known_amount_is_detected() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let base: Vec<(u64, f64)> = (1..=10).map(|s| (s, normal(0.90, 0.01).sample(&mut rng))).collect();
    let shifted: Vec<(u64, f64)> =
        base.iter().map(|&(s, v)| (s, v + 0.02 + normal(0.0, 0.005).sample(&mut rng))).collect();
    let c = compare(1, 0, "final_accuracy", Better::Higher, &shifted, &base);
    assert_eq!(c.verdict, Verdict::Better);
    assert!(c.p_value < 0.01, "p = {}", c.p_value);
    assert!(c.ci_low > 0.0 && c.ci_low < 0.02 && c.ci_high > 0.02, "[{}, {}]", c.ci_low, c.ci_high);
    assert!((c.mean_difference - 0.02).abs() < 0.005);
    // The same shift in a lower-is-better metric is "worse".
    let c = compare(1, 0, "oscillation", Better::Lower, &shifted, &base);
    assert_eq!(c.verdict, Verdict::Worse);
    // Pairing is by seed: shuffled order changes nothing.
    let mut reversed = shifted.clone();
    reversed.reverse();
    assert_eq!(compare(1, 0, "x", Better::Higher, &reversed, &base).mean_difference, c.mean_difference);
}

#[test]
fn identical_conditions_give_uniform_p_values_and_intervals_covering_zero() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let trials = 300;
    let mut significant = 0;
    let mut covered = 0;
    for t in 0..trials {
        let base: Vec<(u64, f64)> = (1..=8).map(|s| (s, normal(0.9, 0.02).sample(&mut rng))).collect();
        let same: Vec<(u64, f64)> =
            base.iter().map(|&(s, v)| (s, v + normal(0.0, 0.01).sample(&mut rng))).collect();
        let c = compare(t, 0, "final_accuracy", Better::Higher, &same, &base);
        significant += usize::from(c.p_value < 0.05);
        covered += usize::from(c.ci_low <= 0.0 && c.ci_high >= 0.0);
        assert_ne!(c.verdict == Verdict::NotDistinguishable, c.p_value < 0.05);
    }
    // Under the null, about 5 % of tests are significant (binomial sd ≈ 1.3 %), and a 95 % interval
    // covers 0 about 95 % of the time (the percentile bootstrap is a little narrow with 8 seeds).
    let rate = significant as f64 / trials as f64;
    assert!((0.01..=0.10).contains(&rate), "false-positive rate {rate}");
    let coverage = covered as f64 / trials as f64;
    assert!(coverage >= 0.88, "coverage {coverage}");
}

#[test]
fn bootstrap_intervals_cover_the_true_mean() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut covered = 0;
    for k in 0..200 {
        let v: Vec<f64> = (0..12).map(|_| normal(3.0, 1.0).sample(&mut rng)).collect();
        let (lo, hi) = bootstrap_mean_ci(&v, k);
        covered += usize::from(lo <= 3.0 && hi >= 3.0);
        assert!(lo <= hi);
        assert_eq!(bootstrap_mean_ci(&v, k), (lo, hi), "not reproducible");
    }
    assert!(covered >= 176, "covered {covered} of 200");
    assert!(bootstrap_mean_ci(&[1.0], 1).0.is_nan());
}

#[test]
fn seeds_for_power_follow_the_normal_approximation() {
    // Mean 1, sd 1: n = ((1.96 + 0.84) · 1 / 1)² = 7.85 → 8.
    let diffs = [0.0, 1.0, 2.0, 1.0, 0.0, 2.0];
    let sd = (diffs.iter().map(|d: &f64| (d - 1.0).powi(2)).sum::<f64>() / 5.0).sqrt();
    let expected = ((2.801_585 * sd).powi(2)).ceil() as usize;
    assert_eq!(seeds_for_power(&diffs), Some(expected));
    assert_eq!(seeds_for_power(&[1.0, -1.0]), None);
    assert_eq!(seeds_for_power(&[0.5]), None);
    // Differences that cancel up to rounding are no difference, not 10^19 seeds.
    assert_eq!(seeds_for_power(&[0.01, -0.01, 0.01 + 1e-17, -0.01]), None);
}
