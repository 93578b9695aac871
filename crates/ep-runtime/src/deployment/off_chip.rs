//! Off-chip training for comparison with on-chip learning: the network trains on its floating-point
//! twin (the `ideal` profile, same τ, settings and seed), and after every epoch its parameters are
//! programmed onto the chip instance an on-chip run of the same seed would use and evaluated there.

use chip_model::HardwareProfile;

use crate::config::TrainConfig;
use crate::data::dataset::DatasetSplit;
use crate::error::Result;
use crate::network::parameters::NetworkParameters;
use crate::network::shape::NetworkShape;
use crate::on_chip::ep_network::EpNetwork;
use crate::training::evaluation::evaluate;
use crate::training::metrics::EpochMetrics;
use crate::training::trainer::Trainer;

/// The float twin's profile name.
pub const TWIN_PROFILE: &str = "ideal";

/// What an off-chip run produced.
#[derive(Debug, Clone)]
pub struct OffChipRun {
    /// Per epoch: the twin's training metrics with `test_accuracy` replaced by the accuracy of the
    /// network programmed onto the chip after that epoch (energy and timing are the twin's).
    pub history: Vec<EpochMetrics>,
    /// Accuracy on the twin itself after each epoch.
    pub twin_accuracy: Vec<f64>,
    /// Why the twin's training diverged, if it did.
    pub divergence: Option<String>,
    /// The network as programmed onto the chip after the last epoch (none if the twin diverged first).
    pub deployed: Option<EpNetwork>,
}

/// Trains `shape` with `config` on the float twin for `config.epochs` epochs, deploying onto a chip
/// of `profile` (instance from `config.seed`) after each epoch.
pub fn train_off_chip(
    profile: &HardwareProfile,
    shape: &NetworkShape,
    config: &TrainConfig,
    data: &DatasetSplit,
) -> Result<OffChipRun> {
    let twin = HardwareProfile::load(TWIN_PROFILE)?;
    let mut trainer = Trainer::new(&twin, shape, config.clone())?;
    trainer.check_data(data)?;
    let mut history = Vec::new();
    let mut twin_accuracy = Vec::new();
    let mut deployed = None;
    for _ in 0..config.epochs {
        if trainer.divergence().is_some() {
            break;
        }
        let mut metrics = trainer.train_epoch(data, &mut |_, _| {})?;
        twin_accuracy.push(metrics.test_accuracy);
        if trainer.divergence().is_none() {
            let params = NetworkParameters::from_network(trainer.network(), config.t1)?;
            let chip = EpNetwork::from_parameters(profile, &params, config)?;
            metrics.test_accuracy =
                evaluate(&chip, &data.test, config.t1, config.settle_tol, config.eval_batch, config.threads)?;
            deployed = Some(chip);
        }
        history.push(metrics);
    }
    Ok(OffChipRun { history, twin_accuracy, divergence: trainer.divergence().map(str::to_string), deployed })
}
