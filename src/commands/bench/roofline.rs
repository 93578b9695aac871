//! The work an EP training example needs (useful floating-point operations) and what plain
//! single-precision matrix products of the same shapes reach on this machine (the roofline).

use std::time::Instant;

use ndarray::{Array2, linalg::general_mat_mul};

use super::workload::{T1, T2};

/// Seconds each product shape is timed for when the roofline is measured (at least
/// [`MIN_CHUNKS`] chunks after one untimed warm-up).
const SECONDS_PER_SHAPE: f64 = 0.15;
/// Seconds of one timed chunk (products repeat until it is reached).
const CHUNK_SECONDS: f64 = 0.02;
/// Chunks timed per shape at least; the fastest one counts, so that another process taking the
/// core for a moment (the machines are shared) lowers the roofline less.
const MIN_CHUNKS: usize = 3;

/// One kind of matrix product of a training batch: `(m × k) · (k × n)`, `count` times per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Product {
    m: usize,
    k: usize,
    n: usize,
    count: usize,
    /// The right operand is read transposed (the feedback direction reads the forward weights).
    transposed: bool,
}

impl Product {
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
}

/// The products of one mini-batch of `batch` examples on layers `sizes` (input first): the input
/// drive once (the input is clamped during a phase), every step both directions of every
/// non-input projection, and the local update of every projection, the feedback copies included.
fn products(sizes: &[usize], batch: usize) -> Vec<Product> {
    let steps = T1 + T2;
    let mut list = vec![Product { m: batch, k: sizes[0], n: sizes[1], count: 1, transposed: false }];
    for w in sizes[1..].windows(2) {
        let (pre, post) = (w[0], w[1]);
        list.push(Product { m: batch, k: pre, n: post, count: steps, transposed: false });
        list.push(Product { m: batch, k: post, n: pre, count: steps, transposed: true });
    }
    for (l, w) in sizes.windows(2).enumerate() {
        let (pre, post) = (w[0], w[1]);
        list.push(Product { m: pre, k: batch, n: post, count: 1, transposed: false });
        if l > 0 {
            list.push(Product { m: post, k: batch, n: pre, count: 1, transposed: false });
        }
    }
    list
}

/// Useful floating-point operations of one training example on layers `sizes` (multiply-adds
/// count 2), as [`products`] lists them: 2.39 M for 784-500-10.
pub fn useful_flops_per_example(sizes: &[usize]) -> f64 {
    products(sizes, 1).iter().map(|p| p.flops() * p.count as f64).sum()
}

/// Synapses of the network: every projection once (without the feedback copies).
pub fn synapses(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|w| w[0] * w[1]).sum()
}

/// Synapses the chip stores: every projection plus the feedback copies of the non-input ones.
pub fn stored_synapses(sizes: &[usize]) -> usize {
    synapses(sizes) + sizes[1..].windows(2).map(|w| w[0] * w[1]).sum::<usize>()
}

/// What plain single-threaded f32 matrix products of a training batch's shapes (same network,
/// same batch) reach on this machine now, in floating-point operations per second. Each distinct
/// shape is timed on its own (its fastest chunk) and the rates are combined with the weights of
/// one batch: the roofline is one batch's operations over the time the products would take.
pub fn matmul_roofline(sizes: &[usize], batch: usize) -> f64 {
    let mut flops = 0.0;
    let mut seconds = 0.0;
    for p in products(sizes, batch) {
        let rate = product_rate(&p);
        flops += p.flops() * p.count as f64;
        seconds += p.flops() * p.count as f64 / rate;
    }
    flops / seconds
}

/// FLOP/s of one product shape: the fastest of several timed chunks.
fn product_rate(p: &Product) -> f64 {
    let a = Array2::<f32>::from_elem((p.m, p.k), 0.5);
    let b = if p.transposed {
        Array2::<f32>::from_elem((p.n, p.k), 0.01)
    } else {
        Array2::<f32>::from_elem((p.k, p.n), 0.01)
    };
    let b = if p.transposed { b.t() } else { b.view() };
    let mut c = Array2::<f32>::zeros((p.m, p.n));
    general_mat_mul(1.0, &a, &b, 1.0, &mut c);
    let start = Instant::now();
    let mut best = 0f64;
    let mut chunks = 0usize;
    while chunks < MIN_CHUNKS || start.elapsed().as_secs_f64() < SECONDS_PER_SHAPE {
        let chunk = Instant::now();
        let mut runs = 0usize;
        while runs == 0 || chunk.elapsed().as_secs_f64() < CHUNK_SECONDS {
            general_mat_mul(1.0, &a, &b, 1.0, &mut c);
            runs += 1;
        }
        best = best.max(p.flops() * runs as f64 / chunk.elapsed().as_secs_f64().max(1e-9));
        chunks += 1;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn useful_work_matches_the_standard_workload_and_grows_with_depth() {
        // 784-500-10: 2·784·500 + 40·4·500·10 + 2·784·500 + 4·500·10 = 2.39 M.
        assert_eq!(useful_flops_per_example(&[784, 500, 10]), 2_388_000.0);
        let deep = useful_flops_per_example(&[784, 500, 500, 10]);
        // Twice the synapses, 18× the work: the 500 × 500 projection is multiplied both ways
        // every step.
        assert!((17.0..19.0).contains(&(deep / 2_388_000.0)), "{deep}");
        assert_eq!(synapses(&[784, 500, 10]), 397_000);
        assert_eq!(stored_synapses(&[784, 500, 10]), 402_000);
    }
}
