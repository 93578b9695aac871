//! The analog core's non-idealities, each measured against the profile with fixed seeds.

use chip_model::{
    AnalogArithmetic, Arithmetic, Bounds, Chip, ConnectOptions, CoreBlock, HardwareProfile, MismatchSpec,
    PopulationSpec, ProductTerm, PulsedUpdate, SumOfProducts, TraceSlot,
};
use ndarray::Array2;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An analog profile with every non-ideality off and no resource limits.
fn clean_analog() -> Result<HardwareProfile, Box<dyn std::error::Error>> {
    let mut p = HardwareProfile::load("analog-rram")?;
    p.name = "analog-clean".into();
    p.chip.cores = 16;
    p.core_limits = Default::default();
    p.mismatch = MismatchSpec::default();
    p.arithmetic = Arithmetic::Analog(AnalogArithmetic {
        dac_bits: 0,
        dac_range: 1.0,
        adc_bits: 0,
        adc_range: 1.0,
        conductance_bits: 0,
        output_noise: 0.0,
        read_noise: 0.0,
        stuck_on_fraction: 0.0,
        stuck_off_fraction: 0.0,
        update: PulsedUpdate {
            dw_min: 0.0,
            dw_min_dtod: 0.0,
            dw_min_std: 0.0,
            up_down: 0.0,
            up_down_dtod: 0.0,
            bounds: Bounds::Hard,
        },
        programming_noise: 0.0,
        drift: chip_model::ConductanceDrift::None,
        drift_while_training: false,
    });
    p.validate()?;
    Ok(p)
}

fn analog_mut(p: &mut HardwareProfile) -> &mut AnalogArithmetic {
    match &mut p.arithmetic {
        Arithmetic::Analog(a) => a,
        _ => unreachable!("clean_analog builds an analog profile"),
    }
}

/// `n` neurons in blocks of 500 on consecutive cores.
fn blocks(n: usize) -> Vec<CoreBlock> {
    (0..n.div_ceil(500)).map(|k| CoreBlock { core: k, start: k * 500, len: (n - k * 500).min(500) }).collect()
}

fn mean_cv(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt() / mean)
}

#[test]
fn realised_device_spreads_match_the_profile() -> TestResult {
    let mut p = clean_analog()?;
    p.mismatch = MismatchSpec {
        tau_spread: 0.2,
        synapse_gain_spread: 0.1,
        neuron_gain_spread: 0.15,
        neuron_offset_spread: 0.05,
    };
    let mut chip = Chip::new(&p, 7)?;
    let n = 4000;
    let input = chip.add_population(PopulationSpec::input("in", 60))?;
    let pop =
        chip.add_population(PopulationSpec::rate_neurons("h", vec![0.25; n], vec![0.0; n], blocks(n)))?;
    let g = chip.connect(input, pop, Array2::from_elem((60, n), 0.1f32).view(), ConnectOptions::default())?;
    // Time constants: realised dt = designed dt / factor, factor log-normal with mean 1, cv 0.2.
    let factors: Vec<f32> = chip.realised_dt(pop)?.iter().map(|&dt| 0.25 / dt).collect();
    let (mean, cv) = mean_cv(&factors);
    assert!((mean - 1.0).abs() < 0.015 && (cv - 0.2).abs() < 0.015, "tau factor mean {mean} cv {cv}");
    let (mean, cv) = mean_cv(chip.realised_neuron_gain(pop)?);
    assert!((mean - 1.0).abs() < 0.01 && (cv - 0.15).abs() < 0.01, "neuron gain mean {mean} cv {cv}");
    let offsets = chip.realised_neuron_offset(pop)?;
    let sd = (offsets.iter().map(|&o| f64::from(o).powi(2)).sum::<f64>() / n as f64).sqrt();
    assert!((sd - 0.05).abs() < 0.003, "offset sd {sd}");
    let gains = chip.synapse_gains(g)?.ok_or("no synapse gains drawn")?;
    let (mean, cv) = mean_cv(gains.as_slice().ok_or("layout")?);
    assert!((mean - 1.0).abs() < 0.002 && (cv - 0.1).abs() < 0.002, "synapse gain mean {mean} cv {cv}");
    // The same seed realises the same devices; another seed other devices.
    let again = Chip::new(&p, 7)?;
    let other = Chip::new(&p, 8)?;
    let mut a2 = again;
    let mut o2 = other;
    for c in [&mut a2, &mut o2] {
        c.add_population(PopulationSpec::input("in", 60))?;
        c.add_population(PopulationSpec::rate_neurons("h", vec![0.25; n], vec![0.0; n], blocks(n)))?;
    }
    assert_eq!(a2.realised_dt(pop)?, chip.realised_dt(pop)?);
    assert_ne!(o2.realised_dt(pop)?, chip.realised_dt(pop)?);
    Ok(())
}

