//! Coupled-channel groups: random structured masks on PyTorch-exported networks and on random
//! small graphs; the compacted network computes what the masked one computes.

use evoprune_graph::groups::analyze;
use evoprune_graph::{Graph, Tensor, exec, onnx, shape, stats};
use proptest::prelude::*;
use std::path::Path;

fn fixture(name: &str) -> Graph {
    onnx::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn input(g: &Graph, n: usize, seed: u64) -> Tensor {
    let mut shape = g.input_shape.clone();
    shape[0] = n;
    let len = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data = (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::new(shape, data)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// `keep` on `g`: compacted and masked networks agree, and the compacted one is smaller.
fn agree(g: &Graph, keep: &[bool]) -> (usize, usize) {
    let a = analyze(g).unwrap();
    let small = a.compact(g, keep).unwrap();
    let masked = a.masked(g, keep).unwrap();
    let x = input(g, 3, 7);
    let ys = exec::run(&small, &x).unwrap();
    let ym = exec::run(&masked, &x).unwrap();
    let d = max_abs(&ys[0].data, &ym[0].data);
    assert!(d < 1e-4, "compacted vs masked: {d}");
    let s = stats::stats(&small).unwrap();
    (s.params, s.macs)
}

#[test]
fn resnet20_groups_follow_the_residual_stages() {
    let g = fixture("resnet20-ts.onnx");
    let a = analyze(&g).unwrap();
    // each block's first convolution is its own group per channel: 9 blocks; the residual
    // streams tie the stem and every block's second convolution per stage. Option-A
    // shortcuts pad stage k's channels into stage k+1's middle, so all three stages'
    // streams couple: 16 groups of 3 stages' channels + 16 + 32 more in the wider stages.
    let inner: usize = a.groups.iter().filter(|gr| gr.sources.len() == 1).count();
    assert_eq!(inner, 3 * 16 + 3 * 32 + 3 * 64);
    let stream = a.groups.len() - inner;
    assert_eq!(
        stream, 64,
        "one group per channel of the widest residual stream"
    );
    // the stem's channel 0 is tied to the stage-2 and stage-3 convolutions' middle channels
    let g0 = a
        .groups
        .iter()
        .find(|gr| {
            gr.sources
                .iter()
                .any(|(n, c)| n.contains("conv1") && !n.contains("layer") && *c == 0)
        })
        .unwrap();
    assert!(g0.sources.len() >= 1 + 3 + 3 + 3, "{:?}", g0.sources);
}

#[test]
fn random_masks_on_resnet20_and_the_coupling_graph() {
    for (file, p) in [
        ("resnet20-ts.onnx", 0.5),
        ("resnet20-dynamo.onnx", 0.3),
        ("resnet20-ts-bn.onnx", 0.6),
        ("couplings-ts.onnx", 0.5),
        ("couplings-dynamo.onnx", 0.4),
        ("couplings-ts-bn.onnx", 0.7),
    ] {
        let g = fixture(file);
        let a = analyze(&g).unwrap();
        assert!(!a.groups.is_empty(), "{file}");
        let full = stats::stats(&g).unwrap();
        let mut checked = 0;
        for seed in 0..3u64 {
            let mut s = seed + 11;
            let keep: Vec<bool> = (0..a.groups.len())
                .map(|i| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    i == 0 || ((s >> 33) as f64 / (1u64 << 31) as f64) < p
                })
                .collect();
            if let Err(e) = a.compact(&g, &keep) {
                // the one legitimate refusal: a value would lose every channel
                assert!(e.to_string().contains("removes every channel"), "{e}");
                continue;
            }
            checked += 1;
            let (params, macs) = agree(&g, &keep);
            assert!(
                params < full.params && macs < full.macs,
                "{file}: {params} {macs}"
            );
        }
        assert!(checked >= 2, "{file}: only {checked} masks checked");
        // keeping everything changes nothing
        let all = vec![true; a.groups.len()];
        assert_eq!(a.compact(&g, &all).unwrap().params, g.params);
    }
}

/// A random small network: convolutions (dense and depthwise), batch norms, residual adds,
/// concatenations, channel pads, squeeze-excitation gates, then pooling and a linear head.
fn random_graph(seed: u64, blocks: usize) -> Graph {
    use evoprune_graph::{Dim, Node, Op};
    use std::collections::BTreeMap;
    let mut s = seed.wrapping_add(0x9e3779b97f4a7c15);
    let rnd = move |n: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) % n as u64) as usize
    };
    let mut params = BTreeMap::new();
    let mut nodes = Vec::new();
    let t = |shape: Vec<usize>, r: &mut dyn FnMut(usize) -> usize| {
        let n = shape.iter().product();
        Tensor::new(
            shape,
            (0..n).map(|_| (r(2001) as f32 - 1000.0) / 2000.0).collect(),
        )
    };
    let mut c = 4usize;
    let mut cur = "x".to_string();
    let mut id = 0;
    let conv = |cur: &str,
                cin: usize,
                cout: usize,
                groups: usize,
                nodes: &mut Vec<Node>,
                params: &mut BTreeMap<String, Tensor>,
                id: &mut usize,
                r: &mut dyn FnMut(usize) -> usize|
     -> String {
        *id += 1;
        let w = format!("c{id}.weight");
        let b = format!("c{id}.bias");
        params.insert(w.clone(), t(vec![cout, cin / groups, 3, 3], r));
        params.insert(b.clone(), t(vec![cout], r));
        let out = format!("v{id}");
        nodes.push(Node {
            name: format!("conv{id}"),
            op: Op::Conv {
                kernel: [3, 3],
                strides: [1, 1],
                pads: [1, 1, 1, 1],
                dilations: [1, 1],
                groups,
            },
            inputs: vec![cur.into(), w, b],
            outputs: vec![out.clone()],
        });
        out
    };
    let mut r: Box<dyn FnMut(usize) -> usize> = Box::new(rnd);
    cur = conv(&cur, 3, c, 1, &mut nodes, &mut params, &mut id, &mut *r);
    for _ in 0..blocks {
        match r(5) {
            0 => {
                // residual: conv -> relu -> conv, added
                let a = conv(
                    &cur,
                    c,
                    c + r(3),
                    1,
                    &mut nodes,
                    &mut params,
                    &mut id,
                    &mut *r,
                );
                let mid = c;
                let _ = mid;
                let ca = params[&format!("c{id}.weight")].shape[0];
                let b = conv(&a, ca, c, 1, &mut nodes, &mut params, &mut id, &mut *r);
                id += 1;
                let out = format!("v{id}");
                nodes.push(Node {
                    name: format!("add{id}"),
                    op: Op::Add,
                    inputs: vec![cur.clone(), b],
                    outputs: vec![out.clone()],
                });
                cur = out;
            }
            1 => {
                // depthwise then batch norm
                let d = conv(&cur, c, c, c, &mut nodes, &mut params, &mut id, &mut *r);
                id += 1;
                let names: Vec<String> = ["s", "b", "m", "v"]
                    .iter()
                    .map(|k| format!("bn{id}.{k}"))
                    .collect();
                for (k, n) in names.iter().enumerate() {
                    let mut p = t(vec![c], &mut *r);
                    if k == 3 {
                        p.data.iter_mut().for_each(|v| *v = v.abs() + 0.5);
                    }
                    params.insert(n.clone(), p);
                }
                let out = format!("v{id}");
                nodes.push(Node {
                    name: format!("bn{id}"),
                    op: Op::BatchNorm { epsilon: 1e-5 },
                    inputs: [vec![d], names].concat(),
                    outputs: vec![out.clone()],
                });
                cur = out;
            }
            2 => {
                // two branches concatenated
                let c1 = 1 + r(4);
                let c2 = 1 + r(4);
                let a = conv(&cur, c, c1, 1, &mut nodes, &mut params, &mut id, &mut *r);
                let b = conv(&cur, c, c2, 1, &mut nodes, &mut params, &mut id, &mut *r);
                id += 1;
                let out = format!("v{id}");
                nodes.push(Node {
                    name: format!("cat{id}"),
                    op: Op::Concat { axis: 1 },
                    inputs: vec![a, b],
                    outputs: vec![out.clone()],
                });
                cur = out;
                c = c1 + c2;
            }
            3 => {
                // channel padding (option-A shortcut) added to a wider convolution
                let p = 1 + r(2);
                id += 1;
                let padded = format!("v{id}");
                nodes.push(Node {
                    name: format!("pad{id}"),
                    op: Op::Pad {
                        pads: vec![0, p as i64, 0, 0, 0, p as i64, 0, 0],
                        value: 0.0,
                    },
                    inputs: vec![cur.clone()],
                    outputs: vec![padded.clone()],
                });
                let w = conv(
                    &cur,
                    c,
                    c + 2 * p,
                    1,
                    &mut nodes,
                    &mut params,
                    &mut id,
                    &mut *r,
                );
                id += 1;
                let out = format!("v{id}");
                nodes.push(Node {
                    name: format!("add{id}"),
                    op: Op::Add,
                    inputs: vec![w, padded],
                    outputs: vec![out.clone()],
                });
                cur = out;
                c += 2 * p;
            }
            _ => {
                // squeeze-excitation gate
                id += 1;
                let pooled = format!("v{id}");
                nodes.push(Node {
                    name: format!("gap{id}"),
                    op: Op::GlobalAveragePool,
                    inputs: vec![cur.clone()],
                    outputs: vec![pooled.clone()],
                });
                let e = conv(&pooled, c, c, 1, &mut nodes, &mut params, &mut id, &mut *r);
                id += 1;
                let gate = format!("v{id}");
                nodes.push(Node {
                    name: format!("sig{id}"),
                    op: Op::Sigmoid,
                    inputs: vec![e],
                    outputs: vec![gate.clone()],
                });
                id += 1;
                let out = format!("v{id}");
                nodes.push(Node {
                    name: format!("mul{id}"),
                    op: Op::Mul,
                    inputs: vec![cur.clone(), gate],
                    outputs: vec![out.clone()],
                });
                cur = out;
            }
        }
        id += 1;
        let out = format!("v{id}");
        nodes.push(Node {
            name: format!("relu{id}"),
            op: Op::Relu,
            inputs: vec![cur.clone()],
            outputs: vec![out.clone()],
        });
        cur = out;
    }
    id += 1;
    let flat = format!("v{id}");
    nodes.push(Node {
        name: format!("flat{id}"),
        op: Op::Reshape {
            shape: vec![Dim::Batch, Dim::Fixed(-1)],
        },
        inputs: vec![cur.clone()],
        outputs: vec![flat.clone()],
    });
    params.insert("fc.weight".into(), t(vec![5, c * 6 * 6], &mut *r));
    params.insert("fc.bias".into(), t(vec![5], &mut *r));
    nodes.push(Node {
        name: "fc".into(),
        op: Op::Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: true,
        },
        inputs: vec![flat, "fc.weight".into(), "fc.bias".into()],
        outputs: vec!["logits".into()],
    });
    Graph {
        name: "random".into(),
        input: "x".into(),
        input_shape: vec![1, 3, 6, 6],
        outputs: vec!["logits".into()],
        nodes,
        params,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn compacted_random_graphs_compute_the_masked_function(seed in 0u64..1_000_000, blocks in 1usize..6, bits in proptest::collection::vec(any::<bool>(), 64)) {
        let g = random_graph(seed, blocks);
        let a = analyze(&g).unwrap();
        let keep: Vec<bool> = (0..a.groups.len()).map(|i| bits[i % bits.len()] || i % 7 == 0).collect();
        match a.compact(&g, &keep) {
            Err(e) => prop_assert!(e.to_string().contains("removes every channel"), "{}", e),
            Ok(_) => {
            agree(&g, &keep);
            // and the ONNX round trip of the small network keeps its function
            let small = a.compact(&g, &keep).unwrap();
            let back = onnx::load_bytes(&onnx::to_bytes(&small).unwrap(), "small", None).unwrap();
            let x = input(&g, 2, seed);
            prop_assert_eq!(exec::run(&back, &x).unwrap()[0].data.clone(), exec::run(&small, &x).unwrap()[0].data.clone());
            // and so does the compaction with channel counts rounded up
            rounded_agrees(&g, &keep, 1 + (seed % 5) as usize);
            }
        }
    }
}

