//! Running time steps: the synchronous update of every neuron population, with or without a nudge.
//!
//! Each step first computes every population's synaptic drive from the activity of the previous step,
//! then updates all neurons (a synchronous, Loihi-like step). Inputs are held constant during a run,
//! so their contribution is computed once per input change (the result is the same as recomputing it
//! each step; the operation counters still count it every step, as the hardware would).

use ndarray::{Array2, ArrayView2, Axis, linalg::general_mat_mul, s};

use crate::chip::{Chip, ExecutionPath, max_payload, saturate_accumulator};
use crate::core_resources::{GroupRoute, spike_destinations};
use crate::error::{ChipError, Result};
use crate::fixed_point::round_shift;
use crate::parallel::column_gemm;
use crate::population::PopulationId;
use crate::profile::DigitalArithmetic;

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

/// Where one sending block's spikes go: per receiving core other than its own, whether that core is
/// on another chip, and the neuron ranges it receives.
#[derive(Debug, Clone)]
pub(crate) struct BlockRoute {
    start: usize,
    len: usize,
    destinations: Vec<(bool, Vec<(usize, usize)>)>,
}

impl BlockRoute {
    /// Spikes of the block, messages they cause, and messages that cross chips.
    fn count(&self, pop: &crate::population::Population) -> (u64, u64, u64) {
        let (mut all, mut crossing) = (0, 0);
        for (other_chip, ranges) in &self.destinations {
            let n: u64 = ranges.iter().map(|&(a, b)| pop.nonzero_in(a, b)).sum();
            all += n;
            if *other_chip {
                crossing += n;
            }
        }
        (pop.nonzero_in(self.start, self.start + self.len), all, crossing)
    }
}

