//! Per-candidate head training, evoprune vs PyTorch on the same features (issue: MO-EvoPruneDeepTL
//! speed). A bench binary rather than criterion: it reports time *and* accuracy per candidate,
//! and the machine-level throughput when both cores train candidates (as the search does).
//!
//! Features: a safetensors file with `features` `[n, d]` and `labels` `[n]` (evoprune's feature
//! cache files have exactly that layout, e.g. the MNIST / EfficientNet-Lite0 training split of
//! `configs/mnist-efficientnet.toml` in `.evoprune-cache/`), named by `EVOPRUNE_FEATURES`;
//! without it, 2,000 synthetic samples of 1,280 features. The first 80% train, the rest score.
//! The head: d -> 512 (ReLU, no bias) -> classes; SGD lr 0.01, momentum 0.9, Nesterov, batch 32,
//! `EVOPRUNE_EPOCHS` epochs (default 5), no early stopping; the first k features active.
//!
//! Run: `EVOPRUNE_FEATURES=... cargo bench -p evoprune-nn --bench head_vs_torch`, then
//! `python3 scripts/bench_head_torch.py --features ... --epochs 5` for PyTorch.

use evoprune_nn::{HeadConfig, Optimizer, TrainConfig, gather_columns, metrics, train_masked_head};
use std::time::Instant;

#[path = "common/synthetic.rs"]
mod synthetic;

fn main() {
    let epochs: usize = std::env::var("EVOPRUNE_EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (x, y, d, c, source) = match std::env::var("EVOPRUNE_FEATURES") {
        Ok(p) => {
            let t =
                evoprune_data::tensors::read_all(std::path::Path::new(&p)).expect("features file");
            let f = &t["features"];
            let y: Vec<u32> = t["labels"].data.iter().map(|&v| v as u32).collect();
            let c = *y.iter().max().unwrap() as usize + 1;
            (f.data.clone(), y, f.shape[1], c, p)
        }
        Err(_) => {
            let (x, y) = synthetic::data(2000, 1280, 5);
            (x, y, 1280, 5, "synthetic".into())
        }
    };
    let n = y.len();
    let n_train = n * 4 / 5;
    let (xt, yt) = (&x[..n_train * d], &y[..n_train]);
    let (xe, ye) = (&x[n_train * d..], &y[n_train..]);
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd {
            lr: 0.01,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.0,
            decay: 0.0,
        },
        batch_size: 32,
        max_epochs: epochs,
        early_stopping: None,
        seed: 0,
    };
    let head = HeadConfig::default();
    println!(
        "evoprune head training: {source}: {n_train} train / {} eval samples, {d} features, {c} classes, {epochs} epochs",
        n - n_train
    );
    println!("active  1 candidate (1 thread)  2 candidates at once (per candidate)  eval accuracy");
    for pct in [25usize, 50, 100] {
        let active: Vec<usize> = (0..d * pct / 100).collect();
        let train = || {
            train_masked_head(xt, d, &active, yt, c, &head, &cfg)
                .unwrap()
                .0
        };
        let mut single = f64::INFINITY;
        let mut mlp = train();
        for _ in 0..3 {
            let t = Instant::now();
            mlp = train();
            single = single.min(t.elapsed().as_secs_f64());
        }
        let mut pair = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            std::thread::scope(|s| {
                let a = s.spawn(train);
                let b = s.spawn(train);
                a.join().unwrap();
                b.join().unwrap();
            });
            pair = pair.min(t.elapsed().as_secs_f64() / 2.0);
        }
        let acc = metrics::accuracy(
            &mlp.logits(&gather_columns(xe, d, &active).unwrap())
                .unwrap(),
            ye,
            c,
        )
        .unwrap();
        println!(
            "{pct:5}%  {:>10.1} ms {:>26.1} ms {:>27.4}",
            single * 1e3,
            pair * 1e3,
            acc
        );
    }
}
