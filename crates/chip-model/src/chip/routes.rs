//! Spike routing: where each sending block's spikes go, and the messages they cost.

use super::Chip;
use crate::core_resources::{GroupRoute, spike_destinations};
use crate::population::Population;

/// Where one sending block's spikes go: per receiving core other than its own, whether that core is
/// on another chip, and the neuron ranges it receives.
#[derive(Debug, Clone)]
pub(crate) struct BlockRoute {
    start: usize,
    len: usize,
    destinations: Vec<(bool, Vec<(usize, usize)>)>,
}

impl BlockRoute {
    /// Spikes of the block, messages they cause, and messages that cross chips.
    pub(crate) fn count(&self, pop: &Population) -> (u64, u64, u64) {
        let (mut all, mut crossing) = (0, 0);
        for (other_chip, ranges) in &self.destinations {
            let n: u64 = ranges.iter().map(|&(a, b)| pop.nonzero_in(a, b)).sum();
            all += n;
            if *other_chip {
                crossing += n;
            }
        }
        (pop.nonzero_in(self.start, self.start + self.len), all, crossing)
    }
}

impl Chip {
    /// Where every population's spikes go: for each sending block (the host for an input), the
    /// receiving cores other than the sender's, whether each is on another chip, and the neuron
    /// ranges it receives (a relay core receives only its segment).
    pub(crate) fn build_spike_routes(&self) -> Vec<Vec<BlockRoute>> {
        let spec = &self.profile.chip;
        (0..self.populations.len())
            .map(|q| {
                let routes: Vec<GroupRoute> = self
                    .groups
                    .iter()
                    .filter(|g| g.pre.0 == q)
                    .map(|g| GroupRoute {
                        post_blocks: &self.populations[g.post.0].placement,
                        fan_in: &g.fan_in,
                    })
                    .collect();
                let pop = &self.populations[q];
                let senders: Vec<(usize, usize, Option<usize>)> = if pop.is_input {
                    vec![(0, pop.size, None)]
                } else {
                    pop.placement.iter().map(|b| (b.start, b.len, Some(b.core))).collect()
                };
                senders
                    .into_iter()
                    .map(|(start, len, own)| {
                        let own_chip = own.map_or(0, |c| spec.chip_of(c));
                        let destinations = spike_destinations(&routes, start, len)
                            .into_iter()
                            .filter(|(core, _)| Some(*core) != own)
                            .map(|(core, ranges)| (spec.chip_of(core) != own_chip, ranges))
                            .collect();
                        BlockRoute { start, len, destinations }
                    })
                    .collect()
            })
            .collect()
    }
}
