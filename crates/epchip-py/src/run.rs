//! `epchip.Run`: a trained network on its chip, with its metrics and summary; read its weights,
//! evaluate or predict on new data, export it, save it as a run directory and load it back.

use std::path::PathBuf;

use chip_model::HardwareProfile;
use ep_runtime::interchange::mapping_export::write_mapping;
use ep_runtime::interchange::netx_export::{write_netx, write_spiking_netx};
use ep_runtime::interchange::nir_export::{NirNeurons, write_nir, write_spiking_nir};
use ep_runtime::interchange::spiking::{SpikingOptions, convert};
use ep_runtime::{CHECKPOINT_FILE, NetworkParameters, RunData, RunDirectory, Trainer, TrainingCheckpoint};
use ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;

use crate::convert::to_python;
use crate::data::examples;
use crate::errors::{PyResultExt, value_error};
use crate::profile::Profile;

/// Seconds per step of a NIR export when the profile gives no time per step (as `epchip export`).
const DEFAULT_DT_SECONDS: f64 = 1e-3;

/// A training run: the trained network on its emulated chip, the metrics of every epoch and the
/// summary, as `epchip train` writes them (metrics.csv, summary.json, checkpoint.json).
#[pyclass(module = "epchip", frozen)]
pub struct Run {
    trainer: Trainer,
    profile: HardwareProfile,
    data: RunData,
    out: Option<PathBuf>,
}

impl Run {
    /// A run of `trainer` on `profile` with `data`, written to `out` (if any).
    pub fn new(trainer: Trainer, profile: HardwareProfile, data: RunData, out: Option<PathBuf>) -> Self {
        Self { trainer, profile, data, out }
    }

    fn parameters(&self) -> PyResult<NetworkParameters> {
        NetworkParameters::from_network(self.trainer.network(), self.trainer.config().t1).py()
    }

    fn checkpoint(&self) -> TrainingCheckpoint {
        self.trainer.checkpoint(&self.profile, &self.data)
    }
}

fn matrices<'py>(py: Python<'py>, list: Vec<Array2<f32>>) -> Vec<Bound<'py, PyArray2<f32>>> {
    list.into_iter().map(|w| w.into_pyarray(py)).collect()
}

