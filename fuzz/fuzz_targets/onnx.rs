//! ONNX models: import, then everything `evoprune inspect` does with an imported graph
//! (shapes, counts, coupled-channel groups, a compaction, the export) and one run on a
//! small input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = evoprune_graph::onnx::load_bytes(data, "input.onnx", None) else {
        return;
    };
    let _ = evoprune_graph::stats::stats(&g);
    if let Ok(a) = evoprune_graph::groups::analyze(&g) {
        let keep: Vec<bool> = (0..a.groups.len()).map(|i| i % 2 == 0).collect();
        let _ = a.compact(&g, &keep);
    }
    let _ = evoprune_graph::onnx::to_bytes(&g);
    // run only small graphs: the fuzzer looks for panics, not for slow convolutions
    let n: usize = g.input_shape.iter().product();
    if n <= 4096 && g.params.values().map(|t| t.len()).sum::<usize>() <= 1 << 16 {
        let x = evoprune_graph::Tensor::zeros(g.input_shape.clone());
        let _ = evoprune_graph::exec::run(&g, &x);
    }
});
