//! The float twin of a network on a chip: a [`FloatTwin`] copies the realised device parameters
//! of an [`EpNetwork`]'s chip (effective forward and feedback weights, biases, neuron gains and
//! offsets) into `f64`, finds the free-phase fixed point of the rate dynamics and computes the exact
//! gradient of the squared-error cost with respect to every forward weight by recurrent
//! back-propagation (Almeida–Pineda). Because the twin uses the chip's *own* feedback weights, the
//! gradient is that of the network the chip really implements, including weight asymmetry; only
//! the dynamics' non-idealities (quantisation, read noise, ADC/DAC) are left out.
//!
//! The model (see docs/model.md): neuron layer `l` settles where
//!
//! ```text
//! s_l = f(g_l ⊙ (s_{l−1}·W_l + s_{l+1}·Wfb_{l+1} + b_l) + o_l)
//! ```
//!
//! with `f` the network's neuron model: `clip(u, 0, 1)` (derivative 1 inside the box, 0 where
//! clipped) or `σ(u) = 1/(1 + e^(−(4u − 2)))` (derivative `4σ(1 − σ)`).
//!
//! with `W_l` the forward weights of projection `l` (pre × post, `n_{l−1} × n_l`) and `Wfb_{l+1}`
//! the feedback weights of projection `l + 1` (pre is layer `l + 1`, post is layer `l`, so
//! `n_{l+1} × n_l`). The input `s_0 = x` is clamped. Time constants do not change the fixed point.

use ndarray::{Array1, Array2, ArrayView2, Zip};

use chip_model::neuron_program::sigmoid_f64;

use crate::error::{EpError, Result};
use crate::network::neuron_model::NeuronModel;
use crate::on_chip::ep_network::EpNetwork;
/// Default tolerance of the free fixed point: the iteration stops once the largest change of any
/// state is below it.
pub const FIXED_POINT_TOLERANCE: f64 = 1e-10;
/// Default tolerance of the adjoint (recurrent back-propagation) iteration.
pub const ADJOINT_TOLERANCE: f64 = 1e-12;
/// Default iteration limit of both the fixed-point and the adjoint iteration.
pub const MAX_ITERATIONS: usize = 10_000;
/// Damping of both iterations: `s ← s + DAMPING·(F(s) − s)`. Damping keeps the synchronous
/// iteration from oscillating between even and odd layers; it does not move the fixed point.
const DAMPING: f64 = 0.5;
/// An adjoint change beyond this means the adjoint iteration diverges.
const ADJOINT_BLOW_UP: f64 = 1e100;

/// A floating-point (f64) twin of an EpNetwork's chip: the realised effective forward weights, the
/// realised effective FEEDBACK weights (separate devices: on analog chips they differ from the
/// forward transpose), biases, neuron gains and offsets, read from the chip. Time constants do not
/// matter at a fixed point and are not used.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTwin {
    /// Layer sizes, input first.
    sizes: Vec<usize>,
    /// Forward weights of projection `k` (0-based, layer `k` → layer `k + 1`), `n_k × n_{k+1}`.
    forward: Vec<Array2<f64>>,
    /// Feedback weights of projection `k` (layer `k + 1` → layer `k`), `n_{k+1} × n_k`; `None` for
    /// the first projection (the input is clamped).
    feedback: Vec<Option<Array2<f64>>>,
    /// Biases of neuron layer `l` at index `l − 1`.
    bias: Vec<Array1<f64>>,
    /// Realised neuron gains of neuron layer `l` at index `l − 1`.
    gain: Vec<Array1<f64>>,
    /// Realised neuron offsets of neuron layer `l` at index `l − 1`.
    offset: Vec<Array1<f64>>,
    /// The neurons' rate model (their activation `f`).
    neuron: NeuronModel,
    /// Stopping tolerance of the fixed-point iteration.
    fixed_point_tol: f64,
    /// Stopping tolerance of the adjoint iteration.
    adjoint_tol: f64,
    /// Iteration limit of both iterations.
    max_iter: usize,
}

/// How the twin's two iterations ended (see [`FloatTwin::forward_gradients_with_report`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Convergence {
    /// Iterations the free fixed point took.
    pub fixed_point_iterations: usize,
    /// Largest state change in the last fixed-point iteration.
    pub fixed_point_residual: f64,
    /// Iterations the adjoint took.
    pub adjoint_iterations: usize,
    /// Largest adjoint change in the last adjoint iteration.
    pub adjoint_residual: f64,
    /// Whether both iterations reached the twin's tolerances (by default
    /// [`FIXED_POINT_TOLERANCE`] and [`ADJOINT_TOLERANCE`]) within the iteration limit. When they
    /// did not (an oscillating or marginally stable network), the gradient is approximate.
    pub converged: bool,
}

