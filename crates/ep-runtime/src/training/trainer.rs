//! The training loop: epochs of shuffled mini-batches, evaluation after each epoch, divergence checks;
//! and reading the trained network of a run directory back ([`NetworkParameters::from_run`]).

use std::path::Path;
use std::time::Instant;

use chip_model::HardwareProfile;
use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::config::TrainConfig;
use crate::data::dataset::{Dataset, DatasetSplit};
use crate::error::{EpError, Result};
use crate::network::parameters::NetworkParameters;
use crate::network::seeds::{SeedPurpose, derive_seed};
use crate::network::shape::NetworkShape;
use crate::on_chip::ep_network::EpNetwork;
use crate::training::checkpoint::{CHECKPOINT_FORMAT, RunData, TrainingCheckpoint};
use crate::training::evaluation::evaluate;
use crate::training::metrics::{CoreEnergy, EpochMetrics, RunSummary};
use chip_model::EnergyReport;

/// Weights larger than this in magnitude count as exploded (real units; a hard-sigmoid network whose
/// weights reach it cannot have a useful equilibrium).
pub const EXPLODED_WEIGHT: f32 = 1.0e3;

/// From the second epoch on, train and test accuracy within this margin of chance (1/classes) mean
/// the run has collapsed.
pub const CHANCE_MARGIN: f64 = 0.02;

/// A run whose free-phase states sit at 0 or 1 at least this often over an epoch has saturated.
pub const SATURATED_SHARE: f64 = 0.995;

/// Trains one HTS-EP network on one chip instance.
#[derive(Debug)]
pub struct Trainer {
    net: EpNetwork,
    config: TrainConfig,
    profile_name: String,
    shuffle_rng: ChaCha8Rng,
    sign_rng: ChaCha8Rng,
    history: Vec<EpochMetrics>,
    divergence: Option<String>,
    fidelity_every: usize,
    fidelity_samples: Vec<f64>,
    cores_last_epoch: Vec<CoreEnergy>,
}

impl Trainer {
    /// Builds the network on a chip instance of `profile` (validating everything first).
    pub fn new(profile: &HardwareProfile, shape: &NetworkShape, config: TrainConfig) -> Result<Self> {
        let net = EpNetwork::build(profile, shape, &config)?;
        Self::with_network(net, profile, config)
    }

    /// Continues training a network already on its chip (a deployed network fine-tuned on the chip),
    /// from epoch 1 of `config`.
    pub fn with_network(net: EpNetwork, profile: &HardwareProfile, config: TrainConfig) -> Result<Self> {
        config.validate(net.shape())?;
        Ok(Self {
            profile_name: profile.name.clone(),
            shuffle_rng: ChaCha8Rng::seed_from_u64(derive_seed(config.seed, SeedPurpose::Shuffle)),
            sign_rng: ChaCha8Rng::seed_from_u64(derive_seed(config.seed, SeedPurpose::BetaSign)),
            net,
            config,
            history: Vec::new(),
            divergence: None,
            fidelity_every: 0,
            fidelity_samples: Vec::new(),
            cores_last_epoch: Vec::new(),
        })
    }

    /// The network being trained (moved out, e.g. to evaluate it elsewhere).
    pub fn into_network(self) -> EpNetwork {
        self.net
    }

