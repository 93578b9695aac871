//! The human-readable output of a stability study: SVG plots and one self-contained report.html.
//!
//! Everything here is derived from a [`StudyResults`]; nothing is recomputed from run directories.
//! The plots are drawn with plotters' SVG backend into strings. Text is emitted as SVG `<text>`
//! elements, so no system fonts are needed to produce them. [`report_html`] inlines the plots
//! together with the tables into a single page that needs no network access and no JavaScript.
//!
//! Every function tolerates incomplete data: empty studies, conditions without runs, NaN values
//! and missing gradient-fidelity samples produce placeholders ("—" in tables, skipped points in
//! plots) instead of errors.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::backend::SVGBackend;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::study::results::{Condition, ConditionSummary, MeanStd, RunRecord, StudyResults};

/// File name of the accuracy-curve plot written by [`write_study_report`].
pub const ACCURACY_CURVES_FILE: &str = "accuracy_curves.svg";
/// File name of the final-accuracy heatmap written by [`write_study_report`].
pub const HEATMAP_FINAL_ACCURACY_FILE: &str = "heatmap_final_accuracy.svg";
/// File name of the instability heatmap written by [`write_study_report`].
pub const HEATMAP_INSTABILITY_FILE: &str = "heatmap_instability.svg";
/// File name of the gradient-fidelity plot written by [`write_study_report`].
pub const GRADIENT_FIDELITY_FILE: &str = "gradient_fidelity.svg";
/// File name of the HTML report written by [`write_study_report`].
pub const REPORT_FILE: &str = "report.html";
/// File name of the accuracy-vs-energy plot.
pub const ACCURACY_VS_ENERGY_FILE: &str = "accuracy_vs_energy.svg";

/// Placeholder for a missing or non-finite value.
const MISSING: &str = "—";

/// Font family of all plot text (generic, so that any viewer can substitute a font).
const FONT: &str = "sans-serif";

/// Fixed categorical palette (Tableau 10), cycled when there are more series than colors.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Viridis anchors (low → high) for the final-accuracy heatmap.
const VIRIDIS: [(u8, u8, u8); 5] =
    [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];

/// Yellow-orange-red anchors (low → high) for the instability heatmap.
const YL_OR_RD: [(u8, u8, u8); 5] =
    [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)];

/// Which condition mean a heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeatmapMetric {
    /// Mean final test accuracy over the seeds, in %.
    FinalAccuracy,
    /// Mean instability index over the seeds (oscillation + drawdown in points, 100 for diverged runs).
    Instability,
}

impl HeatmapMetric {
    /// Title of the heatmap.
    fn title(self) -> &'static str {
        match self {
            Self::FinalAccuracy => "Final test accuracy (%), mean over seeds",
            Self::Instability => "Instability index (points), mean over seeds",
        }
    }

    /// Short name of the value, used above the color scale.
    fn scale_label(self) -> &'static str {
        match self {
            Self::FinalAccuracy => "accuracy %",
            Self::Instability => "instability",
        }
    }

    /// The metric of a summary, in display units.
    fn value(self, summary: &ConditionSummary) -> MeanStd {
        match self {
            Self::FinalAccuracy => scaled(summary.final_accuracy, 100.0),
            Self::Instability => summary.instability,
        }
    }

    /// Formats a value in display units.
    fn format(self, value: f64) -> String {
        match self {
            Self::FinalAccuracy => format!("{value:.2}%"),
            Self::Instability => format!("{value:.2}"),
        }
    }

    /// Color anchors of the scale.
    fn colormap(self) -> &'static [(u8, u8, u8)] {
        match self {
            Self::FinalAccuracy => &VIRIDIS,
            Self::Instability => &YL_OR_RD,
        }
    }
}

