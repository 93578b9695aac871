//! The Loihi-like digital core: integer states and activities, weight mantissas with a per-group
//! exponent, per-neuron decay constants, saturating accumulators and an integer learning engine.
//!
//! - `mod.rs` (here): the core's number formats and how real numbers are discretised into them;
//! - [`neuron`]: the rate-neuron update (the per-element reference, a hoisted fast loop and a fused
//!   i32 loop, all bit-identical);
//! - [`dendrites`]: the dendritic sums, exact integer products (f32 products split where they would
//!   stop being exact; the reference uses scalar i64 loops);
//! - [`sigmoid_table`]: σ of the sigmoid neuron program as a lookup table;
//! - [`learning`]: latched traces, the exact sums of the learning rule and their stochastic rounding
//!   into weight and bias mantissas.

pub mod dendrites;
pub mod learning;
pub mod neuron;
#[cfg(target_arch = "x86_64")]
mod sigmoid_permute;
pub mod sigmoid_table;

use ndarray::{Array2, ArrayView2};

use super::{CoreArithmetic, DeviceSampler, Dynamics, ExecutionPath, Fabric, NudgeUnits};
use crate::error::Result;
use crate::fixed_point::{max_signed_magnitude, max_unsigned, quantise_unit, saturate_signed};
use crate::learning_rule::SumOfProducts;
use crate::population::Population;
use crate::profile::DigitalArithmetic;
use crate::synapse_group::SynapseGroup;

pub use dendrites::{exact_integer_product, exact_integer_product_threads};
pub use neuron::{digital_neuron_update, digital_sigmoid_neuron_update};
pub use sigmoid_table::SigmoidTable;

/// A digital core and its number formats.
#[derive(Debug, Clone)]
pub struct DigitalCore {
    pub(crate) d: DigitalArithmetic,
    /// σ of the sigmoid neuron program, as the core's table.
    pub(crate) table: SigmoidTable,
}

impl DigitalCore {
    /// The core of a profile's digital arithmetic.
    pub fn new(d: DigitalArithmetic) -> Self {
        Self { table: SigmoidTable::new(&d), d }
    }
}

impl CoreArithmetic for DigitalCore {
    fn input_bits(&self) -> u32 {
        self.d.input_bits
    }

    fn activation_bits(&self) -> u32 {
        self.d.activation_bits
    }

    fn weight_bits(&self) -> u32 {
        self.d.weight_bits
    }

    fn hosts_cuba_lif(&self) -> bool {
        true
    }

    fn discretise_neurons(&self, pop: &mut Population, realised_dt: Vec<f32>, bias: Vec<f32>) {
        let d = &self.d;
        let full = 1i64 << d.decay_bits;
        pop.decay = realised_dt
            .iter()
            .map(|&x| ((f64::from(x) * full as f64).round() as i64).clamp(1, full))
            .collect();
        pop.dt = pop.decay.iter().map(|&k| k as f32 / full as f32).collect();
        pop.bias_mant = bias_mantissas(d, &bias);
    }

    fn configure_group(
        &self,
        group: &mut SynapseGroup,
        mirror: Option<&SynapseGroup>,
        _devices: &DeviceSampler<'_>,
    ) -> Result<()> {
        group.exponent = match mirror {
            Some(m) => m.exponent,
            None => weight_exponent(&self.d, group.range),
        };
        group.lsb = weight_lsb(&self.d, group.exponent);
        Ok(())
    }

    fn store_weights(&self, group: &mut SynapseGroup, weights: ArrayView2<f32>) {
        let lim = max_signed_magnitude(self.d.weight_bits) as f64;
        let lsb = group.lsb;
        group.weights.zip_mut_with(&weights, |m, &w| {
            *m = (f64::from(w) / lsb).round().clamp(-lim, lim) as f32;
        });
    }

    fn real_weights(&self, group: &SynapseGroup) -> Array2<f32> {
        group.weights.mapv(|m| (f64::from(m) * group.lsb) as f32)
    }

    fn effective_weights(&self, group: &SynapseGroup) -> Array2<f32> {
        self.real_weights(group)
    }

    fn store_bias(&self, pop: &mut Population, bias: &[f32]) {
        pop.bias_mant = bias_mantissas(&self.d, bias);
    }

    fn real_bias(&self, pop: &Population) -> Vec<f32> {
        let d = &self.d;
        let scale = (1u64 << bias_exponent(d)) as f64 / (1u64 << d.state_fraction_bits) as f64;
        pop.bias_mant.iter().map(|&m| (m as f64 * scale) as f32).collect()
    }

    fn encode_input(&self, activity: &mut Array2<f32>, values: ArrayView2<f32>) {
        let bits = self.d.input_bits;
        match (activity.as_slice_mut(), values.as_slice()) {
            (Some(out), Some(values)) => crate::fixed_point::quantise_units_into(values, out, bits),
            _ => activity.zip_mut_with(&values, |a, &x| *a = quantise_unit(x, bits) as f32),
        }
    }

