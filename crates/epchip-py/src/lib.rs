//! Python bindings of epchip (the extension module `epchip._native`, wrapped by the Python package
//! `epchip` in python/epchip/): the CLI's commands as functions (`train`, `study`, `map`,
//! `profiles`), their results as classes (`Run`, `Study`, `Profile`) and the emulated chip itself
//! (`Chip`), with numpy arrays in and out. docs/python.md describes the API.
//!
//! Long calls release the GIL and check for Ctrl-C a few times a second; errors are Python
//! exceptions with the CLI's messages (errors.rs).

mod chip;
mod convert;
mod data;
mod errors;
mod mapping;
mod profile;
mod progress;
mod run;
mod settings;
mod study;
mod train;

use pyo3::prelude::*;

/// The compiled core of the `epchip` package; import `epchip` instead.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<profile::Profile>()?;
    m.add_class::<run::Run>()?;
    m.add_class::<study::Study>()?;
    m.add_class::<chip::Chip>()?;
    m.add_class::<chip::ChipState>()?;
    m.add_function(wrap_pyfunction!(profile::profiles, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(study::study, m)?)?;
    m.add_function(wrap_pyfunction!(mapping::map, m)?)?;
    Ok(())
}
