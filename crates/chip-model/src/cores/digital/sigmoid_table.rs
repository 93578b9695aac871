//! The digital core's lookup table for the sigmoid neuron model's `σ(u) = 1/(1 + e^(−(4u − 2)))`.
//!
//! A microcoded neuron program (Loihi 2) has no exponential: it indexes a table with a shifted
//! drive. The table covers drives `u ∈ [−1.5, 2.5)` with `2^index_bits` bins; bin `i` holds σ at its
//! centre, rounded to `output_bits` of fraction and held in state units. Drives below or above the
//! range take the first or last entry. The lookup is exact integer arithmetic (a subtraction, an
//! arithmetic shift, a clamp and a load), so every path gives the same numbers.

use crate::neuron_program::sigmoid_f64;
use crate::profile::DigitalArithmetic;

/// Lower end of the table's drive range, in real units.
pub const TABLE_LOW: f64 = -1.5;
/// Width of the table's drive range, in real units (a power of two).
pub const TABLE_WIDTH: f64 = 4.0;

/// σ as a table of state-unit values indexed by a shifted drive.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmoidTable {
    /// σ at each bin's centre, in state units.
    entries: Vec<i64>,
    /// [`TABLE_LOW`] in state units.
    low: i64,
    /// log2 of a bin's width in state units.
    shift: u32,
}

impl SigmoidTable {
    /// The table of a digital core's formats (`sigmoid_table` and `state_fraction_bits`).
    pub fn new(d: &DigitalArithmetic) -> Self {
        let (sf, spec) = (d.state_fraction_bits, d.sigmoid_table);
        let k = spec.index_bits;
        let one = (1u64 << sf) as f64;
        let bin = TABLE_WIDTH / (1u64 << k) as f64;
        let out_one = (1u64 << spec.output_bits) as f64;
        let entries = (0..1u64 << k)
            .map(|i| {
                let centre = TABLE_LOW + (i as f64 + 0.5) * bin;
                ((sigmoid_f64(centre) * out_one).round() as i64) << (sf - spec.output_bits)
            })
            .collect();
        Self { entries, low: (TABLE_LOW * one) as i64, shift: sf + 2 - k }
    }

    /// σ of a drive in state units, in state units.
    #[inline(always)]
    pub fn lookup(&self, u: i64) -> i64 {
        let last = self.entries.len() as i64 - 1;
        self.entries[((u - self.low) >> self.shift).clamp(0, last) as usize]
    }

    /// [`SigmoidTable::lookup`] in i32 (the fused update; the same numbers).
    #[inline(always)]
    pub fn lookup_i32(&self, u: i32) -> i32 {
        self.lookup(i64::from(u)) as i32
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty (never, for a validated profile).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The largest difference between the table and σ over the table's range, in real units,
    /// sampled at `samples` evenly spaced drives (the table's resolution: half a bin of slope at
    /// most 1, plus the output rounding).
    pub fn max_error(&self, state_fraction_bits: u32, samples: usize) -> f64 {
        let one = (1u64 << state_fraction_bits) as f64;
        (0..samples)
            .map(|s| {
                let u = TABLE_LOW + TABLE_WIDTH * s as f64 / samples as f64;
                let units = (u * one).floor() as i64;
                (self.lookup(units) as f64 / one - sigmoid_f64(units as f64 / one)).abs()
            })
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::HardwareProfile;

    #[test]
    fn table_follows_sigmoid_within_its_resolution() {
        let p = HardwareProfile::load("loihi2").expect("loihi2");
        let d = p.digital().expect("digital");
        let t = SigmoidTable::new(d);
        assert_eq!(t.len(), 1 << d.sigmoid_table.index_bits);
        // Half a bin at slope ≤ 1 plus half an output step.
        let bin = TABLE_WIDTH / t.len() as f64;
        let bound = bin / 2.0 + 0.5 / (1u64 << d.sigmoid_table.output_bits) as f64 + 1e-9;
        let err = t.max_error(d.state_fraction_bits, 100_000);
        assert!(err <= bound, "error {err} above {bound}");
        // And not trivially small: a table this size cannot be exact.
        assert!(err > bound / 4.0, "error {err}");
        let one = 1i64 << d.state_fraction_bits;
        assert_eq!(t.lookup(-100 * one), t.lookup(-2 * one));
        assert_eq!(t.lookup(100 * one), t.lookup(3 * one));
        assert!(t.lookup(one / 2 - 1) < one / 2 && t.lookup(one / 2) > one / 2);
    }
}
