//! `out += a · w` for the products of a time step that the general product serves badly, without
//! packing: shallow, wide ones (a layer's drive from a narrow layer: 10 presynaptic neurons,
//! hundreds of postsynaptic ones) and narrow ones (a narrow layer's drive: 500 or 2,000
//! presynaptic neurons, 10 postsynaptic ones).
//!
//! A step multiplies a few dozen examples' activities by the same weights; the general matrix
//! product (matrixmultiply) copies ("packs") the weights into its own layout at every call and
//! computes whole 8 × 8 tiles, which for a product of 25 × 10 × 500 is a large part of its cost,
//! and for 25 × 2,000 × 10 (10 columns in two tiles of 8) about half of a shard's step. The
//! shallow kernel computes up to four rows at once straight from the weights' rows; the narrow one
//! keeps a vector of sums per row for up to sixteen rows at once and reads each weight row once
//! for all.
//!
//! Both give the general product's numbers bit for bit where that product uses its FMA kernel
//! (x86-64 with AVX2 and FMA, checked at run time; elsewhere the general product runs): each
//! output is `out + Σ_k a_k·w_k`, the sum a chain of fused multiply-adds in `k` order from +0 over
//! each block of [`KC`] terms (the general product's depth block), each block's sum added to
//! `out` in turn. (Its edge tiles add `+0` instead of `−0` to an output of `−0`; drives never hold
//! `−0`, and the tests compare both on data with signed zeros in the operands.)

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder, linalg::general_mat_mul};

/// The general product's depth block for f32 (matrixmultiply's `S_KC`): longer sums are added to
/// the output block by block, which this kernel does not do (it leaves them to the general
/// product).
pub const KC: usize = 256;

/// Narrowest output this kernel takes (narrower ones vectorise badly along the row).
pub const MIN_COLUMNS: usize = 64;

/// Most rows the shallow kernel takes with eight-lane vectors (AVX2): from a whole batch of 50 on,
/// the general product's packing is paid back and it is the faster one (measured on an AVX2 host:
/// 1.4 % of a one-thread ideal epoch at batch 50).
pub const MAX_ROWS: usize = 32;

/// Most rows it takes with sixteen-lane vectors (AVX-512), four rows at a time: measured on an
/// AVX-512 host (`cargo bench --bench kernels -- step_products`), 50 × 10 × 500 took 7.8 µs
/// against the general product's 9.4, 50 × 10 × 2,000 22 against 37, 200 × 10 × 500 the same
/// time (31 µs) and 200 × 10 × 2,000 90 against 117.
pub const MAX_ROWS_WIDE: usize = 256;

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
        && a.nrows() <= MAX_ROWS_WIDE
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
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let rows = self.0.out.len() / self.0.n.max(1);
        if S::F32_LANES < 16 && rows > MAX_ROWS {
            return general_product_of(self.0);
        }
        let Operands { a, w, out, k, n, add, .. } = self.0;
        // Sixteen-lane registers (AVX-512, 32 of them): a block of 64 sums is four registers, and
        // four rows at once keep sixteen independent chains of multiply-adds going, each weight
        // vector read once for the four (one row at a time, a chain of dependent multiply-adds
        // per register held the kernel to half the rate of the general product's 8 × 8 tiles
        // on 25 × 10 × 500). With eight lanes (AVX2, 16 registers) one row is eight registers,
        // which already covers the latency.
        let at_once = if S::F32_LANES >= 16 { SHALLOW_ROWS } else { 1 };
        if S::F32_LANES < MIN_NARROW_LANES || !NARROW_COLUMNS.is_multiple_of(S::F32_LANES) {
            return partial_block(a, w, out, (k, n), 0..n, add);
        }
        // Column blocks outside, rows inside: a block of the weights (k × 64) stays in the first
        // level cache for all rows (the whole of a 10 × 2,000 matrix does not). The columns past
        // the last whole block go in blocks of 16, then one by one.
        let mut c0 = 0;
        while c0 < n {
            let width = match n - c0 {
                BLOCK.. => BLOCK,
                NARROW_COLUMNS.. => NARROW_COLUMNS,
                _ => {
                    partial_block(a, w, out, (k, n), c0..n, add);
                    break;
                }
            };
            let mut first = 0;
            while first < rows {
                let ops = (a, w, &mut *out, k, n);
                let block = (c0, first, add);
                first += match ((rows - first).min(at_once), width) {
                    (4.., BLOCK) => shallow_rows::<S, 4, BLOCK>(simd, ops, block),
                    (3, BLOCK) => shallow_rows::<S, 3, BLOCK>(simd, ops, block),
                    (2, BLOCK) => shallow_rows::<S, 2, BLOCK>(simd, ops, block),
                    (_, BLOCK) => shallow_rows::<S, 1, BLOCK>(simd, ops, block),
                    (4.., _) => shallow_rows::<S, 4, NARROW_COLUMNS>(simd, ops, block),
                    (3, _) => shallow_rows::<S, 3, NARROW_COLUMNS>(simd, ops, block),
                    (2, _) => shallow_rows::<S, 2, NARROW_COLUMNS>(simd, ops, block),
                    (_, _) => shallow_rows::<S, 1, NARROW_COLUMNS>(simd, ops, block),
                };
            }
            c0 += width;
        }
    }
}

