//! The digital core's learning engine: traces latched from integer activities, the rule's sums
//! over the batch computed exactly, and their stochastic (or nearest) rounding into weight and
//! bias mantissas.
//!
//! Stochastic rounding draws from a counter-based generator keyed by the synapse (see
//! `rounding_noise.rs`), so results do not depend on the order of visits. The feedback copy of a
//! synapse (a mirror group) draws the same rounding number as its forward twin, so forward and
//! feedback weights stay equal when their updates are equal.

use ndarray::{Array2, Axis, linalg::general_mat_mul};

use super::bias_exponent;
use super::dendrites::few_active_columns;
use super::neuron::exact_f32_to_i32;
use crate::cores::Fabric;
use crate::fixed_point::{max_signed_magnitude, round_to_grid};
use crate::learning_engine::{Factor, all_zero, sop_factors, sum_factors_into, trace};
use crate::learning_rule::SumOfProducts;
use crate::parallel::column_gemm;
use crate::population::{Population, PopulationId};
use crate::profile::DigitalArithmetic;
use crate::rounding_noise::{RoundingNoise, mix};

/// A summed update, exact in f32 when its operands allow it.
pub(crate) enum Delta {
    /// Exact integer sums held in f32.
    Exact(Array2<f32>),
    /// Sums too large for f32, or real-valued ones.
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

/// A population's activity as trace values: payloads cut to `trace_bits`.
pub(crate) fn latch(pop: &Population, trace_bits: u32) -> Array2<f32> {
    let shift = pop.out_bits.saturating_sub(trace_bits);
    // Activities are exact integers (payloads) on digital cores. A loop over slices vectorises
    // the conversion (4.8 µs for 25,500 values in a microbenchmark; 25 µs with `as`, whose
    // saturation does not vectorise on baseline x86-64).
    let trace = |a: f32| (exact_f32_to_i32(a) >> shift) as f32;
    let mut out = Array2::<f32>::zeros(pop.activity.raw_dim());
    match (pop.activity.as_slice(), out.as_slice_mut()) {
        (Some(a), Some(o)) => o.iter_mut().zip(a).for_each(|(o, &a)| *o = trace(a)),
        _ => out.zip_mut_with(&pop.activity, |o, &a| *o = trace(a)),
    }
    out
}

/// Real value of one trace step of a population's traces.
pub(crate) fn trace_lsb(pop: &Population, trace_bits: u32) -> f64 {
    let shift = pop.out_bits.saturating_sub(trace_bits);
    2f64.powi(-((pop.out_bits - shift) as i32))
}

/// Fast path: the rule's exact sums for group `g`, rounded into its mantissas.
pub(crate) fn learn_group(
    d: &DigitalArithmetic,
    net: &mut Fabric<'_>,
    g: usize,
    rule: &SumOfProducts,
    global: f32,
) {
    let (pre, post) = (net.groups[g].pre, net.groups[g].post);
    let bits = net.learning.trace_bits;
    let (lsb_pre, lsb_post) =
        (trace_lsb(&net.populations[pre.0], bits), trace_lsb(&net.populations[post.0], bits));
    // Sums are in trace units and scaled by both trace steps below: a constant factor (the real
    // value 1) counts as 1/step (a power of two, exact).
    let constants = rule.terms().iter().any(|t| t.pre.is_none() || t.post.is_none());
    let scaled =
        constants.then(|| rule.with_constant_factors((1.0 / lsb_pre) as f32, (1.0 / lsb_post) as f32));
    let rule = scaled.as_ref().unwrap_or(rule);
    let scale = f64::from(global) * lsb_pre * lsb_post;
    let factors = sop_factors(net, rule, Some(pre), post);
    if !sop_is_exact_in_f32(net, rule) {
        let delta = sop_sum(net, rule, &factors, (Some(pre), post));
        return write_group_update(d, net, g, &delta, None, scale);
    }
    match few_active_rows(net, &factors, pre) {
        Some(rows) => {
            let delta = compact_sum(net, &factors, pre, post, &rows);
            write_group_update(d, net, g, &delta, Some(&rows), scale);
        }
        None => sum_and_round_rows(d, net, g, &factors, scale),
    }
}

/// Rows of the update summed at once by [`sum_and_round_rows`] (a block of 32 × 2,000 sums is
/// 256 KB, in the second-level cache).
const SUM_ROWS: usize = 32;

/// Least work for which [`sum_and_round_rows`] shares a group among threads, counted as synapses
/// times the batch plus 8: each synapse costs a product over the batch and a rounding hash (about
/// 8 multiply-adds' worth), so at batch 50 even a 500 × 10 group pays (75 → 48 µs per update of
/// both 5,000-synapse groups of 784-500-10 on two threads), while at batch 1 it does not.
const SUM_AND_ROUND_MIN_WORK: usize = 1 << 18;

/// A batch's update of group `g`: the exact sums (as in [`sop_sum`]) of a block of presynaptic
/// rows at a time, each block rounded into the weight mantissas right away (the numbers of
/// [`write_group_update`] with the whole update; exact integer sums do not depend on the blocks),
/// blocks of rows on their threads. Summing the whole update first wrote and read a pre × post
/// array (6 MB for 784 × 2,000, 256 MB for 8,000 × 8,000) through memory.
fn sum_and_round_rows(d: &DigitalArithmetic, net: &mut Fabric<'_>, g: usize, factors: &[Factor], scale: f64) {
    let pre = net.groups[g].pre;
    let n_post = net.groups[g].weights.ncols();
    // Products with a presynaptic trace, and the sum over the batch of the others (a constant
    // presynaptic factor: the same for every row).
    let post = net.groups[g].post;
    let pops = &*net.populations;
    let products: Vec<(ndarray::ArrayView2<f32>, f32, ndarray::ArrayView2<f32>)> = factors
        .iter()
        .filter_map(|f| {
            let (alpha, m) = f.post_side(pops, post);
            f.pre.map(|k| (trace(pops, pre, k).data.view(), alpha, m))
        })
        .collect();
    let mut constant = ndarray::Array1::<f32>::zeros(n_post);
    for f in factors.iter().filter(|f| f.pre.is_none()) {
        let (alpha, m) = f.post_side(pops, post);
        constant += &(m.sum_axis(Axis(0)) * alpha);
    }
    let rounding = RowRounding::of(d, net, g, scale);
    let grp = &mut net.groups[g];
    let min = SUM_AND_ROUND_MIN_WORK / (net.batch + 8);
    // Blocks of rows taken in turn by the threads: silent presynaptic rows are skipped, so the
    // cost of a row depends on the data (an even cut of 784 input rows left one of two threads
    // waiting 10 % of the update for the other).
    // A group of fewer presynaptic rows than two blocks (a feedback group from 10 outputs) is cut
    // into one block per thread: in blocks of 32 its whole update ran on one thread.
    let (threads, weights) = (net.threads, grp.weights.view_mut());
    let block_rows = SUM_ROWS.min(weights.nrows().div_ceil(threads.max(1))).max(1);
    // At most one sum block of rows, and no more rows than the group has: a feedback group of 10
    // presynaptic rows into 2,000 zeroed 256 KB per thread and update for 80 KB of sums.
    let scratch_rows = SUM_ROWS.min(weights.nrows());
    let scratch = || Array2::<f32>::zeros((scratch_rows, n_post));
    crate::parallel::for_each_row_block_taken(
        threads,
        min,
        block_rows,
        weights,
        scratch,
        |block, mut weights, sums| {
            for start in block.clone().step_by(SUM_ROWS) {
                let rows = start..(start + SUM_ROWS).min(block.end);
                let mut sums = sums.slice_mut(ndarray::s![..rows.len(), ..]);
                for mut row in sums.rows_mut() {
                    row.assign(&constant);
                }
                for (a, alpha, m) in &products {
                    general_mat_mul(*alpha, &a.slice(ndarray::s![.., rows.clone()]).t(), m, 1.0, &mut sums);
                }
                let (lo, hi) = (rows.start - block.start, rows.end - block.start);
                let mut block_weights = weights.slice_mut(ndarray::s![lo..hi, ..]);
                if let (Some(w), Some(sum)) = (block_weights.as_slice_mut(), sums.as_slice()) {
                    rounding.round_rows(rows.start, w, sum, n_post);
                    continue;
                }
                for (j, sum) in rows.zip(sums.rows()) {
                    let mut row = weights.row_mut(j - block.start);
                    let wide: Vec<f64> = sum.iter().map(|&x| f64::from(x)).collect();
                    rounding.round_wide_row(j, row.iter_mut(), &wide);
                }
            }
        },
    );
    grp.refresh_effective();
}

/// Fast path: the rule's exact sums for the biases of population `p`, rounded into mantissas.
pub(crate) fn learn_bias(
    d: &DigitalArithmetic,
    net: &mut Fabric<'_>,
    p: usize,
    rule: &SumOfProducts,
    global: f32,
) {
    let lsb_post = trace_lsb(&net.populations[p], net.learning.trace_bits);
    // The bias's source is the real value 1 (no trace step in `scale`); a missing post trace, the
    // real value 1 as well, counts as 1/step in the trace-unit sums.
    let scaled = rule
        .terms()
        .iter()
        .any(|t| t.post.is_none())
        .then(|| rule.with_constant_factors(1.0, (1.0 / lsb_post) as f32));
    let post = PopulationId(p);
    let factors = sop_factors(net, scaled.as_ref().unwrap_or(rule), None, post);
    let delta = sop_sum(net, scaled.as_ref().unwrap_or(rule), &factors, (None, post));
    let scale = f64::from(global) * lsb_post;
    write_bias_update(d, net, p, &delta, scale);
}

/// Whether the rule's sums over the batch are exact in f32: integer coefficients, and trace
/// products summed over the batch stay below 2^24.
fn sop_is_exact_in_f32(net: &Fabric<'_>, rule: &SumOfProducts) -> bool {
    let max_t = (1u64 << net.learning.trace_bits) as f64;
    let coeff: f64 = rule.terms().iter().map(|t| f64::from(t.coefficient).abs()).sum();
    rule.terms().iter().all(|t| t.coefficient.fract() == 0.0)
        && coeff * max_t * max_t * net.batch as f64 <= (1u64 << 24) as f64
}

/// Σ over the batch of Σ_k c_k·pre_k·post_k in trace units (pre × post), exact, from the rule's
/// `factors` ([`sop_factors`]).
fn sop_sum(
    net: &Fabric<'_>,
    rule: &SumOfProducts,
    factors: &[Factor],
    (pre, post): (Option<PopulationId>, PopulationId),
) -> Delta {
    let n_post = net.populations[post.0].size;
    let n_pre = pre.map_or(1, |p| net.populations[p.0].size);
    if sop_is_exact_in_f32(net, rule) {
        // Integer-valued operands whose sums stay below 2^24: the f32 products are exact.
        let mut sums = Array2::zeros((0, 0));
        sum_factors_into(net, factors, pre, post, &mut sums);
        return Delta::Exact(sums);
    }
    let mut delta = Array2::<f64>::zeros((n_pre, n_post));
    for f in factors {
        let (alpha, m) = f.post_side(net.populations, post);
        let m64 = m.mapv(f64::from);
        match (pre, f.pre) {
            (Some(p), Some(k)) => {
                let a64 = trace(net.populations, p, k).data.mapv(f64::from);
                general_mat_mul(f64::from(alpha), &a64.t(), &m64, 1.0, &mut delta);
            }
            _ => {
                let sums = m64.sum_axis(Axis(0)) * f64::from(alpha);
                for mut row in delta.axis_iter_mut(Axis(0)) {
                    row += &sums;
                }
            }
        }
    }
    Delta::Wide(delta)
}

/// The presynaptic rows that were active in some latched trace, when they are few (online
/// learning) and every factor has a presynaptic trace: rows left out have an exactly zero update.
fn few_active_rows(net: &Fabric<'_>, factors: &[Factor], pre: PopulationId) -> Option<Vec<usize>> {
    let n_pre = net.populations[pre.0].size;
    let traces: Option<Vec<_>> =
        factors.iter().map(|f| Some(trace(net.populations, pre, f.pre?).data.view())).collect();
    few_active_columns(&traces?, n_pre, n_pre / 2)
}

/// [`sop_sum`]'s exact sums of presynaptic rows `rows` only (the same numbers as those rows of
/// the full product: integer operands, sums below 2^24).
fn compact_sum(
    net: &Fabric<'_>,
    factors: &[Factor],
    pre: PopulationId,
    post: PopulationId,
    rows: &[usize],
) -> Delta {
    let n_post = net.populations[post.0].size;
    let mut delta = Array2::<f32>::zeros((rows.len(), n_post));
    for f in factors {
        if let Some(k) = f.pre {
            let (alpha, m) = f.post_side(net.populations, post);
            let a = trace(net.populations, pre, k).data.select(Axis(1), rows);
            column_gemm(net.threads, alpha, a.t(), m, 1.0, delta.view_mut());
        }
    }
    Delta::Exact(delta)
}

/// Writes `scale · delta` (real units) into group `g`'s weight mantissas, rounded with the
/// profile's rounding mode. `rows`, if given, lists the presynaptic rows the (compact) `delta`
/// holds, in order; every other row has no update.
pub(crate) fn write_group_update(
    d: &DigitalArithmetic,
    net: &mut Fabric<'_>,
    g: usize,
    delta: &Delta,
    rows: Option<&[usize]>,
    scale: f64,
) {
    let rounding = RowRounding::of(d, net, g, scale);
    let grp = &mut net.groups[g];
    let pairs: Vec<(usize, usize)> = match rows {
        Some(rs) => rs.iter().copied().enumerate().collect(),
        None => (0..grp.weights.nrows()).map(|j| (j, j)).collect(),
    };
    // Rows are independent (each synapse has its own rounding number): blocks of rows are
    // updated in parallel when there are enough of them (an online update's few active rows
    // are not worth a parallel part: on two threads it was the only one per example, and
    // kept a worker spinning beside the rest of the example).
    let work = pairs.len() * grp.weights.ncols();
    let threads = if work < crate::parallel::PARALLEL_MIN_MACS { 1 } else { net.threads };
    let min = crate::parallel::PARALLEL_MIN_COSTLY_ELEMENTS;
    crate::parallel::for_each_row_block(threads, min, grp.weights.view_mut(), |block, mut weights| {
        let lo = pairs.partition_point(|&(_, j)| j < block.start);
        let hi = pairs.partition_point(|&(_, j)| j < block.end);
        for &(c, j) in &pairs[lo..hi] {
            let mut row = weights.row_mut(j - block.start);
            // Contiguous rows (the chip's own arrays always are) iterate as slices.
            match delta {
                Delta::Exact(dl) => {
                    let sums = dl.row(c);
                    match (row.as_slice_mut(), sums.to_slice()) {
                        (Some(r), Some(sums)) => rounding.round_row(j, r, sums),
                        _ => {
                            let wide: Vec<f64> = sums.iter().map(|&x| f64::from(x)).collect();
                            rounding.round_wide_row(j, row.iter_mut(), &wide);
                        }
                    }
                }
                Delta::Wide(dl) => rounding.round_wide_row(j, row.iter_mut(), &dl.row(c).to_vec()),
            }
        }
    });
    grp.refresh_effective();
}

/// How one update of a synapse group rounds a row of its summed update into weight mantissas:
/// the rounding number of synapse (j, i) is `rounding_uniform(key, counter, a, b)` with
/// (a, b) = (j, i), or (i, j) for the mirror group; along a row of the forward group one hash
/// serves four neighbouring synapses.
struct RowRounding {
    noise: RoundingNoise,
    mode: crate::profile::Rounding,
    key: u64,
    transposed: bool,
    counter: u64,
    lim: f32,
    /// Mantissa steps per unit of the sums.
    to_steps: f64,
    mixed_quads: Vec<u64>,
}

impl RowRounding {
    /// The rounding of group `g`'s next update, whose sums are `scale` real units each.
    fn of(d: &DigitalArithmetic, net: &Fabric<'_>, g: usize, scale: f64) -> Self {
        let grp = &net.groups[g];
        let (key, transposed) = match grp.mirror_of {
            Some(f) => (f.0 as u64, true),
            None => (g as u64, false),
        };
        let cols = grp.weights.ncols();
        RowRounding {
            noise: net.rounding_noise,
            mode: net.learning.rounding,
            key,
            transposed,
            counter: grp.updates,
            lim: max_signed_magnitude(d.weight_bits) as f32,
            to_steps: scale / grp.lsb,
            mixed_quads: if transposed {
                Vec::new()
            } else {
                (0..cols.div_ceil(4) as u64).map(mix).collect()
            },
        }
    }

