//! Tests of the study report: plots and report.html built from hand-made study results.

use std::path::Path;

use ep_runtime::study::report::{
    HeatmapMetric, accuracy_curves_svg, fidelity_vs_mismatch_svg, heatmap_svg, report_html,
    write_study_report,
};
use ep_runtime::study::results::{
    Condition, ConditionSummary, MeanStd, RunRecord, StabilityMetrics, StudyResults,
};
use ep_runtime::training::metrics::EpochMetrics;

const FILES: [&str; 7] = [
    "accuracy_curves.svg",
    "accuracy_vs_energy.svg",
    "heatmap_final_accuracy.svg",
    "heatmap_instability.svg",
    "gradient_fidelity.svg",
    "robustness.svg",
    "report.html",
];

const COMMAND: &str = "epchip study --profile loihi-like --tau 'uniform:10..50' --note \"a<b & c>d\"";

fn epoch(epoch: usize, test_accuracy: f64) -> EpochMetrics {
    EpochMetrics {
        epoch,
        train_accuracy: (test_accuracy + 0.02).min(1.0),
        test_accuracy,
        train_cost: 0.5 * (1.0 - test_accuracy),
        free_residual: 1e-4,
        seconds: 1.0,
        examples_per_second: 1000.0,
        eval_seconds: 0.1,
        energy_per_example_uj: 2.5,
        synaptic_ops_per_example: 1.0e5,
        saturated_share: 0.01,
        unsettled_share: 0.02,
        free_steps_mean: 30.0,
        free_steps_max: 30,
        nudged_steps_mean: 10.0,
        energy_j: 0.02 * epoch as f64,
        chip_seconds: 0.1,
    }
}

/// Per-run stability metrics from a history (a simplified version of the study's definitions).
fn stability(history: &[EpochMetrics], diverged: bool, fidelity: &[f64]) -> StabilityMetrics {
    let acc: Vec<f64> = history.iter().map(|e| e.test_accuracy).collect();
    let final_accuracy = acc.last().copied().unwrap_or(f64::NAN);
    let best_accuracy = acc.iter().copied().fold(f64::NAN, f64::max);
    let diffs: Vec<f64> = acc.windows(2).skip(1).map(|w| (w[1] - w[0]).abs() * 100.0).collect();
    let oscillation = MeanStd::of(&diffs).mean;
    let mut best = f64::NEG_INFINITY;
    let mut drawdown: f64 = 0.0;
    for a in &acc {
        best = best.max(*a);
        drawdown = drawdown.max((best - a) * 100.0);
    }
    let gradient_fidelity = (!fidelity.is_empty()).then(|| MeanStd::of(fidelity).mean);
    StabilityMetrics {
        final_accuracy,
        best_accuracy,
        oscillation,
        drawdown,
        diverged,
        residual: 1e-4,
        unsettled_share: 0.02,
        gradient_fidelity,
        instability: if diverged { 100.0 } else { oscillation + drawdown },
        energy_per_example_j: 2.5e-6,
        free_steps: 30.0,
        epochs_to_target: acc.iter().position(|&a| a >= 0.9).map(|e| e + 1),
    }
}

fn summarize(condition: &Condition, runs: &[&RunRecord]) -> ConditionSummary {
    let of = |f: &dyn Fn(&StabilityMetrics) -> f64| {
        MeanStd::of(&runs.iter().map(|r| f(&r.stability)).collect::<Vec<_>>())
    };
    let fidelity: Vec<f64> = runs.iter().filter_map(|r| r.stability.gradient_fidelity).collect();
    let epochs = runs.iter().map(|r| r.history.len()).max().unwrap_or(0);
    let accuracy_curve = (0..epochs)
        .map(|e| {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.history.get(e).map(|h| h.test_accuracy))
                .filter(|v| v.is_finite())
                .collect();
            MeanStd::of(&values)
        })
        .collect();
    let diverged = runs.iter().filter(|r| r.stability.diverged).count();
    ConditionSummary {
        condition: condition.clone(),
        runs: runs.len(),
        final_accuracy: of(&|s| s.final_accuracy),
        best_accuracy: of(&|s| s.best_accuracy),
        oscillation: of(&|s| s.oscillation),
        drawdown: of(&|s| s.drawdown),
        divergence_share: if runs.is_empty() { f64::NAN } else { diverged as f64 / runs.len() as f64 },
        residual: of(&|s| s.residual),
        unsettled_share: of(&|s| s.unsettled_share),
        gradient_fidelity: MeanStd::of(&fidelity),
        instability: of(&|s| s.instability),
        energy_curve: accuracy_curve_energy(runs, epochs),
        accuracy_curve,
        energy_per_example: of(&|s| s.energy_per_example_j),
        free_steps: of(&|s| s.free_steps),
        epochs_to_target: MeanStd::of(
            &runs.iter().filter_map(|r| r.stability.epochs_to_target.map(|e| e as f64)).collect::<Vec<_>>(),
        ),
        target_reached_share: if runs.is_empty() {
            f64::NAN
        } else {
            runs.iter().filter(|r| r.stability.epochs_to_target.is_some()).count() as f64 / runs.len() as f64
        },
    }
}

