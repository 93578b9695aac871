//! ep-runtime: equilibrium propagation with heterogeneous per-neuron time constants (HTS), run on
//! an emulated chip through chip-model's public interface.
//!
//! The pipeline: a [`NetworkShape`] and a [`TrainConfig`] are validated; [`place_layers`] puts the
//! layers on the profile's cores; [`EpNetwork::build`] allocates populations and synapses on a
//! [`chip_model::Chip`] with per-neuron time constants drawn from a [`TauSpec`]; a [`Trainer`] runs
//! free and nudged phases on the chip and applies the local EP rule through the chip's learning
//! engine; [`evaluate`] measures accuracy; [`RunDirectory`] writes metrics.csv and summary.json.

pub mod checkpoint;
pub mod dataset;
pub mod ep_network;
pub mod error;
pub mod evaluation;
pub mod gradient_fidelity;
pub mod idx;
pub mod mapping_export;
pub mod mapping_report;
pub mod metrics;
pub mod network;
pub mod network_parameters;
pub mod netx_export;
pub mod nir_export;
pub mod nir_import;
pub mod placement;
pub mod population_graph;
pub mod run_output;
pub mod seeds;
pub mod stability_metrics;
pub mod study_grid;
pub mod study_report;
pub mod study_results;
pub mod study_runner;
pub mod study_statistics;
pub mod study_summary;
pub mod synthetic;
pub mod time_constants;
pub mod train_config;
pub mod trainer;

pub use checkpoint::{CHECKPOINT_FILE, RunData, TrainingCheckpoint};
pub use dataset::{Dataset, DatasetSplit, load_dataset};
pub use ep_network::{BatchOutcome, EpNetwork};
pub use error::{EpError, Result};
pub use evaluation::evaluate;
pub use metrics::{EpochMetrics, RunSummary};
pub use network::NetworkShape;
pub use network_parameters::NetworkParameters;
pub use placement::{Placement, PlacementStrategy, place_layers, place_network};
pub use population_graph::PopulationGraph;
pub use run_output::RunDirectory;
pub use time_constants::TauSpec;
pub use train_config::{BetaSign, LrSchedule, TrainConfig};
pub use trainer::Trainer;
