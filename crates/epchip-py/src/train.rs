//! `epchip.train`: `epchip train` from Python, on a dataset spec or the user's numpy arrays.
//!
//! The run is built and trained as `src/commands/train.rs` does it (same configuration, same data,
//! same files in `out`), so the same seed and settings give the same metrics and summary; the GIL
//! is released while the chip computes, Ctrl-C stops training between two mini-batches, and an
//! optional callback sees every epoch's metrics and may stop the run.

use std::path::PathBuf;

use ep_runtime::{CHECKPOINT_FILE, EpError, NetworkShape, RunData, RunDirectory, TauSpec, Trainer};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeWarning};
use pyo3::prelude::*;

use crate::convert::to_python;
use crate::data::load_split;
use crate::errors::{PyResultExt, value_error};
use crate::profile::ProfileArg;
use crate::progress::Progress;
use crate::run::Run;
use crate::settings::{LrArg, TrainingSettings};

/// Layer sizes as a list (`[784, 500, 10]`) or the CLI's text (`"784,500,10"`).
#[derive(FromPyObject)]
pub enum LayersArg {
    /// A list of sizes.
    List(Vec<usize>),
    /// `784,500,10`.
    Text(String),
}

impl LayersArg {
    /// The network shape (the CLI's default 784-500-10 when not given).
    pub fn shape(layers: Option<&LayersArg>) -> PyResult<NetworkShape> {
        match layers {
            None => NetworkShape::parse("784,500,10").py(),
            Some(LayersArg::List(sizes)) => NetworkShape::new(sizes.clone()).py(),
            Some(LayersArg::Text(text)) => NetworkShape::parse(text).py(),
        }
    }
}

