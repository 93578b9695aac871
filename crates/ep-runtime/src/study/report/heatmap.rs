//! Heatmaps of a condition metric over τ distributions (rows) × mismatch levels (columns), with a
//! color scale.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::study::report::format::{MISSING, fmt_num, truncate};
use crate::study::report::rows::{Row, condition_rows, distinct_mismatches, distinct_taus, scaled};
use crate::study::report::svg::{DARK, FONT, NO_DATA, extend, message_svg, render_svg, styled, text_style};
use crate::study::results::{ConditionSummary, MeanStd, StudyResults};

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
    pub(super) fn title(self) -> &'static str {
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

/// Interpolates the anchors of a colormap at `t` in 0..1.
pub(super) fn colormap(anchors: &[(u8, u8, u8)], t: f64) -> RGBColor {
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
pub(super) fn text_color_on(bg: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = bg;
    let luminance = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    if luminance > 140.0 { BLACK } else { WHITE }
}

/// The value of a cell: the metric of its one condition, or the mean of its conditions' means over
/// the points of a `--vary` grid (then without a spread); with the runs and the diverged share.
fn cell_value(cell: &[&Row<'_>], metric: HeatmapMetric) -> Option<(MeanStd, (usize, f64))> {
    let summaries: Vec<&ConditionSummary> = cell.iter().filter_map(|row| row.summary).collect();
    match summaries.as_slice() {
        [] => None,
        [s] => Some((metric.value(s), (s.runs, s.divergence_share))),
        many => {
            let means: Vec<f64> =
                many.iter().map(|s| metric.value(s).mean).filter(|v| v.is_finite()).collect();
            let runs: usize = many.iter().map(|s| s.runs).sum();
            let diverged = many
                .iter()
                .map(|s| s.divergence_share * s.runs as f64)
                .filter(|v| v.is_finite())
                .sum::<f64>();
            let mean = MeanStd { std: f64::NAN, ..MeanStd::of(&means) };
            Some((mean, (runs, if runs > 0 { diverged / runs as f64 } else { f64::NAN })))
        }
    }
}

/// Fallible body of [`heatmap_svg`].
pub(super) fn try_heatmap_svg(
    results: &StudyResults,
    metric: HeatmapMetric,
) -> std::result::Result<String, String> {
    let rows = condition_rows(results);
    if rows.is_empty() {
        return Ok(message_svg(metric.title(), "the study has no conditions"));
    }
    let taus = distinct_taus(&rows);
    let levels = distinct_mismatches(&rows);

    // Cell values, row-major (tau, mismatch); a study with `--vary` axes has one row per point in a
    // cell, shown as the mean over the points.
    let mut cells: Vec<Vec<Vec<&Row<'_>>>> = vec![vec![Vec::new(); levels.len()]; taus.len()];
    for row in &rows {
        let r = taus.iter().position(|t| *t == row.condition.tau);
        let c = levels.iter().position(|m| m.total_cmp(&row.condition.mismatch).is_eq());
        if let (Some(r), Some(c)) = (r, c) {
            cells[r][c].push(row);
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
                let value = cell_value(cell, metric);
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
                if let Some((m, (runs, diverged))) = value {
                    if m.n > 1 && m.std.is_finite() {
                        detail.push(format!("± {:.2}", m.std));
                    }
                    detail.push(format!("n={runs}"));
                    if metric == HeatmapMetric::Instability && diverged > 0.0 {
                        detail.push(format!("{:.0}% div.", diverged * 100.0));
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
