//! Row shards: a contiguous range of the batch's examples with its own copy of every population's
//! states, so that the shards of one run step in parallel without sharing anything mutable.
//!
//! Examples do not interact while steps run (only learning sums over the batch), so a shard runs
//! all the steps of a run on its own and writes its rows back at the end. Read noise is keyed by
//! the example's row in the whole batch (see [`crate::cores::ReadNoise`]) and the operation
//! counters are sums over examples, so the chip ends up with the same numbers whatever the shards.
//!
//! The shards of a run are kept ([`ShardCache`]) and carry on into the next run when nothing
//! changed the chip's populations in between (EP's nudged phase right after its free phase): they
//! hold exactly the rows the chip holds, so making them again would copy the same numbers.

use std::ops::Range;

use ndarray::s;

use super::step::{StepContext, StepMeasure, step_rows};
use crate::cores::{NoiseSource, NudgeUnits};
use crate::counters::OpCounters;
use crate::population::Population;

/// Examples `rows` of the batch, with their populations, nudge, counters and measurements.
pub(super) struct RowShard {
    rows: Range<usize>,
    populations: Vec<Population>,
    nudge: Option<NudgeUnits>,
    /// Operation counters of the shard's examples, one per core.
    pub counters: Vec<OpCounters>,
    /// Each example's summed squared state change in the last step run.
    pub row_sq: Vec<f64>,
    /// Largest state change in the last step run.
    pub max_change: f32,
}

impl RowShard {
    /// A shard of examples `rows` of `populations` (and of the nudge's targets), on a chip of `cores`
    /// cores (`digital`: integer neuron states; `input_activity`: steps read the inputs' activity,
    /// not only its nonzero counts).
    pub fn new(
        populations: &[Population],
        rows: Range<usize>,
        nudge: Option<&NudgeUnits>,
        cores: usize,
        (digital, input_activity): (bool, bool),
    ) -> Self {
        let nudge = nudge.map(|n| shard_nudge(n, rows.clone()));
        RowShard {
            populations: populations
                .iter()
                .map(|p| p.rows_copy(rows.clone(), digital, input_activity))
                .collect(),
            row_sq: vec![0.0; rows.len()],
            rows,
            nudge,
            counters: vec![OpCounters::default(); cores],
            max_change: 0.0,
        }
    }

    /// Makes the shard ready for another run with `nudge` (of the whole batch): the nudge's rows,
    /// and counters from zero.
    pub fn restart(&mut self, nudge: Option<&NudgeUnits>) {
        self.nudge = nudge.map(|n| shard_nudge(n, self.rows.clone()));
        self.counters.fill(OpCounters::default());
    }

    /// Runs steps `steps` of the run on this shard, measuring the last one; returns the seconds
    /// it waited for another thread to draw the steps' read noise.
    pub fn run(&mut self, ctx: &StepContext<'_>, steps: Range<usize>) -> f32 {
        let end = steps.end;
        let mut waited = 0.0f32;
        for t in steps {
            let last = t + 1 == end;
            self.row_sq.fill(0.0);
            let mut measure = StepMeasure { max_change: 0.0, row_sq: last.then_some(&mut self.row_sq[..]) };
            let (first, rows) = (self.rows.start, self.rows.len());
            let waiting = std::time::Instant::now();
            let noise = ctx.noise_of(t).map_or(NoiseSource::None, NoiseSource::Drawn);
            waited += waiting.elapsed().as_secs_f32();
            step_rows(
                ctx,
                &mut self.populations,
                (first, rows),
                self.nudge.as_ref(),
                noise,
                &mut self.counters[..],
                &mut measure,
            );
            self.max_change = measure.max_change;
        }
        waited
    }

    /// Writes the shard's states and activity back into the chip's populations.
    pub fn write_back(&self, populations: &mut [Population]) {
        for (p, part) in populations.iter_mut().zip(&self.populations) {
            if !p.is_input {
                p.write_rows(self.rows.clone(), part);
            }
        }
    }

    /// Population `q`'s per-neuron nonzero activity counts over the shard's rows.
    pub fn nonzero_counts(&self, q: usize) -> &[u32] {
        self.populations[q].nonzero_counts()
    }
}

/// The nudge of examples `rows`.
fn shard_nudge(n: &NudgeUnits, rows: Range<usize>) -> NudgeUnits {
    NudgeUnits {
        pop: n.pop,
        target_f: n.target_f.slice(s![rows.clone(), ..]).to_owned(),
        target_i: n.target_i.slice(s![rows, ..]).to_owned(),
        beta_f: n.beta_f,
        beta_q: n.beta_q,
    }
}

/// The shards of the last sharded run (and the rows of every part, empty ones too) and the chip's
/// population change count right after they were written back; empty in a copy of the chip.
#[derive(Default)]
pub(super) struct ShardCache {
    kept: Option<KeptShards>,
}

/// What [`ShardCache`] keeps.
struct KeptShards {
    changes: u64,
    ranges: Vec<Range<usize>>,
    shards: Vec<RowShard>,
}

impl ShardCache {
    /// Keeps `shards` of a run in parts of rows `ranges`, written back when the populations'
    /// change count was `changes`.
    pub fn keep(&mut self, changes: u64, ranges: Vec<Range<usize>>, shards: Vec<RowShard>) {
        self.kept = Some(KeptShards { changes, ranges, shards });
    }

    /// The kept parts' rows and shards if the populations have not changed since (`changes` is
    /// still their count) and there were `parts` parts; the cache is empty afterwards either way.
    /// The next run then takes the kept rows, whatever the tuned split says (a split changes no
    /// number).
    pub fn take(&mut self, changes: u64, parts: usize) -> Option<(Vec<Range<usize>>, Vec<RowShard>)> {
        let kept = self.kept.take()?;
        (kept.changes == changes && kept.ranges.len() == parts).then_some((kept.ranges, kept.shards))
    }
}

impl Clone for ShardCache {
    /// A copy of a chip starts without kept shards (they are a cache, and copies of large batches).
    fn clone(&self) -> Self {
        ShardCache::default()
    }
}

impl std::fmt::Debug for ShardCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardCache")
            .field("shards", &self.kept.as_ref().map_or(0, |k| k.shards.len()))
            .finish()
    }
}
