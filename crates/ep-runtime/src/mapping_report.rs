//! What a network's placement on a chip looks like: per core, the population block, its neurons,
//! fan-in and synapse memory against capacity; in total, cores and messages per step.
//!
//! The numbers come from the chip itself (the network is allocated on a chip instance, whose
//! accounting enforces the limits), so the report and training can never disagree.

use chip_model::HardwareProfile;
use serde::Serialize;

use crate::ep_network::EpNetwork;
use crate::error::Result;
use crate::network::NetworkShape;
use crate::placement::layer_name;
use crate::train_config::TrainConfig;

/// One core's share of the network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreRow {
    /// Core index.
    pub core: usize,
    /// Population (layer) name.
    pub population: String,
    /// First neuron of the block in its population.
    pub first_neuron: usize,
    /// Neurons in the block.
    pub neurons: usize,
    /// Input axons the core uses (distinct presynaptic sources).
    pub fan_in: u64,
    /// Synapse memory used, in bits.
    pub synapse_bits: u64,
    /// Synapse memory of the core, in bits (`None`: unlimited).
    pub synapse_capacity_bits: Option<u64>,
    /// Neurons the core may hold (`None`: unlimited).
    pub neuron_capacity: Option<u32>,
    /// The largest of the neuron, input-axon and synapse-memory utilisations (0..1), if limited.
    pub utilisation: Option<f64>,
}

/// The placement of a network on a chip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingReport {
    /// Profile name.
    pub profile: String,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// One row per core block.
    pub cores: Vec<CoreRow>,
    /// Cores used.
    pub cores_used: usize,
    /// Cores on the chip.
    pub cores_available: u32,
    /// Messages between cores per time step and example if every neuron is active (an upper bound:
    /// each active neuron sends one message to every other core that holds its targets).
    pub max_messages_per_step: u64,
}

/// Allocates `shape` on a chip of `profile` (refusing it with the limit, the layer and the numbers if
/// it does not fit) and reports where everything went.
pub fn map_network(profile: &HardwareProfile, shape: &NetworkShape) -> Result<MappingReport> {
    let config = TrainConfig::default();
    let net = EpNetwork::build(profile, shape, &config)?;
    let chip = net.chip();
    let limits = &profile.core_limits;
    let sizes = shape.sizes();
    let mut cores = Vec::new();
    let mut messages = 0u64;
    for (l, blocks) in net.placement().layers.iter().enumerate() {
        let layer = l + 1;
        // Cores holding the targets of this layer: the layer above and (feedback) the one below.
        let mut targets: Vec<usize> = Vec::new();
        for other in [layer + 1, layer.wrapping_sub(1)] {
            if other >= 1 && other < sizes.len() {
                targets.extend(net.placement().layers[other - 1].iter().map(|b| b.core));
            }
        }
        targets.sort_unstable();
        targets.dedup();
        for block in blocks {
            let usage = &chip.cores()[block.core];
            let ratios = [
                limits.max_neurons.map(|m| usage.neurons as f64 / f64::from(m)),
                limits.max_input_axons.map(|m| usage.input_axons as f64 / f64::from(m)),
                limits.synapse_memory_bits.map(|m| usage.synapse_bits as f64 / m as f64),
            ];
            let utilisation = ratios
                .iter()
                .flatten()
                .copied()
                .fold(None, |acc: Option<f64>, r| Some(acc.map_or(r, |a| a.max(r))));
            messages += block.len as u64 * targets.iter().filter(|&&c| c != block.core).count() as u64;
            cores.push(CoreRow {
                core: block.core,
                population: layer_name(layer, sizes.len()),
                first_neuron: block.start,
                neurons: block.len,
                fan_in: usage.input_axons,
                synapse_bits: usage.synapse_bits,
                synapse_capacity_bits: limits.synapse_memory_bits,
                neuron_capacity: limits.max_neurons,
                utilisation,
            });
        }
    }
    Ok(MappingReport {
        profile: profile.name.clone(),
        layers: sizes.to_vec(),
        cores_used: net.placement().cores_used(),
        cores_available: profile.chip.cores,
        cores,
        max_messages_per_step: messages,
    })
}