/// `keep` widened to multiples of `m` channels: a superset of `keep`; the realized network
/// computes the masked function; every image-like value a removal shrinks keeps a multiple of
/// `m` channels or all of them. Returns how many groups were taken back.
fn rounded_agrees(g: &Graph, keep: &[bool], m: usize) -> usize {
    let a = analyze(g).unwrap();
    let wide = a.rounded(keep, m).unwrap();
    assert!(keep.iter().zip(&wide).all(|(k, w)| !k || *w));
    let masked = a.masked(g, keep).unwrap();
    let small = a.compact(&masked, &wide).unwrap();
    let x = input(g, 3, 5);
    let d = max_abs(
        &exec::run(&small, &x).unwrap()[0].data,
        &exec::run(&masked, &x).unwrap()[0].data,
    );
    assert!(d < 1e-4, "rounded vs masked: {d}");
    let full = shape::infer(g, 1).unwrap();
    let cut = shape::infer(&small, 1).unwrap();
    for (v, s) in &cut {
        if s.len() >= 3 && g.params.get(v).is_none() {
            let (c, f) = (s[1], full[v][1]);
            assert!(
                c == f || c % m == 0,
                "{v}: {c} of {f} channels, not a multiple of {m}"
            );
        }
    }
    wide.iter().zip(keep).filter(|(w, k)| **w && !**k).count()
}

