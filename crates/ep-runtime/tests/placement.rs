//! The simple layer placement against the profile's per-core limits.

use chip_model::HardwareProfile;
use chip_model::core_resources::axon_synapse_bits;
use ep_runtime::{NetworkShape, place_layers};

#[test]
fn mnist_network_fits_loihi2_within_every_core_limit() -> Result<(), Box<dyn std::error::Error>> {
    let p = HardwareProfile::load("loihi2")?;
    let shape = NetworkShape::parse("784,500,10")?;
    let placement = place_layers(&p, &shape)?;
    let mem = p.core_limits.synapse_memory_bits.ok_or("loihi2 has a memory limit")?;
    let hidden = &placement.layers[0];
    assert!(hidden.len() > 1, "784x500 synapses cannot fit one 1 Mbit core");
    assert_eq!(hidden.iter().map(|b| b.len).sum::<usize>(), 500);
    for b in hidden {
        let bits = (784 + 10) as u64 * axon_synapse_bits(&p.synapse_encoding, 8, b.len as u64);
        assert!(bits <= mem, "block {b:?} needs {bits} bits");
    }
    // Blocks are as large as memory allows: one more core would not be needed.
    let per_core = hidden.iter().map(|b| b.len).max().unwrap_or(0);
    assert!((784 + 10) as u64 * axon_synapse_bits(&p.synapse_encoding, 8, per_core as u64 + 64) > mem);
    assert_eq!(placement.cores_used(), hidden.len() + 1);
    Ok(())
}

#[test]
fn networks_too_large_are_refused_with_the_numbers() -> Result<(), Box<dyn std::error::Error>> {
    let p = HardwareProfile::load("loihi2")?;
    let err = place_layers(&p, &NetworkShape::parse("5000,100,10")?).err().ok_or("fan-in accepted")?;
    let msg = err.to_string();
    assert!(msg.contains("5010") && msg.contains("4096") && msg.contains("h1"), "{msg}");
    let err =
        place_layers(&p, &NetworkShape::parse("1000,3000,3000,10")?).err().ok_or("core count accepted")?;
    let msg = err.to_string();
    assert!(msg.contains("cores") && msg.contains("128"), "{msg}");
    Ok(())
}

#[test]
fn unlimited_profiles_put_everything_on_one_core() -> Result<(), Box<dyn std::error::Error>> {
    let p = HardwareProfile::load("ideal")?;
    let placement = place_layers(&p, &NetworkShape::parse("784,500,500,10")?)?;
    assert_eq!(placement.cores_used(), 1);
    Ok(())
}
