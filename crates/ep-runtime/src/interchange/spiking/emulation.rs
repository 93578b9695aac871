//! epchip's own run of a deployed [`SpikingNetwork`], on chip-model's bit-accurate CUBA LIF
//! compartment (`chip_model::cuba_lif`, tested value for value against Lava's fixed-point model).
//!
//! Every example is presented for `steps_per_example` steps from rest (`u = v = 0`): the first
//! layer receives the graded pixel spikes every step, each further layer the spikes its layer below
//! sent in the same step of the example. This is what Lava runs when netx's `reset_interval` is
//! the number of steps per example and each layer's reset follows the one below by one step (the
//! dense synapses' one-step delay): see `tests/interop/lava_netx.py`. The prediction is the
//! output neuron with the most spikes (the lowest index among equals).

use std::time::Instant;

use chip_model::cuba_lif::{CubaLif, CubaLifParams};

use crate::data::dataset::Dataset;
use crate::error::{EpError, Result};
use crate::interchange::spiking::conversion::{NETX_BIAS_EXP, SpikingNetwork};

/// Loihi's current decay that keeps no current from one step to the next (`u` is the step's input).
pub const NO_CURRENT_MEMORY: u16 = 4095;
/// Voltage decay of an integrate-and-fire neuron (no leak).
pub const NO_LEAK: u16 = 0;

/// What the emulation of a set of examples gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Emulation {
    /// Output spikes of every example, one count per output neuron.
    pub output_counts: Vec<Vec<u32>>,
    /// Predicted class of every example.
    pub predictions: Vec<usize>,
    /// Examples whose largest output count is shared by several neurons.
    pub ties: usize,
    /// Spikes of every neuron layer, summed over all examples.
    pub spikes_per_layer: Vec<u64>,
    /// Wall-clock seconds the emulation took.
    pub seconds: f64,
}

impl Emulation {
    /// Share of examples whose prediction equals the label.
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        let correct =
            self.predictions.iter().zip(data.labels()).filter(|(p, l)| **p == usize::from(**l)).count();
        correct as f64 / self.predictions.len().max(1) as f64
    }
}

impl SpikingNetwork {
    /// The CUBA LIF parameters of neuron layer `k` (0-based) as netx configures Lava's LIF.
    pub fn lif_params(&self, k: usize) -> CubaLifParams {
        let layer = &self.layers[k];
        let n = layer.bias.len();
        CubaLifParams {
            du: vec![NO_CURRENT_MEMORY; n],
            dv: vec![NO_LEAK; n],
            vth: layer.threshold,
            bias_mant: layer.bias.clone(),
            bias_exp: vec![NETX_BIAS_EXP; n],
        }
    }

    /// The graded input spikes of one example: one payload per pixel.
    pub fn input_payloads(&self, pixels: &[u8]) -> Vec<i64> {
        pixels.iter().map(|&b| self.options.pixel_payload(b)).collect()
    }
}

/// Runs the first `examples` examples of `data` through `net` (all of them if `examples` exceeds
/// the dataset), on `threads` threads; the result does not depend on the thread count.
pub fn emulate(net: &SpikingNetwork, data: &Dataset, examples: usize, threads: usize) -> Result<Emulation> {
    if data.input_size() != net.sizes[0] {
        return Err(EpError::DatasetMismatch(format!(
            "dataset `{}` has {} inputs, the network {}",
            data.name(),
            data.input_size(),
            net.sizes[0]
        )));
    }
    let start = Instant::now();
    let count = examples.min(data.len());
    // Weights input-major, so that a spike adds one contiguous row.
    let by_input: Vec<Vec<Vec<i64>>> = net
        .layers
        .iter()
        .map(|layer| layer.weight.columns().into_iter().map(|c| c.to_vec()).collect())
        .collect();
    let threads = threads.clamp(1, count.max(1));
    let run = |worker: usize| -> Result<Vec<(usize, Vec<u32>, Vec<u64>)>> {
        let mut lifs = (0..net.layers.len())
            .map(|k| CubaLif::new(net.lif_params(k)))
            .collect::<chip_model::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for index in (worker..count).step_by(threads) {
            let (counts, spikes) = run_example(net, &by_input, &mut lifs, data.pixels(index));
            out.push((index, counts, spikes));
        }
        Ok(out)
    };
    let parts: Vec<Vec<(usize, Vec<u32>, Vec<u64>)>> = if threads == 1 {
        vec![run(0)?]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|w| s.spawn(move || run(w))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Err(EpError::Worker("emulation worker panicked".into())))
                })
                .collect::<Result<Vec<_>>>()
        })?
    };
    let mut output_counts = vec![Vec::new(); count];
    let mut spikes_per_layer = vec![0u64; net.layers.len()];
    for (index, counts, spikes) in parts.into_iter().flatten() {
        output_counts[index] = counts;
        for (total, s) in spikes_per_layer.iter_mut().zip(spikes) {
            *total += s;
        }
    }
    let predictions: Vec<usize> = output_counts.iter().map(|c| argmax_first(c)).collect();
    let ties = output_counts
        .iter()
        .filter(|c| {
            let max = c.iter().copied().max().unwrap_or(0);
            c.iter().filter(|&&x| x == max).count() > 1
        })
        .count();
    Ok(Emulation {
        output_counts,
        predictions,
        ties,
        spikes_per_layer,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One example from rest: output spike counts and the spikes of every layer.
fn run_example(
    net: &SpikingNetwork,
    by_input: &[Vec<Vec<i64>>],
    lifs: &mut [CubaLif],
    pixels: &[u8],
) -> (Vec<u32>, Vec<u64>) {
    for lif in lifs.iter_mut() {
        lif.u.iter_mut().for_each(|x| *x = 0);
        lif.v.iter_mut().for_each(|x| *x = 0);
    }
    // The graded input is the same every step: its synaptic input is computed once.
    let first = &net.layers[0];
    let payloads = net.input_payloads(pixels);
    let mut first_input = vec![0i64; first.bias.len()];
    for (p, row) in payloads.iter().zip(&by_input[0]) {
        if *p != 0 {
            for (x, w) in first_input.iter_mut().zip(row) {
                *x += w * p;
            }
        }
    }
    let last = net.layers.len() - 1;
    let mut counts = vec![0u32; net.layers[last].bias.len()];
    let mut spikes_per_layer = vec![0u64; net.layers.len()];
    let mut input = Vec::new();
    for _ in 0..net.options.steps_per_example {
        let mut spikes = lifs[0].step(&first_input);
        spikes_per_layer[0] += spikes.iter().filter(|&&s| s).count() as u64;
        for k in 1..=last {
            input.clear();
            input.resize(net.layers[k].bias.len(), 0);
            for (fired, row) in spikes.iter().zip(&by_input[k]) {
                if *fired {
                    for (x, w) in input.iter_mut().zip(row) {
                        *x += w;
                    }
                }
            }
            spikes = lifs[k].step(&input);
            spikes_per_layer[k] += spikes.iter().filter(|&&s| s).count() as u64;
        }
        for (c, s) in counts.iter_mut().zip(&spikes) {
            *c += u32::from(*s);
        }
    }
    (counts, spikes_per_layer)
}

/// Index of the largest value, the first among equals.
pub fn argmax_first(values: &[u32]) -> usize {
    values.iter().enumerate().fold((0, 0), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}