/// dC/dW of one projection: its forward weights, and its feedback weights if it has them.
type ProjectionGradient = (Array2<f64>, Option<Array2<f64>>);

/// What [`FloatTwin::settle`] found.
#[derive(Debug, Clone, PartialEq)]
struct Settled {
    /// States of every layer, input first (batch × n_l).
    states: Vec<Array2<f64>>,
    /// Activation derivative of every neuron layer at the fixed point (index `l − 1`): for the clip
    /// model 1 where the pre-clip value lies strictly inside (0, 1) and 0 where it is clipped; for
    /// the sigmoid model `4σ(1 − σ)`.
    masks: Vec<Array2<f64>>,
    /// Iterations run.
    iterations: usize,
    /// Largest state change in the last iteration.
    residual: f64,
}

fn to_f64(a: ArrayView2<f32>) -> Array2<f64> {
    a.mapv(f64::from)
}

fn vec_f64(v: &[f32]) -> Array1<f64> {
    v.iter().map(|&a| f64::from(a)).collect()
}

pub(super) fn invalid(field: &str, value: impl ToString, allowed: impl ToString) -> EpError {
    EpError::InvalidParameter { field: field.into(), value: value.to_string(), allowed: allowed.to_string() }
}

pub(super) fn check_shape(field: &str, got: (usize, usize), expected: (usize, usize)) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(invalid(field, format!("an array of shape {got:?}"), format!("shape {expected:?}")))
    }
}

impl FloatTwin {
    /// Reads the twin from the chip of `net`: effective weights of every forward and feedback
    /// group (stored weights × realised synapse gains, stuck devices included), biases, realised
    /// neuron gains and offsets, all converted to `f64`.
    pub fn from_network(net: &EpNetwork) -> Result<Self> {
        let chip = net.chip();
        let sizes = net.shape().sizes().to_vec();
        let projections = sizes.len().saturating_sub(1);
        if projections == 0 {
            return Err(invalid("network", "a network without neuron layers", "at least one projection"));
        }
        let mut forward = Vec::with_capacity(projections);
        let mut feedback = Vec::with_capacity(projections);
        let mut bias = Vec::with_capacity(projections);
        let mut gain = Vec::with_capacity(projections);
        let mut offset = Vec::with_capacity(projections);
        for k in 0..projections {
            let missing = || invalid("projection", k, "a projection of the network");
            let g = net.forward_group(k).ok_or_else(missing)?;
            let w = to_f64(chip.read_effective_weights(g)?.view());
            check_shape("forward weights", w.dim(), (sizes[k], sizes[k + 1]))?;
            forward.push(w);
            let fb = match net.feedback_group(k) {
                Some(fb) => {
                    let w = to_f64(chip.read_effective_weights(fb)?.view());
                    check_shape("feedback weights", w.dim(), (sizes[k + 1], sizes[k]))?;
                    Some(w)
                }
                None if k == 0 => None,
                None => return Err(invalid("projection", k, "a projection with feedback weights")),
            };
            feedback.push(fb);
            let pop =
                net.layer(k + 1).ok_or_else(|| invalid("layer", k + 1, "a neuron layer of the network"))?;
            let n = sizes[k + 1];
            let per_neuron = |what: &str, v: Vec<f32>| -> Result<Array1<f64>> {
                if v.len() < n {
                    return Err(invalid(what, v.len(), format!("{n} values")));
                }
                Ok(vec_f64(&v[..n]))
            };
            bias.push(per_neuron("bias", chip.read_bias(pop)?)?);
            gain.push(per_neuron("neuron gain", chip.realised_neuron_gain(pop)?.to_vec())?);
            offset.push(per_neuron("neuron offset", chip.realised_neuron_offset(pop)?.to_vec())?);
        }
        Ok(Self {
            sizes,
            forward,
            feedback,
            bias,
            gain,
            offset,
            neuron: net.neuron_model(),
            fixed_point_tol: FIXED_POINT_TOLERANCE,
            adjoint_tol: ADJOINT_TOLERANCE,
            max_iter: MAX_ITERATIONS,
        })
    }

