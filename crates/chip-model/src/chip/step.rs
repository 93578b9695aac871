//! Running time steps: the synchronous update of every neuron population, with or without a nudge.
//!
//! Each step first computes every population's synaptic drive from the activity of the previous step,
//! then updates all neurons (a synchronous, Loihi-like step); the core kind does the arithmetic of
//! both. Inputs are held constant during a run, so their contribution is computed once per input
//! change (the result is the same as recomputing it each step; the operation counters still count it
//! every step, as the hardware would).
//!
//! The examples of a batch do not interact while steps run, so with several threads a run cuts the
//! batch into row shards ([`super::row_shards`]) that run all their steps in parallel; every
//! example's numbers are the same whichever shard computes them.

use super::Chip;
use super::routes::BlockRoute;
use super::row_shards::RowShard;
use super::shard_balance::PartTiming;
use crate::cores::read_noise::{NoiseSlots, StepNoise};
use crate::cores::{CoreKind, Dynamics, ExecutionPath, NoiseSource, NudgeUnits};
use crate::counters::OpCounters;
use crate::error::{ChipError, Result};
use crate::parallel::for_each_part;
use crate::population::{Population, PopulationId};
use crate::profile::ChipSpec;
use crate::synapse_group::SynapseGroup;
use ndarray::ArrayView2;

/// A nudge toward targets on one population: the extra drive `β·(target − s)` (EP's nudged phase).
#[derive(Debug, Clone, Copy)]
pub struct Nudge<'a> {
    /// The nudged population (normally the output layer).
    pub population: PopulationId,
    /// Targets in [0, 1], batch × size.
    pub target: ArrayView2<'a, f32>,
    /// Nudge strength β (may be negative).
    pub beta: f32,
}

/// One shard of a sharded run: its rows, the noise generator if its thread draws the read noise,
/// what it computed and how long that took.
#[derive(Default)]
struct ShardPart<'a> {
    rows: std::ops::Range<usize>,
    drawer: Option<&'a mut rand::rngs::Xoshiro256PlusPlus>,
    shard: Option<RowShard>,
    timing: PartTiming,
}

/// Publishes "no noise" for the steps not drawn when dropped (see [`NoiseSlots::publish_rest`]).
struct PublishRest<'a>(&'a NoiseSlots);

impl Drop for PublishRest<'_> {
    fn drop(&mut self) {
        self.0.publish_rest();
    }
}

/// Fewest examples per shard: below this a run keeps the batch on one thread (and shares the large
/// matrix products among threads instead).
pub const MIN_ROWS_PER_SHARD: usize = 4;

/// A network with a synapse group between neuron populations (multiplied at every step) of at
/// least this many weights keeps a run's batch whole and shares each step's products among the
/// threads by columns: row shards would each multiply their few examples by all of the weights
/// (and the general product pack all of them on every thread at every step). Measured on an
/// AVX-512 Xeon, two threads at batch 20 / 50: 784-500-500-10 (250,000 such weights) 1.33 /
/// 1.63× sharded against 1.78 / 1.76× whole (ideal), 784-2000-2000-10 1.57 / 1.72× against
/// 2.31 / 1.91×, 784-8000-8000-10 on loihi2 at batch 20 1.40× against 1.76×; 784-H-10 networks
/// (H × 10 weights between neuron layers) stay sharded.
pub const SHARD_MAX_STEP_WEIGHTS: usize = 1 << 17;

/// The parts of the chip every shard reads while steps run.
pub(super) struct StepContext<'a> {
    pub kind: &'a CoreKind,
    pub groups: &'a [SynapseGroup],
    pub routes: &'a [Vec<BlockRoute>],
    pub spec: &'a ChipSpec,
    pub path: ExecutionPath,
    /// Threads for matrix products inside one shard.
    pub threads: usize,
    /// Read noise of steps `first_step..` (analog cores), drawn by another thread while steps run.
    pub noise: &'a NoiseSlots,
    /// The step whose noise is the first slot of `noise`.
    pub first_step: usize,
}

impl StepContext<'_> {
    /// The read noise of step `t`, if any (waiting for it to be drawn).
    pub fn noise_of(&self, t: usize) -> Option<&StepNoise> {
        t.checked_sub(self.first_step).and_then(|k| self.noise.wait(k))
    }
}

