//! End-to-end tests of the `evoprune` binary.

use std::path::Path;
use std::process::{Command, Output};

fn evoprune(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evoprune"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("binary runs")
}

fn last_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn hv_of_a_hand_computed_front() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("f.csv"), "f1,f2\n1,3\n2,2\n3,1\n5,0\n").unwrap();
    let o = evoprune(&["hv", "--ref", "4,4", "f.csv"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // (5,0) does not dominate the reference point and contributes nothing
    assert_eq!(last_line(&o), "6");
    std::fs::write(d.path().join("g.csv"), "0,0,0,0\n").unwrap();
    assert_eq!(
        last_line(&evoprune(&["hv", "--ref", "1,2,3,4", "g.csv"], d.path())),
        "24"
    );
}

#[test]
fn bad_input_is_a_clear_error_with_status_2() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("bad.csv"), "f1,f2\n1,2\n3,abc\n").unwrap();
    std::fs::write(d.path().join("short.csv"), "f1,f2\n1,2\n3\n").unwrap();
    for (args, needle) in [
        (
            vec!["hv", "--ref", "4,4", "bad.csv"],
            "line 3, column 2: 'abc' is not a number",
        ),
        (
            vec!["hv", "--ref", "4,4", "short.csv"],
            "line 3: 1 values, expected 2",
        ),
        (vec!["hv", "--ref", "4,4", "missing.csv"], "missing.csv"),
        (vec!["hv", "--ref", "4,x", "bad.csv"], "'x' is not a number"),
        (vec!["moo", "--pop-size", "1"], "--pop-size"),
        (vec!["moo", "--problem", "dtlz2", "--n-obj", "0"], "--n-obj"),
        (vec!["moo", "--problem", "zdt1", "--ref", "1,1,1"], "--ref"),
        (vec!["moo", "--resume", "nowhere"], "run.json"),
    ] {
        let o = evoprune(&args, d.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(
        !d.path().join("front.csv").exists(),
        "no output after a failed run"
    );
}

#[test]
fn moo_writes_the_front_and_prints_its_hypervolume_last() {
    let d = tempfile::tempdir().unwrap();
    let o = evoprune(
        &[
            "moo",
            "--problem",
            "zdt1",
            "--pop-size",
            "40",
            "--generations",
            "100",
            "--seed",
            "3",
            "--out",
            "front.csv",
        ],
        d.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hv: f64 = last_line(&o).parse().expect("last line is the hypervolume");
    let csv = std::fs::read_to_string(d.path().join("front.csv")).unwrap();
    assert!(csv.starts_with("f1,f2\n"));
    assert!(csv.lines().count() > 10);
    // `hv` on the written front agrees exactly
    let again = evoprune(&["hv", "--ref", "1.1,1.1", "front.csv"], d.path());
    assert_eq!(last_line(&again).parse::<f64>().unwrap(), hv);
    assert!(hv > 0.6, "{hv}");
}

/// 3 items = 8 genomes against a budget of 200 evaluations: the run used to spin forever.
/// The child is killed after 60 s so that a regression fails instead of hanging the suite.
#[test]
fn a_search_space_smaller_than_the_budget_ends_with_a_named_reason() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_evoprune"))
        .args([
            "moo",
            "--problem",
            "knapsack",
            "--n-items",
            "3",
            "--algorithm",
            "nsga2-steady",
            "--evaluations",
            "200",
            "--out",
            "front.csv",
        ])
        .current_dir(d.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the run did not end within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("stopped: search space exhausted: 8 distinct genomes evaluated"),
        "{out}"
    );
    assert!(
        d.path().join("front.csv").exists(),
        "the outputs are written as usual"
    );
}

#[test]
fn kill_9_then_resume_gives_the_uninterrupted_front() {
    let d = tempfile::tempdir().unwrap();
    let common = [
        "moo",
        "--problem",
        "dtlz2",
        "--n-obj",
        "3",
        "--pop-size",
        "100",
        "--generations",
        "400",
        "--seed",
        "5",
    ];
    let straight = evoprune(
        &[&common[..], &["--out", "straight.csv"]].concat(),
        d.path(),
    );
    assert!(straight.status.success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_evoprune"))
        .args(common)
        .args([
            "--out",
            "resumed.csv",
            "--checkpoint-dir",
            "ck",
            "--checkpoint-every",
            "7",
        ])
        .current_dir(d.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // wait for a checkpoint, then kill -9 (if the run already finished, resume still must agree)
    let ck = d.path().join("ck/state.ckpt");
    for _ in 0..2000 {
        if ck.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(30));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();

    let o = evoprune(&["moo", "--resume", "ck", "--out", "resumed.csv"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(last_line(&o), last_line(&straight));
    assert_eq!(
        std::fs::read_to_string(d.path().join("resumed.csv")).unwrap(),
        std::fs::read_to_string(d.path().join("straight.csv")).unwrap()
    );
}

const TINY: &str = "name = \"tiny\"\n[head]\nhidden = [32]\n[train]\nlr = 0.05\nmax_epochs = 8\n\
                    [search]\npop_size = 8\nevaluations = 40\nthreads = 2\n";

#[test]
fn run_config_errors_name_the_key_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("typo.toml"), "[search]\npopsize = 10\n").unwrap();
    std::fs::write(d.path().join("range.toml"), "[search]\npop_size = 2\n").unwrap();
    std::fs::write(d.path().join("type.toml"), "[train]\nlr = \"fast\"\n").unwrap();
    std::fs::write(d.path().join("section.toml"), "[serch]\npop_size = 10\n").unwrap();
    std::fs::write(
        d.path().join("ga.toml"),
        "method = \"ga-prune\"\n[search]\nlambdas = [0.5, 0.5, 0.5]\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("ga-typo.toml"),
        "method = \"ga-prune\"\n[search]\npmf = 0.1\n",
    )
    .unwrap();
    std::fs::write(d.path().join("method.toml"), "method = \"prune-all\"\n").unwrap();
    for (args, needles) in [
        (
            vec!["run", "typo.toml"],
            vec!["typo.toml", "line 2", "popsize"],
        ),
        (
            vec!["run", "range.toml"],
            vec!["search.pop_size", "at least 4"],
        ),
        (vec!["run", "type.toml"], vec!["type.toml", "line 2", "lr"]),
        (vec!["run", "section.toml"], vec!["section.toml", "serch"]),
        (vec!["run", "missing.toml"], vec!["missing.toml"]),
        (
            vec!["run", "ga.toml"],
            vec!["search.lambdas", "summing to 1"],
        ),
        (
            vec!["run", "ga-typo.toml"],
            vec!["ga-typo.toml", "line 3", "pmf"],
        ),
        (vec!["run", "method.toml"], vec!["method", "prune-all"]),
        (
            vec!["resume", "nowhere"],
            vec!["nowhere", "not a run folder"],
        ),
        (vec!["export", "nowhere", "--member", "0"], vec!["nowhere"]),
    ] {
        let o = evoprune(&args, d.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: missing '{n}' in {err}");
        }
        assert!(
            !d.path().join("runs").exists(),
            "{args:?} left a run folder behind"
        );
    }
}

/// Write `text` to `config`, `evoprune run` it into `straight` (must succeed); its stdout.
fn straight_run(dir: &Path, config: &str, text: &str) -> String {
    std::fs::write(dir.join(config), text).unwrap();
    let o = evoprune(&["run", config, "--out", "straight"], dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `evoprune run CONFIG --out killed`, SIGKILLed `delay_ms` after `marker` appears; an
/// unfinished run must then refuse to export.
fn run_and_kill_9(dir: &Path, config: &str, marker: &str, delay_ms: u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evoprune"))
        .args(["run", config, "--out", "killed"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ck = dir.join(marker);
    let seen = (0..60_000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        ck.exists()
    });
    assert!(seen, "{} never appeared", ck.display());
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    // the kill must really have interrupted the run, or the resume below proves nothing
    assert!(
        !dir.join("killed/COMPLETE").exists(),
        "the run was not interrupted: it finished before the kill"
    );
    let o = evoprune(&["export", "killed", "--member", "0"], dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not finished"));
}

/// A run whose output is not a terminal prints progress lines (here every 0.05 s, not 30):
/// stage, done/total, elapsed and an estimate. A folder locked by another process (here this
/// test, holding it as a run would) is refused with exit 2 naming the holder.
#[test]
fn piped_runs_print_progress_lines_and_locked_folders_are_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("tiny.toml"), TINY).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_evoprune"))
        .args(["run", "tiny.toml", "--out", "r", "--threads", "1"])
        .args(["--evaluations", "400"])
        .env("EVOPRUNE_PROGRESS_SECS", "0.05")
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let held = evoprune_run::RunDir::open_locked(&d.path().join("r")).unwrap();
    let second = evoprune(&["resume", "r"], d.path());
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    let pid = format!("pid {}", std::process::id());
    assert!(
        err.contains("another evoprune process") && err.contains(&pid),
        "{err}"
    );
    drop(held);
    assert!(evoprune(&["resume", "r"], d.path()).status.success());
    let log = String::from_utf8_lossy(&o.stderr);
    let search: Vec<&str> = log.lines().filter(|l| l.contains("] search: ")).collect();
    assert!(search.len() >= 2, "{log}");
    assert!(search.iter().all(|l| l.contains("/400 (")), "{log}");
    assert!(search.iter().any(|l| l.contains("left")), "{log}");
    assert!(log.lines().any(|l| l.starts_with("run folder: r")), "{log}");
}

#[test]
fn run_kill_9_resume_and_export() {
    let d = tempfile::tempdir().unwrap();
    let out = straight_run(d.path(), "tiny.toml", TINY);
    assert!(
        out.contains("final front") && out.contains("baseline"),
        "{out}"
    );

    run_and_kill_9(d.path(), "tiny.toml", "killed/checkpoint/state.ckpt", 20);
    let o = evoprune(&["resume", "killed"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "front.csv",
        "ensembles.csv",
        "key_features.csv",
        "hypervolume.csv",
    ] {
        assert_eq!(
            std::fs::read_to_string(d.path().join("killed").join(f)).unwrap(),
            std::fs::read_to_string(d.path().join("straight").join(f)).unwrap(),
            "{f}"
        );
    }

    let o = evoprune(
        &[
            "export",
            "killed",
            "--member",
            "0",
            "--out",
            "h.safetensors",
        ],
        d.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.path().join("h.safetensors").is_file() && d.path().join("h.json").is_file());
}

/// GA pruning on generated 28x28 digits: two retraining cycles of a small population.
const GA_TINY: &str = r#"
method = "ga-prune"
name = "ga-tiny"
[data]
source = "synthetic"
val = 100
synthetic_per_class = 40
[baseline]
cache_dir = "cache"
solver = { epochs = 6.0 }
[search]
lambdas = [0.8, 0.1, 0.1]
pop_size = 6
max_generations = 6
retrain_every = 3
[retrain]
epochs = 0.5
[finetune]
epochs = 1.0
"#;

fn history_without_times(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplitn(3, ',').last().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ga_prune_kill_9_mid_cycle_resume_and_export() {
    let d = tempfile::tempdir().unwrap();
    let out = straight_run(d.path(), "ga.toml", GA_TINY);
    assert!(out.contains("Ga search: 6 generations"), "{out}");

    // kill inside the first cycle, after its first generation's checkpoint
    run_and_kill_9(
        d.path(),
        "ga.toml",
        "killed/checkpoint/cycle-0000/state.ckpt",
        0,
    );
    let o = evoprune(&["resume", "killed"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        history_without_times(&d.path().join("killed")),
        history_without_times(&d.path().join("straight"))
    );
    let o = evoprune(
        &[
            "export",
            "killed",
            "--member",
            "0",
            "--out",
            "m.safetensors",
        ],
        d.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.path().join("m.safetensors").is_file());
}

const HIER_TINY: &str = r#"
method = "hierarchical-prune"
name = "hier-tiny"
model = "lenet-300-100"
[data]
source = "synthetic"
val = 100
synthetic_per_class = 40
[baseline]
cache_dir = "cache"
solver = { epochs = 6.0 }
[phase1]
pop_size = 8
generations = 4
[phase2]
pop_size = 8
generations = 6
light_tolerance = 0.2
[finetune]
max_members = 2
solver = { epochs = 0.5 }
"#;

#[test]
fn hierarchical_kill_9_in_phase_2_resume_and_export() {
    let d = tempfile::tempdir().unwrap();
    let out = straight_run(d.path(), "h.toml", HIER_TINY);
    assert!(
        out.contains("hypervolume") && out.contains("phase 2"),
        "{out}"
    );
    // kill inside phase 2, after one of its generation checkpoints
    run_and_kill_9(d.path(), "h.toml", "killed/checkpoint/phase2/state.ckpt", 0);
    let o = evoprune(&["resume", "killed"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["fronts.csv", "members.csv"] {
        assert_eq!(
            std::fs::read_to_string(d.path().join("killed").join(f)).unwrap(),
            std::fs::read_to_string(d.path().join("straight").join(f)).unwrap(),
            "{f}"
        );
    }
    let o = evoprune(
        &[
            "export",
            "killed",
            "--member",
            "1",
            "--out",
            "m.safetensors",
        ],
        d.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.path().join("m.safetensors").is_file());
    // bad values name the key and exit 2
    std::fs::write(
        d.path().join("bad.toml"),
        HIER_TINY.replace("generations = 6", "generations = 0"),
    )
    .unwrap();
    let o = evoprune(&["run", "bad.toml"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("phase2.generations"));
    std::fs::write(
        d.path().join("bad.toml"),
        HIER_TINY.replace("[phase1]", "[phase1]\nthreshold = 3"),
    )
    .unwrap();
    let o = evoprune(&["run", "bad.toml"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("threshold"));
}

const SURR_TINY: &str = r#"
method = "surrogate-compress"
name = "surr-tiny"
seeds = [1]
[data]
source = "synthetic"
val = 100
synthetic_per_class = 30
[baseline]
cache_dir = "cache"
solver = { epochs = 5.0 }
[problem]
accuracy_floor = 0.6
[surrogate]
initial = 8
budget = 12
folds = 3
pop_size = 8
generations = 3
"#;

#[test]
fn surrogate_compress_runs_resumes_exports_and_names_bad_keys() {
    let d = tempfile::tempdir().unwrap();
    let out = straight_run(d.path(), "s.toml", SURR_TINY);
    assert!(
        out.contains("hypervolume surrogate") && out.contains("real"),
        "{out}"
    );
    // resuming a finished run re-finalises it
    let o = evoprune(&["resume", "straight"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = evoprune(
        &[
            "export",
            "straight",
            "--member",
            "0",
            "--out",
            "c.safetensors",
        ],
        d.path(),
    );
    let front_empty = std::fs::read_to_string(d.path().join("straight/fronts.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(",surrogate,"))
        .count()
        == 0;
    if front_empty {
        assert_eq!(o.status.code(), Some(2));
    } else {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(d.path().join("c.safetensors").is_file());
    }
    std::fs::write(
        d.path().join("bad.toml"),
        SURR_TINY.replace("budget = 12", "budget = 4"),
    )
    .unwrap();
    let o = evoprune(&["run", "bad.toml"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("surrogate.budget"));
}

fn graph_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evoprune-graph/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn inspect_prints_params_macs_and_groups_of_an_onnx_model() {
    let t = tempfile::tempdir().unwrap();
    let o = evoprune(
        &["inspect", &graph_fixture("resnet20-ts.onnx"), "--json"],
        t.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // BN folded by the exporter: PyTorch's 269,722 less the 688 batch-norm shifts
    assert_eq!(j["params"], 269_722 - 688);
    assert_eq!(j["macs"], 40_551_040);
    // 9 blocks' inner channels (16, 32, 64 x 3) plus one group per residual-stream channel
    assert_eq!(j["groups"].as_array().unwrap().len(), 336 + 64);
    let text = evoprune(&["inspect", &graph_fixture("resnet20-ts.onnx")], t.path());
    assert!(String::from_utf8_lossy(&text.stdout).contains("400 prunable channel groups"));
}

#[test]
fn onnx_models_outside_the_op_set_or_with_huge_tensors_are_errors_naming_them() {
    let t = tempfile::tempdir().unwrap();
    for (file, needles) in [
        (
            "unsupported-op.onnx",
            vec!["unsupported-op.onnx", "my_erf", "Erf"],
        ),
        (
            "huge-tensor.onnx",
            vec!["huge-tensor.onnx", "fc.weight", "too large"],
        ),
    ] {
        let o = evoprune(&["inspect", &graph_fixture(file)], t.path());
        assert_eq!(o.status.code(), Some(2), "{file}");
        let e = String::from_utf8_lossy(&o.stderr);
        for n in needles {
            assert!(e.contains(n), "{file}: {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
    }
    let bad = t.path().join("bad.onnx");
    std::fs::write(&bad, b"\x08\x07\x12garbage").unwrap();
    let o = evoprune(&["inspect", bad.to_str().unwrap()], t.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.onnx"));
}

#[test]
fn inspect_builds_zoo_architectures_by_name() {
    let t = tempfile::tempdir().unwrap();
    let o = evoprune(&["inspect", "resnet56", "--json"], t.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // He et al.'s 0.85 M; the MACs hand-counted in evoprune-graph's zoo tests
    assert_eq!(j["params"], 853_018);
    assert_eq!(j["macs"], 125_485_696);
    let o = evoprune(&["inspect", "resnet18"], t.path());
    assert!(String::from_utf8_lossy(&o.stdout).contains("11689512 parameters"));
    let o = evoprune(&["inspect", "resnet57"], t.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("resnet56"),
        "lists the known names"
    );
}

#[test]
fn bench_reports_images_per_second() {
    let t = tempfile::tempdir().unwrap();
    let o = evoprune(
        &[
            "bench",
            &graph_fixture("couplings-ts.onnx"),
            "--batch",
            "4",
            "--repeats",
            "2",
            "--threads",
            "1",
            "--json",
        ],
        t.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ips = j["images_per_second"].as_f64().unwrap();
    let spb = j["seconds_per_batch"].as_f64().unwrap();
    assert!(
        (ips * spb - 4.0).abs() < 1e-6,
        "{ips} images/s, {spb} s per batch of 4"
    );
    assert_eq!(j["input"], serde_json::json!([3, 16, 16]));
    let o = evoprune(&["bench", "resnet20", "--batch", "0"], t.path());
    assert_eq!(o.status.code(), Some(2));
    // training steps, on the native trainer and on burn
    for executor in ["fast", "burn"] {
        let o = evoprune(
            &[
                "bench",
                "resnet20",
                "--input",
                "3,16,16",
                "--train",
                "--executor",
                executor,
                "--batch",
                "4",
                "--repeats",
                "2",
                "--warmup",
                "1",
                "--json",
            ],
            t.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["mode"], "training step", "{j}");
        assert!(j["images_per_second"].as_f64().unwrap() > 0.0);
    }
    // inference on burn (flex), the column next to the fast executor
    let o = evoprune(
        &[
            "bench",
            "resnet20",
            "--input",
            "3,16,16",
            "--executor",
            "burn",
            "--batch",
            "2",
            "--repeats",
            "1",
            "--warmup",
            "1",
            "--json",
        ],
        t.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["executor"], "burn (flex)", "{j}");
    assert!(j["images_per_second"].as_f64().unwrap() > 0.0);
    // the reference executor does not train
    let o = evoprune(
        &["bench", "resnet20", "--train", "--executor", "reference"],
        t.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inspect_writes_a_zoo_network_as_onnx_that_runs_to_the_same_logits() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("r.onnx");
    let o = evoprune(
        &[
            "inspect",
            "resnet20",
            "--input",
            "3,16,16",
            "--onnx",
            path.to_str().unwrap(),
        ],
        t.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g = evoprune_graph::onnx::load(&path).unwrap();
    let z = evoprune_graph::zoo::build("resnet20", 10, [3, 16, 16], 0).unwrap();
    let x = evoprune_graph::Tensor::new(
        vec![2, 3, 16, 16],
        (0..2 * 3 * 256)
            .map(|i| (i % 17) as f32 / 8.0 - 1.0)
            .collect(),
    );
    let a = evoprune_graph::exec::run(&g, &x).unwrap();
    let b = evoprune_graph::exec::run(&z, &x).unwrap();
    assert_eq!(a[0].shape, b[0].shape);
    let d = a[0]
        .data
        .iter()
        .zip(&b[0].data)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max);
    assert!(d < 1e-5, "the written network differs by {d}");
    // an unwritable path is an error with status 2
    let o = evoprune(
        &[
            "inspect",
            "resnet20",
            "--onnx",
            t.path().join("no/such/dir/r.onnx").to_str().unwrap(),
        ],
        t.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}

/// A `[model]` network on synthetic digits: the shared baseline section of the configs below.
const MODEL_TINY: &str = r#"
[model]
arch = "resnet20"
input = [1, 16, 16]
[model.train]
epochs = 2
lr = 0.05
batch = 16
[data]
source = "synthetic"
val = 30
synthetic_per_class = 12
[baseline]
cache_dir = "cache"
"#;

#[test]
fn baseline_trains_once_and_every_method_reads_it_from_the_cache() {
    let d = tempfile::tempdir().unwrap();
    let ga = format!(
        "method = \"ga-prune\"\nname = \"g\"\n{MODEL_TINY}[search]\npop_size = 4\ntop_k = 2\n\
         max_generations = 1\nretrain_every = 1\n[retrain]\nepochs = 1.0\n[finetune]\nepochs = 1.0\n"
    );
    std::fs::write(d.path().join("ga.toml"), &ga).unwrap();
    let o = evoprune(&["baseline", "ga.toml"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(first.contains("fine-tuned: training loss"), "{first}");
    assert!(first.contains("test accuracy: "), "{first}");
    assert!(first.contains("s of training"), "{first}");
    let line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("test accuracy"))
            .unwrap()
            .to_string()
    };
    let entries: Vec<_> = std::fs::read_dir(d.path().join("cache/baselines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert!(first.contains("cache/baselines/"), "{first}");

    // again, with another thread count: read from the cache, the same accuracy
    let o = evoprune(&["baseline", "ga.toml", "--threads", "1"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(again.contains("read from the cache"), "{again}");
    assert_eq!(line(&first), line(&again));

    // another method with the same [model], data and seed starts from that entry
    let hier = format!(
        "method = \"hierarchical-prune\"\nname = \"h\"\n{MODEL_TINY}[search]\nfitness_subset = 20\n\
         [phase1]\npop_size = 4\ngenerations = 1\n[phase2]\npop_size = 4\ngenerations = 1\n\
         [finetune]\nmax_members = 1\n"
    );
    std::fs::write(d.path().join("h.toml"), hier).unwrap();
    let o = evoprune(&["run", "h.toml", "--out", "h"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let notes = String::from_utf8_lossy(&o.stderr);
    assert!(notes.contains("read from the cache"), "{notes}");
    assert_eq!(
        std::fs::read(d.path().join("h/checkpoint/baseline.safetensors")).unwrap(),
        std::fs::read(entry).unwrap(),
        "the run folder holds its own copy"
    );

    // another seed is another baseline
    let o = evoprune(&["baseline", "ga.toml", "--seed", "9"], d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_dir(d.path().join("cache/baselines"))
            .unwrap()
            .count(),
        2
    );

    // a config without a trained [model]: a clear error, status 2
    std::fs::write(d.path().join("lenet.toml"), GA_TINY).unwrap();
    let o = evoprune(&["baseline", "lenet.toml"], d.path());
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("lenet.toml") && e.contains("[model]"), "{e}");
}
