//! Integration tests of the `epchip` binary: profile commands, training outputs, determinism and
//! the handling of bad flags. Training runs use the tiny synthetic task so each test is fast.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Layer sizes that fit the synthetic task (4×4 images, 4 classes).
const SYNTHETIC_LAYERS: &str = "16,32,4";

/// A finished run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts a successful run, printing everything otherwise.
    fn success(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "stderr:\n{}", self.stderr);
        self
    }

    /// Asserts a clean failure: non-zero exit, no panic, and `needles` in stderr.
    fn failure(self, needles: &[&str]) -> Self {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a non-zero exit, got {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "the binary panicked:\n{}", self.stderr);
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "the binary panicked:\n{}", self.stderr);
        for needle in needles {
            assert!(self.stderr.contains(needle), "stderr should mention `{needle}`:\n{}", self.stderr);
        }
        self
    }
}

fn epchip() -> Command {
    Command::new(env!("CARGO_BIN_EXE_epchip"))
}

fn run(args: &[&str]) -> Run {
    Run::from_output(epchip().args(args).output().expect("cannot start epchip"))
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    Run::from_output(epchip().args(args).current_dir(dir).output().expect("cannot start epchip"))
}

/// `epchip study` on the synthetic task (ideal profile, constant τ, one seed, one epoch) into `out`,
/// with `extra` flags appended.
fn study_synthetic(out: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "study",
        "--profile",
        "ideal",
        "--dataset",
        "synthetic",
        "--layers",
        SYNTHETIC_LAYERS,
        "--tau",
        "constant",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("cannot create a temporary directory")
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("temporary paths are UTF-8").to_string()
}

/// `epchip train` on the synthetic task writing to `out`, with `extra` flags appended
/// (`--layers` defaults to [`SYNTHETIC_LAYERS`] unless `extra` gives it).
fn train_synthetic(out: &Path, extra: &[&str]) -> Run {
    let out = path_str(out);
    let mut args = vec!["train", "--dataset", "synthetic", "--out", &out];
    if !extra.contains(&"--layers") {
        args.extend_from_slice(&["--layers", SYNTHETIC_LAYERS]);
    }
    args.extend_from_slice(extra);
    run(&args)
}

/// A bad-flag training run: synthetic data, one epoch, output into a fresh temporary directory.
fn train_bad(extra: &[&str]) -> Run {
    let dir = tempdir();
    let out = path_str(&dir.path().join("run"));
    let mut args = vec![
        "train",
        "--dataset",
        "synthetic",
        "--layers",
        SYNTHETIC_LAYERS,
        "--epochs",
        "1",
        "--quiet",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn summary(dir: &Path) -> Value {
    let text = read(&dir.join("summary.json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("summary.json is not JSON: {e}\n{text}"))
}

/// metrics.csv as (header, rows), each row a map from column name to cell text.
fn metrics(dir: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let text = read(&dir.join("metrics.csv"));
    let mut lines = text.lines();
    let header: Vec<String> =
        lines.next().expect("metrics.csv has a header").split(',').map(str::to_string).collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "row `{l}` does not match the header");
            header.iter().cloned().zip(cells.iter().map(|c| c.to_string())).collect()
        })
        .collect();
    (header, rows)
}

/// Columns of metrics.csv that measure wall-clock time and so differ between identical runs.
const TIMING_COLUMNS: &[&str] = &["seconds", "examples_per_second", "eval_seconds"];

/// metrics.csv rows without the timing columns.
fn metrics_without_timing(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let (_, mut rows) = metrics(dir);
    for row in &mut rows {
        for col in TIMING_COLUMNS {
            row.remove(*col);
        }
    }
    rows
}

/// summary.json without its timing field.
fn summary_without_timing(dir: &Path) -> Value {
    let mut s = summary(dir);
    let obj = s.as_object_mut().expect("summary.json is an object");
    obj.remove("examples_per_second");
    s
}

fn number(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("summary.json lacks a number `{key}`: {v}"))
}

// ---------------------------------------------------------------------------------------------
// epchip profile
// ---------------------------------------------------------------------------------------------

#[test]
fn profile_check_builtin_profiles() {
    for name in ["loihi2", "ideal"] {
        let r = run(&["profile", "check", name]).success();
        assert!(r.stdout.contains("is valid"), "{}", r.stdout);
        assert!(r.stdout.contains(&format!("`{name}`")), "{}", r.stdout);
    }
}

#[test]
fn profile_check_malformed_file_reports_line_and_column() {
    let dir = tempdir();
    let shown = run(&["profile", "show", "loihi2"]).success().stdout;
    // An unknown field: ron reports its exact position.
    let text = shown.replacen("weight_bits: 8,", "weight_bitz: 8,", 1);
    assert_ne!(text, shown, "`profile show loihi2` should print `weight_bits: 8,`");
    let line = text.lines().position(|l| l.contains("weight_bitz")).expect("edited line") + 1;
    let column = text.lines().nth(line - 1).and_then(|l| l.find("weight_bitz")).expect("column") + 1;
    let path = dir.path().join("file.ron");
    std::fs::write(&path, &text).expect("write");
    let p = path_str(&path);
    let r = run(&["profile", "check", &p]);
    assert_eq!(r.code, Some(1), "stderr:\n{}", r.stderr);
    r.failure(&[&format!("file.ron:{line}:{column}:"), "weight_bitz"]);
}

