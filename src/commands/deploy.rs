//! `epchip deploy`: a trained run programmed onto a fresh chip instance, measured after programming,
//! after drift and after on-chip fine-tuning; `deploy.json` and a table.

use std::process::ExitCode;

use chip_model::HardwareProfile;
use ep_runtime::deployment::drift_time::parse_drift_times;
use ep_runtime::deployment::report::DeployReport;
use ep_runtime::deployment::{DeployTarget, deploy, measure};
use ep_runtime::{NetworkParameters, TrainConfig, Trainer, load_dataset};

use crate::cli::DeployArgs;

/// File the deployment's measurements are written to, in `--out`.
pub const DEPLOY_FILE: &str = "deploy.json";

pub fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((1..=1024).contains(&args.threads), "invalid --threads {}: use 1..=1024", args.threads);
    anyhow::ensure!(
        args.finetune_epochs <= 1000,
        "invalid --finetune-epochs {}: use 0..=1000",
        args.finetune_epochs
    );
    let times = parse_drift_times(&args.drift)?;
    anyhow::ensure!(
        !times.is_empty(),
        "invalid --drift `{}`: give at least one time, e.g. 0,1h,1d",
        args.drift
    );
    let profile = HardwareProfile::load(&args.profile)?;
    let (params, checkpoint) = NetworkParameters::from_run(&args.run)?;
    let spec = args.dataset.clone().unwrap_or_else(|| checkpoint.data.spec.clone());
    let mut data = load_dataset(&spec)?;
    if args.dataset.is_none() {
        if let Some(n) = checkpoint.data.train_limit {
            data.train = data.train.truncated(n);
        }
        checkpoint.data.check(&data)?;
    }
    let mut target = DeployTarget::new(profile, args.seed, &params, &checkpoint.config)?;
    target.times = times;
    target.finetune_epochs = args.finetune_epochs;
    target.threads = args.threads;
    if let Some(lr) = &args.finetune_lr {
        target.finetune.lr = TrainConfig::parse_lr(lr)?;
    }
    let quiet = args.quiet;
    let mut progress = |message: &str| {
        if !quiet {
            eprintln!("epchip: {message}");
        }
    };
    // The run's own chip (same profile, same instance) is measured as it is, not reprogrammed.
    let in_place = checkpoint.profile == target.profile && args.seed == checkpoint.config.seed;
    let points = if in_place {
        let net = Trainer::resume(&checkpoint, args.threads)?.into_network();
        measure(&net, &target, &data, &mut progress)?
    } else {
        deploy(&params, &target, &data, &mut progress)?
    };
    let report = DeployReport {
        source_run: args.run.display().to_string(),
        source_profile: checkpoint.profile.name.clone(),
        source_accuracy: checkpoint.history.last().map(|m| m.test_accuracy),
        target_profile: target.profile.name.clone(),
        seed: args.seed,
        layers: params.layers.clone(),
        neuron: params.neuron.to_string(),
        drifts: target.profile.analog().is_some_and(|a| a.drift.drifts()),
        finetune_epochs: args.finetune_epochs,
        reprogrammed: !in_place,
        points,
    };
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join(DEPLOY_FILE);
    ep_runtime::atomic_file::write_atomic(&path, &serde_json::to_vec_pretty(&report)?)?;
    print!("{}", report.table());
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