#[pymethods]
impl Run {
    /// One dict per epoch, with the columns of metrics.csv.
    #[getter]
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.trainer.history())
    }

    /// The run summary, as summary.json.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.trainer.summary(&self.data.spec))
    }

    /// The training configuration (every setting, defaults included).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self.trainer.config())
    }

    /// The hardware profile the run trained on.
    #[getter]
    fn profile(&self) -> Profile {
        Profile { inner: self.profile.clone() }
    }

    /// Layer sizes, input first.
    #[getter]
    fn layers(&self) -> Vec<usize> {
        self.trainer.network().shape().sizes().to_vec()
    }

    /// True if training stopped because it diverged (see `divergence_reason`).
    #[getter]
    fn diverged(&self) -> bool {
        self.trainer.divergence().is_some()
    }

    /// Why training diverged, or None.
    #[getter]
    fn divergence_reason(&self) -> Option<String> {
        self.trainer.divergence().map(str::to_string)
    }

    /// The run directory written during training (`out=`), or None.
    #[getter]
    fn out(&self) -> Option<PathBuf> {
        self.out.clone()
    }

    /// The metrics as a pandas DataFrame, one row per epoch (needs pandas).
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pandas = py.import("pandas").map_err(|_| {
            pyo3::exceptions::PyImportError::new_err("Run.to_pandas() needs pandas: pip install pandas")
        })?;
        pandas.call_method1("DataFrame", (self.metrics(py)?,))
    }

    /// Forward weights of every projection as the chip applies them (digital: mantissa × step;
    /// analog: the devices' effective values), each `(pre, post)`, input projection first. With
    /// `feedback=True`, the feedback copies instead, each `(post, pre)`; the input projection has
    /// none (None).
    #[pyo3(signature = (feedback = false))]
    fn weights<'py>(
        &self,
        py: Python<'py>,
        feedback: bool,
    ) -> PyResult<Vec<Option<Bound<'py, PyArray2<f32>>>>> {
        let p = self.parameters()?;
        Ok(if feedback {
            p.feedback.into_iter().map(|w| w.map(|w| w.into_pyarray(py))).collect()
        } else {
            matrices(py, p.forward).into_iter().map(Some).collect()
        })
    }

    /// Biases of every neuron layer (not the input), as the chip holds them.
    fn biases<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyArray1<f32>>>> {
        Ok(self.parameters()?.bias.into_iter().map(|b| b.into_pyarray(py)).collect())
    }

    /// Per-neuron time steps dt_i = Δt/τ_i of every neuron layer, as realised on the chip.
    fn time_steps<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyArray1<f32>>>> {
        Ok(self.parameters()?.dt.into_iter().map(|b| b.into_pyarray(py)).collect())
    }

    /// Accuracy (0..1) of the trained network on examples `x` with labels `y` (free phase only,
    /// as the test evaluation of every epoch). `x` and `y` as for `epchip.train`.
    fn evaluate(&self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<f64> {
        let shape = self.trainer.network().shape();
        let data = examples(x, Some(y), shape.input(), shape.output())?;
        py.detach(|| self.trainer.evaluate(&data)).py()
    }

    /// The class the trained network gives each example of `x` (free phase only).
    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let shape = self.trainer.network().shape();
        let data = examples(x, None, shape.input(), shape.output())?;
        let config = self.trainer.config();
        let labels = py
            .detach(|| -> ep_runtime::Result<Vec<i64>> {
                let mut net = self.trainer.network().clone();
                let batch = config.eval_batch.max(1);
                let mut labels = Vec::with_capacity(data.len());
                for start in (0..data.len()).step_by(batch) {
                    let idx: Vec<usize> = (start..(start + batch).min(data.len())).collect();
                    // Read noise keyed by the batch, as in the evaluation.
                    net.chip_mut().reseed_noise(start as u64);
                    let mut xb = Array2::<f32>::zeros((idx.len(), data.input_size()));
                    data.try_fill_batch(&idx, &mut xb.view_mut())?;
                    let predicted = net.predict_settled(xb.view(), config.t1, config.settle_tol)?;
                    labels.extend(predicted.into_iter().map(|l| l as i64));
                }
                Ok(labels)
            })
            .py()?;
        Ok(labels.into_pyarray(py))
    }

    /// Writes the trained network for a chip toolchain, as `epchip export`: `nir` (NIR graph of
    /// leaky integrators; `dt` seconds per step, default the profile's time per step or 1 ms),
    /// `lava-netx` (Lava-dl netx HDF5, digital profiles) or `mapping` (JSON core allocation); with
    /// `spiking=True` (nir, lava-netx) the spiking deployment with the default options. The file
    /// is written atomically.
    #[pyo3(signature = (format, path, spiking = false, dt = None))]
    fn export(
        &self,
        py: Python<'_>,
        format: &str,
        path: PathBuf,
        spiking: bool,
        dt: Option<f64>,
    ) -> PyResult<()> {
        let formats = ["nir", "lava-netx", "mapping"];
        if !formats.contains(&format) {
            return Err(value_error(format!("invalid format '{format}': use one of {}", formats.join(", "))));
        }
        if format != "nir" && dt.is_some() {
            return Err(value_error("dt applies to format=\"nir\" only"));
        }
        if format == "mapping" && spiking {
            return Err(value_error("spiking applies to format=\"nir\" and \"lava-netx\" only"));
        }
        let net = self.trainer.network();
        let step_us = self.profile.energy.time_step_us;
        let dt = dt.unwrap_or(if step_us > 0.0 { step_us * 1e-6 } else { DEFAULT_DT_SECONDS });
        if spiking {
            let params = self.parameters()?;
            let deployed = convert(&params, &SpikingOptions::default()).py()?;
            return match format {
                "nir" => py.detach(|| write_spiking_nir(&deployed, &path, dt)).py(),
                _ => py.detach(|| write_spiking_netx(&deployed, &path)).py(),
            };
        }
        match format {
            "nir" => {
                let params = self.parameters()?;
                py.detach(|| write_nir(&params, &path, NirNeurons::Rate, dt)).py()
            }
            "lava-netx" => py.detach(|| write_netx(net, &path)).py(),
            _ => py.detach(|| write_mapping(net, &path)).py(),
        }
    }

    /// Writes the run as a directory `epchip train` would: metrics.csv, summary.json and
    /// checkpoint.json (each atomically). `epchip export --run DIR` and `Run.load(DIR)` read it.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| -> ep_runtime::Result<()> {
            let dir = RunDirectory::create(&path)?;
            dir.write_metrics(self.trainer.history())?;
            dir.write_summary(&self.trainer.summary(&self.data.spec))?;
            self.checkpoint().save(&path.join(CHECKPOINT_FILE))
        })
        .py()
    }

    /// Reads a run directory written by `epchip train` or `Run.save` (its checkpoint.json).
    #[staticmethod]
    #[pyo3(signature = (path, threads = 1))]
    fn load(py: Python<'_>, path: PathBuf, threads: usize) -> PyResult<Self> {
        if threads == 0 {
            return Err(value_error("invalid threads=0: use 1 or more"));
        }
        py.detach(|| -> ep_runtime::Result<Self> {
            let checkpoint = TrainingCheckpoint::from_run_dir(&path)?;
            let trainer = Trainer::resume(&checkpoint, threads)?;
            Ok(Self::new(trainer, checkpoint.profile, checkpoint.data, Some(path)))
        })
        .py()
    }

    fn __repr__(&self) -> String {
        let s = self.trainer.summary(&self.data.spec);
        format!(
            "Run({} on {:?}, {} epochs, test accuracy {:.2} % (best {:.2} % at epoch {}){})",
            self.trainer.network().shape(),
            self.profile.name,
            s.epochs,
            100.0 * s.test_accuracy,
            100.0 * s.best_test_accuracy,
            s.best_epoch,
            if s.diverged { ", diverged" } else { "" }
        )
    }
}