/// A nudge converted into the chip's numbers.
struct PreparedNudge {
    pop: usize,
    target_f: Array2<f32>,
    target_i: Array2<i64>,
    beta_f: f32,
    beta_q: i64,
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
    fn begin_run(&mut self, nudge: Option<&Nudge>) -> Result<Option<PreparedNudge>> {
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

    fn prepare_nudge(&self, n: &Nudge) -> Result<PreparedNudge> {
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
        let (one, nf) = self
            .digital
            .as_ref()
            .map_or((1.0, 0), |d| ((1u64 << d.state_fraction_bits) as f64, d.nudge_fraction_bits));
        Ok(PreparedNudge {
            pop: n.population.0,
            target_f: n.target.mapv(|y| y.clamp(0.0, 1.0)),
            target_i: n.target.mapv(|y| (f64::from(y.clamp(0.0, 1.0)) * one).round() as i64),
            beta_f: n.beta,
            beta_q: (f64::from(n.beta) * (1u64 << nf) as f64).round() as i64,
        })
    }

    /// Recomputes the constant drive that input populations deliver.
    fn refresh_static(&mut self) {
        let threads = self.threads;
        for q in 0..self.populations.len() {
            if self.populations[q].is_input || self.populations[q].lif_template.is_some() {
                continue;
            }
            let (b, n) = (self.batch, self.populations[q].size);
            let mut static_f = Array2::<f32>::zeros((b, n));
            let mut static_i = Array2::<i64>::zeros((b, n));
            for g in 0..self.groups.len() {
                let grp = &self.groups[g];
                if grp.post.0 != q || !self.populations[grp.pre.0].is_input {
                    continue;
                }
                match &self.digital {
                    None => {
                        let w = grp.effective.as_ref().unwrap_or(&grp.weights);
                        let a = &self.populations[grp.pre.0].activity;
                        match self.path {
                            ExecutionPath::Fast => {
                                column_gemm(threads, 1.0, a.view(), w.view(), 1.0, static_f.view_mut())
                            }
                            ExecutionPath::Reference => {
                                reference_float_sum(a.view(), w.view(), &mut static_f)
                            }
                        }
                    }
                    Some(d) => {
                        let contrib = self.digital_group_sum(d, g);
                        static_i += &contrib;
                    }
                }
            }
            let narrow = static_i.iter().all(|x| x.abs() < FUSED_LIMIT as i64);
            self.populations[q].static_i32 =
                if narrow { static_i.iter().map(|&x| x as i32).collect() } else { Vec::new() };
            self.populations[q].static_f = static_f;
            self.populations[q].static_i = static_i;
        }
    }

    /// True if the analog core changes column outputs at every step (noise or ADC).
    fn analog_outputs(&self) -> bool {
        self.analog.as_ref().is_some_and(|a| a.output_noise > 0.0 || a.read_noise > 0.0 || a.adc_bits > 0)
    }

    /// Analog cores: read noise and ADC on the column outputs of the tile(s) of population `q`.
    ///
    /// All synapse groups into a population share its tile's columns (their rows are stacked on the
    /// same crossbar), so each neuron's input is converted once per step: one Gaussian per column
    /// output and one ADC conversion. The tile's conductance range is the largest range of its groups.
    fn analog_tile_outputs(&mut self, q: usize) {
        let Some(a) = self.analog.as_ref() else { return };
        let (groups, pops) = (&self.groups, &self.populations);
        let incoming = || groups.iter().filter(move |g| g.post.0 == q);
        let tile_range = incoming().fold(f32::MIN_POSITIVE, |m, g| m.max(g.range));
        let out_sd = a.output_noise as f32 * tile_range;
        let read = a.read_noise as f32;
        let mut variance = vec![out_sd * out_sd; self.batch];
        if read > 0.0 {
            for g in incoming() {
                let scale = (read * g.range).powi(2);
                for (v, x) in variance.iter_mut().zip(pops[g.pre.0].activity.rows()) {
                    *v += scale * x.iter().map(|v| v * v).sum::<f32>();
                }
            }
        }
        let adc = (a.adc_bits > 0).then(|| {
            let levels = ((1u64 << (a.adc_bits - 1)) - 1) as f32;
            ((a.adc_range * a.dac_range) as f32 * tile_range / levels, levels)
        });
        let noisy = out_sd > 0.0 || read > 0.0;
        let n = self.populations[q].size;
        let rng = &mut self.noise_rng;
        let Some(drive) = self.populations[q].drive_f.as_slice_mut() else {
            unreachable!("population arrays are allocated in standard layout")
        };
        // One lane generator per tile conversion, seeded from the chip's noise stream.
        let mut lanes = crate::lane_rng::LaneRng::from_rng(rng);
        let (mut z, mut bits) = (vec![0.0f32; n], Vec::with_capacity(n));
        for (row, var) in drive.chunks_exact_mut(n).zip(variance) {
            let sd = var.sqrt();
            if noisy {
                crate::gaussian::fill_standard_normal_lanes(&mut z, &mut lanes, &mut bits, rng);
            }
            match adc {
                Some((step, levels)) if noisy => {
                    for (v, &z) in row.iter_mut().zip(&z) {
                        *v = crate::fixed_point::quantise_clamped(*v + sd * z, step, -levels, levels);
                    }
                }
                Some((step, levels)) => {
                    for v in row.iter_mut() {
                        *v = crate::fixed_point::quantise_clamped(*v, step, -levels, levels);
                    }
                }
                None if noisy => {
                    for (v, &z) in row.iter_mut().zip(&z) {
                        *v += sd * z;
                    }
                }
                None => {}
            }
        }
    }

    /// CUBA LIF populations: the synaptic input of every example, from the previous step's spikes
    /// (Loihi's dense synapses: weighted sum, then the weight exponent), into `drive_i`.
    fn lif_inputs(&mut self, q: usize) {
        let (b, n) = (self.batch, self.populations[q].size);
        let mut input = Array2::<i64>::zeros((b, n));
        for grp in self.groups.iter().filter(|g| g.post.0 == q) {
            let Some(dense) = &grp.dense else { continue };
            let pre = &self.populations[grp.pre.0];
            for (mut row, act) in input.rows_mut().into_iter().zip(pre.activity.rows()) {
                let spikes: Vec<bool> = act.iter().map(|&a| a > 0.0).collect();
                for (x, a) in row.iter_mut().zip(dense.accumulate(&spikes)) {
                    *x += a;
                }
            }
        }
        self.populations[q].drive_i = input;
    }

    /// Where every population's spikes go: for each sending block (the host for an input), the
    /// receiving cores other than the sender's, whether each is on another chip, and the neuron
    /// ranges it receives (a relay core receives only its segment).
    fn build_spike_routes(&self) -> Vec<Vec<BlockRoute>> {
        let spec = &self.profile.chip;
        (0..self.populations.len())
            .map(|q| {
                let routes: Vec<GroupRoute> = self
                    .groups
                    .iter()
                    .filter(|g| g.pre.0 == q)
                    .map(|g| GroupRoute {
                        post_blocks: &self.populations[g.post.0].placement,
                        fan_in: &g.fan_in,
                    })
                    .collect();
                let pop = &self.populations[q];
                let senders: Vec<(usize, usize, Option<usize>)> = if pop.is_input {
                    vec![(0, pop.size, None)]
                } else {
                    pop.placement.iter().map(|b| (b.start, b.len, Some(b.core))).collect()
                };
                senders
                    .into_iter()
                    .map(|(start, len, own)| {
                        let own_chip = own.map_or(0, |c| spec.chip_of(c));
                        let destinations = spike_destinations(&routes, start, len)
                            .into_iter()
                            .filter(|(core, _)| Some(*core) != own)
                            .map(|(core, ranges)| (spec.chip_of(core) != own_chip, ranges))
                            .collect();
                        BlockRoute { start, len, destinations }
                    })
                    .collect()
            })
            .collect()
    }

    /// Σ_j mant·a for one group, shifted into state units (exact; fast or reference path).
    fn digital_group_sum(&self, d: &DigitalArithmetic, g: usize) -> Array2<i64> {
        let grp = &self.groups[g];
        let pre = &self.populations[grp.pre.0];
        let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
        let (max_a, max_w) = (
            max_payload(pre.out_bits) as f64,
            crate::fixed_point::max_signed_magnitude(d.weight_bits) as f64,
        );
        let raw = match self.path {
            ExecutionPath::Fast => {
                // Presynaptic neurons silent in every example contribute nothing: when most are
                // (an input digit in online learning), the product runs over the others only. The
                // sums are exact integers, so they are the same numbers.
                let mut any = vec![false; pre.size];
                mark_active_columns(pre.activity.view(), &mut any);
                let active: Vec<usize> = (0..pre.size).filter(|&j| any[j]).collect();
                if active.len() * 2 < pre.size {
                    let a = pre.activity.select(Axis(1), &active);
                    let w = grp.weights.select(Axis(0), &active);
                    exact_integer_product_threads(self.threads, a.view(), w.view(), max_a, max_w)
                } else {
                    exact_integer_product_threads(
                        self.threads,
                        pre.activity.view(),
                        grp.weights.view(),
                        max_a,
                        max_w,
                    )
                }
            }
            ExecutionPath::Reference => reference_integer_product(pre.activity.view(), grp.weights.view()),
        };
        raw.mapv(|x| round_shift(x, shift))
    }

    fn step(&mut self, nudge: Option<&PreparedNudge>, last: bool) {
        match self.path {
            ExecutionPath::Fast => self.compute_drives_fast(),
            ExecutionPath::Reference => self.compute_drives_reference(),
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
        let digital = self.digital.clone();
        let dac = self.analog.as_ref().and_then(dac_levels);
        let mut row_sq = vec![0.0f64; if last { self.batch } else { 0 }];
        let mut max_change = 0.0f32;
        let fast = self.path == ExecutionPath::Fast;
        for (q, pop_routes) in routes.iter().enumerate() {
            if self.populations[q].is_input {
                continue;
            }
            let nudge_here = nudge.filter(|n| n.pop == q);
            let pop = &mut self.populations[q];
            let rows = if last { Some(&mut row_sq[..]) } else { None };
            sq_change += if pop.lif_template.is_some() {
                lif_update(pop)
            } else {
                match &digital {
                    None => float_update(pop, nudge_here, dac, rows, &mut max_change),
                    Some(d) if fast && rows.is_none() => match pop.fused_shift {
                        Some(shift) if fused_nudge_fits(nudge_here) => {
                            digital_update_fused(pop, d, nudge_here, shift)
                        }
                        _ => {
                            materialise_fused_drive(pop);
                            digital_update_fast(pop, d, nudge_here)
                        }
                    },
                    Some(d) => {
                        materialise_fused_drive(pop);
                        digital_update(pop, d, nudge_here, rows, &mut max_change)
                    }
                }
            };
            count += pop.size * self.batch;
            pop.version += 1;
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

    /// Fast path: every population's drive from the previous step, as matrix products.
    fn compute_drives_fast(&mut self) {
        let analog_outputs = self.analog_outputs();
        for q in 0..self.populations.len() {
            if self.populations[q].is_input {
                continue;
            }
            if self.populations[q].lif_template.is_some() {
                self.lif_inputs(q);
                continue;
            }
            self.populations[q].fused_shift = None;
            if let Some(d) = &self.digital
                && let Some((g, shift)) = self.fusable_group(d, q)
            {
                // One exact f32 product; the neuron update adds it to the constant drive.
                let mut product = std::mem::take(&mut self.populations[q].product);
                let grp = &self.groups[g];
                exact_product_into(&self.populations[grp.pre.0].activity, &grp.weights, &mut product);
                let pop = &mut self.populations[q];
                pop.product = product;
                pop.fused_shift = Some(shift);
                continue;
            }
            let mut drive_f = std::mem::take(&mut self.populations[q].drive_f);
            let mut drive_i = std::mem::take(&mut self.populations[q].drive_i);
            let mut product = std::mem::take(&mut self.populations[q].product);
            match &self.digital {
                None => copy_array(&mut drive_f, &self.populations[q].static_f),
                Some(_) => copy_array(&mut drive_i, &self.populations[q].static_i),
            }
            for grp in self.groups.iter().filter(|g| g.post.0 == q) {
                let pre = &self.populations[grp.pre.0];
                if pre.is_input {
                    continue;
                }
                match &self.digital {
                    None => {
                        let w = grp.effective.as_ref().unwrap_or(&grp.weights);
                        general_mat_mul(1.0, &pre.activity, w, 1.0, &mut drive_f);
                    }
                    Some(d) => {
                        let max_w = crate::fixed_point::max_signed_magnitude(d.weight_bits) as f64;
                        let max_a = max_payload(pre.out_bits) as f64;
                        let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
                        if pre.size as f64 * max_a * max_w <= F32_EXACT {
                            // One exact f32 product, then a fused shift-and-add.
                            exact_product_into(&pre.activity, &grp.weights, &mut product);
                            match (drive_i.as_slice_mut(), product.as_slice()) {
                                (Some(acc), Some(p)) => add_shifted(acc, p, shift),
                                _ => drive_i
                                    .zip_mut_with(&product, |acc, &p| *acc += round_shift(p as i64, shift)),
                            }
                        } else {
                            let raw =
                                exact_integer_product(pre.activity.view(), grp.weights.view(), max_a, max_w);
                            drive_i.zip_mut_with(&raw, |acc, &p| *acc += round_shift(p, shift));
                        }
                    }
                }
            }
            let pop = &mut self.populations[q];
            pop.drive_f = drive_f;
            pop.drive_i = drive_i;
            pop.product = product;
            if analog_outputs {
                self.analog_tile_outputs(q);
            }
        }
    }

    /// The one synapse group feeding digital population `q` from a non-input population, and its
    /// shift, if its drive can be added up inside the neuron update in i32: the product is exact in
    /// f32, the shift is a right shift of at most 30 bits, the constant drive and the biases are
    /// below 2^28, and the population is not a LIF or analog one.
    fn fusable_group(&self, d: &DigitalArithmetic, q: usize) -> Option<(usize, i32)> {
        let pop = &self.populations[q];
        if self.analog.is_some() || pop.static_i32.len() != self.batch * pop.size {
            return None;
        }
        let bias_exp = crate::chip::bias_exponent(d);
        if pop.bias_mant.iter().any(|&m| (m << bias_exp).abs() >= FUSED_LIMIT as i64) {
            return None;
        }
        let mut groups = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.post.0 == q && !self.populations[g.pre.0].is_input);
        let (g, grp) = groups.next()?;
        if groups.next().is_some() {
            return None;
        }
        let pre = &self.populations[grp.pre.0];
        let max_w = crate::fixed_point::max_signed_magnitude(d.weight_bits) as f64;
        let max_a = max_payload(pre.out_bits) as f64;
        let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
        (pre.size as f64 * max_a * max_w <= F32_EXACT && (1..=30).contains(&shift)).then_some((g, shift))
    }

    /// Reference path: every drive with scalar loops.
    fn compute_drives_reference(&mut self) {
        let analog_outputs = self.analog_outputs();
        for q in 0..self.populations.len() {
            if self.populations[q].is_input {
                continue;
            }
            if self.populations[q].lif_template.is_some() {
                self.lif_inputs(q);
                continue;
            }
            let mut drive_f = self.populations[q].static_f.clone();
            let mut drive_i = self.populations[q].static_i.clone();
            for g in 0..self.groups.len() {
                let grp = &self.groups[g];
                if grp.post.0 != q || self.populations[grp.pre.0].is_input {
                    continue;
                }
                match &self.digital {
                    None => {
                        let w = grp.effective.as_ref().unwrap_or(&grp.weights);
                        reference_float_sum(
                            self.populations[grp.pre.0].activity.view(),
                            w.view(),
                            &mut drive_f,
                        );
                    }
                    Some(d) => drive_i += &self.digital_group_sum(d, g),
                }
            }
            self.populations[q].drive_f = drive_f;
            self.populations[q].drive_i = drive_i;
            if analog_outputs {
                self.analog_tile_outputs(q);
            }
        }
    }
}

/// Sums of integers up to this magnitude are exact in f32.
const F32_EXACT: f64 = (1u64 << 24) as f64;

/// CUBA LIF update of every example: one compartment step with the input in `drive_i`; the activity
/// is the spike (1 or 0) and `state_i` mirrors the voltage.
fn lif_update(pop: &mut crate::population::Population) -> f64 {
    for (b, lif) in pop.lif.iter_mut().enumerate() {
        let input: Vec<i64> = pop.drive_i.row(b).to_vec();
        let spikes = lif.step(&input);
        for (i, s) in spikes.iter().enumerate() {
            pop.activity[[b, i]] = f32::from(u8::from(*s));
            pop.state_i[[b, i]] = lif.v[i] as i32;
        }
    }
    0.0
}

/// Float rate-neuron update of a whole population from its drive; returns the summed squared
/// state change.
fn float_update(
    pop: &mut crate::population::Population,
    nudge: Option<&PreparedNudge>,
    dac: Option<(f32, f32)>,
    mut rows_sq: Option<&mut [f64]>,
    max_change: &mut f32,
) -> f64 {
    let measure = rows_sq.is_some();
    let n = pop.size;
    let (dt, bias) = (&pop.dt[..n], &pop.bias[..n]);
    let (gain, offset) = (&pop.neuron_gain[..n], &pop.neuron_offset[..n]);
    let mut sq = 0.0f64;
    let (Some(state), Some(activity), Some(drive)) =
        (pop.state_f.as_slice_mut(), pop.activity.as_slice_mut(), pop.drive_f.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_f.as_slice().map(|s| (s, t.beta_f)));
    let neuron = NeuronParams { dt, bias, gain, offset };
    for (b, ((srow, arow), drow)) in
        state.chunks_exact_mut(n).zip(activity.chunks_exact_mut(n)).zip(drive.chunks_exact(n)).enumerate()
    {
        let target = targets.map(|(t, beta)| (&t[b * n..(b + 1) * n], beta));
        let (row, row_max) = if measure {
            update_row::<true>(srow, arow, drow, &neuron, target)
        } else {
            update_row::<false>(srow, arow, drow, &neuron, target)
        };
        let row = f64::from(row);
        *max_change = max_change.max(row_max);
        sq += row;
        if let Some(r) = rows_sq.as_deref_mut() {
            r[b] += row;
        }
        if let Some((step, levels)) = dac {
            for a in arow.iter_mut() {
                *a = dac_quantise(*a, step, levels);
            }
        }
    }
    sq
}

/// Per-neuron parameters of a float (or analog) population.
struct NeuronParams<'a> {
    dt: &'a [f32],
    bias: &'a [f32],
    gain: &'a [f32],
    offset: &'a [f32],
}

/// One row (example) of the float rate-neuron update:
/// `s ← clip(s + dt·(gain·(drive + bias) + offset [+ β(y − s)] − s), 0, 1)`.
/// Returns the summed squared change when `MEASURE` (kept out of the other steps' loops so that
/// they vectorise).
#[inline(always)]
fn update_row<const MEASURE: bool>(
    srow: &mut [f32],
    arow: &mut [f32],
    drow: &[f32],
    p: &NeuronParams,
    target: Option<(&[f32], f32)>,
) -> (f32, f32) {
    let mut row_sq = 0.0f32;
    let mut row_max = 0.0f32;
    let params = p.dt.iter().zip(p.bias).zip(p.gain.iter().zip(p.offset));
    match target {
        None => {
            for (((s, a), &d), ((&dt, &bias), (&g, &o))) in
                srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(params)
            {
                let new = (*s + dt * (g * (d + bias) + o - *s)).clamp(0.0, 1.0);
                if MEASURE {
                    row_sq += (new - *s) * (new - *s);
                    row_max = row_max.max((new - *s).abs());
                }
                *s = new;
                *a = new;
            }
        }
        Some((trow, beta)) => {
            for ((((s, a), &d), ((&dt, &bias), (&g, &o))), &y) in
                srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(params).zip(trow)
            {
                let total = g * (d + bias) + o + beta * (y - *s);
                let new = (*s + dt * (total - *s)).clamp(0.0, 1.0);
                if MEASURE {
                    row_sq += (new - *s) * (new - *s);
                    row_max = row_max.max((new - *s).abs());
                }
                *s = new;
                *a = new;
            }
        }
    }
    (row_sq, row_max)
}

/// Analog DAC: (step, number of steps) for activities in [0, dac_range], or `None` when exact.
pub(crate) fn dac_levels(a: &crate::profile::AnalogArithmetic) -> Option<(f32, f32)> {
    (a.dac_bits > 0).then(|| {
        let levels = ((1u64 << a.dac_bits) - 1) as f32;
        (a.dac_range as f32 / levels, levels)
    })
}

/// Quantises a non-negative activity to the DAC grid, saturating at full scale.
#[inline]
pub(crate) fn dac_quantise(x: f32, step: f32, levels: f32) -> f32 {
    crate::fixed_point::quantise_clamped(x, step, 0.0, levels)
}

/// One digital rate-neuron update from its accumulated synaptic input (state units).
///
/// `v ← clamp(v + round((drive − v)·d / 2^decay_bits), 0, 1.0)` with
/// `drive = sat_acc(acc) + bias + round(β·(target − v))`: a leaky integrator whose input is scaled
/// by the same decay `d`, so its fixed point is the drive whatever the time constant.
#[inline]
pub fn digital_neuron_update(
    d: &DigitalArithmetic,
    v: i64,
    acc: i64,
    bias_units: i64,
    decay: i64,
    nudge: Option<(i64, i64)>,
) -> i64 {
    let mut drive = saturate_accumulator(d, acc) + bias_units;
    if let Some((beta_q, target)) = nudge {
        drive += round_shift(beta_q * (target - v), d.nudge_fraction_bits as i32);
    }
    let one = 1i64 << d.state_fraction_bits;
    (v + round_shift((drive - v) * decay, d.decay_bits as i32)).clamp(0, one)
}

fn digital_update(
    pop: &mut crate::population::Population,
    d: &DigitalArithmetic,
    nudge: Option<&PreparedNudge>,
    mut rows_sq: Option<&mut [f64]>,
    max_change: &mut f32,
) -> f64 {
    let unit = 1.0 / (1u64 << (2 * d.state_fraction_bits)) as f64;
    let mut max_units = 0i64;
    let bias_exp = crate::chip::bias_exponent(d);
    let shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits);
    let n = pop.size;
    let bias: Vec<i64> = pop.bias_mant.iter().map(|&m| m << bias_exp).collect();
    let decay = &pop.decay[..n];
    let mut sq = 0i128;
    let (Some(state), Some(activity), Some(drive)) =
        (pop.state_i.as_slice_mut(), pop.activity.as_slice_mut(), pop.drive_i.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_i.as_slice().map(|s| (s, t.beta_q)));
    for (b, ((srow, arow), drow)) in
        state.chunks_exact_mut(n).zip(activity.chunks_exact_mut(n)).zip(drive.chunks_exact(n)).enumerate()
    {
        let trow = targets.map(|(t, beta_q)| (&t[b * n..(b + 1) * n], beta_q));
        let before = sq;
        for (i, (((s, a), &acc), (&bias, &decay))) in
            srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(bias.iter().zip(decay)).enumerate()
        {
            let v = i64::from(*s);
            let nud = trow.map(|(t, beta_q)| (beta_q, t[i]));
            let new = digital_neuron_update(d, v, acc, bias, decay, nud);
            sq += i128::from((new - v) * (new - v));
            max_units = max_units.max((new - v).abs());
            *s = new as i32;
            *a = (new >> shift).min(max_a) as f32;
        }
        if let Some(r) = rows_sq.as_deref_mut() {
            r[b] += (sq - before) as f64 * unit;
        }
    }
    *max_change = max_change.max(max_units as f32 / (1u64 << d.state_fraction_bits) as f32);
    sq as f64 * unit
}

/// The digital update of [`digital_update`] for steps that are not measured, with the constants of
/// [`digital_neuron_update`] hoisted out of the loop (the same integer arithmetic; the reference path
/// and every measured step use the per-element function, and the tests compare the two bit for bit).
fn digital_update_fast(
    pop: &mut crate::population::Population,
    d: &DigitalArithmetic,
    nudge: Option<&PreparedNudge>,
) -> f64 {
    let bias_exp = crate::chip::bias_exponent(d);
    let shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits);
    let n = pop.size;
    let bias: Vec<i64> = pop.bias_mant.iter().map(|&m| m << bias_exp).collect();
    let decay = &pop.decay[..n];
    let acc_hi = (1i64 << (d.accumulator_bits - 1)) - 1;
    let acc_lo = -acc_hi - 1;
    let (db, nf) = (d.decay_bits, d.nudge_fraction_bits);
    let (decay_half, nudge_half) = (1i64 << (db - 1), 1i64 << (nf - 1));
    let one = 1i64 << d.state_fraction_bits;
    let (Some(state), Some(activity), Some(drive)) =
        (pop.state_i.as_slice_mut(), pop.activity.as_slice_mut(), pop.drive_i.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_i.as_slice().map(|s| (s, t.beta_q)));
    for (b, ((srow, arow), drow)) in
        state.chunks_exact_mut(n).zip(activity.chunks_exact_mut(n)).zip(drive.chunks_exact(n)).enumerate()
    {
        let cells = srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(bias.iter().zip(decay));
        match targets {
            None => {
                for (((s, a), &acc), (&bias, &decay)) in cells {
                    let v = i64::from(*s);
                    let drive = acc.clamp(acc_lo, acc_hi) + bias;
                    let new = (v + (((drive - v) * decay + decay_half) >> db)).clamp(0, one);
                    *s = new as i32;
                    *a = (new >> shift).min(max_a) as f32;
                }
            }
            Some((t, beta_q)) => {
                let trow = &t[b * n..(b + 1) * n];
                for ((((s, a), &acc), (&bias, &decay)), &target) in cells.zip(trow) {
                    let v = i64::from(*s);
                    let drive =
                        acc.clamp(acc_lo, acc_hi) + bias + ((beta_q * (target - v) + nudge_half) >> nf);
                    let new = (v + (((drive - v) * decay + decay_half) >> db)).clamp(0, one);
                    *s = new as i32;
                    *a = (new >> shift).min(max_a) as f32;
                }
            }
        }
    }
    0.0
}