/// Cumulative energy per epoch, mean over runs.
fn accuracy_curve_energy(runs: &[&RunRecord], epochs: usize) -> Vec<MeanStd> {
    (0..epochs)
        .map(|e| {
            MeanStd::of(
                &runs
                    .iter()
                    .filter(|r| r.history.len() > e)
                    .map(|r| r.history[..=e].iter().map(|m| m.energy_j).sum::<f64>())
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// Builds a study over `taus` × `mismatches` × `seeds` with plausible histories.
///
/// The run of condition (last tau, last mismatch) with the last seed diverges when the grid has
/// more than one condition; the condition (first tau, first mismatch) has no fidelity samples.
fn study(taus: &[&str], mismatches: &[f64], seeds: &[u64], epochs: usize) -> StudyResults {
    let mut conditions = Vec::new();
    for tau in taus {
        for m in mismatches {
            let index = conditions.len();
            conditions.push(Condition {
                index,
                tau: (*tau).to_string(),
                mismatch: *m,
                label: format!("{tau} | mismatch {m}"),
                point: 0,
                settings: Vec::new(),
            });
        }
    }
    let last = conditions.len().saturating_sub(1);
    let mut runs = Vec::new();
    for c in &conditions {
        for (k, seed) in seeds.iter().enumerate() {
            let diverge = conditions.len() > 1 && c.index == last && k + 1 == seeds.len();
            let ceiling = 0.92 - 0.6 * c.mismatch - 0.03 * c.index as f64;
            let history: Vec<EpochMetrics> = (1..=epochs)
                .map(|e| {
                    let progress = 1.0 - (-(e as f64) / 2.0).exp();
                    let wobble = 0.01 * ((e as f64) * 1.7 + *seed as f64).sin();
                    let acc = if diverge && e > epochs / 2 { 0.1 } else { 0.1 + (ceiling - 0.1) * progress };
                    epoch(e, (acc + wobble).clamp(0.0, 1.0))
                })
                .collect();
            let fidelity: Vec<f64> = if c.index == 0 {
                Vec::new()
            } else {
                vec![0.95 - 0.5 * c.mismatch - 0.01 * k as f64, 0.93 - 0.5 * c.mismatch]
            };
            runs.push(RunRecord {
                id: format!("c{}-s{seed}", c.index),
                condition: c.index,
                seed: *seed,
                stability: stability(&history, diverge, &fidelity),
                history,
                divergence_reason: diverge.then(|| "collapsed to chance: |dw| > 1e3".to_string()),
                gradient_fidelity_samples: fidelity,
                retention: Vec::new(),
            });
        }
    }
    let summaries = conditions
        .iter()
        .map(|c| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.condition == c.index).collect();
            summarize(c, &mine)
        })
        .collect();
    StudyResults {
        command: COMMAND.to_string(),
        profile: "loihi-like".to_string(),
        dataset: "synthetic".to_string(),
        layers: vec![16, 12, 4],
        epochs,
        mismatch_mode: "tau_spread".to_string(),
        conditions,
        summaries,
        runs,
        baseline: taus[0].to_string(),
        comparisons: vec![ep_runtime::study::statistics::compare(
            1,
            0,
            "final_accuracy",
            ep_runtime::study::statistics::Better::Higher,
            &[(1, 0.93), (2, 0.94), (3, 0.95)],
            &[(1, 0.90), (2, 0.91), (3, 0.90)],
        )],
        axes: Vec::new(),
        heatmap_axes: Vec::new(),
        target_accuracy: 0.9,
        robustness: Vec::new(),
        baseline_tau: taus[0].to_string(),
    }
}

fn grid_study() -> StudyResults {
    study(&["uniform:10..50", "lognormal:cv=0.5"], &[0.0, 0.1], &[1, 2, 3], 6)
}

fn read(dir: &Path, name: &str) -> String {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(s) => s,
        Err(e) => panic!("cannot read {name}: {e}"),
    }
}

fn assert_svg(svg: &str, what: &str) {
    assert!(
        svg.trim_start().starts_with("<svg"),
        "{what} does not start with <svg: {}",
        &svg[..svg.len().min(80)]
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{what} does not end with </svg>");
    assert_eq!(svg.matches("<svg").count(), 1, "{what} has nested svg");
}

fn write_all(results: &StudyResults) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    // A not-yet-existing subdirectory: write_study_report creates it.
    let out = dir.path().join("report");
    let written = write_study_report(results, &out).expect("write_study_report");
    let names: Vec<String> =
        written.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    assert_eq!(names, FILES);
    for path in &written {
        assert!(path.starts_with(&out));
        let meta = std::fs::metadata(path).expect("written file exists");
        assert!(meta.len() > 0, "{} is empty", path.display());
    }
    // No temporary files left behind.
    let entries = std::fs::read_dir(&out).expect("read_dir").count();
    assert_eq!(entries, FILES.len());
    dir
}

#[test]
fn full_grid_writes_all_files_with_expected_content() {
    let results = grid_study();
    assert!(results.runs.iter().any(|r| r.stability.diverged));
    assert!(results.summaries[0].gradient_fidelity.mean.is_nan());

    let dir = write_all(&results);
    let out = dir.path().join("report");

    for name in &FILES[..4] {
        assert_svg(&read(&out, name), name);
    }

    let curves = read(&out, "accuracy_curves.svg");
    for c in &results.conditions {
        assert!(curves.contains(&c.label), "accuracy curves lack legend label {}", c.label);
    }
    assert!(curves.contains("test accuracy (%)"));
    assert!(curves.contains("epoch"));
    assert!(curves.contains("<polygon"), "no ±std band");

    let heat_acc = read(&out, "heatmap_final_accuracy.svg");
    let heat_inst = read(&out, "heatmap_instability.svg");
    for s in &results.summaries {
        let acc = format!("{:.2}%", s.final_accuracy.mean * 100.0);
        assert!(heat_acc.contains(&acc), "final-accuracy heatmap lacks {acc}");
        let inst = format!("{:.2}", s.instability.mean);
        assert!(heat_inst.contains(&inst), "instability heatmap lacks {inst}");
        assert!(heat_acc.contains(&s.condition.tau));
    }
    assert!(heat_acc.contains("tau_spread"), "mismatch mode in the axis title");

    let fidelity = read(&out, "gradient_fidelity.svg");
    for tau in ["uniform:10..50", "lognormal:cv=0.5"] {
        assert!(fidelity.contains(tau), "fidelity plot lacks {tau}");
    }
    assert!(!fidelity.contains("not sampled"));

    let html = read(&out, "report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<pre>epchip study --profile loihi-like"));
    assert!(html.contains("a&lt;b &amp; c&gt;d"), "command not escaped");
    assert!(!html.contains("a<b"), "raw command leaked");
    for run in &results.runs {
        assert!(html.contains(&run.id), "report lacks run {}", run.id);
    }
    assert!(html.contains("collapsed to chance: |dw| &gt; 1e3"), "divergence reason missing or unescaped");
    assert!(!html.contains("http"), "report references a URL");
    assert!(!html.contains("<script"));
    assert!(!html.contains("<link"));
    assert_eq!(html.matches("<svg").count(), 5, "five inline plots");
    assert!(html.contains("—"), "NaN fidelity shown as a dash");
    assert!(html.contains("loihi-like") && html.contains("synthetic") && html.contains("16-12-4"));
    // Sections in the required order.
    let order = ["<h1>", "Command", "How to read this", "Per-condition results", "<svg", "Per-run results"];
    let positions: Vec<usize> = order.iter().map(|s| html.find(s).expect("section present")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "sections out of order: {positions:?}");
    // Percent with two decimals.
    let final0 = format!("{:.2}", results.summaries[1].final_accuracy.mean * 100.0);
    assert!(html.contains(&final0));
}

