//! Rust values as Python objects: anything serde can write becomes dicts, lists, numbers and
//! strings (through JSON, so a summary reads exactly as summary.json); ndarray ↔ numpy.

use pyo3::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::value_error;

/// A serialisable value as plain Python objects (dict, list, float, int, str, bool, None).
pub fn to_python<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text =
        serde_json::to_string(value).map_err(|e| value_error(format!("cannot convert to Python: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A Python object (dicts, lists, numbers, strings) read as a Rust value; `what` names it in errors.
pub fn from_python<T: DeserializeOwned>(value: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    let py = value.py();
    let text: String = py.import("json")?.call_method1("dumps", (value,))?.extract()?;
    serde_json::from_str(&text).map_err(|e| value_error(format!("invalid {what}: {e}")))
}
