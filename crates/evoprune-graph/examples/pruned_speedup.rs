//! Do structurally pruned networks really run faster? Zoo networks with seeded random
//! structured masks (each coupled-channel group kept with probability `keep`), compacted by
//! `Net::realize`, timed on the fast executor against the dense network: measured speedup
//! against the MAC reduction.
//!
//! `cargo run --release -p evoprune-graph --example pruned_speedup -- [threads]`
mod common;

use common::images_per_second;
use evoprune_graph::net::{Masks, Net};
use evoprune_graph::{Tensor, fast, zoo};

fn main() {
    let pool = common::pool_from_args(2);
    println!(
        "| network | kept groups | MACs | MAC reduction | images/s | speedup | speedup / MAC reduction |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (arch, input, batch) in [
        ("resnet56", [3, 32, 32], 32),
        ("vgg16-bn", [3, 32, 32], 32),
        ("mobilenet-v2", [3, 96, 96], 32),
        ("resnet50", [3, 64, 64], 32),
    ] {
        let g = zoo::build(arch, 10, input, 1).expect("zoo");
        let net = Net::new(g.clone()).expect("net");
        let n: usize = input.iter().product();
        let x = Tensor::new(
            [batch].into_iter().chain(input).collect(),
            (0..batch * n)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect(),
        );
        let dense = pool.install(|| images_per_second(&fast::Plan::new(&g).expect("plan"), &x));
        println!(
            "| {arch} {input:?} | all | {:.1} M | 1.00x | {dense:.0} | 1.00x | |",
            net.dense.macs as f64 / 1e6
        );
        for keep in [0.5, 0.3] {
            // a fixed pseudo-random draw per group
            let k: Vec<bool> = (0..net.analysis.groups.len())
                .map(|i| ((i as u64 * 2_654_435_761 + 12_345) % 1000) as f64 / 1000.0 < keep)
                .collect();
            let m = Masks {
                keep: Some(k),
                ..Default::default()
            };
            let small = net.realize(&g, &m).expect("realize");
            let macs = net.stats(&m).expect("stats").macs;
            let rate =
                pool.install(|| images_per_second(&fast::Plan::new(&small).expect("plan"), &x));
            let red = net.dense.macs as f64 / macs as f64;
            let speedup = rate / dense;
            println!(
                "| {arch} {input:?} | {:.0}% | {:.1} M | {red:.2}x | {rate:.0} | {speedup:.2}x | {:.2} |",
                keep * 100.0,
                macs as f64 / 1e6,
                speedup / red
            );
        }
    }
}
