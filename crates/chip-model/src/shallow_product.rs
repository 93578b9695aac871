//! `out += a · w` for the products of a time step that the general product serves badly, without
//! packing: shallow, wide ones (a layer's drive from a narrow layer: 10 presynaptic neurons,
//! hundreds of postsynaptic ones) and narrow ones (a narrow layer's drive: 500 or 2,000
//! presynaptic neurons, 10 postsynaptic ones).
//!
//! A step multiplies a few dozen examples' activities by the same weights; the general matrix
//! product (matrixmultiply) copies ("packs") the weights into its own layout at every call and
//! computes whole 8 × 8 tiles, which for a product of 25 × 10 × 500 is a large part of its cost,
//! and for 25 × 2,000 × 10 (10 columns in two tiles of 8) about half of a shard's step. The
//! shallow kernel computes each row straight from the weights' rows; the narrow one keeps a
//! vector of sums per row for eight rows at once and reads each weight row once for all eight.
//!
//! Both give the general product's numbers bit for bit where that product uses its FMA kernel
//! (x86-64 with AVX2 and FMA, checked at run time; elsewhere the general product runs): each
//! output is `out + Σ_k a_k·w_k`, the sum a chain of fused multiply-adds in `k` order from +0 over
//! each block of [`KC`] terms (the general product's depth block), each block's sum added to
//! `out` in turn. (Its edge tiles add `+0` instead of `−0` to an output of `−0`; drives never hold
//! `−0`, and the tests compare both on data with signed zeros in the operands.)

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
    if narrow_product(a, 0..a.ncols(), w, out.view_mut(), add) {
        return;
    }
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
        return crate::vector_isa::vectorised(RowsTimesShallow(Operands { a, lda: k, w, out, k, n, add }));
    }
    general_mat_mul(1.0, &a, &w, if add { 1.0 } else { 0.0 }, &mut out);
}

/// `out = a[.., columns] · w` with the narrow kernel (the numbers of the general product) when it
/// takes the shapes (`w` at most [`NARROW_COLUMNS`] wide, contiguous arrays); `false`, with nothing
/// written, when it does not. The digital core's exact products of a wide layer into a narrow one
/// sum the depth in chunks whose sums stay exact in f32, each chunk a column range of `a`.
pub fn set_narrow_product_of_columns(
    a: ArrayView2<f32>,
    columns: std::ops::Range<usize>,
    w: ArrayView2<f32>,
    out: ArrayViewMut2<f32>,
) -> bool {
    narrow_product(a, columns, w, out, false)
}

/// `out = a[.., columns] · w` (plus the old `out` when `add`) with the narrow kernel when it takes
/// the shapes; `false`, with nothing written, when it does not.
fn narrow_product(
    a: ArrayView2<f32>,
    columns: std::ops::Range<usize>,
    w: ArrayView2<f32>,
    mut out: ArrayViewMut2<f32>,
    add: bool,
) -> bool {
    let (k, n) = w.dim();
    let lda = a.ncols();
    let shapes = columns.len() == k && columns.end <= lda && out.dim() == (a.nrows(), n);
    if shapes
        && k > 0
        && (1..=NARROW_COLUMNS).contains(&n)
        && fma_kernel()
        && let (Some(a), Some(w), Some(out)) = (a.as_slice(), w.as_slice(), out.as_slice_mut())
    {
        let a = &a[columns.start..];
        crate::vector_isa::vectorised(RowsTimesNarrow(Operands { a, lda, w, out, k, n, add }));
        return true;
    }
    false
}

/// Whether this CPU has sixteen-lane f32 vectors (AVX-512), for the narrow kernel's row count.
fn sixteen_lanes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WIDE.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
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

/// A product's operands: `out` (rows × `n`) `=` (or `+=` when `add`) `a · w`, row `r` of `a` the
/// `k` numbers from `r · lda`, `w` row-major `k × n`.
struct Operands<'a> {
    a: &'a [f32],
    lda: usize,
    w: &'a [f32],
    out: &'a mut [f32],
    k: usize,
    n: usize,
    add: bool,
}

/// The shallow kernel (`lda` = `k`), compiled for the CPU's best vector instructions.
struct RowsTimesShallow<'a>(Operands<'a>);

impl pulp::WithSimd for RowsTimesShallow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Operands { a, w, out, k, n, add, .. } = self.0;
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

/// Widest output the narrow kernel takes: one vector of sums per row (one AVX-512 register, two
/// AVX2 ones).
pub const NARROW_COLUMNS: usize = 16;

/// Rows the narrow kernel sums at once with sixteen-lane registers, each weight row read once for
/// all of them (one vector of sums per row; the fused multiply-adds of twelve rows also cover the
/// latency of each row's chain).
const NARROW_ROWS: usize = 12;

/// The narrow kernel (`n` ≤ [`NARROW_COLUMNS`]), compiled for the CPU's best vector
/// instructions.
struct RowsTimesNarrow<'a>(Operands<'a>);

impl pulp::WithSimd for RowsTimesNarrow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let mut ops = self.0;
        let rows = ops.out.len() / ops.n;
        // Sixteen-lane registers (AVX-512: 32 of them) hold a row's sums in one register and twelve
        // rows' at once; with eight lanes (AVX2: 16 registers) a row takes two, and four rows fill
        // half the registers.
        let most = if sixteen_lanes() { NARROW_ROWS } else { 4 };
        let mut first = 0;
        while first < rows {
            let left = rows - first;
            first += if most >= NARROW_ROWS && left >= NARROW_ROWS {
                narrow_rows::<NARROW_ROWS>(&mut ops, first)
            } else if most >= NARROW_ROWS && left >= 8 {
                narrow_rows::<8>(&mut ops, first)
            } else if left >= 4 {
                narrow_rows::<4>(&mut ops, first)
            } else {
                narrow_rows::<1>(&mut ops, first)
            };
        }
    }
}

