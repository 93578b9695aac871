//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Emulate neuromorphic chips and train HTS equilibrium-propagation networks on them.
#[derive(Debug, Parser)]
#[command(name = "epchip", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train an HTS-EP network on an emulated chip with on-chip local learning.
    Train(Box<TrainArgs>),
    /// Run a stability study: a grid of τ distributions × mismatch levels × seeds, in parallel.
    Study(Box<StudyArgs>),
    /// Show how a network is placed on a chip's cores (or why it does not fit).
    Map(MapArgs),
    /// Export a trained run for a chip toolchain: NIR, Lava-dl netx, or the core mapping.
    Export(ExportArgs),
    /// Read a NIR graph into the emulator and evaluate it on a dataset's test set.
    Import(ImportArgs),
    /// Program a trained run onto a fresh chip instance (any profile), evaluate it after programming
    /// and after conductance drift, and optionally fine-tune it there with on-chip EP.
    Deploy(DeployArgs),
    /// Replay a spec through the bit-accurate CUBA LIF compartment (Lava's fixed-point semantics) and
    /// print the trace as JSON (u, v, spikes per step).
    LifTrace(LifTraceArgs),
    /// Time training workloads on mnist10k (the standard ones, 784-500-10, unless --layers, --batch
    /// or --scaling say otherwise) and print examples/s, roofline share and peak memory.
    Bench(BenchArgs),
    /// Inspect and validate hardware profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

/// `epchip profile ...`
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Validate a profile (built-in name or .ron file) and print a summary. Exit code 1 if invalid.
    Check {
        /// Built-in name (ideal, loihi2, loihi1, analog-rram, mixed-signal) or path to a .ron file.
        profile: String,
    },
    /// List the built-in profiles.
    List,
    /// Print a profile as RON (a starting point for a custom profile).
    Show {
        /// Built-in name or path.
        profile: String,
    },
}

/// `epchip train ...`
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The chip and the network on it.
    #[command(flatten)]
    pub target: TargetFlags,
    /// Dataset: mnist10k (embedded), mnist10k:pool=N, synthetic[:seed=N], or idx:DIR (MNIST-format files).
    #[arg(long, default_value = "mnist10k")]
    pub dataset: String,
    /// Per-neuron time constants: constant, lognormal:cv=X, gamma:cv=X, uniform:min=A,max=B
    /// (mean 1 in units of the base step unless mean=M is given).
    #[arg(long, default_value = "constant")]
    pub tau: String,
    /// Training epochs.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Worker threads (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seed of the chip instance, initialisation, time constants and data order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory for metrics.csv and summary.json.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Write the run's full state to OUT/checkpoint.json every N epochs (0: only at the end).
    #[arg(long, default_value_t = 1)]
    pub checkpoint_every: usize,
    /// Continue the run in this directory from its checkpoint.json (all other training flags are
    /// taken from the checkpoint; only --threads and --quiet apply).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Settings shared with `epchip study`.
    #[command(flatten)]
    pub training: TrainingFlags,
}

