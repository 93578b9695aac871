# Sourced by the interop scripts. find_python310 sets PY to a working Python 3.10 (Lava needs
# Python < 3.11); toolchains_venv sets VENV to the one virtual environment of
# tests/interop/toolchains-requirements.txt (stock Lava-dl, Lava, Norse, NIR, torch), made on first
# use under ${EPCHIP_INTEROP_CACHE:-~/.cache/epchip-interop}/<hash of the pins (comments aside) and
# Python version>, outside the clone, so every clone and CI run shares it. A venv whose install did
# not finish (no `complete` marker) is made again.

find_python310() {
    # A pyenv shim named python3.10 may exist and still refuse to run (another global version), so
    # every candidate is asked to run and report its version.
    PY=""
    local root=${PYENV_ROOT:-$HOME/.pyenv}
    for candidate in "$root"/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10 python3.10; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
            PY=$candidate
            return 0
        fi
    done
    echo "interop: Python 3.10 not found (Lava requires Python < 3.11); install it (e.g. pyenv install 3.10)" >&2
    return 1
}

toolchains_venv() {
    find_python310
    local requirements=tests/interop/toolchains-requirements.txt
    local key
    key=$( { grep -v "^#" "$requirements"; "$PY" --version; } | sha256sum | cut -c1-16)
    VENV=${EPCHIP_INTEROP_CACHE:-$HOME/.cache/epchip-interop}/$key
    if [ ! -f "$VENV/complete" ]; then
        echo "interop: installing $requirements into $VENV (about 5.6 GB, torch with its CUDA wheels)" >&2
        rm -rf "$VENV"
        mkdir -p "$(dirname "$VENV")"
        "$PY" -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        touch "$VENV/complete"
    fi
}
