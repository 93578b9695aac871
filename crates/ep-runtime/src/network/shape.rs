//! The shape of a layered EP network: its layer sizes, and the names of its layers.

use serde::{Deserialize, Serialize};

use crate::error::{EpError, Result};

/// Largest layer the runtime accepts (a guard against typos such as `784,5000000,10`).
pub const MAX_LAYER_SIZE: usize = 1 << 20;

/// Layer sizes, input first, output last: `[784, 500, 10]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkShape {
    layers: Vec<usize>,
}

impl NetworkShape {
    /// A validated shape: at least an input and an output layer, every size in 1..=MAX_LAYER_SIZE.
    pub fn new(layers: Vec<usize>) -> Result<Self> {
        let text = layers.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        if layers.len() < 2 {
            return Err(EpError::InvalidParameter {
                field: "layers".into(),
                value: text,
                allowed: "at least two sizes: input,...,output (e.g. 784,500,10)".into(),
            });
        }
        if let Some(bad) = layers.iter().find(|&&n| n == 0 || n > MAX_LAYER_SIZE) {
            return Err(EpError::InvalidParameter {
                field: "layers".into(),
                value: text,
                allowed: format!("every layer size in 1..={MAX_LAYER_SIZE} (found {bad})"),
            });
        }
        Ok(Self { layers })
    }

    /// Parses `784,500,10`.
    pub fn parse(text: &str) -> Result<Self> {
        let layers = text
            .split(',')
            .map(|p| {
                p.trim().parse::<usize>().map_err(|_| EpError::InvalidParameter {
                    field: "layers".into(),
                    value: text.into(),
                    allowed: format!("comma-separated positive integers; `{}` is not one", p.trim()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(layers)
    }

    /// All sizes, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.layers
    }

    /// Input size.
    pub fn input(&self) -> usize {
        self.layers[0]
    }

    /// Output size.
    pub fn output(&self) -> usize {
        self.layers[self.layers.len() - 1]
    }

    /// Number of weight layers (projections), `layers − 1`.
    pub fn projections(&self) -> usize {
        self.layers.len() - 1
    }

    /// Total synapses of the forward projections.
    pub fn synapses(&self) -> usize {
        self.layers.windows(2).map(|w| w[0] * w[1]).sum()
    }
}

impl std::fmt::Display for NetworkShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.layers.iter().map(usize::to_string).collect::<Vec<_>>().join("-");
        f.write_str(&text)
    }
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
