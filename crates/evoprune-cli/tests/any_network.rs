//! Issue 15's end-to-end check: each method runs on an ONNX ResNet-20 exported by PyTorch
//! (`crates/evoprune-graph/tests/fixtures/resnet20-ts-bn.onnx`, 3x32x32 input) with synthetic
//! digits, `evoprune export` writes the chosen member as ONNX, and onnxruntime scores that file
//! on the run's test images to exactly the accuracy the run recorded.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// ResNet-20 exported by PyTorch with its batch norms kept (fixed random weights: the runs
/// train it on the digits first; the batch-norm-folded export has no normalisation left and
/// does not train from random weights).
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evoprune-graph/tests/fixtures/resnet20-ts-bn.onnx")
}

fn python() -> String {
    std::env::var("EVOPRUNE_PYTHON")
        .expect("EVOPRUNE_PYTHON must name a Python with onnxruntime and onnx (.ci/run makes one)")
}

fn evoprune(args: &[&str], dir: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_evoprune"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("binary runs");
    assert!(
        o.status.success(),
        "evoprune {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// onnxruntime's logits of `model` on `x` (`n` samples of `shape`).
fn ort_logits(model: &Path, x: &[f32], n: usize, shape: &[usize]) -> Vec<f32> {
    let dir = model.parent().unwrap();
    let (inp, out) = (dir.join("x.f32"), dir.join("y.f32"));
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&inp, bytes).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fixtures/ort_run.py");
    let dims: Vec<String> = std::iter::once(n)
        .chain(shape.iter().copied())
        .map(|d| d.to_string())
        .collect();
    let dims = dims.join(",");
    let o = Command::new(python())
        .arg(script)
        .arg(model)
        .arg(&inp)
        .arg(dims)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(&out)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The run's test images (synthetic digits of the config's `[data]` and seed) fitted to the
/// ResNet-20's 3x32x32 input, and their labels.
fn test_images(data: &evoprune_data::digits28::DataConfig, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let d = evoprune_data::digits28::prepare(data, seed).unwrap();
    let x = evoprune_graph::model::fit_images(&d.test.x, d.test.len(), [1, 28, 28], [3, 32, 32])
        .unwrap();
    (x, d.test.y)
}

/// onnxruntime's logits of `model`, checked against evoprune's executor on the same file
/// (within 1e-4: the file is the network evoprune scored, not just one with the same argmax).
fn checked_logits(model: &Path, x: &[f32], n: usize, shape: &[usize]) -> Vec<f32> {
    let logits = ort_logits(model, x, n, shape);
    let g = evoprune_graph::onnx::load(model).unwrap();
    let dims: Vec<usize> = std::iter::once(n).chain(shape.iter().copied()).collect();
    let ours = evoprune_graph::exec::run(&g, &evoprune_graph::Tensor::new(dims, x.to_vec()))
        .unwrap()
        .remove(0);
    assert_eq!(ours.data.len(), logits.len());
    let d = ours
        .data
        .iter()
        .zip(&logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        d < 1e-4,
        "{}: onnxruntime and evoprune differ by {d}",
        model.display()
    );
    logits
}

/// Accuracy of `model` in onnxruntime on the test images.
fn ort_accuracy(model: &Path, x: &[f32], y: &[u32]) -> f64 {
    let logits = checked_logits(model, x, y.len(), &[3, 32, 32]);
    assert_eq!(logits.len(), y.len() * 10);
    evoprune_graph::net::correct(&logits, y, 10) as f64 / y.len() as f64
}

const DATA: &str = "[data]\nsource = \"synthetic\"\nval = 30\nsynthetic_per_class = 12\n\
                    [baseline]\ncache_dir = \"cache\"\n";

fn data_config() -> evoprune_data::digits28::DataConfig {
    evoprune_data::digits28::DataConfig {
        source: evoprune_data::digits28::Source::Synthetic,
        path: None,
        val: 30,
        synthetic_per_class: 12,
        ..Default::default()
    }
}

/// Run `config` (TOML text, without `[model]` and `[data]`) on the fixture, fine-tuned first
/// on the synthetic digits, then export the member with the best recorded test accuracy;
/// `members` lists each member's recorded test accuracy from result.json. Returns the
/// baseline's and that member's recorded test accuracy and the exported ONNX's accuracy in
/// onnxruntime.
fn run_and_export(
    config: &str,
    dir: &Path,
    baseline: impl Fn(&Value) -> f64,
    members: impl Fn(&Value) -> Vec<f64>,
) -> (f64, f64, f64) {
    let text = format!(
        "{config}\n{DATA}\n[model]\nonnx = \"{}\"\n[model.train]\nepochs = 15\nlr = 0.01\nbatch = 8\n",
        fixture().display()
    );
    std::fs::write(dir.join("c.toml"), text).unwrap();
    evoprune(&["run", "c.toml", "--out", "run"], dir);
    let result: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run/result.json")).unwrap()).unwrap();
    let accs = members(&result);
    assert!(!accs.is_empty());
    let best = (0..accs.len())
        .max_by(|&a, &b| accs[a].total_cmp(&accs[b]))
        .unwrap();
    let k = best.to_string();
    evoprune(
        &["export", "run", "--member", &k, "--out", "member.onnx"],
        dir,
    );
    let (x, y) = test_images(&data_config(), 3);
    let acc = ort_accuracy(&dir.join("member.onnx"), &x, &y);
    let base = baseline(&result);
    eprintln!(
        "baseline {base}; member {best}: onnxruntime accuracy {acc}, recorded {}",
        accs[best]
    );
    // the network learned the digits, so the exported member is not a chance-level constant
    assert!(base >= 0.8, "baseline test accuracy {base}");
    assert!(accs[best] > 0.3, "best member {}", accs[best]);
    (base, accs[best], acc)
}

fn list(v: &Value, key: &str, f: impl Fn(&Value) -> f64) -> Vec<f64> {
    v[key].as_array().unwrap().iter().map(f).collect()
}

#[test]
#[ignore = "needs EVOPRUNE_PYTHON with onnxruntime (.ci/run sets it up)"]
fn ga_pruning_of_an_onnx_resnet20_exports_what_it_recorded() {
    let d = tempfile::tempdir().unwrap();
    let (_, recorded, acc) = run_and_export(
        "method = \"ga-prune\"\nname = \"r20\"\nseed = 3\n\
         [search]\nmode = \"nsga2\"\nmax_generations = 2\nretrain_every = 1\npop_size = 6\n\
         [retrain]\nepochs = 1.0\nbatch = 16\nlr = 0.01\n[finetune]\nepochs = 1.0\nbatch = 16\nlr = 0.01\n",
        d.path(),
        |r| 1.0 - r["baseline_test_error"].as_f64().unwrap(),
        |r| list(r, "members", |m| 1.0 - m["test_error"].as_f64().unwrap()),
    );
    assert!(
        (acc - recorded).abs() < 1e-9,
        "onnxruntime {acc}, recorded {recorded}"
    );
}

#[test]
#[ignore = "needs EVOPRUNE_PYTHON with onnxruntime (.ci/run sets it up)"]
fn hierarchical_pruning_of_an_onnx_resnet20_exports_what_it_recorded() {
    let d = tempfile::tempdir().unwrap();
    let (_, recorded, acc) = run_and_export(
        "method = \"hierarchical-prune\"\nname = \"r20\"\nseed = 3\n\
         [search]\nfitness_subset = 30\n[phase1]\npop_size = 6\ngenerations = 2\n\
         [phase2]\npop_size = 6\ngenerations = 2\n[finetune]\nmax_members = 2\n\
         [finetune.solver]\nepochs = 1.0\nbatch = 16\nlr = 0.01\n",
        d.path(),
        |r| 1.0 - r["baseline_test_error"].as_f64().unwrap(),
        |r| list(r, "members", |m| 1.0 - m["test_error"].as_f64().unwrap()),
    );
    assert!(
        (acc - recorded).abs() < 1e-9,
        "onnxruntime {acc}, recorded {recorded}"
    );
}

#[test]
#[ignore = "needs EVOPRUNE_PYTHON with onnxruntime (.ci/run sets it up)"]
fn surrogate_compression_of_an_onnx_resnet20_exports_what_it_recorded() {
    let d = tempfile::tempdir().unwrap();
    let (_, recorded, acc) = run_and_export(
        "method = \"surrogate-compress\"\nname = \"r20\"\nseed = 3\nseeds = [3]\n\
         [problem]\naccuracy_floor = 0.0\nfitness_subset = 30\n\
         [surrogate]\ninitial = 6\nper_iteration = 2\nbudget = 10\npop_size = 8\ngenerations = 4\n\
         [real]\nenabled = false\n",
        d.path(),
        |r| r["baseline_accuracy"][1].as_f64().unwrap(),
        |r| {
            let front = &r["seeds"][0]["surrogate"];
            list(front, "front", |m| m["test_accuracy"].as_f64().unwrap())
        },
    );
    assert!(
        (acc - recorded).abs() < 1e-9,
        "onnxruntime {acc}, recorded {recorded}"
    );
}

#[test]
#[ignore = "needs EVOPRUNE_PYTHON with onnxruntime (.ci/run sets it up)"]
fn mo_evoprune_deeptl_on_an_onnx_resnet20_backbone_exports_what_it_recorded() {
    use evoprune_deeptl::config::Backbone;
    use evoprune_run::MethodConfig;
    let d = tempfile::tempdir().unwrap();
    let mut cfg = evoprune_deeptl::Config::builtin();
    cfg.features.backbone = Backbone::Onnx;
    cfg.features.weights = Some(fixture());
    cfg.features.cache_dir = d.path().join("cache");
    cfg.head.hidden = vec![16];
    cfg.train.max_epochs = 40;
    cfg.train.lr = 0.05;
    cfg.search.pop_size = 6;
    cfg.search.evaluations = 12;
    std::fs::write(d.path().join("c.toml"), cfg.to_toml().unwrap()).unwrap();
    evoprune(&["run", "c.toml", "--out", "run"], d.path());
    evoprune(
        &[
            "export",
            "run",
            "--member",
            "0",
            "--out",
            "head.safetensors",
        ],
        d.path(),
    );
    let front: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("run/front.json")).unwrap()).unwrap();
    let recorded = front["members"][0]["test_accuracy"].as_f64().unwrap();
    // the fixture's weights are random (not trained on anything): its frozen features of
    // upsampled 8x8 digits carry little, yet the head beats chance (5 classes: 0.2)
    assert!(recorded > 0.25, "member 0 test accuracy {recorded}");
    // the ONNX takes the raw samples (8x8 digits as 64 values): resizing to 32 px, grey to RGB
    // and ImageNet normalisation are inside it; output i is the i-th in-distribution class
    let test = evoprune_deeptl::data::test_samples(&cfg).unwrap();
    let n = test.len();
    let logits = checked_logits(
        &d.path().join("head.onnx"),
        test.features(),
        n,
        test.shape(),
    );
    let k = logits.len() / n;
    let acc = evoprune_graph::net::correct(&logits, test.labels(), k) as f64 / n as f64;
    eprintln!("onnxruntime accuracy {acc}, recorded {recorded}");
    assert!(
        (acc - recorded).abs() < 1e-9,
        "onnxruntime {acc}, recorded {recorded}"
    );
}