/// Sets `active[j]` for every column `j` of `a` (examples × neurons) that is non-zero in some
/// example.
pub(crate) fn mark_active_columns(a: ArrayView2<f32>, active: &mut [bool]) {
    for row in a.rows() {
        for (flag, &x) in active.iter_mut().zip(row) {
            *flag |= x != 0.0;
        }
    }
}

/// `out = a · w` for integer-valued f32 operands whose products and sums stay below 2^24 (so any
/// summation order gives the same exact result): a matrix product for batches, and for a few rows
/// (online learning) a loop that adds the weight rows of the active presynaptic neurons only.
fn exact_product_into(a: &Array2<f32>, w: &Array2<f32>, out: &mut Array2<f32>) {
    if a.nrows() > 4 {
        general_mat_mul(1.0, a, w, 0.0, out);
        return;
    }
    out.fill(0.0);
    for (arow, mut orow) in a.rows().into_iter().zip(out.rows_mut()) {
        let Some(o) = orow.as_slice_mut() else { unreachable!("population arrays are standard layout") };
        for (&x, wrow) in arow.iter().zip(w.rows()) {
            if x != 0.0 {
                let Some(wr) = wrow.to_slice() else { unreachable!("weights are standard layout") };
                for (o, &wv) in o.iter_mut().zip(wr) {
                    *o += x * wv;
                }
            }
        }
    }
}

