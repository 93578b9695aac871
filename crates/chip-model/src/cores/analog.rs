//! The analog crossbar core: synapses are conductances in `[−R, R]` on a crossbar tile per
//! population, activities go through a DAC, column outputs through read noise and an ADC, and
//! weights move by device pulses.
//!
//! Neurons are the float core's rate units with each neuron's realised gain and offset; without
//! any non-ideality this core is the float core.

use ndarray::{Array2, ArrayView2, ArrayViewMut1};

use super::float;
use super::pulse_queue::{DrawnRows, PulseQueue};
use super::{CoreArithmetic, DeviceSampler, Dynamics, ExecutionPath, Fabric, NoiseSource, NudgeUnits};
use crate::error::Result;
use crate::learning_engine::{SumTarget, sop_sum_float_into};
use crate::learning_rule::SumOfProducts;
use crate::population::Population;
use crate::profile::{AnalogArithmetic, Bounds, ConductanceDrift};
use crate::shared_array::SharedArray;
use crate::synapse_group::SynapseGroup;

/// An analog core and its non-idealities.
#[derive(Debug, Clone)]
pub struct AnalogCore {
    pub(crate) a: AnalogArithmetic,
}

impl AnalogCore {
    /// The core of a profile's analog arithmetic.
    pub fn new(a: AnalogArithmetic) -> Self {
        Self { a }
    }

    /// True if devices take pulsed updates.
    fn pulsed(&self) -> bool {
        self.a.update.dw_min > 0.0
    }

    /// True if column outputs change at every step (noise or ADC).
    fn converts_outputs(&self) -> bool {
        let a = &self.a;
        a.output_noise > 0.0 || a.read_noise > 0.0 || a.adc_bits > 0
    }
}

impl CoreArithmetic for AnalogCore {
    fn configure_group(
        &self,
        group: &mut SynapseGroup,
        mirror: Option<&SynapseGroup>,
        devices: &DeviceSampler<'_>,
    ) -> Result<()> {
        group.gain = devices.synapse_gains(group.weights.nrows()).map(SharedArray::new);
        if let Some(m) = mirror {
            group.range = m.range;
        }
        sample_devices(&self.a, group, devices);
        Ok(())
    }

    fn store_weights(&self, group: &mut SynapseGroup, weights: ArrayView2<f32>) {
        group.weights.assign(&weights);
        let r = group.range;
        let levels = conductance_levels(&self.a);
        group.weights.mapv_inplace(|w| quantise_conductance(w.clamp(-r, r), r, levels));
    }

    fn encode_input(&self, activity: &mut Array2<f32>, values: ArrayView2<f32>) {
        let dac = dac_levels(&self.a);
        activity.zip_mut_with(&values, |a, &x| {
            let x = x.clamp(0.0, 1.0);
            *a = dac.map_or(x, |(step, levels)| dac_quantise(x, step, levels));
        });
    }

    fn check_saved_weights(&self, group: &SynapseGroup, weights: &[f32]) -> Option<String> {
        weights
            .iter()
            .find(|w| w.abs() > group.range)
            .map(|w| format!("holds {w}, outside its conductance range ±{}", group.range))
    }

