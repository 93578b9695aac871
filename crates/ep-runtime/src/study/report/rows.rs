//! The study's conditions in grid order, each paired with its summary and its look, and the small
//! data helpers the plots and tables share.

use crate::study::report::svg::Look;
use crate::study::results::{Condition, ConditionSummary, MeanStd, StudyResults};

/// One condition with its summary (if the study has one for it) and its palette position.
pub(super) struct Row<'a> {
    pub(super) condition: &'a Condition,
    pub(super) summary: Option<&'a ConditionSummary>,
    pub(super) look: Look,
}

/// The conditions of the study in grid order, each paired with its summary.
///
/// The conditions come from `results.conditions`; if that list is empty, the conditions carried by
/// the summaries are used instead.
pub(super) fn condition_rows(results: &StudyResults) -> Vec<Row<'_>> {
    let conditions: Vec<&Condition> = if results.conditions.is_empty() {
        results.summaries.iter().map(|s| &s.condition).collect()
    } else {
        results.conditions.iter().collect()
    };
    conditions
        .into_iter()
        .enumerate()
        .map(|(position, condition)| {
            let summary = results
                .summaries
                .iter()
                .find(|s| s.condition.index == condition.index)
                .or_else(|| results.summaries.get(position).filter(|s| s.condition == *condition));
            Row { condition, summary, look: Look::nth(position) }
        })
        .collect()
}

/// The rows the line plots draw: every condition, or for a study with `--vary` axes only those at
/// the middle value of every axis (one line per τ and mismatch level instead of one per point).
pub(super) fn plotted_rows(results: &StudyResults) -> Vec<Row<'_>> {
    let middle: Vec<(&str, &str)> = results
        .axes
        .iter()
        .filter_map(|(k, v)| v.get(v.len() / 2).map(|m| (k.as_str(), m.as_str())))
        .collect();
    condition_rows(results)
        .into_iter()
        .filter(|row| {
            middle.iter().all(|(k, m)| row.condition.settings.iter().any(|(key, v)| key == k && v == m))
        })
        .collect()
}

/// The middle point of a study's `--vary` grid as `beta=0.2 lr=x1` (empty without axes).
pub(super) fn middle_point(results: &StudyResults) -> String {
    results
        .axes
        .iter()
        .filter_map(|(k, v)| v.get(v.len() / 2).map(|m| format!("{k}={m}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `m` with mean and std multiplied by `factor`.
pub(super) fn scaled(m: MeanStd, factor: f64) -> MeanStd {
    MeanStd {
        mean: m.mean * factor,
        std: m.std * factor,
        n: m.n,
        ci_low: m.ci_low * factor,
        ci_high: m.ci_high * factor,
    }
}

/// The standard deviation if finite, else 0 (a band of zero width).
pub(super) fn finite_std(m: &MeanStd) -> f64 {
    if m.std.is_finite() { m.std.abs() } else { 0.0 }
}

/// Distinct tau strings in order of first appearance.
pub(super) fn distinct_taus<'a>(rows: &[Row<'a>]) -> Vec<&'a str> {
    let mut taus: Vec<&str> = Vec::new();
    for row in rows {
        if !taus.contains(&row.condition.tau.as_str()) {
            taus.push(&row.condition.tau);
        }
    }
    taus
}

/// Distinct mismatch levels, ascending (by total order, so NaN cannot break the sort).
pub(super) fn distinct_mismatches(rows: &[Row<'_>]) -> Vec<f64> {
    let mut levels: Vec<f64> = rows.iter().map(|r| r.condition.mismatch).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| a.total_cmp(b).is_eq());
    levels
}
