//! Running time steps: the synchronous update of every neuron population, with or without a nudge.
//!
//! Each step first computes every population's synaptic drive from the activity of the previous step,
//! then updates all neurons (a synchronous, Loihi-like step); the core kind does the arithmetic of
//! both. Inputs are held constant during a run, so their contribution is computed once per input
//! change (the result is the same as recomputing it each step; the operation counters still count it
//! every step, as the hardware would).

use ndarray::ArrayView2;

use super::Chip;
use crate::cores::NudgeUnits;
use crate::error::{ChipError, Result};
use crate::population::PopulationId;

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

impl Chip {
    /// Runs `steps` synchronous time steps, optionally nudging one population toward targets.
    pub fn run(&mut self, steps: usize, nudge: Option<&Nudge>) -> Result<()> {
        let nudge = self.begin_run(nudge)?;
        for t in 0..steps {
            self.step(nudge.as_ref(), t + 1 == steps);
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
        for t in 0..max_steps {
            self.step(nudge.as_ref(), true);
            if self.last_max_change < tolerance {
                return Ok(t + 1);
            }
        }
        Ok(max_steps)
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
        let (kind, mut net) = self.fabric();
        for q in 0..net.populations.len() {
            if net.populations[q].is_input || net.populations[q].lif_template.is_some() {
                continue;
            }
            kind.arithmetic().static_drive(&mut net, q);
        }
    }

    fn step(&mut self, nudge: Option<&NudgeUnits>, last: bool) {
        {
            let (kind, mut net) = self.fabric();
            for q in 0..net.populations.len() {
                if !net.populations[q].is_input {
                    kind.compute_drive(&mut net, q);
                }
            }
        }
        // Counters for the synaptic operations of this step (input spikes included), and the
        // messages that bring the host's input values to the cores that use them.
        let batch = self.batch as u64;
        let spec = self.profile.chip.clone();
        for grp in &self.groups {
            let pre = &self.populations[grp.pre.0];
            for (bi, block) in self.populations[grp.post.0].placement.iter().enumerate() {
                let len = block.len as u64;
                let mut segments = grp.fan_in.iter().filter(|s| s.post_block == bi).peekable();
                if segments.peek().is_none() {
                    self.cores[block.core].counters.synaptic_ops += pre.nonzero() * len;
                }
                for s in segments {
                    // Relay compartments: the segment's synapses, their update, and one partial
                    // sum per compartment and example sent to the block's core.
                    let relay = &mut self.cores[s.relay_core].counters;
                    relay.synaptic_ops += pre.nonzero_in(s.pre_start, s.pre_start + s.pre_len) * len;
                    relay.neuron_updates += batch * len;
                    if s.relay_core != block.core {
                        relay.messages += batch * len;
                        if spec.chip_of(s.relay_core) != spec.chip_of(block.core) {
                            relay.chip_messages += batch * len;
                        }
                    }
                    self.cores[block.core].counters.synaptic_ops += batch * len;
                }
            }
        }
        let routes = match self.spike_routes.take() {
            Some(r) => r,
            None => self.build_spike_routes(),
        };
        for (q, pop_routes) in routes.iter().enumerate() {
            if self.populations[q].is_input {
                let (_, messages, crossing) =
                    pop_routes.first().map_or((0, 0, 0), |r| r.count(&self.populations[q]));
                if let Some(c) = self.cores.first_mut() {
                    c.counters.messages += messages;
                    c.counters.chip_messages += crossing;
                }
            }
        }
        // Synchronous neuron update.
        let mut sq_change = 0.0f64;
        let mut count = 0usize;
        let mut row_sq = vec![0.0f64; if last { self.batch } else { 0 }];
        let mut max_change = 0.0f32;
        for (q, pop_routes) in routes.iter().enumerate() {
            if self.populations[q].is_input {
                continue;
            }
            let nudge_here = nudge.filter(|n| n.pop == q);
            let pop = &mut self.populations[q];
            let rows = if last { Some(&mut row_sq[..]) } else { None };
            sq_change += self.kind.update_neurons(pop, nudge_here, rows, &mut max_change, self.path);
            count += pop.size * self.batch;
            self.version_clock += 1;
            pop.version = self.version_clock;
            pop.recount_nonzero();
            for (block, route) in self.populations[q].placement.iter().zip(pop_routes) {
                let (spikes, messages, crossing) = route.count(&self.populations[q]);
                let c = &mut self.cores[block.core].counters;
                c.neuron_updates += batch * block.len as u64;
                c.spikes += spikes;
                c.messages += messages;
                c.chip_messages += crossing;
            }
        }
        self.spike_routes = Some(routes);
        if last {
            self.last_residual = if count > 0 { (sq_change / count as f64).sqrt() as f32 } else { 0.0 };
            let neurons = (count / self.batch.max(1)).max(1) as f64;
            self.last_residuals = row_sq.iter().map(|&s| (s / neurons).sqrt() as f32).collect();
            self.last_max_change = max_change;
        }
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