#[test]
fn report_html_matches_written_file() {
    let results = grid_study();
    let dir = write_all(&results);
    assert_eq!(read(&dir.path().join("report"), "report.html"), report_html(&results));
}

#[test]
fn nan_values_are_skipped_not_fatal() {
    let mut results = grid_study();
    for s in &mut results.summaries {
        if let Some(point) = s.accuracy_curve.get_mut(2) {
            point.mean = f64::NAN;
        }
    }
    results.summaries[2].final_accuracy =
        MeanStd { mean: f64::NAN, std: f64::NAN, n: 3, ci_low: f64::NAN, ci_high: f64::NAN };
    results.summaries[3].instability.std = f64::NAN;
    results.runs[0].stability.final_accuracy = f64::NAN;
    results.conditions[1].mismatch = f64::NAN;
    results.summaries[1].condition.mismatch = f64::NAN;

    let curves = accuracy_curves_svg(&results);
    assert_svg(&curves, "curves");
    assert!(!curves.contains("NaN"));
    let heat = heatmap_svg(&results, HeatmapMetric::FinalAccuracy);
    assert_svg(&heat, "heatmap");
    assert!(heat.contains("—"));
    assert_svg(&heatmap_svg(&results, HeatmapMetric::Instability), "heatmap");
    assert_svg(&fidelity_vs_mismatch_svg(&results), "fidelity");
    let html = report_html(&results);
    assert!(!html.contains("NaN"));
    write_all(&results);
}

