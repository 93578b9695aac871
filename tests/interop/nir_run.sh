#!/usr/bin/env bash
# Deployment through NIR in Norse: trains a small network on loihi2 (784-64-10, log-normal τ), exports
# its spiking deployment as NIR with epchip's report (`export --spiking --json`) and per-digit output
# spike counts, then imports the graph with Norse's own importer (norse.torch.from_nir, built on
# nirtorch), runs the first 200 test digits and compares Norse's accuracy with epchip's prediction
# (tests/interop/nir_run.py; within 1 point, and it reports how many digits' counts are equal).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/toolchains_venv.sh
toolchains_venv
source tests/interop/deployment_run.sh
train_and_export_deployment nir nir "${NIR_RUN_DIGITS:-200}"
"$VENV/bin/python" tests/interop/nir_run.py "$WORK/model.nir" "$WORK/report.json" "$WORK/counts.json" \
    crates/ep-runtime/data/mnist-10k/test-images-idx3-ubyte.gz
