//! Programming from outside and retention: the write error of program-and-verify, power-law drift
//! against its closed form, relaxation that broadens with log-time along one trajectory per device,
//! stuck devices that stay, and digital synapses that do not drift.

use chip_model::{
    Arithmetic, Chip, ConductanceDrift, ConnectOptions, CoreBlock, GroupId, HardwareProfile, MismatchSpec,
    PopulationSpec,
};
use ndarray::Array2;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PRE: usize = 100;
const POST: usize = 400;

/// analog-rram without noise, faults or mismatch, with the given write error and drift.
fn analog(
    programming_noise: f64,
    drift: ConductanceDrift,
    stuck: f64,
) -> Result<HardwareProfile, Box<dyn std::error::Error>> {
    let mut p = HardwareProfile::load("analog-rram")?;
    p.core_limits = Default::default();
    p.mismatch = MismatchSpec::default();
    if let Arithmetic::Analog(a) = &mut p.arithmetic {
        a.output_noise = 0.0;
        a.dac_bits = 0;
        a.adc_bits = 0;
        a.stuck_on_fraction = stuck;
        a.stuck_off_fraction = 0.0;
        a.programming_noise = programming_noise;
        a.drift = drift;
    }
    p.validate()?;
    Ok(p)
}

/// A chip with one PRE × POST group of range 1, its weights a ramp in (−0.8, 0.8).
fn one_group(
    p: &HardwareProfile,
    seed: u64,
) -> Result<(Chip, GroupId, Array2<f32>), Box<dyn std::error::Error>> {
    let mut chip = Chip::new(p, seed)?;
    let input = chip.add_population(PopulationSpec::input("in", PRE))?;
    let blocks = vec![CoreBlock { core: 0, start: 0, len: POST }];
    let pop =
        chip.add_population(PopulationSpec::rate_neurons("h", vec![0.5; POST], vec![0.0; POST], blocks))?;
    let w = Array2::from_shape_fn((PRE, POST), |(j, i)| {
        0.8 * (((j * POST + i) % 97) as f32 / 48.0 - 1.0) + 0.004
    });
    let options = ConnectOptions { weight_range: Some(1.0), ..ConnectOptions::default() };
    let g = chip.connect(input, pop, w.view(), options)?;
    Ok((chip, g, w))
}

