//! Counter-based random numbers for stochastic rounding in the learning engine.
//!
//! The number used to round synapse (pre, post) at update `n` of synapse group `key` is a pure
//! function of those four integers. Results therefore do not depend on the order in which synapses are
//! visited or on the number of threads, and the mirrored (feedback) copy of a synapse can draw exactly
//! the same number as its forward twin.

/// A stateless generator: `uniform(key, counter, a, b)` is a uniform number in [0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundingNoise {
    seed: u64,
}

impl RoundingNoise {
    /// A generator for one chip instance.
    pub fn new(seed: u64) -> Self {
        Self { seed: mix(seed ^ 0x005e_ed0f_0001) }
    }

    /// The uniform number in [0, 1) for synapse `(a, b)` of group `key` at update `counter`.
    #[inline]
    pub fn uniform(&self, key: u64, counter: u64, a: u64, b: u64) -> f64 {
        (self.word(key, counter, a, mix(b)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn word(&self, key: u64, counter: u64, a: u64, mixed_b: u64) -> u64 {
        mix(self.seed ^ mix(key.wrapping_add(mix(counter ^ mix(a ^ mixed_b)))))
    }

    /// The number stochastic rounding uses for synapse `(a, b)` of group `key` at update
    /// `counter`: a uniform number on the grid `k / 2^16`, `k` in `0..2^16`. One 64-bit hash
    /// serves the four synapses `(a, 4c..4c + 4)` (16 bits each), so the learning engine draws one
    /// hash per four synapses, as a hardware engine would share a wide random word; the rounding
    /// bias this grid allows (< 2^-16 of a weight step) is far below a weight step.
    #[inline]
    pub fn rounding_uniform(&self, key: u64, counter: u64, a: u64, b: u64) -> f64 {
        Self::lane(self.rounding_word(key, counter, a, mix(b >> 2)), b)
    }

    /// The hash behind [`RoundingNoise::rounding_uniform`] for synapses `(a, 4c..4c + 4)`, with
    /// `mixed_c = mix(c)` computed by the caller.
    #[inline]
    pub fn rounding_word(&self, key: u64, counter: u64, a: u64, mixed_c: u64) -> u64 {
        self.word(key ^ 0x726f_756e_6431_3621, counter, a, mixed_c)
    }

    /// Synapse `b`'s 16-bit lane of a rounding word, as a uniform number in [0, 1).
    #[inline]
    pub fn lane(word: u64, b: u64) -> f64 {
        ((word >> (16 * (b & 3))) & 0xffff) as f64 * (1.0 / 65536.0)
    }
}

impl RoundingNoise {
    /// A standard normal number for synapse `(a, b)` of group `key` at update `counter`
    /// (Box–Muller on two uniforms derived from the same inputs).
    #[inline]
    pub fn normal(&self, key: u64, counter: u64, a: u64, b: u64) -> f64 {
        let u1 = self.uniform(key ^ 0x6e6f_726d_616c_0001, counter, a, b);
        let u2 = self.uniform(key ^ 0x6e6f_726d_616c_0002, counter, a, b);
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mixer.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_in_unit_interval_and_roughly_uniform() {
        let g = RoundingNoise::new(7);
        let mut buckets = [0usize; 10];
        for i in 0..100_000u64 {
            let u = g.uniform(3, 1, i, i / 7);
            assert!((0.0..1.0).contains(&u));
            buckets[(u * 10.0) as usize] += 1;
        }
        for b in buckets {
            assert!((9_500..10_500).contains(&b), "bucket {b}");
        }
    }

    #[test]
    fn normals_have_unit_variance() {
        let g = RoundingNoise::new(5);
        let n = 200_000u64;
        let xs: Vec<f64> = (0..n).map(|i| g.normal(9, 2, i, 1)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean} var {var}");
    }

    #[test]
    fn rounding_lanes_are_uniform_on_their_grid_and_shared_by_four_synapses() {
        let g = RoundingNoise::new(11);
        let mut buckets = [0usize; 16];
        for a in 0..500u64 {
            for b in 0..200u64 {
                let u = g.rounding_uniform(4, 9, a, b);
                assert!((0.0..1.0).contains(&u) && (u * 65536.0).fract() == 0.0);
                buckets[(u * 16.0) as usize] += 1;
                // The fast path: one word per four synapses, then the lane.
                let word = g.rounding_word(4, 9, a, mix(b / 4));
                assert_eq!(RoundingNoise::lane(word, b), u);
            }
        }
        for b in buckets {
            assert!((6_000..6_500).contains(&b), "bucket {b}");
        }
        // Neighbouring synapses of one word are not equal, and other counters give other words.
        assert_ne!(g.rounding_uniform(4, 9, 1, 0), g.rounding_uniform(4, 9, 1, 1));
        assert_ne!(g.rounding_uniform(4, 9, 1, 0), g.rounding_uniform(4, 10, 1, 0));
    }

    #[test]
    fn depends_on_every_input() {
        let g = RoundingNoise::new(1);
        let base = g.uniform(1, 2, 3, 4);
        assert_ne!(base, g.uniform(2, 2, 3, 4));
        assert_ne!(base, g.uniform(1, 3, 3, 4));
        assert_ne!(base, g.uniform(1, 2, 4, 4));
        assert_ne!(base, g.uniform(1, 2, 3, 5));
        assert_ne!(base, RoundingNoise::new(2).uniform(1, 2, 3, 4));
        assert_eq!(base, RoundingNoise::new(1).uniform(1, 2, 3, 4));
    }
}
