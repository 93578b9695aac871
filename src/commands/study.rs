//! `epchip study` and `epchip study merge`.

use std::process::ExitCode;

use chip_model::HardwareProfile;
use ep_runtime::study::axes::{SettingsGrid, VaryAxis};
use ep_runtime::study::grid::{MismatchMode, Shard, StudySpec, parse_any_baseline, parse_tau_list};
use ep_runtime::study::results::StudyResults;
use ep_runtime::study::runner::{read_record, read_spec, run_study};
use ep_runtime::study::statistics::Verdict;
use ep_runtime::study::summary::{collect_study, write_study_outputs};
use ep_runtime::{NetworkShape, TauSpec};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{StudyAction, StudyArgs, StudyRunArgs};

/// File in the study directory that keeps the command that started the study.
pub const COMMAND_FILE: &str = "command.txt";

/// Exit code of `study merge` when runs of the grid are missing (nothing is written without
/// `--partial`), and of `study` when its own runs did not all finish.
pub const EXIT_INCOMPLETE: u8 = 4;

fn parse_levels(text: &str) -> anyhow::Result<Vec<f64>> {
    text.split(',')
        .map(|p| {
            p.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0).ok_or_else(|| {
                anyhow::anyhow!("invalid --mismatch value `{}`: use numbers ≥ 0, comma-separated", p.trim())
            })
        })
        .collect()
}

fn spec_from(args: &StudyRunArgs) -> anyhow::Result<StudySpec> {
    let profile = HardwareProfile::load(&args.target.profile)?;
    let shape = NetworkShape::parse(&args.target.layers)?;
    anyhow::ensure!((1..=10_000).contains(&args.seeds), "invalid --seeds {}: use 1..=10000", args.seeds);
    let mismatch_mode = match &args.mismatch_mode {
        Some(m) => MismatchMode::parse(m)?,
        None => MismatchMode::default_for(&profile),
    };
    let mut config = args.training.config(&profile, &shape, TauSpec::default(), args.epochs, 1, 1)?;
    config.placement = args.target.placement.parse()?;
    config.validate(&shape)?;
    anyhow::ensure!(
        args.finetune_epochs == 0 || args.drift_times.is_some(),
        "--finetune-epochs needs --drift-times (the times to fine-tune from)"
    );
    anyhow::ensure!(
        args.finetune_epochs <= 1000,
        "invalid --finetune-epochs {}: use 0..=1000",
        args.finetune_epochs
    );
    if let Some(n) = args.training.train_limit {
        anyhow::ensure!(n > 0, "invalid --train-limit 0: use a positive number of examples");
    }
    let taus = parse_tau_list(&args.tau)?;
    let (baseline, baseline_setting) = match args.baseline.as_deref() {
        Some(b) => parse_any_baseline(b, &taus)?,
        None => (0, None),
    };
    let spec = StudySpec {
        profile,
        dataset: args.dataset.clone(),
        train_limit: args.training.train_limit,
        layers: shape.sizes().to_vec(),
        taus: taus.clone(),
        mismatch: parse_levels(&args.mismatch)?,
        mismatch_mode,
        seeds: (1..=args.seeds).collect(),
        config,
        fidelity_every: args.fidelity_every,
        burn_in: args.burn_in,
        baseline,
        settings: SettingsGrid::new(
            args.vary.iter().map(|v| VaryAxis::parse(v)).collect::<Result<_, _>>()?,
            args.training.fixed_settings()?,
        )?,
        baseline_setting,
        drift_times: match &args.drift_times {
            Some(text) => ep_runtime::deployment::drift_time::parse_drift_times(text)?,
            None => Vec::new(),
        },
        finetune_epochs: args.finetune_epochs,
        heatmap_axes: match &args.heatmap_axes {
            Some(text) => text.split(',').map(|a| a.trim().replace('_', "-")).collect(),
            None => Vec::new(),
        },
    };
    spec.validate()?;
    Ok(spec)
}

