//! Reading a NIR graph back into a layered EP network.
//!
//! Accepted: the graphs `epchip export --format nir` writes, and any NIR graph of the same form:
//! `Input` → (`Affine` | `Linear`) → (`LI` | `LIF`) → ... → `Output`, optionally with `Linear` (or
//! `Affine` without bias) feedback nodes from a neuron layer back to the one below. Missing feedback
//! becomes the transpose of the forward weights (EP's symmetric network). Per-neuron time steps are
//! `dt / τ_i`, with `dt` taken from the graph's (or the node's) metadata. Any other node type, or a
//! graph that is not a chain of layers, is refused with the node's name.

use std::collections::BTreeMap;
use std::path::Path;

use hdf5_pure::{File, Group};
use ndarray::Array2;

use crate::error::{EpError, Result};
use crate::network::neuron_model::NeuronModel;
use crate::network::parameters::NetworkParameters;

/// Settling steps used when the graph does not record `t1` in its metadata.
pub const DEFAULT_IMPORT_T1: usize = 30;

/// One node of the graph, as read.
#[derive(Debug, Clone)]
struct NirNode {
    kind: String,
    weight: Option<Array2<f32>>,
    bias: Option<Vec<f32>>,
    tau: Option<Vec<f32>>,
    shape: Option<Vec<i64>>,
    dt: Option<f64>,
    extra: Vec<String>,
}

/// Reads the NIR file at `path` as a layered EP network.
pub fn read_nir(path: &Path) -> Result<NetworkParameters> {
    let err = |reason: String| EpError::ModelFile { path: path.to_path_buf(), reason };
    let bytes =
        std::fs::read(path).map_err(|source| EpError::FileRead { path: path.to_path_buf(), source })?;
    let file = File::from_bytes(bytes).map_err(|e| err(format!("not a readable HDF5 file ({e})")))?;
    let graph = file.group("node").map_err(|_| err("no `node` group: not a NIR file".into()))?;
    let kind = read_string(&graph, "type").map_err(|e| err(format!("node/type: {e}")))?;
    if kind != "NIRGraph" {
        return Err(err(format!("node/type is `{kind}`, expected `NIRGraph`")));
    }
    let edges_ds = graph.dataset("edges").map_err(|_| err("node/edges is missing".into()))?;
    let flat = edges_ds.read_string().map_err(|e| err(format!("node/edges: {e}")))?;
    if flat.len() % 2 != 0 {
        return Err(err(format!("node/edges holds {} names, expected pairs", flat.len())));
    }
    let edges: Vec<(String, String)> = flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    let graph_meta = graph.group("metadata").ok();
    let graph_dt = graph_meta.as_ref().and_then(|m| read_f64(m, "dt"));
    let t1 = graph_meta
        .as_ref()
        .and_then(|m| m.dataset("t1").ok())
        .and_then(|d| d.read_i64().ok())
        .and_then(|v| v.first().copied())
        .map_or(DEFAULT_IMPORT_T1, |t| t.max(1) as usize);
    let nodes_group = graph.group("nodes").map_err(|_| err("node/nodes is missing".into()))?;
    let mut nodes = BTreeMap::new();
    for name in nodes_group.groups().map_err(|e| err(format!("node/nodes: {e}")))? {
        let g = nodes_group.group(&name).map_err(|e| err(format!("node `{name}`: {e}")))?;
        nodes.insert(name.clone(), read_node(&g).map_err(|e| err(format!("node `{name}`: {e}")))?);
    }
    for (a, b) in &edges {
        for n in [a, b] {
            if !nodes.contains_key(n) {
                return Err(err(format!("edge {a} → {b} names node `{n}`, which the graph does not have")));
            }
        }
    }
    for (name, node) in &nodes {
        let supported = ["Input", "Output", "Affine", "Linear", "LI", "LIF"];
        if !supported.contains(&node.kind.as_str()) {
            return Err(err(format!(
                "node `{name}` has type `{}`, which epchip cannot import (supported: {})",
                node.kind,
                supported.join(", ")
            )));
        }
        if let Some(x) = node.extra.first() {
            return Err(err(format!(
                "node `{name}` ({}) has parameter `{x}`, which epchip does not model",
                node.kind
            )));
        }
    }
    // The neuron model: the activation recorded in the graph's metadata (epchip writes it); a graph
    // without one is read as the hard-sigmoid model, the only one before the choice existed.
    let neuron = match graph_meta.as_ref().and_then(|m| read_string(m, "activation").ok()) {
        None => NeuronModel::Clip,
        Some(text) => NeuronModel::from_activation(&text).ok_or_else(|| {
            let known: Vec<&str> = NeuronModel::ALL.iter().map(|m| m.activation()).collect();
            err(format!(
                "node/metadata/activation is `{text}`, which epchip does not run (supported: {})",
                known.join("; ")
            ))
        })?,
    };
    let mut params = assemble(&nodes, &edges, graph_dt, t1).map_err(err)?;
    params.neuron = neuron;
    Ok(params)
}

