//! Export to NIR (the Neuromorphic Intermediate Representation): an HDF5 file with a `version`, and
//! a `node` group of type `NIRGraph` holding `edges` and one group per node.
//!
//! The EP network becomes: `input` → `fwd1` (Affine) → `layer1` (LI) → `fwd2` → ... → `layerL` →
//! `output`, with Linear feedback nodes `fb2`..`fbL` from each layer back to the one below (a cyclic
//! graph, which NIR allows). Each LI node carries its per-neuron time constants `τ_i = dt / dt_i`
//! (heterogeneous: HTS exports directly), `r = 1` and `v_leak = 0`; the bias lives in the Affine
//! node. NIR has neither the hard sigmoid nor EP's sigmoid, so the activation between a neuron node
//! and the next projection (`clip(v, 0, 1)` or `1/(1 + e^(−(4v − 2)))`, by the network's neuron
//! model) is recorded in metadata, with `dt` (seconds per step) and the settling steps. The
//! spiking variant exports LIF nodes (threshold 1, reset 0) instead: a rate-coded approximation
//! that hardware importers accept.

use std::path::Path;

use hdf5_pure::{FileBuilder, GroupBuilder};
use ndarray::Array2;

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::interchange::spiking::SpikingNetwork;
use crate::network::parameters::NetworkParameters;

/// NIR format version written into the file.
pub const NIR_VERSION: &str = "1.0.8";

/// Which neuron model the NIR graph uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NirNeurons {
    /// Leaky integrators (LI): the rate network as trained.
    Rate,
    /// Leaky integrate-and-fire neurons (LIF): a rate-coded approximation for spiking hardware.
    Spiking,
}

/// Names of the NIR nodes of neuron layer `l` (1-based), its forward projection and its feedback
/// projection from the layer above.
pub fn nir_node_names(l: usize) -> (String, String, String) {
    (format!("layer{l}"), format!("fwd{l}"), format!("fb{}", l + 1))
}

/// Writes `params` as a NIR graph to `path` (atomically); `dt_seconds` is the time one emulated step
/// stands for, recorded in metadata and used to turn per-neuron time steps into time constants.
pub fn write_nir(
    params: &NetworkParameters,
    path: &Path,
    neurons: NirNeurons,
    dt_seconds: f64,
) -> Result<()> {
    params.validate()?;
    check_dt(dt_seconds)?;
    let n = params.layers.len();
    let (file, mut graph) = new_graph();
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut nodes = graph.create_group("nodes");

    io_node(&mut nodes, "input", "Input", params.layers[0]);

    let mut below = "input".to_string();
    for l in 1..n {
        let (layer, fwd, _) = nir_node_names(l);
        affine_node(&mut nodes, &fwd, &params.forward[l - 1].t().to_owned(), &params.bias[l - 1]);
        edges.push((below.clone(), fwd.clone()));
        edges.push((fwd, layer.clone()));

        let size = params.layers[l];
        let tau: Vec<f32> = params.dt[l - 1].iter().map(|&d| (dt_seconds / f64::from(d)) as f32).collect();
        let mut node = nodes.create_group(&layer);
        scalar_string(&mut node, "type", if neurons == NirNeurons::Rate { "LI" } else { "LIF" });
        node.create_dataset("tau").with_f32_data(&tau);
        node.create_dataset("r").with_f32_data(&vec![1.0; size]);
        node.create_dataset("v_leak").with_f32_data(&vec![0.0; size]);
        if neurons == NirNeurons::Spiking {
            node.create_dataset("v_threshold").with_f32_data(&vec![1.0; size]);
            node.create_dataset("v_reset").with_f32_data(&vec![0.0; size]);
        }
        let mut meta = node.create_group("metadata");
        meta.create_dataset("dt").with_f64_data(&[dt_seconds]).with_shape(&[]);
        scalar_string(&mut meta, "activation", params.neuron.activation());
        if neurons == NirNeurons::Spiking {
            scalar_string(&mut meta, "coding", "rate-coded approximation of the trained rate neuron");
        }
        node.add_group(meta.finish());
        nodes.add_group(node.finish());

        if let Some(w) = &params.feedback[l - 1] {
            // Feedback from layer l to layer l - 1: `w` is (n_l, n_{l-1}), NIR wants (out, in).
            let (below_layer, _, fb_into_below) = nir_node_names(l - 1);
            let mut linear = nodes.create_group(&fb_into_below);
            scalar_string(&mut linear, "type", "Linear");
            matrix(&mut linear, "weight", &w.t().to_owned());
            nodes.add_group(linear.finish());
            edges.push((layer.clone(), fb_into_below.clone()));
            edges.push((fb_into_below, below_layer));
        }
        below = layer;
    }
    io_node(&mut nodes, "output", "Output", params.layers[n - 1]);
    edges.push((below, "output".into()));
    graph.add_group(nodes.finish());
    edges_dataset(&mut graph, &edges);
    let mut meta = graph.create_group("metadata");
    scalar_string(&mut meta, "source", "epchip");
    meta.create_dataset("dt").with_f64_data(&[dt_seconds]).with_shape(&[]);
    meta.create_dataset("t1").with_i64_data(&[params.t1 as i64]).with_shape(&[]);
    scalar_string(&mut meta, "activation", params.neuron.activation());
    scalar_string(&mut meta, "neuron_model", params.neuron.name());
    scalar_string(
        &mut meta,
        "inference",
        "equilibrium propagation: clamp the input, run t1 steps, read the last neuron layer's state",
    );
    graph.add_group(meta.finish());
    finish_graph(file, graph, path)
}