#[test]
fn rounded_channel_counts_keep_the_function() {
    let g = fixture("resnet20-ts.onnx");
    let a = analyze(&g).unwrap();
    let mut s = 3u64;
    let keep: Vec<bool> = (0..a.groups.len())
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 61) != 0 // about 7 in 8 kept
        })
        .collect();
    let back = rounded_agrees(&g, &keep, 8);
    assert!(back > 0, "a random mask should need channels taken back");
    // 1 changes nothing; keeping everything stays everything
    assert_eq!(a.rounded(&keep, 1).unwrap(), keep);
    let all = vec![true; a.groups.len()];
    assert_eq!(a.rounded(&all, 16).unwrap(), all);
    assert!(a.rounded(&keep[1..], 8).is_err());
}

/// Found by fuzzing: a convolution whose bias is another layer's weight matrix was accepted
/// and crashed the compaction; it is now an error naming the node.
#[test]
fn a_convolution_bias_of_the_wrong_shape_is_an_error() {
    let e = onnx::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-crash-compact.onnx"),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("node_conv2d_7") && e.contains("bias"), "{e}");
}

/// Found by fuzzing: a Reshape whose target dimensions multiply past usize overflowed the
/// shape arithmetic; every value is now capped at 2^31 elements with an error naming the node.
#[test]
fn a_reshape_to_an_astronomical_shape_is_an_error() {
    let e = onnx::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-crash-reshape.onnx"),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("Reshape") || e.contains("too large"), "{e}");
}

