//! Export and import: NIR round trips, the netx layout, the mapping file, and bad model files.

use std::path::Path;

use chip_model::HardwareProfile;
use ep_runtime::interchange::mapping_export::mapping_of;
use ep_runtime::interchange::netx_export::write_netx;
use ep_runtime::interchange::nir_export::{NirNeurons, write_nir};
use ep_runtime::interchange::nir_import::read_nir;
use ep_runtime::mapping::placement::placement_traffic;
use ep_runtime::{
    EpError, EpNetwork, NetworkParameters, NetworkShape, NeuronModel, PlacementStrategy, PopulationGraph,
    TrainConfig, Trainer, evaluate, load_dataset,
};
use hdf5_pure::{File, FileBuilder};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A network trained for two epochs on the synthetic task, on `profile`, with log-normal τ (3 layers
/// so that the graph has a feedback projection).
fn trained(profile: &str) -> Result<(Trainer, HardwareProfile), Box<dyn std::error::Error>> {
    let p = HardwareProfile::load(profile)?;
    let config =
        TrainConfig { lr: vec![0.2], tau: "lognormal:cv=0.5".parse()?, seed: 5, ..TrainConfig::default() };
    let mut t = Trainer::new(&p, &NetworkShape::parse("16,24,12,4")?, config)?;
    let data = load_dataset("synthetic")?;
    for _ in 0..2 {
        t.train_epoch(&data, &mut |_, _| {})?;
    }
    Ok((t, p))
}

#[test]
fn nir_round_trip_keeps_the_network_and_its_test_accuracy() -> TestResult {
    let data = load_dataset("synthetic")?;
    let dir = tempfile::tempdir()?;
    for profile in ["ideal", "loihi2"] {
        let (trainer, p) = trained(profile)?;
        let t1 = trainer.config().t1;
        let params = NetworkParameters::from_network(trainer.network(), t1)?;
        let path = dir.path().join(format!("{profile}.nir"));
        write_nir(&params, &path, NirNeurons::Rate, 1e-5)?;
        let back = read_nir(&path)?;
        assert_eq!(back.layers, params.layers);
        assert_eq!(back.t1, t1);
        assert_eq!(back.forward, params.forward, "weights are stored as f32, exactly");
        assert_eq!(back.feedback, params.feedback);
        assert_eq!(back.bias, params.bias);
        // The neuron model travels in the graph's metadata (`activation`).
        assert_eq!((params.neuron, back.neuron), (NeuronModel::Sigmoid, NeuronModel::Sigmoid));
        for (a, b) in back.dt.iter().flatten().zip(params.dt.iter().flatten()) {
            assert!((a - b).abs() <= 1e-6 * b, "dt {a} vs {b}");
        }
        // Heterogeneous time constants survive the trip.
        assert!(back.dt[0].iter().any(|&d| (d - back.dt[0][0]).abs() > 1e-3));
        let original = trainer.evaluate(&data.test)?;
        let imported = EpNetwork::from_parameters(
            &p,
            &back,
            // A config asking for the other model: the network runs the model it was trained with.
            &TrainConfig { lr: vec![0.0], t1, neuron: NeuronModel::Clip, ..TrainConfig::default() },
        )?;
        assert_eq!(imported.neuron_model(), NeuronModel::Sigmoid);
        let again = evaluate(&imported, &data.test, t1, None, 500, 1)?;
        assert_eq!(again, original, "{profile}: accuracy after export → import");
        if profile == "loihi2" {
            // Digital weights land on the same mantissas.
            let (a, _) = trainer
                .network()
                .chip()
                .read_weight_mantissas(trainer.network().forward_group(1).ok_or("fwd")?)?;
            let (b, _) = imported.chip().read_weight_mantissas(imported.forward_group(1).ok_or("fwd")?)?;
            assert_eq!(a, b);
        }
    }
    Ok(())
}

#[test]
fn spiking_variant_exports_lif_nodes_with_thresholds() -> TestResult {
    let (trainer, _) = trained("ideal")?;
    let params = NetworkParameters::from_network(trainer.network(), 30)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("spiking.nir");
    write_nir(&params, &path, NirNeurons::Spiking, 1e-3)?;
    let file = File::open(&path)?;
    let node = file.group("node/nodes/layer2")?;
    assert_eq!(node.dataset("type")?.read_string()?, vec!["LIF".to_string()]);
    assert_eq!(node.dataset("v_threshold")?.read_f32()?, vec![1.0; 12]);
    let tau = node.dataset("tau")?.read_f32()?;
    for (t, d) in tau.iter().zip(&params.dt[1]) {
        assert!((f64::from(*t) - 1e-3 / f64::from(*d)).abs() < 1e-9, "tau = dt / dt_i");
    }
    // The spiking file imports too (LIF read as the rate neuron it approximates).
    assert_eq!(read_nir(&path)?.layers, vec![16, 24, 12, 4]);
    Ok(())
}

#[test]
fn netx_holds_the_chips_integers_and_refuses_float_profiles() -> TestResult {
    let (trainer, _) = trained("loihi2")?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.netx");
    write_netx(trainer.network(), &path)?;
    let file = File::open(&path)?;
    let net = trainer.network();
    for l in 0..3 {
        let g = file.group(&format!("layer/{l}"))?;
        let (mant, exp) = net.chip().read_weight_mantissas(net.forward_group(l).ok_or("fwd")?)?;
        let w = g.dataset("weight")?;
        assert_eq!(w.shape()?, vec![mant.ncols() as u64, mant.nrows() as u64]);
        let stored: Vec<i32> = w.read_f32()?.iter().map(|&x| x as i32).collect();
        let want: Vec<i32> = mant.t().iter().copied().collect();
        assert_eq!(stored, want);
        assert_eq!(g.dataset("weightExp")?.read_i64()?, vec![i64::from(exp)]);
        let decays = g.dataset("neuron/vDecay")?.read_i64()?;
        let dt = net.chip().realised_dt(net.layer(l + 1).ok_or("layer")?)?;
        let want: Vec<i64> = dt.iter().map(|&d| (d * 4096.0).round() as i64).collect();
        assert_eq!(decays, want);
    }
    let (float_trainer, _) = trained("ideal")?;
    let err =
        write_netx(float_trainer.network(), &dir.path().join("x.netx")).err().ok_or("float accepted")?;
    assert!(err.to_string().contains("`ideal` is not digital"), "{err}");
    assert!(!dir.path().join("x.netx").exists(), "nothing written on error");
    Ok(())
}

#[test]
fn mapping_file_matches_the_placement_and_its_traffic() -> TestResult {
    let p = HardwareProfile::load("loihi2")?;
    let shape = NetworkShape::parse("784,500,10")?;
    for strategy in [PlacementStrategy::Greedy, PlacementStrategy::TrafficAware] {
        let net =
            EpNetwork::build(&p, &shape, &TrainConfig { placement: strategy, ..TrainConfig::default() })?;
        let m = mapping_of(&net)?;
        let traffic = placement_traffic(&PopulationGraph::from_shape(&shape), net.placement());
        let routed: u64 = m.routes.iter().map(|r| (r.neurons * r.to_cores.len()) as u64).sum();
        assert_eq!(routed, traffic.messages, "{strategy}");
        assert_eq!(m.routes.iter().map(|r| r.messages_per_step).sum::<u64>(), traffic.messages);
        let neurons: usize = m.populations.iter().flat_map(|p| &p.blocks).map(|b| b.neurons).sum();
        assert_eq!(neurons, 510);
        // Mantissa × 2^(shift + exponent) in state units is the real weight the chip applies.
        let fwd = &m.projections[0];
        let (mant, exp, shift) = (
            fwd.weight_mantissa.as_ref().ok_or("mantissas")?,
            fwd.weight_exponent.ok_or("exp")?,
            fwd.synaptic_input_shift.ok_or("shift")?,
        );
        let real = net.chip().read_effective_weights(net.forward_group(0).ok_or("fwd")?)?;
        let (j, i) = (0..500)
            .flat_map(|j| (0..784).map(move |i| (j, i)))
            .find(|&(j, i)| mant[j][i] != 0)
            .ok_or("all mantissas are zero")?;
        let lsb = real[[i, j]] / mant[j][i] as f32;
        assert!(
            (f64::from(lsb) - 2f64.powi(shift + exp - 14)).abs() < 1e-12,
            "lsb {lsb}, 2^({shift}+{exp}-14)"
        );
        assert_eq!(mant.len(), 500);
        assert_eq!(mant[0].len(), 784);
        assert!(m.populations[0].decay.as_ref().is_some_and(|d| d.iter().all(|&x| (1..=4096).contains(&x))));
    }
    Ok(())
}

#[test]
fn mapping_routes_follow_fan_in_splitting() -> TestResult {
    // analog-rram tiles have 1,024 rows: 2,010 inputs per h1 neuron go through relay tiles, which
    // receive only their segment of the input and send partial sums to h1's tile.
    let p = HardwareProfile::load("analog-rram")?;
    let shape = NetworkShape::parse("2000,300,10")?;
    let net = EpNetwork::build(&p, &shape, &TrainConfig { lr: vec![0.1], ..TrainConfig::default() })?;
    let m = mapping_of(&net)?;
    let traffic = placement_traffic(&PopulationGraph::from_shape(&shape), net.placement());
    assert!(!net.placement().fan_in.is_empty());
    assert_eq!(m.routes.iter().map(|r| r.messages_per_step).sum::<u64>(), traffic.messages);
    let relays: Vec<_> = m.routes.iter().filter(|r| r.population == "h1 relay").collect();
    assert_eq!(relays.len(), 3, "two input segments and one feedback segment");
    assert!(relays.iter().all(|r| r.to_cores == vec![net.placement().layers[0][0].core]));
    Ok(())
}

fn write_graph(path: &Path, node_type: &str, edges: &[(&str, &str)]) -> TestResult {
    write_graph_with(path, node_type, edges, None)
}

/// [`write_graph`] with an `activation` in the graph's metadata.
fn write_graph_with(
    path: &Path,
    node_type: &str,
    edges: &[(&str, &str)],
    activation: Option<&str>,
) -> TestResult {
    let mut file = FileBuilder::new();
    file.create_dataset("version").with_vlen_strings(&["1.0.8"]).with_shape(&[]);
    let mut graph = file.create_group("node");
    graph.create_dataset("type").with_vlen_strings(&["NIRGraph"]).with_shape(&[]);
    let flat: Vec<&str> = edges.iter().flat_map(|(a, b)| [*a, *b]).collect();
    graph.create_dataset("edges").with_vlen_strings(&flat).with_shape(&[edges.len() as u64, 2]);
    let mut nodes = graph.create_group("nodes");
    let mut input = nodes.create_group("x");
    input.create_dataset("type").with_vlen_strings(&["Input"]).with_shape(&[]);
    input.create_dataset("shape").with_i64_data(&[4]);
    nodes.add_group(input.finish());
    let mut odd = nodes.create_group("conv");
    odd.create_dataset("type").with_vlen_strings(&[node_type]).with_shape(&[]);
    odd.create_dataset("weight").with_f32_data(&[0.0; 8]).with_shape(&[2, 4]);
    nodes.add_group(odd.finish());
    let mut output = nodes.create_group("y");
    output.create_dataset("type").with_vlen_strings(&["Output"]).with_shape(&[]);
    output.create_dataset("shape").with_i64_data(&[2]);
    nodes.add_group(output.finish());
    graph.add_group(nodes.finish());
    if let Some(text) = activation {
        let mut meta = graph.create_group("metadata");
        meta.create_dataset("activation").with_vlen_strings(&[text]).with_shape(&[]);
        graph.add_group(meta.finish());
    }
    file.add_group(graph.finish());
    file.write(path)?;
    Ok(())
}

#[test]
fn bad_model_files_get_errors_naming_the_file_and_node() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("none.nir");
    assert!(matches!(read_nir(&missing), Err(EpError::FileRead { .. })));
    let garbage = dir.path().join("garbage.nir");
    std::fs::write(&garbage, b"not an hdf5 file at all")?;
    let msg = read_nir(&garbage).err().ok_or("garbage accepted")?.to_string();
    assert!(msg.contains("garbage.nir") && msg.contains("HDF5"), "{msg}");
    let conv = dir.path().join("conv.nir");
    write_graph(&conv, "Conv2d", &[("x", "conv"), ("conv", "y")])?;
    let msg = read_nir(&conv).err().ok_or("Conv2d accepted")?.to_string();
    assert!(
        msg.contains("conv.nir") && msg.contains("`conv`") && msg.contains("Conv2d") && msg.contains("LI"),
        "{msg}"
    );
    let dangling = dir.path().join("dangling.nir");
    write_graph(&dangling, "Linear", &[("x", "conv"), ("conv", "nowhere")])?;
    let msg = read_nir(&dangling).err().ok_or("dangling edge accepted")?.to_string();
    assert!(msg.contains("`nowhere`"), "{msg}");
    let no_neurons = dir.path().join("linear.nir");
    write_graph(&no_neurons, "Linear", &[("x", "conv"), ("conv", "y")])?;
    let msg = read_nir(&no_neurons).err().ok_or("graph without neurons accepted")?.to_string();
    assert!(msg.contains("chain of layers"), "{msg}");
    // A neuron model epchip does not run is refused by name, with the ones it does.
    let relu = dir.path().join("relu.nir");
    write_graph_with(&relu, "Linear", &[("x", "conv"), ("conv", "y")], Some("relu"))?;
    let msg = read_nir(&relu).err().ok_or("relu activation accepted")?.to_string();
    assert!(msg.contains("relu.nir") && msg.contains("`relu`") && msg.contains("sigmoid"), "{msg}");
    Ok(())
}
