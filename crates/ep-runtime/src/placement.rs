//! The mapper: cuts every neuron population into blocks that respect the profile's per-core limits
//! and places the blocks on the cores (and chips) of the board.
//!
//! Two placements: `greedy` gives every block a core of its own, in layer order; `traffic-aware`
//! starts from the same blocks and then shares cores between blocks that talk to each other when the
//! core's limits allow it, choosing at each step the merge that saves the most inter-core messages,
//! and keeps layers that talk to each other on the same chip. Resource use is predicted with the
//! chip's own accounting ([`predict_usage`]), and the chip checks it again when the network is built.

use std::str::FromStr;

use chip_model::core_resources::axon_synapse_bits;
use chip_model::{CoreBlock, HardwareProfile};
use serde::{Deserialize, Serialize};

use crate::error::{EpError, Result};
use crate::network::NetworkShape;
use crate::population_graph::PopulationGraph;

/// How blocks are assigned to cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementStrategy {
    /// One block per core, in layer order.
    #[default]
    Greedy,
    /// Share cores between communicating blocks to reduce inter-core and inter-chip messages.
    TrafficAware,
}

impl FromStr for PlacementStrategy {
    type Err = EpError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "greedy" => Ok(Self::Greedy),
            "traffic-aware" | "traffic" => Ok(Self::TrafficAware),
            other => Err(EpError::InvalidParameter {
                field: "placement".into(),
                value: other.into(),
                allowed: "use `greedy` or `traffic-aware`".into(),
            }),
        }
    }
}

impl std::fmt::Display for PlacementStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Greedy => "greedy",
            Self::TrafficAware => "traffic-aware",
        })
    }
}

/// Where every neuron layer (not the input) lives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// Blocks of layer `l + 1` (layer 0 is the input, which lives off-chip).
    pub layers: Vec<Vec<CoreBlock>>,
    /// The strategy that produced it.
    pub strategy: PlacementStrategy,
    /// Cores per chip (core `c` is on chip `c / cores_per_chip`).
    pub cores_per_chip: usize,
}

impl Placement {
    /// Number of distinct cores used.
    pub fn cores_used(&self) -> usize {
        self.used_cores().len()
    }

    /// Number of distinct chips used.
    pub fn chips_used(&self) -> usize {
        let mut chips: Vec<usize> = self.used_cores().iter().map(|&c| self.chip_of(c)).collect();
        chips.dedup();
        chips.len()
    }

    /// The chip that holds `core`.
    pub fn chip_of(&self, core: usize) -> usize {
        core / self.cores_per_chip.max(1)
    }

    fn used_cores(&self) -> Vec<usize> {
        let mut cores: Vec<usize> = self.layers.iter().flatten().map(|b| b.core).collect();
        cores.sort_unstable();
        cores.dedup();
        cores
    }
}

/// Traffic a placement causes in one time step of one example if every neuron is active: each
/// active neuron sends one message to every other core that holds targets of it (the chip's
/// counting), and some of those cross chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PlacementTraffic {
    /// Messages between cores.
    pub messages: u64,
    /// Messages from the host (the input values) to the cores that use them.
    pub host_messages: u64,
    /// Of both, messages that cross from one chip to another (the host sits next to chip 0).
    pub chip_messages: u64,
}

/// Resources a placement takes on one core, counted as the chip counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PredictedUsage {
    /// Neurons.
    pub neurons: u64,
    /// Input axons (sum of the sizes of the populations that feed each block).
    pub input_axons: u64,
    /// Output axons (each neuron × each core holding its targets).
    pub output_axons: u64,
    /// Synapse memory in bits.
    pub synapse_bits: u64,
}

/// Places the neuron layers of `shape` on the board of `profile` with the greedy strategy.
pub fn place_layers(profile: &HardwareProfile, shape: &NetworkShape) -> Result<Placement> {
    place_network(profile, shape, PlacementStrategy::Greedy)
}

/// Places the neuron layers of `shape` on the board of `profile` with `strategy`.
pub fn place_network(
    profile: &HardwareProfile,
    shape: &NetworkShape,
    strategy: PlacementStrategy,
) -> Result<Placement> {
    let graph = PopulationGraph::from_shape(shape);
    let cores_per_chip = profile.chip.cores as usize;
    let block_lengths: Vec<Vec<usize>> =
        (1..graph.len()).map(|l| partition_layer(profile, &graph, l)).collect::<Result<_>>()?;
    // Bins: the blocks (layer index into block_lengths, block index) that share one core.
    let mut bins: Vec<Vec<(usize, usize)>> = block_lengths
        .iter()
        .enumerate()
        .flat_map(|(l, blocks)| (0..blocks.len()).map(move |b| vec![(l, b)]))
        .collect();
    let lim = &profile.core_limits;
    let unlimited = lim.max_neurons.is_none()
        && lim.max_input_axons.is_none()
        && lim.max_output_axons.is_none()
        && lim.synapse_memory_bits.is_none();
    if unlimited {
        // A core without limits holds the whole network, whatever the strategy.
        bins = vec![bins.concat()];
    } else if strategy == PlacementStrategy::TrafficAware {
        bins = merge_communicating_bins(profile, &graph, &block_lengths, bins);
    }
    let total = profile.chip.total_cores();
    if bins.len() > total {
        let per_layer: Vec<String> = block_lengths
            .iter()
            .enumerate()
            .map(|(k, l)| format!("{}: {}", graph.node(k + 1).name, l.len()))
            .collect();
        return Err(EpError::DoesNotFit(format!(
            "the network needs {} cores ({}), the profile `{}` has {} ({} per chip × {} chips per board)",
            bins.len(),
            per_layer.join(", "),
            profile.name,
            total,
            profile.chip.cores,
            profile.chip.chips_per_board
        )));
    }
    Ok(assemble(&block_lengths, &bins, strategy, cores_per_chip))
}