/// Unstructured masks: exact counts, and the safetensors export records them with the
/// compacted shapes under PyTorch's names.
#[test]
fn unstructured_counts_and_the_safetensors_export() {
    use evoprune_graph::{stats, weights};
    use std::collections::{BTreeMap, HashMap};
    let g = fixture("resnet20-ts.onnx");
    let a = analyze(&g).unwrap();
    let keep: Vec<bool> = (0..a.groups.len()).map(|i| i % 3 != 1).collect();
    let small = a.compact(&g, &keep).unwrap();
    let dense = stats::stats(&small).unwrap();
    // prune every other weight of the classifier and a quarter of the first convolution
    let fc = small.params["linear.weight"].clone();
    let conv = g.nodes[0].inputs[1].clone();
    let cw = small.params[&conv].clone();
    let mut masks = HashMap::new();
    masks.insert(
        "linear.weight".to_string(),
        (0..fc.len()).map(|i| (i % 2) as f32).collect::<Vec<_>>(),
    );
    masks.insert(
        conv.clone(),
        (0..cw.len())
            .map(|i| if i % 4 == 0 { 0.0 } else { 1.0 })
            .collect::<Vec<_>>(),
    );
    let s = stats::sparse_stats(&small, &masks).unwrap();
    let fc_removed = fc.len() / 2;
    let conv_removed = cw.len().div_ceil(4);
    assert_eq!(s.params, dense.params - fc_removed - conv_removed);
    // conv: 32x32 output pixels per weight entry; linear: one MAC per entry
    assert_eq!(s.macs, dense.macs - fc_removed - conv_removed * 32 * 32);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.safetensors");
    let bits = HashMap::from([("linear.weight".to_string(), 8u32)]);
    let extra = BTreeMap::from([("member".to_string(), "3".to_string())]);
    let rec = weights::save_safetensors(&small, &path, &masks, &bits, &extra).unwrap();
    assert_eq!(rec["linear.weight"].nonzero, fc.len() - fc_removed);
    assert_eq!(rec["linear.weight"].bits, 8);
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("linear.weight").unwrap().shape(),
        fc.shape.as_slice()
    );
    assert_eq!(st.tensor(&conv).unwrap().shape(), cw.shape.as_slice());
    assert!(cw.shape[0] < 16, "the compacted shape: {:?}", cw.shape);
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let m = meta.metadata().as_ref().unwrap();
    let j: serde_json::Value = serde_json::from_str(&m["evoprune"]).unwrap();
    assert_eq!(j["member"], "3");
    assert_eq!(j["tensors"]["linear.weight"]["bits"], 8);
    // the same call writes the same bytes
    weights::save_safetensors(
        &small,
        &dir.path().join("again.safetensors"),
        &masks,
        &bits,
        &extra,
    )
    .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("again.safetensors")).unwrap(),
        bytes
    );
    // a mask that fits no parameter is an error naming it
    masks.insert("nope".into(), vec![1.0]);
    assert!(
        stats::sparse_stats(&small, &masks)
            .unwrap_err()
            .to_string()
            .contains("nope")
    );
}

