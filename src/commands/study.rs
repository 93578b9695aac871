//! `epchip study` and `epchip study merge`.

use std::process::ExitCode;

use chip_model::HardwareProfile;
use ep_runtime::study::grid::{MismatchMode, Shard, StudySpec, parse_baseline, parse_tau_list};
use ep_runtime::study::results::StudyResults;
use ep_runtime::study::runner::{read_spec, run_study};
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
    if let Some(n) = args.training.train_limit {
        anyhow::ensure!(n > 0, "invalid --train-limit 0: use a positive number of examples");
    }
    let taus = parse_tau_list(&args.tau)?;
    let baseline = match &args.baseline {
        Some(b) => parse_baseline(b, &taus)?,
        None => 0,
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
    };
    spec.validate()?;
    Ok(spec)
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
                missing.join(", "),
                dir.display()
            );
            return Ok(ExitCode::from(EXIT_INCOMPLETE));
        }
        write_study_outputs(&results, &dir)?;
        println!("merged {} runs of {} into {}", results.runs.len(), spec.runs().len(), dir.display());
        print_comparisons(&results);
        if !missing.is_empty() {
            eprintln!("epchip: partial merge: {} runs missing: {}", missing.len(), missing.join(", "));
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
    let total = shard.select(&spec.runs()).len();
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("study [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    };
    if !a.quiet {
        eprintln!(
            "epchip: study of {} conditions × {} seeds on `{}` ({} runs in this shard, {jobs} at a time) → {}",
            spec.conditions().len(),
            spec.seeds.len(),
            spec.profile.name,
            total,
            a.out.display()
        );
    }
    std::fs::create_dir_all(&a.out)?;
    if !a.out.join(COMMAND_FILE).exists() {
        let command = command_line().replace(&format!("--shard {}", a.shard.as_deref().unwrap_or("")), "");
        ep_runtime::atomic_file::write_atomic(&a.out.join(COMMAND_FILE), command.trim().as_bytes())?;
    }
    let progress = run_study(&spec, &a.out, shard, jobs, &|done, _| bar.set_position(done as u64))?;
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
    println!(
        "wrote {}/results.csv, summary.csv, comparisons.csv, study.json and report.html",
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
    println!(
        "paired comparisons with tau = {} at the same mismatch level (per-seed differences):",
        results.baseline
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
