//! The synthetic data of the head benches: non-negative "pooled features" (`n x d`, like
//! EfficientNet-Lite0's after ReLU6 and pooling) and labels from a random linear teacher, so the
//! task is learnable. Shared by `head` and `head_vs_torch`; `scripts/bench_head_torch*.py` build
//! the same recipe with numpy.

use rand::{Rng, SeedableRng};

/// `(x, y)` for `n` samples, `d` features, `c` classes, seed 1.
pub fn data(n: usize, d: usize, c: usize) -> (Vec<f32>, Vec<u32>) {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let x: Vec<f32> = (0..n * d)
        .map(|_| rng.random::<f32>().powi(3) * 4.0)
        .collect();
    let teacher: Vec<f32> = (0..d * c).map(|_| rng.random::<f32>() - 0.5).collect();
    let y = x
        .chunks_exact(d)
        .map(|r| {
            (0..c)
                .map(|k| {
                    let s: f32 = r
                        .iter()
                        .enumerate()
                        .map(|(j, v)| v * teacher[j * c + k])
                        .sum();
                    (k, s)
                })
                .fold((0, f32::MIN), |b, (k, v)| if v > b.1 { (k, v) } else { b })
                .0 as u32
        })
        .collect();
    (x, y)
}
