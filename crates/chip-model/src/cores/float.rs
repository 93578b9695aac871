//! The floating-point core: the reference twin of every chip.
//!
//! Neurons are continuous rate units running the clip or the sigmoid model on
//! `u = gain·(drive + bias) + offset [+ β(y − s)]` (gain and offset are 1 and 0 here; the analog core
//! reuses this update with its neurons' mismatch, so σ becomes its neurons' transfer curve);
//! dendritic sums are f32 matrix products (the reference path: scalar f64 loops); learned updates
//! are added to the weights exactly.

use ndarray::{Array2, ArrayView2, Axis};

use super::{CoreArithmetic, DeviceSampler, Dynamics, ExecutionPath, Fabric, NudgeUnits};
use crate::error::Result;
use crate::learning_engine::{SumTarget, sop_factors, trace};
use crate::learning_rule::SumOfProducts;
use crate::neuron_program::{NeuronProgram, sigmoid};
use crate::parallel::{column_gemm, splits_columns};
use crate::population::{Population, PopulationId};
use crate::shared_array::SharedArray;
use crate::synapse_group::SynapseGroup;

/// The floating-point core (no parameters).
#[derive(Debug, Clone, Copy)]
pub struct FloatCore;

impl CoreArithmetic for FloatCore {
    fn configure_group(
        &self,
        group: &mut SynapseGroup,
        _mirror: Option<&SynapseGroup>,
        devices: &DeviceSampler<'_>,
    ) -> Result<()> {
        group.gain = devices.synapse_gains(group.weights.nrows()).map(SharedArray::new);
        Ok(())
    }

    fn encode_input(&self, activity: &mut Array2<f32>, values: ArrayView2<f32>) {
        activity.zip_mut_with(&values, |a, &x| *a = x.clamp(0.0, 1.0));
    }

    fn static_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        static_drive(net, q);
    }

    fn compute_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        compute_drive(net, q);
    }

    fn update_neurons(
        &self,
        pop: &mut Population,
        nudge: Option<&NudgeUnits>,
        rows_sq: Option<&mut [f64]>,
        max_change: &mut f32,
        _path: ExecutionPath,
    ) -> f64 {
        float_update(pop, nudge, None, rows_sq, max_change)
    }

    fn learn_group(&self, net: &mut Fabric<'_>, g: usize, rule: &SumOfProducts, global: f32) {
        learn_fast(net, SumTarget::Group(g), rule, global);
    }

    fn learn_bias(&self, net: &mut Fabric<'_>, p: usize, rule: &SumOfProducts, global: f32) {
        learn_fast(net, SumTarget::Bias(p), rule, global);
    }

    fn write_group_update(&self, net: &mut Fabric<'_>, g: usize, delta: &Array2<f64>, scale: f64) {
        add_group_update(&mut net.groups[g], delta, scale);
    }

    fn write_bias_update(&self, net: &mut Fabric<'_>, p: usize, delta: &Array2<f64>) {
        add_bias_update(&mut net.populations[p], delta);
    }
}

/// Float and analog cores: the constant drive of input populations into `q`, into `static_f`.
pub(crate) fn static_drive(net: &mut Dynamics<'_>, q: usize) {
    let (b, n) = (net.batch, net.populations[q].size);
    let mut static_f = Array2::<f32>::zeros((b, n));
    for grp in net.groups.iter() {
        if grp.post.0 != q || !net.populations[grp.pre.0].is_input {
            continue;
        }
        let w = grp.effective.as_ref().unwrap_or(&grp.weights);
        let a = &net.populations[grp.pre.0].activity;
        match net.path {
            ExecutionPath::Fast => {
                column_gemm(net.threads, 1.0, a.view(), w.view(), 1.0, static_f.view_mut())
            }
            ExecutionPath::Reference => reference_float_sum(a.view(), w.view(), &mut static_f),
        }
    }
    net.populations[q].static_f = static_f;
}

