#!/usr/bin/env bash
# Bit-exactness of epchip's CUBA LIF compartment against Lava's fixed-point model: uses the Python 3.10
# virtual environment of tests/interop/toolchains_venv.sh (lava-nc 0.10.0 pinned), and compares >= 200
# random Dense + LIF networks of 100 steps value by value (tests/interop/lava_lif.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

source tests/interop/toolchains_venv.sh
toolchains_venv
cargo build --release --quiet --bin epchip
BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/release/epchip"
"$VENV/bin/python" tests/interop/lava_lif.py "$BIN" "${LAVA_NETWORKS:-200}" 100 2026