fn std_of(x: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = x.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Programming lands each device off its target by N(0, σR): the measured spread over 40,000
/// devices is σ within 2 %, each programming draws a new error, and `write_weights` (a value set
/// by learning or a checkpoint) stays exact.
#[test]
fn programming_error_has_the_profiles_spread_and_is_drawn_anew() -> TestResult {
    let p = analog(0.05, ConductanceDrift::None, 0.0)?;
    let (mut chip, g, w) = one_group(&p, 3)?;
    assert_eq!(chip.read_weights(g)?, w, "write_weights is exact");
    chip.program_weights(g, w.view())?;
    let first = chip.read_weights(g)?;
    let spread = std_of(first.iter().zip(&w).map(|(a, b)| f64::from(a - b)));
    assert!((spread - 0.05).abs() < 0.001, "write error spread {spread}");
    chip.program_weights(g, w.view())?;
    let second = chip.read_weights(g)?;
    let between = std_of(first.iter().zip(&second).map(|(a, b)| f64::from(a - b)));
    assert!((between - 0.05 * 2f64.sqrt()).abs() < 0.0015, "two programmings differ by {between}");
    // Same seed, same sequence of programmings: the same chip.
    let (mut again, g2, _) = one_group(&p, 3)?;
    again.program_weights(g2, w.view())?;
    assert_eq!(again.read_weights(g2)?, first);
    Ok(())
}

/// Power-law drift: with no device spread every weight shrinks by exactly ((t + t0)/t0)^−ν; with a
/// spread of the exponent, the log-ratio's spread across devices is ν_dtod · ln((t + t0)/t0).
#[test]
fn power_law_drift_follows_its_closed_form() -> TestResult {
    let (nu, t0, t) = (0.06, 20.0, 86_400.0);
    let p = analog(0.0, ConductanceDrift::PowerLaw { nu, nu_dtod: 0.0, t0_s: t0 }, 0.0)?;
    let (mut chip, g, w) = one_group(&p, 5)?;
    chip.age_weights(t, 0);
    let factor = ((t + t0) / t0).powf(-nu) as f32;
    for (a, b) in chip.read_weights(g)?.iter().zip(&w) {
        assert!((a - b * factor).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b} × {factor}");
    }
    let p = analog(0.0, ConductanceDrift::PowerLaw { nu, nu_dtod: 0.02, t0_s: t0 }, 0.0)?;
    let (mut chip, g, w) = one_group(&p, 5)?;
    chip.age_weights(t, 0);
    let log_ratio =
        chip.read_weights(g)?.iter().zip(&w).map(|(a, b)| f64::from(a / b).ln()).collect::<Vec<_>>();
    let expected = 0.02 * ((t + t0) / t0).ln();
    let spread = std_of(log_ratio.iter().copied());
    assert!((spread - expected).abs() < 0.03 * expected, "log-ratio spread {spread}, expected {expected}");
    let mean = log_ratio.iter().sum::<f64>() / log_ratio.len() as f64;
    assert!((mean + nu * ((t + t0) / t0).ln()).abs() < 0.01, "mean log-ratio {mean}");
    Ok(())
}

/// Relaxation: the spread after t is σ · log10(1 + t/t0) · R, one trajectory per device within an
/// episode (the displacement after a day is the displacement after an hour scaled by the ratio of
/// the logs), new directions in another episode, and stuck devices do not move.
#[test]
fn relaxation_broadens_with_log_time_along_one_trajectory() -> TestResult {
    let (sigma, t0) = (0.02, 1.0);
    let p = analog(0.0, ConductanceDrift::Relaxation { sigma, t0_s: t0 }, 0.01)?;
    let (base, g, _) = one_group(&p, 9)?;
    let w = base.read_weights(g)?;
    let stuck: Vec<(usize, usize, f32)> = base.stuck_devices(g)?.to_vec();
    assert!(!stuck.is_empty());
    let aged = |t: f64, episode: u64| -> Result<Array2<f32>, Box<dyn std::error::Error>> {
        let mut c = base.clone();
        c.age_weights(t, episode);
        Ok(c.read_weights(g)? - &w)
    };
    let (hour, day, other) = (aged(3600.0, 0)?, aged(86_400.0, 0)?, aged(3600.0, 1)?);
    let day_far = day.mapv(|d| 1.5 * d);
    let free = |d: &Array2<f32>| -> Vec<f64> {
        d.indexed_iter()
            .filter(|((j, i), _)| !stuck.iter().any(|&(sj, si, _)| sj == *j && si == *i))
            // Devices that hit the end of their range are clipped there.
            .filter(|((j, i), _)| (w[[*j, *i]] + day_far[[*j, *i]]).abs() < 0.999)
            .map(|(_, &x)| f64::from(x))
            .collect()
    };
    let expected = sigma * (1.0 + 3600.0 / t0).log10();
    let spread = std_of(free(&hour).into_iter());
    assert!((spread - expected).abs() < 0.03 * expected, "spread after 1 h {spread}, expected {expected}");
    let ratio = (1.0 + 86_400.0 / t0).log10() / (1.0 + 3600.0 / t0).log10();
    for (d, h) in free(&day).iter().zip(free(&hour)) {
        assert!((d - h * ratio).abs() < 1e-5, "not one trajectory: {d} vs {h} × {ratio}");
    }
    let same = free(&other).iter().zip(free(&hour)).filter(|(a, b)| (**a - *b).abs() < 1e-9).count();
    assert!(same < 10, "another episode reused the directions ({same} equal)");
    for &(j, i, value) in &stuck {
        assert_eq!(base.clone().read_weights(g)?[[j, i]], value);
        let mut c = base.clone();
        c.age_weights(86_400.0, 0);
        assert_eq!(c.read_weights(g)?[[j, i]], value, "stuck device moved");
    }
    Ok(())
}

/// Digital synapse memory and floating point hold their values: aging is a no-op there.
#[test]
fn digital_and_float_synapses_do_not_drift() -> TestResult {
    for name in ["loihi2", "ideal"] {
        let mut p = HardwareProfile::load(name)?;
        p.core_limits = Default::default();
        let (mut chip, g, _) = one_group(&p, 1)?;
        assert!(!chip.drifts(), "{name}");
        let before = chip.read_weights(g)?;
        chip.age_weights(31_557_600.0, 0);
        assert_eq!(chip.read_weights(g)?, before, "{name}");
        assert!(p.non_idealities().iter().any(|s| s.contains("no weight drift")) || name == "ideal");
    }
    Ok(())
}
