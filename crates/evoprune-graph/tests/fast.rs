//! The fast executor against the reference executor: every zoo network, the committed ONNX
//! exports (batch norm folded or not, both exporters), random convolution layers with fused
//! residual adds and activations; the same bits on 1 and 2 threads; bad inputs refused.

mod common;

use evoprune_graph::ir::{Graph, Node, Op, Tensor};
use evoprune_graph::{exec, fast, onnx, zoo};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Largest difference relative to the reference's largest magnitude (at least 1).
fn rel_err(want: &Tensor, got: &Tensor) -> f32 {
    assert_eq!(want.shape, got.shape);
    let scale = want.data.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    common::max_abs(&want.data, &got.data) / scale
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn every_zoo_network_matches_the_reference_and_is_thread_count_independent() {
    for &arch in zoo::names() {
        let input = match arch {
            "lenet" | "lenet-300-100" => [1, 28, 28],
            "resnet18" | "resnet50" | "mobilenet-v2" | "efficientnet-lite0" => [3, 48, 48],
            _ => [3, 32, 32],
        };
        let g = zoo::build(arch, 7, input, 3).unwrap();
        let x = common::input(&g, 3);
        let want = [zoo::LOGITS.to_string(), zoo::POOLED.to_string()];
        let reference = exec::run_until(&g, &x, &want).unwrap();
        let plan = fast::Plan::with_outputs(&g, &want).unwrap();
        let (convs, _) = plan.summary();
        assert!(
            convs > 0 || arch == "lenet-300-100",
            "{arch}: no fast convolution"
        );
        let one = pool(1).install(|| plan.run(&x).unwrap());
        let two = pool(2).install(|| plan.run(&x).unwrap());
        for (k, r) in reference.iter().enumerate() {
            let e = rel_err(r, &one[k]);
            assert!(e < 1e-4, "{arch} output {k}: relative error {e}");
            assert_eq!(one[k], two[k], "{arch} output {k}: 1 and 2 threads differ");
        }
        // a plan runs again (its buffers reused) to the same bits, at another batch size too
        assert_eq!(plan.run(&x).unwrap(), one, "{arch}");
        let x1 = common::input(&g, 1);
        let r1 = exec::run_until(&g, &x1, &want).unwrap();
        let f1 = plan.run(&x1).unwrap();
        assert!(rel_err(&r1[0], &f1[0]) < 1e-4, "{arch} at batch 1");
        // buffers grown back after the smaller batch hold no stale values that matter
        assert_eq!(plan.run(&x).unwrap(), one, "{arch} after batch 1");
    }
}

/// At batch 64, MobileNetV2's 1x1 convolutions on its 4x4 and 2x2 maps (at least 224 pixels
/// in the batch) run flattened (all images' pixels as one map of full tiles,
/// `Options::flat_pointwise`): within 1e-4 of the reference, and the same bits as the
/// row-by-row kernels, on 1 and 2 threads.
#[test]
fn flattened_pointwise_layers_match_the_reference_and_the_row_kernels() {
    let g = zoo::build("mobilenet-v2", 10, [3, 32, 32], 5).unwrap();
    let x = common::input(&g, 64);
    let want = exec::run(&g, &x).unwrap();
    let flat = fast::Plan::new(&g).unwrap();
    let rows = fast::Options {
        flat_pointwise: false,
        ..fast::Options::default()
    };
    let rows = fast::Plan::with_options(&g, &g.outputs, rows).unwrap();
    let a = pool(2).install(|| flat.run(&x).unwrap());
    let e = rel_err(&want[0], &a[0]);
    assert!(e < 1e-4, "relative error {e}");
    let bits = |t: &[Tensor]| {
        t.iter()
            .flat_map(|t| t.data.iter().map(|v| v.to_bits()))
            .collect::<Vec<_>>()
    };
    let one = pool(1).install(|| flat.run(&x).unwrap());
    assert!(bits(&a) == bits(&one), "1 and 2 threads");
    let by_rows = pool(2).install(|| rows.run(&x).unwrap());
    assert!(bits(&a) == bits(&by_rows), "flat and row kernels");
}

#[test]
fn committed_onnx_exports_match_the_reference() {
    let dir = common::committed();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".onnx") || name.starts_with("fuzz") || name.starts_with("huge") {
            continue;
        }
        let Ok(g) = onnx::load(&path) else {
            continue;
        };
        let x = common::input(&g, 2);
        let want = exec::run(&g, &x).unwrap();
        let got = fast::run(&g, &x).unwrap();
        for (w, f) in want.iter().zip(&got) {
            let e = rel_err(w, f);
            assert!(e < 1e-4, "{name}: relative error {e}");
        }
        seen += 1;
    }
    assert!(seen >= 4, "only {seen} committed ONNX models ran");
}

