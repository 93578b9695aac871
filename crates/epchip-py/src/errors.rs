//! epchip's errors as Python exceptions, with the CLI's messages (the error and its causes joined by
//! `: `, as `epchip` prints them): `ValueError` for arguments, profiles, data and models that are not
//! allowed, `OSError` (`FileNotFoundError` for a missing file) when a file cannot be read or written,
//! `KeyboardInterrupt` for a cancelled computation.

use std::error::Error;

use chip_model::ChipError;
use ep_runtime::EpError;
use pyo3::PyErr;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};

/// The message of `error` followed by its causes, `a: b: c`.
pub fn message(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

fn os_error(error: &dyn Error, io: &std::io::Error) -> PyErr {
    if io.kind() == std::io::ErrorKind::NotFound {
        PyFileNotFoundError::new_err(message(error))
    } else {
        PyOSError::new_err(message(error))
    }
}

/// A chip-model error as a Python exception.
pub fn chip_error(error: ChipError) -> PyErr {
    match &error {
        ChipError::ProfileIo { source, .. } => os_error(&error, source),
        _ => PyValueError::new_err(message(&error)),
    }
}

/// An ep-runtime error as a Python exception.
pub fn ep_error(error: EpError) -> PyErr {
    match error {
        EpError::Chip(chip) => chip_error(chip),
        EpError::Cancelled => PyKeyboardInterrupt::new_err("cancelled"),
        EpError::Worker(_) => PyRuntimeError::new_err(message(&error)),
        EpError::DatasetIo { ref source, .. }
        | EpError::FileRead { ref source, .. }
        | EpError::Output { ref source, .. } => os_error(&error, source),
        _ => PyValueError::new_err(message(&error)),
    }
}

/// `Result<T, EpError>` → `PyResult<T>`.
pub trait PyResultExt<T> {
    /// Converts the error into the matching Python exception.
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> PyResultExt<T> for Result<T, EpError> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(ep_error)
    }
}

impl<T> PyResultExt<T> for Result<T, ChipError> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(chip_error)
    }
}

/// A `ValueError` with this message.
pub fn value_error(text: impl Into<String>) -> PyErr {
    PyValueError::new_err(text.into())
}
