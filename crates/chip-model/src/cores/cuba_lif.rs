//! Loihi's current-based leaky integrate-and-fire (CUBA LIF) compartment in fixed point, with the
//! dense synapses that feed it, bit for bit as Intel's public Lava framework models them
//! (`PyLifModelBitAcc`, `PyDenseModelBitAcc`). docs/loihi.md lists every detail that had to match.
//!
//! Per time step, for every neuron:
//!
//! ```text
//! u ← sign(u)·⌊|u|·(4096 − (du + 1)) / 4096⌋ + (input << 6)     wrapped into 24 bits
//! v ← sign(v)·⌊|v|·(4096 − dv) / 4096⌋ + u + bias_mant·2^bias_exp  saturated to ±(2^23 − 1)
//! spike ← v > vth·2^6;  v ← 0 where it spiked
//! ```
//!
//! The synaptic input of a step is the weighted sum of the *previous* step's spikes (the dense
//! synapses buffer one step, as on the chip), shifted by the weight exponent.

use crate::error::{ChipError, Result};

/// Width of `u` and `v`.
pub const STATE_BITS: u32 = 24;
/// Largest magnitude of `u` and `v` before wrap-around or saturation: 2^23.
pub const STATE_LIMIT: i64 = 1 << (STATE_BITS - 1);
/// Decay constants are fractions of 2^12.
pub const DECAY_UNITY: i64 = 1 << 12;
/// Synaptic input and threshold are shifted left by 6 bits (MSB alignment).
pub const ALIGN_SHIFT: u32 = 6;

/// Parameters of a population of CUBA LIF neurons (per-neuron decays allowed: that is how HTS lands
/// on the chip).
#[derive(Debug, Clone, PartialEq)]
pub struct CubaLifParams {
    /// Current decay of each neuron, 0..=4095 (the effective decay adds an offset of 1).
    pub du: Vec<u16>,
    /// Voltage decay of each neuron, 0..=4095.
    pub dv: Vec<u16>,
    /// Threshold mantissa, 0..=131071 (17 bits); the threshold is `vth << 6`.
    pub vth: i64,
    /// Bias mantissa of each neuron, −4096..=4095 (13 bits signed).
    pub bias_mant: Vec<i64>,
    /// Bias exponent of each neuron (a negative exponent shifts right).
    pub bias_exp: Vec<i32>,
}

impl CubaLifParams {
    /// Checks ranges and lengths.
    pub fn validate(&self) -> Result<()> {
        let n = self.du.len();
        let bad = |what: String| Err(ChipError::InvalidConfig(format!("CUBA LIF: {what}")));
        if n == 0 {
            return bad("no neurons".into());
        }
        if self.dv.len() != n || self.bias_mant.len() != n || self.bias_exp.len() != n {
            return bad(format!(
                "{} du, {} dv, {} bias_mant and {} bias_exp values; all must have one per neuron",
                n,
                self.dv.len(),
                self.bias_mant.len(),
                self.bias_exp.len()
            ));
        }
        if let Some(d) = self.du.iter().chain(&self.dv).find(|&&d| d > 4095) {
            return bad(format!("decay {d} is outside 0..=4095"));
        }
        if !(0..=131_071).contains(&self.vth) {
            return bad(format!("vth {} is outside 0..=131071", self.vth));
        }
        if let Some(b) = self.bias_mant.iter().find(|b| !(-4096..=4095).contains(*b)) {
            return bad(format!("bias_mant {b} is outside -4096..=4095"));
        }
        if let Some(e) = self.bias_exp.iter().find(|e| !(-24..=24).contains(*e)) {
            return bad(format!("bias_exp {e} is outside -24..=24"));
        }
        Ok(())
    }
}

/// Dense synapses in Loihi's format: integer weights (out × in) after clipping to 8 bits and
/// truncation to `weight_bits`, and a weight exponent.
#[derive(Debug, Clone, PartialEq)]
pub struct LoihiDense {
    weights: Vec<Vec<i64>>,
    weight_exp: i32,
}

impl LoihiDense {
    /// Prepares weights as the chip stores them. The sign mode follows from the weights: all ≥ 0 is
    /// excitatory (clip to 0..=255), all ≤ 0 inhibitory (the negated weights clipped to 0..=255),
    /// otherwise mixed (clip to −256..=255, one more bit truncated). Truncation drops the lowest
    /// `8 − weight_bits (+1 if mixed)` bits (an arithmetic shift, rounding toward −∞).
    pub fn new(weights: Vec<Vec<i64>>, weight_exp: i32, weight_bits: u32) -> Result<Self> {
        if !(1..=8).contains(&weight_bits) {
            return Err(ChipError::InvalidConfig(format!("weight_bits {weight_bits} is outside 1..=8")));
        }
        if !(-16..=16).contains(&weight_exp) {
            return Err(ChipError::InvalidConfig(format!("weight_exp {weight_exp} is outside -16..=16")));
        }
        let width = weights.first().map_or(0, Vec::len);
        if weights.iter().any(|row| row.len() != width) {
            return Err(ChipError::InvalidConfig("weight rows have different lengths".into()));
        }
        let all = || weights.iter().flatten();
        let (excitatory, inhibitory) = (all().all(|&w| w >= 0), all().all(|&w| w <= 0));
        let mixed = !excitatory && !inhibitory;
        let truncate = 8 - weight_bits + u32::from(mixed);
        let prepare = |w: i64| -> i64 {
            if mixed {
                ((w.clamp(-256, 255)) >> truncate) << truncate
            } else if excitatory {
                ((w.clamp(0, 255)) >> truncate) << truncate
            } else {
                -(((-w).clamp(0, 255) >> truncate) << truncate)
            }
        };
        let weights = weights.into_iter().map(|row| row.into_iter().map(prepare).collect()).collect();
        Ok(Self { weights, weight_exp })
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.weights.first().map_or(0, Vec::len)
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.weights.len()
    }

