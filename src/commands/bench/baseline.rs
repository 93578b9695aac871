//! `epchip bench --baseline EXE`: this executable and another build of epchip measured side by
//! side in one run, alternating per repetition, so that a change's effect on throughput is a ratio
//! taken under the same machine conditions (absolute rates move by up to 2× between machines and
//! runs). The other build must have this bench's hidden `--one-workload` mode.

use std::path::Path;

use super::child::{Amount, measure_with};
use super::measure::median;
use super::memory::format_mib;
use super::settings::Settings;
use super::workload::{T1, T2, Workload};

/// Measures every workload with this executable and with `baseline` and prints the comparison.
pub fn run(
    baseline: &Path,
    s: &Settings,
    workloads: &[Workload],
    threads: usize,
    amount: &Amount,
) -> anyhow::Result<()> {
    println!(
        "workload: {} on mnist10k ({} training examples per measurement), {} neurons, T1 = {T1}, T2 = {T2}, \
         threads = {threads}; this executable against {} in alternating child processes, median of {}",
        s.shape,
        amount.examples,
        s.neuron,
        baseline.display(),
        amount.repeat
    );
    print_header();
    for workload in workloads {
        compare(baseline, workload, threads, amount)?;
    }
    Ok(())
}

/// Prints the header of the comparison table.
fn print_header() {
    println!(
        "{:<14} {:<20} {:>6} {:>14} {:>14} {:>14} {:>11} {:>12}",
        "profile", "layers", "batch", "examples/s", "baseline", "this/baseline", "peak MiB", "baseline MiB"
    );
}

/// Measures `workload` `amount.repeat` times with each executable, alternating which goes first,
/// and prints medians, the median of the per-repetition ratios and both peaks.
fn compare(baseline: &Path, workload: &Workload, threads: usize, amount: &Amount) -> anyhow::Result<()> {
    let this = std::env::current_exe()?;
    let once = Amount { repeat: 1, ..*amount };
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut peak, mut base_peak) = (None, None);
    for r in 0..amount.repeat {
        let order: [(usize, &Path); 2] =
            if r % 2 == 0 { [(0, &this), (1, baseline)] } else { [(1, baseline), (0, &this)] };
        let mut rates = [0.0; 2];
        for (k, exe) in order {
            let m = measure_with(exe, workload, &[threads], &once)?;
            rates[k] = m.rate(0);
            let slot = if k == 0 { &mut peak } else { &mut base_peak };
            *slot = (*slot).max(m.peak_kib);
        }
        ours.push(rates[0]);
        theirs.push(rates[1]);
        ratios.push(rates[0] / rates[1]);
    }
    println!(
        "{:<14} {:<20} {:>6} {:>14.0} {:>14.0} {:>13.3}× {:>11} {:>12}",
        workload.profile_label(),
        workload.shape.to_string(),
        workload.batch,
        median(&ours),
        median(&theirs),
        median(&ratios),
        format_mib(peak),
        format_mib(base_peak)
    );
    Ok(())
}
