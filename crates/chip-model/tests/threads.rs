//! The chip's threaded paths give the numbers of one thread, on groups large enough to take every
//! one of them: row shards for the steps, analog read noise drawn ahead, row blocks for pulsed
//! updates, stochastic rounding and effective-weight refreshes, column-split products, and runs
//! until settled.
//!
//! One test per file on purpose: it reads the process-wide count of sharded runs.

use chip_model::parallel::{PARALLEL_MIN_ELEMENTS, sharded_runs};
use chip_model::{
    Chip, ConnectOptions, CoreBlock, HardwareProfile, Nudge, PopulationId, PopulationSpec, SumOfProducts,
    TraceSlot,
};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Input 200 → hidden 400 (80,000 synapses, above the row-block threshold, and more random words
/// than a pulsed update draws ahead of the rows it applies) ⇄ output 6, trained for
/// three mini-batches of 24 with `threads` threads; returns the chip and its hidden and output
/// populations.
fn train(
    profile: &HardwareProfile,
    threads: usize,
) -> Result<(Chip, [PopulationId; 2]), Box<dyn std::error::Error>> {
    let (ni, nh, no, batch) = (200, 400, 6, 24);
    const { assert!(200 * 400 >= PARALLEL_MIN_ELEMENTS) };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut chip = Chip::new(profile, 11)?;
    chip.set_threads(threads);
    let blocks = |n: usize, first: usize| -> Vec<CoreBlock> {
        (0..n.div_ceil(100))
            .map(|k| CoreBlock { core: first + k, start: k * 100, len: (n - k * 100).min(100) })
            .collect()
    };
    let input = chip.add_population(PopulationSpec::input("in", ni))?;
    let dt_h: Vec<f32> = (0..nh).map(|_| rng.random_range(0.1..1.0)).collect();
    let hidden =
        chip.add_population(PopulationSpec::rate_neurons("h", dt_h, vec![0.05; nh], blocks(nh, 0)))?;
    let output =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![0.5; no], vec![0.0; no], blocks(no, 4)))?;
    let w1 = Array2::from_shape_fn((ni, nh), |_| rng.random_range(-0.2f32..0.2));
    let w2 = Array2::from_shape_fn((nh, no), |_| rng.random_range(-0.3f32..0.3));
    let range = Some(0.5);
    let g1 =
        chip.connect(input, hidden, w1.view(), ConnectOptions { weight_range: range, ..Default::default() })?;
    let g2 = chip.connect(
        hidden,
        output,
        w2.view(),
        ConnectOptions { weight_range: range, ..Default::default() },
    )?;
    let g3 = chip.connect(
        output,
        hidden,
        w2.t(),
        ConnectOptions { weight_range: range, mirror_of: Some(g2), ..Default::default() },
    )?;
    let (free, plus) = (TraceSlot::new(0)?, TraceSlot::new(1)?);
    let rule = SumOfProducts::contrastive(plus, free);
    chip.set_batch_size(batch)?;
    for round in 0..3 {
        let x =
            Array2::from_shape_fn(
                (batch, ni),
                |_| if rng.random_bool(0.4) { 0.0 } else { rng.random::<f32>() },
            );
        let y = Array2::from_shape_fn((batch, no), |(b, i)| if (b + round) % no == i { 1.0 } else { 0.0 });
        chip.reset_state();
        chip.apply_input(input, x.view())?;
        chip.run(12, None)?;
        // Then steps until settled (one parallel part per step; each step's noise drawn before it).
        chip.run_until_settled(6, 1e-4, None)?;
        chip.latch_traces(free);
        chip.run(5, Some(&Nudge { population: output, target: y.view(), beta: 0.5 }))?;
        chip.latch_traces(plus);
        for g in [g1, g2, g3] {
            chip.learn(g, &rule, 0.05)?;
        }
        for p in [hidden, output] {
            chip.learn_bias(p, &rule, 0.05)?;
        }
    }
    Ok((chip, [hidden, output]))
}

/// One and three threads end with the same weights, devices, biases, states and counters on the
/// float, digital and analog cores (the analog one with read noise, pulsed updates, stuck devices
/// and gain mismatch), and the three-thread runs were sharded.
#[test]
fn one_and_three_threads_give_the_same_chip() -> TestResult {
    for name in ["ideal", "loihi2", "analog-rram"] {
        let mut profile = HardwareProfile::load(name)?;
        profile.core_limits = Default::default();
        profile.chip.cores = profile.chip.cores.max(8);
        let before = sharded_runs();
        let (one, pops) = train(&profile, 1)?;
        assert_eq!(sharded_runs(), before, "{name}: one thread sharded a run");
        let (three, _) = train(&profile, 3)?;
        assert!(sharded_runs() >= before + 6, "{name}: the runs were not sharded");
        assert_eq!(one.checkpoint(), three.checkpoint(), "{name}: weights, devices or counters differ");
        for pop in pops {
            assert_eq!(one.read_state(pop)?, three.read_state(pop)?, "{name}: states differ");
        }
        assert_eq!(one.last_step_residuals(), three.last_step_residuals(), "{name}: residuals differ");
        // The network learned: identical results are not two untouched chips.
        let fresh = Chip::new(&profile, 11)?;
        assert_ne!(one.checkpoint(), fresh.checkpoint(), "{name}");
    }
    Ok(())
}