/// The first few ids of a list, and how many more there are.
fn list_some(ids: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut text = ids.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

/// A duration for people: `45 s`, `12 min`, `1 h 05 min`.
fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The command line as typed, quoted where needed, for the report.
fn command_line() -> String {
    std::env::args()
        .map(|a| if a.contains(char::is_whitespace) || a.is_empty() { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: StudyArgs) -> anyhow::Result<ExitCode> {
    if let Some(StudyAction::Merge { dir, partial }) = args.action {
        let spec = read_spec(&dir)?;
        // The report shows the command that defined the study (kept by the first run), not `merge`.
        let command = std::fs::read_to_string(dir.join(COMMAND_FILE)).unwrap_or_else(|_| command_line());
        let (results, missing) = collect_study(&spec, &dir, command.trim());
        if !missing.is_empty() && !partial {
            eprintln!(
                "epchip: {} of {} runs have not finished: {}\nresubmit their shards (finished runs are \
                 skipped), or merge what exists with `epchip study merge --partial {}`",
                missing.len(),
                spec.runs().len(),
                list_some(&missing),
                dir.display()
            );
            return Ok(ExitCode::from(EXIT_INCOMPLETE));
        }
        write_study_outputs(&results, &dir)?;
        println!("merged {} runs of {} into {}", results.runs.len(), spec.runs().len(), dir.display());
        print_comparisons(&results);
        print_robustness(&results);
        if !missing.is_empty() {
            eprintln!("epchip: partial merge: {} runs missing: {}", missing.len(), list_some(&missing));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let a = &args.run;
    let spec = spec_from(a)?;
    let shard = match &a.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::ALL,
    };
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    anyhow::ensure!(jobs > 0, "invalid --jobs 0: use 1 or more");
    let planned = shard.select(&spec.runs());
    let total = planned.len();
    let finished = planned.iter().filter(|r| read_record(&a.out, r).is_some()).count();
    let to_run = total - finished;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = if a.quiet || !tty {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(to_run as u64);
        bar.set_style(
            ProgressStyle::with_template("study [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    };
    if !a.quiet {
        eprintln!(
            "epchip: study of {} conditions × {} seeds on `{}` → {}: {total} runs in this shard, {to_run} to run \
             ({finished} already finished), {jobs} at a time",
            spec.conditions().len(),
            spec.seeds.len(),
            spec.profile.name,
            a.out.display()
        );
    }
    std::fs::create_dir_all(&a.out)?;
    if !a.out.join(COMMAND_FILE).exists() {
        let command = command_line().replace(&format!("--shard {}", a.shard.as_deref().unwrap_or("")), "");
        ep_runtime::atomic_file::write_atomic(&a.out.join(COMMAND_FILE), command.trim().as_bytes())?;
    }
    let started = std::time::Instant::now();
    let report = |done: usize, _total: usize| {
        let ran = done.saturating_sub(finished);
        if ran == 0 {
            return;
        }
        let left = to_run.saturating_sub(ran);
        let eta = started.elapsed().as_secs_f64() / ran as f64 * left as f64;
        let eta = format!("{left} left, about {} to go", human_duration(eta));
        if tty {
            bar.set_position(ran as u64);
            bar.set_message(eta);
        } else if !a.quiet {
            eprintln!("epchip: {ran}/{to_run} runs done, {eta}");
        }
    };
    let progress = run_study(&spec, &a.out, shard, jobs, &report)?;
    bar.finish_and_clear();
    if shard != Shard::ALL {
        println!(
            "shard {}/{}: ran {} runs, {} were already finished; run `epchip study merge {}` when every shard is done",
            shard.index,
            shard.count,
            progress.ran,
            progress.skipped,
            a.out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (results, missing) = collect_study(&spec, &a.out, &command_line());
    write_study_outputs(&results, &a.out)?;
    println!(
        "{:<40} {:>5} {:>16} {:>12} {:>10} {:>9}",
        "condition", "runs", "final acc %", "oscillation", "drawdown", "diverged"
    );
    for c in &results.summaries {
        println!(
            "{:<40} {:>5} {:>8.2} ± {:<5.2} {:>12.2} {:>10.2} {:>8.0}%",
            c.condition.label,
            c.runs,
            100.0 * c.final_accuracy.mean,
            100.0 * c.final_accuracy.std,
            c.oscillation.mean,
            c.drawdown.mean,
            100.0 * c.divergence_share
        );
    }
    print_comparisons(&results);
    print_robustness(&results);
    println!(
        "wrote {}/results.csv, summary.csv, comparisons.csv, robustness.csv, retention.csv, study.json and report.html",
        a.out.display()
    );
    if !missing.is_empty() {
        eprintln!("epchip: {} runs have not finished", missing.len());
        return Ok(ExitCode::from(EXIT_INCOMPLETE));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints each paired comparison with the baseline, and how many seeds an undecided one would need.
fn print_comparisons(results: &StudyResults) {
    if results.comparisons.is_empty() {
        return;
    }
    if !results.axes.is_empty() {
        print_comparison_counts(results);
        return;
    }
    println!(
        "paired comparisons with {} at the same mismatch level (per-seed differences):",
        results.baseline_phrase()
    );
    for c in &results.comparisons {
        let label = results.conditions.get(c.condition).map_or("?", |x| x.label.as_str());
        let mut line = format!(
            "  {label:<36} {:<17} {:<19} Δ = {:+.4} [{:+.4}, {:+.4}], p = {:.3}, n = {}",
            c.metric,
            c.verdict.words(),
            c.mean_difference,
            c.ci_low,
            c.ci_high,
            c.p_value,
            c.n
        );
        if c.verdict == Verdict::NotDistinguishable
            && let Some(k) = c.seeds_for_power.filter(|&k| k > c.n)
        {
            line.push_str(&format!("; ~{k} seeds for 80 % power"));
        }
        println!("{line}");
    }
}

/// For a study with `--vary` axes: per τ and metric, at how many points of the grid the paired
/// comparison with the baseline came out better, worse or not distinguishable (comparisons.csv
/// has every one).
fn print_comparison_counts(results: &StudyResults) {
    println!(
        "paired comparisons with {} at each point of the grid (better / worse / not distinguishable; \
         every one in comparisons.csv):",
        results.baseline_phrase()
    );
    let mut groups: Vec<String> = Vec::new();
    for c in &results.comparisons {
        let group = results.comparison_group(c.condition);
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    for group in groups {
        let counts: Vec<String> = ep_runtime::study::summary::COMPARED_METRICS
            .iter()
            .filter_map(|(metric, _)| {
                let mine: Vec<Verdict> = results
                    .comparisons
                    .iter()
                    .filter(|c| c.metric == *metric)
                    .filter(|c| results.comparison_group(c.condition) == group)
                    .map(|c| c.verdict)
                    .collect();
                let n = |v: Verdict| mine.iter().filter(|x| **x == v).count();
                (!mine.is_empty()).then(|| {
                    format!(
                        "{metric} {}/{}/{}",
                        n(Verdict::Better),
                        n(Verdict::Worse),
                        n(Verdict::NotDistinguishable)
                    )
                })
            })
            .collect();
        println!("  {group:<24} {}", counts.join(", "));
    }
}

/// Prints the share of runs that trained per τ and mismatch level, when the study varies settings.
fn print_robustness(results: &StudyResults) {
    if results.axes.is_empty() {
        return;
    }
    println!(
        "robustness over {} points of {} (trained = not diverged and ≥ {:.1} % test accuracy):",
        results.robustness.first().map_or(0, |r| r.points),
        results.axes.iter().map(|(k, v)| format!("{k}={}", v.join(","))).collect::<Vec<_>>().join(" × "),
        100.0 * results.target_accuracy
    );
    for r in &results.robustness {
        if r.runs == 0 {
            println!("  {:<24} mismatch {:<5} no finished runs", r.tau, r.mismatch);
            continue;
        }
        let mut line = format!(
            "  {:<24} mismatch {:<5} trained {:>5.1} % [{:.1}, {:.1}] of {} runs, median instability {:.2}",
            r.tau,
            r.mismatch,
            100.0 * r.trained_share,
            100.0 * r.ci_low,
            100.0 * r.ci_high,
            r.runs,
            r.median_instability
        );
        if let Some(c) = &r.versus_baseline {
            line.push_str(&format!(
                "; vs {}: {:+.1} points [{:+.1}, {:+.1}], p = {:.3}, {}",
                results.baseline_tau,
                100.0 * c.mean_difference,
                100.0 * c.ci_low,
                100.0 * c.ci_high,
                c.p_value,
                c.verdict.words()
            ));
        }
        println!("{line}");
    }
}
