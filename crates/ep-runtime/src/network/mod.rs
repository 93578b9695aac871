//! A layered HTS-EP network as a description, independent of any chip: its [`shape`], the
//! distribution of its per-neuron time constants ([`time_constants`]), the rate model its neurons
//! run ([`neuron_model`]), its numbers once trained
//! ([`parameters`]), and the seeds of everything random in a run ([`seeds`]).

pub mod neuron_model;
pub mod parameters;
pub mod seeds;
pub mod shape;
pub mod time_constants;
