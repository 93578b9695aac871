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
use chip_model::{CoreBlock, CoreUsage, FanInSegment, GroupRoute, HardwareProfile, spike_destinations};
use serde::{Deserialize, Serialize};

use crate::error::{EpError, Result};
use crate::mapping::population_graph::PopulationGraph;
use crate::network::shape::NetworkShape;

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
    /// Projections whose fan-in is split over relay cores (populations with more inputs per neuron
    /// than a core has input axons).
    pub fan_in: Vec<SplitProjection>,
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

    /// Fan-in segments of the projection from layer `pre` to layer `post` (empty: unsplit).
    pub fn fan_in_of(&self, pre: usize, post: usize) -> &[FanInSegment] {
        self.fan_in.iter().find(|p| p.pre_layer == pre && p.post_layer == post).map_or(&[], |p| &p.segments)
    }

    fn used_cores(&self) -> Vec<usize> {
        let mut cores: Vec<usize> = self.layers.iter().flatten().map(|b| b.core).collect();
        cores.extend(self.fan_in.iter().flat_map(|p| p.segments.iter().map(|s| s.relay_core)));
        cores.sort_unstable();
        cores.dedup();
        cores
    }
}

/// A projection whose synapses live on relay cores, segment by segment (see [`FanInSegment`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitProjection {
    /// Presynaptic layer.
    pub pre_layer: usize,
    /// Postsynaptic layer.
    pub post_layer: usize,
    /// Segments: for each block of the post layer, the presynaptic ranges and their relay cores.
    pub segments: Vec<FanInSegment>,
}

/// How one layer is cut: block lengths, and, if its fan-in exceeds a core's input axons, the
/// presynaptic ranges (per source layer) that go to relay cores for every block.
#[derive(Debug, Clone)]
struct LayerPlan {
    lengths: Vec<usize>,
    splits: Vec<(usize, Vec<(usize, usize)>)>,
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
    let plans: Vec<LayerPlan> =
        (1..graph.len()).map(|l| partition_layer(profile, &graph, l)).collect::<Result<_>>()?;
    let block_lengths: Vec<Vec<usize>> = plans.iter().map(|p| p.lengths.clone()).collect();
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
        bins = merge_communicating_bins(profile, &graph, &plans, bins);
    }
    let total = profile.chip.total_cores();
    let relays: usize = plans.iter().map(relay_cores).sum();
    if bins.len() + relays > total {
        let per_layer: Vec<String> = plans
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let name = &graph.node(k + 1).name;
                match relay_cores(p) {
                    0 => format!("{name}: {}", p.lengths.len()),
                    r => {
                        let fan_in: usize = p.splits.iter().flat_map(|(_, ranges)| ranges).map(|r| r.1).sum();
                        format!(
                            "{name}: {} + {r} fan-in relay cores, as {fan_in} input axons per neuron exceed the \
                             {} per core",
                            p.lengths.len(),
                            profile.core_limits.max_input_axons.unwrap_or(0)
                        )
                    }
                }
            })
            .collect();
        return Err(EpError::DoesNotFit(format!(
            "the network needs {} cores ({}), the profile `{}` has {} ({} per chip × {} chips per board)",
            bins.len() + relays,
            per_layer.join("; "),
            profile.name,
            total,
            profile.chip.cores,
            profile.chip.chips_per_board
        )));
    }
    Ok(assemble(&plans, &bins, strategy, cores_per_chip))
}

/// Relay cores a layer plan needs: one per block and presynaptic segment.
fn relay_cores(plan: &LayerPlan) -> usize {
    plan.lengths.len() * plan.splits.iter().map(|(_, r)| r.len()).sum::<usize>()
}

