//! The mapping file: everything a chip toolchain needs to program the trained network onto the
//! cores the mapper chose, in the chip's own number formats. JSON, format `epchip-mapping-1`;
//! the fields are documented in docs/export.md.

use std::path::Path;

use serde::Serialize;

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::mapping::placement::{PlacementStrategy, sender_routes};
use crate::mapping::population_graph::{PopulationGraph, ProjectionKind};
use crate::network::shape::layer_name;
use crate::on_chip::ep_network::EpNetwork;

/// Format tag of the mapping file.
pub const MAPPING_FORMAT: &str = "epchip-mapping-1";

/// The whole mapping file.
#[derive(Debug, Clone, Serialize)]
pub struct MappingFile {
    /// [`MAPPING_FORMAT`].
    pub format: String,
    /// Profile the network was trained on.
    pub profile: String,
    /// `digital`, `analog` or `float`: which number fields below are filled.
    pub arithmetic: String,
    /// Layer sizes, input first.
    pub layers: Vec<usize>,
    /// Placement strategy used.
    pub placement: PlacementStrategy,
    /// Cores per chip (core `c` is on chip `c / cores_per_chip`).
    pub cores_per_chip: u32,
    /// Neuron populations (the input lives on the host).
    pub populations: Vec<MappedPopulation>,
    /// Synapse groups.
    pub projections: Vec<MappedProjection>,
    /// Which cores each block sends to.
    pub routes: Vec<Route>,
}

/// One population and its blocks.
#[derive(Debug, Clone, Serialize)]
pub struct MappedPopulation {
    /// `h1`, ..., `output`.
    pub name: String,
    /// Neurons.
    pub size: usize,
    /// Blocks: core, chip, first neuron, neurons.
    pub blocks: Vec<MappedBlock>,
    /// Digital cores: per-neuron decay `d_i` out of `2^decay_bits` (dt_i = d_i / 2^decay_bits).
    pub decay: Option<Vec<i64>>,
    /// Digital cores: bits of the decay.
    pub decay_bits: Option<u32>,
    /// Per-neuron time step dt_i as realised (all arithmetics).
    pub dt: Vec<f32>,
    /// Digital cores: bias mantissas (bias = mantissa · 2^bias_exponent in state units).
    pub bias_mantissa: Option<Vec<i64>>,
    /// Digital cores: bias exponent.
    pub bias_exponent: Option<u32>,
    /// Biases in real units.
    pub bias: Vec<f32>,
}

/// A contiguous range of a population on one core.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MappedBlock {
    /// Core on the board.
    pub core: usize,
    /// Chip of the core.
    pub chip: usize,
    /// First neuron.
    pub first_neuron: usize,
    /// Neurons.
    pub neurons: usize,
}

/// One synapse group.
#[derive(Debug, Clone, Serialize)]
pub struct MappedProjection {
    /// `forward` or `feedback`.
    pub kind: ProjectionKind,
    /// Presynaptic population.
    pub pre: String,
    /// Postsynaptic population.
    pub post: String,
    /// Digital cores: weight mantissas, post × pre (row `j` holds neuron `j`'s synapses).
    pub weight_mantissa: Option<Vec<Vec<i32>>>,
    /// Digital cores: weight exponent (effective weight = mantissa · 2^(shift + exponent)).
    pub weight_exponent: Option<i32>,
    /// Digital cores: the synaptic input shift (6 on Loihi).
    pub synaptic_input_shift: Option<i32>,
    /// Weights in real units as the chip applies them, post × pre.
    pub weight: Vec<Vec<f32>>,
}

/// Messages from one block to the other cores that hold its targets.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Sending population.
    pub population: String,
    /// Sending core.
    pub from_core: usize,
    /// Neurons of the block (each sends one message per destination core when active).
    pub neurons: usize,
    /// Destination cores (other than the sender's).
    pub to_cores: Vec<usize>,
    /// Messages per step and example if every neuron is active (a fan-in relay core receives only
    /// its segment; a relay core's route carries one partial sum per relay compartment).
    pub messages_per_step: u64,
}

