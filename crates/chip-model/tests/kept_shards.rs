//! A sharded run carries on with the row shards of the run before it only when nothing changed the
//! populations in between: after a free phase the nudged phase keeps them, and a new bias, a
//! restored snapshot or a new input makes new ones. Every state is the one thread's.
//!
//! One test per file on purpose: it reads the process-wide count of kept-shard runs.

use chip_model::parallel::kept_shard_runs;
use chip_model::{Chip, ConnectOptions, CoreBlock, HardwareProfile, Nudge, PopulationSpec, TraceSlot};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Runs a sequence of phases on input 40 → hidden 64 ⇄ output 5 (batch 12) with `threads`
/// threads, changing the chip between some of them; returns the hidden and output states after
/// every run, and the number of runs that kept their shards.
fn phases(profile: &HardwareProfile, threads: usize) -> TestResult<(Vec<Array2<f32>>, u64)> {
    let (ni, nh, no, batch) = (40, 64, 5, 12);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut chip = Chip::new(profile, 3)?;
    chip.set_threads(threads);
    let block = |n: usize, core: usize| vec![CoreBlock { core, start: 0, len: n }];
    let input = chip.add_population(PopulationSpec::input("in", ni))?;
    let dt: Vec<f32> = (0..nh).map(|_| rng.random_range(0.2..1.0)).collect();
    let hidden = chip.add_population(PopulationSpec::rate_neurons("h", dt, vec![0.1; nh], block(nh, 0)))?;
    let output =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![0.5; no], vec![0.0; no], block(no, 1)))?;
    let w1 = Array2::from_shape_fn((ni, nh), |_| rng.random_range(-0.3f32..0.3));
    let w2 = Array2::from_shape_fn((nh, no), |_| rng.random_range(-0.4f32..0.4));
    let range = ConnectOptions { weight_range: Some(0.5), ..Default::default() };
    chip.connect(input, hidden, w1.view(), range.clone())?;
    let g2 = chip.connect(hidden, output, w2.view(), range.clone())?;
    chip.connect(output, hidden, w2.t(), ConnectOptions { mirror_of: Some(g2), ..range })?;
    chip.set_batch_size(batch)?;
    let x = |rng: &mut ChaCha8Rng| Array2::from_shape_fn((batch, ni), |_| rng.random::<f32>());
    let y = Array2::from_shape_fn((batch, no), |(b, i)| if b % no == i { 1.0 } else { 0.0 });
    let nudge = Nudge { population: output, target: y.view(), beta: 0.5 };
    let mut states = Vec::new();
    let record = |chip: &Chip, states: &mut Vec<Array2<f32>>| -> TestResult {
        for pop in [hidden, output] {
            states.push(chip.read_state(pop)?);
        }
        Ok(())
    };
    let kept_before = kept_shard_runs();
    chip.reset_state();
    chip.apply_input(input, x(&mut rng).view())?;
    chip.run(6, None)?;
    record(&chip, &mut states)?;
    // Reading and latching change nothing a shard holds: the nudged phase keeps the shards (1).
    chip.latch_traces(TraceSlot::new(0)?);
    chip.run(4, Some(&nudge))?;
    record(&chip, &mut states)?;
    // A new bias: new shards, which see it.
    let bias: Vec<f32> = (0..nh).map(|i| if i % 2 == 0 { 0.6 } else { -0.4 }).collect();
    chip.write_bias(hidden, &bias)?;
    chip.run(3, None)?;
    record(&chip, &mut states)?;
    // A snapshot is a read (2); restoring it is a change.
    let snapshot = chip.save_state();
    chip.run(2, Some(&nudge))?;
    record(&chip, &mut states)?;
    chip.restore_state(&snapshot)?;
    chip.run(2, None)?;
    record(&chip, &mut states)?;
    // A new input without a reset: new shards with its counts and constant drive.
    chip.apply_input(input, x(&mut rng).view())?;
    chip.run(3, None)?;
    record(&chip, &mut states)?;
    // Runs until settled step one at a time, each step keeping the shards of the one before (3+).
    chip.run_until_settled(4, 1e-9, None)?;
    record(&chip, &mut states)?;
    Ok((states, kept_shard_runs() - kept_before))
}

#[test]
fn shards_are_kept_only_while_the_populations_do_not_change() -> TestResult {
    for name in ["ideal", "loihi2", "analog-rram"] {
        let mut profile = HardwareProfile::load(name)?;
        profile.core_limits = Default::default();
        profile.chip.cores = profile.chip.cores.max(2);
        let (one, kept_one) = phases(&profile, 1)?;
        assert_eq!(kept_one, 0, "{name}: one thread kept shards");
        let (three, kept_three) = phases(&profile, 3)?;
        // The nudged run, the run after the snapshot, and the settling steps after the first.
        assert!(kept_three >= 2 + 3, "{name}: only {kept_three} runs kept their shards");
        assert_eq!(one.len(), three.len());
        for (k, (a, b)) in one.iter().zip(&three).enumerate() {
            assert_eq!(a, b, "{name}: states after run {} differ", k / 2);
        }
        // The changes between runs changed the states (else a kept stale shard would go unseen).
        assert_ne!(one[2], one[4], "{name}: the bias did not move the hidden states");
    }
    Ok(())
}