/// Writes the study's plots (SVG) and report.html into `dir`. Returns the paths written.
///
/// The directory is created if needed. The files are accuracy_curves.svg,
/// heatmap_final_accuracy.svg, heatmap_instability.svg, gradient_fidelity.svg and report.html,
/// each written atomically. Every plot is rendered before the first file is written, so a
/// rendering failure leaves the directory untouched.
pub fn write_study_report(results: &StudyResults, dir: &Path) -> Result<Vec<PathBuf>> {
    let render_error = |file: &str, message: String| EpError::Output {
        path: dir.join(file),
        source: std::io::Error::other(message),
    };
    let accuracy = try_accuracy_curves_svg(results).map_err(|e| render_error(ACCURACY_CURVES_FILE, e))?;
    let heat_acc = try_heatmap_svg(results, HeatmapMetric::FinalAccuracy)
        .map_err(|e| render_error(HEATMAP_FINAL_ACCURACY_FILE, e))?;
    let heat_inst = try_heatmap_svg(results, HeatmapMetric::Instability)
        .map_err(|e| render_error(HEATMAP_INSTABILITY_FILE, e))?;
    let fidelity =
        try_fidelity_vs_mismatch_svg(results).map_err(|e| render_error(GRADIENT_FIDELITY_FILE, e))?;
    let energy = try_accuracy_vs_energy_svg(results).map_err(|e| render_error(ACCURACY_VS_ENERGY_FILE, e))?;
    let plots = Plots { accuracy, heat_acc, heat_inst, fidelity, energy };
    let html = report_html_with(results, &plots);

    std::fs::create_dir_all(dir).map_err(|source| EpError::Output { path: dir.to_path_buf(), source })?;
    let files: [(&str, &str); 6] = [
        (ACCURACY_CURVES_FILE, &plots.accuracy),
        (ACCURACY_VS_ENERGY_FILE, &plots.energy),
        (HEATMAP_FINAL_ACCURACY_FILE, &plots.heat_acc),
        (HEATMAP_INSTABILITY_FILE, &plots.heat_inst),
        (GRADIENT_FIDELITY_FILE, &plots.fidelity),
        (REPORT_FILE, &html),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, content) in files {
        let path = dir.join(name);
        write_atomic(&path, content.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// Test accuracy vs epoch, one line per condition with a shaded ±1 std band over seeds, and a
/// legend with the condition labels. Accuracy is shown in %.
///
/// Epochs whose mean is not finite are skipped (the line is broken there). A study without any
/// accuracy data gives a small SVG that says so.
pub fn accuracy_curves_svg(results: &StudyResults) -> String {
    try_accuracy_curves_svg(results)
        .unwrap_or_else(|e| message_svg("Test accuracy per epoch", &format!("plot failed: {e}")))
}

/// Grid of tau distributions (rows) × mismatch levels (columns), each cell colored by the
/// condition mean of `metric` and labelled with its value (and ± std over seeds); a color scale
/// legend is drawn on the right.
///
/// Cells without a finite value are gray and labelled "—". A study without conditions gives a
/// small SVG that says so.
pub fn heatmap_svg(results: &StudyResults, metric: HeatmapMetric) -> String {
    try_heatmap_svg(results, metric)
        .unwrap_or_else(|e| message_svg(metric.title(), &format!("plot failed: {e}")))
}

/// Gradient fidelity (mean ± std over the seeds that sampled it) vs mismatch level, one line per
/// tau distribution.
///
/// If no condition has fidelity samples, the result is a small SVG saying "gradient fidelity was
/// not sampled".
pub fn fidelity_vs_mismatch_svg(results: &StudyResults) -> String {
    try_fidelity_vs_mismatch_svg(results)
        .unwrap_or_else(|e| message_svg("Gradient fidelity vs mismatch", &format!("plot failed: {e}")))
}

/// One self-contained HTML page: title, command, how to read the metrics, the per-condition table,
/// the five plots inline, and the per-run table.
///
/// The page uses inline CSS only, references no external resources and needs no JavaScript. Every
/// string that comes from the data is HTML-escaped; missing or NaN values are shown as "—".
pub fn report_html(results: &StudyResults) -> String {
    let plots = Plots {
        accuracy: accuracy_curves_svg(results),
        heat_acc: heatmap_svg(results, HeatmapMetric::FinalAccuracy),
        heat_inst: heatmap_svg(results, HeatmapMetric::Instability),
        fidelity: fidelity_vs_mismatch_svg(results),
        energy: accuracy_vs_energy_svg(results),
    };
    report_html_with(results, &plots)
}

// ---------------------------------------------------------------------------------------------
// Data helpers
// ---------------------------------------------------------------------------------------------

/// The rendered plots of one report.
struct Plots {
    accuracy: String,
    heat_acc: String,
    heat_inst: String,
    fidelity: String,
    energy: String,
}

/// One condition with its summary (if the study has one for it) and its palette position.
struct Row<'a> {
    condition: &'a Condition,
    summary: Option<&'a ConditionSummary>,
    look: Look,
}

/// The conditions of the study in grid order, each paired with its summary.
///
/// The conditions come from `results.conditions`; if that list is empty, the conditions carried by
/// the summaries are used instead.
fn condition_rows(results: &StudyResults) -> Vec<Row<'_>> {
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

/// Line pattern of a series: the palette is cycled with a different pattern each time round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dash {
    /// Continuous line.
    Solid,
    /// Long dashes.
    Dashed,
    /// Short dots.
    Dotted,
}

impl Dash {
    /// Dash length and gap in pixels, `None` for a solid line.
    fn pattern(self) -> Option<(i32, i32)> {
        match self {
            Self::Solid => None,
            Self::Dashed => Some((9, 5)),
            Self::Dotted => Some((3, 4)),
        }
    }

    /// CSS border style showing the same pattern.
    fn css(self) -> &'static str {
        match self {
            Self::Solid => "solid",
            Self::Dashed => "dashed",
            Self::Dotted => "dotted",
        }
    }
}

