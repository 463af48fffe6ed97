//! Models exported from PyTorch with both `torch.onnx.export` exporters (fixtures from
//! scripts/fixtures/export_models.py): imported logits equal onnxruntime's within 1e-4,
//! parameter counts equal PyTorch's, and the export round trip keeps the graph.

mod common;
use common::{check_all, committed};
use evoprune_graph::{onnx, stats};

#[test]
fn resnet20_exports_match_onnxruntime_and_count_like_pytorch() {
    check_all(&committed(), "resnet20", 1e-4);
    let s = stats::stats(&onnx::load(&committed().join("resnet20-ts.onnx")).unwrap()).unwrap();
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
    check_all(&committed(), "couplings", 1e-4);
}
