//! `epchip.profiles()` and `epchip.Profile`: the built-in and custom hardware profiles.

use chip_model::{Arithmetic, BUILTIN_PROFILE_NAMES, HardwareProfile};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{from_python, to_python};
use crate::errors::PyResultExt;

/// A hardware profile: a chip's cores and their limits, number formats, device mismatch, learning
/// engine and energy per operation (docs/profiles.md). Every field is in `to_dict()`.
#[pyclass(module = "epchip", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Profile {
    /// The profile.
    pub inner: HardwareProfile,
}

/// `str` (a built-in name or a .ron file) or a `Profile`.
#[derive(FromPyObject)]
pub enum ProfileArg {
    /// A loaded profile.
    Loaded(Py<Profile>),
    /// A name or a path.
    Name(String),
}

impl ProfileArg {
    /// The profile it names.
    pub fn load(&self) -> PyResult<HardwareProfile> {
        match self {
            ProfileArg::Loaded(p) => Ok(p.get().inner.clone()),
            ProfileArg::Name(name) => HardwareProfile::load(name).py(),
        }
    }
}

#[pymethods]
impl Profile {
    /// Loads a built-in profile (`ideal`, `loihi2`, `loihi1`, `analog-rram`, `mixed-signal`) or a
    /// .ron file, and validates it.
    #[staticmethod]
    fn load(name_or_path: &str) -> PyResult<Self> {
        Ok(Self { inner: HardwareProfile::load(name_or_path).py()? })
    }

    /// Reads a profile from RON text (`origin` names it in error messages) and validates it.
    #[staticmethod]
    #[pyo3(signature = (text, origin = "<string>"))]
    fn from_ron(text: &str, origin: &str) -> PyResult<Self> {
        Ok(Self { inner: HardwareProfile::from_ron_str(text, origin).py()? })
    }

    /// Builds a profile from a dict shaped like `to_dict()` (e.g. one with a field changed), and
    /// validates it.
    #[staticmethod]
    fn from_dict(fields: &Bound<'_, PyDict>) -> PyResult<Self> {
        let inner: HardwareProfile = from_python(fields.as_any(), "profile")?;
        inner.validate().py()?;
        Ok(Self { inner })
    }

    /// Validates the profile and returns the summary `epchip profile check` prints; raises
    /// `ValueError` naming the field if it is not valid.
    fn check(&self) -> PyResult<String> {
        self.inner.validate().py()?;
        Ok(self.inner.summary())
    }

    /// The profile as RON (what `epchip profile show` prints; a starting point for a custom one).
    fn to_ron(&self) -> String {
        self.inner.to_ron_string()
    }

    /// Every field as plain Python values (nested dicts), as in the RON file.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    /// Writes the profile as a .ron file (atomically).
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        ep_runtime::atomic_file::write_atomic(&path, self.inner.to_ron_string().as_bytes()).py()
    }

    /// Short name, e.g. `loihi2`.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// One-line description.
    #[getter]
    fn description(&self) -> &str {
        &self.inner.description
    }

    /// Cores per chip.
    #[getter]
    fn cores(&self) -> u32 {
        self.inner.chip.cores
    }

    /// Chips on one board.
    #[getter]
    fn chips_per_board(&self) -> u32 {
        self.inner.chip.chips_per_board
    }

    /// `float`, `digital` or `analog`.
    #[getter]
    fn arithmetic(&self) -> &'static str {
        match self.inner.arithmetic {
            Arithmetic::Float => "float",
            Arithmetic::Digital(_) => "digital",
            Arithmetic::Analog(_) => "analog",
        }
    }

    /// Per-core limits (`None`: unlimited): max_neurons, max_input_axons, max_output_axons,
    /// synapse_memory_bits.
    #[getter]
    fn core_limits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.core_limits)
    }

    /// The device non-idealities this profile turns on, in words.
    #[getter]
    fn non_idealities(&self) -> Vec<String> {
        self.inner.non_idealities()
    }

    fn __repr__(&self) -> String {
        format!("Profile({:?}: {}, {} cores)", self.inner.name, self.arithmetic(), self.inner.chip.cores)
    }

    fn __str__(&self) -> String {
        self.inner.summary()
    }
}

/// The built-in profiles: name → description, in the order `epchip profile list` prints them.
#[pyfunction]
pub fn profiles(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    for name in BUILTIN_PROFILE_NAMES {
        out.set_item(*name, HardwareProfile::load(name).py()?.description)?;
    }
    Ok(out)
}