/// Writes a deployed spiking network (see [`crate::interchange::spiking`]) as a NIR graph to
/// `path`, atomically: `input` → `fwd1` (Affine: integer weights and biases) → `layer1` (IF:
/// `r` = 1, the layer's integer threshold; no `v_reset`, which NIR 1.0.8 reads as 0 and NIR
/// 1.0.4, the version Norse 1.1's importer works with, does not know) → ... → `output`. In the discrete reading
/// every simulator with a per-step IF uses (Norse's `IAFCell`: `v ← v + input`, spike when
/// `v > threshold`, then `v ← 0`), it computes what Lava's LIF does with netx's settings; the
/// metadata records the input encoding, steps per example and readout, and `dt` (seconds per step).
pub fn write_spiking_nir(net: &SpikingNetwork, path: &Path, dt_seconds: f64) -> Result<()> {
    check_dt(dt_seconds)?;
    let (file, mut graph) = new_graph();
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut nodes = graph.create_group("nodes");
    io_node(&mut nodes, "input", "Input", net.sizes[0]);
    let mut below = "input".to_string();
    for (k, layer) in net.layers.iter().enumerate() {
        let (name, fwd, _) = nir_node_names(k + 1);
        let bias: Vec<f32> = layer.bias.iter().map(|&b| b as f32).collect();
        affine_node(&mut nodes, &fwd, &layer.weight.mapv(|w| w as f32), &bias);
        let size = layer.bias.len();
        let mut node = nodes.create_group(&name);
        scalar_string(&mut node, "type", "IF");
        node.create_dataset("r").with_f32_data(&vec![1.0; size]);
        node.create_dataset("v_threshold").with_f32_data(&vec![layer.threshold as f32; size]);
        nodes.add_group(node.finish());
        edges.push((below, fwd.clone()));
        edges.push((fwd, name.clone()));
        below = name;
    }
    io_node(&mut nodes, "output", "Output", *net.sizes.last().unwrap_or(&0));
    edges.push((below, "output".into()));
    graph.add_group(nodes.finish());
    edges_dataset(&mut graph, &edges);
    let options = &net.options;
    let mut meta = graph.create_group("metadata");
    scalar_string(&mut meta, "source", "epchip (spiking deployment)");
    meta.create_dataset("dt").with_f64_data(&[dt_seconds]).with_shape(&[]);
    meta.create_dataset("steps_per_example")
        .with_i64_data(&[options.steps_per_example as i64])
        .with_shape(&[]);
    meta.create_dataset("input_bits").with_i64_data(&[i64::from(options.input_bits)]).with_shape(&[]);
    scalar_string(
        &mut meta,
        "input",
        &format!(
            "every step, each input carries round(pixel byte / 2^{}) (a graded spike)",
            8 - options.input_bits
        ),
    );
    scalar_string(
        &mut meta,
        "inference",
        "start every example at rest, run steps_per_example steps, predict the output neuron with the most spikes",
    );
    graph.add_group(meta.finish());
    finish_graph(file, graph, path)
}

