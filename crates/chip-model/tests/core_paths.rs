//! The batched fast path of each core against the plain scalar reference implementation.

use chip_model::cores::digital::exact_integer_product;
use chip_model::{
    Chip, ConnectOptions, CoreBlock, ExecutionPath, FanInSegment, GroupId, HardwareProfile, NeuronProgram,
    Nudge, PopulationId, PopulationSpec, SumOfProducts, TraceSlot,
};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Net {
    chip: Chip,
    input: PopulationId,
    hidden: PopulationId,
    output: PopulationId,
    groups: Vec<GroupId>,
}

fn block(core: usize, len: usize) -> Vec<CoreBlock> {
    vec![CoreBlock { core, start: 0, len }]
}

/// input(24) -> hidden(17) <-> output(5), random weights, dt and biases.
fn build(profile: &str, seed: u64) -> Result<Net, Box<dyn std::error::Error>> {
    build_with_range(profile, seed, 1.0)
}

/// [`build`] with the hidden ⇄ output weights drawn in ±0.6·`range` and that weight range (a small
/// range gives digital groups a small weight exponent, as EP networks have).
fn build_with_range(profile: &str, seed: u64, range: f32) -> Result<Net, Box<dyn std::error::Error>> {
    build_program(profile, seed, range, NeuronProgram::Clip)
}

/// [`build_with_range`] with both rate populations running `program`.
fn build_program(
    profile: &str,
    seed: u64,
    range: f32,
    program: NeuronProgram,
) -> Result<Net, Box<dyn std::error::Error>> {
    build_on(&HardwareProfile::load(profile)?, seed, range, program)
}

/// [`build_program`] on a given profile.
fn build_on(
    profile: &HardwareProfile,
    seed: u64,
    range: f32,
    program: NeuronProgram,
) -> Result<Net, Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::new(profile, seed)?;
    let input = chip.add_population(PopulationSpec::input("in", 24))?;
    let dt_h: Vec<f32> = (0..17).map(|_| rng.random_range(0.05..1.0)).collect();
    let b_h: Vec<f32> = (0..17).map(|_| rng.random_range(-0.2..0.2)).collect();
    let hidden = chip
        .add_population(PopulationSpec::rate_neurons("h", dt_h, b_h, block(0, 17)).with_program(program))?;
    let dt_o: Vec<f32> = (0..5).map(|_| rng.random_range(0.05..1.0)).collect();
    let out_core = profile.chip.cores as usize - 1;
    let output = chip.add_population(
        PopulationSpec::rate_neurons("o", dt_o, vec![0.05; 5], block(out_core, 5)).with_program(program),
    )?;
    let w1 = Array2::from_shape_fn((24, 17), |_| rng.random_range(-0.4f32..0.4));
    let w2 = Array2::from_shape_fn((17, 5), |_| rng.random_range(-0.6f32..0.6) * range);
    let g1 = chip.connect(input, hidden, w1.view(), ConnectOptions::default())?;
    let g2 = chip.connect(
        hidden,
        output,
        w2.view(),
        ConnectOptions { weight_range: Some(range), mirror_of: None, ..Default::default() },
    )?;
    let g3 = chip.connect(
        output,
        hidden,
        w2.t(),
        ConnectOptions { weight_range: Some(range), mirror_of: Some(g2), ..Default::default() },
    )?;
    Ok(Net { chip, input, hidden, output, groups: vec![g1, g2, g3] })
}

fn random_batch(rng: &mut ChaCha8Rng, b: usize, n: usize, zeros: f64) -> Array2<f32> {
    Array2::from_shape_fn((b, n), |_| if rng.random_bool(zeros) { 0.0 } else { rng.random_range(0.0..1.0) })
}

/// Runs the same EP-like sequence on two chips and calls `compare` after every stage.
fn run_both(
    fast: &mut Net,
    reference: &mut Net,
    compare: &dyn Fn(&Net, &Net, &str) -> TestResult,
) -> TestResult {
    run_both_with(fast, reference, compare, 3, 0.3)
}

/// [`run_both`] with `batch` examples per round whose inputs are zero with probability `zeros`.
fn run_both_with(
    fast: &mut Net,
    reference: &mut Net,
    compare: &dyn Fn(&Net, &Net, &str) -> TestResult,
    batch: usize,
    zeros: f64,
) -> TestResult {
    reference.chip.set_execution_path(ExecutionPath::Reference);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let rule = SumOfProducts::contrastive(TraceSlot::new(1)?, TraceSlot::new(0)?);
    for round in 0..4 {
        let x = random_batch(&mut rng, batch, 24, zeros);
        let y = Array2::from_shape_fn((batch, 5), |(b, i)| if (b + round) % 5 == i { 1.0 } else { 0.0 });
        for net in [&mut *fast, &mut *reference] {
            net.chip.set_batch_size(batch)?;
            net.chip.reset_state();
            net.chip.apply_input(net.input, x.view())?;
        }
        // Runs of several steps: the unmeasured steps inside a run take the fast update loop.
        for step in 0..4 {
            for net in [&mut *fast, &mut *reference] {
                net.chip.run(3, None)?;
            }
            compare(fast, reference, &format!("round {round}, free steps {}", 3 * step + 3))?;
        }
        for net in [&mut *fast, &mut *reference] {
            net.chip.latch_traces(TraceSlot::new(0)?);
            let nudge = Nudge { population: net.output, target: y.view(), beta: 0.7 };
            net.chip.run(5, Some(&nudge))?;
            net.chip.latch_traces(TraceSlot::new(1)?);
        }
        compare(fast, reference, &format!("round {round}, nudged"))?;
        for net in [&mut *fast, &mut *reference] {
            for &g in &net.groups {
                net.chip.learn(g, &rule, 0.8)?;
            }
            net.chip.learn_bias(net.hidden, &rule, 0.8)?;
            net.chip.learn_bias(net.output, &rule, 0.8)?;
        }
        compare(fast, reference, &format!("round {round}, after learning"))?;
    }
    Ok(())
}