    fn draw(&self, j: usize) -> RowDraw<'_> {
        let (noise, key, counter, transposed) = (self.noise, self.key, self.counter, self.transposed);
        RowDraw { noise, key, counter, row: j, transposed, mixed_quads: &self.mixed_quads }
    }

    /// Adds row `j`'s rounded exact sums to its mantissas. A row whose presynaptic neuron was
    /// silent in every latched phase has no update (most rows in online learning): one vectorised
    /// test skips it.
    fn round_row(&self, j: usize, row: &mut [f32], sums: &[f32]) {
        if all_zero(sums) {
            return;
        }
        let steps = sums.iter().map(|&x| f64::from(x) * self.to_steps);
        self.draw(j).update(row.iter_mut(), steps, self.mode, self.lim);
    }

    /// [`RowRounding::round_row`] for the consecutive rows from `first` (`weights` and `sums` hold
    /// them one after another, `n` wide). A mirror group's synapses of one column in four
    /// consecutive rows share one rounding word (their forward twins' quad): such rows are rounded
    /// together, one word per column instead of one per synapse, the same numbers.
    fn round_rows(&self, first: usize, weights: &mut [f32], sums: &[f32], n: usize) {
        let n = n.max(1);
        let rows = weights.chunks_exact_mut(n).zip(sums.chunks_exact(n)).enumerate();
        if !self.transposed {
            for (r, (w, s)) in rows {
                self.round_row(first + r, w, s);
            }
            return;
        }
        let (mut start, end) = (first, first + weights.len() / n);
        while start < end {
            let stop = ((start | 3) + 1).min(end);
            let (lo, hi) = ((start - first) * n, (stop - first) * n);
            self.round_quad(start, &mut weights[lo..hi], &sums[lo..hi], n);
            start = stop;
        }
    }

