//! Writing a run's files: each file is written to a temporary name and renamed into place, so a
//! reader (or an interrupted run) never sees a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{EpError, Result};
use crate::metrics::{EpochMetrics, RunSummary};

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| EpError::Output { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// The output directory of one training run.
#[derive(Debug, Clone)]
pub struct RunDirectory {
    dir: PathBuf,
}

impl RunDirectory {
    /// Creates the directory (and parents) if needed.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| EpError::Output { path: dir.to_path_buf(), source })?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes metrics.csv with one row per epoch.
    pub fn write_metrics(&self, rows: &[EpochMetrics]) -> Result<()> {
        let mut text = String::from(EpochMetrics::CSV_HEADER);
        text.push('\n');
        for r in rows {
            text.push_str(&r.csv_row());
            text.push('\n');
        }
        write_atomic(&self.dir.join("metrics.csv"), text.as_bytes())
    }

    /// Writes summary.json.
    pub fn write_summary(&self, summary: &RunSummary) -> Result<()> {
        let mut text = serde_json::to_string_pretty(summary).map_err(|e| EpError::Output {
            path: self.dir.join("summary.json"),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        write_atomic(&self.dir.join("summary.json"), text.as_bytes())
    }
}
