//! One workload per child process: the parent runs this executable again with the hidden
//! `--one-workload` flag, so that each workload's peak resident memory is its own; the child
//! measures and prints a [`Measurement`] as JSON on stdout.

use std::path::Path;
use std::process::Command;

use ep_runtime::{DatasetSplit, load_dataset};

use super::measure::{Measurement, measure};
use super::workload::Workload;

/// How much to train and evaluate per measurement.
#[derive(Debug, Clone, Copy)]
pub struct Amount {
    /// Training examples per epoch.
    pub examples: usize,
    /// Test digits evaluated.
    pub eval_examples: usize,
    /// Measurements per thread count.
    pub repeat: usize,
    /// Train epochs until this many seconds were timed (0: one epoch).
    pub min_seconds: f64,
}

/// mnist10k cut to `amount`'s training examples and test digits.
pub fn bench_data(amount: &Amount) -> anyhow::Result<DatasetSplit> {
    let mut data = load_dataset("mnist10k")?;
    data.train = data.train.truncated(amount.examples);
    data.test = data.test.truncated(amount.eval_examples);
    Ok(data)
}

/// Measures `workload` in a child process of this executable and returns what it measured.
pub fn measure_in_child(
    workload: &Workload,
    threads: &[usize],
    amount: &Amount,
) -> anyhow::Result<Measurement> {
    measure_with(&std::env::current_exe()?, workload, threads, amount)
}

/// Measures `workload` in a child process of the epchip executable `exe` (this one, or another
/// build with the same `--one-workload` mode) and returns what it measured.
pub fn measure_with(
    exe: &Path,
    workload: &Workload,
    threads: &[usize],
    amount: &Amount,
) -> anyhow::Result<Measurement> {
    let threads_text = threads.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let out = Command::new(exe)
        .args(["bench", "--one-workload", "--profile", &workload.profile])
        .args([
            "--layers",
            &workload.shape.sizes().iter().map(usize::to_string).collect::<Vec<_>>().join(","),
        ])
        .args(["--batch", &workload.batch.to_string(), "--neuron", &workload.neuron.to_string()])
        .args(["--threads", &threads_text, "--repeat", &amount.repeat.to_string()])
        .args(["--examples", &amount.examples.to_string()])
        .args(["--eval-examples", &amount.eval_examples.to_string()])
        .args(["--min-seconds", &amount.min_seconds.to_string()])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success(),
        "measuring {} {} at batch {} with {} failed ({}): {}",
        workload.profile,
        workload.shape,
        workload.batch,
        exe.display(),
        out.status,
        stderr.trim()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .map_err(|e| anyhow::anyhow!("the measuring process printed no result ({e}): {}", stdout.trim()))
}

/// The child's side: measures and prints the result as one line of JSON.
pub fn run_one(workload: &Workload, threads: &[usize], amount: &Amount) -> anyhow::Result<()> {
    let data = bench_data(amount)?;
    let m = measure(workload, &data, threads, amount.repeat, amount.min_seconds)?;
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}