    /// Rounds rows `first..` (one to four of a mirror group, all in one quad) column by column.
    fn round_quad(&self, first: usize, weights: &mut [f32], sums: &[f32], n: usize) {
        let rows = weights.len() / n;
        if all_zero(sums) {
            return;
        }
        let mixed = mix(first as u64 >> 2);
        for i in 0..n {
            let mut word = None;
            for r in 0..rows {
                let x = f64::from(sums[r * n + i]) * self.to_steps;
                if x != 0.0 {
                    let word = *word.get_or_insert_with(|| {
                        self.noise.rounding_word(self.key, self.counter, i as u64, mixed)
                    });
                    let u = RoundingNoise::lane(word, (first + r) as u64);
                    let m = &mut weights[r * n + i];
                    *m = (*m + round_to_grid(x, self.mode, u) as f32).clamp(-self.lim, self.lim);
                }
            }
        }
    }

    /// [`RowRounding::round_row`] for wide sums or a row that is not contiguous.
    fn round_wide_row<'m>(&self, j: usize, row: impl Iterator<Item = &'m mut f32>, sums: &[f64]) {
        if sums.iter().all(|&x| x == 0.0) {
            return;
        }
        self.draw(j).update(row, sums.iter().map(|&x| x * self.to_steps), self.mode, self.lim);
    }
}

/// Writes `scale · delta` (real units, 1 × post) into population `p`'s bias mantissas.
pub(crate) fn write_bias_update(
    d: &DigitalArithmetic,
    net: &mut Fabric<'_>,
    p: usize,
    delta: &Delta,
    scale: f64,
) {
    let noise = net.rounding_noise;
    let rounding = net.learning.rounding;
    let pop = &mut net.populations[p];
    let counter = pop.bias_updates;
    let key = u64::MAX - p as u64;
    let lim = max_signed_magnitude(d.bias_bits);
    let lsb = 2f64.powi(bias_exponent(d) as i32 - d.state_fraction_bits as i32);
    for (i, m) in pop.bias_mant.iter_mut().enumerate() {
        let x = delta.get(0, i) * scale / lsb;
        if x == 0.0 {
            continue;
        }
        let u = noise.rounding_uniform(key, counter, 0, i as u64);
        *m = (*m + round_to_grid(x, rounding, u)).clamp(-lim, lim);
    }
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
