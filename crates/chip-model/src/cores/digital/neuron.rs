//! The digital rate neuron: a normalised leaky integrator in fixed point.
//!
//! `v ← clamp(v + round((f(drive) − v)·d / 2^decay_bits), 0, 1.0)` with
//! `drive = sat_acc(acc) + bias + round(β·(target − v))`, where `f` is the identity for the clip
//! model and σ from the core's table for the sigmoid model. Three implementations give the same
//! integers: [`digital_neuron_update`] per element (the reference, and every measured step), a
//! loop with its constants hoisted (unmeasured steps), and a fused i32 loop that adds the
//! dendritic product inside the neuron loop (unmeasured steps of populations fed by one group).

use super::dendrites::add_shifted;
use super::sigmoid_table::SigmoidTable;
use super::{bias_exponent, max_payload, saturate_accumulator};
use crate::cores::{ExecutionPath, NudgeUnits};
use crate::fixed_point::round_shift;
use crate::neuron_program::NeuronProgram;
use crate::population::Population;
use crate::profile::DigitalArithmetic;

/// Magnitude below which constant drives and biases take the fused i32 update (see
/// [`digital_update_fused`]): every intermediate then stays inside i32.
pub(crate) const FUSED_LIMIT: i32 = 1 << 28;

/// What a digital rate neuron does with its drive before the leaky step: nothing (the clip model,
/// whose clamp comes after the step) or σ from the table (the sigmoid model).
pub(crate) trait Transfer: Copy {
    /// The transferred drive, in state units.
    fn apply(self, u: i64) -> i64;
    /// The same in i32 (the fused update).
    fn apply_i32(self, u: i32) -> i32;
}

/// The clip model's transfer: the drive itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity;

impl Transfer for Identity {
    #[inline(always)]
    fn apply(self, u: i64) -> i64 {
        u
    }
    #[inline(always)]
    fn apply_i32(self, u: i32) -> i32 {
        u
    }
}

impl Transfer for &SigmoidTable {
    #[inline(always)]
    fn apply(self, u: i64) -> i64 {
        self.lookup(u)
    }
    #[inline(always)]
    fn apply_i32(self, u: i32) -> i32 {
        self.lookup_i32(u)
    }
}

/// Updates a digital rate population with its program's transfer, choosing the fused, fast or
/// per-element implementation.
pub(crate) fn update_population(
    d: &DigitalArithmetic,
    table: &SigmoidTable,
    pop: &mut Population,
    nudge: Option<&NudgeUnits>,
    rows_sq: Option<&mut [f64]>,
    max_change: &mut f32,
    path: ExecutionPath,
) -> f64 {
    match pop.program {
        NeuronProgram::Sigmoid => update_with(d, table, pop, nudge, rows_sq, max_change, path),
        NeuronProgram::Clip | NeuronProgram::CubaLif => {
            update_with(d, Identity, pop, nudge, rows_sq, max_change, path)
        }
    }
}

/// [`update_population`] for one transfer.
fn update_with<T: Transfer>(
    d: &DigitalArithmetic,
    f: T,
    pop: &mut Population,
    nudge: Option<&NudgeUnits>,
    rows_sq: Option<&mut [f64]>,
    max_change: &mut f32,
    path: ExecutionPath,
) -> f64 {
    if path == ExecutionPath::Fast && rows_sq.is_none() {
        match pop.fused_shift {
            Some(shift) if fused_nudge_fits(nudge) => digital_update_fused(pop, d, f, nudge, shift),
            _ => {
                materialise_fused_drive(pop);
                digital_update_fast(pop, d, f, nudge)
            }
        }
    } else {
        materialise_fused_drive(pop);
        digital_update(pop, d, f, nudge, rows_sq, max_change)
    }
}

/// One digital rate-neuron update from its accumulated synaptic input (state units).
///
/// `v ← clamp(v + round((drive − v)·d / 2^decay_bits), 0, 1.0)` with
/// `drive = sat_acc(acc) + bias + round(β·(target − v))`: a leaky integrator whose input is scaled
/// by the same decay `d`, so its fixed point is the drive whatever the time constant.
#[inline]
pub fn digital_neuron_update(
    d: &DigitalArithmetic,
    v: i64,
    acc: i64,
    bias_units: i64,
    decay: i64,
    nudge: Option<(i64, i64)>,
) -> i64 {
    neuron_update_with(d, Identity, v, acc, bias_units, decay, nudge)
}

/// The sigmoid model's digital update: as [`digital_neuron_update`] with σ(drive) from `table` in
/// place of the drive, `v ← v + round((σ(drive) − v)·d / 2^decay_bits)`.
#[inline]
pub fn digital_sigmoid_neuron_update(
    d: &DigitalArithmetic,
    table: &SigmoidTable,
    v: i64,
    acc: i64,
    bias_units: i64,
    decay: i64,
    nudge: Option<(i64, i64)>,
) -> i64 {
    neuron_update_with(d, table, v, acc, bias_units, decay, nudge)
}

