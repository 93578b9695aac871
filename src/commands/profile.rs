//! `epchip profile check|list|show`.

use std::process::ExitCode;

use chip_model::{Arithmetic, BUILTIN_PROFILE_NAMES, HardwareProfile};

use crate::cli::ProfileCommand;

pub fn run(cmd: ProfileCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfileCommand::List => {
            for name in BUILTIN_PROFILE_NAMES {
                let p = HardwareProfile::load(name)?;
                println!("{name:10} {}", p.description);
            }
        }
        ProfileCommand::Show { profile } => {
            let p = HardwareProfile::load(&profile)?;
            println!("{}", p.to_ron_string());
        }
        ProfileCommand::Check { profile } => {
            let p = HardwareProfile::load(&profile)?;
            print_summary(&p);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

fn print_summary(p: &HardwareProfile) {
    println!("profile `{}` is valid: {}", p.name, p.description);
    println!("  cores per chip       {}", p.chip.cores);
    let l = &p.core_limits;
    println!("  neurons per core     {}", opt(l.max_neurons));
    println!("  input axons per core {}", opt(l.max_input_axons));
    println!("  output axons / core  {}", opt(l.max_output_axons));
    println!("  synapse memory bits  {}", opt(l.synapse_memory_bits));
    match &p.arithmetic {
        Arithmetic::Float => println!("  arithmetic           32-bit floating point"),
        Arithmetic::Analog(_) => {
            println!("  arithmetic           analog crossbar (continuous states, see below)")
        }
        Arithmetic::Digital(d) => {
            println!(
                "  arithmetic           digital: {}-bit weights (exponent {}..={}), {}-bit state \
                 (1.0 = 2^{}), {}-bit activations, {}-bit inputs, {}-bit accumulator, {}-bit decays, \
                 {}-bit bias",
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
            );
        }
    }
    let non_ideal = p.non_idealities();
    if non_ideal.is_empty() {
        println!("  non-idealities       none (ideal reference)");
    } else {
        println!("  non-idealities turned on:");
        for item in non_ideal {
            println!("    - {item}");
        }
    }
    println!(
        "  learning engine      {}-bit traces, {:?} rounding",
        p.learning.trace_bits, p.learning.rounding
    );
    let e = &p.energy;
    println!(
        "  energy (pJ)          synaptic op {}, synaptic update {}, neuron update {}, spike {}",
        e.synaptic_op_pj, e.synaptic_update_pj, e.neuron_update_pj, e.spike_pj
    );
}
