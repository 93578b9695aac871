//! Hardware profiles: the RON description of a chip, parsed and validated before use.

use serde::{Deserialize, Serialize};

use crate::error::{ChipError, Result};

/// A complete description of one emulated chip.
///
/// Build one with [`HardwareProfile::from_ron_str`], [`HardwareProfile::load`] or in code, then call
/// [`HardwareProfile::validate`] (the loaders do it for you) before handing it to a [`crate::Chip`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareProfile {
    /// Short name, e.g. `loihi2`.
    pub name: String,
    /// One-line human description.
    #[serde(default)]
    pub description: String,
    /// Chip-level facts.
    pub chip: ChipSpec,
    /// Per-core resource limits (`None` means unlimited).
    pub core_limits: CoreLimits,
    /// How synapses are laid out in synapse memory (for the memory accounting).
    pub synapse_encoding: SynapseEncoding,
    /// The number formats the core computes with.
    pub arithmetic: Arithmetic,
    /// The on-chip learning engine.
    pub learning: LearningEngineSpec,
    /// Device mismatch, drawn once per chip instance.
    pub mismatch: MismatchSpec,
    /// Energy per operation.
    pub energy: EnergySpec,
}

/// Chip-level facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipSpec {
    /// Number of neuromorphic cores on the chip.
    pub cores: u32,
    /// Chips on one board (or system) that a network may span; cores are numbered chip by chip
    /// (`core = chip * cores + local core`). Defaults to 1.
    #[serde(default = "one_chip")]
    pub chips_per_board: u32,
}

fn one_chip() -> u32 {
    1
}

impl ChipSpec {
    /// Cores on the whole board: `cores × chips_per_board`.
    pub fn total_cores(&self) -> usize {
        self.cores as usize * self.chips_per_board.max(1) as usize
    }

    /// The chip that holds core `core` (cores are numbered chip by chip).
    pub fn chip_of(&self, core: usize) -> usize {
        core / (self.cores.max(1) as usize)
    }
}

/// Per-core resource limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CoreLimits {
    /// Neurons (compartments) per core.
    pub max_neurons: Option<u32>,
    /// Distinct presynaptic sources (input axons) per core.
    pub max_input_axons: Option<u32>,
    /// Distinct postsynaptic destinations (output axons) per core.
    pub max_output_axons: Option<u32>,
    /// Synapse memory per core, in bits.
    pub synapse_memory_bits: Option<u64>,
}

/// How a synapse is stored, for the synapse-memory accounting.
///
/// Every synapse costs `weight + delay + tag + index` bits; synapses from one input axon are stored in
/// groups of up to `group_size`, each group adds `group_header_bits`, and each group is rounded up to
/// whole `word_bits` words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynapseEncoding {
    /// Bits of delay stored per synapse.
    pub delay_bits: u32,
    /// Bits of learning tag stored per synapse.
    pub tag_bits: u32,
    /// Bits of target index stored per synapse (0 for a dense encoding).
    pub index_bits: u32,
    /// Synapses per group.
    pub group_size: u32,
    /// Header bits per group.
    pub group_header_bits: u32,
    /// Memory word size in bits; groups are rounded up to whole words.
    pub word_bits: u32,
}

/// The arithmetic a core computes with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Arithmetic {
    /// 32-bit floating point everywhere: the reference twin.
    Float,
    /// A Loihi-like digital core with integer state and fixed-point numbers.
    Digital(DigitalArithmetic),
    /// An analog crossbar core: continuous neuron states, synapses as conductances with DAC/ADC
    /// conversion, read noise, faults and pulsed weight updates. Every non-ideality set to zero gives
    /// the floating-point core back.
    Analog(AnalogArithmetic),
}

