//! The human summary of a hardware profile (`epchip profile check`, `epchip.Profile.check()` in
//! Python).

use crate::profile::{Arithmetic, HardwareProfile};

fn opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

impl HardwareProfile {
    /// What `epchip profile check` prints for a valid profile: name and description, cores and
    /// their limits, arithmetic, the non-idealities turned on, the learning engine and the energy
    /// per operation, one line each (the text ends with a newline).
    pub fn summary(&self) -> String {
        let p = self;
        let l = &p.core_limits;
        let arithmetic = match &p.arithmetic {
            Arithmetic::Float => "32-bit floating point".to_string(),
            Arithmetic::Analog(_) => "analog crossbar (continuous states, see below)".to_string(),
            Arithmetic::Digital(d) => format!(
                "digital: {}-bit weights (exponent {}..={}), {}-bit state (1.0 = 2^{}), {}-bit \
                 activations, {}-bit inputs, {}-bit accumulator, {}-bit decays, {}-bit bias",
                d.weight_bits,
                d.weight_exponent_min,
                d.weight_exponent_max,
                d.state_bits,
                d.state_fraction_bits,
                d.activation_bits,
                d.input_bits,
                d.accumulator_bits,
                d.decay_bits,
                d.bias_bits
            ),
        };
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!("profile `{}` is valid: {}", p.name, p.description));
        line(format!("  cores per chip       {}", p.chip.cores));
        line(format!("  neurons per core     {}", opt(l.max_neurons)));
        line(format!("  input axons per core {}", opt(l.max_input_axons)));
        line(format!("  output axons / core  {}", opt(l.max_output_axons)));
        line(format!("  synapse memory bits  {}", opt(l.synapse_memory_bits)));
        line(format!("  arithmetic           {arithmetic}"));
        let non_ideal = p.non_idealities();
        if non_ideal.is_empty() {
            line("  non-idealities       none (ideal reference)".to_string());
        } else {
            line("  non-idealities turned on:".to_string());
            for item in non_ideal {
                line(format!("    - {item}"));
            }
        }
        line(format!(
            "  learning engine      {}-bit traces, {:?} rounding",
            p.learning.trace_bits, p.learning.rounding
        ));
        let e = &p.energy;
        line(format!(
            "  energy (pJ)          synaptic op {}, synaptic update {}, neuron update {}, spike {}",
            e.synaptic_op_pj, e.synaptic_update_pj, e.neuron_update_pj, e.spike_pj
        ));
        out
    }
}
