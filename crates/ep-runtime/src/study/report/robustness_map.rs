//! Robustness heatmaps: for each τ distribution (columns of panels) and mismatch level (rows of
//! panels), the share of runs that trained at each point of two hyperparameter axes, so that
//! "HTS widens the stable region" or "it does not" can be seen side by side.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::study::report::format::{fmt_num, truncate};
use crate::study::report::heatmap::{colormap, text_color_on};
use crate::study::report::svg::{DARK, NO_DATA, message_svg, render_svg, text_style};
use crate::study::results::StudyResults;
use crate::study::robustness::trained;

/// Title of the plot.
pub(super) const TITLE: &str = "Share of runs that trained, per τ distribution";

/// Green anchors (low → high) of the trained-share scale.
const SHARE: [(u8, u8, u8); 5] =
    [(165, 0, 38), (244, 109, 67), (254, 224, 139), (166, 217, 106), (0, 104, 55)];

/// A `--vary` axis as the results keep it: the setting's name and its values.
type Axis = (String, Vec<String>);

/// The two axes a robustness heatmap shows: (name, values) of the x axis and of the y axis (the y
/// axis has one empty value when the study varies a single setting).
pub(super) fn heatmap_axes(results: &StudyResults) -> Option<(Axis, Axis)> {
    let find = |name: &str| results.axes.iter().find(|(k, _)| k == name).cloned();
    let chosen: Vec<Axis> = if results.heatmap_axes.len() == 2 {
        results.heatmap_axes.iter().filter_map(|n| find(n)).collect()
    } else {
        results.axes.iter().take(2).cloned().collect()
    };
    match chosen.as_slice() {
        [x] => Some((x.clone(), (String::new(), vec![String::new()]))),
        [x, y] => Some((x.clone(), y.clone())),
        _ => None,
    }
}

/// Trained runs and runs at one cell: τ, mismatch, and the values of the two axes (other axes pooled).
pub(super) fn cell_counts(
    results: &StudyResults,
    tau: &str,
    mismatch: f64,
    x: (&str, &str),
    y: (&str, &str),
) -> (usize, usize) {
    let has = |settings: &[(String, String)], (key, value): (&str, &str)| {
        key.is_empty() || settings.iter().any(|(k, v)| k == key && v == value)
    };
    let mut counts = (0, 0);
    for run in &results.runs {
        let Some(c) = results.conditions.get(run.condition) else { continue };
        if c.tau == tau
            && c.mismatch.total_cmp(&mismatch).is_eq()
            && has(&c.settings, x)
            && has(&c.settings, y)
        {
            counts.1 += 1;
            counts.0 += usize::from(trained(run));
        }
    }
    counts
}

