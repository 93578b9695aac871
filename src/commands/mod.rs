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
    pub fn fixed_settings(&self) -> anyhow::Result<Vec<ep_runtime::study::axes::Setting>> {
        Ok(self.given()?.fixed_settings())
    }

    /// The flags parsed, contradictions refused; what they leave out takes the model's defaults
    /// ([`ep_runtime::GivenSettings`], shared with the Python package). `--placement` belongs to the
    /// target flags: the caller sets it.
    pub fn given(&self) -> anyhow::Result<ep_runtime::GivenSettings> {
        use ep_runtime::BetaSign;
        let beta_sign = match (self.positive_beta, self.beta_sign.as_deref()) {
            (true, None | Some("positive")) | (false, Some("positive")) => Some(BetaSign::Positive),
            (false, Some("random")) => Some(BetaSign::Random),
            (false, None) => None,
            (true, Some(other)) => {
                anyhow::bail!("--positive-beta contradicts --beta-sign {other}: give one of them")
            }
            (false, Some(other)) => anyhow::bail!("invalid --beta-sign {other}: use random or positive"),
        };
        let symmetric = match (self.symmetric, self.estimate.as_deref()) {
            (true, None | Some("symmetric")) | (false, Some("symmetric")) => Some(true),
            (false, Some("one-sided")) => Some(false),
            (false, None) => None,
            (true, Some(other)) => {
                anyhow::bail!("--symmetric contradicts --estimate {other}: give one of them")
            }
            (false, Some(other)) => anyhow::bail!("invalid --estimate {other}: use one-sided or symmetric"),
        };
        Ok(ep_runtime::GivenSettings {
            neuron: self.neuron.as_deref().map(str::parse).transpose()?,
            beta_sign,
            symmetric,
            t1: self.t1,
            t2: self.t2,
            beta: self.beta,
            batch: self.batch,
            lr: self.lr.as_deref().map(ep_runtime::TrainConfig::parse_lr).transpose()?,
            lr_schedule: self.lr_schedule.as_deref().map(ep_runtime::LrSchedule::parse).transpose()?,
            dt: self.dt,
            weight_headroom: self.weight_headroom,
            settle_tol: self.settle_tol,
            target_accuracy: self.target_accuracy,
            placement: ep_runtime::PlacementStrategy::default(),
        })
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
        Ok(self.given()?.config(profile, shape, tau, epochs, seed, threads)?)
    }
}
