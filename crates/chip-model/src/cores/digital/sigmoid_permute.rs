//! The sigmoid table's i32 lookup on AVX-512, with register permutes in place of loads.
//!
//! A scalar lookup costs two dependent loads per neuron and step and kept the sigmoid model at
//! about 70 % of the clip model's speed on loihi2. Compilers do not turn the loads into gathers
//! here, and gathers are slow on many x86-64 cores anyway. A table of at most 256 segments, each
//! segment's start and rise packed into one i32, fits in sixteen 512-bit registers: `vpermt2d`
//! picks an entry out of 32 for sixteen neurons at once, and a blend per group of 32 keeps the
//! right one. The integers are those of [`super::sigmoid_table::SigmoidLookup32::lookup`]; the
//! tests compare every drive of the table's range and the i32 extremes.

use core::arch::x86_64::__m512i;

use pulp::x86::V4;

/// Most segments the permute lookup takes (eight groups of 32 entries).
pub(crate) const PERMUTE_SEGMENTS: usize = 256;

/// Neurons per vector.
const LANES: usize = 16;

/// Each segment's start and its rise to the next entry packed as `start + rise·2^START_BITS`,
/// sixteen entries per register (zero past the last segment, which no clamped drive reaches).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PermuteTable {
    packed: [[i32; LANES]; PERMUTE_SEGMENTS / LANES],
    /// Groups of 32 entries in use.
    groups: usize,
}

/// Bits of a packed entry that hold the segment's start (σ in state units: at most 2^state
/// fraction bits; the rise, at most a segment's width times σ's slope of 1, takes the rest).
const START_BITS: u32 = 20;

/// The scalars of the lookup: `x = clamp(u − low, 0, top)`, segment `x >> shift`, fraction
/// `x mod 2^shift`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LookupShape {
    pub low: i32,
    pub shift: u32,
    pub top: i32,
}

impl PermuteTable {
    /// The table of segments `start` and `rise` (of one length), if it has at most
    /// [`PERMUTE_SEGMENTS`] segments and every start and rise packs (`0 ≤ start < 2^20`,
    /// `0 ≤ rise < 2^11`: σ's table rises monotonically).
    pub fn new(start: &[i32], rise: &[i32]) -> Option<Self> {
        let packs =
            |s: i32, r: i32| (0..1 << START_BITS).contains(&s) && (0..1 << (31 - START_BITS)).contains(&r);
        if start.len() > PERMUTE_SEGMENTS
            || rise.len() != start.len()
            || !start.iter().zip(rise).all(|(&s, &r)| packs(s, r))
        {
            return None;
        }
        let mut t =
            Self { packed: [[0; LANES]; PERMUTE_SEGMENTS / LANES], groups: start.len().div_ceil(2 * LANES) };
        for (k, (&s, &r)) in start.iter().zip(rise).enumerate() {
            t.packed[k / LANES][k % LANES] = s | (r << START_BITS);
        }
        Some(t)
    }

    /// Start and rise of segment `k`.
    #[inline(always)]
    fn entry(&self, k: usize) -> (i32, i32) {
        unpack(self.packed[k / LANES][k % LANES])
    }

    /// Replaces every drive of `u` by its σ from the table; returns false, and changes nothing,
    /// when the CPU has no AVX-512.
    pub fn lookup_all(&self, u: &mut [i32], shape: LookupShape) -> bool {
        match V4::try_new() {
            Some(simd) => {
                pulp::Simd::vectorize(simd, Lookup { simd, table: self, u, shape });
                true
            }
            None => false,
        }
    }
}

/// A packed entry's segment start and rise.
#[inline(always)]
fn unpack(p: i32) -> (i32, i32) {
    (p & ((1 << START_BITS) - 1), p >> START_BITS)
}

/// One call of [`PermuteTable::lookup_all`].
struct Lookup<'a> {
    simd: V4,
    table: &'a PermuteTable,
    u: &'a mut [i32],
    shape: LookupShape,
}

impl pulp::WithSimd for Lookup<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Lookup { simd, table, u, shape } = self;
        let LookupShape { low, shift, top } = shape;
        let avx = simd.avx512f;
        let packed: [__m512i; PERMUTE_SEGMENTS / LANES] = pulp::cast(table.packed);
        let fraction_mask = (1i32 << shift) - 1;
        let mut chunks = u.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            let (mut segment, mut fraction) = ([0i32; LANES], [0i32; LANES]);
            for l in 0..LANES {
                let x = chunk[l].saturating_sub(low).clamp(0, top);
                (segment[l], fraction[l]) = (x >> shift, x & fraction_mask);
            }
            let index: __m512i = pulp::cast(segment);
            // Entries 32g .. 32g + 31 are registers 2g and 2g + 1; the permute reads the low five
            // bits of the segment, the blend keeps lanes whose segment is in group g.
            let group = avx._mm512_srai_epi32::<5>(index);
            let mut p = avx._mm512_set1_epi32(0);
            for g in 0..table.groups {
                let here = avx._mm512_cmpeq_epi32_mask(group, avx._mm512_set1_epi32(g as i32));
                let p_g = avx._mm512_permutex2var_epi32(packed[2 * g], index, packed[2 * g + 1]);
                p = avx._mm512_mask_blend_epi32(here, p, p_g);
            }
            let p: [i32; LANES] = pulp::cast(p);
            for l in 0..LANES {
                let (s, r) = unpack(p[l]);
                chunk[l] = s + ((r * fraction[l]) >> shift);
            }
        }
        for x in chunks.into_remainder() {
            let c = x.saturating_sub(low).clamp(0, top);
            let (s, r) = table.entry((c >> shift) as usize);
            *x = s + ((r * (c & fraction_mask)) >> shift);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables that do not pack (a start or a rise out of its bits, a falling table, too many
    /// segments) are refused, so that their lookups stay scalar; one that packs keeps its entries.
    #[test]
    fn only_tables_that_pack_are_taken() {
        assert!(PermuteTable::new(&[0, 1 << START_BITS], &[1, 0]).is_none());
        assert!(PermuteTable::new(&[0, 5], &[5, -1]).is_none());
        assert!(PermuteTable::new(&[0], &[1 << (31 - START_BITS)]).is_none());
        let many = vec![0; PERMUTE_SEGMENTS + 1];
        assert!(PermuteTable::new(&many, &many).is_none());
        let (start, rise) = ([0, 7, (1 << START_BITS) - 1], [7, 0, (1 << (31 - START_BITS)) - 1]);
        let t = PermuteTable::new(&start, &rise).expect("packs");
        assert_eq!(t.groups, 1);
        for k in 0..3 {
            assert_eq!(t.entry(k), (start[k], rise[k]), "segment {k}");
        }
    }
}
