//! A simple placement of layers onto cores: each layer is cut into equal blocks that respect the
//! profile's per-core limits, and blocks take consecutive cores. (The full mapper, with fan-in
//! splitting and traffic-aware placement, is a separate piece of work.)

use chip_model::core_resources::axon_synapse_bits;
use chip_model::{CoreBlock, HardwareProfile};
use serde::Serialize;

use crate::error::{EpError, Result};
use crate::network::NetworkShape;

/// Where every neuron layer (not the input) lives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// Blocks of layer `l + 1` (layer 0 is the input, which lives off-chip).
    pub layers: Vec<Vec<CoreBlock>>,
}

impl Placement {
    /// Number of distinct cores used.
    pub fn cores_used(&self) -> usize {
        let mut cores: Vec<usize> = self.layers.iter().flatten().map(|b| b.core).collect();
        cores.sort_unstable();
        cores.dedup();
        cores.len()
    }
}

/// Places the neuron layers of `shape` on the chip of `profile`.
pub fn place_layers(profile: &HardwareProfile, shape: &NetworkShape) -> Result<Placement> {
    let sizes = shape.sizes();
    let lim = &profile.core_limits;
    let weight_bits = profile.digital().map_or(32, |d| d.weight_bits);
    let unlimited = lim.max_neurons.is_none()
        && lim.max_input_axons.is_none()
        && lim.max_output_axons.is_none()
        && lim.synapse_memory_bits.is_none();
    if unlimited {
        // A core without limits holds the whole network.
        let layers = sizes[1..].iter().map(|&len| vec![CoreBlock { core: 0, start: 0, len }]).collect();
        return Ok(Placement { layers });
    }
    let mut next_core = 0usize;
    let mut layers = Vec::new();
    for l in 1..sizes.len() {
        let n = sizes[l];
        let fan_in = sizes[l - 1] + sizes.get(l + 1).copied().unwrap_or(0);
        let name = layer_name(l, sizes.len());
        if let Some(max) = lim.max_input_axons
            && fan_in as u64 > u64::from(max)
        {
            return Err(EpError::DoesNotFit(format!(
                "layer {name} needs {fan_in} input axons per neuron ({} from below{}), the profile \
                 `{}` allows {max} per core",
                sizes[l - 1],
                sizes.get(l + 1).map_or(String::new(), |k| format!(" + {k} feedback from above")),
                profile.name
            )));
        }
        let mut max_len = lim.max_neurons.map_or(n, |m| (m as usize).min(n));
        if let Some(mem) = lim.synapse_memory_bits {
            let fits = |len: usize| {
                fan_in as u64 * axon_synapse_bits(&profile.synapse_encoding, weight_bits, len as u64) <= mem
            };
            if !fits(1) {
                return Err(EpError::DoesNotFit(format!(
                    "layer {name}: one neuron with {fan_in} synapses needs {} bits of synapse memory, \
                     the profile `{}` has {mem} per core",
                    fan_in as u64 * axon_synapse_bits(&profile.synapse_encoding, weight_bits, 1),
                    profile.name
                )));
            }
            // Largest block that fits (memory grows monotonically with the block length).
            let (mut lo, mut hi) = (1usize, max_len);
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
        let blocks = n.div_ceil(max_len);
        let base = n / blocks;
        let extra = n % blocks;
        let mut start = 0;
        let mut layer = Vec::with_capacity(blocks);
        for b in 0..blocks {
            let len = base + usize::from(b < extra);
            layer.push(CoreBlock { core: next_core, start, len });
            start += len;
            next_core += 1;
        }
        layers.push(layer);
    }
    if next_core > profile.chip.cores as usize {
        let per_layer: Vec<String> = layers
            .iter()
            .enumerate()
            .map(|(k, l)| format!("{}: {}", layer_name(k + 1, sizes.len()), l.len()))
            .collect();
        return Err(EpError::DoesNotFit(format!(
            "the network needs {next_core} cores ({}), the profile `{}` has {}",
            per_layer.join(", "),
            profile.name,
            profile.chip.cores
        )));
    }
    Ok(Placement { layers })
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
