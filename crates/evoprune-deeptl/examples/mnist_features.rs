//! Feature extraction of all 70,000 MNIST images through the built-in backbone
//! (EfficientNet-Lite0 with the ImageNet weights, on the fast executor), as a
//! MO-EvoPruneDeepTL run on MNIST does it: grey 28x28 resized to `size` px, ImageNet
//! normalisation, batch 32, the 1,280 pooled features of each image. Prints the wall time,
//! including the preprocessing. `scripts/bench_mnist_features_torch.py` does the same in
//! PyTorch and compares its features with the first ones written here.
//!
//! Run: `cargo run --release -p evoprune-deeptl --example mnist_features -- [threads] [size]
//! [limit] [features.f32]` (defaults 2, 96, all 70,000, none). Needs ../shared/data.

use evoprune_data::{Dataset, idx};
use evoprune_deeptl::backbone::GraphBackbone;
use evoprune_vision::Compute;
use evoprune_vision::extract::{Preprocessing, extract};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(match args.get(i) {
            Some(s) => s
                .parse()
                .map_err(|e| format!("argument {}: {s}: {e}", i + 1))?,
            None => default,
        })
    };
    let (threads, size, limit) = (arg(0, 2)?, arg(1, 96)?, arg(2, 70_000)?);
    let dump = args.get(3).map(PathBuf::from);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let (train, test) = idx::mnist(&shared.join("mnist"))?;
    let all = Dataset::concat(&[&train, &test])?;
    let data = if limit >= all.len() {
        all
    } else {
        all.subset(&(0..limit).collect::<Vec<_>>())
    };
    let backbone = GraphBackbone::efficientnet_lite0(
        &shared.join("efficientnet-lite0/efficientnet-lite0.safetensors"),
        size,
    )?;
    let prep = Preprocessing {
        input_size: size,
        batch: 32,
        compute: Compute::Cpu,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let t = Instant::now();
    let feats = pool.install(|| extract(&backbone, &data, &prep, |_, _| {}))?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} images at {size} px, {threads} thread(s): {secs:.1} s, {:.1} images/s",
        data.len(),
        data.len() as f64 / secs
    );
    if let Some(path) = dump {
        // the first 64 images' features, raw little-endian f32 (numpy.fromfile reads them)
        let n = 64.min(data.len()) * 1280;
        let bytes: Vec<u8> = feats[..n].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes)?;
        println!(
            "first {} images' features written to {}",
            n / 1280,
            path.display()
        );
    }
    Ok(())
}
