//! Fixed-point helpers shared by the fast and the reference paths of the digital core.
//!
//! Every function here is exact integer arithmetic; the fast path and the scalar reference call the
//! same functions, which is what makes them agree bit for bit.

/// Multiplies `x` by `2^-shift`, rounding half up (toward +∞). A negative shift is a left shift.
#[inline]
pub fn round_shift(x: i64, shift: i32) -> i64 {
    if shift <= 0 {
        x << (-shift).min(62)
    } else if shift >= 63 {
        0
    } else {
        (x + (1i64 << (shift - 1))) >> shift
    }
}

/// Rounds to the nearest integer, ties to even, without a library call on baseline x86-64.
///
/// Adding and subtracting 1.5·2^23 leaves exactly the rounded value for |x| < 2^22 (the sum has no
/// fraction bits left); larger magnitudes take the library path.
#[inline]
pub fn round_even_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    if x.abs() < 4_194_304.0 { (x + MAGIC) - MAGIC } else { x.round_ties_even() }
}

/// Quantises `x` to a grid of `step` clamped to `[lo, hi]` steps (|lo|, |hi| ≤ 2^22), rounding
/// half to even, branch-free so that loops over it vectorise.
#[inline(always)]
pub fn quantise_clamped(x: f32, step: f32, lo: f32, hi: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    // A multiplication by the reciprocal (hoisted out of loops) instead of a division per value:
    // a value within an ulp of a half step may round the other way, which no converter resolves.
    (((x * (1.0 / step)).clamp(lo, hi) + MAGIC) - MAGIC) * step
}

/// Clamps `x` to the range of a signed integer of `bits` bits (sign included).
#[inline]
pub fn saturate_signed(x: i64, bits: u32) -> i64 {
    let hi = (1i64 << (bits - 1)) - 1;
    x.clamp(-hi - 1, hi)
}

/// The largest magnitude of a symmetric signed mantissa of `bits` bits: `2^(bits−1) − 1`.
#[inline]
pub fn max_signed_magnitude(bits: u32) -> i64 {
    (1i64 << (bits - 1)) - 1
}

/// Largest unsigned value of `bits` bits.
#[inline]
pub fn max_unsigned(bits: u32) -> i64 {
    (1i64 << bits) - 1
}

/// Quantises a value in [0, 1] to an unsigned integer of `bits` bits: `min(round(x·2^bits), 2^bits − 1)`.
#[inline]
pub fn quantise_unit(x: f32, bits: u32) -> i64 {
    let y = f64::from(x.clamp(0.0, 1.0)) * (1u64 << bits) as f64;
    // y ≥ 0 is an f32 times a power of two (at most 24 significant bits), so y + 0.5 is exact and
    // truncating it rounds half away from zero like `y.round()`, which is a library call on
    // baseline x86-64 (a digital chip's input conversion was a tenth of its serial work).
    let scaled = (y + 0.5) as i64;
    scaled.min(max_unsigned(bits))
}

/// [`quantise_unit`] of every value of `values` into `out` (as exact f32 integers), in a loop that
/// vectorises on the CPU's best instructions (a digital chip's input conversion, once per batch).
pub fn quantise_units_into(values: &[f32], out: &mut [f32], bits: u32) {
    crate::vector_isa::vectorised(QuantiseUnits { values, out, bits });
}

struct QuantiseUnits<'a> {
    values: &'a [f32],
    out: &'a mut [f32],
    bits: u32,
}

impl pulp::WithSimd for QuantiseUnits<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let scale = (1u64 << self.bits) as f64;
        let top = max_unsigned(self.bits) as f64;
        for (o, &x) in self.out.iter_mut().zip(self.values) {
            // NaN gives 0, as in `quantise_unit`; y + 0.5 is exact (see there), and its floor
            // is the truncation for y ≥ 0.
            let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
            let y = f64::from(x) * scale;
            *o = (y + 0.5).floor().min(top) as f32;
        }
    }
}

