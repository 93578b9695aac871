//! Gradient fidelity: the float twin's recurrent back-propagation against finite differences, and
//! the cosine between the chip's EP update and the twin's true gradient on each profile.

use chip_model::HardwareProfile;
use ep_runtime::fidelity::float_twin::FloatTwin;
use ep_runtime::fidelity::gradient_fidelity;
use ep_runtime::{BetaSign, EpNetwork, NetworkShape, NeuronModel, TauSpec, TrainConfig, load_dataset};
use ndarray::{Array2, arr2};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Inputs, one-hot targets and labels of a mini-batch.
type Batch = (Array2<f32>, Array2<f32>, Vec<u8>);

fn small_batch() -> Batch {
    let x = arr2(&[
        [0.9f32, 0.1, 0.7, 0.4, 1.0],
        [0.2, 0.8, 0.3, 0.9, 0.5],
        [1.0, 0.6, 0.0, 0.2, 0.7],
        [0.4, 0.3, 0.9, 0.8, 0.1],
        [0.0, 1.0, 0.5, 0.6, 0.3],
        [0.7, 0.5, 0.2, 0.0, 0.9],
    ]);
    let y = arr2(&[
        [0.0f32, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
    ]);
    (x, y, vec![1, 0, 2, 1, 0, 2])
}

fn small_config(seed: u64) -> TrainConfig {
    TrainConfig {
        neuron: NeuronModel::Clip,
        base_dt: 0.5,
        t1: 400,
        t2: 400,
        beta: 0.005,
        beta_sign: BetaSign::Positive,
        symmetric: true,
        batch: 6,
        lr: vec![1.0],
        tau: TauSpec::Constant { mean: 1.0 },
        seed,
        ..TrainConfig::default()
    }
}

/// Which states sit exactly on a clip boundary (0 or 1) at the fixed point.
fn clipped(twin: &FloatTwin, x: &Array2<f32>) -> Result<Vec<bool>, ep_runtime::EpError> {
    Ok(twin
        .fixed_point(x.view())?
        .iter()
        .skip(1)
        .flat_map(|s| s.iter().map(|&v| v <= 0.0 || v >= 1.0).collect::<Vec<_>>())
        .collect())
}

/// Compares the twin's RBP gradient with central differences of its cost, weight by weight, for
/// every weight whose perturbation leaves the set of clipped neurons unchanged. Returns the number
/// of weights compared with a non-zero gradient and the largest relative error among them.
fn check_against_finite_differences(
    twin: &FloatTwin,
    x: &Array2<f32>,
    y: &Array2<f32>,
    relative: f64,
) -> Result<(usize, f64), Box<dyn std::error::Error>> {
    let h = 1e-4;
    let gradients = twin.forward_gradients(x.view(), y.view())?;
    let base = clipped(twin, x)?;
    let mut nonzero = 0;
    let mut skipped = 0;
    let mut worst = 0.0f64;
    for (k, gradient) in gradients.iter().enumerate() {
        let w = twin.forward_weights(k).ok_or("projection")?;
        assert_eq!(gradient.dim(), w.dim());
        for ((j, i), &g) in gradient.indexed_iter() {
            let plus = twin.with_forward_weight(k, j, i, w[[j, i]] + h)?;
            let minus = twin.with_forward_weight(k, j, i, w[[j, i]] - h)?;
            if clipped(&plus, x)? != base || clipped(&minus, x)? != base {
                skipped += 1;
                continue;
            }
            let fd = (plus.cost(x.view(), y.view())? - minus.cost(x.view(), y.view())?) / (2.0 * h);
            assert!(
                (fd - g).abs() <= relative * g.abs() + 1e-10,
                "projection {k} weight ({j}, {i}): RBP {g:e}, finite differences {fd:e}"
            );
            if g != 0.0 {
                nonzero += 1;
                worst = worst.max((fd - g).abs() / g.abs());
            }
        }
    }
    assert!(skipped * 10 < nonzero, "{skipped} weights skipped, {nonzero} compared");
    Ok((nonzero, worst))
}

#[test]
fn recurrent_backprop_matches_finite_differences_of_the_twin() -> TestResult {
    let (x, y, _) = small_batch();
    for profile in ["ideal", "analog-rram"] {
        let p = HardwareProfile::load(profile)?;
        let net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &small_config(4))?;
        let twin = FloatTwin::from_network(&net)?;
        // Tight tolerances so that finite differences at h = 1e-4 resolve 1e-5 relative errors.
        let tight = twin.clone().with_tolerances(1e-15, 1e-15, 200_000);
        let fb = tight.feedback_weights(1).ok_or("feedback")?;
        let fw = tight.forward_weights(1).ok_or("forward")?;
        let asymmetry = (fb - &fw.t()).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        if profile == "ideal" {
            assert_eq!(asymmetry, 0.0, "ideal feedback is the forward transpose");
        } else {
            assert!(asymmetry > 1e-3, "analog feedback devices differ: {asymmetry}");
            assert!(
                net.chip().realised_neuron_gain(net.layer(1).ok_or("layer")?)?.iter().any(|&g| g != 1.0),
                "analog neurons have gain mismatch"
            );
        }
        let (compared, worst) = check_against_finite_differences(&tight, &x, &y, 1e-5)?;
        println!("{profile}: {compared} non-zero gradients, largest relative error {worst:.2e}");
        assert!(compared >= 20, "{profile}: only {compared} non-zero gradients compared");
        // The default tolerances give the same gradient to well within the test's needs.
        let (coarse, report) = twin.forward_gradients_with_report(x.view(), y.view())?;
        assert!(report.converged, "{profile}: {report:?}");
        assert!(report.fixed_point_residual < 1e-10 && report.adjoint_residual < 1e-12);
        let fine = tight.forward_gradients(x.view(), y.view())?;
        for (a, b) in coarse.iter().zip(&fine) {
            for (u, v) in a.iter().zip(b) {
                assert!((u - v).abs() <= 1e-7 * (1.0 + v.abs()), "{profile}: {u} vs {v}");
            }
        }
    }
    Ok(())
}

