//! Results do not depend on the thread count, on a network large enough for the threaded kernels.
//!
//! This file holds one test on purpose: it reads the process-wide counts of products and runs shared
//! among threads ([`chip_model::parallel::split_products`], [`chip_model::parallel::sharded_runs`]),
//! which other tests running at the same time in the same binary would disturb.

use chip_model::HardwareProfile;
use chip_model::parallel::{PARALLEL_MIN_MACS, sharded_runs, split_products};
use ep_runtime::{DatasetSplit, NetworkShape, TrainConfig, Trainer, load_dataset};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 16 inputs into 512 hidden neurons at batch 40: the input projection's products (forward drive
/// and learning, 40 × 16 × 512 multiply-adds) exceed the threshold at which products are split,
/// and 512 columns give each of 4 threads a share.
const LAYERS: &str = "16,512,4";
const BATCH: usize = 40;
/// 200 test examples in batches of 50: four evaluation batches, one per worker at 4 threads.
const EVAL_BATCH: usize = 50;

fn train(profile: &str, threads: usize, data: &DatasetSplit) -> Result<Trainer, Box<dyn std::error::Error>> {
    let p = HardwareProfile::load(profile)?;
    let config = TrainConfig {
        lr: vec![0.1],
        tau: "lognormal:cv=0.5".parse()?,
        seed: 8,
        epochs: 2,
        batch: BATCH,
        eval_batch: EVAL_BATCH,
        threads,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&p, &NetworkShape::parse(LAYERS)?, config)?;
    for _ in 0..2 {
        t.train_epoch(data, &mut |_, _| {})?;
    }
    Ok(t)
}

/// 1 and 4 threads give bit-identical training on the float, the digital and the analog core (read
/// noise, pulsed updates, stochastic rounding), and the 4-thread runs really took the threaded
/// kernels: batches cut into row shards for the steps, products and learning passes shared, and
/// evaluation shared among workers (the 1-thread runs did none of it).
#[test]
fn one_and_four_threads_train_identically_through_the_threaded_kernels() -> TestResult {
    const { assert!(BATCH * 16 * 512 >= PARALLEL_MIN_MACS && EVAL_BATCH * 16 * 512 >= PARALLEL_MIN_MACS) };
    let data = load_dataset("synthetic")?;
    assert!(data.test.len().div_ceil(EVAL_BATCH) >= 4, "evaluation would not use 4 workers");
    for profile in ["ideal", "loihi2", "analog-rram"] {
        let (before, runs_before) = (split_products(), sharded_runs());
        let one = train(profile, 1, &data)?;
        assert_eq!(split_products(), before, "{profile}: one thread split a product");
        assert_eq!(sharded_runs(), runs_before, "{profile}: one thread sharded a run");
        let four = train(profile, 4, &data)?;
        let split = split_products() - before;
        // Two phases (free and nudged) of every mini-batch of both epochs.
        let sharded = sharded_runs() - runs_before;
        assert!(sharded >= 2 * 2 * (400 / BATCH) as u64, "{profile}: only {sharded} runs were sharded");
        // Every mini-batch's input-projection drive, and on the float and analog cores its update
        // (the digital core sums and rounds its update in blocks of rows instead).
        let per_batch = if profile == "loihi2" { 1 } else { 2 };
        assert!(split >= 2 * (400 / BATCH) as u64 * per_batch, "{profile}: only {split} products were split");
        for (a, b) in one.history().iter().zip(four.history()) {
            assert_eq!(a.train_cost.to_bits(), b.train_cost.to_bits(), "{profile}: epoch {}", a.epoch);
            assert_eq!(a.test_accuracy, b.test_accuracy, "{profile}: epoch {}", a.epoch);
            assert_eq!(a.free_residual.to_bits(), b.free_residual.to_bits(), "{profile}: epoch {}", a.epoch);
        }
        // Every weight, bias, device and counter.
        assert_eq!(one.network().chip().checkpoint(), four.network().chip().checkpoint(), "{profile}");
        // The run learned something, so identical results are not two untouched networks.
        let acc = one.summary("synthetic").test_accuracy;
        assert!(acc > 0.5, "{profile}: test accuracy {acc}");
    }
    Ok(())
}
