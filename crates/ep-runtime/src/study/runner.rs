//! Running a stability study: the runs of the grid (or of one shard of it) on a pool of worker
//! threads, each run written atomically to its own directory so that an interrupted study resumes
//! by skipping what is finished.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::atomic_file::write_atomic;
use crate::data::dataset::DatasetSplit;
use crate::data::loading::load_dataset;
use crate::deployment::off_chip::train_off_chip;
use crate::deployment::{DeployTarget, measure};
use crate::error::{EpError, Result};
use crate::network::parameters::NetworkParameters;
use crate::network::shape::NetworkShape;
use crate::study::grid::{PlannedRun, Shard, StudySpec};
use crate::study::results::RunRecord;
use crate::study::stability::stability_metrics;
use crate::training::run_directory::RunDirectory;
use crate::training::trainer::Trainer;

/// File that describes the study, in the study directory.
pub const SPEC_FILE: &str = "spec.json";
/// File that marks a finished run, in its run directory (written last).
pub const RECORD_FILE: &str = "record.json";

/// How many runs a call to [`run_study`] found finished, ran, and left for other shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudyProgress {
    /// Runs of this shard that were already finished and skipped.
    pub skipped: usize,
    /// Runs of this shard run now.
    pub ran: usize,
    /// Runs of this shard.
    pub planned: usize,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> EpError {
    EpError::Output { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) }
}

/// Directory of one run.
pub fn run_dir(out: &Path, run: &PlannedRun) -> PathBuf {
    out.join("runs").join(&run.id)
}

/// Reads a finished run's record, or `None` if the run has not finished (or its record is unreadable,
/// in which case the run is redone).
pub fn read_record(out: &Path, run: &PlannedRun) -> Option<RunRecord> {
    let text = std::fs::read(run_dir(out, run).join(RECORD_FILE)).ok()?;
    serde_json::from_slice::<RunRecord>(&text).ok().filter(|r| r.id == run.id && r.seed == run.seed)
}

/// Writes the study's spec, or checks that the directory already holds the same study.
pub fn write_or_check_spec(spec: &StudySpec, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out.join("runs"))
        .map_err(|source| EpError::Output { path: out.to_path_buf(), source })?;
    let path = out.join(SPEC_FILE);
    if let Ok(text) = std::fs::read(&path) {
        let existing: StudySpec = serde_json::from_slice(&text)
            .map_err(|e| EpError::DatasetMismatch(format!("{} is not a study spec: {e}", path.display())))?;
        if &existing != spec {
            return Err(EpError::DatasetMismatch(format!(
                "{} already holds a different study; use another --out or delete it",
                out.display()
            )));
        }
        return Ok(());
    }
    let text = serde_json::to_vec_pretty(spec).map_err(|e| io_error(&path, e))?;
    write_atomic(&path, &text)
}

/// Reads the spec of the study in `out`.
pub fn read_spec(out: &Path) -> Result<StudySpec> {
    let path = out.join(SPEC_FILE);
    let text = std::fs::read(&path).map_err(|source| EpError::FileRead { path: path.clone(), source })?;
    serde_json::from_slice(&text)
        .map_err(|e| EpError::DatasetMismatch(format!("{} is not a study spec: {e}", path.display())))
}

/// Loads the study's data once for all runs.
pub fn load_study_data(spec: &StudySpec) -> Result<DatasetSplit> {
    let mut data = load_dataset(&spec.dataset)?;
    if let Some(n) = spec.train_limit {
        data.train = data.train.truncated(n);
    }
    Ok(data)
}

/// Runs every unfinished run of `shard` on `jobs` worker threads (each run single-threaded).
/// `progress(done, total)` is called after each run. Runs are deterministic from their seeds, so the
/// results do not depend on `jobs` or on the order in which workers pick runs.
pub fn run_study(
    spec: &StudySpec,
    out: &Path,
    shard: Shard,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<StudyProgress> {
    spec.validate()?;
    write_or_check_spec(spec, out)?;
    let data = load_study_data(spec)?;
    let planned = shard.select(&spec.runs());
    let pending: Vec<PlannedRun> =
        planned.iter().filter(|r| read_record(out, r).is_none()).cloned().collect();
    let skipped = planned.len() - pending.len();
    let total = planned.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(skipped);
    let first_error: Mutex<Option<EpError>> = Mutex::new(None);
    progress(skipped, total);
    let worker = || {
        loop {
            if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                return;
            }
            let k = next.fetch_add(1, Ordering::SeqCst);
            let Some(run) = pending.get(k) else { return };
            match execute_run(spec, out, run, &data) {
                Ok(()) => progress(done.fetch_add(1, Ordering::SeqCst) + 1, total),
                Err(e) => {
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            }
        }
    };
    let jobs = jobs.clamp(1, pending.len().max(1));
    crossbeam::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|_| worker());
        }
    })
    .map_err(|_| EpError::Worker("a study worker panicked".into()))?;
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(StudyProgress { skipped, ran: pending.len(), planned: total })
}

/// Trains one run to the end (or to divergence) and writes its directory; `record.json` last. A point
/// with `training=off-chip` trains on the float twin and is evaluated on the chip after each epoch.
pub fn execute_run(spec: &StudySpec, out: &Path, run: &PlannedRun, data: &DatasetSplit) -> Result<()> {
    let (profile, config) = spec.run_setup(run)?;
    let shape = NetworkShape::new(spec.layers.clone())?;
    let (_, _, point) = spec.condition_position(run.condition);
    let dir = RunDirectory::create(&run_dir(out, run))?;
    let source = config.clone();
    let (history, divergence, samples, network) = if spec.settings.off_chip(point) {
        let off = train_off_chip(&profile, &shape, &config, data)?;
        dir.write_metrics(&off.history)?;
        (off.history, off.divergence, Vec::new(), off.deployed)
    } else {
        let epochs = config.epochs;
        let mut trainer = Trainer::new(&profile, &shape, config)?;
        trainer.set_fidelity_every(spec.fidelity_every);
        trainer.check_data(data)?;
        for _ in 0..epochs {
            if trainer.divergence().is_some() {
                break;
            }
            trainer.train_epoch(data, &mut |_, _| {})?;
        }
        dir.write_metrics(trainer.history())?;
        dir.write_summary(&trainer.summary(&spec.dataset))?;
        (
            trainer.history().to_vec(),
            trainer.divergence().map(str::to_string),
            trainer.fidelity_samples().to_vec(),
            (trainer.divergence().is_none()).then(|| trainer.into_network()),
        )
    };
    let retention = match network {
        Some(net) if !spec.drift_times.is_empty() => {
            let params = NetworkParameters::from_network(&net, spec.config.t1)?;
            let mut target = DeployTarget::new(profile.clone(), source.seed, &params, &source)?;
            target.times = spec.drift_times.clone();
            target.finetune_epochs = spec.finetune_epochs;
            measure(&net, &target, data, &mut |_| {})?
        }
        _ => Vec::new(),
    };
    let record = RunRecord {
        id: run.id.clone(),
        condition: run.condition,
        seed: run.seed,
        stability: stability_metrics(
            &history,
            divergence.is_some(),
            spec.burn_in,
            &samples,
            spec.config.target_accuracy,
        ),
        history,
        divergence_reason: divergence,
        gradient_fidelity_samples: samples,
        retention,
    };
    let path = dir.path().join(RECORD_FILE);
    let text = serde_json::to_vec(&record).map_err(|e| io_error(&path, e))?;
    write_atomic(&path, &text)
}