#[test]
fn profile_check_wrong_type_reports_the_line() {
    let dir = tempdir();
    let shown = run(&["profile", "show", "loihi2"]).success().stdout;
    let text = shown.replacen("cores: 128", "cores: \"many\"", 1);
    let line = text.lines().position(|l| l.contains("\"many\"")).expect("edited line") + 1;
    let path = dir.path().join("file.ron");
    std::fs::write(&path, &text).expect("write");
    let r = run(&["profile", "check", &path_str(&path)]);
    assert_eq!(r.code, Some(1), "stderr:\n{}", r.stderr);
    let r = r.failure(&[&format!("file.ron:{line}:")]);
    // `file.ron:LINE:COL:` with a numeric column.
    let after = r.stderr.split(&format!("file.ron:{line}:")).nth(1).expect("location present");
    let col: String = after.chars().take_while(char::is_ascii_digit).collect();
    assert!(!col.is_empty() && after[col.len()..].starts_with(':'), "no column in:\n{}", r.stderr);
}

#[test]
fn profile_check_truncated_file() {
    let dir = tempdir();
    let path = dir.path().join("file.ron");
    std::fs::write(&path, "HardwareProfile(\n    name: \"x\",\n").expect("write");
    let r = run(&["profile", "check", &path_str(&path)]);
    assert_eq!(r.code, Some(1), "stderr:\n{}", r.stderr);
    // ron reports the end of input right after the last token: line 2, after `    name: "x",`.
    r.failure(&[&format!("file.ron:2:{}:", "    name: \"x\",".len() + 1), "end"]);
}

#[test]
fn profile_check_zero_cores() {
    let dir = tempdir();
    let shown = run(&["profile", "show", "loihi2"]).success().stdout;
    let text = shown.replacen("cores: 128", "cores: 0", 1);
    assert_ne!(text, shown);
    let path = dir.path().join("zero.ron");
    std::fs::write(&path, text).expect("write");
    let r = run(&["profile", "check", &path_str(&path)]);
    assert_eq!(r.code, Some(1), "stderr:\n{}", r.stderr);
    let r = r.failure(&["chip.cores", "zero.ron", "1..=1048576"]);
    assert!(!r.stdout.contains("is valid"), "{}", r.stdout);
}

#[test]
fn profile_check_relative_path_from_the_working_directory() {
    let dir = tempdir();
    let shown = run(&["profile", "show", "ideal"]).success().stdout;
    std::fs::write(dir.path().join("custom.ron"), shown.replacen("name: \"ideal\"", "name: \"custom\"", 1))
        .expect("write");
    let r = run_in(dir.path(), &["profile", "check", "custom.ron"]).success();
    assert!(r.stdout.contains("profile `custom` is valid"), "{}", r.stdout);
}

#[test]
fn profile_check_unknown_name_and_missing_file() {
    run(&["profile", "check", "no-such-profile"]).failure(&["no-such-profile", "ideal", "loihi2"]);
    let dir = tempdir();
    let missing = path_str(&dir.path().join("missing.ron"));
    run(&["profile", "check", &missing]).failure(&["missing.ron"]);
}

#[test]
fn profile_list_names_the_builtin_profiles() {
    let r = run(&["profile", "list"]).success();
    let names: Vec<&str> = r.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"ideal"), "{}", r.stdout);
    assert!(names.contains(&"loihi2"), "{}", r.stdout);
}

#[test]
fn profile_show_output_re_parses() {
    let dir = tempdir();
    for name in ["loihi2", "ideal"] {
        let shown = run(&["profile", "show", name]).success().stdout;
        assert!(shown.contains(&format!("name: \"{name}\"")), "{shown}");
        let path = dir.path().join(format!("shown-{name}.ron"));
        std::fs::write(&path, &shown).expect("write");
        let r = run(&["profile", "check", &path_str(&path)]).success();
        assert!(r.stdout.contains(&format!("profile `{name}` is valid")), "{}", r.stdout);
        // Showing the written file prints the same text again.
        let again = run(&["profile", "show", &path_str(&path)]).success().stdout;
        assert_eq!(again, shown);
    }
}

// ---------------------------------------------------------------------------------------------
// epchip train: outputs
// ---------------------------------------------------------------------------------------------

#[test]
fn train_writes_metrics_and_summary() {
    let dir = tempdir();
    let out = dir.path().join("run");
    train_synthetic(&out, &["--profile", "loihi2", "--epochs", "3", "--quiet", "--seed", "7"]).success();

    let (header, rows) = metrics(&out);
    for col in ["epoch", "train_accuracy", "test_accuracy", "seconds", "examples_per_second"] {
        assert!(header.iter().any(|h| h == col), "metrics.csv header lacks `{col}`: {header:?}");
    }
    assert_eq!(rows.len(), 3, "one row per epoch");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["epoch"], (i + 1).to_string());
        for col in ["train_accuracy", "test_accuracy"] {
            let x: f64 = row[col].parse().expect("accuracy is a number");
            assert!((0.0..=1.0).contains(&x), "{col} = {x}");
        }
    }

    let s = summary(&out);
    let acc = number(&s, "test_accuracy");
    assert!((0.0..=1.0).contains(&acc), "test_accuracy = {acc}");
    let best = number(&s, "best_test_accuracy");
    assert!((0.0..=1.0).contains(&best) && best >= acc, "best_test_accuracy = {best}");
    assert_eq!(s["epochs"].as_u64(), Some(3), "{s}");
    assert!(number(&s, "examples_per_second") > 0.0, "{s}");
    assert_eq!(s["profile"].as_str(), Some("loihi2"), "{s}");
    assert_eq!(s["tau"].as_str(), Some("constant"), "{s}");
    assert_eq!(s["seed"].as_u64(), Some(7), "{s}");
    assert_eq!(s["diverged"].as_bool(), Some(false), "{s}");
    // The last row of metrics.csv is the summary's final accuracy.
    let last: f64 = rows[2]["test_accuracy"].parse().expect("number");
    assert!((last - acc).abs() < 1e-5, "metrics.csv {last} vs summary.json {acc}");
}

