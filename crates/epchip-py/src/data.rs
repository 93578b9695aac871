//! The user's numpy arrays as epchip datasets.
//!
//! Like every epchip dataset (MNIST's IDX files, the synthetic task), examples are stored as bytes
//! and reach the chip's input as `byte / 255`: `uint8` arrays are taken as they are, float (and
//! bool) arrays must hold values in [0, 1] and are rounded to the nearest 1/255. An example is one
//! row of a 2-D array `(examples, inputs)` or one image of a 3-D array `(examples, rows, cols)`.
//! Labels are integers from 0 to the output layer's size − 1.

use ep_runtime::{Dataset, DatasetSplit, NetworkShape, load_dataset};
use numpy::{
    AllowTypeChange, PyArrayDescrMethods, PyArrayLikeDyn, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::errors::{PyResultExt, value_error};

/// Spec recorded for a run on arrays (summary.json's `dataset`, the checkpoint's data), followed by
/// `:` and the arrays' [`fingerprint`].
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

/// The data of a run and the spec it records: a dataset spec (default `mnist10k`), or the four
/// arrays, recorded as `numpy:` and a fingerprint of their contents (so a study directory cannot
/// mix runs on different arrays); the first `train_limit` training examples if given.
pub fn load_split(
    py: Python<'_>,
    dataset: Option<&str>,
    arrays: [Option<Bound<'_, PyAny>>; 4],
    shape: &NetworkShape,
    train_limit: Option<usize>,
) -> PyResult<(String, DatasetSplit)> {
    let given: Vec<bool> = arrays.iter().map(Option::is_some).collect();
    let mut data = match (dataset, arrays) {
        (spec, [None, None, None, None]) => {
            let spec = spec.unwrap_or("mnist10k").to_string();
            let data = py.detach(|| load_dataset(&spec)).py()?;
            (spec, data)
        }
        (None, [Some(x_train), Some(y_train), Some(x_test), Some(y_test)]) => {
            let split =
                ArraySplit { x_train, y_train, x_test, y_test }.to_split(shape.input(), shape.output())?;
            (format!("{NUMPY_SPEC}:{}", fingerprint(&split)), split)
        }
        (Some(_), _) => {
            return Err(value_error(
                "give either dataset= (a spec such as \"mnist10k\") or the arrays x_train, y_train, x_test, \
                 y_test, not both",
            ));
        }
        (None, _) => {
            let names = ["x_train", "y_train", "x_test", "y_test"];
            let missing: Vec<&str> =
                names.iter().zip(&given).filter(|(_, g)| !**g).map(|(n, _)| *n).collect();
            return Err(value_error(format!(
                "training on arrays needs x_train, y_train, x_test and y_test (the test set is evaluated \
                 after every epoch); missing: {}",
                missing.join(", ")
            )));
        }
    };
    if let Some(n) = train_limit {
        data.1.train = data.1.train.truncated(n);
    }
    Ok(data)
}

/// 64-bit FNV-1a of both sets' image shapes, pixels and labels, in hex.
pub fn fingerprint(split: &DatasetSplit) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for set in [&split.train, &split.test] {
        let (rows, cols) = set.image_shape();
        eat(&(rows as u64).to_le_bytes());
        eat(&(cols as u64).to_le_bytes());
        eat(set.all_pixels());
        eat(set.labels());
    }
    format!("{hash:016x}")
}