/// Magnitude below which constant drives and biases take the fused i32 update (see
/// [`digital_update_fused`]): every intermediate then stays inside i32.
const FUSED_LIMIT: i32 = 1 << 28;

/// Whether a nudge's strength is small enough for the fused i32 update (β·(target − s) in i32).
fn fused_nudge_fits(nudge: Option<&PreparedNudge>) -> bool {
    nudge.is_none_or(|n| n.beta_q.abs() < 1 << 16)
}

/// Fills `drive_i` from a fused drive (constant drive + shifted product) when a path needs it.
fn materialise_fused_drive(pop: &mut crate::population::Population) {
    if let Some(shift) = pop.fused_shift.take() {
        let (Some(acc), Some(p)) = (pop.drive_i.as_slice_mut(), pop.product.as_slice()) else {
            unreachable!("population arrays are allocated in standard layout")
        };
        for (a, &s) in acc.iter_mut().zip(&pop.static_i32) {
            *a = i64::from(s);
        }
        add_shifted(acc, p, shift);
    }
}

/// [`digital_update_fast`] on a fused drive, in i32: the same numbers. `drive = static +
/// ((p + half) >> shift)` is clamped to the accumulator, biased and nudged; the leaky step
/// `((d · decay + half) >> db)` is computed as `(d >> db) · decay + (((d mod 2^db) · decay + half) >> db)`,
/// which is exact and keeps every product below 2^31 (|d| < 2^29, decay ≤ 2^db).
fn digital_update_fused(
    pop: &mut crate::population::Population,
    d: &DigitalArithmetic,
    nudge: Option<&PreparedNudge>,
    shift: i32,
) -> f64 {
    let bias_exp = crate::chip::bias_exponent(d);
    let out_shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits) as i32;
    let n = pop.size;
    let bias: Vec<i32> = pop.bias_mant.iter().map(|&m| (m << bias_exp) as i32).collect();
    let decay: Vec<i32> = pop.decay[..n].iter().map(|&x| x as i32).collect();
    let acc_hi = ((1i64 << (d.accumulator_bits - 1)) - 1) as i32;
    let acc_lo = -acc_hi - 1;
    let (db, nf) = (d.decay_bits, d.nudge_fraction_bits);
    let (decay_half, nudge_half) = (1i32 << (db - 1), 1i32 << (nf - 1));
    let mask = (1i32 << db) - 1;
    let half = 1i32 << (shift - 1);
    let one = 1i32 << d.state_fraction_bits;
    let (Some(state), Some(activity), Some(product)) =
        (pop.state_i.as_slice_mut(), pop.activity.as_slice_mut(), pop.product.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_i.as_slice().map(|s| (s, t.beta_q as i32)));
    let statics = &pop.static_i32;
    for b in 0..state.len() / n.max(1) {
        let r = b * n..(b + 1) * n;
        let (srow, arow, prow, crow) =
            (&mut state[r.clone()], &mut activity[r.clone()], &product[r.clone()], &statics[r.clone()]);
        let trow = targets.map(|(t, beta)| (&t[r.clone()], beta));
        for k in 0..n {
            let v = srow[k];
            let acc = crow[k] + ((exact_f32_to_i32(prow[k]) + half) >> shift);
            let mut drive = acc.clamp(acc_lo, acc_hi) + bias[k];
            if let Some((t, beta)) = trow {
                drive += (beta * (t[k] as i32 - v) + nudge_half) >> nf;
            }
            let diff = drive - v;
            let step = (diff >> db) * decay[k] + (((diff & mask) * decay[k] + decay_half) >> db);
            let new = (v + step).clamp(0, one);
            srow[k] = new;
            arow[k] = (new >> out_shift).min(max_a) as f32;
        }
    }
    pop.fused_shift = None;
    0.0
}

