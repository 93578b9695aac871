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

/// A hand-made 3-4-2 network whose numbers lie on loihi2's grids: weights in 1/16 (mantissa steps
/// 2^−6 and 2^−5 at the weight exponents 2 and 3 that ranges 2·√(6/7) and 2·√(6/6) call for),
/// biases in 2^−10, time steps in 1/8. No entry equals its transpose's, so an orientation error
/// shows.
fn hand_made() -> NetworkParameters {
    use ndarray::arr2;
    NetworkParameters {
        layers: vec![3, 4, 2],
        forward: vec![
            arr2(&[
                [0.0625, -0.125, 0.1875, -0.25],
                [0.3125, -0.375, 0.4375, -0.5],
                [0.5625, -0.625, 0.6875, -0.75],
            ]),
            arr2(&[[0.5, -0.25], [0.125, 0.75], [-0.5, 0.25], [0.875, -0.875]]),
        ],
        feedback: vec![None, Some(arr2(&[[0.25, 0.5, -0.125, 0.0625], [-0.75, 0.375, 0.625, -0.5]]))],
        bias: vec![vec![0.25, -0.5, 0.125, 1.0], vec![0.0625, -0.75]],
        dt: vec![vec![0.5, 0.25, 1.0, 0.125], vec![0.5, 1.0]],
        t1: 20,
        neuron: NeuronModel::Clip,
    }
}

/// Reads a 2-D float dataset as (shape, row-major values).
fn matrix_of(
    group: &hdf5_pure::Group,
    name: &str,
) -> Result<(Vec<u64>, Vec<f32>), Box<dyn std::error::Error>> {
    let ds = group.dataset(name)?;
    Ok((ds.shape()?, ds.read_f32()?))
}

/// The rate NIR file of [`hand_made`], read as raw HDF5 (not through our importer), against
/// numbers worked out by hand: Affine weights out × in (the transpose of our pre × post), the
/// feedback Linear node out × in, biases in the Affine nodes, the exact edge list, and LI nodes
/// with τ = dt_step / dt_i, r = 1 and v_leak = 0.
#[test]
fn nir_file_holds_hand_computed_shapes_weights_edges_and_time_constants() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hand.nir");
    write_nir(&hand_made(), &path, NirNeurons::Rate, 1e-3)?;
    let file = File::open(&path)?;
    let nodes = |name: &str| file.group(&format!("node/nodes/{name}"));
    let kind = |name: &str| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        Ok(nodes(name)?.dataset("type")?.read_string()?)
    };
    let fwd1 = nodes("fwd1")?;
    assert_eq!(kind("fwd1")?, vec!["Affine".to_string()]);
    assert_eq!(
        matrix_of(&fwd1, "weight")?,
        (
            vec![4, 3],
            vec![
                0.0625, 0.3125, 0.5625, //
                -0.125, -0.375, -0.625, //
                0.1875, 0.4375, 0.6875, //
                -0.25, -0.5, -0.75,
            ]
        ),
        "fwd1: out × in"
    );
    assert_eq!(fwd1.dataset("bias")?.read_f32()?, vec![0.25, -0.5, 0.125, 1.0]);
    let fwd2 = nodes("fwd2")?;
    assert_eq!(
        matrix_of(&fwd2, "weight")?,
        (vec![2, 4], vec![0.5, 0.125, -0.5, 0.875, -0.25, 0.75, 0.25, -0.875])
    );
    assert_eq!(fwd2.dataset("bias")?.read_f32()?, vec![0.0625, -0.75]);
    // Feedback from layer2 (2 neurons) into layer1 (4 neurons): out × in is 4 × 2.
    assert_eq!(kind("fb2")?, vec!["Linear".to_string()]);
    assert_eq!(
        matrix_of(&nodes("fb2")?, "weight")?,
        (vec![4, 2], vec![0.25, -0.75, 0.5, 0.375, -0.125, 0.625, 0.0625, -0.5])
    );
    for (name, tau) in [("layer1", vec![0.002f32, 0.004, 0.001, 0.008]), ("layer2", vec![0.002, 0.001])] {
        let node = nodes(name)?;
        assert_eq!(kind(name)?, vec!["LI".to_string()]);
        let got = node.dataset("tau")?.read_f32()?;
        assert_eq!(got.len(), tau.len(), "{name}");
        for (a, b) in got.iter().zip(&tau) {
            assert!((a - b).abs() <= 1e-7 * b, "{name}: tau {got:?}, expected {tau:?}");
        }
        assert_eq!(node.dataset("r")?.read_f32()?, vec![1.0; tau.len()], "{name}");
        assert_eq!(node.dataset("v_leak")?.read_f32()?, vec![0.0; tau.len()], "{name}");
    }
    assert_eq!(kind("input")?, vec!["Input".to_string()]);
    assert_eq!(nodes("input")?.dataset("shape")?.read_i64()?, vec![3]);
    assert_eq!(nodes("output")?.dataset("shape")?.read_i64()?, vec![2]);
    let edges_ds = file.group("node")?.dataset("edges")?;
    assert_eq!(edges_ds.shape()?, vec![7, 2]);
    let flat = edges_ds.read_string()?;
    let mut edges: Vec<(&str, &str)> = flat.chunks(2).map(|p| (p[0].as_str(), p[1].as_str())).collect();
    edges.sort();
    let mut want = vec![
        ("input", "fwd1"),
        ("fwd1", "layer1"),
        ("layer1", "fwd2"),
        ("fwd2", "layer2"),
        ("layer2", "fb2"),
        ("fb2", "layer1"),
        ("layer2", "output"),
    ];
    want.sort();
    assert_eq!(edges, want);
    let meta = file.group("node/metadata")?;
    assert_eq!(meta.dataset("t1")?.read_i64()?, vec![20]);
    assert_eq!(meta.dataset("dt")?.read_f64()?, vec![1e-3]);
    Ok(())
}