#[test]
fn digital_fast_path_matches_scalar_reference_bit_for_bit() -> TestResult {
    // Weight range 1 (exponent 2: the drive is shifted left) and 0.05 (a negative exponent: the
    // drive is shifted right, which takes the fused i32 neuron update on unmeasured steps).
    // Both neuron programs: the sigmoid's table lookup sits in every one of the three loops.
    for program in [NeuronProgram::Clip, NeuronProgram::Sigmoid] {
        for range in [1.0, 0.05] {
            digital_paths_agree(range, program)?;
        }
    }
    Ok(())
}

fn digital_paths_agree(range: f32, program: NeuronProgram) -> TestResult {
    // Batches of 3 with 30 % silent inputs, then online learning (batch 1) with 60 % silent inputs,
    // which takes the sparse input drive and the row-restricted update.
    digital_paths_agree_with(range, 3, 0.3, program)?;
    digital_paths_agree_with(range, 1, 0.6, program)
}

fn digital_paths_agree_with(range: f32, batch: usize, zeros: f64, program: NeuronProgram) -> TestResult {
    let mut fast = build_program("loihi2", 5, range, program)?;
    let mut reference = build_program("loihi2", 5, range, program)?;
    let compare = |a: &Net, b: &Net, when: &str| -> TestResult {
        for pop in [a.hidden, a.output] {
            let (sa, sb) = (a.chip.read_state_raw(pop)?, b.chip.read_state_raw(pop)?);
            assert_eq!(sa, sb, "states differ at {when}");
            assert_eq!(a.chip.read_bias(pop)?, b.chip.read_bias(pop)?, "biases differ at {when}");
        }
        // The last step of a run is measured: its change, per example and at most.
        assert_eq!(a.chip.last_step_residuals(), b.chip.last_step_residuals(), "residuals at {when}");
        assert_eq!(a.chip.last_max_change(), b.chip.last_max_change(), "largest change at {when}");
        for &g in &a.groups {
            assert_eq!(
                a.chip.read_weight_mantissas(g)?,
                b.chip.read_weight_mantissas(g)?,
                "weights at {when}"
            );
        }
        Ok(())
    };
    run_both_with(&mut fast, &mut reference, &compare, batch, zeros)?;
    // The run really exercised the dynamics and the learning engine.
    let (w0, _) = build_program("loihi2", 5, range, program)?.chip.read_weight_mantissas(fast.groups[1])?;
    let (w1, _) = fast.chip.read_weight_mantissas(fast.groups[1])?;
    assert_ne!(w0, w1, "learning changed no weight");
    assert!(fast.chip.read_state_raw(fast.hidden)?.iter().any(|&v| v > 0));
    Ok(())
}

#[test]
fn float_fast_path_matches_scalar_reference() -> TestResult {
    for program in [NeuronProgram::Clip, NeuronProgram::Sigmoid] {
        float_paths_agree(program)?;
    }
    Ok(())
}

fn float_paths_agree(program: NeuronProgram) -> TestResult {
    let mut fast = build_program("ideal", 6, 1.0, program)?;
    let mut reference = build_program("ideal", 6, 1.0, program)?;
    let compare = |a: &Net, b: &Net, when: &str| -> TestResult {
        for pop in [a.hidden, a.output] {
            let (sa, sb) = (a.chip.read_state(pop)?, b.chip.read_state(pop)?);
            let diff = (&sa - &sb).mapv(f32::abs).fold(0.0f32, |m, &x| m.max(x));
            assert!(diff < 1e-5, "states differ by {diff} at {when}");
        }
        for &g in &a.groups {
            let diff = (&a.chip.read_weights(g)? - &b.chip.read_weights(g)?)
                .mapv(f32::abs)
                .fold(0.0f32, |m, &x| m.max(x));
            assert!(diff < 1e-5, "weights differ by {diff} at {when}");
        }
        Ok(())
    };
    run_both(&mut fast, &mut reference, &compare)
}

/// analog-rram with its noise off (output and read noise) and its quantisers on: 7-bit DAC, 9-bit
/// ADC and 6-bit conductances on top of the profile's pulsed soft-bounds updates, stuck devices
/// and mismatch.
fn quiet_quantised_analog() -> Result<HardwareProfile, Box<dyn std::error::Error>> {
    let mut p = HardwareProfile::load("analog-rram")?;
    let chip_model::Arithmetic::Analog(a) = &mut p.arithmetic else {
        return Err("analog-rram is not analog".into());
    };
    (a.output_noise, a.read_noise, a.conductance_bits) = (0.0, 0.0, 6);
    assert!(a.dac_bits > 0 && a.adc_bits > 0 && a.update.dw_min > 0.0);
    p.validate()?;
    Ok(p)
}

/// The analog core's fast path (batched sums, one pulsed write per group) against its per-synapse
/// reference, with the converters and conductance quantisation on and the noise off.
#[test]
fn analog_fast_path_matches_scalar_reference() -> TestResult {
    let p = quiet_quantised_analog()?;
    let mut fast = build_on(&p, 7, 1.0, NeuronProgram::Clip)?;
    let mut reference = build_on(&p, 7, 1.0, NeuronProgram::Clip)?;
    let compare = |a: &Net, b: &Net, when: &str| -> TestResult {
        for pop in [a.hidden, a.output] {
            let diff = (&a.chip.read_state(pop)? - &b.chip.read_state(pop)?)
                .mapv(f32::abs)
                .fold(0.0f32, |m, &x| m.max(x));
            assert!(diff < 1e-5, "states differ by {diff} at {when}");
            let (ba, bb) = (a.chip.read_bias(pop)?, b.chip.read_bias(pop)?);
            let diff = ba.iter().zip(&bb).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff < 1e-5, "biases differ by {diff} at {when}");
        }
        for &g in &a.groups {
            let diff = (&a.chip.read_weights(g)? - &b.chip.read_weights(g)?)
                .mapv(f32::abs)
                .fold(0.0f32, |m, &x| m.max(x));
            assert!(diff < 1e-5, "weights differ by {diff} at {when}");
        }
        Ok(())
    };
    run_both(&mut fast, &mut reference, &compare)?;
    // Learning moved devices by whole pulses, on the conductance grid.
    let before = build_on(&p, 7, 1.0, NeuronProgram::Clip)?.chip.read_weights(fast.groups[1])?;
    let after = fast.chip.read_weights(fast.groups[1])?;
    assert!((&after - &before).iter().any(|d| d.abs() > 1e-6), "learning changed no weight");
    let step = fast.chip.conductance_range(fast.groups[1])? / 31.0;
    for &w in after.iter() {
        assert!((w / step - (w / step).round()).abs() < 1e-3, "{w} is off the 6-bit conductance grid");
    }
    Ok(())
}