#[test]
fn train_records_the_tau_distribution() {
    let dir = tempdir();
    let out = dir.path().join("run");
    train_synthetic(&out, &["--profile", "ideal", "--epochs", "1", "--quiet", "--tau", "lognormal:cv=0.5"])
        .success();
    let s = summary(&out);
    let tau = s["tau"].as_str().expect("tau is a string");
    assert!(tau.starts_with("lognormal") && tau.contains("0.5"), "tau = {tau}");
}

#[test]
fn synthetic_training_reaches_90_percent_on_every_profile() {
    for profile in ["ideal", "loihi2"] {
        let dir = tempdir();
        let out = dir.path().join("run");
        train_synthetic(&out, &["--profile", profile, "--epochs", "5", "--lr", "0.2", "--quiet"]).success();
        let acc = number(&summary(&out), "test_accuracy");
        assert!(acc >= 0.9, "test accuracy {acc} after 5 epochs on {profile}");
    }
}

#[test]
fn analog_and_mixed_signal_profiles_train_end_to_end() {
    for profile in ["analog-rram", "mixed-signal"] {
        let dir = tempdir();
        let out = dir.path().join("run");
        train_synthetic(&out, &["--profile", profile, "--epochs", "3", "--lr", "0.2", "--quiet"]).success();
        let acc = number(&summary(&out), "test_accuracy");
        assert!(acc >= 0.8, "test accuracy {acc} after 3 epochs on {profile}");
    }
    // The mixed-signal chip takes MNIST shrunk to 7×7 (49 inputs + 10 feedback ≤ 64 per core)...
    let dir = tempdir();
    let out = path_str(&dir.path().join("run"));
    let args = [
        "train",
        "--profile",
        "mixed-signal",
        "--dataset",
        "mnist10k:pool=4",
        "--layers",
        "49,60,10",
        "--epochs",
        "1",
        "--train-limit",
        "300",
        "--quiet",
        "--out",
        &out,
    ];
    run(&args).success();
    // ...but not the full 28×28 digits, and the error says which limit.
    let r = run(&["train", "--profile", "mixed-signal", "--epochs", "1", "--quiet", "--out", &out]);
    r.failure(&["h1", "794", "64"]);
}

#[test]
fn quiet_training_has_empty_stderr() {
    let dir = tempdir();
    let r = train_synthetic(&dir.path().join("run"), &["--profile", "ideal", "--epochs", "2", "--quiet"])
        .success();
    assert!(r.stderr.is_empty(), "stderr should be empty with --quiet:\n{}", r.stderr);
    // Without --quiet the run reports on stderr.
    let r = train_synthetic(&dir.path().join("run2"), &["--profile", "ideal", "--epochs", "2"]).success();
    assert!(r.stderr.contains("final test accuracy"), "{}", r.stderr);
}

#[test]
fn embedded_mnist_works_from_another_directory() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &["train", "--profile", "ideal", "--train-limit", "200", "--epochs", "1", "--out", "run"],
    )
    .success();
    assert!(r.stderr.contains("mnist10k"), "{}", r.stderr);
    assert!(r.stderr.contains("200 train"), "{}", r.stderr);
    let out = dir.path().join("run");
    let s = summary(&out);
    assert_eq!(s["dataset"].as_str(), Some("mnist10k"), "{s}");
    assert_eq!(s["epochs"].as_u64(), Some(1), "{s}");
    let acc = number(&s, "test_accuracy");
    assert!((0.0..=1.0).contains(&acc), "{s}");
    assert_eq!(metrics(&out).1.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn same_seed_gives_identical_results() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let flags =
        ["--profile", "loihi2", "--epochs", "3", "--quiet", "--seed", "11", "--tau", "lognormal:cv=0.5"];
    train_synthetic(&a, &flags).success();
    train_synthetic(&b, &flags).success();
    assert_eq!(metrics_without_timing(&a), metrics_without_timing(&b));
    assert_eq!(summary_without_timing(&a), summary_without_timing(&b));
}

/// `--threads` reaches training and leaves the outputs unchanged. On 16-32-4 every product is
/// below the threshold at which products are split, so this checks the plumbing only; the threaded
/// kernels are compared in crates/ep-runtime/tests/threads.rs.
#[test]
fn thread_count_does_not_change_results() {
    for profile in ["loihi2", "ideal"] {
        let dir = tempdir();
        let (a, b) = (dir.path().join("t1"), dir.path().join("t2"));
        let flags = ["--profile", profile, "--epochs", "2", "--quiet", "--seed", "5", "--batch", "10"];
        train_synthetic(&a, &[&flags[..], &["--threads", "1"]].concat()).success();
        train_synthetic(&b, &[&flags[..], &["--threads", "2"]].concat()).success();
        assert_eq!(metrics_without_timing(&a), metrics_without_timing(&b), "profile {profile}");
        assert_eq!(summary_without_timing(&a), summary_without_timing(&b), "profile {profile}");
    }
}

