//! Running time steps: the synchronous update of every neuron population, with or without a nudge.
//!
//! Each step first computes every population's synaptic drive from the activity of the previous step,
//! then updates all neurons (a synchronous, Loihi-like step). Inputs are held constant during a run,
//! so their contribution is computed once per input change (the result is the same as recomputing it
//! each step; the operation counters still count it every step, as the hardware would).

use ndarray::{Array2, ArrayView2, Axis, linalg::general_mat_mul, s};

use crate::chip::{Chip, ExecutionPath, max_payload, saturate_accumulator};
use crate::error::{ChipError, Result};
use crate::fixed_point::round_shift;
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
        let nudge = match nudge {
            Some(n) => Some(self.prepare_nudge(n)?),
            None => None,
        };
        if self.static_dirty {
            self.refresh_static();
            self.static_dirty = false;
        }
        for t in 0..steps {
            self.step(nudge.as_ref(), t + 1 == steps);
        }
        Ok(())
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
        for q in 0..self.populations.len() {
            if self.populations[q].is_input {
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
                            ExecutionPath::Fast => general_mat_mul(1.0, a, w, 1.0, &mut static_f),
                            ExecutionPath::Reference => reference_float_sum(a.view(), w.view(), &mut static_f),
                        }
                    }
                    Some(d) => {
                        let contrib = self.digital_group_sum(d, g);
                        static_i += &contrib;
                    }
                }
            }
            self.populations[q].static_f = static_f;
            self.populations[q].static_i = static_i;
        }
    }

    /// Σ_j mant·a for one group, shifted into state units (exact; fast or reference path).
    fn digital_group_sum(&self, d: &DigitalArithmetic, g: usize) -> Array2<i64> {
        let grp = &self.groups[g];
        let pre = &self.populations[grp.pre.0];
        let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
        let raw = match self.path {
            ExecutionPath::Fast => exact_integer_product(
                pre.activity.view(),
                grp.weights.view(),
                max_payload(pre.out_bits) as f64,
                crate::fixed_point::max_signed_magnitude(d.weight_bits) as f64,
            ),
            ExecutionPath::Reference => reference_integer_product(pre.activity.view(), grp.weights.view()),
        };
        raw.mapv(|x| round_shift(x, shift))
    }

    fn step(&mut self, nudge: Option<&PreparedNudge>, last: bool) {
        let np = self.populations.len();
        // 1. Drives from the previous step's activity.
        let mut drives_f: Vec<Option<Array2<f32>>> = vec![None; np];
        let mut drives_i: Vec<Option<Array2<i64>>> = vec![None; np];
        for q in 0..np {
            if self.populations[q].is_input {
                continue;
            }
            match self.digital.clone() {
                None => {
                    let mut drive = self.populations[q].static_f.clone();
                    for grp in self.groups.iter().filter(|g| g.post.0 == q) {
                        let pre = &self.populations[grp.pre.0];
                        if pre.is_input {
                            continue;
                        }
                        let w = grp.effective.as_ref().unwrap_or(&grp.weights);
                        match self.path {
                            ExecutionPath::Fast => general_mat_mul(1.0, &pre.activity, w, 1.0, &mut drive),
                            ExecutionPath::Reference => {
                                reference_float_sum(pre.activity.view(), w.view(), &mut drive)
                            }
                        }
                    }
                    drives_f[q] = Some(drive);
                }
                Some(d) => {
                    let mut acc = self.populations[q].static_i.clone();
                    for g in 0..self.groups.len() {
                        let grp = &self.groups[g];
                        if grp.post.0 != q || self.populations[grp.pre.0].is_input {
                            continue;
                        }
                        acc += &self.digital_group_sum(&d, g);
                    }
                    drives_i[q] = Some(acc);
                }
            }
        }
        // 2. Counters for the synaptic operations of this step (input spikes included).
        for grp in &self.groups {
            let nonzero = self.populations[grp.pre.0].nonzero;
            for block in &self.populations[grp.post.0].placement {
                self.cores[block.core].counters.synaptic_ops += nonzero * block.len as u64;
            }
        }
        // 3. Synchronous neuron update.
        let mut sq_change = 0.0f64;
        let mut count = 0usize;
        let digital = self.digital.clone();
        for q in 0..np {
            if self.populations[q].is_input {
                continue;
            }
            let nudge_here = nudge.filter(|n| n.pop == q);
            let pop = &mut self.populations[q];
            match &digital {
                None => {
                    let Some(drive) = drives_f[q].take() else { continue };
                    sq_change += float_update(pop, &drive, nudge_here, last);
                }
                Some(d) => {
                    let Some(acc) = drives_i[q].take() else { continue };
                    sq_change += digital_update(pop, d, &acc, nudge_here, last);
                }
            }
            count += pop.size * self.batch;
            pop.version += 1;
            let b = self.batch as u64;
            for block in &pop.placement {
                let c = &mut self.cores[block.core].counters;
                c.neuron_updates += b * block.len as u64;
                let slice = pop.activity.slice(s![.., block.start..block.start + block.len]);
                c.spikes += slice.iter().filter(|&&a| a != 0.0).count() as u64;
            }
            pop.nonzero = pop.activity.iter().filter(|&&a| a != 0.0).count() as u64;
        }
        if last {
            self.last_residual = if count > 0 { (sq_change / count as f64).sqrt() as f32 } else { 0.0 };
        }
    }
}

