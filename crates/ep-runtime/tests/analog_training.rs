//! EP training on analog and mixed-signal profiles.

use chip_model::{Arithmetic, Bounds, HardwareProfile, MismatchSpec};
use ep_runtime::{DatasetSplit, NetworkShape, TrainConfig, Trainer, load_dataset};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn train(p: &HardwareProfile, tau: &str, data: &DatasetSplit) -> Result<Trainer, Box<dyn std::error::Error>> {
    train_seed(p, tau, 4, data)
}

fn train_seed(
    p: &HardwareProfile,
    tau: &str,
    seed: u64,
    data: &DatasetSplit,
) -> Result<Trainer, Box<dyn std::error::Error>> {
    let config = TrainConfig { lr: vec![0.2], tau: tau.parse()?, seed, epochs: 3, ..TrainConfig::default() };
    let mut t = Trainer::new(p, &NetworkShape::parse("16,32,4")?, config)?;
    for _ in 0..3 {
        t.train_epoch(data, &mut |_, _| {})?;
    }
    Ok(t)
}

#[test]
fn analog_core_with_every_non_ideality_off_reproduces_the_ideal_profile() -> TestResult {
    let data = load_dataset("synthetic")?;
    let mut clean = HardwareProfile::load("analog-rram")?;
    clean.core_limits = Default::default();
    clean.mismatch = MismatchSpec::default();
    if let Arithmetic::Analog(a) = &mut clean.arithmetic {
        a.dac_bits = 0;
        a.adc_bits = 0;
        a.conductance_bits = 0;
        a.output_noise = 0.0;
        a.read_noise = 0.0;
        a.stuck_on_fraction = 0.0;
        a.stuck_off_fraction = 0.0;
        a.update.dw_min = 0.0;
        a.update.bounds = Bounds::Hard;
    }
    let ideal = HardwareProfile::load("ideal")?;
    for tau in ["constant", "lognormal:cv=0.5"] {
        let a = train(&clean, tau, &data)?;
        let b = train(&ideal, tau, &data)?;
        for (x, y) in a.history().iter().zip(b.history()) {
            assert!(
                (x.train_cost - y.train_cost).abs() < 1e-9,
                "{tau}: {} vs {}",
                x.train_cost,
                y.train_cost
            );
            assert_eq!(x.test_accuracy, y.test_accuracy);
        }
    }
    Ok(())
}

/// Over seeds 1–5 the median test accuracy is far above chance (0.25 for four classes), and so is
/// every seed (three epochs on 16-32-4 spread widely over seeds on these chips, 0.5–1.0 across
/// seeds 1–10, so one seed's bar would pass or fail by the seed chosen). Forward and feedback
/// devices drift apart.
#[test]
fn analog_and_mixed_signal_profiles_learn_and_break_weight_symmetry() -> TestResult {
    let data = load_dataset("synthetic")?;
    for name in ["analog-rram", "mixed-signal"] {
        let p = HardwareProfile::load(name)?;
        let mut accs = Vec::new();
        let mut last = None;
        for seed in 1..=5 {
            let t = train_seed(&p, "lognormal:cv=0.5", seed, &data)?;
            accs.push(t.summary("synthetic").test_accuracy);
            last = Some(t);
        }
        // Measured: analog-rram 0.785–1.0 (median 0.93), mixed-signal 1.0 on every seed.
        let t = last.ok_or("no run")?;
        let mut sorted = accs.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(sorted[2] >= 0.85, "{name}: median test accuracy {} over seeds 1-5 {accs:?}", sorted[2]);
        assert!(sorted[0] >= 0.6, "{name}: a seed stayed near chance: {accs:?}");
        // Forward and feedback copies of the hidden→output weights are separate devices.
        let net = t.network();
        let chip = net.chip();
        let fwd = chip.read_weights(net.forward_group(1).ok_or("group")?)?;
        let fb = chip.read_weights(net.feedback_group(1).ok_or("feedback")?)?;
        let diff = (&fwd - &fb.t()).mapv(f32::abs).sum() / fwd.len() as f32;
        let scale = fwd.mapv(f32::abs).sum() / fwd.len() as f32;
        assert!(diff > 1e-3 * scale, "{name}: feedback weights stayed identical ({diff})");
    }
    Ok(())
}