    fn real_activity(&self, pop: &Population) -> Array2<f32> {
        let scale = 1.0 / (1u64 << pop.out_bits) as f32;
        pop.activity.mapv(|a| a * scale)
    }

    fn real_state(&self, pop: &Population) -> Array2<f32> {
        let scale = 1.0 / (1u64 << self.d.state_fraction_bits) as f32;
        pop.state_i.mapv(|v| v as f32 * scale)
    }

    fn nudge_units(&self) -> (f64, u32) {
        ((1u64 << self.d.state_fraction_bits) as f64, self.d.nudge_fraction_bits)
    }

    fn check_saved_weights(&self, _group: &SynapseGroup, weights: &[f32]) -> Option<String> {
        let lim = max_signed_magnitude(self.d.weight_bits) as f32;
        weights
            .iter()
            .find(|w| w.fract() != 0.0 || w.abs() > lim)
            .map(|w| format!("holds {w}, not a mantissa in ±{lim}"))
    }

    fn check_saved_bias(&self, mantissas: &[i64]) -> Option<String> {
        let lim = max_signed_magnitude(self.d.bias_bits);
        mantissas.iter().any(|m| m.abs() > lim).then(|| format!("holds a bias mantissa outside ±{lim}"))
    }

    fn static_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        dendrites::static_drive(&self.d, net, q);
    }

    fn compute_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        match net.path {
            ExecutionPath::Fast => dendrites::compute_drive_fast(&self.d, net, q),
            ExecutionPath::Reference => dendrites::compute_drive_reference(&self.d, net, q),
        }
    }

    fn update_neurons(
        &self,
        pop: &mut Population,
        nudge: Option<&NudgeUnits>,
        rows_sq: Option<&mut [f64]>,
        max_change: &mut f32,
        path: ExecutionPath,
    ) -> f64 {
        neuron::update_population(&self.d, &self.table, pop, nudge, rows_sq, max_change, path)
    }

    fn latch(&self, pop: &Population, trace_bits: u32) -> Array2<f32> {
        learning::latch(pop, trace_bits)
    }

    fn trace_lsb(&self, pop: &Population, trace_bits: u32) -> f64 {
        learning::trace_lsb(pop, trace_bits)
    }

    fn learn_group(&self, net: &mut Fabric<'_>, g: usize, rule: &SumOfProducts, global: f32) {
        learning::learn_group(&self.d, net, g, rule, global);
    }

    fn learn_bias(&self, net: &mut Fabric<'_>, p: usize, rule: &SumOfProducts, global: f32) {
        learning::learn_bias(&self.d, net, p, rule, global);
    }

    fn write_group_update(&self, net: &mut Fabric<'_>, g: usize, delta: &Array2<f64>, scale: f64) {
        let delta = learning::Delta::Wide(delta.clone());
        learning::write_group_update(&self.d, net, g, &delta, None, scale);
    }

    fn write_bias_update(&self, net: &mut Fabric<'_>, p: usize, delta: &Array2<f64>) {
        learning::write_bias_update(&self.d, net, p, &learning::Delta::Wide(delta.clone()), 1.0);
    }
}

/// Real value of one weight-mantissa step for exponent `exp`: `2^(shift + exp − state_fraction_bits)`.
pub fn weight_lsb(d: &DigitalArithmetic, exp: i32) -> f64 {
    2f64.powi(d.synaptic_input_shift + exp - d.state_fraction_bits as i32)
}

/// The smallest weight exponent whose mantissa range covers `range` (the largest if none does).
pub fn weight_exponent(d: &DigitalArithmetic, range: f32) -> i32 {
    let max = max_signed_magnitude(d.weight_bits) as f64;
    (d.weight_exponent_min..=d.weight_exponent_max)
        .find(|&e| max * weight_lsb(d, e) >= f64::from(range))
        .unwrap_or(d.weight_exponent_max)
}

/// Biases in real units as the core's bias mantissas (nearest, saturating at the mantissa range).
fn bias_mantissas(d: &DigitalArithmetic, bias: &[f32]) -> Vec<i64> {
    let exp = bias_exponent(d);
    let lim = max_signed_magnitude(d.bias_bits);
    bias.iter()
        .map(|&x| {
            let units = f64::from(x) * (1u64 << d.state_fraction_bits) as f64;
            ((units / (1u64 << exp) as f64).round() as i64).clamp(-lim, lim)
        })
        .collect()
}

/// Bias exponent: biases cover ±4 in real units with `bias_bits` of mantissa.
pub fn bias_exponent(d: &DigitalArithmetic) -> u32 {
    (d.state_fraction_bits + 2).saturating_sub(d.bias_bits - 1)
}

/// Clamps to the signed range of the accumulator.
pub(crate) fn saturate_accumulator(d: &DigitalArithmetic, x: i64) -> i64 {
    saturate_signed(x, d.accumulator_bits)
}

/// Largest payload a population of `bits` output bits sends.
pub(crate) fn max_payload(bits: u32) -> i64 {
    max_unsigned(bits)
}