/// The mapping of a network living on a chip.
pub fn mapping_of(net: &EpNetwork) -> Result<MappingFile> {
    let chip = net.chip();
    let profile = chip.profile();
    let d = profile.digital().cloned();
    let sizes = net.shape().sizes().to_vec();
    let placement = net.placement();
    let graph = PopulationGraph::from_shape(net.shape());
    let missing = |l: usize| EpError::DoesNotFit(format!("layer {l} is missing from the network"));
    let mut populations = Vec::new();
    for l in 1..sizes.len() {
        let pop = net.layer(l).ok_or_else(|| missing(l))?;
        let dt = chip.realised_dt(pop)?.to_vec();
        let bias = chip.read_bias(pop)?;
        let blocks = placement.layers[l - 1]
            .iter()
            .map(|b| MappedBlock {
                core: b.core,
                chip: placement.chip_of(b.core),
                first_neuron: b.start,
                neurons: b.len,
            })
            .collect();
        let (decay, bias_mantissa, bexp) = match chip.read_digital_neurons(pop)? {
            Some(n) => (Some(n.decay.to_vec()), Some(n.bias_mantissa.to_vec()), Some(n.bias_exponent)),
            None => (None, None, None),
        };
        populations.push(MappedPopulation {
            name: layer_name(l, sizes.len()),
            size: sizes[l],
            blocks,
            decay,
            decay_bits: d.as_ref().map(|d| d.decay_bits),
            dt,
            bias_mantissa,
            bias_exponent: bexp,
            bias,
        });
    }
    let mut projections = Vec::new();
    for (pre, post, p) in graph.projections() {
        let group = match p.kind {
            ProjectionKind::Forward => net.forward_group(post - 1),
            ProjectionKind::Feedback => net.feedback_group(pre - 1),
        }
        .ok_or_else(|| missing(post))?;
        let w = chip.read_effective_weights(group)?;
        let (mant, exp) = match &d {
            Some(_) => {
                let (m, e) = chip.read_weight_mantissas(group)?;
                (Some(m.t().rows().into_iter().map(|r| r.to_vec()).collect()), Some(e))
            }
            None => (None, None),
        };
        projections.push(MappedProjection {
            kind: p.kind,
            pre: layer_name(pre, sizes.len()),
            post: layer_name(post, sizes.len()),
            weight_mantissa: mant,
            weight_exponent: exp,
            synaptic_input_shift: d.as_ref().map(|d| d.synaptic_input_shift),
            weight: w.t().rows().into_iter().map(|r| r.to_vec()).collect(),
        });
    }
    let mut routes = Vec::new();
    for l in 1..sizes.len() {
        for sender in sender_routes(&graph, placement, l) {
            routes.push(Route {
                population: layer_name(l, sizes.len()),
                from_core: sender.core.unwrap_or(0),
                neurons: sender.len,
                to_cores: sender.destinations.iter().map(|&(c, _)| c).collect(),
                messages_per_step: sender.destinations.iter().map(|&(_, n)| n).sum(),
            });
        }
    }
    for split in &placement.fan_in {
        for s in &split.segments {
            let block = placement.layers[split.post_layer - 1][s.post_block];
            let relay_to_block = s.relay_core != block.core;
            routes.push(Route {
                population: format!("{} relay", layer_name(split.post_layer, sizes.len())),
                from_core: s.relay_core,
                neurons: block.len,
                to_cores: if relay_to_block { vec![block.core] } else { Vec::new() },
                messages_per_step: if relay_to_block { block.len as u64 } else { 0 },
            });
        }
    }
    Ok(MappingFile {
        format: MAPPING_FORMAT.into(),
        profile: profile.name.clone(),
        arithmetic: match (&d, profile.analog()) {
            (Some(_), _) => "digital",
            (None, Some(_)) => "analog",
            (None, None) => "float",
        }
        .into(),
        layers: sizes,
        placement: placement.strategy,
        cores_per_chip: profile.chip.cores,
        populations,
        projections,
        routes,
    })
}

/// Writes the mapping of `net` as JSON to `path`, atomically.
pub fn write_mapping(net: &EpNetwork, path: &Path) -> Result<()> {
    let file = mapping_of(net)?;
    let text = serde_json::to_vec(&file)
        .map_err(|e| EpError::ModelFile { path: path.to_path_buf(), reason: e.to_string() })?;
    write_atomic(path, &text)
}
