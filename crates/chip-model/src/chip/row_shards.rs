//! Row shards: a contiguous range of the batch's examples with its own copy of every population's
//! states, so that the shards of one run step in parallel without sharing anything mutable.
//!
//! Examples do not interact while steps run (only learning sums over the batch), so a shard runs
//! all the steps of a run on its own and writes its rows back at the end. Read noise is keyed by
//! the example's row in the whole batch (see [`crate::cores::ReadNoise`]) and the operation
//! counters are sums over examples, so the chip ends up with the same numbers whatever the shards.

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
    /// cores (`digital`: integer neuron states).
    pub fn new(
        populations: &[Population],
        rows: Range<usize>,
        nudge: Option<&NudgeUnits>,
        cores: usize,
        digital: bool,
    ) -> Self {
        let nudge = nudge.map(|n| NudgeUnits {
            pop: n.pop,
            target_f: n.target_f.slice(s![rows.clone(), ..]).to_owned(),
            target_i: n.target_i.slice(s![rows.clone(), ..]).to_owned(),
            beta_f: n.beta_f,
            beta_q: n.beta_q,
        });
        RowShard {
            populations: populations.iter().map(|p| p.rows_copy(rows.clone(), digital)).collect(),
            row_sq: vec![0.0; rows.len()],
            rows,
            nudge,
            counters: vec![OpCounters::default(); cores],
            max_change: 0.0,
        }
    }

    /// Runs steps `steps` of the run on this shard, measuring the last one.
    pub fn run(&mut self, ctx: &StepContext<'_>, steps: Range<usize>) {
        let end = steps.end;
        for t in steps {
            let last = t + 1 == end;
            self.row_sq.fill(0.0);
            let mut measure = StepMeasure { max_change: 0.0, row_sq: last.then_some(&mut self.row_sq[..]) };
            let (first, rows) = (self.rows.start, self.rows.len());
            let noise = ctx.noise_of(t).map_or(NoiseSource::None, NoiseSource::Drawn);
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
    }

    /// Writes the shard's states and activity back into the chip's populations.
    pub fn write_back(&self, populations: &mut [Population]) {
        for (p, part) in populations.iter_mut().zip(&self.populations) {
            if !p.is_input {
                p.write_rows(self.rows.clone(), part);
            }
        }
    }
}
