//! Allocation: populations and synapse groups placed on cores against the profile's limits, and
//! their numbers discretised by the core kind (the *discretise* and *allocate* stages).

use ndarray::{Array2, ArrayView2};

use super::Chip;
use crate::core_resources::{
    CoreBlock, CoreUsage, FanInSegment, GroupRoute, axon_synapse_bits, spike_destinations,
};
use crate::cores::DeviceSampler;
use crate::error::{ChipError, Result};
use crate::mismatch::MismatchQuantity;
use crate::population::{NeuronProgram, Population, PopulationId, PopulationKind, PopulationSpec};
use crate::synapse_group::{ConnectOptions, GroupId, SynapseGroup};

impl Chip {
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
            program: NeuronProgram::Clip,
            placement: Vec::new(),
            dt_designed: Vec::new(),
            dt: Vec::new(),
            decay: Vec::new(),
            bias: vec![0.0; n],
            neuron_gain: vec![1.0; n],
            neuron_offset: vec![0.0; n],
            bias_mant: vec![0; n],
            out_bits: self.kind.arithmetic().input_bits(),
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
            if !self.kind.arithmetic().hosts_cuba_lif() {
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
        if let PopulationKind::Neurons { program, dt, bias, placement } = spec.kind {
            if program == NeuronProgram::CubaLif {
                return Err(ChipError::InvalidConfig(format!(
                    "population `{}`: CUBA LIF neurons are added with PopulationSpec::cuba_lif; rate \
                     populations run `clip` or `sigmoid`",
                    spec.name
                )));
            }
            pop.program = program;
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
            pop.out_bits = self.kind.arithmetic().activation_bits();
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
            self.kind.arithmetic().discretise_neurons(&mut pop, realised, bias);
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
        let devices = DeviceSampler {
            mismatch: &self.mismatch,
            post: &self.populations[post.0],
            group: self.groups.len() as u64,
        };
        let mirror = options.mirror_of.map(|m| &self.groups[m.0]);
        self.kind.arithmetic().configure_group(&mut group, mirror, &devices)?;
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

    fn allocate_synapses(
        &mut self,
        pre: PopulationId,
        post: PopulationId,
        fan_in: &[FanInSegment],
    ) -> Result<()> {
        let np = self.populations[pre.0].size as u64;
        let weight_bits = self.kind.arithmetic().weight_bits();
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
