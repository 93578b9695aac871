//! Aggregating a study: per-condition statistics over seeds, and the CSV and JSON files.

use std::path::Path;

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::study::grid::StudySpec;
use crate::study::results::{ConditionSummary, MeanStd, RunRecord, StudyResults};
use crate::study::robustness::{robustness, robustness_csv};
use crate::study::runner::read_record;
use crate::study::statistics::{Better, Comparison, compare};
use chip_model::rounding_noise::mix;

/// Collects every finished run of the study in `out` and aggregates it. Returns the results and the
/// ids of runs of the grid that have not finished (yet).
pub fn collect_study(spec: &StudySpec, out: &Path, command: &str) -> (StudyResults, Vec<String>) {
    let conditions = spec.conditions();
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for run in spec.runs() {
        match read_record(out, &run) {
            Some(r) => runs.push(r),
            None => missing.push(run.id.clone()),
        }
    }
    let summaries = conditions
        .iter()
        .map(|c| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.condition == c.index).collect();
            summarise(c.clone(), &mine, spec.config.epochs)
        })
        .collect();
    let comparisons = compare_with_baseline(spec, &runs);
    let robustness = robustness(spec, &runs);
    let results = StudyResults {
        command: command.to_string(),
        profile: spec.profile.name.clone(),
        dataset: spec.dataset.clone(),
        layers: spec.layers.clone(),
        epochs: spec.config.epochs,
        mismatch_mode: spec.mismatch_mode.describe().to_string(),
        conditions,
        summaries,
        runs,
        baseline: match &spec.baseline_setting {
            Some((key, value)) => format!("{key}={value}"),
            None => spec.taus.get(spec.baseline).map(ToString::to_string).unwrap_or_default(),
        },
        comparisons,
        axes: spec.settings.axes.iter().map(|a| (a.setting.name().to_string(), a.values.clone())).collect(),
        heatmap_axes: spec.heatmap_axes.clone(),
        target_accuracy: spec.config.target_accuracy,
        robustness,
        baseline_tau: spec.taus.get(spec.baseline).map(ToString::to_string).unwrap_or_default(),
    };
    (results, missing)
}

/// The metrics compared between conditions, with the direction that is an improvement.
pub const COMPARED_METRICS: &[(&str, Better)] = &[
    ("final_accuracy", Better::Higher),
    ("oscillation", Better::Lower),
    ("drawdown", Better::Lower),
    ("diverged", Better::Lower),
    ("gradient_fidelity", Better::Higher),
    ("instability", Better::Lower),
    ("accuracy_after_drift", Better::Higher),
    ("finetuned_after_drift", Better::Higher),
];

/// A run's value of a compared metric (diverged as 0/1; NaN when not measured).
pub fn metric_value(r: &RunRecord, metric: &str) -> f64 {
    let s = &r.stability;
    match metric {
        "final_accuracy" => s.final_accuracy,
        "oscillation" => s.oscillation,
        "drawdown" => s.drawdown,
        "diverged" => f64::from(u8::from(s.diverged)),
        "gradient_fidelity" => s.gradient_fidelity.unwrap_or(f64::NAN),
        "instability" => s.instability,
        // At the study's last drift time; NaN when not measured.
        "accuracy_after_drift" => r.retention.last().map_or(f64::NAN, |p| p.accuracy),
        "finetuned_after_drift" => {
            r.retention.last().and_then(|p| p.finetuned.last().copied()).unwrap_or(f64::NAN)
        }
        _ => f64::NAN,
    }
}

/// Paired comparisons of every condition with its baseline condition ([`StudySpec::baseline_of`]: the
/// baseline τ at the same mismatch level and point, or the baseline value of a `--vary` setting), on
/// every compared metric that was measured.
pub fn compare_with_baseline(spec: &StudySpec, runs: &[RunRecord]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for condition in 0..spec.condition_count() {
        let Some(baseline) = spec.baseline_of(condition) else { continue };
        for &(metric, better) in COMPARED_METRICS {
            let values = |c: usize| -> Vec<(u64, f64)> {
                runs.iter()
                    .filter(|r| r.condition == c)
                    .map(|r| (r.seed, metric_value(r, metric)))
                    .filter(|(_, v)| v.is_finite())
                    .collect()
            };
            let (a, b) = (values(condition), values(baseline));
            if a.is_empty() || b.is_empty() {
                continue;
            }
            out.push(compare(condition, baseline, metric, better, &a, &b));
        }
    }
    out
}

