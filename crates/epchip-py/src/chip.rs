//! `epchip.Chip`: the emulated chip itself, for experiments beyond EP (chip-model's public
//! interface, docs/architecture.md): populations placed on cores, dense synapse groups from numpy
//! weight matrices, inputs, time steps with or without a nudge, states, trace latching and local
//! sum-of-products learning, operation counters and energy.

use chip_model::{
    Chip as ChipModel, ConnectOptions, CoreBlock, GroupId, NeuronProgram, Nudge, PopulationId,
    PopulationSpec, ProductTerm, StateSnapshot, SumOfProducts, TraceSlot,
};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLike1, PyArrayLike2};
use pyo3::prelude::*;

use crate::convert::to_python;
use crate::errors::{PyResultExt, value_error};
use crate::profile::{Profile, ProfileArg};

/// A per-neuron value: one number for every neuron, or one per neuron.
#[derive(FromPyObject)]
pub enum PerNeuron<'py> {
    /// The same value for every neuron.
    One(f32),
    /// One value per neuron.
    Each(PyArrayLike1<'py, f32, AllowTypeChange>),
}

impl PerNeuron<'_> {
    fn values(&self, what: &str, n: usize) -> PyResult<Vec<f32>> {
        match self {
            PerNeuron::One(x) => Ok(vec![*x; n]),
            PerNeuron::Each(a) => {
                let v = a.as_array().to_vec();
                if v.len() != n {
                    return Err(value_error(format!("{what} has {} values for {n} neurons", v.len())));
                }
                Ok(v)
            }
        }
    }
}

/// A saved copy of every neuron's state on a chip (`Chip.save_state`), for restarting a phase from
/// the same point (EP's third phase).
#[pyclass(module = "epchip", frozen)]
pub struct ChipState {
    inner: StateSnapshot,
}

/// One instance of a hardware profile, with its devices drawn from `seed` (mismatch, faults).
/// Populations and synapse groups are numbered in the order they are added.
#[pyclass(module = "epchip")]
pub struct Chip {
    chip: ChipModel,
    populations: Vec<PopulationId>,
    groups: Vec<GroupId>,
}

impl Chip {
    fn pop(&self, index: usize) -> PyResult<PopulationId> {
        self.populations.get(index).copied().ok_or_else(|| {
            value_error(format!("population {index} does not exist; the chip has {}", self.populations.len()))
        })
    }

    fn group(&self, index: usize) -> PyResult<GroupId> {
        self.groups.get(index).copied().ok_or_else(|| {
            value_error(format!("synapse group {index} does not exist; the chip has {}", self.groups.len()))
        })
    }

    /// Consecutive cores from `first` (default: the first core with room), each filled up to the
    /// profile's neurons per core.
    fn placement(&self, name: &str, size: usize, first: Option<usize>) -> PyResult<Vec<CoreBlock>> {
        let cores = self.chip.cores();
        let max = self.chip.profile().core_limits.max_neurons;
        let room =
            |c: usize| max.map_or(u64::MAX, |m| u64::from(m).saturating_sub(cores[c].neurons)) as usize;
        let first = match first {
            Some(c) if c >= cores.len() => {
                return Err(value_error(format!(
                    "core {c} does not exist; the board has {} cores",
                    cores.len()
                )));
            }
            Some(c) => c,
            None => (0..cores.len()).find(|&c| room(c) > 0).unwrap_or(0),
        };
        let mut blocks = Vec::new();
        let mut start = 0;
        for core in first..cores.len() {
            if start == size {
                break;
            }
            let len = room(core).min(size - start);
            if len > 0 {
                blocks.push(CoreBlock { core, start, len });
                start += len;
            }
        }
        if start < size {
            return Err(value_error(format!(
                "population `{name}` does not fit: {} of its {size} neurons find no room on cores {first}..{} \
                 ({} neurons per core)",
                size - start,
                cores.len(),
                max.map_or_else(|| "unlimited".into(), |m| m.to_string())
            )));
        }
        Ok(blocks)
    }
}