/// One digital rate-neuron update with a transfer of the drive.
#[inline(always)]
fn neuron_update_with<T: Transfer>(
    d: &DigitalArithmetic,
    f: T,
    v: i64,
    acc: i64,
    bias_units: i64,
    decay: i64,
    nudge: Option<(i64, i64)>,
) -> i64 {
    let mut drive = saturate_accumulator(d, acc) + bias_units;
    if let Some((beta_q, target)) = nudge {
        drive += round_shift(beta_q * (target - v), d.nudge_fraction_bits as i32);
    }
    let one = 1i64 << d.state_fraction_bits;
    (v + round_shift((f.apply(drive) - v) * decay, d.decay_bits as i32)).clamp(0, one)
}

fn digital_update<T: Transfer>(
    pop: &mut Population,
    d: &DigitalArithmetic,
    f: T,
    nudge: Option<&NudgeUnits>,
    mut rows_sq: Option<&mut [f64]>,
    max_change: &mut f32,
) -> f64 {
    let unit = 1.0 / (1u64 << (2 * d.state_fraction_bits)) as f64;
    let mut max_units = 0i64;
    let bias_exp = bias_exponent(d);
    let shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits);
    let n = pop.size;
    let bias: Vec<i64> = pop.bias_mant.iter().map(|&m| m << bias_exp).collect();
    let decay = &pop.decay[..n];
    let mut sq = 0i128;
    let (Some(state), Some(activity), Some(drive)) =
        (pop.state_i.as_slice_mut(), pop.activity.as_slice_mut(), pop.drive_i.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_i.as_slice().map(|s| (s, t.beta_q)));
    for (b, ((srow, arow), drow)) in
        state.chunks_exact_mut(n).zip(activity.chunks_exact_mut(n)).zip(drive.chunks_exact(n)).enumerate()
    {
        let trow = targets.map(|(t, beta_q)| (&t[b * n..(b + 1) * n], beta_q));
        let before = sq;
        for (i, (((s, a), &acc), (&bias, &decay))) in
            srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(bias.iter().zip(decay)).enumerate()
        {
            let v = i64::from(*s);
            let nud = trow.map(|(t, beta_q)| (beta_q, t[i]));
            let new = neuron_update_with(d, f, v, acc, bias, decay, nud);
            sq += i128::from((new - v) * (new - v));
            max_units = max_units.max((new - v).abs());
            *s = new as i32;
            *a = (new >> shift).min(max_a) as f32;
        }
        if let Some(r) = rows_sq.as_deref_mut() {
            r[b] += (sq - before) as f64 * unit;
        }
    }
    *max_change = max_change.max(max_units as f32 / (1u64 << d.state_fraction_bits) as f32);
    sq as f64 * unit
}

/// The digital update of [`digital_update`] for steps that are not measured, with the constants of
/// [`digital_neuron_update`] hoisted out of the loop (the same integer arithmetic; the reference path
/// and every measured step use the per-element function, and the tests compare the two bit for bit).
fn digital_update_fast<T: Transfer>(
    pop: &mut Population,
    d: &DigitalArithmetic,
    f: T,
    nudge: Option<&NudgeUnits>,
) -> f64 {
    let bias_exp = bias_exponent(d);
    let shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits);
    let n = pop.size;
    let bias: Vec<i64> = pop.bias_mant.iter().map(|&m| m << bias_exp).collect();
    let decay = &pop.decay[..n];
    let acc_hi = (1i64 << (d.accumulator_bits - 1)) - 1;
    let acc_lo = -acc_hi - 1;
    let (db, nf) = (d.decay_bits, d.nudge_fraction_bits);
    let (decay_half, nudge_half) = (1i64 << (db - 1), 1i64 << (nf - 1));
    let one = 1i64 << d.state_fraction_bits;
    let (Some(state), Some(activity), Some(drive)) =
        (pop.state_i.as_slice_mut(), pop.activity.as_slice_mut(), pop.drive_i.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_i.as_slice().map(|s| (s, t.beta_q)));
    for (b, ((srow, arow), drow)) in
        state.chunks_exact_mut(n).zip(activity.chunks_exact_mut(n)).zip(drive.chunks_exact(n)).enumerate()
    {
        let cells = srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(bias.iter().zip(decay));
        match targets {
            None => {
                for (((s, a), &acc), (&bias, &decay)) in cells {
                    let v = i64::from(*s);
                    let drive = acc.clamp(acc_lo, acc_hi) + bias;
                    let new = (v + (((f.apply(drive) - v) * decay + decay_half) >> db)).clamp(0, one);
                    *s = new as i32;
                    *a = (new >> shift).min(max_a) as f32;
                }
            }
            Some((t, beta_q)) => {
                let trow = &t[b * n..(b + 1) * n];
                for ((((s, a), &acc), (&bias, &decay)), &target) in cells.zip(trow) {
                    let v = i64::from(*s);
                    let drive =
                        acc.clamp(acc_lo, acc_hi) + bias + ((beta_q * (target - v) + nudge_half) >> nf);
                    let new = (v + (((f.apply(drive) - v) * decay + decay_half) >> db)).clamp(0, one);
                    *s = new as i32;
                    *a = (new >> shift).min(max_a) as f32;
                }
            }
        }
    }
    0.0
}