/// Rows the shallow kernel sums at once with sixteen-lane vectors (see its `with_simd`).
const SHALLOW_ROWS: usize = 4;

/// Columns `c0..c0 + W` (`W` at most [`BLOCK`], a multiple of the vector width) of rows
/// `first..first + R` of the shallow product (`k` ≤ [`KC`]); returns `R`. Each output's sum is a
/// chain of fused multiply-adds in depth order from +0, as in the general product.
#[inline(always)]
fn shallow_rows<S: pulp::Simd, const R: usize, const W: usize>(
    simd: S,
    (a, w, out, k, n): (&[f32], &[f32], &mut [f32], usize, usize),
    (c0, first, add): (usize, usize, bool),
) -> usize {
    let zero = simd.splat_f32s(0.0);
    let mut sums = [[zero; BLOCK / MIN_NARROW_LANES]; R];
    for kk in 0..k {
        let Some(w_block) = w.get(kk * n + c0..kk * n + c0 + W) else { break };
        let (w_block, _) = S::as_simd_f32s(w_block);
        for (r, sum) in sums.iter_mut().enumerate() {
            let x = simd.splat_f32s(a.get((first + r) * k + kk).copied().unwrap_or(0.0));
            for (s, &y) in sum.iter_mut().zip(w_block) {
                *s = simd.mul_add_e_f32s(x, y, *s);
            }
        }
    }
    for (r, sum) in sums.iter().enumerate() {
        let mut block = [0.0f32; BLOCK];
        let (b, _) = S::as_mut_simd_f32s(&mut block);
        for (b, &s) in b.iter_mut().zip(sum) {
            *b = s;
        }
        if let Some(o) = out.get_mut((first + r) * n + c0..(first + r) * n + c0 + W) {
            store(o, &block[..W], add);
        }
    }
    R
}