#[test]
fn a_wrong_input_shape_is_an_error_naming_the_input() {
    let g = zoo::build("resnet20", 10, [3, 32, 32], 0).unwrap();
    let plan = fast::Plan::new(&g).unwrap();
    let e = plan
        .run(&Tensor::new(vec![1, 3, 16, 16], vec![0.0; 768]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("input") && e.contains("[1, 3, 16, 16]"), "{e}");
    let e = plan
        .run(&Tensor {
            shape: vec![2, 3, 32, 32],
            data: vec![0.0; 5],
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("input"), "{e}");
}

/// One convolution (any geometry, dense or depthwise), optionally followed by a residual Add
/// of the input's shortcut convolution and a Relu or Clip: what the plan fuses.
#[allow(clippy::too_many_arguments)]
fn conv_graph(
    c: usize,
    o: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    pads: [usize; 4],
    d: [usize; 2],
    depthwise: bool,
    residual: bool,
    act: u8,
) -> Graph {
    let o = if depthwise { c } else { o };
    let groups = if depthwise { c } else { 1 };
    let mut params = BTreeMap::new();
    let wn = o * (c / groups) * k[0] * k[1];
    let val = |i: usize, salt: usize| (((i * 7919 + salt * 611) % 2001) as f32 / 1000.0) - 1.0;
    params.insert(
        "w".to_string(),
        Tensor::new(
            vec![o, c / groups, k[0], k[1]],
            (0..wn).map(|i| val(i, 1)).collect(),
        ),
    );
    params.insert(
        "b".to_string(),
        Tensor::new(vec![o], (0..o).map(|i| val(i, 2)).collect()),
    );
    let conv =
        |name: &str, x: &str, w: &str, b: &str, y: &str, kernel, strides, pads, groups| Node {
            name: name.into(),
            op: Op::Conv {
                kernel,
                strides,
                pads,
                dilations: d,
                groups,
            },
            inputs: vec![x.into(), w.into(), b.into()],
            outputs: vec![y.into()],
        };
    let mut nodes = vec![conv("conv", "x", "w", "b", "y", k, s, pads, groups)];
    let mut last = "y".to_string();
    if residual {
        // a second convolution of the same output shape as the shortcut
        params.insert(
            "w2".to_string(),
            Tensor::new(
                vec![o, c / groups, k[0], k[1]],
                (0..wn).map(|i| val(i, 3)).collect(),
            ),
        );
        params.insert("b2".to_string(), Tensor::new(vec![o], vec![0.25; o]));
        nodes.insert(0, conv("short", "x", "w2", "b2", "r", k, s, pads, groups));
        nodes.push(Node {
            name: "add".into(),
            op: Op::Add,
            inputs: vec!["y".into(), "r".into()],
            outputs: vec!["z".into()],
        });
        last = "z".into();
    }
    let op = match act {
        0 => None,
        1 => Some(Op::Relu),
        _ => Some(Op::Clip {
            min: -0.5,
            max: 0.75,
        }),
    };
    if let Some(op) = op {
        nodes.push(Node {
            name: "act".into(),
            op,
            inputs: vec![last.clone()],
            outputs: vec!["out".into()],
        });
        last = "out".into();
    }
    Graph {
        name: "layer".into(),
        input: "x".into(),
        input_shape: vec![1, c, h, w],
        outputs: vec![last],
        nodes,
        params,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random geometries (asymmetric padding, strides, dilations, channel counts off the
    /// 16-lane blocks) give the reference's outputs within 1e-4, on the dense kernels and on
    /// the sparse one.
    #[test]
    fn random_convolution_layers_match_the_reference(
        c in 1usize..40, o in 1usize..72, h in 1usize..14, w in 1usize..14,
        kh in 1usize..4, kw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
        pt in 0usize..3, pl in 0usize..3, pb in 0usize..3, pr in 0usize..3,
        dh in 1usize..3, dw in 1usize..3,
        depthwise in any::<bool>(), residual in any::<bool>(), act in 0u8..3, n in 1usize..3,
    ) {
        // only geometries with at least one output pixel
        prop_assume!(h + pt + pb > (kh - 1) * dh && w + pl + pr > (kw - 1) * dw);
        let g = conv_graph(c, o, h, w, [kh, kw], [sh, sw], [pt, pl, pb, pr], [dh, dw],
            depthwise, residual, act);
        let x = common::input(&g, n);
        let want = exec::run(&g, &x).unwrap();
        let got = fast::run(&g, &x).unwrap();
        let e = rel_err(&want[0], &got[0]);
        prop_assert!(e < 1e-4, "relative error {}", e);
        // the sparse kernel on the same layer, wherever it applies (stride 1, one group)
        let always = fast::Options {
            sparse_conv: f64::INFINITY,
            sparse_linear: f64::INFINITY,
            ..fast::Options::default()
        };
        let plan = fast::Plan::with_options(&g, &g.outputs, always).unwrap();
        prop_assert_eq!(
            plan.sparse_layers() > 0,
            (!depthwise || c == 1) && sh == 1 && sw == 1
        );
        let e = rel_err(&want[0], &plan.run(&x).unwrap()[0]);
        prop_assert!(e < 1e-4, "sparse kernel: relative error {}", e);
    }
}

/// A value whose first axis is not the batch (a Reshape folding the batch into it) runs on
/// the reference ops, with the reference's results; a wanted parameter comes back as stored,
/// not batch-norm-folded.
#[test]
fn values_without_a_leading_batch_and_wanted_parameters_match_the_reference() {
    use evoprune_graph::Dim;
    let mut params = BTreeMap::new();
    params.insert(
        "w".to_string(),
        Tensor::new(
            vec![8, 8, 3, 3],
            (0..576)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 300.0)
                .collect(),
        ),
    );
    let g = Graph {
        name: "fold-batch".into(),
        input: "x".into(),
        input_shape: vec![1, 32, 4, 4],
        outputs: vec!["z".into()],
        nodes: vec![
            Node {
                name: "fold".into(),
                op: Op::Reshape {
                    shape: vec![Dim::Fixed(-1), Dim::Fixed(8), Dim::Fixed(4), Dim::Fixed(4)],
                },
                inputs: vec!["x".into()],
                outputs: vec!["f".into()],
            },
            Node {
                name: "conv".into(),
                op: Op::Conv {
                    kernel: [3, 3],
                    strides: [1, 1],
                    pads: [1; 4],
                    dilations: [1, 1],
                    groups: 1,
                },
                inputs: vec!["f".into(), "w".into()],
                outputs: vec!["y".into()],
            },
            Node {
                name: "relu".into(),
                op: Op::Relu,
                inputs: vec!["y".into()],
                outputs: vec!["z".into()],
            },
        ],
        params,
    };
    for n in [1, 3] {
        let x = common::input(&g, n);
        let want = exec::run(&g, &x).unwrap();
        let got = fast::run(&g, &x).unwrap();
        assert_eq!(want[0].shape, got[0].shape, "batch {n}");
        assert!(rel_err(&want[0], &got[0]) < 1e-5, "batch {n}");
    }
    let r = zoo::build("resnet20", 10, [3, 32, 32], 0).unwrap();
    let w = "conv1.weight".to_string();
    let out = fast::Plan::with_outputs(&r, std::slice::from_ref(&w))
        .unwrap()
        .run(&common::input(&r, 1))
        .unwrap();
    assert_eq!(out[0], r.params[&w]);
}

/// `g` with about `keep` of each convolution and linear weight kept (pseudo-random, the rest
/// zero, as weight-level pruning leaves them).
fn unstructured(mut g: Graph, keep: f64, seed: u64) -> Graph {
    let weights: Vec<String> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Conv { .. } | Op::Gemm { .. } | Op::MatMul))
        .filter_map(|n| n.inputs.get(1).cloned())
        .collect();
    let mut s = seed;
    for w in weights {
        if let Some(t) = g.params.get_mut(&w) {
            for v in &mut t.data {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if ((s >> 11) as f64 / (1u64 << 53) as f64) >= keep {
                    *v = 0.0;
                }
            }
        }
    }
    g
}

#[test]
fn unstructured_sparse_weights_run_on_the_sparse_kernels_and_match_the_reference() {
    for (arch, input, sparse_expected) in [
        ("resnet20", [3, 16, 16], 18),
        ("lenet", [1, 28, 28], 4),
        ("lenet-300-100", [1, 28, 28], 3),
        ("mobilenet-v2", [3, 32, 32], 13),
    ] {
        let g = unstructured(zoo::build(arch, 5, input, 3).unwrap(), 0.05, 11);
        let want = [zoo::LOGITS.to_string()];
        let sparse = fast::Plan::with_outputs(&g, &want).unwrap();
        let dense = fast::Plan::with_options(&g, &want, fast::Options::DENSE).unwrap();
        assert_eq!(dense.sparse_layers(), 0, "{arch}");
        // every stride-1 convolution and linear layer, but MobileNetV2's convolutions on 4x4
        // maps and smaller (the grid's overhead there outweighs 5% density)
        assert_eq!(sparse.sparse_layers(), sparse_expected, "{arch}");
        for n in [1, 3, 17] {
            let x = common::input(&g, n);
            let reference = exec::run_until(&g, &x, &want).unwrap();
            let one = pool(1).install(|| sparse.run(&x).unwrap());
            let two = pool(2).install(|| sparse.run(&x).unwrap());
            let d = dense.run(&x).unwrap();
            let e = rel_err(&reference[0], &one[0]);
            assert!(e < 1e-4, "{arch} at batch {n}: relative error {e}");
            assert!(rel_err(&reference[0], &d[0]) < 1e-4, "{arch} dense");
            assert_eq!(one, two, "{arch} at batch {n}: 1 and 2 threads differ");
            // a rerun on reused buffers gives the same bits
            assert_eq!(sparse.run(&x).unwrap(), one, "{arch} rerun");
        }
    }
    // dense weights stay on the dense kernels
    let g = zoo::build("resnet20", 5, [3, 16, 16], 3).unwrap();
    let plan = fast::Plan::new(&g).unwrap();
    assert_eq!(plan.sparse_layers(), 0);
}

/// Sparse linear layers of every form the plan accepts: Gemm with the weight as `[in, out]`,
/// alpha and beta and a `[1, out]` bias; MatMul; at batches on both sides of the dense
/// fallback.
#[test]
fn sparse_gemm_and_matmul_forms_match_the_reference() {
    let (ni, nh, no) = (40, 24, 7);
    let val = |i: usize, salt: usize| {
        let v = (((i * 7919 + salt * 611) % 2001) as f32 / 1000.0) - 1.0;
        // about one entry in eight kept
        if (i * 2654435761 + salt).is_multiple_of(8) {
            v
        } else {
            0.0
        }
    };
    let mut params = BTreeMap::new();
    params.insert(
        "w1".to_string(),
        Tensor::new(vec![ni, nh], (0..ni * nh).map(|i| val(i, 1)).collect()),
    );
    params.insert(
        "b1".to_string(),
        Tensor::new(vec![1, nh], (0..nh).map(|i| i as f32 / 10.0).collect()),
    );
    params.insert(
        "w2".to_string(),
        Tensor::new(vec![nh, no], (0..nh * no).map(|i| val(i, 2)).collect()),
    );
    let g = Graph {
        name: "mlp".into(),
        input: "x".into(),
        input_shape: vec![1, ni],
        outputs: vec!["y".into()],
        nodes: vec![
            Node {
                name: "gemm".into(),
                op: Op::Gemm {
                    alpha: 0.5,
                    beta: 2.0,
                    trans_a: false,
                    trans_b: false,
                },
                inputs: vec!["x".into(), "w1".into(), "b1".into()],
                outputs: vec!["h".into()],
            },
            Node {
                name: "relu".into(),
                op: Op::Relu,
                inputs: vec!["h".into()],
                outputs: vec!["r".into()],
            },
            Node {
                name: "matmul".into(),
                op: Op::MatMul,
                inputs: vec!["r".into(), "w2".into()],
                outputs: vec!["y".into()],
            },
        ],
        params,
    };
    let plan = fast::Plan::new(&g).unwrap();
    assert_eq!(plan.sparse_layers(), 2);
    for n in [1, 7, 8, 33] {
        let x = common::input(&g, n);
        let want = exec::run(&g, &x).unwrap();
        let got = plan.run(&x).unwrap();
        let e = rel_err(&want[0], &got[0]);
        assert!(e < 1e-5, "batch {n}: relative error {e}");
    }
}
