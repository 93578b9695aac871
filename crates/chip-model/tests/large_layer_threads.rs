//! A network with a large group between neuron layers keeps its batch whole on several threads
//! (no row shards) and shares each step's products among them by columns, with the numbers of one
//! thread on the float, digital and analog cores.
//!
//! One test per file on purpose: it reads the process-wide counts of sharded runs and split products.

use chip_model::chip::SHARD_MAX_STEP_WEIGHTS;
use chip_model::parallel::{sharded_runs, split_products};
use chip_model::{
    Chip, ConnectOptions, CoreBlock, HardwareProfile, Nudge, PopulationSpec, SumOfProducts, TraceSlot,
};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Input 60 → hidden 400 → hidden 400 → output 6 (160,000 weights between the hidden layers, and
/// their feedback copy), two mini-batches of 24 with `threads` threads.
fn train(profile: &HardwareProfile, threads: usize) -> Result<Chip, Box<dyn std::error::Error>> {
    let (ni, nh, no, batch) = (60, 400, 6, 24);
    const { assert!(400 * 400 >= SHARD_MAX_STEP_WEIGHTS) };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut chip = Chip::new(profile, 13)?;
    chip.set_threads(threads);
    let mut next_core = 0;
    let mut blocks = |n: usize| -> Vec<CoreBlock> {
        let first = next_core;
        next_core += n.div_ceil(100);
        (0..n.div_ceil(100))
            .map(|k| CoreBlock { core: first + k, start: k * 100, len: (n - k * 100).min(100) })
            .collect()
    };
    let input = chip.add_population(PopulationSpec::input("in", ni))?;
    let mut layer = |name: &str, n: usize, rng: &mut ChaCha8Rng| {
        let dt: Vec<f32> = (0..n).map(|_| rng.random_range(0.2..1.0)).collect();
        chip.add_population(PopulationSpec::rate_neurons(name, dt, vec![0.02; n], blocks(n)))
    };
    let h1 = layer("h1", nh, &mut rng)?;
    let h2 = layer("h2", nh, &mut rng)?;
    let out = layer("o", no, &mut rng)?;
    let options = |mirror_of| ConnectOptions { weight_range: Some(0.5), mirror_of, ..Default::default() };
    let mut groups = Vec::new();
    for (pre, post, n_pre, n_post) in [(input, h1, ni, nh), (h1, h2, nh, nh), (h2, out, nh, no)] {
        let w = Array2::from_shape_fn((n_pre, n_post), |_| rng.random_range(-0.15f32..0.15));
        let g = chip.connect(pre, post, w.view(), options(None))?;
        groups.push(g);
        if pre != input {
            groups.push(chip.connect(post, pre, w.t(), options(Some(g)))?);
        }
    }
    let (free, plus) = (TraceSlot::new(0)?, TraceSlot::new(1)?);
    let rule = SumOfProducts::contrastive(plus, free);
    chip.set_batch_size(batch)?;
    for round in 0..2 {
        let x = Array2::from_shape_fn((batch, ni), |_| rng.random::<f32>());
        let y = Array2::from_shape_fn((batch, no), |(b, i)| if (b + round) % no == i { 1.0 } else { 0.0 });
        chip.reset_state();
        chip.apply_input(input, x.view())?;
        chip.run(8, None)?;
        chip.latch_traces(free);
        chip.run(4, Some(&Nudge { population: out, target: y.view(), beta: 0.5 }))?;
        chip.latch_traces(plus);
        for &g in &groups {
            chip.learn(g, &rule, 0.05)?;
        }
    }
    Ok(chip)
}

#[test]
fn a_large_hidden_group_keeps_the_batch_whole_with_one_threads_numbers() -> TestResult {
    for name in ["ideal", "loihi2", "analog-rram"] {
        let mut profile = HardwareProfile::load(name)?;
        profile.core_limits = Default::default();
        profile.chip.cores = profile.chip.cores.max(16);
        let one = train(&profile, 1)?;
        let (sharded, split) = (sharded_runs(), split_products());
        let three = train(&profile, 3)?;
        assert_eq!(sharded_runs(), sharded, "{name}: a run was cut into row shards");
        // Each of the 2 × 12 steps shares its hidden ⇄ hidden products, besides the updates.
        assert!(split_products() >= split + 2 * 12 * 2, "{name}: the steps' products were not shared");
        assert_eq!(one.checkpoint(), three.checkpoint(), "{name}: weights, devices or counters differ");
        assert_ne!(one.checkpoint(), Chip::new(&profile, 13)?.checkpoint(), "{name}: nothing learned");
    }
    Ok(())
}