/// One netx layer as written: weight shape and mantissas (row-major), weight exponent, bias
/// mantissas, decays.
type NetxLayer = (Vec<u64>, Vec<f32>, i64, Vec<i64>, Vec<i64>);

/// The netx file of [`hand_made`] on loihi2, read as raw HDF5, against hand-computed integers:
/// weights out × in as mantissas (weight · 64 at exponent 2, weight · 32 at exponent 3), bias
/// mantissas (bias · 2^10) with biasExp 4 (13-bit mantissas covering ±4 at 14 fraction bits),
/// vDecay = dt · 4096, iDecay 4096 (no current carried over), vThMant 2^14 >> 6 = 256 (a state
/// of 1.0 with Loihi's 6-bit threshold shift) and the layer shapes.
#[test]
fn netx_file_holds_hand_computed_integers() -> TestResult {
    let p = HardwareProfile::load("loihi2")?;
    let config = TrainConfig { neuron: NeuronModel::Clip, ..TrainConfig::default() };
    let net = EpNetwork::from_parameters(&p, &hand_made(), &config)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hand.netx");
    write_netx(&net, &path)?;
    let file = File::open(&path)?;
    let expected: [NetxLayer; 2] = [
        (
            vec![4, 3],
            vec![4.0, 20.0, 36.0, -8.0, -24.0, -40.0, 12.0, 28.0, 44.0, -16.0, -32.0, -48.0],
            2,
            vec![256, -512, 128, 1024],
            vec![2048, 1024, 4096, 512],
        ),
        (
            vec![2, 4],
            vec![16.0, 4.0, -16.0, 28.0, -8.0, 24.0, 8.0, -28.0],
            3,
            vec![64, -768],
            vec![2048, 4096],
        ),
    ];
    for (l, (shape, weights, exp, bias, decay)) in expected.iter().enumerate() {
        let g = file.group(&format!("layer/{l}"))?;
        assert_eq!(matrix_of(&g, "weight")?, (shape.clone(), weights.clone()), "layer {l}: weight mantissas");
        assert_eq!(g.dataset("weightExp")?.read_i64()?, vec![*exp], "layer {l}");
        let stored_bias: Vec<i64> = g.dataset("bias")?.read_f32()?.iter().map(|&b| b as i64).collect();
        assert_eq!(&stored_bias, bias, "layer {l}: bias mantissas");
        assert_eq!(g.dataset("biasExp")?.read_i64()?, vec![4], "layer {l}");
        assert_eq!(g.dataset("shape")?.read_i64()?, vec![shape[0] as i64], "layer {l}");
        assert_eq!(g.dataset("inFeatures")?.read_i64()?, vec![shape[1] as i64], "layer {l}");
        assert_eq!(g.dataset("outFeatures")?.read_i64()?, vec![shape[0] as i64], "layer {l}");
        let n = g.group("neuron")?;
        assert_eq!(n.dataset("type")?.read_string()?, vec!["CUBA".to_string()]);
        assert_eq!(&n.dataset("vDecay")?.read_i64()?, decay, "layer {l}");
        assert_eq!(n.dataset("iDecay")?.read_i64()?, vec![4096], "layer {l}");
        assert_eq!(n.dataset("vThMant")?.read_i64()?, vec![256], "layer {l}");
        assert_eq!(n.dataset("refDelay")?.read_i64()?, vec![1], "layer {l}");
    }
    Ok(())
}