/// What one step of a block of rows measured: the largest state change, and (when measured) each
/// row's summed squared change over every population.
pub(super) struct StepMeasure<'a> {
    pub max_change: f32,
    pub row_sq: Option<&'a mut [f64]>,
}

impl Chip {
    /// Runs `steps` synchronous time steps, optionally nudging one population toward targets.
    pub fn run(&mut self, steps: usize, nudge: Option<&Nudge>) -> Result<()> {
        let nudge = self.begin_run(nudge)?;
        match self.shard_threads() {
            Some(threads) => self.run_sharded(threads, nudge.as_ref(), 0..steps),
            None => {
                for t in 0..steps {
                    self.step(nudge.as_ref(), t + 1 == steps);
                }
            }
        }
        Ok(())
    }

    /// Runs steps until the largest state change of any neuron in one step (real units) falls below
    /// `tolerance`, or `max_steps` have run; returns the number of steps taken. Every step is measured,
    /// so this is slower per step than [`Chip::run`].
    pub fn run_until_settled(
        &mut self,
        max_steps: usize,
        tolerance: f32,
        nudge: Option<&Nudge>,
    ) -> Result<usize> {
        if !(tolerance.is_finite() && tolerance > 0.0) {
            return Err(ChipError::InvalidConfig(format!("settling tolerance {tolerance} must be > 0")));
        }
        let nudge = self.begin_run(nudge)?;
        if let Some(threads) = self.shard_threads() {
            // One step at a time (each step's noise drawn just before it, as on one thread).
            for t in 0..max_steps {
                self.run_sharded(threads, nudge.as_ref(), t..t + 1);
                if self.last_max_change < tolerance {
                    return Ok(t + 1);
                }
            }
            return Ok(max_steps);
        }
        for t in 0..max_steps {
            self.step(nudge.as_ref(), true);
            if self.last_max_change < tolerance {
                return Ok(t + 1);
            }
        }
        Ok(max_steps)
    }

    /// The number of row shards a run shares among threads, or `None` to run the batch as one
    /// (its large products still shared among threads): with one thread, the reference path, CUBA
    /// LIF populations, too few examples per thread, or a group between neuron populations of
    /// [`SHARD_MAX_STEP_WEIGHTS`] weights or more.
    fn shard_threads(&self) -> Option<usize> {
        let threads = self.threads.min(self.batch / MIN_ROWS_PER_SHARD);
        let lif = self.populations.iter().any(|p| p.lif_template.is_some());
        let large = self
            .groups
            .iter()
            .any(|g| !self.populations[g.pre.0].is_input && g.weights.len() >= SHARD_MAX_STEP_WEIGHTS);
        (threads > 1 && self.path == ExecutionPath::Fast && !lif && !large).then_some(threads)
    }

    /// The rows of `threads` shards, cut in proportion to the speeds the parts showed
    /// ([`super::shard_balance`]); the first shard's thread also draws the read noise.
    fn shard_ranges(&self, threads: usize) -> Vec<std::ops::Range<usize>> {
        self.shard_balance.ranges(self.batch, threads)
    }

    /// Checks and converts the nudge, and brings the inputs' constant drive up to date.
    fn begin_run(&mut self, nudge: Option<&Nudge>) -> Result<Option<NudgeUnits>> {
        let nudge = match nudge {
            Some(n) => Some(self.prepare_nudge(n)?),
            None => None,
        };
        if self.static_dirty {
            self.refresh_static();
            self.static_dirty = false;
        }
        if self.spike_routes.is_none() {
            self.spike_routes = Some(self.build_spike_routes());
        }
        Ok(nudge)
    }

