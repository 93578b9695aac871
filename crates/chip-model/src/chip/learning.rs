//! Local learning on the chip: latching activity traces at the end of phases and applying rules that
//! see one synapse at a time.
//!
//! Updates are summed over the examples of the batch, scaled by the group's global scalar and written
//! into the weights at the core kind's precision (see `cores/`): float cores add them exactly,
//! digital cores round them to weight-mantissa steps, analog cores move devices by pulses.

use ndarray::Array2;

use super::Chip;
use crate::cores::ExecutionPath;
use crate::error::{ChipError, Result};
use crate::learning_engine::{SumTarget, local_sum};
use crate::learning_rule::{LocalRule, SumOfProducts, TraceSlot};
use crate::population::{PopulationId, Trace};
use crate::synapse_group::GroupId;

impl Chip {
    /// Latches the current activity of every population into trace slot `slot`.
    pub fn latch_traces(&mut self, slot: TraceSlot) {
        let trace_bits = self.profile.learning.trace_bits;
        let core = self.kind.arithmetic();
        for q in 0..self.populations.len() {
            let p = &self.populations[q];
            // A slot that holds this activity version already (an input's, unchanged between the
            // phases) holds the same trace: shared, not latched again.
            let latched = p.traces.iter().flatten().find(|t| t.version == p.version).map(|t| t.data.clone());
            let data = latched.unwrap_or_else(|| std::sync::Arc::new(core.latch(p, trace_bits)));
            let trace = Trace { data, version: p.version };
            for block in &p.placement {
                self.cores[block.core].counters.trace_latches += (self.batch * block.len) as u64;
            }
            self.populations.set_trace(q, slot.index(), trace);
        }
    }

    /// Applies a sum-of-products rule to every synapse of `group`, with group-wide scalar `global`.
    pub fn learn(&mut self, group: GroupId, rule: &SumOfProducts, global: f32) -> Result<()> {
        self.check_global(global)?;
        let g = self.group(group)?;
        let (pre, post) = (g.pre, g.post);
        self.check_slots(rule, Some(pre), post)?;
        match self.path {
            ExecutionPath::Fast => {
                let (kind, mut net) = self.fabric();
                kind.arithmetic().learn_group(&mut net, group.0, rule, global);
            }
            ExecutionPath::Reference if self.kind.arithmetic().scales_update_itself() => {
                let w = self.read_weights(group)?;
                let delta = self.local_update(rule, Some(pre), post, &w, 1.0);
                let (kind, mut net) = self.fabric();
                kind.arithmetic().write_group_update(&mut net, group.0, &delta, f64::from(global));
            }
            ExecutionPath::Reference => return self.learn_local(group, rule, global),
        }
        self.finish_group_update(group.0);
        Ok(())
    }

    /// Applies any local rule to every synapse of `group`, one synapse at a time (the generic path).
    pub fn learn_local(&mut self, group: GroupId, rule: &dyn LocalRule, global: f32) -> Result<()> {
        self.check_global(global)?;
        let g = self.group(group)?;
        let (pre, post) = (g.pre, g.post);
        let weights = self.read_weights(group)?;
        let delta = self.local_update(rule, Some(pre), post, &weights, global);
        let (kind, mut net) = self.fabric();
        kind.arithmetic().write_group_update(&mut net, group.0, &delta, 1.0);
        self.finish_group_update(group.0);
        Ok(())
    }

    /// Applies a sum-of-products rule to the biases of `pop` (a bias is a synapse from a source that
    /// is always 1).
    pub fn learn_bias(&mut self, pop: PopulationId, rule: &SumOfProducts, global: f32) -> Result<()> {
        self.check_global(global)?;
        if self.pop(pop)?.is_input {
            return Err(ChipError::InvalidConfig("input populations have no biases".into()));
        }
        self.check_slots(rule, None, pop)?;
        match self.path {
            ExecutionPath::Fast => {
                let (kind, mut net) = self.fabric();
                kind.arithmetic().learn_bias(&mut net, pop.0, rule, global);
            }
            ExecutionPath::Reference => return self.learn_bias_local(pop, rule, global),
        }
        self.finish_bias_update(pop.0);
        Ok(())
    }

