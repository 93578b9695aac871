//! Fast Gaussian numbers for read noise: an inverse-CDF table with exact tails.
//!
//! Read noise needs one Gaussian per column output per step (over a hundred million per epoch), so
//! the generator has to cost about as much as a multiply-add. Sixteen random bits pick one of 4,096
//! equal-probability bins of the standard normal (12 bits) and one of 16 positions inside it
//! (4 bits), interpolated linearly between the bin's quantiles; one 32-bit word gives two numbers.
//! The chip draws its words from vectorised lane generators ([`fill_standard_normal_lanes`]); the
//! tests check every number against a plain scalar version of the same mapping.
//! The two outermost bins (|z| > 3.49, probability 1/2048) are sampled exactly from the Gaussian
//! tail with Marsaglia's method. The result has the normal distribution's quantiles at every bin
//! edge (a resolution of about 10⁻⁴ in the body), and its mean and variance agree with 0 and 1 to
//! better than 10⁻⁴.

use std::sync::OnceLock;

use rand::Rng;

/// Number of equal-probability bins of the table.
pub const BINS: usize = 4096;

/// Quantiles `Φ⁻¹(k / BINS)` for k = 1..BINS−1 (index 0 and BINS unused).
pub fn table() -> &'static [f32; BINS + 1] {
    static TABLE: OnceLock<Box<[f32; BINS + 1]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // Cumulative distribution by Simpson integration of the density on a fine grid, then
        // inverted by walking the grid (one pass): quantiles accurate to ~1e-7.
        let mut q = Box::new([0.0f32; BINS + 1]);
        let (lo, hi, steps) = (-9.0f64, 9.0f64, 1_800_000usize);
        let h = (hi - lo) / steps as f64;
        let density = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mut cdf = 0.0f64;
        let mut k = 1usize;
        for i in 0..steps {
            let x0 = lo + i as f64 * h;
            let step = h / 6.0 * (density(x0) + 4.0 * density(x0 + h / 2.0) + density(x0 + h));
            while k < BINS && cdf + step >= k as f64 / BINS as f64 {
                let target = k as f64 / BINS as f64;
                let t = (target - cdf) / step;
                q[k] = (x0 + t * h) as f32;
                k += 1;
            }
            cdf += step;
        }
        q
    })
}

/// Edge of the outermost bins: `−Φ⁻¹(1/BINS)`.
fn tail_edge() -> f64 {
    -f64::from(table()[1])
}

/// A sample from the standard normal tail beyond `a > 0` (Marsaglia 1964), exact.
fn tail<R: Rng + ?Sized>(a: f64, rng: &mut R) -> f64 {
    loop {
        let u1 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let u2 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = -(1.0 - u1).ln() / a;
        let y = -(1.0 - u2).ln();
        if 2.0 * y > x * x {
            return a + x;
        }
    }
}

/// Each bin's lower quantile and width, `(q[k], q[k+1] − q[k])`, side by side so that one load
/// fetches both (the two tail bins hold zeros: their numbers are drawn exactly).
fn bin_table() -> &'static [[f32; 2]; BINS] {
    static BINS_TABLE: OnceLock<Box<[[f32; 2]; BINS]>> = OnceLock::new();
    BINS_TABLE.get_or_init(|| {
        let q = table();
        let mut t = Box::new([[0.0f32; 2]; BINS]);
        for k in 1..BINS - 1 {
            t[k] = [q[k], q[k + 1] - q[k]];
        }
        t
    })
}

