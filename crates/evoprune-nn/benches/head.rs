//! Masked-head training throughput: the inner loop of MO-EvoPruneDeepTL.
//!
//! Features of EfficientNet-Lite0's width (1280), 2,000 training samples, 5 classes, head
//! 1280 -> 512 (ReLU, no bias) -> 5, SGD with Nesterov momentum, batch 32, 3 epochs, at 25%,
//! 50% and 100% active inputs. Throughput is reported in training samples per second.
//!
//! Run: `cargo bench -p evoprune-nn --bench head`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use evoprune_nn::{HeadConfig, TrainConfig, train_masked_head};
use std::hint::black_box;

const N: usize = 2000;
const D: usize = 1280;
const C: usize = 5;
const EPOCHS: usize = 3;

#[path = "common/synthetic.rs"]
mod synthetic;

fn head_training(c: &mut Criterion) {
    let (x, y) = synthetic::data(N, D, C);
    let cfg = TrainConfig {
        max_epochs: EPOCHS,
        early_stopping: None,
        ..TrainConfig::paper()
    };
    let mut g = c.benchmark_group("masked_head_train");
    g.sample_size(10);
    g.throughput(Throughput::Elements((N * EPOCHS) as u64));
    for pct in [25usize, 50, 100] {
        let active: Vec<usize> = (0..D)
            .filter(|j| (j * 100 / D) % 100 < pct || pct == 100)
            .take(D * pct / 100)
            .collect();
        g.bench_with_input(BenchmarkId::new("active_pct", pct), &active, |b, a| {
            b.iter(|| {
                black_box(
                    train_masked_head(&x, D, a, &y, C, &HeadConfig::default(), &cfg)
                        .unwrap()
                        .1
                        .epochs,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, head_training);
criterion_main!(benches);
