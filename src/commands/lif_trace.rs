//! `epchip lif-trace`: replays a spec through the bit-accurate CUBA LIF compartment (docs/loihi.md).

use std::process::ExitCode;

use anyhow::Context;
use chip_model::cuba_lif::{CubaLif, CubaLifParams, LoihiDense, replay};
use serde::{Deserialize, Serialize};

use crate::cli::LifTraceArgs;

/// A decay given once for the population or once per neuron.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Decay {
    Shared(u16),
    PerNeuron(Vec<u16>),
}

impl Decay {
    fn expand(self, n: usize, name: &str) -> anyhow::Result<Vec<u16>> {
        match self {
            Decay::Shared(d) => Ok(vec![d; n]),
            Decay::PerNeuron(v) => {
                anyhow::ensure!(v.len() == n, "`{name}` has {} values for {n} neurons", v.len());
                Ok(v)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    weights: Vec<Vec<i64>>,
    weight_exp: i32,
    weight_bits: u32,
    du: Decay,
    dv: Decay,
    vth: i64,
    bias_mant: Vec<i64>,
    bias_exp: Vec<i32>,
    input_spikes: Vec<Vec<u8>>,
}

#[derive(Debug, Serialize)]
struct Trace {
    u: Vec<Vec<i64>>,
    v: Vec<Vec<i64>>,
    spikes: Vec<Vec<u8>>,
}

pub fn run(args: LifTraceArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("cannot read {}", args.spec.display()))?;
    let spec: Spec = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid LIF spec", args.spec.display()))?;
    let n = spec.weights.len();
    anyhow::ensure!(n > 0, "{}: `weights` has no rows (one row per neuron)", args.spec.display());
    anyhow::ensure!(
        spec.input_spikes.iter().flatten().all(|&s| s <= 1),
        "{}: `input_spikes` must hold 0 or 1",
        args.spec.display()
    );
    let dense = LoihiDense::new(spec.weights, spec.weight_exp, spec.weight_bits)?;
    let params = CubaLifParams {
        du: spec.du.expand(n, "du")?,
        dv: spec.dv.expand(n, "dv")?,
        vth: spec.vth,
        bias_mant: spec.bias_mant,
        bias_exp: spec.bias_exp,
    };
    let mut lif = CubaLif::new(params)?;
    let inputs: Vec<Vec<bool>> =
        spec.input_spikes.iter().map(|r| r.iter().map(|&s| s == 1).collect()).collect();
    let trace = replay(&dense, &mut lif, &inputs, args.steps)?;
    let out = Trace { u: trace.u, v: trace.v, spikes: trace.spikes };
    println!("{}", serde_json::to_string(&out)?);
    Ok(ExitCode::SUCCESS)
}
