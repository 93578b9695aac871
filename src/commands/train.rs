//! `epchip train`: the main job.

use std::process::ExitCode;

use anyhow::Context;
use chip_model::HardwareProfile;
use ep_runtime::{
    BetaSign, DatasetSplit, LrSchedule, NetworkShape, RunDirectory, TauSpec, TrainConfig, Trainer,
    load_dataset,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::TrainArgs;

/// Exit code of a run that diverged (it still writes its files).
pub const EXIT_DIVERGED: u8 = 3;

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let profile = HardwareProfile::load(&args.profile)?;
    let shape = NetworkShape::parse(&args.layers)?;
    let tau: TauSpec = args.tau.parse()?;
    let config = TrainConfig {
        t1: args.t1,
        t2: args.t2,
        beta: args.beta,
        beta_sign: if args.positive_beta {
            BetaSign::Positive
        } else {
            BetaSign::Random
        },
        symmetric: args.symmetric,
        batch: args.batch,
        lr: TrainConfig::parse_lr(&args.lr)?,
        lr_schedule: LrSchedule::parse(&args.lr_schedule)?,
        base_dt: args.dt,
        tau,
        weight_headroom: args.weight_headroom,
        epochs: args.epochs,
        seed: args.seed,
        threads: args.threads,
        eval_batch: 500,
    };
    config.validate(&shape)?;
    let mut data: DatasetSplit = load_dataset(&args.dataset)?;
    if let Some(n) = args.train_limit {
        anyhow::ensure!(
            n > 0,
            "invalid --train-limit 0: use a positive number of examples"
        );
        data.train = data.train.truncated(n);
    }
    let mut trainer = Trainer::new(&profile, &shape, config)?;
    trainer.check_data(&data)?;
    let out = RunDirectory::create(&args.out)?;

    if !args.quiet {
        eprintln!(
            "epchip: training {} on `{}` ({} cores), dataset {} ({} train / {} test), tau {}, seed {}",
            shape,
            profile.name,
            trainer.network().placement().cores_used(),
            args.dataset,
            data.train.len(),
            data.test.len(),
            trainer.config().tau,
            args.seed
        );
    }
    for epoch in 1..=args.epochs {
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(data.train.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("{epoch}/{}", args.epochs));
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
        out.write_summary(&trainer.summary(&args.dataset))?;
        if let Some(reason) = trainer.divergence() {
            eprintln!("epchip: training diverged: {reason}");
            return Ok(ExitCode::from(EXIT_DIVERGED));
        }
    }
    let summary = trainer.summary(&args.dataset);
    out.write_summary(&summary)
        .with_context(|| "writing the run summary")?;
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
