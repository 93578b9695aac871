//! `epchip bench`: the standard throughput workloads, timed inside one process, with the share of
//! a plain single-precision matrix product's speed each one reaches (its roofline).

use std::process::ExitCode;
use std::time::Instant;

use chip_model::HardwareProfile;
use ep_runtime::{NetworkShape, TrainConfig, Trainer, load_dataset};
use ndarray::{Array2, linalg::general_mat_mul};

use crate::cli::BenchArgs;

/// The bench table's workloads: (profile, batch size).
const WORKLOADS: &[(&str, usize)] =
    &[("ideal", 50), ("loihi2", 50), ("analog-rram", 50), ("ideal", 1), ("loihi2", 1), ("analog-rram", 1)];

/// Layer sizes of the standard workload.
const SIZES: (usize, usize, usize) = (784, 500, 10);
/// Free and nudged steps of the standard workload.
const STEPS: usize = 30 + 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Useful floating-point operations of one training example (multiply-adds count 2): the input
/// drive once, both directions of the hidden ↔ output products every step, and the local update
/// of both projections (the feedback copy included).
fn useful_flops_per_example() -> f64 {
    let (i, h, o) = SIZES;
    let input_drive = 2 * i * h;
    let steps = STEPS * (2 * h * o + 2 * o * h);
    let update = 2 * i * h + 2 * 2 * h * o;
    (input_drive + steps + update) as f64
}

/// What plain single-precision matrix products of the same shapes reach on this machine now, in
/// floating-point operations per second: the batch's input drive, its steps and its update.
fn matmul_roofline(batch: usize) -> f64 {
    let (i, h, o) = SIZES;
    let x = Array2::<f32>::from_elem((batch, i), 0.5);
    let w1 = Array2::<f32>::from_elem((i, h), 0.01);
    let w2 = Array2::<f32>::from_elem((h, o), 0.01);
    let w2t = Array2::<f32>::from_elem((o, h), 0.01);
    let mut hid = Array2::<f32>::zeros((batch, h));
    let mut out = Array2::<f32>::zeros((batch, o));
    let mut dw1 = Array2::<f32>::zeros((i, h));
    let once = |hid: &mut Array2<f32>, out: &mut Array2<f32>, dw1: &mut Array2<f32>| {
        general_mat_mul(1.0, &x, &w1, 0.0, hid);
        for _ in 0..STEPS {
            general_mat_mul(1.0, &*hid, &w2, 0.0, out);
            general_mat_mul(1.0, &*out, &w2t, 1.0, hid);
        }
        general_mat_mul(1.0, &x.t(), &*hid, 1.0, dw1);
    };
    once(&mut hid, &mut out, &mut dw1);
    let start = Instant::now();
    let mut batches = 0usize;
    while start.elapsed().as_secs_f64() < 0.5 {
        once(&mut hid, &mut out, &mut dw1);
        batches += 1;
    }
    let (i, h, o) = SIZES;
    let flops = (2 * i * h + STEPS * 4 * h * o + 2 * i * h) as f64 * batch as f64 * batches as f64;
    flops / start.elapsed().as_secs_f64()
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.repeat > 0, "invalid --repeat 0: use 1 or more");
    anyhow::ensure!(args.examples > 0, "invalid --examples 0: use 1 or more");
    let mut data = load_dataset("mnist10k")?;
    data.train = data.train.truncated(args.examples);
    let shape = NetworkShape::parse("784,500,10")?;
    println!(
        "workload: {shape} on mnist10k ({} training examples per measurement), {} neurons, T1 = 30, \
         T2 = 10, threads = {}, median of {}; roofline = useful FLOP/s ÷ plain f32 matrix products of the \
         same shapes",
        data.train.len(),
        args.neuron,
        args.threads,
        args.repeat
    );
    println!(
        "{:<12} {:>6} {:>18} {:>14} {:>10} {:>22}",
        "profile", "batch", "train examples/s", "useful GFLOP/s", "roofline", "eval 1996 digits (s)"
    );
    let neuron: ep_runtime::NeuronModel = args.neuron.parse()?;
    for &(name, batch) in WORKLOADS {
        if args.profile.as_deref().is_some_and(|p| p != name) {
            continue;
        }
        let profile = HardwareProfile::load(name)?;
        let config = TrainConfig {
            batch,
            threads: args.threads,
            epochs: 1,
            symmetric: false,
            ..TrainConfig::for_model(neuron, &shape)
        };
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
        let rate = median(rates);
        let useful = rate * useful_flops_per_example();
        let roofline = useful / matmul_roofline(batch);
        println!(
            "{:<12} {:>6} {:>18.0} {:>14.2} {:>9.0}% {:>22.3}",
            name,
            batch,
            rate,
            useful * 1e-9,
            100.0 * roofline,
            median(evals)
        );
    }
    Ok(ExitCode::SUCCESS)
}
