//! One module per subcommand.

mod bench;
mod deploy;
mod export;
mod import;
mod lif_trace;
mod map;
mod profile;
mod study;
mod train;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs a parsed command line; the exit code on success (errors become exit code 1 in `main`).
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Bench(args) => bench::run(args),
        Command::LifTrace(args) => lif_trace::run(args),
        Command::Map(args) => map::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Study(args) => study::run(*args),
        Command::Profile(cmd) => profile::run(cmd),
    }
}

impl crate::cli::TrainingFlags {
    /// The settings these flags fix (a study's `neuron` axis keeps them instead of the model's
    /// defaults, and a study may not also vary them).
    pub fn fixed_settings(&self) -> Vec<ep_runtime::study::axes::Setting> {
        use ep_runtime::study::axes::Setting;
        [
            (Setting::Neuron, self.neuron.is_some()),
            (Setting::PositiveBeta, self.positive_beta || self.beta_sign.is_some()),
            (Setting::Symmetric, self.symmetric || self.estimate.is_some()),
            (Setting::T1, self.t1.is_some()),
            (Setting::T2, self.t2.is_some()),
            (Setting::Beta, self.beta.is_some()),
            (Setting::Batch, self.batch.is_some()),
            (Setting::Lr, self.lr.is_some()),
            (Setting::LrSchedule, self.lr_schedule.is_some()),
            (Setting::Dt, self.dt.is_some()),
            (Setting::WeightHeadroom, self.weight_headroom.is_some()),
        ]
        .into_iter()
        .filter_map(|(s, given)| given.then_some(s))
        .collect()
    }

    /// The training configuration these flags describe, for a run of `shape` with the given τ
    /// distribution, epochs, seed and threads; settings not given take the neuron model's defaults
    /// for that network and chip ([`ep_runtime::TrainConfig::for_profile`]).
    pub fn config(
        &self,
        profile: &chip_model::HardwareProfile,
        shape: &ep_runtime::NetworkShape,
        tau: ep_runtime::TauSpec,
        epochs: usize,
        seed: u64,
        threads: usize,
    ) -> anyhow::Result<ep_runtime::TrainConfig> {
        let neuron = match &self.neuron {
            Some(name) => name.parse()?,
            None => ep_runtime::TrainConfig::default_model(profile),
        };
        let defaults = ep_runtime::TrainConfig::for_profile(neuron, shape, profile);
        let beta_sign = match (self.positive_beta, self.beta_sign.as_deref()) {
            (true, None | Some("positive")) | (false, Some("positive")) => ep_runtime::BetaSign::Positive,
            (false, Some("random")) => ep_runtime::BetaSign::Random,
            (false, None) => defaults.beta_sign,
            (true, Some(other)) => {
                anyhow::bail!("--positive-beta contradicts --beta-sign {other}: give one of them")
            }
            (false, Some(other)) => anyhow::bail!("invalid --beta-sign {other}: use random or positive"),
        };
        let symmetric = match (self.symmetric, self.estimate.as_deref()) {
            (true, None | Some("symmetric")) | (false, Some("symmetric")) => true,
            (false, Some("one-sided")) => false,
            (false, None) => defaults.symmetric,
            (true, Some(other)) => {
                anyhow::bail!("--symmetric contradicts --estimate {other}: give one of them")
            }
            (false, Some(other)) => anyhow::bail!("invalid --estimate {other}: use one-sided or symmetric"),
        };
        Ok(ep_runtime::TrainConfig {
            neuron,
            t1: self.t1.unwrap_or(defaults.t1),
            t2: self.t2.unwrap_or(defaults.t2),
            beta: self.beta.unwrap_or(defaults.beta),
            beta_sign,
            symmetric,
            batch: self.batch.unwrap_or(defaults.batch),
            lr: match &self.lr {
                Some(text) => ep_runtime::TrainConfig::parse_lr(text)?,
                None => defaults.lr,
            },
            lr_schedule: match &self.lr_schedule {
                Some(text) => ep_runtime::LrSchedule::parse(text)?,
                None => defaults.lr_schedule,
            },
            base_dt: self.dt.unwrap_or(defaults.base_dt),
            tau,
            weight_headroom: self.weight_headroom.unwrap_or(defaults.weight_headroom),
            epochs,
            seed,
            threads,
            eval_batch: 500,
            settle_tol: self.settle_tol,
            target_accuracy: self.target_accuracy,
            // --placement belongs to the target flags; the caller sets it.
            placement: ep_runtime::PlacementStrategy::default(),
        })
    }
}