#[test]
fn read_noise_has_the_standard_deviation_of_the_profile() -> TestResult {
    let mut p = clean_analog()?;
    analog_mut(&mut p).output_noise = 0.1;
    analog_mut(&mut p).read_noise = 0.05;
    let mut chip = Chip::new(&p, 3)?;
    let input = chip.add_population(PopulationSpec::input("in", 50))?;
    // dt = 1: the state is exactly drive + bias, so it shows the noise of each step.
    let pop =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![1.0; 200], vec![0.5; 200], blocks(200)))?;
    let range = 0.5f32;
    chip.connect(
        input,
        pop,
        Array2::zeros((50, 200)).view(),
        ConnectOptions { weight_range: Some(range), mirror_of: None, ..Default::default() },
    )?;
    chip.set_batch_size(4)?;
    chip.apply_input(input, Array2::from_elem((4, 50), 0.6f32).view())?;
    let mut samples = Vec::new();
    for _ in 0..50 {
        chip.run(1, None)?;
        samples.extend(chip.read_state(pop)?.iter().map(|&s| f64::from(s) - 0.5));
    }
    // σ² = (0.1 R)² + (0.05 R)² ‖x‖² with ‖x‖² = 50 · 0.36.
    let expected = ((0.1 * 0.5f64).powi(2) + (0.05 * 0.5f64).powi(2) * 50.0 * 0.36).sqrt();
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 3.0 * expected / n.sqrt() + 1e-6, "mean {mean}");
    assert!((sd / expected - 1.0).abs() < 0.02, "measured sd {sd}, expected {expected}");
    Ok(())
}

#[test]
fn adc_quantises_and_saturates_at_its_range() -> TestResult {
    let mut p = clean_analog()?;
    analog_mut(&mut p).adc_bits = 8;
    analog_mut(&mut p).adc_range = 2.0;
    let full_scale = 2.0 * 0.1; // adc_range × R × dac_range
    for (weight, expected) in [(0.1f32, 0.3 + full_scale), (-0.1, 0.3 - full_scale)] {
        let mut chip = Chip::new(&p, 1)?;
        let input = chip.add_population(PopulationSpec::input("in", 100))?;
        let pop =
            chip.add_population(PopulationSpec::rate_neurons("o", vec![1.0; 3], vec![0.3; 3], blocks(3)))?;
        chip.connect(
            input,
            pop,
            Array2::from_elem((100, 3), weight).view(),
            ConnectOptions { weight_range: Some(0.1), mirror_of: None, ..Default::default() },
        )?;
        chip.apply_input(input, Array2::ones((1, 100)).view())?;
        chip.run(1, None)?;
        // The column sum is ±10, far beyond the ±0.2 full scale.
        for &s in chip.read_state(pop)?.iter() {
            assert!((f64::from(s) - expected).abs() < 1e-6, "state {s}, expected {expected}");
        }
    }
    // Inside the range, outputs sit on the 127-step grid of the full scale.
    let mut chip = Chip::new(&p, 1)?;
    let input = chip.add_population(PopulationSpec::input("in", 1))?;
    let pop = chip.add_population(PopulationSpec::rate_neurons("o", vec![1.0], vec![0.3], blocks(1)))?;
    chip.connect(
        input,
        pop,
        Array2::from_elem((1, 1), 0.0123f32).view(),
        ConnectOptions { weight_range: Some(0.1), mirror_of: None, ..Default::default() },
    )?;
    chip.apply_input(input, Array2::ones((1, 1)).view())?;
    chip.run(1, None)?;
    let step = full_scale / 127.0;
    let out = f64::from(chip.read_state(pop)?[[0, 0]]) - 0.3;
    assert!((out - (0.0123 / step).round() * step).abs() < 1e-6, "output {out}");
    Ok(())
}

/// A chip with one 40×40 synapse group whose traces are all 1, and a rule `Δw = global`.
type Rig = (Chip, chip_model::GroupId, SumOfProducts, chip_model::PopulationId);

