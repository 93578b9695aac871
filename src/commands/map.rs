//! `epchip map`: where a network's layers go on a chip's cores.

use std::process::ExitCode;

use chip_model::HardwareProfile;
use ep_runtime::NetworkShape;
use ep_runtime::atomic_file::write_atomic;
use ep_runtime::on_chip::mapping_report::map_network;

use crate::cli::MapArgs;

fn opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

pub fn run(args: MapArgs) -> anyhow::Result<ExitCode> {
    let profile = HardwareProfile::load(&args.target.profile)?;
    let shape = NetworkShape::parse(&args.target.layers)?;
    let report = map_network(&profile, &shape, args.target.placement.parse()?)?;
    println!(
        "{} on `{}` ({} placement): {} cores on {} chip(s); the board has {} chip(s) × {} cores",
        shape,
        report.profile,
        report.strategy,
        report.cores_used,
        report.chips_used,
        report.chips_available,
        report.cores_per_chip
    );
    println!(
        "{:>5} {:>4} {:<32} {:>14} {:>8} {:>8} {:>26} {:>12}",
        "core", "chip", "population", "neurons", "count", "fan-in", "synapse bits (capacity)", "utilisation"
    );
    for row in &report.cores {
        println!(
            "{:>5} {:>4} {:<32} {:>14} {:>8} {:>8} {:>26} {:>12}",
            row.core,
            row.chip,
            match &row.relay_for {
                Some(range) => format!("{} <- {range} (relay)", row.population),
                None => row.population.clone(),
            },
            format!("{}..{}", row.first_neuron, row.first_neuron + row.neurons),
            row.neurons,
            row.fan_in,
            format!("{} ({})", row.synapse_bits, opt(row.synapse_capacity_bits)),
            row.utilisation.map_or_else(|| "-".to_string(), |u| format!("{:.1} %", 100.0 * u)),
        );
    }
    println!(
        "messages per step and example, all neurons active: {} between cores, {} from the host, \
         {} of them between chips",
        report.max_messages_per_step, report.max_host_messages_per_step, report.max_chip_messages_per_step
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(&report)?;
        write_atomic(path, &text)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
