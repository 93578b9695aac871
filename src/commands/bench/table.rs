//! The bench table: one row per workload with examples/s, useful GFLOP/s, share of the
//! matrix-product roofline, evaluation time and peak memory; with several thread counts, the rate
//! at each count and the speed-up over the first (median of the per-repetition ratios).

use super::child::{Amount, measure_in_child};
use super::measure::Measurement;
use super::memory::format_mib;
use super::roofline::{matmul_roofline, useful_flops_per_example};
use super::settings::Settings;
use super::workload::{T1, T2, Workload};

/// Measures `workloads` (each in a child process, its roofline just before it) and prints the table.
pub fn run(s: &Settings, workloads: &[Workload], amount: &Amount) -> anyhow::Result<()> {
    println!(
        "workload: {} on mnist10k ({} training examples per measurement), {} neurons, T1 = {T1}, T2 = {T2}, \
         threads = {}, median of {}; each workload in its own process (peak RSS); roofline = useful FLOP/s ÷ \
         plain single-threaded f32 matrix products of the same shapes, measured in this process just before \
         the workload",
        s.shape, amount.examples, s.neuron, s.threads_text, amount.repeat
    );
    print_header(&s.threads, amount.eval_examples);
    let most = s.threads.iter().copied().max().unwrap_or(1);
    for workload in workloads {
        let roofline = matmul_roofline(workload.shape.sizes(), workload.batch);
        let shared = (most > 1).then(|| super::contention::lowest_shared_speed(most));
        let m = measure_in_child(workload, &s.threads, amount)?;
        print_row(workload, &m, roofline, shared);
    }
    if most > 1 {
        println!(
            "cores t{most} = the lowest share of its speed alone that one of {most} threads keeps while all run a \
             fixed loop at once, just before the workload; below about 90 % the cores are shared with other \
             work and the speed-ups of that row are low whatever the engine does"
        );
    }
    Ok(())
}

/// Prints the table's header for thread counts `threads` and `eval_examples` test digits.
pub fn print_header(threads: &[usize], eval_examples: usize) {
    let mut line = format!("{:<14} {:<20} {:>6}", "profile", "layers", "batch");
    if threads.len() == 1 {
        line += &format!(
            " {:>18} {:>14} {:>10} {:>22}",
            "train examples/s",
            "useful GFLOP/s",
            "roofline",
            format!("eval {eval_examples} digits (s)")
        );
    } else {
        for &t in threads {
            line += &format!(" {:>15}", format!("examples/s t{t}"));
        }
        for &t in &threads[1..] {
            line += &format!(" {:>9}", format!("t{t}/t{}", threads[0]));
        }
        line += &format!(" {:>12}", format!("roofline t{}", threads[0]));
        for &t in &threads[1..] {
            line += &format!(" {:>11}", format!("eval t{t}/t{}", threads[0]));
        }
        let most = threads.iter().copied().max().unwrap_or(1);
        line += &format!(" {:>9}", format!("cores t{most}"));
    }
    line += &format!(" {:>14}", "peak RSS (MiB)");
    println!("{line}");
}

/// Prints one workload's row; `roofline` is the matrix products' FLOP/s for its shapes, `shared`
/// the cores' check just before it (with several thread counts).
pub fn print_row(workload: &Workload, m: &Measurement, roofline: f64, shared: Option<f64>) {
    let useful = useful_flops_per_example(workload.shape.sizes());
    let mut line =
        format!("{:<14} {:<20} {:>6}", workload.profile_label(), workload.shape.to_string(), workload.batch);
    if m.threads.len() == 1 {
        let rate = m.rate(0);
        line += &format!(
            " {:>18} {:>14.2} {:>9.0}% {:>22.3}",
            format_rate(rate),
            rate * useful * 1e-9,
            100.0 * rate * useful / roofline,
            m.eval(0)
        );
    } else {
        for k in 0..m.threads.len() {
            line += &format!(" {:>15}", format_rate(m.rate(k)));
        }
        for k in 1..m.threads.len() {
            line += &format!(" {:>8.2}×", m.speedup(k));
        }
        line += &format!(" {:>11.0}%", 100.0 * m.rate(0) * useful / roofline);
        for k in 1..m.threads.len() {
            line += &format!(" {:>10.2}×", m.eval_speedup(k));
        }
        line += &match shared {
            Some(share) => format!(" {:>8.0}%", 100.0 * share),
            None => format!(" {:>9}", "-"),
        };
    }
    line += &format!(" {:>14}", format_mib(m.peak_kib));
    println!("{line}");
}

/// Examples per second: whole numbers, with two decimals below 100 (large networks).
fn format_rate(rate: f64) -> String {
    if rate < 100.0 { format!("{rate:.2}") } else { format!("{rate:.0}") }
}
