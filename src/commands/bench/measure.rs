//! Timing one workload inside this process: training epochs and an evaluation per measurement,
//! several thread counts interleaved, and the process's peak memory at the end.

use std::time::Instant;

use chip_model::HardwareProfile;
use ep_runtime::{DatasetSplit, Trainer};
use serde::{Deserialize, Serialize};

use super::memory::peak_resident_kib;
use super::workload::Workload;

/// What one workload measured: per thread count (in the order given), the training rate and the
/// evaluation time of every repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// Thread counts, in the order measured within each repetition.
    pub threads: Vec<usize>,
    /// Training examples per second, `[thread count][repetition]`.
    pub rates: Vec<Vec<f64>>,
    /// Seconds to evaluate the test digits, `[thread count][repetition]`.
    pub eval_seconds: Vec<Vec<f64>>,
    /// Training examples per epoch.
    pub examples: usize,
    /// Epochs trained per measurement (more than one when an epoch is shorter than the minimum
    /// timing).
    pub epochs: Vec<Vec<usize>>,
    /// Test digits evaluated.
    pub eval_examples: usize,
    /// Peak resident memory of the measuring process in KiB (`None` where the system does not
    /// report it).
    pub peak_kib: Option<u64>,
}

impl Measurement {
    /// Median training rate at thread count number `k`.
    pub fn rate(&self, k: usize) -> f64 {
        median(&self.rates[k])
    }

    /// Speed-up of thread count number `k` over the first: the median over repetitions of the
    /// ratio of their rates in the same repetition (they ran one after the other).
    pub fn speedup(&self, k: usize) -> f64 {
        let ratios: Vec<f64> = self.rates[k].iter().zip(&self.rates[0]).map(|(r, first)| r / first).collect();
        median(&ratios)
    }

    /// [`Measurement::speedup`] of the evaluation.
    pub fn eval_speedup(&self, k: usize) -> f64 {
        let ratios: Vec<f64> =
            self.eval_seconds[k].iter().zip(&self.eval_seconds[0]).map(|(s, first)| first / s).collect();
        median(&ratios)
    }

    /// Median evaluation time at thread count number `k`.
    pub fn eval(&self, k: usize) -> f64 {
        median(&self.eval_seconds[k])
    }
}

/// The median of a non-empty list (the upper one of an even count); NaN for an empty one.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times `workload` on `data`: `repeat` rounds, each measuring every thread count once in the
/// given order on a freshly built network (so the counts are interleaved and share the machine's
/// conditions). A measurement trains epochs until `min_seconds` of training were timed (at least
/// one), then evaluates the test set once.
pub fn measure(
    workload: &Workload,
    data: &DatasetSplit,
    threads: &[usize],
    repeat: usize,
    min_seconds: f64,
) -> anyhow::Result<Measurement> {
    let profile = HardwareProfile::load(&workload.profile)?;
    let mut m = Measurement {
        threads: threads.to_vec(),
        rates: vec![Vec::new(); threads.len()],
        eval_seconds: vec![Vec::new(); threads.len()],
        examples: data.train.len(),
        epochs: vec![Vec::new(); threads.len()],
        eval_examples: data.test.len(),
        peak_kib: None,
    };
    for _ in 0..repeat {
        for (k, &t) in threads.iter().enumerate() {
            let mut trainer = Trainer::new(&profile, &workload.shape, workload.config(t))?;
            let (mut seconds, mut examples, mut epochs) = (0.0, 0usize, 0usize);
            while epochs == 0 || seconds < min_seconds {
                let epoch = trainer.train_epoch(data, &mut |_, _| {})?;
                seconds += epoch.seconds;
                examples += data.train.len();
                epochs += 1;
            }
            m.rates[k].push(examples as f64 / seconds.max(1e-9));
            m.epochs[k].push(epochs);
            let start = Instant::now();
            trainer.evaluate(&data.test)?;
            m.eval_seconds[k].push(start.elapsed().as_secs_f64());
        }
    }
    m.peak_kib = peak_resident_kib();
    Ok(m)
}
