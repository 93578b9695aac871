//! Operation counters kept per core.

use serde::{Deserialize, Serialize};
use std::ops::AddAssign;

/// How many operations of each kind a core (or the whole chip) performed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounters {
    /// Synaptic operations: one nonzero presynaptic value delivered through one synapse.
    pub synaptic_ops: u64,
    /// Neuron state updates: one neuron advanced by one time step.
    pub neuron_updates: u64,
    /// Spikes (graded payloads) sent: one neuron with nonzero output in one time step.
    pub spikes: u64,
    /// Synaptic weight (or bias) updates made by the learning engine.
    pub synaptic_updates: u64,
    /// Messages between cores (and from the host into the chip): one per spike and destination core
    /// other than the sender's own.
    #[serde(default)]
    pub messages: u64,
    /// Of `messages`, those whose destination core is on another chip of the board.
    #[serde(default)]
    pub chip_messages: u64,
    /// Activity values latched into trace registers by the learning engine (one per neuron and example).
    #[serde(default)]
    pub trace_latches: u64,
}

impl AddAssign for OpCounters {
    fn add_assign(&mut self, o: Self) {
        self.synaptic_ops += o.synaptic_ops;
        self.neuron_updates += o.neuron_updates;
        self.spikes += o.spikes;
        self.synaptic_updates += o.synaptic_updates;
        self.messages += o.messages;
        self.chip_messages += o.chip_messages;
        self.trace_latches += o.trace_latches;
    }
}