#[test]
fn digital_mirror_synapses_stay_exact_transposes_under_stochastic_rounding() -> TestResult {
    // On both paths: the fast path's row-wise draws and the reference's per-synapse draws.
    let mut fast = build("loihi2", 8)?;
    let mut reference = build("loihi2", 8)?;
    let before = fast.chip.read_weight_mantissas(fast.groups[1])?.0;
    run_both(&mut fast, &mut reference, &|_, _, _| Ok(()))?;
    for net in [&fast, &reference] {
        let (fwd, e1) = net.chip.read_weight_mantissas(net.groups[1])?;
        let (fb, e2) = net.chip.read_weight_mantissas(net.groups[2])?;
        assert_eq!(e1, e2);
        assert_eq!(fwd.t(), fb);
        // Stochastic rounding happened: some update was not a whole number of steps.
        assert_ne!(fwd, before, "learning changed no weight");
    }
    Ok(())
}

#[test]
fn exact_integer_product_splits_long_sums_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // 784 inputs at the extremes: partial sums exceed 2^24, where f32 stops being exact.
    let a = Array2::from_shape_fn((7, 784), |_| if rng.random_bool(0.9) { 255.0f32 } else { 254.0 });
    let w = Array2::from_shape_fn((784, 9), |_| if rng.random_bool(0.9) { 127.0f32 } else { 125.0 });
    let fast = exact_integer_product(a.view(), w.view(), 255.0, 127.0);
    for b in 0..7 {
        for i in 0..9 {
            let exact: i64 = (0..784).map(|j| a[[b, j]] as i64 * w[[j, i]] as i64).sum();
            assert_eq!(fast[[b, i]], exact);
        }
    }
    // A plain f32 product would have lost the low bits here.
    assert!(fast[[0, 0]] > 1 << 24);
}

/// The sigmoid program settles at σ(u) of its drive `u = gain·(x·W + b) + offset`, whatever the
/// time constants: exactly on the float core, within the table's resolution on the digital core
/// (half a bin of slope ≤ 1 plus an output step, plus the state's rounding), and through each
/// neuron's own gain and offset on an analog core (noise and converters off to see the curve).
#[test]
fn sigmoid_program_settles_at_sigma_of_its_drive_on_every_core() -> TestResult {
    let mut analog = HardwareProfile::load("analog-rram")?;
    if let chip_model::Arithmetic::Analog(a) = &mut analog.arithmetic {
        (a.read_noise, a.output_noise, a.adc_bits, a.dac_bits, a.conductance_bits) = (0.0, 0.0, 0, 0, 0);
    }
    analog.mismatch.neuron_gain_spread = 0.2;
    analog.mismatch.neuron_offset_spread = 0.1;
    let sigma = |u: f32| 1.0 / (1.0 + (2.0 - 4.0 * u).exp());
    for (name, p, tol) in [
        ("ideal", HardwareProfile::load("ideal")?, 1e-5),
        ("loihi2", HardwareProfile::load("loihi2")?, 4.0 / 256.0 / 2.0 + 2e-3),
        ("analog", analog, 1e-5),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let w = Array2::from_shape_fn((12, 6), |_| rng.random_range(-0.3f32..0.4));
        let x = Array2::from_shape_fn((2, 12), |_| rng.random_range(0.0f32..1.0));
        let bias = vec![-0.2f32, 0.0, 0.1, 0.3, -0.4, 0.2];
        for dt in [vec![1.0f32; 6], vec![0.9, 0.05, 0.3, 0.12, 0.7, 0.2]] {
            let mut chip = Chip::new(&p, 1)?;
            let input = chip.add_population(PopulationSpec::input("in", 12))?;
            let spec = PopulationSpec::rate_neurons("o", dt, bias.clone(), block(0, 6));
            let out = chip.add_population(spec.with_program(NeuronProgram::Sigmoid))?;
            let g = chip.connect(input, out, w.view(), ConnectOptions::default())?;
            chip.set_batch_size(2)?;
            chip.apply_input(input, x.view())?;
            chip.run(800, None)?;
            let s = chip.read_state(out)?;
            let (we, b) = (chip.read_effective_weights(g)?, chip.read_bias(out)?);
            let (gain, offset) =
                (chip.realised_neuron_gain(out)?.to_vec(), chip.realised_neuron_offset(out)?.to_vec());
            let xin = chip.read_activity(input)?;
            let drive = xin.dot(&we);
            let mut worst = 0.0f32;
            for e in 0..2 {
                for i in 0..6 {
                    let want = sigma(gain[i] * (drive[[e, i]] + b[i]) + offset[i]);
                    worst = worst.max((s[[e, i]] - want).abs());
                }
            }
            assert!(worst <= tol, "{name}: fixed point {worst} from σ(u)");
            assert!(s.iter().any(|&v| v > 0.2 && v < 0.8), "{name}: no neuron in σ's steep part");
        }
    }
    Ok(())
}

