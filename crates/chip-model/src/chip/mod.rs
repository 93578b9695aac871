//! The emulated chip: one instance of a hardware profile with its realised device parameters.
//!
//! The pipeline is the one of nengo-loihi and Lava: a user *builds* populations and synapse groups
//! in real units, the chip *discretises* them into its core kind's number formats and *allocates*
//! them on cores against the profile's limits ([`allocation`](self) below), then the user *runs*
//! steps and applies local learning. The chip keeps allocation, routing, counters and the public
//! API; every number format, neuron update, dendritic sum and learning-engine rounding belongs to
//! the core kind (`cores/`), which the chip asks through [`crate::cores::CoreArithmetic`].
//!
//! - `allocation.rs`: populations and synapse groups on cores;
//! - `state_io.rs`: weights, biases, inputs, states in real units; batch size; snapshots;
//! - `step.rs`: time steps with or without a nudge;
//! - `row_shards.rs`: a run's examples shared among threads;
//! - `shard_balance.rs`: how many examples each thread takes (from the speeds it showed);
//! - `population_list.rs`: the populations, with a count of changes (when shards stay valid);
//! - `routes.rs`: where spikes go, and the message counters;
//! - `learning.rs`: latched traces and local learning rules;
//! - `checkpoint.rs`: saving and restoring what a chip learned.

mod allocation;
pub mod checkpoint;
mod learning;
mod population_list;
mod retention;
mod routes;
mod row_shards;
mod shard_balance;
mod state_io;
mod step;

pub use state_io::{DigitalNeurons, StateSnapshot};
pub use step::{Nudge, SHARD_MAX_STEP_WEIGHTS};

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::core_resources::CoreUsage;
pub use crate::cores::ExecutionPath;
use crate::cores::{CoreKind, Fabric};
use crate::counters::OpCounters;
use crate::energy::EnergyReport;
use crate::error::{ChipError, Result};
use crate::mismatch::MismatchSampler;
use crate::population::{Population, PopulationId};
use crate::profile::HardwareProfile;
use crate::rounding_noise::{RoundingNoise, mix};
use crate::synapse_group::{GroupId, SynapseGroup};

/// One integer state value per neuron for each example of the batch.
pub type LifStates = Vec<Vec<i64>>;

/// One emulated chip instance: a profile, realised device parameters and the mapped network.
#[derive(Debug, Clone)]
pub struct Chip {
    pub(crate) profile: HardwareProfile,
    /// The kind of core and its arithmetic.
    pub(crate) kind: CoreKind,
    pub(crate) noise_rng: Xoshiro256PlusPlus,
    pub(crate) seed: u64,
    pub(crate) mismatch: MismatchSampler,
    pub(crate) noise: RoundingNoise,
    pub(crate) cores: Vec<CoreUsage>,
    pub(crate) populations: population_list::PopulationList,
    pub(crate) groups: Vec<SynapseGroup>,
    pub(crate) batch: usize,
    pub(crate) static_dirty: bool,
    pub(crate) path: ExecutionPath,
    pub(crate) threads: usize,
    pub(crate) last_residual: f32,
    pub(crate) last_residuals: Vec<f32>,
    pub(crate) last_max_change: f32,
    /// Source of activity versions: every change of a population's activity gets a number never
    /// used before on this chip, so equal versions mean equal data, also after
    /// [`Chip::restore_state`] (the learning engine shares products between traces of one version;
    /// per-population counters restored from a snapshot reused numbers for other data).
    pub(crate) version_clock: u64,
    /// Next free neuron slot on each core (mismatch streams are addressed by slot).
    next_slot: Vec<usize>,
    /// Where each population's spikes go, per sending block (built on first use after a change).
    pub(crate) spike_routes: Option<Vec<Vec<routes::BlockRoute>>>,
    /// Reused buffers for summed updates (saves allocating and page-faulting a pre × post array at
    /// every update).
    pub(crate) update_scratch: crate::learning_engine::UpdateBuffers,
    /// Times weights were programmed from outside (each draws a new write error).
    pub(crate) programmings: u64,
    /// The row shards of the last sharded run, kept for the next one while the populations do not
    /// change in between (a cache that changes no number).
    shard_cache: row_shards::ShardCache,
    /// How a sharded run cuts the batch among its threads (tuned from timings; a speed setting
    /// that changes no number).
    shard_balance: shard_balance::ShardBalance,
}

