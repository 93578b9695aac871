//! chip-model: the emulated neuromorphic silicon.
//!
//! A [`HardwareProfile`] (RON) describes a chip: cores and their limits, number formats, device
//! mismatch, the learning engine and energy per operation. A [`Chip`] is one instance of a profile
//! with its realised device parameters: populations of neurons placed on cores, synapse groups,
//! time steps (with or without a nudge), latched activity traces, local learning rules, operation
//! counters and an energy estimate. This crate knows nothing about equilibrium propagation.

pub mod builtin_profiles;
pub mod chip;
pub mod core_resources;
pub mod cores;
pub mod counters;
pub mod energy;
pub mod error;
pub mod expf;
pub mod fixed_point;
pub mod gaussian;
pub mod lane_rng;
mod learning_engine;
pub mod learning_rule;
pub mod mismatch;
pub mod neuron_program;
pub mod parallel;
pub mod population;
pub mod profile;
mod profile_summary;
pub mod rounding_noise;
pub mod shallow_product;
mod shared_array;
pub mod synapse_group;
mod vector_isa;

pub use builtin_profiles::BUILTIN_PROFILE_NAMES;
pub use chip::checkpoint::ChipCheckpoint;
pub use chip::{Chip, DigitalNeurons, ExecutionPath, Nudge, StateSnapshot};
pub use core_resources::{CoreBlock, CoreUsage, FanInSegment, GroupRoute, spike_destinations};
/// Loihi's CUBA LIF compartment (a neuron program of digital cores), at its long-standing path.
pub use cores::cuba_lif;
pub use counters::OpCounters;
pub use energy::EnergyReport;
pub use error::{ChipError, Result};
pub use learning_rule::{LocalRule, ProductTerm, SumOfProducts, SynapseLocal, TRACE_SLOTS, TraceSlot};
pub use neuron_program::NeuronProgram;
pub use population::{PopulationId, PopulationKind, PopulationSpec};
pub use profile::{
    AnalogArithmetic, Arithmetic, Bounds, ChipSpec, ConductanceDrift, CoreLimits, DigitalArithmetic,
    EnergySpec, HardwareProfile, LearningEngineSpec, MismatchSpec, PulsedUpdate, Rounding, SigmoidTableSpec,
    SynapseEncoding,
};
pub use synapse_group::{ConnectOptions, GroupId};
