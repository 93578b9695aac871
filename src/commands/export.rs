//! `epchip export`: a trained run as NIR, Lava-dl netx or a core-mapping file.

use std::process::ExitCode;

use ep_runtime::interchange::mapping_export::write_mapping;
use ep_runtime::interchange::netx_export::write_netx;
use ep_runtime::interchange::nir_export::{NirNeurons, write_nir};
use ep_runtime::{NetworkParameters, Trainer, TrainingCheckpoint};

use crate::cli::ExportArgs;

/// Seconds per step when the profile does not give one.
const DEFAULT_DT_SECONDS: f64 = 1e-3;

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let formats = ["nir", "lava-netx", "mapping"];
    anyhow::ensure!(
        formats.contains(&args.format.as_str()),
        "invalid --format {}: use one of {}",
        args.format,
        formats.join(", ")
    );
    anyhow::ensure!(
        args.format == "nir" || (!args.spiking && args.dt.is_none()),
        "--spiking and --dt apply to --format nir only"
    );
    let checkpoint = TrainingCheckpoint::from_run_dir(&args.run)?;
    let trainer = Trainer::resume(&checkpoint, 1)?;
    let net = trainer.network();
    match args.format.as_str() {
        "nir" => {
            let params = NetworkParameters::from_network(net, checkpoint.config.t1)?;
            let step_us = checkpoint.profile.energy.time_step_us;
            let dt = args.dt.unwrap_or(if step_us > 0.0 { step_us * 1e-6 } else { DEFAULT_DT_SECONDS });
            let neurons = if args.spiking { NirNeurons::Spiking } else { NirNeurons::Rate };
            write_nir(&params, &args.out, neurons, dt)?;
        }
        "lava-netx" => write_netx(net, &args.out)?,
        _ => write_mapping(net, &args.out)?,
    }
    println!("wrote {} ({} of {})", args.out.display(), args.format, args.run.display());
    Ok(ExitCode::SUCCESS)
}
