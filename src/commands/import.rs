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
    for warning in slow_neuron_warnings(&net)? {
        eprintln!("epchip: warning: {warning}");
    }
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

/// Neurons whose time step the chip cannot represent: their realised step is more than 1.5× the
/// designed one (a digital core's decay has `decay_bits` bits; time constants of 2^decay_bits steps
/// or longer round up to the smallest decay, so those neurons move faster than the graph says).
fn slow_neuron_warnings(net: &EpNetwork) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for l in 0..net.shape().sizes().len() - 1 {
        let (Some(designed), Some(pop)) = (net.designed_dt(l), net.layer(l)) else { continue };
        let realised = net.chip().realised_dt(pop)?;
        let slow: Vec<usize> = (0..designed.len()).filter(|&i| realised[i] > 1.5 * designed[i]).collect();
        if slow.is_empty() {
            continue;
        }
        let (name, _) = net.chip().population_info(pop)?;
        let listed: Vec<String> = slow.iter().take(10).map(usize::to_string).collect();
        let more = if slow.len() > 10 { format!(" and {} more", slow.len() - 10) } else { String::new() };
        out.push(format!(
            "layer `{name}`: {} neurons ({}{more}) have time constants too long for `{}` to represent \
             (designed step as small as {:.2e}, realised {:.2e}): they settle faster than the graph says",
            slow.len(),
            listed.join(", "),
            net.chip().profile().name,
            slow.iter().map(|&i| designed[i]).fold(f32::INFINITY, f32::min),
            slow.iter().map(|&i| realised[i]).fold(f32::INFINITY, f32::min),
        ));
    }
    Ok(out)
}