#[test]
fn the_fixed_point_does_not_depend_on_the_time_constants() -> TestResult {
    for profile in ["ideal", "loihi2"] {
        let p = HardwareProfile::load(profile)?;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let w = Array2::from_shape_fn((12, 6), |_| rng.random_range(-0.3f32..0.5));
        let x = Array2::from_shape_fn((2, 12), |_| rng.random_range(0.0f32..1.0));
        let mut states = Vec::new();
        for dt in [vec![0.5f32; 6], vec![0.9, 0.05, 0.3, 0.12, 0.7, 0.2]] {
            let mut chip = Chip::new(&p, 1)?;
            let input = chip.add_population(PopulationSpec::input("in", 12))?;
            let out =
                chip.add_population(PopulationSpec::rate_neurons("o", dt, vec![0.1; 6], block(0, 6)))?;
            chip.connect(input, out, w.view(), ConnectOptions::default())?;
            chip.set_batch_size(2)?;
            chip.apply_input(input, x.view())?;
            chip.run(600, None)?;
            states.push(chip.read_state(out)?);
        }
        let diff = (&states[0] - &states[1]).mapv(f32::abs).fold(0.0f32, |m, &x| m.max(x));
        // Digital: within a few state LSBs of rounding in the leaky integrator.
        let tol = if profile == "ideal" { 1e-5 } else { 2e-3 };
        assert!(diff < tol, "{profile}: fixed points differ by {diff}");
        assert!(states[0].iter().any(|&s| s > 0.05 && s < 0.95), "{profile}: no neuron in the linear range");
    }
    Ok(())
}

#[test]
fn counters_count_synaptic_ops_neuron_updates_and_learning() -> TestResult {
    let p = HardwareProfile::load("ideal")?;
    let mut chip = Chip::new(&p, 1)?;
    let input = chip.add_population(PopulationSpec::input("in", 4))?;
    let out =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![0.5; 3], vec![0.0; 3], block(0, 3)))?;
    let g = chip.connect(input, out, Array2::from_elem((4, 3), 0.1f32).view(), ConnectOptions::default())?;
    chip.set_batch_size(2)?;
    // Two nonzero inputs in example 0, one in example 1: 3 nonzero values × 3 targets per step.
    let x = ndarray::arr2(&[[1.0f32, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.2]]);
    chip.apply_input(input, x.view())?;
    chip.run(5, None)?;
    let c = chip.total_counters();
    assert_eq!(c.synaptic_ops, 5 * 3 * 3);
    assert_eq!(c.neuron_updates, 5 * 2 * 3);
    chip.latch_traces(TraceSlot::new(0)?);
    chip.latch_traces(TraceSlot::new(1)?);
    chip.learn(g, &SumOfProducts::contrastive(TraceSlot::new(1)?, TraceSlot::new(0)?), 1.0)?;
    assert_eq!(chip.total_counters().synaptic_updates, 12);
    assert!(chip.energy().total_j() > 0.0);
    Ok(())
}

#[test]
fn limits_are_enforced_with_the_numbers_in_the_message() -> TestResult {
    let p = HardwareProfile::load("loihi2")?;
    let mut chip = Chip::new(&p, 1)?;
    let err = chip
        .add_population(PopulationSpec::rate_neurons("big", vec![0.5; 9000], vec![0.0; 9000], block(0, 9000)))
        .err()
        .ok_or("9000 neurons on one core were accepted")?;
    let msg = err.to_string();
    assert!(msg.contains("9000") && msg.contains("8192") && msg.contains("big"), "{msg}");

    let input = chip.add_population(PopulationSpec::input("in", 784))?;
    let h = chip.add_population(PopulationSpec::rate_neurons(
        "h",
        vec![0.5; 500],
        vec![0.0; 500],
        block(0, 500),
    ))?;
    let err = chip
        .connect(input, h, Array2::zeros((784, 500)).view(), ConnectOptions::default())
        .err()
        .ok_or("784x500 synapses on one core were accepted")?;
    assert!(err.to_string().contains("synapse memory"), "{err}");
    Ok(())
}

#[test]
fn bad_requests_are_errors_not_panics() -> TestResult {
    let p = HardwareProfile::load("loihi2")?;
    let mut chip = Chip::new(&p, 1)?;
    let input = chip.add_population(PopulationSpec::input("in", 3))?;
    let out =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![0.5; 2], vec![0.0; 2], block(0, 2)))?;
    assert!(
        chip.add_population(PopulationSpec::rate_neurons("z", vec![1.5], vec![0.0], block(0, 1))).is_err()
    );
    assert!(
        chip.add_population(PopulationSpec::rate_neurons("g", vec![0.5; 2], vec![0.0; 2], block(500, 2)))
            .is_err()
    );
    assert!(chip.connect(input, out, Array2::zeros((2, 2)).view(), ConnectOptions::default()).is_err());
    assert!(chip.connect(out, input, Array2::zeros((2, 3)).view(), ConnectOptions::default()).is_err());
    assert!(chip.apply_input(input, Array2::zeros((5, 3)).view()).is_err());
    assert!(chip.apply_input(out, Array2::zeros((1, 2)).view()).is_err());
    assert!(chip.set_batch_size(0).is_err());
    let target = Array2::zeros((1, 2));
    assert!(chip.run(1, Some(&Nudge { population: input, target: target.view(), beta: 1.0 })).is_err());
    assert!(chip.run(1, Some(&Nudge { population: out, target: target.view(), beta: f32::NAN })).is_err());
    let g = chip.connect(input, out, Array2::zeros((3, 2)).view(), ConnectOptions::default())?;
    let rule = SumOfProducts::contrastive(TraceSlot::new(1)?, TraceSlot::new(0)?);
    assert!(chip.learn(g, &rule, 1.0).is_err(), "learning before latching traces must fail");
    Ok(())
}