/// How series `i` is drawn: a palette color and a line pattern.
#[derive(Debug, Clone, Copy)]
struct Look {
    color: RGBColor,
    dash: Dash,
}

impl Look {
    /// Look of the `i`-th series: colors of the fixed palette, then again dashed, then dotted.
    fn nth(i: usize) -> Self {
        let (r, g, b) = PALETTE[i % PALETTE.len()];
        let dash = match (i / PALETTE.len()) % 3 {
            0 => Dash::Solid,
            1 => Dash::Dashed,
            _ => Dash::Dotted,
        };
        Self { color: RGBColor(r, g, b), dash }
    }

    /// CSS color `#RRGGBB`.
    fn css_color(self) -> String {
        let RGBColor(r, g, b) = self.color;
        format!("#{r:02X}{g:02X}{b:02X}")
    }
}

/// `m` with mean and std multiplied by `factor`.
fn scaled(m: MeanStd, factor: f64) -> MeanStd {
    MeanStd {
        mean: m.mean * factor,
        std: m.std * factor,
        n: m.n,
        ci_low: m.ci_low * factor,
        ci_high: m.ci_high * factor,
    }
}

/// The standard deviation if finite, else 0 (a band of zero width).
fn finite_std(m: &MeanStd) -> f64 {
    if m.std.is_finite() { m.std.abs() } else { 0.0 }
}

/// Distinct tau strings in order of first appearance.
fn distinct_taus<'a>(rows: &[Row<'a>]) -> Vec<&'a str> {
    let mut taus: Vec<&str> = Vec::new();
    for row in rows {
        if !taus.contains(&row.condition.tau.as_str()) {
            taus.push(&row.condition.tau);
        }
    }
    taus
}

/// Distinct mismatch levels, ascending (by total order, so NaN cannot break the sort).
fn distinct_mismatches(rows: &[Row<'_>]) -> Vec<f64> {
    let mut levels: Vec<f64> = rows.iter().map(|r| r.condition.mismatch).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| a.total_cmp(b).is_eq());
    levels
}

/// A data range with padding: at least `min_span` wide, padded by 8 % on each side, clamped to
/// `clamp`. `None` data (no finite values) gives `default`.
fn padded_range(
    data: Option<(f64, f64)>,
    min_span: f64,
    clamp: (f64, f64),
    default: (f64, f64),
) -> (f64, f64) {
    let Some((mut lo, mut hi)) = data.filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo <= hi) else {
        return default;
    };
    if hi - lo < min_span {
        let center = (lo + hi) / 2.0;
        lo = center - min_span / 2.0;
        hi = center + min_span / 2.0;
    }
    let pad = (hi - lo) * 0.08;
    lo = (lo - pad).max(clamp.0);
    hi = (hi + pad).min(clamp.1);
    if lo < hi { (lo, hi) } else { default }
}

/// Extends an optional (min, max) by `v` if it is finite.
fn extend(range: &mut Option<(f64, f64)>, v: f64) {
    if !v.is_finite() {
        return;
    }
    *range = Some(match *range {
        Some((lo, hi)) => (lo.min(v), hi.max(v)),
        None => (v, v),
    });
}

/// A number for axis labels and headings: at most 4 decimals, trailing zeros removed.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let s = format!("{v:.4}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// Shortens `s` to at most `max_chars` characters, ending with "…" if it was cut.
fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let keep = max_chars.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

// ---------------------------------------------------------------------------------------------
// SVG rendering
// ---------------------------------------------------------------------------------------------

/// Result of a drawing closure.
type DrawResult = std::result::Result<(), Box<dyn Error>>;

/// The root drawing area of an SVG string backend.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Renders an SVG of `size` pixels with `draw`, on a white background.
fn render_svg(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> std::result::Result<String, String> {
    let mut buf = String::new();
    let outcome: DrawResult = {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from))
    };
    match outcome {
        Ok(()) => Ok(buf),
        Err(e) => Err(e.to_string()),
    }
}

/// A small SVG with a title and a one-line message (used when there is nothing to plot).
fn message_svg(title: &str, message: &str) -> String {
    format!(
        "<svg width=\"640\" height=\"110\" viewBox=\"0 0 640 110\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <rect x=\"0\" y=\"0\" width=\"640\" height=\"110\" fill=\"#FFFFFF\" stroke=\"#CCCCCC\"/>\n\
         <text x=\"320\" y=\"42\" text-anchor=\"middle\" font-family=\"{FONT}\" font-size=\"17\" \
         font-weight=\"bold\" fill=\"#000000\">{}</text>\n\
         <text x=\"320\" y=\"74\" text-anchor=\"middle\" font-family=\"{FONT}\" font-size=\"14\" \
         fill=\"#555555\">{}</text>\n</svg>\n",
        escape(title),
        escape(message)
    )
}