/// Columns `columns` (fewer than [`NARROW_COLUMNS`], or all of them on CPUs with narrower vectors)
/// of every row of the shallow product, in blocks of at most [`BLOCK`].
#[inline(always)]
fn partial_block(
    a: &[f32],
    w: &[f32],
    out: &mut [f32],
    (k, n): (usize, usize),
    columns: std::ops::Range<usize>,
    add: bool,
) {
    for c0 in columns.clone().step_by(BLOCK) {
        let width = BLOCK.min(columns.end - c0);
        for (a_row, out_row) in a.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            let mut sum = [0.0f32; BLOCK];
            for (kk, &x) in a_row.iter().enumerate() {
                let w_rest = &w[kk * n + c0..kk * n + c0 + width];
                for (s, &y) in sum.iter_mut().zip(w_rest) {
                    *s = x.mul_add(y, *s);
                }
            }
            store(&mut out_row[c0..c0 + width], &sum, add);
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
/// all of them (one vector of sums per row; the fused multiply-adds of many rows also cover the
/// latency of each row's chain).
const NARROW_ROWS: usize = 16;

/// The narrow kernel (`n` ≤ [`NARROW_COLUMNS`]), compiled for the CPU's best vector
/// instructions.
struct RowsTimesNarrow<'a>(Operands<'a>);

impl pulp::WithSimd for RowsTimesNarrow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let mut ops = self.0;
        let rows = ops.out.len() / ops.n;
        if S::F32_LANES < MIN_NARROW_LANES || !NARROW_COLUMNS.is_multiple_of(S::F32_LANES) {
            return general_product_of(ops);
        }
        // Sixteen-lane registers (AVX-512: 32 of them) hold a row's sums in one register and sixteen
        // rows' at once (twelve were 7 % slower on 25 × 2,000 × 10, twenty-five no faster than
        // sixteen); with eight lanes (AVX2: 16 registers) a row takes two, and four rows fill
        // half the registers (with four lanes, two rows). The rows are cut into as few blocks as
        // that allows, of nearly equal size: each block reads every weight row once, and each row's
        // sum is a chain of dependent multiply-adds, so a block of one row costs about as long as
        // a block of eight. Cut 12 + 8 + 1 + 1 + 1, 23 rows (a shard of 50 on two threads) took
        // 2.6 times as long as cut 12 + 11.
        let most = match S::F32_LANES {
            16.. => NARROW_ROWS,
            8 => 4,
            _ => 2,
        };
        let w_rows = WeightRows::new(ops.w);
        let mut first = 0;
        for size in block_sizes(rows, most) {
            first += match size {
                16.. => narrow_rows::<S, 16>(simd, &mut ops, &w_rows, first),
                15 => narrow_rows::<S, 15>(simd, &mut ops, &w_rows, first),
                14 => narrow_rows::<S, 14>(simd, &mut ops, &w_rows, first),
                13 => narrow_rows::<S, 13>(simd, &mut ops, &w_rows, first),
                12 => narrow_rows::<S, 12>(simd, &mut ops, &w_rows, first),
                11 => narrow_rows::<S, 11>(simd, &mut ops, &w_rows, first),
                10 => narrow_rows::<S, 10>(simd, &mut ops, &w_rows, first),
                9 => narrow_rows::<S, 9>(simd, &mut ops, &w_rows, first),
                8 => narrow_rows::<S, 8>(simd, &mut ops, &w_rows, first),
                7 => narrow_rows::<S, 7>(simd, &mut ops, &w_rows, first),
                6 => narrow_rows::<S, 6>(simd, &mut ops, &w_rows, first),
                5 => narrow_rows::<S, 5>(simd, &mut ops, &w_rows, first),
                4 => narrow_rows::<S, 4>(simd, &mut ops, &w_rows, first),
                3 => narrow_rows::<S, 3>(simd, &mut ops, &w_rows, first),
                2 => narrow_rows::<S, 2>(simd, &mut ops, &w_rows, first),
                _ => narrow_rows::<S, 1>(simd, &mut ops, &w_rows, first),
            };
        }
    }
}

/// `rows` cut into the fewest blocks of at most `most` rows, their sizes differing by one at most
/// (the larger ones first).
fn block_sizes(rows: usize, most: usize) -> impl Iterator<Item = usize> {
    let blocks = rows.div_ceil(most.max(1));
    (0..blocks).map(move |b| rows / blocks + usize::from(b < rows % blocks))
}

/// Rows `first..first + R` of the narrow product; returns `R`. The sums of each block of [`KC`]
/// terms stay in registers (R vectors of [`NARROW_COLUMNS`] lanes); a weight row is read as
/// [`NARROW_COLUMNS`] floats from its start, the lanes past `n` summing numbers of the next row
/// that are never stored.
#[inline(always)]
fn narrow_rows<S: pulp::Simd, const R: usize>(
    simd: S,
    ops: &mut Operands<'_>,
    w_rows: &WeightRows<'_>,
    first: usize,
) -> usize {
    let Operands { a, lda, ref mut out, k, n, add, .. } = *ops;
    for k0 in (0..k).step_by(KC) {
        let len = KC.min(k - k0);
        let row = |r: usize| &a[(first + r) * lda + k0..][..len];
        let sums = if len == KC {
            let a_rows: [&[f32; KC]; R] = std::array::from_fn(|r| row(r).try_into().unwrap_or(&[0.0; KC]));
            narrow_block(simd, a_rows, len, w_rows, k0 * n, n)
        } else {
            // The last, shorter block from a copy of full length (its end is never read).
            let mut copy = [[0.0f32; KC]; R];
            for (c, r) in copy.iter_mut().zip(0..) {
                c[..len].copy_from_slice(row(r));
            }
            narrow_block(simd, std::array::from_fn(|r| &copy[r]), len, w_rows, k0 * n, n)
        };
        for (r, sum) in sums.iter().enumerate() {
            let o = &mut out[(first + r) * n..(first + r + 1) * n];
            store(o, &sum[..n], add || k0 > 0);
        }
    }
    R
}