/// Trains an HTS-EP network on an emulated chip with on-chip local learning (`epchip train`).
///
/// Data: `dataset` (`mnist10k`, `mnist10k:pool=N`, `synthetic`, `idx:DIR`; default `mnist10k`) or
/// the four arrays `x_train, y_train, x_test, y_test`: examples as `(n, inputs)` or
/// `(n, rows, cols)`, uint8 pixels 0..255 or floats in [0, 1] (stored to 1/255, as every epchip
/// dataset), labels as integers `0 .. layers[-1] - 1`.
///
/// `layers` defaults to 784-500-10; `tau` is `constant`, `lognormal:cv=X`, `gamma:cv=X` or
/// `uniform:min=A,max=B`. Every other keyword is the CLI flag of the same name; settings not given
/// take the neuron model's defaults for the network and chip, so the same seed and settings give
/// the same metrics and summary as `epchip train`. `out` writes the run directory (metrics.csv,
/// summary.json, checkpoint.json) after every epoch, atomically.
///
/// `callback(metrics)` is called after every epoch with that epoch's metrics; a true return value
/// stops training there. The GIL is released while the chip computes; Ctrl-C stops between two
/// mini-batches with `KeyboardInterrupt` (`out` keeps the last finished epoch). A progress bar and
/// one line per epoch go to `sys.stderr` unless `quiet`. A run that diverges returns normally with
/// `run.diverged` and a `RuntimeWarning`.
///
/// Raises `ValueError` for arguments, data or networks that are not allowed (with the CLI's
/// message), `OSError` when a file cannot be read or written.
#[pyfunction]
#[pyo3(signature = (
    *, profile = ProfileArg::Name("loihi2".into()), layers = None, dataset = None, x_train = None,
    y_train = None, x_test = None, y_test = None, tau = "constant", epochs = 5, seed = 1, out = None,
    threads = 1, neuron = None, beta_sign = None, positive_beta = false, estimate = None, symmetric = false,
    t1 = None, t2 = None, beta = None, batch = None, lr = None, lr_schedule = None, dt = None,
    weight_headroom = None, train_limit = None, settle_tol = None, target_accuracy = 0.9,
    placement = "greedy", checkpoint_every = 1, callback = None, quiet = false
))]
#[pyo3(
    text_signature = "(*, profile='loihi2', layers=None, dataset=None, x_train=None, y_train=None, x_test=None, y_test=None, tau='constant', epochs=5, seed=1, out=None, threads=1, neuron=None, beta_sign=None, positive_beta=False, estimate=None, symmetric=False, t1=None, t2=None, beta=None, batch=None, lr=None, lr_schedule=None, dt=None, weight_headroom=None, train_limit=None, settle_tol=None, target_accuracy=0.9, placement='greedy', checkpoint_every=1, callback=None, quiet=False)"
)]
#[allow(clippy::too_many_arguments)] // one argument per keyword of the Python function (the CLI's flags)
pub fn train<'py>(
    py: Python<'py>,
    profile: ProfileArg,
    layers: Option<LayersArg>,
    dataset: Option<String>,
    x_train: Option<Bound<'py, PyAny>>,
    y_train: Option<Bound<'py, PyAny>>,
    x_test: Option<Bound<'py, PyAny>>,
    y_test: Option<Bound<'py, PyAny>>,
    tau: &str,
    epochs: usize,
    seed: u64,
    out: Option<PathBuf>,
    threads: usize,
    neuron: Option<String>,
    beta_sign: Option<String>,
    positive_beta: bool,
    estimate: Option<String>,
    symmetric: bool,
    t1: Option<usize>,
    t2: Option<usize>,
    beta: Option<f32>,
    batch: Option<usize>,
    lr: Option<LrArg>,
    lr_schedule: Option<String>,
    dt: Option<f32>,
    weight_headroom: Option<f32>,
    train_limit: Option<usize>,
    settle_tol: Option<f32>,
    target_accuracy: f64,
    placement: &str,
    checkpoint_every: usize,
    callback: Option<Bound<'py, PyAny>>,
    quiet: bool,
) -> PyResult<Run> {
    let settings = TrainingSettings {
        neuron,
        beta_sign,
        positive_beta,
        estimate,
        symmetric,
        t1,
        t2,
        beta,
        batch,
        lr,
        lr_schedule,
        dt,
        weight_headroom,
        train_limit,
        settle_tol,
        target_accuracy,
        placement: placement.to_string(),
    };
    let profile = profile.load()?;
    let shape = LayersArg::shape(layers.as_ref())?;
    let tau = tau.parse::<TauSpec>().py()?;
    let config = settings.config(&profile, &shape, tau, epochs, seed, threads)?;
    if let Some(cb) = &callback
        && !cb.is_callable()
    {
        return Err(value_error("callback must be a function of one argument (the epoch's metrics)"));
    }
    let (spec, data) =
        load_split(py, dataset.as_deref(), [x_train, y_train, x_test, y_test], &shape, train_limit)?;
    let mut trainer = py
        .detach(|| -> ep_runtime::Result<Trainer> {
            let trainer = Trainer::new(&profile, &shape, config)?;
            trainer.check_data(&data)?;
            Ok(trainer)
        })
        .py()?;
    let run_data = RunData::describe(&spec, train_limit, &data);
    let dir = match &out {
        Some(path) => Some(RunDirectory::create(path).py()?),
        None => None,
    };

    let mut progress = Progress::new(py, quiet);
    progress.line(
        py,
        &format!(
            "epchip: training {} on `{}` ({} cores), dataset {} ({} train / {} test), tau {}, seed {}",
            shape,
            profile.name,
            trainer.network().placement().cores_used(),
            run_data.spec,
            data.train.len(),
            data.test.len(),
            trainer.config().tau,
            trainer.config().seed
        ),
    );
    for epoch in 1..=epochs {
        if trainer.divergence().is_some() {
            break;
        }
        progress.restart();
        let label = format!("epoch {epoch}/{epochs}");
        let result = py.detach(|| {
            trainer.train_epoch_unless_cancelled(&data, &mut |done, total| {
                progress.poll(&label, done, total, "examples")
            })
        });
        progress.clear(py);
        let metrics = match result {
            Err(EpError::Cancelled) => {
                // Nothing of the interrupted epoch is written: `out` holds the last finished one.
                return Err(progress.interrupted.take().unwrap_or_else(|| PyKeyboardInterrupt::new_err("")));
            }
            other => other.py()?,
        };
        progress.line(
            py,
            &format!(
                "epoch {:>3}: train {:.2} %  test {:.2} %  {:.0} examples/s  residual {:.1e}  {:.2} uJ/example",
                metrics.epoch,
                100.0 * metrics.train_accuracy,
                100.0 * metrics.test_accuracy,
                metrics.examples_per_second,
                metrics.free_residual,
                metrics.energy_per_example_uj
            ),
        );
        let save_checkpoint = |trainer: &Trainer, dir: &RunDirectory| {
            trainer.checkpoint(&profile, &run_data).save(&dir.path().join(CHECKPOINT_FILE))
        };
        let due = checkpoint_every > 0 && epoch % checkpoint_every == 0;
        let checkpointed = due || epoch == epochs || trainer.divergence().is_some();
        if let Some(dir) = &dir {
            py.detach(|| -> ep_runtime::Result<()> {
                dir.write_metrics(trainer.history())?;
                dir.write_summary(&trainer.summary(&run_data.spec))?;
                if checkpointed { save_checkpoint(&trainer, dir) } else { Ok(()) }
            })
            .py()?;
        }
        let mut stop = false;
        if let Some(cb) = &callback {
            stop = cb.call1((to_python(py, &metrics)?,))?.is_truthy()?;
            if stop
                && !checkpointed
                && let Some(dir) = &dir
            {
                // The run directory of a run stopped early can be resumed from where it stopped.
                py.detach(|| save_checkpoint(&trainer, dir)).py()?;
            }
        }
        progress.check(py)?;
        if stop {
            break;
        }
    }
    let summary = trainer.summary(&run_data.spec);
    if let Some(dir) = &dir {
        py.detach(|| -> ep_runtime::Result<()> {
            dir.write_metrics(trainer.history())?;
            dir.write_summary(&summary)
        })
        .py()?;
    }
    if let Some(reason) = trainer.divergence() {
        let warnings = py.import("warnings")?;
        warnings.call_method1(
            "warn",
            (format!("epchip: training diverged: {reason}"), py.get_type::<PyRuntimeWarning>()),
        )?;
    } else {
        progress.line(
            py,
            &format!(
                "epchip: final test accuracy {:.2} % (best {:.2} % at epoch {}){}",
                100.0 * summary.test_accuracy,
                100.0 * summary.best_test_accuracy,
                summary.best_epoch,
                out.as_ref().map_or_else(String::new, |p| format!("; wrote {}", p.display()))
            ),
        );
    }
    Ok(Run::new(trainer, profile, run_data, out))
}
