//! `epchip bench`: the standard throughput workloads, timed inside one process.

use std::process::ExitCode;
use std::time::Instant;

use chip_model::HardwareProfile;
use ep_runtime::{NetworkShape, TrainConfig, Trainer, load_dataset};

use crate::cli::BenchArgs;

/// The bench table's workloads: (profile, batch size).
const WORKLOADS: &[(&str, usize)] =
    &[("ideal", 50), ("loihi2", 50), ("analog-rram", 50), ("ideal", 1), ("loihi2", 1), ("analog-rram", 1)];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.repeat > 0, "invalid --repeat 0: use 1 or more");
    anyhow::ensure!(args.examples > 0, "invalid --examples 0: use 1 or more");
    let mut data = load_dataset("mnist10k")?;
    data.train = data.train.truncated(args.examples);
    let shape = NetworkShape::parse("784,500,10")?;
    println!(
        "workload: {shape} on mnist10k ({} training examples per measurement), T1 = 30, T2 = 10, \
         threads = {}, median of {}",
        data.train.len(),
        args.threads,
        args.repeat
    );
    println!("{:<12} {:>6} {:>18} {:>22}", "profile", "batch", "train examples/s", "eval 1996 digits (s)");
    for &(name, batch) in WORKLOADS {
        if args.profile.as_deref().is_some_and(|p| p != name) {
            continue;
        }
        let profile = HardwareProfile::load(name)?;
        let config = TrainConfig { batch, threads: args.threads, epochs: 1, ..TrainConfig::default() };
        let mut rates = Vec::new();
        let mut evals = Vec::new();
        for _ in 0..args.repeat {
            let mut trainer = Trainer::new(&profile, &shape, config.clone())?;
            let m = trainer.train_epoch(&data, &mut |_, _| {})?;
            rates.push(m.examples_per_second);
            let start = Instant::now();
            trainer.evaluate(&data.test)?;
            evals.push(start.elapsed().as_secs_f64());
        }
        println!("{:<12} {:>6} {:>18.0} {:>22.3}", name, batch, median(rates), median(evals));
    }
    Ok(ExitCode::SUCCESS)
}
