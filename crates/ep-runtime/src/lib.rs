//! ep-runtime: equilibrium propagation with heterogeneous per-neuron time constants (HTS), run on
//! an emulated chip through chip-model's public interface.
//!
//! The pipeline: a [`NetworkShape`] and a [`TrainConfig`] are validated; [`place_layers`] puts the
//! layers on the profile's cores; [`EpNetwork::build`] allocates populations and synapses on a
//! [`chip_model::Chip`] with per-neuron time constants drawn from a [`TauSpec`]; a [`Trainer`] runs
//! free and nudged phases on the chip and applies the local EP rule through the chip's learning
//! engine; [`evaluate`] measures accuracy; [`RunDirectory`] writes metrics.csv and summary.json.
//!
//! Modules by stage, each depending only on those before it:
//! [`error`] and [`atomic_file`] → [`data`] (datasets) and [`network`] (shape, τ, parameters,
//! seeds) → [`mapping`] (population graph, placement) → [`config`] (the run's [`TrainConfig`]) →
//! [`on_chip`] (the network on a chip, its EP phases, the mapping report) → [`fidelity`] (gradient
//! fidelity against a float twin) → [`training`] (trainer, evaluation, metrics, checkpoint, run
//! directory) → [`deployment`] (a trained network programmed onto another chip instance, drift,
//! fine-tuning) → [`study`] (grid, runner, statistics, summary, report). [`interchange`] (NIR,
//! Lava-NetX, mapping file) sits on [`on_chip`] and [`mapping`].

pub mod atomic_file;
pub mod config;
pub mod data;
pub mod deployment;
pub mod error;
pub mod fidelity;
pub mod interchange;
pub mod mapping;
pub mod network;
pub mod on_chip;
pub mod study;
pub mod training;

pub use config::{BetaSign, GivenSettings, LrSchedule, TrainConfig};
pub use data::dataset::{Dataset, DatasetSplit};
pub use data::loading::load_dataset;
pub use error::{EpError, Result};
pub use mapping::placement::{Placement, PlacementStrategy, place_layers, place_network};
pub use mapping::population_graph::PopulationGraph;
pub use network::neuron_model::NeuronModel;
pub use network::parameters::NetworkParameters;
pub use network::shape::NetworkShape;
pub use network::time_constants::TauSpec;
pub use on_chip::ep_network::{BatchOutcome, EpNetwork};
pub use training::checkpoint::{CHECKPOINT_FILE, RunData, TrainingCheckpoint};
pub use training::evaluation::evaluate;
pub use training::metrics::{EpochMetrics, RunSummary};
pub use training::run_directory::RunDirectory;
pub use training::trainer::Trainer;
