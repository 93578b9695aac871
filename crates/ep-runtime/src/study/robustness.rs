//! Robustness of training to its settings: over the study's hyperparameter grid, the share of runs
//! that trained, per τ distribution and mismatch level, and whether a τ distribution widens or
//! narrows that share compared with the baseline τ on the same seeds.

use serde::{Deserialize, Serialize};

use crate::study::grid::StudySpec;
use crate::study::results::RunRecord;
use crate::study::statistics::{Better, Comparison, bootstrap_mean_ci, compare};
use chip_model::rounding_noise::mix;

/// Whether a run trained: it did not diverge and reached the study's target accuracy.
pub fn trained(run: &RunRecord) -> bool {
    !run.stability.diverged && run.stability.epochs_to_target.is_some()
}

/// Robustness of one τ distribution at one mismatch level, over every point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessRow {
    /// τ distribution.
    pub tau: String,
    /// Mismatch level.
    pub mismatch: f64,
    /// Points of the hyperparameter grid.
    pub points: usize,
    /// Finished runs over all points and seeds.
    pub runs: usize,
    /// Share of those runs that trained.
    pub trained_share: f64,
    /// Bootstrap 95 % interval over seeds (each seed's share of points that trained).
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
    /// Median instability index over the runs (points; 100 for a diverged run).
    pub median_instability: f64,
    /// Per-seed trained share minus the baseline τ's on the same seeds and points (none for the
    /// baseline itself); its `condition` and `baseline` are the first conditions of the two rows.
    pub versus_baseline: Option<Comparison>,
}

/// Per-seed shares of the grid's points that trained, for τ `t` at mismatch level `m`.
fn seed_shares(spec: &StudySpec, runs: &[RunRecord], t: usize, m: usize) -> Vec<(u64, f64)> {
    let conditions: Vec<usize> = (0..spec.settings.len()).map(|p| spec.condition_index(t, m, p)).collect();
    spec.seeds
        .iter()
        .filter_map(|&seed| {
            let mine: Vec<&RunRecord> =
                runs.iter().filter(|r| r.seed == seed && conditions.contains(&r.condition)).collect();
            (!mine.is_empty())
                .then(|| (seed, mine.iter().filter(|r| trained(r)).count() as f64 / mine.len() as f64))
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { 0.5 * (values[n / 2 - 1] + values[n / 2]) }
}

/// One row per τ distribution and mismatch level, in grid order.
pub fn robustness(spec: &StudySpec, runs: &[RunRecord]) -> Vec<RobustnessRow> {
    let mut out = Vec::new();
    for t in 0..spec.taus.len() {
        for m in 0..spec.mismatch.len() {
            let conditions: Vec<usize> =
                (0..spec.settings.len()).map(|p| spec.condition_index(t, m, p)).collect();
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| conditions.contains(&r.condition)).collect();
            let shares = seed_shares(spec, runs, t, m);
            let values: Vec<f64> = shares.iter().map(|(_, v)| *v).collect();
            let (ci_low, ci_high) = bootstrap_mean_ci(&values, mix(0x0b05_7000 ^ conditions[0] as u64));
            let versus_baseline = (t != spec.baseline).then(|| {
                let base = seed_shares(spec, runs, spec.baseline, m);
                let baseline = spec.condition_index(spec.baseline, m, 0);
                compare(conditions[0], baseline, "trained_share", Better::Higher, &shares, &base)
            });
            out.push(RobustnessRow {
                tau: spec.taus[t].to_string(),
                mismatch: spec.mismatch[m],
                points: spec.settings.len(),
                runs: mine.len(),
                trained_share: if mine.is_empty() {
                    f64::NAN
                } else {
                    mine.iter().filter(|r| trained(r)).count() as f64 / mine.len() as f64
                },
                ci_low,
                ci_high,
                median_instability: median(mine.iter().map(|r| r.stability.instability).collect()),
                versus_baseline,
            });
        }
    }
    out
}

/// robustness.csv: one row per τ distribution and mismatch level.
pub fn robustness_csv(rows: &[RobustnessRow]) -> String {
    let num = |x: f64| if x.is_finite() { format!("{x:.6}") } else { String::new() };
    let mut s = String::from(
        "tau,mismatch,points,trained_share,ci_low,ci_high,median_instability,runs,difference_vs_baseline,\
difference_ci_low,difference_ci_high,p_value,verdict\n",
    );
    for r in rows {
        let c = r.versus_baseline.as_ref();
        s.push_str(&format!(
            "\"{}\",{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.tau.replace('"', "\"\""),
            r.mismatch,
            r.points,
            num(r.trained_share),
            num(r.ci_low),
            num(r.ci_high),
            num(r.median_instability),
            r.runs,
            c.map_or(String::new(), |c| num(c.mean_difference)),
            c.map_or(String::new(), |c| num(c.ci_low)),
            c.map_or(String::new(), |c| num(c.ci_high)),
            c.map_or(String::new(), |c| num(c.p_value)),
            c.map_or("baseline", |c| c.verdict.words()),
        ));
    }
    s
}