fn rule(terms: Vec<(f32, Option<usize>, Option<usize>)>) -> PyResult<SumOfProducts> {
    let slot = |s: Option<usize>| s.map(TraceSlot::new).transpose();
    let terms = terms
        .into_iter()
        .map(|(coefficient, pre, post)| {
            Ok(ProductTerm { coefficient, pre: slot(pre).py()?, post: slot(post).py()? })
        })
        .collect::<PyResult<_>>()?;
    SumOfProducts::new(terms).py()
}

#[pymethods]
impl Chip {
    /// A chip of `profile` (a built-in name, a .ron path or a `Profile`) whose devices are drawn
    /// from `seed`.
    #[new]
    #[pyo3(signature = (profile = ProfileArg::Name("ideal".into()), seed = 1))]
    #[pyo3(text_signature = "(profile='ideal', seed=1)")]
    fn new(profile: ProfileArg, seed: u64) -> PyResult<Self> {
        let chip = ChipModel::new(&profile.load()?, seed).py()?;
        Ok(Self { chip, populations: Vec::new(), groups: Vec::new() })
    }

    /// The chip's profile.
    #[getter]
    fn profile(&self) -> Profile {
        Profile { inner: self.chip.profile().clone() }
    }

    /// Adds `size` input channels (values written by the host with `apply_input`); returns the
    /// population's number.
    fn add_input(&mut self, name: &str, size: usize) -> PyResult<usize> {
        let id = self.chip.add_population(PopulationSpec::input(name, size)).py()?;
        self.populations.push(id);
        Ok(self.populations.len() - 1)
    }

    /// Adds `size` rate neurons running `model` (`sigmoid` or `clip`) with per-neuron time steps
    /// `dt` in (0, 1] and biases `bias` (one number or one per neuron, real units), placed on
    /// consecutive cores from `core` (default: the first core with room); returns the population's
    /// number. The chip discretises them (decays, bias mantissas) and draws their mismatch.
    #[pyo3(signature = (name, size, dt = PerNeuron::One(1.0), bias = PerNeuron::One(0.0), model = "sigmoid", core = None))]
    #[pyo3(text_signature = "($self, name, size, dt=1.0, bias=0.0, model='sigmoid', core=None)")]
    fn add_neurons(
        &mut self,
        name: &str,
        size: usize,
        dt: PerNeuron<'_>,
        bias: PerNeuron<'_>,
        model: &str,
        core: Option<usize>,
    ) -> PyResult<usize> {
        let program = NeuronProgram::rate_model(model).ok_or_else(|| {
            let names: Vec<&str> = NeuronProgram::RATE_MODELS.iter().map(|(n, _)| *n).collect();
            value_error(format!("invalid model '{model}': use one of {}", names.join(", ")))
        })?;
        if size == 0 {
            return Err(value_error(format!("population `{name}` has no neurons")));
        }
        let placement = self.placement(name, size, core)?;
        let spec =
            PopulationSpec::rate_neurons(name, dt.values("dt", size)?, bias.values("bias", size)?, placement)
                .with_program(program);
        let id = self.chip.add_population(spec).py()?;
        self.populations.push(id);
        Ok(self.populations.len() - 1)
    }

    /// Connects population `pre` to `post` with dense `weights` of shape `(pre size, post size)`
    /// in real units; `weight_range` is the largest magnitude the group must hold (digital cores
    /// choose the weight exponent from it; default: the largest initial weight). With `mirror_of`,
    /// the group holds the feedback copies of that group's synapses (its transpose). Returns the
    /// group's number.
    #[pyo3(signature = (pre, post, weights, weight_range = None, mirror_of = None))]
    fn connect(
        &mut self,
        pre: usize,
        post: usize,
        weights: PyArrayLike2<'_, f32, AllowTypeChange>,
        weight_range: Option<f32>,
        mirror_of: Option<usize>,
    ) -> PyResult<usize> {
        let options = ConnectOptions {
            weight_range,
            mirror_of: mirror_of.map(|g| self.group(g)).transpose()?,
            fan_in: Vec::new(),
        };
        let (pre, post) = (self.pop(pre)?, self.pop(post)?);
        let id = self.chip.connect(pre, post, weights.as_array(), options).py()?;
        self.groups.push(id);
        Ok(self.groups.len() - 1)
    }

