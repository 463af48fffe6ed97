//! Exported, physically smaller networks run in onnxruntime (and pass onnx's full checker)
//! and give the masked network's logits within 1e-4. Needs Python with onnxruntime and onnx:
//! `.ci/run` makes that virtual environment and runs these with EVOPRUNE_PYTHON set.

use evoprune_graph::groups::analyze;
use evoprune_graph::{Graph, Tensor, exec, onnx, stats};
use std::path::Path;
use std::process::Command;

fn python() -> String {
    std::env::var("EVOPRUNE_PYTHON")
        .expect("EVOPRUNE_PYTHON must name a Python with onnxruntime and onnx (see .ci/run)")
}

fn ort(model: &Path, x: &Tensor) -> Tensor {
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

fn input(g: &Graph, n: usize) -> Tensor {
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

#[test]
#[ignore = "needs Python with onnxruntime (EVOPRUNE_PYTHON); run by .ci/run"]
fn exported_compacted_networks_run_in_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    for (file, p) in [
        ("resnet20-ts.onnx", 0.5),
        ("resnet20-dynamo.onnx", 0.35),
        ("couplings-ts-bn.onnx", 0.6),
        ("couplings-dynamo.onnx", 0.5),
    ] {
        let g = onnx::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(file),
        )
        .unwrap();
        let a = analyze(&g).unwrap();
        let mut s = 99u64;
        let keep: Vec<bool> = (0..a.groups.len())
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                i % 5 == 0 || ((s >> 33) as f64 / (1u64 << 31) as f64) < p
            })
            .collect();
        let small = a.compact(&g, &keep).unwrap();
        let masked = a.masked(&g, &keep).unwrap();
        assert!(stats::stats(&small).unwrap().params < stats::stats(&g).unwrap().params);
        let path = dir.path().join(format!("small-{file}"));
        onnx::save(&small, &path).unwrap();
        let x = input(&g, 5);
        let want = exec::run(&masked, &x).unwrap().remove(0);
        let got = ort(&path, &x);
        assert_eq!(got.shape, want.shape, "{file}");
        let d = got
            .data
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d < 1e-4, "{file}: onnxruntime vs masked network: {d}");
    }
}
