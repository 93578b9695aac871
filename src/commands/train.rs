//! `epchip train`: the main job.

use std::process::ExitCode;

use anyhow::Context;
use chip_model::HardwareProfile;
use ep_runtime::{
    CHECKPOINT_FILE, DatasetSplit, NetworkShape, RunData, RunDirectory, TauSpec, Trainer, TrainingCheckpoint,
    load_dataset,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::TrainArgs;

/// Exit code of a run that diverged (it still writes its files).
pub const EXIT_DIVERGED: u8 = 3;

/// A run ready to train: fresh or resumed.
struct Run {
    profile: HardwareProfile,
    data: DatasetSplit,
    run_data: RunData,
    trainer: Trainer,
    out: RunDirectory,
}

fn load_data(spec: &str, train_limit: Option<usize>) -> anyhow::Result<DatasetSplit> {
    let mut data = load_dataset(spec)?;
    if let Some(n) = train_limit {
        anyhow::ensure!(n > 0, "invalid --train-limit 0: use a positive number of examples");
        data.train = data.train.truncated(n);
    }
    Ok(data)
}

fn fresh(args: &TrainArgs) -> anyhow::Result<Run> {
    let profile = HardwareProfile::load(&args.target.profile)?;
    let shape = NetworkShape::parse(&args.target.layers)?;
    let tau: TauSpec = args.tau.parse()?;
    let mut config = args.training.config(&profile, &shape, tau, args.epochs, args.seed, args.threads)?;
    config.placement = args.target.placement.parse()?;
    config.validate(&shape)?;
    let data = load_data(&args.dataset, args.training.train_limit)?;
    let trainer = Trainer::new(&profile, &shape, config)?;
    trainer.check_data(&data)?;
    let run_data = RunData::describe(&args.dataset, args.training.train_limit, &data);
    let out = RunDirectory::create(&args.out)?;
    Ok(Run { profile, data, run_data, trainer, out })
}

fn resumed(args: &TrainArgs, dir: &std::path::Path) -> anyhow::Result<Run> {
    let path = dir.join(CHECKPOINT_FILE);
    let checkpoint = TrainingCheckpoint::load(&path)?;
    anyhow::ensure!(args.threads > 0, "invalid --threads 0: use 1 or more");
    let data = load_data(&checkpoint.data.spec, checkpoint.data.train_limit)?;
    checkpoint.data.check(&data)?;
    let trainer = Trainer::resume(&checkpoint, args.threads)
        .with_context(|| format!("resuming from {}", path.display()))?;
    trainer.check_data(&data)?;
    Ok(Run {
        profile: checkpoint.profile.clone(),
        data,
        run_data: checkpoint.data.clone(),
        trainer,
        out: RunDirectory::create(dir)?,
    })
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let Run { profile, data, run_data, mut trainer, out } = match &args.resume {
        Some(dir) => resumed(&args, dir)?,
        None => fresh(&args)?,
    };
    let epochs = trainer.config().epochs;
    let done = trainer.history().len();
    let shape = trainer.network().shape().clone();
    if !args.quiet {
        let what =
            if args.resume.is_some() { format!("resuming after epoch {done}:") } else { "training".into() };
        eprintln!(
            "epchip: {what} {} on `{}` ({} cores), dataset {} ({} train / {} test), tau {}, seed {}",
            shape,
            profile.name,
            trainer.network().placement().cores_used(),
            run_data.spec,
            data.train.len(),
            data.test.len(),
            trainer.config().tau,
            trainer.config().seed
        );
    }
    let checkpoint_path = out.path().join(CHECKPOINT_FILE);
    for epoch in done + 1..=epochs {
        if trainer.divergence().is_some() {
            break;
        }
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(data.train.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("{epoch}/{epochs}"));
            bar
        };
        let metrics = trainer.train_epoch(&data, &mut |done, _| bar.set_position(done as u64))?;
        bar.finish_and_clear();
        if !args.quiet {
            eprintln!(
                "epoch {:>3}: train {:.2} %  test {:.2} %  {:.0} examples/s  residual {:.1e}  {:.2} uJ/example",
                metrics.epoch,
                100.0 * metrics.train_accuracy,
                100.0 * metrics.test_accuracy,
                metrics.examples_per_second,
                metrics.free_residual,
                metrics.energy_per_example_uj
            );
        }
        out.write_metrics(trainer.history())?;
        out.write_summary(&trainer.summary(&run_data.spec))?;
        let due = args.checkpoint_every > 0 && epoch % args.checkpoint_every == 0;
        if due || epoch == epochs || trainer.divergence().is_some() {
            trainer.checkpoint(&profile, &run_data).save(&checkpoint_path)?;
        }
    }
    let summary = trainer.summary(&run_data.spec);
    out.write_metrics(trainer.history())?;
    out.write_summary(&summary).with_context(|| "writing the run summary")?;
    if let Some(reason) = trainer.divergence() {
        eprintln!("epchip: training diverged: {reason}");
        return Ok(ExitCode::from(EXIT_DIVERGED));
    }
    if !args.quiet {
        eprintln!(
            "epchip: final test accuracy {:.2} % (best {:.2} % at epoch {}); wrote {}",
            100.0 * summary.test_accuracy,
            100.0 * summary.best_test_accuracy,
            summary.best_epoch,
            out.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
