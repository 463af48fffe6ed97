//! Synthetic out-of-distribution sets (as in the ODIN paper): Gaussian and uniform noise of a
//! dataset's per-sample shape.

use crate::{DataError, Dataset, Result};
use rand::{Rng, SeedableRng};

/// `n` samples of `shape` with i.i.d. `N(mean, std²)` values, clamped to `[lo, hi]` (the input
/// range), all labelled 0 of 1 class.
pub fn gaussian(
    n: usize,
    shape: &[usize],
    mean: f32,
    std: f32,
    range: (f32, f32),
    seed: u64,
) -> Result<Dataset> {
    if !(std >= 0.0) || !(range.0 < range.1) {
        return Err(DataError::invalid(
            "noise",
            format!("need std >= 0 and lo < hi, got std {std}, range {range:?}"),
        ));
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let d: usize = shape.iter().product();
    let x = (0..n * d)
        .map(|_| {
            // Box-Muller
            let u1: f32 = 1.0 - rng.random::<f32>();
            let u2: f32 = rng.random();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
            (mean + std * z).clamp(range.0, range.1)
        })
        .collect();
    Dataset::new(x, shape.to_vec(), vec![0; n], 1)
}

/// `n` samples of `shape` with i.i.d. uniform values in `[lo, hi)`, labelled 0 of 1 class.
pub fn uniform(n: usize, shape: &[usize], range: (f32, f32), seed: u64) -> Result<Dataset> {
    if !(range.0 < range.1) {
        return Err(DataError::invalid(
            "noise",
            format!("need lo < hi, got {range:?}"),
        ));
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let d: usize = shape.iter().product();
    let x = (0..n * d)
        .map(|_| range.0 + rng.random::<f32>() * (range.1 - range.0))
        .collect();
    Dataset::new(x, shape.to_vec(), vec![0; n], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_requested_statistics() {
        let g = gaussian(2000, &[8, 8], 0.5, 0.1, (0.0, 1.0), 1).unwrap();
        let m = g.features().iter().sum::<f32>() / g.features().len() as f32;
        let v =
            g.features().iter().map(|x| (x - m) * (x - m)).sum::<f32>() / g.features().len() as f32;
        assert!(
            (m - 0.5).abs() < 0.01 && (v.sqrt() - 0.1).abs() < 0.01,
            "{m} {v}"
        );
        let u = uniform(100, &[3], (2.0, 3.0), 2).unwrap();
        assert!(u.features().iter().all(|x| (2.0..3.0).contains(x)));
        assert!(uniform(1, &[1], (1.0, 1.0), 0).is_err());
    }
}
