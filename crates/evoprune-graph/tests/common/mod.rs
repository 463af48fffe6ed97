//! Shared by the integration tests: fixtures, reference comparisons, onnxruntime.
#![allow(dead_code)]

use evoprune_graph::groups::analyze;
use evoprune_graph::{Graph, Op, Tensor, exec, fold, onnx, stats};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The committed fixtures.
pub fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The large fixtures written by `export_models.py --large --out DIR` (EVOPRUNE_LARGE_FIXTURES).
pub fn large() -> PathBuf {
    PathBuf::from(std::env::var("EVOPRUNE_LARGE_FIXTURES").expect(
        "EVOPRUNE_LARGE_FIXTURES must name the folder of export_models.py --large (see .ci/run)",
    ))
}

pub fn npy(dir: &Path, name: &str) -> Tensor {
    let a = evoprune_data::numpy::read_npy(&dir.join(name)).unwrap();
    Tensor::new(a.shape, a.data)
}

pub fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn torch_params(dir: &Path, model: &str) -> usize {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{model}.json"))).unwrap())
            .unwrap();
    j["torch_params"].as_u64().unwrap() as usize
}

/// Import one export, compare its logits with onnxruntime's, check a batch of one and the
/// ONNX round trip.
pub fn check(dir: &Path, model: &str, exporter: &str, tol: f32) -> Graph {
    let g = onnx::load(&dir.join(format!("{model}-{exporter}.onnx"))).unwrap();
    let x = npy(dir, &format!("{model}.input.npy"));
    let want = npy(dir, &format!("{model}.ort.npy"));
    let y = exec::run(&g, &x).unwrap();
    assert_eq!(y[0].shape, want.shape);
    let d = max_abs(&y[0].data, &want.data);
    assert!(
        d < tol,
        "{model}-{exporter}: max |evoprune - onnxruntime| = {d}"
    );
    let one = Tensor::new(
        [1].into_iter()
            .chain(x.shape[1..].iter().copied())
            .collect(),
        x.data[..x.len() / x.shape[0]].to_vec(),
    );
    let y1 = exec::run(&g, &one).unwrap();
    assert!(max_abs(&y1[0].data, &want.data[..want.len() / want.shape[0]]) < tol);
    let bytes = onnx::to_bytes(&g).unwrap();
    let back = onnx::load_bytes(&bytes, "round trip", None).unwrap();
    assert_eq!(back.params, g.params);
    assert_eq!(back.nodes.len(), g.nodes.len());
    assert_eq!(exec::run(&back, &x).unwrap()[0].data, y[0].data);
    g
}

/// The three exports of `model`: batch norm kept (parameters as PyTorch counts them), and the
/// two folded ones, whose parameters are those of our own folding of the first.
pub fn check_all(dir: &Path, model: &str, tol: f32) {
    let bn = check(dir, model, "ts-bn", tol);
    let s = stats::stats(&bn).unwrap();
    assert_eq!(
        s.params,
        torch_params(dir, model),
        "{model}: parameters as PyTorch counts them"
    );
    let folded = fold::fold_batch_norms(&bn);
    assert!(
        !folded
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::BatchNorm { .. }))
    );
    let x = npy(dir, &format!("{model}.input.npy"));
    let want = npy(dir, &format!("{model}.ort.npy"));
    let d = max_abs(&exec::run(&folded, &x).unwrap()[0].data, &want.data);
    assert!(
        d < tol,
        "{model}: folded batch norms change the logits by {d}"
    );
    let fs = stats::stats(&folded).unwrap();
    assert_eq!(fs.macs, s.macs);
    for exporter in ["ts", "dynamo"] {
        let g = check(dir, model, exporter, tol);
        let gs = stats::stats(&g).unwrap();
        assert_eq!(
            (gs.params, gs.macs),
            (fs.params, fs.macs),
            "{model}-{exporter}"
        );
    }
}

pub fn python() -> String {
    std::env::var("EVOPRUNE_PYTHON")
        .expect("EVOPRUNE_PYTHON must name a Python with onnxruntime and onnx (see .ci/run)")
}

/// `model` run in onnxruntime (after onnx's full checker) on `x`.
pub fn ort(model: &Path, x: &Tensor) -> Tensor {
    run_python(model, x, false)
}

/// `model` converted back to PyTorch (onnx2torch) and run there.
pub fn torch_roundtrip(model: &Path, x: &Tensor) -> Tensor {
    run_python(model, x, true)
}

fn run_python(model: &Path, x: &Tensor, torch: bool) -> Tensor {
    let dir = model.parent().unwrap();
    let inp = dir.join("x.f32");
    let out = dir.join("y.f32");
    let bytes: Vec<u8> = x.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&inp, bytes).unwrap();
    let shape: Vec<String> = x.shape.iter().map(|d| d.to_string()).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fixtures/ort_run.py");
    let o = Command::new(python())
        .arg(script)
        .arg(model)
        .arg(&inp)
        .arg(shape.join(","))
        .arg(&out)
        .args(torch.then_some("--torch"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shape: Vec<usize> = String::from_utf8_lossy(&o.stdout)
        .trim()
        .split(',')
        .map(|d| d.parse().unwrap())
        .collect();
    let data: Vec<f32> = std::fs::read(&out)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Tensor::new(shape, data)
}

pub fn input(g: &Graph, n: usize) -> Tensor {
    let mut shape = g.input_shape.clone();
    shape[0] = n;
    let len: usize = shape.iter().product();
    Tensor::new(
        shape,
        (0..len)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect(),
    )
}

/// A random structured mask over `g`'s groups (about `p` kept, every fifth kept), compacted,
/// exported to `dir`, run in onnxruntime: its logits equal the masked network's within `tol`.
/// Returns (parameters, MACs) before and after.
pub fn compact_in_onnxruntime(
    g: &Graph,
    dir: &Path,
    name: &str,
    p: f64,
    tol: f32,
) -> [(usize, usize); 2] {
    let a = analyze(g).unwrap();
    let mut s = 99u64;
    let keep: Vec<bool> = (0..a.groups.len())
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            i % 5 == 0 || ((s >> 33) as f64 / (1u64 << 31) as f64) < p
        })
        .collect();
    let small = a.compact(g, &keep).unwrap();
    let masked = a.masked(g, &keep).unwrap();
    let path = dir.join(format!("small-{name}.onnx"));
    onnx::save(&small, &path).unwrap();
    let x = input(g, 2);
    let want = exec::run(&masked, &x).unwrap().remove(0);
    let got = ort(&path, &x);
    assert_eq!(got.shape, want.shape, "{name}");
    let d = max_abs(&got.data, &want.data);
    assert!(d < tol, "{name}: onnxruntime vs masked network: {d}");
    let (b, a2) = (stats::stats(g).unwrap(), stats::stats(&small).unwrap());
    assert!(a2.params < b.params && a2.macs < b.macs, "{name}");
    [(b.params, b.macs), (a2.params, a2.macs)]
}