/// Text style of `size` (plotters units) and `color`, anchored at `h`/`v`.
fn text_style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    styled((FONT, size).into_font(), color, h, v)
}

/// Text style of `font` and `color`, anchored at `h`/`v`.
fn styled(font: FontDesc<'static>, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle { font, color: color.to_backend_color(), pos: Pos::new(h, v) }
}

/// Color of axis labels and secondary text.
const DARK: RGBColor = RGBColor(40, 40, 40);
/// Color of grid lines.
const GRID: RGBColor = RGBColor(225, 225, 225);
/// Color of cells without data.
const NO_DATA: RGBColor = RGBColor(220, 220, 220);

/// One legend entry: label and look.
struct LegendEntry {
    label: String,
    look: Look,
}

/// A chart with f64 coordinates on an SVG string backend.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws a polyline through `points` in the look's color and pattern, 2 px wide.
fn draw_line(chart: &mut Chart<'_, '_>, points: Vec<(f64, f64)>, look: Look) -> DrawResult {
    let style = look.color.stroke_width(2);
    match look.dash.pattern() {
        None => chart.draw_series(LineSeries::new(points, style))?,
        Some((size, gap)) => chart.draw_series(DashedLineSeries::new(points, size, gap, style))?,
    };
    Ok(())
}

/// Layout of a legend drawn below a chart: number of columns and total height in pixels.
fn legend_layout(entries: usize, width: u32) -> (usize, u32) {
    if entries == 0 {
        return (1, 0);
    }
    let columns = if entries <= 3 || width < 700 { 1 } else { 2 };
    let rows = entries.div_ceil(columns);
    (columns, u32::try_from(rows).unwrap_or(u32::MAX).saturating_mul(22).saturating_add(16).min(60_000))
}

/// Draws a legend (line sample, optional band sample, label) into `area`.
fn draw_legend(area: &Area<'_>, entries: &[LegendEntry], columns: usize, band: bool) -> DrawResult {
    let (width, _) = area.dim_in_pixel();
    let columns = columns.max(1);
    let col_w = (i32::try_from(width).unwrap_or(960) - 80) / i32::try_from(columns).unwrap_or(1);
    let max_chars = usize::try_from(((col_w - 50) / 7).max(8)).unwrap_or(8);
    let style = text_style(14.0, DARK, HPos::Left, VPos::Center);
    for (i, entry) in entries.iter().enumerate() {
        let col = i32::try_from(i % columns).unwrap_or(0);
        let row = i32::try_from(i / columns).unwrap_or(0);
        let x = 70 + col * col_w;
        let y = 14 + row * 22;
        let color = entry.look.color;
        if band {
            area.draw(&Rectangle::new([(x, y - 6), (x + 30, y + 6)], color.mix(0.2).filled()))?;
        }
        match entry.look.dash.pattern() {
            None => area.draw(&PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(2)))?,
            Some((size, gap)) => {
                let mut x0 = x;
                while x0 < x + 30 {
                    let x1 = (x0 + size).min(x + 30);
                    area.draw(&PathElement::new(vec![(x0, y), (x1, y)], color.stroke_width(2)))?;
                    x0 = x1 + gap;
                }
            }
        }
        area.draw(&Text::new(truncate(&entry.label, max_chars), (x + 38, y), style.clone()))?;
    }
    Ok(())
}

/// One accuracy curve: its condition label, look and finite points (x, mean %, std % or 0).
struct Curve {
    label: String,
    look: Look,
    points: Vec<(f64, f64, f64)>,
}

impl Curve {
    /// The curve's entry in the legend.
    fn legend_entry(&self) -> LegendEntry {
        LegendEntry { label: self.label.clone(), look: self.look }
    }
}

/// One curve per condition (grid order, condition colours) with the points `points` takes from its
/// summary; a condition without a summary gets no points.
fn condition_curves(
    results: &StudyResults,
    points: impl Fn(&ConditionSummary) -> Vec<(f64, f64, f64)>,
) -> Vec<Curve> {
    condition_rows(results)
        .iter()
        .map(|row| Curve {
            label: row.condition.label.clone(),
            look: row.look,
            points: row.summary.map(&points).unwrap_or_default(),
        })
        .collect()
}

/// Splits points into runs of consecutive epochs (a skipped epoch breaks the run).
fn contiguous(points: &[(f64, f64, f64)]) -> Vec<&[(f64, f64, f64)]> {
    let mut segments = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        let broken = i == points.len() || (points[i].0 - points[i - 1].0) > 1.5;
        if broken {
            if start < i {
                segments.push(&points[start..i]);
            }
            start = i;
        }
    }
    segments
}

