//! Neuron populations: what a user asks the chip to allocate, and the chip's own record of it.

use ndarray::Array2;

use crate::core_resources::CoreBlock;
use crate::learning_rule::TRACE_SLOTS;
pub use crate::neuron_program::NeuronProgram;

/// Handle of a population allocated on a [`crate::Chip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PopulationId(pub(crate) usize);

impl PopulationId {
    /// Position of the population in allocation order.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What a population is.
#[derive(Debug, Clone, PartialEq)]
pub enum PopulationKind {
    /// Values written by the host each example (e.g. pixels); no neuron dynamics, no core.
    Input,
    /// Neurons running a program on the chip's cores.
    Neurons {
        /// The neuron program.
        program: NeuronProgram,
        /// Designed per-neuron time step `dt_i = Δt/τ_i`, in (0, 1].
        dt: Vec<f32>,
        /// Initial bias of each neuron, in real units.
        bias: Vec<f32>,
        /// Where the neurons live: contiguous blocks covering `0..size` in order.
        placement: Vec<CoreBlock>,
    },
    /// CUBA LIF neurons (digital cores only); they receive synapses through `Chip::connect_lif`.
    SpikingLif {
        /// Decays, threshold and biases.
        params: crate::cuba_lif::CubaLifParams,
        /// Where the neurons live.
        placement: Vec<CoreBlock>,
    },
}

/// A request to allocate a population.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationSpec {
    /// Name used in messages and exports.
    pub name: String,
    /// Number of neurons (or input channels).
    pub size: usize,
    /// Input or neurons.
    pub kind: PopulationKind,
}

impl PopulationSpec {
    /// An input population of `size` channels.
    pub fn input(name: impl Into<String>, size: usize) -> Self {
        Self { name: name.into(), size, kind: PopulationKind::Input }
    }

    /// A population of CUBA LIF neurons.
    pub fn cuba_lif(
        name: impl Into<String>,
        params: crate::cuba_lif::CubaLifParams,
        placement: Vec<CoreBlock>,
    ) -> Self {
        Self {
            name: name.into(),
            size: params.du.len(),
            kind: PopulationKind::SpikingLif { params, placement },
        }
    }

    /// A population of rate neurons with designed time steps `dt`, initial `bias` and a placement.
    pub fn rate_neurons(
        name: impl Into<String>,
        dt: Vec<f32>,
        bias: Vec<f32>,
        placement: Vec<CoreBlock>,
    ) -> Self {
        Self {
            name: name.into(),
            size: dt.len(),
            kind: PopulationKind::Neurons { program: NeuronProgram::Clip, dt, bias, placement },
        }
    }

    /// The same rate population running another rate model (`Clip` or `Sigmoid`).
    pub fn with_program(mut self, program: NeuronProgram) -> Self {
        if let PopulationKind::Neurons { program: p, .. } = &mut self.kind {
            *p = program;
        }
        self
    }
}

/// A snapshot of activity latched for the learning engine.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    /// batch × neurons; float cores: real activity; digital cores: integer trace values. Shared
    /// between the slots that latched the same activity version.
    pub data: std::sync::Arc<Array2<f32>>,
    /// The population's activity version when latched (equal versions ⇒ equal data).
    pub version: u64,
}

