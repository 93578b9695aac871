"""examples/python/train_loihi2.py runs: it trains, plots if matplotlib is there, and exports NIR."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "train_loihi2.py"


def test_the_loihi2_example_trains_and_exports(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model.nir").stat().st_size > 0
    assert "epoch   3: train" in done.stderr and "energy per training example" in done.stdout
