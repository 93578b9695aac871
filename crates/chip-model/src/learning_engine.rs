//! The on-chip learning engine: latches activity traces at the end of phases and applies local rules.
//!
//! Updates are summed over the examples of the batch, scaled by the group's global scalar and written
//! into the weights at the chip's precision: float cores add them exactly; digital cores convert them
//! to weight-mantissa steps and round them with the profile's rounding mode (stochastic rounding draws
//! from a counter-based generator keyed by the synapse, see `rounding_noise.rs`). The feedback copy of
//! a synapse (a mirror group) draws the same rounding number as its forward twin, so digital forward and
//! feedback weights stay equal when their updates are equal.

use ndarray::{Array2, Axis, linalg::general_mat_mul};

use crate::parallel::column_gemm;

use crate::chip::{Chip, ExecutionPath, bias_exponent};
use crate::error::{ChipError, Result};
use crate::fixed_point::{max_signed_magnitude, round_to_grid};
use crate::learning_rule::{LocalRule, SumOfProducts, SynapseLocal, TRACE_SLOTS, TraceSlot};
use crate::population::{PopulationId, Trace};
use crate::rounding_noise::{RoundingNoise, mix};
use crate::synapse_group::GroupId;

/// A latched trace's slot and the activity version it holds.
type TraceKey = (TraceSlot, u64);

/// A summed update, exact in f32 when its operands allow it.
enum Delta {
    Exact(Array2<f32>),
    Wide(Array2<f64>),
}

impl Delta {
    #[inline]
    fn get(&self, j: usize, i: usize) -> f64 {
        match self {
            Delta::Exact(d) => f64::from(d[[j, i]]),
            Delta::Wide(d) => d[[j, i]],
        }
    }
}

/// Where a learned update lands.
#[derive(Clone, Copy)]
enum Target {
    Group(usize),
    Bias(usize),
}

impl Chip {
    /// Latches the current activity of every population into trace slot `slot`.
    pub fn latch_traces(&mut self, slot: TraceSlot) {
        let trace_bits = self.profile.learning.trace_bits;
        let digital = self.digital.is_some();
        for p in &mut self.populations {
            let data = if digital {
                let shift = p.out_bits.saturating_sub(trace_bits);
                // Activities are exact integers (payloads) on digital cores.
                p.activity.mapv(|a| (crate::chip_step::exact_f32_to_i32(a) >> shift) as f32)
            } else {
                p.activity.clone()
            };
            p.traces[slot.index()] = Some(Trace { data, version: p.version });
            for block in &p.placement {
                self.cores[block.core].counters.trace_latches += (self.batch * block.len) as u64;
            }
        }
    }

    /// Applies a sum-of-products rule to every synapse of `group`, with group-wide scalar `global`.
    pub fn learn(&mut self, group: GroupId, rule: &SumOfProducts, global: f32) -> Result<()> {
        self.check_global(global)?;
        let g = self.group(group)?;
        let (pre, post) = (g.pre, g.post);
        self.check_slots(rule, Some(pre), post)?;
        match self.path {
            _ if self.pulsed() => {
                let delta = match self.path {
                    ExecutionPath::Fast => {
                        let mut delta = std::mem::take(&mut self.update_scratch);
                        self.sop_sum_float_into(rule, Some(pre), post, &mut delta);
                        delta
                    }
                    ExecutionPath::Reference => {
                        let w = self.read_weights(group)?;
                        self.local_sum(rule, Some(pre), post, Some(&w), 1.0).mapv(|x| x as f32)
                    }
                };
                self.pulsed_update(group.0, &delta, f64::from(global));
                self.update_scratch = delta;
                Ok(())
            }
            ExecutionPath::Fast if self.digital.is_none() => {
                self.learn_float_fast(Target::Group(group.0), rule, Some(pre), post, global);
                Ok(())
            }
            ExecutionPath::Fast => {
                let (delta, rows) = self.sop_sum_rows(rule, pre, post);
                let scale = f64::from(global) * self.trace_lsb(pre) * self.trace_lsb(post);
                self.write_update(Target::Group(group.0), &delta, rows.as_deref(), scale);
                Ok(())
            }
            ExecutionPath::Reference => self.learn_local(group, rule, global),
        }
    }