/// The chip's record of an allocated population.
#[derive(Debug, Clone)]
pub(crate) struct Population {
    pub name: String,
    pub size: usize,
    pub is_input: bool,
    /// The rate model of a neuron population (`Clip` for inputs and CUBA LIF populations, which
    /// use their own paths).
    pub program: NeuronProgram,
    pub placement: Vec<CoreBlock>,
    /// Designed dt (before mismatch).
    pub dt_designed: Vec<f32>,
    /// Realised dt (after mismatch and, on digital cores, quantisation), in (0, 1].
    pub dt: Vec<f32>,
    /// Digital: realised decay constants in units of 2^-decay_bits.
    pub decay: Vec<i64>,
    /// Float: bias in real units.
    pub bias: Vec<f32>,
    /// Analog: realised input gain of each neuron (1 without mismatch).
    pub neuron_gain: Vec<f32>,
    /// Analog: realised input offset of each neuron (0 without mismatch).
    pub neuron_offset: Vec<f32>,
    /// Digital: bias mantissas; the bias in state units is `mant << bias_exp`.
    pub bias_mant: Vec<i64>,
    /// Digital: output payload width (activation bits, or input bits for inputs).
    pub out_bits: u32,
    /// Float state, batch × size.
    pub state_f: Array2<f32>,
    /// Digital state in units of 2^-state_fraction_bits, batch × size.
    pub state_i: Array2<i32>,
    /// Output activity, batch × size (float: ρ(s); digital: integer payload).
    pub activity: Array2<f32>,
    /// Constant drive from input populations, recomputed when inputs or their weights change.
    pub static_f: Array2<f32>,
    /// Digital constant drive in state units.
    pub static_i: Array2<i64>,
    /// Scratch: float drive of the current step.
    pub drive_f: Array2<f32>,
    /// Digital: `static_i` as i32 when every value is below 2^28 in magnitude (else empty).
    pub static_i32: Vec<i32>,
    /// Digital fast path: this step's drive is `static_i32 + round_shift(product, shift)`, left
    /// for the neuron update to add up (`drive_i` is not filled).
    pub fused_shift: Option<i32>,
    /// Scratch: digital accumulated input of the current step.
    pub drive_i: Array2<i64>,
    /// Scratch: integer-valued f32 product of one synapse group.
    pub product: Array2<f32>,
    /// Latched traces per slot.
    pub traces: [Option<Trace>; TRACE_SLOTS],
    /// Bumped whenever `activity` changes.
    pub version: u64,
    /// Prefix sums of nonzero activity entries per neuron (whole batch) after the last update:
    /// entry `i` counts neurons `0..i`, so there are `size + 1` entries.
    pub nonzero_prefix: Vec<u64>,
    /// Scratch: per-neuron nonzero counts of the last recount.
    pub nonzero_counts: Vec<u32>,
    /// Bias updates applied so far (rounding-noise counter).
    pub bias_updates: u64,
    /// CUBA LIF populations: the compartment at rest, and one running copy per example of the batch.
    pub lif_template: Option<crate::cuba_lif::CubaLif>,
    /// CUBA LIF state per example.
    pub lif: Vec<crate::cuba_lif::CubaLif>,
}

impl Population {
    /// A copy of the population that holds only examples `rows` of the batch: the neuron parameters
    /// and those rows of what a step reads (a neuron population's states, activity and constant
    /// drive, in integers on `digital` cores and in floats otherwise; an input's activity only when
    /// `input_activity`, else just its nonzero counts), with scratch arrays of the shard's size;
    /// everything else is left empty (traces and CUBA LIF state too: shards run steps, not
    /// learning). A digital population whose constant drive fits i32 gets only `static_i32`: its
    /// `static_i` and `drive_i` stay empty (see `cores::digital::dendrites::compute_drive_fast`).
    pub fn rows_copy(&self, rows: std::ops::Range<usize>, digital: bool, input_activity: bool) -> Population {
        use ndarray::s;
        let n = self.size;
        let (len, neurons) = (rows.len(), !self.is_input);
        let part_f = |a: &Array2<f32>, used: bool| {
            if used { a.slice(s![rows.clone(), ..]).to_owned() } else { Array2::zeros((0, n)) }
        };
        let zeros_f = |used: bool| Array2::<f32>::zeros((if used { len } else { 0 }, n));
        let (float, integer) = (neurons && !digital, neurons && digital);
        let narrow = integer && self.static_i32.len() == self.activity.nrows() * n;
        let static_i32 =
            if narrow { self.static_i32[rows.start * n..rows.end * n].to_vec() } else { Vec::new() };
        let wide = integer && !narrow;
        let mut copy = Population {
            name: self.name.clone(),
            size: n,
            is_input: self.is_input,
            program: self.program,
            placement: self.placement.clone(),
            dt_designed: Vec::new(),
            dt: self.dt.clone(),
            decay: self.decay.clone(),
            bias: self.bias.clone(),
            neuron_gain: self.neuron_gain.clone(),
            neuron_offset: self.neuron_offset.clone(),
            bias_mant: self.bias_mant.clone(),
            out_bits: self.out_bits,
            state_f: part_f(&self.state_f, float),
            state_i: if integer {
                self.state_i.slice(s![rows.clone(), ..]).to_owned()
            } else {
                Array2::zeros((0, n))
            },
            activity: part_f(&self.activity, neurons || input_activity),
            static_f: part_f(&self.static_f, float),
            static_i: if wide {
                self.static_i.slice(s![rows.clone(), ..]).to_owned()
            } else {
                Array2::zeros((0, n))
            },
            drive_f: zeros_f(float),
            static_i32,
            fused_shift: None,
            drive_i: Array2::zeros((if wide { len } else { 0 }, n)),
            product: zeros_f(integer),
            traces: Default::default(),
            version: self.version,
            nonzero_prefix: Vec::new(),
            nonzero_counts: Vec::new(),
            bias_updates: self.bias_updates,
            lif_template: None,
            lif: Vec::new(),
        };
        if neurons || input_activity {
            copy.recount_nonzero();
        } else {
            copy.set_nonzero_counts(count_nonzero(self.activity.slice(s![rows, ..]), Vec::new()));
        }
        copy
    }