    fn static_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        float::static_drive(net, q);
    }

    fn draw_read_noise(
        &self,
        populations: &[Population],
        batch: usize,
        rng: &mut rand::rngs::Xoshiro256PlusPlus,
    ) -> Option<super::read_noise::StepNoise> {
        if !self.converts_outputs() {
            return None;
        }
        let noisy = self.a.output_noise > 0.0 || self.a.read_noise > 0.0;
        // Every conversion seeds its lane generator, and noisy ones draw each example's numbers.
        let step = populations
            .iter()
            .map(|p| {
                if p.is_input || p.lif_template.is_some() {
                    return None;
                }
                let mut lanes = crate::lane_rng::LaneRng::from_rng(rng);
                noisy.then(|| super::read_noise::ConversionNoise::draw(batch, p.size, &mut lanes, rng))
            })
            .collect();
        Some(step)
    }

    fn compute_drive(&self, net: &mut Dynamics<'_>, q: usize) {
        float::compute_drive(net, q);
        if self.converts_outputs() {
            tile_outputs(&self.a, net, q);
        }
    }

    fn update_neurons(
        &self,
        pop: &mut Population,
        nudge: Option<&NudgeUnits>,
        rows_sq: Option<&mut [f64]>,
        max_change: &mut f32,
        _path: ExecutionPath,
    ) -> f64 {
        float::float_update(pop, nudge, dac_levels(&self.a), rows_sq, max_change)
    }

    fn learn_group(&self, net: &mut Fabric<'_>, g: usize, rule: &SumOfProducts, global: f32) {
        if !self.pulsed() {
            return float::learn_fast(net, SumTarget::Group(g), rule, global);
        }
        let (pre, post) = (net.groups[g].pre, net.groups[g].post);
        let mut delta = net.take_scratch(g);
        sop_sum_float_into(net, rule, Some(pre), post, &mut delta);
        pulsed_update(&self.a, net, g, &delta, f64::from(global));
        net.return_scratch(g, delta);
    }

    fn learn_bias(&self, net: &mut Fabric<'_>, p: usize, rule: &SumOfProducts, global: f32) {
        float::learn_fast(net, SumTarget::Bias(p), rule, global);
    }

    fn scales_update_itself(&self) -> bool {
        self.pulsed()
    }

    fn write_group_update(&self, net: &mut Fabric<'_>, g: usize, delta: &Array2<f64>, scale: f64) {
        if self.pulsed() {
            pulsed_update(&self.a, net, g, &delta.mapv(|x| x as f32), scale);
        } else {
            float::add_group_update(&mut net.groups[g], delta, scale);
        }
    }

    fn write_bias_update(&self, net: &mut Fabric<'_>, p: usize, delta: &Array2<f64>) {
        float::add_bias_update(&mut net.populations[p], delta);
    }

    fn programming_error(&self, group: &mut SynapseGroup, devices: &DeviceSampler<'_>, programming: u64) {
        let sigma = self.a.programming_noise as f32 * group.range;
        if sigma <= 0.0 {
            return;
        }
        let np = group.weights.nrows();
        let substream = (programming << 40) | (devices.group << 8) | DeviceStream::Programming as u64;
        let z = devices.device_draws(np, substream, rand_distr::StandardNormal);
        let r = group.range;
        group.weights.zip_mut_with(&z, |w, &z| *w = (*w + sigma * z).clamp(-r, r));
    }

    fn drifts(&self) -> bool {
        self.a.drift.drifts()
    }

    fn drift(&self, group: &mut SynapseGroup, devices: &DeviceSampler<'_>, seconds: f64, episode: u64) {
        if seconds <= 0.0 || !self.a.drift.drifts() {
            return;
        }
        let np = group.weights.nrows();
        let draws = |k: DeviceStream, episode: u64| {
            let substream = (episode << 40) | (devices.group << 8) | k as u64;
            devices.device_draws(np, substream, rand_distr::StandardNormal)
        };
        let r = group.range;
        match self.a.drift {
            ConductanceDrift::None => {}
            ConductanceDrift::PowerLaw { nu, nu_dtod, t0_s } => {
                let log_t = ((seconds + t0_s) / t0_s).ln();
                let z = draws(DeviceStream::DriftExponent, 0);
                group.weights.zip_mut_with(&z, |w, &z| {
                    let nu_i = (nu + nu_dtod * f64::from(z)).max(0.0);
                    *w *= (-nu_i * log_t).exp() as f32;
                });
            }
            ConductanceDrift::Relaxation { sigma, t0_s } => {
                let spread = (sigma * (1.0 + seconds / t0_s).log10()) as f32 * r;
                let z = draws(DeviceStream::Relaxation, episode);
                group.weights.zip_mut_with(&z, |w, &z| *w = (*w + spread * z).clamp(-r, r));
            }
        }
    }

    fn drifts_while_training(&self) -> bool {
        self.a.drift_while_training && self.a.drift.drifts()
    }
}