/// Block lengths of layer `l`: as few equal blocks as the per-core limits allow.
fn partition_layer(profile: &HardwareProfile, graph: &PopulationGraph, l: usize) -> Result<Vec<usize>> {
    let lim = &profile.core_limits;
    let node = graph.node(l);
    let n = node.size;
    let fan_in = graph.fan_in(l);
    let sources: Vec<usize> = graph.sources(l).iter().map(|&s| graph.node(s).size).collect();
    let source_text = graph
        .sources(l)
        .iter()
        .map(|&s| format!("{} from {}", graph.node(s).size, graph.node(s).name))
        .collect::<Vec<_>>()
        .join(" + ");
    if let Some(max) = lim.max_input_axons
        && fan_in as u64 > u64::from(max)
    {
        return Err(EpError::DoesNotFit(format!(
            "population {} needs {fan_in} input axons per neuron ({source_text}), the profile `{}` allows \
             {max} per core",
            node.name, profile.name
        )));
    }
    let mut max_len = lim.max_neurons.map_or(n, |m| (m as usize).min(n));
    if let Some(mem) = lim.synapse_memory_bits {
        let bits = |len: usize| block_synapse_bits(profile, &sources, len);
        if bits(1) > mem {
            return Err(EpError::DoesNotFit(format!(
                "population {}: one neuron with {fan_in} synapses ({source_text}) needs {} bits of synapse \
                 memory, the profile `{}` has {mem} per core",
                node.name,
                bits(1),
                profile.name
            )));
        }
        // Largest block that fits (memory grows monotonically with the block length).
        let (mut lo, mut hi) = (1usize, max_len);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if bits(mid) <= mem {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        max_len = lo;
    }
    let blocks = n.div_ceil(max_len.max(1));
    Ok((0..blocks).map(|b| n / blocks + usize::from(b < n % blocks)).collect())
}

/// Synapse memory of a block of `len` neurons fed by populations of the given sizes.
fn block_synapse_bits(profile: &HardwareProfile, sources: &[usize], len: usize) -> u64 {
    let weight_bits = profile.digital().map_or(32, |d| d.weight_bits);
    let per_axon = axon_synapse_bits(&profile.synapse_encoding, weight_bits, len as u64);
    sources.iter().map(|&s| s as u64 * per_axon).sum()
}

/// Turns bins into a placement: bin `k` goes to core `k`, blocks of a layer stay in neuron order.
fn assemble(
    block_lengths: &[Vec<usize>],
    bins: &[Vec<(usize, usize)>],
    strategy: PlacementStrategy,
    cores_per_chip: usize,
) -> Placement {
    let mut core_of = vec![Vec::new(); block_lengths.len()];
    for (l, blocks) in block_lengths.iter().enumerate() {
        core_of[l] = vec![0usize; blocks.len()];
    }
    for (core, bin) in bins.iter().enumerate() {
        for &(l, b) in bin {
            core_of[l][b] = core;
        }
    }
    let layers = block_lengths
        .iter()
        .enumerate()
        .map(|(l, blocks)| {
            let mut start = 0;
            blocks
                .iter()
                .enumerate()
                .map(|(b, &len)| {
                    let block = CoreBlock { core: core_of[l][b], start, len };
                    start += len;
                    block
                })
                .collect()
        })
        .collect();
    Placement { layers, strategy, cores_per_chip }
}

/// Greedy agglomeration: repeatedly merges the two bins whose merge saves the most messages and
/// still fits every core limit (never two blocks of one layer on a core), until no merge helps.
fn merge_communicating_bins(
    profile: &HardwareProfile,
    graph: &PopulationGraph,
    block_lengths: &[Vec<usize>],
    mut bins: Vec<Vec<(usize, usize)>>,
) -> Vec<Vec<(usize, usize)>> {
    let cores_per_chip = profile.chip.cores as usize;
    let cost = |bins: &[Vec<(usize, usize)>]| {
        let p = assemble(block_lengths, bins, PlacementStrategy::TrafficAware, cores_per_chip);
        let t = placement_traffic(graph, &p);
        (t.messages, t.chip_messages)
    };
    let mut current = cost(&bins);
    loop {
        let mut best: Option<((u64, u64), usize, usize)> = None;
        for a in 0..bins.len() {
            for b in a + 1..bins.len() {
                if !talk(graph, &bins[a], &bins[b]) || shares_layer(&bins[a], &bins[b]) {
                    continue;
                }
                let mut trial = bins.clone();
                let moved = trial.remove(b);
                trial[a].extend(moved);
                let p = assemble(block_lengths, &trial, PlacementStrategy::TrafficAware, cores_per_chip);
                if !fits(profile, graph, &p) {
                    continue;
                }
                let c = cost(&trial);
                if c < current && best.is_none_or(|(bc, _, _)| c < bc) {
                    best = Some((c, a, b));
                }
            }
        }
        let Some((c, a, b)) = best else { break };
        let moved = bins.remove(b);
        bins[a].extend(moved);
        current = c;
    }
    bins
}

fn talk(graph: &PopulationGraph, a: &[(usize, usize)], b: &[(usize, usize)]) -> bool {
    a.iter().any(|&(la, _)| {
        b.iter().any(|&(lb, _)| {
            graph.targets(la + 1).contains(&(lb + 1)) || graph.targets(lb + 1).contains(&(la + 1))
        })
    })
}

fn shares_layer(a: &[(usize, usize)], b: &[(usize, usize)]) -> bool {
    a.iter().any(|&(la, _)| b.iter().any(|&(lb, _)| la == lb))
}

/// Whether every core of `placement` stays within the profile's limits.
fn fits(profile: &HardwareProfile, graph: &PopulationGraph, placement: &Placement) -> bool {
    let lim = &profile.core_limits;
    predict_usage(profile, graph, placement).iter().all(|u| {
        lim.max_neurons.is_none_or(|m| u.neurons <= u64::from(m))
            && lim.max_input_axons.is_none_or(|m| u.input_axons <= u64::from(m))
            && lim.max_output_axons.is_none_or(|m| u.output_axons <= u64::from(m))
            && lim.synapse_memory_bits.is_none_or(|m| u.synapse_bits <= m)
    })
}

/// Resources each core of the board would use under `placement`, counted as the chip counts them.
pub fn predict_usage(
    profile: &HardwareProfile,
    graph: &PopulationGraph,
    placement: &Placement,
) -> Vec<PredictedUsage> {
    let max_core = placement.layers.iter().flatten().map(|b| b.core + 1).max().unwrap_or(0);
    let mut usage = vec![PredictedUsage::default(); max_core.max(profile.chip.total_cores())];
    for (k, blocks) in placement.layers.iter().enumerate() {
        let l = k + 1;
        let sources: Vec<usize> = graph.sources(l).iter().map(|&s| graph.node(s).size).collect();
        for b in blocks {
            let u = &mut usage[b.core];
            u.neurons += b.len as u64;
            u.input_axons += sources.iter().sum::<usize>() as u64;
            u.synapse_bits += block_synapse_bits(profile, &sources, b.len);
        }
        for t in graph.targets(l) {
            let mut cores: Vec<usize> = placement.layers[t - 1].iter().map(|b| b.core).collect();
            cores.sort_unstable();
            cores.dedup();
            for b in blocks {
                usage[b.core].output_axons += b.len as u64 * cores.len() as u64;
            }
        }
    }
    usage
}

/// Messages per step and example if every neuron (and input pixel) is active, counted as the chip
/// counts them.
pub fn placement_traffic(graph: &PopulationGraph, placement: &Placement) -> PlacementTraffic {
    let mut traffic = PlacementTraffic::default();
    for l in 0..graph.len() {
        let mut dest: Vec<usize> =
            graph.targets(l).iter().flat_map(|&t| placement.layers[t - 1].iter().map(|b| b.core)).collect();
        dest.sort_unstable();
        dest.dedup();
        let senders: Vec<(usize, Option<usize>)> = if l == 0 {
            vec![(graph.node(0).size, None)]
        } else {
            placement.layers[l - 1].iter().map(|b| (b.len, Some(b.core))).collect()
        };
        for (len, own) in senders {
            let own_chip = own.map_or(0, |c| placement.chip_of(c));
            let others: Vec<&usize> = dest.iter().filter(|&&c| Some(c) != own).collect();
            if own.is_some() {
                traffic.messages += len as u64 * others.len() as u64;
            } else {
                traffic.host_messages += len as u64 * others.len() as u64;
            }
            traffic.chip_messages +=
                len as u64 * others.iter().filter(|&&&c| placement.chip_of(c) != own_chip).count() as u64;
        }
    }
    traffic
}

/// Name of layer `l` of a network with `count` layers: `input`, `h1`, `h2`, ..., `output`.
pub fn layer_name(l: usize, count: usize) -> String {
    if l == 0 {
        "input".into()
    } else if l + 1 == count {
        "output".into()
    } else {
        format!("h{l}")
    }
}
