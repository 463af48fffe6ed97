//! Models exported from PyTorch with both `torch.onnx.export` exporters (fixtures from
//! scripts/fixtures/export_models.py): imported logits equal onnxruntime's within 1e-4,
//! parameter counts equal PyTorch's, and the export round trip keeps the graph.

use evoprune_graph::{Graph, Op, Tensor, exec, fold, onnx, stats};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn npy(name: &str) -> Tensor {
    let a = evoprune_data::numpy::read_npy(&fixture(name)).unwrap();
    Tensor::new(a.shape, a.data)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn torch_params(model: &str) -> usize {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{model}.json"))).unwrap())
            .unwrap();
    j["torch_params"].as_u64().unwrap() as usize
}

fn check(model: &str, exporter: &str) -> Graph {
    let g = onnx::load(&fixture(&format!("{model}-{exporter}.onnx"))).unwrap();
    let x = npy(&format!("{model}.input.npy"));
    let want = npy(&format!("{model}.ort.npy"));
    let y = exec::run(&g, &x).unwrap();
    assert_eq!(y[0].shape, want.shape);
    let d = max_abs(&y[0].data, &want.data);
    assert!(
        d < 1e-4,
        "{model}-{exporter}: max |evoprune - onnxruntime| = {d}"
    );
    // a batch of one gives the first row
    let one = Tensor::new(
        [1].into_iter()
            .chain(x.shape[1..].iter().copied())
            .collect(),
        x.data[..x.len() / x.shape[0]].to_vec(),
    );
    let y1 = exec::run(&g, &one).unwrap();
    assert!(max_abs(&y1[0].data, &want.data[..want.len() / want.shape[0]]) < 1e-4);
    // export and import again: same graph, same outputs
    let bytes = onnx::to_bytes(&g).unwrap();
    let back = onnx::load_bytes(&bytes, "round trip", None).unwrap();
    assert_eq!(back.params, g.params);
    assert_eq!(back.nodes.len(), g.nodes.len());
    assert_eq!(exec::run(&back, &x).unwrap()[0].data, y[0].data);
    g
}

/// The three exports of `model`: batch norm kept (parameters as PyTorch counts them), and the
/// two folded ones, whose parameters are those of our own folding of the first.
fn check_all(model: &str) {
    let bn = check(model, "ts-bn");
    let s = stats::stats(&bn).unwrap();
    assert_eq!(
        s.params,
        torch_params(model),
        "{model}: parameters as PyTorch counts them"
    );
    let folded = fold::fold_batch_norms(&bn);
    assert!(
        !folded
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::BatchNorm { .. }))
    );
    let x = npy(&format!("{model}.input.npy"));
    let want = npy(&format!("{model}.ort.npy"));
    let d = max_abs(&exec::run(&folded, &x).unwrap()[0].data, &want.data);
    assert!(
        d < 1e-4,
        "{model}: folded batch norms change the logits by {d}"
    );
    let fs = stats::stats(&folded).unwrap();
    assert_eq!(fs.macs, s.macs);
    for exporter in ["ts", "dynamo"] {
        let g = check(model, exporter);
        let gs = stats::stats(&g).unwrap();
        assert_eq!(
            (gs.params, gs.macs),
            (fs.params, fs.macs),
            "{model}-{exporter}"
        );
    }
}

#[test]
fn resnet20_exports_match_onnxruntime_and_count_like_pytorch() {
    check_all("resnet20");
    let s = stats::stats(&onnx::load(&fixture("resnet20-ts.onnx")).unwrap()).unwrap();
    // by hand: stem 32*32*16*3*9 = 442,368; stage 1: 6 x 32*32*16*16*9; stages 2 and 3:
    // 16*16*32*16*9 + 5 x 16*16*32*32*9 and 8*8*64*32*9 + 5 x 8*8*64*64*9; linear 64*10
    // (the 41 M FLOPs usually quoted for ResNet-20)
    assert_eq!(
        s.macs,
        442_368 + 6 * 2_359_296 + 2 * (1_179_648 + 5 * 2_359_296) + 640
    );
}

#[test]
fn coupling_graph_exports_match_onnxruntime() {
    check_all("couplings");
}
