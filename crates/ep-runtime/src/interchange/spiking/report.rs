//! What `epchip export --spiking --json` prints: the trained network's accuracy, the deployed
//! network's as epchip emulates it, and the choices and costs of the deployment.

use serde::Serialize;

use crate::interchange::spiking::conversion::{SpikingNetwork, SpikingOptions};
use crate::interchange::spiking::emulation::Emulation;

/// One deployment, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentReport {
    /// `lava-netx` or `nir`.
    pub format: String,
    /// The run's profile.
    pub profile: String,
    /// The run's neuron model (`clip` or `sigmoid`).
    pub neuron_model: String,
    /// Layer sizes, input first.
    pub layers: Vec<usize>,
    /// Test examples evaluated (the first ones of the run's test set).
    pub examples: usize,
    /// Accuracy of the run's own network (EP's free phase on its chip) on those examples.
    pub trained_test_accuracy: f64,
    /// Accuracy of the trained weights run feed-forward in floating point (feedback dropped).
    pub feedforward_test_accuracy: f64,
    /// Accuracy of the deployed spiking network as epchip emulates it.
    pub deployed_test_accuracy: f64,
    /// Time steps each example is presented for.
    pub steps_per_example: usize,
    /// The conversion's options.
    pub options: SpikingOptions,
    /// How the input is encoded.
    pub input_encoding: String,
    /// What became of EP's feedback projections.
    pub feedback: String,
    /// How the class is read out.
    pub readout: String,
    /// Per neuron layer: the threshold mantissa.
    pub thresholds: Vec<i64>,
    /// Per neuron layer: mean spikes per neuron and step.
    pub spikes_per_neuron_step: Vec<f64>,
    /// Examples whose largest output count is shared (decided for the lowest index).
    pub ties: usize,
    /// Seconds epchip's emulation took.
    pub emulation_seconds: f64,
    /// Emulated network time steps per second.
    pub emulated_steps_per_second: f64,
    /// The file written.
    pub out: String,
}

impl DeploymentReport {
    /// The report's deployment part (the caller fills in the run's own figures).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        format: &str,
        profile: &str,
        net: &SpikingNetwork,
        emulation: &Emulation,
        deployed_accuracy: f64,
        trained_accuracy: f64,
        feedforward_accuracy: f64,
        neuron_model: &str,
        out: &str,
    ) -> Self {
        let examples = emulation.predictions.len();
        let steps = net.options.steps_per_example;
        let spikes_per_neuron_step = emulation
            .spikes_per_layer
            .iter()
            .zip(&net.sizes[1..])
            .map(|(&s, &n)| s as f64 / (n * steps * examples.max(1)) as f64)
            .collect();
        Self {
            format: format.into(),
            profile: profile.into(),
            neuron_model: neuron_model.into(),
            layers: net.sizes.clone(),
            examples,
            trained_test_accuracy: trained_accuracy,
            feedforward_test_accuracy: feedforward_accuracy,
            deployed_test_accuracy: deployed_accuracy,
            steps_per_example: steps,
            options: net.options,
            input_encoding: format!(
                "graded spike of {} bits per pixel every step: round(byte / 2^{})",
                net.options.input_bits,
                8 - net.options.input_bits
            ),
            feedback: "dropped: one feed-forward pass".into(),
            readout: "argmax of the output spike counts over the example's steps (lowest index on ties)"
                .into(),
            thresholds: net.layers.iter().map(|l| l.threshold).collect(),
            spikes_per_neuron_step,
            ties: emulation.ties,
            emulation_seconds: emulation.seconds,
            emulated_steps_per_second: (examples * steps) as f64 / emulation.seconds.max(1e-9),
            out: out.into(),
        }
    }
}