/// Walks the chain Input → projection → neurons → ... → Output and collects the numbers.
fn assemble(
    nodes: &BTreeMap<String, NirNode>,
    edges: &[(String, String)],
    graph_dt: Option<f64>,
    t1: usize,
) -> std::result::Result<NetworkParameters, String> {
    let succ =
        |n: &str| -> Vec<&str> { edges.iter().filter(|(a, _)| a == n).map(|(_, b)| b.as_str()).collect() };
    let inputs: Vec<&String> = nodes.keys().filter(|k| nodes[*k].kind == "Input").collect();
    let [input] = inputs.as_slice() else {
        return Err(format!("the graph has {} Input nodes, epchip needs exactly one", inputs.len()));
    };
    let in_size = shape_size(&nodes[*input], input)?;
    let mut layers = vec![in_size];
    let mut chain: Vec<String> = Vec::new();
    let mut forward = Vec::new();
    let mut bias = Vec::new();
    let mut dt = Vec::new();
    let mut current = input.to_string();
    // Every edge must be a step of the chain or a feedback projection's in- or out-edge.
    let mut used: Vec<(String, String)> = Vec::new();
    let mut done = false;
    while !done {
        let next = succ(&current);
        let projections: Vec<&str> = next
            .iter()
            .copied()
            .filter(|p| matches!(nodes[*p].kind.as_str(), "Affine" | "Linear"))
            .filter(|p| succ(p).iter().any(|t| is_neuron(nodes, t) && !chain.iter().any(|c| c == t)))
            .collect();
        let outputs: Vec<&str> = next.iter().copied().filter(|p| nodes[*p].kind == "Output").collect();
        match (projections.as_slice(), outputs.as_slice()) {
            ([p], []) => {
                let targets: Vec<&str> = succ(p);
                let [neuron] = targets.as_slice() else {
                    return Err(format!(
                        "projection `{p}` feeds {} nodes, expected one neuron node",
                        targets.len()
                    ));
                };
                let w = nodes[*p].weight.as_ref().ok_or_else(|| format!("`{p}` has no weight"))?;
                let n_out = w.nrows();
                if w.ncols() != *layers.last().unwrap_or(&0) {
                    return Err(format!(
                        "`{p}` weight is {}×{}, but `{current}` has {} neurons",
                        w.nrows(),
                        w.ncols(),
                        layers.last().unwrap_or(&0)
                    ));
                }
                let node = &nodes[*neuron];
                let tau = node.tau.as_ref().ok_or_else(|| format!("`{neuron}` has no tau"))?;
                if tau.len() != n_out {
                    return Err(format!("`{neuron}` has {} time constants for {n_out} neurons", tau.len()));
                }
                let step = node.dt.or(graph_dt).ok_or_else(|| {
                    format!("no `dt` in the metadata of the graph or of `{neuron}`: the time step is unknown")
                })?;
                let steps: Vec<f32> = tau.iter().map(|&t| (step / f64::from(t)) as f32).collect();
                if let Some(bad) = steps.iter().find(|&&d| !(d > 0.0 && d <= 1.0)) {
                    return Err(format!(
                        "`{neuron}`: dt/tau = {bad} is outside (0, 1] (tau must be at least dt)"
                    ));
                }
                used.push((current.clone(), p.to_string()));
                used.push((p.to_string(), neuron.to_string()));
                forward.push(w.t().to_owned());
                bias.push(nodes[*p].bias.clone().unwrap_or_else(|| vec![0.0; n_out]));
                dt.push(steps);
                layers.push(n_out);
                chain.push(neuron.to_string());
                current = neuron.to_string();
            }
            ([], [out]) if !chain.is_empty() => {
                used.push((current.clone(), out.to_string()));
                done = true;
            }
            _ => {
                return Err(format!(
                    "after `{current}` the graph does not continue as a chain of layers (forward \
                     projections: {projections:?}, outputs: {outputs:?})"
                ));
            }
        }
    }
    // Feedback: a projection from neuron layer l to neuron layer l - 1.
    let mut feedback: Vec<Option<Array2<f32>>> = vec![None; chain.len()];
    for (name, node) in nodes {
        if !matches!(node.kind.as_str(), "Affine" | "Linear") {
            continue;
        }
        let sources: Vec<&str> = edges.iter().filter(|(_, b)| b == name).map(|(a, _)| a.as_str()).collect();
        let targets = succ(name);
        if used.iter().any(|(a, b)| a == name || b == name) {
            continue; // a forward projection of the chain
        }
        let ([src], [dst]) = (sources.as_slice(), targets.as_slice()) else {
            return Err(format!(
                "projection `{name}` has {} sources and {} targets; a feedback projection connects one \
                 neuron layer to the one below",
                sources.len(),
                targets.len()
            ));
        };
        let (Some(ls), Some(ld)) = (chain.iter().position(|c| c == src), chain.iter().position(|c| c == dst))
        else {
            continue;
        };
        if ls != ld + 1 {
            if ls > ld + 1 || ld > ls + 1 {
                return Err(format!(
                    "projection `{name}` connects `{src}` to `{dst}`, which are not neighbours"
                ));
            }
            continue;
        }
        if node.bias.as_ref().is_some_and(|b| b.iter().any(|&x| x != 0.0)) {
            return Err(format!("feedback projection `{name}` has a bias; EP feedback synapses carry none"));
        }
        let w = node.weight.as_ref().ok_or_else(|| format!("`{name}` has no weight"))?;
        let (n_hi, n_lo) = (layers[ls + 1], layers[ld + 1]);
        if w.dim() != (n_lo, n_hi) {
            return Err(format!("feedback `{name}` weight is {:?}, expected ({n_lo}, {n_hi})", w.dim()));
        }
        feedback[ls] = Some(w.t().to_owned());
        used.push((src.to_string(), name.clone()));
        used.push((name.clone(), dst.to_string()));
    }
    if let Some((a, b)) = edges.iter().find(|e| !used.contains(e)) {
        return Err(format!(
            "edge {a} → {b} is neither a step of the layer chain nor a feedback projection from a \
             neuron layer to the one below; epchip imports only those"
        ));
    }
    for l in 1..chain.len() {
        if feedback[l].is_none() {
            feedback[l] = Some(forward[l].t().to_owned());
        }
    }
    let params = NetworkParameters { layers, forward, feedback, bias, dt, t1, neuron: NeuronModel::Clip };
    params.validate().map_err(|e| e.to_string())?;
    Ok(params)
}