    fn prepare_nudge(&self, n: &Nudge) -> Result<NudgeUnits> {
        let p = self.pop(n.population)?;
        if p.is_input {
            return Err(ChipError::InvalidConfig(format!("cannot nudge input population `{}`", p.name)));
        }
        if n.target.dim() != (self.batch, p.size) {
            return Err(ChipError::InvalidConfig(format!(
                "nudge target for `{}` has shape {:?}, expected ({}, {})",
                p.name,
                n.target.dim(),
                self.batch,
                p.size
            )));
        }
        if !n.beta.is_finite() {
            return Err(ChipError::InvalidConfig(format!("nudge strength β = {} is not finite", n.beta)));
        }
        let (one, nf) = self.kind.arithmetic().nudge_units();
        Ok(NudgeUnits {
            pop: n.population.0,
            target_f: n.target.mapv(|y| y.clamp(0.0, 1.0)),
            target_i: n.target.mapv(|y| (f64::from(y.clamp(0.0, 1.0)) * one).round() as i64),
            beta_f: n.beta,
            beta_q: (f64::from(n.beta) * (1u64 << nf) as f64).round() as i64,
        })
    }

    /// Recomputes the constant drive that input populations deliver.
    fn refresh_static(&mut self) {
        let Chip { kind, populations, groups, batch, threads, path, .. } = self;
        let mut net = Dynamics {
            populations,
            groups,
            batch: *batch,
            threads: *threads,
            path: *path,
            noise: NoiseSource::None,
            first_row: 0,
        };
        for q in 0..net.populations.len() {
            if net.populations[q].is_input || net.populations[q].lif_template.is_some() {
                continue;
            }
            kind.arithmetic().static_drive(&mut net, q);
        }
    }

    /// One step of the whole batch on the calling thread (products shared among the chip's threads).
    fn step(&mut self, nudge: Option<&NudgeUnits>, last: bool) {
        let mut row_sq = if last { vec![0.0f64; self.batch] } else { Vec::new() };
        let Chip {
            kind,
            populations,
            groups,
            spike_routes,
            profile,
            path,
            threads,
            batch,
            cores,
            noise_rng,
            ..
        } = self;
        let routes = spike_routes.as_deref().unwrap_or_default();
        let ctx = StepContext {
            kind,
            groups,
            routes,
            spec: &profile.chip,
            path: *path,
            threads: *threads,
            noise: &NoiseSlots::default(),
            first_step: 0,
        };
        let mut measure = StepMeasure { max_change: 0.0, row_sq: last.then_some(&mut row_sq[..]) };
        let noise = NoiseSource::InPlace(noise_rng);
        step_rows(&ctx, populations, (0, *batch), nudge, noise, &mut cores[..], &mut measure);
        let max_change = measure.max_change;
        self.bump_versions(1);
        if last {
            self.record_residuals(&row_sq, max_change);
        }
    }

