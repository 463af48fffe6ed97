//! EfficientNet-Lite0 feature extraction throughput (images/s) at batch 32, at the ImageNet
//! size 224 and at smaller inputs (for choosing the MNIST extraction size). Needs the real
//! weights in ../shared/data; without them it reports that and measures nothing.
//!
//! Also LeNet inference (10,000 images, batch 500).
//!
//! Run: `cargo bench -p evoprune-vision --bench efficientnet`

use burn::tensor::{Tensor, TensorData};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use evoprune_vision::{EfficientNetLite0, default_device};
use std::path::Path;

fn model() -> EfficientNetLite0 {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/efficientnet-lite0/efficientnet-lite0.safetensors");
    EfficientNetLite0::load(&p, &default_device())
        .expect("benchmark needs ../shared/data/efficientnet-lite0")
}

fn extraction(c: &mut Criterion) {
    let m = model();
    let dev = default_device();
    let mut g = c.benchmark_group("efficientnet_lite0_features");
    g.sample_size(10);
    for size in [224usize, 128, 96, 64] {
        let batch = 32;
        let x: Vec<f32> = (0..batch * 3 * size * size)
            .map(|i| ((i % 97) as f32 / 97.0) - 0.5)
            .collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("batch32_size", size), &x, |b, x| {
            b.iter(|| {
                let t = Tensor::<4>::from_data(
                    TensorData::new(x.clone(), [batch, 3, size, size]),
                    &dev,
                );
                m.features(t).into_data()
            })
        });
    }
    g.finish();
}

/// `extract` on 128 grey 28x28 images resized to 96x96, batch 32, on rayon pools of 1 and 2
/// threads (batches spread over the threads).
fn extraction_parallel(c: &mut Criterion) {
    use evoprune_vision::extract::{Preprocessing, extract};
    let m = model();
    let n = 128;
    let pixels: Vec<f32> = (0..n * 784).map(|i| (i % 253) as f32 / 253.0).collect();
    let data = evoprune_data::Dataset::new(
        pixels,
        vec![1, 28, 28],
        (0..n as u32).map(|i| i % 10).collect(),
        10,
    )
    .unwrap();
    let prep = Preprocessing {
        input_size: 96,
        batch: 32,
        compute: evoprune_vision::Compute::Cpu,
    };
    let mut g = c.benchmark_group("efficientnet_lite0_extract_96px");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        g.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter(|| pool.install(|| extract(&m, &data, &prep, |_, _| {}).unwrap()))
        });
    }
    g.finish();
}

/// LeNet inference on 10,000 images in batches of 500 (random weights: time does not depend on them).
fn lenet_forward(c: &mut Criterion) {
    let net = evoprune_nn::lenet::LeNet::random(1);
    let dev = default_device();
    let x: Vec<f32> = (0..10_000 * 784)
        .map(|i| (i % 251) as f32 / 251.0)
        .collect();
    let mut g = c.benchmark_group("lenet_forward");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("burn_10k_images_batch500", |b| {
        b.iter(|| {
            for chunk in x.chunks(500 * 784) {
                std::hint::black_box(evoprune_vision::lenet::logits(&net, chunk, &dev).unwrap());
            }
        })
    });
    g.bench_function("gemm_10k_images_batch500", |b| {
        b.iter(|| {
            for chunk in x.chunks(500 * 784) {
                std::hint::black_box(net.logits(chunk).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, extraction, extraction_parallel, lenet_forward);
criterion_main!(benches);
