//! `epchip.study`: a stability study (`epchip study`) from Python, and `epchip.Study`, its tables.
//!
//! The spec is built as `src/commands/study.rs` builds it, so the same arguments give the same
//! study directory (spec.json, one directory per run, results.csv, summary.csv, comparisons.csv,
//! robustness.csv, study.json, report.html); runs already finished there are skipped. The runs go
//! to `jobs` worker threads while the caller's thread, without the GIL, shows progress and listens
//! for Ctrl-C: then no new run starts, `KeyboardInterrupt` is raised at once, and the runs under way
//! finish in the background (each run directory is written atomically, `record.json` last, so a
//! later call with the same arguments resumes the study).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ep_runtime::deployment::drift_time::parse_drift_times;
use ep_runtime::study::axes::{SettingsGrid, VaryAxis};
use ep_runtime::study::grid::{
    MismatchMode, PlannedRun, Shard, StudySpec, parse_any_baseline, parse_tau_list,
};
use ep_runtime::study::runner::{execute_run, read_record, write_or_check_spec};
use ep_runtime::study::summary::{collect_study, write_study_outputs};
use ep_runtime::{DatasetSplit, EpError, NetworkShape, TauSpec, Trainer};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::data::load_split;
use crate::errors::{PyResultExt, value_error};
use crate::profile::ProfileArg;
use crate::progress::Progress;
use crate::settings::{LrArg, TrainingSettings};
use crate::train::LayersArg;

/// The file that keeps the command that started a study (as `epchip study` writes it).
const COMMAND_FILE: &str = "command.txt";

/// The tables of a study, each a CSV file in `out` read as a list of dicts.
const TABLES: [&str; 4] = ["results", "summary", "comparisons", "robustness"];

/// `vary=`: `{"lr": [0.2, "x2"], "beta": [0.1, 0.5]}`, or `["lr=0.2,x2", ...]`, or one string.
fn vary_axes(vary: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<VaryAxis>> {
    let Some(vary) = vary else { return Ok(Vec::new()) };
    let texts: Vec<String> = if let Ok(dict) = vary.cast::<PyDict>() {
        dict.iter()
            .map(|(k, v)| -> PyResult<String> {
                let key = k.str()?.to_string().replace('_', "-");
                let values: Vec<String> = if v.is_instance_of::<pyo3::types::PyString>() {
                    vec![v.str()?.to_string()]
                } else {
                    v.try_iter()?.map(|x| x.and_then(|x| value_text(&x))).collect::<PyResult<_>>()?
                };
                Ok(format!("{key}={}", values.join(",")))
            })
            .collect::<PyResult<_>>()?
    } else if let Ok(text) = vary.extract::<String>() {
        vec![text]
    } else {
        vary.extract::<Vec<String>>().map_err(|_| {
            value_error("vary must be a dict {setting: [values]}, or strings \"KEY=V1,V2,...\"")
        })?
    };
    texts
        .iter()
        .map(|text| match text.split_once('=') {
            // Python spells the settings with underscores, the CLI with hyphens.
            Some((key, values)) => VaryAxis::parse(&format!("{}={values}", key.trim().replace('_', "-"))),
            None => VaryAxis::parse(text),
        })
        .collect::<Result<_, _>>()
        .py()
}

/// A value of a `vary` list as the CLI would write it (`True` → `true`, lists of rates `0.2:0.1`).
fn value_text(x: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = x.extract::<bool>() {
        return Ok(b.to_string());
    }
    if let Ok(list) = x.cast::<PyList>() {
        let parts: Vec<String> = list.iter().map(|v| value_text(&v)).collect::<PyResult<_>>()?;
        return Ok(parts.join(":"));
    }
    Ok(x.str()?.to_string())
}

/// A list of strings or numbers, or the CLI's comma-separated text, as that text.
fn comma_list(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(text);
    }
    if let Ok(x) = value.extract::<f64>() {
        return Ok(x.to_string());
    }
    let items: Vec<String> =
        value.try_iter()?.map(|x| x.and_then(|x| Ok(x.str()?.to_string()))).collect::<PyResult<_>>()?;
    Ok(items.join(","))
}

fn parse_levels(text: &str) -> PyResult<Vec<f64>> {
    text.split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| value_error(format!("invalid mismatch value `{}`: use numbers ≥ 0", p.trim())))
        })
        .collect()
}

/// A study's tables, read from its directory.
#[pyclass(module = "epchip", frozen)]
pub struct Study {
    out: PathBuf,
    missing: Vec<String>,
}

