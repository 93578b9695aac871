//! The energy estimate: operation counts times energy per operation.

use serde::{Deserialize, Serialize};

use crate::counters::OpCounters;
use crate::profile::EnergySpec;

/// Energy spent, in joules, split by kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyReport {
    /// Synaptic operations.
    pub synaptic_ops_j: f64,
    /// Neuron updates.
    pub neuron_updates_j: f64,
    /// Spikes.
    pub spikes_j: f64,
    /// Learning-engine weight updates.
    pub synaptic_updates_j: f64,
    /// Messages between cores.
    #[serde(default)]
    pub messages_j: f64,
}

impl EnergyReport {
    /// The energy of the given counts under the given per-operation energies.
    pub fn estimate(counts: &OpCounters, spec: &EnergySpec) -> Self {
        const PJ: f64 = 1e-12;
        Self {
            synaptic_ops_j: counts.synaptic_ops as f64 * spec.synaptic_op_pj * PJ,
            neuron_updates_j: counts.neuron_updates as f64 * spec.neuron_update_pj * PJ,
            spikes_j: counts.spikes as f64 * spec.spike_pj * PJ,
            synaptic_updates_j: counts.synaptic_updates as f64 * spec.synaptic_update_pj * PJ,
            messages_j: (counts.messages as f64 * spec.message_pj
                + counts.chip_messages as f64 * spec.chip_message_pj)
                * PJ,
        }
    }

    /// Total energy in joules.
    pub fn total_j(&self) -> f64 {
        self.synaptic_ops_j
            + self.neuron_updates_j
            + self.spikes_j
            + self.synaptic_updates_j
            + self.messages_j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_is_counts_times_unit_energy() {
        let spec = EnergySpec {
            synaptic_op_pj: 2.0,
            synaptic_update_pj: 3.0,
            neuron_update_pj: 5.0,
            spike_pj: 7.0,
            message_pj: 11.0,
            chip_message_pj: 13.0,
            time_step_us: 1.0,
        };
        let c = OpCounters {
            synaptic_ops: 1,
            neuron_updates: 10,
            spikes: 100,
            synaptic_updates: 1000,
            messages: 10_000,
            chip_messages: 100_000,
            trace_latches: 5,
        };
        let e = EnergyReport::estimate(&c, &spec);
        let expected = (2.0 + 50.0 + 700.0 + 3000.0 + 110_000.0 + 1_300_000.0) * 1e-12;
        assert!((e.total_j() - expected).abs() < 1e-20);
    }
}
