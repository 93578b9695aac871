//! epchip: emulate neuromorphic chips and train HTS equilibrium-propagation networks on them.
//!
//! This crate is the command-line program and a thin facade over the two libraries:
//! [`chip_model`] (the emulated silicon) and [`ep_runtime`] (HTS-EP on top of it).

pub use chip_model;
pub use ep_runtime;