    /// Applies any local rule to every synapse of `group`, one synapse at a time (the generic path).
    pub fn learn_local(&mut self, group: GroupId, rule: &dyn LocalRule, global: f32) -> Result<()> {
        self.check_global(global)?;
        let g = self.group(group)?;
        let (pre, post) = (g.pre, g.post);
        let weights = self.read_weights(group)?;
        let delta = self.local_sum(rule, Some(pre), post, Some(&weights), global);
        if self.pulsed() {
            self.pulsed_update(group.0, &delta.mapv(|x| x as f32), 1.0);
        } else {
            self.write_update(Target::Group(group.0), &Delta::Wide(delta), None, 1.0);
        }
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
            ExecutionPath::Fast if self.digital.is_none() => {
                self.learn_float_fast(Target::Bias(pop.0), rule, None, pop, global);
                Ok(())
            }
            ExecutionPath::Fast => {
                let delta = self.sop_sum(rule, None, pop);
                let scale = f64::from(global) * self.trace_lsb(pop);
                self.write_update(Target::Bias(pop.0), &delta, None, scale);
                Ok(())
            }
            ExecutionPath::Reference => self.learn_bias_local(pop, rule, global),
        }
    }

    /// Applies any local rule to the biases of `pop`, one neuron at a time.
    pub fn learn_bias_local(&mut self, pop: PopulationId, rule: &dyn LocalRule, global: f32) -> Result<()> {
        self.check_global(global)?;
        if self.pop(pop)?.is_input {
            return Err(ChipError::InvalidConfig("input populations have no biases".into()));
        }
        let bias = Array2::from_shape_vec((1, self.pop(pop)?.size), self.read_bias(pop)?)
            .map_err(|e| ChipError::InvalidConfig(e.to_string()))?;
        let delta = self.local_sum(rule, None, pop, Some(&bias), global);
        self.write_update(Target::Bias(pop.0), &Delta::Wide(delta), None, 1.0);
        Ok(())
    }

    /// True on analog cores whose devices take pulsed updates.
    fn pulsed(&self) -> bool {
        self.analog.as_ref().is_some_and(|a| a.update.dw_min > 0.0)
    }

    /// Float and analog cores: Σ over the batch of Σ_k c_k·pre_k·post_k (pre × post), in f64.
    fn sop_sum_float(
        &self,
        rule: &SumOfProducts,
        pre: Option<PopulationId>,
        post: PopulationId,
    ) -> Array2<f32> {
        let mut delta = Array2::<f32>::zeros((0, 0));
        self.sop_sum_float_into(rule, pre, post, &mut delta);
        delta
    }

    /// [`Chip::sop_sum_float`] into `delta`, reusing its memory when it has the right shape.
    fn sop_sum_float_into(
        &self,
        rule: &SumOfProducts,
        pre: Option<PopulationId>,
        post: PopulationId,
        delta: &mut Array2<f32>,
    ) {
        let n_post = self.populations[post.0].size;
        let n_pre = pre.map_or(1, |p| self.populations[p.0].size);
        if delta.dim() == (n_pre, n_post) {
            delta.fill(0.0);
        } else {
            *delta = Array2::zeros((n_pre, n_post));
        }
        for (slot, m) in &self.sop_factors(rule, pre, post) {
            match (pre, slot) {
                (Some(p), Some(k)) => {
                    let a = &self.trace(p, *k).data;
                    column_gemm(self.threads, 1.0, a.t(), m.view(), 1.0, delta.view_mut());
                }
                _ => {
                    let sums = m.sum_axis(Axis(0));
                    for mut row in delta.axis_iter_mut(Axis(0)) {
                        row += &sums;
                    }
                }
            }
        }
    }

    /// Analog cores: every device moves by whole pulses toward `global · delta`.
    ///
    /// A requested change `Δ` becomes `n = ⌊|Δ|/dw_min⌋` pulses plus one with the probability of the
    /// remainder; each pulse moves the conductance by the device's own up or down step, scaled by the
    /// soft-bound factor, with cycle-to-cycle noise (the sum of `n` noisy pulses is drawn as one
    /// Gaussian of standard deviation `dw_min_std·√n` steps). Random numbers come from generators
    /// seeded by (chip, group, update count) and are drawn row by row in synapse order, so forward
    /// and feedback devices (different groups) are independent and results do not depend on threads.
    fn pulsed_update(&mut self, g: usize, delta: &Array2<f32>, global: f64) {
        use rand::SeedableRng;
        let Some(a) = self.analog.clone() else { return };
        let seed = self.seed;
        let grp = &mut self.groups[g];
        let (Some(up), Some(down)) = (grp.step_up.as_ref(), grp.step_down.as_ref()) else {
            return;
        };
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
            crate::rounding_noise::mix(seed ^ 0x7075_6c73_6564)
                ^ crate::rounding_noise::mix((g as u64) << 32 ^ grp.updates),
        );
        let r = grp.range;
        let soft = a.update.bounds == crate::profile::Bounds::Soft;
        let c2c = a.update.dw_min_std as f32;
        let levels = crate::chip::conductance_levels(&a);
        let pulse = PulseParams {
            to_pulses: (global / (a.update.dw_min * f64::from(r))) as f32,
            bound_slope: if soft { 1.0 / r } else { 0.0 },
            c2c,
            range: r,
        };
        let cols = delta.ncols();
        let (Some(dl), Some(wl), Some(ul), Some(downl)) =
            (delta.as_slice(), grp.weights.as_slice_mut(), up.as_slice(), down.as_slice())
        else {
            unreachable!("update and device arrays are allocated in standard layout")
        };
        // Every device of a row with some request draws one 32-bit word from lane generators seeded
        // by `rng`: 16 bits round its pulse count, 16 bits give the Gaussian of its cycle-to-cycle
        // noise (tails drawn exactly from `rng`). The row's update is then one branch-free pass
        // that the compiler vectorises (drawing for devices that do not move costs less than
        // finding the ones that do).
        let mut lanes = crate::lane_rng::LaneRng::from_rng(&mut rng);
        let (mut words, mut z) = (vec![0u32; cols], vec![0.0f32; cols]);
        let mut touched = Vec::new();
        for (j, (((drow, wrow), uprow), downrow)) in dl
            .chunks_exact(cols)
            .zip(wl.chunks_exact_mut(cols))
            .zip(ul.chunks_exact(cols))
            .zip(downl.chunks_exact(cols))
            .enumerate()
        {
            if all_zero(drow) {
                continue;
            }
            touched.push(j);
            lanes.fill_u32(&mut words);
            if c2c > 0.0 {
                crate::gaussian::normals_from_halves(&mut z, |i| words[i] >> 16, &mut rng);
            }
            pulse_row(PulseRow { drow, wrow, uprow, downrow, words: &words, z: &z }, &pulse);
            if levels > 0 {
                // Devices that did not move are on the grid already: quantising is idempotent.
                for w in wrow.iter_mut() {
                    *w = crate::chip::quantise_conductance(*w, r, levels);
                }
            }
        }
        grp.updates += 1;
        self.refresh_effective_rows(GroupId(g), &touched);
        self.count_updates(Target::Group(g));
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

    /// Real value of one trace step of a population's traces.
    fn trace_lsb(&self, pop: PopulationId) -> f64 {
        if self.digital.is_some() {
            let p = &self.populations[pop.0];
            let shift = p.out_bits.saturating_sub(self.profile.learning.trace_bits);
            2f64.powi(-((p.out_bits - shift) as i32))
        } else {
            1.0
        }
    }

    fn trace(&self, pop: PopulationId, slot: TraceSlot) -> &Trace {
        // Checked by check_slots before any caller gets here.
        self.populations[pop.0].traces[slot.index()]
            .as_ref()
            .unwrap_or_else(|| unreachable!("trace slot checked"))
    }

    /// The rule's terms grouped by presynaptic data: for each distinct presynaptic trace (or the
    /// constant 1, `None`), the matrix `M = Σ_k c_k · post_k` (batch × post) of the terms that use it.
    /// Terms whose presynaptic traces hold the same data (same activity version) share one product.
    fn sop_factors(
        &self,
        rule: &SumOfProducts,
        pre: Option<PopulationId>,
        post: PopulationId,
    ) -> Vec<(Option<TraceSlot>, Array2<f32>)> {
        let n_post = self.populations[post.0].size;
        let key_of = |slot: Option<TraceSlot>| match (pre, slot) {
            (Some(p), Some(k)) => Some((k, self.trace(p, k).version)),
            _ => None,
        };
        let mut out: Vec<(Option<TraceKey>, Array2<f32>)> = Vec::new();
        for t in rule.terms() {
            let key = key_of(t.pre);
            let same = |k: &Option<TraceKey>| k.map(|y| y.1) == key.map(|y| y.1);
            let idx = match out.iter().position(|(k, _)| same(k)) {
                Some(i) => i,
                None => {
                    out.push((key, Array2::zeros((self.batch, n_post))));
                    out.len() - 1
                }
            };
            let m = &mut out[idx].1;
            match t.post {
                Some(k) => m.scaled_add(t.coefficient, &self.trace(post, k).data),
                None => m.mapv_inplace(|x| x + t.coefficient),
            }
        }
        out.into_iter().map(|(k, m)| (k.map(|y| y.0), m)).collect()
    }

    /// Float cores: adds `global · Σ_batch Σ_k c_k pre_k post_k` straight into the weights (or
    /// biases) with one matrix product per distinct presynaptic trace.
    fn learn_float_fast(
        &mut self,
        target: Target,
        rule: &SumOfProducts,
        pre: Option<PopulationId>,
        post: PopulationId,
        global: f32,
    ) {
        let factors = self.sop_factors(rule, pre, post);
        match target {
            Target::Group(g) => {
                let mut weights = std::mem::take(&mut self.groups[g].weights);
                for (slot, m) in &factors {
                    match (pre, slot) {
                        (Some(p), Some(k)) => {
                            let a = &self.trace(p, *k).data;
                            column_gemm(self.threads, global, a.t(), m.view(), 1.0, weights.view_mut());
                        }
                        _ => {
                            let sums = m.sum_axis(Axis(0)) * global;
                            for mut row in weights.axis_iter_mut(Axis(0)) {
                                row += &sums;
                            }
                        }
                    }
                }
                self.groups[g].weights = weights;
                self.groups[g].updates += 1;
                self.refresh_effective(GroupId(g));
            }
            Target::Bias(p) => {
                let pop = &mut self.populations[p];
                for (_, m) in &factors {
                    let sums = m.sum_axis(Axis(0));
                    for (b, &d) in pop.bias.iter_mut().zip(sums.iter()) {
                        *b += global * d;
                    }
                }
                pop.bias_updates += 1;
            }
        }
        self.count_updates(target);
    }

    /// [`Chip::sop_sum`] for a synapse group, restricted to the presynaptic rows that were active in
    /// some latched trace when those are few (online learning): the returned delta then holds only
    /// those rows, listed in the second value. Rows left out have an exactly zero update.
    fn sop_sum_rows(
        &self,
        rule: &SumOfProducts,
        pre: PopulationId,
        post: PopulationId,
    ) -> (Delta, Option<Vec<usize>>) {
        let factors = self.sop_factors(rule, Some(pre), post);
        let n_pre = self.populations[pre.0].size;
        let mut active = vec![false; n_pre];
        for (slot, _) in &factors {
            let Some(k) = slot else { return (self.sop_sum(rule, Some(pre), post), None) };
            crate::chip_step::mark_active_columns(self.trace(pre, *k).data.view(), &mut active);
        }
        let rows: Vec<usize> = (0..n_pre).filter(|&j| active[j]).collect();
        let n_post = self.populations[post.0].size;
        if !self.sop_is_exact_in_f32(rule) || rows.len() * 2 > n_pre {
            return (self.sop_sum(rule, Some(pre), post), None);
        }
        // Exact f32 products (integer operands, sums below 2^24): the compact rows are the same
        // numbers as the corresponding rows of the full product.
        let mut delta = Array2::<f32>::zeros((rows.len(), n_post));
        for (slot, m) in &factors {
            if let Some(k) = slot {
                let a = self.trace(pre, *k).data.select(Axis(1), &rows);
                column_gemm(self.threads, 1.0, a.t(), m.view(), 1.0, delta.view_mut());
            }
        }
        (Delta::Exact(delta), Some(rows))
    }

    /// Whether the rule's sums over the batch are exact in f32: integer coefficients, and trace
    /// products summed over the batch stay below 2^24.
    fn sop_is_exact_in_f32(&self, rule: &SumOfProducts) -> bool {
        let max_t = (1u64 << self.profile.learning.trace_bits) as f64;
        let coeff: f64 = rule.terms().iter().map(|t| f64::from(t.coefficient).abs()).sum();
        rule.terms().iter().all(|t| t.coefficient.fract() == 0.0)
            && coeff * max_t * max_t * self.batch as f64 <= (1u64 << 24) as f64
    }

    /// Digital cores: Σ over the batch of Σ_k c_k·pre_k·post_k in trace units (pre × post), exact.
    fn sop_sum(&self, rule: &SumOfProducts, pre: Option<PopulationId>, post: PopulationId) -> Delta {
        let n_post = self.populations[post.0].size;
        let n_pre = pre.map_or(1, |p| self.populations[p.0].size);
        if self.sop_is_exact_in_f32(rule) {
            // Integer-valued operands whose sums stay below 2^24: the f32 products are exact.
            return Delta::Exact(self.sop_sum_float(rule, pre, post));
        }
        let mut delta = Array2::<f64>::zeros((n_pre, n_post));
        for (slot, m) in &self.sop_factors(rule, pre, post) {
            let m64 = m.mapv(f64::from);
            match (pre, slot) {
                (Some(p), Some(k)) => {
                    let a64 = self.trace(p, *k).data.mapv(f64::from);
                    general_mat_mul(1.0, &a64.t(), &m64, 1.0, &mut delta);
                }
                _ => {
                    let sums = m64.sum_axis(Axis(0));
                    for mut row in delta.axis_iter_mut(Axis(0)) {
                        row += &sums;
                    }
                }
            }
        }
        Delta::Wide(delta)
    }

    /// Σ over the batch of `rule.delta(synapse)` for every synapse, one at a time (real units).
    fn local_sum(
        &self,
        rule: &dyn LocalRule,
        pre: Option<PopulationId>,
        post: PopulationId,
        weights: Option<&Array2<f32>>,
        global: f32,
    ) -> Array2<f64> {
        let n_post = self.populations[post.0].size;
        let n_pre = pre.map_or(1, |p| self.populations[p.0].size);
        let lsb_pre = pre.map_or(1.0, |p| self.trace_lsb(p)) as f32;
        let lsb_post = self.trace_lsb(post) as f32;
        let slot_data = |p: PopulationId| -> Vec<Option<&Array2<f32>>> {
            (0..TRACE_SLOTS).map(|k| self.populations[p.0].traces[k].as_ref().map(|t| &t.data)).collect()
        };
        let post_traces = slot_data(post);
        let pre_traces = pre.map(slot_data);
        let mut out = Array2::<f64>::zeros((n_pre, n_post));
        for j in 0..n_pre {
            for i in 0..n_post {
                let weight = weights.map_or(0.0, |w| if pre.is_some() { w[[j, i]] } else { w[[0, i]] });
                let mut sum = 0.0f64;
                for b in 0..self.batch {
                    let mut local =
                        SynapseLocal { pre: [1.0; TRACE_SLOTS], post: [0.0; TRACE_SLOTS], weight, global };
                    for k in 0..TRACE_SLOTS {
                        if let Some(t) = post_traces[k] {
                            local.post[k] = t[[b, i]] * lsb_post;
                        }
                        if let Some(pt) = &pre_traces {
                            local.pre[k] = pt[k].map_or(0.0, |t| t[[b, j]] * lsb_pre);
                        }
                    }
                    sum += rule.delta(&local);
                }
                out[[j, i]] = sum;
            }
        }
        out
    }

    fn count_updates(&mut self, target: Target) {
        let synapses = match target {
            Target::Group(g) => self.groups[g].weights.len() as u64,
            Target::Bias(p) => self.populations[p].size as u64,
        };
        let post = match target {
            Target::Group(g) => self.groups[g].post.0,
            Target::Bias(p) => p,
        };
        let pop = &self.populations[post];
        let total = pop.size.max(1) as u64;
        for block in &pop.placement {
            self.cores[block.core].counters.synaptic_updates += synapses * block.len as u64 / total;
        }
    }

    /// Writes `scale · delta` (real units) into a group's weights or a population's biases.
    /// `rows`, if given, lists the presynaptic rows the (compact) `delta` holds, in order; every
    /// other row has no update.
    fn write_update(&mut self, target: Target, delta: &Delta, rows: Option<&[usize]>, scale: f64) {
        let noise = self.noise;
        let rounding = self.profile.learning.rounding;
        match target {
            Target::Group(g) => {
                let (key, transposed) = match self.groups[g].mirror_of {
                    Some(f) => (f.0 as u64, true),
                    None => (g as u64, false),
                };
                let digital = self.digital.clone();
                let grp = &mut self.groups[g];
                let counter = grp.updates;
                match digital {
                    None => {
                        for ((j, i), w) in grp.weights.indexed_iter_mut() {
                            *w += (delta.get(j, i) * scale) as f32;
                        }
                    }
                    Some(d) => {
                        let lim = max_signed_magnitude(d.weight_bits) as f32;
                        let to_steps = scale / grp.lsb;
                        // The rounding number of synapse (j, i) is rounding_uniform(key, counter, a, b)
                        // with (a, b) = (j, i), or (i, j) for the mirror group. Along a row of the
                        // forward group one hash serves four neighbouring synapses.
                        let cols = grp.weights.ncols();
                        let mixed_quads: Vec<u64> = if transposed {
                            Vec::new()
                        } else {
                            (0..cols.div_ceil(4) as u64).map(mix).collect()
                        };
                        let pairs: Vec<(usize, usize)> = match rows {
                            Some(rs) => rs.iter().copied().enumerate().collect(),
                            None => (0..grp.weights.nrows()).map(|j| (j, j)).collect(),
                        };
                        for (c, j) in pairs {
                            // Rows whose presynaptic neuron was silent in every latched phase have
                            // no update (most rows in online learning): one vectorised test skips them.
                            let silent = rows.is_none()
                                && match delta {
                                    Delta::Exact(dl) => dl
                                        .row(c)
                                        .as_slice()
                                        .map_or_else(|| dl.row(c).iter().all(|&x| x == 0.0), all_zero),
                                    Delta::Wide(dl) => dl.row(c).iter().all(|&x| x == 0.0),
                                };
                            if silent {
                                continue;
                            }
                            let mut row = grp.weights.row_mut(j);
                            let draw = RowDraw {
                                noise,
                                key,
                                counter,
                                row: j,
                                transposed,
                                mixed_quads: &mixed_quads,
                            };
                            let exact = |x: &f32| f64::from(*x) * to_steps;
                            let wide = |x: &f64| x * to_steps;
                            // Contiguous rows (the chip's own arrays always are) iterate as slices.
                            match (row.as_slice_mut(), delta) {
                                (Some(r), Delta::Exact(dl)) => {
                                    draw.update(r.iter_mut(), dl.row(c).iter().map(exact), rounding, lim)
                                }
                                (Some(r), Delta::Wide(dl)) => {
                                    draw.update(r.iter_mut(), dl.row(c).iter().map(wide), rounding, lim)
                                }
                                (None, Delta::Exact(dl)) => {
                                    draw.update(row.iter_mut(), dl.row(c).iter().map(exact), rounding, lim)
                                }
                                (None, Delta::Wide(dl)) => {
                                    draw.update(row.iter_mut(), dl.row(c).iter().map(wide), rounding, lim)
                                }
                            }
                        }
                    }
                }
                grp.updates += 1;
                self.refresh_effective(GroupId(g));
            }
            Target::Bias(p) => {
                let digital = self.digital.clone();
                let pop = &mut self.populations[p];
                let counter = pop.bias_updates;
                let key = u64::MAX - p as u64;
                match digital {
                    None => {
                        for (i, b) in pop.bias.iter_mut().enumerate() {
                            *b += (delta.get(0, i) * scale) as f32;
                        }
                    }
                    Some(d) => {
                        let lim = max_signed_magnitude(d.bias_bits);
                        let lsb = 2f64.powi(bias_exponent(&d) as i32 - d.state_fraction_bits as i32);
                        for (i, m) in pop.bias_mant.iter_mut().enumerate() {
                            let x = delta.get(0, i) * scale / lsb;
                            if x == 0.0 {
                                continue;
                            }
                            let u = noise.rounding_uniform(key, counter, 0, i as u64);
                            *m = (*m + round_to_grid(x, rounding, u)).clamp(-lim, lim);
                        }
                    }
                }
                pop.bias_updates += 1;
            }
        }
        self.count_updates(target);
    }
}