/// The sums of `len` (at most [`KC`]) terms of `R` rows, the weight rows from `w_rows` at
/// `start`, `start + n`, …, in the CPU's vectors (`S::F32_LANES` of 4, 8 or 16 lanes), one fused
/// multiply-add per vector and term. Written with explicit vectors, not left to the compiler's
/// vectoriser: it vectorised some row counts across the rows instead (in one build 25 rows cut
/// 9 + 8 + 8 took 240 µs, 27 rows cut 9 + 9 + 9 took 9 µs), and every index of the loop is in bounds by its type (no checks, no exits:
/// the sums stay in registers).
#[inline(always)]
fn narrow_block<S: pulp::Simd, const R: usize>(
    simd: S,
    a_rows: [&[f32; KC]; R],
    len: usize,
    w_rows: &WeightRows<'_>,
    start: usize,
    n: usize,
) -> [[f32; NARROW_COLUMNS]; R] {
    let zero = simd.splat_f32s(0.0);
    let mut sums = [[zero; NARROW_COLUMNS / MIN_NARROW_LANES]; R];
    for j in 0..len.min(KC) {
        let (w_row, _) = S::as_simd_f32s(w_rows.at(start + j * n));
        for (sum, a_row) in sums.iter_mut().zip(&a_rows) {
            let x = simd.splat_f32s(a_row[j]);
            for (s, &y) in sum.iter_mut().zip(w_row) {
                *s = simd.mul_add_e_f32s(x, y, *s);
            }
        }
    }
    let mut out = [[0.0f32; NARROW_COLUMNS]; R];
    for (o, sum) in out.iter_mut().zip(&sums) {
        let (o, _) = S::as_mut_simd_f32s(o);
        for (o, &s) in o.iter_mut().zip(sum) {
            *o = s;
        }
    }
    out
}

/// Fewest lanes of the vectors the narrow kernel is written for (narrower ones take the general
/// product).
const MIN_NARROW_LANES: usize = 4;

/// The general product of `ops` (the narrow kernel's numbers, on CPUs whose vectors it is not
/// written for).
fn general_product_of(ops: Operands<'_>) {
    let Operands { a, lda, w, out, k, n, add } = ops;
    let rows = out.len() / n.max(1);
    let shapes = (
        ArrayView2::from_shape((rows, k).strides((lda, 1)), a),
        ArrayView2::from_shape((k, n), w),
        ArrayViewMut2::from_shape((rows, n), out),
    );
    if let (Ok(a), Ok(w), Ok(mut out)) = shapes {
        general_mat_mul(1.0, &a, &w, if add { 1.0 } else { 0.0 }, &mut out);
    }
}

/// The weights as rows of [`NARROW_COLUMNS`] floats from any start: read in place, or from a copy
/// of the end of `w` padded with zeros where they would run past it.
struct WeightRows<'a> {
    w: &'a [f32],
    end_start: usize,
    end: [f32; 2 * NARROW_COLUMNS],
}

impl<'a> WeightRows<'a> {
    fn new(w: &'a [f32]) -> Self {
        let end_start = w.len().saturating_sub(NARROW_COLUMNS);
        let mut end = [0.0; 2 * NARROW_COLUMNS];
        end[..w.len() - end_start].copy_from_slice(&w[end_start..]);
        Self { w, end_start, end }
    }

