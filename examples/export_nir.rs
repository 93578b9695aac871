//! Train a small HTS-EP network on an emulated Loihi-like chip, map it with the traffic-aware
//! placement, and export it as NIR (and as a core-mapping file) through the library API; then read
//! the NIR graph back and check that it gives the same test accuracy.
//!
//! Run with: `cargo run --release --example export_nir` (writes into a temporary directory, or the
//! directory given as the first argument).

use epchip::chip_model::HardwareProfile;
use epchip::ep_runtime::interchange::mapping_export::write_mapping;
use epchip::ep_runtime::interchange::nir_export::{NirNeurons, write_nir};
use epchip::ep_runtime::interchange::nir_import::read_nir;
use epchip::ep_runtime::{
    EpNetwork, NetworkParameters, NetworkShape, PlacementStrategy, TrainConfig, Trainer, evaluate,
    load_dataset,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = match std::env::args().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::temp_dir().join("epchip-export-example"),
    };
    std::fs::create_dir_all(&out)?;
    let profile = HardwareProfile::load("loihi2")?;
    let shape = NetworkShape::parse("784,100,10")?;
    let config = TrainConfig {
        tau: "lognormal:cv=0.5".parse()?,
        placement: PlacementStrategy::TrafficAware,
        seed: 11,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&profile, &shape, config.clone())?;
    let mut data = load_dataset("mnist10k")?;
    data.train = data.train.truncated(2000);
    let metrics = trainer.train_epoch(&data, &mut |_, _| {})?;
    println!("trained one epoch on 2000 digits: test accuracy {:.2} %", 100.0 * metrics.test_accuracy);

    // The numbers of the trained network as the chip applies them, then NIR with the per-neuron τ.
    let params = NetworkParameters::from_network(trainer.network(), config.t1)?;
    let nir = out.join("model.nir");
    let seconds_per_step = profile.energy.time_step_us * 1e-6;
    write_nir(&params, &nir, NirNeurons::Rate, seconds_per_step)?;
    write_mapping(trainer.network(), &out.join("mapping.json"))?;
    println!("wrote {} and mapping.json", nir.display());

    // Read it back onto a fresh chip instance and evaluate.
    let back = read_nir(&nir)?;
    let imported = EpNetwork::from_parameters(&profile, &back, &TrainConfig { lr: vec![0.0], ..config })?;
    let accuracy = evaluate(&imported, &data.test, back.t1, None, 500, 1)?;
    println!("imported from NIR: test accuracy {:.2} %", 100.0 * accuracy);
    Ok(())
}
