//! The self-contained report.html: header, findings, how to read it, the per-condition and per-run
//! tables and the plots inline.

use std::fmt::Write as _;

use crate::study::report::format::{MISSING, escape, fmt_num};
use crate::study::report::rows::condition_rows;
use crate::study::results::{MeanStd, RunRecord, StudyResults};

/// The rendered plots of one report.
pub(super) struct Plots {
    pub(super) accuracy: String,
    pub(super) heat_acc: String,
    pub(super) heat_inst: String,
    pub(super) fidelity: String,
    pub(super) energy: String,
    pub(super) robustness: String,
}

/// Mean ± std with `decimals` decimals after scaling by `factor`; "—" if missing or NaN.
fn fmt_mean_std(m: &MeanStd, factor: f64, decimals: usize) -> String {
    let mean = m.mean * factor;
    if m.n == 0 || !mean.is_finite() {
        return MISSING.to_string();
    }
    let std = m.std * factor;
    if m.n > 1 && std.is_finite() {
        format!("{mean:.decimals$} ± {std:.decimals$}")
    } else {
        format!("{mean:.decimals$}")
    }
}

/// Mean ± std in scientific notation; "—" if missing or NaN.
fn fmt_mean_std_sci(m: &MeanStd) -> String {
    if m.n == 0 || !m.mean.is_finite() {
        return MISSING.to_string();
    }
    if m.n > 1 && m.std.is_finite() {
        format!("{:.2e} ± {:.2e}", m.mean, m.std)
    } else {
        format!("{:.2e}", m.mean)
    }
}

/// `v` with `decimals` decimals after scaling by `factor`; "—" if NaN.
fn fmt_value(v: f64, factor: f64, decimals: usize) -> String {
    let v = v * factor;
    if v.is_finite() { format!("{v:.decimals$}") } else { MISSING.to_string() }
}

