//! The digital rate neuron: a normalised leaky integrator in fixed point.
//!
//! `v ← clamp(v + round((f(drive) − v)·d / 2^decay_bits), 0, 1.0)` with
//! `drive = sat_acc(acc) + bias + round(β·(target − v))`, where `f` is the identity for the clip
//! model and σ from the core's table for the sigmoid model. Three implementations give the same
//! integers: [`digital_neuron_update`] per element (the reference path), a loop with its
//! constants hoisted, and a fused i32 loop that adds the dendritic product inside the neuron loop
//! (populations fed by one group). On the fast path a measured step (the last of a run, or every
//! step of a settling run) takes the same loops and measures the change against the old states.

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
    /// True for the identity (a transfer the fused loop may apply inline).
    const IDENTITY: bool = false;
    /// The transferred drive, in state units.
    fn apply(self, u: i64) -> i64;
    /// The same in i32 (the fused update).
    fn apply_i32(self, u: i32) -> i32;
    /// [`Transfer::apply_i32`] of every drive of `u`, in place.
    #[inline(always)]
    fn apply_all_i32(self, u: &mut [i32]) {
        for x in u.iter_mut() {
            *x = self.apply_i32(*x);
        }
    }
}

/// The clip model's transfer: the drive itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity;

impl Transfer for Identity {
    const IDENTITY: bool = true;
    #[inline(always)]
    fn apply(self, u: i64) -> i64 {
        u
    }
    #[inline(always)]
    fn apply_i32(self, u: i32) -> i32 {
        u
    }
}

impl Transfer for super::sigmoid_table::SigmoidLookup32<'_> {
    #[inline(always)]
    fn apply(self, u: i64) -> i64 {
        self.table.lookup(u)
    }
    #[inline(always)]
    fn apply_i32(self, u: i32) -> i32 {
        self.lookup(u)
    }
    fn apply_all_i32(self, u: &mut [i32]) {
        self.lookup_all(u);
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
        NeuronProgram::Sigmoid => match table.lookup32() {
            Some(t) => update_with(d, t, pop, nudge, rows_sq, max_change, path),
            None => update_with(d, table, pop, nudge, rows_sq, max_change, path),
        },
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
    match (path, rows_sq) {
        (ExecutionPath::Fast, None) => fast_update(d, f, pop, nudge),
        (ExecutionPath::Fast, Some(rows_sq)) => {
            // A measured step: the fast update, then the change measured against the old states
            // (the same integers as the per-element loop, which is scalar and branchy).
            let old = pop.state_i.as_slice().map(<[i32]>::to_vec).unwrap_or_default();
            fast_update(d, f, pop, nudge);
            measure_change(d, pop, &old, rows_sq, max_change)
        }
        (ExecutionPath::Reference, rows_sq) => {
            materialise_fused_drive(pop);
            digital_update(pop, d, f, nudge, rows_sq, max_change)
        }
    }
}

/// A step's update on the fast path: fused with the population's one group's product
/// when it can be, run with the CPU's best vector instructions.
fn fast_update<T: Transfer>(
    d: &DigitalArithmetic,
    f: T,
    pop: &mut Population,
    nudge: Option<&NudgeUnits>,
) -> f64 {
    match pop.fused_shift {
        Some(shift) if fused_nudge_fits(nudge) => {
            crate::vector_isa::vectorised(UnmeasuredUpdate { pop, d, f, nudge, fused_shift: Some(shift) })
        }
        _ => {
            materialise_fused_drive(pop);
            crate::vector_isa::vectorised(UnmeasuredUpdate { pop, d, f, nudge, fused_shift: None })
        }
    }
}

/// The measurement [`digital_update`] makes of a step, from the states before it (`old`, batch ×
/// size) and after: each row's summed squared change into `rows_sq`, the largest change into
/// `max_change` (real units), the total squared change returned.
fn measure_change(
    d: &DigitalArithmetic,
    pop: &Population,
    old: &[i32],
    rows_sq: &mut [f64],
    max_change: &mut f32,
) -> f64 {
    let unit = 1.0 / (1u64 << (2 * d.state_fraction_bits)) as f64;
    let Some(state) = pop.state_i.as_slice() else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let n = pop.size.max(1);
    let (mut total, mut max_units) = (0i128, 0i64);
    for ((new_row, old_row), r) in state.chunks_exact(n).zip(old.chunks_exact(n)).zip(rows_sq.iter_mut()) {
        // Changes are at most 2^state_bits, so a row's sum stays far inside i64.
        let mut row = 0i64;
        for (&new, &before) in new_row.iter().zip(old_row) {
            let change = i64::from(new) - i64::from(before);
            row += change * change;
            max_units = max_units.max(change.abs());
        }
        total += i128::from(row);
        *r += row as f64 * unit;
    }
    *max_change = max_change.max(max_units as f32 / (1u64 << d.state_fraction_bits) as f32);
    total as f64 * unit
}

/// An unmeasured step's update of a population (fused with its one group's product when
/// `fused_shift` is given), run with the CPU's best vector instructions.
struct UnmeasuredUpdate<'a, T> {
    pop: &'a mut Population,
    d: &'a DigitalArithmetic,
    f: T,
    nudge: Option<&'a NudgeUnits>,
    fused_shift: Option<i32>,
}

