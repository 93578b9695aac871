//! The report's Robustness section: over the study's hyperparameter grid, does each τ distribution
//! train at more or fewer settings than the baseline τ, in words, with the heatmaps and the per-point
//! comparisons counted.

use std::fmt::Write as _;

use crate::study::report::format::{escape, fmt_num};
use crate::study::results::StudyResults;
use crate::study::statistics::Verdict;

/// Points of the grid listed by name for a significant per-point difference (the rest are counted).
const LISTED_POINTS: usize = 8;

/// What a difference of trained share means, in words.
fn region_words(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Better => "widens the region where training works",
        Verdict::Worse => "narrows the region where training works",
        Verdict::NotDistinguishable => "cannot be told apart from the baseline",
        Verdict::NoData => "has no paired runs",
    }
}

/// Appends the Robustness section (nothing for a study without `--vary` axes).
pub(super) fn push_robustness(out: &mut String, results: &StudyResults, heatmap_svg: &str) {
    if results.axes.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"robustness\">Robustness to the training settings</h2>\n");
    let axes: Vec<String> = results
        .axes
        .iter()
        .map(|(k, v)| format!("<b>{}</b> ∈ {{{}}}", escape(k), escape(&v.join(", "))))
        .collect();
    let _ = writeln!(
        out,
        "<p>Every τ distribution and mismatch level was trained at every point of {} with the same seeds. \
         A run <i>trained</i> when it did not diverge and reached {}&nbsp;% test accuracy. The share of runs \
         that trained is compared with the baseline <b>tau = {}</b> seed by seed (each seed's share of \
         points); the interval is a bootstrap over seeds, p a sign-flip test.</p>",
        axes.join(" × "),
        fmt_num(100.0 * results.target_accuracy),
        escape(&results.baseline_tau)
    );
    out.push_str("<ul>\n");
    for row in &results.robustness {
        let share = format!(
            "trained in {}&nbsp;% of {} runs (95&nbsp;% CI [{}, {}]), median instability {}",
            fmt_num(100.0 * row.trained_share),
            row.runs,
            fmt_num(100.0 * row.ci_low),
            fmt_num(100.0 * row.ci_high),
            fmt_num(row.median_instability)
        );
        let versus = match &row.versus_baseline {
            None => " — the baseline".to_string(),
            Some(c) => {
                let mut s = format!(
                    "; it <b>{}</b> (Δ = {} points, CI [{}, {}], p = {}, n = {} seeds)",
                    region_words(c.verdict),
                    fmt_num(100.0 * c.mean_difference),
                    fmt_num(100.0 * c.ci_low),
                    fmt_num(100.0 * c.ci_high),
                    fmt_num(c.p_value),
                    c.n
                );
                if c.verdict == Verdict::NotDistinguishable
                    && let Some(k) = c.seeds_for_power.filter(|&k| k > c.n)
                {
                    let _ = write!(s, "; about {k} seeds would detect a difference this size");
                }
                s
            }
        };
        let _ = writeln!(
            out,
            "<li>Mismatch {}: tau = {} {share}{versus}.</li>",
            fmt_num(row.mismatch),
            escape(&row.tau)
        );
    }
    out.push_str("</ul>\n");
    push_point_counts(out, results);
    let _ = write!(
        out,
        "<figure>\n{}<figcaption>Share of seeds that trained at each point (other axes pooled), one \
         panel per τ distribution (columns) and mismatch level (rows); k/n = runs that trained / runs.</figcaption>\n</figure>\n",
        super::html::inline_svg(heatmap_svg)
    );
}

/// Counts, per τ and metric, at how many points of the grid it was better, worse or not
/// distinguishable from the baseline, and names the points where it differed.
fn push_point_counts(out: &mut String, results: &StudyResults) {
    let mut groups: Vec<String> = Vec::new();
    for c in &results.comparisons {
        let group = results.comparison_group(c.condition);
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<p>Point by point against {} (paired over seeds at the same settings and mismatch level; at \
         p &lt; 0.05 about one point in twenty differs by chance alone):</p>\n<ul>",
        escape(&results.baseline_phrase())
    );
    for group in groups {
        for metric in ["final_accuracy", "instability"] {
            let mine: Vec<_> = results
                .comparisons
                .iter()
                .filter(|c| c.metric == metric)
                .filter(|c| results.comparison_group(c.condition) == group)
                .collect();
            let count = |v: Verdict| mine.iter().filter(|c| c.verdict == v).count();
            let named = |v: Verdict| -> String {
                let labels: Vec<String> = mine
                    .iter()
                    .filter(|c| c.verdict == v)
                    .filter_map(|c| results.conditions.get(c.condition))
                    .map(|x| {
                        let point =
                            x.settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                        format!("{point} at mismatch {}", fmt_num(x.mismatch))
                    })
                    .collect();
                let more = labels.len().saturating_sub(LISTED_POINTS);
                let mut s = labels.into_iter().take(LISTED_POINTS).collect::<Vec<_>>().join("; ");
                if more > 0 {
                    let _ = write!(s, "; and {more} more");
                }
                escape(&s)
            };
            let (better, worse) = (count(Verdict::Better), count(Verdict::Worse));
            let mut line = format!(
                "<li>{}, {}: better at {better}, worse at {worse}, not distinguishable at {} of {} points",
                escape(&group),
                metric.replace('_', " "),
                count(Verdict::NotDistinguishable),
                mine.len()
            );
            if better > 0 {
                let _ = write!(line, " (better: {})", named(Verdict::Better));
            }
            if worse > 0 {
                let _ = write!(line, " (worse: {})", named(Verdict::Worse));
            }
            let _ = writeln!(out, "{line}.</li>");
        }
    }
    out.push_str("</ul>\n");
}