/// An f32 holding an exact integer of magnitude below 2^31, as i32: the low 32 bits of
/// `x + 1.5·2^52` in f64 (whose unit in the last place is 1). Unlike `as i32`, whose saturating
/// conversion stays scalar on baseline x86-64, this vectorises.
#[inline(always)]
pub(crate) fn exact_f32_to_i32(x: f32) -> i32 {
    (f64::from(x) + 6_755_399_441_055_744.0).to_bits() as i32
}

/// `dst = src` for arrays of one shape, as a memory copy when both are contiguous.
fn copy_array<T: Copy>(dst: &mut Array2<T>, src: &Array2<T>) {
    match (dst.as_slice_mut(), src.as_slice()) {
        (Some(d), Some(s)) if d.len() == s.len() => d.copy_from_slice(s),
        _ => dst.assign(src),
    }
}

/// `acc[k] += round_shift(p[k], shift)` for exact integer-valued products, with the shift's case
/// chosen once for the whole slice (the loop then has no branches).
fn add_shifted(acc: &mut [i64], p: &[f32], shift: i32) {
    if shift <= 0 {
        let left = (-shift).min(62);
        for (a, &x) in acc.iter_mut().zip(p) {
            *a += (x as i64) << left;
        }
    } else if shift >= 63 {
        // Every value rounds to zero.
    } else {
        let half = 1i64 << (shift - 1);
        for (a, &x) in acc.iter_mut().zip(p) {
            *a += (x as i64 + half) >> shift;
        }
    }
}

