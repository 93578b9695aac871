//! Criterion benchmarks of the emulator's kernels on the standard workload (784-500-10, mnist10k,
//! seed 1, one thread, the clip model as in `epchip bench`), for the built-in profiles `ideal`,
//! `loihi2` and `analog-rram`.
//!
//! Groups (bench ids are `group/profile/variant`):
//!
//! - `settle_free_step`, `settle_nudged_step`: one synchronous time step of the whole network
//!   (`Chip::run`), at batch 50 and batch 1, from the free fixed point. The input drive
//!   (batch × 784 × 500) is computed once per input and is therefore *not* part of a step.
//! - `local_update`: latching the nudged traces and applying the contrastive EP rule to every
//!   synapse and bias through the chip's learning engine (`Chip::latch_traces`, `Chip::learn`,
//!   `Chip::learn_bias`), as `EpNetwork::train_batch` does it (the update's sign alternates
//!   between iterations so that the weights stay near their trained values).
//! - `quantisation`: conversions between real values and the chip's number formats that the chip
//!   exposes: `Chip::write_weights` (784 × 500), `Chip::read_weights` (784 × 500) and
//!   `Chip::apply_input` (batch 50 × 784 pixels).
//! - `noise_generation`: the random numbers each profile draws, through the public generator
//!   pieces (`gaussian::fill_standard_normal_lanes`, `gaussian::normals_from_halves`,
//!   `RoundingNoise::uniform` with `fixed_point::round_to_grid`), plus in-situ twins of the
//!   analog profile with its noise switched off, whose difference to the normal bench is the
//!   noise's cost inside the chip.
//!
//! - `step_products`: a step's products of a narrow layer's drive (examples × 500 or 2,000 hidden
//!   neurons into 10 outputs) and of a wide layer's drive from a narrow one (10 into 500 or
//!   2,000), through `shallow_product::set_product` (the kernels a step uses) and through the
//!   general product (`general_mat_mul`), at 25 rows (a shard of a batch of 50 on two threads) and
//!   50 (the whole batch); both give the same numbers bit for bit.
//!
//! Run with `cargo bench --bench kernels` (add `-- --warm-up-time 1 --measurement-time 3` for a
//! quick pass, or a filter such as `-- settle_free_step/loihi2`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chip_model::fixed_point::round_to_grid;
use chip_model::gaussian::{fill_standard_normal_lanes, normals_from_halves};
use chip_model::lane_rng::LaneRng;
use chip_model::rounding_noise::RoundingNoise;
use chip_model::{Arithmetic, Chip, HardwareProfile, Nudge, PopulationSpec, SumOfProducts, TraceSlot};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use ep_runtime::on_chip::ep_network::{SLOT_FREE, SLOT_PLUS};
use ep_runtime::{DatasetSplit, EpNetwork, NetworkShape, NeuronModel, TrainConfig, load_dataset};
use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// The profiles every group covers.
const PROFILES: [&str; 3] = ["ideal", "loihi2", "analog-rram"];
/// Layer sizes of the standard workload.
const LAYERS: &str = "784,500,10";
/// Inputs, hidden and output neurons of the standard workload.
const SIZES: (usize, usize, usize) = (784, 500, 10);
/// Training batch size of the standard workload.
const BATCH: usize = 50;
/// Seed of every network, chip and generator here.
const SEED: u64 = 1;
/// Nudge strength β of the default training configuration.
const BETA: f32 = 0.5;

/// Neuron updates in one time step of one example (hidden and output layers).
fn neurons() -> usize {
    SIZES.1 + SIZES.2
}

/// Synapses and biases one EP update writes: the input projection, the hidden ↔ output projection
/// and its feedback copy, and the biases of both neuron layers.
fn updated_parameters() -> usize {
    let (i, h, o) = SIZES;
    i * h + 2 * h * o + h + o
}

/// Loads a built-in profile.
fn profile(name: &str) -> HardwareProfile {
    HardwareProfile::load(name).expect("built-in profile loads")
}

