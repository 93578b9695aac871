//! The one error type of ep-runtime.

use std::path::PathBuf;

/// Everything that can go wrong while building, training or evaluating an HTS-EP network.
#[derive(Debug, thiserror::Error)]
pub enum EpError {
    /// The chip refused an operation (a limit, a bad configuration).
    #[error(transparent)]
    Chip(#[from] chip_model::ChipError),

    /// A configuration value is outside what is allowed.
    #[error("invalid {field} = {value}: {allowed}")]
    InvalidParameter {
        /// Name of the parameter or flag, e.g. `batch` or `tau`.
        field: String,
        /// The offending value as the user wrote it.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },

    /// A dataset file could not be opened or read.
    #[error("cannot read dataset file {}", path.display())]
    DatasetIo {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A file (checkpoint, study spec) could not be read.
    #[error("cannot read {}", path.display())]
    FileRead {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A dataset file was read but its content is not valid.
    #[error("corrupt dataset file {}: {reason}", path.display())]
    DatasetFormat {
        /// The file whose content is wrong.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A dataset name or spec could not be resolved.
    #[error("unknown dataset `{0}`: use `mnist10k`, `mnist10k:pool=N`, `synthetic` or `idx:DIR`")]
    UnknownDataset(String),

    /// The network cannot be placed on the chip described by the profile.
    #[error("network does not fit the chip: {0}")]
    DoesNotFit(String),

    /// An output file could not be written.
    #[error("cannot write {}", path.display())]
    Output {
        /// The file or directory that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A model file (NIR, Lava-dl netx, mapping) cannot be read, written or understood.
    #[error("{}: {reason}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the node, group or field.
        reason: String,
    },

    /// A worker thread failed unexpectedly.
    #[error("worker thread failed: {0}")]
    Worker(String),

    /// A front end asked a long computation to stop (e.g. Ctrl-C between two mini-batches).
    #[error("cancelled")]
    Cancelled,

    /// Two parts of a dataset (train / test, images / labels) do not fit together.
    #[error("inconsistent dataset: {0}")]
    DatasetMismatch(String),
}

/// Result alias for ep-runtime.
pub type Result<T> = std::result::Result<T, EpError>;