#[test]
fn counters_are_exact_on_a_hand_computed_network() -> TestResult {
    // input(3, host) → A(3 neurons: 2 on core 0, 1 on core 1) ⇄ B(2 neurons on core 2).
    let p = HardwareProfile::load("loihi2")?;
    let mut chip = Chip::new(&p, 1)?;
    let input = chip.add_population(PopulationSpec::input("in", 3))?;
    let a_blocks = vec![CoreBlock { core: 0, start: 0, len: 2 }, CoreBlock { core: 1, start: 2, len: 1 }];
    let a = chip.add_population(PopulationSpec::rate_neurons("a", vec![1.0; 3], vec![0.5; 3], a_blocks))?;
    let b =
        chip.add_population(PopulationSpec::rate_neurons("b", vec![1.0; 2], vec![0.5; 2], block(2, 2)))?;
    let opts = ConnectOptions { weight_range: Some(0.5), mirror_of: None, ..Default::default() };
    chip.connect(input, a, Array2::from_elem((3, 3), 0.1f32).view(), opts.clone())?;
    let ab = chip.connect(a, b, Array2::from_elem((3, 2), 0.1f32).view(), opts.clone())?;
    chip.connect(
        b,
        a,
        Array2::from_elem((2, 3), 0.1f32).view(),
        ConnectOptions { mirror_of: Some(ab), ..opts },
    )?;
    chip.apply_input(input, ndarray::arr2(&[[1.0f32, 0.5, 0.25]]).view())?;
    // Step 1: only the 3 inputs are active; every neuron ends the step active (bias 0.5, dt = 1).
    chip.run(1, None)?;
    let c = chip.total_counters();
    assert_eq!(c.synaptic_ops, 3 * 3);
    assert_eq!(c.neuron_updates, 5);
    assert_eq!(c.spikes, 5);
    // Inputs reach cores 0 and 1 (3 × 2); A's core-0 neurons reach core 2 (2), its core-1 neuron
    // reaches core 2 (1); B's two neurons reach cores 0 and 1 (2 × 2).
    assert_eq!(c.messages, 6 + 2 + 1 + 4);
    // Step 2: inputs again, plus A → B (3 × 2) and B → A (2 × 3).
    chip.run(1, None)?;
    let c = chip.total_counters();
    assert_eq!(c.synaptic_ops, 9 + 9 + 6 + 6);
    assert_eq!((c.neuron_updates, c.spikes, c.messages), (10, 10, 26));
    chip.latch_traces(TraceSlot::new(0)?);
    assert_eq!(chip.total_counters().trace_latches, 5);
    // Per core: core 2 holds B, so it did B's 4 neuron updates and received 3 + 3 synaptic ops.
    assert_eq!(chip.cores()[2].counters.neuron_updates, 4);
    assert_eq!(chip.cores()[2].counters.synaptic_ops, 6);
    let e = chip.energy();
    let spec = &p.energy;
    let expected = (30.0 * spec.synaptic_op_pj
        + 10.0 * spec.neuron_update_pj
        + 10.0 * spec.spike_pj
        + 26.0 * spec.message_pj)
        * 1e-12;
    assert!((e.total_j() - expected).abs() < 1e-18, "{} vs {expected}", e.total_j());
    Ok(())
}

#[test]
fn fan_in_segments_move_synapses_to_relay_cores_without_changing_the_numbers() -> TestResult {
    // input(6, host) → A(2 neurons on core 0); A's synapses from inputs 0..3 live on core 1 and
    // from inputs 3..6 on core 2 (two relay cores, each with 2 relay compartments).
    let p = HardwareProfile::load("loihi2")?;
    let weights =
        Array2::from_shape_fn((6, 2), |(i, j)| 0.05 * (i as f32 + 1.0) * if j == 0 { 1.0 } else { -0.5 });
    let x = ndarray::arr2(&[[1.0f32, 0.0, 1.0, 1.0, 1.0, 0.0]]);
    let segments = vec![
        FanInSegment { post_block: 0, relay_core: 1, pre_start: 0, pre_len: 3 },
        FanInSegment { post_block: 0, relay_core: 2, pre_start: 3, pre_len: 3 },
    ];
    let mut states = Vec::new();
    let mut chips = Vec::new();
    for fan_in in [Vec::new(), segments.clone()] {
        let mut chip = Chip::new(&p, 1)?;
        let input = chip.add_population(PopulationSpec::input("in", 6))?;
        let a =
            chip.add_population(PopulationSpec::rate_neurons("a", vec![0.5; 2], vec![0.0; 2], block(0, 2)))?;
        chip.connect(
            input,
            a,
            weights.view(),
            ConnectOptions { weight_range: Some(0.5), fan_in, ..Default::default() },
        )?;
        chip.apply_input(input, x.view())?;
        chip.run(1, None)?;
        states.push(chip.read_state_raw(a)?);
        chips.push(chip);
    }
    assert_eq!(states[0], states[1], "partial sums add up to the same drive");
    let split = &chips[1];
    let bits = |targets: u64| chip_model::core_resources::axon_synapse_bits(&p.synapse_encoding, 8, targets);
    let core0 = &split.cores()[0];
    assert_eq!((core0.neurons, core0.input_axons, core0.synapse_bits), (2, 4, 4 * bits(1)));
    for relay in &split.cores()[1..3] {
        assert_eq!((relay.neurons, relay.input_axons, relay.output_axons), (2, 3, 2));
        assert_eq!(relay.synapse_bits, 3 * bits(2));
        // Two active inputs in each segment reach 2 relay compartments; each compartment updates
        // and sends its partial sum to core 0.
        assert_eq!(relay.counters.synaptic_ops, 4);
        assert_eq!((relay.counters.neuron_updates, relay.counters.messages), (2, 2));
    }
    // Core 0: the 4 relay synapses, A's 2 updates, and the host's 4 input messages (2 per relay core).
    assert_eq!(core0.counters.synaptic_ops, 4);
    assert_eq!((core0.counters.neuron_updates, core0.counters.messages), (2, 4));
    assert_eq!(chips[0].cores()[0].counters.synaptic_ops, 4 * 2);
    // Segments that do not cover the presynaptic range, or name a missing core, are refused.
    let mut chip = Chip::new(&p, 1)?;
    let input = chip.add_population(PopulationSpec::input("in", 6))?;
    let a =
        chip.add_population(PopulationSpec::rate_neurons("a", vec![0.5; 2], vec![0.0; 2], block(0, 2)))?;
    for bad in [
        vec![segments[0]],
        vec![segments[1], segments[0]],
        vec![FanInSegment { relay_core: 999, ..segments[0] }, segments[1]],
        vec![FanInSegment { post_block: 3, ..segments[0] }],
    ] {
        let options = ConnectOptions { fan_in: bad.clone(), ..Default::default() };
        assert!(chip.connect(input, a, weights.view(), options).is_err(), "{bad:?} accepted");
    }
    Ok(())
}