/// One CSV file as a list of dicts; numbers become int or float, empty cells None.
fn read_table<'py>(py: Python<'py>, path: &Path) -> PyResult<Bound<'py, PyList>> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| crate::errors::ep_error(EpError::FileRead { path: path.to_path_buf(), source }))?;
    let io = py.import("io")?.call_method1("StringIO", (text,))?;
    let reader = py.import("csv")?.call_method1("DictReader", (io,))?;
    let rows = PyList::empty(py);
    for row in reader.try_iter()? {
        let row = row?;
        let dict = PyDict::new(py);
        for (key, value) in row.cast::<PyDict>()?.iter() {
            let text: String = value.extract().unwrap_or_default();
            let typed = if text.is_empty() {
                py.None().into_bound(py)
            } else if let Ok(i) = text.parse::<i64>() {
                i.into_pyobject(py)?.into_any()
            } else if let Ok(x) = text.parse::<f64>() {
                x.into_pyobject(py)?.into_any()
            } else {
                value
            };
            dict.set_item(key, typed)?;
        }
        rows.append(dict)?;
    }
    Ok(rows)
}

#[pymethods]
impl Study {
    /// Reads the tables of a study directory written by `epchip study` or `epchip.study`.
    #[staticmethod]
    fn load(out: PathBuf) -> PyResult<Self> {
        if !out.join("summary.csv").is_file() {
            return Err(value_error(format!(
                "{} holds no finished study (no summary.csv): run epchip.study(out=...) or `epchip study \
                 merge` first",
                out.display()
            )));
        }
        Ok(Self { out, missing: Vec::new() })
    }

    /// The study directory.
    #[getter]
    fn out(&self) -> PathBuf {
        self.out.clone()
    }

    /// Ids of runs of the grid that have not finished (empty for a complete study).
    #[getter]
    fn missing(&self) -> Vec<String> {
        self.missing.clone()
    }

    /// results.csv: one row per run (condition, seed, stability metrics).
    #[getter]
    fn results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        read_table(py, &self.out.join("results.csv"))
    }

    /// summary.csv: one row per condition (means, spreads, divergence share).
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        read_table(py, &self.out.join("summary.csv"))
    }

    /// comparisons.csv: paired comparisons of every condition with the baseline τ.
    #[getter]
    fn comparisons<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        read_table(py, &self.out.join("comparisons.csv"))
    }

    /// robustness.csv: share of runs that trained per τ and mismatch level (studies with `vary`).
    #[getter]
    fn robustness<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        read_table(py, &self.out.join("robustness.csv"))
    }

    /// The HTML report with every plot.
    #[getter]
    fn report(&self) -> PathBuf {
        self.out.join("report.html")
    }

    /// A table (`results`, `summary`, `comparisons` or `robustness`) as a pandas DataFrame.
    #[pyo3(signature = (table = "summary"))]
    fn to_pandas<'py>(&self, py: Python<'py>, table: &str) -> PyResult<Bound<'py, PyAny>> {
        if !TABLES.contains(&table) {
            return Err(value_error(format!("invalid table '{table}': use one of {}", TABLES.join(", "))));
        }
        let pandas = py.import("pandas").map_err(|_| {
            pyo3::exceptions::PyImportError::new_err("Study.to_pandas() needs pandas: pip install pandas")
        })?;
        pandas.call_method1("read_csv", (self.out.join(format!("{table}.csv")),))
    }

    fn __repr__(&self) -> String {
        format!(
            "Study({:?}{})",
            self.out.display().to_string(),
            if self.missing.is_empty() {
                String::new()
            } else {
                format!(", {} runs missing", self.missing.len())
            }
        )
    }
}

/// The work shared by the study's worker threads.
struct Pool {
    spec: StudySpec,
    out: PathBuf,
    data: DatasetSplit,
    pending: Vec<PlannedRun>,
    next: AtomicUsize,
    done: AtomicUsize,
    cancelled: AtomicBool,
    error: Mutex<Option<EpError>>,
}