/// `epchip bench ...`
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Worker threads: one count, or a comma-separated list (e.g. 1,2) to measure every count in
    /// one process, interleaved, and print the speed-up over the first.
    #[arg(long, default_value = "1", value_name = "N[,N...]")]
    pub threads: String,
    /// Measurements per workload (the median is printed).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Training examples per measurement (default 2000; with --scaling, chosen per workload so
    /// that each measurement trains for at least a second).
    #[arg(long)]
    pub examples: Option<usize>,
    /// Test digits evaluated per measurement (default: all 1,996 for the standard workloads,
    /// otherwise as many as --examples, at most 1,996).
    #[arg(long)]
    pub eval_examples: Option<usize>,
    /// Profiles: one or a comma-separated list (built-in names or .ron files); default: ideal,
    /// loihi2 and analog-rram.
    #[arg(long, value_name = "P[,P...]")]
    pub profile: Option<String>,
    /// Layer sizes of the network, input first (784 inputs and 10 outputs for mnist10k; any
    /// depth), e.g. 784,2000,10 (default 784,500,10).
    #[arg(long)]
    pub layers: Option<String>,
    /// Examples per mini-batch: one or a comma-separated list (default 50; the standard workloads
    /// measure 50 and 1).
    #[arg(long, value_name = "B[,B...]")]
    pub batch: Option<String>,
    /// Neuron model of the workload (clip, the workload of docs/performance.md, or sigmoid); the
    /// estimate is one-sided either way (T1 30 + T2 10 steps, whatever the depth).
    #[arg(long, default_value = "clip")]
    pub neuron: String,
    /// Measure the scaling grid of docs/performance.md (hidden widths 100–8,000, depths 1–3,
    /// batches 1–200 on each profile) and write scaling.csv and scaling.svg to --out.
    #[arg(long, requires = "out")]
    pub scaling: bool,
    /// Directory of the scaling table and plot.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also measure every workload with this other epchip executable (a build with the same bench,
    /// e.g. before a change), alternating with this one in each repetition, and print the ratio of
    /// the rates (median of the per-repetition ratios).
    #[arg(long, value_name = "EXE", conflicts_with = "scaling")]
    pub baseline: Option<PathBuf>,
    /// Internal: measure one workload in this process and print the result as JSON (the parent
    /// `epchip bench` runs each workload in a child process to take its peak memory).
    #[arg(long, hide = true)]
    pub one_workload: bool,
    /// Internal (with --one-workload): keep training epochs until this many seconds of training
    /// were timed.
    #[arg(long, hide = true, default_value_t = 0.0)]
    pub min_seconds: f64,
}

/// `epchip study ...`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StudyArgs {
    /// `merge`: combine the outputs of shards.
    #[command(subcommand)]
    pub action: Option<StudyAction>,
    /// The study to run.
    #[command(flatten)]
    pub run: StudyRunArgs,
}

/// `epchip study merge DIR`
#[derive(Debug, Subcommand)]
pub enum StudyAction {
    /// Aggregate every finished run in a study directory (e.g. after all shards of a job array ran)
    /// into results.csv, summary.csv, comparisons.csv, study.json and report.html. If runs of the grid
    /// are missing it lists them and writes nothing (exit code 4), unless --partial is given.
    Merge {
        /// The study directory.
        dir: PathBuf,
        /// Merge the runs that exist even if others are missing.
        #[arg(long)]
        partial: bool,
    },
}

/// The grid and training settings of a study.
#[derive(Debug, Args)]
pub struct StudyRunArgs {
    /// The chip and the network on it.
    #[command(flatten)]
    pub target: TargetFlags,
    /// Dataset (as for `train`).
    #[arg(long, default_value = "mnist10k")]
    pub dataset: String,
    /// Time-constant distributions, comma-separated (e.g. constant,lognormal:cv=0.5,gamma:cv=0.5).
    #[arg(long, default_value = "constant,lognormal:cv=0.5")]
    pub tau: String,
    /// Device-mismatch levels, comma-separated (see --mismatch-mode).
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub mismatch: String,
    /// What a mismatch level sets: tau (tau_spread), all (every spread the core supports) or scale
    /// (multiplies the profile's spreads). Default: tau on digital profiles, all otherwise.
    #[arg(long)]
    pub mismatch_mode: Option<String>,
    /// Seeds per condition (seeds 1..=N, shared by all conditions).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Epochs per run.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Runs in parallel (default: the number of cores). Results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only slice I of N of the grid (for job arrays); combine with `epchip study merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Study directory.
    #[arg(long, default_value = "study")]
    pub out: PathBuf,
    /// Sample gradient fidelity every N mini-batches (0: never).
    #[arg(long, default_value_t = 0)]
    pub fidelity_every: usize,
    /// Epochs ignored when measuring oscillation.
    #[arg(long, default_value_t = 2)]
    pub burn_in: usize,
    /// Reference of the paired comparisons: tau=SPEC, one of the --tau values (default: the first),
    /// or KEY=VALUE of a --vary setting (e.g. training=on-chip): each condition is then compared with
    /// the one that differs only in that setting.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Vary a training setting: KEY=V1,V2,... (repeatable; the grid is τ × mismatch × every axis ×
    /// seeds). KEY: lr, beta, t1, t2, dt, batch, neuron, symmetric, positive-beta, weight-headroom,
    /// lr-schedule, training (on-chip, off-chip). lr values: 0.2, per projection 0.2:0.1, or a multiple of the default x2.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// After training, age each run's network on its chip by these times (e.g. 0,1d,1y; units s, min,
    /// h, d, w, y) and evaluate it there: retention.csv and the accuracy_after_drift comparisons.
    #[arg(long, value_name = "T1,T2,...")]
    pub drift_times: Option<String>,
    /// With --drift-times: epochs of on-chip fine-tuning from the state at each time.
    #[arg(long, default_value_t = 0)]
    pub finetune_epochs: usize,
    /// The two --vary settings of the robustness heatmaps, e.g. lr,beta (default: the first two).
    #[arg(long, value_name = "A,B")]
    pub heatmap_axes: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Training settings of every run.
    #[command(flatten)]
    pub training: TrainingFlags,
}