#[test]
fn settling_ends_a_phase_early_and_reports_its_steps() -> TestResult {
    for profile in ["ideal", "loihi2"] {
        let p = HardwareProfile::load(profile)?;
        let mut chip = Chip::new(&p, 1)?;
        let input = chip.add_population(PopulationSpec::input("in", 4))?;
        let out =
            chip.add_population(PopulationSpec::rate_neurons("o", vec![0.3; 3], vec![0.1; 3], block(0, 3)))?;
        chip.connect(input, out, Array2::from_elem((4, 3), 0.1f32).view(), ConnectOptions::default())?;
        chip.apply_input(input, Array2::from_elem((1, 4), 0.5f32).view())?;
        let steps = chip.run_until_settled(1000, 1e-3, None)?;
        assert!(steps > 1 && steps < 1000, "{profile}: {steps} steps");
        assert!(chip.last_max_change() < 1e-3);
        // The state is at the fixed point clip(bias + Σ w x) = 0.3 to within the tolerance's reach.
        let s = chip.read_state(out)?;
        assert!(s.iter().all(|&v| (v - 0.3).abs() < 5e-3), "{profile}: {s:?}");
        assert!(chip.run_until_settled(10, 0.0, None).is_err());
    }
    Ok(())
}

#[test]
fn cuba_lif_populations_on_the_chip_match_the_standalone_replay() -> TestResult {
    use chip_model::cuba_lif::{CubaLif, CubaLifParams, LoihiDense, replay};
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (n_in, n) = (5, 6);
    let weights: Vec<Vec<i64>> =
        (0..n).map(|_| (0..n_in).map(|_| rng.random_range(-300i64..300)).collect()).collect();
    let params = CubaLifParams {
        du: (0..n).map(|_| rng.random_range(0u16..4096)).collect(),
        dv: (0..n).map(|_| rng.random_range(0u16..4096)).collect(),
        vth: 400,
        bias_mant: (0..n).map(|_| rng.random_range(-200i64..400)).collect(),
        bias_exp: vec![1; n],
    };
    let spikes: Vec<Vec<bool>> = (0..40).map(|_| (0..n_in).map(|_| rng.random_bool(0.4)).collect()).collect();
    let dense = LoihiDense::new(weights, 1, 7)?;
    let expected = replay(&dense, &mut CubaLif::new(params.clone())?, &spikes, spikes.len())?;

    let p = HardwareProfile::load("loihi2")?;
    let mut chip = Chip::new(&p, 1)?;
    let input = chip.add_population(PopulationSpec::input("in", n_in))?;
    let lif = chip.add_population(PopulationSpec::cuba_lif(
        "lif",
        params,
        vec![CoreBlock { core: 0, start: 0, len: 4 }, CoreBlock { core: 1, start: 4, len: 2 }],
    ))?;
    chip.connect_lif(input, lif, dense)?;
    assert!(chip.connect(input, lif, Array2::zeros((n_in, n)).view(), ConnectOptions::default()).is_err());
    let mut total_spikes = 0;
    for t in 0..spikes.len() {
        // The chip's synapses deliver the previous step's activity, like Lava's dense buffer.
        let row: Vec<f32> = if t == 0 {
            vec![0.0; n_in]
        } else {
            spikes[t - 1].iter().map(|&s| f32::from(u8::from(s))).collect()
        };
        chip.apply_input(input, Array2::from_shape_vec((1, n_in), row)?.view())?;
        chip.run(1, None)?;
        let (u, v) = chip.read_lif_state(lif)?;
        assert_eq!(u[0], expected.u[t], "u at step {t}");
        assert_eq!(v[0], expected.v[t], "v at step {t}");
        let s: Vec<u8> = chip.read_activity(lif)?.iter().map(|&a| u8::from(a > 0.0)).collect();
        assert_eq!(s, expected.spikes[t], "spikes at step {t}");
        total_spikes += s.iter().map(|&x| usize::from(x)).sum::<usize>();
    }
    assert!(total_spikes > 0, "the test network never spiked");
    assert!(chip.total_counters().neuron_updates == 40 * 6);
    // The float profile refuses LIF neurons.
    let mut float = Chip::new(&HardwareProfile::load("ideal")?, 1)?;
    let params = CubaLifParams { du: vec![0], dv: vec![0], vth: 1, bias_mant: vec![0], bias_exp: vec![0] };
    assert!(float.add_population(PopulationSpec::cuba_lif("x", params, block(0, 1))).is_err());
    Ok(())
}

