//! `epchip bench`: training workloads timed one per child process (for its peak memory), with the
//! share of a plain single-precision matrix product's speed each one reaches (its roofline,
//! measured in this process just before the workload).
//!
//! - `settings.rs`: the flags resolved and checked;
//! - `workload.rs`: what a measurement trains and the parsing of each flag;
//! - `roofline.rs`: useful operations per example and the matrix-product roofline, any depth;
//! - `measure.rs`: timing in-process (several thread counts interleaved);
//! - `child.rs`: one workload per child process, results as JSON;
//! - `memory.rs`: peak resident memory;
//! - `table.rs`: the table of workloads (and thread counts);
//! - `baseline.rs`: this executable against another build, side by side;
//! - `contention.rs`: how much the cores are shared with other work, next to thread speed-ups;
//! - `scaling.rs` and `plot.rs`: the scaling grid, its CSV and its log–log plots.

mod baseline;
mod child;
mod contention;
mod measure;
mod memory;
mod plot;
mod roofline;
mod scaling;
mod settings;
mod table;
mod workload;

use std::process::ExitCode;

use crate::cli::BenchArgs;
use settings::Settings;
use workload::Workload;

/// Runs `epchip bench` in the mode its flags ask for.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let s = Settings::from_args(&args)?;
    if args.one_workload {
        anyhow::ensure!(
            s.profiles.len() == 1,
            "--one-workload measures one profile, got {}",
            s.profiles.len()
        );
        let [batch] = s.batches.as_slice() else {
            anyhow::bail!("--one-workload measures one batch size, got {}", s.batches.len());
        };
        let workload = Workload {
            profile: s.profiles[0].clone(),
            shape: s.shape.clone(),
            batch: *batch,
            neuron: s.neuron,
        };
        child::run_one(&workload, &s.threads, &s.amount)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.scaling {
        anyhow::ensure!(
            !s.custom,
            "--scaling measures its own grid of networks and batches: leave out --layers and --batch"
        );
        let out = args.out.as_deref().ok_or_else(|| anyhow::anyhow!("--scaling needs --out DIR"))?;
        scaling::run(&scaling::ScalingRun {
            profiles: &s.profiles,
            neuron: s.neuron,
            threads: s.one_thread_count("--scaling")?,
            repeat: s.amount.repeat,
            examples: s.examples_given,
            available: s.available,
            out,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(args.out.is_none(), "--out is only used with --scaling");
    let workloads = s.workloads()?;
    let amount = child::Amount { min_seconds: 0.0, ..s.amount };
    match &args.baseline {
        Some(exe) => {
            anyhow::ensure!(
                exe.is_file(),
                "invalid --baseline {}: not a file; give the path of another epchip executable",
                exe.display()
            );
            baseline::run(exe, &s, &workloads, s.one_thread_count("--baseline")?, &amount)?;
        }
        None => table::run(&s, &workloads, &amount)?,
    }
    Ok(ExitCode::SUCCESS)
}