fn is_neuron(nodes: &BTreeMap<String, NirNode>, name: &str) -> bool {
    matches!(nodes[name].kind.as_str(), "LI" | "LIF")
}

fn shape_size(node: &NirNode, name: &str) -> std::result::Result<usize, String> {
    let shape = node.shape.as_ref().ok_or_else(|| format!("`{name}` has no shape"))?;
    match shape.as_slice() {
        [n] if *n > 0 => Ok(*n as usize),
        other => Err(format!("`{name}` has shape {other:?}; epchip imports flat (1-D) inputs")),
    }
}

fn read_node(g: &Group) -> std::result::Result<NirNode, String> {
    let kind = read_string(g, "type")?;
    let mut node =
        NirNode { kind, weight: None, bias: None, tau: None, shape: None, dt: None, extra: Vec::new() };
    let mut names = g.datasets().map_err(|e| e.to_string())?;
    names.sort();
    for name in names {
        let ds = g.dataset(&name).map_err(|e| e.to_string())?;
        match name.as_str() {
            "type" => {}
            "weight" => {
                let shape = ds.shape().map_err(|e| e.to_string())?;
                let data = ds.read_f32().map_err(|e| format!("weight: {e}"))?;
                let [rows, cols] = shape.as_slice() else {
                    return Err(format!("weight has shape {shape:?}, expected (out, in)"));
                };
                let w = Array2::from_shape_vec((*rows as usize, *cols as usize), data)
                    .map_err(|e| format!("weight: {e}"))?;
                node.weight = Some(w);
            }
            "bias" => node.bias = Some(ds.read_f32().map_err(|e| format!("bias: {e}"))?),
            "tau" => node.tau = Some(ds.read_f32().map_err(|e| format!("tau: {e}"))?),
            "shape" => node.shape = Some(ds.read_i64().map_err(|e| format!("shape: {e}"))?),
            // LI/LIF parameters epchip's neuron fixes: checked, not stored.
            "r" => check_all(&ds.read_f32().map_err(|e| e.to_string())?, 1.0, "r")?,
            "v_leak" => check_all(&ds.read_f32().map_err(|e| e.to_string())?, 0.0, "v_leak")?,
            "v_threshold" | "v_reset" => {}
            other => node.extra.push(other.to_string()),
        }
    }
    if let Ok(meta) = g.group("metadata") {
        node.dt = read_f64(&meta, "dt");
    }
    Ok(node)
}

