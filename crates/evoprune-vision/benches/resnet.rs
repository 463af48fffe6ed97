//! ResNet-50 forward (pooled features), batch 16 at 224x224, on formula-generated weights (the
//! time does not depend on their values). PyTorch on the same shapes:
//! `python3 scripts/bench_resnet50_torch.py`.
//!
//! Run: `cargo bench -p evoprune-vision --bench resnet`

use burn::tensor::{Tensor, TensorData};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoprune_data::numpy::Array;
use evoprune_vision::{RESNET50_BLOCKS, ResNet50, default_device};
use std::collections::HashMap;
use std::path::Path;

/// torchvision's ResNet-50 tensor names and shapes.
fn shapes() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    let bn = |v: &mut Vec<(String, Vec<usize>)>, p: &str, c: usize| {
        for k in ["weight", "bias", "running_mean", "running_var"] {
            v.push((format!("{p}.{k}"), vec![c]));
        }
    };
    v.push(("conv1.weight".into(), vec![64, 3, 7, 7]));
    bn(&mut v, "bn1", 64);
    let mut c_in = 64;
    for (s, &n) in RESNET50_BLOCKS.iter().enumerate() {
        let w = 64 << s;
        for i in 0..n {
            let p = format!("layer{}.{i}", s + 1);
            v.push((format!("{p}.conv1.weight"), vec![w, c_in, 1, 1]));
            bn(&mut v, &format!("{p}.bn1"), w);
            v.push((format!("{p}.conv2.weight"), vec![w, w, 3, 3]));
            bn(&mut v, &format!("{p}.bn2"), w);
            v.push((format!("{p}.conv3.weight"), vec![4 * w, w, 1, 1]));
            bn(&mut v, &format!("{p}.bn3"), 4 * w);
            if i == 0 {
                v.push((format!("{p}.downsample.0.weight"), vec![4 * w, c_in, 1, 1]));
                bn(&mut v, &format!("{p}.downsample.1"), 4 * w);
            }
            c_in = 4 * w;
        }
    }
    v.push(("fc.weight".into(), vec![1000, 2048]));
    v.push(("fc.bias".into(), vec![1000]));
    v
}

fn resnet50(c: &mut Criterion) {
    let map: HashMap<String, Array> = shapes()
        .into_iter()
        .enumerate()
        .map(|(t, (name, shape))| {
            let n: usize = shape.iter().product();
            let scale = if name.ends_with("running_var") {
                0.0
            } else {
                0.05
            };
            let data = (0..n)
                .map(|i| 1.0 - (((i * 7919 + t) % 1000) as f32 / 1000.0) * scale)
                .collect();
            (name, Array { shape, data })
        })
        .collect();
    let dev = default_device();
    let m = ResNet50::from_tensors(&map, Path::new("<bench>"), &dev).unwrap();
    let (batch, size) = (16, 224);
    let x: Vec<f32> = (0..batch * 3 * size * size)
        .map(|i| ((i % 97) as f32 / 97.0) - 0.5)
        .collect();
    let mut g = c.benchmark_group("resnet50_features");
    g.sample_size(10);
    g.throughput(Throughput::Elements(batch as u64));
    g.bench_function("batch16_224", |b| {
        b.iter(|| {
            let t =
                Tensor::<4>::from_data(TensorData::new(x.clone(), [batch, 3, size, size]), &dev);
            m.features(t).into_data()
        })
    });
    g.finish();
}

criterion_group!(benches, resnet50);
criterion_main!(benches);