impl Chip {
    /// A chip instance of `profile` whose device mismatch is drawn from `seed`.
    pub fn new(profile: &HardwareProfile, seed: u64) -> Result<Self> {
        profile.validate()?;
        let cores = profile.chip.total_cores();
        Ok(Self {
            profile: profile.clone(),
            kind: CoreKind::for_profile(profile),
            noise_rng: Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ 0x0072_6561_645f_6e6f)),
            seed,
            mismatch: MismatchSampler::new(profile.mismatch.clone(), seed),
            noise: RoundingNoise::new(seed),
            cores: vec![CoreUsage::default(); cores],
            populations: Default::default(),
            groups: Vec::new(),
            batch: 1,
            static_dirty: true,
            path: ExecutionPath::Fast,
            threads: 1,
            last_residual: 0.0,
            last_residuals: Vec::new(),
            last_max_change: 0.0,
            version_clock: 0,
            next_slot: vec![0; cores],
            spike_routes: None,
            update_scratch: Default::default(),
            shard_cache: Default::default(),
            shard_balance: Default::default(),
            programmings: 0,
        })
    }

    /// The profile this chip emulates.
    pub fn profile(&self) -> &HardwareProfile {
        &self.profile
    }

    /// Restarts the read-noise generator on stream `stream` of this chip instance. Evaluation uses
    /// it to give every batch its own noise, independent of which worker computes it.
    pub fn reseed_noise(&mut self, stream: u64) {
        self.noise_rng =
            Xoshiro256PlusPlus::seed_from_u64(mix(self.seed ^ 0x0072_6561_645f_6e6f) ^ mix(stream));
    }

    /// Chooses the fast or the reference implementation.
    pub fn set_execution_path(&mut self, path: ExecutionPath) {
        self.path = path;
    }

    /// Worker threads used inside one step (results do not depend on it).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Per-core usage and counters.
    pub fn cores(&self) -> &[CoreUsage] {
        &self.cores
    }

    /// Cores that hold at least one neuron.
    pub fn used_cores(&self) -> usize {
        self.cores.iter().filter(|c| c.neurons > 0).count()
    }

    /// Operation counts summed over all cores.
    pub fn total_counters(&self) -> OpCounters {
        let mut total = OpCounters::default();
        for c in &self.cores {
            total += c.counters;
        }
        total
    }

    /// Sets every core's operation counters to zero.
    pub fn reset_counters(&mut self) {
        for c in &mut self.cores {
            c.counters = OpCounters::default();
        }
    }

    /// Energy estimate of everything counted so far.
    pub fn energy(&self) -> EnergyReport {
        EnergyReport::estimate(&self.total_counters(), &self.profile.energy)
    }

    /// Name and size of a population.
    pub fn population_info(&self, pop: PopulationId) -> Result<(&str, usize)> {
        let p = self.pop(pop)?;
        Ok((&p.name, p.size))
    }

    /// Digital cores: the weight exponent of a group.
    pub fn weight_exponent(&self, group: GroupId) -> Result<i32> {
        Ok(self.group(group)?.exponent)
    }

    pub(crate) fn pop(&self, id: PopulationId) -> Result<&Population> {
        self.populations.get(id.0).ok_or_else(|| unknown_population(id))
    }

    pub(crate) fn group(&self, id: GroupId) -> Result<&SynapseGroup> {
        self.groups
            .get(id.0)
            .ok_or_else(|| ChipError::InvalidConfig(format!("unknown synapse group {}", id.0)))
    }

    /// The populations, groups and settings a core kind's arithmetic works on, and the kind.
    pub(crate) fn fabric(&mut self) -> (&CoreKind, Fabric<'_>) {
        let Chip { kind, populations, groups, batch, threads, profile, noise, seed, update_scratch, .. } =
            self;
        let net = Fabric {
            populations,
            groups,
            batch: *batch,
            threads: *threads,
            learning: &profile.learning,
            rounding_noise: *noise,
            seed: *seed,
            scratch: update_scratch,
        };
        (kind, net)
    }
}

/// The error for a population handle this chip did not issue.
pub(crate) fn unknown_population(id: PopulationId) -> ChipError {
    ChipError::InvalidConfig(format!("unknown population {}", id.0))
}
