//! Dendritic sums of the digital core: `Σ_j mantissa_ij · activity_j`, shifted into state units,
//! exactly.
//!
//! Operands are integers held in f32; a product is exact while no partial sum exceeds 2^24, so the
//! inner dimension is cut into chunks below that bound and the chunks are added as integers
//! ([`exact_integer_product`]). Populations fed by one group with a small enough fan-in take one
//! exact f32 product that the neuron loop adds itself (the fused path). The reference path uses
//! scalar i64 loops.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul, s};

use super::max_payload;
use super::neuron::{FUSED_LIMIT, exact_f32_to_i32};
use crate::cores::float::copy_array;
use crate::cores::{Dynamics, ExecutionPath};
use crate::fixed_point::{max_signed_magnitude, round_shift};
use crate::population::Population;
use crate::profile::DigitalArithmetic;
use crate::synapse_group::SynapseGroup;

/// Sums of integers up to this magnitude are exact in f32.
const F32_EXACT: f64 = (1u64 << 24) as f64;

/// The constant drive of input populations into `q` (`static_i`, and `static_i32` when every
/// value is small enough for the fused update), written into the population's buffers of the
/// last batch when the shape is unchanged.
pub(crate) fn static_drive(d: &DigitalArithmetic, net: &mut Dynamics<'_>, q: usize) {
    let (b, n) = (net.batch, net.populations[q].size);
    let mut total = std::mem::take(&mut net.populations[q].static_i);
    if total.dim() != (b, n) {
        total = Array2::zeros((b, n));
    }
    let mut written = false;
    for grp in net.groups.iter() {
        if grp.post.0 != q || !net.populations[grp.pre.0].is_input {
            continue;
        }
        let pre = &net.populations[grp.pre.0];
        if written {
            total += &group_sum(d, pre, grp, net.path, net.threads);
        } else {
            group_sum_into(d, pre, grp, net.path, net.threads, total.view_mut());
            written = true;
        }
    }
    if !written {
        total.fill(0);
    }
    let pop = &mut net.populations[q];
    if !narrow_copy(&total, &mut pop.static_i32, net.threads) {
        pop.static_i32.clear();
    }
    // A digital core's float drive stays zero (allocated again only when the batch changes).
    if pop.static_f.dim() != (b, n) {
        pop.static_f = Array2::<f32>::zeros((b, n));
    }
    pop.static_i = total;
}

/// Least elements for which [`narrow_copy`] shares its pass among threads.
const NARROW_COPY_MIN_ELEMENTS: usize = 1 << 14;

