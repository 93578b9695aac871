//! `epchip export`: a trained run as NIR, Lava-dl netx or a core-mapping file; with `--spiking`, the
//! deployment conversion, emulated by epchip and reported as JSON with `--json`.

use std::path::Path;
use std::process::ExitCode;

use ep_runtime::atomic_file::write_atomic;
use ep_runtime::interchange::mapping_export::write_mapping;
use ep_runtime::interchange::netx_export::{write_netx, write_spiking_netx};
use ep_runtime::interchange::nir_export::{NirNeurons, write_nir, write_spiking_nir};
use ep_runtime::interchange::spiking::{
    DeploymentReport, SpikingNetwork, SpikingOptions, convert, emulate, feedforward_predictions,
};
use ep_runtime::{NetworkParameters, Trainer, TrainingCheckpoint, load_dataset};

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
    anyhow::ensure!(args.format == "nir" || args.dt.is_none(), "--dt applies to --format nir only");
    anyhow::ensure!(
        args.format != "mapping" || !args.spiking,
        "--spiking applies to --format nir and lava-netx only (the mapping file describes the trained network)"
    );
    let tuning = [
        ("--json", args.json),
        ("--steps", args.steps.is_some()),
        ("--input-bits", args.input_bits.is_some()),
        ("--hidden-rate", args.hidden_rate.is_some()),
        ("--output-rate", args.output_rate.is_some()),
        ("--examples", args.examples.is_some()),
        ("--counts", args.counts.is_some()),
    ];
    if let Some((flag, _)) = tuning.iter().find(|(_, given)| *given && !args.spiking) {
        anyhow::bail!("{flag} applies to a spiking deployment only: add --spiking");
    }
    anyhow::ensure!(args.threads >= 1, "invalid --threads 0: use 1 or more");
    let checkpoint = TrainingCheckpoint::from_run_dir(&args.run)?;
    let trainer = Trainer::resume(&checkpoint, args.threads)?;
    let net = trainer.network();
    let step_us = checkpoint.profile.energy.time_step_us;
    let dt = args.dt.unwrap_or(if step_us > 0.0 { step_us * 1e-6 } else { DEFAULT_DT_SECONDS });
    if args.spiking {
        let defaults = SpikingOptions::default();
        let options = SpikingOptions {
            steps_per_example: args.steps.unwrap_or(defaults.steps_per_example),
            input_bits: args.input_bits.unwrap_or(defaults.input_bits),
            hidden_rate: args.hidden_rate.unwrap_or(defaults.hidden_rate),
            output_rate: args.output_rate.unwrap_or(defaults.output_rate),
        };
        let params = NetworkParameters::from_network(net, checkpoint.config.t1)?;
        let spiking = convert(&params, &options)?;
        // Evaluated first, so that a refused --examples leaves no file behind.
        let report = if args.json || args.counts.is_some() {
            Some(evaluate_deployment(&args, &checkpoint, &trainer, &params, &spiking)?)
        } else {
            None
        };
        match args.format.as_str() {
            "nir" => write_spiking_nir(&spiking, &args.out, dt)?,
            _ => write_spiking_netx(&spiking, &args.out)?,
        }
        if let Some(report) = report.filter(|_| args.json) {
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(ExitCode::SUCCESS);
        }
    } else {
        match args.format.as_str() {
            "nir" => {
                let params = NetworkParameters::from_network(net, checkpoint.config.t1)?;
                write_nir(&params, &args.out, NirNeurons::Rate, dt)?;
            }
            "lava-netx" => write_netx(net, &args.out)?,
            _ => write_mapping(net, &args.out)?,
        }
    }
    println!("wrote {} ({} of {})", args.out.display(), args.format, args.run.display());
    Ok(ExitCode::SUCCESS)
}

/// The run's own network and the deployed one on the run's test set (the first `--examples`).
fn evaluate_deployment(
    args: &ExportArgs,
    checkpoint: &TrainingCheckpoint,
    trainer: &Trainer,
    params: &NetworkParameters,
    spiking: &SpikingNetwork,
) -> anyhow::Result<DeploymentReport> {
    let data = load_dataset(&checkpoint.data.spec)?;
    let available = data.test.len();
    let examples = args.examples.unwrap_or(available);
    anyhow::ensure!(
        (1..=available).contains(&examples),
        "invalid --examples {examples}: the run's test set `{}` has {available} examples (use 1..={available})",
        checkpoint.data.spec
    );
    let test = data.test.truncated(examples);
    let trained = trainer.evaluate(&test)?;
    let feedforward = feedforward_predictions(params, &test, examples);
    let labels = test.labels();
    let feedforward_accuracy = feedforward.iter().zip(labels).filter(|(p, l)| **p == usize::from(**l)).count()
        as f64
        / examples as f64;
    let emulation = emulate(spiking, &test, examples, args.threads)?;
    let deployed = emulation.accuracy(&test);
    if let Some(path) = &args.counts {
        write_counts(path, labels, &emulation.predictions, &emulation.output_counts)?;
    }
    Ok(DeploymentReport::new(
        &args.format,
        &checkpoint.profile.name,
        spiking,
        &emulation,
        deployed,
        trained,
        feedforward_accuracy,
        &format!("{:?}", params.neuron).to_lowercase(),
        &args.out.display().to_string(),
    ))
}

/// Labels, predictions and output spike counts of every example, as JSON.
fn write_counts(
    path: &Path,
    labels: &[u8],
    predictions: &[usize],
    counts: &[Vec<u32>],
) -> anyhow::Result<()> {
    let value = serde_json::json!({
        "labels": labels,
        "predictions": predictions,
        "output_spike_counts": counts,
    });
    write_atomic(path, serde_json::to_string(&value)?.as_bytes())?;
    Ok(())
}