/// A NIR file with its `version` and the open `node` group of type `NIRGraph`.
fn new_graph() -> (FileBuilder, GroupBuilder) {
    let mut file = FileBuilder::new();
    file.create_dataset("version").with_vlen_strings(&[NIR_VERSION]).with_shape(&[]);
    let mut graph = file.create_group("node");
    scalar_string(&mut graph, "type", "NIRGraph");
    (file, graph)
}

/// An `Affine` node: `weight` (out × in) and `bias`.
fn affine_node(nodes: &mut GroupBuilder, name: &str, weight: &Array2<f32>, bias: &[f32]) {
    let mut affine = nodes.create_group(name);
    scalar_string(&mut affine, "type", "Affine");
    matrix(&mut affine, "weight", weight);
    affine.create_dataset("bias").with_f32_data(bias);
    nodes.add_group(affine.finish());
}

/// Refuses a `dt` that is not a positive number of seconds.
fn check_dt(dt_seconds: f64) -> Result<()> {
    if dt_seconds.is_finite() && dt_seconds > 0.0 {
        return Ok(());
    }
    Err(EpError::InvalidParameter {
        field: "dt".into(),
        value: dt_seconds.to_string(),
        allowed: "seconds per step, a positive number".into(),
    })
}

/// An `Input` or `Output` node of `size` neurons.
fn io_node(nodes: &mut GroupBuilder, name: &str, kind: &str, size: usize) {
    let mut node = nodes.create_group(name);
    scalar_string(&mut node, "type", kind);
    node.create_dataset("shape").with_i64_data(&[size as i64]);
    nodes.add_group(node.finish());
}

/// The graph's `edges` dataset, (E, 2) strings.
fn edges_dataset(graph: &mut GroupBuilder, edges: &[(String, String)]) {
    let flat: Vec<&str> = edges.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
    graph.create_dataset("edges").with_vlen_strings(&flat).with_shape(&[edges.len() as u64, 2]);
}

/// Closes the graph group and writes the file atomically.
fn finish_graph(mut file: FileBuilder, graph: GroupBuilder, path: &Path) -> Result<()> {
    file.add_group(graph.finish());
    let bytes = file.finish().map_err(|e| EpError::ModelFile {
        path: path.to_path_buf(),
        reason: format!("HDF5 encoding failed: {e}"),
    })?;
    write_atomic(path, &bytes)
}

/// A scalar variable-length UTF-8 string dataset (what h5py writes for a Python `str`).
pub(crate) fn scalar_string(group: &mut GroupBuilder, name: &str, value: &str) {
    group.create_dataset(name).with_vlen_strings(&[value]).with_shape(&[]);
}

/// A 2-D float32 dataset, row-major.
pub(crate) fn matrix(group: &mut GroupBuilder, name: &str, m: &Array2<f32>) {
    let data: Vec<f32> = m.iter().copied().collect();
    group.create_dataset(name).with_f32_data(&data).with_shape(&[m.nrows() as u64, m.ncols() as u64]);
}
