//! Exported, physically smaller networks run in onnxruntime (and pass onnx's full checker)
//! and give the masked network's logits within 1e-4; the papers' networks (ResNet-56,
//! VGG-16-bn, MobileNetV2, ResNet-50) import like ResNet-20. Needs Python with onnxruntime
//! and onnx (EVOPRUNE_PYTHON) and, for the large models, the folder written by
//! `export_models.py --large` (EVOPRUNE_LARGE_FIXTURES): `.ci/run` provides both.

mod common;
use common::{
    check_all, committed, compact_in_onnxruntime, input, large, max_abs, torch_roundtrip,
};
use evoprune_graph::{exec, groups, onnx};

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
        let g = onnx::load(&committed().join(file)).unwrap();
        compact_in_onnxruntime(&g, dir.path(), file, p, 1e-4);
    }
}

/// The large exports, each in its three forms: logits against onnxruntime within 1e-4 and
/// PyTorch's parameter counts.
#[test]
#[ignore = "needs the large fixtures (EVOPRUNE_LARGE_FIXTURES); run by .ci/run"]
fn the_papers_networks_import_like_pytorch_exports_them() {
    for m in ["resnet56", "vgg16bn", "mobilenetv2"] {
        check_all(&large(), m, 1e-4);
    }
    check_all(&large(), "resnet50", 1e-4);
}

#[test]
#[ignore = "needs onnxruntime and the large fixtures; run by .ci/run"]
fn random_structured_masks_on_resnet56_mobilenetv2_and_vgg16_run_in_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    for m in ["resnet56", "mobilenetv2", "vgg16bn"] {
        let g = onnx::load(&large().join(format!("{m}-ts.onnx"))).unwrap();
        let [(p0, m0), (p1, m1)] = compact_in_onnxruntime(&g, dir.path(), m, 0.5, 1e-4);
        eprintln!("{m}: {p0} -> {p1} parameters, {m0} -> {m1} MACs");
    }
}

/// A compacted export converts back to PyTorch (onnx2torch) and computes the masked network's
/// logits there too: the ONNX evoprune writes is a model a PyTorch user can keep working with.
#[test]
#[ignore = "needs Python with torch and onnx2torch (EVOPRUNE_PYTHON); run by .ci/run"]
fn exported_compacted_networks_convert_back_to_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "resnet20-ts.onnx",
        "resnet20-ts-bn.onnx",
        "couplings-ts-bn.onnx",
    ] {
        let g = onnx::load(&committed().join(file)).unwrap();
        let a = groups::analyze(&g).unwrap();
        let keep: Vec<bool> = (0..a.groups.len()).map(|i| i % 3 != 1).collect();
        let path = dir.path().join(format!("small-{file}"));
        onnx::save(&a.compact(&g, &keep).unwrap(), &path).unwrap();
        let x = input(&g, 2);
        let want = exec::run(&a.masked(&g, &keep).unwrap(), &x)
            .unwrap()
            .remove(0);
        let got = torch_roundtrip(&path, &x);
        assert_eq!(got.shape, want.shape, "{file}");
        let d = max_abs(&got.data, &want.data);
        assert!(
            d < 1e-4,
            "{file}: PyTorch (onnx2torch) vs masked network: {d}"
        );
    }
}