/// comparisons.csv: one row per condition, baseline and metric.
pub fn comparisons_csv(results: &StudyResults) -> String {
    let mut s = String::from(
        "condition,tau,mismatch,baseline_condition,baseline_tau,metric,n,mean_difference,ci_low,ci_high,p_value,\
verdict,seeds_for_80pct_power,settings,baseline_settings\n",
    );
    for c in &results.comparisons {
        let cond = results.conditions.get(c.condition);
        let base = results.conditions.get(c.baseline);
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            c.condition,
            quoted(cond.map_or("", |x| x.tau.as_str())),
            cond.map_or(String::new(), |x| x.mismatch.to_string()),
            c.baseline,
            quoted(base.map_or("", |x| x.tau.as_str())),
            c.metric,
            c.n,
            num(c.mean_difference),
            num(c.ci_low),
            num(c.ci_high),
            num(c.p_value),
            c.verdict.words(),
            c.seeds_for_power.map_or(String::new(), |k| k.to_string()),
            quoted(&cond.map_or(String::new(), settings_text)),
            quoted(&base.map_or(String::new(), settings_text)),
        ));
    }
    s
}

/// A condition's `--vary` settings as `beta=0.1 lr=x2` (empty without axes).
fn settings_text(c: &crate::study::results::Condition) -> String {
    c.settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn summarise(
    condition: crate::study::results::Condition,
    runs: &[&RunRecord],
    epochs: usize,
) -> ConditionSummary {
    let index = condition.index as u64;
    let seed = |k: u64| mix(index ^ mix(k));
    let of = |f: &dyn Fn(&RunRecord) -> f64| MeanStd::of(&runs.iter().map(|r| f(r)).collect::<Vec<_>>());
    let ci = |k: u64, f: &dyn Fn(&RunRecord) -> f64| {
        MeanStd::with_ci(&runs.iter().map(|r| f(r)).collect::<Vec<_>>(), seed(k))
    };
    let fidelity: Vec<f64> = runs.iter().filter_map(|r| r.stability.gradient_fidelity).collect();
    let accuracy_curve = (0..epochs)
        .map(|e| {
            MeanStd::of(
                &runs.iter().filter_map(|r| r.history.get(e).map(|m| m.test_accuracy)).collect::<Vec<_>>(),
            )
        })
        .collect();
    ConditionSummary {
        condition,
        runs: runs.len(),
        final_accuracy: ci(1, &|r| r.stability.final_accuracy),
        best_accuracy: ci(2, &|r| r.stability.best_accuracy),
        oscillation: ci(3, &|r| r.stability.oscillation),
        drawdown: ci(4, &|r| r.stability.drawdown),
        divergence_share: if runs.is_empty() {
            f64::NAN
        } else {
            runs.iter().filter(|r| r.stability.diverged).count() as f64 / runs.len() as f64
        },
        residual: of(&|r| r.stability.residual),
        unsettled_share: of(&|r| r.stability.unsettled_share),
        gradient_fidelity: MeanStd::with_ci(&fidelity, seed(5)),
        instability: ci(6, &|r| r.stability.instability),
        accuracy_curve,
        energy_per_example: of(&|r| r.stability.energy_per_example_j),
        free_steps: of(&|r| r.stability.free_steps),
        epochs_to_target: MeanStd::of(
            &runs.iter().filter_map(|r| r.stability.epochs_to_target.map(|e| e as f64)).collect::<Vec<_>>(),
        ),
        target_reached_share: if runs.is_empty() {
            f64::NAN
        } else {
            runs.iter().filter(|r| r.stability.epochs_to_target.is_some()).count() as f64 / runs.len() as f64
        },
        energy_curve: (0..epochs)
            .map(|e| {
                MeanStd::of(
                    &runs
                        .iter()
                        .filter(|r| r.history.len() > e)
                        .map(|r| r.history[..=e].iter().map(|m| m.energy_j).sum::<f64>())
                        .collect::<Vec<_>>(),
                )
            })
            .collect(),
    }
}

/// A CSV cell: numbers as they are, NaN as empty, text quoted.
fn num(x: f64) -> String {
    if x.is_finite() { format!("{x:.6}") } else { String::new() }
}

/// A CSV cell in scientific notation (energies), NaN as empty.
fn sci(x: f64) -> String {
    if x.is_finite() { format!("{x:.6e}") } else { String::new() }
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// results.csv: one row per finished run.
pub fn results_csv(results: &StudyResults) -> String {
    let mut s = String::from(
        "id,condition,tau,mismatch,seed,epochs,final_accuracy,best_accuracy,oscillation,drawdown,diverged,\
divergence_reason,residual,unsettled_share,gradient_fidelity,instability,energy_per_example_j,free_steps,\
epochs_to_target,settings\n",
    );
    for r in &results.runs {
        let c = results.conditions.get(r.condition);
        let st = &r.stability;
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.id,
            r.condition,
            quoted(c.map_or("", |c| c.tau.as_str())),
            c.map_or(String::new(), |c| c.mismatch.to_string()),
            r.seed,
            r.history.len(),
            num(st.final_accuracy),
            num(st.best_accuracy),
            num(st.oscillation),
            num(st.drawdown),
            st.diverged,
            quoted(r.divergence_reason.as_deref().unwrap_or("")),
            num(st.residual),
            num(st.unsettled_share),
            st.gradient_fidelity.map_or(String::new(), num),
            num(st.instability),
            sci(st.energy_per_example_j),
            num(st.free_steps),
            st.epochs_to_target.map_or(String::new(), |e| e.to_string()),
            quoted(&c.map_or(String::new(), settings_text)),
        ));
    }
    s
}

