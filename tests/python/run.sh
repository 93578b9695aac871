#!/usr/bin/env bash
# The Python package: builds epchip from this checkout with `pip install .` (maturin as the PEP 517
# backend, as a user would from a fresh clone), installs it in a virtual environment with pinned
# pytest, numpy and pandas (tests/python/requirements.txt; the environment is kept under
# ~/.cache/epchip-py, keyed by the requirements and the Python version, and made anew when
# missing), then runs tests/python with pytest: CLI/Python equality, numpy data of other shapes,
# bad arguments, Ctrl-C, the low-level chip.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
REQS=tests/python/requirements.txt
KEY=$( (cat "$REQS"; "$PY" --version) | sha256sum | cut -c1-16)
VENV=${EPCHIP_PY_VENV:-$HOME/.cache/epchip-py/venv-$KEY}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import maturin, pytest, numpy, pandas" 2>/dev/null; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
fi
# `pip install .` with the environment's pinned maturin (no isolated build environment to download;
# the backend runs the `maturin` executable, so the environment's bin comes first on PATH).
export PATH="$VENV/bin:$PATH"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall .
cargo build --release --quiet --bin epchip
export EPCHIP_BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/release/epchip"
cd tests/python
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