/// The hardware profile and the layer sizes of the network mapped onto it (`train`, `study`, `map`).
#[derive(Debug, Args)]
pub struct TargetFlags {
    /// Hardware profile: built-in name (ideal, loihi2, loihi1, analog-rram, mixed-signal) or path to a .ron file.
    #[arg(long, default_value = "loihi2")]
    pub profile: String,
    /// Layer sizes, input first: e.g. 784,500,10.
    #[arg(long, default_value = "784,500,10")]
    pub layers: String,
    /// Placement of population blocks on cores: `greedy` (one block per core, in layer order) or
    /// `traffic-aware` (share cores between communicating blocks to cut inter-core messages).
    #[arg(long, default_value = "greedy")]
    pub placement: String,
}

/// EP training settings shared by `epchip train` and every run of `epchip study`.
#[derive(Debug, Args)]
pub struct TrainingFlags {
    /// Neuron model: sigmoid (σ(4u − 2), the discrete-time model of the public EP code) or clip
    /// (hard sigmoid, Scellier & Bengio 2017). Default: sigmoid, clip on analog profiles. The other
    /// defaults follow the model.
    #[arg(long)]
    pub neuron: Option<String>,
    /// Sign of β per mini-batch: random or positive (default: the model's).
    #[arg(long, value_name = "SIGN")]
    pub beta_sign: Option<String>,
    /// Shorthand for --beta-sign positive.
    #[arg(long)]
    pub positive_beta: bool,
    /// EP estimate: one-sided ((s^β − s⁰)/β) or symmetric (a third phase at −β); default: the
    /// model's.
    #[arg(long, value_name = "E")]
    pub estimate: Option<String>,
    /// Shorthand for --estimate symmetric.
    #[arg(long)]
    pub symmetric: bool,
    /// Free-phase steps T1 (default 30 per hidden layer).
    #[arg(long)]
    pub t1: Option<usize>,
    /// Nudged-phase steps T2 (default 10).
    #[arg(long)]
    pub t2: Option<usize>,
    /// Nudge strength β (default: 0.1 for sigmoid, 0.5 for clip).
    #[arg(long, allow_negative_numbers = true)]
    pub beta: Option<f32>,
    /// Examples per mini-batch (1 = online on-chip learning; default 20).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate: one value, or one per projection (comma-separated). Default: by neuron model
    /// and network (0.4,0.1 for sigmoid on 784-500-10; see docs/model.md).
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<String>,
    /// Learning-rate schedule over the epochs: constant, or cosine[:floor=F] (anneal to F × lr).
    /// Default: constant for sigmoid, cosine for clip.
    #[arg(long)]
    pub lr_schedule: Option<String>,
    /// Base time step Δt (neuron i gets min(Δt/τ_i, 1)); default 0.5 for clip, 1 for sigmoid.
    #[arg(long, allow_negative_numbers = true)]
    pub dt: Option<f32>,
    /// Digital and analog cores: weight range = headroom × largest initial weight of the projection.
    /// Default 2.
    #[arg(long, allow_negative_numbers = true)]
    pub weight_headroom: Option<f32>,
    /// Limit the training set to its first N examples (quick runs).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// End a phase early once no state changes by this much in one step (T1/T2 become upper bounds).
    #[arg(long)]
    pub settle_tol: Option<f32>,
    /// Test accuracy whose first epoch (and the energy spent until then) the summary reports.
    #[arg(long, default_value_t = 0.9)]
    pub target_accuracy: f64,
}

