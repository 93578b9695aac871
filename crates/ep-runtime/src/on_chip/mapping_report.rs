//! What a network's placement on a chip looks like: per core, the population block, its neurons,
//! fan-in and synapse memory against capacity; in total, cores and messages per step.
//!
//! The numbers come from the chip itself (the network is allocated on a chip instance, whose
//! accounting enforces the limits), so the report and training can never disagree.

use chip_model::HardwareProfile;
use serde::Serialize;

use crate::config::TrainConfig;
use crate::error::Result;
use crate::mapping::placement::{PlacementStrategy, placement_traffic};
use crate::mapping::population_graph::PopulationGraph;
use crate::network::shape::NetworkShape;
use crate::network::shape::layer_name;
use crate::on_chip::ep_network::EpNetwork;

/// One core's share of the network (one row per population block).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreRow {
    /// Core index on the board (`chip * cores_per_chip + local core`).
    pub core: usize,
    /// Chip that holds the core.
    pub chip: usize,
    /// Population (layer) name.
    pub population: String,
    /// First neuron of the block in its population.
    pub first_neuron: usize,
    /// Neurons in the block.
    pub neurons: usize,
    /// Input axons the core uses (distinct presynaptic sources, all blocks on the core).
    pub fan_in: u64,
    /// Output axons the core uses.
    pub output_axons: u64,
    /// Synapse memory the core uses, in bits (all blocks on the core).
    pub synapse_bits: u64,
    /// Synapse memory of the core, in bits (`None`: unlimited).
    pub synapse_capacity_bits: Option<u64>,
    /// Neurons the core may hold (`None`: unlimited).
    pub neuron_capacity: Option<u32>,
    /// The largest of the neuron, input-axon, output-axon and synapse-memory utilisations (0..1) of
    /// the core, if limited.
    pub utilisation: Option<f64>,
    /// Relay cores (fan-in splitting): the presynaptic population and range whose synapses this
    /// core holds for the block; `None` for a population's own block.
    pub relay_for: Option<String>,
}

/// The placement of a network on a chip (or a board of chips).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingReport {
    /// Profile name.
    pub profile: String,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// Placement strategy.
    pub strategy: PlacementStrategy,
    /// One row per population block.
    pub cores: Vec<CoreRow>,
    /// Cores used.
    pub cores_used: usize,
    /// Cores per chip.
    pub cores_per_chip: u32,
    /// Chips used.
    pub chips_used: usize,
    /// Chips on the board.
    pub chips_available: u32,
    /// Messages between cores per time step and example if every neuron is active (an upper bound:
    /// each active neuron sends one message to every other core that holds its targets).
    pub max_messages_per_step: u64,
    /// Messages from the host (input values) per step and example, at most.
    pub max_host_messages_per_step: u64,
    /// Of all messages, those that cross between chips, per step and example, at most.
    pub max_chip_messages_per_step: u64,
}

/// Allocates `shape` on a chip of `profile` with `strategy` (refusing it with the limit, the
/// population and the numbers if it does not fit) and reports where everything went.
pub fn map_network(
    profile: &HardwareProfile,
    shape: &NetworkShape,
    strategy: PlacementStrategy,
) -> Result<MappingReport> {
    let config = TrainConfig { placement: strategy, lr: vec![0.1], ..TrainConfig::default() };
    let net = EpNetwork::build(profile, shape, &config)?;
    let chip = net.chip();
    let limits = &profile.core_limits;
    let sizes = shape.sizes();
    let placement = net.placement();
    let graph = PopulationGraph::from_shape(shape);
    let traffic = placement_traffic(&graph, placement);
    let mut cores = Vec::new();
    let mut rows: Vec<(usize, String, usize, usize, Option<String>)> = Vec::new();
    for (l, blocks) in placement.layers.iter().enumerate() {
        for block in blocks {
            rows.push((block.core, layer_name(l + 1, sizes.len()), block.start, block.len, None));
        }
    }
    for split in &placement.fan_in {
        for seg in &split.segments {
            let block = placement.layers[split.post_layer - 1][seg.post_block];
            let pre = layer_name(split.pre_layer, sizes.len());
            let range = format!("{pre} {}..{}", seg.pre_start, seg.pre_start + seg.pre_len);
            rows.push((
                seg.relay_core,
                layer_name(split.post_layer, sizes.len()),
                block.start,
                block.len,
                Some(range),
            ));
        }
    }
    for (core, population, first_neuron, neurons, relay_for) in rows {
        let usage = &chip.cores()[core];
        let utilisation = usage.utilisation(limits);
        cores.push(CoreRow {
            core,
            chip: placement.chip_of(core),
            population,
            first_neuron,
            neurons,
            fan_in: usage.input_axons,
            output_axons: usage.output_axons,
            synapse_bits: usage.synapse_bits,
            synapse_capacity_bits: limits.synapse_memory_bits,
            neuron_capacity: limits.max_neurons,
            utilisation,
            relay_for,
        });
    }
    cores.sort_by_key(|r| (r.core, r.population.clone()));
    Ok(MappingReport {
        profile: profile.name.clone(),
        layers: sizes.to_vec(),
        strategy,
        cores_used: placement.cores_used(),
        cores_per_chip: profile.chip.cores,
        chips_used: placement.chips_used(),
        chips_available: profile.chip.chips_per_board,
        cores,
        max_messages_per_step: traffic.messages,
        max_host_messages_per_step: traffic.host_messages,
        max_chip_messages_per_step: traffic.chip_messages,
    })
}
