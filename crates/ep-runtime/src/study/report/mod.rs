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
//!
//! Layout: [`write_study_report`] and the public entry points are here; the plots are drawn in
//! `curves` (accuracy per epoch, accuracy vs energy), `heatmap` and `fidelity_plot` with the
//! drawing helpers of `svg`; the page is assembled in `html`; `rows` pairs conditions with their
//! summaries and `format` holds the shared number and text formatting.

mod curves;
mod fidelity_plot;
mod format;
mod heatmap;
mod html;
mod robustness_findings;
mod robustness_map;
mod rows;
mod svg;

use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::study::results::StudyResults;

use curves::{try_accuracy_curves_svg, try_accuracy_vs_energy_svg};
use fidelity_plot::try_fidelity_vs_mismatch_svg;
pub use heatmap::HeatmapMetric;
use heatmap::try_heatmap_svg;
use html::{Plots, report_html_with};
use robustness_map::try_robustness_svg;
use svg::message_svg;

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
/// File name of the robustness heatmaps (share of runs that trained over two `--vary` axes).
pub const ROBUSTNESS_FILE: &str = "robustness.svg";

/// Writes the study's plots (SVG) and report.html into `dir`. Returns the paths written.
///
/// The directory is created if needed. The files are accuracy_curves.svg,
/// heatmap_final_accuracy.svg, heatmap_instability.svg, gradient_fidelity.svg, robustness.svg and
/// report.html,
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
    let robustness = try_robustness_svg(results).map_err(|e| render_error(ROBUSTNESS_FILE, e))?;
    let plots = Plots { accuracy, heat_acc, heat_inst, fidelity, energy, robustness };
    let html = report_html_with(results, &plots);

    std::fs::create_dir_all(dir).map_err(|source| EpError::Output { path: dir.to_path_buf(), source })?;
    let files: [(&str, &str); 7] = [
        (ACCURACY_CURVES_FILE, &plots.accuracy),
        (ACCURACY_VS_ENERGY_FILE, &plots.energy),
        (HEATMAP_FINAL_ACCURACY_FILE, &plots.heat_acc),
        (HEATMAP_INSTABILITY_FILE, &plots.heat_inst),
        (GRADIENT_FIDELITY_FILE, &plots.fidelity),
        (ROBUSTNESS_FILE, &plots.robustness),
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

/// Test accuracy against cumulative training energy (mean over seeds at each epoch), one line per
/// condition: which τ distribution reaches a given accuracy for the least energy on the chip.
pub fn accuracy_vs_energy_svg(results: &StudyResults) -> String {
    try_accuracy_vs_energy_svg(results)
        .unwrap_or_else(|e| message_svg("Test accuracy vs training energy", &format!("plot failed: {e}")))
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

/// Share of runs that trained over two `--vary` axes, one panel per τ distribution and mismatch
/// level (a small SVG that says so for a study without axes).
pub fn robustness_svg(results: &StudyResults) -> String {
    try_robustness_svg(results)
        .unwrap_or_else(|e| message_svg(robustness_map::TITLE, &format!("plot failed: {e}")))
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
        robustness: robustness_svg(results),
    };
    report_html_with(results, &plots)
}