/// Float rate-neuron update; returns the summed squared state change when `measure` is set.
fn float_update(
    pop: &mut crate::population::Population,
    drive: &Array2<f32>,
    nudge: Option<&PreparedNudge>,
    measure: bool,
) -> f64 {
    let mut sq = 0.0f64;
    let dt = &pop.dt;
    let bias = &pop.bias;
    for (b, (mut srow, drow)) in pop.state_f.axis_iter_mut(Axis(0)).zip(drive.axis_iter(Axis(0))).enumerate() {
        let target = nudge.map(|n| (n.target_f.row(b), n.beta_f));
        for i in 0..srow.len() {
            let s = srow[i];
            let mut total = drow[i] + bias[i];
            if let Some((t, beta)) = &target {
                total += beta * (t[i] - s);
            }
            let new = (s + dt[i] * (total - s)).clamp(0.0, 1.0);
            if measure {
                sq += f64::from(new - s).powi(2);
            }
            srow[i] = new;
        }
    }
    pop.activity.assign(&pop.state_f);
    sq
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
    acc: &Array2<i64>,
    nudge: Option<&PreparedNudge>,
    measure: bool,
) -> f64 {
    let bias_exp = crate::chip::bias_exponent(d);
    let shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits);
    let mut sq = 0.0f64;
    let scale = 1.0 / (1u64 << d.state_fraction_bits) as f64;
    for b in 0..acc.nrows() {
        for i in 0..acc.ncols() {
            let v = i64::from(pop.state_i[[b, i]]);
            let nud = nudge.map(|n| (n.beta_q, n.target_i[[b, i]]));
            let new = digital_neuron_update(d, v, acc[[b, i]], pop.bias_mant[i] << bias_exp, pop.decay[i], nud);
            if measure {
                sq += ((new - v) as f64 * scale).powi(2);
            }
            pop.state_i[[b, i]] = new as i32;
            pop.activity[[b, i]] = (new >> shift).min(max_a) as f32;
        }
    }
    sq
}

/// `a · w` for integer-valued f32 matrices, exactly: the inner dimension is cut into chunks whose
/// partial sums cannot exceed 2^24 (where f32 stops being exact), and chunks are added in f64.
pub fn exact_integer_product(a: ArrayView2<f32>, w: ArrayView2<f32>, max_a: f64, max_w: f64) -> Array2<i64> {
    let k = a.ncols();
    let bound = (max_a * max_w).max(1.0);
    let chunk = (((1u64 << 24) as f64 / bound).floor() as usize).max(1);
    if k <= chunk {
        return a.dot(&w).mapv(|x| x as i64);
    }
    let mut out = Array2::<i64>::zeros((a.nrows(), w.ncols()));
    let mut start = 0;
    while start < k {
        let end = (start + chunk).min(k);
        let part = a.slice(s![.., start..end]).dot(&w.slice(s![start..end, ..]));
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
