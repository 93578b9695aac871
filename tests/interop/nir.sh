#!/usr/bin/env bash
# Interoperability of epchip's exports with the official NIR package: trains a short run on loihi2,
# exports it as NIR (rate and spiking), Lava-dl netx (trained and spiking) and a mapping file, then checks in a Python
# virtual environment (nir + h5py from PyPI) that nir.read() accepts both NIR files with its type
# checks, that shapes, edges and per-neuron tau are what was exported, that the netx layout has the
# chip's integer weights and decays, and that a graph written by nir.write() imports back.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
VENV=${NIR_VENV:-target/interop/nir-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import nir, h5py" 2>/dev/null; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "nir==1.0.8" h5py numpy
fi
cargo build --release --quiet --bin epchip
BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/release/epchip"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" train --profile loihi2 --dataset mnist10k --layers 784,64,10 --tau lognormal:cv=0.5 --epochs 1 \
    --train-limit 1000 --seed 3 --quiet --out "$WORK/run"
"$BIN" export --run "$WORK/run" --format nir --out "$WORK/rate.nir"
"$BIN" export --run "$WORK/run" --format nir --spiking --out "$WORK/spiking.nir"
"$BIN" export --run "$WORK/run" --format lava-netx --out "$WORK/model.netx"
"$BIN" export --run "$WORK/run" --format lava-netx --spiking --out "$WORK/spiking.netx"
"$BIN" export --run "$WORK/run" --format mapping --out "$WORK/mapping.json"
"$VENV/bin/python" tests/interop/nir_check.py "$WORK" "$BIN"