impl Pool {
    fn work(&self) {
        while !self.cancelled.load(Ordering::SeqCst) {
            if self.error.lock().map(|e| e.is_some()).unwrap_or(true) {
                return;
            }
            let Some(run) = self.pending.get(self.next.fetch_add(1, Ordering::SeqCst)) else { return };
            match execute_run(&self.spec, &self.out, run, &self.data) {
                Ok(()) => {
                    self.done.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => {
                    if let Ok(mut slot) = self.error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            }
        }
    }
}

/// Runs a stability study (`epchip study`): every τ distribution (default `constant` and
/// `lognormal:cv=0.5`) × mismatch level (default 0) × `vary` point × seed 1..`seeds`, on `jobs`
/// threads (default: every core), into `out`; runs already finished there are skipped. `vary` maps
/// a setting to its values, e.g. `{"lr": ["x0.5", "x2"], "beta": [0.1, 0.5]}` (or the CLI's
/// `"KEY=V1,V2"` strings); the data and every training keyword are those of `train`. Returns the
/// study's tables (`Study`). Ctrl-C raises `KeyboardInterrupt` at once; the runs under way finish
/// in the background and a later call with the same arguments resumes the study. `drift_times`
/// (e.g. `"0,1d,1y"`) ages each run's final network on its chip and evaluates it (retention.csv),
/// `finetune_epochs` fine-tunes from each time, as `epchip study --drift-times --finetune-epochs`.
#[pyfunction]
#[pyo3(signature = (
    *, out, profile = ProfileArg::Name("loihi2".into()), layers = None, dataset = None,
    x_train = None, y_train = None, x_test = None, y_test = None, tau = None, mismatch = None, mismatch_mode = None, seeds = 3, epochs = 10, jobs = None,
    shard = None, fidelity_every = 0, burn_in = 2, baseline = None, vary = None, heatmap_axes = None,
    drift_times = None, finetune_epochs = 0, neuron = None, beta_sign = None, positive_beta = false, estimate = None, symmetric = false,
    t1 = None, t2 = None, beta = None, batch = None, lr = None, lr_schedule = None, dt = None,
    weight_headroom = None, train_limit = None, settle_tol = None, target_accuracy = 0.9,
    placement = "greedy", quiet = false
))]
#[pyo3(
    text_signature = "(*, out, profile='loihi2', layers=None, dataset=None, x_train=None, y_train=None, x_test=None, y_test=None, tau=None, mismatch=None, mismatch_mode=None, seeds=3, epochs=10, jobs=None, shard=None, fidelity_every=0, burn_in=2, baseline=None, vary=None, heatmap_axes=None, drift_times=None, finetune_epochs=0, neuron=None, beta_sign=None, positive_beta=False, estimate=None, symmetric=False, t1=None, t2=None, beta=None, batch=None, lr=None, lr_schedule=None, dt=None, weight_headroom=None, train_limit=None, settle_tol=None, target_accuracy=0.9, placement='greedy', quiet=False)"
)]
#[allow(clippy::too_many_arguments)] // one argument per keyword of the Python function (the CLI's flags)
pub fn study<'py>(
    py: Python<'py>,
    out: PathBuf,
    profile: ProfileArg,
    layers: Option<LayersArg>,
    dataset: Option<String>,
    x_train: Option<Bound<'py, PyAny>>,
    y_train: Option<Bound<'py, PyAny>>,
    x_test: Option<Bound<'py, PyAny>>,
    y_test: Option<Bound<'py, PyAny>>,
    tau: Option<Bound<'py, PyAny>>,
    mismatch: Option<Bound<'py, PyAny>>,
    mismatch_mode: Option<String>,
    seeds: u64,
    epochs: usize,
    jobs: Option<usize>,
    shard: Option<String>,
    fidelity_every: usize,
    burn_in: usize,
    baseline: Option<String>,
    vary: Option<Bound<'py, PyAny>>,
    heatmap_axes: Option<Bound<'py, PyAny>>,
    drift_times: Option<Bound<'py, PyAny>>,
    finetune_epochs: usize,
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
    quiet: bool,
) -> PyResult<Study> {
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
    if !(1..=10_000).contains(&seeds) {
        return Err(value_error(format!("invalid seeds={seeds}: use 1..=10000")));
    }
    let mismatch_mode = match &mismatch_mode {
        Some(m) => MismatchMode::parse(m).py()?,
        None => MismatchMode::default_for(&profile),
    };
    let config = settings.config(&profile, &shape, TauSpec::default(), epochs, 1, 1)?;
    let tau_text = match &tau {
        Some(t) => comma_list(t)?,
        None => "constant,lognormal:cv=0.5".to_string(),
    };
    let taus = parse_tau_list(&tau_text).py()?;
    // `tau=SPEC`, or KEY=VALUE of a `vary` setting (each condition compared with the one that
    // differs only in that setting), as `epchip study --baseline`.
    let (baseline, baseline_setting) = match baseline.as_deref() {
        Some(b) => parse_any_baseline(b, &taus).py()?,
        None => (0, None),
    };
    if finetune_epochs > 0 && drift_times.is_none() {
        return Err(value_error("finetune_epochs needs drift_times (the times to fine-tune from)"));
    }
    if finetune_epochs > 1000 {
        return Err(value_error(format!("invalid finetune_epochs={finetune_epochs}: use 0..=1000")));
    }
    let mismatch_text = match &mismatch {
        Some(m) => comma_list(m)?,
        None => "0".to_string(),
    };
    let heatmap_axes = match &heatmap_axes {
        Some(h) => comma_list(h)?.split(',').map(|a| a.trim().replace('_', "-")).collect(),
        None => Vec::new(),
    };
    let (dataset, data) =
        load_split(py, dataset.as_deref(), [x_train, y_train, x_test, y_test], &shape, train_limit)?;
    let spec = StudySpec {
        profile,
        dataset,
        train_limit,
        layers: shape.sizes().to_vec(),
        taus,
        mismatch: parse_levels(&mismatch_text)?,
        mismatch_mode,
        seeds: (1..=seeds).collect(),
        config,
        fidelity_every,
        burn_in,
        baseline,
        settings: SettingsGrid::new(vary_axes(vary.as_ref())?, settings.fixed_settings()?).py()?,
        baseline_setting,
        heatmap_axes,
        drift_times: match &drift_times {
            Some(t) => parse_drift_times(&comma_list(t)?).py()?,
            None => Vec::new(),
        },
        finetune_epochs,
    };
    spec.validate().py()?;
    let shard = match &shard {
        Some(s) => Shard::parse(s).py()?,
        None => Shard::ALL,
    };
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if jobs == 0 {
        return Err(value_error("invalid jobs=0: use 1 or more"));
    }
    let command = format!(
        "epchip.study(out={:?}, profile={:?}, layers={:?}, dataset={:?}, tau={:?}, mismatch={:?}, seeds={seeds}, \
         epochs={epochs})",
        out.display().to_string(),
        spec.profile.name,
        spec.layers,
        spec.dataset,
        tau_text,
        mismatch_text
    );

    let (planned, pending) = py
        .detach(|| -> ep_runtime::Result<_> {
            spec.validate()?;
            let shape = NetworkShape::new(spec.layers.clone())?;
            Trainer::new(&spec.profile, &shape, spec.config.clone())?.check_data(&data)?;
            write_or_check_spec(&spec, &out)?;
            let command_file = out.join(COMMAND_FILE);
            if !command_file.exists() {
                ep_runtime::atomic_file::write_atomic(&command_file, command.as_bytes())?;
            }
            let planned = shard.select(&spec.runs());
            let pending: Vec<PlannedRun> =
                planned.iter().filter(|r| read_record(&out, r).is_none()).cloned().collect();
            Ok((planned, pending))
        })
        .py()?;
    let mut progress = Progress::new(py, quiet);
    progress.line(
        py,
        &format!(
            "epchip: study of {} conditions × {} seeds on `{}` → {}: {} runs in this shard, {} to run \
             ({} already finished), {} at a time",
            spec.conditions().len(),
            spec.seeds.len(),
            spec.profile.name,
            out.display(),
            planned.len(),
            pending.len(),
            planned.len() - pending.len(),
            jobs
        ),
    );
    let to_run = pending.len();
    let pool = Arc::new(Pool {
        spec: spec.clone(),
        out: out.clone(),
        data,
        pending,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        cancelled: AtomicBool::new(false),
        error: Mutex::new(None),
    });
    let workers: Vec<_> = (0..jobs.clamp(1, to_run.max(1)))
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.work())
        })
        .collect();
    let interrupted = py.detach(|| {
        while workers.iter().any(|w| !w.is_finished()) {
            if !progress.poll("study", pool.done.load(Ordering::SeqCst), to_run, "runs") {
                pool.cancelled.store(true, Ordering::SeqCst);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    progress.clear(py);
    if interrupted {
        // The runs under way finish in the background; the next call resumes after them.
        return Err(progress
            .interrupted
            .take()
            .unwrap_or_else(|| pyo3::exceptions::PyKeyboardInterrupt::new_err("")));
    }
    for worker in workers {
        worker
            .join()
            .map_err(|_| crate::errors::ep_error(EpError::Worker("a study worker panicked".into())))?;
    }
    if let Some(e) = pool.error.lock().ok().and_then(|mut e| e.take()) {
        return Err(crate::errors::ep_error(e));
    }
    if shard != Shard::ALL {
        progress.line(
            py,
            &format!(
                "shard {}/{}: ran {to_run} runs; merge with `epchip study merge {}` when every shard is done",
                shard.index,
                shard.count,
                out.display()
            ),
        );
        return Ok(Study { out, missing: Vec::new() });
    }
    let missing = py
        .detach(|| -> ep_runtime::Result<Vec<String>> {
            let command = std::fs::read_to_string(out.join(COMMAND_FILE)).unwrap_or(command);
            let (results, missing) = collect_study(&spec, &out, command.trim());
            write_study_outputs(&results, &out)?;
            Ok(missing)
        })
        .py()?;
    progress.line(
        py,
        &format!(
            "wrote {}/results.csv, summary.csv, comparisons.csv, robustness.csv, study.json and report.html",
            out.display()
        ),
    );
    Ok(Study { out, missing })
}
