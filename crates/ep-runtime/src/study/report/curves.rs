//! Line plots over epochs: test accuracy per epoch with a ±1 std band, and test accuracy against
//! cumulative training energy, one curve per condition.

use plotters::prelude::*;

use crate::study::report::format::fmt_num;
use crate::study::report::rows::{finite_std, plotted_rows};
use crate::study::report::svg::{
    FONT, GRID, LegendEntry, Look, draw_legend, draw_line, extend, legend_layout, message_svg, padded_range,
    render_svg,
};
use crate::study::results::{ConditionSummary, StudyResults};

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
    plotted_rows(results)
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
pub(super) fn try_accuracy_curves_svg(results: &StudyResults) -> std::result::Result<String, String> {
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

/// Fallible body of [`accuracy_vs_energy_svg`].
pub(super) fn try_accuracy_vs_energy_svg(results: &StudyResults) -> std::result::Result<String, String> {
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
