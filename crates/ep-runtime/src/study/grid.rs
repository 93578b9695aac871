//! The grid of a stability study: conditions (time-constant distribution × mismatch level) × seeds,
//! how a mismatch level changes the profile, and how the grid is cut into shards.

use chip_model::{Arithmetic, HardwareProfile};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{EpError, Result};
use crate::network::time_constants::TauSpec;
use crate::study::results::Condition;

/// Distribution names that start a new spec in a comma-separated list of τ specs.
const DISTRIBUTIONS: &[&str] = &["constant", "lognormal", "gamma", "uniform"];

/// Parses a comma-separated list of τ specs, e.g. `constant,lognormal:cv=0.5,mean=2,gamma:cv=0.5`:
/// a piece that does not start with a distribution name continues the previous spec's parameters.
pub fn parse_tau_list(text: &str) -> Result<Vec<TauSpec>> {
    let mut specs: Vec<String> = Vec::new();
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let starts_new = DISTRIBUTIONS.iter().any(|d| piece == *d || piece.starts_with(&format!("{d}:")));
        match specs.last_mut() {
            Some(last) if !starts_new => {
                last.push(',');
                last.push_str(piece);
            }
            _ => specs.push(piece.to_string()),
        }
    }
    if specs.is_empty() {
        return Err(EpError::InvalidParameter {
            field: "tau".into(),
            value: text.into(),
            allowed: "at least one distribution, comma-separated".into(),
        });
    }
    specs.iter().map(|s| s.parse::<TauSpec>()).collect()
}

/// Parses `--baseline tau=SPEC` against the study's τ list; returns the position of SPEC.
pub fn parse_baseline(text: &str, taus: &[TauSpec]) -> Result<usize> {
    let bad = |why: &str| EpError::InvalidParameter {
        field: "baseline".into(),
        value: text.into(),
        allowed: format!("tau=SPEC with SPEC one of the study's --tau values ({why})"),
    };
    let spec = text.trim().strip_prefix("tau=").ok_or_else(|| bad("missing `tau=`"))?;
    let tau: TauSpec = spec.parse().map_err(|_| bad("not a τ distribution"))?;
    taus.iter().position(|t| *t == tau).ok_or_else(|| bad("not in --tau"))
}

/// What a `--mismatch` value does to the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MismatchMode {
    /// Sets the neurons' time-constant spread (`tau_spread`) to the value.
    Tau,
    /// Sets every spread the core supports to the value: time constants always; synapse gains,
    /// neuron gains and (a tenth of the value) neuron offsets on float and analog cores.
    All,
    /// Multiplies every spread of the profile by the value (1 = the profile as written).
    Scale,
}

impl MismatchMode {
    /// Parses `tau`, `all` or `scale`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "tau" => Ok(Self::Tau),
            "all" => Ok(Self::All),
            "scale" => Ok(Self::Scale),
            other => Err(EpError::InvalidParameter {
                field: "mismatch-mode".into(),
                value: other.into(),
                allowed: "tau, all or scale".into(),
            }),
        }
    }

    /// The default for a profile: `tau` on digital cores (the only spread they have), `all` otherwise.
    pub fn default_for(profile: &HardwareProfile) -> Self {
        match profile.arithmetic {
            Arithmetic::Digital(_) => Self::Tau,
            _ => Self::All,
        }
    }

    /// Short meaning of a level, for axis labels and reports (docs/stability.md has the details).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Tau => "tau_spread = level",
            Self::All => "all spreads = level",
            Self::Scale => "profile spreads × level",
        }
    }

    /// The profile at mismatch level `level`, validated.
    pub fn apply(self, profile: &HardwareProfile, level: f64) -> Result<HardwareProfile> {
        let mut p = profile.clone();
        let digital = matches!(p.arithmetic, Arithmetic::Digital(_));
        let m = &mut p.mismatch;
        match self {
            Self::Tau => m.tau_spread = level,
            Self::All => {
                m.tau_spread = level;
                if !digital {
                    m.synapse_gain_spread = level;
                    m.neuron_gain_spread = level;
                    m.neuron_offset_spread = level / 10.0;
                }
            }
            Self::Scale => {
                m.tau_spread *= level;
                m.synapse_gain_spread *= level;
                m.neuron_gain_spread *= level;
                m.neuron_offset_spread *= level;
            }
        }
        p.validate()?;
        Ok(p)
    }
}

