//! Derive a hardware profile in code from a built-in one, validate it, and use it.
//!
//! Run with: `cargo run --release --example custom_profile`

use epchip::chip_model::{Arithmetic, HardwareProfile};
use epchip::ep_runtime::{NetworkShape, place_layers};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Start from the Loihi-2-like profile and make a smaller, noisier chip: 16 cores with half the
    // synapse memory, 6-bit weights, and 10 % spread of the neurons' time constants.
    let mut profile = HardwareProfile::load("loihi2")?;
    profile.name = "loihi2-small".into();
    profile.chip.cores = 16;
    profile.core_limits.synapse_memory_bits = Some(1 << 19);
    profile.mismatch.tau_spread = 0.1;
    if let Arithmetic::Digital(d) = &mut profile.arithmetic {
        d.weight_bits = 6;
        profile.learning.trace_bits = profile.learning.trace_bits.min(d.activation_bits);
    }
    profile.validate()?;
    println!("{}", profile.to_ron_string());

    // Does a 784-500-10 network fit? The placement answers with the cores it needs.
    match place_layers(&profile, &NetworkShape::parse("784,500,10")?) {
        Ok(p) => println!("784-500-10 fits on {} of {} cores", p.cores_used(), profile.chip.cores),
        Err(e) => println!("784-500-10 does not fit: {e}"),
    }

    // An invalid change is refused with the field and the allowed range.
    let mut broken = profile.clone();
    broken.chip.cores = 0;
    if let Err(e) = broken.validate() {
        println!("as expected: {e}");
    }
    Ok(())
}