#[test]
fn different_seed_gives_different_numbers() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("s1"), dir.path().join("s2"));
    let flags = ["--profile", "loihi2", "--epochs", "2", "--quiet"];
    train_synthetic(&a, &[&flags[..], &["--seed", "1"]].concat()).success();
    train_synthetic(&b, &[&flags[..], &["--seed", "2"]].concat()).success();
    let (ma, mb) = (metrics_without_timing(&a), metrics_without_timing(&b));
    assert_ne!(ma, mb, "seeds 1 and 2 gave identical metrics");
    // The training cost is a continuous quantity: it differs in the first epoch already.
    assert_ne!(ma[0]["train_cost"], mb[0]["train_cost"]);
}

// ---------------------------------------------------------------------------------------------
// Bad flags: a clean error naming the flag or value, never a panic
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_batch() {
    let r = train_bad(&["--batch", "0"]).failure(&["batch", "0"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn bad_t2() {
    let r = train_bad(&["--t2", "0"]).failure(&["t2", "0"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn bad_beta_with_equals_sign() {
    let r = train_bad(&["--beta=-1"]).failure(&["beta", "-1"]);
    assert_eq!(r.code, Some(1));
}

/// `--beta` allows negative numbers, so `-1` reaches validation (not clap's parser, whose errors
/// exit with code 2): the message names the flag, the value and the allowed range, exit code 1.
#[test]
fn bad_beta_as_separate_argument() {
    let r = train_bad(&["--beta", "-1"]).failure(&["beta", "-1", "(0, 10]"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn bad_layers_single_size() {
    let dir = tempdir();
    let r = train_synthetic(&dir.path().join("run"), &["--layers", "784", "--epochs", "1", "--quiet"])
        .failure(&["layers", "784"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn bad_layers_zero_size() {
    let dir = tempdir();
    let r = train_synthetic(&dir.path().join("run"), &["--layers", "16,0,4", "--epochs", "1", "--quiet"])
        .failure(&["layers", "16,0,4"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn bad_layers_not_a_number() {
    let dir = tempdir();
    train_synthetic(&dir.path().join("run"), &["--layers", "16,x,4", "--epochs", "1", "--quiet"])
        .failure(&["layers", "x"]);
}

#[test]
fn output_size_must_match_the_classes() {
    let dir = tempdir();
    let r = train_synthetic(&dir.path().join("run"), &["--layers", "16,32,5", "--epochs", "1", "--quiet"])
        .failure(&["classes", "4", "5"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn input_size_must_match_the_dataset() {
    let dir = tempdir();
    let r = train_synthetic(&dir.path().join("run"), &["--layers", "17,32,4", "--epochs", "1", "--quiet"])
        .failure(&["inputs", "16", "17"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn lognormal_tau_needs_cv() {
    let r = train_bad(&["--tau", "lognormal"]).failure(&["tau", "lognormal", "cv"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn unknown_tau_distribution() {
    let r = train_bad(&["--tau", "weird:cv=1"]).failure(&["tau", "weird"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn too_many_learning_rates() {
    let r = train_bad(&["--lr", "0.1,0.2,0.3"]).failure(&["lr", "0.1,0.2,0.3", "2"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn unknown_profile() {
    let r = train_bad(&["--profile", "nonexistent"]).failure(&["nonexistent", "ideal", "loihi2"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn missing_idx_directory() {
    let dir = tempdir();
    let r = run(&[
        "train",
        "--dataset",
        "idx:/nonexistent/dir",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        &path_str(&dir.path().join("run")),
    ])
    .failure(&["/nonexistent/dir"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn unknown_dataset() {
    let dir = tempdir();
    let r = run(&[
        "train",
        "--dataset",
        "foo",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        &path_str(&dir.path().join("run")),
    ])
    .failure(&["foo", "synthetic"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn zero_threads_and_zero_train_limit() {
    train_bad(&["--threads", "0"]).failure(&["threads", "0"]);
    train_bad(&["--train-limit", "0"]).failure(&["train-limit", "0"]);
}

#[test]
fn bad_flags_write_no_output() {
    let dir = tempdir();
    let out = dir.path().join("run");
    train_synthetic(&out, &["--batch", "0", "--epochs", "1", "--quiet"]).failure(&["batch"]);
    assert!(!out.join("summary.json").exists(), "a refused run should not write summary.json");
}

#[test]
fn io_errors_print_their_cause_once() {
    let dir = tempdir();
    let r = run(&[
        "train",
        "--dataset",
        "idx:/nonexistent/dir",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        &path_str(dir.path()),
    ])
    .failure(&["/nonexistent/dir"]);
    assert_eq!(r.stderr.matches("no such directory").count(), 1, "{}", r.stderr);
    let missing = path_str(&dir.path().join("missing.ron"));
    let r = run(&["profile", "check", &missing]).failure(&["missing.ron"]);
    assert_eq!(r.stderr.matches("os error").count(), 1, "{}", r.stderr);
}

#[test]
fn export_import_round_trip_and_bad_exports() {
    let dir = tempdir();
    let run_dir = dir.path().join("run");
    train_synthetic(&run_dir, &["--epochs", "2", "--quiet", "--profile", "loihi2"]).success();
    let run_s = path_str(&run_dir);
    let nir = path_str(&dir.path().join("model.nir"));
    run(&["export", "--run", &run_s, "--format", "nir", "--out", &nir]).success();
    let imported = run(&["import", &nir, "--profile", "loihi2", "--dataset", "synthetic"]).success();
    // The imported network reaches the run's final test accuracy, to the printed digit.
    let accuracy = number(&summary(&run_dir), "test_accuracy");
    assert!(
        imported.stdout.contains(&format!("test accuracy {:.2} %", 100.0 * accuracy)),
        "{}",
        imported.stdout
    );
    let mapping = dir.path().join("mapping.json");
    run(&["export", "--run", &run_s, "--format", "mapping", "--out", &path_str(&mapping)]).success();
    let m: Value = serde_json::from_str(&read(&mapping)).expect("mapping is JSON");
    assert_eq!(m["format"], "epchip-mapping-1");
    assert_eq!(m["arithmetic"], "digital");

    let out = path_str(&dir.path().join("x.out"));
    run(&["export", "--run", &run_s, "--format", "onnx", "--out", &out])
        .failure(&["--format onnx", "nir, lava-netx, mapping"]);
    let none = path_str(&dir.path().join("missing-run"));
    run(&["export", "--run", &none, "--format", "nir", "--out", &out])
        .failure(&["missing-run", "run directory"]);
    run(&["export", "--run", &run_s, "--format", "mapping", "--spiking", "--out", &out])
        .failure(&["--spiking"]);
    assert!(!dir.path().join("x.out").exists(), "nothing written on a refused export");
    run(&["import", &path_str(&dir.path().join("none.nir"))]).failure(&["none.nir"]);
    // A NIR file for 16 inputs evaluated on 784-pixel digits is refused with both numbers.
    run(&["import", &nir, "--dataset", "mnist10k"]).failure(&["16 inputs", "784"]);
}

#[test]
fn map_traffic_aware_shares_cores_on_loihi2() {
    let dir = tempdir();
    let json = dir.path().join("map.json");
    let out = run(&[
        "map",
        "--profile",
        "loihi2",
        "--layers",
        "784,500,10",
        "--placement",
        "traffic-aware",
        "--json",
        &path_str(&json),
    ])
    .success();
    assert!(out.stdout.contains("4 cores on 1 chip"), "{}", out.stdout);
    let report: Value = serde_json::from_str(&read(&json)).expect("report is JSON");
    assert_eq!(report["max_messages_per_step"], 405);
    run(&["map", "--placement", "random"]).failure(&["placement", "greedy", "traffic-aware"]);
}

#[test]
fn neuron_model_and_estimate_flags_are_checked() {
    train_bad(&["--neuron", "tanh"]).failure(&["neuron", "tanh", "clip", "sigmoid"]);
    train_bad(&["--symmetric", "--estimate", "one-sided"]).failure(&["--symmetric", "--estimate one-sided"]);
    train_bad(&["--estimate", "both"]).failure(&["--estimate both", "one-sided or symmetric"]);
    train_bad(&["--positive-beta", "--beta-sign", "random"])
        .failure(&["--positive-beta", "--beta-sign random"]);
    train_bad(&["--beta-sign", "up"]).failure(&["--beta-sign up", "random or positive"]);
}

/// What the run recorded: the neuron model and the defaults that follow it, or the flags given.
#[test]
fn train_records_the_neuron_model_and_its_defaults() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("sigmoid"), dir.path().join("clip"));
    train_synthetic(&a, &["--epochs", "1", "--quiet"]).success();
    train_synthetic(&b, &["--epochs", "1", "--quiet", "--neuron", "clip", "--symmetric"]).success();
    let (sa, sb) = (summary(&a), summary(&b));
    let (ca, cb) = (&sa["config"], &sb["config"]);
    assert_eq!(ca["neuron"], "sigmoid");
    assert_eq!(
        (ca["beta"].as_f64(), ca["symmetric"].as_bool(), ca["base_dt"].as_f64()),
        (Some(0.1), Some(true), Some(1.0))
    );
    assert_eq!(ca["lr_schedule"], "Constant");
    assert_eq!(cb["neuron"], "clip");
    assert_eq!(
        (cb["beta"].as_f64(), cb["symmetric"].as_bool(), cb["base_dt"].as_f64()),
        (Some(0.5), Some(true), Some(0.5))
    );
}

/// `epchip study` takes every training flag of `epchip train`, and its runs use them.
#[test]
fn study_accepts_the_neuron_model_and_estimate_flags() {
    let dir = tempdir();
    let out = path_str(&dir.path().join("study"));
    study_synthetic(
        &out,
        &["--neuron", "clip", "--positive-beta", "--estimate", "one-sided", "--beta", "0.3"],
    )
    .success();
    let spec: Value = serde_json::from_str(&read(&dir.path().join("study/spec.json"))).expect("spec.json");
    let config = &spec["config"];
    assert_eq!(config["neuron"], "clip", "{config}");
    assert_eq!(config["beta_sign"], "Positive");
    assert_eq!(config["symmetric"], false);
    let record = summary(&dir.path().join("study/runs/c0-s1"));
    assert_eq!(record["config"]["neuron"], "clip");
}

/// `--vary` names every setting it refuses, and what is allowed; nothing is run or written.
#[test]
fn study_vary_refuses_bad_axes_clearly() {
    let dir = tempdir();
    let out = path_str(&dir.path().join("study"));
    let study = |extra: &[&str]| study_synthetic(&out, extra);
    study(&["--vary", "gamma=1,2"]).failure(&["gamma", "beta", "lr-schedule"]);
    study(&["--vary", "beta"]).failure(&["KEY=V1,V2"]);
    study(&["--vary", "beta=0.1,abc"]).failure(&["abc", "(0, 10]"]);
    study(&["--vary", "lr=0.1:0.2:0.3"]).failure(&["lr=0.1:0.2:0.3", "one per projection"]);
    study(&["--vary", "beta=0.1,0.2", "--beta", "0.3"]).failure(&["beta", "own flag"]);
    study(&["--vary", "t1=10,20", "--vary", "t1=30"]).failure(&["varied twice"]);
    study(&["--vary", "neuron=clip,spiking"]).failure(&["spiking"]);
    study(&["--vary", "beta=0.1,0.2", "--heatmap-axes", "beta,lr"]).failure(&["heatmap-axes", "beta"]);
    assert!(!dir.path().join("study/runs").exists(), "a refused study wrote runs");
}

/// A study over a neuron-model axis: each model gets its own defaults for the settings the study
/// did not fix, and the one it fixed (β) holds for both.
#[test]
fn study_vary_neuron_uses_each_models_defaults() {
    let dir = tempdir();
    let out = path_str(&dir.path().join("study"));
    let done = study_synthetic(&out, &["--beta", "0.3", "--vary", "neuron=clip,sigmoid"]).success();
    assert!(done.stdout.contains("robustness over 2 points of neuron=clip,sigmoid"), "{}", done.stdout);
    let clip = summary(&dir.path().join("study/runs/c0-s1"));
    let sigmoid = summary(&dir.path().join("study/runs/c1-s1"));
    assert_eq!(
        (clip["config"]["neuron"].as_str(), sigmoid["config"]["neuron"].as_str()),
        (Some("clip"), Some("sigmoid"))
    );
    assert_eq!(
        (clip["config"]["base_dt"].as_f64(), sigmoid["config"]["base_dt"].as_f64()),
        (Some(0.5), Some(1.0))
    );
    assert_eq!((clip["config"]["beta"].as_f64(), sigmoid["config"]["beta"].as_f64()), (Some(0.3), Some(0.3)));
    let csv = read(&dir.path().join("study/robustness.csv"));
    assert!(csv.lines().count() == 2 && csv.contains("\"constant\",0,2,"), "{csv}");
}

/// `epchip deploy`: a trained run programmed onto another chip writes deploy.json with one point per
/// drift time and fine-tuning epochs; bad times and missing runs are refused by name.
#[test]
fn deploy_programs_a_run_onto_another_chip_and_measures_drift() {
    let dir = tempdir();
    let run_dir = dir.path().join("run");
    train_synthetic(&run_dir, &["--epochs", "2", "--quiet", "--profile", "ideal"]).success();
    let run_str = path_str(&run_dir);
    let out = path_str(&dir.path().join("deploy"));
    let done = run(&[
        "deploy",
        "--run",
        &run_str,
        "--profile",
        "analog-rram",
        "--drift",
        "0,1d,1y",
        "--finetune-epochs",
        "1",
        "--quiet",
        "--out",
        &out,
    ])
    .success();
    assert!(done.stdout.contains("1y") && done.stdout.contains("analog-rram"), "{}", done.stdout);
    let report: Value =
        serde_json::from_str(&read(&dir.path().join("deploy/deploy.json"))).expect("deploy.json");
    assert_eq!(report["target_profile"], "analog-rram");
    assert_eq!(report["drifts"], true);
    let points = report["points"].as_array().expect("points");
    assert_eq!(points.len(), 3);
    assert_eq!(points[2]["seconds"].as_f64(), Some(31_557_600.0));
    assert_eq!(points[1]["finetuned"].as_array().map(Vec::len), Some(1));
    run(&["deploy", "--run", &run_str, "--profile", "analog-rram", "--drift", "1 fortnight", "--out", &out])
        .failure(&["1 fortnight", "min, h, d"]);
    run(&["deploy", "--run", &path_str(&dir.path().join("none")), "--profile", "loihi2", "--out", &out])
        .failure(&["none"]);
    run(&["deploy", "--run", &run_str, "--profile", "loihi9", "--out", &out]).failure(&["loihi9"]);
}

/// `epchip import` warns, naming the layer and neurons, when a graph's time constants are too long
/// for the chip's decay to represent (here 100,000 steps against loihi2's 12-bit decay), and stays
/// silent when they fit.
#[test]
fn import_warns_about_time_constants_the_chip_cannot_represent() {
    use epchip::ep_runtime::interchange::nir_export::{NirNeurons, write_nir};
    use epchip::ep_runtime::{NetworkParameters, NeuronModel};
    let dir = tempdir();
    let params = |slow: f32| NetworkParameters {
        layers: vec![16, 32, 4],
        forward: vec![ndarray::Array2::from_elem((16, 32), 0.05), ndarray::Array2::from_elem((32, 4), 0.05)],
        feedback: vec![None, Some(ndarray::Array2::from_elem((4, 32), 0.05))],
        bias: vec![vec![0.0; 32], vec![0.0; 4]],
        dt: vec![(0..32).map(|i| if i < 3 { slow } else { 0.5 }).collect(), vec![0.5; 4]],
        t1: 30,
        neuron: NeuronModel::Sigmoid,
    };
    for (name, slow, warns) in [("slow.nir", 1e-5f32, true), ("fine.nir", 0.25, false)] {
        let path = dir.path().join(name);
        write_nir(&params(slow), &path, NirNeurons::Rate, 1e-3).expect("write the graph");
        let done =
            run(&["import", &path_str(&path), "--profile", "loihi2", "--dataset", "synthetic"]).success();
        assert_eq!(done.stderr.contains("warning"), warns, "{name}: {}", done.stderr);
        if warns {
            assert!(done.stderr.contains("layer `h1`: 3 neurons (0, 1, 2)"), "{}", done.stderr);
        }
    }
}

#[test]
fn spiking_export_reports_the_deployment_and_refuses_bad_options() {
    let dir = tempdir();
    let run_dir = dir.path().join("run");
    train_synthetic(&run_dir, &["--epochs", "2", "--quiet", "--profile", "loihi2"]).success();
    let run_s = path_str(&run_dir);
    let netx = dir.path().join("deployed.netx");
    let counts = dir.path().join("counts.json");
    let r = run(&[
        "export",
        "--run",
        &run_s,
        "--format",
        "lava-netx",
        "--spiking",
        "--out",
        &path_str(&netx),
        "--json",
        "--steps",
        "24",
        "--examples",
        "40",
        "--counts",
        &path_str(&counts),
    ])
    .success();
    let report: Value = serde_json::from_str(&r.stdout).expect("--json prints one JSON object");
    assert_eq!(report["steps_per_example"], 24);
    assert_eq!(report["examples"], 40);
    assert_eq!(report["format"], "lava-netx");
    let trained = report["trained_test_accuracy"].as_f64().expect("trained_test_accuracy");
    let deployed = report["deployed_test_accuracy"].as_f64().expect("deployed_test_accuracy");
    assert!(trained > 0.5, "the run learned the synthetic task: {trained}");
    assert!((trained - deployed).abs() <= 0.1, "trained {trained}, deployed {deployed}");
    assert!(report["spikes_per_neuron_step"][0].as_f64().expect("spike rate") > 0.0, "hidden neurons spike");
    assert!(netx.exists(), "the netx file is written");
    // The counts file holds what the report's accuracy is computed from.
    let c: Value = serde_json::from_str(&read(&counts)).expect("counts are JSON");
    let labels = c["labels"].as_array().expect("labels");
    let predictions = c["predictions"].as_array().expect("predictions");
    assert_eq!(c["output_spike_counts"].as_array().map(Vec::len), Some(40));
    let correct = labels.iter().zip(predictions).filter(|(l, p)| l == p).count();
    assert!((correct as f64 / 40.0 - deployed).abs() < 1e-12);
    // The spiking NIR file of the same run, without evaluation.
    let nir = path_str(&dir.path().join("deployed.nir"));
    run(&["export", "--run", &run_s, "--format", "nir", "--spiking", "--out", &nir]).success();

    let out = path_str(&dir.path().join("bad.out"));
    let spiking = ["export", "--run", &run_s, "--format", "nir", "--spiking", "--out", &out];
    run(&[&spiking[..], &["--steps", "0"]].concat()).failure(&["steps = 0", "1..=4096"]);
    run(&[&spiking[..], &["--input-bits", "9"]].concat()).failure(&["input-bits = 9", "1..=8"]);
    run(&[&spiking[..], &["--output-rate", "1.5"]].concat()).failure(&["output-rate = 1.5", "(0, 1]"]);
    run(&[&spiking[..], &["--json", "--examples", "100000"]].concat())
        .failure(&["--examples 100000", "use 1..="]);
    run(&["export", "--run", &run_s, "--format", "nir", "--json", "--out", &out])
        .failure(&["--json", "--spiking"]);
    run(&["export", "--run", &run_s, "--format", "lava-netx", "--steps", "8", "--out", &out])
        .failure(&["--steps", "--spiking"]);
    run(&["export", "--run", &run_s, "--format", "lava-netx", "--dt", "0.001", "--out", &out])
        .failure(&["--dt", "nir only"]);
    assert!(!dir.path().join("bad.out").exists(), "nothing written on a refused export");
}

/// `epchip bench` on mnist10k with `extra` flags; unless they say otherwise, on the ideal profile
/// with 10 examples and one measurement.
fn bench(extra: &[&str]) -> Run {
    let mut args = vec!["bench"];
    for (flag, value) in [("--profile", "ideal"), ("--examples", "10"), ("--repeat", "1")] {
        if !extra.contains(&flag) {
            args.extend_from_slice(&[flag, value]);
        }
    }
    args.extend_from_slice(extra);
    run(&args)
}

/// The data rows of a bench table (the lines after the header that name a profile).
fn bench_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| l.starts_with("ideal") || l.starts_with("loihi2") || l.starts_with("analog-rram"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn bench_measures_any_network_and_a_list_of_batches() {
    let out = bench(&["--layers", "784,30,20,10", "--batch", "2,5"]).success();
    let rows = bench_rows(&out.stdout);
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    for (row, batch) in rows.iter().zip(["2", "5"]) {
        assert_eq!((row[1].as_str(), row[2].as_str()), ("784-30-20-10", batch), "{row:?}");
        // Rate, GFLOP/s, roofline share, evaluation time and peak memory are numbers.
        assert!(row[3].parse::<f64>().is_ok_and(|r| r > 0.0), "{row:?}");
        assert!(row[5].ends_with('%'), "{row:?}");
        assert!(row[7].parse::<u64>().is_ok_and(|mib| mib > 0), "peak RSS: {row:?}");
    }
    assert!(out.stdout.contains("eval 10 digits"), "{}", out.stdout);
}

#[test]
fn bench_compares_thread_counts_in_one_run() {
    let out =
        bench(&["--layers", "784,20,10", "--batch", "5", "--threads", "1,2", "--repeat", "2"]).success();
    assert!(out.stdout.contains("examples/s t1") && out.stdout.contains("t2/t1"), "{}", out.stdout);
    let rows = bench_rows(&out.stdout);
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert!(rows[0][5].ends_with('×'), "speed-up column: {:?}", rows[0]);
    // The cores' check: a share of one thread's speed, in (0, 100] % give or take the timer.
    let cores = rows[0][8].strip_suffix('%').and_then(|v| v.parse::<f64>().ok());
    assert!(cores.is_some_and(|c| c > 0.0 && c < 150.0), "cores column: {:?}", rows[0]);
    assert!(out.stdout.contains("cores t2 = "), "{}", out.stdout);
}

#[test]
fn bench_refuses_bad_flags_naming_them() {
    let dir = tempdir();
    let out = path_str(dir.path());
    let cases: &[(&[&str], &[&str])] = &[
        (&["--batch", "0"], &["--batch", "`0`", "1..=100000"]),
        (&["--batch", "20,x"], &["--batch", "`x`"]),
        (&["--batch", "20,20"], &["--batch", "twice"]),
        (&["--threads", "1,0"], &["--threads", "1..=1024"]),
        (&["--layers", "16,32,4"], &["--layers", "784 inputs"]),
        (&["--layers", "784,0,10"], &["--layers"]),
        (&["--profile", "ideal,nope"], &["--profile", "`nope`"]),
        (&["--neuron", "relu"], &["--neuron", "clip or sigmoid"]),
        (&["--examples", "0"], &["--examples", "1..="]),
        (&["--examples", "100000"], &["--examples", "1..="]),
        (&["--eval-examples", "5000"], &["--eval-examples"]),
        (&["--repeat", "0"], &["--repeat"]),
        (&["--scaling"], &["--out"]),
        (&["--scaling", "--out", &out, "--threads", "1,2"], &["--threads", "one thread count"]),
        (&["--scaling", "--out", &out, "--batch", "20"], &["--scaling", "--batch"]),
        (&["--out", &out], &["--out", "--scaling"]),
        (
            &["--profile", "loihi2", "--layers", "784,8000,8000,10"],
            &["--layers", "--profile loihi2", "cores"],
        ),
    ];
    for (args, needles) in cases {
        bench(args).failure(needles);
    }
}

#[test]
fn bench_compares_this_binary_with_a_baseline_build() {
    let exe = env!("CARGO_BIN_EXE_epchip");
    let out = bench(&["--layers", "784,20,10", "--batch", "5", "--repeat", "2", "--baseline", exe]).success();
    assert!(out.stdout.contains("this/baseline"), "{}", out.stdout);
    let rows = bench_rows(&out.stdout);
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert!(rows[0][5].ends_with('×'), "ratio column: {:?}", rows[0]);
    bench(&["--baseline", "/no/such/epchip"]).failure(&["--baseline", "/no/such/epchip"]);
    bench(&["--baseline", exe, "--threads", "1,2"]).failure(&["--threads", "--baseline"]);
}

#[test]
fn the_large_network_profile_is_valid() {
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/profiles/loihi2-board32.ron");
    let out = run(&["profile", "check", profile]).success();
    assert!(out.stdout.contains("loihi2-board32"), "{}", out.stdout);
}

#[test]
fn bench_scaling_writes_the_table_and_the_plot() {
    let dir = tempdir();
    let out = path_str(dir.path());
    bench(&["--scaling", "--examples", "2", "--out", &out]).success();
    let csv = read(&dir.path().join("scaling.csv"));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    for column in [
        "profile",
        "layers",
        "batch",
        "synapses",
        "examples_per_s",
        "us_per_example",
        "roofline_share",
        "peak_rss_mib",
    ] {
        assert!(header.contains(&column), "missing column {column}: {header:?}");
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Widths 100, 500, 2000, 8000; 2 and 3 hidden layers; batches 1, 20, 200 on 784-500-10.
    assert_eq!(rows.len(), 9, "{csv}");
    assert!(rows.iter().all(|r| r.len() == header.len() && r[0] == "ideal"), "{csv}");
    let layers: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    for l in ["784-100-10", "784-8000-10", "784-500-500-500-10"] {
        assert!(layers.contains(&l), "{l} missing: {layers:?}");
    }
    let svg = read(&dir.path().join("scaling.svg"));
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{svg}");
}