/// True if every value is +0 or −0: an OR over the bits without the sign in chunks of 64, which
/// vectorises, with an early exit between chunks (a scalar compare per value is slow on the many
/// all-zero rows of online learning; a whole-row pass is slow on the rows that are not).
fn all_zero(xs: &[f32]) -> bool {
    xs.chunks(64).all(|c| c.iter().fold(0u32, |acc, &x| acc | (x.to_bits() << 1)) == 0)
}

/// Scalars of one pulsed update (see [`Chip::pulsed_update`]).
struct PulseParams {
    /// Pulses per unit of requested change.
    to_pulses: f32,
    /// Soft bounds: `1/R` (a pulse's effect shrinks linearly toward the bound it moves to);
    /// hard bounds: 0.
    bound_slope: f32,
    /// Cycle-to-cycle noise of one pulse, relative to its size.
    c2c: f32,
    /// Conductance range `R`: devices stay in `[−R, R]`.
    range: f32,
}

/// One row of devices and its random numbers: requests, conductances, the devices' up and down
/// steps, one random word (its low 16 bits round the pulse count) and one standard normal number
/// (pulse noise) per device.
struct PulseRow<'a> {
    drow: &'a [f32],
    wrow: &'a mut [f32],
    uprow: &'a [f32],
    downrow: &'a [f32],
    words: &'a [u32],
    z: &'a [f32],
}

