//! Evaluation: free phase only, accuracy of the output's argmax.

use ndarray::Array2;

use crate::data::dataset::Dataset;
use crate::error::{EpError, Result};
use crate::on_chip::ep_network::EpNetwork;

/// Accuracy of `net` on `data` after `steps` free steps (fewer if a settling `tolerance` is given), in
/// batches of `batch` examples.
///
/// With `threads > 1` the batches are shared among copies of the network; each batch is computed the
/// same way whatever the thread count, so the result does not depend on it.
pub fn evaluate(
    net: &EpNetwork,
    data: &Dataset,
    steps: usize,
    tolerance: Option<f32>,
    batch: usize,
    threads: usize,
) -> Result<f64> {
    if data.is_empty() {
        return Err(EpError::DatasetMismatch(format!("dataset `{}` is empty", data.name())));
    }
    let batch = batch.max(1);
    let starts: Vec<usize> = (0..data.len()).step_by(batch).collect();
    let threads = threads.clamp(1, starts.len());
    let run = |worker: usize| -> Result<usize> {
        let mut net = net.clone();
        net.chip_mut().reset_counters();
        if threads > 1 {
            // The workers already use every thread: each runs its batches on one.
            net.chip_mut().set_threads(1);
        }
        let mut correct = 0;
        for &start in starts.iter().skip(worker).step_by(threads) {
            let idx: Vec<usize> = (start..(start + batch).min(data.len())).collect();
            // Read noise keyed by the batch, so the result does not depend on the worker.
            net.chip_mut().reseed_noise(start as u64);
            let mut x = Array2::<f32>::zeros((idx.len(), data.input_size()));
            data.try_fill_batch(&idx, &mut x.view_mut())?;
            let pred = net.predict_settled(x.view(), steps, tolerance)?;
            correct += pred.iter().zip(&idx).filter(|(p, i)| **p == usize::from(data.labels()[**i])).count();
        }
        Ok(correct)
    };
    let correct: usize = super::workers::run_workers(threads, "evaluation", run)?.into_iter().sum();
    Ok(correct as f64 / data.len() as f64)
}