    /// The network being trained.
    pub fn network(&self) -> &EpNetwork {
        &self.net
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Metrics of the epochs run so far.
    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// Samples the gradient fidelity (cosine between the chip's EP update and the true gradient of
    /// its float twin) on every `every`-th mini-batch; 0 turns it off.
    pub fn set_fidelity_every(&mut self, every: usize) {
        self.fidelity_every = every;
    }

    /// The gradient-fidelity samples taken so far.
    pub fn fidelity_samples(&self) -> &[f64] {
        &self.fidelity_samples
    }

    /// Why training diverged, if it did.
    pub fn divergence(&self) -> Option<&str> {
        self.divergence.as_deref()
    }

    /// Checks that a dataset fits the network (input size and classes).
    pub fn check_data(&self, data: &DatasetSplit) -> Result<()> {
        let shape = self.net.shape();
        for set in [&data.train, &data.test] {
            if set.is_empty() {
                return Err(EpError::DatasetMismatch(format!("dataset `{}` is empty", set.name())));
            }
            if set.input_size() != shape.input() {
                return Err(EpError::DatasetMismatch(format!(
                    "dataset `{}` has {} inputs per example, the network's input layer has {} \
                     (use --layers {},...)",
                    set.name(),
                    set.input_size(),
                    shape.input(),
                    set.input_size()
                )));
            }
            if set.classes() != shape.output() {
                return Err(EpError::DatasetMismatch(format!(
                    "dataset `{}` has {} classes, the network's output layer has {}",
                    set.name(),
                    set.classes(),
                    shape.output()
                )));
            }
        }
        Ok(())
    }

    /// Trains one epoch and evaluates on the test set. `progress(done, total)` is called after
    /// every mini-batch.
    pub fn train_epoch(
        &mut self,
        data: &DatasetSplit,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<EpochMetrics> {
        self.train_epoch_unless_cancelled(data, &mut |done, total| {
            progress(done, total);
            true
        })
    }

    /// [`Trainer::train_epoch`] that can be stopped between mini-batches (a front end's Ctrl-C):
    /// `keep_going(done, total)` is asked after every mini-batch, and when it answers `false` the
    /// epoch ends there with [`EpError::Cancelled`]. A cancelled trainer holds part of an epoch:
    /// its weights and random streams have moved on but its history has not, so drop it (or rebuild
    /// it from a checkpoint) rather than train on.
    pub fn train_epoch_unless_cancelled(
        &mut self,
        data: &DatasetSplit,
        keep_going: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<EpochMetrics> {
        self.check_data(data)?;
        let train = &data.train;
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut self.shuffle_rng);
        let (inputs, outputs) = (train.input_size(), train.classes());
        self.net.chip_mut().reset_counters();
        let start = Instant::now();
        let mut correct = 0usize;
        let mut cost = 0.0f64;
        let mut residual = 0.0f64;
        let mut saturated = 0.0f64;
        let mut unsettled = 0usize;
        let mut free_steps = Vec::new();
        let mut nudged_steps = 0usize;
        let mut chip_steps = 0u64;
        let mut batches = 0usize;
        let mut x = Array2::<f32>::zeros((0, inputs));
        let mut y = Array2::<f32>::zeros((0, outputs));
        let mut labels = Vec::new();
        let lr_factor = self.config.lr_schedule.factor(self.history.len(), self.config.epochs);
        for chunk in order.chunks(self.config.batch) {
            if x.nrows() != chunk.len() {
                x = Array2::zeros((chunk.len(), inputs));
                y = Array2::zeros((chunk.len(), outputs));
            }
            train.try_fill_batch_threads(chunk, &mut x.view_mut(), self.config.threads)?;
            train.try_fill_targets(chunk, &mut y.view_mut())?;
            labels.clear();
            labels.extend(chunk.iter().map(|&i| train.labels()[i]));
            if self.fidelity_every > 0 && batches.is_multiple_of(self.fidelity_every) {
                // Sampled before the update, on the batch about to be learned; its own β-sign stream.
                let seed = derive_seed(self.config.seed, SeedPurpose::BetaSign)
                    ^ (self.fidelity_samples.len() as u64);
                // A twin without a stable fixed point has no gradient: that sample is skipped
                // rather than stopping the run.
                if let Ok(cosine) = crate::fidelity::gradient_fidelity(
                    &self.net,
                    x.view(),
                    y.view(),
                    &labels,
                    &self.config,
                    lr_factor,
                    seed,
                ) {
                    self.fidelity_samples.push(cosine);
                }
            }
            let outcome = self.net.train_batch(
                x.view(),
                y.view(),
                &labels,
                &self.config,
                lr_factor,
                &mut self.sign_rng,
            )?;
            correct += outcome.correct;
            cost += outcome.cost;
            residual += f64::from(outcome.free_residual);
            saturated += outcome.saturated;
            unsettled += outcome.unsettled;
            free_steps.push(outcome.free_steps);
            nudged_steps += outcome.nudged_steps;
            // On the chip, the examples of a mini-batch run one after another.
            chip_steps += ((outcome.free_steps + outcome.nudged_steps) * chunk.len()) as u64;
            batches += 1;
            if !keep_going((batches * self.config.batch).min(train.len()), train.len()) {
                return Err(EpError::Cancelled);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let counters = self.net.chip().total_counters();
        let energy = self.net.chip().energy().total_j();
        self.cores_last_epoch = self.core_energy();
        let n = train.len() as f64;
        let epoch = self.history.len() + 1;
        let saturated_share = saturated / batches.max(1) as f64;
        if let Some(problem) = self.net.parameter_problem(EXPLODED_WEIGHT)? {
            self.divergence = Some(format!("{problem} in epoch {epoch}"));
        } else if saturated_share >= SATURATED_SHARE {
            self.divergence = Some(format!(
                "states saturated in epoch {epoch}: {:.2} % of neuron states at 0 or 1 in the free phases",
                100.0 * saturated_share
            ));
        }
        let chip_seconds = chip_steps as f64 * self.net.chip().profile().energy.time_step_us * 1e-6;
        if self.net.chip().drifts_while_training() {
            // The weights written during the epoch relax for the chip time the epoch took (as if
            // written at its start), each epoch in its own retention episode.
            self.net.chip_mut().age_weights(chip_seconds, epoch as u64);
        }
        let eval_start = Instant::now();
        let test_accuracy = if self.divergence.is_some() { 0.0 } else { self.evaluate(&data.test)? };
        let metrics = EpochMetrics {
            epoch: self.history.len() + 1,
            train_accuracy: correct as f64 / n,
            test_accuracy,
            train_cost: cost / n,
            free_residual: residual / batches.max(1) as f64,
            seconds,
            examples_per_second: n / seconds.max(1e-9),
            eval_seconds: eval_start.elapsed().as_secs_f64(),
            energy_per_example_uj: energy / n * 1e6,
            synaptic_ops_per_example: counters.synaptic_ops as f64 / n,
            saturated_share,
            unsettled_share: unsettled as f64 / n,
            free_steps_mean: free_steps.iter().sum::<usize>() as f64 / batches.max(1) as f64,
            free_steps_max: free_steps.iter().copied().max().unwrap_or(0),
            nudged_steps_mean: nudged_steps as f64 / batches.max(1) as f64,
            energy_j: energy,
            chip_seconds,
        };
        let chance = 1.0 / data.test.classes().max(1) as f64 + CHANCE_MARGIN;
        if self.divergence.is_none()
            && epoch >= 2
            && metrics.test_accuracy <= chance
            && metrics.train_accuracy <= chance
        {
            self.divergence = Some(format!(
                "accuracy collapsed to chance in epoch {epoch} (train {:.1} %, test {:.1} %)",
                100.0 * metrics.train_accuracy,
                100.0 * metrics.test_accuracy
            ));
        }
        self.history.push(metrics.clone());
        Ok(metrics)
    }

    /// Everything needed to continue this run later exactly where it is now (between epochs).
    pub fn checkpoint(&self, profile: &HardwareProfile, data: &RunData) -> TrainingCheckpoint {
        TrainingCheckpoint {
            format: CHECKPOINT_FORMAT.to_string(),
            profile: profile.clone(),
            layers: self.net.shape().sizes().to_vec(),
            data: data.clone(),
            config: self.config.clone(),
            history: self.history.clone(),
            divergence: self.divergence.clone(),
            shuffle_word_pos: self.shuffle_rng.get_word_pos(),
            sign_word_pos: self.sign_rng.get_word_pos(),
            chip: self.net.chip().checkpoint(),
            cores_last_epoch: self.cores_last_epoch.clone(),
        }
    }

    /// Rebuilds a run from a checkpoint: the same chip instance (devices come from the seed), the
    /// learned weights and biases, the random streams and the metrics so far.
    pub fn resume(checkpoint: &TrainingCheckpoint, threads: usize) -> Result<Self> {
        if checkpoint.format != CHECKPOINT_FORMAT {
            return Err(EpError::InvalidParameter {
                field: "checkpoint format".into(),
                value: checkpoint.format.clone(),
                allowed: format!("`{CHECKPOINT_FORMAT}`"),
            });
        }
        checkpoint.profile.validate()?;
        let shape = NetworkShape::new(checkpoint.layers.clone())?;
        let config = TrainConfig { threads, ..checkpoint.config.clone() };
        let mut trainer = Trainer::new(&checkpoint.profile, &shape, config)?;
        trainer.net.chip_mut().restore_checkpoint(&checkpoint.chip)?;
        trainer.shuffle_rng.set_word_pos(checkpoint.shuffle_word_pos);
        trainer.sign_rng.set_word_pos(checkpoint.sign_word_pos);
        trainer.history = checkpoint.history.clone();
        trainer.cores_last_epoch = checkpoint.cores_last_epoch.clone();
        trainer.divergence = checkpoint.divergence.clone();
        Ok(trainer)
    }

    /// Test accuracy of the current network (free phase only).
    pub fn evaluate(&self, data: &Dataset) -> Result<f64> {
        evaluate(
            &self.net,
            data,
            self.config.t1,
            self.config.settle_tol,
            self.config.eval_batch,
            self.config.threads,
        )
    }

    /// The run summary so far.
    pub fn summary(&self, dataset: &str) -> RunSummary {
        let last = self.history.last();
        let (best_epoch, best) = self
            .history
            .iter()
            .map(|m| (m.epoch, m.test_accuracy))
            .fold((0, 0.0), |acc, x| if x.1 > acc.1 { x } else { acc });
        let k = self.history.len().max(1) as f64;
        // First epoch whose test accuracy reaches the target, and the training energy spent until then.
        let mut spent = 0.0;
        let target = self.history.iter().find_map(|m| {
            spent += m.energy_j;
            (m.test_accuracy >= self.config.target_accuracy).then_some((m.epoch, spent))
        });
        RunSummary {
            test_accuracy: last.map_or(0.0, |m| m.test_accuracy),
            best_test_accuracy: best,
            best_epoch,
            train_accuracy: last.map_or(0.0, |m| m.train_accuracy),
            epochs: self.history.len(),
            examples_per_second: self.history.iter().map(|m| m.examples_per_second).sum::<f64>() / k,
            profile: self.profile_name.clone(),
            tau: self.config.tau.to_string(),
            seed: self.config.seed,
            diverged: self.divergence.is_some(),
            divergence_reason: self.divergence.clone(),
            layers: self.net.shape().sizes().to_vec(),
            dataset: dataset.to_string(),
            cores_used: self.net.placement().cores_used(),
            energy_per_example_uj: self.history.iter().map(|m| m.energy_per_example_uj).sum::<f64>() / k,
            energy_j: self.history.iter().map(|m| m.energy_j).sum(),
            chip_seconds: self.history.iter().map(|m| m.chip_seconds).sum(),
            free_steps_mean: self.history.iter().map(|m| m.free_steps_mean).sum::<f64>() / k,
            nudged_steps_mean: self.history.iter().map(|m| m.nudged_steps_mean).sum::<f64>() / k,
            target_accuracy: self.config.target_accuracy,
            epochs_to_target: target.map(|(e, _)| e),
            energy_to_target_j: target.map(|(_, j)| j),
            config: self.config.clone(),
            cores_last_epoch: self.cores_last_epoch.clone(),
        }
    }

    /// Operations and energy of every core that did anything since the counters were last reset.
    fn core_energy(&self) -> Vec<CoreEnergy> {
        let chip = self.net.chip();
        let spec = &chip.profile().energy;
        chip.cores()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.counters != chip_model::OpCounters::default())
            .map(|(core, c)| CoreEnergy {
                core,
                chip: chip.profile().chip.chip_of(core),
                counters: c.counters,
                energy_j: EnergyReport::estimate(&c.counters, spec).total_j(),
            })
            .collect()
    }
}

impl NetworkParameters {
    /// Reads the trained network of a run directory (its `checkpoint.json`).
    pub fn from_run(dir: &Path) -> Result<(Self, TrainingCheckpoint)> {
        let checkpoint = TrainingCheckpoint::from_run_dir(dir)?;
        let trainer = Trainer::resume(&checkpoint, 1)?;
        let params = Self::from_network(trainer.network(), checkpoint.config.t1)?;
        Ok((params, checkpoint))
    }
}