/// Float and analog cores: `drive_f` = constant drive + Σ activity · effective weights over the
/// groups from non-input populations.
pub(crate) fn compute_drive(net: &mut Dynamics<'_>, q: usize) {
    let mut drive_f = match net.path {
        ExecutionPath::Fast => {
            let mut d = std::mem::take(&mut net.populations[q].drive_f);
            copy_array(&mut d, &net.populations[q].static_f);
            d
        }
        ExecutionPath::Reference => net.populations[q].static_f.clone(),
    };
    for grp in net.groups.iter().filter(|g| g.post.0 == q) {
        let pre = &net.populations[grp.pre.0];
        if pre.is_input {
            continue;
        }
        let w = grp.effective.as_ref().unwrap_or(&grp.weights);
        match net.path {
            // Shared among the chip's threads when the batch is not cut into row shards (a step of
            // a network with a layer too large to shard, `SHARD_MAX_STEP_WEIGHTS`): the general
            // product's numbers either way.
            ExecutionPath::Fast if splits_columns(net.threads, pre.activity.len() * w.ncols(), w.ncols()) => {
                column_gemm(net.threads, 1.0, pre.activity.view(), w.view(), 1.0, drive_f.view_mut())
            }
            ExecutionPath::Fast => {
                crate::shallow_product::add_product(pre.activity.view(), w.view(), drive_f.view_mut())
            }
            ExecutionPath::Reference => reference_float_sum(pre.activity.view(), w.view(), &mut drive_f),
        }
    }
    net.populations[q].drive_f = drive_f;
}

/// Float and analog cores: adds `global · Σ_batch Σ_k c_k pre_k post_k` straight into the weights
/// (or biases) with one matrix product per distinct presynaptic trace.
pub(crate) fn learn_fast(net: &mut Fabric<'_>, target: SumTarget, rule: &SumOfProducts, global: f32) {
    match target {
        SumTarget::Group(g) => {
            let (pre, post) = (net.groups[g].pre, net.groups[g].post);
            let factors = sop_factors(net, rule, Some(pre), post);
            let mut weights = std::mem::take(&mut net.groups[g].weights);
            for f in &factors {
                let (alpha, m) = f.post_side(net.populations, post);
                match f.pre {
                    Some(k) => {
                        let a = &trace(net.populations, pre, k).data;
                        column_gemm(net.threads, global * alpha, a.t(), m, 1.0, weights.view_mut());
                    }
                    None => {
                        let sums = m.sum_axis(Axis(0)) * alpha * global;
                        for mut row in weights.axis_iter_mut(Axis(0)) {
                            row += &sums;
                        }
                    }
                }
            }
            net.groups[g].weights = weights;
            net.groups[g].refresh_effective_threads(net.threads);
        }
        SumTarget::Bias(p) => {
            let post = PopulationId(p);
            let factors = sop_factors(net, rule, None, post);
            let mut bias = std::mem::take(&mut net.populations[p].bias);
            for f in &factors {
                let (alpha, m) = f.post_side(net.populations, post);
                let sums = m.sum_axis(Axis(0));
                for (b, &d) in bias.iter_mut().zip(sums.iter()) {
                    *b += global * (alpha * d);
                }
            }
            net.populations[p].bias = bias;
        }
    }
}

/// Float and analog cores: `w += scale · delta`, exactly as f32.
pub(crate) fn add_group_update(grp: &mut SynapseGroup, delta: &Array2<f64>, scale: f64) {
    for ((j, i), w) in grp.weights.indexed_iter_mut() {
        *w += (delta[[j, i]] * scale) as f32;
    }
    grp.refresh_effective();
}

/// Float and analog cores: `b += delta`.
pub(crate) fn add_bias_update(pop: &mut Population, delta: &Array2<f64>) {
    for (i, b) in pop.bias.iter_mut().enumerate() {
        *b += (delta[[0, i]] * 1.0) as f32;
    }
}

