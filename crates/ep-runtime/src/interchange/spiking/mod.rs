//! Deployment of a trained run as a spiking network that stock toolchains run (Lava-dl netx on
//! Loihi 2's fixed-point model, NIR in Norse): the conversion ([`conversion`]), epchip's own
//! emulation of the result on its bit-accurate CUBA LIF ([`emulation`]), the trained network's
//! feed-forward reference ([`feedforward`]) and the report `epchip export --json` prints
//! ([`report`]). Not to be confused with `crate::deployment`, which programs a run onto another
//! emulated chip.

pub mod conversion;
pub mod emulation;
pub mod feedforward;
pub mod report;

pub use conversion::{SpikingLayer, SpikingNetwork, SpikingOptions, convert};
pub use emulation::{Emulation, emulate};
pub use feedforward::feedforward_predictions;
pub use report::DeploymentReport;