fn pulse_rig(p: &HardwareProfile) -> Result<Rig, Box<dyn std::error::Error>> {
    let mut chip = Chip::new(p, 5)?;
    let input = chip.add_population(PopulationSpec::input("in", 40))?;
    let pop =
        chip.add_population(PopulationSpec::rate_neurons("o", vec![1.0; 40], vec![1.0; 40], blocks(40)))?;
    let g = chip.connect(
        input,
        pop,
        Array2::zeros((40, 40)).view(),
        ConnectOptions { weight_range: Some(1.0), mirror_of: None, ..Default::default() },
    )?;
    chip.apply_input(input, Array2::ones((1, 40)).view())?;
    chip.run(2, None)?;
    let slot = TraceSlot::new(0)?;
    chip.latch_traces(slot);
    let rule = SumOfProducts::new(vec![ProductTerm { coefficient: 1.0, pre: Some(slot), post: Some(slot) }])?;
    Ok((chip, g, rule, pop))
}

#[test]
fn stuck_devices_ignore_updates() -> TestResult {
    let mut p = clean_analog()?;
    let a = analog_mut(&mut p);
    a.stuck_on_fraction = 0.1;
    a.stuck_off_fraction = 0.1;
    a.update.dw_min = 0.01;
    let (mut chip, g, rule, pop) = pulse_rig(&p)?;
    let stuck = chip.stuck_devices(g)?.to_vec();
    let on = stuck.iter().filter(|d| d.2 != 0.0).count();
    let off = stuck.len() - on;
    // 1,600 devices, 10 % each way: 160 ± 3 standard deviations (12).
    assert!((124..=196).contains(&on) && (124..=196).contains(&off), "{on} on, {off} off");
    for _ in 0..20 {
        chip.learn(g, &rule, 0.05)?;
    }
    let w = chip.read_weights(g)?;
    for &(j, i, value) in &stuck {
        assert_eq!(w[[j, i]], value, "stuck device ({j}, {i}) moved");
    }
    // Free devices move wherever the postsynaptic neuron is active (stuck devices at −R can silence
    // a column: those columns get no update at all).
    let post = chip.read_activity(pop)?;
    let mut moved = 0;
    for ((j, i), &x) in w.indexed_iter() {
        if post[[0, i]] > 0.9 && !stuck.iter().any(|d| d.0 == j && d.1 == i) {
            assert!(x > 0.5, "free device ({j}, {i}) in an active column did not move: {x}");
            moved += 1;
        }
    }
    assert!(moved > 600, "only {moved} free devices in active columns");
    Ok(())
}

#[test]
fn asymmetric_devices_drift_under_balanced_pulses() -> TestResult {
    let mut results = Vec::new();
    for asymmetry in [0.0, 0.2] {
        let mut p = clean_analog()?;
        let a = analog_mut(&mut p);
        a.update.dw_min = 0.001;
        a.update.up_down = asymmetry;
        let (mut chip, g, rule, _) = pulse_rig(&p)?;
        // 100 pairs of +5 pulses and −5 pulses (R = 1, dw_min = 0.001).
        for _ in 0..100 {
            chip.learn(g, &rule, 0.005)?;
            chip.learn(g, &rule, -0.005)?;
        }
        let w = chip.read_weights(g)?;
        results.push(w.mean().ok_or("empty")?);
    }
    // Each pair moves 5·dw·(1 + a) up and 5·dw·(1 − a) down: a drift of 10·a·dw per pair.
    assert!(results[0].abs() < 1e-5, "symmetric devices drifted by {}", results[0]);
    let expected = 100.0 * 10.0 * 0.2 * 0.001;
    assert!((results[1] - expected).abs() < 1e-4, "drift {} expected {expected}", results[1]);
    Ok(())
}

/// Mean and coefficient of variation of the 1,600 weights of the pulse rig after one request of
/// 100 pulses (R = 1, dw_min = 0.001), with the given device-to-device and cycle-to-cycle spreads.
fn spread_after_100_pulses(dtod: f64, c2c: f64) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let mut p = clean_analog()?;
    let a = analog_mut(&mut p);
    a.update.dw_min = 0.001;
    a.update.dw_min_std = c2c;
    a.update.dw_min_dtod = dtod;
    let (mut chip, g, rule, _) = pulse_rig(&p)?;
    chip.learn(g, &rule, 0.1)?; // 100 pulses each
    let w = chip.read_weights(g)?;
    Ok(mean_cv(w.as_slice().ok_or("layout")?))
}