/// Fills `out` with standard normal numbers from `lanes`: 16 random bits per number (12-bit bin,
/// 4-bit position; the low half of each word first), in passes simple
/// enough for the compiler to vectorise or pipeline: random words, one table load per number,
/// then the rare tail bins (one in 2,048) drawn exactly with `tail_rng`. `bits` is scratch space.
/// [`draw_normal_tails`] and [`normals_from_words`] split the same into the sequential draws and
/// the table lookups.
pub fn fill_standard_normal_lanes<R: Rng + ?Sized>(
    out: &mut [f32],
    lanes: &mut crate::lane_rng::LaneRng,
    bits: &mut Vec<u32>,
    tail_rng: &mut R,
) {
    bits.resize(out.len().div_ceil(2), 0);
    lanes.fill_u32(bits);
    let t = value_table();
    // Chunks of 64 numbers (32 words): a chunk is searched for tail bins only if its flag (a
    // separate pass, which vectorises) says it holds one (about one chunk in 32).
    for (zs, ws) in out.chunks_mut(64).zip(bits.chunks(32)) {
        let mut pairs = zs.chunks_exact_mut(2);
        for (pair, &w) in (&mut pairs).zip(ws) {
            pair[0] = t[(w & 0xFFFF) as usize];
            pair[1] = t[(w >> 16) as usize];
        }
        if let ([z], Some(&w)) = (pairs.into_remainder(), ws.last()) {
            *z = t[(w & 0xFFFF) as usize];
        }
        // (The unused high half of an odd final word may raise the flag; `fix_tails` then finds
        // nothing to replace.)
        let tails = ws.iter().fold(0u32, |a, &w| a | u32::from(is_tail16(w & 0xFFFF) | is_tail16(w >> 16)));
        if tails != 0 {
            fix_tails(zs, |i| (ws[i >> 1] >> ((i & 1) * 16)) & 0xFFFF, tail_rng);
        }
    }
}

/// Exact tail samples of a row of normal numbers: (position in the row, value).
pub type TailSamples = Vec<(u32, f32)>;

/// The tail samples of row `row` from the tail samples of several rows, listed as (row, position,
/// value) in row order: (position, value) pairs.
pub fn tails_of_row(tails: &[(u32, u32, f32)], row: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
    let lo = tails.partition_point(|t| (t.0 as usize) < row);
    let hi = tails.partition_point(|t| (t.0 as usize) <= row);
    tails[lo..hi].iter().map(|&(_, i, x)| (i, x))
}

/// Draws what `n` standard normal numbers need besides the table lookups, in the order
/// [`fill_standard_normal_lanes`] draws it: their `n.div_ceil(2)` random words from `lanes` (into
/// `words`, which must be that long), then an exact sample from `tail_rng` for each number whose
/// 16 bits fall in a tail bin, in order (appended to `tails`). The lookups
/// ([`normals_from_words`]) can then run on another thread, from these words or from the same
/// words made again from a copy of `lanes`.
pub fn draw_normal_tails<R: Rng + ?Sized>(
    n: usize,
    lanes: &mut crate::lane_rng::LaneRng,
    words: &mut [u32],
    tails: &mut TailSamples,
    tail_rng: &mut R,
) {
    assert_eq!(words.len(), n.div_ceil(2), "one word per two numbers");
    lanes.fill_u32(words);
    // Chunks of 64 numbers (32 words) are searched only if a flag over their words says they hold
    // a tail bin (about one chunk in 32; the unused high half of an odd final word may raise it,
    // and nothing is drawn then). The flags are one vectorised pass per 64 chunks, kept as the bits
    // of one word (no allocation): on baseline x86-64 they took twice as long as making the words.
    for (s, segment) in words.chunks(32 * 64).enumerate() {
        let mut flags = crate::vector_isa::vectorised(TailChunks { words: segment });
        while flags != 0 {
            let c = 64 * s + flags.trailing_zeros() as usize;
            flags &= flags - 1;
            let range = 64 * c..(64 * c + 64).min(n);
            draw_tails_in(range, &|i| (words[i >> 1] >> ((i & 1) * 16)) & 0xFFFF, tails, tail_rng);
        }
    }
}

/// Bit `c` set for each 32-word chunk `c` of `words` (at most 64 chunks) that holds a 16-bit half
/// in a tail bin.
struct TailChunks<'a> {
    words: &'a [u32],
}

