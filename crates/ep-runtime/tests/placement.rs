//! The mapper: blocks within every per-core limit, greedy and traffic-aware placement, several chips.

use chip_model::HardwareProfile;
use chip_model::core_resources::axon_synapse_bits;
use ep_runtime::mapping::placement::{PlacementStrategy, place_network, placement_traffic, predict_usage};
use ep_runtime::{EpNetwork, NetworkShape, PopulationGraph, TrainConfig, place_layers};

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
    let err =
        place_layers(&p, &NetworkShape::parse("1000,3000,3000,10")?).err().ok_or("core count accepted")?;
    let msg = err.to_string();
    assert!(msg.contains("cores") && msg.contains("128"), "{msg}");
    // 64 input axons per core: 5000 inputs need 79 relay segments + 1 for the feedback, and the
    // neuron's own core cannot take 80 partial sums.
    let mixed = HardwareProfile::load("mixed-signal")?;
    let err = place_layers(&mixed, &NetworkShape::parse("5000,100,10")?).err().ok_or("fan-in accepted")?;
    let msg = err.to_string();
    assert!(
        msg.contains("5010") && msg.contains("64") && msg.contains("h1") && msg.contains("80 relay"),
        "{msg}"
    );
    // 784 inputs can be split, but the relay cores do not fit a 4-core chip.
    let err = place_layers(&mixed, &NetworkShape::parse("784,500,10")?).err().ok_or("accepted")?;
    let msg = err.to_string();
    assert!(msg.contains("fan-in relay cores") && msg.contains("has 4"), "{msg}");
    Ok(())
}

#[test]
fn fan_in_beyond_a_core_is_split_over_relay_cores_with_the_same_numbers()
-> Result<(), Box<dyn std::error::Error>> {
    // loihi2 cores have 4,096 input axons; h1 of 5000-100-10 hears 5,010 neurons.
    let p = HardwareProfile::load("loihi2")?;
    let shape = NetworkShape::parse("5000,100,10")?;
    let placement = place_layers(&p, &shape)?;
    let split = placement.fan_in_of(0, 1);
    let blocks = placement.layers[0].len();
    assert_eq!(split.len(), 2 * blocks, "two input segments per h1 block");
    assert!(split.iter().all(|s| s.pre_len == 2500));
    assert_eq!(
        placement.fan_in_of(2, 1).len(),
        blocks,
        "the feedback is split too (all of h1's sources are)"
    );
    // The same network on a chip without the axon limit, unsplit, settles to the same states bit
    // for bit: partial sums add up exactly.
    let mut unlimited = p.clone();
    unlimited.core_limits.max_input_axons = None;
    let config = TrainConfig { lr: vec![0.1], ..TrainConfig::default() };
    let x = ndarray::Array2::from_shape_fn((3, 5000), |(b, i)| ((i * 7 + b * 13) % 11) as f32 / 10.0);
    let mut states = Vec::new();
    for profile in [&p, &unlimited] {
        let mut net = EpNetwork::build(profile, &shape, &config)?;
        net.free_phase(x.view(), 10)?;
        states.push((net.chip().read_state_raw(net.layer(1).ok_or("h1")?)?, net.output_state()?));
        if profile.core_limits.max_input_axons.is_some() {
            // Relay cores did the synaptic work of the split projections.
            let relay = split[0].relay_core;
            assert!(net.chip().cores()[relay].counters.synaptic_ops > 0);
            assert!(net.chip().cores()[relay].neurons > 0);
        }
    }
    assert_eq!(states[0], states[1]);
    Ok(())
}

#[test]
fn unlimited_profiles_put_everything_on_one_core() -> Result<(), Box<dyn std::error::Error>> {
    let p = HardwareProfile::load("ideal")?;
    let placement = place_layers(&p, &NetworkShape::parse("784,500,500,10")?)?;
    assert_eq!(placement.cores_used(), 1);
    Ok(())
}

/// `loihi1` cut down to `cores` cores per chip and `chips` chips on the board.
fn small_board(cores: u32, chips: u32) -> Result<HardwareProfile, Box<dyn std::error::Error>> {
    let mut p = HardwareProfile::load("loihi1")?;
    p.chip.cores = cores;
    p.chip.chips_per_board = chips;
    p.validate()?;
    Ok(p)
}