/// Fallible body of [`accuracy_curves_svg`].
fn try_accuracy_curves_svg(results: &StudyResults) -> std::result::Result<String, String> {
    const TITLE: &str = "Test accuracy per epoch (mean ± 1 std over seeds)";
    let curves = condition_curves(results, |s| {
        s.accuracy_curve
            .iter()
            .enumerate()
            .filter(|(_, m)| m.mean.is_finite())
            .map(|(i, m)| ((i + 1) as f64, m.mean * 100.0, finite_std(m) * 100.0))
            .collect()
    });

    let mut y_data = None;
    let mut max_epoch = 0.0_f64;
    for (epoch, mean, std) in curves.iter().flat_map(|c| c.points.iter()) {
        extend(&mut y_data, mean - std);
        extend(&mut y_data, mean + std);
        max_epoch = max_epoch.max(*epoch);
    }
    if y_data.is_none() {
        return Ok(message_svg(TITLE, "no accuracy data"));
    }
    let (y_lo, y_hi) = padded_range(y_data, 2.0, (0.0, 100.0), (0.0, 100.0));
    let x_pad = ((max_epoch - 1.0) * 0.03).max(0.3);
    let (x_lo, x_hi) = (1.0 - x_pad, max_epoch + x_pad);
    let markers = max_epoch <= 15.0;
    // Enough labels for a step of one epoch on short runs; plotters picks round steps otherwise.
    let x_labels = if max_epoch <= 12.0 { max_epoch as usize + 2 } else { 12 };

    let width = 960;
    let chart_h = 500;
    let (columns, legend_h) = legend_layout(curves.len(), width);
    render_svg((width, chart_h + legend_h), |root| {
        let (upper, lower) = root.split_vertically(chart_h);
        let mut chart = ChartBuilder::on(&upper)
            .caption(TITLE, (FONT, 22))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        let x_fmt = |x: &f64| {
            if (x - x.round()).abs() < 1e-9 && *x >= 1.0 { format!("{}", x.round()) } else { String::new() }
        };
        let y_fmt = |y: &f64| fmt_num(*y);
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(x_labels)
            .y_desc("test accuracy (%)")
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 14))
            .draw()?;

        let clamp = |v: f64| v.clamp(y_lo, y_hi);
        for curve in &curves {
            for segment in contiguous(&curve.points) {
                if segment.len() < 2 {
                    continue;
                }
                let mut band: Vec<(f64, f64)> = segment.iter().map(|(x, m, s)| (*x, clamp(m + s))).collect();
                band.extend(segment.iter().rev().map(|(x, m, s)| (*x, clamp(m - s))));
                chart
                    .draw_series(std::iter::once(Polygon::new(band, curve.look.color.mix(0.15).filled())))?;
            }
        }
        for curve in &curves {
            for segment in contiguous(&curve.points) {
                draw_line(&mut chart, segment.iter().map(|(x, m, _)| (*x, clamp(*m))).collect(), curve.look)?;
                if markers || segment.len() == 1 {
                    let fill = curve.look.color.filled();
                    chart
                        .draw_series(segment.iter().map(|(x, m, _)| Circle::new((*x, clamp(*m)), 3, fill)))?;
                }
            }
        }
        let entries: Vec<LegendEntry> = curves.iter().map(Curve::legend_entry).collect();
        draw_legend(&lower, &entries, columns, true)
    })
}

/// Test accuracy against cumulative training energy (mean over seeds at each epoch), one line per
/// condition: which τ distribution reaches a given accuracy for the least energy on the chip.
pub fn accuracy_vs_energy_svg(results: &StudyResults) -> String {
    try_accuracy_vs_energy_svg(results)
        .unwrap_or_else(|e| message_svg("Test accuracy vs training energy", &format!("plot failed: {e}")))
}

/// Fallible body of [`accuracy_vs_energy_svg`].
fn try_accuracy_vs_energy_svg(results: &StudyResults) -> std::result::Result<String, String> {
    const TITLE: &str = "Test accuracy vs cumulative training energy (mean over seeds)";
    let curves = condition_curves(results, |s| {
        s.accuracy_curve
            .iter()
            .zip(&s.energy_curve)
            .filter(|(a, e)| a.mean.is_finite() && e.mean.is_finite() && e.mean > 0.0)
            .map(|(a, e)| (e.mean, a.mean * 100.0, 0.0))
            .collect()
    });
    let mut y_data = None;
    let mut x_data = None;
    for (x, y, _) in curves.iter().flat_map(|c| c.points.iter()) {
        extend(&mut y_data, *y);
        extend(&mut x_data, *x);
    }
    if y_data.is_none() {
        return Ok(message_svg(TITLE, "no energy data"));
    }
    let (y_lo, y_hi) = padded_range(y_data, 2.0, (0.0, 100.0), (0.0, 100.0));
    let x_span = x_data.map_or(1.0, |(_, hi)| hi.abs() * 0.2).max(1e-12);
    let (x_lo, x_hi) = padded_range(x_data, x_span, (0.0, f64::MAX), (0.0, 1.0));
    let width = 960;
    let chart_h = 500;
    let (columns, legend_h) = legend_layout(curves.len(), width);
    render_svg((width, chart_h + legend_h), |root| {
        let (upper, lower) = root.split_vertically(chart_h);
        let mut chart = ChartBuilder::on(&upper)
            .caption(TITLE, (FONT, 22))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        let fmt = |v: &f64| fmt_num(*v);
        chart
            .configure_mesh()
            .x_desc("cumulative training energy on the chip (J)")
            .y_desc("test accuracy (%)")
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 14))
            .draw()?;
        for curve in &curves {
            if curve.points.is_empty() {
                continue;
            }
            draw_line(&mut chart, curve.points.iter().map(|(x, y, _)| (*x, *y)).collect(), curve.look)?;
            let fill = curve.look.color.filled();
            chart.draw_series(curve.points.iter().map(|(x, y, _)| Circle::new((*x, *y), 3, fill)))?;
        }
        let entries: Vec<LegendEntry> = curves.iter().map(Curve::legend_entry).collect();
        draw_legend(&lower, &entries, columns, false)
    })
}