    /// Applies any local rule to the biases of `pop`, one neuron at a time.
    pub fn learn_bias_local(&mut self, pop: PopulationId, rule: &dyn LocalRule, global: f32) -> Result<()> {
        self.check_global(global)?;
        if self.pop(pop)?.is_input {
            return Err(ChipError::InvalidConfig("input populations have no biases".into()));
        }
        let bias = Array2::from_shape_vec((1, self.pop(pop)?.size), self.read_bias(pop)?)
            .map_err(|e| ChipError::InvalidConfig(e.to_string()))?;
        let delta = self.local_update(rule, None, pop, &bias, global);
        let (kind, mut net) = self.fabric();
        kind.arithmetic().write_bias_update(&mut net, pop.0, &delta);
        self.finish_bias_update(pop.0);
        Ok(())
    }

    /// Σ over the batch of `rule.delta(synapse)` for every synapse (real units), one at a time.
    fn local_update(
        &self,
        rule: &dyn LocalRule,
        pre: Option<PopulationId>,
        post: PopulationId,
        weights: &Array2<f32>,
        global: f32,
    ) -> Array2<f64> {
        let (core, bits) = (self.kind.arithmetic(), self.profile.learning.trace_bits);
        let lsb_pre = pre.map_or(1.0, |p| core.trace_lsb(&self.populations[p.0], bits)) as f32;
        let lsb_post = core.trace_lsb(&self.populations[post.0], bits) as f32;
        let pops = &self.populations;
        local_sum(pops, self.batch, rule, (pre, post), Some(weights), global, (lsb_pre, lsb_post))
    }

    /// Book-keeping after a group's weights changed: its update counter (which keys the next
    /// update's random numbers), the inputs' constant drive, and the operation counters.
    fn finish_group_update(&mut self, g: usize) {
        self.groups[g].updates += 1;
        if self.populations[self.groups[g].pre.0].is_input {
            self.static_dirty = true;
        }
        self.count_updates(SumTarget::Group(g));
    }

    /// Book-keeping after a population's biases changed.
    fn finish_bias_update(&mut self, p: usize) {
        self.populations[p].bias_updates += 1;
        self.count_updates(SumTarget::Bias(p));
    }

    fn check_global(&self, global: f32) -> Result<()> {
        if global.is_finite() {
            Ok(())
        } else {
            Err(ChipError::InvalidConfig(format!("learning global scalar {global} is not finite")))
        }
    }

    fn check_slots(&self, rule: &SumOfProducts, pre: Option<PopulationId>, post: PopulationId) -> Result<()> {
        for t in rule.terms() {
            for (pop, slot) in [(pre, t.pre), (Some(post), t.post)] {
                if let (Some(p), Some(k)) = (pop, slot) {
                    let pop = self.pop(p)?;
                    if pop.traces[k.index()].is_none() {
                        return Err(ChipError::InvalidConfig(format!(
                            "trace slot {} of population `{}` was not latched before learning",
                            k.index(),
                            pop.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn count_updates(&mut self, target: SumTarget) {
        let synapses = match target {
            SumTarget::Group(g) => self.groups[g].weights.len() as u64,
            SumTarget::Bias(p) => self.populations[p].size as u64,
        };
        let post = match target {
            SumTarget::Group(g) => self.groups[g].post.0,
            SumTarget::Bias(p) => p,
        };
        let pop = &self.populations[post];
        let total = pop.size.max(1) as u64;
        for block in &pop.placement {
            self.cores[block.core].counters.synaptic_updates += synapses * block.len as u64 / total;
        }
    }
}