/// Whether a nudge's strength is small enough for the fused i32 update (β·(target − s) in i32).
fn fused_nudge_fits(nudge: Option<&NudgeUnits>) -> bool {
    nudge.is_none_or(|n| n.beta_q.abs() < 1 << 16)
}

/// Fills `drive_i` from a fused drive (constant drive + shifted product) when a path needs it.
fn materialise_fused_drive(pop: &mut Population) {
    if let Some(shift) = pop.fused_shift.take() {
        let (Some(acc), Some(p)) = (pop.drive_i.as_slice_mut(), pop.product.as_slice()) else {
            unreachable!("population arrays are allocated in standard layout")
        };
        for (a, &s) in acc.iter_mut().zip(&pop.static_i32) {
            *a = i64::from(s);
        }
        add_shifted(acc, p, shift);
    }
}

/// [`digital_update_fast`] on a fused drive, in i32: the same numbers. `drive = static +
/// ((p + half) >> shift)` is clamped to the accumulator, biased and nudged; the leaky step
/// `((d · decay + half) >> db)` is computed as `(d >> db) · decay + (((d mod 2^db) · decay + half) >> db)`,
/// which is exact and keeps every product below 2^31 (|d| < 2^29, decay ≤ 2^db).
fn digital_update_fused<T: Transfer>(
    pop: &mut Population,
    d: &DigitalArithmetic,
    f: T,
    nudge: Option<&NudgeUnits>,
    shift: i32,
) -> f64 {
    let bias_exp = bias_exponent(d);
    let out_shift = d.state_fraction_bits - pop.out_bits;
    let max_a = max_payload(pop.out_bits) as i32;
    let n = pop.size;
    let bias: Vec<i32> = pop.bias_mant.iter().map(|&m| (m << bias_exp) as i32).collect();
    let decay: Vec<i32> = pop.decay[..n].iter().map(|&x| x as i32).collect();
    let acc_hi = ((1i64 << (d.accumulator_bits - 1)) - 1) as i32;
    let acc_lo = -acc_hi - 1;
    let (db, nf) = (d.decay_bits, d.nudge_fraction_bits);
    let (decay_half, nudge_half) = (1i32 << (db - 1), 1i32 << (nf - 1));
    let mask = (1i32 << db) - 1;
    let half = 1i32 << (shift - 1);
    let one = 1i32 << d.state_fraction_bits;
    let (Some(state), Some(activity), Some(product)) =
        (pop.state_i.as_slice_mut(), pop.activity.as_slice_mut(), pop.product.as_slice())
    else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let targets = nudge.and_then(|t| t.target_i.as_slice().map(|s| (s, t.beta_q as i32)));
    let statics = &pop.static_i32;
    for b in 0..state.len() / n.max(1) {
        let r = b * n..(b + 1) * n;
        let (srow, arow, prow, crow) =
            (&mut state[r.clone()], &mut activity[r.clone()], &product[r.clone()], &statics[r.clone()]);
        let trow = targets.map(|(t, beta)| (&t[r.clone()], beta));
        for k in 0..n {
            let v = srow[k];
            let acc = crow[k] + ((exact_f32_to_i32(prow[k]) + half) >> shift);
            let mut drive = acc.clamp(acc_lo, acc_hi) + bias[k];
            if let Some((t, beta)) = trow {
                drive += (beta * (t[k] as i32 - v) + nudge_half) >> nf;
            }
            let diff = f.apply_i32(drive) - v;
            let step = (diff >> db) * decay[k] + (((diff & mask) * decay[k] + decay_half) >> db);
            let new = (v + step).clamp(0, one);
            srow[k] = new;
            arow[k] = (new >> out_shift).min(max_a) as f32;
        }
    }
    pop.fused_shift = None;
    0.0
}

/// An f32 holding an exact integer of magnitude below 2^31, as i32: the low 32 bits of
/// `x + 1.5·2^52` in f64 (whose unit in the last place is 1). Unlike `as i32`, whose saturating
/// conversion stays scalar on baseline x86-64, this vectorises.
#[inline(always)]
pub(crate) fn exact_f32_to_i32(x: f32) -> i32 {
    (f64::from(x) + 6_755_399_441_055_744.0).to_bits() as i32
}

#[cfg(test)]
mod tests {
    use super::exact_f32_to_i32;

    #[test]
    fn exact_f32_to_i32_agrees_with_the_plain_conversion_on_integers() {
        let edges = [0.0f32, -0.0, 1.0, -1.0, 16_777_216.0, -16_777_216.0, 2_147_483_520.0, -2_147_483_648.0];
        for x in edges.into_iter().chain((-70_000..70_000).map(|k| (k * 241) as f32)) {
            assert_eq!(exact_f32_to_i32(x), x as i32, "{x}");
        }
    }
}