/// summary.csv: one row per condition, mean and standard deviation over seeds.
pub fn summary_csv(results: &StudyResults) -> String {
    let mut s = String::from(
        "condition,tau,mismatch,runs,final_mean,final_std,final_ci_low,final_ci_high,best_mean,best_std,\
oscillation_mean,oscillation_std,oscillation_ci_low,oscillation_ci_high,drawdown_mean,drawdown_std,drawdown_ci_low,\
drawdown_ci_high,divergence_share,residual_mean,unsettled_mean,fidelity_mean,fidelity_std,fidelity_ci_low,\
fidelity_ci_high,instability_mean,instability_std,instability_ci_low,instability_ci_high,energy_per_example_mean,energy_per_example_std,free_steps_mean,\
epochs_to_target_mean,target_reached_share,settings\n",
    );
    for c in &results.summaries {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            c.condition.index,
            quoted(&c.condition.tau),
            c.condition.mismatch,
            c.runs,
            num(c.final_accuracy.mean),
            num(c.final_accuracy.std),
            num(c.final_accuracy.ci_low),
            num(c.final_accuracy.ci_high),
            num(c.best_accuracy.mean),
            num(c.best_accuracy.std),
            num(c.oscillation.mean),
            num(c.oscillation.std),
            num(c.oscillation.ci_low),
            num(c.oscillation.ci_high),
            num(c.drawdown.mean),
            num(c.drawdown.std),
            num(c.drawdown.ci_low),
            num(c.drawdown.ci_high),
            num(c.divergence_share),
            num(c.residual.mean),
            num(c.unsettled_share.mean),
            num(c.gradient_fidelity.mean),
            num(c.gradient_fidelity.std),
            num(c.gradient_fidelity.ci_low),
            num(c.gradient_fidelity.ci_high),
            num(c.instability.mean),
            num(c.instability.std),
            num(c.instability.ci_low),
            num(c.instability.ci_high),
            sci(c.energy_per_example.mean),
            sci(c.energy_per_example.std),
            num(c.free_steps.mean),
            num(c.epochs_to_target.mean),
            num(c.target_reached_share),
            quoted(&settings_text(&c.condition)),
        ));
    }
    s
}

/// retention.csv: per condition and drift time, the accuracy on the chip after that much drift and
/// after fine-tuning from there (mean and bootstrap 95 % interval over seeds).
pub fn retention_csv(results: &StudyResults) -> String {
    let mut s = String::from(
        "condition,tau,mismatch,settings,time,seconds,runs,accuracy_mean,accuracy_ci_low,accuracy_ci_high,\
finetuned_mean,finetuned_ci_low,finetuned_ci_high\n",
    );
    for c in &results.conditions {
        let runs: Vec<&RunRecord> = results.runs.iter().filter(|r| r.condition == c.index).collect();
        let Some(first) = runs.iter().find(|r| !r.retention.is_empty()) else { continue };
        for (k, point) in first.retention.iter().enumerate() {
            let at = |f: &dyn Fn(&crate::deployment::report::DeployPoint) -> Option<f64>| -> Vec<f64> {
                runs.iter().filter_map(|r| r.retention.get(k).and_then(f)).collect()
            };
            let acc = MeanStd::with_ci(&at(&|p| Some(p.accuracy)), mix(c.index as u64 ^ mix(k as u64)));
            let tuned = MeanStd::with_ci(
                &at(&|p| p.finetuned.last().copied()),
                mix(c.index as u64 ^ mix(k as u64 + 99)),
            );
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                c.index,
                quoted(&c.tau),
                c.mismatch,
                quoted(&settings_text(c)),
                quoted(&point.time),
                point.seconds,
                acc.n,
                num(acc.mean),
                num(acc.ci_low),
                num(acc.ci_high),
                num(tuned.mean),
                num(tuned.ci_low),
                num(tuned.ci_high),
            ));
        }
    }
    s
}

/// Writes results.csv, summary.csv, comparisons.csv, robustness.csv, retention.csv, study.json and the report (plots and report.html) into `out`.
pub fn write_study_outputs(results: &StudyResults, out: &Path) -> Result<()> {
    write_atomic(&out.join("results.csv"), results_csv(results).as_bytes())?;
    write_atomic(&out.join("summary.csv"), summary_csv(results).as_bytes())?;
    write_atomic(&out.join("comparisons.csv"), comparisons_csv(results).as_bytes())?;
    write_atomic(&out.join("robustness.csv"), robustness_csv(&results.robustness).as_bytes())?;
    write_atomic(&out.join("retention.csv"), retention_csv(results).as_bytes())?;
    let path = out.join("study.json");
    let json = serde_json::to_vec_pretty(results)
        .map_err(|e| EpError::Output { path: path.clone(), source: std::io::Error::other(e) })?;
    write_atomic(&path, &json)?;
    crate::study::report::write_study_report(results, out)?;
    Ok(())
}
