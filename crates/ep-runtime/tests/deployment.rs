//! Deployment: a trained network programmed onto a chip instance, drift, fine-tuning, and off-chip
//! training evaluated on the chip.

use chip_model::HardwareProfile;
use ep_runtime::deployment::drift_time::parse_drift_times;
use ep_runtime::deployment::off_chip::train_off_chip;
use ep_runtime::deployment::{DeployTarget, deploy};
use ep_runtime::{DatasetSplit, NetworkParameters, NetworkShape, TrainConfig, Trainer, load_dataset};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn synthetic() -> Result<DatasetSplit, ep_runtime::EpError> {
    load_dataset("synthetic")
}

fn trained(profile: &str, seed: u64, data: &DatasetSplit) -> Result<Trainer, Box<dyn std::error::Error>> {
    let config = TrainConfig { lr: vec![0.2], seed, epochs: 3, ..TrainConfig::default() };
    let mut t = Trainer::new(&HardwareProfile::load(profile)?, &NetworkShape::parse("16,32,4")?, config)?;
    for _ in 0..3 {
        t.train_epoch(data, &mut |_, _| {})?;
    }
    Ok(t)
}

/// Programmed back onto the same chip instance (same profile, same seed), a trained network is the
/// network that was trained: the deployed accuracy is the run's own, to the last example, on the
/// float and the digital core. On another instance of the digital chip it is a different chip.
#[test]
fn deploying_onto_the_same_chip_instance_reproduces_the_run() -> TestResult {
    let data = synthetic()?;
    for profile in ["ideal", "loihi2"] {
        let t = trained(profile, 4, &data)?;
        let own = t.history().last().map(|m| m.test_accuracy).ok_or("no epochs")?;
        let params = NetworkParameters::from_network(t.network(), t.config().t1)?;
        let mut target = DeployTarget::new(HardwareProfile::load(profile)?, 4, &params, t.config())?;
        target.times = parse_drift_times("0,1y")?;
        let points = deploy(&params, &target, &data, &mut |_| {})?;
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].accuracy, own, "{profile}: deployed on the same instance");
        assert_eq!(points[1].accuracy, own, "{profile}: no drift on this chip");
        assert!(points[0].finetuned.is_empty() && points[0].finetune_energy_j == 0.0);
    }
    Ok(())
}

/// Onto an analog chip with write error and relaxation, a network trained on the float twin loses
/// accuracy as time passes (averaged over chip instances), and on-chip fine-tuning from the drifted
/// state runs the requested epochs, spends chip energy and brings accuracy back up.
#[test]
fn drift_costs_accuracy_and_fine_tuning_recovers_it() -> TestResult {
    let data = synthetic()?;
    let t = trained("ideal", 2, &data)?;
    let params = NetworkParameters::from_network(t.network(), t.config().t1)?;
    let mut profile = HardwareProfile::load("analog-rram")?;
    if let chip_model::Arithmetic::Analog(a) = &mut profile.arithmetic {
        // Strong relaxation so the synthetic task's wide margins feel it.
        a.drift = chip_model::ConductanceDrift::Relaxation { sigma: 0.15, t0_s: 1.0 };
    }
    let (mut fresh, mut year, mut tuned) = (0.0, 0.0, 0.0);
    for seed in 1..=4 {
        let mut target = DeployTarget::new(profile.clone(), seed, &params, t.config())?;
        target.times = parse_drift_times("0,1y")?;
        target.finetune_epochs = 2;
        target.finetune.lr = vec![0.05];
        let points = deploy(&params, &target, &data, &mut |_| {})?;
        fresh += points[0].accuracy / 4.0;
        year += points[1].accuracy / 4.0;
        assert_eq!(points[1].finetuned.len(), 2);
        assert!(points[1].finetune_energy_j > 0.0);
        tuned += points[1].finetuned[1] / 4.0;
    }
    assert!(year < fresh - 0.05, "a year of drift cost {:.3} → {:.3}", fresh, year);
    assert!(tuned > year + 0.05, "fine-tuning {year:.3} → {tuned:.3}");
    Ok(())
}

/// Off-chip training on the ideal profile is on-chip training there (the twin is that chip): every
/// epoch's accuracy on the chip equals the on-chip run's, and the twin's own accuracy is kept. On
/// loihi2 the deployed accuracy is the quantised network's, not the twin's.
#[test]
fn off_chip_training_is_evaluated_on_the_chip() -> TestResult {
    let data = synthetic()?;
    let config = TrainConfig { lr: vec![0.2], seed: 5, epochs: 3, ..TrainConfig::default() };
    let shape = NetworkShape::parse("16,32,4")?;
    let ideal = HardwareProfile::load("ideal")?;
    let off = train_off_chip(&ideal, &shape, &config, &data)?;
    let on = trained("ideal", 5, &data)?;
    let on_acc: Vec<f64> = on.history().iter().map(|m| m.test_accuracy).collect();
    let off_acc: Vec<f64> = off.history.iter().map(|m| m.test_accuracy).collect();
    assert_eq!(off_acc, on_acc);
    assert_eq!(off.twin_accuracy, on_acc);
    let loihi = train_off_chip(&HardwareProfile::load("loihi2")?, &shape, &config, &data)?;
    assert_eq!(loihi.twin_accuracy, on_acc, "the twin trains the same way whatever the target");
    assert_eq!(loihi.history.len(), 3);
    assert!(loihi.history.iter().all(|m| (0.0..=1.0).contains(&m.test_accuracy)));
    Ok(())
}