/// Substreams of a group's per-device draws (below the group index, which is shifted by 8 bits).
#[derive(Debug, Clone, Copy)]
enum DeviceStream {
    /// Write error of one programming (combined with the programming count).
    Programming = 5,
    /// Power-law drift exponent of each device.
    DriftExponent = 6,
    /// Direction of each device's relaxation (combined with the retention episode).
    Relaxation = 7,
}

/// Each device's pulse sizes (device-to-device spread, asymmetry) and faults.
fn sample_devices(a: &AnalogArithmetic, group: &mut SynapseGroup, devices: &DeviceSampler<'_>) {
    let np = group.weights.nrows();
    let gid = devices.group;
    let normals = |k: u64| devices.device_draws(np, (gid << 8) | k, rand_distr::StandardNormal);
    let uniforms = |k: u64| devices.device_draws(np, (gid << 8) | k, rand_distr::StandardUniform);
    let u = &a.update;
    if u.dw_min > 0.0 {
        let nominal = (u.dw_min * f64::from(group.range)) as f32;
        let (z_size, z_asym) = (normals(1), normals(2));
        let (dtod, mean_asym, asym_sd) = (u.dw_min_dtod as f32, u.up_down as f32, u.up_down_dtod as f32);
        let size = z_size.mapv(|z| nominal * (1.0 + dtod * z).max(0.0));
        let asym = z_asym.mapv(|z| (mean_asym + asym_sd * z).clamp(-1.0, 1.0));
        group.step_up = Some((&size * &asym.mapv(|x| 1.0 + x)).into());
        group.step_down = Some((&size * &asym.mapv(|x| 1.0 - x)).into());
    }
    if a.stuck_on_fraction > 0.0 || a.stuck_off_fraction > 0.0 {
        let (which, sign) = (uniforms(3), uniforms(4));
        let (on, off) = (a.stuck_on_fraction as f32, a.stuck_off_fraction as f32);
        group.stuck.clear();
        for ((j, i), &x) in which.indexed_iter() {
            if x < off {
                group.stuck.push((j, i, 0.0));
            } else if x < off + on {
                let value = if sign[[j, i]] < 0.5 { -group.range } else { group.range };
                group.stuck.push((j, i, value));
            }
        }
    }
}