    /// Σ_j w_ij · s_j shifted by the weight exponent (arithmetic shift right for negative exponents).
    pub fn accumulate(&self, spikes: &[bool]) -> Vec<i64> {
        self.weights
            .iter()
            .map(|row| {
                let sum: i64 = row.iter().zip(spikes).filter(|(_, s)| **s).map(|(w, _)| *w).sum();
                if self.weight_exp >= 0 { sum << self.weight_exp } else { sum >> (-self.weight_exp) }
            })
            .collect()
    }
}

/// A population of CUBA LIF neurons with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct CubaLif {
    params: CubaLifParams,
    /// Synaptic current of each neuron (24-bit).
    pub u: Vec<i64>,
    /// Membrane voltage of each neuron (24-bit).
    pub v: Vec<i64>,
}

/// Loihi's decay: `sign(x)·⌊|x|·(4096 − d)/4096⌋` (rounds the magnitude down, i.e. toward zero).
#[inline]
pub fn loihi_decay(x: i64, d: i64) -> i64 {
    x.signum() * ((x.abs() * (DECAY_UNITY - d)) >> 12)
}

impl CubaLif {
    /// Neurons at rest (`u = v = 0`).
    pub fn new(params: CubaLifParams) -> Result<Self> {
        params.validate()?;
        let n = params.du.len();
        Ok(Self { params, u: vec![0; n], v: vec![0; n] })
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.u.len()
    }

    /// True without neurons (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// One time step with synaptic input `input` (one value per neuron, before the shift by 6);
    /// returns which neurons spiked.
    pub fn step(&mut self, input: &[i64]) -> Vec<bool> {
        let p = &self.params;
        let threshold = p.vth << ALIGN_SHIFT;
        let mut spikes = vec![false; self.u.len()];
        for (i, spike) in spikes.iter_mut().enumerate() {
            // Current: decay with the offset of 1, add the aligned input, wrap into 24 bits the way
            // Lava does (strictly above 2^23 wraps down; at or below −2^23 wraps up).
            let mut u = loihi_decay(self.u[i], i64::from(p.du[i]) + 1)
                + (input.get(i).copied().unwrap_or(0) << ALIGN_SHIFT);
            if u > STATE_LIMIT {
                u -= 2 * STATE_LIMIT;
            } else if u <= -STATE_LIMIT {
                u += 2 * STATE_LIMIT;
            }
            self.u[i] = u;
            let bias = if p.bias_exp[i] >= 0 {
                p.bias_mant[i] << p.bias_exp[i]
            } else {
                p.bias_mant[i] >> -p.bias_exp[i]
            };
            let v = (loihi_decay(self.v[i], i64::from(p.dv[i])) + u + bias)
                .clamp(-STATE_LIMIT + 1, STATE_LIMIT - 1);
            if v > threshold {
                *spike = true;
                self.v[i] = 0;
            } else {
                self.v[i] = v;
            }
        }
        spikes
    }
}

/// States after each step of a replayed network: `u`, `v` and spikes, steps × neurons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LifTrace {
    /// Current after each step.
    pub u: Vec<Vec<i64>>,
    /// Voltage after each step.
    pub v: Vec<Vec<i64>>,
    /// Spikes of each step (0 or 1).
    pub spikes: Vec<Vec<u8>>,
}

/// Replays input spikes (steps × inputs) through dense synapses into a LIF population for `steps`
/// steps. As in Lava, the synapses deliver at step t the spikes they received at step t − 1.
pub fn replay(
    dense: &LoihiDense,
    lif: &mut CubaLif,
    input_spikes: &[Vec<bool>],
    steps: usize,
) -> Result<LifTrace> {
    if dense.outputs() != lif.len() {
        return Err(ChipError::InvalidConfig(format!(
            "weights have {} rows but the population has {} neurons",
            dense.outputs(),
            lif.len()
        )));
    }
    if let Some(row) = input_spikes.iter().find(|r| r.len() != dense.inputs()) {
        return Err(ChipError::InvalidConfig(format!(
            "an input-spike row has {} values, the weights have {} inputs",
            row.len(),
            dense.inputs()
        )));
    }
    let mut trace = LifTrace::default();
    let mut buffered = vec![0i64; lif.len()];
    for t in 0..steps {
        let spikes = lif.step(&buffered);
        // The input of step t (spikes repeat cyclically, like Lava's RingBuffer) is delivered at t + 1.
        buffered = match input_spikes.get(t % input_spikes.len().max(1)) {
            Some(row) if !input_spikes.is_empty() => dense.accumulate(row),
            _ => vec![0; lif.len()],
        };
        trace.u.push(lif.u.clone());
        trace.v.push(lif.v.clone());
        trace.spikes.push(spikes.iter().map(|&s| u8::from(s)).collect());
    }
    Ok(trace)
}

