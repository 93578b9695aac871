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
    /// The same table for the i32 lookup ([`SigmoidLookup32`]), when it has at most
    /// [`LOOKUP32_SEGMENTS`] segments and every intermediate fits i32.
    lookup32: Option<Box<Lookup32Table>>,
    /// The i32 lookup's table in vector registers (AVX-512), for tables of at most
    /// [`super::sigmoid_permute::PERMUTE_SEGMENTS`] segments.
    #[cfg(target_arch = "x86_64")]
    permute: Option<Box<super::sigmoid_permute::PermuteTable>>,
}

/// Most segments of a table the i32 lookup takes (a fixed size, so that indices need no checks).
pub const LOOKUP32_SEGMENTS: usize = 1 << 10;

/// Each segment's start and its rise to the next entry, padded to [`LOOKUP32_SEGMENTS`].
#[derive(Debug, Clone, PartialEq)]
struct Lookup32Table {
    start: [i32; LOOKUP32_SEGMENTS],
    rise: [i32; LOOKUP32_SEGMENTS],
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
        let (low, shift) = ((TABLE_LOW * one) as i64, sf + 2 - k);
        let entries: Vec<i64> = entries;
        let rises: Vec<i64> = entries.windows(2).map(|w| w[1] - w[0]).collect();
        // The i32 lookup computes `rise · fraction` with fraction < 2^shift, and `u − low` for drives
        // the fused update keeps below 2^28 in magnitude.
        let max_rise = rises.iter().map(|r| r.abs()).max().unwrap_or(0);
        let fits = (max_rise << shift) < i64::from(i32::MAX)
            && entries.iter().all(|e| e.abs() < 1 << 30)
            && low.abs() < 1 << 29
            && shift < 31;
        let lookup32 = (fits && rises.len() <= LOOKUP32_SEGMENTS).then(|| {
            let mut t =
                Box::new(Lookup32Table { start: [0; LOOKUP32_SEGMENTS], rise: [0; LOOKUP32_SEGMENTS] });
            for (k, (&e, &r)) in entries.iter().zip(&rises).enumerate() {
                (t.start[k], t.rise[k]) = (e as i32, r as i32);
            }
            t
        });
        #[cfg(target_arch = "x86_64")]
        let permute = lookup32.as_ref().and_then(|t| {
            let segments = rises.len();
            super::sigmoid_permute::PermuteTable::new(&t.start[..segments], &t.rise[..segments]).map(Box::new)
        });
        Self {
            entries,
            low,
            shift,
            lookup32,
            #[cfg(target_arch = "x86_64")]
            permute,
        }
    }

    /// The i32 lookup of this table, if its numbers fit (see [`SigmoidLookup32`]).
    pub(crate) fn lookup32(&self) -> Option<SigmoidLookup32<'_>> {
        let t = self.lookup32.as_deref()?;
        let segments = (self.entries.len() - 1) as i32;
        Some(SigmoidLookup32 {
            table: self,
            t,
            low: self.low as i32,
            shift: self.shift,
            top: (segments << self.shift) - 1,
        })
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
        match self.lookup32() {
            Some(l) => l.lookup(u),
            None => self.lookup(i64::from(u)) as i32,
        }
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

/// [`SigmoidTable::lookup`] in i32 arithmetic, for tables whose numbers fit (the same integers):
/// fixed-size arrays and a branch-free index let the fused neuron loop vectorise with gathers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SigmoidLookup32<'a> {
    /// The table (for the i64 lookup).
    pub table: &'a SigmoidTable,
    t: &'a Lookup32Table,
    low: i32,
    shift: u32,
    /// Largest offset from `low` inside the table.
    top: i32,
}

impl SigmoidLookup32<'_> {
    /// σ of drive `u` (state units).
    #[inline(always)]
    pub fn lookup(self, u: i32) -> i32 {
        let x = u.saturating_sub(self.low).clamp(0, self.top);
        let i = (x >> self.shift) as usize & (LOOKUP32_SEGMENTS - 1);
        self.t.start[i] + ((self.t.rise[i] * (x & ((1 << self.shift) - 1))) >> self.shift)
    }

    /// [`SigmoidLookup32::lookup`] of every drive of `u`, in place: sixteen at a time with
    /// register permutes on CPUs with AVX-512 (see [`super::sigmoid_permute`]), one by one
    /// elsewhere; the same integers.
    pub fn lookup_all(self, u: &mut [i32]) {
        if !self.lookup_all_vectorised(u) {
            for x in u.iter_mut() {
                *x = self.lookup(*x);
            }
        }
    }

    /// The vector part of [`SigmoidLookup32::lookup_all`]; false when it did nothing.
    fn lookup_all_vectorised(self, u: &mut [i32]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let Some(p) = &self.table.permute {
            let shape =
                super::sigmoid_permute::LookupShape { low: self.low, shift: self.shift, top: self.top };
            return p.lookup_all(u, shape);
        }
        let _ = u;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::HardwareProfile;

    #[test]
    fn the_i32_lookup_gives_the_same_integers() {
        let p = HardwareProfile::load("loihi2").expect("loihi2");
        let d = p.digital().expect("digital");
        let t = SigmoidTable::new(d);
        assert!(t.lookup32().is_some(), "loihi2's table should take the i32 lookup");
        let one = 1i32 << d.state_fraction_bits;
        let wide = [i32::MIN, i32::MIN + 1, -(1 << 28), (1 << 28) - 1, i32::MAX - 1, i32::MAX];
        for u in (-3 * one..4 * one).step_by(7).chain(wide) {
            assert_eq!(i64::from(t.lookup_i32(u)), t.lookup(i64::from(u)), "u = {u}");
        }
    }

    /// The vectorised lookup of every drive equals the scalar one, over the table's range, past
    /// both ends and at the i32 extremes, in slices whose lengths leave every remainder; on a CPU
    /// with AVX-512 the vector path must be the one that ran.
    #[test]
    fn looking_up_a_slice_gives_the_scalar_integers() {
        let p = HardwareProfile::load("loihi2").expect("loihi2");
        let d = p.digital().expect("digital");
        let t = SigmoidTable::new(d);
        let l = t.lookup32().expect("loihi2's table should take the i32 lookup");
        let one = 1i32 << d.state_fraction_bits;
        let wide = [i32::MIN, i32::MIN + 1, -(1 << 28), (1 << 28) - 1, i32::MAX - 1, i32::MAX];
        let drives: Vec<i32> = (-3 * one..4 * one).step_by(3).chain(wide).collect();
        for len in [drives.len(), 15, 16, 17, 33] {
            let mut u = drives[drives.len() - len..].to_vec();
            let expected: Vec<i32> = u.iter().map(|&x| l.lookup(x)).collect();
            l.lookup_all(&mut u);
            assert_eq!(u, expected, "slice of {len}");
        }
        #[cfg(target_arch = "x86_64")]
        if pulp::x86::V4::try_new().is_some() {
            assert!(
                l.lookup_all_vectorised(&mut [0; 20]),
                "AVX-512 here, but the permute lookup did not run"
            );
        }
    }

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