/// The training configuration at batch `batch` (seed 1, one thread) with the clip model, the
/// workload of `epchip bench` and of docs/performance.md's tables (the default configuration runs
/// the sigmoid model since the EP-literature defaults; on the float cores its σ is a scalar `exp`
/// per neuron, which made the ideal step four times dearer than the table's clip step).
fn config(batch: usize) -> TrainConfig {
    TrainConfig { batch, seed: SEED, threads: 1, neuron: NeuronModel::Clip, ..TrainConfig::default() }
}

/// The standard 784-500-10 network on a fresh chip of `profile`.
fn network(profile: &HardwareProfile, batch: usize) -> EpNetwork {
    let shape = NetworkShape::parse(LAYERS).expect("valid layer spec");
    EpNetwork::build(profile, &shape, &config(batch)).expect("784-500-10 fits the built-in profiles")
}

/// The first `batch` training digits of mnist10k: inputs in [0, 1] and one-hot targets.
fn digits(data: &DatasetSplit, batch: usize) -> (Array2<f32>, Array2<f32>) {
    let train = &data.train;
    let indices: Vec<usize> = (0..batch).collect();
    let mut x = Array2::<f32>::zeros((batch, train.input_size()));
    let mut y = Array2::<f32>::zeros((batch, train.classes()));
    train.try_fill_batch(&indices, &mut x.view_mut()).expect("input batch");
    train.try_fill_targets(&indices, &mut y.view_mut()).expect("target batch");
    (x, y)
}

/// A network of `profile` at its free fixed point for the batch `x` (T1 = 30 free steps), so the
/// input drive is computed and the states are where the settle steps of training run.
fn settled(profile: &HardwareProfile, x: &Array2<f32>) -> EpNetwork {
    let mut net = network(profile, x.nrows());
    net.free_phase(x.view(), config(x.nrows()).t1).expect("free phase");
    net
}

/// Benches `run(iters)` as `iters` steps: one criterion iteration is one time step. Only the last
/// step of a `run` measures the residual, so the per-step cost is that of the unmeasured steps
/// that make up most of a phase.
fn time_steps(net: &mut EpNetwork, iters: u64, nudge: Option<&Nudge>) -> Duration {
    let steps = usize::try_from(iters).expect("iteration count fits usize");
    let start = Instant::now();
    net.chip_mut().run(steps, nudge).expect("time steps run");
    start.elapsed()
}

/// `settle_free_step/<profile>/batch<B>`: one free time step of the whole network.
fn settle_free_step(c: &mut Criterion, data: &DatasetSplit) {
    let mut group = c.benchmark_group("settle_free_step");
    for name in PROFILES {
        for batch in [BATCH, 1] {
            let (x, _) = digits(data, batch);
            let mut net = settled(&profile(name), &x);
            group.throughput(Throughput::Elements((batch * neurons()) as u64));
            group.bench_function(BenchmarkId::new(name, format!("batch{batch}")), |b| {
                b.iter_custom(|iters| time_steps(&mut net, iters, None));
            });
        }
    }
    group.finish();
}

/// `settle_nudged_step/<profile>/batch<B>`: one time step with the output nudged toward the
/// targets (β = 0.5), from the free fixed point.
fn settle_nudged_step(c: &mut Criterion, data: &DatasetSplit) {
    let mut group = c.benchmark_group("settle_nudged_step");
    for name in PROFILES {
        for batch in [BATCH, 1] {
            let (x, y) = digits(data, batch);
            let mut net = settled(&profile(name), &x);
            let nudge = Nudge { population: net.output(), target: y.view(), beta: BETA };
            group.throughput(Throughput::Elements((batch * neurons()) as u64));
            group.bench_function(BenchmarkId::new(name, format!("batch{batch}")), |b| {
                b.iter_custom(|iters| time_steps(&mut net, iters, Some(&nudge)));
            });
        }
    }
    group.finish();
}