/// How to cut layer `l`: as few equal blocks as the per-core limits allow. A layer whose neurons
/// need more input axons than a core has gets its fan-in split: each source population is cut into
/// ranges of at most that many axons, each range of each block lives on a relay core, and the
/// block's own core receives one partial sum per relay compartment.
fn partition_layer(profile: &HardwareProfile, graph: &PopulationGraph, l: usize) -> Result<LayerPlan> {
    let lim = &profile.core_limits;
    let node = graph.node(l);
    let n = node.size;
    let fan_in = graph.fan_in(l);
    let source_layers = graph.sources(l);
    let sources: Vec<usize> = source_layers.iter().map(|&s| graph.node(s).size).collect();
    let source_text = source_layers
        .iter()
        .map(|&s| format!("{} from {}", graph.node(s).size, graph.node(s).name))
        .collect::<Vec<_>>()
        .join(" + ");
    let weight_bits = profile.digital().map_or(32, |d| d.weight_bits);
    let axon_bits =
        |targets: usize| axon_synapse_bits(&profile.synapse_encoding, weight_bits, targets as u64);
    let mut max_len = lim.max_neurons.map_or(n, |m| (m as usize).min(n));
    let mut splits = Vec::new();
    let split = lim.max_input_axons.filter(|&max| fan_in as u64 > u64::from(max));
    // Memory of one block of `len` neurons on its own core, and on its largest relay core.
    let block_bits: Box<dyn Fn(usize) -> (u64, u64)> = match split {
        None => Box::new(|len| (block_synapse_bits(profile, &sources, len), 0)),
        Some(max) => {
            let max = max as usize;
            let mut largest = 0;
            for (&layer, &size) in source_layers.iter().zip(&sources) {
                let parts = size.div_ceil(max);
                let ranges: Vec<(usize, usize)> = (0..parts)
                    .scan(0usize, |start, k| {
                        let len = size / parts + usize::from(k < size % parts);
                        let range = (*start, len);
                        *start += len;
                        Some(range)
                    })
                    .collect();
                largest = largest.max(ranges.iter().map(|r| r.1).max().unwrap_or(0));
                splits.push((layer, ranges));
            }
            let segments: usize = splits.iter().map(|(_, r)| r.len()).sum();
            // The block's core receives one axon per relay compartment.
            if segments > max {
                return Err(EpError::DoesNotFit(format!(
                    "population {} needs {fan_in} input axons per neuron ({source_text}), the profile `{}` \
                     allows {max} per core; split over {segments} relay cores, each neuron would still \
                     need {segments} input axons",
                    node.name, profile.name
                )));
            }
            max_len = max_len.min(max / segments);
            if let Some(out) = lim.max_output_axons {
                max_len = max_len.min(out as usize);
            }
            Box::new(move |len| ((segments * len) as u64 * axon_bits(1), largest as u64 * axon_bits(len)))
        }
    };
    if let Some(mem) = lim.synapse_memory_bits {
        let fits = |len: usize| {
            let (own, relay) = block_bits(len);
            own <= mem && relay <= mem
        };
        if !fits(1) {
            let (own, relay) = block_bits(1);
            return Err(EpError::DoesNotFit(format!(
                "population {}: one neuron with {fan_in} synapses ({source_text}) needs {} bits of synapse \
                 memory, the profile `{}` has {mem} per core",
                node.name,
                own.max(relay),
                profile.name
            )));
        }
        // Largest block that fits (memory grows monotonically with the block length).
        let (mut lo, mut hi) = (1usize, max_len.max(1));
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        max_len = lo;
    }
    let blocks = n.div_ceil(max_len.max(1));
    let lengths = (0..blocks).map(|b| n / blocks + usize::from(b < n % blocks)).collect();
    Ok(LayerPlan { lengths, splits })
}

/// Synapse memory of a block of `len` neurons fed by populations of the given sizes.
fn block_synapse_bits(profile: &HardwareProfile, sources: &[usize], len: usize) -> u64 {
    let weight_bits = profile.digital().map_or(32, |d| d.weight_bits);
    let per_axon = axon_synapse_bits(&profile.synapse_encoding, weight_bits, len as u64);
    sources.iter().map(|&s| s as u64 * per_axon).sum()
}

