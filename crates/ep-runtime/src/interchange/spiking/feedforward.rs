//! The trained rate network run as one feed-forward pass in f64, `a_l = f(W_l a_{l−1} + b_l)` with
//! the feedback projections dropped: what the spiking conversion approximates, so that the loss of
//! a deployment splits into "no feedback" (trained → feed-forward) and "spikes and integers"
//! (feed-forward → deployed).

use crate::data::dataset::Dataset;
use crate::network::parameters::NetworkParameters;

/// Predicted classes of the first `examples` examples of `data` (argmax of the last layer, the
/// first among equals).
pub fn feedforward_predictions(params: &NetworkParameters, data: &Dataset, examples: usize) -> Vec<usize> {
    (0..examples.min(data.len()))
        .map(|index| {
            let mut a: Vec<f64> = data.pixels(index).iter().map(|&b| f64::from(b) / 255.0).collect();
            for (w, b) in params.forward.iter().zip(&params.bias) {
                // w is pre × post.
                a = w
                    .columns()
                    .into_iter()
                    .zip(b)
                    .map(|(col, &bias)| {
                        let u: f64 = col.iter().zip(&a).map(|(&w, &x)| f64::from(w) * x).sum::<f64>();
                        params.neuron.transfer(u + f64::from(bias))
                    })
                    .collect();
            }
            a.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best })
                .0
        })
        .collect()
}