/// `a · w` for integer-valued f32 matrices, exactly: the inner dimension is cut into chunks whose
/// partial sums cannot exceed 2^24 (where f32 stops being exact), and chunks are added as integers.
pub fn exact_integer_product(a: ArrayView2<f32>, w: ArrayView2<f32>, max_a: f64, max_w: f64) -> Array2<i64> {
    exact_integer_product_threads(1, a, w, max_a, max_w)
}

/// [`exact_integer_product`] with the columns shared among `threads` threads (same result).
pub fn exact_integer_product_threads(
    threads: usize,
    a: ArrayView2<f32>,
    w: ArrayView2<f32>,
    max_a: f64,
    max_w: f64,
) -> Array2<i64> {
    let k = a.ncols();
    let bound = (max_a * max_w).max(1.0);
    let chunk = (((1u64 << 24) as f64 / bound).floor() as usize).max(1);
    let mut out = Array2::<i64>::zeros((a.nrows(), w.ncols()));
    let mut part = Array2::<f32>::zeros((a.nrows(), w.ncols()));
    let mut start = 0;
    while start < k {
        let end = (start + chunk).min(k);
        column_gemm(
            threads,
            1.0,
            a.slice(s![.., start..end]),
            w.slice(s![start..end, ..]),
            0.0,
            part.view_mut(),
        );
        out.zip_mut_with(&part, |o, &p| *o += p as i64);
        start = end;
    }
    out
}

