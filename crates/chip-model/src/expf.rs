//! `e^x` in f32 that vectorises, with the numbers of glibc's `expf` on x86-64 CPUs with FMA.
//!
//! The float profiles' sigmoid model takes one exponential per neuron and step. Rust's `f32::exp`
//! calls the platform's libm, one scalar call per value, which no compiler vectorises, and whose
//! last bit depends on the platform (glibc, musl, macOS, and on x86-64 glibc's FMA or non-FMA
//! variant). [`expf`] is plain arithmetic: the method of glibc's `expf` since 2.28 (Szabolcs Nagy's,
//! from Arm's optimized-routines: `x·32/ln 2 = k + r`, `e^x = 2^(k/32) · p(r)` with a 32-entry table
//! of `2^(i/32)` and a cubic in double precision), with the fused multiply-adds that glibc's FMA
//! variant (`__expf_fma`, the one every CPU with FMA runs) makes. It gives the same bits as that
//! libm on every input (tested over the whole range where the result is neither 0 nor infinite),
//! so the float profiles' numbers did not change when the sigmoid moved to it, and they are now
//! the same on every platform (`f64::mul_add` is exactly rounded everywhere; without FMA
//! instructions it is a slow library call, never a different number).
//!
//! Called inside a function compiled for AVX2 / AVX-512 ([`crate::vector_isa`]), a loop over
//! [`expf`] vectorises: eight or sixteen lanes of double-precision fused multiply-adds and a
//! gathered table read.

/// `2^(i/32)` rounded to the nearest double, as bits, minus `i << 47` (so that adding `k << 47`
/// for an integer `k` with `k mod 32 = i` gives `2^(k/32)`). Computed with 60-digit decimal
/// arithmetic; the test checks each entry against `f64::exp2`.
const TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

/// `32 / ln 2` (the method's constant, as glibc rounds it).
const INV_LN2_32: u64 = 0x40471547652b82fe;
/// `1.5 · 2^52`: adding it rounds a double to an integer held in the low mantissa bits.
const SHIFT: u64 = 0x4338000000000000;
/// The cubic's coefficients, highest order first, for `r` in units of 1/32 (the method's constants).
const POLY: [u64; 3] = [0x3ebc6af84b912394, 0x3f2ebfce50fac4f3, 0x3f962e42ff0c52d6];
/// Above this `e^x` overflows f32 (`log(2^128)` rounded down).
const OVERFLOW_ABOVE: u32 = 0x42b17217;
/// Below this `e^x` is below half the smallest subnormal (`log(2^-150)`).
const ZERO_BELOW: u32 = 0xc2cff1b4;
/// Below this (and above [`ZERO_BELOW`]) glibc returns the smallest subnormal directly.
const TINY_BELOW: u32 = 0xc2ce8ecf;

/// `e^x` with glibc's bits on x86-64 with FMA (see the module notes), for every `x`: infinity above
/// about 88.72, zero below about −103.97, NaN for NaN.
#[inline(always)]
pub fn expf(x: f32) -> f32 {
    let inv_ln2_32 = f64::from_bits(INV_LN2_32);
    let shift = f64::from_bits(SHIFT);
    let [c0, c1, c2] = POLY.map(f64::from_bits);
    let xd = f64::from(x);
    // x·32/ln 2 = k + r, k an integer (in the low bits of `shifted`), |r| ≤ 1/2.
    let shifted = inv_ln2_32.mul_add(xd, shift);
    let bits = shifted.to_bits();
    let k = shifted - shift;
    let r = inv_ln2_32.mul_add(xd, -k);
    // 2^(k/32) from the table entry of k mod 32 and k / 32 added to the exponent.
    let scale = f64::from_bits(TABLE[(bits & 31) as usize].wrapping_add(bits << 47));
    let high = r.mul_add(c0, c1);
    let low = r.mul_add(c2, 1.0);
    let main = (high.mul_add(r * r, low) * scale) as f32;
    let main = if x < f32::from_bits(TINY_BELOW) { f32::from_bits(1) } else { main };
    let main = if x < f32::from_bits(ZERO_BELOW) { 0.0 } else { main };
    let main = if x > f32::from_bits(OVERFLOW_ABOVE) { f32::INFINITY } else { main };
    if x.is_nan() { x + x } else { main }
}