/// Writes `total` (examples × neurons) into `out` as i32 and tells whether every value is below
/// [`FUSED_LIMIT`] in magnitude (else `out` holds truncated values). Large arrays are cut into the
/// column blocks the product that computed `total` was cut into
/// ([`crate::parallel::column_ranges`]), so each thread reads what it wrote: one thread
/// reading both halves of a 50 × 2,000 drive took 210–350 µs on two threads against 76 µs on one.
fn narrow_copy(total: &Array2<i64>, out: &mut Vec<i32>, threads: usize) -> bool {
    let (b, n) = total.dim();
    out.resize(b * n, 0);
    let threads = if b * n >= NARROW_COPY_MIN_ELEMENTS { threads } else { 1 };
    let ranges = crate::parallel::block_ranges(threads, n);
    let narrow = std::sync::atomic::AtomicBool::new(true);
    let Ok(view) = ArrayViewMut2::from_shape((b, n), &mut out[..]) else { unreachable!("b × n elements") };
    crate::parallel::for_each_column_block(&ranges, view, |columns, mut block| {
        let mut fits = true;
        for (mut row, src) in block.rows_mut().into_iter().zip(total.rows()) {
            let src = src.slice_move(s![columns.clone()]);
            let (Some(o), Some(src)) = (row.as_slice_mut(), src.as_slice()) else {
                unreachable!("rows of standard-layout arrays are contiguous")
            };
            for (o, &x) in o.iter_mut().zip(src) {
                fits &= x.abs() < i64::from(FUSED_LIMIT);
                *o = x as i32;
            }
        }
        if !fits {
            narrow.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    });
    narrow.into_inner()
}

/// Σ_j mant·a for one group, shifted into state units (exact; fast or reference path).
fn group_sum(
    d: &DigitalArithmetic,
    pre: &Population,
    grp: &SynapseGroup,
    path: ExecutionPath,
    threads: usize,
) -> Array2<i64> {
    let mut sum = Array2::zeros((pre.activity.nrows(), grp.weights.ncols()));
    group_sum_into(d, pre, grp, path, threads, sum.view_mut());
    sum
}

/// [`group_sum`] into `out` (exact; fast or reference path).
fn group_sum_into(
    d: &DigitalArithmetic,
    pre: &Population,
    grp: &SynapseGroup,
    path: ExecutionPath,
    threads: usize,
    mut out: ArrayViewMut2<i64>,
) {
    let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
    let (max_a, max_w) = (max_payload(pre.out_bits) as f64, max_signed_magnitude(d.weight_bits) as f64);
    let to_state = |x: i64| round_shift(x, shift);
    match path {
        ExecutionPath::Fast => {
            // Presynaptic neurons silent in every example contribute nothing: when most are
            // (an input digit in online learning), the product runs over the others only. The
            // sums are exact integers, so they are the same numbers.
            let few = few_active_columns(&[pre.activity.view()], pre.size, pre.size.saturating_sub(1) / 2);
            if let Some(active) = few {
                let a = pre.activity.select(Axis(1), &active);
                let w = grp.weights.select(Axis(0), &active);
                integer_product_into(threads, a.view(), w.view(), (max_a, max_w), to_state, out);
            } else {
                let (a, w) = (pre.activity.view(), grp.weights.view());
                integer_product_into(threads, a, w, (max_a, max_w), to_state, out);
            }
        }
        ExecutionPath::Reference => {
            let sum = reference_integer_product(pre.activity.view(), grp.weights.view());
            out.zip_mut_with(&sum, |o, &x| *o = to_state(x));
        }
    }
}

/// Fast path: population `q`'s drive as exact f32 products (or one fused product).
pub(crate) fn compute_drive_fast(d: &DigitalArithmetic, net: &mut Dynamics<'_>, q: usize) {
    net.populations[q].fused_shift = None;
    if let Some((g, shift)) = fusable_group(d, net, q) {
        // One exact f32 product; the neuron update adds it to the constant drive.
        let mut product = std::mem::take(&mut net.populations[q].product);
        let grp = &net.groups[g];
        exact_product_into(&net.populations[grp.pre.0].activity, &grp.weights, &mut product, net.threads);
        let pop = &mut net.populations[q];
        pop.product = product;
        pop.fused_shift = Some(shift);
        return;
    }
    let mut drive_i = std::mem::take(&mut net.populations[q].drive_i);
    let mut product = std::mem::take(&mut net.populations[q].product);
    let pop = &net.populations[q];
    if pop.static_i.nrows() == net.batch {
        copy_array(&mut drive_i, &pop.static_i);
    } else {
        // A row shard's copy holds the constant drive in i32 only (`Population::rows_copy`).
        if drive_i.dim() != (net.batch, pop.size) {
            drive_i = Array2::zeros((net.batch, pop.size));
        }
        for (d, &s) in drive_i.iter_mut().zip(&pop.static_i32) {
            *d = i64::from(s);
        }
    }
    for grp in net.groups.iter().filter(|g| g.post.0 == q) {
        let pre = &net.populations[grp.pre.0];
        if pre.is_input {
            continue;
        }
        let max_w = max_signed_magnitude(d.weight_bits) as f64;
        let max_a = max_payload(pre.out_bits) as f64;
        let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
        if pre.size as f64 * max_a * max_w <= F32_EXACT {
            // One exact f32 product, then a fused shift-and-add.
            exact_product_into(&pre.activity, &grp.weights, &mut product, net.threads);
            match (drive_i.as_slice_mut(), product.as_slice()) {
                (Some(acc), Some(p)) => add_shifted(acc, p, shift),
                _ => drive_i.zip_mut_with(&product, |acc, &p| *acc += round_shift(p as i64, shift)),
            }
        } else {
            // Shared among the chip's threads when the batch is not cut into row shards (a step
            // of a network with a layer too large to shard, `SHARD_MAX_STEP_WEIGHTS`).
            let (a, w) = (pre.activity.view(), grp.weights.view());
            let raw = exact_integer_product_threads(net.threads, a, w, max_a, max_w);
            drive_i.zip_mut_with(&raw, |acc, &p| *acc += round_shift(p, shift));
        }
    }
    let pop = &mut net.populations[q];
    pop.drive_i = drive_i;
    pop.product = product;
}

/// Reference path: population `q`'s drive with scalar i64 loops.
pub(crate) fn compute_drive_reference(d: &DigitalArithmetic, net: &mut Dynamics<'_>, q: usize) {
    let mut drive_i = net.populations[q].static_i.clone();
    for grp in net.groups.iter() {
        if grp.post.0 != q || net.populations[grp.pre.0].is_input {
            continue;
        }
        drive_i += &group_sum(d, &net.populations[grp.pre.0], grp, net.path, net.threads);
    }
    let pop = &mut net.populations[q];
    pop.drive_f = pop.static_f.clone();
    pop.drive_i = drive_i;
}

/// The one synapse group feeding digital population `q` from a non-input population, and its
/// shift, if its drive can be added up inside the neuron update in i32: the product is exact in
/// f32, the shift is a right shift of at most 30 bits, the constant drive and the biases are
/// below 2^28, and the population is not a LIF one.
fn fusable_group(d: &DigitalArithmetic, net: &Dynamics<'_>, q: usize) -> Option<(usize, i32)> {
    let pop = &net.populations[q];
    if pop.static_i32.len() != net.batch * pop.size {
        return None;
    }
    let bias_exp = super::bias_exponent(d);
    if pop.bias_mant.iter().any(|&m| (m << bias_exp).abs() >= FUSED_LIMIT as i64) {
        return None;
    }
    let mut groups =
        net.groups.iter().enumerate().filter(|(_, g)| g.post.0 == q && !net.populations[g.pre.0].is_input);
    let (g, grp) = groups.next()?;
    if groups.next().is_some() {
        return None;
    }
    let pre = &net.populations[grp.pre.0];
    let max_w = max_signed_magnitude(d.weight_bits) as f64;
    let max_a = max_payload(pre.out_bits) as f64;
    let shift = pre.out_bits as i32 - d.synaptic_input_shift - grp.exponent;
    (pre.size as f64 * max_a * max_w <= F32_EXACT && (1..=30).contains(&shift)).then_some((g, shift))
}

/// The columns (neurons) that are non-zero in some example (row) of some array of `arrays` (each
/// examples × `n`), in order, when there are at most `most` of them; `None` as soon as a row shows
/// more. Stopping early matters at a batch's worth of inputs, where a few examples already light up
/// most pixels and the whole scan was a serial pass per update for nothing.
pub(crate) fn few_active_columns(arrays: &[ArrayView2<f32>], n: usize, most: usize) -> Option<Vec<usize>> {
    let mut active = vec![false; n];
    for a in arrays {
        for row in a.rows() {
            for (flag, &x) in active.iter_mut().zip(row) {
                *flag |= x != 0.0;
            }
            if active.iter().filter(|&&f| f).count() > most {
                return None;
            }
        }
    }
    Some((0..n).filter(|&j| active[j]).collect())
}

/// `out = a · w` for integer-valued f32 operands whose products and sums stay below 2^24 (so any
/// summation order gives the same exact result): a matrix product for batches, and for a few rows
/// (online learning) a loop that adds the weight rows of the active presynaptic neurons only.
pub(crate) fn exact_product_into(a: &Array2<f32>, w: &Array2<f32>, out: &mut Array2<f32>, threads: usize) {
    if a.nrows() > 4 && crate::parallel::splits_columns(threads, a.len() * w.ncols(), w.ncols()) {
        // Exact sums: any cut of the columns gives the same numbers.
        return crate::parallel::column_gemm(threads, 1.0, a.view(), w.view(), 0.0, out.view_mut());
    }
    if a.nrows() > 4 {
        return crate::shallow_product::set_product(a.view(), w.view(), out.view_mut());
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

/// `acc[k] += round_shift(p[k], shift)` for exact integer-valued products, with the shift's case
/// chosen once for the whole slice (the loop then has no branches).
pub(crate) fn add_shifted(acc: &mut [i64], p: &[f32], shift: i32) {
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
    let mut out = Array2::<i64>::zeros((a.nrows(), w.ncols()));
    integer_product_into(threads, a, w, (max_a, max_w), |x| x, out.view_mut());
    out
}

/// [`exact_integer_product_threads`] into `out`, with `finish` applied to every sum by the thread
/// that computed it (each thread also clears its own columns of `out` first).
fn integer_product_into(
    threads: usize,
    a: ArrayView2<f32>,
    w: ArrayView2<f32>,
    (max_a, max_w): (f64, f64),
    finish: impl Fn(i64) -> i64 + Sync,
    out: ArrayViewMut2<i64>,
) {
    let k = a.ncols();
    let bound = (max_a * max_w).max(1.0);
    let chunk = (((1u64 << 24) as f64 / bound).floor() as usize).max(1);
    // Each thread sums its own columns over every chunk of the inner dimension (the partial sums
    // and their conversion to i64 are then parallel too).
    let ranges = crate::parallel::column_ranges(threads, w.ncols(), a.nrows() * k * w.ncols());
    crate::parallel::for_each_column_block(&ranges, out, |columns, mut out| {
        out.fill(0);
        let mut part = Array2::<f32>::zeros((a.nrows(), columns.len()));
        let mut start = 0;
        while start < k {
            let end = (start + chunk).min(k);
            let w = w.slice(s![start..end, columns.clone()]);
            if !crate::shallow_product::set_narrow_product_of_columns(a, start..end, w, part.view_mut()) {
                general_mat_mul(1.0, &a.slice(s![.., start..end]), &w, 0.0, &mut part);
            }
            // Partial sums are integers below 2^24: the conversion that vectorises is exact.
            out.zip_mut_with(&part, |o, &p| *o += i64::from(exact_f32_to_i32(p)));
            start = end;
        }
        out.mapv_inplace(&finish);
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Active columns are listed in order across arrays and rows, up to the limit inclusive; one
    /// more anywhere gives `None`.
    #[test]
    fn few_active_columns_lists_them_or_stops() {
        let a = ndarray::array![[0.0f32, 2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]];
        let b = ndarray::array![[0.0f32, 0.0, 0.0, 3.0, 0.0]];
        assert_eq!(few_active_columns(&[a.view(), b.view()], 5, 3), Some(vec![1, 3, 4]));
        assert_eq!(few_active_columns(&[a.view(), b.view()], 5, 2), None);
        assert_eq!(few_active_columns(&[a.view()], 5, 2), Some(vec![1, 4]));
        assert_eq!(few_active_columns(&[b.view(), a.view()], 5, 1), None);
        let silent = Array2::<f32>::zeros((4, 5));
        assert_eq!(few_active_columns(&[silent.view()], 5, 0), Some(vec![]));
    }

    /// The i32 copy of a constant drive: the same on one and two threads (cut into column blocks
    /// or not), and "not narrow" as soon as one value reaches the fused update's limit, wherever it
    /// sits.
    #[test]
    fn narrow_copy_is_the_plain_conversion_on_any_thread_count() {
        let limit = i64::from(FUSED_LIMIT);
        let total =
            Array2::from_shape_fn((64, 300), |(r, c)| ((r * 7919 + c * 104_729) as i64 % limit) - limit / 2);
        assert!(total.len() >= NARROW_COPY_MIN_ELEMENTS, "the pass is shared");
        let plain: Vec<i32> = total.iter().map(|&x| x as i32).collect();
        for threads in [1, 2, 3] {
            let mut out = vec![7; 3];
            assert!(narrow_copy(&total, &mut out, threads), "{threads} threads");
            assert_eq!(out, plain, "{threads} threads");
        }
        for (r, c) in [(0, 0), (63, 299), (20, 150), (3, 64)] {
            let mut wide = total.clone();
            wide[[r, c]] = if r % 2 == 0 { limit } else { -limit };
            for threads in [1, 2] {
                assert!(!narrow_copy(&wide, &mut Vec::new(), threads), "({r}, {c}) on {threads} threads");
            }
        }
    }
}