    /// Sets how many examples run side by side (every state becomes `(batch, size)`).
    fn set_batch_size(&mut self, batch: usize) -> PyResult<()> {
        self.chip.set_batch_size(batch).py()
    }

    /// Examples run side by side.
    #[getter]
    fn batch_size(&self) -> usize {
        self.chip.batch_size()
    }

    /// Sets every neuron's state and activity to 0.
    fn reset_state(&mut self) {
        self.chip.reset_state();
    }

    /// Writes `values` `(batch, size)` in [0, 1] to input population `population`; they hold until
    /// the next call.
    fn apply_input(
        &mut self,
        population: usize,
        values: PyArrayLike2<'_, f32, AllowTypeChange>,
    ) -> PyResult<()> {
        let pop = self.pop(population)?;
        self.chip.apply_input(pop, values.as_array()).py()
    }

    /// Runs `steps` synchronous time steps. With `nudge` (a population), every step adds
    /// `beta · (target − s)` to its neurons' drive (EP's nudged phase); `target` is `(batch, size)`.
    /// With `tolerance`, stops early once no state changes by more than that in one step, and
    /// returns the steps taken.
    #[pyo3(signature = (steps, nudge = None, target = None, beta = 0.0, tolerance = None))]
    fn run(
        &mut self,
        py: Python<'_>,
        steps: usize,
        nudge: Option<usize>,
        target: Option<PyArrayLike2<'_, f32, AllowTypeChange>>,
        beta: f32,
        tolerance: Option<f32>,
    ) -> PyResult<usize> {
        let target = match (nudge, &target) {
            (Some(pop), Some(t)) => Some((self.pop(pop)?, t.as_array().to_owned())),
            (None, None) => None,
            _ => return Err(value_error("a nudge needs both nudge= (the population) and target=")),
        };
        let chip = &mut self.chip;
        py.detach(|| {
            let nudge = target.as_ref().map(|(population, t)| Nudge {
                population: *population,
                target: t.view(),
                beta,
            });
            match tolerance {
                Some(tol) => chip.run_until_settled(steps, tol, nudge.as_ref()),
                None => chip.run(steps, nudge.as_ref()).map(|()| steps),
            }
        })
        .py()
    }