/// Interpolates the anchors of a colormap at `t` in 0..1.
fn colormap(anchors: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let Some(&last) = anchors.last() else {
        return NO_DATA;
    };
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let steps = anchors.len().saturating_sub(1);
    if steps == 0 {
        return RGBColor(last.0, last.1, last.2);
    }
    let pos = t * steps as f64;
    let i = (pos.floor() as usize).min(steps - 1);
    let f = pos - i as f64;
    let (a, b) = (anchors[i], anchors[i + 1]);
    let mix =
        |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `bg`.
fn text_color_on(bg: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = bg;
    let luminance = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    if luminance > 140.0 { BLACK } else { WHITE }
}

/// Fallible body of [`heatmap_svg`].
fn try_heatmap_svg(results: &StudyResults, metric: HeatmapMetric) -> std::result::Result<String, String> {
    let rows = condition_rows(results);
    if rows.is_empty() {
        return Ok(message_svg(metric.title(), "the study has no conditions"));
    }
    let taus = distinct_taus(&rows);
    let levels = distinct_mismatches(&rows);

    // Cell values, row-major (tau, mismatch).
    let mut cells: Vec<Vec<Option<&Row<'_>>>> = vec![vec![None; levels.len()]; taus.len()];
    for row in &rows {
        let r = taus.iter().position(|t| *t == row.condition.tau);
        let c = levels.iter().position(|m| m.total_cmp(&row.condition.mismatch).is_eq());
        if let (Some(r), Some(c)) = (r, c)
            && cells[r][c].is_none()
        {
            cells[r][c] = Some(row);
        }
    }
    let mut value_range = None;
    for row in &rows {
        if let Some(s) = row.summary {
            extend(&mut value_range, metric.value(s).mean);
        }
    }
    let (v_lo, v_hi) = match value_range {
        Some((lo, hi)) if hi - lo > 1e-9 => (lo, hi),
        Some((lo, hi)) => (lo - 1.0, hi + 1.0),
        None => (0.0, 1.0),
    };
    let color_of = |v: f64| colormap(metric.colormap(), (v - v_lo) / (v_hi - v_lo));

    let n_rows = i32::try_from(taus.len()).unwrap_or(i32::MAX / 1024).min(1000);
    let n_cols = i32::try_from(levels.len()).unwrap_or(i32::MAX / 1024).min(1000);
    let tau_chars = taus.iter().map(|t| t.chars().count()).max().unwrap_or(0).min(36);
    let label_w = (i32::try_from(tau_chars).unwrap_or(36) * 7 + 16).clamp(60, 280);
    let (cell_w, cell_h) = (128, 64);
    let grid_x = 16 + 24 + label_w;
    let grid_y = 64;
    let grid_h = n_rows * cell_h;
    let bar_h = grid_h.max(120);
    let bar_x = grid_x + n_cols * cell_w + 36;
    let width = (bar_x + 20 + 90).max(480);
    let height = grid_y + (grid_h + 64).max(bar_h + 16) + 10;
    let size = (u32::try_from(width).unwrap_or(800), u32::try_from(height).unwrap_or(600));
    let mode = results.mismatch_mode.clone();

    render_svg(size, |root| {
        root.draw(&Text::new(
            metric.title(),
            (width / 2, 28),
            text_style(22.0, BLACK, HPos::Center, VPos::Center),
        ))?;
        // Row labels and axis title.
        let row_style = text_style(15.0, DARK, HPos::Right, VPos::Center);
        for (r, tau) in taus.iter().enumerate() {
            let y = grid_y + i32::try_from(r).unwrap_or(0) * cell_h + cell_h / 2;
            root.draw(&Text::new(truncate(tau, 36), (grid_x - 8, y), row_style.clone()))?;
        }
        root.draw(&Text::new(
            "tau distribution",
            (26, grid_y + grid_h / 2),
            text_style(16.0, BLACK, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        ))?;
        // Column labels and axis title.
        let col_style = text_style(15.0, DARK, HPos::Center, VPos::Top);
        for (c, level) in levels.iter().enumerate() {
            let x = grid_x + i32::try_from(c).unwrap_or(0) * cell_w + cell_w / 2;
            root.draw(&Text::new(fmt_num(*level), (x, grid_y + grid_h + 8), col_style.clone()))?;
        }
        let x_title =
            if mode.is_empty() { "mismatch level".to_string() } else { format!("mismatch level ({mode})") };
        root.draw(&Text::new(
            x_title,
            (grid_x + n_cols * cell_w / 2, grid_y + grid_h + 36),
            text_style(16.0, BLACK, HPos::Center, VPos::Top),
        ))?;
        // Cells.
        for (r, cell_row) in cells.iter().enumerate() {
            for (c, cell) in cell_row.iter().enumerate() {
                let x0 = grid_x + i32::try_from(c).unwrap_or(0) * cell_w;
                let y0 = grid_y + i32::try_from(r).unwrap_or(0) * cell_h;
                let value = cell.and_then(|row| row.summary).map(|s| (metric.value(s), s));
                let mean = value.map(|(m, _)| m.mean).filter(|v| v.is_finite());
                let bg = mean.map_or(NO_DATA, color_of);
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell_w, y0 + cell_h)], bg.filled()))?;
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell_w, y0 + cell_h)], WHITE.stroke_width(2)))?;
                let fg = text_color_on(bg);
                let cx = x0 + cell_w / 2;
                let cy = y0 + cell_h / 2;
                let Some(mean) = mean else {
                    root.draw(&Text::new(
                        MISSING,
                        (cx, cy),
                        text_style(18.0, fg, HPos::Center, VPos::Center),
                    ))?;
                    continue;
                };
                root.draw(&Text::new(
                    metric.format(mean),
                    (cx, cy - 12),
                    styled((FONT, 18.0).into_font().style(FontStyle::Bold), fg, HPos::Center, VPos::Center),
                ))?;
                let mut detail = Vec::new();
                if let Some((m, s)) = value {
                    if m.n > 1 && m.std.is_finite() {
                        detail.push(format!("± {:.2}", m.std));
                    }
                    detail.push(format!("n={}", s.runs));
                    if metric == HeatmapMetric::Instability && s.divergence_share > 0.0 {
                        detail.push(format!("{:.0}% div.", s.divergence_share * 100.0));
                    }
                }
                root.draw(&Text::new(
                    detail.join("  "),
                    (cx, cy + 12),
                    text_style(13.0, fg, HPos::Center, VPos::Center),
                ))?;
            }
        }
        // Color scale.
        if value_range.is_some() {
            let steps = 60;
            for i in 0..steps {
                let t0 = f64::from(i) / f64::from(steps);
                let y_top = grid_y + bar_h
                    - ((f64::from(i + 1) / f64::from(steps)) * f64::from(bar_h)).round() as i32;
                let y_bot = grid_y + bar_h - (t0 * f64::from(bar_h)).round() as i32;
                let color = colormap(metric.colormap(), t0 + 0.5 / f64::from(steps));
                root.draw(&Rectangle::new([(bar_x, y_top), (bar_x + 20, y_bot)], color.filled()))?;
            }
            root.draw(&Rectangle::new(
                [(bar_x, grid_y), (bar_x + 20, grid_y + bar_h)],
                DARK.stroke_width(1),
            ))?;
            let tick_style = text_style(14.0, DARK, HPos::Left, VPos::Center);
            for k in 0..=4 {
                let t = f64::from(k) / 4.0;
                let y = grid_y + bar_h - (t * f64::from(bar_h)).round() as i32;
                root.draw(&PathElement::new(vec![(bar_x + 20, y), (bar_x + 25, y)], DARK.stroke_width(1)))?;
                root.draw(&Text::new(
                    metric.format(v_lo + t * (v_hi - v_lo)),
                    (bar_x + 28, y),
                    tick_style.clone(),
                ))?;
            }
            root.draw(&Text::new(
                metric.scale_label(),
                (bar_x + 10, grid_y - 10),
                text_style(14.0, DARK, HPos::Center, VPos::Bottom),
            ))?;
        }
        Ok(())
    })
}

