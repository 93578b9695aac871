//! `epchip.map`: where a network's layers go on a chip's cores (`epchip map`).

use std::path::PathBuf;

use ep_runtime::on_chip::mapping_report::map_network;
use pyo3::prelude::*;

use crate::convert::to_python;
use crate::errors::{PyResultExt, value_error};
use crate::profile::ProfileArg;
use crate::train::LayersArg;

/// Places a network on a chip's cores as training would, and returns the report `epchip map
/// --json` writes: cores and chips used, one row per core (population, neurons, fan-in, synapse
/// memory and utilisation, relay cores of fan-in splitting) and the message traffic per step.
/// Raises `ValueError` naming the core, the numbers and the limit when the network does not fit.
#[pyfunction]
#[pyo3(signature = (*, profile = ProfileArg::Name("loihi2".into()), layers = None, placement = "greedy", json = None))]
#[pyo3(text_signature = "(*, profile='loihi2', layers=None, placement='greedy', json=None)")]
pub fn map<'py>(
    py: Python<'py>,
    profile: ProfileArg,
    layers: Option<LayersArg>,
    placement: &str,
    json: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let profile = profile.load()?;
    let shape = LayersArg::shape(layers.as_ref())?;
    let strategy = placement.parse::<ep_runtime::PlacementStrategy>().py()?;
    let report = py.detach(|| map_network(&profile, &shape, strategy)).py()?;
    if let Some(path) = &json {
        let text = serde_json::to_vec_pretty(&report).map_err(|e| value_error(e.to_string()))?;
        ep_runtime::atomic_file::write_atomic(path, &text).py()?;
    }
    to_python(py, &report)
}
