//! LeNet (Caffe variant) throughput: forward of 10,000 images (one thread, and on the rayon
//! pool), Caffe-solver training (images/s, batch 64, 2 shards), and the pruned forms of a mask
//! at ~95% sparsity (narrowed convolutions with dense or CSR FC layers).
//!
//! Run: `cargo bench -p evoprune-nn --bench lenet`; PyTorch on the same shapes:
//! `python3 scripts/bench_lenet_torch.py`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoprune_nn::lenet::{LeNet, LeNetMask, Net, SolverConfig, SparseLeNet, train};

fn images(n: usize) -> Vec<f32> {
    (0..n * 784)
        .map(|i| ((i * 7919) % 256) as f32 / 255.0)
        .collect()
}

/// Every other conv1 filter, 3 of 5 conv2 filters and ~4% of the FC1 connections kept.
fn sparse_mask() -> LeNetMask {
    let mut m = LeNetMask::full();
    (0..20)
        .filter(|f| f % 2 == 1)
        .for_each(|f| m.conv1[f] = false);
    (0..50)
        .filter(|f| f % 5 >= 3)
        .for_each(|f| m.conv2[f] = false);
    for (i, b) in m.fc1.iter_mut().enumerate() {
        *b = (i * 2_654_435_761) % 100 < 4;
    }
    m
}

fn forward(c: &mut Criterion) {
    let net = Net::from_lenet(&LeNet::random(1)).unwrap();
    let x = images(10_000);
    let mut g = c.benchmark_group("lenet_forward_10k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("dense_1_thread", |b| b.iter(|| net.logits(&x).unwrap()));
    g.bench_function("dense_rayon_pool", |b| {
        b.iter(|| net.logits_par(&x).unwrap())
    });
    let m = sparse_mask();
    let compact = net.compact(&m).unwrap();
    let sparse = SparseLeNet::from_compact(&compact);
    g.bench_function("pruned_compact_dense_fc", |b| {
        b.iter(|| compact.net.logits(&x).unwrap())
    });
    g.bench_function("pruned_compact_csr_fc", |b| {
        b.iter(|| sparse.logits(&x).unwrap())
    });
    g.finish();
}

fn training(c: &mut Criterion) {
    let base = Net::from_lenet(&LeNet::random(1)).unwrap();
    let n = 2048;
    let x = images(n);
    let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    let cfg = SolverConfig {
        epochs: 1.0,
        ..SolverConfig::default()
    };
    let mut g = c.benchmark_group("lenet_train_epoch_2048");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("dense_batch64_2shards", |b| {
        b.iter(|| {
            let mut net = base.clone();
            train(&mut net, None, &x, &y, &cfg, |_, _| {}).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, forward, training);
criterion_main!(benches);
