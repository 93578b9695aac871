//! From a trained EP network to a feed-forward network of integrate-and-fire neurons in Loihi's
//! integer formats (docs/export.md, "Deployment as a spiking network").
//!
//! Every layer of the trained rate network computes `a = f(W a_below + b)` at inference, with `f` the
//! hard sigmoid `clip(u, 0, 1)` (clip model) or `σ(4u − 2)` (sigmoid model, whose tangent at its
//! centre is that same `clip(u, 0, 1)`). A CUBA LIF neuron whose current does not persist (`du` =
//! 4095) and whose voltage does not leak (`dv` = 0) adds `D = Σ w·s + bias` to `v` every step and
//! fires (resetting `v` to 0) when `v > threshold`: its rate is about `clip(D / threshold, 0, 1)`.
//! So a layer converts with one scale `S` per layer: integer weights `round(S·W)`, threshold
//! `round(S·g/λ)` and bias `round(S·g·b)`, where `g` is what one unit of activity below delivers
//! per step (graded input: `255 / 2^(8 − input_bits)` per pixel payload; spikes: `λ` of the layer
//! below) and `λ` is the layer's rate at `u = 1`. `S` is the largest value that keeps every number
//! inside Lava's fixed-point ranges (weights ±254, 17-bit threshold, 13-bit bias mantissa) and the
//! 24-bit current from wrapping for any input (the worst case, not a data-driven bound).
//!
//! The per-neuron time constants (HTS) and the normalised integrator's input scaling `d_i/4096` do
//! not enter: they set how fast the trained network settles, not where (its fixed point is the
//! same for every `d_i`), and the deployed neuron is a plain integrator whose rate is what counts.
//! EP's feedback projections are dropped: inference is one feed-forward pass (docs/export.md gives
//! the measured cost).

use ndarray::Array2;
use serde::Serialize;

use crate::error::{EpError, Result};
use crate::network::neuron_model::NeuronModel;
use crate::network::parameters::NetworkParameters;

/// Largest weight magnitude netx keeps exactly (8-bit mixed-sign synapses: −256..=254).
pub const MAX_WEIGHT: i64 = 254;
/// Largest threshold mantissa (17 bits).
pub const MAX_THRESHOLD: i64 = 131_071;
/// Largest bias mantissa magnitude (13 bits signed).
pub const MAX_BIAS: i64 = 4095;
/// Largest synaptic input per step before the 24-bit current wraps (`input << 6 < 2^23`).
pub const MAX_SYNAPTIC_INPUT: i64 = (1 << 17) - 1;
/// The bias exponent netx gives every CUBA neuron: bias and synaptic input share units.
pub const NETX_BIAS_EXP: i32 = 6;

/// Choices of the conversion; [`SpikingOptions::default`] holds the measured defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpikingOptions {
    /// Time steps every example is presented for (the network is reset between examples).
    pub steps_per_example: usize,
    /// Bits of the graded input spike that carries a pixel (1..=8): `round(byte / 2^(8 − bits))`.
    pub input_bits: u32,
    /// Spikes per step of a hidden neuron at `u = 1` (the top of the hard sigmoid), in (0, 1].
    pub hidden_rate: f64,
    /// Spikes per step of an output neuron at `u = 1`, in (0, 1]; below 1 it keeps outputs that
    /// exceed 1 apart (the readout is the argmax of the output spike counts).
    pub output_rate: f64,
}

impl Default for SpikingOptions {
    fn default() -> Self {
        Self { steps_per_example: 32, input_bits: 8, hidden_rate: 1.0, output_rate: 0.5 }
    }
}

impl SpikingOptions {
    /// Checks every option, naming the value and what is allowed.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, value: String, allowed: &str| {
            Err(EpError::InvalidParameter { field: field.into(), value, allowed: allowed.into() })
        };
        if !(1..=4096).contains(&self.steps_per_example) {
            return bad("steps", self.steps_per_example.to_string(), "time steps per example, 1..=4096");
        }
        if !(1..=8).contains(&self.input_bits) {
            return bad("input-bits", self.input_bits.to_string(), "bits of the graded input spike, 1..=8");
        }
        for (field, rate) in [("hidden-rate", self.hidden_rate), ("output-rate", self.output_rate)] {
            if !(rate > 0.0 && rate <= 1.0) {
                return bad(field, rate.to_string(), "spikes per step at u = 1, a number in (0, 1]");
            }
        }
        Ok(())
    }

    /// The graded input spike of a pixel byte: `round(byte / 2^(8 − input_bits))`, at most
    /// `2^input_bits − 1`.
    pub fn pixel_payload(&self, byte: u8) -> i64 {
        let shift = 8 - self.input_bits;
        let max = (1i64 << self.input_bits) - 1;
        if shift == 0 { i64::from(byte) } else { ((i64::from(byte) + (1 << (shift - 1))) >> shift).min(max) }
    }
}