#[test]
fn the_twin_settles_where_the_ideal_chip_settles() -> TestResult {
    let (x, _, _) = small_batch();
    let p = HardwareProfile::load("ideal")?;
    let mut net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &small_config(4))?;
    let twin = FloatTwin::from_network(&net)?;
    let states = twin.fixed_point(x.view())?;
    net.free_phase(x.view(), 2000)?;
    for (l, s) in states.iter().enumerate().skip(1) {
        let chip = net.chip().read_state(net.layer(l).ok_or("layer")?)?;
        for (a, b) in s.iter().zip(chip.iter()) {
            assert!((a - f64::from(*b)).abs() < 1e-4, "layer {l}: twin {a}, chip {b}");
        }
    }
    Ok(())
}

#[test]
fn symmetric_ep_at_small_beta_follows_the_true_gradient_on_the_ideal_profile() -> TestResult {
    let (x, y, labels) = small_batch();
    let p = HardwareProfile::load("ideal")?;
    for seed in [4, 5] {
        let cfg = small_config(seed);
        let net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &cfg)?;
        let cosine = gradient_fidelity(&net, x.view(), y.view(), &labels, &cfg, 1.0, 0)?;
        println!("ideal, symmetric, beta = 0.005, seed {seed}: gradient fidelity {cosine:.6}");
        assert!(cosine > 0.95, "seed {seed}: {cosine}");
    }
    Ok(())
}

fn synthetic_batch(n: usize) -> Result<Batch, ep_runtime::EpError> {
    let data = load_dataset("synthetic")?;
    let indices: Vec<usize> = (0..n).collect();
    let mut x = Array2::zeros((n, data.train.input_size()));
    let mut y = Array2::zeros((n, data.train.classes()));
    data.train.try_fill_batch(&indices, &mut x.view_mut())?;
    data.train.try_fill_targets(&indices, &mut y.view_mut())?;
    let labels = indices.iter().map(|&i| data.train.labels()[i]).collect();
    Ok((x, y, labels))
}