fn node(name: &str, op: evoprune_graph::Op, inputs: &[&str], out: &str) -> evoprune_graph::Node {
    evoprune_graph::Node {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![out.into()],
    }
}

fn conv1x1() -> evoprune_graph::Op {
    evoprune_graph::Op::Conv {
        kernel: [1, 1],
        strides: [1, 1],
        pads: [0; 4],
        dilations: [1, 1],
        groups: 1,
    }
}

/// Review finding: a constant operand in the middle of a concatenation shifted the offsets of
/// the operands after it, so compaction sliced the wrong input channels of the consumer.
#[test]
fn a_constant_in_the_middle_of_a_concatenation_keeps_its_offset() {
    use evoprune_graph::{Dim, Op};
    use std::collections::BTreeMap;
    let p = |shape: Vec<usize>, seed: usize| {
        let n: usize = shape.iter().product();
        Tensor::new(
            shape,
            (0..n)
                .map(|i| (((i + seed) * 7919 % 101) as f32 - 50.0) / 60.0)
                .collect(),
        )
    };
    let mut params = BTreeMap::new();
    params.insert("a.weight".to_string(), p(vec![2, 3, 1, 1], 1));
    params.insert("b.weight".to_string(), p(vec![2, 3, 1, 1], 2));
    params.insert("k".to_string(), p(vec![1, 2, 4, 4], 3));
    params.insert("d.weight".to_string(), p(vec![3, 6, 1, 1], 4));
    params.insert("fc.weight".to_string(), p(vec![2, 48], 5));
    let g = Graph {
        name: "concat".into(),
        input: "x".into(),
        input_shape: vec![1, 3, 4, 4],
        outputs: vec!["y".into()],
        nodes: vec![
            node("a", conv1x1(), &["x", "a.weight"], "va"),
            node("b", conv1x1(), &["x", "b.weight"], "vb"),
            node("cat", Op::Concat { axis: 1 }, &["va", "k", "vb"], "c"),
            node("d", conv1x1(), &["c", "d.weight"], "vd"),
            node(
                "flat",
                Op::Reshape {
                    shape: vec![Dim::Batch, Dim::Fixed(-1)],
                },
                &["vd"],
                "f",
            ),
            node(
                "fc",
                Op::Gemm {
                    alpha: 1.0,
                    beta: 1.0,
                    trans_a: false,
                    trans_b: true,
                },
                &["f", "fc.weight"],
                "y",
            ),
        ],
        params,
    };
    let a = analyze(&g).unwrap();
    // a's two channels, b's two, d's three
    assert_eq!(a.groups.len(), 7);
    // (a constant operand fixes the batch at one)
    let x = input(&g, 1, 3);
    let mut checked = 0;
    for mask in 1..(1u32 << 7) {
        let keep: Vec<bool> = (0..7).map(|i| mask >> i & 1 == 1).collect();
        let Ok(small) = a.compact(&g, &keep) else {
            continue;
        };
        let masked = a.masked(&g, &keep).unwrap();
        let d = max_abs(
            &exec::run(&small, &x).unwrap()[0].data,
            &exec::run(&masked, &x).unwrap()[0].data,
        );
        assert!(d < 1e-5, "mask {mask:07b}: compacted vs masked {d}");
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
}

/// Review findings: analyses and shapes of odd but valid graphs end in results or errors,
/// never in a panic or an overflow.
#[test]
fn odd_shapes_are_handled() {
    use evoprune_graph::{Op, shape};
    // Slice with an enormous step, and a backwards slice starting before the first element
    // (onnxruntime gives [x0] for starts -5, ends -10, steps -1 on 4 elements)
    let s = node(
        "s",
        Op::Slice {
            starts: vec![0],
            ends: vec![4],
            axes: vec![1],
            steps: vec![i64::MAX],
        },
        &["x"],
        "y",
    );
    assert_eq!(shape::out_shape(&s, &[&[1, 4]]).unwrap(), [1, 1]);
    let s = node(
        "s",
        Op::Slice {
            starts: vec![-5],
            ends: vec![-10],
            axes: vec![1],
            steps: vec![-1],
        },
        &["x"],
        "y",
    );
    assert_eq!(shape::out_shape(&s, &[&[1, 4]]).unwrap(), [1, 1]);
    let s = node(
        "s",
        Op::Slice {
            starts: vec![0, 0],
            ends: vec![1, 1],
            axes: vec![1, 1],
            steps: vec![1, 1],
        },
        &["x"],
        "y",
    );
    assert!(shape::out_shape(&s, &[&[1, 4]]).is_err(), "an axis twice");
    // an empty axis is an error naming the node
    let s = node(
        "empty",
        Op::Slice {
            starts: vec![4],
            ends: vec![4],
            axes: vec![1],
            steps: vec![1],
        },
        &["x"],
        "y",
    );
    assert!(
        shape::out_shape(&s, &[&[1, 4]])
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
    // a pad on a rank-1 value, and a channel analysis over it
    let mut params = std::collections::BTreeMap::new();
    params.insert("w".to_string(), Tensor::new(vec![4, 2], vec![0.5; 8]));
    let g = Graph {
        name: "odd".into(),
        input: "x".into(),
        input_shape: vec![1, 4],
        outputs: vec!["y".into()],
        nodes: vec![
            node("fc", Op::MatMul, &["x", "w"], "h"),
            node(
                "mean",
                Op::ReduceMean {
                    axes: vec![1],
                    keepdims: false,
                },
                &["h"],
                "m",
            ),
            node(
                "pad",
                Op::Pad {
                    pads: vec![1, 1],
                    value: 0.0,
                },
                &["m"],
                "y",
            ),
        ],
        params,
    };
    let a = analyze(&g).unwrap();
    assert!(
        a.groups.is_empty(),
        "nothing can be removed without changing the output"
    );
}