    /// [`NARROW_COLUMNS`] weights from `start` (zeros past the end of `w`; zeros also for a start
    /// past the end, which no caller asks for).
    #[inline(always)]
    fn at(&self, start: usize) -> &[f32; NARROW_COLUMNS] {
        const ZEROS: [f32; NARROW_COLUMNS] = [0.0; NARROW_COLUMNS];
        let row = match self.w.get(start..start + NARROW_COLUMNS) {
            Some(row) => row,
            None => self
                .end
                .get(start.wrapping_sub(self.end_start)..)
                .and_then(|e| e.get(..NARROW_COLUMNS))
                .unwrap_or(&ZEROS),
        };
        row.try_into().unwrap_or(&ZEROS)
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
        let shapes =
            [(25, 10, 500), (1, 10, 500), (MAX_ROWS, 3, 64), (7, 256, 130), (31, 100, 2000), (50, 10, 500)];
        // The shallow kernel's row blocks (up to four rows) and column blocks (64, 16, fewer),
        // and the most rows it takes.
        let shallow = (1..=9).map(|rows| (rows, 12, 213)).chain([(MAX_ROWS_WIDE, 10, 100)]);
        // Narrow outputs: rows in blocks of 8, 4 and 1, depths of one block and of several.
        let narrow = [(25, 500, 10), (50, 2000, 10), (1, 784, 10), (13, 257, 16), (6, 256, 1), (4, 513, 3)];
        // Every block size of the narrow kernel (rows 1–26 in blocks of up to sixteen or four).
        let every_block = (1..=26).map(|rows| (rows, 300, 10));
        for (rows, k, n) in shapes.into_iter().chain(shallow).chain(narrow).chain(every_block) {
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

    /// Both kernels with eight-lane vectors (AVX2) and with one-lane ones (the shallow kernel's
    /// plain loop; the narrow one takes the general product) give the general product's numbers
    /// too, whatever vectors this CPU has, also on more rows than the shallow kernel takes with
    /// eight lanes (it then hands them to the general product).
    #[test]
    fn every_vector_width_gives_the_general_products_numbers() {
        fn kernel_with<S: pulp::Simd>(simd: S, a: &Array2<f32>, w: &Array2<f32>, out: &mut Array2<f32>) {
            let (rows, k) = a.dim();
            let n = w.ncols();
            let (Some(a), Some(w), Some(out)) = (a.as_slice(), w.as_slice(), out.as_slice_mut()) else {
                panic!("standard layout")
            };
            let ops = Operands { a, lda: k, w, out, k, n, add: true };
            assert_eq!(ops.out.len(), rows * n);
            if n <= NARROW_COLUMNS {
                simd.vectorize(RowsTimesNarrow(ops));
            } else {
                simd.vectorize(RowsTimesShallow(ops));
            }
        }
        if !fma_kernel() {
            return;
        }
        let shapes = [(25, 500, 10), (7, 300, 16), (5, 2000, 3), (13, 256, 1)];
        let shallow = [(25, 10, 500), (3, 12, 213), (MAX_ROWS + 1, 10, 100)];
        for (rows, k, n) in shapes.into_iter().chain(shallow) {
            let a = Array2::from_shape_fn((rows, k), |(i, j)| ((i * 13 + j * 7) % 23) as f32 * 0.17 - 1.9);
            let w = Array2::from_shape_fn((k, n), |(i, j)| ((i * 3 + j * 5) % 19) as f32 * 0.07 - 0.6);
            let start = Array2::from_shape_fn((rows, n), |(i, j)| (i + j) as f32 * 0.5 - 3.0);
            let mut expected = start.clone();
            general_mat_mul(1.0, &a, &w, 1.0, &mut expected);
            let bits = |x: &Array2<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            #[cfg(target_arch = "x86_64")]
            if let Some(v3) = pulp::x86::V3::try_new() {
                let mut got = start.clone();
                kernel_with(v3, &a, &w, &mut got);
                assert_eq!(bits(&got), bits(&expected), "AVX2, {rows} x {k} x {n}");
            }
            let mut got = start.clone();
            kernel_with(pulp::Scalar::new(), &a, &w, &mut got);
            assert_eq!(bits(&got), bits(&expected), "one lane, {rows} x {k} x {n}");
        }
    }

    /// Rows are cut into the fewest blocks the registers allow, of sizes that differ by one at most.
    #[test]
    fn rows_cut_into_the_fewest_even_blocks() {
        let cut = |rows, most| block_sizes(rows, most).collect::<Vec<_>>();
        assert_eq!(cut(50, 12), [10, 10, 10, 10, 10]);
        assert_eq!(cut(50, 16), [13, 13, 12, 12]);
        assert_eq!(cut(25, 16), [13, 12]);
        assert_eq!(cut(23, 12), [12, 11]);
        assert_eq!(cut(27, 12), [9, 9, 9]);
        assert_eq!(cut(12, 12), [12]);
        assert_eq!(cut(1, 12), [1]);
        assert_eq!(cut(0, 12), Vec::<usize>::new());
        assert_eq!(cut(7, 4), [4, 3]);
        for rows in 0..200 {
            for most in [4, 12, 16] {
                let sizes = cut(rows, most);
                assert_eq!(sizes.iter().sum::<usize>(), rows);
                assert_eq!(sizes.len(), rows.div_ceil(most));
                assert!(
                    sizes.iter().all(|&s| s <= most && s + 1 >= sizes[0]),
                    "{rows} rows, {most}: {sizes:?}"
                );
            }
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