/// Moves one row of devices by whole pulses. Branch-free over slices of one length, with
/// unconditional loads, so that the compiler vectorises it (a request of zero moves nothing:
/// zero pulses, zero jitter).
fn pulse_row(row: PulseRow, p: &PulseParams) {
    let n = row.drow.len();
    let (wrow, words, z) = (&mut row.wrow[..n], &row.words[..n], &row.z[..n]);
    let (uprow, downrow) = (&row.uprow[..n], &row.downrow[..n]);
    for i in 0..n {
        let want = row.drow[i] * p.to_pulses;
        let w = wrow[i];
        // ⌊|want| + u⌋ with u uniform on the 2^-16 grid: ⌊|want|⌋ pulses, plus one with the
        // probability of the remainder (to within 2^-16).
        let u = (words[i] & 0xFFFF) as i32 as f32 * (1.0 / 65_536.0);
        let pulses = (want.abs().min(1e9) + u) as i32 as f32;
        let pos = want > 0.0;
        let step = select(pos, uprow[i], -downrow[i]);
        let bound = 1.0 - select(pos, w, -w) * p.bound_slope;
        let jitter = p.c2c * pulses.sqrt() * z[i];
        wrow[i] = (w + step * bound.max(0.0) * (pulses + jitter)).clamp(-p.range, p.range);
    }
}

