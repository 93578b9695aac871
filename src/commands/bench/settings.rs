//! `epchip bench`'s flags resolved and checked once: the thread counts, profiles, network,
//! batches and amounts every mode of the bench works from.

use ep_runtime::{NetworkShape, NeuronModel, load_dataset};

use super::child::Amount;
use super::workload::{Workload, parse_counts, parse_layers, parse_neuron, parse_profiles};
use crate::cli::BenchArgs;

/// Batches of the standard workloads (each on every profile).
const STANDARD_BATCHES: [usize; 2] = [50, 1];
/// Batch when `--layers` is given without `--batch`.
const CUSTOM_BATCH: usize = 50;
/// Training examples per measurement unless `--examples` says otherwise.
const DEFAULT_EXAMPLES: usize = 2000;

/// The bench's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Neuron model.
    pub neuron: NeuronModel,
    /// Thread counts, as given.
    pub threads: Vec<usize>,
    /// `--threads` as typed (for errors).
    pub threads_text: String,
    /// Profiles, as given.
    pub profiles: Vec<String>,
    /// The network (784-500-10 unless `--layers`).
    pub shape: NetworkShape,
    /// Batches: as given, else 50 (custom network) or the standard 50 and 1.
    pub batches: Vec<usize>,
    /// Whether `--layers` or `--batch` was given (not the standard workloads).
    pub custom: bool,
    /// `--examples` as given.
    pub examples_given: Option<usize>,
    /// Training examples in mnist10k.
    pub available: usize,
    /// What each measurement trains and evaluates.
    pub amount: Amount,
}

impl Settings {
    /// Parses and checks the flags; errors name the flag, the value and what is allowed.
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<Self> {
        anyhow::ensure!(args.repeat > 0, "invalid --repeat 0: use 1 or more");
        let neuron = parse_neuron(&args.neuron)?;
        let threads = parse_counts("threads", &args.threads, 1..=1024, "worker threads")?;
        let profiles = parse_profiles(args.profile.as_deref())?;
        let batches = args
            .batch
            .as_deref()
            .map(|b| parse_counts("batch", b, 1..=100_000, "examples per mini-batch"))
            .transpose()?;
        let shape = args.layers.as_deref().map(parse_layers).transpose()?;
        anyhow::ensure!(
            args.min_seconds.is_finite() && args.min_seconds >= 0.0,
            "invalid --min-seconds {}: a number of seconds ≥ 0",
            args.min_seconds
        );
        let data = load_dataset("mnist10k")?;
        let (available, test) = (data.train.len(), data.test.len());
        if let Some(n) = args.examples {
            anyhow::ensure!(
                (1..=available).contains(&n),
                "invalid --examples {n}: training examples per measurement in 1..={available} (mnist10k's \
                 training set)"
            );
        }
        if let Some(n) = args.eval_examples {
            anyhow::ensure!(
                (1..=test).contains(&n),
                "invalid --eval-examples {n}: test digits per measurement in 1..={test} (mnist10k's test set)"
            );
        }
        let custom = shape.is_some() || batches.is_some();
        let examples = args.examples.unwrap_or(DEFAULT_EXAMPLES);
        Ok(Self {
            neuron,
            threads,
            threads_text: args.threads.clone(),
            profiles,
            shape: match shape {
                Some(s) => s,
                None => NetworkShape::parse("784,500,10")?,
            },
            batches: batches
                .unwrap_or_else(|| if custom { vec![CUSTOM_BATCH] } else { STANDARD_BATCHES.to_vec() }),
            custom,
            examples_given: args.examples,
            available,
            amount: Amount {
                examples,
                eval_examples: args.eval_examples.unwrap_or(if custom { examples.min(test) } else { test }),
                repeat: args.repeat,
                min_seconds: args.min_seconds,
            },
        })
    }

    /// The one thread count a mode that takes one (`mode` names it in the error) measures.
    pub fn one_thread_count(&self, mode: &str) -> anyhow::Result<usize> {
        match self.threads.as_slice() {
            [t] => Ok(*t),
            _ => {
                anyhow::bail!("invalid --threads `{}` with {mode}: give one thread count", self.threads_text)
            }
        }
    }

    /// The workloads of the table: every batch on every profile, the network refused before
    /// anything is measured where a profile cannot hold it.
    pub fn workloads(&self) -> anyhow::Result<Vec<Workload>> {
        let mut list = Vec::new();
        for &batch in &self.batches {
            for profile in &self.profiles {
                let w = Workload {
                    profile: profile.clone(),
                    shape: self.shape.clone(),
                    batch,
                    neuron: self.neuron,
                };
                w.check_fits()?;
                list.push(w);
            }
        }
        Ok(list)
    }
}