/// Rows `first..first + R` of the narrow product; returns `R`. The sums of each block of [`KC`]
/// terms stay in registers (R vectors of [`NARROW_COLUMNS`] lanes); a weight row is read as
/// [`NARROW_COLUMNS`] floats from its start, the lanes past `n` summing numbers of the next row
/// that are never stored.
#[inline(always)]
fn narrow_rows<const R: usize>(ops: &mut Operands<'_>, first: usize) -> usize {
    let Operands { a, lda, w, ref mut out, k, n, add } = *ops;
    for k0 in (0..k).step_by(KC) {
        let k1 = (k0 + KC).min(k);
        let a_rows: [&[f32]; R] = std::array::from_fn(|r| &a[(first + r) * lda + k0..(first + r) * lda + k1]);
        let mut sums = [[0.0f32; NARROW_COLUMNS]; R];
        for (j, kk) in (k0..k1).enumerate() {
            let w_row = weight_row(w, kk * n);
            for (sum, a_row) in sums.iter_mut().zip(&a_rows) {
                let x = a_row[j];
                for (s, &y) in sum.iter_mut().zip(&w_row) {
                    *s = x.mul_add(y, *s);
                }
            }
        }
        for (r, sum) in sums.iter().enumerate() {
            let o = &mut out[(first + r) * n..(first + r + 1) * n];
            store(o, &sum[..n], add || k0 > 0);
        }
    }
    R
}

/// [`NARROW_COLUMNS`] weights from `start` (zeros past the end of `w`).
#[inline(always)]
fn weight_row(w: &[f32], start: usize) -> [f32; NARROW_COLUMNS] {
    match w.get(start..start + NARROW_COLUMNS) {
        Some(row) => std::array::from_fn(|l| row[l]),
        None => std::array::from_fn(|l| w.get(start + l).copied().unwrap_or(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};

    /// Bit for bit the general product's numbers, on shapes of a step's products (rows not a
    /// multiple of 8, columns not a multiple of 8, depths up to one block for the shallow kernel
    /// and of several blocks for the narrow one) and on operands with zeros of both signs, exact
    /// products and cancellations.
    #[test]
    fn equals_the_general_product_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let value = |rng: &mut rand_chacha::ChaCha8Rng| match rng.random_range(0..6) {
            0 => 0.0,
            1 => -0.0,
            2 => f32::from(rng.random_range(-8i8..8)) * 0.125,
            _ => rng.random_range(-1.0f32..1.0),
        };
        let shapes = [(25, 10, 500), (1, 10, 500), (MAX_ROWS, 3, 64), (7, 256, 130), (31, 100, 2000)];
        // Narrow outputs: rows in blocks of 8, 4 and 1, depths of one block and of several.
        let narrow = [(25, 500, 10), (50, 2000, 10), (1, 784, 10), (13, 257, 16), (6, 256, 1), (4, 513, 3)];
        for (rows, k, n) in shapes.into_iter().chain(narrow) {
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

    /// A column range of a wider `a` gives the general product's numbers of that slice.
    #[test]
    fn a_column_range_equals_the_general_product_of_the_slice() {
        let a = Array2::from_shape_fn((21, 700), |(i, j)| ((i * 31 + j * 7) % 19) as f32 * 0.37 - 3.1);
        let w = Array2::from_shape_fn((700, 10), |(i, j)| ((i * 5 + j * 11) % 17) as f32 * 0.11 - 0.9);
        for columns in [0..700, 0..300, 300..700, 123..641] {
            let ws = w.slice(ndarray::s![columns.clone(), ..]);
            let mut expected = Array2::<f32>::zeros((21, 10));
            general_mat_mul(1.0, &a.slice(ndarray::s![.., columns.clone()]), &ws, 0.0, &mut expected);
            let mut got = Array2::<f32>::from_elem((21, 10), 5.0);
            assert_eq!(
                set_narrow_product_of_columns(a.view(), columns.clone(), ws, got.view_mut()),
                fma_kernel()
            );
            if fma_kernel() {
                let bits = |x: &Array2<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&expected), "columns {columns:?}");
            }
        }
        // A `w` wider than the kernel takes is left to the caller.
        let wide = Array2::<f32>::zeros((700, 17));
        assert!(!set_narrow_product_of_columns(
            a.view(),
            0..700,
            wide.view(),
            Array2::zeros((21, 17)).view_mut()
        ));
    }

    /// Shapes neither kernel takes (deep products of middling width, views that are not
    /// contiguous) go to the general product.
    #[test]
    fn other_shapes_are_the_general_product() {
        let a = Array2::from_shape_fn((9, 300), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.1 - 0.6);
        let w = Array2::from_shape_fn((300, 40), |(i, j)| ((i + 3 * j) % 11) as f32 * 0.05 - 0.2);
        let mut expected = Array2::<f32>::ones((9, 40));
        general_mat_mul(1.0, &a, &w, 1.0, &mut expected);
        let mut got = Array2::<f32>::ones((9, 40));
        add_product(a.view(), w.view(), got.view_mut());
        assert_eq!(got, expected);
        let wt = w.t().to_owned();
        let mut expected = Array2::<f32>::ones((9, 300));
        general_mat_mul(1.0, &a.slice(ndarray::s![.., ..40]), &wt, 1.0, &mut expected);
        let mut got = Array2::<f32>::ones((9, 300));
        add_product(a.slice(ndarray::s![.., ..40]), wt.view(), got.view_mut());
        assert_eq!(got, expected);
    }
}