impl pulp::WithSimd for TailChunks<'_> {
    type Output = u64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> u64 {
        let mut flags = 0u64;
        for (c, ws) in self.words.chunks(32).enumerate().take(64) {
            let tail =
                ws.iter().fold(0u32, |a, &w| a | u32::from(is_tail16(w & 0xFFFF) | is_tail16(w >> 16)));
            flags |= u64::from(tail != 0) << c;
        }
        flags
    }
}

/// Exact samples, in order, for the numbers `0..n` whose 16-bit value `half(i)` is in a tail bin
/// (chunks of 64 numbers are searched only if a flag, which vectorises, says they hold one): the
/// draws [`normals_from_halves`] makes, done ahead of the lookups.
pub fn draw_tails_of_halves<R: Rng + ?Sized>(
    n: usize,
    half: impl Fn(usize) -> u32,
    tails: &mut TailSamples,
    tail_rng: &mut R,
) {
    for c in (0..n).step_by(64) {
        let end = (c + 64).min(n);
        if (c..end).fold(false, |a, i| a | is_tail16(half(i))) {
            draw_tails_in(c..end, &half, tails, tail_rng);
        }
    }
}

/// The tail samples of numbers `range` (see [`draw_tails_of_halves`]).
#[cold]
fn draw_tails_in<R: Rng + ?Sized>(
    range: std::ops::Range<usize>,
    half: &impl Fn(usize) -> u32,
    tails: &mut TailSamples,
    tail_rng: &mut R,
) {
    let edge = tail_edge();
    for i in range {
        let h = half(i);
        if is_tail16(h) {
            let x = tail(edge, tail_rng) as f32;
            tails.push((i as u32, if h >> 4 == 0 { -x } else { x }));
        }
    }
}

/// The standard normal numbers of `out.len()` numbers from their random words (low half of each
/// word first) and tail samples, as drawn by [`draw_normal_tails`].
pub fn normals_from_words(out: &mut [f32], words: &[u32], tails: impl IntoIterator<Item = (u32, f32)>) {
    // Pairs of numbers from one word each, so that the loop has no index checks.
    let t = value_table();
    let n = out.len();
    let mut pairs = out.chunks_exact_mut(2);
    for (pair, &w) in (&mut pairs).zip(words) {
        pair[0] = t[(w & 0xFFFF) as usize];
        pair[1] = t[(w >> 16) as usize];
    }
    if let ([z], Some(&w)) = (pairs.into_remainder(), words.get(n / 2)) {
        *z = t[(w & 0xFFFF) as usize];
    }
    put_tails(out, tails);
}

/// One number per 16-bit value `half(i)` from the table, then the tail samples (drawn beforehand)
/// in place: the numbers of [`normals_from_halves`].
#[inline(always)]
pub fn normals_from_halves_and_tails(
    out: &mut [f32],
    half: impl Fn(usize) -> u32,
    tails: impl IntoIterator<Item = (u32, f32)>,
) {
    let t = value_table();
    for (i, z) in out.iter_mut().enumerate() {
        *z = t[half(i) as usize];
    }
    put_tails(out, tails);
}

/// Puts exact tail samples (position, value), drawn beforehand for these numbers, in place of
/// their table numbers.
fn put_tails(out: &mut [f32], tails: impl IntoIterator<Item = (u32, f32)>) {
    for (i, x) in tails {
        out[i as usize] = x;
    }
}

/// Every 16-bit value's number, `interpolate16(h)` for all 65,536 values `h` (tail bins hold 0):
/// one load per number instead of a bin lookup and an interpolation (256 KiB, cache-resident).
fn value_table() -> &'static [f32; 1 << 16] {
    static VALUES: OnceLock<Box<[f32; 1 << 16]>> = OnceLock::new();
    VALUES.get_or_init(|| {
        let t = bin_table();
        let mut v = Box::new([0.0f32; 1 << 16]);
        for (h, x) in v.iter_mut().enumerate() {
            *x = interpolate16(h as u32, t);
        }
        v
    })
}