/// Read noise and ADC on the column outputs of the tile(s) of population `q`.
///
/// All synapse groups into a population share its tile's columns (their rows are stacked on the
/// same crossbar), so each neuron's input is converted once per step: one Gaussian per column
/// output and one ADC conversion. The tile's conductance range is the largest range of its groups.
fn tile_outputs(a: &AnalogArithmetic, net: &mut Dynamics<'_>, q: usize) {
    let (groups, pops) = (net.groups, &*net.populations);
    let incoming = || groups.iter().filter(move |g| g.post.0 == q);
    let tile_range = incoming().fold(f32::MIN_POSITIVE, |m, g| m.max(g.range));
    let out_sd = a.output_noise as f32 * tile_range;
    let read = a.read_noise as f32;
    let mut variance = vec![out_sd * out_sd; net.batch];
    if read > 0.0 {
        for g in incoming() {
            let scale = (read * g.range).powi(2);
            for (v, x) in variance.iter_mut().zip(pops[g.pre.0].activity.rows()) {
                *v += scale * x.iter().map(|v| v * v).sum::<f32>();
            }
        }
    }
    let adc = (a.adc_bits > 0).then(|| {
        let levels = ((1u64 << (a.adc_bits - 1)) - 1) as f32;
        ((a.adc_range * a.dac_range) as f32 * tile_range / levels, levels)
    });
    let n = net.populations[q].size;
    let first_row = net.first_row;
    // The conversion's random numbers: drawn here from the chip's noise stream (one lane
    // generator per conversion, then each example's numbers in turn), or drawn ahead in that order.
    let mut source = match &mut net.noise {
        NoiseSource::InPlace(rng) => {
            let lanes = crate::lane_rng::LaneRng::from_rng(&mut **rng);
            RowNoise::InPlace { lanes, rng, bits: Vec::with_capacity(n) }
        }
        NoiseSource::Drawn(step) => match step.get(q).and_then(Option::as_ref) {
            Some(drawn) => RowNoise::Drawn { drawn, words: Vec::with_capacity(n.div_ceil(2)) },
            None => RowNoise::Off,
        },
        NoiseSource::None => RowNoise::Off,
    };
    let noisy = (out_sd > 0.0 || read > 0.0) && !matches!(source, RowNoise::Off);
    let Some(drive) = net.populations[q].drive_f.as_slice_mut() else {
        unreachable!("population arrays are allocated in standard layout")
    };
    let mut z = vec![0.0f32; n];
    for (b, (row, var)) in drive.chunks_exact_mut(n).zip(variance).enumerate() {
        let sd = var.sqrt();
        if noisy {
            match &mut source {
                RowNoise::InPlace { lanes, rng, bits } => {
                    crate::gaussian::fill_standard_normal_lanes(&mut z, lanes, bits, &mut **rng)
                }
                RowNoise::Drawn { drawn, words } => drawn.normals(first_row + b, &mut z, words),
                RowNoise::Off => {}
            }
        }
        match adc {
            Some((step, levels)) if noisy => {
                for (v, &z) in row.iter_mut().zip(&z) {
                    *v = crate::fixed_point::quantise_clamped(*v + sd * z, step, -levels, levels);
                }
            }
            Some((step, levels)) => {
                for v in row.iter_mut() {
                    *v = crate::fixed_point::quantise_clamped(*v, step, -levels, levels);
                }
            }
            None if noisy => {
                for (v, &z) in row.iter_mut().zip(&z) {
                    *v += sd * z;
                }
            }
            None => {}
        }
    }
}

