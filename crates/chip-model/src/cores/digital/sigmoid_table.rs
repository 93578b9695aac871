//! The digital core's lookup table for the sigmoid neuron model's `σ(u) = 1/(1 + e^(−(4u − 2)))`.
//!
//! A microcoded neuron program (Loihi 2) has no exponential: it indexes a table with a shifted
//! drive and interpolates linearly between two entries. The table covers drives `u ∈ [−1.5, 2.5)`
//! with `2^index_bits` segments; its `2^index_bits + 1` entries are σ at the segments' ends, rounded
//! to `output_bits` of fraction and held in state units. Drives below or above the range take the
//! first or last entry. The lookup is exact integer arithmetic (a subtraction, a clamp, a shift and a
//! mask, two loads, a multiply and a shift), so every path gives the same numbers.
//!
//! Nearest-entry lookup was tried first: with 256 entries its steps of up to 0.016 are larger than
//! the change the nudge makes in a hidden neuron at β 0.1, and loihi2 training at the published
//! settings fell to 85 % on some seeds; interpolation keeps 256 entries within 3·10⁻⁴ of σ.

use crate::neuron_program::sigmoid_f64;
use crate::profile::DigitalArithmetic;

/// Lower end of the table's drive range, in real units.
pub const TABLE_LOW: f64 = -1.5;
/// Width of the table's drive range, in real units (a power of two).
pub const TABLE_WIDTH: f64 = 4.0;

/// σ as a table of state-unit values indexed by a shifted drive.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmoidTable {
    /// σ at the ends of the segments, in state units.
    entries: Vec<i64>,
    /// [`TABLE_LOW`] in state units.
    low: i64,
    /// log2 of a segment's width in state units.
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
        let entries = (0..=1u64 << k)
            .map(|i| {
                let edge = TABLE_LOW + i as f64 * bin;
                ((sigmoid_f64(edge) * out_one).round() as i64) << (sf - spec.output_bits)
            })
            .collect();
        Self { entries, low: (TABLE_LOW * one) as i64, shift: sf + 2 - k }
    }

    /// σ of a drive in state units, in state units: the segment's first entry plus the linear
    /// share of the step to the next one (rounded down).
    #[inline(always)]
    pub fn lookup(&self, u: i64) -> i64 {
        let segments = self.entries.len() as i64 - 1;
        let x = (u - self.low).clamp(0, (segments << self.shift) - 1);
        let i = (x >> self.shift) as usize;
        let (a, b) = (self.entries[i], self.entries[i + 1]);
        a + (((b - a) * (x & ((1 << self.shift) - 1))) >> self.shift)
    }

    /// [`SigmoidTable::lookup`] in i32 (the fused update; the same numbers).
    #[inline(always)]
    pub fn lookup_i32(&self, u: i32) -> i32 {
        self.lookup(i64::from(u)) as i32
    }

    /// Number of entries (segments + 1).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty (never, for a validated profile).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The largest difference between the table and σ over the table's range, in real units,
    /// sampled at `samples` evenly spaced drives (the table's resolution: the interpolation error
    /// `bin²·max|σ''|/8`, plus the output rounding and one state step).
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
        assert_eq!(t.len(), (1 << d.sigmoid_table.index_bits) + 1);
        // Linear interpolation: bin²·max|σ''|/8 (max |σ''| = 16/(6√3) ≈ 1.54), half an output step,
        // a state step of rounding down.
        let bin = TABLE_WIDTH / (t.len() - 1) as f64;
        let one = (1u64 << d.state_fraction_bits) as f64;
        let bound = bin * bin * 1.54 / 8.0 + 0.5 / (1u64 << d.sigmoid_table.output_bits) as f64 + 1.0 / one;
        let err = t.max_error(d.state_fraction_bits, 100_000);
        assert!(err <= bound, "error {err} above {bound}");
        // And not trivially small: a table this size cannot be exact.
        assert!(err > bound / 8.0, "error {err}");
        // Monotonic, as σ is.
        let mut last = i64::MIN;
        for k in -2 * one as i64..3 * one as i64 {
            let v = t.lookup(k);
            assert!(v >= last, "not monotonic at {k}");
            last = v;
        }
        let one = 1i64 << d.state_fraction_bits;
        assert_eq!(t.lookup(-100 * one), t.lookup(-2 * one));
        assert_eq!(t.lookup(100 * one), t.lookup(3 * one));
        assert!(t.lookup(one / 2 - 64) < one / 2 && t.lookup(one / 2 + 64) > one / 2);
    }
}