/// The default (symmetric, random-sign) EP update follows the twin's gradient on each profile to
/// within a bound a little below the measured cosine (seed 7, 16-32-4, batch 20: ideal 0.998,
/// loihi2 0.892, analog-rram 0.36–0.38); a random direction over these ~640 weights gives
/// 0 ± 0.04. The four sign seeds draw both signs of β.
#[test]
fn default_ep_points_downhill_on_digital_and_analog_chips() -> TestResult {
    use rand::RngExt;
    let (x, y, labels) = synthetic_batch(20)?;
    let cfg = TrainConfig { seed: 7, ..TrainConfig::default() };
    // `gradient_fidelity` hands `ChaCha8Rng::seed_from_u64(seed)` to `train_batch`, which draws
    // one bool for the sign of β.
    let signs: Vec<bool> = (0..4)
        .map(|s| <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(s).random::<bool>())
        .collect();
    assert!(signs.contains(&true) && signs.contains(&false), "seeds 0..4 draw one sign only: {signs:?}");
    for (profile, bound) in [("ideal", 0.99), ("loihi2", 0.85), ("analog-rram", 0.3)] {
        let p = HardwareProfile::load(profile)?;
        let net = EpNetwork::build(&p, &NetworkShape::parse("16,32,4")?, &cfg)?;
        let (_, report) = FloatTwin::from_network(&net)?.forward_gradients_with_report(x.view(), y.view())?;
        assert!(report.converged, "{profile}: {report:?}");
        let mut values = Vec::new();
        for seed in 0..4 {
            let cosine = gradient_fidelity(&net, x.view(), y.view(), &labels, &cfg, 1.0, seed)?;
            assert!(cosine.is_finite() && (-1.0..=1.0).contains(&cosine), "{profile}: {cosine}");
            values.push(cosine);
        }
        println!("{profile}, default config, batch 20: gradient fidelity {values:.4?}");
        for &cosine in &values {
            assert!(cosine > bound, "{profile}: EP update follows the gradient less than before: {values:?}");
        }
    }
    Ok(())
}

#[test]
fn gradient_fidelity_is_deterministic() -> TestResult {
    let (x, y, labels) = synthetic_batch(20)?;
    let cfg = TrainConfig { seed: 11, ..TrainConfig::default() };
    for profile in ["loihi2", "analog-rram"] {
        let p = HardwareProfile::load(profile)?;
        let net = EpNetwork::build(&p, &NetworkShape::parse("16,32,4")?, &cfg)?;
        let a = gradient_fidelity(&net, x.view(), y.view(), &labels, &cfg, 1.0, 3)?;
        let b = gradient_fidelity(&net, x.view(), y.view(), &labels, &cfg, 1.0, 3)?;
        assert_eq!(a.to_bits(), b.to_bits(), "{profile}");
        // The network itself is untouched, and a rebuilt one gives the same value.
        let again = EpNetwork::build(&p, &NetworkShape::parse("16,32,4")?, &cfg)?;
        let c = gradient_fidelity(&again, x.view(), y.view(), &labels, &cfg, 1.0, 3)?;
        assert_eq!(a.to_bits(), c.to_bits(), "{profile}");
    }
    Ok(())
}

#[test]
fn bad_shapes_are_reported_not_panicked_on() -> TestResult {
    let (x, y, _) = small_batch();
    let p = HardwareProfile::load("ideal")?;
    let net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &small_config(4))?;
    let twin = FloatTwin::from_network(&net)?;
    assert!(twin.fixed_point(y.view()).is_err());
    assert!(twin.cost(x.view(), x.view()).is_err());
    assert!(twin.forward_gradients(x.view(), y.slice(ndarray::s![..2, ..])).is_err());
    assert!(twin.with_forward_weight(2, 0, 0, 1.0).is_err());
    assert!(twin.with_forward_weight(0, 5, 0, 1.0).is_err());
    assert!(twin.with_feedback_weight(0, 0, 0, 1.0).is_err());
    Ok(())
}

/// The sigmoid model's twin: recurrent back-propagation through `σ'` against finite differences.
#[test]
fn recurrent_backprop_matches_finite_differences_for_the_sigmoid_model() -> TestResult {
    let (x, y, _) = small_batch();
    let p = HardwareProfile::load("ideal")?;
    let cfg = TrainConfig { neuron: NeuronModel::Sigmoid, ..small_config(4) };
    let net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &cfg)?;
    let twin = FloatTwin::from_network(&net)?.with_tolerances(1e-15, 1e-15, 200_000);
    // σ is curved: central differences at h = 1e-4 carry an O(h²) error of a few 1e-5.
    let (compared, worst) = check_against_finite_differences(&twin, &x, &y, 1e-4)?;
    println!("sigmoid: {compared} non-zero gradients, largest relative error {worst:.2e}");
    assert_eq!(compared, 5 * 7 + 7 * 3, "every sigmoid weight has a gradient");
    Ok(())
}

