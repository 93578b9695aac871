//! Reliability of `epchip train`: interrupted runs resume exactly, divergence stops cleanly, bad
//! checkpoints are refused.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn epchip() -> Command {
    Command::new(env!("CARGO_BIN_EXE_epchip"))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("cannot create a temporary directory")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// metrics.csv without the timing columns.
fn metrics_without_timing(dir: &Path) -> Vec<String> {
    let text = read(&dir.join("metrics.csv"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !["seconds", "examples_per_second", "eval_seconds"].contains(&header[i]))
        .collect();
    text.lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells.get(i).copied().unwrap_or_default()).collect::<Vec<_>>().join(",")
        })
        .collect()
}

fn summary_without_timing(dir: &Path) -> Value {
    let mut s: Value = serde_json::from_str(&read(&dir.join("summary.json"))).expect("summary.json is JSON");
    if let Some(o) = s.as_object_mut() {
        o.remove("examples_per_second");
    }
    s
}

fn chip_state(dir: &Path) -> Value {
    let c: Value = serde_json::from_str(&read(&dir.join("checkpoint.json"))).expect("checkpoint is JSON");
    c["chip"].clone()
}

const RUN: &[&str] = &["train", "--profile", "loihi2", "--train-limit", "1000", "--epochs", "4", "--quiet"];

#[test]
fn a_run_killed_mid_epoch_resumes_to_exactly_the_same_result() {
    let full = tempdir();
    let status = epchip().args(RUN).arg("--out").arg(full.path()).status().expect("start epchip");
    assert!(status.success());

    let part = tempdir();
    let mut child = epchip().args(RUN).arg("--out").arg(part.path()).spawn().expect("start epchip");
    // Wait for the first checkpoint (end of epoch 1), then kill the process inside epoch 2.
    let checkpoint = part.path().join("checkpoint.json");
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let rows_at_kill = read(&part.path().join("metrics.csv")).lines().count() - 1;
    assert!(rows_at_kill < 4, "the run finished before it could be killed");

    let status = epchip()
        .args(["train", "--quiet", "--threads", "2", "--resume"])
        .arg(part.path())
        .status()
        .expect("start epchip");
    assert!(status.success());
    assert_eq!(metrics_without_timing(full.path()), metrics_without_timing(part.path()));
    assert_eq!(summary_without_timing(full.path()), summary_without_timing(part.path()));
    assert_eq!(chip_state(full.path()), chip_state(part.path()), "final weights differ");
}

