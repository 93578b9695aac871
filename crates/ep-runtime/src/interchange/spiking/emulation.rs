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
    let run = |worker: usize| -> Result<Vec<ExampleSpikes>> {
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
    let parts: Vec<Vec<ExampleSpikes>> = crate::training::workers::run_workers(threads, "emulation", run)?;
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

/// An example's index, its output spike counts and the spikes of every layer.
type ExampleSpikes = (usize, Vec<u32>, Vec<u64>);

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

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::interchange::spiking::conversion::{
        MAX_SYNAPTIC_INPUT, MAX_THRESHOLD, SpikingLayer, SpikingOptions, convert,
    };
    use crate::network::neuron_model::NeuronModel;
    use crate::network::parameters::NetworkParameters;

    /// The deployed network by its definition, one scalar at a time: every step `v ← v + Σ w·s + b`,
    /// a spike and `v ← 0` when `v > threshold`; layer k sees layer k − 1's spikes of the same step.
    fn scalar_reference(net: &SpikingNetwork, pixels: &[u8]) -> Vec<u32> {
        let mut v: Vec<Vec<i64>> = net.layers.iter().map(|l| vec![0; l.bias.len()]).collect();
        let mut counts = vec![0u32; net.layers.last().map_or(0, |l| l.bias.len())];
        let input: Vec<i64> = pixels.iter().map(|&b| net.options.pixel_payload(b)).collect();
        for _ in 0..net.options.steps_per_example {
            let mut below = input.clone();
            for (k, layer) in net.layers.iter().enumerate() {
                let mut spikes = vec![0i64; layer.bias.len()];
                for i in 0..layer.bias.len() {
                    let drive: i64 = (0..below.len()).map(|j| layer.weight[[i, j]] * below[j]).sum();
                    v[k][i] += drive + layer.bias[i];
                    if v[k][i] > layer.threshold {
                        spikes[i] = 1;
                        v[k][i] = 0;
                    }
                }
                below = spikes;
            }
            for (c, s) in counts.iter_mut().zip(&below) {
                *c += *s as u32;
            }
        }
        counts
    }

    /// A pseudo-random integer in `lo..hi` from a counter (no RNG state needed in tests).
    fn hashed(i: u64, lo: i64, hi: i64) -> i64 {
        let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        lo + (x % (hi - lo) as u64) as i64
    }

    fn network(options: SpikingOptions) -> SpikingNetwork {
        let sizes = vec![12, 9, 4];
        let layers = (1..sizes.len())
            .map(|l| {
                let (n_in, n_out) = (sizes[l - 1], sizes[l]);
                let seed = 1000 * l as u64;
                SpikingLayer {
                    weight: Array2::from_shape_fn((n_out, n_in), |(i, j)| {
                        hashed(seed + (i * n_in + j) as u64, -40, 60)
                    }),
                    bias: (0..n_out).map(|i| hashed(seed + 500 + i as u64, -200, 300)).collect(),
                    threshold: if l == 1 { 9000 } else { 70 },
                    scale: 1.0,
                }
            })
            .collect();
        SpikingNetwork { sizes, layers, options }
    }

    fn dataset(examples: usize) -> Dataset {
        let pixels: Vec<u8> = (0..examples * 12).map(|i| hashed(i as u64 + 7, 0, 256) as u8).collect();
        let labels: Vec<u8> = (0..examples).map(|i| (i % 4) as u8).collect();
        Dataset::new("test", pixels, labels, 3, 4, 4).expect("a valid dataset")
    }

    #[test]
    fn emulation_equals_the_scalar_definition_of_the_network() -> Result<()> {
        for input_bits in [8, 3] {
            let options = SpikingOptions { steps_per_example: 40, input_bits, ..SpikingOptions::default() };
            let net = network(options);
            let data = dataset(25);
            for threads in [1, 3] {
                let emulated = emulate(&net, &data, 25, threads)?;
                let spikes: u32 = emulated.output_counts.iter().flatten().sum();
                assert!(spikes > 0, "the test network's outputs spike");
                for (index, counts) in emulated.output_counts.iter().enumerate() {
                    assert_eq!(counts, &scalar_reference(&net, data.pixels(index)), "example {index}");
                }
                assert_eq!(emulated.predictions[0], argmax_first(&emulated.output_counts[0]));
            }
        }
        Ok(())
    }

    #[test]
    fn argmax_takes_the_first_of_equal_counts() {
        assert_eq!(argmax_first(&[1, 5, 5, 2]), 1);
        assert_eq!(argmax_first(&[0, 0, 0]), 0);
    }

    #[test]
    fn conversion_keeps_every_number_in_lavas_ranges_and_the_rates_of_the_rate_network() -> Result<()> {
        let layers = vec![20, 6, 3];
        let forward = vec![
            Array2::from_shape_fn((20, 6), |(i, j)| hashed((i * 6 + j) as u64, -300, 300) as f32 / 1000.0),
            Array2::from_shape_fn((6, 3), |(i, j)| {
                hashed((i * 3 + j) as u64 + 99, -900, 900) as f32 / 1000.0
            }),
        ];
        let params = NetworkParameters {
            layers: layers.clone(),
            forward: forward.clone(),
            feedback: vec![None, Some(forward[1].t().to_owned())],
            bias: vec![vec![0.1; 6], vec![-0.2; 3]],
            dt: vec![vec![0.5; 6], vec![0.5; 3]],
            t1: 10,
            neuron: NeuronModel::Sigmoid,
        };
        let options = SpikingOptions::default();
        let net = convert(&params, &options)?;
        for (k, layer) in net.layers.iter().enumerate() {
            assert!(layer.weight.iter().all(|w| w.abs() <= 254), "layer {k}: weights within 8-bit synapses");
            assert!(layer.bias.iter().all(|b| b.abs() <= 4095), "layer {k}: 13-bit bias");
            assert!((1..=MAX_THRESHOLD).contains(&layer.threshold), "layer {k}: 17-bit threshold");
            let max_input = if k == 0 { 255 } else { 1 };
            for row in layer.weight.rows() {
                let positive: i64 = row.iter().filter(|w| **w > 0).sum();
                let negative: i64 = -row.iter().filter(|w| **w < 0).sum::<i64>();
                assert!(
                    max_input * positive.max(negative) <= MAX_SYNAPTIC_INPUT,
                    "layer {k}: the current cannot wrap"
                );
            }
        }
        // Hidden layer: threshold = scale × 255 / hidden_rate, so a drive of u = 1 fires every step.
        let first = &net.layers[0];
        assert_eq!(first.threshold, (first.scale * 255.0 / options.hidden_rate).round() as i64);
        assert_eq!(first.weight[[2, 5]], (f64::from(forward[0][[5, 2]]) * first.scale).round() as i64);
        // Output layer: the threshold is scale × hidden_rate / output_rate.
        let last = &net.layers[1];
        assert_eq!(last.threshold, (last.scale * options.hidden_rate / options.output_rate).round() as i64);
        assert_eq!(last.bias[0], (-0.2 * last.scale * options.hidden_rate).round() as i64);
        Ok(())
    }

    #[test]
    fn bad_options_are_refused_naming_the_value() {
        let bad = [
            SpikingOptions { steps_per_example: 0, ..SpikingOptions::default() },
            SpikingOptions { input_bits: 0, ..SpikingOptions::default() },
            SpikingOptions { hidden_rate: 0.0, ..SpikingOptions::default() },
            SpikingOptions { output_rate: f64::NAN, ..SpikingOptions::default() },
        ];
        for (options, needle) in
            bad.iter().zip(["steps = 0", "input-bits = 0", "hidden-rate = 0", "output-rate = NaN"])
        {
            let message = options.validate().expect_err("refused").to_string();
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn pixel_payloads_round_to_the_input_bits() {
        let four = SpikingOptions { input_bits: 4, ..SpikingOptions::default() };
        assert_eq!([0, 7, 8, 24, 255].map(|b| four.pixel_payload(b)), [0, 0, 1, 2, 15]);
        assert_eq!(SpikingOptions::default().pixel_payload(200), 200);
    }
}
