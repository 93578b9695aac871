"""A study from Python writes the same study as `epchip study` and returns its tables."""

import csv

import pytest

import epchip
from conftest import TIMING, run_cli, task


def table(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def test_study_matches_the_cli_and_returns_its_tables(cli, tmp_path):
    run_cli(cli, "study", "--profile", "ideal", "--dataset", "synthetic", "--layers", "16,8,4", "--tau",
            "constant,lognormal:cv=0.5", "--seeds", "2", "--epochs", "2", "--jobs", "2", "--vary", "beta=0.1,0.5",
            "--baseline", "beta=0.1", "--quiet", "--out", str(tmp_path / "cli"))
    study = epchip.study(out=tmp_path / "py", profile="ideal", dataset="synthetic", layers=[16, 8, 4],
                         tau=["constant", "lognormal:cv=0.5"], seeds=2, epochs=2, jobs=2, vary={"beta": [0.1, 0.5]},
                         baseline="beta=0.1", quiet=True)
    for name in ["summary.csv", "comparisons.csv", "robustness.csv", "results.csv"]:
        assert table(tmp_path / "py" / name) == table(tmp_path / "cli" / name), name
    assert study.missing == []
    assert len(study.results) == 2 * 2 * 2 and len(study.summary) == 4
    row = study.summary[0]
    assert isinstance(row["runs"], int) and isinstance(row["final_mean"], float)
    assert study.report.name == "report.html" and study.report.exists()
    again = epchip.Study.load(tmp_path / "cli")
    assert len(again.summary) == 4


def test_on_chip_against_off_chip_with_drift_matches_the_cli(cli, tmp_path):
    """The deployment study (training axis, a setting baseline, drift times and fine-tuning) is the CLI's."""
    run_cli(cli, "study", "--profile", "analog-rram", "--dataset", "synthetic", "--layers", "16,8,4", "--tau",
            "constant", "--seeds", "2", "--epochs", "2", "--jobs", "2", "--vary", "training=on-chip,off-chip",
            "--baseline", "training=on-chip", "--drift-times", "0,1y", "--finetune-epochs", "1", "--quiet",
            "--out", str(tmp_path / "cli"))
    epchip.study(out=tmp_path / "py", profile="analog-rram", dataset="synthetic", layers=[16, 8, 4], tau="constant",
                 seeds=2, epochs=2, jobs=2, vary={"training": ["on-chip", "off-chip"]}, baseline="training=on-chip",
                 drift_times=["0", "1y"], finetune_epochs=1, quiet=True)
    for name in ["retention.csv", "comparisons.csv", "summary.csv"]:
        assert table(tmp_path / "py" / name) == table(tmp_path / "cli" / name), name
    assert len(table(tmp_path / "py" / "retention.csv")) == 2 * 2
    with pytest.raises(ValueError, match="drift_times"):
        epchip.study(out=tmp_path / "bad", profile="ideal", dataset="synthetic", layers=[16, 8, 4], finetune_epochs=1,
                     quiet=True)


def test_a_study_on_numpy_arrays(tmp_path):
    x, y = task(300, 12, 3)
    data = dict(x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    args = dict(out=tmp_path, profile="loihi2", layers=[12, 10, 3], tau="constant,gamma:cv=0.5", mismatch=[0, 0.2],
                seeds=2, epochs=2, jobs=2, quiet=True)
    study = epchip.study(**args, **data)
    assert len(study.summary) == 4 and all(r["divergence_share"] == 0 for r in study.summary)
    assert {r["tau"] for r in study.summary} == {"constant", "gamma:cv=0.5"}
    # The same arrays again: every run is already there. Other arrays: another study, refused.
    assert epchip.study(**args, **data).missing == []
    with pytest.raises(ValueError, match="already holds a different study"):
        epchip.study(**args, **{**data, "y_train": (y[:200] + 1) % 3})
