//! The grid of a stability study: conditions (time-constant distribution × mismatch level × point of
//! the hyperparameter grid) × seeds, how a mismatch level changes the profile, and how the grid is cut
//! into shards.

use chip_model::{Arithmetic, HardwareProfile};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{EpError, Result};
use crate::network::shape::NetworkShape;
use crate::network::time_constants::TauSpec;
use crate::study::axes::SettingsGrid;
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

/// Parses `--baseline`: `tau=SPEC` (a position in `taus`) or `KEY=VALUE` of a `--vary` setting
/// (checked against the axes by [`StudySpec::validate`]). Returns the τ position (0 for a setting
/// baseline) and the setting baseline, if any.
pub fn parse_any_baseline(text: &str, taus: &[TauSpec]) -> Result<(usize, Option<(String, String)>)> {
    let t = text.trim();
    match t.split_once('=') {
        Some((key, value)) if key.trim() != "tau" => {
            Ok((0, Some((key.trim().replace('_', "-"), value.trim().to_string()))))
        }
        _ => Ok((parse_baseline(t, taus)?, None)),
    }
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
    /// The hyperparameter axes (`--vary`); empty: every run uses `config` as it is.
    #[serde(default)]
    pub settings: SettingsGrid,
    /// The two axes of the robustness heatmaps, as setting names (default: the first two axes).
    #[serde(default)]
    pub heatmap_axes: Vec<String>,
    /// A `--vary` setting and value as the baseline of the paired comparisons instead of a τ
    /// (`--baseline training=on-chip`): each condition is compared with the one that differs from it
    /// only in that setting.
    #[serde(default)]
    pub baseline_setting: Option<(String, String)>,
    /// After training, each run's network is aged on its chip by these times and evaluated
    /// (retention; `--drift-times`).
    #[serde(default)]
    pub drift_times: Vec<crate::deployment::drift_time::DriftTime>,
    /// On-chip fine-tuning epochs from the state at each drift time.
    #[serde(default)]
    pub finetune_epochs: usize,
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
        let shape = NetworkShape::new(self.layers.clone())?;
        for p in 0..self.settings.len() {
            self.settings.configure(&self.config, p, &shape, &self.profile)?;
        }
        if let Some((key, value)) = &self.baseline_setting {
            let axis = self.settings.axes.iter().find(|a| a.setting.name() == key.as_str());
            if !axis.is_some_and(|a| a.values.contains(value)) {
                return Err(bad(
                    "baseline",
                    format!("{key}={value}"),
                    "tau=SPEC, or KEY=VALUE with KEY one of the study's --vary settings and VALUE one of its values",
                ));
            }
        }
        for name in &self.heatmap_axes {
            let known = self.settings.axes.iter().any(|a| a.setting.name() == name.as_str());
            if !known {
                let axes: Vec<&str> = self.settings.axes.iter().map(|a| a.setting.name()).collect();
                return Err(bad(
                    "heatmap-axes",
                    self.heatmap_axes.join(","),
                    &format!("two of the study's --vary settings ({})", axes.join(", ")),
                ));
            }
        }
        if !self.heatmap_axes.is_empty()
            && (self.heatmap_axes.len() != 2 || self.heatmap_axes[0] == self.heatmap_axes[1])
        {
            return Err(bad(
                "heatmap-axes",
                self.heatmap_axes.join(","),
                "two different --vary settings, e.g. lr,beta",
            ));
        }
        Ok(())
    }

    /// Number of conditions: τ distributions × mismatch levels × hyperparameter points.
    pub fn condition_count(&self) -> usize {
        self.taus.len() * self.mismatch.len() * self.settings.len()
    }

    /// The baseline condition of condition `c` in the paired comparisons (`None` for a baseline
    /// condition itself): the baseline τ at the same mismatch level and point, or with
    /// `baseline_setting` the condition that differs only in that setting.
    pub fn baseline_of(&self, c: usize) -> Option<usize> {
        let (t, m, p) = self.condition_position(c);
        match &self.baseline_setting {
            None => (t != self.baseline).then(|| self.condition_index(self.baseline, m, p)),
            Some((key, value)) => {
                let a = self.settings.axes.iter().position(|x| x.setting.name() == key.as_str())?;
                let v = self.settings.axes[a].values.iter().position(|x| x == value)?;
                let q = self.settings.with_value(p, a, v);
                (q != p).then(|| self.condition_index(t, m, q))
            }
        }
    }

    /// The (τ, mismatch level, hyperparameter point) positions of condition `c`.
    pub fn condition_position(&self, c: usize) -> (usize, usize, usize) {
        let points = self.settings.len();
        let per_tau = self.mismatch.len() * points;
        (c / per_tau, (c % per_tau) / points, c % points)
    }

    /// The condition at (τ, mismatch level, hyperparameter point) positions.
    pub fn condition_index(&self, tau: usize, mismatch: usize, point: usize) -> usize {
        (tau * self.mismatch.len() + mismatch) * self.settings.len() + point
    }

    /// The conditions in grid order: τ-major, then mismatch, then the hyperparameter point.
    pub fn conditions(&self) -> Vec<Condition> {
        (0..self.condition_count())
            .map(|index| {
                let (t, m, p) = self.condition_position(index);
                let (tau, mismatch) = (self.taus[t], self.mismatch[m]);
                let point = self.settings.label(p);
                let label = if point.is_empty() {
                    format!("{tau} | mismatch {mismatch}")
                } else {
                    format!("{point} | {tau} | mismatch {mismatch}")
                };
                Condition {
                    index,
                    tau: tau.to_string(),
                    mismatch,
                    label,
                    point: p,
                    settings: self
                        .settings
                        .point(p)
                        .into_iter()
                        .map(|(s, v)| (s.name().to_string(), v))
                        .collect(),
                }
            })
            .collect()
    }

    /// Every run of the grid, in order: conditions × seeds.
    pub fn runs(&self) -> Vec<PlannedRun> {
        let mut out = Vec::new();
        for c in 0..self.condition_count() {
            for &seed in &self.seeds {
                out.push(PlannedRun { index: out.len(), condition: c, seed, id: format!("c{c}-s{seed}") });
            }
        }
        out
    }

    /// The profile and training configuration of one run.
    pub fn run_setup(&self, run: &PlannedRun) -> Result<(HardwareProfile, TrainConfig)> {
        let (t, m, p) = self.condition_position(run.condition);
        let profile = self.mismatch_mode.apply(&self.profile, self.mismatch[m])?;
        let shape = NetworkShape::new(self.layers.clone())?;
        let config = self.settings.configure(&self.config, p, &shape, &self.profile)?;
        Ok((profile, TrainConfig { tau: self.taus[t], seed: run.seed, ..config }))
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