fn check_all(values: &[f32], want: f32, name: &str) -> std::result::Result<(), String> {
    match values.iter().find(|&&x| (x - want).abs() > 1e-6) {
        Some(x) => Err(format!("{name} = {x}; epchip's neuron has {name} = {want}")),
        None => Ok(()),
    }
}

fn read_string(g: &Group, name: &str) -> std::result::Result<String, String> {
    let ds = g.dataset(name).map_err(|_| format!("`{name}` is missing"))?;
    let v = ds.read_string().map_err(|e| format!("`{name}`: {e}"))?;
    v.into_iter().next().ok_or_else(|| format!("`{name}` is empty"))
}

fn read_f64(g: &Group, name: &str) -> Option<f64> {
    let ds = g.dataset(name).ok()?;
    ds.read_f64().ok()?.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &str, weight: Option<Array2<f32>>, tau: Option<Vec<f32>>) -> NirNode {
        NirNode {
            kind: kind.into(),
            weight,
            bias: None,
            tau,
            shape: Some(vec![2]),
            dt: None,
            extra: Vec::new(),
        }
    }

    /// A 2-3-2 graph: x → fwd1 → h1 → fwd2 → h2 → y, with or without feedback h2 → fb → h1.
    fn graph(feedback: bool) -> (BTreeMap<String, NirNode>, Vec<(String, String)>) {
        let mut nodes = BTreeMap::new();
        nodes.insert("x".to_string(), node("Input", None, None));
        nodes.insert("fwd1".to_string(), node("Affine", Some(Array2::from_elem((3, 2), 0.1)), None));
        nodes.insert("h1".to_string(), node("LI", None, Some(vec![2.0; 3])));
        nodes.insert("fwd2".to_string(), node("Affine", Some(Array2::from_elem((2, 3), 0.2)), None));
        nodes.insert("h2".to_string(), node("LI", None, Some(vec![2.0; 2])));
        nodes.insert("y".to_string(), node("Output", None, None));
        let mut edges: Vec<(String, String)> =
            [("x", "fwd1"), ("fwd1", "h1"), ("h1", "fwd2"), ("fwd2", "h2"), ("h2", "y")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        if feedback {
            nodes.insert("fb".to_string(), node("Linear", Some(Array2::from_elem((3, 2), 0.3)), None));
            edges.push(("h2".into(), "fb".into()));
            edges.push(("fb".into(), "h1".into()));
        }
        (nodes, edges)
    }

    /// Every edge is accounted for: the chain and documented feedback import, an extra edge from the
    /// output layer back into the first projection is refused by name instead of being ignored.
    #[test]
    fn edges_outside_the_chain_and_its_feedback_are_refused() {
        for feedback in [false, true] {
            let (nodes, edges) = graph(feedback);
            let params = assemble(&nodes, &edges, Some(1.0), 30).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(params.layers, vec![2, 3, 2]);
            let fb = params.feedback[1].as_ref().map(|w| w[[0, 0]]);
            assert_eq!(fb, Some(if feedback { 0.3 } else { 0.2 }));
        }
        let (nodes, mut edges) = graph(true);
        edges.push(("h2".into(), "fwd1".into()));
        let e = assemble(&nodes, &edges, Some(1.0), 30).err().unwrap_or_default();
        assert!(e.contains("edge h2 → fwd1") && e.contains("feedback"), "{e}");
        let (mut nodes, mut edges) = graph(false);
        nodes.insert("loose".to_string(), node("Linear", Some(Array2::from_elem((3, 2), 0.3)), None));
        edges.push(("loose".into(), "h1".into()));
        let e = assemble(&nodes, &edges, Some(1.0), 30).err().unwrap_or_default();
        assert!(e.contains("`loose`") && e.contains("0 sources"), "{e}");
    }
}
