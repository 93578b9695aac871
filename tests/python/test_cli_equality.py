"""A run from Python with the same seed and settings has the same metrics, summary and checkpoint
(timing aside) as `epchip train`, on dataset specs and on numpy arrays, with defaults and flags."""

import json

import numpy as np
import pytest

import epchip
from conftest import TIMING, metrics_rows, run_cli, summary, task, write_idx

CASES = [
    # The model's defaults for the network and chip (sigmoid, symmetric estimate, β 0.1).
    ("loihi2", "mnist10k:pool=4", "49,24,10", "constant", {}, []),
    # Flags given, several spellings.
    (
        "loihi2",
        "synthetic",
        "16,24,4",
        "lognormal:cv=0.5",
        dict(neuron="clip", beta=0.4, lr="0.2,0.05", batch=10, estimate="one-sided", t1=20),
        ["--neuron", "clip", "--beta", "0.4", "--lr", "0.2,0.05", "--batch", "10", "--estimate", "one-sided", "--t1", "20"],
    ),
    # An analog chip (clip at β 1 by default there), with device noise and mismatch.
    ("analog-rram", "synthetic:seed=2", "16,16,4", "gamma:cv=0.3", dict(positive_beta=True, lr=[0.1, 0.05]), ["--positive-beta", "--lr", "0.1,0.05"]),
]


@pytest.mark.parametrize("profile,dataset,layers,tau,kwargs,flags", CASES)
def test_python_and_cli_train_the_same_run(cli, tmp_path, profile, dataset, layers, tau, kwargs, flags):
    common = ["--profile", profile, "--dataset", dataset, "--layers", layers, "--tau", tau]
    run_cli(cli, "train", *common, "--epochs", "2", "--seed", "4", "--train-limit", "300", "--quiet",
            "--out", str(tmp_path / "cli"), *flags)
    run = epchip.train(profile=profile, dataset=dataset, layers=[int(n) for n in layers.split(",")], tau=tau,
                       epochs=2, seed=4, train_limit=300, quiet=True, out=tmp_path / "py", **kwargs)
    assert metrics_rows(tmp_path / "py") == metrics_rows(tmp_path / "cli")
    assert summary(tmp_path / "py") == summary(tmp_path / "cli")
    # The returned run holds the same numbers as its files.
    assert run.summary["test_accuracy"] == summary(tmp_path / "cli")["test_accuracy"]
    cli_ckpt = json.loads((tmp_path / "cli" / "checkpoint.json").read_text())
    py_ckpt = json.loads((tmp_path / "py" / "checkpoint.json").read_text())
    for c in (cli_ckpt, py_ckpt):
        for row in c["history"]:
            for k in TIMING:
                row.pop(k)
    assert py_ckpt == cli_ckpt


def test_numpy_arrays_train_as_the_same_data_read_from_idx_files(cli, tmp_path):
    # IDX files always carry MNIST's 10 classes.
    x, y = task(400, 40, 10, seed=1)
    pixels = np.floor(x * 255 + 0.5).astype(np.uint8).reshape(-1, 5, 8)  # rounds half up, as epchip
    write_idx(tmp_path / "idx", pixels[:300], y[:300], pixels[300:], y[300:])
    run_cli(cli, "train", "--profile", "loihi2", "--dataset", f"idx:{tmp_path / 'idx'}", "--layers", "40,20,10",
            "--tau", "lognormal:cv=0.5", "--epochs", "2", "--seed", "2", "--quiet", "--out", str(tmp_path / "cli"))
    # Floats in [0, 1] (rounded to 1/255 like the files) and uint8 images give the same run.
    for name, (xa, xb) in {"float": (x[:300], x[300:]), "uint8": (pixels[:300], pixels[300:])}.items():
        epchip.train(profile="loihi2", x_train=xa, y_train=y[:300], x_test=xb, y_test=y[300:], layers=[40, 20, 10],
                     tau="lognormal:cv=0.5", epochs=2, seed=2, quiet=True, out=tmp_path / name)
        assert metrics_rows(tmp_path / name) == metrics_rows(tmp_path / "cli"), name
        py, ref = summary(tmp_path / name), summary(tmp_path / "cli")
        assert py.pop("dataset").startswith("numpy:") and ref.pop("dataset").startswith("idx:")
        assert py == ref, name
