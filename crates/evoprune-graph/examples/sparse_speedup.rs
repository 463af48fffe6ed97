//! Where does the sparse kernel pay? Zoo networks with seeded unstructured masks (each
//! convolution and linear weight kept with probability `density`, as weight-level pruning
//! leaves them), timed on the fast executor with dense kernels only, with the sparse kernels
//! wherever they apply, and with the default choice (sparse below the measured thresholds).
//! Linear layers run dense below 8 samples whatever the choice.
//!
//! First single convolution layers (conv + ReLU, batch 32), then whole networks.
//!
//! `cargo run --release -p evoprune-graph --example sparse_speedup -- [threads] [layers|networks]`
mod common;

use common::images_per_second;
use evoprune_graph::ir::{Graph, Node, Op};
use evoprune_graph::{Tensor, fast, zoo};
use std::collections::BTreeMap;

/// A conv (`k x k`, stride 1, same padding) + ReLU layer.
fn layer(c: usize, o: usize, hw: usize, k: usize) -> Graph {
    let mut params = BTreeMap::new();
    let wn = o * c * k * k;
    params.insert(
        "w".to_string(),
        evoprune_graph::ir::Tensor::new(
            vec![o, c, k, k],
            (0..wn)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 500.0)
                .collect(),
        ),
    );
    params.insert(
        "b".to_string(),
        evoprune_graph::ir::Tensor::new(vec![o], vec![0.1; o]),
    );
    let node = |name: &str, op, inputs: &[&str], out: &str| Node {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![out.into()],
    };
    Graph {
        name: "layer".into(),
        input: "x".into(),
        input_shape: vec![1, c, hw, hw],
        outputs: vec!["z".into()],
        nodes: vec![
            node(
                "conv",
                Op::Conv {
                    kernel: [k, k],
                    strides: [1, 1],
                    pads: [k / 2; 4],
                    dilations: [1, 1],
                    groups: 1,
                },
                &["x", "w", "b"],
                "y",
            ),
            node("relu", Op::Relu, &["y"], "z"),
        ],
        params,
    }
}

fn layers(pool: &rayon::ThreadPool, always: fast::Options) {
    const KEEP: [f64; 6] = [0.3, 0.2, 0.15, 0.1, 0.07, 0.05];
    println!(
        "| layer (batch 32) | dense kernel | sparse / dense at {KEEP:?} kept | default picks sparse at |"
    );
    println!("| --- | --- | --- | --- |");
    for (c, o, hw, k) in [
        (16, 16, 32, 3),
        (32, 32, 16, 3),
        (64, 64, 8, 3),
        (64, 64, 32, 3),
        (128, 128, 16, 3),
        (256, 256, 8, 3),
        (512, 512, 4, 3),
        (512, 512, 2, 3),
        (64, 64, 16, 3),
        (256, 64, 16, 1),
        (64, 256, 16, 1),
        (512, 128, 8, 1),
        (1024, 256, 4, 1),
    ] {
        let g0 = layer(c, o, hw, k);
        let batch = 32;
        let x = Tensor::new(
            vec![batch, c, hw, hw],
            (0..batch * c * hw * hw)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect(),
        );
        let want = ["z".to_string()];
        let mut dense_rate = 0.0;
        let mut ratios = Vec::new();
        let mut picked = Vec::new();
        for keep in KEEP {
            let g = unstructured(g0.clone(), keep);
            let plan = |o| fast::Plan::with_options(&g, &want, o).expect("plan");
            let dense = pool.install(|| images_per_second(&plan(fast::Options::DENSE), &x));
            let sparse = pool.install(|| images_per_second(&plan(always), &x));
            dense_rate = dense;
            ratios.push(format!("{:.2}", sparse / dense));
            if plan(fast::Options::default()).sparse_layers() > 0 {
                picked.push(format!("{:.0}%", keep * 100.0));
            }
        }
        let gflops = 2.0 * (o * hw * hw * c * k * k) as f64 * dense_rate / 1e9;
        println!(
            "| c{c} o{o} {hw}x{hw} k{k} | {gflops:.0} GFLOP/s | {} | {} |",
            ratios.join(" / "),
            picked
                .first()
                .map_or("never".to_string(), |p| format!("<= {p}"))
        );
    }
}

/// `g` with about `keep` of every convolution and linear weight kept.
fn unstructured(mut g: Graph, keep: f64) -> Graph {
    let weights: Vec<String> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Conv { .. } | Op::Gemm { .. } | Op::MatMul))
        .filter_map(|n| n.inputs.get(1).cloned())
        .collect();
    let mut s = 12_345u64;
    for w in weights {
        if let Some(t) = g.params.get_mut(&w) {
            for v in &mut t.data {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                if ((s >> 11) as f64 / (1u64 << 53) as f64) >= keep {
                    *v = 0.0;
                }
            }
        }
    }
    g
}

fn main() {
    let pool = common::pool_from_args(2);
    let always = fast::Options {
        sparse_conv: f64::INFINITY,
        sparse_linear: f64::INFINITY,
        ..fast::Options::default()
    };
    let what = std::env::args().nth(2).unwrap_or_default();
    if what != "networks" {
        layers(&pool, always);
        println!();
    }
    if what == "layers" {
        return;
    }
    println!(
        "| network | batch | weights kept | dense kernels | sparse kernels | sparse / dense | default (sparse layers) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let want = [zoo::LOGITS.to_string()];
    for (arch, input, batch) in [
        ("resnet56", [3, 32, 32], 32),
        ("vgg16-bn", [3, 32, 32], 32),
        ("resnet50", [3, 64, 64], 32),
        ("lenet", [1, 28, 28], 32),
        ("lenet-300-100", [1, 28, 28], 32),
        ("lenet-300-100", [1, 28, 28], 8),
    ] {
        let g0 = zoo::build(arch, 10, input, 1).expect("zoo");
        let n: usize = input.iter().product();
        let x = Tensor::new(
            [batch].into_iter().chain(input).collect(),
            (0..batch * n)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect(),
        );
        for keep in [0.5, 0.3, 0.2, 0.1, 0.05] {
            let g = unstructured(g0.clone(), keep);
            let plan = |o| fast::Plan::with_options(&g, &want, o).expect("plan");
            let dense = pool.install(|| images_per_second(&plan(fast::Options::DENSE), &x));
            let sparse = pool.install(|| images_per_second(&plan(always), &x));
            let auto_plan = plan(fast::Options::default());
            let auto = pool.install(|| images_per_second(&auto_plan, &x));
            println!(
                "| {arch} {input:?} | {batch} | {:.0}% | {dense:.0} | {sparse:.0} | {:.2}x | {auto:.0} ({}) |",
                keep * 100.0,
                sparse / dense,
                auto_plan.sparse_layers()
            );
        }
    }
}