#[test]
fn a_diverging_run_stops_cleanly_with_exit_code_3() {
    let dir = tempdir();
    let out = epchip()
        .args(["train", "--profile", "ideal", "--dataset", "synthetic", "--layers", "16,32,4"])
        .args(["--epochs", "6", "--lr", "100", "--quiet", "--out"])
        .arg(dir.path())
        .output()
        .expect("start epchip");
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let s = summary_without_timing(dir.path());
    assert_eq!(s["diverged"], Value::Bool(true));
    let reason = s["divergence_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("epoch"), "{reason}");
    assert!((s["epochs"].as_u64().unwrap_or(99)) < 6, "training went on after diverging");
    assert!(dir.path().join("checkpoint.json").exists());
}

#[test]
fn bad_checkpoints_are_refused_with_the_file_named() {
    // No checkpoint at all.
    let empty = tempdir();
    let out = epchip().args(["train", "--quiet", "--resume"]).arg(empty.path()).output().expect("start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("checkpoint.json") && !err.contains("panicked"), "{err}");

    // A checkpoint cut in half, and one whose weights were tampered with.
    let dir = tempdir();
    let status = epchip()
        .args(["train", "--profile", "loihi2", "--dataset", "synthetic", "--layers", "16,32,4"])
        .args(["--epochs", "1", "--quiet", "--out"])
        .arg(dir.path())
        .status()
        .expect("start epchip");
    assert!(status.success());
    let path = dir.path().join("checkpoint.json");
    let text = read(&path);
    let mut tampered: Value = serde_json::from_str(&text).expect("JSON");
    tampered["chip"]["groups"][0]["weights"][0] = Value::from(0.5);
    for (name, content) in [("cut", text[..text.len() / 2].to_string()), ("tampered", tampered.to_string())] {
        std::fs::write(&path, content).expect("write");
        let out = epchip().args(["train", "--quiet", "--resume"]).arg(dir.path()).output().expect("start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.contains("checkpoint"), "{name}: {err}");
    }
}

#[test]
fn a_study_runs_from_the_command_line_and_merge_reports_missing_runs() {
    let dir = tempdir();
    let out = epchip()
        .args(["study", "--profile", "loihi2", "--dataset", "synthetic", "--layers", "16,32,4"])
        .args(["--tau", "constant,lognormal:cv=0.5", "--mismatch", "0,0.2", "--seeds", "2", "--epochs", "2"])
        .args(["--jobs", "2", "--quiet", "--out"])
        .arg(dir.path())
        .output()
        .expect("start epchip");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["results.csv", "summary.csv", "study.json", "report.html", "heatmap_instability.svg"] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    let results = read(&dir.path().join("results.csv"));
    assert_eq!(results.lines().count(), 1 + 8, "{results}");
    // Lose one run: merge refuses, names the gap and writes nothing; --partial merges what exists.
    std::fs::remove_dir_all(dir.path().join("runs/c2-s1")).expect("remove run");
    let out = epchip().args(["study", "merge"]).arg(dir.path()).output().expect("start epchip");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("c2-s1"));
    assert_eq!(read(&dir.path().join("results.csv")).lines().count(), 1 + 8, "merge wrote despite the gap");
    let out = epchip().args(["study", "merge", "--partial"]).arg(dir.path()).output().expect("start epchip");
    assert!(out.status.success());
    assert_eq!(read(&dir.path().join("results.csv")).lines().count(), 1 + 7);
    // Bad grid values are refused before anything runs.
    let bad = epchip()
        .args(["study", "--dataset", "synthetic", "--layers", "16,32,4", "--shard", "3/2", "--out"])
        .arg(dir.path())
        .output()
        .expect("start epchip");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("shard"));
}

#[test]
fn lif_trace_replays_a_spec_and_refuses_bad_ones() {
    let dir = tempdir();
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        r#"{"weights": [[100, -50], [5, 60]], "weight_exp": 0, "weight_bits": 8, "du": 4095, "dv": 0,
            "vth": 5, "bias_mant": [0, 0], "bias_exp": [0, 0], "input_spikes": [[1, 0], [0, 0]]}"#,
    )
    .expect("write spec");
    let out = epchip().args(["lif-trace", "--steps", "3", "--spec"]).arg(&spec).output().expect("start");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let trace: Value = serde_json::from_slice(&out.stdout).expect("trace is JSON");
    // The input spike of step 0 arrives at step 1: u = 100 << 6 = 6400 for neuron 0, 5 << 6 for neuron 1
    // (mixed sign mode truncates 5 to 4: 256). v = u; neuron 0 exceeds 5 << 6 = 320 and spikes.
    assert_eq!(trace["u"][0], serde_json::json!([0, 0]));
    assert_eq!(trace["u"][1], serde_json::json!([6400, 256]));
    assert_eq!(trace["spikes"][1], serde_json::json!([1, 0]));
    assert_eq!(trace["v"][1], serde_json::json!([0, 256]));
    for (bad, needle) in [
        (
            r#"{"weights": [[1]], "weight_exp": 0, "weight_bits": 8, "du": 5000, "dv": 1, "vth": 1, "bias_mant": [0], "bias_exp": [0], "input_spikes": [[1]]}"#,
            "decay 5000",
        ),
        (r#"{"weights": [[1]], "surprise": 1}"#, "surprise"),
    ] {
        std::fs::write(&spec, bad).expect("write spec");
        let out = epchip().args(["lif-trace", "--steps", "3", "--spec"]).arg(&spec).output().expect("start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn map_shows_the_placement_or_the_limit_that_does_not_fit() {
    let dir = tempdir();
    let json = dir.path().join("map.json");
    let out = epchip()
        .args(["map", "--profile", "loihi2", "--layers", "784,500,10", "--json"])
        .arg(&json)
        .output()
        .expect("start epchip");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&read(&json)).expect("map.json is JSON");
    assert_eq!(report["cores_used"], 5);
    let rows = report["cores"].as_array().expect("rows");
    // Four hidden blocks of 125 neurons (784 + 10 input axons each) and one output core.
    assert_eq!(rows.len(), 5);
    let hidden: u64 =
        rows.iter().filter(|r| r["population"] == "h1").map(|r| r["neurons"].as_u64().unwrap_or(0)).sum();
    assert_eq!(hidden, 500);
    assert!(rows.iter().all(|r| r["synapse_bits"].as_u64() <= r["synapse_capacity_bits"].as_u64()));
    assert_eq!(report["max_messages_per_step"], 4 * 125 + 10 * 4);
    let out = epchip()
        .args(["map", "--profile", "mixed-signal", "--layers", "784,500,10"])
        .output()
        .expect("start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("h1") && err.contains("794") && err.contains("64"), "{err}");
}