/// One fidelity series: tau label, look and points (mismatch, mean, std).
struct FidelitySeries {
    tau: String,
    look: Look,
    points: Vec<(f64, f64, f64)>,
}

/// Fallible body of [`fidelity_vs_mismatch_svg`].
fn try_fidelity_vs_mismatch_svg(results: &StudyResults) -> std::result::Result<String, String> {
    const TITLE: &str = "Gradient fidelity vs mismatch (mean ± 1 std over seeds)";
    let rows = condition_rows(results);
    let taus = distinct_taus(&rows);
    let series: Vec<FidelitySeries> = taus
        .iter()
        .enumerate()
        .map(|(i, tau)| {
            let mut points: Vec<(f64, f64, f64)> = rows
                .iter()
                .filter(|r| r.condition.tau == *tau && r.condition.mismatch.is_finite())
                .filter_map(|r| {
                    let f = r.summary?.gradient_fidelity;
                    (f.n > 0 && f.mean.is_finite()).then(|| (r.condition.mismatch, f.mean, finite_std(&f)))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            FidelitySeries { tau: (*tau).to_string(), look: Look::nth(i), points }
        })
        .filter(|s| !s.points.is_empty())
        .collect();

    let mut x_data = None;
    let mut y_data = None;
    for (x, m, s) in series.iter().flat_map(|s| s.points.iter()) {
        extend(&mut x_data, *x);
        extend(&mut y_data, m - s);
        extend(&mut y_data, m + s);
    }
    let Some((x_min, x_max)) = x_data else {
        return Ok(message_svg("Gradient fidelity vs mismatch", "gradient fidelity was not sampled"));
    };
    let x_min_span = (x_max.abs().max(x_min.abs()) * 0.5).max(0.05);
    let (x_lo, x_hi) = padded_range(x_data, x_min_span, (f64::MIN, f64::MAX), (x_min - 1.0, x_max + 1.0));
    let (y_lo, y_hi) = padded_range(y_data, 0.1, (-1.0, 1.0), (-1.0, 1.0));
    let dodge = (x_hi - x_lo) * 0.006;
    let k = series.len() as f64;

    let width = 960;
    let chart_h = 500;
    let (columns, legend_h) = legend_layout(series.len(), width);
    let mode = results.mismatch_mode.clone();
    render_svg((width, chart_h + legend_h), |root| {
        let (upper, lower) = root.split_vertically(chart_h);
        let mut chart = ChartBuilder::on(&upper)
            .caption(TITLE, (FONT, 22))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        let fmt = |v: &f64| fmt_num(*v);
        let x_desc =
            if mode.is_empty() { "mismatch level".to_string() } else { format!("mismatch level ({mode})") };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("cosine(EP update, true gradient)")
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 14))
            .draw()?;
        let clamp = |v: f64| v.clamp(y_lo, y_hi);
        for (i, s) in series.iter().enumerate() {
            let shift = (i as f64 - (k - 1.0) / 2.0) * dodge;
            let pts: Vec<(f64, f64, f64)> = s.points.iter().map(|(x, m, sd)| (x + shift, *m, *sd)).collect();
            draw_line(&mut chart, pts.iter().map(|(x, m, _)| (*x, clamp(*m))).collect(), s.look)?;
            let color = s.look.color;
            for (x, m, sd) in &pts {
                if *sd > 0.0 {
                    let (top, bottom) = (clamp(m + sd), clamp(m - sd));
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(*x, bottom), (*x, top)],
                        color.stroke_width(2),
                    )))?;
                    for end in [top, bottom] {
                        chart.draw_series(std::iter::once(
                            EmptyElement::at((*x, end))
                                + PathElement::new(vec![(-5, 0), (5, 0)], color.stroke_width(2)),
                        ))?;
                    }
                }
                chart.draw_series(std::iter::once(Circle::new((*x, clamp(*m)), 4, color.filled())))?;
            }
        }
        let entries: Vec<LegendEntry> =
            series.iter().map(|s| LegendEntry { label: s.tau.clone(), look: s.look }).collect();
        draw_legend(&lower, &entries, columns, false)
    })
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// HTML-escapes text for element content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
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
fn inline_svg(svg: &str) -> String {
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

/// Appends one inline figure with a caption.
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
    let _ = writeln!(
        out,
        "<p>Each τ distribution is compared with the baseline <b>tau = {}</b> at the same mismatch level, \
         seed by seed (same chip instance and initial weights). Δ is the mean per-seed difference \
         (condition − baseline) with its bootstrap 95&nbsp;% interval; p is the two-sided sign-flip \
         permutation test. “Better” or “worse” needs p &lt; 0.05.</p>",
        escape(&results.baseline)
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

fn push_figure(out: &mut String, svg: &str, caption: &str) {
    let _ =
        write!(out, "<figure>\n{}<figcaption>{}</figcaption>\n</figure>\n", inline_svg(svg), escape(caption));
}

/// Builds the report page from already-rendered plots.
fn report_html_with(results: &StudyResults, plots: &Plots) -> String {
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

    push_findings(&mut out, results);

    out.push_str("<h2 id=\"command\">Command</h2>\n");
    let _ = writeln!(out, "<pre>{}</pre>", escape(&results.command));

    out.push_str(HOW_TO_READ);

    push_condition_table(&mut out, results);

    out.push_str("<h2 id=\"plots\">Plots</h2>\n");
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
