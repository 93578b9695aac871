//! Device mismatch: fixed random factors drawn once per chip instance.
//!
//! Every quantity on every core has its own ChaCha stream (seeded from the chip seed, the quantity and
//! the core index), so the factors on one core do not change when something unrelated changes
//! elsewhere on the chip. Within a core, the factor of neuron slot `k` is the `k`-th draw of its stream.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, LogNormal};

use crate::profile::MismatchSpec;
use crate::rounding_noise::mix;

/// Which mismatched quantity a stream draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchQuantity {
    /// Multiplier of a neuron's time constant.
    NeuronTau,
    /// Multiplier of a synapse's gain.
    SynapseGain,
    /// Multiplier of a neuron's input gain.
    NeuronGain,
    /// Additive offset of a neuron's input (a normal draw, not a factor).
    NeuronOffset,
    /// Draws that shape a device's update behaviour and faults (standard normals or uniforms).
    Device,
}

/// Draws the realised device factors of one chip instance.
#[derive(Debug, Clone)]
pub struct MismatchSampler {
    seed: u64,
    spec: MismatchSpec,
}

impl MismatchSampler {
    /// A sampler for the chip instance with this seed.
    pub fn new(spec: MismatchSpec, seed: u64) -> Self {
        Self { seed, spec }
    }

    /// The spread (coefficient of variation) of a quantity.
    pub fn spread(&self, quantity: MismatchQuantity) -> f64 {
        match quantity {
            MismatchQuantity::NeuronTau => self.spec.tau_spread,
            MismatchQuantity::SynapseGain => self.spec.synapse_gain_spread,
            MismatchQuantity::NeuronGain => self.spec.neuron_gain_spread,
            MismatchQuantity::NeuronOffset => self.spec.neuron_offset_spread,
            MismatchQuantity::Device => 1.0,
        }
    }

    /// Factors for slots `first .. first + n` of `core`'s stream of `quantity` (all 1 without spread).
    ///
    /// `substream` separates several arrays of the same quantity on one core (e.g. synapse groups).
    pub fn factors(
        &self,
        quantity: MismatchQuantity,
        core: usize,
        substream: u64,
        first: usize,
        n: usize,
    ) -> Vec<f32> {
        let cv = self.spread(quantity);
        if cv <= 0.0 {
            return vec![1.0; n];
        }
        let sigma2 = (1.0 + cv * cv).ln();
        let Ok(dist) = LogNormal::new(-sigma2 / 2.0, sigma2.sqrt()) else {
            return vec![1.0; n];
        };
        let mut rng = self.stream(quantity, core, substream);
        for _ in 0..first {
            let _: f64 = dist.sample(&mut rng);
        }
        (0..n).map(|_| dist.sample(&mut rng) as f32).collect()
    }

    /// `n` draws of `dist` from `core`'s stream of `quantity` (slot-addressed like [`Self::factors`]).
    pub fn draws<D: Distribution<f64>>(
        &self,
        quantity: MismatchQuantity,
        core: usize,
        substream: u64,
        n: usize,
        dist: D,
    ) -> Vec<f32> {
        let mut rng = self.stream(quantity, core, substream);
        (0..n).map(|_| dist.sample(&mut rng) as f32).collect()
    }

    fn stream(&self, quantity: MismatchQuantity, core: usize, substream: u64) -> ChaCha12Rng {
        let tag = match quantity {
            MismatchQuantity::NeuronTau => 1u64,
            MismatchQuantity::SynapseGain => 2u64,
            MismatchQuantity::NeuronGain => 3u64,
            MismatchQuantity::NeuronOffset => 4u64,
            MismatchQuantity::Device => 5u64,
        };
        let mut rng = ChaCha12Rng::seed_from_u64(mix(self.seed ^ mix(tag ^ mix(substream))));
        rng.set_stream(core as u64);
        rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(tau: f64) -> MismatchSpec {
        MismatchSpec { tau_spread: tau, ..MismatchSpec::default() }
    }

    #[test]
    fn zero_spread_gives_ones() {
        let s = MismatchSampler::new(spec(0.0), 3);
        assert!(s.factors(MismatchQuantity::NeuronTau, 0, 0, 0, 10).iter().all(|&f| f == 1.0));
    }

    #[test]
    fn lognormal_factors_have_mean_one_and_the_requested_spread() {
        let s = MismatchSampler::new(spec(0.2), 3);
        let f = s.factors(MismatchQuantity::NeuronTau, 5, 0, 0, 50_000);
        let mean = f.iter().map(|&x| f64::from(x)).sum::<f64>() / f.len() as f64;
        let var = f.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / f.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.2).abs() < 0.01, "sd {}", var.sqrt());
    }

    #[test]
    fn streams_are_per_core_and_slot_addressable() {
        let s = MismatchSampler::new(spec(0.3), 9);
        let all = s.factors(MismatchQuantity::NeuronTau, 2, 0, 0, 20);
        let tail = s.factors(MismatchQuantity::NeuronTau, 2, 0, 5, 15);
        assert_eq!(&all[5..], &tail[..]);
        let other = s.factors(MismatchQuantity::NeuronTau, 3, 0, 0, 20);
        assert_ne!(all, other);
        let again = MismatchSampler::new(spec(0.3), 9).factors(MismatchQuantity::NeuronTau, 2, 0, 0, 20);
        assert_eq!(all, again);
    }
}