/// Each source of pulse scatter alone has the spread the profile asks for, and together they add
/// in quadrature. Alone, cycle-to-cycle noise gives 0.5·√100/100 = 0.05 (a test of the sum only,
/// √(0.3² + 0.05²) ≈ 0.304, cannot see it: without it the sum is 0.300).
#[test]
fn cycle_to_cycle_noise_and_device_spread_scatter_equal_requests() -> TestResult {
    // 1,600 devices: the sample cv has a relative standard error of about 1/√3200 ≈ 1.8 %.
    let (mean, cv) = spread_after_100_pulses(0.0, 0.5)?;
    assert!((mean - 0.1).abs() < 0.001, "cycle-to-cycle alone: mean {mean}");
    assert!((cv - 0.05).abs() < 0.005, "cycle-to-cycle alone: cv {cv}, expected 0.05");
    let (mean, cv) = spread_after_100_pulses(0.3, 0.0)?;
    assert!((mean - 0.1).abs() < 0.003, "device spread alone: mean {mean}");
    assert!((cv - 0.3).abs() < 0.02, "device spread alone: cv {cv}, expected 0.3");
    let (mean, cv) = spread_after_100_pulses(0.0, 0.0)?;
    assert!((mean - 0.1).abs() < 1e-4 && cv < 1e-3, "no spread: mean {mean}, cv {cv}");
    // Mean 100 · 0.001; spread from the device-to-device step (0.3) and the noise of 100 pulses
    // (0.05): √(0.3² + 0.05²) ≈ 0.304.
    let (mean, cv) = spread_after_100_pulses(0.3, 0.5)?;
    assert!((mean - 0.1).abs() < 0.01, "mean {mean}");
    assert!((cv - 0.304).abs() < 0.04, "cv {cv}");
    Ok(())
}

/// Soft bounds (the analog-rram default): one pulse at a time from w = 0 follows the closed form
/// `w_n = ±R(1 − (1 − dw/R)^n)`; at w = R/2 an up-pulse is half a step and a down-pulse one and a
/// half; a device at ±R does not move further toward its bound. Stuck devices stay exactly at
/// their value under either bound type.
#[test]
fn soft_bounds_follow_the_closed_form_and_halve_the_step_at_half_range() -> TestResult {
    let mut p = clean_analog()?;
    let a = analog_mut(&mut p);
    a.update.dw_min = 0.01;
    a.update.bounds = Bounds::Soft;
    let (r, dw) = (1.0f64, 0.01f64);
    for sign in [1.0f32, -1.0] {
        let (mut chip, g, rule, _) = pulse_rig(&p)?;
        for n in 1..=300u32 {
            // A request of exactly one pulse (global · traces / (dw_min · R) = 1).
            chip.learn(g, &rule, sign * 0.01)?;
            if [1, 10, 69, 150, 300].contains(&n) {
                let want = f64::from(sign) * r * (1.0 - (1.0 - dw / r).powi(n as i32));
                for &w in chip.read_weights(g)?.iter() {
                    assert!(
                        (f64::from(w) - want).abs() < 2e-5,
                        "sign {sign}, pulse {n}: {w}, closed form {want}"
                    );
                }
            }
        }
    }
    let (mut chip, g, rule, _) = pulse_rig(&p)?;
    chip.write_weights(g, Array2::from_elem((40, 40), 0.5f32).view())?;
    chip.learn(g, &rule, 0.01)?;
    for &w in chip.read_weights(g)?.iter() {
        assert!((f64::from(w) - (0.5 + 0.005)).abs() < 1e-6, "up-pulse at R/2 moved to {w}, expected 0.505");
    }
    chip.write_weights(g, Array2::from_elem((40, 40), 0.5f32).view())?;
    chip.learn(g, &rule, -0.01)?;
    for &w in chip.read_weights(g)?.iter() {
        assert!(
            (f64::from(w) - (0.5 - 0.015)).abs() < 1e-6,
            "down-pulse at R/2 moved to {w}, expected 0.485"
        );
    }
    for bound in [1.0f32, -1.0] {
        chip.write_weights(g, Array2::from_elem((40, 40), bound).view())?;
        for _ in 0..5 {
            chip.learn(g, &rule, bound * 0.05)?;
        }
        assert!(chip.read_weights(g)?.iter().all(|&w| w == bound), "a device at {bound} moved past it");
    }
    Ok(())
}

