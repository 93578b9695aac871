//! Export of the feed-forward (inference) path in Lava-dl netx's HDF5 layout, for Loihi 2
//! deployment: a `layer` group with subgroups `0`, `1`, ...; each a `dense` layer with `shape`,
//! integer-valued `weight` (out × in, the chip's weight mantissas), `bias` (bias mantissas) and a
//! `neuron` group (`CUBA`, `iDecay`, per-neuron `vDecay`, `vThMant`, `refDelay`, `gradedSpike`).
//!
//! Two facts a deployment has to honour are recorded next to the numbers (netx ignores them):
//! `weightExp` and `biasExp` (effective weight `w · 2^(6 + weightExp)`), and `inputScale`: the
//! emulated neuron is a normalised leaky integrator whose input is scaled by `vDecay / 4096` (so its
//! fixed point does not depend on its time constant); Lava's stock CUBA neuron does not do this, so
//! either a custom neuron or per-neuron rescaled weights are needed on the real chip.

use std::path::Path;

use hdf5_pure::{EnumTypeBuilder, FileBuilder, GroupBuilder, make_i8_type};
use ndarray::Array2;

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::interchange::nir_export::{matrix, scalar_string};
use crate::interchange::spiking::SpikingNetwork;
use crate::on_chip::ep_network::EpNetwork;

/// Writes the forward path of `net` (on a digital chip) in netx's layout to `path`, atomically.
pub fn write_netx(net: &EpNetwork, path: &Path) -> Result<()> {
    let err = |reason: String| EpError::ModelFile { path: path.to_path_buf(), reason };
    let chip = net.chip();
    let Some(d) = chip.profile().digital().cloned() else {
        return Err(err(format!(
            "the lava-netx format holds integer weights and decays, and the run's profile `{}` is not \
             digital; train on a digital profile (loihi2, loihi1) or export `--format nir`",
            chip.profile().name
        )));
    };
    let sizes = net.shape().sizes().to_vec();
    let full_decay = 1i64 << d.decay_bits;
    let mut file = FileBuilder::new();
    let mut layers = file.create_group("layer");
    for l in 1..sizes.len() {
        let missing = || err(format!("layer {l} is missing from the network"));
        let group = net.forward_group(l - 1).ok_or_else(missing)?;
        let pop = net.layer(l).ok_or_else(missing)?;
        let (mant, exp) = chip.read_weight_mantissas(group)?;
        let weight = mant.t().mapv(|m| m as f32);
        let neurons =
            chip.read_digital_neurons(pop)?.ok_or_else(|| err("the chip holds no digital neurons".into()))?;
        let (decays, bexp) = (neurons.decay, neurons.bias_exponent);
        let bias: Vec<f32> = neurons.bias_mantissa.iter().map(|&m| m as f32).collect();

        let mut g = layers.create_group(&(l - 1).to_string());
        dense_layer(&mut g, &weight, &bias).map_err(err)?;
        g.create_dataset("weightExp").with_i64_data(&[i64::from(exp)]).with_shape(&[]);
        g.create_dataset("biasExp").with_i64_data(&[i64::from(bexp)]).with_shape(&[]);
        let mut neuron = g.create_group("neuron");
        scalar_string(&mut neuron, "type", "CUBA");
        // The current does not persist between steps (du = 4095): u is the step's synaptic input.
        neuron.create_dataset("iDecay").with_i64_data(&[full_decay]).with_shape(&[]);
        neuron.create_dataset("vDecay").with_i64_data(decays);
        let threshold = (1i64 << d.state_fraction_bits) >> 6;
        neuron.create_dataset("vThMant").with_i64_data(&[threshold]).with_shape(&[]);
        neuron.create_dataset("refDelay").with_i64_data(&[1]).with_shape(&[]);
        neuron.create_dataset("gradedSpike").with_enum_u8_data(h5_bool().map_err(err)?, &[1]).with_shape(&[]);
        scalar_string(&mut neuron, "inputScale", "vDecay/4096 (normalised leaky integrator)");
        scalar_string(&mut neuron, "activation", net.neuron_model().activation());
        g.add_group(neuron.finish());
        layers.add_group(g.finish());
    }
    file.add_group(layers.finish());
    let bytes = file.finish().map_err(|e| err(format!("HDF5 encoding failed: {e}")))?;
    write_atomic(path, &bytes)
}