/// Non-idealities of an analog (crossbar) core. Each one is switched off by its zero value.
///
/// Weights of a synapse group live in a conductance range `[−R, R]` chosen per group when it is
/// connected (like a digital weight exponent); noise and update steps are given relative to `R`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalogArithmetic {
    /// Input DAC resolution in bits (0 = exact): activities are quantised to `2^bits − 1` steps of
    /// `[0, dac_range]` and saturate there.
    pub dac_bits: u32,
    /// Input DAC full scale, in activity units (rates lie in [0, 1]).
    pub dac_range: f64,
    /// Output ADC resolution in bits (0 = exact): each crossbar column sum is quantised to
    /// `2^bits − 1` steps of `[−adc_range·R·dac_range, +adc_range·R·dac_range]` and saturates there.
    pub adc_bits: u32,
    /// Output ADC full scale, in units of `R × dac_range` (one fully driven device).
    pub adc_range: f64,
    /// Conductance resolution in bits (0 = continuous): weights sit on `2^bits − 1` steps of `[−R, R]`.
    pub conductance_bits: u32,
    /// Standard deviation of additive noise on every column output at every step, in units of `R`.
    pub output_noise: f64,
    /// Standard deviation of every device's read noise, relative to `R`; a column with inputs `x`
    /// gets Gaussian noise of standard deviation `read_noise · R · ‖x‖₂`.
    pub read_noise: f64,
    /// Share of devices stuck at a full-scale conductance (±R, random sign); they ignore updates.
    pub stuck_on_fraction: f64,
    /// Share of devices stuck at zero conductance; they ignore updates.
    pub stuck_off_fraction: f64,
    /// How devices change their conductance when the learning engine asks for an update.
    pub update: PulsedUpdate,
    /// Write error of program-and-verify when weights are programmed from outside (deploying a
    /// network trained elsewhere, importing one): Gaussian, standard deviation relative to `R`.
    /// On-chip learning's pulses have their own noise (`update`).
    #[serde(default)]
    pub programming_noise: f64,
    /// How programmed conductances change with time (retention).
    #[serde(default)]
    pub drift: ConductanceDrift,
    /// Let conductances drift between training epochs for the chip time the epoch took (a chip that
    /// learns slowly drifts while it learns).
    #[serde(default)]
    pub drift_while_training: bool,
}

/// How an analog device's conductance changes after it was programmed, `t` seconds later.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum ConductanceDrift {
    /// Conductances hold (SRAM- or bias-generated weights, or an idealised device).
    #[default]
    None,
    /// Phase-change memory: `w(t) = w · ((t + t0)/t0)^−ν` with a per-device exponent
    /// `ν ~ N(nu, nu_dtod)` (clipped at 0); IBM aihwkit's PCM model measures ν ≈ 0.05–0.1 with a
    /// spread of 0.01–0.045 and t0 = 20 s.
    PowerLaw {
        /// Mean drift exponent.
        nu: f64,
        /// Device-to-device standard deviation of the exponent.
        nu_dtod: f64,
        /// Time after programming at which the programmed value is read, in seconds.
        t0_s: f64,
    },
    /// Resistive RAM relaxation: each device wanders from its programmed value by
    /// `σ(t) · R · z` with a per-device `z ~ N(0, 1)` and `σ(t) = sigma · log10(1 + t/t0)`
    /// (a spread that broadens with the logarithm of time).
    Relaxation {
        /// Spread added per decade of time, relative to `R`.
        sigma: f64,
        /// Time constant of the onset, in seconds.
        t0_s: f64,
    },
}

impl ConductanceDrift {
    /// True if conductances change with time.
    pub fn drifts(&self) -> bool {
        match *self {
            ConductanceDrift::None => false,
            ConductanceDrift::PowerLaw { nu, nu_dtod, .. } => nu > 0.0 || nu_dtod > 0.0,
            ConductanceDrift::Relaxation { sigma, .. } => sigma > 0.0,
        }
    }
}

