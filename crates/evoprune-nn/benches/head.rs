//! Masked-head training throughput: the inner loop of MO-EvoPruneDeepTL.
//!
//! Features of EfficientNet-Lite0's width (1280), 2,000 training samples, 5 classes, head
//! 1280 -> 512 (ReLU, no bias) -> 5, SGD with Nesterov momentum, batch 32, 3 epochs, at 25%,
//! 50% and 100% active inputs. Throughput is reported in training samples per second.
//!
//! Run: `cargo bench -p evoprune-nn --bench head`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use evoprune_nn::{HeadConfig, TrainConfig, train_masked_head};
use rand::{Rng, SeedableRng};
use std::hint::black_box;

const N: usize = 2000;
const D: usize = 1280;
const C: usize = 5;
const EPOCHS: usize = 3;

/// Non-negative "pooled features" and labels given by a random linear teacher (learnable).
fn data() -> (Vec<f32>, Vec<u32>) {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let x: Vec<f32> = (0..N * D)
        .map(|_| rng.random::<f32>().powi(3) * 4.0)
        .collect();
    let teacher: Vec<f32> = (0..D * C).map(|_| rng.random::<f32>() - 0.5).collect();
    let y = x
        .chunks_exact(D)
        .map(|r| {
            let s: Vec<f32> = (0..C)
                .map(|k| {
                    r.iter()
                        .enumerate()
                        .map(|(j, v)| v * teacher[j * C + k])
                        .sum()
                })
                .collect();
            s.iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (k, &v)| if v > b.1 { (k, v) } else { b })
                .0 as u32
        })
        .collect();
    (x, y)
}

fn head_training(c: &mut Criterion) {
    let (x, y) = data();
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
