//! Gradient fidelity against mismatch level, one line with error bars per τ distribution.

use plotters::prelude::*;

use crate::study::report::format::fmt_num;
use crate::study::report::rows::{distinct_taus, finite_std, plotted_rows};
use crate::study::report::svg::{
    FONT, GRID, LegendEntry, Look, draw_legend, draw_line, extend, legend_layout, message_svg, padded_range,
    render_svg,
};
use crate::study::results::StudyResults;

/// One fidelity series: tau label, look and points (mismatch, mean, std).
struct FidelitySeries {
    tau: String,
    look: Look,
    points: Vec<(f64, f64, f64)>,
}

/// Fallible body of [`fidelity_vs_mismatch_svg`].
pub(super) fn try_fidelity_vs_mismatch_svg(results: &StudyResults) -> std::result::Result<String, String> {
    const TITLE: &str = "Gradient fidelity vs mismatch (mean ± 1 std over seeds)";
    let rows = plotted_rows(results);
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
