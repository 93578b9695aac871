//! The user's numpy arrays as epchip datasets.
//!
//! Like every epchip dataset (MNIST's IDX files, the synthetic task), examples are stored as bytes
//! and reach the chip's input as `byte / 255`: `uint8` arrays are taken as they are, float (and
//! bool) arrays must hold values in [0, 1] and are rounded to the nearest 1/255. An example is one
//! row of a 2-D array `(examples, inputs)` or one image of a 3-D array `(examples, rows, cols)`.
//! Labels are integers from 0 to the output layer's size − 1.

use ep_runtime::{Dataset, DatasetSplit};
use numpy::{
    AllowTypeChange, PyArrayDescrMethods, PyArrayLikeDyn, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::errors::{PyResultExt, value_error};

/// Spec recorded for a run on arrays (summary.json's `dataset`, the checkpoint's data).
pub const NUMPY_SPEC: &str = "numpy";

/// The four arrays of `epchip.train(x_train=..., y_train=..., x_test=..., y_test=...)`.
pub struct ArraySplit<'py> {
    /// Training examples.
    pub x_train: Bound<'py, PyAny>,
    /// Training labels.
    pub y_train: Bound<'py, PyAny>,
    /// Test examples.
    pub x_test: Bound<'py, PyAny>,
    /// Test labels.
    pub y_test: Bound<'py, PyAny>,
}

impl ArraySplit<'_> {
    /// The train and test sets for a network with `inputs` inputs and `classes` outputs.
    pub fn to_split(&self, inputs: usize, classes: usize) -> PyResult<DatasetSplit> {
        let train = dataset(["x_train", "y_train"], "train", &self.x_train, &self.y_train, inputs, classes)?;
        let test = dataset(["x_test", "y_test"], "test", &self.x_test, &self.y_test, inputs, classes)?;
        DatasetSplit::new(train, test).py()
    }
}

/// `x` as a numpy array (lists and other array-likes are converted).
fn as_array<'py>(x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyUntypedArray>> {
    let array = x.py().import("numpy")?.call_method1("asarray", (x,))?;
    Ok(array.cast_into::<PyUntypedArray>()?)
}

/// The examples of `x` as bytes, with their image shape.
fn pixels(name: &str, x: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, usize, usize, usize)> {
    let array = as_array(x)?;
    let shape = array.shape().to_vec();
    let (n, rows, cols) = match shape[..] {
        [n, d] => (n, 1, d),
        [n, r, c] => (n, r, c),
        _ => {
            return Err(value_error(format!(
                "{name} has shape {shape:?}: use (examples, inputs) or (examples, rows, cols)"
            )));
        }
    };
    let kind = array.dtype().kind();
    let bytes = if let Ok(bytes) = array.extract::<PyReadonlyArrayDyn<'_, u8>>() {
        bytes.as_array().iter().copied().collect()
    } else if kind == b'f' || kind == b'b' {
        let values: PyArrayLikeDyn<'_, f64, AllowTypeChange> = array.extract()?;
        let mut bytes = Vec::with_capacity(values.len());
        for (i, &v) in values.as_array().iter().enumerate() {
            if !(0.0..=1.0).contains(&v) {
                let at = if rows == 1 {
                    format!("[{}, {}]", i / cols, i % cols)
                } else {
                    format!(" flat index {i}")
                };
                return Err(value_error(format!(
                    "{name}{at} = {v}: float inputs must lie in [0, 1] (scale your data, or give uint8 \
                     pixels 0..255)"
                )));
            }
            bytes.push((v * 255.0).round() as u8);
        }
        bytes
    } else {
        return Err(value_error(format!(
            "{name} has dtype {}: give uint8 pixels (0..255) or floats in [0, 1]",
            array.dtype()
        )));
    };
    Ok((bytes, n, rows, cols))
}

/// The labels of `y`.
fn labels(name: &str, y: &Bound<'_, PyAny>, classes: usize) -> PyResult<Vec<u8>> {
    let array = as_array(y)?;
    if array.ndim() != 1 {
        return Err(value_error(format!(
            "{name} has shape {:?}: give one integer label per example (a 1-D array)",
            array.shape()
        )));
    }
    let kind = array.dtype().kind();
    if kind != b'i' && kind != b'u' {
        return Err(value_error(format!("{name} has dtype {}: labels must be integers", array.dtype())));
    }
    let values: PyArrayLikeDyn<'_, i64, AllowTypeChange> = array.extract()?;
    values
        .as_array()
        .iter()
        .enumerate()
        .map(|(i, &label)| {
            u8::try_from(label).ok().filter(|&l| usize::from(l) < classes).ok_or_else(|| {
                value_error(format!(
                    "{name}[{i}] = {label}: labels must be classes 0..={} of the {classes}-neuron output \
                     layer",
                    classes.saturating_sub(1)
                ))
            })
        })
        .collect()
}

fn dataset(
    [xn, yn]: [&str; 2],
    part: &str,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    inputs: usize,
    classes: usize,
) -> PyResult<Dataset> {
    let (bytes, n, rows, cols) = pixels(xn, x)?;
    if rows * cols != inputs {
        let hint =
            if xn == "x" { String::new() } else { format!(": use layers=[{}, ..., classes]", rows * cols) };
        return Err(value_error(format!(
            "{xn} has {} inputs per example, the network's input layer has {inputs}{hint}",
            rows * cols
        )));
    }
    let labels = labels(yn, y, classes)?;
    if labels.len() != n {
        return Err(value_error(format!("{xn} has {n} examples but {yn} has {} labels", labels.len())));
    }
    if n == 0 {
        return Err(value_error(format!("{xn} has no examples")));
    }
    Dataset::new(format!("{NUMPY_SPEC}/{part}"), bytes, labels, rows, cols, classes).py()
}

/// Examples to evaluate or predict on (`Run.evaluate(x, y)`, `Run.predict(x)`): `x` with its
/// labels `y`, or with zero labels when there are none.
pub fn examples(
    x: &Bound<'_, PyAny>,
    y: Option<&Bound<'_, PyAny>>,
    inputs: usize,
    classes: usize,
) -> PyResult<Dataset> {
    match y {
        Some(y) => dataset(["x", "y"], "x", x, y, inputs, classes),
        None => {
            let n = as_array(x)?.shape().first().copied().unwrap_or(0);
            let zeros = numpy::PyArray1::<u8>::zeros(x.py(), n, false);
            dataset(["x", "labels"], "x", x, zeros.as_any(), inputs, classes)
        }
    }
}