/// A network of `profile` after the free phase (traces latched in the free slot) and T2 = 10
/// nudged steps: the state `EpNetwork::train_batch` is in just before its local update.
fn before_update(profile: &HardwareProfile, x: &Array2<f32>, y: &Array2<f32>) -> EpNetwork {
    let mut net = settled(profile, x);
    let free = TraceSlot::new(SLOT_FREE).expect("valid slot");
    net.chip_mut().latch_traces(free);
    let nudge = Nudge { population: net.output(), target: y.view(), beta: BETA };
    net.chip_mut().run(config(x.nrows()).t2, Some(&nudge)).expect("nudged phase");
    net
}

/// The local EP update of `EpNetwork::train_batch` (positive β): latch the nudged traces, then the
/// contrastive rule on every forward and feedback group and on the biases, learning rates of the
/// default configuration times `sign`.
fn local_ep_update(net: &mut EpNetwork, batch: usize, sign: f32) {
    let free = TraceSlot::new(SLOT_FREE).expect("valid slot");
    let plus = TraceSlot::new(SLOT_PLUS).expect("valid slot");
    let rule = SumOfProducts::contrastive(plus, free);
    let cfg = config(batch);
    net.chip_mut().latch_traces(plus);
    for l in 0..net.shape().sizes().len() - 1 {
        let global = sign * cfg.lr_for(l) / (BETA * batch as f32);
        let forward = net.forward_group(l).expect("forward group");
        let feedback = net.feedback_group(l);
        let layer = net.layer(l + 1).expect("neuron layer");
        let chip = net.chip_mut();
        chip.learn(forward, &rule, global).expect("learn forward");
        if let Some(fb) = feedback {
            chip.learn(fb, &rule, global).expect("learn feedback");
        }
        chip.learn_bias(layer, &rule, global).expect("learn bias");
    }
}

/// Benches [`local_ep_update`] on `net` in place, alternating the sign of the update so that the
/// weights random-walk around their trained values instead of drifting to the bounds (copying the
/// network for every iteration would add megabytes of allocation churn that training does not have).
fn bench_update(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    mut net: EpNetwork,
) {
    let mut sign = 1.0f32;
    group.bench_function(id, |b| {
        b.iter(|| {
            local_ep_update(&mut net, BATCH, sign);
            sign = -sign;
        });
    });
}

/// `local_update/<profile>/batch50`: latch traces and apply the EP rule to all 402,510 synapses and
/// biases through the learning engine (float add, stochastic rounding, or pulsed device updates).
fn local_update(c: &mut Criterion, data: &DatasetSplit) {
    let mut group = c.benchmark_group("local_update");
    group.sampling_mode(SamplingMode::Flat).sample_size(30);
    group.throughput(Throughput::Elements(updated_parameters() as u64));
    let (x, y) = digits(data, BATCH);
    for name in PROFILES {
        let net = before_update(&profile(name), &x, &y);
        bench_update(&mut group, BenchmarkId::new(name, format!("batch{BATCH}")), net);
    }
    group.finish();
}

/// `quantisation/<profile>/{write_weights,read_weights,apply_input}`: the chip's conversions
/// between real values and its number formats. `write_weights` rounds 784 × 500 weights to
/// mantissas (digital), clamps and quantises them to conductances and reapplies stuck devices and
/// gains (analog) or copies them (float); `read_weights` converts them back; `apply_input` quantises
/// a batch of 50 digits to the input width (digital) or the DAC grid (analog). The weight-exponent
/// choice of `Chip::connect` is not benched (it runs once per group).
fn quantisation(c: &mut Criterion, data: &DatasetSplit) {
    let mut group = c.benchmark_group("quantisation");
    let (x, _) = digits(data, BATCH);
    let (inputs, hidden, _) = SIZES;
    for name in PROFILES {
        let p = profile(name);
        let mut net = settled(&p, &x);
        let g = net.forward_group(0).expect("input projection");
        let w = net.chip().read_weights(g).expect("weights");
        group.throughput(Throughput::Elements((inputs * hidden) as u64));
        group.bench_function(BenchmarkId::new(name, "write_weights"), |b| {
            b.iter(|| net.chip_mut().write_weights(g, black_box(w.view())).expect("write weights"));
        });
        group.bench_function(BenchmarkId::new(name, "read_weights"), |b| {
            b.iter(|| black_box(net.chip().read_weights(g).expect("read weights")));
        });
        // EpNetwork does not expose its input population, so the input conversion runs on a chip
        // holding only an input population of the same size.
        let mut chip = Chip::new(&p, SEED).expect("chip");
        let input = chip.add_population(PopulationSpec::input("input", inputs)).expect("input population");
        chip.set_batch_size(BATCH).expect("batch size");
        group.throughput(Throughput::Elements((BATCH * inputs) as u64));
        group.bench_function(BenchmarkId::new(name, "apply_input"), |b| {
            b.iter(|| chip.apply_input(input, black_box(x.view())).expect("apply input"));
        });
    }
    group.finish();
}