/// The symmetric EP estimate restores the free state and runs a second nudged phase: its traces
/// must not be mistaken for the first nudged phase's (the fast path shares products between traces
/// of one activity version; versions restored from a snapshot were once reused for other data,
/// which made `(+β) − (−β)` read `pre(+β)·(post(+β) − post(−β))`). Fast and per-synapse paths agree
/// on every core kind.
#[test]
fn traces_latched_after_a_restored_state_are_not_confused() -> TestResult {
    for (profile, tol) in [("ideal", 1e-5f32), ("loihi2", 0.0), ("analog-rram", 1e-5)] {
        let mut nets = [build(profile, 21)?, build(profile, 21)?];
        nets[1].chip.set_execution_path(ExecutionPath::Reference);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = random_batch(&mut rng, 3, 24, 0.2);
        let y = Array2::from_shape_fn((3, 5), |(b, i)| if b == i { 1.0 } else { 0.0 });
        let rule = SumOfProducts::contrastive(TraceSlot::new(1)?, TraceSlot::new(2)?);
        for net in &mut nets {
            if profile == "analog-rram" {
                // Same read noise on both chips: the paths differ only in how they learn.
                net.chip.set_execution_path(ExecutionPath::Fast);
            }
            net.chip.set_batch_size(3)?;
            net.chip.apply_input(net.input, x.view())?;
            net.chip.run(10, None)?;
            let free = net.chip.save_state();
            net.chip.run(4, Some(&Nudge { population: net.output, target: y.view(), beta: 0.5 }))?;
            net.chip.latch_traces(TraceSlot::new(1)?);
            net.chip.restore_state(&free)?;
            net.chip.run(4, Some(&Nudge { population: net.output, target: y.view(), beta: -0.5 }))?;
            net.chip.latch_traces(TraceSlot::new(2)?);
        }
        nets[1].chip.set_execution_path(ExecutionPath::Reference);
        for net in &mut nets {
            net.chip.learn(net.groups[1], &rule, 0.7)?;
        }
        let (fast, reference) =
            (nets[0].chip.read_weights(nets[0].groups[1])?, nets[1].chip.read_weights(nets[1].groups[1])?);
        let diff = (&fast - &reference).mapv(f32::abs).fold(0.0f32, |m, &d| m.max(d));
        assert!(diff <= tol, "{profile}: fast and per-synapse symmetric updates differ by {diff}");
        let before = build(profile, 21)?.chip.read_weights(nets[0].groups[1])?;
        assert!((&fast - &before).iter().any(|d| d.abs() > 1e-6), "{profile}: nothing learned");
    }
    Ok(())
}

/// A rule whose terms group into one product of several terms (built as a matrix, with
/// coefficients other than ±1) and one of a single −1 term (read from its trace in place) learns
/// the same on the fast and the per-synapse paths, on groups and biases, on every core kind.
#[test]
fn mixed_coefficient_rules_agree_on_both_paths() -> TestResult {
    for (profile, tol) in [("ideal", 1e-5f32), ("loihi2", 0.0), ("analog-rram", 1e-5)] {
        let mut nets = [build(profile, 23)?, build(profile, 23)?];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x = random_batch(&mut rng, 4, 24, 0.3);
        let y = Array2::from_shape_fn((4, 5), |(b, i)| if b % 5 == i { 1.0 } else { 0.0 });
        let (a, b) = (TraceSlot::new(1)?, TraceSlot::new(2)?);
        let term = |coefficient, pre, post| chip_model::ProductTerm { coefficient, pre, post };
        let rule = SumOfProducts::new(vec![
            term(0.5, Some(a), Some(a)),
            term(-1.0, Some(b), Some(b)),
            term(1.5, Some(a), Some(b)),
        ])?;
        for net in &mut nets {
            net.chip.set_batch_size(4)?;
            net.chip.apply_input(net.input, x.view())?;
            net.chip.run(8, None)?;
            net.chip.latch_traces(b);
            net.chip.run(4, Some(&Nudge { population: net.output, target: y.view(), beta: 0.5 }))?;
            net.chip.latch_traces(a);
        }
        nets[1].chip.set_execution_path(ExecutionPath::Reference);
        for net in &mut nets {
            net.chip.learn(net.groups[1], &rule, 0.25)?;
            net.chip.learn_bias(net.output, &rule, 0.25)?;
        }
        let weights = |net: &Net| net.chip.read_weights(net.groups[1]);
        let (fast, reference) = (weights(&nets[0])?, weights(&nets[1])?);
        let diff = (&fast - &reference).mapv(f32::abs).fold(0.0f32, |m, &d| m.max(d));
        assert!(diff <= tol, "{profile}: fast and per-synapse updates differ by {diff}");
        let before = build(profile, 23)?.chip.read_weights(nets[0].groups[1])?;
        assert!((&fast - &before).iter().any(|d| d.abs() > 1e-6), "{profile}: nothing learned");
        let (fast, reference) =
            (nets[0].chip.read_bias(nets[0].output)?, nets[1].chip.read_bias(nets[1].output)?);
        let diff = fast.iter().zip(&reference).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(diff <= tol, "{profile}: fast and per-neuron bias updates differ by {diff}");
    }
    Ok(())
}

/// A loihi2 chip with 40 inputs at 1.0 into 40 saturated neurons (weights 0, range 1, so the
/// weight exponent is 2 and a mantissa step is 2^(6 + 2 − 14) = 2^−6), traces latched in slot 0:
/// every pre and post trace is 255 >> 1 = 127 (8-bit payloads, 7-bit traces, step 2^−7).
fn digital_rig(path: ExecutionPath) -> Result<(Chip, GroupId, PopulationId), Box<dyn std::error::Error>> {
    let mut chip = Chip::new(&HardwareProfile::load("loihi2")?, 3)?;
    chip.set_execution_path(path);
    let input = chip.add_population(PopulationSpec::input("in", 40))?;
    let out =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![1.0; 40], vec![1.5; 40], block(0, 40)))?;
    let opts = ConnectOptions { weight_range: Some(1.0), ..Default::default() };
    let g = chip.connect(input, out, Array2::zeros((40, 40)).view(), opts)?;
    assert_eq!(chip.weight_exponent(g)?, 2);
    chip.apply_input(input, Array2::ones((1, 40)).view())?;
    chip.run(2, None)?;
    assert!(chip.read_activity(out)?.iter().all(|&a| a == 255.0 / 256.0), "post activity not saturated");
    chip.latch_traces(TraceSlot::new(0)?);
    Ok((chip, g, out))
}

/// The global scalar that asks for `steps` weight-mantissa steps on [`digital_rig`]:
/// `global · 127 · 127 · 2^−14 / 2^−6 = steps`.
fn global_for_steps(steps: f64) -> f32 {
    (steps * 256.0 / (127.0 * 127.0)) as f32
}

