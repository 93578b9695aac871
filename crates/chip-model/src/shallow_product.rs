//! `out += a · w` for the shallow, wide products of a time step (a layer's drive from a narrow
//! layer: 10 presynaptic neurons, hundreds of postsynaptic ones), without packing.
//!
//! A step of a row shard multiplies a few dozen examples' activities by the same weights; the
//! general matrix product (matrixmultiply) copies ("packs") the weights into its own layout at
//! every call and computes whole 8 × 8 tiles, which for a product of 25 × 10 × 500 is a large part
//! of its cost. This kernel computes each row straight from the weights' rows.
//!
//! It gives the general product's numbers bit for bit where that product uses its FMA kernel
//! (x86-64 with AVX2 and FMA, checked at run time; elsewhere the general product runs): each
//! output is `out + Σ_k a_k·w_k`, the sum a chain of fused multiply-adds in `k` order from +0 over
//! at most [`KC`] terms (the general product's depth block), then added to `out`. (Its edge tiles
//! add `+0` instead of `−0` to an output of `−0`; drives never hold `−0`, and the tests compare
//! both on data with signed zeros in the operands.)

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};

/// The general product's depth block for f32 (matrixmultiply's `S_KC`): longer sums are added to
/// the output block by block, which this kernel does not do (it leaves them to the general
/// product).
pub const KC: usize = 256;

/// Narrowest output this kernel takes (narrower ones vectorise badly along the row).
pub const MIN_COLUMNS: usize = 64;

/// Most rows this kernel takes: from a whole batch of 50 on, the general product's packing is
/// paid back and it is the faster one (measured: 1.4 % of a one-thread ideal epoch at batch 50).
pub const MAX_ROWS: usize = 32;

/// `out += a · w` (`a`: rows × k, `w`: k × n, `out`: rows × n), the numbers of
/// `general_mat_mul(1.0, a, w, 1.0, out)`.
pub fn add_product(a: ArrayView2<f32>, w: ArrayView2<f32>, out: ArrayViewMut2<f32>) {
    product(a, w, out, true);
}

/// `out = a · w`, the numbers of `general_mat_mul(1.0, a, w, 0.0, out)`.
pub fn set_product(a: ArrayView2<f32>, w: ArrayView2<f32>, out: ArrayViewMut2<f32>) {
    product(a, w, out, false);
}

/// `out = a · w`, plus the old `out` when `add`.
fn product(a: ArrayView2<f32>, w: ArrayView2<f32>, mut out: ArrayViewMut2<f32>, add: bool) {
    let (k, n) = w.dim();
    let shapes = a.ncols() == k && out.dim() == (a.nrows(), n);
    if shapes
        && k > 0
        && k <= KC
        && n >= MIN_COLUMNS
        && a.nrows() <= MAX_ROWS
        && fma_kernel()
        && let (Some(a), Some(w), Some(out)) = (a.as_slice(), w.as_slice(), out.as_slice_mut())
    {
        return crate::vector_isa::vectorised(RowsTimesShallow { a, w, out, k, n, add });
    }
    general_mat_mul(1.0, &a, &w, if add { 1.0 } else { 0.0 }, &mut out);
}

/// Whether matrixmultiply multiplies f32 with its FMA kernel on this CPU (the one this kernel
/// reproduces).
fn fma_kernel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FMA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FMA.get_or_init(|| std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The kernel, compiled for the CPU's best vector instructions.
struct RowsTimesShallow<'a> {
    a: &'a [f32],
    w: &'a [f32],
    out: &'a mut [f32],
    k: usize,
    n: usize,
    add: bool,
}