/// Writes a deployed spiking network (see [`crate::interchange::spiking`]) in netx's layout to
/// `path`, atomically: one `dense` layer per neuron layer with its integer weights and biases, and
/// CUBA neurons that netx turns into Lava's stock `LIF` (`LIFReset` with a `reset_interval`):
/// `iDecay` 4096 (netx's `du = iDecay − 1` = 4095: no current memory), `vDecay` 0 (no leak), the
/// layer's `vThMant`, binary spikes. A root group `epchip` records how to run it (input bits,
/// steps per example, readout), which netx does not read.
pub fn write_spiking_netx(net: &SpikingNetwork, path: &Path) -> Result<()> {
    let err = |reason: String| EpError::ModelFile { path: path.to_path_buf(), reason };
    let mut file = FileBuilder::new();
    let mut layers = file.create_group("layer");
    for (k, layer) in net.layers.iter().enumerate() {
        let mut g = layers.create_group(&k.to_string());
        let weight = layer.weight.mapv(|w| w as f32);
        let bias: Vec<f32> = layer.bias.iter().map(|&b| b as f32).collect();
        dense_layer(&mut g, &weight, &bias).map_err(err)?;
        let mut neuron = g.create_group("neuron");
        scalar_string(&mut neuron, "type", "CUBA");
        neuron.create_dataset("iDecay").with_i64_data(&[4096]).with_shape(&[]);
        neuron.create_dataset("vDecay").with_i64_data(&[0]).with_shape(&[]);
        neuron.create_dataset("vThMant").with_i64_data(&[layer.threshold]).with_shape(&[]);
        neuron.create_dataset("refDelay").with_i64_data(&[1]).with_shape(&[]);
        neuron.create_dataset("gradedSpike").with_enum_u8_data(h5_bool().map_err(err)?, &[0]).with_shape(&[]);
        g.add_group(neuron.finish());
        layers.add_group(g.finish());
    }
    file.add_group(layers.finish());
    let mut meta = file.create_group("epchip");
    let options = &net.options;
    meta.create_dataset("inputBits").with_i64_data(&[i64::from(options.input_bits)]).with_shape(&[]);
    meta.create_dataset("stepsPerExample").with_i64_data(&[options.steps_per_example as i64]).with_shape(&[]);
    scalar_string(
        &mut meta,
        "input",
        &format!(
            "graded spikes, input_message_bits = {}: round(pixel byte / 2^{}) every step",
            options.input_bits,
            8 - options.input_bits
        ),
    );
    scalar_string(
        &mut meta,
        "run",
        &format!(
            "netx.hdf5.Network(file, input_message_bits={}, reset_interval={}, reset_offset=1); \
         class = argmax of the output spike counts over each example's steps",
            options.input_bits, options.steps_per_example
        ),
    );
    file.add_group(meta.finish());
    let bytes = file.finish().map_err(|e| err(format!("HDF5 encoding failed: {e}")))?;
    write_atomic(path, &bytes)
}

/// The datasets of a netx `dense` layer: `type`, `shape`, `inFeatures`, `outFeatures`, `weight`
/// (out × in) and `bias`.
fn dense_layer(g: &mut GroupBuilder, weight: &Array2<f32>, bias: &[f32]) -> std::result::Result<(), String> {
    let (outputs, inputs) = weight.dim();
    g.create_dataset("type")
        .with_ascii_strings_sized(&["dense"], 10)
        .map_err(|e| format!("HDF5 encoding failed: {e}"))?
        .with_shape(&[1]);
    g.create_dataset("shape").with_i64_data(&[outputs as i64]);
    g.create_dataset("inFeatures").with_i64_data(&[inputs as i64]).with_shape(&[]);
    g.create_dataset("outFeatures").with_i64_data(&[outputs as i64]).with_shape(&[]);
    matrix(g, "weight", weight);
    g.create_dataset("bias").with_f32_data(bias);
    Ok(())
}

/// HDF5's boolean enum as h5py writes it (`FALSE` = 0, `TRUE` = 1 over an i8).
fn h5_bool() -> std::result::Result<hdf5_pure::Datatype, String> {
    EnumTypeBuilder::with_base(make_i8_type())
        .value("FALSE", 0)
        .value("TRUE", 1)
        .build()
        .map_err(|e| format!("HDF5 encoding failed: {e}"))
}