    /// The same twin with other stopping rules: the fixed-point tolerance, the adjoint tolerance
    /// and the iteration limit of both (defaults [`FIXED_POINT_TOLERANCE`], [`ADJOINT_TOLERANCE`],
    /// [`MAX_ITERATIONS`]).
    pub fn with_tolerances(mut self, fixed_point_tol: f64, adjoint_tol: f64, max_iter: usize) -> Self {
        self.fixed_point_tol = fixed_point_tol;
        self.adjoint_tol = adjoint_tol;
        self.max_iter = max_iter;
        self
    }

    /// Layer sizes, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Effective forward weights of projection `k` (0-based, as [`EpNetwork::forward_group`]),
    /// pre × post.
    pub fn forward_weights(&self, k: usize) -> Option<&Array2<f64>> {
        self.forward.get(k)
    }

    /// Effective feedback weights of projection `k` (0-based, as [`EpNetwork::feedback_group`]):
    /// pre is layer `k + 1`, post is layer `k`, so the shape is `n_{k+1} × n_k`. `None` for the
    /// first projection (the input receives no feedback).
    pub fn feedback_weights(&self, k: usize) -> Option<&Array2<f64>> {
        self.feedback.get(k).and_then(Option::as_ref)
    }

    /// For verification (finite differences): a copy of the twin with the FORWARD weight
    /// `W[j, i]` of projection `k` (0-based; `j` presynaptic, `i` postsynaptic) set to `value`.
    /// The feedback weights are left as they are.
    pub fn with_forward_weight(&self, k: usize, j: usize, i: usize, value: f64) -> Result<FloatTwin> {
        let mut twin = self.clone();
        let w =
            twin.forward.get_mut(k).and_then(|w| w.get_mut((j, i))).ok_or_else(|| {
                invalid("forward weight", format!("({k}, {j}, {i})"), "an existing synapse")
            })?;
        *w = value;
        Ok(twin)
    }

    /// For verification: a copy of the twin with the FEEDBACK weight `Wfb[j, i]` of projection `k`
    /// (0-based, `k ≥ 1`; `j` in layer `k + 1`, `i` in layer `k`) set to `value`.
    pub fn with_feedback_weight(&self, k: usize, j: usize, i: usize, value: f64) -> Result<FloatTwin> {
        let mut twin = self.clone();
        let w =
            twin.feedback.get_mut(k).and_then(Option::as_mut).and_then(|w| w.get_mut((j, i))).ok_or_else(
                || invalid("feedback weight", format!("({k}, {j}, {i})"), "an existing synapse"),
            )?;
        *w = value;
        Ok(twin)
    }

    /// Free-phase fixed point for each example (rows of x, values in [0,1]): iterate
    /// s_l = f(g_l ⊙ (s_{l-1}·W_l + s_{l+1}·Wfb_{l+1} + b_l) + o_l) (synchronous, all layers)
    /// until the largest change is below the tolerance (1e-10) or the iteration limit (10 000),
    /// returning the states of every layer (index 0 is the clamped input, clipped to [0, 1] as the
    /// chip does). The iteration starts from zero states, as the chip's free phase does, and is
    /// damped (`s ← s + ½(F(s) − s)`), which does not move the fixed point.
    pub fn fixed_point(&self, x: ArrayView2<f32>) -> Result<Vec<Array2<f64>>> {
        Ok(self.settle(x)?.states)
    }