#[test]
fn traffic_aware_placement_shares_cores_and_cuts_messages() -> Result<(), Box<dyn std::error::Error>> {
    let p = HardwareProfile::load("loihi2")?;
    let shape = NetworkShape::parse("784,500,10")?;
    let graph = PopulationGraph::from_shape(&shape);
    let greedy = place_network(&p, &shape, PlacementStrategy::Greedy)?;
    let traffic = place_network(&p, &shape, PlacementStrategy::TrafficAware)?;
    // Hand count, greedy: 4 h1 cores × 125 neurons each send to the output core (500), and the 10
    // output neurons send their feedback to 4 h1 cores (40). The host sends 784 pixels to 4 cores.
    assert_eq!(greedy.cores_used(), 5);
    let g = placement_traffic(&graph, &greedy);
    assert_eq!((g.messages, g.host_messages, g.chip_messages), (540, 3136, 0));
    // Traffic-aware puts the output next to one h1 block: 375 + 10 × 3 = 405 messages.
    assert_eq!(traffic.cores_used(), 4);
    let t = placement_traffic(&graph, &traffic);
    assert_eq!((t.messages, t.host_messages), (405, 3136));
    let out_core = traffic.layers[1][0].core;
    assert!(traffic.layers[0].iter().any(|b| b.core == out_core));
    Ok(())
}

#[test]
fn predicted_usage_is_what_the_chip_accounts() -> Result<(), Box<dyn std::error::Error>> {
    // The mapper's fast prediction against the chip's own accounting, for both strategies, one chip
    // and a board of several chips.
    let boards =
        [HardwareProfile::load("loihi2")?, small_board(4, 3)?, HardwareProfile::load("analog-rram")?];
    for p in &boards {
        for layers in ["784,500,10", "784,300,200,10", "2000,300,10"] {
            let shape = NetworkShape::parse(layers)?;
            let graph = PopulationGraph::from_shape(&shape);
            for strategy in [PlacementStrategy::Greedy, PlacementStrategy::TrafficAware] {
                let config = TrainConfig { placement: strategy, lr: vec![0.1], ..TrainConfig::default() };
                let net = EpNetwork::build(p, &shape, &config)?;
                let predicted = predict_usage(p, &graph, net.placement());
                for (core, (u, c)) in predicted.iter().zip(net.chip().cores()).enumerate() {
                    let actual = (c.neurons, c.input_axons, c.output_axons, c.synapse_bits);
                    let want = (u.neurons, u.input_axons, u.output_axons, u.synapse_bits);
                    assert_eq!(want, actual, "{} {layers} {strategy} core {core}", p.name);
                }
            }
        }
    }
    Ok(())
}

#[test]
fn large_networks_span_several_chips_and_count_chip_crossings() -> Result<(), Box<dyn std::error::Error>> {
    let shape = NetworkShape::parse("784,1000,1000,10")?;
    // One chip of 4 cores is too small, and the error says how many cores and chips there are.
    let err = place_network(&small_board(4, 1)?, &shape, PlacementStrategy::Greedy)
        .err()
        .ok_or("a 4-core chip accepted the network")?;
    let msg = err.to_string();
    assert!(msg.contains("4 per chip × 1 chips per board"), "{msg}");
    let p = small_board(4, 8)?;
    let graph = PopulationGraph::from_shape(&shape);
    for strategy in [PlacementStrategy::Greedy, PlacementStrategy::TrafficAware] {
        let placement = place_network(&p, &shape, strategy)?;
        assert!(placement.chips_used() >= 2, "{strategy}: {placement:?}");
        let t = placement_traffic(&graph, &placement);
        assert!(t.chip_messages > 0 && t.chip_messages <= t.messages + t.host_messages);
    }
    // The chip counts the crossings while running: a few free steps, then the counters.
    let x = ndarray::Array2::from_elem((4, 784), 0.5f32);
    let config = TrainConfig { lr: vec![0.1], ..TrainConfig::default() };
    let mut net = EpNetwork::build(&p, &shape, &config)?;
    net.free_phase(x.view(), 5)?;
    let c = net.chip().total_counters();
    assert!(c.chip_messages > 0 && c.chip_messages < c.messages, "{c:?}");
    let mut single = EpNetwork::build(&small_board(40, 1)?, &shape, &config)?;
    single.free_phase(x.view(), 5)?;
    let c = single.chip().total_counters();
    assert!(c.messages > 0 && c.chip_messages == 0, "{c:?}");
    Ok(())
}
