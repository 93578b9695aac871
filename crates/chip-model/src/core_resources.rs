//! A core's resources: the neurons placed on it, its axons and synapse memory, and its counters.

use serde::{Deserialize, Serialize};

use crate::counters::OpCounters;
use crate::profile::SynapseEncoding;

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
