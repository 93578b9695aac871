//! The network as a graph of neuron populations (nodes) and projections (edges), forward and
//! feedback, which is what the mapper cuts into core-sized blocks.

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::network::shape::NetworkShape;
use crate::network::shape::layer_name;

/// One population: a layer of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PopulationNode {
    /// `input`, `h1`, ..., `output`.
    pub name: String,
    /// Layer index (0 is the input).
    pub layer: usize,
    /// Neurons.
    pub size: usize,
    /// The input lives off-chip (the host sends its values).
    pub off_chip: bool,
}

/// Direction of a projection relative to the layer order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionKind {
    /// From layer `l` to layer `l + 1`.
    Forward,
    /// From layer `l + 1` back to layer `l` (EP's symmetric feedback).
    Feedback,
}

/// A dense all-to-all projection between two populations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Projection {
    /// Forward or feedback.
    pub kind: ProjectionKind,
    /// Synapses (`pre.size × post.size`).
    pub synapses: usize,
}

/// Populations and projections of a layered EP network.
#[derive(Debug, Clone)]
pub struct PopulationGraph {
    graph: DiGraph<PopulationNode, Projection>,
    layers: Vec<NodeIndex>,
}

impl PopulationGraph {
    /// The graph of `shape`: one node per layer, forward projections between neighbouring layers
    /// and feedback projections back down (none into the input, which is clamped).
    pub fn from_shape(shape: &NetworkShape) -> Self {
        let sizes = shape.sizes();
        let mut graph = DiGraph::new();
        let layers: Vec<NodeIndex> = sizes
            .iter()
            .enumerate()
            .map(|(l, &size)| {
                graph.add_node(PopulationNode {
                    name: layer_name(l, sizes.len()),
                    layer: l,
                    size,
                    off_chip: l == 0,
                })
            })
            .collect();
        for l in 1..sizes.len() {
            let synapses = sizes[l - 1] * sizes[l];
            graph.add_edge(layers[l - 1], layers[l], Projection { kind: ProjectionKind::Forward, synapses });
            if l >= 2 {
                graph.add_edge(
                    layers[l],
                    layers[l - 1],
                    Projection { kind: ProjectionKind::Feedback, synapses },
                );
            }
        }
        Self { graph, layers }
    }

    /// The population of layer `l`.
    pub fn node(&self, l: usize) -> &PopulationNode {
        &self.graph[self.layers[l]]
    }

    /// Number of populations (input included).
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the graph has no populations.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Presynaptic sources of every neuron of layer `l` (the sum of its incoming populations' sizes).
    pub fn fan_in(&self, l: usize) -> usize {
        self.graph.neighbors_directed(self.layers[l], Direction::Incoming).map(|n| self.graph[n].size).sum()
    }

    /// Layers that layer `l` sends to.
    pub fn targets(&self, l: usize) -> Vec<usize> {
        self.neighbour_layers(l, Direction::Outgoing)
    }

    /// Layers that send to layer `l`.
    pub fn sources(&self, l: usize) -> Vec<usize> {
        self.neighbour_layers(l, Direction::Incoming)
    }

    /// The layers connected to layer `l` in direction `dir`, in ascending order.
    fn neighbour_layers(&self, l: usize, dir: Direction) -> Vec<usize> {
        let mut t: Vec<usize> =
            self.graph.neighbors_directed(self.layers[l], dir).map(|n| self.graph[n].layer).collect();
        t.sort_unstable();
        t
    }

    /// Every projection as `(pre layer, post layer, projection)`, forward ones first.
    pub fn projections(&self) -> Vec<(usize, usize, Projection)> {
        let mut out: Vec<(usize, usize, Projection)> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((self.graph[a].layer, self.graph[b].layer, self.graph[e]))
            })
            .collect();
        out.sort_by_key(|&(a, b, p)| (p.kind == ProjectionKind::Feedback, a, b));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_graph_has_forward_and_feedback_edges() {
        let shape = NetworkShape::new(vec![784, 500, 100, 10]).expect("valid shape");
        let g = PopulationGraph::from_shape(&shape);
        assert_eq!(g.len(), 4);
        assert_eq!(g.node(2).name, "h2");
        // h1 hears the input and h2's feedback; the output hears h2 only; the input hears nobody.
        assert_eq!(g.fan_in(1), 784 + 100);
        assert_eq!(g.fan_in(3), 100);
        assert_eq!(g.fan_in(0), 0);
        assert_eq!(g.targets(2), vec![1, 3]);
        assert_eq!(g.sources(1), vec![0, 2]);
        let p = g.projections();
        assert_eq!(p.len(), 5);
        assert_eq!(p[0], (0, 1, Projection { kind: ProjectionKind::Forward, synapses: 784 * 500 }));
        assert_eq!(p[3], (2, 1, Projection { kind: ProjectionKind::Feedback, synapses: 500 * 100 }));
    }
}
