//! Training a network on a chip: the epoch loop ([`trainer`]), accuracy evaluation
//! ([`evaluation`]), per-epoch metrics and the run summary ([`metrics`]), the resumable checkpoint
//! ([`checkpoint`]), the run's output directory ([`run_directory`]) and the worker threads that
//! evaluation shares its batches among (`workers`).

pub mod checkpoint;
pub mod evaluation;
pub mod metrics;
pub mod run_directory;
pub mod trainer;
pub(crate) mod workers;