/// One standard normal number per 16-bit value `half(i)` (12-bit bin, 4-bit position) into
/// `out[i]`, with the tail bins drawn exactly from `tail_rng` in order.
pub fn normals_from_halves<R: Rng + ?Sized>(out: &mut [f32], half: impl Fn(usize) -> u32, tail_rng: &mut R) {
    let t = value_table();
    for (c, zs) in out.chunks_mut(64).enumerate() {
        let mut tails = 0u32;
        for (j, z) in zs.iter_mut().enumerate() {
            let h = half(64 * c + j);
            *z = t[(h & 0xFFFF) as usize];
            tails |= u32::from(is_tail16(h));
        }
        if tails != 0 {
            fix_tails(zs, |j| half(64 * c + j), tail_rng);
        }
    }
}

/// [`normals_from_halves`] of the high halves of `words` (one word per number, as many as `out`
/// holds): the pulsed update's case, in loops with no index checks (the closure's indexing kept
/// them, and the loop's speed then moved with how the compiler happened to place the caller).
pub fn normals_from_high_halves<R: Rng + ?Sized>(out: &mut [f32], words: &[u32], tail_rng: &mut R) {
    let t = value_table();
    let n = out.len().min(words.len());
    for (zs, ws) in out[..n].chunks_mut(64).zip(words[..n].chunks(64)) {
        let mut tails = 0u32;
        for (z, &w) in zs.iter_mut().zip(ws) {
            let h = w >> 16;
            *z = t[h as usize];
            tails |= u32::from(is_tail16(h));
        }
        if tails != 0 {
            fix_tails(zs, |j| ws[j] >> 16, tail_rng);
        }
    }
}

/// [`normals_from_halves_and_tails`] of the high halves of `words` (see
/// [`normals_from_high_halves`]).
pub fn normals_from_high_halves_and_tails(
    out: &mut [f32],
    words: &[u32],
    tails: impl IntoIterator<Item = (u32, f32)>,
) {
    let t = value_table();
    for (z, &w) in out.iter_mut().zip(words) {
        *z = t[(w >> 16) as usize];
    }
    put_tails(out, tails);
}

/// The table part of a 16-bit normal number: bin `h >> 4`, position `h & 15` (tail bins give 0).
#[inline(always)]
fn interpolate16(h: u32, t: &[[f32; 2]; BINS]) -> f32 {
    let [lo, width] = t[(h >> 4) as usize & (BINS - 1)];
    lo + width * (((h & 0xF) as f32 + 0.5) * (1.0 / 16.0))
}

/// Whether 16-bit value `h` falls in a tail bin (k = 0 or k = BINS − 1: (k + 1) mod BINS < 2).
#[inline(always)]
fn is_tail16(h: u32) -> bool {
    ((h >> 4) + 1) & (BINS as u32 - 1) < 2
}

