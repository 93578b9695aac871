//! A random-number generator whose steps vectorise: sixteen interleaved xoshiro128++ streams.
//!
//! Read noise needs about a million random words per mini-batch. One xoshiro256++ stream is a
//! serial chain of 64-bit operations; sixteen independent 32-bit xoshiro128++ streams kept in
//! lane-major arrays advance with the same shifts, rotations and additions on every lane, which the
//! compiler turns into SIMD instructions even on baseline x86-64 (SSE2). Each stream is seeded from
//! a parent generator (the chip's seeded noise stream), so results stay a pure function of the seed.

use rand::Rng;

/// Number of interleaved streams (16 lanes of 32 bits: four SSE2 vectors, which the compiler
/// vectorises; with 8 it keeps the lanes scalar).
pub const LANES: usize = 16;

/// Sixteen xoshiro128++ generators (Blackman and Vigna, 2018) advanced together.
#[derive(Debug, Clone)]
pub struct LaneRng {
    s: [[u32; LANES]; 4],
}

impl LaneRng {
    /// `LANES` streams seeded with two words each of `parent` (a stream whose state would be all
    /// zero, a fixed point of the generator, gets a constant instead).
    pub fn from_rng<R: Rng + ?Sized>(parent: &mut R) -> Self {
        let mut s = [[0u32; LANES]; 4];
        for lane in 0..LANES {
            let (a, b) = (parent.next_u64(), parent.next_u64());
            let mut words = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
            if words == [0; 4] {
                words = [0x9e37_79b9, 0x7f4a_7c15, 0xf39c_c060, 0x5ced_c834];
            }
            for (state, w) in s.iter_mut().zip(words) {
                state[lane] = w;
            }
        }
        Self { s }
    }

    /// The next word of every stream.
    #[inline(always)]
    pub fn next_lanes(&mut self) -> [u32; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u32; LANES];
        for l in 0..LANES {
            out[l] = s0[l].wrapping_add(s3[l]).rotate_left(7).wrapping_add(s0[l]);
            let t = s1[l] << 9;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(11);
        }
        out
    }

    /// Fills `out` with random words, `LANES` at a time (lane `l` of each step goes to
    /// `out[LANES·step + l]`; a final partial step uses its first lanes).
    pub fn fill_u32(&mut self, out: &mut [u32]) {
        crate::vector_isa::vectorised(Fill { rng: self, out });
    }

    /// [`LaneRng::fill_u32`] inlined into the caller's instruction set.
    #[inline(always)]
    fn fill_u32_inline(&mut self, out: &mut [u32]) {
        let mut chunks = out.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_lanes());
        }
        let rest = chunks.into_remainder();
        let n = rest.len();
        if n > 0 {
            rest.copy_from_slice(&self.next_lanes()[..n]);
        }
    }
}

/// [`LaneRng::fill_u32`] on the CPU's best vector instructions (AVX-512 rotates all sixteen lanes
/// in one register, where SSE2 needs four registers and two shifts per rotation).
struct Fill<'a> {
    rng: &'a mut LaneRng,
    out: &'a mut [u32],
}

impl pulp::WithSimd for Fill<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.rng.fill_u32_inline(self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// One xoshiro128++ step written out plainly, the reference for the lane-major version.
    fn reference_next(s: &mut [u32; 4]) -> u32 {
        let result = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
        let t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(11);
        result
    }

    #[test]
    fn every_lane_is_the_scalar_generator() {
        let mut parent = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(3);
        let mut lanes = LaneRng::from_rng(&mut parent.clone());
        let mut scalar: Vec<[u32; 4]> = (0..LANES)
            .map(|_| {
                let (a, b) = (parent.next_u64(), parent.next_u64());
                [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32]
            })
            .collect();
        for _ in 0..100 {
            let got = lanes.next_lanes();
            for (l, s) in scalar.iter_mut().enumerate() {
                assert_eq!(got[l], reference_next(s));
            }
        }
    }

    /// The filled words (on the CPU's best vector instructions) are the lanes' words step by step,
    /// a final partial step taking its first lanes.
    #[test]
    fn filled_words_are_the_lane_steps_in_order() {
        let mut parent = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(11);
        let mut lanes = LaneRng::from_rng(&mut parent);
        let mut twin = lanes.clone();
        let mut words = vec![0u32; 5 * LANES + 7];
        lanes.fill_u32(&mut words);
        let expected: Vec<u32> = (0..6).flat_map(|_| twin.next_lanes()).take(words.len()).collect();
        assert_eq!(words, expected);
        assert_eq!(lanes.next_lanes(), twin.next_lanes());
    }

    #[test]
    fn known_xoshiro128plusplus_output() {
        // The reference implementation's state (1, 2, 3, 4) gives 641, 1573767, 3222811527
        // (rand_xoshiro's Xoshiro128PlusPlus test vector).
        let mut s = [1u32, 2, 3, 4];
        assert_eq!(
            [reference_next(&mut s), reference_next(&mut s), reference_next(&mut s)],
            [641, 1_573_767, 3_222_811_527]
        );
    }

    #[test]
    fn words_are_uniform_in_every_bit() {
        let mut parent = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(9);
        let mut lanes = LaneRng::from_rng(&mut parent);
        let mut words = vec![0u32; 80_003];
        lanes.fill_u32(&mut words);
        for bit in 0..32 {
            let ones = words.iter().filter(|&&w| w >> bit & 1 == 1).count() as f64 / words.len() as f64;
            // 5 standard deviations of a fair coin over 80,003 draws is 0.0088.
            assert!((ones - 0.5).abs() < 0.0088, "bit {bit}: {ones}");
        }
        assert!(words.windows(2).filter(|w| w[0] == w[1]).count() < 3);
    }
}
