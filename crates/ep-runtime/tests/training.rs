//! End-to-end EP training on the emulated chips: learning, determinism, gradient fidelity.

use chip_model::HardwareProfile;
use ep_runtime::{
    BetaSign, DatasetSplit, EpNetwork, NetworkShape, TauSpec, TrainConfig, Trainer, load_dataset,
};
use ndarray::{Array2, arr2};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn synthetic() -> Result<DatasetSplit, ep_runtime::EpError> {
    load_dataset("synthetic")
}

fn config(tau: &str, seed: u64) -> Result<TrainConfig, ep_runtime::EpError> {
    Ok(TrainConfig { lr: vec![0.2], tau: tau.parse()?, seed, epochs: 4, ..TrainConfig::default() })
}

fn train(
    profile: &str,
    cfg: TrainConfig,
    data: &DatasetSplit,
) -> Result<Trainer, Box<dyn std::error::Error>> {
    let p = HardwareProfile::load(profile)?;
    let mut t = Trainer::new(&p, &NetworkShape::parse("16,32,4")?, cfg.clone())?;
    for _ in 0..cfg.epochs {
        t.train_epoch(data, &mut |_, _| {})?;
    }
    Ok(t)
}

#[test]
fn hts_networks_learn_the_synthetic_task_on_every_profile() -> TestResult {
    let data = synthetic()?;
    for profile in ["ideal", "loihi2"] {
        for tau in ["constant", "lognormal:cv=0.5", "gamma:cv=0.5"] {
            let t = train(profile, config(tau, 3)?, &data)?;
            let s = t.summary("synthetic");
            assert!(s.test_accuracy >= 0.9, "{profile} {tau}: {}", s.test_accuracy);
            assert!(!s.diverged);
            let first = &t.history()[0];
            assert!(first.energy_per_example_uj > 0.0 && first.synaptic_ops_per_example > 0.0);
        }
    }
    Ok(())
}

#[test]
fn online_and_symmetric_modes_learn() -> TestResult {
    let data = synthetic()?;
    let online = TrainConfig { batch: 1, lr: vec![0.05], epochs: 2, ..config("lognormal:cv=0.5", 2)? };
    let t = train("loihi2", online, &data)?;
    assert!(t.summary("s").test_accuracy >= 0.9, "{}", t.summary("s").test_accuracy);
    let sym = TrainConfig { symmetric: true, beta_sign: BetaSign::Positive, ..config("constant", 2)? };
    let t = train("ideal", sym, &data)?;
    assert!(t.summary("s").test_accuracy >= 0.9, "{}", t.summary("s").test_accuracy);
    Ok(())
}

#[test]
fn results_do_not_depend_on_the_thread_count() -> TestResult {
    let data = synthetic()?;
    for profile in ["ideal", "loihi2"] {
        let one = train(
            profile,
            TrainConfig { threads: 1, eval_batch: 64, ..config("lognormal:cv=0.5", 9)? },
            &data,
        )?;
        let two = train(
            profile,
            TrainConfig { threads: 2, eval_batch: 64, ..config("lognormal:cv=0.5", 9)? },
            &data,
        )?;
        let (a, b) = (one.network(), two.network());
        for l in 0..2 {
            let (ga, gb) = (a.forward_group(l).ok_or("group")?, b.forward_group(l).ok_or("group")?);
            assert_eq!(a.chip().read_weights(ga)?, b.chip().read_weights(gb)?, "{profile}");
        }
        for (x, y) in one.history().iter().zip(two.history()) {
            assert_eq!(x.test_accuracy, y.test_accuracy);
            assert_eq!(x.train_cost, y.train_cost);
            assert_eq!(x.free_residual, y.free_residual);
        }
        // And another seed gives another result.
        let other = train(profile, config("lognormal:cv=0.5", 10)?, &data)?;
        assert_ne!(other.history()[0].train_cost, one.history()[0].train_cost);
    }
    Ok(())
}

/// Squared-error cost at the free fixed point.
fn cost(
    net: &mut EpNetwork,
    x: &Array2<f32>,
    y: &Array2<f32>,
    steps: usize,
) -> Result<f64, ep_runtime::EpError> {
    net.free_phase(x.view(), steps)?;
    let out = net.output_state()?;
    Ok(0.5 * (&out - y).mapv(|d| f64::from(d).powi(2)).sum())
}