    /// States `(batch, size)` of a population, in real units.
    fn state<'py>(&self, py: Python<'py>, population: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self.chip.read_state(self.pop(population)?).py()?.into_pyarray(py))
    }

    /// Output activity `(batch, size)` of a population (what its neurons send), in real units.
    fn activity<'py>(&self, py: Python<'py>, population: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self.chip.read_activity(self.pop(population)?).py()?.into_pyarray(py))
    }

    /// The weights of a synapse group as stored (digital: mantissa × step), `(pre, post)`.
    fn weights<'py>(&self, py: Python<'py>, group: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self.chip.read_weights(self.group(group)?).py()?.into_pyarray(py))
    }

    /// The weights a synapse group applies (with device gains and faults), `(pre, post)`.
    fn effective_weights<'py>(&self, py: Python<'py>, group: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self.chip.read_effective_weights(self.group(group)?).py()?.into_pyarray(py))
    }

    /// Overwrites a group's weights (`(pre, post)`, real units; discretised by the core).
    fn write_weights(
        &mut self,
        group: usize,
        weights: PyArrayLike2<'_, f32, AllowTypeChange>,
    ) -> PyResult<()> {
        let group = self.group(group)?;
        self.chip.write_weights(group, weights.as_array()).py()
    }

    /// Biases of a neuron population, as the chip holds them.
    fn bias<'py>(&self, py: Python<'py>, population: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self.chip.read_bias(self.pop(population)?).py()?.into_pyarray(py))
    }

    /// Overwrites a population's biases (real units; discretised by the core).
    fn write_bias(
        &mut self,
        population: usize,
        bias: PyArrayLike1<'_, f32, AllowTypeChange>,
    ) -> PyResult<()> {
        let pop = self.pop(population)?;
        self.chip.write_bias(pop, &bias.as_array().to_vec()).py()
    }

    /// Per-neuron time steps of a population as realised (after mismatch and quantisation).
    fn time_steps<'py>(&self, py: Python<'py>, population: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self.chip.realised_dt(self.pop(population)?).py()?.to_vec().into_pyarray(py))
    }

    /// RMS state change in the last step of the last run (how well it settled).
    #[getter]
    fn residual(&self) -> f32 {
        self.chip.last_step_residual()
    }

    /// Copies every neuron's state.
    fn save_state(&self) -> ChipState {
        ChipState { inner: self.chip.save_state() }
    }

    /// Restores states saved by `save_state`.
    fn restore_state(&mut self, state: &ChipState) -> PyResult<()> {
        self.chip.restore_state(&state.inner).py()
    }

    /// Latches every population's current activity into trace slot `slot` (0..4) of the
    /// learning engine.
    fn latch_traces(&mut self, slot: usize) -> PyResult<()> {
        self.chip.latch_traces(TraceSlot::new(slot).py()?);
        Ok(())
    }

    /// Updates a synapse group with the local sum-of-products rule
    /// `Δw = global_ · Σ c · pre[a] · post[b]` over the batch, `terms` as `(c, a, b)` with trace
    /// slots `a`, `b` (None for the constant 1); the engine rounds into the chip's format.
    #[pyo3(signature = (group, terms, global_ = 1.0))]
    fn learn(
        &mut self,
        group: usize,
        terms: Vec<(f32, Option<usize>, Option<usize>)>,
        global_: f32,
    ) -> PyResult<()> {
        let group = self.group(group)?;
        self.chip.learn(group, &rule(terms)?, global_).py()
    }

    /// Updates a population's biases with a sum-of-products rule (the presynaptic trace of a bias
    /// is 1).
    #[pyo3(signature = (population, terms, global_ = 1.0))]
    fn learn_bias(
        &mut self,
        population: usize,
        terms: Vec<(f32, Option<usize>, Option<usize>)>,
        global_: f32,
    ) -> PyResult<()> {
        let pop = self.pop(population)?;
        self.chip.learn_bias(pop, &rule(terms)?, global_).py()
    }

    /// Operation counts of the whole chip since the last reset: synaptic_ops, neuron_updates,
    /// spikes, synaptic_updates, messages, chip_messages, trace_latches.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.chip.total_counters())
    }

    /// Per core: neurons, input and output axons and synapse memory bits in use, and its counters.
    fn cores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.chip.cores())
    }

    /// Estimated energy of the operations counted so far, in joules, by kind of operation.
    fn energy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.chip.energy())
    }

    /// Sets every operation counter to 0.
    fn reset_counters(&mut self) {
        self.chip.reset_counters();
    }

    /// The populations, in order, as (name, size).
    #[getter]
    fn populations(&self) -> PyResult<Vec<(String, usize)>> {
        self.populations
            .iter()
            .map(|&p| self.chip.population_info(p).map(|(n, s)| (n.to_string(), s)).py())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Chip({:?}, {} populations, {} synapse groups, {} cores used)",
            self.chip.profile().name,
            self.populations.len(),
            self.groups.len(),
            self.chip.used_cores()
        )
    }
}
