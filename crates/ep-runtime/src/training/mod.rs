//! Training a network on a chip: the epoch loop ([`trainer`]), accuracy evaluation
//! ([`evaluation`]), per-epoch metrics and the run summary ([`metrics`]), the resumable checkpoint
//! ([`checkpoint`]) and the run's output directory ([`run_directory`]).

pub mod checkpoint;
pub mod evaluation;
pub mod metrics;
pub mod run_directory;
pub mod trainer;