/// [`expf`] of every value in place, compiled for the CPU's best vector instructions.
pub fn expf_in_place(values: &mut [f32]) {
    crate::vector_isa::vectorised(InPlace(values));
}

struct InPlace<'a>(&'a mut [f32]);

impl pulp::WithSimd for InPlace<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for x in self.0.iter_mut() {
            *x = expf(*x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `stride`-th f32 from −104 to 89 (where `e^x` is neither 0 nor infinite), through the
    /// vectorised loop, against the platform's `f32::exp`; the number compared.
    fn compare_with_libm(stride: usize) -> usize {
        let ranges = [0u32..0x42b2_0000, 0x8000_0000..0xc2d0_0000];
        let mut compared = 0;
        let (mut chunk, mut batch) = (Vec::with_capacity(1 << 16), Vec::with_capacity(1 << 16));
        for range in ranges {
            let mut all = range.step_by(stride);
            loop {
                chunk.clear();
                chunk.extend(all.by_ref().take(1 << 16));
                if chunk.is_empty() {
                    break;
                }
                batch.clear();
                batch.extend(chunk.iter().map(|&b| f32::from_bits(b)));
                expf_in_place(&mut batch);
                for (&b, &got) in chunk.iter().zip(&batch) {
                    let want = f32::from_bits(b).exp();
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "expf({:e}) = {got:e}, libm {want:e}",
                        f32::from_bits(b)
                    );
                }
                compared += chunk.len();
            }
        }
        compared
    }

    /// The same bits as glibc's `expf` (its FMA variant, which every x86-64 CPU with FMA runs),
    /// on every 13th f32 of the range.
    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    fn same_bits_as_glibc() {
        if !std::arch::is_x86_feature_detected!("fma") {
            return;
        }
        assert!(compare_with_libm(13) > 150_000_000);
    }

    /// All 2.2 billion f32 of the range (7 s on the machine of docs/performance.md:
    /// `cargo test --release -p chip-model --lib -- --ignored every_f32`).
    #[test]
    #[ignore = "7 s; run by hand when the exponential changes"]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    fn same_bits_as_glibc_on_every_f32() {
        assert!(std::arch::is_x86_feature_detected!("fma"), "glibc's FMA variant needs an FMA CPU");
        assert!(compare_with_libm(1) > 2_000_000_000);
    }

    /// Each table entry is `2^(i/32)` to within the last bit of `f64::exp2` (catches a mistyped
    /// entry; the comparison with libm checks the exact rounding).
    #[test]
    fn table_holds_powers_of_two() {
        for (i, &entry) in TABLE.iter().enumerate() {
            let value = f64::from_bits(entry + ((i as u64) << 47));
            let exact = (i as f64 / 32.0).exp2();
            assert!((value - exact).abs() <= f64::EPSILON * exact, "entry {i}: {value} vs {exact}");
        }
    }

    /// The edges of the range and the special values.
    #[test]
    fn special_values() {
        assert_eq!(expf(0.0), 1.0);
        assert_eq!(expf(-0.0), 1.0);
        assert_eq!(expf(f32::INFINITY), f32::INFINITY);
        assert_eq!(expf(f32::NEG_INFINITY), 0.0);
        assert!(expf(f32::NAN).is_nan());
        assert_eq!(expf(89.0), f32::INFINITY);
        assert!(expf(88.7).is_finite());
        assert_eq!(expf(-104.0), 0.0);
        assert_eq!(expf(-103.5), f32::from_bits(1));
        assert_eq!(expf(1.0), std::f32::consts::E);
    }

    /// Within one unit in the last place of the f64 exponential everywhere, whatever the platform.
    #[test]
    fn accurate_to_one_ulp() {
        let mut bits = 0u32;
        while bits < u32::MAX - 9973 {
            let x = f32::from_bits(bits);
            bits += 9973;
            if !(-87.0..88.0).contains(&x) {
                continue;
            }
            let exact = f64::from(x).exp();
            let got = f64::from(expf(x));
            let ulp = f64::from(f32::from_bits((exact as f32).to_bits() + 1)) - f64::from(exact as f32);
            assert!((got - exact).abs() <= ulp, "expf({x}) = {got}, exact {exact}");
        }
    }
}
