//! Deterministic parallel matrix products: the output is cut into column blocks, one per thread.
//!
//! Each output element is computed by the same single-threaded kernel with the same summation order
//! whatever the number of threads, so results are bit-identical for any thread count.

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul, s};

/// Products smaller than this many multiply-adds run on the calling thread.
pub const PARALLEL_MIN_MACS: usize = 1 << 18;

/// Products [`column_gemm`] has shared among several threads in this process.
static SPLIT_PRODUCTS: AtomicU64 = AtomicU64::new(0);

/// How many products [`column_gemm`] has shared among several threads since the process started
/// (a diagnostic: tests of thread-count independence check with it that the parallel path ran).
pub fn split_products() -> u64 {
    SPLIT_PRODUCTS.load(Ordering::Relaxed)
}

/// `out = alpha · a · b + beta · out`, with the columns of `out` shared among `threads` threads.
pub fn column_gemm(
    threads: usize,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    out: ArrayViewMut2<f32>,
) {
    let n = out.ncols();
    let macs = a.nrows() * a.ncols() * n;
    let threads = threads.min(n / 16).max(1);
    if threads == 1 || macs < PARALLEL_MIN_MACS {
        let mut out = out;
        general_mat_mul(alpha, &a, &b, beta, &mut out);
        return;
    }
    SPLIT_PRODUCTS.fetch_add(1, Ordering::Relaxed);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = out;
    let mut start = 0;
    for t in 0..threads {
        let width = (n - start) / (threads - t);
        let (head, tail) = rest.split_at(Axis(1), width);
        parts.push((start, width, head));
        rest = tail;
        start += width;
    }
    std::thread::scope(|scope| {
        for (start, width, mut part) in parts {
            let a = a.view();
            let b = b.slice(s![.., start..start + width]);
            scope.spawn(move || general_mat_mul(alpha, &a, &b, beta, &mut part));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn threads_give_bit_identical_results() {
        let a = Array2::from_shape_fn((50, 300), |(i, j)| ((i * 7 + j * 13) % 17) as f32 * 0.013 - 0.1);
        let b = Array2::from_shape_fn((300, 203), |(i, j)| ((i * 3 + j * 5) % 11) as f32 * 0.07 - 0.3);
        let mut one = Array2::<f32>::ones((50, 203));
        let mut three = one.clone();
        column_gemm(1, 0.5, a.view(), b.view(), 1.0, one.view_mut());
        column_gemm(3, 0.5, a.view(), b.view(), 1.0, three.view_mut());
        assert_eq!(one, three);
        let expected = 1.0 + 0.5 * (0..300).map(|k| a[[4, k]] * b[[k, 9]]).sum::<f32>();
        assert!((one[[4, 9]] - expected).abs() < 1e-4);
    }
}