/// Float rate-neuron update of a whole population from its drive, with the analog DAC on its
/// output when `dac` is given; returns the summed squared state change. The sigmoid model's rows
/// run compiled for the CPU's best vector instructions, where its exponential ([`crate::expf`])
/// vectorises; the clip model's loop vectorises on baseline x86-64 as it is.
pub(crate) fn float_update(
    pop: &mut Population,
    nudge: Option<&NudgeUnits>,
    dac: Option<(f32, f32)>,
    rows_sq: Option<&mut [f64]>,
    max_change: &mut f32,
) -> f64 {
    let measure = rows_sq.is_some();
    let sigmoid = pop.program == NeuronProgram::Sigmoid;
    let n = pop.size;
    let (dt, bias) = (&pop.dt[..n], &pop.bias[..n]);
    let (gain, offset) = (&pop.neuron_gain[..n], &pop.neuron_offset[..n]);
    let (Some(state), Some(activity), Some(drive)) =
        (pop.state_f.as_slice_mut(), pop.activity.as_slice_mut(), pop.drive_f.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let rows = FloatRows {
        n,
        state,
        activity,
        drive,
        neuron: NeuronParams { dt, bias, gain, offset },
        targets: nudge.and_then(|t| t.target_f.as_slice().map(|s| (s, t.beta_f))),
        dac,
        rows_sq,
        max_change,
    };
    match (measure, sigmoid) {
        (true, false) => rows.update::<true, false>(),
        (false, false) => rows.update::<false, false>(),
        (true, true) => crate::vector_isa::vectorised(SigmoidRows::<true>(rows)),
        (false, true) => crate::vector_isa::vectorised(SigmoidRows::<false>(rows)),
    }
}

/// The rows of a float population's update: its arrays (batch × size, row-major), the neurons'
/// parameters, the nudge's targets and strength, the DAC, and where the measurement goes.
struct FloatRows<'a> {
    n: usize,
    state: &'a mut [f32],
    activity: &'a mut [f32],
    drive: &'a [f32],
    neuron: NeuronParams<'a>,
    targets: Option<(&'a [f32], f32)>,
    dac: Option<(f32, f32)>,
    rows_sq: Option<&'a mut [f64]>,
    max_change: &'a mut f32,
}

impl FloatRows<'_> {
    /// Updates every row; returns the summed squared change (zero unless `MEASURE`).
    #[inline(always)]
    fn update<const MEASURE: bool, const SIGMOID: bool>(self) -> f64 {
        let FloatRows { n, state, activity, drive, neuron, targets, dac, mut rows_sq, max_change } = self;
        let mut sq = 0.0f64;
        for (b, ((srow, arow), drow)) in
            state.chunks_exact_mut(n).zip(activity.chunks_exact_mut(n)).zip(drive.chunks_exact(n)).enumerate()
        {
            let target = targets.map(|(t, beta)| (&t[b * n..(b + 1) * n], beta));
            let (row, row_max) = update_row::<MEASURE, SIGMOID>(srow, arow, drow, &neuron, target);
            let row = f64::from(row);
            *max_change = max_change.max(row_max);
            sq += row;
            if let Some(r) = rows_sq.as_deref_mut() {
                r[b] += row;
            }
            if let Some((step, levels)) = dac {
                for a in arow.iter_mut() {
                    *a = super::analog::dac_quantise(*a, step, levels);
                }
            }
        }
        sq
    }
}

/// The sigmoid model's rows, run through [`crate::vector_isa::vectorised`].
struct SigmoidRows<'a, const MEASURE: bool>(FloatRows<'a>);

impl<const MEASURE: bool> pulp::WithSimd for SigmoidRows<'_, MEASURE> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> f64 {
        self.0.update::<MEASURE, true>()
    }
}

/// Per-neuron parameters of a float (or analog) population.
struct NeuronParams<'a> {
    dt: &'a [f32],
    bias: &'a [f32],
    gain: &'a [f32],
    offset: &'a [f32],
}

/// One row (example) of the float rate-neuron update, with `u = gain·(drive + bias) + offset
/// [+ β(y − s)]`: the clip model `s ← clip(s + dt·(u − s), 0, 1)`, or when `SIGMOID` the sigmoid
/// model `s ← s + dt·(σ(u) − s)` (in [0, 1] without a clip, as σ is and dt ≤ 1).
/// Returns the summed squared change when `MEASURE` (kept out of the other steps' loops so that
/// they vectorise).
#[inline(always)]
fn update_row<const MEASURE: bool, const SIGMOID: bool>(
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
                let u = g * (d + bias) + o;
                let new =
                    if SIGMOID { *s + dt * (sigmoid(u) - *s) } else { (*s + dt * (u - *s)).clamp(0.0, 1.0) };
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
                let new = if SIGMOID {
                    *s + dt * (sigmoid(total) - *s)
                } else {
                    (*s + dt * (total - *s)).clamp(0.0, 1.0)
                };
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

/// `dst = src` for arrays of one shape, as a memory copy when both are contiguous.
pub(crate) fn copy_array<T: Copy>(dst: &mut Array2<T>, src: &Array2<T>) {
    match (dst.as_slice_mut(), src.as_slice()) {
        (Some(d), Some(s)) if d.len() == s.len() => d.copy_from_slice(s),
        _ => dst.assign(src),
    }
}

/// Reference: `out += a · w` with scalar loops in f64.
pub(crate) fn reference_float_sum(a: ArrayView2<f32>, w: ArrayView2<f32>, out: &mut Array2<f32>) {
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