/// Where one conversion's examples take their read noise from (one value per conversion, on the
/// stack: the size of the in-place variant does not matter).
#[allow(clippy::large_enum_variant)]
enum RowNoise<'a> {
    /// Drawn now: the conversion's lane generator, the chip's noise stream (tails), scratch words.
    InPlace { lanes: crate::lane_rng::LaneRng, rng: &'a mut rand::rngs::Xoshiro256PlusPlus, bits: Vec<u32> },
    /// Drawn ahead (and scratch words to make an example's words again).
    Drawn { drawn: &'a super::read_noise::ConversionNoise, words: Vec<u32> },
    /// No noise.
    Off,
}

/// DAC: (step, number of steps) for activities in [0, dac_range], or `None` when exact.
pub(crate) fn dac_levels(a: &AnalogArithmetic) -> Option<(f32, f32)> {
    (a.dac_bits > 0).then(|| {
        let levels = ((1u64 << a.dac_bits) - 1) as f32;
        (a.dac_range as f32 / levels, levels)
    })
}

/// Quantises a non-negative activity to the DAC grid, saturating at full scale.
#[inline]
pub(crate) fn dac_quantise(x: f32, step: f32, levels: f32) -> f32 {
    crate::fixed_point::quantise_clamped(x, step, 0.0, levels)
}

/// Number of conductance steps on each side of zero (0 = continuous).
pub(crate) fn conductance_levels(a: &AnalogArithmetic) -> u32 {
    if a.conductance_bits == 0 { 0 } else { (1u32 << (a.conductance_bits - 1)).saturating_sub(1).max(1) }
}

/// Rounds a conductance in [−r, r] to the nearest of `levels` steps per side (`levels` = 0: as is).
#[inline]
pub(crate) fn quantise_conductance(w: f32, r: f32, levels: u32) -> f32 {
    if levels == 0 {
        w
    } else {
        let step = r / levels as f32;
        crate::fixed_point::round_even_f32(w / step) * step
    }
}

/// Random words a pulsed update keeps drawn ahead of the rows being applied (bounds its scratch
/// memory; the drawing thread applies rows itself while it is this far ahead, so the words are
/// used while they are still in its cache).
const PULSE_WORDS_AHEAD: usize = 1 << 16;

/// Random words per chunk of rows handed from the drawing thread to the applying ones.
const PULSE_CHUNK_WORDS: usize = 1 << 13;

/// Some rows of a synapse group's weights (row index, row, its effective weights when they are
/// refreshed with the update), applied together by one thread.
type RowChunk<'w> = std::sync::Mutex<Vec<(usize, ArrayViewMut1<'w, f32>, Option<ArrayViewMut1<'w, f32>>)>>;

/// Every device moves by whole pulses toward `global · delta`.
///
/// A requested change `Δ` becomes `n = ⌊|Δ|/dw_min⌋` pulses plus one with the probability of the
/// remainder; each pulse moves the conductance by the device's own up or down step, scaled by the
/// soft-bound factor, with cycle-to-cycle noise (the sum of `n` noisy pulses is drawn as one
/// Gaussian of standard deviation `dw_min_std·√n` steps). Random numbers come from generators
/// seeded by (chip, group, update count) and are drawn row by row in synapse order, so forward
/// and feedback devices (different groups) are independent; the drawing is sequential, the rows'
/// updates then run in parallel, and results do not depend on the threads.
pub(crate) fn pulsed_update(
    a: &AnalogArithmetic,
    net: &mut Fabric<'_>,
    g: usize,
    delta: &Array2<f32>,
    global: f64,
) {
    use rand::SeedableRng;
    let (seed, threads) = (net.seed, net.threads);
    let grp = &mut net.groups[g];
    let (Some(up), Some(down)) = (grp.step_up.as_ref(), grp.step_down.as_ref()) else {
        return;
    };
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
        crate::rounding_noise::mix(seed ^ 0x7075_6c73_6564)
            ^ crate::rounding_noise::mix((g as u64) << 32 ^ grp.updates),
    );
    let r = grp.range;
    let soft = a.update.bounds == Bounds::Soft;
    let c2c = a.update.dw_min_std as f32;
    let levels = conductance_levels(a);
    let pulse = PulseParams {
        to_pulses: (global / (a.update.dw_min * f64::from(r))) as f32,
        bound_slope: if soft { 1.0 / r } else { 0.0 },
        c2c,
        range: r,
    };
    let cols = delta.ncols();
    let (Some(dl), Some(ul), Some(downl)) = (delta.as_slice(), up.as_slice(), down.as_slice()) else {
        unreachable!("update and device arrays are allocated in standard layout")
    };
    // Every device of a row with some request draws one 32-bit word from lane generators seeded
    // by `rng`: 16 bits round its pulse count, 16 bits give the Gaussian of its cycle-to-cycle
    // noise (tails drawn exactly from `rng`). The row's update is then one branch-free pass
    // that the compiler vectorises (drawing for devices that do not move costs less than
    // finding the ones that do).
    let mut lanes = crate::lane_rng::LaneRng::from_rng(&mut rng);
    let is_moving = |j: usize| !crate::learning_engine::all_zero(&dl[j * cols..(j + 1) * cols]);
    // A moved row's stuck devices are put back and its effective weights (conductance × device
    // gain) refreshed right after its update, while the row is in cache (separate passes over a
    // large group afterwards were bound by memory bandwidth, as slow on two threads as on one, and
    // the stuck devices' scattered writes alone took a tenth of the update); rows that do not move
    // keep their stuck values from the last write.
    let stuck = &grp.stuck;
    let in_place = grp.effective_in_place();
    let gain = if in_place { grp.gain.as_ref().and_then(|k| k.as_slice()) } else { None };
    let fused = gain.is_some() && grp.effective.as_ref().is_some_and(|e| e.is_standard_layout());
    // One row's update from its words and normals.
    let apply = |j: usize, wrow: &mut [f32], erow: Option<&mut [f32]>, words: &[u32], z: &[f32]| {
        let span = j * cols..(j + 1) * cols;
        let (drow, uprow, downrow) = (&dl[span.clone()], &ul[span.clone()], &downl[span.clone()]);
        pulse_row(PulseRow { drow, wrow, uprow, downrow, words, z }, &pulse);
        if levels > 0 {
            // Devices that did not move are on the grid already: quantising is idempotent.
            for w in wrow.iter_mut() {
                *w = quantise_conductance(*w, r, levels);
            }
        }
        for &(_, i, value) in crate::synapse_group::stuck_in_row(stuck, j) {
            wrow[i] = value;
        }
        if let (Some(erow), Some(gain)) = (erow, gain) {
            for ((e, &w), &k) in erow.iter_mut().zip(wrow.iter()).zip(&gain[span]) {
                *e = w * k;
            }
        }
    };
    let mut moving = Vec::new();
    let rows_per_chunk = (PULSE_CHUNK_WORDS / cols.max(1)).max(1);
    // Threads pay from a few thousand devices (several nanoseconds each) in more than one chunk.
    let small =
        delta.len() < crate::parallel::PARALLEL_MIN_COSTLY_ELEMENTS || delta.nrows() <= rows_per_chunk;
    if threads == 1 || small {
        // On one thread: each row's numbers drawn just before its update.
        let (mut words, mut z) = (vec![0u32; cols], vec![0.0f32; cols]);
        let Some(wl) = grp.weights.as_slice_mut() else {
            unreachable!("weights are allocated in standard layout")
        };
        let mut el = grp.effective.as_mut().filter(|_| fused).and_then(|e| e.as_slice_mut());
        for j in (0..delta.nrows()).filter(|&j| is_moving(j)) {
            moving.push(j);
            lanes.fill_u32(&mut words);
            if c2c > 0.0 {
                crate::gaussian::normals_from_high_halves(&mut z, &words, &mut rng);
            }
            let erow = el.as_deref_mut().map(|e| &mut e[j * cols..(j + 1) * cols]);
            apply(j, &mut wl[j * cols..(j + 1) * cols], erow, &words, &z);
        }
    } else {
        moving = (0..delta.nrows()).filter(|&j| is_moving(j)).collect();
        // One thread draws the rows' words (and tail samples) in row order, chunk after chunk,
        // while every thread applies drawn chunks as they come (rows are independent: any thread
        // may apply any chunk); the drawing thread applies chunks itself when it is far ahead.
        let mut views: Vec<Option<ArrayViewMut1<f32>>> =
            grp.weights.rows_mut().into_iter().map(Some).collect();
        let mut effective: Vec<Option<ArrayViewMut1<f32>>> = match grp.effective.as_mut() {
            Some(e) if fused => e.rows_mut().into_iter().map(Some).collect(),
            _ => Vec::new(),
        };
        let chunks: Vec<RowChunk> = moving
            .chunks(rows_per_chunk)
            .map(|js| {
                let rows = js.iter().filter_map(|&j| {
                    let erow = effective.get_mut(j).and_then(Option::take);
                    Some((j, views[j].take()?, erow))
                });
                std::sync::Mutex::new(rows.collect())
            })
            .collect();
        let queue =
            PulseQueue::new(chunks.len(), (PULSE_WORDS_AHEAD / (rows_per_chunk * cols.max(1))).max(1));
        let apply_chunk = |c: usize| {
            let Some(drawn) = queue.take(c) else { return };
            let mut rows = chunks[c].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut z = vec![0.0f32; cols];
            for (k, (j, wrow, erow)) in rows.iter_mut().enumerate() {
                let row_words = &drawn.words[k * cols..(k + 1) * cols];
                if c2c > 0.0 {
                    let row_tails = crate::gaussian::tails_of_row(&drawn.tails, k);
                    crate::gaussian::normals_from_high_halves_and_tails(&mut z, row_words, row_tails);
                }
                let Some(wrow) = wrow.as_slice_mut() else {
                    unreachable!("weights are allocated in standard layout")
                };
                apply(*j, wrow, erow.as_mut().and_then(|e| e.as_slice_mut()), row_words, &z);
            }
        };
        let mut parts: Vec<Option<(crate::lane_rng::LaneRng, &mut rand::rngs::Xoshiro256PlusPlus)>> =
            (0..threads).map(|_| None).collect();
        parts[0] = Some((lanes, &mut rng));
        crate::parallel::for_each_part(&mut parts, |_, part| {
            if let Some((lanes, rng)) = part.as_mut() {
                let _unblock = queue.finish_drawing_on_drop();
                let mut row_tails = crate::gaussian::TailSamples::new();
                for c in 0..chunks.len() {
                    while queue.far_ahead(c) {
                        match queue.next() {
                            Some(ready) => apply_chunk(ready),
                            None => break,
                        }
                    }
                    let n_rows = moving.len().min((c + 1) * rows_per_chunk) - c * rows_per_chunk;
                    let mut drawn = DrawnRows { words: vec![0u32; n_rows * cols], tails: Vec::new() };
                    for (k, row_words) in drawn.words.chunks_exact_mut(cols).enumerate() {
                        lanes.fill_u32(row_words);
                        if c2c > 0.0 {
                            row_tails.clear();
                            crate::gaussian::draw_tails_of_halves(
                                cols,
                                |i| row_words[i] >> 16,
                                &mut row_tails,
                                &mut **rng,
                            );
                            drawn.tails.extend(row_tails.iter().map(|&(i, x)| (k as u32, i, x)));
                        }
                    }
                    queue.publish(c, drawn);
                }
            }
            while let Some(c) = queue.next() {
                apply_chunk(c);
            }
        });
    }
    if !fused {
        grp.refresh_effective_rows(&moving, threads);
    }
}

