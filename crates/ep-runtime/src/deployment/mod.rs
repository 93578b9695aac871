//! Deployment: a network trained elsewhere (another chip, the float twin, another instance of the
//! same chip) programmed onto a fresh chip instance, evaluated right after programming and after
//! conductance drift, and optionally fine-tuned there with on-chip EP.

pub mod drift_time;
pub mod off_chip;
pub mod report;

use chip_model::HardwareProfile;

use crate::config::TrainConfig;
use crate::data::dataset::DatasetSplit;
use crate::error::Result;
use crate::network::parameters::NetworkParameters;
use crate::network::shape::NetworkShape;
use crate::on_chip::ep_network::EpNetwork;
use crate::training::evaluation::evaluate;
use crate::training::trainer::Trainer;
use drift_time::DriftTime;
use report::DeployPoint;

/// Fine-tuning runs at this share of the target chip's default learning rates.
pub const FINETUNE_LR_SHARE: f32 = 0.1;

/// What to deploy onto: the chip, its instance and what to measure.
#[derive(Debug, Clone)]
pub struct DeployTarget {
    /// The profile of the chip programmed.
    pub profile: HardwareProfile,
    /// Seed of the chip instance.
    pub seed: u64,
    /// Times after programming to evaluate at.
    pub times: Vec<DriftTime>,
    /// On-chip fine-tuning epochs from the state at each time (0: none).
    pub finetune_epochs: usize,
    /// Fine-tuning settings (the target chip's defaults for the network's model unless given).
    pub finetune: TrainConfig,
    /// Evaluation threads (results do not depend on it).
    pub threads: usize,
}

impl DeployTarget {
    /// A target with the fine-tuning settings a run of `params`' model would use on `profile`,
    /// keeping the source run's phases and batch (`source`), at a tenth of its learning rates
    /// (ideal → analog-rram, 784-500-10, one epoch after a year of drift: 94.6 % at a tenth, 89–91 %
    /// at the full rates, which undo what the network learned; docs/results.md).
    pub fn new(
        profile: HardwareProfile,
        seed: u64,
        params: &NetworkParameters,
        source: &TrainConfig,
    ) -> Result<Self> {
        let shape = NetworkShape::new(params.layers.clone())?;
        let defaults = TrainConfig::for_profile(params.neuron, &shape, &profile);
        let finetune = TrainConfig {
            lr: defaults.lr.iter().map(|lr| lr * FINETUNE_LR_SHARE).collect(),
            t1: source.t1,
            t2: source.t2,
            batch: source.batch,
            tau: source.tau,
            settle_tol: source.settle_tol,
            seed,
            ..defaults
        };
        Ok(Self { profile, seed, times: Vec::new(), finetune_epochs: 0, finetune, threads: 1 })
    }

    /// The configuration the deployed network runs and fine-tunes with.
    pub fn run_config(&self) -> TrainConfig {
        TrainConfig { epochs: self.finetune_epochs, threads: self.threads, ..self.finetune.clone() }
    }
}

/// Programs `params` onto a new instance of the target chip (with its write error).
pub fn program(params: &NetworkParameters, target: &DeployTarget) -> Result<EpNetwork> {
    let config = target.run_config();
    EpNetwork::from_parameters(&target.profile, params, &config)
}

/// Programs `params` onto a new instance of the target chip and measures it at every drift time
/// ([`measure`]). `progress(message)` is called before each step.
pub fn deploy(
    params: &NetworkParameters,
    target: &DeployTarget,
    data: &DatasetSplit,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<DeployPoint>> {
    let programmed = program(params, target)?;
    measure(&programmed, target, data, progress)
}

/// Measures a network on its chip at every drift time, each from the same programmed state, and
/// fine-tunes from each state if asked.
pub fn measure(
    programmed: &EpNetwork,
    target: &DeployTarget,
    data: &DatasetSplit,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<DeployPoint>> {
    let config = target.run_config();
    let mut points = Vec::new();
    for time in &target.times {
        progress(&format!("evaluating after {time}"));
        let mut net = programmed.clone();
        net.chip_mut().age_weights(time.seconds, 0);
        let accuracy =
            evaluate(&net, &data.test, config.t1, config.settle_tol, config.eval_batch, config.threads)?;
        let mut finetuned = Vec::new();
        let mut energy = 0.0;
        if target.finetune_epochs > 0 {
            let mut trainer = Trainer::with_network(net, &target.profile, config.clone())?;
            trainer.check_data(data)?;
            for epoch in 0..target.finetune_epochs {
                progress(&format!(
                    "fine-tuning after {time}: epoch {}/{}",
                    epoch + 1,
                    target.finetune_epochs
                ));
                if trainer.divergence().is_some() {
                    break;
                }
                let m = trainer.train_epoch(data, &mut |_, _| {})?;
                finetuned.push(m.test_accuracy);
                energy += m.energy_j;
            }
        }
        points.push(DeployPoint {
            time: time.label.clone(),
            seconds: time.seconds,
            accuracy,
            finetuned,
            finetune_energy_j: energy,
        });
    }
    Ok(points)
}
