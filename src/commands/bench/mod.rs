//! `epchip bench`: training workloads timed one per child process (for its peak memory), with the
//! share of a plain single-precision matrix product's speed each one reaches (its roofline,
//! measured in this process just before the workload).
//!
//! - `workload.rs`: what a measurement trains and the parsing of the flags;
//! - `roofline.rs`: useful operations per example and the matrix-product roofline, any depth;
//! - `measure.rs`: timing in-process (several thread counts interleaved);
//! - `child.rs`: one workload per child process, results as JSON;
//! - `baseline.rs`: this executable against another build, side by side;
//! - `memory.rs`: peak resident memory;
//! - `table.rs`: the printed table;
//! - `scaling.rs` and `plot.rs`: the scaling grid, its CSV and its log–log plot.

mod baseline;
mod child;
mod measure;
mod memory;
mod plot;
mod roofline;
mod scaling;
mod table;
mod workload;

use std::process::ExitCode;

use ep_runtime::{NetworkShape, load_dataset};

use crate::cli::BenchArgs;
use child::{Amount, measure_in_child, run_one};
use roofline::matmul_roofline;
use workload::{T1, T2, Workload, parse_counts, parse_layers, parse_neuron, parse_profiles};

/// Batches of the standard workloads (each on every profile).
const STANDARD_BATCHES: [usize; 2] = [50, 1];
/// Training examples per measurement unless `--examples` says otherwise.
const DEFAULT_EXAMPLES: usize = 2000;

/// Runs `epchip bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.repeat > 0, "invalid --repeat 0: use 1 or more");
    let neuron = parse_neuron(&args.neuron)?;
    let threads = parse_counts("threads", &args.threads, 1..=1024, "worker threads")?;
    let profiles = parse_profiles(args.profile.as_deref())?;
    let batches = args
        .batch
        .as_deref()
        .map(|b| parse_counts("batch", b, 1..=100_000, "examples per mini-batch"))
        .transpose()?;
    let shape = args.layers.as_deref().map(parse_layers).transpose()?;
    anyhow::ensure!(
        args.min_seconds.is_finite() && args.min_seconds >= 0.0,
        "invalid --min-seconds {}: a number of seconds ≥ 0",
        args.min_seconds
    );
    let data = load_dataset("mnist10k")?;
    let (available, test) = (data.train.len(), data.test.len());
    if let Some(n) = args.examples {
        anyhow::ensure!(
            (1..=available).contains(&n),
            "invalid --examples {n}: training examples per measurement in 1..={available} (mnist10k's training set)"
        );
    }
    if let Some(n) = args.eval_examples {
        anyhow::ensure!(
            (1..=test).contains(&n),
            "invalid --eval-examples {n}: test digits per measurement in 1..={test} (mnist10k's test set)"
        );
    }
    drop(data);
    let custom = shape.is_some() || batches.is_some();
    let shape = match shape {
        Some(s) => s,
        None => NetworkShape::parse("784,500,10")?,
    };
    let examples = args.examples.unwrap_or(DEFAULT_EXAMPLES);
    let eval_examples = args.eval_examples.unwrap_or(if custom { examples.min(test) } else { test });
    if args.one_workload {
        anyhow::ensure!(profiles.len() == 1, "--one-workload measures one profile, got {}", profiles.len());
        let batch = batches.as_ref().map_or(Ok(50), |b| match b.as_slice() {
            [one] => Ok(*one),
            _ => Err(anyhow::anyhow!("--one-workload measures one batch size")),
        })?;
        let workload = Workload { profile: profiles[0].clone(), shape, batch, neuron };
        let amount = Amount { examples, eval_examples, repeat: args.repeat, min_seconds: args.min_seconds };
        run_one(&workload, &threads, &amount)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.scaling {
        anyhow::ensure!(
            !custom,
            "--scaling measures its own grid of networks and batches: leave out --layers and --batch"
        );
        let [threads] = threads.as_slice() else {
            anyhow::bail!("invalid --threads `{}` with --scaling: give one thread count", args.threads);
        };
        let out = args.out.as_deref().ok_or_else(|| anyhow::anyhow!("--scaling needs --out DIR"))?;
        scaling::run(&scaling::ScalingRun {
            profiles: &profiles,
            neuron,
            threads: *threads,
            repeat: args.repeat,
            examples: args.examples,
            available,
            out,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(args.out.is_none(), "--out is only used with --scaling");
    let batches = batches.unwrap_or_else(|| if custom { vec![50] } else { STANDARD_BATCHES.to_vec() });
    let amount = Amount { examples, eval_examples, repeat: args.repeat, min_seconds: 0.0 };
    let workloads: Vec<Workload> = batches
        .iter()
        .flat_map(|&batch| profiles.iter().map(move |p| (p, batch)))
        .map(|(profile, batch)| Workload { profile: profile.clone(), shape: shape.clone(), batch, neuron })
        .collect();
    for workload in &workloads {
        workload.check_fits()?;
    }
    if let Some(baseline) = &args.baseline {
        anyhow::ensure!(
            baseline.is_file(),
            "invalid --baseline {}: not a file; give the path of another epchip executable",
            baseline.display()
        );
        let [threads] = threads.as_slice() else {
            anyhow::bail!("invalid --threads `{}` with --baseline: give one thread count", args.threads);
        };
        println!(
            "workload: {shape} on mnist10k ({examples} training examples per measurement), {neuron} neurons, \
             T1 = {T1}, T2 = {T2}, threads = {threads}; this executable against {} in alternating child \
             processes, median of {}",
            baseline.display(),
            args.repeat
        );
        baseline::print_header();
        for workload in &workloads {
            baseline::compare(baseline, workload, *threads, &amount)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "workload: {shape} on mnist10k ({examples} training examples per measurement), {neuron} neurons, T1 = {T1}, \
         T2 = {T2}, threads = {}, median of {}; each workload in its own process (peak RSS); roofline = useful \
         FLOP/s ÷ plain single-threaded f32 matrix products of the same shapes, measured in this process just \
         before the workload",
        args.threads, args.repeat
    );
    table::print_header(&threads, eval_examples);
    for workload in &workloads {
        let roofline = matmul_roofline(shape.sizes(), workload.batch);
        let m = measure_in_child(workload, &threads, &amount)?;
        table::print_row(workload, &m, roofline);
    }
    Ok(ExitCode::SUCCESS)
}