/// The EP update of each projection, read back from the chip after one mini-batch, against the
/// twin's true gradient of that projection: cosine per layer.
fn per_layer_fidelity(
    net: &EpNetwork,
    batch: &Batch,
    cfg: &TrainConfig,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let (x, y, labels) = batch;
    let gradients = FloatTwin::from_network(net)?.tied_gradients(x.view(), y.view())?;
    let mut trained = net.clone();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    trained.train_batch(x.view(), y.view(), labels, cfg, 1.0, &mut rng)?;
    let mut cosines = Vec::new();
    for (k, g) in gradients.iter().enumerate() {
        let group = net.forward_group(k).ok_or("projection")?;
        let update = &trained.chip().read_weights(group)? - &net.chip().read_weights(group)?;
        let (mut dot, mut uu, mut gg) = (0.0f64, 0.0f64, 0.0f64);
        for (&u, &g) in update.iter().zip(g) {
            let (u, down) = (f64::from(u), -g);
            dot += u * down;
            uu += u * u;
            gg += down * down;
        }
        cosines.push(dot / (uu.sqrt() * gg.sqrt()));
    }
    Ok(cosines)
}

/// EP as the literature runs it: with settled phases and the symmetric estimate at small β, the
/// update of every layer follows the true gradient (recurrent back-propagation at the free fixed
/// point) to a cosine of 0.99 or better, for both neuron models and with two hidden layers.
#[test]
fn symmetric_ep_matches_the_true_gradient_layer_by_layer() -> TestResult {
    let batch = small_batch();
    let p = HardwareProfile::load("ideal")?;
    for neuron in [NeuronModel::Sigmoid, NeuronModel::Clip] {
        for layers in ["5,7,3", "5,8,6,3"] {
            for seed in [4, 5] {
                let cfg = TrainConfig { neuron, base_dt: neuron.default_dt(), ..small_config(seed) };
                let net = EpNetwork::build(&p, &NetworkShape::parse(layers)?, &cfg)?;
                let cosines = per_layer_fidelity(&net, &batch, &cfg)?;
                println!("{neuron} {layers} seed {seed}: per-layer cosine {cosines:.5?}");
                // The clip model's kinks (a neuron crossing 0 or 1 between the phases) leave it at
                // 0.97–1.0 (and a layer with every neuron clipped has no update at all): printed,
                // asserted for the sigmoid model.
                if neuron == NeuronModel::Sigmoid {
                    for (k, &c) in cosines.iter().enumerate() {
                        assert!(c >= 0.99, "{neuron} {layers} seed {seed}: projection {k} cosine {c}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// The one-sided estimate `(s^β − s⁰)/β` follows the gradient too once the free phase has settled
/// (T1 400), at small β; at β 0.2 it is still close, and sign-flipped β points downhill as well.
#[test]
fn one_sided_estimate_follows_the_gradient_once_settled() -> TestResult {
    let batch = small_batch();
    let p = HardwareProfile::load("ideal")?;
    let base =
        TrainConfig { neuron: NeuronModel::Sigmoid, base_dt: 1.0, symmetric: false, ..small_config(6) };
    for layers in ["5,7,3", "5,8,6,3"] {
        let net = EpNetwork::build(&p, &NetworkShape::parse(layers)?, &base)?;
        for (beta, bound) in [(0.005, 0.999), (0.2, 0.9)] {
            let cosines = per_layer_fidelity(&net, &batch, &TrainConfig { beta, ..base.clone() })?;
            println!("{layers}, one-sided β {beta}: per-layer cosine {cosines:.5?}");
            for (k, &c) in cosines.iter().enumerate() {
                assert!(c >= bound, "{layers} β {beta}: projection {k} cosine {c}");
            }
        }
    }
    Ok(())
}

/// The reference gradient fidelity uses: the derivative with respect to one matrix used both
/// forward and (transposed) as feedback, checked by moving both copies of a weight together.
#[test]
fn tied_gradients_match_finite_differences_of_both_copies() -> TestResult {
    let (x, y, _) = small_batch();
    let p = HardwareProfile::load("ideal")?;
    let cfg = TrainConfig { neuron: NeuronModel::Sigmoid, ..small_config(4) };
    let net = EpNetwork::build(&p, &NetworkShape::parse("5,7,3")?, &cfg)?;
    let twin = FloatTwin::from_network(&net)?.with_tolerances(1e-15, 1e-15, 200_000);
    let tied = twin.tied_gradients(x.view(), y.view())?;
    let forward = twin.forward_gradients(x.view(), y.view())?;
    // The input projection has no feedback copy: its tied gradient is the forward one.
    assert_eq!(tied[0], forward[0]);
    let (w, h) = (twin.forward_weights(1).ok_or("forward")?.clone(), 1e-4);
    let mut differs = 0;
    for ((j, i), &g) in tied[1].indexed_iter() {
        let moved = |d: f64| -> Result<f64, Box<dyn std::error::Error>> {
            let t = twin.with_forward_weight(1, j, i, w[[j, i]] + d)?.with_feedback_weight(
                1,
                i,
                j,
                w[[j, i]] + d,
            )?;
            Ok(t.cost(x.view(), y.view())?)
        };
        let fd = (moved(h)? - moved(-h)?) / (2.0 * h);
        assert!(
            (fd - g).abs() <= 1e-4 * g.abs() + 1e-10,
            "weight ({j}, {i}): tied {g:e}, finite differences {fd:e}"
        );
        if (g - forward[1][[j, i]]).abs() > 1e-3 * g.abs() {
            differs += 1;
        }
    }
    assert!(differs > 10, "the feedback path changes the gradient of only {differs} weights");
    Ok(())
}

/// A β-sign generator that always gives the same sign: every random word is all ones (`true`:
/// +β) or all zeros (`false`: −β).
struct Coin(bool);

impl rand::TryRng for Coin {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(if self.0 { u32::MAX } else { 0 })
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(if self.0 { u64::MAX } else { 0 })
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(if self.0 { 0xFF } else { 0 });
        Ok(())
    }
}

/// Cosines between one EP update on the chip and the float twin's downhill direction, per kind of
/// parameter.
#[derive(Debug, Clone, Copy)]
struct Cosines {
    /// Every forward weight (each projection's update divided by its learning rate) against −dC/dW.
    forward: f64,
    /// Every feedback device against the transpose of −dC/dW of its projection (EP updates both
    /// copies of a weight towards the same tied gradient).
    feedback: f64,
    /// Every bias against −dC/db from central differences of the twin's cost.
    bias: f64,
}

fn cosine(pairs: &[(f64, f64)]) -> f64 {
    let dot: f64 = pairs.iter().map(|(a, b)| a * b).sum();
    let (aa, bb): (f64, f64) = pairs.iter().fold((0.0, 0.0), |(x, y), (a, b)| (x + a * a, y + b * b));
    dot / (aa.sqrt() * bb.sqrt())
}

/// dC/db of every neuron layer's biases by central differences of the twin's cost (biases moved on
/// the chip by ±`h`, which is one mantissa step on loihi2, so the chip stores the probe exactly).
fn bias_gradients(
    net: &EpNetwork,
    x: &Array2<f32>,
    y: &Array2<f32>,
    h: f32,
) -> Result<Vec<Vec<f64>>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for l in 1..net.shape().sizes().len() {
        let pop = net.layer(l).ok_or("layer")?;
        let bias = net.chip().read_bias(pop)?;
        let mut grads = Vec::new();
        for i in 0..bias.len() {
            let mut cost = [0.0; 2];
            for (k, d) in [h, -h].into_iter().enumerate() {
                let mut probe = net.clone();
                let mut b = bias.clone();
                b[i] += d;
                probe.chip_mut().write_bias(pop, &b)?;
                assert_eq!(probe.chip().read_bias(pop)?[i], b[i], "bias probe not stored exactly");
                cost[k] = FloatTwin::from_network(&probe)?.cost(x.view(), y.view())?;
            }
            grads.push((cost[0] - cost[1]) / (2.0 * f64::from(h)));
        }
        out.push(grads);
    }
    Ok(out)
}

/// The cosines of one mini-batch's EP update on a clone of `net`, with β's sign fixed by `coin`.
fn cosines_of_one_update(
    net: &EpNetwork,
    (x, y, labels): &Batch,
    cfg: &TrainConfig,
    plus: bool,
) -> Result<Cosines, Box<dyn std::error::Error>> {
    let twin = FloatTwin::from_network(net)?;
    let tied = twin.tied_gradients(x.view(), y.view())?;
    let bias_grads = bias_gradients(net, x, y, 1.0 / 1024.0)?;
    let mut trained = net.clone();
    trained.train_batch(x.view(), y.view(), labels, cfg, 1.0, &mut Coin(plus))?;
    let (mut fwd, mut fb, mut bias) = (Vec::new(), Vec::new(), Vec::new());
    for (k, g) in tied.iter().enumerate() {
        let per_lr = 1.0 / f64::from(cfg.lr_for(k));
        let group = net.forward_group(k).ok_or("projection")?;
        let change =
            &trained.chip().read_effective_weights(group)? - &net.chip().read_effective_weights(group)?;
        fwd.extend(change.iter().zip(g).map(|(&u, &g)| (f64::from(u) * per_lr, -g)));
        if let Some(group) = net.feedback_group(k) {
            let change =
                &trained.chip().read_effective_weights(group)? - &net.chip().read_effective_weights(group)?;
            fb.extend(change.iter().zip(g.t()).map(|(&u, &g)| (f64::from(u) * per_lr, -g)));
        }
        let pop = net.layer(k + 1).ok_or("layer")?;
        let (after, before) = (trained.chip().read_bias(pop)?, net.chip().read_bias(pop)?);
        for ((a, b), &g) in after.iter().zip(&before).zip(&bias_grads[k]) {
            bias.push((f64::from(a - b) * per_lr, -g));
        }
    }
    Ok(Cosines { forward: cosine(&fwd), feedback: cosine(&fb), bias: cosine(&bias) })
}

/// One-sided EP with +β and with −β separately (each sign on its own, not a random mix) points
/// downhill on every profile, for forward weights, feedback devices and biases alike, with bounds
/// per profile, sign and kind a little below the measured cosines (a random direction over these
/// 640 weights, 128 feedback devices or 36 biases would give 0 ± 0.04, 0.09 or 0.17).
#[test]
fn one_sided_ep_with_either_sign_of_beta_points_downhill_for_weights_feedback_and_biases() -> TestResult {
    let batch = synthetic_batch(20)?;
    let cfg = TrainConfig { seed: 7, symmetric: false, ..TrainConfig::default() };
    // (forward, feedback, bias) for +β and −β. Measured (seed 7, 16-32-4, batch 20, sigmoid,
    // β 0.1, T1 30): ideal (0.969, 0.964, 0.961), (0.919, 0.907, 0.876); loihi2 (0.874, 0.900,
    // 0.952), (0.795, 0.810, 0.859); analog-rram (0.297, 0.556, 0.423), (0.284, 0.490, 0.428).
    for (profile, bounds) in [
        ("ideal", [[0.93, 0.93, 0.92], [0.87, 0.86, 0.83]]),
        ("loihi2", [[0.82, 0.85, 0.9], [0.74, 0.76, 0.8]]),
        ("analog-rram", [[0.24, 0.45, 0.33], [0.23, 0.4, 0.33]]),
    ] {
        let p = HardwareProfile::load(profile)?;
        let net = EpNetwork::build(&p, &NetworkShape::parse("16,32,4")?, &cfg)?;
        for (plus, bound) in [true, false].into_iter().zip(bounds) {
            let c = cosines_of_one_update(&net, &batch, &cfg, plus)?;
            let sign = if plus { "+" } else { "−" };
            println!("{profile}, one-sided {sign}β: {c:.4?}");
            for ((what, v), b) in
                [("forward", c.forward), ("feedback", c.feedback), ("bias", c.bias)].into_iter().zip(bound)
            {
                assert!(v > b, "{profile}, {sign}β: {what} cosine {v}, bound {b}");
            }
        }
    }
    Ok(())
}