#[test]
fn ep_updates_follow_the_true_gradient_at_small_beta() -> TestResult {
    // On the float twin, the symmetric EP update with a small β approximates −η ∂C/∂W at the free
    // fixed point. Compare it with central finite differences of the cost.
    let cfg = TrainConfig {
        t1: 400,
        t2: 400,
        beta: 0.005,
        beta_sign: BetaSign::Positive,
        symmetric: true,
        batch: 1,
        lr: vec![1.0],
        tau: TauSpec::Constant { mean: 1.0 },
        seed: 4,
        ..TrainConfig::default()
    };
    let p = HardwareProfile::load("ideal")?;
    let net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &cfg)?;
    let x = arr2(&[[0.9f32, 0.1, 0.7, 0.4, 1.0]]);
    let y = arr2(&[[0.0f32, 1.0, 0.0]]);
    let mut ep_update = Vec::new();
    let mut gradient = Vec::new();
    for l in 0..2 {
        let g = net.forward_group(l).ok_or("group")?;
        let before = net.chip().read_weights(g)?;
        let mut trained = net.clone();
        let mut rng = rand::rngs::StdRng::from_seed_u64(0);
        trained.train_batch(x.view(), y.view(), &[1], &cfg, 1.0, &mut rng)?;
        let after = trained.chip().read_weights(g)?;
        ep_update.extend((&after - &before).iter().map(|&d| f64::from(d)));
        let eps = 1e-3f32;
        for ((j, i), _) in before.indexed_iter() {
            let mut c = [0.0; 2];
            for (k, sign) in [1.0f32, -1.0].into_iter().enumerate() {
                let mut probe = net.clone();
                let mut w = before.clone();
                w[[j, i]] += sign * eps;
                probe.chip_mut().write_weights(g, w.view())?;
                if let Some(fb) = probe.feedback_group(l) {
                    probe.chip_mut().write_weights(fb, w.t())?;
                }
                c[k] = cost(&mut probe, &x, &y, cfg.t1)?;
            }
            gradient.push(-(c[0] - c[1]) / (2.0 * f64::from(eps)));
        }
    }
    let dot: f64 = ep_update.iter().zip(&gradient).map(|(a, b)| a * b).sum();
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let cosine = dot / (norm(&ep_update) * norm(&gradient));
    assert!(norm(&gradient) > 1e-4, "degenerate test: the cost does not depend on the weights");
    assert!(cosine > 0.95, "cosine between EP update and −gradient is {cosine}");
    Ok(())
}

trait FromSeedU64 {
    fn from_seed_u64(seed: u64) -> Self;
}

impl FromSeedU64 for rand::rngs::StdRng {
    fn from_seed_u64(seed: u64) -> Self {
        rand::SeedableRng::seed_from_u64(seed)
    }
}

#[test]
fn resuming_from_a_checkpoint_gives_the_uninterrupted_run_on_every_profile() -> TestResult {
    use ep_runtime::{RunData, TrainingCheckpoint};
    let data = synthetic()?;
    let run_data = RunData::describe("synthetic", None, &data);
    for name in ["ideal", "loihi2", "analog-rram"] {
        let p = HardwareProfile::load(name)?;
        let cfg = config("lognormal:cv=0.5", 6)?;
        let straight = train(name, cfg.clone(), &data)?;
        let shape = NetworkShape::parse("16,32,4")?;
        let mut first = Trainer::new(&p, &shape, cfg.clone())?;
        for _ in 0..2 {
            first.train_epoch(&data, &mut |_, _| {})?;
        }
        // Through JSON, as the command line does.
        let text = serde_json::to_string(&first.checkpoint(&p, &run_data))?;
        let checkpoint: TrainingCheckpoint = serde_json::from_str(&text)?;
        let mut resumed = Trainer::resume(&checkpoint, 2)?;
        for _ in 2..cfg.epochs {
            resumed.train_epoch(&data, &mut |_, _| {})?;
        }
        for (a, b) in straight.history().iter().zip(resumed.history()) {
            assert_eq!((a.test_accuracy, a.train_cost), (b.test_accuracy, b.train_cost), "{name}");
        }
        assert_eq!(straight.network().chip().checkpoint(), resumed.network().chip().checkpoint(), "{name}");
    }
    Ok(())
}