/// An SVG prepared for inlining into HTML: leading whitespace/XML declaration removed and the
/// (optional in HTML) namespace attribute dropped, so the page contains no URLs.
pub(super) fn inline_svg(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// Inline stylesheet of the report.
const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222;
       max-width: 1200px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
p.meta { color: #555; margin-top: 0; }
pre { background: #f5f5f5; border: 1px solid #ddd; padding: 0.7em; white-space: pre-wrap;
      word-break: break-all; font-size: 0.9em; }
dl { margin: 0.5em 0; }
dt { font-weight: 600; }
dd { margin: 0 0 0.5em 1.5em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; }
th { background: #f0f0f0; text-align: left; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.diverged td { background: #fdecea; }
span.sw { display: inline-block; width: 1.6em; height: 0; margin-right: 0.4em; vertical-align: 0.3em; }
figure { margin: 1.2em 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
.empty { color: #777; font-style: italic; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  pre { white-space: pre-wrap; }
}
";

/// Appends the per-condition table.
fn push_condition_table(out: &mut String, results: &StudyResults) {
    let rows = condition_rows(results);
    out.push_str("<h2 id=\"conditions\">Per-condition results</h2>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">The study has no conditions.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>Condition</th><th>Runs</th><th>Final acc. (%)</th>\
         <th>Best acc. (%)</th><th>Oscillation (pts)</th><th>Drawdown (pts)</th><th>Diverged (%)</th>\
         <th>Residual</th><th>Unsettled (%)</th><th>Gradient fidelity</th><th>Instability</th></tr></thead>\n<tbody>\n",
    );
    for row in &rows {
        let _ = write!(
            out,
            "<tr><td><span class=\"sw\" style=\"border-top: 3px {} {}\"></span>{}</td>",
            row.look.dash.css(),
            row.look.css_color(),
            escape(&row.condition.label)
        );
        let cells: Vec<String> = match row.summary {
            Some(s) => {
                let fidelity = if s.gradient_fidelity.n > 0 && s.gradient_fidelity.mean.is_finite() {
                    format!("{} (n={})", fmt_mean_std(&s.gradient_fidelity, 1.0, 3), s.gradient_fidelity.n)
                } else {
                    MISSING.to_string()
                };
                vec![
                    s.runs.to_string(),
                    fmt_mean_std(&s.final_accuracy, 100.0, 2),
                    fmt_mean_std(&s.best_accuracy, 100.0, 2),
                    fmt_mean_std(&s.oscillation, 1.0, 2),
                    fmt_mean_std(&s.drawdown, 1.0, 2),
                    fmt_value(s.divergence_share, 100.0, 2),
                    fmt_mean_std_sci(&s.residual),
                    fmt_mean_std(&s.unsettled_share, 100.0, 2),
                    fidelity,
                    fmt_mean_std(&s.instability, 1.0, 2),
                ]
            }
            None => {
                let mut cells = vec!["0".to_string()];
                cells.extend(std::iter::repeat_n(MISSING.to_string(), 9));
                cells
            }
        };
        for cell in cells {
            let _ = write!(out, "<td class=\"num\">{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The label of a run's condition, or a placeholder naming its index.
fn run_condition_label(results: &StudyResults, run: &RunRecord) -> String {
    results
        .conditions
        .iter()
        .chain(results.summaries.iter().map(|s| &s.condition))
        .find(|c| c.index == run.condition)
        .map_or_else(|| format!("condition {}", run.condition), |c| c.label.clone())
}

/// Appends the per-run table.
fn push_run_table(out: &mut String, results: &StudyResults) {
    out.push_str("<h2 id=\"runs\">Per-run results</h2>\n");
    if results.runs.is_empty() {
        out.push_str("<p class=\"empty\">The study has no finished runs.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>Run</th><th>Condition</th><th>Seed</th><th>Final acc. (%)</th>\
         <th>Best acc. (%)</th><th>Oscillation (pts)</th><th>Drawdown (pts)</th><th>Diverged</th></tr></thead>\n\
         <tbody>\n",
    );
    for run in &results.runs {
        let st = &run.stability;
        let diverged = if st.diverged {
            match run.divergence_reason.as_deref() {
                Some(reason) if !reason.is_empty() => format!("yes: {}", escape(reason)),
                _ => "yes".to_string(),
            }
        } else {
            "no".to_string()
        };
        let class = if st.diverged { " class=\"diverged\"" } else { "" };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&run.id),
            escape(&run_condition_label(results, run)),
            run.seed,
            fmt_value(st.final_accuracy, 100.0, 2),
            fmt_value(st.best_accuracy, 100.0, 2),
            fmt_value(st.oscillation, 1.0, 2),
            fmt_value(st.drawdown, 1.0, 2),
            diverged,
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The report's first section: for every mismatch level, whether each τ distribution is better,
/// worse or not distinguishable from the baseline τ on each compared metric, with the paired numbers
/// behind the statement, then the full comparison table.
fn push_findings(out: &mut String, results: &StudyResults) {
    out.push_str("<h2 id=\"findings\">Findings</h2>\n");
    if results.comparisons.is_empty() {
        out.push_str(
            "<p>No paired comparisons: the study has a single τ distribution, or no two conditions share \
             finished seeds.</p>\n",
        );
        return;
    }
    if !results.axes.is_empty() {
        out.push_str(
            "<p>The paired comparisons at every point of the grid are counted in the Robustness section \
             above and listed in comparisons.csv.</p>\n",
        );
        return;
    }
    let _ = writeln!(
        out,
        "<p>Each condition is compared with the baseline <b>{}</b> at the same mismatch level, \
         seed by seed (same chip instance and initial weights). Δ is the mean per-seed difference \
         (condition − baseline) with its bootstrap 95&nbsp;% interval; p is the two-sided sign-flip \
         permutation test. “Better” or “worse” needs p &lt; 0.05.</p>",
        escape(&results.baseline_phrase())
    );
    let mut levels: Vec<f64> = results
        .comparisons
        .iter()
        .filter_map(|c| results.conditions.get(c.condition).map(|x| x.mismatch))
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    out.push_str("<ul>\n");
    for level in levels {
        let mut conditions: Vec<usize> = results
            .comparisons
            .iter()
            .filter(|c| results.conditions.get(c.condition).is_some_and(|x| x.mismatch == level))
            .map(|c| c.condition)
            .collect();
        conditions.dedup();
        for condition in conditions {
            let tau = results.conditions.get(condition).map_or(MISSING, |x| x.tau.as_str());
            let parts: Vec<String> = results
                .comparisons
                .iter()
                .filter(|c| c.condition == condition)
                .map(|c| {
                    format!(
                        "<b>{}</b> on {} (Δ = {}, 95&nbsp;% CI [{}, {}], p = {}, n = {})",
                        c.verdict.words(),
                        escape(&c.metric.replace('_', " ")),
                        fmt_num(c.mean_difference),
                        fmt_num(c.ci_low),
                        fmt_num(c.ci_high),
                        fmt_num(c.p_value),
                        c.n
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "<li>Mismatch {}: tau = {} is {}.</li>",
                fmt_num(level),
                escape(tau),
                parts.join("; ")
            );
        }
    }
    out.push_str("</ul>\n");
    let underpowered: Vec<String> = results
        .comparisons
        .iter()
        .filter(|c| c.verdict == crate::study::statistics::Verdict::NotDistinguishable)
        .filter_map(|c| {
            let k = c.seeds_for_power.filter(|&k| k > c.n)?;
            let label = results.conditions.get(c.condition).map_or(MISSING, |x| x.label.as_str());
            Some(format!("{} ({}): about {k} seeds", escape(label), escape(&c.metric.replace('_', " "))))
        })
        .collect();
    if !underpowered.is_empty() {
        let _ = writeln!(
            out,
            "<p>Seeds a paired test would need to detect the observed difference with 80&nbsp;% power \
             (α = 0.05): {}.</p>",
            underpowered.join("; ")
        );
    }
}

/// Appends one inline figure with a caption.
fn push_figure(out: &mut String, svg: &str, caption: &str) {
    let _ =
        write!(out, "<figure>\n{}<figcaption>{}</figcaption>\n</figure>\n", inline_svg(svg), escape(caption));
}

/// Builds the report page from already-rendered plots.
pub(super) fn report_html_with(results: &StudyResults, plots: &Plots) -> String {
    let layers = if results.layers.is_empty() {
        MISSING.to_string()
    } else {
        results.layers.iter().map(usize::to_string).collect::<Vec<_>>().join("-")
    };
    let title = format!(
        "Stability study: {} on {}, layers {}, {} epochs",
        results.profile, results.dataset, layers, results.epochs
    );
    let n_conditions = condition_rows(results).len();
    let mode = if results.mismatch_mode.is_empty() { MISSING } else { &results.mismatch_mode };

    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">Profile <b>{}</b> · dataset <b>{}</b> · layers <b>{}</b> · {} epochs per run · \
         {} conditions · {} runs · mismatch mode <b>{}</b></p>",
        escape(&results.profile),
        escape(&results.dataset),
        escape(&layers),
        results.epochs,
        n_conditions,
        results.runs.len(),
        escape(mode),
    );

    super::robustness_findings::push_robustness(&mut out, results, &plots.robustness);
    push_findings(&mut out, results);

    out.push_str("<h2 id=\"command\">Command</h2>\n");
    let _ = writeln!(out, "<pre>{}</pre>", escape(&results.command));

    out.push_str(HOW_TO_READ);

    push_condition_table(&mut out, results);

    out.push_str("<h2 id=\"plots\">Plots</h2>\n");
    let middle = super::rows::middle_point(results);
    if !middle.is_empty() {
        let _ = writeln!(
            out,
            "<p>The line plots show the middle point of the grid, <b>{}</b>; the τ × mismatch heatmaps \
             the mean over every point.</p>",
            escape(&middle)
        );
    }
    push_figure(
        &mut out,
        &plots.accuracy,
        "Test accuracy per epoch for each condition: line = mean over seeds, shaded band = ±1 standard deviation.",
    );
    push_figure(
        &mut out,
        &plots.energy,
        "Test accuracy against cumulative training energy on the chip (operation counts × the profile's \
         energy per operation), mean over seeds, one point per epoch.",
    );
    push_figure(
        &mut out,
        &plots.heat_acc,
        "Mean final test accuracy per condition (rows: tau distribution, columns: mismatch level).",
    );
    push_figure(
        &mut out,
        &plots.heat_inst,
        "Mean instability index per condition (oscillation + drawdown in points; a diverged run counts 100). \
         Lower is better.",
    );
    push_figure(
        &mut out,
        &plots.fidelity,
        "Gradient fidelity (cosine between the on-chip EP update and the true gradient) vs mismatch level, \
         one line per tau distribution; error bars = ±1 standard deviation over seeds. Points of different \
         lines at the same level are shifted slightly sideways so they do not hide each other.",
    );

    push_run_table(&mut out, results);
    out.push_str("</body>\n</html>\n");
    out
}

/// The "How to read this" section of the report.
const HOW_TO_READ: &str = "<h2 id=\"how-to-read\">How to read this</h2>
<p>Each condition (a time-constant distribution and a mismatch level) was trained with several seeds.
The per-condition table shows the mean ± sample standard deviation over those seeds; “—” marks a value
that is missing or not a number. Accuracies are test accuracies in percent; “pts” are accuracy points.</p>
<dl>
<dt>Final / best accuracy</dt><dd>Test accuracy after the last epoch, and the best test accuracy over
all epochs.</dd>
<dt>Oscillation</dt><dd>Mean |Δ test accuracy| between consecutive epochs after the burn-in, in points.</dd>
<dt>Drawdown</dt><dd>Largest drop of test accuracy below its running best, in points.</dd>
<dt>Diverged</dt><dd>Share of runs that diverged (non-finite values, exploding or saturated states, or
collapse to chance).</dd>
<dt>Residual</dt><dd>Free-phase RMS residual (state change in the last free-phase step) of the last
epoch; smaller means the free phase settled better.</dd>
<dt>Unsettled</dt><dd>Share of training examples whose free phase had not settled in the last epoch.</dd>
<dt>Gradient fidelity</dt><dd>Cosine between the on-chip EP update and the true gradient computed on a
float twin of the network (1 = same direction); n is the number of runs that sampled it.</dd>
<dt>Instability index</dt><dd>Oscillation + drawdown, in points; a diverged run counts as 100.
Lower is better.</dd>
</dl>
";