    /// Runs steps `steps` of a run on `threads` row shards in parallel, then writes the shards back
    /// (and keeps them for the next run: see [`super::row_shards::ShardCache`]).
    /// The first shard's thread draws every step's read noise first (in the order a step-by-step
    /// run draws it) while the other shards start; it then runs its own rows, fewer of them when
    /// drawing takes long (any split gives the same numbers: examples do not interact).
    fn run_sharded(&mut self, threads: usize, nudge: Option<&NudgeUnits>, steps: std::ops::Range<usize>) {
        crate::parallel::count_sharded_run();
        let digital = self.kind.digital().is_some();
        let input_activity = self.kind.steps_read_input_activity();
        let (ranges, kept) = match self.shard_cache.take(self.populations.changes(), threads) {
            Some(kept) => {
                crate::parallel::count_kept_shard_run();
                kept
            }
            None => (self.shard_ranges(threads), Vec::new()),
        };
        let mut kept = kept.into_iter();
        let slots = NoiseSlots::new(steps.len());
        let Chip { kind, groups, spike_routes, profile, path, populations, cores, noise_rng, batch, .. } =
            self;
        let (kind, populations, batch) = (&*kind, &*populations, *batch);
        let routes = spike_routes.as_deref().unwrap_or_default();
        let ctx = StepContext {
            kind,
            groups,
            routes,
            spec: &profile.chip,
            path: *path,
            threads: 1,
            noise: &slots,
            first_step: steps.start,
        };
        let mut parts: Vec<ShardPart> = ranges
            .iter()
            .cloned()
            .map(|rows| {
                let shard = if rows.is_empty() { None } else { kept.next() };
                ShardPart { rows, shard, ..Default::default() }
            })
            .collect();
        if let Some(first) = parts.first_mut() {
            first.drawer = Some(noise_rng);
        }
        let run_start = std::time::Instant::now();
        for_each_part(&mut parts, |_, part| {
            if let Some(rng) = part.drawer.take() {
                let start = std::time::Instant::now();
                let publish_rest = PublishRest(&slots);
                for k in 0..slots.len() {
                    slots.publish(k, kind.arithmetic().draw_read_noise(populations, batch, rng));
                }
                drop(publish_rest);
                part.timing.drawing = start.elapsed().as_secs_f32();
            }
            part.timing.rows = part.rows.len();
            if !part.rows.is_empty() {
                let mut shard = match part.shard.take() {
                    Some(mut kept) => {
                        kept.restart(nudge);
                        kept
                    }
                    None => {
                        let formats = (digital, input_activity);
                        RowShard::new(populations, part.rows.clone(), nudge, cores.len(), formats)
                    }
                };
                part.timing.waited = shard.run(&ctx, steps.clone());
                part.shard = Some(shard);
            }
            part.timing.done = run_start.elapsed().as_secs_f32();
        });
        let timings: Vec<PartTiming> = parts.iter().map(|p| p.timing).collect();
        let shards: Vec<RowShard> = parts.into_iter().filter_map(|p| p.shard).collect();
        self.shard_balance.learn(&timings, steps.len());
        let mut row_sq = Vec::with_capacity(self.batch);
        let mut max_change = 0.0f32;
        for shard in &shards {
            shard.write_back(&mut self.populations);
            row_sq.extend_from_slice(&shard.row_sq);
            max_change = max_change.max(shard.max_change);
            self.add_counters(&shard.counters);
        }
        // The shards' nonzero counts add up to the whole batch's (no second pass over the activity).
        for (q, p) in self.populations.iter_mut().enumerate().filter(|(_, p)| !p.is_input) {
            let mut counts = vec![0u32; p.size];
            for shard in &shards {
                for (c, &s) in counts.iter_mut().zip(shard.nonzero_counts(q)) {
                    *c += s;
                }
            }
            p.set_nonzero_counts(counts);
        }
        self.bump_versions(steps.len());
        if !steps.is_empty() {
            self.record_residuals(&row_sq, max_change);
        }
        self.shard_cache.keep(self.populations.changes(), ranges, shards);
    }

    /// Gives every neuron population's activity a new version for each of `steps` steps, in the
    /// order a step-by-step run would.
    fn bump_versions(&mut self, steps: usize) {
        for _ in 0..steps {
            for p in self.populations.iter_mut().filter(|p| !p.is_input) {
                self.version_clock += 1;
                p.version = self.version_clock;
            }
        }
    }

    fn add_counters(&mut self, counters: &[OpCounters]) {
        for (core, c) in self.cores.iter_mut().zip(counters) {
            core.counters += *c;
        }
    }

    /// Stores the last step's residuals from each example's summed squared change.
    fn record_residuals(&mut self, row_sq: &[f64], max_change: f32) {
        let neurons: usize = self.populations.iter().filter(|p| !p.is_input).map(|p| p.size).sum();
        let count = neurons * self.batch;
        let total: f64 = row_sq.iter().sum();
        self.last_residual = if count > 0 { (total / count as f64).sqrt() as f32 } else { 0.0 };
        let neurons = neurons.max(1) as f64;
        self.last_residuals = row_sq.iter().map(|&s| (s / neurons).sqrt() as f32).collect();
        self.last_max_change = max_change;
    }

    /// Root-mean-square change of the neuron states in the last step of the last run (real units).
    pub fn last_step_residual(&self) -> f32 {
        self.last_residual
    }

    /// Largest state change of any neuron (real units) in the last step of the last run.
    pub fn last_max_change(&self) -> f32 {
        self.last_max_change
    }

    /// Root-mean-square state change of each example (batch row) in the last step of the last run.
    pub fn last_step_residuals(&self) -> &[f32] {
        &self.last_residuals
    }
}

