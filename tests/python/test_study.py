"""A study from Python writes the same study as `epchip study` and returns its tables."""

import csv

import epchip
from conftest import TIMING, run_cli


def table(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def test_study_matches_the_cli_and_returns_its_tables(cli, tmp_path):
    run_cli(cli, "study", "--profile", "ideal", "--dataset", "synthetic", "--layers", "16,8,4", "--tau",
            "constant,lognormal:cv=0.5", "--seeds", "2", "--epochs", "2", "--jobs", "2", "--vary", "beta=0.1,0.5",
            "--quiet", "--out", str(tmp_path / "cli"))
    study = epchip.study(out=tmp_path / "py", profile="ideal", dataset="synthetic", layers=[16, 8, 4],
                         tau=["constant", "lognormal:cv=0.5"], seeds=2, epochs=2, jobs=2, vary={"beta": [0.1, 0.5]},
                         quiet=True)
    for name in ["summary.csv", "comparisons.csv", "robustness.csv", "results.csv"]:
        assert table(tmp_path / "py" / name) == table(tmp_path / "cli" / name), name
    assert study.missing == []
    assert len(study.results) == 2 * 2 * 2 and len(study.summary) == 4
    row = study.summary[0]
    assert isinstance(row["runs"], int) and isinstance(row["final_mean"], float)
    assert study.report.name == "report.html" and study.report.exists()
    again = epchip.Study.load(tmp_path / "cli")
    assert len(again.summary) == 4
