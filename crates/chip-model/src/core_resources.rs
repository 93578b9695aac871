//! A core's resources: the neurons placed on it, its axons and synapse memory, and its counters.

use serde::{Deserialize, Serialize};

use crate::counters::OpCounters;
use crate::profile::{CoreLimits, SynapseEncoding};

/// A contiguous range of a population's neurons placed on one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreBlock {
    /// Core index on the chip.
    pub core: usize,
    /// First neuron of the population in this block.
    pub start: usize,
    /// Number of neurons in the block.
    pub len: usize,
}

/// Fan-in splitting: the synapses that one block of a population receives from a range of a
/// presynaptic population live on a relay core. The relay core holds one relay compartment per
/// neuron of the block; each sums its segment's synaptic inputs and sends the partial sum to the
/// block's core as one message (one input axon and one synapse per relay compartment there).
///
/// The emulation adds the partial sums exactly and in the same step, as a dendritic tree on one core
/// would; a real multi-core split may add a step of latency and round the partial sums to the
/// message payload. Only the resources and the operation counts move to the relay cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanInSegment {
    /// Index of the post block in the post population's placement.
    pub post_block: usize,
    /// Core that holds the segment's synapses and relay compartments.
    pub relay_core: usize,
    /// First presynaptic neuron of the segment.
    pub pre_start: usize,
    /// Presynaptic neurons in the segment.
    pub pre_len: usize,
}

impl FanInSegment {
    /// Whether the segment covers any of the presynaptic neurons `start..start + len`.
    pub fn overlaps(&self, start: usize, len: usize) -> bool {
        self.pre_start < start + len && start < self.pre_start + self.pre_len
    }
}

/// One synapse group as its presynaptic neurons see it: the blocks of its post population and how
/// their fan-in is split.
#[derive(Debug, Clone, Copy)]
pub struct GroupRoute<'a> {
    /// Blocks of the post population.
    pub post_blocks: &'a [CoreBlock],
    /// Fan-in segments of the group (empty: unsplit).
    pub fan_in: &'a [FanInSegment],
}

/// Where the outputs of presynaptic neurons `start..start + len` go through `groups`: every
/// receiving core (an unsplit block's core, or the relay core of a segment covering some of the
/// neurons), in core order, with the merged ranges of those neurons it receives. A neuron sends one
/// message per receiving core, however many groups lead there.
pub fn spike_destinations(
    groups: &[GroupRoute],
    start: usize,
    len: usize,
) -> Vec<(usize, Vec<(usize, usize)>)> {
    let end = start + len;
    let mut needs: Vec<(usize, usize, usize)> = Vec::new();
    for g in groups {
        for (bi, block) in g.post_blocks.iter().enumerate() {
            let mut segments = g.fan_in.iter().filter(|s| s.post_block == bi).peekable();
            if segments.peek().is_none() {
                needs.push((block.core, start, end));
            }
            for s in segments.filter(|s| s.overlaps(start, len)) {
                needs.push((s.relay_core, s.pre_start.max(start), (s.pre_start + s.pre_len).min(end)));
            }
        }
    }
    needs.sort_unstable();
    let mut out: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
    for (core, a, b) in needs {
        match out.last_mut() {
            Some((c, ranges)) if *c == core => match ranges.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => ranges.push((a, b)),
            },
            _ => out.push((core, vec![(a, b)])),
        }
    }
    out
}

/// What one core holds and has done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreUsage {
    /// Neurons (compartments) allocated.
    pub neurons: u64,
    /// Input axons (distinct presynaptic sources) in use.
    pub input_axons: u64,
    /// Output axons (source neuron × destination core pairs) in use.
    pub output_axons: u64,
    /// Synapse memory used, in bits.
    pub synapse_bits: u64,
    /// Operations performed so far.
    pub counters: OpCounters,
}

impl CoreUsage {
    /// Every resource the profile may limit, as (name, used, limit; `None` is unlimited).
    pub fn against(&self, limits: &CoreLimits) -> [(&'static str, u64, Option<u64>); 4] {
        [
            ("neurons", self.neurons, limits.max_neurons.map(u64::from)),
            ("input axons", self.input_axons, limits.max_input_axons.map(u64::from)),
            ("output axons", self.output_axons, limits.max_output_axons.map(u64::from)),
            ("synapse memory bits", self.synapse_bits, limits.synapse_memory_bits),
        ]
    }

    /// The first resource over its limit, as (name, used, limit).
    pub fn first_exceeded(&self, limits: &CoreLimits) -> Option<(&'static str, u64, u64)> {
        self.against(limits)
            .into_iter()
            .find_map(|(name, used, limit)| limit.filter(|&l| used > l).map(|l| (name, used, l)))
    }

    /// The largest share used of any limited resource (0..1 when within limits), or `None` if the
    /// profile limits nothing.
    pub fn utilisation(&self, limits: &CoreLimits) -> Option<f64> {
        self.against(limits)
            .into_iter()
            .filter_map(|(_, used, limit)| limit.map(|l| used as f64 / l.max(1) as f64))
            .reduce(f64::max)
    }
}

/// Synapse memory needed for one input axon that reaches `targets` neurons on one core, in bits.
///
/// Synapses are packed in groups of `group_size`; each group costs a header plus
/// `weight + delay + tag + index` bits per synapse, rounded up to whole words.
pub fn axon_synapse_bits(enc: &SynapseEncoding, weight_bits: u32, targets: u64) -> u64 {
    let per_synapse = u64::from(weight_bits + enc.delay_bits + enc.tag_bits + enc.index_bits);
    let group = u64::from(enc.group_size.max(1));
    let word = u64::from(enc.word_bits.max(1));
    let full_groups = targets / group;
    let rest = targets % group;
    let group_bits = |n: u64| {
        let raw = u64::from(enc.group_header_bits) + n * per_synapse;
        raw.div_ceil(word) * word
    };
    full_groups * group_bits(group) + if rest > 0 { group_bits(rest) } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loihi() -> SynapseEncoding {
        SynapseEncoding {
            delay_bits: 0,
            tag_bits: 0,
            index_bits: 0,
            group_size: 64,
            group_header_bits: 10,
            word_bits: 64,
        }
    }

    #[test]
    fn loihi_group_accounting() {
        // 64 synapses of 8 bits + 10 header = 522 bits -> 9 words = 576 bits.
        assert_eq!(axon_synapse_bits(&loihi(), 8, 64), 576);
        // 65 targets: one full group plus one group of 1 synapse (18 bits -> 64).
        assert_eq!(axon_synapse_bits(&loihi(), 8, 65), 576 + 64);
        assert_eq!(axon_synapse_bits(&loihi(), 8, 0), 0);
    }
}