/// A CUBA LIF population's synaptic input for every example, from the previous step's spikes
/// (Loihi's dense synapses: weighted sum, then the weight exponent), into `drive_i`.
pub(crate) fn synaptic_input(net: &mut crate::cores::Dynamics<'_>, q: usize) {
    let (b, n) = (net.batch, net.populations[q].size);
    let mut input = ndarray::Array2::<i64>::zeros((b, n));
    for grp in net.groups.iter().filter(|g| g.post.0 == q) {
        let Some(dense) = &grp.dense else { continue };
        let pre = &net.populations[grp.pre.0];
        for (mut row, act) in input.rows_mut().into_iter().zip(pre.activity.rows()) {
            let spikes: Vec<bool> = act.iter().map(|&a| a > 0.0).collect();
            for (x, a) in row.iter_mut().zip(dense.accumulate(&spikes)) {
                *x += a;
            }
        }
    }
    net.populations[q].drive_i = input;
}

/// One compartment step of every example with the input in `drive_i`; the activity is the spike
/// (1 or 0) and `state_i` mirrors the voltage. Spiking neurons report no state change.
pub(crate) fn update_population(pop: &mut crate::population::Population) -> f64 {
    for (b, lif) in pop.lif.iter_mut().enumerate() {
        let input: Vec<i64> = pop.drive_i.row(b).to_vec();
        let spikes = lif.step(&input);
        for (i, s) in spikes.iter().enumerate() {
            pop.activity[[b, i]] = f32::from(u8::from(*s));
            pop.state_i[[b, i]] = lif.v[i] as i32;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n: usize, du: u16, dv: u16, vth: i64, bias: i64) -> CubaLifParams {
        CubaLifParams {
            du: vec![du; n],
            dv: vec![dv; n],
            vth,
            bias_mant: vec![bias; n],
            bias_exp: vec![0; n],
        }
    }

    #[test]
    fn decay_rounds_the_magnitude_down() {
        assert_eq!(loihi_decay(1000, 2048), 500);
        assert_eq!(loihi_decay(-1001, 2048), -500);
        assert_eq!(loihi_decay(5, 4096), 0);
        assert_eq!(loihi_decay(7, 0), 7);
    }

    #[test]
    fn bias_drives_regular_spiking_and_resets_to_zero() -> Result<()> {
        // No leak on v, bias 100: v grows by 100 a step and spikes once above 10 << 6 = 640.
        let mut lif = CubaLif::new(params(1, 4095, 0, 10, 100))?;
        let mut spikes = Vec::new();
        for _ in 0..14 {
            spikes.push(lif.step(&[0])[0]);
        }
        // Steps 1..=6 reach 600, step 7 reaches 700 > 640 and spikes; then again 7 steps later.
        assert_eq!(spikes.iter().position(|&s| s), Some(6));
        assert_eq!(spikes.iter().filter(|&&s| s).count(), 2);
        Ok(())
    }

    #[test]
    fn current_wraps_and_voltage_saturates_at_24_bits() -> Result<()> {
        let mut lif = CubaLif::new(params(1, 4095, 4095, 131_071, 0))?;
        // du = 4095 → effective decay 4096: u is replaced by the input each step.
        lif.step(&[(1 << 17) + 5]);
        // (2^17 + 5) << 6 = 2^23 + 320 > 2^23 → wraps to 320 − 2^23.
        assert_eq!(lif.u[0], 320 - (1 << 23));
        // v saturates at −(2^23 − 1) (positive values spike first: vth·2^6 < 2^23 − 1).
        let mut lif = CubaLif::new(params(1, 0, 0, 131_071, -4096))?;
        for _ in 0..10 {
            lif.step(&[-((1 << 16) - 1)]);
        }
        assert_eq!(lif.v[0], -((1 << 23) - 1), "v saturates");
        Ok(())
    }

    #[test]
    fn weights_are_clipped_and_truncated_like_lava() -> Result<()> {
        let mixed = LoihiDense::new(vec![vec![300, -300, 3, -3]], 0, 8)?;
        assert_eq!(mixed.weights[0], vec![254, -256, 2, -4]);
        let exc = LoihiDense::new(vec![vec![300, 7]], 0, 6)?;
        assert_eq!(exc.weights[0], vec![252, 4]);
        let inh = LoihiDense::new(vec![vec![-300, -7]], 0, 6)?;
        assert_eq!(inh.weights[0], vec![-252, -4]);
        let shifted = LoihiDense::new(vec![vec![-7, 0]], -1, 8)?;
        assert_eq!(shifted.accumulate(&[true, false]), vec![-4]);
        Ok(())
    }
}