fn distinct<T: PartialEq + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Fallible body of the robustness heatmaps; a study without `--vary` axes gives a small SVG that
/// says so.
pub(super) fn try_robustness_svg(results: &StudyResults) -> std::result::Result<String, String> {
    let Some(((x_name, xs), (y_name, ys))) = heatmap_axes(results) else {
        return Ok(message_svg(TITLE, "the study varies no training setting (--vary)"));
    };
    let taus = distinct(results.conditions.iter().map(|c| c.tau.clone()));
    let mut levels: Vec<f64> = results.conditions.iter().map(|c| c.mismatch).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| a.total_cmp(b).is_eq());
    if taus.is_empty() {
        return Ok(message_svg(TITLE, "the study has no conditions"));
    }
    let (cell_w, cell_h) = (58, 34);
    let y_label_w = 12 + 8 * ys.iter().map(|v| v.chars().count().min(12)).max().unwrap_or(0) as i32;
    let panel_w = y_label_w + cell_w * xs.len() as i32 + 24;
    let panel_h = 44 + cell_h * ys.len() as i32 + 44;
    let (left, top) = (70, 60);
    let bar_h = 160;
    // Wide enough for the title, tall enough for the colour scale, whatever the number of panels.
    let width = (left + panel_w * taus.len() as i32 + 110).max(560);
    let height = (top + panel_h * levels.len() as i32 + 20).max(top + bar_h + 30);
    let size = (u32::try_from(width).unwrap_or(800), u32::try_from(height).unwrap_or(600));
    let color_of = |share: f64| colormap(&SHARE, share);
    render_svg(size, |root| {
        root.draw(&Text::new(TITLE, (width / 2, 24), text_style(20.0, BLACK, HPos::Center, VPos::Center)))?;
        let target = format!(
            "trained = not diverged and ≥ {} % test accuracy",
            fmt_num(100.0 * results.target_accuracy)
        );
        root.draw(&Text::new(target, (width / 2, 46), text_style(13.0, DARK, HPos::Center, VPos::Center)))?;
        for (m, level) in levels.iter().enumerate() {
            let py = top + m as i32 * panel_h;
            root.draw(&Text::new(
                format!("mismatch {}", fmt_num(*level)),
                (18, py + panel_h / 2),
                text_style(14.0, BLACK, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
            ))?;
            for (t, tau) in taus.iter().enumerate() {
                let px = left + t as i32 * panel_w;
                let gx = px + y_label_w;
                let gy = py + 40;
                root.draw(&Text::new(
                    truncate(tau, 28),
                    (gx + cell_w * xs.len() as i32 / 2, py + 22),
                    text_style(15.0, BLACK, HPos::Center, VPos::Center),
                ))?;
                for (j, yv) in ys.iter().enumerate() {
                    let cy = gy + j as i32 * cell_h;
                    if !y_name.is_empty() {
                        root.draw(&Text::new(
                            truncate(yv, 12),
                            (gx - 6, cy + cell_h / 2),
                            text_style(12.0, DARK, HPos::Right, VPos::Center),
                        ))?;
                    }
                    for (i, xv) in xs.iter().enumerate() {
                        let cx = gx + i as i32 * cell_w;
                        let (k, n) = cell_counts(results, tau, *level, (&x_name, xv), (&y_name, yv));
                        let bg = if n == 0 { NO_DATA } else { color_of(k as f64 / n as f64) };
                        root.draw(&Rectangle::new([(cx, cy), (cx + cell_w, cy + cell_h)], bg.filled()))?;
                        root.draw(&Rectangle::new(
                            [(cx, cy), (cx + cell_w, cy + cell_h)],
                            WHITE.stroke_width(2),
                        ))?;
                        let label = if n == 0 { "—".to_string() } else { format!("{k}/{n}") };
                        root.draw(&Text::new(
                            label,
                            (cx + cell_w / 2, cy + cell_h / 2),
                            text_style(13.0, text_color_on(bg), HPos::Center, VPos::Center),
                        ))?;
                    }
                }
                let by = gy + ys.len() as i32 * cell_h;
                for (i, xv) in xs.iter().enumerate() {
                    root.draw(&Text::new(
                        truncate(xv, 9),
                        (gx + i as i32 * cell_w + cell_w / 2, by + 4),
                        text_style(12.0, DARK, HPos::Center, VPos::Top),
                    ))?;
                }
                let axis_title =
                    if y_name.is_empty() { x_name.clone() } else { format!("{x_name} (x) × {y_name} (y)") };
                root.draw(&Text::new(
                    axis_title,
                    (gx + cell_w * xs.len() as i32 / 2, by + 22),
                    text_style(13.0, BLACK, HPos::Center, VPos::Top),
                ))?;
            }
        }
        // Color scale: 0 to 100 % trained.
        let bar_x = width - 80;
        for s in 0..50 {
            let t0 = f64::from(s) / 50.0;
            let y_top = top + bar_h - ((f64::from(s + 1) / 50.0) * f64::from(bar_h)).round() as i32;
            let y_bot = top + bar_h - (t0 * f64::from(bar_h)).round() as i32;
            root.draw(&Rectangle::new([(bar_x, y_top), (bar_x + 18, y_bot)], color_of(t0 + 0.01).filled()))?;
        }
        for k in 0..=4 {
            let y = top + bar_h - (f64::from(k) / 4.0 * f64::from(bar_h)).round() as i32;
            root.draw(&Text::new(
                format!("{} %", k * 25),
                (bar_x + 22, y),
                text_style(12.0, DARK, HPos::Left, VPos::Center),
            ))?;
        }
        Ok(())
    })
}
