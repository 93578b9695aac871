//! Independent seeds for every random quantity of a run, derived from the one run seed.

use chip_model::rounding_noise::mix;

/// What a derived seed is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedPurpose {
    /// The chip instance (device mismatch, stochastic rounding).
    Chip = 1,
    /// Weight initialisation.
    Init = 2,
    /// Per-neuron time constants.
    Tau = 3,
    /// Order of training examples.
    Shuffle = 4,
    /// Signs of β.
    BetaSign = 5,
}

/// The seed for `purpose` in the run seeded with `seed`.
pub fn derive_seed(seed: u64, purpose: SeedPurpose) -> u64 {
    mix(mix(seed) ^ (purpose as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