impl<T: Transfer> pulp::WithSimd for UnmeasuredUpdate<'_, T> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> f64 {
        let UnmeasuredUpdate { pop, d, f, nudge, fused_shift } = self;
        match fused_shift {
            Some(shift) => digital_update_fused(pop, d, f, nudge, shift),
            None => digital_update_fast(pop, d, f, nudge),
        }
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
        let before = sq;
        let mut update = |s: &mut i32, a: &mut f32, acc: i64, bias: i64, decay: i64, nud| {
            let v = i64::from(*s);
            let new = neuron_update_with(d, f, v, acc, bias, decay, nud);
            sq += i128::from((new - v) * (new - v));
            max_units = max_units.max((new - v).abs());
            *s = new as i32;
            *a = (new >> shift).min(max_a) as f32;
        };
        // One loop per case (a nudge or none), without a branch per neuron.
        let cells = srow.iter_mut().zip(arow.iter_mut()).zip(drow).zip(bias.iter().zip(decay));
        match targets {
            None => {
                for (((s, a), &acc), (&bias, &decay)) in cells {
                    update(s, a, acc, bias, decay, None);
                }
            }
            Some((t, beta_q)) => {
                for ((((s, a), &acc), (&bias, &decay)), &y) in cells.zip(&t[b * n..(b + 1) * n]) {
                    update(s, a, acc, bias, decay, Some((beta_q, y)));
                }
            }
        }
        if let Some(r) = rows_sq.as_deref_mut() {
            r[b] += (sq - before) as f64 * unit;
        }
    }
    *max_change = max_change.max(max_units as f32 / (1u64 << d.state_fraction_bits) as f32);
    sq as f64 * unit
}

/// The digital update of [`digital_update`] on the fast path, with the constants of
/// [`digital_neuron_update`] hoisted out of the loop (the same integer arithmetic; the tests
/// compare the two bit for bit).
#[inline(always)]
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
#[inline(always)]
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
    let (bias, decay) = (&bias[..n], &decay[..n]);
    let c = FusedConstants { shift, half, acc_lo, acc_hi, db, mask, decay_half, out_shift, max_a, one };
    let mut sigma = if T::IDENTITY { Vec::new() } else { vec![0i32; n] };
    for b in 0..state.len() / n.max(1) {
        let r = b * n..(b + 1) * n;
        let (srow, arow, prow, crow) =
            (&mut state[r.clone()], &mut activity[r.clone()], &product[r.clone()], &statics[r.clone()]);
        let trow = targets.map(|(t, beta)| (&t[r.clone()], beta));
        // Zipped slices of one length and one loop per case, so that the compiler sees no bounds
        // checks or branches and vectorises the loops.
        if T::IDENTITY {
            let cells =
                srow.iter_mut().zip(arow.iter_mut()).zip(prow.iter().zip(crow)).zip(bias.iter().zip(decay));
            match trow {
                None => {
                    for (((s, a), (&p, &cst)), (&bias, &decay)) in cells {
                        let drive = c.drive(p, cst, bias, 0);
                        (*s, *a) = c.settle(*s, drive, decay);
                    }
                }
                Some((t, beta)) => {
                    for ((((s, a), (&p, &cst)), (&bias, &decay)), &y) in cells.zip(t) {
                        let drive = c.drive(p, cst, bias, (beta * (y as i32 - *s) + nudge_half) >> nf);
                        (*s, *a) = c.settle(*s, drive, decay);
                    }
                }
            }
        } else {
            // A table lookup does not vectorise by itself (no cheap gathers): drives in one
            // vectorised pass, the lookups in a pass of their own (register permutes on AVX-512,
            // see `sigmoid_permute`), the leaky step in another vectorised pass.
            let drives = sigma.iter_mut().zip(srow.iter()).zip(prow.iter().zip(crow)).zip(bias);
            match trow {
                None => {
                    for (((u, _), (&p, &cst)), &bias) in drives {
                        *u = c.drive(p, cst, bias, 0);
                    }
                }
                Some((t, beta)) => {
                    for ((((u, &v), (&p, &cst)), &bias), &y) in drives.zip(t) {
                        *u = c.drive(p, cst, bias, (beta * (y as i32 - v) + nudge_half) >> nf);
                    }
                }
            }
            f.apply_all_i32(&mut sigma);
            for (((s, a), &sig), &decay) in srow.iter_mut().zip(arow.iter_mut()).zip(&sigma).zip(decay) {
                (*s, *a) = c.settle(*s, sig, decay);
            }
        }
    }
    pop.fused_shift = None;
    0.0
}

/// The constants of [`digital_update_fused`] and its update of one neuron.
#[derive(Clone, Copy)]
struct FusedConstants {
    shift: i32,
    half: i32,
    acc_lo: i32,
    acc_hi: i32,
    db: u32,
    mask: i32,
    decay_half: i32,
    out_shift: u32,
    max_a: i32,
    one: i32,
}

impl FusedConstants {
    /// A neuron's drive from its product `p`, constant drive `cst`, bias and nudge drive (state
    /// units).
    #[inline(always)]
    fn drive(self, p: f32, cst: i32, bias: i32, nudge: i32) -> i32 {
        let acc = cst + ((exact_f32_to_i32(p) + self.half) >> self.shift);
        acc.clamp(self.acc_lo, self.acc_hi) + bias + nudge
    }

    /// The new state and activity of a neuron in state `v` whose transferred drive is `target`,
    /// with its decay.
    #[inline(always)]
    fn settle(self, v: i32, target: i32, decay: i32) -> (i32, f32) {
        let diff = target - v;
        let step = (diff >> self.db) * decay + (((diff & self.mask) * decay + self.decay_half) >> self.db);
        let new = (v + step).clamp(0, self.one);
        (new, (new >> self.out_shift).min(self.max_a) as f32)
    }
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