/// One layer of integrate-and-fire neurons with its dense input synapses, in integer units: every
/// step `v ← v + Σ_j weight[i][j]·s_j + bias[i]`, a spike and `v ← 0` when `v > threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikingLayer {
    /// Weights, out × in, within ±[`MAX_WEIGHT`].
    pub weight: Array2<i64>,
    /// Bias per neuron, within ±[`MAX_BIAS`].
    pub bias: Vec<i64>,
    /// Threshold of every neuron of the layer (Lava's `vth` is one per layer), 1..=[`MAX_THRESHOLD`].
    pub threshold: i64,
    /// The real-to-integer scale `S` of the weights.
    pub scale: f64,
}

/// The deployed network: a chain of [`SpikingLayer`]s fed by graded pixel spikes.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikingNetwork {
    /// Layer sizes, input first.
    pub sizes: Vec<usize>,
    /// Neuron layers, first hidden layer first.
    pub layers: Vec<SpikingLayer>,
    /// The options it was converted with.
    pub options: SpikingOptions,
}

/// Converts the trained `params` for deployment (see the module documentation).
pub fn convert(params: &NetworkParameters, options: &SpikingOptions) -> Result<SpikingNetwork> {
    params.validate()?;
    options.validate()?;
    // The conversion rests on f ≈ clip(u, 0, 1); both models qualify (see the module doc).
    debug_assert!(NeuronModel::ALL.contains(&params.neuron));
    let n = params.layers.len();
    let mut layers = Vec::with_capacity(n - 1);
    for l in 1..n {
        let weight = params.forward[l - 1].t().mapv(f64::from);
        let bias: Vec<f64> = params.bias[l - 1].iter().map(|&b| f64::from(b)).collect();
        let rate = if l == n - 1 { options.output_rate } else { options.hidden_rate };
        let (per_unit, max_input) = if l == 1 {
            (255.0 / f64::from(1u32 << (8 - options.input_bits)), ((1i64 << options.input_bits) - 1) as f64)
        } else {
            (options.hidden_rate, 1.0)
        };
        layers.push(convert_layer(l, &weight, &bias, per_unit, max_input, rate)?);
    }
    Ok(SpikingNetwork { sizes: params.layers.clone(), layers, options: *options })
}

/// One layer: the largest scale whose numbers all fit (see the module documentation).
fn convert_layer(
    l: usize,
    weight: &Array2<f64>,
    bias: &[f64],
    per_unit: f64,
    max_input: f64,
    rate: f64,
) -> Result<SpikingLayer> {
    let max_weight = weight.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    let max_bias = bias.iter().fold(0.0f64, |m, b| m.max(b.abs()));
    let worst_sum = weight
        .rows()
        .into_iter()
        .map(|row| {
            let pos: f64 = row.iter().filter(|w| **w > 0.0).sum();
            let neg: f64 = -row.iter().filter(|w| **w < 0.0).sum::<f64>();
            pos.max(neg)
        })
        .fold(0.0f64, f64::max);
    if max_weight == 0.0 {
        return Err(EpError::DoesNotFit(format!(
            "layer {l} has only zero weights; a spiking deployment needs at least one nonzero weight"
        )));
    }
    let limits = [
        MAX_WEIGHT as f64 / max_weight,
        MAX_THRESHOLD as f64 * rate / per_unit,
        if max_bias > 0.0 { MAX_BIAS as f64 / (per_unit * max_bias) } else { f64::INFINITY },
        MAX_SYNAPTIC_INPUT as f64 / (max_input * worst_sum),
    ];
    let scale = limits.into_iter().fold(f64::INFINITY, f64::min);
    let threshold = (scale * per_unit / rate).round() as i64;
    if threshold < 1 {
        return Err(EpError::DoesNotFit(format!(
            "layer {l}: its weights are too large for a spiking deployment (scale {scale:.3e} gives a \
             threshold below 1)"
        )));
    }
    Ok(SpikingLayer {
        weight: weight.mapv(|w| (w * scale).round() as i64),
        bias: bias.iter().map(|b| (b * scale * per_unit).round() as i64).collect(),
        threshold,
        scale,
    })
}