/// Turns bins into a placement: bin `k` goes to core `k`, blocks of a layer stay in neuron order,
/// and relay cores (fan-in splitting) follow the bins, block by block.
fn assemble(
    plans: &[LayerPlan],
    bins: &[Vec<(usize, usize)>],
    strategy: PlacementStrategy,
    cores_per_chip: usize,
) -> Placement {
    let mut core_of: Vec<Vec<usize>> = plans.iter().map(|p| vec![0usize; p.lengths.len()]).collect();
    for (core, bin) in bins.iter().enumerate() {
        for &(l, b) in bin {
            core_of[l][b] = core;
        }
    }
    let layers = plans
        .iter()
        .enumerate()
        .map(|(l, plan)| {
            let mut start = 0;
            plan.lengths
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
    let mut next_relay = bins.len();
    let mut fan_in = Vec::new();
    for (l, plan) in plans.iter().enumerate() {
        for (source, ranges) in &plan.splits {
            let mut segments = Vec::new();
            for post_block in 0..plan.lengths.len() {
                for &(pre_start, pre_len) in ranges {
                    segments.push(FanInSegment { post_block, relay_core: next_relay, pre_start, pre_len });
                    next_relay += 1;
                }
            }
            fan_in.push(SplitProjection { pre_layer: *source, post_layer: l + 1, segments });
        }
    }
    Placement { layers, fan_in, strategy, cores_per_chip }
}

/// Greedy agglomeration: repeatedly merges the two bins whose merge saves the most messages and
/// still fits every core limit (never two blocks of one layer on a core), until no merge helps.
fn merge_communicating_bins(
    profile: &HardwareProfile,
    graph: &PopulationGraph,
    plans: &[LayerPlan],
    mut bins: Vec<Vec<(usize, usize)>>,
) -> Vec<Vec<(usize, usize)>> {
    let cores_per_chip = profile.chip.cores as usize;
    let cost = |bins: &[Vec<(usize, usize)>]| {
        let p = assemble(plans, bins, PlacementStrategy::TrafficAware, cores_per_chip);
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
                let p = assemble(plans, &trial, PlacementStrategy::TrafficAware, cores_per_chip);
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
    predict_usage(profile, graph, placement).iter().all(|u| u.first_exceeded(&profile.core_limits).is_none())
}

/// Resources each core of the board would use under `placement`, counted as the chip counts them.
pub fn predict_usage(
    profile: &HardwareProfile,
    graph: &PopulationGraph,
    placement: &Placement,
) -> Vec<CoreUsage> {
    let weight_bits = profile.digital().map_or(32, |d| d.weight_bits);
    let axon_bits =
        |targets: usize| axon_synapse_bits(&profile.synapse_encoding, weight_bits, targets as u64);
    let max_core = placement.used_cores().last().map_or(0, |c| c + 1);
    let mut usage = vec![CoreUsage::default(); max_core.max(profile.chip.total_cores())];
    for (pre, post, _) in graph.projections() {
        let blocks = &placement.layers[post - 1];
        let fan_in = placement.fan_in_of(pre, post);
        let np = graph.node(pre).size;
        for (bi, b) in blocks.iter().enumerate() {
            let segments: Vec<&FanInSegment> = fan_in.iter().filter(|s| s.post_block == bi).collect();
            let u = &mut usage[b.core];
            if segments.is_empty() {
                u.input_axons += np as u64;
                u.synapse_bits += np as u64 * axon_bits(b.len);
            } else {
                let relays = segments.len() * b.len;
                u.input_axons += relays as u64;
                u.synapse_bits += relays as u64 * axon_bits(1);
            }
            for s in segments {
                let r = &mut usage[s.relay_core];
                r.neurons += b.len as u64;
                r.input_axons += s.pre_len as u64;
                r.synapse_bits += s.pre_len as u64 * axon_bits(b.len);
                r.output_axons += b.len as u64;
            }
        }
        if pre > 0 {
            let route = GroupRoute { post_blocks: blocks, fan_in };
            for b in &placement.layers[pre - 1] {
                usage[b.core].output_axons +=
                    (b.len * spike_destinations(&[route], b.start, b.len).len()) as u64;
            }
        }
    }
    for b in placement.layers.iter().flatten() {
        usage[b.core].neurons += b.len as u64;
    }
    usage
}

/// Messages per step and example if every neuron (and input pixel) is active, counted as the chip
/// counts them: one per neuron and receiving core other than its own, plus one partial sum per relay
/// compartment.
pub fn placement_traffic(graph: &PopulationGraph, placement: &Placement) -> PlacementTraffic {
    let mut traffic = PlacementTraffic::default();
    for l in 0..graph.len() {
        for sender in sender_routes(graph, placement, l) {
            let own_chip = sender.core.map_or(0, |c| placement.chip_of(c));
            for (core, count) in sender.destinations {
                if sender.core.is_some() {
                    traffic.messages += count;
                } else {
                    traffic.host_messages += count;
                }
                if placement.chip_of(core) != own_chip {
                    traffic.chip_messages += count;
                }
            }
        }
    }
    for split in &placement.fan_in {
        for s in &split.segments {
            let block = placement.layers[split.post_layer - 1][s.post_block];
            if s.relay_core != block.core {
                traffic.messages += block.len as u64;
                if placement.chip_of(s.relay_core) != placement.chip_of(block.core) {
                    traffic.chip_messages += block.len as u64;
                }
            }
        }
    }
    traffic
}

/// Where one sending block's outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderRoute {
    /// The sending block (`None` for the host, which sends the input layer).
    pub core: Option<usize>,
    /// First neuron of the block.
    pub start: usize,
    /// Neurons of the block.
    pub len: usize,
    /// Every receiving core other than the sender's, with the messages per step it receives if
    /// every neuron is active (a relay core receives only its segment's neurons).
    pub destinations: Vec<(usize, u64)>,
}

/// The routes of layer `l`'s blocks (of the host, for the input), counted as the chip counts them.
pub fn sender_routes(graph: &PopulationGraph, placement: &Placement, l: usize) -> Vec<SenderRoute> {
    let routes: Vec<GroupRoute> = graph
        .targets(l)
        .iter()
        .map(|&t| GroupRoute { post_blocks: &placement.layers[t - 1], fan_in: placement.fan_in_of(l, t) })
        .collect();
    let senders: Vec<(usize, usize, Option<usize>)> = if l == 0 {
        vec![(0, graph.node(0).size, None)]
    } else {
        placement.layers[l - 1].iter().map(|b| (b.start, b.len, Some(b.core))).collect()
    };
    senders
        .into_iter()
        .map(|(start, len, core)| SenderRoute {
            core,
            start,
            len,
            destinations: spike_destinations(&routes, start, len)
                .into_iter()
                .filter(|(c, _)| Some(*c) != core)
                .map(|(c, ranges)| (c, ranges.iter().map(|&(a, b)| (b - a) as u64).sum()))
                .collect(),
        })
        .collect()
}