/// Reference: the same product with scalar i64 loops.
fn reference_integer_product(a: ArrayView2<f32>, w: ArrayView2<f32>) -> Array2<i64> {
    let mut out = Array2::<i64>::zeros((a.nrows(), w.ncols()));
    for b in 0..a.nrows() {
        for i in 0..w.ncols() {
            let mut sum = 0i64;
            for j in 0..a.ncols() {
                sum += a[[b, j]] as i64 * w[[j, i]] as i64;
            }
            out[[b, i]] = sum;
        }
    }
    out
}

/// Reference: `out += a · w` with scalar loops in f64.
fn reference_float_sum(a: ArrayView2<f32>, w: ArrayView2<f32>, out: &mut Array2<f32>) {
    for b in 0..a.nrows() {
        for i in 0..w.ncols() {
            let mut sum = 0f64;
            for j in 0..a.ncols() {
                sum += f64::from(a[[b, j]]) * f64::from(w[[j, i]]);
            }
            out[[b, i]] += sum as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exact_f32_to_i32;

    #[test]
    fn exact_f32_to_i32_agrees_with_the_plain_conversion_on_integers() {
        let edges = [0.0f32, -0.0, 1.0, -1.0, 16_777_216.0, -16_777_216.0, 2_147_483_520.0, -2_147_483_648.0];
        for x in edges.into_iter().chain((-70_000..70_000).map(|k| (k * 241) as f32)) {
            assert_eq!(exact_f32_to_i32(x), x as i32, "{x}");
        }
    }
}