/// Pulsed conductance updates, after the parameters of IBM aihwkit's pulsed devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PulsedUpdate {
    /// Conductance change of one pulse, relative to `R` (0 = exact floating-point updates).
    /// A requested change `Δ` becomes `⌊|Δ|/dw_min⌋` pulses plus one more with the probability of the
    /// remainder.
    pub dw_min: f64,
    /// Device-to-device spread (relative standard deviation) of each device's pulse size.
    pub dw_min_dtod: f64,
    /// Cycle-to-cycle noise of one pulse, relative to the device's pulse size.
    pub dw_min_std: f64,
    /// Mean up/down asymmetry `a`: up pulses are `(1 + a)` and down pulses `(1 − a)` times the size.
    pub up_down: f64,
    /// Device-to-device spread (standard deviation) of the asymmetry.
    pub up_down_dtod: f64,
    /// What happens at the ends of the conductance range.
    pub bounds: Bounds,
}

/// Conductance bounds of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bounds {
    /// Constant pulse size, clipped at ±R.
    Hard,
    /// Pulse size shrinks linearly to zero at the bound it moves toward (`1 − w/R` up, `1 + w/R` down).
    Soft,
}

/// Number formats of a digital core. All widths are in bits and include the sign where signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalArithmetic {
    /// Signed weight mantissa width (sign included): mantissas lie in ±(2^(bits−1) − 1).
    pub weight_bits: u32,
    /// Smallest weight exponent.
    pub weight_exponent_min: i32,
    /// Largest weight exponent.
    pub weight_exponent_max: i32,
    /// Shift applied to every synaptic input before accumulation (6 on Loihi).
    pub synaptic_input_shift: i32,
    /// Signed neuron state width.
    pub state_bits: u32,
    /// Fraction bits of the state: the value 1.0 is `2^state_fraction_bits`.
    pub state_fraction_bits: u32,
    /// Unsigned width of the graded-spike payload a neuron sends (its activation).
    pub activation_bits: u32,
    /// Unsigned width of an input value written into an input population.
    pub input_bits: u32,
    /// Signed width of the dendritic accumulator; the sum saturates there.
    pub accumulator_bits: u32,
    /// Unsigned width of the per-neuron decay constant (the time constant).
    pub decay_bits: u32,
    /// Signed width of the bias mantissa.
    pub bias_bits: u32,
    /// Unsigned width of the nudge gain β's fraction.
    pub nudge_fraction_bits: u32,
    /// The lookup table that evaluates the sigmoid neuron model's σ in the neuron program.
    #[serde(default)]
    pub sigmoid_table: SigmoidTableSpec,
}

/// A digital core's table for `σ(u) = 1/(1 + e^(−(4u − 2)))`, as a microcoded neuron program would
/// hold it: `2^index_bits` linear segments over drives `u ∈ [−1.5, 2.5)` (σ is within 3.4·10⁻⁴ of 0
/// and 1 outside), indexed by an arithmetic shift of the drive; its `2^index_bits + 1` entries are σ
/// at the segments' ends rounded to `output_bits` of fraction, and the neuron interpolates linearly
/// between two of them. Drives outside the range take the first or last entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmoidTableSpec {
    /// Segments as a power of two (8: 256 segments of 1/64 in drive units, 257 entries).
    pub index_bits: u32,
    /// Fraction bits of each entry (at most the state's fraction bits).
    pub output_bits: u32,
}

impl Default for SigmoidTableSpec {
    fn default() -> Self {
        Self { index_bits: 8, output_bits: 12 }
    }
}

/// Rounding applied when a learned update is written into a weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rounding {
    /// Round to the nearest representable value (ties away from zero).
    Nearest,
    /// Round up with a probability equal to the fractional part (unbiased).
    Stochastic,
    /// Round toward zero.
    Truncate,
}

/// The on-chip learning engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningEngineSpec {
    /// Width of the activity traces the rules read (digital cores); ignored by float cores.
    pub trace_bits: u32,
    /// How an accumulated update is rounded to the weight grid.
    pub rounding: Rounding,
}

/// Device mismatch: relative spreads (coefficients of variation) drawn once per chip instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MismatchSpec {
    /// Log-normal spread of each neuron's realised time constant around its designed value.
    pub tau_spread: f64,
    /// Log-normal spread of each synapse's gain (analog-style devices; 0 on exact digital synapses).
    pub synapse_gain_spread: f64,
    /// Log-normal spread of each neuron's input gain (analog neurons).
    #[serde(default)]
    pub neuron_gain_spread: f64,
    /// Standard deviation of each neuron's input offset, in drive units (analog neurons).
    #[serde(default)]
    pub neuron_offset_spread: f64,
}

