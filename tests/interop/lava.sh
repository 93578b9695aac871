#!/usr/bin/env bash
# Bit-exactness of epchip's CUBA LIF compartment against Lava's fixed-point model: makes a Python 3.10
# virtual environment (Lava needs Python < 3.11), installs lava-nc from PyPI, and compares >= 200
# random Dense + LIF networks of 100 steps value by value (tests/interop/lava_lif.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

# A pyenv shim named python3.10 may exist and still refuse to run (another global version), so
# every candidate is asked to run and report its version.
PY=""
PYENV_ROOT_DIR=${PYENV_ROOT:-$HOME/.pyenv}
for candidate in "$PYENV_ROOT_DIR"/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10 python3.10; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
        PY=$candidate
        break
    fi
done
if [ -z "$PY" ]; then
    echo "lava-interop: Python 3.10 not found (Lava requires Python < 3.11); install it (e.g. pyenv install 3.10)" >&2
    exit 1
fi
VENV=${LAVA_VENV:-target/interop/lava-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import lava" 2>/dev/null; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check lava-nc
fi
cargo build --release --quiet --bin epchip
"$VENV/bin/python" tests/interop/lava_lif.py "$(pwd)/target/release/epchip" "${LAVA_NETWORKS:-200}" 100 2026
