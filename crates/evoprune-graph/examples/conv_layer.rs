//! Throughput of single convolution layers on the fast executor, in GFLOP/s (2 x MACs).
//!
//! `cargo run --release -p evoprune-graph --example conv_layer -- [threads]`
use evoprune_graph::ir::{Graph, Node, Op, Tensor};
use evoprune_graph::{exec, fast};
use std::collections::BTreeMap;
use std::time::Instant;

fn layer(c: usize, o: usize, hw: usize, k: usize, s: usize, groups: usize) -> Graph {
    let mut params = BTreeMap::new();
    let wn = o * (c / groups) * k * k;
    params.insert(
        "w".to_string(),
        Tensor::new(
            vec![o, c / groups, k, k],
            (0..wn)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 500.0)
                .collect(),
        ),
    );
    params.insert("b".to_string(), Tensor::new(vec![o], vec![0.1; o]));
    Graph {
        name: "layer".into(),
        input: "x".into(),
        input_shape: vec![1, c, hw, hw],
        outputs: vec!["z".into()],
        nodes: vec![
            Node {
                name: "conv".into(),
                op: Op::Conv {
                    kernel: [k, k],
                    strides: [s, s],
                    pads: [k / 2; 4],
                    dilations: [1, 1],
                    groups,
                },
                inputs: vec!["x".into(), "w".into(), "b".into()],
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
    }
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let batch = 32;
    for (c, o, hw, k, s, g) in [
        (16, 16, 32, 3, 1, 1),
        (32, 32, 16, 3, 1, 1),
        (64, 64, 8, 3, 1, 1),
        (128, 128, 16, 3, 1, 1),
        (256, 256, 8, 3, 1, 1),
        (512, 512, 4, 3, 1, 1),
        (512, 512, 2, 3, 1, 1),
        (64, 64, 56, 3, 1, 1),
        (256, 64, 56, 1, 1, 1),
        (64, 256, 56, 1, 1, 1),
        (144, 144, 56, 3, 1, 144),
    ] {
        let gr = layer(c, o, hw, k, s, g);
        let b = if hw >= 56 { 4 } else { batch };
        let n = b * c * hw * hw;
        let x = Tensor::new(
            vec![b, c, hw, hw],
            (0..n)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect(),
        );
        let plan = fast::Plan::new(&gr).expect("plan");
        let (fast_s, ref_s) = pool.install(|| {
            let want = exec::run(&gr, &x).expect("reference").remove(0);
            let got = plan.run(&x).expect("fast").remove(0);
            let err = want
                .data
                .iter()
                .zip(&got.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-3, "max error {err}");
            let time = |f: &dyn Fn()| {
                let mut t = Vec::new();
                for _ in 0..7 {
                    let s = Instant::now();
                    f();
                    t.push(s.elapsed().as_secs_f64());
                }
                t.sort_by(f64::total_cmp);
                t[3]
            };
            (
                time(&|| {
                    plan.run(&x).expect("fast");
                }),
                time(&|| {
                    exec::run(&gr, &x).expect("reference");
                }),
            )
        });
        let oh = hw / s;
        let flops = 2.0 * (b * o * oh * oh * (c / g) * k * k) as f64;
        println!(
            "c{c:>4} o{o:>4} {hw:>3}px k{k} s{s} g{g:>3} batch {b:>2}: fast {:7.1} GFLOP/s, reference {:7.1} GFLOP/s",
            flops / fast_s / 1e9,
            flops / ref_s / 1e9
        );
    }
}