/// Update values in units of the weight step for [`noise_generation`]'s rounding bench: uniform in
/// [−4, 4), like the scaled EP updates of a digital core (most below a few steps).
fn update_values(count: usize) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    (0..count).map(|_| ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) * 8.0 - 4.0).collect()
}

/// Devices of the analog input projection that a pulsed update touches for the batch `x`: every
/// synapse whose presynaptic pixel is non-zero somewhere in the batch, plus both hidden ↔ output
/// groups (the learning engine skips all-zero rows).
fn pulsed_devices(x: &Array2<f32>) -> usize {
    let (_, h, o) = SIZES;
    let active_pixels = x.columns().into_iter().filter(|c| c.iter().any(|&v| v != 0.0)).count();
    active_pixels * h + 2 * h * o
}

/// `noise_generation/<profile>/<source>`: the random numbers each profile draws.
///
/// The chip's own generators are private, so these bench the public pieces they are built from,
/// in the amounts one training batch (or one step) uses:
/// - `ideal`: draws no random numbers at all (float arithmetic, exact updates); no bench.
/// - `loihi2/stochastic_rounding`: the counter-based hash (`RoundingNoise::uniform`) and
///   `round_to_grid` for the 397,000 synapse updates of one batch (the learning engine's inner
///   loop without the weight clamp and without skipping zero updates); `loihi2/rounding_hash_only`
///   is the hash alone.
/// - `analog-rram/output_noise_step`: `fill_standard_normal_lanes` (16 xoshiro128++ lanes and the
///   inverse-CDF table) for one step's column outputs at batch 50 (50 × 510 Gaussians), one row of
///   510 at a time as the chip draws them.
/// - `analog-rram/pulse_noise_update`: one 32-bit lane word per device of the rows a pulsed update
///   touches, and `normals_from_halves` on their high halves (the pulse count's uniform and the
///   cycle-to-cycle noise).
/// - `analog-rram/settle_step_noise_off` and `analog-rram/local_update_c2c_off`: the settle step
///   (batch 50) and the local update with output noise, respectively cycle-to-cycle pulse noise,
///   set to zero; compare with `settle_free_step/analog-rram/batch50` and
///   `local_update/analog-rram/batch50` for the in-situ cost of the noise.
fn noise_generation(c: &mut Criterion, data: &DatasetSplit) {
    let mut group = c.benchmark_group("noise_generation");
    let (x, y) = digits(data, BATCH);
    let (inputs, hidden, outputs) = SIZES;

    let loihi2 = profile("loihi2");
    let rounding = loihi2.learning.rounding;
    let values = update_values(inputs * hidden + hidden * outputs);
    let noise = RoundingNoise::new(SEED);
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function(BenchmarkId::new("loihi2", "stochastic_rounding"), |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for (j, row) in values.chunks_exact(hidden).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    let u = noise.uniform(0, 1, j as u64, i as u64);
                    sum += round_to_grid(v, rounding, u);
                }
            }
            black_box(sum)
        });
    });
    group.bench_function(BenchmarkId::new("loihi2", "rounding_hash_only"), |b| {
        b.iter(|| {
            let mut sum = 0.0f64;
            for (j, row) in values.chunks_exact(hidden).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    sum += v * noise.uniform(0, 1, j as u64, i as u64);
                }
            }
            black_box(sum)
        });
    });

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let mut lanes = LaneRng::from_rng(&mut rng);
    let mut z = vec![0.0f32; BATCH * neurons()];
    let mut bits = Vec::new();
    group.throughput(Throughput::Elements(z.len() as u64));
    group.bench_function(BenchmarkId::new("analog-rram", "output_noise_step"), |b| {
        b.iter(|| {
            for row in z.chunks_mut(neurons()) {
                fill_standard_normal_lanes(row, &mut lanes, &mut bits, &mut rng);
            }
            black_box(&z);
        });
    });

    let devices = pulsed_devices(&x);
    let (_, hidden, _) = SIZES;
    let (mut words, mut zs) = (vec![0u32; hidden], vec![0.0f32; hidden]);
    group.throughput(Throughput::Elements(devices as u64));
    group.bench_function(BenchmarkId::new("analog-rram", "pulse_noise_update"), |b| {
        b.iter(|| {
            let mut sum = 0.0f32;
            for _ in 0..devices / hidden {
                lanes.fill_u32(&mut words);
                normals_from_halves(&mut zs, |i| words[i] >> 16, &mut rng);
                sum += zs[0] + (words[0] & 0xFFFF) as f32;
            }
            black_box(sum)
        });
    });

    let mut quiet = profile("analog-rram");
    if let Arithmetic::Analog(a) = &mut quiet.arithmetic {
        a.output_noise = 0.0;
        a.read_noise = 0.0;
    }
    let mut net = settled(&quiet, &x);
    group.throughput(Throughput::Elements((BATCH * neurons()) as u64));
    group.bench_function(BenchmarkId::new("analog-rram", "settle_step_noise_off"), |b| {
        b.iter_custom(|iters| time_steps(&mut net, iters, None));
    });

    let mut steady = profile("analog-rram");
    if let Arithmetic::Analog(a) = &mut steady.arithmetic {
        a.update.dw_min_std = 0.0;
    }
    let net = before_update(&steady, &x, &y);
    group.sampling_mode(SamplingMode::Flat).sample_size(30);
    group.throughput(Throughput::Elements(updated_parameters() as u64));
    bench_update(&mut group, BenchmarkId::new("analog-rram", "local_update_c2c_off"), net);
    group.finish();
}