/// Energy per operation, in picojoules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergySpec {
    /// One synaptic operation (a nonzero input times one weight, accumulated).
    pub synaptic_op_pj: f64,
    /// One synaptic weight update by the learning engine.
    pub synaptic_update_pj: f64,
    /// One neuron state update (one neuron, one step).
    pub neuron_update_pj: f64,
    /// One spike (graded or binary) sent within the chip.
    pub spike_pj: f64,
    /// One message from one core to another (on top of the spike itself); 0 if unknown.
    #[serde(default)]
    pub message_pj: f64,
    /// Extra energy of a message that leaves its chip for another chip on the board (on top of
    /// `message_pj`), in pJ; 0 when the profile has one chip.
    #[serde(default)]
    pub chip_message_pj: f64,
    /// Wall-clock duration of one time step on the chip, in microseconds; 0 if unknown.
    #[serde(default)]
    pub time_step_us: f64,
}

/// The largest number of cores a profile may declare.
pub const MAX_CORES: u32 = 1 << 20;

/// The largest number of chips a profile may put on one board.
pub const MAX_CHIPS: u32 = 1 << 12;

impl HardwareProfile {
    /// Parses a profile from RON text and validates it. `origin` names the file in errors.
    pub fn from_ron_str(text: &str, origin: &str) -> Result<Self> {
        let profile: HardwareProfile = ron::from_str(text).map_err(|e| ChipError::ProfileSyntax {
            origin: origin.to_string(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        })?;
        profile.validate_as(origin)?;
        Ok(profile)
    }

    /// Loads a profile by built-in name (`ideal`, `loihi2`, ...) or by path to a `.ron` file.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some(text) = crate::builtin_profiles::builtin_profile_text(name_or_path) {
            return Self::from_ron_str(text, &format!("<built-in {name_or_path}>"));
        }
        let path = std::path::Path::new(name_or_path);
        if path.exists() || name_or_path.ends_with(".ron") {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ChipError::ProfileIo { path: name_or_path.to_string(), source })?;
            return Self::from_ron_str(&text, name_or_path);
        }
        Err(ChipError::UnknownProfile {
            name: name_or_path.to_string(),
            known: crate::builtin_profiles::BUILTIN_PROFILE_NAMES.join(", "),
        })
    }

    /// Serialises the profile as pretty RON.
    pub fn to_ron_string(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .unwrap_or_else(|e| format!("/* cannot serialise profile: {e} */"))
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        self.validate_as(&format!("profile `{}`", self.name))
    }

    /// The digital arithmetic, if this is a digital profile.
    pub fn digital(&self) -> Option<&DigitalArithmetic> {
        match &self.arithmetic {
            Arithmetic::Digital(d) => Some(d),
            _ => None,
        }
    }

    /// The analog non-idealities, if this is an analog profile.
    pub fn analog(&self) -> Option<&AnalogArithmetic> {
        match &self.arithmetic {
            Arithmetic::Analog(a) => Some(a),
            _ => None,
        }
    }

    /// Human-readable list of the non-idealities this profile turns on (empty for an ideal chip).
    pub fn non_idealities(&self) -> Vec<String> {
        let mut out = Vec::new();
        let l = &self.core_limits;
        if l.max_neurons.is_some() || l.max_input_axons.is_some() || l.synapse_memory_bits.is_some() {
            out.push("per-core resource limits".to_string());
        }
        match &self.arithmetic {
            Arithmetic::Float => {}
            Arithmetic::Digital(d) => {
                out.push(format!(
                    "fixed point: {}-bit weights, {}-bit states, {}-bit activations, {}-bit decays",
                    d.weight_bits, d.state_bits, d.activation_bits, d.decay_bits
                ));
                out.push(format!("learned updates rounded ({:?})", self.learning.rounding));
                out.push("no weight drift (digital synapse memory)".into());
            }
            Arithmetic::Analog(a) => {
                if a.dac_bits > 0 {
                    out.push(format!("{}-bit input DAC (full scale {})", a.dac_bits, a.dac_range));
                }
                if a.adc_bits > 0 {
                    out.push(format!("{}-bit output ADC (full scale {} R)", a.adc_bits, a.adc_range));
                }
                if a.conductance_bits > 0 {
                    out.push(format!("{}-bit conductance levels", a.conductance_bits));
                }
                if a.output_noise > 0.0 {
                    out.push(format!("output noise σ = {} R", a.output_noise));
                }
                if a.read_noise > 0.0 {
                    out.push(format!("device read noise σ = {} R", a.read_noise));
                }
                if a.stuck_on_fraction > 0.0 || a.stuck_off_fraction > 0.0 {
                    out.push(format!(
                        "stuck devices: {} on, {} off",
                        a.stuck_on_fraction, a.stuck_off_fraction
                    ));
                }
                let u = &a.update;
                if u.dw_min > 0.0 {
                    out.push(format!(
                        "pulsed updates: dw_min {} R (device spread {}, cycle noise {}), asymmetry {} \
                         (spread {}), {:?} bounds",
                        u.dw_min, u.dw_min_dtod, u.dw_min_std, u.up_down, u.up_down_dtod, u.bounds
                    ));
                }
                if a.programming_noise > 0.0 {
                    out.push(format!("programming (write) error σ = {} R", a.programming_noise));
                }
                match a.drift {
                    ConductanceDrift::None => out.push("no conductance drift".into()),
                    ConductanceDrift::PowerLaw { nu, nu_dtod, t0_s } => out.push(format!(
                        "power-law conductance drift: ν = {nu} ± {nu_dtod}, t0 = {t0_s} s{}",
                        if a.drift_while_training { ", also between training epochs" } else { "" }
                    )),
                    ConductanceDrift::Relaxation { sigma, t0_s } => out.push(format!(
                        "conductance relaxation: σ = {sigma} R per decade of time, t0 = {t0_s} s{}",
                        if a.drift_while_training { ", also between training epochs" } else { "" }
                    )),
                }
                out.push("separate forward and feedback devices (weight symmetry not enforced)".into());
            }
        }
        let m = &self.mismatch;
        for (name, value) in [
            ("time-constant spread", m.tau_spread),
            ("synapse gain spread", m.synapse_gain_spread),
            ("neuron gain spread", m.neuron_gain_spread),
            ("neuron offset spread", m.neuron_offset_spread),
        ] {
            if value > 0.0 {
                out.push(format!("{name} {value}"));
            }
        }
        out
    }

    fn validate_as(&self, origin: &str) -> Result<()> {
        let v = Validator { origin };
        if self.name.trim().is_empty() {
            return Err(v.err("name", "\"\"", "a non-empty name"));
        }
        v.range_u64("chip.cores", self.chip.cores.into(), 1, MAX_CORES.into())?;
        v.range_u64("chip.chips_per_board", self.chip.chips_per_board.into(), 1, MAX_CHIPS.into())?;
        v.range_u64("chip.cores x chips_per_board", self.chip.total_cores() as u64, 1, MAX_CORES.into())?;
        let l = &self.core_limits;
        for (field, value) in [
            ("core_limits.max_neurons", l.max_neurons),
            ("core_limits.max_input_axons", l.max_input_axons),
            ("core_limits.max_output_axons", l.max_output_axons),
        ] {
            if let Some(x) = value {
                v.range_u64(field, x.into(), 1, u32::MAX.into())?;
            }
        }
        if let Some(bits) = l.synapse_memory_bits {
            v.range_u64("core_limits.synapse_memory_bits", bits, 1, 1 << 40)?;
        }
        let s = &self.synapse_encoding;
        v.range_u64("synapse_encoding.delay_bits", s.delay_bits.into(), 0, 16)?;
        v.range_u64("synapse_encoding.tag_bits", s.tag_bits.into(), 0, 16)?;
        v.range_u64("synapse_encoding.index_bits", s.index_bits.into(), 0, 32)?;
        v.range_u64("synapse_encoding.group_size", s.group_size.into(), 1, 1 << 16)?;
        v.range_u64("synapse_encoding.group_header_bits", s.group_header_bits.into(), 0, 1024)?;
        v.range_u64("synapse_encoding.word_bits", s.word_bits.into(), 1, 4096)?;

        if let Arithmetic::Digital(d) = &self.arithmetic {
            let f = |name: &str| format!("arithmetic.{name}");
            v.range_u64(&f("weight_bits"), d.weight_bits.into(), 2, 16)?;
            v.range_i64(&f("weight_exponent_min"), d.weight_exponent_min.into(), -16, 16)?;
            v.range_i64(
                &f("weight_exponent_max"),
                d.weight_exponent_max.into(),
                d.weight_exponent_min.into(),
                16,
            )?;
            v.range_i64(&f("synaptic_input_shift"), d.synaptic_input_shift.into(), 0, 16)?;
            v.range_u64(&f("state_bits"), d.state_bits.into(), 8, 32)?;
            v.range_u64(&f("activation_bits"), d.activation_bits.into(), 1, 16)?;
            v.range_u64(
                &f("state_fraction_bits"),
                d.state_fraction_bits.into(),
                d.activation_bits.into(),
                (d.state_bits - 2).into(),
            )?;
            v.range_u64(&f("input_bits"), d.input_bits.into(), 1, 16)?;
            v.range_u64(&f("accumulator_bits"), d.accumulator_bits.into(), 8, 40)?;
            v.range_u64(&f("decay_bits"), d.decay_bits.into(), 1, 16)?;
            v.range_u64(&f("bias_bits"), d.bias_bits.into(), 2, 24)?;
            v.range_u64(&f("nudge_fraction_bits"), d.nudge_fraction_bits.into(), 1, 16)?;
            let t = &d.sigmoid_table;
            v.range_u64(
                &f("sigmoid_table.index_bits"),
                t.index_bits.into(),
                1,
                (d.state_fraction_bits + 2).min(16).into(),
            )?;
            v.range_u64(
                &f("sigmoid_table.output_bits"),
                t.output_bits.into(),
                1,
                d.state_fraction_bits.into(),
            )?;
            v.range_u64(
                "learning.trace_bits",
                self.learning.trace_bits.into(),
                1,
                d.activation_bits.min(d.input_bits).into(),
            )?;
            if self.mismatch.synapse_gain_spread != 0.0 {
                return Err(v.err(
                    "mismatch.synapse_gain_spread",
                    &self.mismatch.synapse_gain_spread.to_string(),
                    "0 on a digital core (its synapses are exact integers; per-synapse gain \
                     mismatch belongs to analog cores)",
                ));
            }
        }
        if let Arithmetic::Analog(a) = &self.arithmetic {
            let f = |name: &str| format!("arithmetic.{name}");
            v.range_u64(&f("dac_bits"), a.dac_bits.into(), 0, 22)?;
            v.range_f64(&f("dac_range"), a.dac_range, 1e-6, 1e6)?;
            v.range_u64(&f("adc_bits"), a.adc_bits.into(), 0, 22)?;
            v.range_f64(&f("adc_range"), a.adc_range, 1e-6, 1e6)?;
            v.range_u64(&f("conductance_bits"), a.conductance_bits.into(), 0, 22)?;
            v.range_f64(&f("output_noise"), a.output_noise, 0.0, 10.0)?;
            v.range_f64(&f("read_noise"), a.read_noise, 0.0, 10.0)?;
            v.range_f64(&f("stuck_on_fraction"), a.stuck_on_fraction, 0.0, 1.0)?;
            v.range_f64(&f("stuck_off_fraction"), a.stuck_off_fraction, 0.0, 1.0 - a.stuck_on_fraction)?;
            let u = &a.update;
            v.range_f64(&f("update.dw_min"), u.dw_min, 0.0, 1.0)?;
            v.range_f64(&f("update.dw_min_dtod"), u.dw_min_dtod, 0.0, 2.0)?;
            v.range_f64(&f("update.dw_min_std"), u.dw_min_std, 0.0, 10.0)?;
            v.range_f64(&f("update.up_down"), u.up_down, -0.99, 0.99)?;
            v.range_f64(&f("update.up_down_dtod"), u.up_down_dtod, 0.0, 1.0)?;
            v.range_f64(&f("programming_noise"), a.programming_noise, 0.0, 1.0)?;
            match a.drift {
                ConductanceDrift::None => {}
                ConductanceDrift::PowerLaw { nu, nu_dtod, t0_s } => {
                    v.range_f64(&f("drift.nu"), nu, 0.0, 1.0)?;
                    v.range_f64(&f("drift.nu_dtod"), nu_dtod, 0.0, 1.0)?;
                    v.range_f64(&f("drift.t0_s"), t0_s, 1e-9, 1e9)?;
                }
                ConductanceDrift::Relaxation { sigma, t0_s } => {
                    v.range_f64(&f("drift.sigma"), sigma, 0.0, 1.0)?;
                    v.range_f64(&f("drift.t0_s"), t0_s, 1e-9, 1e9)?;
                }
            }
        }
        if self.digital().is_some() {
            for (field, value) in [
                ("mismatch.neuron_gain_spread", self.mismatch.neuron_gain_spread),
                ("mismatch.neuron_offset_spread", self.mismatch.neuron_offset_spread),
            ] {
                if value != 0.0 {
                    return Err(v.err(
                        field,
                        &value.to_string(),
                        "0 on a digital core (its neurons are exact integer circuits; use tau_spread \
                         for decay mismatch, or an analog core)",
                    ));
                }
            }
        }
        v.range_f64("mismatch.tau_spread", self.mismatch.tau_spread, 0.0, 2.0)?;
        v.range_f64("mismatch.neuron_gain_spread", self.mismatch.neuron_gain_spread, 0.0, 2.0)?;
        v.range_f64("mismatch.neuron_offset_spread", self.mismatch.neuron_offset_spread, 0.0, 10.0)?;
        v.range_f64("mismatch.synapse_gain_spread", self.mismatch.synapse_gain_spread, 0.0, 2.0)?;
        let e = &self.energy;
        for (field, value) in [
            ("energy.synaptic_op_pj", e.synaptic_op_pj),
            ("energy.synaptic_update_pj", e.synaptic_update_pj),
            ("energy.neuron_update_pj", e.neuron_update_pj),
            ("energy.spike_pj", e.spike_pj),
            ("energy.message_pj", e.message_pj),
            ("energy.chip_message_pj", e.chip_message_pj),
            ("energy.time_step_us", e.time_step_us),
        ] {
            v.range_f64(field, value, 0.0, 1e9)?;
        }
        Ok(())
    }
}

struct Validator<'a> {
    origin: &'a str,
}

impl Validator<'_> {
    fn err(&self, field: &str, value: &str, allowed: &str) -> ChipError {
        ChipError::ProfileValue {
            origin: self.origin.to_string(),
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }

    fn range_u64(&self, field: &str, value: u64, lo: u64, hi: u64) -> Result<()> {
        if (lo..=hi).contains(&value) {
            Ok(())
        } else {
            Err(self.err(field, &value.to_string(), &format!("an integer in {lo}..={hi}")))
        }
    }

    fn range_i64(&self, field: &str, value: i64, lo: i64, hi: i64) -> Result<()> {
        if (lo..=hi).contains(&value) {
            Ok(())
        } else {
            Err(self.err(field, &value.to_string(), &format!("an integer in {lo}..={hi}")))
        }
    }

    fn range_f64(&self, field: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
        if value.is_finite() && value >= lo && value <= hi {
            Ok(())
        } else {
            Err(self.err(field, &value.to_string(), &format!("a finite number in [{lo}, {hi}]")))
        }
    }
}