    /// Cost ½‖s_L − y‖² summed over the batch at the free fixed point.
    pub fn cost(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<f64> {
        self.check_targets(x, y)?;
        let settled = self.settle(x)?;
        let out = settled.states.last().ok_or_else(no_layers)?;
        Ok(0.5 * Zip::from(out).and(&y).fold(0.0, |acc, &s, &t| acc + (s - f64::from(t)).powi(2)))
    }

    /// dC/dW for every FORWARD projection (same shapes as the forward weights, pre × post), summed
    /// over the batch, by recurrent back-propagation (Almeida–Pineda): at the fixed point s*, with
    /// m = f'(u) the activation's derivative (clip: 1 inside the box, 0 when clipped), solve the
    /// adjoint λ = Jᵀλ + ∂C/∂s by damped fixed-point iteration (tolerance 1e-12, at most 10 000
    /// iterations), where J is the Jacobian of the fixed-point map including the feedback path;
    /// then dC/dW_l[j,i] = λ_l[i] · m_l[i] · g_l[i] · s_{l-1}[j].
    ///
    /// Fails if the adjoint iteration diverges (the fixed point is unstable). When an iteration
    /// stops at the iteration limit instead, the result is approximate:
    /// [`FloatTwin::forward_gradients_with_report`] tells.
    pub fn forward_gradients(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Vec<Array2<f64>>> {
        Ok(self.forward_gradients_with_report(x, y)?.0)
    }

    /// [`FloatTwin::forward_gradients`], with how the fixed-point and adjoint iterations ended.
    pub fn forward_gradients_with_report(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
    ) -> Result<(Vec<Array2<f64>>, Convergence)> {
        let (gradients, report) = self.gradients_with_report(x, y)?;
        Ok((gradients.into_iter().map(|(forward, _)| forward).collect(), report))
    }

    /// The gradient EP's rule estimates: the cost's derivative with respect to each projection's
    /// weight matrix `W` as the rule treats it, one parameter used in both directions (forward as
    /// `W`, feedback as `Wᵀ`), so `dC/dW = ∂C/∂W_forward + (∂C/∂W_feedback)ᵀ`; the first projection
    /// (the input is clamped, no feedback) has the forward part only. Taken at the twin's own
    /// (realised, possibly asymmetric) weights. Shapes as the forward weights (pre × post).
    pub fn tied_gradients(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Vec<Array2<f64>>> {
        let (gradients, _) = self.gradients_with_report(x, y)?;
        Ok(gradients
            .into_iter()
            .map(|(forward, feedback)| match feedback {
                Some(fb) => forward + fb.t(),
                None => forward,
            })
            .collect())
    }

    /// dC/dW of every projection's forward weights and (for projections with one) its feedback
    /// weights (`n_{k+1} × n_k`), by recurrent back-propagation, with the iterations' report.
    fn gradients_with_report(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
    ) -> Result<(Vec<ProjectionGradient>, Convergence)> {
        self.check_targets(x, y)?;
        let Settled { states, masks, iterations, residual } = self.settle(x)?;
        let mut report = Convergence {
            fixed_point_iterations: iterations,
            fixed_point_residual: residual,
            adjoint_iterations: 0,
            adjoint_residual: f64::INFINITY,
            converged: false,
        };
        let depth = self.forward.len();
        let batch = x.nrows();
        let out = states.last().ok_or_else(no_layers)?;
        let dcost = out - &to_f64(y);
        // δ_l = λ_l ⊙ m_l ⊙ g_l: the adjoint seen through each neuron's derivative and gain.
        let through = |lambda: &Array2<f64>, l: usize| -> Array2<f64> {
            let mut d = lambda * &masks[l - 1];
            d *= &self.gain[l - 1];
            d
        };
        let mut lambda: Vec<Array2<f64>> =
            (1..=depth).map(|l| Array2::zeros((batch, self.sizes[l]))).collect();
        for iteration in 1..=self.max_iter {
            let delta: Vec<Array2<f64>> = (1..=depth).map(|l| through(&lambda[l - 1], l)).collect();
            let mut largest = 0.0f64;
            for l in 1..=depth {
                let mut target =
                    if l == depth { dcost.clone() } else { Array2::zeros((batch, self.sizes[l])) };
                if l < depth {
                    // Forward path: s_l drives layer l + 1 through W_{l+1} (projection l).
                    target += &delta[l].dot(&self.forward[l].t());
                }
                // Feedback path: s_l drives layer l − 1 through Wfb_l (projection l − 1; the input
                // layer is clamped, so projection 0 has no feedback).
                if l >= 2
                    && let Some(fb) = &self.feedback[l - 1]
                {
                    target += &delta[l - 2].dot(&fb.t());
                }
                let lam = &mut lambda[l - 1];
                Zip::from(lam).and(&target).for_each(|a, &t| {
                    let change = t - *a;
                    largest = largest.max(change.abs());
                    *a += DAMPING * change;
                });
            }
            // A stable fixed point keeps λ of the order of ‖∂C/∂s‖ / (1 − ρ(J)); growth far beyond
            // that means the linearisation is unstable and the iteration will never settle.
            if !largest.is_finite() || largest >= ADJOINT_BLOW_UP {
                return Err(invalid(
                    "adjoint",
                    format!("a diverging recurrent back-propagation (change {largest:e})"),
                    "a stable free fixed point",
                ));
            }
            report.adjoint_iterations = iteration;
            report.adjoint_residual = largest;
            if largest < self.adjoint_tol {
                break;
            }
        }
        report.converged =
            report.fixed_point_residual < self.fixed_point_tol && report.adjoint_residual < self.adjoint_tol;
        let delta: Vec<Array2<f64>> = (1..=depth).map(|l| through(&lambda[l - 1], l)).collect();
        // Projection k (layer k → k + 1): forward s_kᵀ·δ_{k+1}; feedback (layer k + 1 → k, k ≥ 1)
        // feeds layer k, so s_{k+1}ᵀ·δ_k.
        let gradients = (0..depth)
            .map(|k| {
                let forward = states[k].t().dot(&delta[k]);
                let feedback = self.feedback[k].as_ref().map(|_| states[k + 1].t().dot(&delta[k - 1]));
                (forward, feedback)
            })
            .collect();
        Ok((gradients, report))
    }

    fn check_input(&self, x: ArrayView2<f32>) -> Result<()> {
        if x.ncols() != self.sizes[0] || x.nrows() == 0 {
            return Err(invalid(
                "x",
                format!("an array of shape {:?}", x.dim()),
                format!("batch × {} with at least one row", self.sizes[0]),
            ));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(invalid("x", "non-finite values", "values in [0, 1]"));
        }
        Ok(())
    }

    fn check_targets(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<()> {
        let outputs = self.sizes.last().copied().unwrap_or(0);
        check_shape("y", y.dim(), (x.nrows(), outputs))?;
        if y.iter().any(|v| !v.is_finite()) {
            return Err(invalid("y", "non-finite values", "finite targets"));
        }
        Ok(())
    }

    /// Pre-clip values of every neuron layer for the states `s` (index `l − 1`), given the constant
    /// part of each layer's input (`input_part`: bias, plus the clamped input for layer 1).
    fn pre_clip(&self, s: &[Array2<f64>], input_part: &[Array2<f64>]) -> Vec<Array2<f64>> {
        let depth = self.forward.len();
        (1..=depth)
            .map(|l| {
                let mut u = input_part[l - 1].clone();
                if l >= 2 {
                    u += &s[l - 1].dot(&self.forward[l - 1]);
                }
                // Feedback from layer l + 1 (projection l; none into the output layer).
                if let Some(Some(fb)) = self.feedback.get(l) {
                    u += &s[l + 1].dot(fb);
                }
                u *= &self.gain[l - 1];
                u += &self.offset[l - 1];
                u
            })
            .collect()
    }

    /// Runs the damped synchronous iteration from zero states to the free fixed point.
    fn settle(&self, x: ArrayView2<f32>) -> Result<Settled> {
        self.check_input(x)?;
        let depth = self.forward.len();
        let batch = x.nrows();
        let input = x.mapv(|v| f64::from(v.clamp(0.0, 1.0)));
        let neuron = self.neuron;
        // The parts of each layer's input that do not change while settling.
        let input_part: Vec<Array2<f64>> = (1..=depth)
            .map(|l| {
                let mut c =
                    if l == 1 { input.dot(&self.forward[0]) } else { Array2::zeros((batch, self.sizes[l])) };
                c += &self.bias[l - 1];
                c
            })
            .collect();
        let mut states = Vec::with_capacity(depth + 1);
        states.push(input);
        for l in 1..=depth {
            states.push(Array2::zeros((batch, self.sizes[l])));
        }
        let (mut iterations, mut residual) = (0, f64::INFINITY);
        for iteration in 1..=self.max_iter {
            let pre = self.pre_clip(&states, &input_part);
            let mut largest = 0.0f64;
            for (s, u) in states[1..].iter_mut().zip(&pre) {
                Zip::from(s).and(u).for_each(|s, &u| {
                    let change = activation(neuron, u) - *s;
                    largest = largest.max(change.abs());
                    *s += DAMPING * change;
                });
            }
            if !largest.is_finite() {
                return Err(invalid(
                    "twin parameters",
                    "non-finite values",
                    "finite weights, biases, gains and offsets",
                ));
            }
            iterations = iteration;
            residual = largest;
            if largest < self.fixed_point_tol {
                break;
            }
        }
        let masks = self
            .pre_clip(&states, &input_part)
            .into_iter()
            .map(|u| u.mapv(|u| derivative(neuron, u)))
            .collect();
        Ok(Settled { states, masks, iterations, residual })
    }
}

/// The neuron model's activation `f(u)`.
fn activation(neuron: NeuronModel, u: f64) -> f64 {
    neuron.transfer(u)
}

/// The activation's derivative `f'(u)` (the clip model's is taken as 0 at the kinks).
fn derivative(neuron: NeuronModel, u: f64) -> f64 {
    match neuron {
        NeuronModel::Clip => {
            if u > 0.0 && u < 1.0 {
                1.0
            } else {
                0.0
            }
        }
        NeuronModel::Sigmoid => {
            let s = sigmoid_f64(u);
            4.0 * s * (1.0 - s)
        }
    }
}

fn no_layers() -> EpError {
    invalid("network", "a network without neuron layers", "at least one projection")
}