/// Scalars of one pulsed update (see [`pulsed_update`]).
struct PulseParams {
    /// Pulses per unit of requested change.
    to_pulses: f32,
    /// Soft bounds: `1/R` (a pulse's effect shrinks linearly toward the bound it moves to);
    /// hard bounds: 0.
    bound_slope: f32,
    /// Cycle-to-cycle noise of one pulse, relative to its size.
    c2c: f32,
    /// Conductance range `R`: devices stay in `[−R, R]`.
    range: f32,
}

/// One row of devices and its random numbers: requests, conductances, the devices' up and down
/// steps, one random word (its low 16 bits round the pulse count) and one standard normal number
/// (pulse noise) per device.
struct PulseRow<'a> {
    drow: &'a [f32],
    wrow: &'a mut [f32],
    uprow: &'a [f32],
    downrow: &'a [f32],
    words: &'a [u32],
    z: &'a [f32],
}

/// Moves one row of devices by whole pulses. Branch-free over slices of one length, with
/// unconditional loads, so that the compiler vectorises it (a request of zero moves nothing:
/// zero pulses, zero jitter).
fn pulse_row(row: PulseRow, p: &PulseParams) {
    let n = row.drow.len();
    let (wrow, words, z) = (&mut row.wrow[..n], &row.words[..n], &row.z[..n]);
    let (uprow, downrow) = (&row.uprow[..n], &row.downrow[..n]);
    for i in 0..n {
        let want = row.drow[i] * p.to_pulses;
        let w = wrow[i];
        // ⌊|want| + u⌋ with u uniform on the 2^-16 grid: ⌊|want|⌋ pulses, plus one with the
        // probability of the remainder (to within 2^-16).
        let u = (words[i] & 0xFFFF) as i32 as f32 * (1.0 / 65_536.0);
        let pulses = (want.abs().min(1e9) + u) as i32 as f32;
        let pos = want > 0.0;
        let step = select(pos, uprow[i], -downrow[i]);
        let bound = 1.0 - select(pos, w, -w) * p.bound_slope;
        let jitter = p.c2c * pulses.sqrt() * z[i];
        wrow[i] = (w + step * bound.max(0.0) * (pulses + jitter)).clamp(-p.range, p.range);
    }
}

/// `if c { a } else { b }` on the bits, so that both operands are loaded and the choice
/// vectorises (a plain `if` on two loads does not).
#[inline(always)]
fn select(c: bool, a: f32, b: f32) -> f32 {
    let m = 0u32.wrapping_sub(u32::from(c));
    f32::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}