/// One step of a run for `rows` examples (the batch's rows from `first_row`) held in `pops`, with
/// read noise from `noise`: every
/// drive, the operation counters of this step into `counters` (one per core), then every neuron
/// update; the largest state change (and each row's squared change, when asked) into `measure`.
#[allow(clippy::too_many_arguments)]
pub(super) fn step_rows(
    ctx: &StepContext<'_>,
    pops: &mut [Population],
    (first_row, rows): (usize, usize),
    nudge: Option<&NudgeUnits>,
    noise: NoiseSource<'_>,
    counters: &mut (impl CounterSink + ?Sized),
    measure: &mut StepMeasure<'_>,
) {
    {
        let mut net = Dynamics {
            populations: pops,
            groups: ctx.groups,
            batch: rows,
            threads: ctx.threads,
            path: ctx.path,
            noise,
            first_row,
        };
        for q in 0..net.populations.len() {
            if !net.populations[q].is_input {
                ctx.kind.compute_drive(&mut net, q);
            }
        }
    }
    count_step(ctx, pops, rows as u64, counters);
    // Synchronous neuron update.
    for (q, pop_routes) in ctx.routes.iter().enumerate() {
        if pops[q].is_input {
            continue;
        }
        let nudge_here = nudge.filter(|n| n.pop == q);
        let pop = &mut pops[q];
        let rows_sq = measure.row_sq.as_deref_mut();
        ctx.kind.update_neurons(pop, nudge_here, rows_sq, &mut measure.max_change, ctx.path);
        pop.recount_nonzero();
        for (block, route) in pop.placement.iter().zip(pop_routes) {
            let (spikes, messages, crossing) = route.count(pop);
            let c = counters.core(block.core);
            c.neuron_updates += rows as u64 * block.len as u64;
            c.spikes += spikes;
            c.messages += messages;
            c.chip_messages += crossing;
        }
    }
}

/// Counters for the synaptic operations of one step (input spikes included), and the messages that
/// bring the host's input values to the cores that use them.
fn count_step(
    ctx: &StepContext<'_>,
    pops: &[Population],
    batch: u64,
    counters: &mut (impl CounterSink + ?Sized),
) {
    for grp in ctx.groups {
        let pre = &pops[grp.pre.0];
        for (bi, block) in pops[grp.post.0].placement.iter().enumerate() {
            let len = block.len as u64;
            let mut segments = grp.fan_in.iter().filter(|s| s.post_block == bi).peekable();
            if segments.peek().is_none() {
                counters.core(block.core).synaptic_ops += pre.nonzero() * len;
            }
            for s in segments {
                // Relay compartments: the segment's synapses, their update, and one partial sum per
                // compartment and example sent to the block's core.
                let relay = counters.core(s.relay_core);
                relay.synaptic_ops += pre.nonzero_in(s.pre_start, s.pre_start + s.pre_len) * len;
                relay.neuron_updates += batch * len;
                if s.relay_core != block.core {
                    relay.messages += batch * len;
                    if ctx.spec.chip_of(s.relay_core) != ctx.spec.chip_of(block.core) {
                        relay.chip_messages += batch * len;
                    }
                }
                counters.core(block.core).synaptic_ops += batch * len;
            }
        }
    }
    for (q, pop_routes) in ctx.routes.iter().enumerate() {
        if pops[q].is_input {
            let (_, messages, crossing) = pop_routes.first().map_or((0, 0, 0), |r| r.count(&pops[q]));
            if let Some(c) = counters.first() {
                c.messages += messages;
                c.chip_messages += crossing;
            }
        }
    }
}

/// Where a step's operation counters go: the chip's cores (one thread) or a shard's own counters.
pub(super) trait CounterSink {
    /// The counters of core `core`.
    fn core(&mut self, core: usize) -> &mut OpCounters;
    /// The counters of the first core (the host's input messages are counted there), if any.
    fn first(&mut self) -> Option<&mut OpCounters>;
}

impl CounterSink for [OpCounters] {
    fn core(&mut self, core: usize) -> &mut OpCounters {
        &mut self[core]
    }
    fn first(&mut self) -> Option<&mut OpCounters> {
        self.first_mut()
    }
}

impl CounterSink for [crate::core_resources::CoreUsage] {
    fn core(&mut self, core: usize) -> &mut OpCounters {
        &mut self[core].counters
    }
    fn first(&mut self) -> Option<&mut OpCounters> {
        self.first_mut().map(|c| &mut c.counters)
    }
}
