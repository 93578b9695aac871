//! The emulated chip: allocation of populations and synapses on cores, state I/O and counters.
//!
//! The pipeline is the one of nengo-loihi and Lava: a user *builds* populations and synapse groups
//! in real units, the chip *discretises* them into its number formats (weight exponents, decay
//! constants, bias mantissas) and *allocates* them on cores against the profile's limits, then the
//! user *runs* steps (see `chip_step.rs`) and applies local learning (see `learning_engine.rs`).

use ndarray::{Array2, ArrayView2};

use crate::core_resources::{
    CoreBlock, CoreUsage, FanInSegment, GroupRoute, axon_synapse_bits, spike_destinations,
};
use crate::counters::OpCounters;
use crate::energy::EnergyReport;
use crate::error::{ChipError, Result};
use crate::fixed_point::{max_signed_magnitude, max_unsigned, quantise_unit, saturate_signed};
use crate::mismatch::{MismatchQuantity, MismatchSampler};
use crate::population::{Population, PopulationId, PopulationKind, PopulationSpec};
use crate::profile::{AnalogArithmetic, DigitalArithmetic, HardwareProfile};
use crate::rounding_noise::{RoundingNoise, mix};
use crate::synapse_group::{ConnectOptions, GroupId, SynapseGroup};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// One integer state value per neuron for each example of the batch.
pub type LifStates = Vec<Vec<i64>>;

/// Which implementation computes steps and learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionPath {
    /// Batched matrix products (the normal path).
    #[default]
    Fast,
    /// Plain scalar loops, one neuron and one synapse at a time: the reference the fast path is
    /// checked against.
    Reference,
}

/// A digital population's neuron parameters as the core holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitalNeurons<'a> {
    /// Per-neuron decay, out of `2^decay_bits` (the neuron's time step is `decay / 2^decay_bits`).
    pub decay: &'a [i64],
    /// Per-neuron bias mantissa.
    pub bias_mantissa: &'a [i64],
    /// Bias exponent (bias = mantissa · 2^exponent in state units).
    pub bias_exponent: u32,
}

/// A saved copy of every neuron's state, for restarting a phase from the same point.
#[derive(Debug, Clone)]
pub struct StateSnapshot {
    states_f: Vec<Array2<f32>>,
    states_i: Vec<Array2<i32>>,
    activities: Vec<Array2<f32>>,
    versions: Vec<u64>,
}

/// One emulated chip instance: a profile, realised device parameters and the mapped network.
#[derive(Debug, Clone)]
pub struct Chip {
    pub(crate) profile: HardwareProfile,
    pub(crate) digital: Option<DigitalArithmetic>,
    pub(crate) analog: Option<AnalogArithmetic>,
    pub(crate) noise_rng: Xoshiro256PlusPlus,
    pub(crate) seed: u64,
    pub(crate) mismatch: MismatchSampler,
    pub(crate) noise: RoundingNoise,
    pub(crate) cores: Vec<CoreUsage>,
    pub(crate) populations: Vec<Population>,
    pub(crate) groups: Vec<SynapseGroup>,
    pub(crate) batch: usize,
    pub(crate) static_dirty: bool,
    pub(crate) path: ExecutionPath,
    pub(crate) threads: usize,
    pub(crate) last_residual: f32,
    pub(crate) last_residuals: Vec<f32>,
    pub(crate) last_max_change: f32,
    /// Next free neuron slot on each core (mismatch streams are addressed by slot).
    next_slot: Vec<usize>,
    /// Where each population's spikes go, per sending block (built on first use after a change).
    pub(crate) spike_routes: Option<Vec<Vec<crate::chip_step::BlockRoute>>>,
    /// Reused buffer for analog cores' summed updates (saves allocating and page-faulting a
    /// pre × post array at every update).
    pub(crate) update_scratch: Array2<f32>,
}