/// One run of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Position in the full grid.
    pub index: usize,
    /// Its condition.
    pub condition: usize,
    /// Its seed.
    pub seed: u64,
    /// Directory name: `c{condition}-s{seed}`.
    pub id: String,
}

/// Everything that defines a study (written to study/spec.json; shards of one study share it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySpec {
    /// The profile as given (before mismatch is applied).
    pub profile: HardwareProfile,
    /// Dataset spec.
    pub dataset: String,
    /// `--train-limit`, if any.
    pub train_limit: Option<usize>,
    /// Layer sizes.
    pub layers: Vec<usize>,
    /// Time-constant distributions.
    pub taus: Vec<TauSpec>,
    /// Mismatch levels.
    pub mismatch: Vec<f64>,
    /// What the mismatch levels mean.
    pub mismatch_mode: MismatchMode,
    /// Seeds (the same seeds for every condition, so conditions are paired).
    pub seeds: Vec<u64>,
    /// Training configuration shared by every run (its `tau` and `seed` are set per run).
    pub config: TrainConfig,
    /// Gradient fidelity is sampled every this many mini-batches (0: never).
    pub fidelity_every: usize,
    /// Epochs ignored when measuring oscillation.
    pub burn_in: usize,
    /// Position in `taus` of the baseline of paired comparisons (the first τ by default).
    #[serde(default)]
    pub baseline: usize,
}

impl StudySpec {
    /// Checks the spec: at least one τ, one mismatch level and one seed; every mismatch level gives a
    /// valid profile.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, value: String, allowed: &str| EpError::InvalidParameter {
            field: field.into(),
            value,
            allowed: allowed.into(),
        };
        if self.taus.is_empty() {
            return Err(bad("tau", String::new(), "at least one distribution"));
        }
        if self.mismatch.is_empty() {
            return Err(bad("mismatch", String::new(), "at least one level"));
        }
        if self.seeds.is_empty() {
            return Err(bad("seeds", "0".into(), "at least one seed"));
        }
        if self.baseline >= self.taus.len() {
            return Err(bad("baseline", self.baseline.to_string(), "one of the study's τ distributions"));
        }
        for &level in &self.mismatch {
            self.mismatch_mode.apply(&self.profile, level).map_err(|e| {
                bad("mismatch", level.to_string(), &format!("a level that gives a valid profile ({e})"))
            })?;
        }
        Ok(())
    }

    /// The conditions in grid order: τ-major, then mismatch.
    pub fn conditions(&self) -> Vec<Condition> {
        let mut out = Vec::new();
        for tau in &self.taus {
            for &mismatch in &self.mismatch {
                out.push(Condition {
                    index: out.len(),
                    tau: tau.to_string(),
                    mismatch,
                    label: format!("{tau} | mismatch {mismatch}"),
                });
            }
        }
        out
    }

    /// Every run of the grid, in order: conditions × seeds.
    pub fn runs(&self) -> Vec<PlannedRun> {
        let mut out = Vec::new();
        for c in 0..self.taus.len() * self.mismatch.len() {
            for &seed in &self.seeds {
                out.push(PlannedRun { index: out.len(), condition: c, seed, id: format!("c{c}-s{seed}") });
            }
        }
        out
    }

    /// The profile and training configuration of one run.
    pub fn run_setup(&self, run: &PlannedRun) -> Result<(HardwareProfile, TrainConfig)> {
        let tau = self.taus[run.condition / self.mismatch.len()];
        let level = self.mismatch[run.condition % self.mismatch.len()];
        let profile = self.mismatch_mode.apply(&self.profile, level)?;
        let config = TrainConfig { tau, seed: run.seed, ..self.config.clone() };
        Ok((profile, config))
    }
}

/// Slice `i` (1-based) of `n` of a study: runs whose grid index is `i − 1` modulo `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based slice number.
    pub index: usize,
    /// Number of slices.
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || EpError::InvalidParameter {
            field: "shard".into(),
            value: text.into(),
            allowed: "I/N with 1 ≤ I ≤ N (e.g. 2/8)".into(),
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// The runs of this slice.
    pub fn select(self, runs: &[PlannedRun]) -> Vec<PlannedRun> {
        runs.iter().filter(|r| r.index % self.count == self.index - 1).cloned().collect()
    }
}
