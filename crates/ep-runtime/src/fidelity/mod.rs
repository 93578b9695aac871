//! Gradient fidelity: how well the update a chip makes follows the true gradient of the cost.
//!
//! A [`FloatTwin`] copies the realised device parameters of a network on a chip into `f64` and
//! computes the exact gradient of the cost by recurrent back-propagation ([`float_twin`]).
//! [`gradient_fidelity`] is the stability-study metric: the cosine between the change of the
//! forward weights the chip makes on one mini-batch and −dC/dW of the twin before the update, where
//! W is each projection's weight matrix as EP's rule treats it (used forward and, transposed, as
//! feedback: [`FloatTwin::tied_gradients`]).

pub mod float_twin;

use ndarray::{ArrayView2, Zip};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::TrainConfig;
use crate::error::Result;
use crate::fidelity::float_twin::{FloatTwin, check_shape, invalid};
use crate::on_chip::ep_network::EpNetwork;

/// Cosine between the update the chip actually makes on this mini-batch (train_batch on a CLONE
/// of `net` with the given config and lr_factor; ΔW read back from the forward groups, all
/// projections concatenated) and −dC/dW of the float twin of `net` before the update, W being each
/// projection's matrix in both of its roles (forward, and transposed as feedback), the parameter
/// EP's rule estimates the gradient of ([`FloatTwin::tied_gradients`]). Each projection's update is
/// divided by its learning rate first, so the cosine measures the estimate, not the per-layer
/// step sizes. Returns NaN-free values in [-1, 1]; if either vector is all zero, returns 0.
///
/// ΔW is the change of the *effective* forward weights (stored weights × realised synapse gains),
/// the parameters the twin's gradient is taken with respect to; on digital and float cores these
/// are the stored weights. `seed` seeds the β-sign generator handed to
/// [`EpNetwork::train_batch`] (`ChaCha8Rng::seed_from_u64(seed)`). `net` itself is not changed.
pub fn gradient_fidelity(
    net: &EpNetwork,
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    labels: &[u8],
    config: &TrainConfig,
    lr_factor: f32,
    seed: u64,
) -> Result<f64> {
    let twin = FloatTwin::from_network(net)?;
    let gradients = twin.tied_gradients(x, y)?;
    let mut trained = net.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    trained.train_batch(x, y, labels, config, lr_factor, &mut rng)?;
    let (mut dot, mut update_sq, mut gradient_sq) = (0.0f64, 0.0f64, 0.0f64);
    for (k, gradient) in gradients.iter().enumerate() {
        let g =
            net.forward_group(k).ok_or_else(|| invalid("projection", k, "a projection of the network"))?;
        let before = net.chip().read_effective_weights(g)?;
        let after = trained.chip().read_effective_weights(g)?;
        check_shape("weight update", after.dim(), gradient.dim())?;
        // The estimate's direction, not the per-projection learning rates that scale it: with
        // 0.4 / 0.1 an exact estimate would otherwise read as a cosine of 0.81 on 784-500-10.
        let lr = f64::from(config.lr_for(k) * lr_factor);
        let per_lr = if lr > 0.0 { 1.0 / lr } else { 0.0 };
        Zip::from(&after).and(&before).and(gradient).for_each(|&a, &b, &grad| {
            let update = (f64::from(a) - f64::from(b)) * per_lr;
            let downhill = -grad;
            dot += update * downhill;
            update_sq += update * update;
            gradient_sq += downhill * downhill;
        });
    }
    if !(dot.is_finite() && update_sq.is_finite() && gradient_sq.is_finite()) {
        return Err(invalid(
            "gradient fidelity",
            "a non-finite update or gradient",
            "finite weights before and after the update",
        ));
    }
    if update_sq == 0.0 || gradient_sq == 0.0 {
        return Ok(0.0);
    }
    Ok((dot / (update_sq.sqrt() * gradient_sq.sqrt())).clamp(-1.0, 1.0))
}