#[test]
fn empty_study_writes_placeholders() {
    let results = StudyResults {
        command: String::new(),
        profile: String::new(),
        dataset: String::new(),
        layers: Vec::new(),
        epochs: 0,
        mismatch_mode: String::new(),
        conditions: Vec::new(),
        summaries: Vec::new(),
        runs: Vec::new(),
        baseline: String::new(),
        comparisons: Vec::new(),
        axes: Vec::new(),
        heatmap_axes: Vec::new(),
        target_accuracy: 0.9,
        robustness: Vec::new(),
        baseline_tau: String::new(),
    };
    let dir = write_all(&results);
    let out = dir.path().join("report");
    for name in &FILES[..4] {
        assert_svg(&read(&out, name), name);
    }
    assert!(read(&out, "gradient_fidelity.svg").contains("gradient fidelity was not sampled"));
    let html = read(&out, "report.html");
    assert!(html.contains("no conditions"));
    assert!(html.contains("no finished runs"));
    assert!(!html.contains("http"));
}

#[test]
fn single_condition_single_seed() {
    let results = study(&["constant:20"], &[0.05], &[7], 1);
    assert_eq!(results.runs.len(), 1);
    let dir = write_all(&results);
    let out = dir.path().join("report");
    for name in &FILES[..4] {
        assert_svg(&read(&out, name), name);
    }
    let s = &results.summaries[0];
    let heat = read(&out, "heatmap_final_accuracy.svg");
    assert!(heat.contains(&format!("{:.2}%", s.final_accuracy.mean * 100.0)));
    let html = read(&out, "report.html");
    assert!(html.contains("c0-s7"));
    // A single seed has no spread: no "±" in the condition row's final accuracy.
    assert!(html.contains(&format!(">{:.2}<", s.final_accuracy.mean * 100.0)));
    // The only condition has no fidelity samples.
    assert!(read(&out, "gradient_fidelity.svg").contains("gradient fidelity was not sampled"));
}

#[test]
fn summaries_without_conditions_and_runs_without_summaries() {
    // Conditions listed only through summaries, and a run whose condition is unknown.
    let mut results = grid_study();
    results.conditions.clear();
    results.runs[0].condition = 99;
    results.summaries.truncate(3);
    let html = report_html(&results);
    assert!(html.contains("condition 99"));
    let heat = heatmap_svg(&results, HeatmapMetric::FinalAccuracy);
    assert_svg(&heat, "heatmap");
    assert!(heat.contains("—"), "the missing fourth cell");
}
