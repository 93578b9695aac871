#!/usr/bin/env bash
# Deployment in stock Lava-dl: trains a small network on loihi2 (784-64-10, log-normal τ), exports
# its spiking deployment as a lava-netx file with epchip's report (`export --spiking --json`) and
# per-digit output spike counts, then loads the file with lava.lib.dl.netx.hdf5.Network, runs the
# first 200 test digits in Lava's fixed-point simulation (Loihi2SimCfg(select_tag="fixed_pt")) and
# checks that every digit's output spike counts equal epchip's emulation bit for bit and that Lava's
# accuracy equals epchip's deployed_test_accuracy (tests/interop/lava_netx.py). Prints both run times.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/toolchains_venv.sh
toolchains_venv
source tests/interop/deployment_run.sh
train_and_export_deployment lava-netx netx "${LAVA_NETX_DIGITS:-200}"
"$VENV/bin/python" tests/interop/lava_netx.py "$WORK/model.netx" "$WORK/report.json" "$WORK/counts.json" \
    crates/ep-runtime/data/mnist-10k/test-images-idx3-ubyte.gz