impl Chip {
    /// A chip instance of `profile` whose device mismatch is drawn from `seed`.
    pub fn new(profile: &HardwareProfile, seed: u64) -> Result<Self> {
        profile.validate()?;
        let cores = profile.chip.total_cores();
        let digital = profile.digital().cloned();
        let analog = profile.analog().cloned();
        Ok(Self {
            profile: profile.clone(),
            digital,
            analog,
            noise_rng: Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ 0x0072_6561_645f_6e6f)),
            seed,
            mismatch: MismatchSampler::new(profile.mismatch.clone(), seed),
            noise: RoundingNoise::new(seed),
            cores: vec![CoreUsage::default(); cores],
            populations: Vec::new(),
            groups: Vec::new(),
            batch: 1,
            static_dirty: true,
            path: ExecutionPath::Fast,
            threads: 1,
            last_residual: 0.0,
            last_residuals: Vec::new(),
            last_max_change: 0.0,
            next_slot: vec![0; cores],
            spike_routes: None,
            update_scratch: Array2::zeros((0, 0)),
        })
    }

    /// The profile this chip emulates.
    pub fn profile(&self) -> &HardwareProfile {
        &self.profile
    }

    /// Restarts the read-noise generator on stream `stream` of this chip instance. Evaluation uses
    /// it to give every batch its own noise, independent of which worker computes it.
    pub fn reseed_noise(&mut self, stream: u64) {
        self.noise_rng =
            Xoshiro256PlusPlus::seed_from_u64(mix(self.seed ^ 0x0072_6561_645f_6e6f) ^ mix(stream));
    }

    /// Chooses the fast or the reference implementation.
    pub fn set_execution_path(&mut self, path: ExecutionPath) {
        self.path = path;
    }

    /// Worker threads used inside one step (results do not depend on it).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Allocates a population and returns its handle.
    pub fn add_population(&mut self, spec: PopulationSpec) -> Result<PopulationId> {
        if spec.size == 0 {
            return Err(ChipError::InvalidConfig(format!("population `{}` has no neurons", spec.name)));
        }
        self.spike_routes = None;
        let id = PopulationId(self.populations.len());
        let b = self.batch;
        let n = spec.size;
        let mut pop = Population {
            name: spec.name.clone(),
            size: n,
            is_input: true,
            placement: Vec::new(),
            dt_designed: Vec::new(),
            dt: Vec::new(),
            decay: Vec::new(),
            bias: vec![0.0; n],
            neuron_gain: vec![1.0; n],
            neuron_offset: vec![0.0; n],
            bias_mant: vec![0; n],
            out_bits: self.digital.as_ref().map_or(0, |d| d.input_bits),
            state_f: Array2::zeros((b, n)),
            state_i: Array2::zeros((b, n)),
            activity: Array2::zeros((b, n)),
            static_f: Array2::zeros((b, n)),
            static_i: Array2::zeros((b, n)),
            static_i32: Vec::new(),
            fused_shift: None,
            drive_f: Array2::zeros((b, n)),
            drive_i: Array2::zeros((b, n)),
            product: Array2::zeros((b, n)),
            traces: Default::default(),
            version: 0,
            nonzero_prefix: vec![0; n + 1],
            nonzero_counts: Vec::new(),
            bias_updates: 0,
            lif_template: None,
            lif: Vec::new(),
        };
        if let PopulationKind::SpikingLif { params, placement } = spec.kind {
            if self.digital.is_none() {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{}`: CUBA LIF neurons need a digital profile (`{}` is not)",
                    spec.name, self.profile.name
                )));
            }
            self.check_placement(&spec.name, n, &placement)?;
            let template = crate::cuba_lif::CubaLif::new(params)?;
            pop.is_input = false;
            pop.out_bits = 1;
            pop.dt = vec![1.0; n];
            pop.decay = vec![1; n];
            pop.lif = vec![template.clone(); b];
            pop.lif_template = Some(template);
            for block in &placement {
                self.next_slot[block.core] += block.len;
                self.cores[block.core].neurons += block.len as u64;
            }
            pop.placement = placement;
            self.populations.push(pop);
            return Ok(id);
        }
        if let PopulationKind::Neurons { dt, bias, placement, .. } = spec.kind {
            if bias.len() != n {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{}`: {} biases for {} neurons",
                    spec.name,
                    bias.len(),
                    n
                )));
            }
            if let Some(bad) = dt.iter().find(|&&x| !(x > 0.0 && x <= 1.0)) {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{}`: time step dt = {bad} is outside (0, 1]",
                    spec.name
                )));
            }
            if let Some(bad) = bias.iter().find(|x| !x.is_finite()) {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{}`: bias {bad} is not finite",
                    spec.name
                )));
            }
            self.check_placement(&spec.name, n, &placement)?;
            pop.is_input = false;
            pop.out_bits = self.digital.as_ref().map_or(0, |d| d.activation_bits);
            // Realised time constants: designed dt divided by each device's tau factor.
            let mut realised = Vec::with_capacity(n);
            for block in &placement {
                let first = self.next_slot[block.core];
                let factors =
                    self.mismatch.factors(MismatchQuantity::NeuronTau, block.core, 0, first, block.len);
                for (k, f) in factors.iter().enumerate() {
                    realised.push((dt[block.start + k] / f).clamp(f32::MIN_POSITIVE, 1.0));
                }
            }
            pop.dt_designed = dt;
            let mut gains = Vec::with_capacity(n);
            let mut offsets = Vec::with_capacity(n);
            let offset_sd = self.mismatch.spread(MismatchQuantity::NeuronOffset);
            for block in &placement {
                let first = self.next_slot[block.core];
                gains.extend(self.mismatch.factors(
                    MismatchQuantity::NeuronGain,
                    block.core,
                    0,
                    first,
                    block.len,
                ));
                if offset_sd > 0.0 {
                    let normal = rand_distr::Normal::new(0.0, offset_sd)
                        .map_err(|e| ChipError::InvalidConfig(e.to_string()))?;
                    let draws = self.mismatch.draws(
                        MismatchQuantity::NeuronOffset,
                        block.core,
                        0,
                        first + block.len,
                        normal,
                    );
                    offsets.extend_from_slice(&draws[first..]);
                } else {
                    offsets.extend(std::iter::repeat_n(0.0, block.len));
                }
            }
            pop.neuron_gain = gains;
            pop.neuron_offset = offsets;
            match &self.digital {
                None => {
                    pop.dt = realised;
                    pop.bias = bias;
                }
                Some(d) => {
                    let full = 1i64 << d.decay_bits;
                    pop.decay = realised
                        .iter()
                        .map(|&x| ((f64::from(x) * full as f64).round() as i64).clamp(1, full))
                        .collect();
                    pop.dt = pop.decay.iter().map(|&k| k as f32 / full as f32).collect();
                    pop.bias_mant = bias_mantissas(d, &bias);
                }
            }
            for block in &placement {
                self.next_slot[block.core] += block.len;
                self.cores[block.core].neurons += block.len as u64;
            }
            pop.placement = placement;
        }
        self.populations.push(pop);
        Ok(id)
    }

    fn check_placement(&self, name: &str, n: usize, placement: &[CoreBlock]) -> Result<()> {
        let mut next = 0usize;
        for block in placement {
            if block.start != next || block.len == 0 {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{name}`: placement blocks must cover 0..{n} in order without gaps \
                     (block at core {} starts at {} with {} neurons, expected start {next})",
                    block.core, block.start, block.len
                )));
            }
            if block.core >= self.cores.len() {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{name}`: core {} does not exist; the board has {} cores",
                    block.core,
                    self.cores.len()
                )));
            }
            next += block.len;
            if let Some(max) = self.profile.core_limits.max_neurons {
                let needed = self.cores[block.core].neurons + block.len as u64;
                if needed > u64::from(max) {
                    return Err(ChipError::CoreLimit {
                        what: format!("neurons (population `{name}`)"),
                        core: block.core,
                        needed,
                        limit: max.into(),
                    });
                }
            }
        }
        if next != n {
            return Err(ChipError::InvalidConfig(format!(
                "population `{name}`: placement covers {next} of {n} neurons"
            )));
        }
        Ok(())
    }

    /// Connects `pre` to `post` with dense weights (`pre.size × post.size`, real units).
    pub fn connect(
        &mut self,
        pre: PopulationId,
        post: PopulationId,
        weights: ArrayView2<f32>,
        options: ConnectOptions,
    ) -> Result<GroupId> {
        let (np, nq) = (self.pop(pre)?.size, self.pop(post)?.size);
        if self.populations[post.0].is_input {
            return Err(ChipError::InvalidConfig(format!(
                "population `{}` is an input and cannot receive synapses",
                self.populations[post.0].name
            )));
        }
        if self.populations[post.0].lif_template.is_some() || self.populations[pre.0].lif_template.is_some() {
            return Err(ChipError::InvalidConfig(
                "CUBA LIF populations send and receive spikes through `connect_lif`".into(),
            ));
        }
        if weights.dim() != (np, nq) {
            return Err(ChipError::InvalidConfig(format!(
                "weights from `{}` to `{}` have shape {:?}, expected ({np}, {nq})",
                self.populations[pre.0].name,
                self.populations[post.0].name,
                weights.dim()
            )));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(ChipError::InvalidConfig("weights contain a non-finite value".into()));
        }
        if let Some(m) = options.mirror_of {
            let fwd = self.groups.get(m.0).ok_or_else(|| {
                ChipError::InvalidConfig(format!("mirror_of names unknown synapse group {}", m.0))
            })?;
            if fwd.pre != post || fwd.post != pre || fwd.mirror_of.is_some() {
                return Err(ChipError::InvalidConfig(
                    "a mirror group must connect the forward group's post to its pre".into(),
                ));
            }
        }
        self.allocate_synapses(pre, post, &options.fan_in)?;
        self.spike_routes = None;

        let range =
            options.weight_range.unwrap_or_else(|| weights.iter().fold(0.0f32, |m, w| m.max(w.abs())));
        let mut group = SynapseGroup::new(pre, post, (np, nq), range.max(f32::MIN_POSITIVE));
        group.mirror_of = options.mirror_of;
        group.fan_in = options.fan_in.clone();
        let gid = self.groups.len() as u64;
        match &self.digital {
            None => {
                let cv = self.mismatch.spread(MismatchQuantity::SynapseGain);
                if cv > 0.0 {
                    group.gain = Some(self.sample_group_array(post, np, |core, n| {
                        self.mismatch.factors(MismatchQuantity::SynapseGain, core, gid, 0, n)
                    }));
                }
            }
            Some(d) => {
                group.exponent = match options.mirror_of {
                    Some(m) => self.groups[m.0].exponent,
                    None => weight_exponent(d, range),
                };
                group.lsb = weight_lsb(d, group.exponent);
            }
        }
        if let Some(a) = self.analog.clone() {
            if let Some(m) = options.mirror_of {
                group.range = self.groups[m.0].range;
            }
            self.sample_devices(&a, &mut group, gid)?;
        }
        let id = GroupId(self.groups.len());
        self.groups.push(group);
        self.write_weights(id, weights)?;
        Ok(id)
    }

    /// Connects `pre` (an input or a CUBA LIF population) to the CUBA LIF population `post` with
    /// synapses in Loihi's dense format (integer weights out × in, exponent, precision).
    pub fn connect_lif(
        &mut self,
        pre: PopulationId,
        post: PopulationId,
        dense: crate::cuba_lif::LoihiDense,
    ) -> Result<GroupId> {
        let (np, nq) = (self.pop(pre)?.size, self.pop(post)?.size);
        let (pre_pop, post_pop) = (&self.populations[pre.0], &self.populations[post.0]);
        if post_pop.lif_template.is_none() {
            return Err(ChipError::InvalidConfig(format!(
                "population `{}` is not a CUBA LIF population",
                post_pop.name
            )));
        }
        if !pre_pop.is_input && pre_pop.lif_template.is_none() {
            return Err(ChipError::InvalidConfig(format!(
                "population `{}` sends no spikes; connect rate neurons with `connect`",
                pre_pop.name
            )));
        }
        if (dense.outputs(), dense.inputs()) != (nq, np) {
            return Err(ChipError::InvalidConfig(format!(
                "dense weights are {}×{}, expected {nq}×{np} (out × in)",
                dense.outputs(),
                dense.inputs()
            )));
        }
        self.allocate_synapses(pre, post, &[])?;
        self.spike_routes = None;
        let id = GroupId(self.groups.len());
        let mut group = SynapseGroup::new(pre, post, (np, nq), 1.0);
        group.dense = Some(dense);
        self.groups.push(group);
        Ok(id)
    }

    /// CUBA LIF populations: current `u` and voltage `v` of each neuron for each example.
    pub fn read_lif_state(&self, pop: PopulationId) -> Result<(LifStates, LifStates)> {
        let p = self.pop(pop)?;
        if p.lif_template.is_none() {
            return Err(ChipError::InvalidConfig(format!(
                "population `{}` is not a CUBA LIF population",
                p.name
            )));
        }
        Ok((p.lif.iter().map(|l| l.u.clone()).collect(), p.lif.iter().map(|l| l.v.clone()).collect()))
    }

    /// Analog cores: each device's pulse sizes (device-to-device spread, asymmetry) and faults.
    fn sample_devices(&self, a: &AnalogArithmetic, group: &mut SynapseGroup, gid: u64) -> Result<()> {
        let (np, post) = (group.weights.nrows(), group.post);
        let normals = |k: u64| self.device_draws(post, np, (gid << 8) | k, rand_distr::StandardNormal);
        let uniforms = |k: u64| self.device_draws(post, np, (gid << 8) | k, rand_distr::StandardUniform);
        let u = &a.update;
        if u.dw_min > 0.0 {
            let nominal = (u.dw_min * f64::from(group.range)) as f32;
            let (z_size, z_asym) = (normals(1), normals(2));
            let (dtod, mean_asym, asym_sd) = (u.dw_min_dtod as f32, u.up_down as f32, u.up_down_dtod as f32);
            let size = z_size.mapv(|z| nominal * (1.0 + dtod * z).max(0.0));
            let asym = z_asym.mapv(|z| (mean_asym + asym_sd * z).clamp(-1.0, 1.0));
            group.step_up = Some(&size * &asym.mapv(|x| 1.0 + x));
            group.step_down = Some(&size * &asym.mapv(|x| 1.0 - x));
        }
        if a.stuck_on_fraction > 0.0 || a.stuck_off_fraction > 0.0 {
            let (which, sign) = (uniforms(3), uniforms(4));
            let (on, off) = (a.stuck_on_fraction as f32, a.stuck_off_fraction as f32);
            for ((j, i), &x) in which.indexed_iter() {
                if x < off {
                    group.stuck.push((j, i, 0.0));
                } else if x < off + on {
                    let value = if sign[[j, i]] < 0.5 { -group.range } else { group.range };
                    group.stuck.push((j, i, value));
                }
            }
        }
        Ok(())
    }

    /// A pre × post array of per-device draws of `dist` from the `Device` streams of the post cores.
    fn device_draws<D: rand_distr::Distribution<f64> + Copy>(
        &self,
        post: PopulationId,
        np: usize,
        substream: u64,
        dist: D,
    ) -> Array2<f32> {
        self.sample_group_array(post, np, |core, n| {
            self.mismatch.draws(MismatchQuantity::Device, core, substream, n, dist)
        })
    }

    /// A pre × post array drawn on the post population's cores: `draw(core, n)` gives the `n` values
    /// of one core's block, laid out pre-major.
    fn sample_group_array(
        &self,
        post: PopulationId,
        np: usize,
        draw: impl Fn(usize, usize) -> Vec<f32>,
    ) -> Array2<f32> {
        let pop = &self.populations[post.0];
        let mut out = Array2::zeros((np, pop.size));
        for block in &pop.placement {
            let f = draw(block.core, np * block.len);
            for j in 0..np {
                for k in 0..block.len {
                    out[[j, block.start + k]] = f[j * block.len + k];
                }
            }
        }
        out
    }

    fn allocate_synapses(
        &mut self,
        pre: PopulationId,
        post: PopulationId,
        fan_in: &[FanInSegment],
    ) -> Result<()> {
        let np = self.populations[pre.0].size as u64;
        let weight_bits = self.digital.as_ref().map_or(32, |d| d.weight_bits);
        let enc = self.profile.synapse_encoding.clone();
        let limits = self.profile.core_limits.clone();
        let post_blocks = self.populations[post.0].placement.clone();
        let post_name = self.populations[post.0].name.clone();
        let pre_name = self.populations[pre.0].name.clone();
        self.check_fan_in(pre, post, fan_in)?;
        let mut new_usage = self.cores.clone();
        let mut new_slots = self.next_slot.clone();
        let what = |kind: &str| format!("{kind} (`{pre_name}` → `{post_name}`)");
        for (bi, block) in post_blocks.iter().enumerate() {
            let len = block.len as u64;
            let segments: Vec<&FanInSegment> = fan_in.iter().filter(|s| s.post_block == bi).collect();
            let core = &mut new_usage[block.core];
            if segments.is_empty() {
                core.input_axons += np;
                core.synapse_bits += np * axon_synapse_bits(&enc, weight_bits, len);
            } else {
                // One axon with one synapse per relay compartment.
                let relays = segments.len() as u64 * len;
                core.input_axons += relays;
                core.synapse_bits += relays * axon_synapse_bits(&enc, weight_bits, 1);
            }
            check_core_limits(&limits, block.core, core, &what)?;
            for s in segments {
                let relay = &mut new_usage[s.relay_core];
                relay.neurons += len;
                relay.input_axons += s.pre_len as u64;
                relay.synapse_bits += s.pre_len as u64 * axon_synapse_bits(&enc, weight_bits, len);
                relay.output_axons += len;
                new_slots[s.relay_core] += block.len;
                check_core_limits(&limits, s.relay_core, relay, &what)?;
            }
        }
        for block in &self.populations[pre.0].placement {
            let route = GroupRoute { post_blocks: &post_blocks, fan_in };
            let dest = spike_destinations(&[route], block.start, block.len);
            let core = &mut new_usage[block.core];
            core.output_axons += block.len as u64 * dest.len() as u64;
            check_core_limits(&limits, block.core, core, &what)?;
        }
        self.cores = new_usage;
        self.next_slot = new_slots;
        Ok(())
    }

    /// Fan-in segments must name existing post blocks and cores, and cover the presynaptic
    /// population of every block they split exactly once, in order.
    fn check_fan_in(&self, pre: PopulationId, post: PopulationId, fan_in: &[FanInSegment]) -> Result<()> {
        let np = self.populations[pre.0].size;
        let blocks = &self.populations[post.0].placement;
        let name = &self.populations[post.0].name;
        for (bi, _) in blocks.iter().enumerate() {
            let mut next = 0usize;
            let mut any = false;
            for s in fan_in.iter().filter(|s| s.post_block == bi) {
                any = true;
                if s.pre_start != next || s.pre_len == 0 || s.relay_core >= self.cores.len() {
                    return Err(ChipError::InvalidConfig(format!(
                        "fan-in segments of `{name}` block {bi} must cover the presynaptic range in order on \
                         existing cores (segment {}..{} on core {}, expected start {next}, {} cores)",
                        s.pre_start,
                        s.pre_start + s.pre_len,
                        s.relay_core,
                        self.cores.len()
                    )));
                }
                next += s.pre_len;
            }
            if any && next != np {
                return Err(ChipError::InvalidConfig(format!(
                    "fan-in segments of `{name}` block {bi} cover {next} of {np} presynaptic neurons"
                )));
            }
        }
        if let Some(s) = fan_in.iter().find(|s| s.post_block >= blocks.len()) {
            return Err(ChipError::InvalidConfig(format!(
                "fan-in segment names block {} of `{name}`, which has {} blocks",
                s.post_block,
                blocks.len()
            )));
        }
        Ok(())
    }

    /// Overwrites a group's weights (real units; digital cores round to the nearest mantissa and
    /// saturate at the mantissa range).
    pub fn write_weights(&mut self, group: GroupId, weights: ArrayView2<f32>) -> Result<()> {
        let g = self.group(group)?;
        if weights.dim() != g.weights.dim() {
            return Err(ChipError::InvalidConfig(format!(
                "weights have shape {:?}, group {} has {:?}",
                weights.dim(),
                group.0,
                g.weights.dim()
            )));
        }
        let digital = self.digital.clone();
        let analog = self.analog.clone();
        let g = &mut self.groups[group.0];
        match digital {
            None => {
                g.weights.assign(&weights);
                if let Some(a) = analog {
                    let r = g.range;
                    let levels = conductance_levels(&a);
                    g.weights.mapv_inplace(|w| quantise_conductance(w.clamp(-r, r), r, levels));
                }
            }
            Some(d) => {
                let lim = max_signed_magnitude(d.weight_bits) as f64;
                let lsb = g.lsb;
                g.weights.zip_mut_with(&weights, |m, &w| {
                    *m = (f64::from(w) / lsb).round().clamp(-lim, lim) as f32;
                });
            }
        }
        self.refresh_effective(group);
        Ok(())
    }

    /// Re-applies stuck devices and recomputes a group's effective weights (conductance × gain).
    pub(crate) fn refresh_effective(&mut self, group: GroupId) {
        let all: Vec<usize> = (0..self.groups[group.0].weights.nrows()).collect();
        self.refresh_effective_rows(group, &all);
    }

    /// [`Chip::refresh_effective`] after a change confined to presynaptic `rows`: stuck devices are
    /// re-applied everywhere, effective weights recomputed in place for those rows (and the stuck
    /// devices), so an update costs work in proportion to the rows it changed and no allocation.
    pub(crate) fn refresh_effective_rows(&mut self, group: GroupId, rows: &[usize]) {
        let g = &mut self.groups[group.0];
        for &(j, i, value) in &g.stuck {
            g.weights[[j, i]] = value;
        }
        if let Some(gain) = &g.gain {
            match &mut g.effective {
                Some(e) if e.dim() == g.weights.dim() => {
                    for &(j, i, value) in &g.stuck {
                        e[[j, i]] = value * gain[[j, i]];
                    }
                    for &j in rows {
                        ndarray::Zip::from(e.row_mut(j))
                            .and(g.weights.row(j))
                            .and(gain.row(j))
                            .for_each(|e, &w, &k| *e = w * k);
                    }
                }
                e => *e = Some(&g.weights * gain),
            }
        }
        if self.populations[g.pre.0].is_input {
            self.static_dirty = true;
        }
    }

    /// A group's weights in real units (pre × post).
    pub fn read_weights(&self, group: GroupId) -> Result<Array2<f32>> {
        let g = self.group(group)?;
        Ok(match &self.digital {
            None => g.weights.clone(),
            Some(_) => g.weights.mapv(|m| (f64::from(m) * g.lsb) as f32),
        })
    }

    /// The weights the dynamics actually use (real units, pre × post): the stored weights times each
    /// synapse's realised gain where there is gain mismatch.
    pub fn read_effective_weights(&self, group: GroupId) -> Result<Array2<f32>> {
        let g = self.group(group)?;
        Ok(match (&self.digital, &g.effective) {
            (None, Some(e)) => e.clone(),
            _ => self.read_weights(group)?,
        })
    }

    /// Digital cores: a group's integer weight mantissas and its exponent.
    pub fn read_weight_mantissas(&self, group: GroupId) -> Result<(Array2<i32>, i32)> {
        let g = self.group(group)?;
        Ok((g.weights.mapv(|m| m as i32), g.exponent))
    }

    /// A population's biases in real units.
    pub fn read_bias(&self, pop: PopulationId) -> Result<Vec<f32>> {
        let p = self.pop(pop)?;
        Ok(match &self.digital {
            None => p.bias.clone(),
            Some(d) => {
                let scale = (1u64 << bias_exponent(d)) as f64 / (1u64 << d.state_fraction_bits) as f64;
                p.bias_mant.iter().map(|&m| (m as f64 * scale) as f32).collect()
            }
        })
    }

    /// Overwrites a population's biases (real units; digital cores round to the nearest bias
    /// mantissa and saturate at its range), e.g. to load a trained network.
    pub fn write_bias(&mut self, pop: PopulationId, bias: &[f32]) -> Result<()> {
        let digital = self.digital.clone();
        let p = self.pop(pop)?;
        if p.is_input || bias.len() != p.size {
            return Err(ChipError::InvalidConfig(format!(
                "population `{}` takes {} biases, got {}",
                p.name,
                if p.is_input { 0 } else { p.size },
                bias.len()
            )));
        }
        if let Some(bad) = bias.iter().find(|x| !x.is_finite()) {
            return Err(ChipError::InvalidConfig(format!(
                "population `{}`: bias {bad} is not finite",
                p.name
            )));
        }
        let p = &mut self.populations[pop.0];
        match &digital {
            None => p.bias = bias.to_vec(),
            Some(d) => {
                p.bias_mant = bias_mantissas(d, bias);
            }
        }
        self.static_dirty = true;
        Ok(())
    }

    /// Digital cores: a population's per-neuron decays (out of `2^decay_bits`), its bias mantissas
    /// and the bias exponent, as the core holds them; `None` on float and analog cores.
    pub fn read_digital_neurons(&self, pop: PopulationId) -> Result<Option<DigitalNeurons<'_>>> {
        let p = self.pop(pop)?;
        Ok(self.digital.as_ref().map(|d| DigitalNeurons {
            decay: &p.decay,
            bias_mantissa: &p.bias_mant,
            bias_exponent: bias_exponent(d),
        }))
    }

    /// The realised per-neuron time steps (after mismatch and quantisation).
    pub fn realised_dt(&self, pop: PopulationId) -> Result<&[f32]> {
        Ok(&self.pop(pop)?.dt)
    }

    /// Analog cores: the realised input gain of each neuron of `pop` (1 without mismatch).
    pub fn realised_neuron_gain(&self, pop: PopulationId) -> Result<&[f32]> {
        Ok(&self.pop(pop)?.neuron_gain)
    }

    /// Analog cores: the realised input offset of each neuron of `pop` (0 without mismatch).
    pub fn realised_neuron_offset(&self, pop: PopulationId) -> Result<&[f32]> {
        Ok(&self.pop(pop)?.neuron_offset)
    }

    /// The realised per-synapse gains of a group (`None` without synapse-gain mismatch).
    pub fn synapse_gains(&self, group: GroupId) -> Result<Option<&Array2<f32>>> {
        Ok(self.group(group)?.gain.as_ref())
    }

    /// Analog cores: the stuck devices of a group as (pre, post, weight).
    pub fn stuck_devices(&self, group: GroupId) -> Result<&[(usize, usize, f32)]> {
        Ok(&self.group(group)?.stuck)
    }

    /// Analog cores: the conductance range R of a group (weights lie in [−R, R]).
    pub fn conductance_range(&self, group: GroupId) -> Result<f32> {
        Ok(self.group(group)?.range)
    }

    /// Sets the number of examples processed at once; states are reset.
    pub fn set_batch_size(&mut self, batch: usize) -> Result<()> {
        if batch == 0 {
            return Err(ChipError::InvalidConfig("batch size must be at least 1".into()));
        }
        if batch == self.batch {
            return Ok(());
        }
        self.batch = batch;
        for p in &mut self.populations {
            let n = p.size;
            p.state_f = Array2::zeros((batch, n));
            p.state_i = Array2::zeros((batch, n));
            p.activity = Array2::zeros((batch, n));
            p.static_f = Array2::zeros((batch, n));
            p.static_i = Array2::zeros((batch, n));
            p.drive_f = Array2::zeros((batch, n));
            p.drive_i = Array2::zeros((batch, n));
            p.product = Array2::zeros((batch, n));
            p.traces = Default::default();
            p.version += 1;
            if let Some(t) = &p.lif_template {
                p.lif = vec![t.clone(); batch];
            }
        }
        self.static_dirty = true;
        Ok(())
    }

    /// The current batch size.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Sets every neuron state (and activity) to zero.
    pub fn reset_state(&mut self) {
        for p in self.populations.iter_mut().filter(|p| !p.is_input) {
            if let Some(t) = &p.lif_template {
                p.lif = vec![t.clone(); p.lif.len()];
            }
            p.state_f.fill(0.0);
            p.state_i.fill(0);
            p.activity.fill(0.0);
            p.nonzero_prefix.fill(0);
            p.version += 1;
        }
    }

    /// Writes input values in [0, 1] (batch × size) into an input population. Digital chips
    /// quantise them to `input_bits`.
    pub fn apply_input(&mut self, pop: PopulationId, values: ArrayView2<f32>) -> Result<()> {
        let batch = self.batch;
        let digital = self.digital.clone();
        let dac = self.analog.as_ref().and_then(crate::chip_step::dac_levels);
        let p = self.pop_mut(pop)?;
        if !p.is_input {
            return Err(ChipError::InvalidConfig(format!("population `{}` is not an input", p.name)));
        }
        if values.dim() != (batch, p.size) {
            return Err(ChipError::InvalidConfig(format!(
                "input for `{}` has shape {:?}, expected ({batch}, {})",
                p.name,
                values.dim(),
                p.size
            )));
        }
        match digital {
            None => p.activity.zip_mut_with(&values, |a, &x| {
                let x = x.clamp(0.0, 1.0);
                *a = dac.map_or(x, |(step, levels)| crate::chip_step::dac_quantise(x, step, levels));
            }),
            Some(d) => p.activity.zip_mut_with(&values, |a, &x| *a = quantise_unit(x, d.input_bits) as f32),
        }
        p.recount_nonzero();
        p.version += 1;
        self.static_dirty = true;
        Ok(())
    }

    /// A population's output activity in real units (batch × size), ρ(s) of each neuron.
    pub fn read_activity(&self, pop: PopulationId) -> Result<Array2<f32>> {
        let p = self.pop(pop)?;
        Ok(match &self.digital {
            None => p.activity.clone(),
            Some(_) => {
                let scale = 1.0 / (1u64 << p.out_bits) as f32;
                p.activity.mapv(|a| a * scale)
            }
        })
    }

    /// A population's neuron states in real units (batch × size). Finer than the activity on digital
    /// cores (24-bit state versus the activation payload).
    pub fn read_state(&self, pop: PopulationId) -> Result<Array2<f32>> {
        let p = self.pop(pop)?;
        if p.is_input {
            return self.read_activity(pop);
        }
        Ok(match &self.digital {
            None => p.state_f.clone(),
            Some(d) => {
                let scale = 1.0 / (1u64 << d.state_fraction_bits) as f32;
                p.state_i.mapv(|v| v as f32 * scale)
            }
        })
    }

    /// Digital cores: raw integer states (batch × size), in units of 2^-state_fraction_bits.
    pub fn read_state_raw(&self, pop: PopulationId) -> Result<Array2<i32>> {
        Ok(self.pop(pop)?.state_i.clone())
    }

    /// Saves all neuron states.
    pub fn save_state(&self) -> StateSnapshot {
        StateSnapshot {
            states_f: self.populations.iter().map(|p| p.state_f.clone()).collect(),
            states_i: self.populations.iter().map(|p| p.state_i.clone()).collect(),
            activities: self.populations.iter().map(|p| p.activity.clone()).collect(),
            versions: self.populations.iter().map(|p| p.version).collect(),
        }
    }

    /// Restores states saved by [`Chip::save_state`] on this chip with the same batch size.
    pub fn restore_state(&mut self, snap: &StateSnapshot) -> Result<()> {
        if snap.states_f.len() != self.populations.len()
            || snap.activities.first().map(|a| a.nrows()) != Some(self.batch)
        {
            return Err(ChipError::InvalidConfig(
                "snapshot was taken on a chip with other populations or batch size".into(),
            ));
        }
        for (k, p) in self.populations.iter_mut().enumerate() {
            p.state_f.assign(&snap.states_f[k]);
            p.state_i.assign(&snap.states_i[k]);
            p.activity.assign(&snap.activities[k]);
            p.version = snap.versions[k];
            p.recount_nonzero();
        }
        Ok(())
    }

    /// Root-mean-square change of the neuron states in the last step of the last run (real units).
    pub fn last_step_residual(&self) -> f32 {
        self.last_residual
    }

    /// Largest state change of any neuron (real units) in the last step of the last run.
    pub fn last_max_change(&self) -> f32 {
        self.last_max_change
    }

    /// Root-mean-square state change of each example (batch row) in the last step of the last run.
    pub fn last_step_residuals(&self) -> &[f32] {
        &self.last_residuals
    }

    /// Per-core usage and counters.
    pub fn cores(&self) -> &[CoreUsage] {
        &self.cores
    }

    /// Cores that hold at least one neuron.
    pub fn used_cores(&self) -> usize {
        self.cores.iter().filter(|c| c.neurons > 0).count()
    }

    /// Operation counts summed over all cores.
    pub fn total_counters(&self) -> OpCounters {
        let mut total = OpCounters::default();
        for c in &self.cores {
            total += c.counters;
        }
        total
    }

    /// Sets every core's operation counters to zero.
    pub fn reset_counters(&mut self) {
        for c in &mut self.cores {
            c.counters = OpCounters::default();
        }
    }

    /// Energy estimate of everything counted so far.
    pub fn energy(&self) -> EnergyReport {
        EnergyReport::estimate(&self.total_counters(), &self.profile.energy)
    }

    /// Name and size of a population.
    pub fn population_info(&self, pop: PopulationId) -> Result<(&str, usize)> {
        let p = self.pop(pop)?;
        Ok((&p.name, p.size))
    }

    /// Digital cores: the weight exponent of a group.
    pub fn weight_exponent(&self, group: GroupId) -> Result<i32> {
        Ok(self.group(group)?.exponent)
    }

    pub(crate) fn pop(&self, id: PopulationId) -> Result<&Population> {
        self.populations
            .get(id.0)
            .ok_or_else(|| ChipError::InvalidConfig(format!("unknown population {}", id.0)))
    }

    pub(crate) fn pop_mut(&mut self, id: PopulationId) -> Result<&mut Population> {
        self.populations
            .get_mut(id.0)
            .ok_or_else(|| ChipError::InvalidConfig(format!("unknown population {}", id.0)))
    }

    pub(crate) fn group(&self, id: GroupId) -> Result<&SynapseGroup> {
        self.groups
            .get(id.0)
            .ok_or_else(|| ChipError::InvalidConfig(format!("unknown synapse group {}", id.0)))
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

/// Refuses a core whose usage exceeds a limit, naming the core, the resource and the numbers.
fn check_core_limits(
    limits: &crate::profile::CoreLimits,
    core: usize,
    usage: &CoreUsage,
    what: &dyn Fn(&str) -> String,
) -> Result<()> {
    match usage.first_exceeded(limits) {
        Some((kind, needed, limit)) => Err(ChipError::CoreLimit { what: what(kind), core, needed, limit }),
        None => Ok(()),
    }
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

/// Analog cores: number of conductance steps on each side of zero (0 = continuous).
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