/// Replaces the numbers whose 16-bit value is in a tail bin by exact tail samples, in order.
#[cold]
fn fix_tails<R: Rng + ?Sized>(out: &mut [f32], half: impl Fn(usize) -> u32, tail_rng: &mut R) {
    let edge = tail_edge();
    for (i, z) in out.iter_mut().enumerate() {
        let h = half(i);
        if is_tail16(h) {
            let x = tail(edge, tail_rng) as f32;
            *z = if h >> 4 == 0 { -x } else { x };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The slice forms give the numbers of the closure forms (tails included, the tail generator
    /// left in the same state), for lengths that leave partial chunks and an odd number per word.
    #[test]
    fn slice_forms_equal_the_closure_forms() {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(3);
        for n in [1usize, 63, 64, 65, 1000, 2001] {
            let words: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
            let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
            let (mut ra, mut rb) = (rng.clone(), rng.clone());
            normals_from_high_halves(&mut a, &words, &mut ra);
            normals_from_halves(&mut b, |i| words[i] >> 16, &mut rb);
            assert_eq!(a, b, "high halves, n = {n}");
            assert_eq!(ra.next_u64(), rb.next_u64(), "tail draws, n = {n}");
            let tails = [(0u32, 9.0f32), (n as u32 - 1, -9.0)];
            normals_from_high_halves_and_tails(&mut a, &words, tails);
            normals_from_halves_and_tails(&mut b, |i| words[i] >> 16, tails);
            assert_eq!(a, b, "high halves and tails, n = {n}");
            let pairs = &words[..n.div_ceil(2)];
            normals_from_words(&mut a, pairs, tails);
            normals_from_halves_and_tails(&mut b, |i| (pairs[i >> 1] >> ((i & 1) * 16)) & 0xFFFF, tails);
            assert_eq!(a, b, "two numbers per word, n = {n}");
        }
    }

    /// The scalar reference of the 16-bit mapping, written out plainly: one standard normal number
    /// from 16 random bits (12-bit bin, 4-bit position).
    fn normal_from_bits16<R: Rng + ?Sized>(bits: u16, q: &[f32; BINS + 1], rng: &mut R) -> f32 {
        normal_in_bin(usize::from(bits >> 4), (f32::from(bits & 0xF) + 0.5) * (1.0 / 16.0), q, rng)
    }

    /// The value at position `frac` (0..1) inside equal-probability bin `k`; the two outer bins are
    /// sampled exactly from the Gaussian tail.
    fn normal_in_bin<R: Rng + ?Sized>(k: usize, frac: f32, q: &[f32; BINS + 1], rng: &mut R) -> f32 {
        if k == 0 {
            -tail(tail_edge(), rng) as f32
        } else if k == BINS - 1 {
            tail(tail_edge(), rng) as f32
        } else {
            q[k] + (q[k + 1] - q[k]) * frac
        }
    }

    #[test]
    fn table_holds_the_normal_quantiles() {
        let q = table();
        // Φ⁻¹(0.5) = 0, Φ⁻¹(0.75) = 0.6744898, Φ⁻¹(4000/4096) = 1.9874279, Φ⁻¹(1/4096) = −3.4871041
        // (Python's statistics.NormalDist().inv_cdf).
        assert!(q[BINS / 2].abs() < 1e-6);
        assert!((q[3 * BINS / 4] - 0.674_489_8).abs() < 1e-6, "{}", q[3 * BINS / 4]);
        assert!((q[4000] - 1.987_428).abs() < 2e-6, "{}", q[4000]);
        assert!((q[1] + 3.487_104).abs() < 1e-5, "{}", q[1]);
        assert!(q.windows(2).skip(1).take(BINS - 2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn lane_samples_match_the_scalar_formula_and_have_gaussian_moments_and_tails() {
        let mut parent = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(4);
        let mut lanes = crate::lane_rng::LaneRng::from_rng(&mut parent);
        let mut twin = lanes.clone();
        let mut tail_rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(5);
        let mut twin_tail = tail_rng.clone();
        let mut v = vec![0.0f32; 2_000_003];
        let mut bits = Vec::new();
        fill_standard_normal_lanes(&mut v, &mut lanes, &mut bits, &mut tail_rng);
        // The same words through the scalar formula give the same numbers (low half first).
        let mut words = vec![0u32; v.len().div_ceil(2)];
        twin.fill_u32(&mut words);
        let q = table();
        let halves = words.iter().flat_map(|&w| [w as u16, (w >> 16) as u16]);
        assert!(halves.zip(&v).all(|(h, &z)| normal_from_bits16(h, q, &mut twin_tail) == z));
        check_moments_and_tails(&v);
    }

    fn check_moments_and_tails(v: &[f32]) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
        let kurt = v.iter().map(|&x| (f64::from(x) - mean).powi(4)).sum::<f64>() / n / (var * var);
        assert!(mean.abs() < 3e-3, "mean {mean}");
        assert!((var - 1.0).abs() < 5e-3, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.03, "kurtosis {kurt}");
        // P(|z| > 3) = 0.0027 and P(|z| > 4) = 6.3e-5 for a Gaussian.
        let beyond = |t: f32| v.iter().filter(|x| x.abs() > t).count() as f64 / n;
        assert!((beyond(3.0) - 0.0027).abs() < 2.5e-4, "{}", beyond(3.0));
        assert!((beyond(4.0) - 6.33e-5).abs() < 2.5e-5, "{}", beyond(4.0));
    }
}