/// `if c { a } else { b }` on the bits, so that both operands are loaded and the choice
/// vectorises (a plain `if` on two loads does not).
#[inline(always)]
fn select(c: bool, a: f32, b: f32) -> f32 {
    let m = 0u32.wrapping_sub(u32::from(c));
    f32::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

/// The rounding numbers of one row of a synapse group's update: synapse `(row, i)` of a forward
/// group draws lane `i` of the word for `(row, i / 4)`; the mirror group's synapse `(row, i)` is
/// the forward synapse `(i, row)` and draws the same number.
struct RowDraw<'a> {
    noise: RoundingNoise,
    key: u64,
    counter: u64,
    row: usize,
    transposed: bool,
    mixed_quads: &'a [u64],
}

impl RowDraw<'_> {
    /// Adds the rounded steps `xs` (in mantissa steps) to the row's weight mantissas, drawing
    /// rounding numbers only where the step is not zero.
    #[inline(always)]
    fn update<'m>(
        &self,
        row: impl Iterator<Item = &'m mut f32>,
        xs: impl Iterator<Item = f64>,
        rounding: crate::profile::Rounding,
        lim: f32,
    ) {
        let (noise, key, counter) = (self.noise, self.key, self.counter);
        if self.transposed {
            let mixed = mix(self.row as u64 >> 2);
            for (i, (m, x)) in row.zip(xs).enumerate() {
                if x != 0.0 {
                    let word = noise.rounding_word(key, counter, i as u64, mixed);
                    let u = RoundingNoise::lane(word, self.row as u64);
                    *m = (*m + round_to_grid(x, rounding, u) as f32).clamp(-lim, lim);
                }
            }
        } else {
            let mut word = (usize::MAX, 0u64);
            for (i, (m, x)) in row.zip(xs).enumerate() {
                if x != 0.0 {
                    if word.0 != i >> 2 {
                        word = (
                            i >> 2,
                            noise.rounding_word(key, counter, self.row as u64, self.mixed_quads[i >> 2]),
                        );
                    }
                    let u = RoundingNoise::lane(word.1, i as u64);
                    *m = (*m + round_to_grid(x, rounding, u) as f32).clamp(-lim, lim);
                }
            }
        }
    }
}
