//! Numbers in and out of a chip: weights, biases, inputs, states and activities in real units (the
//! core kind converts them), batch size, and saved states for restarting a phase.

use ndarray::{Array2, ArrayView2};

use super::{Chip, LifStates, unknown_population};
use crate::cores::digital::bias_exponent;
use crate::error::{ChipError, Result};
use crate::population::PopulationId;
use crate::synapse_group::GroupId;

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

impl Chip {
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
        let g = &mut self.groups[group.0];
        self.kind.arithmetic().store_weights(g, weights);
        g.refresh_effective();
        if self.populations[g.pre.0].is_input {
            self.static_dirty = true;
        }
        Ok(())
    }

    /// A group's weights in real units (pre × post).
    pub fn read_weights(&self, group: GroupId) -> Result<Array2<f32>> {
        let g = self.group(group)?;
        Ok(self.kind.arithmetic().real_weights(g))
    }

    /// The weights the dynamics actually use (real units, pre × post): the stored weights times each
    /// synapse's realised gain where there is gain mismatch.
    pub fn read_effective_weights(&self, group: GroupId) -> Result<Array2<f32>> {
        let g = self.group(group)?;
        Ok(self.kind.arithmetic().effective_weights(g))
    }

    /// Digital cores: a group's integer weight mantissas and its exponent.
    pub fn read_weight_mantissas(&self, group: GroupId) -> Result<(Array2<i32>, i32)> {
        let g = self.group(group)?;
        Ok((g.weights.mapv(|m| m as i32), g.exponent))
    }

    /// A population's biases in real units.
    pub fn read_bias(&self, pop: PopulationId) -> Result<Vec<f32>> {
        let p = self.pop(pop)?;
        Ok(self.kind.arithmetic().real_bias(p))
    }

    /// Overwrites a population's biases (real units; digital cores round to the nearest bias
    /// mantissa and saturate at its range), e.g. to load a trained network.
    pub fn write_bias(&mut self, pop: PopulationId, bias: &[f32]) -> Result<()> {
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
        self.kind.arithmetic().store_bias(&mut self.populations[pop.0], bias);
        self.static_dirty = true;
        Ok(())
    }

    /// Digital cores: a population's per-neuron decays (out of `2^decay_bits`), its bias mantissas
    /// and the bias exponent, as the core holds them; `None` on float and analog cores.
    pub fn read_digital_neurons(&self, pop: PopulationId) -> Result<Option<DigitalNeurons<'_>>> {
        let p = self.pop(pop)?;
        Ok(self.kind.digital().map(|d| DigitalNeurons {
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
        Ok(self.group(group)?.gain.as_deref())
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
        for p in self.populations.iter_mut() {
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
            self.version_clock += 1;
            p.version = self.version_clock;
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
            self.version_clock += 1;
            p.version = self.version_clock;
        }
    }

    /// Writes input values in [0, 1] (batch × size) into an input population. Digital chips
    /// quantise them to `input_bits`.
    pub fn apply_input(&mut self, pop: PopulationId, values: ArrayView2<f32>) -> Result<()> {
        let batch = self.batch;
        let p = self.populations.get_mut(pop.0).ok_or_else(|| unknown_population(pop))?;
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
        self.kind.arithmetic().encode_input(&mut p.activity, values);
        p.recount_nonzero();
        self.version_clock += 1;
        p.version = self.version_clock;
        self.static_dirty = true;
        Ok(())
    }

    /// A population's output activity in real units (batch × size), ρ(s) of each neuron.
    pub fn read_activity(&self, pop: PopulationId) -> Result<Array2<f32>> {
        let p = self.pop(pop)?;
        Ok(self.kind.arithmetic().real_activity(p))
    }

    /// A population's neuron states in real units (batch × size). Finer than the activity on digital
    /// cores (24-bit state versus the activation payload).
    pub fn read_state(&self, pop: PopulationId) -> Result<Array2<f32>> {
        let p = self.pop(pop)?;
        if p.is_input {
            return self.read_activity(pop);
        }
        Ok(self.kind.arithmetic().real_state(p))
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
}
