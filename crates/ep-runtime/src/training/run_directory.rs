//! The output directory of one training run: metrics.csv and summary.json, each written atomically
//! ([`write_atomic`]).

use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomic;
use crate::error::{EpError, Result};
use crate::training::metrics::{EpochMetrics, RunSummary};

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