/// The step's products through the kernels of `shallow_product` and through the general product.
fn step_products(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_products");
    for (rows, k, n) in [
        (25, 500, 10),
        (50, 500, 10),
        (23, 2000, 10),
        (25, 2000, 10),
        (27, 2000, 10),
        (50, 2000, 10),
        (25, 10, 500),
        (50, 10, 500),
        (25, 10, 2000),
        (50, 10, 2000),
        (200, 10, 500),
        (200, 10, 2000),
    ] {
        let a = Array2::from_shape_fn((rows, k), |(i, j)| ((i * 7 + j * 3) % 5) as f32 * 0.25);
        let w = Array2::from_shape_fn((k, n), |(i, j)| ((i * 11 + j * 13) % 9) as f32 * 0.1 - 0.4);
        let mut out = Array2::<f32>::zeros((rows, n));
        group.throughput(Throughput::Elements((rows * k * n) as u64));
        let shape = format!("{rows}x{k}x{n}");
        group.bench_function(BenchmarkId::new("kernel", &shape), |b| {
            b.iter(|| chip_model::shallow_product::set_product(a.view(), w.view(), out.view_mut()));
        });
        group.bench_function(BenchmarkId::new("general", &shape), |b| {
            b.iter(|| ndarray::linalg::general_mat_mul(1.0, &a, &w, 0.0, &mut out));
        });
    }
    group.finish();
}

/// Runs every group; `cargo bench --bench kernels -- <filter>` selects bench ids as usual.
fn main() {
    let data = load_dataset("mnist10k").expect("embedded mnist10k loads");
    let mut c = Criterion::default().configure_from_args();
    settle_free_step(&mut c, &data);
    settle_nudged_step(&mut c, &data);
    local_update(&mut c, &data);
    quantisation(&mut c, &data);
    noise_generation(&mut c, &data);
    step_products(&mut c);
    c.final_summary();
}