impl pulp::WithSimd for RowsTimesShallow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let RowsTimesShallow { a, w, out, k, n, add } = self;
        // Column blocks outside, rows inside: a block of the weights (k × 64) stays in the first
        // level cache for all rows (the whole of a 10 × 2,000 matrix does not).
        for c0 in (0..n).step_by(BLOCK) {
            let width = BLOCK.min(n - c0);
            for (a_row, out_row) in a.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
                let mut sum = [0.0f32; BLOCK];
                if width == BLOCK {
                    // Sums that stay in registers over the whole depth.
                    for (kk, &x) in a_row.iter().enumerate() {
                        let w_block = &w[kk * n + c0..kk * n + c0 + BLOCK];
                        for (s, &y) in sum.iter_mut().zip(w_block) {
                            *s = x.mul_add(y, *s);
                        }
                    }
                } else {
                    for (kk, &x) in a_row.iter().enumerate() {
                        let w_rest = &w[kk * n + c0..kk * n + c0 + width];
                        for (s, &y) in sum.iter_mut().zip(w_rest) {
                            *s = x.mul_add(y, *s);
                        }
                    }
                }
                store(&mut out_row[c0..c0 + width], &sum, add);
            }
        }
    }
}

/// `out = sum` (the general product with β = 0: `α·ab` with α = 1), or `out += sum`.
#[inline(always)]
fn store(out: &mut [f32], sum: &[f32], add: bool) {
    if add {
        for (o, &s) in out.iter_mut().zip(sum) {
            *o += s;
        }
    } else {
        out.copy_from_slice(&sum[..out.len()]);
    }
}

/// Columns summed together in registers (four AVX-512 or eight AVX2 registers).
const BLOCK: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};

    /// Bit for bit the general product's numbers, on shapes of a step's products (rows not a
    /// multiple of 8, columns not a multiple of 8, depths up to one block) and on operands with
    /// zeros of both signs, exact products and cancellations.
    #[test]
    fn equals_the_general_product_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let value = |rng: &mut rand_chacha::ChaCha8Rng| match rng.random_range(0..6) {
            0 => 0.0,
            1 => -0.0,
            2 => f32::from(rng.random_range(-8i8..8)) * 0.125,
            _ => rng.random_range(-1.0f32..1.0),
        };
        for (rows, k, n) in [(25, 10, 500), (1, 10, 500), (MAX_ROWS, 3, 64), (7, 256, 130), (31, 100, 2000)] {
            let a = Array2::from_shape_fn((rows, k), |_| value(&mut rng));
            let w = Array2::from_shape_fn((k, n), |_| value(&mut rng));
            let start = Array2::from_shape_fn((rows, n), |_| rng.random_range(-2.0f32..2.0));
            let mut expected = start.clone();
            general_mat_mul(1.0, &a, &w, 1.0, &mut expected);
            let mut got = start.clone();
            add_product(a.view(), w.view(), got.view_mut());
            let bits = |x: &Array2<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expected), "{rows} x {k} x {n}");
            let mut expected = start.clone();
            general_mat_mul(1.0, &a, &w, 0.0, &mut expected);
            let mut got = start.clone();
            set_product(a.view(), w.view(), got.view_mut());
            assert_eq!(bits(&got), bits(&expected), "{rows} x {k} x {n}, overwritten");
        }
    }

    /// Shapes it does not take (deep or narrow products, views that are not contiguous) go to the
    /// general product.
    #[test]
    fn other_shapes_are_the_general_product() {
        let a = Array2::from_shape_fn((9, 300), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.1 - 0.6);
        let w = Array2::from_shape_fn((300, 10), |(i, j)| ((i + 3 * j) % 11) as f32 * 0.05 - 0.2);
        let mut expected = Array2::<f32>::ones((9, 10));
        general_mat_mul(1.0, &a, &w, 1.0, &mut expected);
        let mut got = Array2::<f32>::ones((9, 10));
        add_product(a.view(), w.view(), got.view_mut());
        assert_eq!(got, expected);
        let wt = w.t().to_owned();
        let mut expected = Array2::<f32>::ones((9, 300));
        general_mat_mul(1.0, &a.slice(ndarray::s![.., ..10]), &wt, 1.0, &mut expected);
        let mut got = Array2::<f32>::ones((9, 300));
        add_product(a.slice(ndarray::s![.., ..10]), wt.view(), got.view_mut());
        assert_eq!(got, expected);
    }
}