/// Rounds `x` (in units of the target grid) to an integer with the given rounding mode; `u` is a
/// uniform number in [0, 1) used only by stochastic rounding.
///
/// The same numbers as `x.round()`, `x.trunc()` and `x.floor()` (for `|x| < 2^63`), computed from a
/// truncating conversion: on baseline x86-64 (no SSE4.1) the `f64` rounding methods are library
/// calls, and this runs once per synapse update.
#[inline]
pub fn round_to_grid(x: f64, mode: crate::profile::Rounding, u: f64) -> i64 {
    use crate::profile::Rounding;
    let t = x as i64;
    match mode {
        Rounding::Nearest => {
            // x − trunc(x) is exact: for |x| ≥ 2^52 x is an integer and the difference is 0.
            let frac = x - t as f64;
            t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
        }
        Rounding::Truncate => t,
        Rounding::Stochastic => {
            // Branch-free: the signs of learning updates are random, so a branch would mispredict.
            let floor = t - i64::from(t as f64 > x);
            floor + i64::from(u < x - floor as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Rounding;

    #[test]
    fn round_to_grid_matches_the_std_rounding_functions() {
        // The fast path against f64::round / trunc / floor, on halves, near-halves, negatives,
        // tiny and huge values.
        let mut xs =
            vec![0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994];
        xs.extend([1e-300, -1e-300, 4503599627370495.5, -4503599627370495.5, 9.007199254740993e15, -3e18]);
        let mut z = 12345u64;
        for _ in 0..100_000 {
            z = z.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mag = 10f64.powi((z >> 60) as i32 - 4);
            xs.push(((z >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * mag);
        }
        for &x in &xs {
            assert_eq!(round_to_grid(x, Rounding::Nearest, 0.0), x.round() as i64, "round {x}");
            assert_eq!(round_to_grid(x, Rounding::Truncate, 0.0), x.trunc() as i64, "trunc {x}");
            for u in [0.0, 0.25, 0.5, 0.999] {
                let want = x.floor() as i64 + i64::from(u < x - x.floor());
                assert_eq!(round_to_grid(x, Rounding::Stochastic, u), want, "stochastic {x} {u}");
            }
        }
    }

    #[test]
    fn round_shift_rounds_half_up_and_shifts_left_for_negative() {
        assert_eq!(round_shift(5, 1), 3); // 2.5 -> 3
        assert_eq!(round_shift(-5, 1), -2); // -2.5 -> -2 (half up)
        assert_eq!(round_shift(7, 2), 2); // 1.75 -> 2
        assert_eq!(round_shift(3, -2), 12);
        assert_eq!(round_shift(-4096 * 3, 12), -3);
    }

    #[test]
    fn round_even_matches_the_library() {
        for k in -100_000..100_000 {
            let x = k as f32 * 0.013_7;
            assert_eq!(round_even_f32(x), x.round_ties_even(), "{x}");
        }
        for x in [0.5f32, 1.5, 2.5, -0.5, -1.5, 8_388_607.5, 1e9, -3e7] {
            assert_eq!(round_even_f32(x), x.round_ties_even(), "{x}");
        }
    }

    #[test]
    fn saturation_and_ranges() {
        assert_eq!(saturate_signed(1 << 30, 22), (1 << 21) - 1);
        assert_eq!(saturate_signed(-(1 << 30), 22), -(1 << 21));
        assert_eq!(max_signed_magnitude(8), 127);
        assert_eq!(quantise_unit(1.0, 8), 255);
        assert_eq!(quantise_unit(0.5, 8), 128);
        assert_eq!(quantise_unit(-3.0, 8), 0);
    }

    /// The truncating conversion gives `round`'s integers for every f32 in [0, 1] near a half step
    /// (the ties and their neighbours) and on a fine grid, for several widths.
    #[test]
    fn unit_quantisation_rounds_like_round() {
        let round = |x: f32, bits: u32| {
            ((f64::from(x.clamp(0.0, 1.0)) * (1u64 << bits) as f64).round() as i64).min(max_unsigned(bits))
        };
        for bits in [1, 4, 8, 12, 16, 24] {
            let steps = 1u64 << bits.min(12);
            for k in 0..=2 * steps {
                let tie = (k as f64 / (2 * steps) as f64) as f32;
                for x in [tie, tie.next_down(), tie.next_up()] {
                    assert_eq!(quantise_unit(x, bits), round(x, bits), "x = {x:e}, {bits} bits");
                }
            }
            for k in 0..=100_000u32 {
                let x = k as f32 / 100_000.0;
                assert_eq!(quantise_unit(x, bits), round(x, bits), "x = {x:e}, {bits} bits");
            }
        }
        assert_eq!(quantise_unit(f32::NAN, 8), round(f32::NAN, 8));
        // The vectorised conversion of many values gives the same integers.
        let xs: Vec<f32> = (0..=70_000u32)
            .map(|k| k as f32 / 65_536.0 - 0.03)
            .chain([f32::NAN, f32::INFINITY, -f32::INFINITY, 0.5f32.next_down(), 1.0f32.next_down()])
            .collect();
        for bits in [1, 8, 16] {
            let mut out = vec![0.0f32; xs.len()];
            quantise_units_into(&xs, &mut out, bits);
            for (&x, &o) in xs.iter().zip(&out) {
                assert_eq!(o, quantise_unit(x, bits) as f32, "x = {x:e}, {bits} bits");
            }
        }
    }

    #[test]
    fn stochastic_rounding_is_unbiased_and_bounded() {
        let x = 2.3;
        let mut sum = 0i64;
        let n = 10_000;
        for k in 0..n {
            let u = (k as f64 + 0.5) / n as f64;
            let r = round_to_grid(x, Rounding::Stochastic, u);
            assert!(r == 2 || r == 3);
            sum += r;
        }
        let mean = sum as f64 / n as f64;
        assert!((mean - x).abs() < 1e-3, "mean {mean}");
        assert_eq!(round_to_grid(-2.7, Rounding::Truncate, 0.0), -2);
        assert_eq!(round_to_grid(-2.5, Rounding::Nearest, 0.0), -3);
    }
}