/// `epchip export --run DIR --format nir|lava-netx|mapping --out FILE [--spiking [--json]]`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run directory written by `epchip train` (its checkpoint.json holds the trained network).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// `nir` (NIR graph, HDF5), `lava-netx` (Lava-dl netx HDF5, digital profiles) or `mapping`
    /// (JSON: core allocation, weights in the chip's format, decays, routing).
    #[arg(long)]
    pub format: String,
    /// `nir` and `lava-netx`: export the deployment conversion, a feed-forward network of
    /// integrate-and-fire neurons in Loihi's integer formats that stock Lava-dl and Norse run
    /// (docs/export.md).
    #[arg(long)]
    pub spiking: bool,
    /// NIR only: seconds one emulated step stands for (default: the profile's time_step_us, or 1 ms).
    #[arg(long)]
    pub dt: Option<f64>,
    /// File to write (written to a temporary file first, then renamed).
    #[arg(long)]
    pub out: PathBuf,
    /// With --spiking: evaluate the run's own network and epchip's emulation of the deployed one on
    /// the test set and print a JSON report (accuracies, steps per example, spikes, options).
    #[arg(long)]
    pub json: bool,
    /// With --spiking: time steps each example is presented for (default 32).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// With --spiking: bits of the graded input spike per pixel, 1..=8 (default 8).
    #[arg(long, value_name = "BITS")]
    pub input_bits: Option<u32>,
    /// With --spiking: spikes per step of a hidden neuron at u = 1, in (0, 1] (default 1).
    #[arg(long, value_name = "RATE")]
    pub hidden_rate: Option<f64>,
    /// With --spiking: spikes per step of an output neuron at u = 1, in (0, 1] (default 0.5).
    #[arg(long, value_name = "RATE")]
    pub output_rate: Option<f64>,
    /// With --json: evaluate only the first N test examples.
    #[arg(long, value_name = "N")]
    pub examples: Option<usize>,
    /// With --spiking: also write every evaluated example's label, prediction and output spike
    /// counts (epchip's emulation) to this JSON file.
    #[arg(long, value_name = "FILE")]
    pub counts: Option<PathBuf>,
    /// Worker threads for the evaluation (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// `epchip deploy --run DIR --profile P [--seed S] [--drift 0,1h,1d] [--finetune-epochs K] --out D`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Run directory written by `epchip train` (its checkpoint.json holds the trained network).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Profile of the chip to program: built-in name or .ron file.
    #[arg(long)]
    pub profile: String,
    /// Seed of the chip instance (its mismatch, faults and write errors).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Times after programming to evaluate at, comma-separated (units s, min, h, d, w, y).
    #[arg(long, default_value = "0")]
    pub drift: String,
    /// Epochs of on-chip EP fine-tuning from the state at each time (0: none).
    #[arg(long, default_value_t = 0)]
    pub finetune_epochs: usize,
    /// Fine-tuning learning rates (default: the target chip's defaults for the network's model).
    #[arg(long)]
    pub finetune_lr: Option<String>,
    /// Dataset (default: the run's).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Evaluation and fine-tuning threads (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Directory for deploy.json.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress messages.
    #[arg(long)]
    pub quiet: bool,
}

/// `epchip import model.nir [--profile P] [--dataset D]`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// NIR file to read.
    pub file: PathBuf,
    /// Profile to run the imported network on.
    #[arg(long, default_value = "ideal")]
    pub profile: String,
    /// Dataset whose test set is used for evaluation.
    #[arg(long, default_value = "mnist10k")]
    pub dataset: String,
    /// Seed of the chip instance (device mismatch).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Placement of population blocks on cores (`greedy` or `traffic-aware`).
    #[arg(long, default_value = "greedy")]
    pub placement: String,
}

/// `epchip lif-trace --spec spec.json --steps N`
#[derive(Debug, Args)]
pub struct LifTraceArgs {
    /// The network: weights (out × in), weight_exp, weight_bits, du, dv (one value or one per
    /// neuron), vth, bias_mant, bias_exp (per neuron), input_spikes (steps × in).
    #[arg(long)]
    pub spec: PathBuf,
    /// Steps to run (input spikes repeat cyclically).
    #[arg(long)]
    pub steps: usize,
}

/// `epchip map --profile P --layers L [--json FILE]`
#[derive(Debug, Args)]
pub struct MapArgs {
    /// The chip and the network on it.
    #[command(flatten)]
    pub target: TargetFlags,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
