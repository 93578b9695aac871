"""Shared helpers of the Python package's tests: the CLI binary to compare with, and small data."""

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

#: Columns of metrics.csv and fields of summary.json that measure time (they differ between runs).
TIMING = {"seconds", "examples_per_second", "eval_seconds"}


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `epchip` binary built from this checkout (tests/python/run.sh sets EPCHIP_BIN)."""
    path = os.environ.get("EPCHIP_BIN")
    if not path:
        pytest.fail("set EPCHIP_BIN to the epchip binary (tests/python/run.sh does)")
    return Path(path)


def run_cli(cli: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs the CLI and fails the test with its stderr if it fails."""
    done = subprocess.run([str(cli), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def metrics_rows(run_dir: Path) -> list[dict]:
    """metrics.csv without its timing columns."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def summary(run_dir: Path) -> dict:
    """summary.json without its timing fields."""
    data = json.loads((run_dir / "summary.json").read_text())
    return {k: v for k, v in data.items() if k not in TIMING}


def task(n: int, inputs: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small learnable task: the class is the input block with the largest mean, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.random((n, inputs)) * 0.4
    block = inputs // classes
    for i, c in enumerate(y):
        x[i, c * block : (c + 1) * block] += 0.5
    return np.clip(x, 0.0, 1.0), y


def write_idx(directory: Path, x_train, y_train, x_test, y_test) -> None:
    """Writes uint8 arrays as MNIST-style IDX files (images n × rows × cols, labels n)."""
    directory.mkdir(parents=True, exist_ok=True)

    def images(path, x):
        n, rows, cols = x.shape
        header = bytes([0, 0, 8, 3]) + b"".join(int(v).to_bytes(4, "big") for v in (n, rows, cols))
        path.write_bytes(header + x.astype(np.uint8).tobytes())

    def labels(path, y):
        header = bytes([0, 0, 8, 1]) + len(y).to_bytes(4, "big")
        path.write_bytes(header + np.asarray(y, dtype=np.uint8).tobytes())

    images(directory / "train-images-idx3-ubyte", x_train)
    labels(directory / "train-labels-idx1-ubyte", y_train)
    images(directory / "t10k-images-idx3-ubyte", x_test)
    labels(directory / "t10k-labels-idx1-ubyte", y_test)