    /// Writes the states and activity of a copy made by [`Population::rows_copy`] back into
    /// examples `rows`.
    pub fn write_rows(&mut self, rows: std::ops::Range<usize>, part: &Population) {
        use ndarray::s;
        if part.state_f.nrows() == rows.len() {
            self.state_f.slice_mut(s![rows.clone(), ..]).assign(&part.state_f);
        }
        if part.state_i.nrows() == rows.len() {
            self.state_i.slice_mut(s![rows.clone(), ..]).assign(&part.state_i);
        }
        self.activity.slice_mut(s![rows, ..]).assign(&part.activity);
    }

    /// Recounts the nonzero activity entries of every neuron (summed over the batch).
    pub fn recount_nonzero(&mut self) {
        let counts = count_nonzero(self.activity.view(), std::mem::take(&mut self.nonzero_counts));
        self.set_nonzero_counts(counts);
    }

    /// Per-neuron nonzero activity counts (summed over the batch) of the last recount.
    pub fn nonzero_counts(&self) -> &[u32] {
        &self.nonzero_counts
    }

    /// Sets the per-neuron nonzero activity counts (summed over the batch) and their running sums.
    pub fn set_nonzero_counts(&mut self, counts: Vec<u32>) {
        self.nonzero_prefix.clear();
        self.nonzero_prefix.reserve(counts.len() + 1);
        self.nonzero_prefix.push(0);
        let mut total = 0u64;
        self.nonzero_prefix.extend(counts.iter().map(|&c| {
            total += u64::from(c);
            total
        }));
        self.nonzero_counts = counts;
    }

    /// Nonzero activity entries (whole batch) of neurons `start..end`.
    pub fn nonzero_in(&self, start: usize, end: usize) -> u64 {
        match (self.nonzero_prefix.get(end), self.nonzero_prefix.get(start)) {
            (Some(b), Some(a)) => b - a,
            _ => 0,
        }
    }

    /// Nonzero activity entries of the whole population (whole batch).
    pub fn nonzero(&self) -> u64 {
        self.nonzero_prefix.last().copied().unwrap_or(0)
    }
}

/// Each column's count of nonzero entries in `activity` (examples × neurons), in u32 lanes (at
/// most the batch size each), written into `counts` (its allocation reused).
#[inline]
pub(crate) fn count_nonzero(activity: ndarray::ArrayView2<f32>, mut counts: Vec<u32>) -> Vec<u32> {
    counts.clear();
    counts.resize(activity.ncols(), 0);
    for row in activity.rows() {
        match row.as_slice() {
            Some(r) => {
                for (c, &a) in counts.iter_mut().zip(r) {
                    *c += u32::from(a != 0.0);
                }
            }
            None => {
                for (c, &a) in counts.iter_mut().zip(row.iter()) {
                    *c += u32::from(a != 0.0);
                }
            }
        }
    }
    counts
}
