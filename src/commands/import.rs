//! `epchip import`: a NIR graph run on an emulated chip and evaluated on a test set.

use std::process::ExitCode;

use chip_model::HardwareProfile;
use ep_runtime::interchange::nir_import::read_nir;
use ep_runtime::{EpNetwork, TrainConfig, evaluate, load_dataset};

use crate::cli::ImportArgs;

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let params = read_nir(&args.file)?;
    let profile = HardwareProfile::load(&args.profile)?;
    let config = TrainConfig {
        t1: params.t1,
        seed: args.seed,
        lr: vec![0.0],
        placement: args.placement.parse()?,
        ..TrainConfig::default()
    };
    let net = EpNetwork::from_parameters(&profile, &params, &config)?;
    let data = load_dataset(&args.dataset)?;
    anyhow::ensure!(
        data.test.input_size() == params.layers[0],
        "{} has {} inputs, the dataset `{}` has {} features per example",
        args.file.display(),
        params.layers[0],
        args.dataset,
        data.test.input_size()
    );
    let accuracy = evaluate(&net, &data.test, config.t1, None, config.eval_batch, 1)?;
    let sizes: Vec<String> = params.layers.iter().map(usize::to_string).collect();
    println!(
        "{}: {} network, {} settling steps, on `{}`: test accuracy {:.2} % ({} examples)",
        args.file.display(),
        sizes.join("-"),
        params.t1,
        profile.name,
        100.0 * accuracy,
        data.test.len()
    );
    Ok(ExitCode::SUCCESS)
}
