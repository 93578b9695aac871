//! What one bench measurement trains: profile, network, batch, neuron model and thread counts,
//! parsed from `epchip bench`'s flags with errors that name the flag, the value and what is allowed.

use chip_model::HardwareProfile;
use ep_runtime::{NetworkShape, NeuronModel, TrainConfig};

/// Free steps of every bench workload (the standard workload's T1, kept for deeper networks too so
/// that the cost per step is compared at equal step counts).
pub const T1: usize = 30;
/// Nudged steps of every bench workload.
pub const T2: usize = 10;

/// Inputs and classes of mnist10k, the bench's dataset.
pub const MNIST_SIZES: (usize, usize) = (784, 10);

/// The profiles measured when `--profile` is not given.
pub const DEFAULT_PROFILES: [&str; 3] = ["ideal", "loihi2", "analog-rram"];

/// One training setting to time.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Profile as given (a built-in name or a .ron path).
    pub profile: String,
    /// Layer sizes, input first.
    pub shape: NetworkShape,
    /// Examples per mini-batch.
    pub batch: usize,
    /// Neuron model.
    pub neuron: NeuronModel,
}

impl Workload {
    /// The training configuration of this workload at `threads` worker threads: the model's
    /// defaults for the network, one-sided estimate, T1 = 30 and T2 = 10, one epoch.
    pub fn config(&self, threads: usize) -> TrainConfig {
        TrainConfig {
            batch: self.batch,
            threads,
            epochs: 1,
            symmetric: false,
            t1: T1,
            t2: T2,
            ..TrainConfig::for_model(self.neuron, &self.shape)
        }
    }

    /// Refuses a network the profile's chips cannot hold (checked by the mapper before anything is
    /// measured), naming the flags.
    pub fn check_fits(&self) -> anyhow::Result<()> {
        let profile = HardwareProfile::load(&self.profile)?;
        let config = self.config(1);
        ep_runtime::place_network(&profile, &self.shape, config.placement).map_err(|e| {
            anyhow::anyhow!(
                "invalid --layers {} on --profile {}: {e} (see `epchip map --profile {} --layers {}`)",
                self.shape,
                self.profile,
                self.profile,
                self.shape.sizes().iter().map(usize::to_string).collect::<Vec<_>>().join(",")
            )
        })?;
        Ok(())
    }

    /// Short name of the profile for tables: the file stem of a .ron path, else the name.
    pub fn profile_label(&self) -> String {
        profile_label(&self.profile)
    }
}

/// The file stem of a .ron path, or the built-in name itself.
pub fn profile_label(profile: &str) -> String {
    if profile.ends_with(".ron") {
        std::path::Path::new(profile)
            .file_stem()
            .map_or_else(|| profile.to_string(), |s| s.to_string_lossy().into_owned())
    } else {
        profile.to_string()
    }
}

/// Parses a comma-separated list of positive integers within `range`, naming `flag` in errors.
pub fn parse_counts(
    flag: &str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
    what: &str,
) -> anyhow::Result<Vec<usize>> {
    let allowed = || {
        format!(
            "{what}: one integer in {}..={}, or a comma-separated list (e.g. {},{})",
            range.start(),
            range.end(),
            range.start(),
            range.start().saturating_add(1).min(*range.end())
        )
    };
    let values = text
        .split(',')
        .map(|part| {
            part.trim().parse::<usize>().ok().filter(|v| range.contains(v)).ok_or_else(|| {
                match text.contains(',') {
                    true => anyhow::anyhow!("invalid --{flag} `{text}` (`{}`): {}", part.trim(), allowed()),
                    false => anyhow::anyhow!("invalid --{flag} `{text}`: {}", allowed()),
                }
            })
        })
        .collect::<anyhow::Result<Vec<usize>>>()?;
    let mut seen = values.clone();
    seen.sort_unstable();
    seen.dedup();
    anyhow::ensure!(
        seen.len() == values.len(),
        "invalid --{flag} `{text}`: a value appears twice; {}",
        allowed()
    );
    Ok(values)
}

/// Parses `--profile`: a comma-separated list of built-in names or .ron files, each loaded once
/// here so that a bad one is refused before anything is measured.
pub fn parse_profiles(text: Option<&str>) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = match text {
        None => DEFAULT_PROFILES.iter().map(|s| s.to_string()).collect(),
        Some(t) => t.split(',').map(|s| s.trim().to_string()).collect(),
    };
    for name in &names {
        if name.is_empty() {
            anyhow::bail!(
                "invalid --profile `{}`: an empty name; give built-in names ({}) or .ron files, comma-separated",
                text.unwrap_or_default(),
                chip_model::BUILTIN_PROFILE_NAMES.join(", ")
            );
        }
        HardwareProfile::load(name).map_err(|e| anyhow::anyhow!("invalid --profile `{name}`: {e}"))?;
    }
    Ok(names)
}

/// Parses `--layers` for the bench's dataset: any depth, 784 inputs and 10 outputs.
pub fn parse_layers(text: &str) -> anyhow::Result<NetworkShape> {
    let shape = NetworkShape::parse(text).map_err(|e| anyhow::anyhow!("invalid --layers `{text}`: {e}"))?;
    let (inputs, classes) = MNIST_SIZES;
    anyhow::ensure!(
        shape.input() == inputs && shape.output() == classes,
        "invalid --layers `{text}`: the bench trains on mnist10k, so the network needs {inputs} inputs and \
         {classes} outputs (e.g. {inputs},500,10 or {inputs},500,500,10)"
    );
    Ok(shape)
}

/// Parses `--neuron`.
pub fn parse_neuron(text: &str) -> anyhow::Result<NeuronModel> {
    text.parse::<NeuronModel>().map_err(|_| anyhow::anyhow!("invalid --neuron `{text}`: use clip or sigmoid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_bad_values_name_the_flag() {
        assert_eq!(parse_counts("batch", "1, 20,50", 1..=100, "batch sizes").ok(), Some(vec![1, 20, 50]));
        for bad in ["0", "x", "1,,2", "1,1", "101"] {
            let err = parse_counts("batch", bad, 1..=100, "batch sizes").err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("--batch") && e.contains(bad)),
                "{bad}: {err:?}"
            );
        }
        assert!(parse_layers("784,500,500,10").is_ok());
        assert!(parse_layers("16,32,4").is_err());
        assert!(parse_neuron("relu").is_err());
        assert_eq!(profile_label("/tmp/x/loihi2-board32.ron"), "loihi2-board32");
    }
}