/// Hard bounds: full steps of dw·R up to the bound, then exactly R (never beyond), and back down
/// in full steps.
#[test]
fn hard_bounds_stop_exactly_at_the_range() -> TestResult {
    let mut p = clean_analog()?;
    analog_mut(&mut p).update.dw_min = 0.01;
    let (mut chip, g, rule, _) = pulse_rig(&p)?;
    chip.write_weights(g, Array2::from_elem((40, 40), 0.955f32).view())?;
    for n in 1..=4 {
        chip.learn(g, &rule, 0.01)?;
        let want = (0.955 + 0.01 * f64::from(n)).min(1.0);
        for &w in chip.read_weights(g)?.iter() {
            assert!(w <= 1.0, "a device went past R: {w}");
            assert!((f64::from(w) - want).abs() < 1e-6, "pulse {n}: {w}, expected {want}");
        }
    }
    // Ten more pulses (one request) leave every device exactly at R.
    chip.learn(g, &rule, 0.1)?;
    assert!(chip.read_weights(g)?.iter().all(|&w| w == 1.0), "devices not exactly at R");
    chip.learn(g, &rule, -0.01)?;
    for &w in chip.read_weights(g)?.iter() {
        assert!((w - 0.99).abs() < 1e-6, "a down-pulse from R gave {w}, expected 0.99");
    }
    // From the bottom: exactly −R.
    chip.write_weights(g, Array2::from_elem((40, 40), -0.98f32).view())?;
    chip.learn(g, &rule, -0.05)?;
    assert!(chip.read_weights(g)?.iter().all(|&w| w == -1.0), "devices not exactly at −R");
    Ok(())
}

/// Stuck devices keep their exact value (0 or ±R) under soft and hard bounds, whatever the sign of
/// the requests and whatever is written, in the stored and in the effective weights.
#[test]
fn stuck_devices_stay_exactly_where_they_are_under_either_bound() -> TestResult {
    for bounds in [Bounds::Soft, Bounds::Hard] {
        let mut p = clean_analog()?;
        let a = analog_mut(&mut p);
        (a.stuck_on_fraction, a.stuck_off_fraction) = (0.1, 0.1);
        (a.update.dw_min, a.update.bounds) = (0.01, bounds);
        p.mismatch.synapse_gain_spread = 0.1;
        let (mut chip, g, rule, _) = pulse_rig(&p)?;
        let stuck = chip.stuck_devices(g)?.to_vec();
        assert!(stuck.iter().any(|d| d.2 == 1.0) && stuck.iter().any(|d| d.2 == -1.0));
        assert!(stuck.iter().any(|d| d.2 == 0.0));
        chip.write_weights(g, Array2::from_elem((40, 40), 0.3f32).view())?;
        let gains = chip.synapse_gains(g)?.ok_or("no synapse gains")?.clone();
        for global in [0.05f32, -0.2, 0.3, -0.05] {
            chip.learn(g, &rule, global)?;
            let (w, e) = (chip.read_weights(g)?, chip.read_effective_weights(g)?);
            for &(j, i, value) in &stuck {
                assert_eq!(w[[j, i]], value, "{bounds:?}: stuck device ({j}, {i}) moved");
                assert_eq!(e[[j, i]], value * gains[[j, i]], "{bounds:?}: effective weight of ({j}, {i})");
            }
        }
    }
    Ok(())
}

#[test]
fn fractional_requests_are_rounded_to_whole_pulses_without_bias() -> TestResult {
    let mut p = clean_analog()?;
    analog_mut(&mut p).update.dw_min = 0.001;
    let (mut chip, g, rule, pop) = pulse_rig(&p)?;
    assert!(chip.read_activity(pop)?.iter().all(|&a| a > 0.99), "every trace must be 1 for this rig");
    // 0.3 pulses requested per update, 100 updates: each device takes Binomial(100, 0.3) pulses.
    for _ in 0..100 {
        chip.learn(g, &rule, 0.0003)?;
    }
    let w = chip.read_weights(g)?;
    let pulses: Vec<f64> = w.iter().map(|&x| f64::from(x) / 0.001).collect();
    for &k in &pulses {
        assert!((k - k.round()).abs() < 1e-2, "a device moved by a fraction of a pulse: {k}");
    }
    let n = pulses.len() as f64;
    let mean = pulses.iter().sum::<f64>() / n;
    let var = pulses.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // Mean 30 (standard error √(21/1600) ≈ 0.115), variance 21 (sampling spread about 3.5 %).
    assert!((mean - 30.0).abs() < 0.6, "mean pulses {mean}");
    assert!((var / 21.0 - 1.0).abs() < 0.2, "variance of pulse counts {var}");
    Ok(())
}
