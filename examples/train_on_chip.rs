//! Train an HTS-EP network on an emulated Loihi-like chip through the library API.
//!
//! Run with: `cargo run --release --example train_on_chip`

use epchip::chip_model::HardwareProfile;
use epchip::ep_runtime::{NetworkShape, TrainConfig, Trainer, load_dataset};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Load a hardware profile (built-in name or path to a .ron file).
    let profile = HardwareProfile::load("loihi2")?;
    // 2. Describe the network and the training: per-neuron time constants drawn from a log-normal
    //    distribution with a coefficient of variation of 0.5; everything else is the default, the
    //    sigmoid model of the public EP code at its published settings (β 0.1, symmetric estimate;
    //    `TrainConfig::for_model` gives the defaults for other networks and for the clip model).
    let shape = NetworkShape::parse("784,500,10")?;
    let config =
        TrainConfig { tau: "lognormal:cv=0.5".parse()?, epochs: 1, seed: 7, ..TrainConfig::default() };
    // 3. Instantiate the chip (its device parameters come from the seed) and map the network on it.
    let mut trainer = Trainer::new(&profile, &shape, config)?;
    println!(
        "{} placed on {} cores of `{}`",
        shape,
        trainer.network().placement().cores_used(),
        profile.name
    );
    // 4. Train with on-chip local learning and evaluate (free phase only) after each epoch.
    let mut data = load_dataset("mnist10k")?;
    data.train = data.train.truncated(2000);
    let metrics = trainer.train_epoch(&data, &mut |_, _| {})?;
    println!(
        "epoch {}: train {:.1} %, test {:.1} %, {:.0} examples/s, {:.2} uJ per example",
        metrics.epoch,
        100.0 * metrics.train_accuracy,
        100.0 * metrics.test_accuracy,
        metrics.examples_per_second,
        metrics.energy_per_example_uj
    );
    let chip = trainer.network().chip();
    println!("chip energy counted so far: {:.3} mJ", chip.energy().total_j() * 1e3);
    Ok(())
}