#[test]
fn energy_time_to_target_and_settling_are_reported() -> TestResult {
    let data = synthetic()?;
    let cfg = TrainConfig { target_accuracy: 0.8, ..config("constant", 3)? };
    let t = train("loihi2", cfg.clone(), &data)?;
    let s = t.summary("synthetic");
    let first = t.history().iter().find(|m| m.test_accuracy >= 0.8).ok_or("target never reached")?;
    assert_eq!(s.epochs_to_target, Some(first.epoch));
    let spent: f64 = t.history()[..first.epoch].iter().map(|m| m.energy_j).sum();
    assert!((s.energy_to_target_j.ok_or("no energy")? - spent).abs() < 1e-15);
    assert!((s.energy_j - t.history().iter().map(|m| m.energy_j).sum::<f64>()).abs() < 1e-15);
    // Without a tolerance every phase runs T1/T2 steps; chip time = steps × examples × step time.
    let m = &t.history()[0];
    // The symmetric estimate (the default) runs two nudged phases of T2 steps.
    let nudged = if cfg.symmetric { 20.0 } else { 10.0 };
    assert_eq!((m.free_steps_mean, m.free_steps_max, m.nudged_steps_mean), (30.0, 30, nudged));
    let step = HardwareProfile::load("loihi2")?.energy.time_step_us * 1e-6;
    assert!((m.chip_seconds - (30.0 + nudged) * data.train.len() as f64 * step).abs() < 1e-9);
    // With a tolerance the phases end early, and fewer steps cost less energy.
    let settled = train("loihi2", TrainConfig { settle_tol: Some(1e-2), ..cfg }, &data)?;
    let n = &settled.history()[0];
    assert!(n.free_steps_mean < 30.0 && n.free_steps_max <= 30, "{}", n.free_steps_mean);
    assert!(n.energy_j < m.energy_j);
    assert!(settled.summary("s").test_accuracy >= 0.8);
    Ok(())
}

#[test]
fn per_core_energy_adds_up_to_the_epoch_and_follows_the_mapping() -> TestResult {
    let data = synthetic()?;
    let p = HardwareProfile::load("loihi1")?;
    let shape = NetworkShape::parse("16,1500,4")?;
    let cfg = TrainConfig { epochs: 1, ..config("constant", 2)? };
    let mut t = Trainer::new(&p, &shape, cfg)?;
    let m = t.train_epoch(&data, &mut |_, _| {})?;
    let summary = t.summary("synthetic");
    let cores = &summary.cores_last_epoch;
    // loihi1 holds 1,024 compartments per core: h1 takes two cores, the output a third.
    let placed: Vec<usize> = t.network().placement().layers.iter().flatten().map(|b| b.core).collect();
    assert_eq!(cores.iter().map(|c| c.core).collect::<Vec<_>>(), placed);
    let total: f64 = cores.iter().map(|c| c.energy_j).sum();
    assert!((total - m.energy_j).abs() <= 1e-9 * m.energy_j, "{total} vs {}", m.energy_j);
    // Each core updates its own neurons only: the same number of steps for each of them.
    let h1 = &t.network().placement().layers[0];
    let steps = cores[0].counters.neuron_updates / h1[0].len as u64;
    for (c, b) in cores.iter().zip(t.network().placement().layers.iter().flatten()) {
        assert_eq!(c.counters.neuron_updates, steps * b.len as u64);
    }
    assert_eq!(h1.len(), 2, "{h1:?}");
    Ok(())
}

#[test]
fn an_epoch_can_be_cancelled_between_mini_batches() -> TestResult {
    let data = synthetic()?;
    let p = HardwareProfile::load("loihi2")?;
    let shape = NetworkShape::parse("16,32,4")?;
    let cfg = TrainConfig { epochs: 1, ..config("constant", 5)? };
    let mut asked = 0;
    let mut t = Trainer::new(&p, &shape, cfg.clone())?;
    let stopped = t.train_epoch_unless_cancelled(&data, &mut |_, _| {
        asked += 1;
        asked < 3
    });
    assert!(matches!(stopped, Err(ep_runtime::EpError::Cancelled)), "{stopped:?}");
    assert_eq!(asked, 3, "asked after every mini-batch until told to stop");
    assert!(t.history().is_empty(), "a cancelled epoch is not recorded");
    // Never cancelled, it is train_epoch.
    let mut a = Trainer::new(&p, &shape, cfg.clone())?;
    let mut b = Trainer::new(&p, &shape, cfg)?;
    let ma = a.train_epoch(&data, &mut |_, _| {})?;
    let mb = b.train_epoch_unless_cancelled(&data, &mut |_, _| true)?;
    assert_eq!(
        (ma.test_accuracy, ma.train_cost, ma.energy_j),
        (mb.test_accuracy, mb.train_cost, mb.energy_j)
    );
    Ok(())
}