/// The digital learning engine on both paths, against hand-computed numbers rather than each
/// other: a request of ±2.3 mantissa steps moves every mantissa by 2 or 3 steps (the sign of the
/// request), 2.3 on average within a 4.5σ binomial interval over 1,600 synapses; large requests
/// saturate weights at ±(2^7 − 1) and biases at ±(2^12 − 1).
#[test]
fn digital_updates_round_stochastically_without_bias_and_saturate() -> TestResult {
    let rule = SumOfProducts::new(vec![chip_model::ProductTerm {
        coefficient: 1.0,
        pre: Some(TraceSlot::new(0)?),
        post: Some(TraceSlot::new(0)?),
    }])?;
    for path in [ExecutionPath::Fast, ExecutionPath::Reference] {
        for sign in [1.0f64, -1.0] {
            let (mut chip, g, _) = digital_rig(path)?;
            chip.learn(g, &rule, global_for_steps(sign * 2.3))?;
            let (m, _) = chip.read_weight_mantissas(g)?;
            let ups = m.iter().filter(|&&x| f64::from(x) == sign * 3.0).count();
            assert!(
                m.iter().all(|&x| f64::from(x) == sign * 2.0 || f64::from(x) == sign * 3.0),
                "{path:?}: a request of {} steps gave mantissas outside {{2, 3}}: {m}",
                sign * 2.3
            );
            // Binomial(1600, 0.3): 480 ± 18.3; 4.5σ is ±82.
            assert!(
                (398..=562).contains(&ups),
                "{path:?}, sign {sign}: {ups} of 1600 rounded away from zero"
            );
            let mean = m.iter().map(|&x| f64::from(x)).sum::<f64>() / m.len() as f64;
            assert!((mean - sign * 2.3).abs() < 0.052, "{path:?}: mean step {mean}");
        }
        let (mut chip, g, out) = digital_rig(path)?;
        for (steps, limit) in [(1000.0, 127), (-3000.0, -127)] {
            chip.learn(g, &rule, global_for_steps(steps))?;
            let (m, _) = chip.read_weight_mantissas(g)?;
            assert!(m.iter().all(|&x| x == limit), "{path:?}: weights did not saturate at {limit}: {m}");
            assert!(chip.read_weights(g)?.iter().all(|&w| w == limit as f32 / 64.0));
        }
        // Biases: a step is 2^(4 − 14) (13-bit mantissas covering ±4); a request of 10,000 steps.
        let bias_rule = SumOfProducts::new(vec![chip_model::ProductTerm {
            coefficient: 1.0,
            pre: None,
            post: Some(TraceSlot::new(0)?),
        }])?;
        for (steps, limit) in [(10_000.0f32, 4095i64), (-30_000.0, -4095)] {
            // global · 127 · 2^−7 / 2^−10 = steps.
            chip.learn_bias(out, &bias_rule, steps / 1016.0)?;
            let neurons = chip.read_digital_neurons(out)?.ok_or("no digital neurons")?;
            assert!(
                neurons.bias_mantissa.iter().all(|&b| b == limit),
                "{path:?}: biases did not saturate at {limit}"
            );
        }
    }
    Ok(())
}

/// Rules with constant factors (a term without a pre or post trace: the real value 1) move digital
/// weights and biases by the hand-computed number of mantissa steps, identically on the fast and
/// the reference path (the fast path once counted a constant as one trace step, 2^−7, so these
/// rules learned 128 times too little there).
#[test]
fn digital_rules_with_constant_factors_agree_on_both_paths() -> TestResult {
    let slot = Some(TraceSlot::new(0)?);
    let term = |pre, post| chip_model::ProductTerm { coefficient: 1.0, pre, post };
    // (rule, global, mantissa steps): a weight step is 2^−6, traces are 127 · 2^−7 in real units.
    let cases = [
        (term(None, None), 0.15625f32, 10.0f64),
        (term(None, slot), 0.25, 0.25 * 63.5),
        (term(slot, None), 0.25, 0.25 * 63.5),
    ];
    for (t, global, steps) in cases {
        let rule = SumOfProducts::new(vec![t])?;
        let mut mantissas = Vec::new();
        for path in [ExecutionPath::Fast, ExecutionPath::Reference] {
            let (mut chip, g, _) = digital_rig(path)?;
            chip.learn(g, &rule, global)?;
            let (m, _) = chip.read_weight_mantissas(g)?;
            let (lo, hi) = (steps.floor() as i32, steps.ceil() as i32);
            assert!(
                m.iter().all(|&x| x == lo || x == hi),
                "{path:?} {t:?}: mantissas {m}, expected {steps} steps"
            );
            let mean = m.iter().map(|&x| f64::from(x)).sum::<f64>() / m.len() as f64;
            assert!((mean - steps).abs() < 0.05, "{path:?} {t:?}: mean {mean} steps, expected {steps}");
            mantissas.push(m);
        }
        assert_eq!(mantissas[0], mantissas[1], "{t:?}: fast and reference paths differ");
    }
    // A bias rule `global · 1`: a bias step is 2^−10, so global 2^−7 is 8 steps.
    let rule = SumOfProducts::new(vec![term(slot, None)])?;
    for path in [ExecutionPath::Fast, ExecutionPath::Reference] {
        let (mut chip, _, out) = digital_rig(path)?;
        let before: Vec<i64> = chip.read_digital_neurons(out)?.ok_or("digital")?.bias_mantissa.to_vec();
        chip.learn_bias(out, &rule, 1.0 / 128.0)?;
        let after = chip.read_digital_neurons(out)?.ok_or("digital")?.bias_mantissa.to_vec();
        for (a, b) in after.iter().zip(&before) {
            assert_eq!(a - b, 8, "{path:?}: bias moved by {} steps, expected 8", a - b);
        }
    }
    Ok(())
}
