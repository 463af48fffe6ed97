//! Stratified splits.

use crate::{DataError, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Indices of a train / validation / test split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Training indices.
    pub train: Vec<usize>,
    /// Validation indices.
    pub val: Vec<usize>,
    /// Test indices.
    pub test: Vec<usize>,
}

/// Split `0..labels.len()` into train/validation/test with the given fractions (summing to 1),
/// class by class, so every part keeps the class proportions. Seeded and deterministic; each
/// part's indices are ascending.
pub fn stratified(labels: &[u32], fractions: [f64; 3], seed: u64) -> Result<Split> {
    let sum: f64 = fractions.iter().sum();
    if fractions.iter().any(|f| !(0.0..=1.0).contains(f)) || (sum - 1.0).abs() > 1e-9 {
        return Err(DataError::invalid(
            "split fractions",
            format!("{fractions:?} must be in [0, 1] and sum to 1"),
        ));
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let n_classes = labels.iter().max().map_or(0, |m| *m as usize + 1);
    let mut s = Split {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == c)
            .collect();
        idx.shuffle(&mut rng);
        let n = idx.len();
        let n_train = (fractions[0] * n as f64).round() as usize;
        let n_val = ((fractions[1] * n as f64).round() as usize).min(n - n_train.min(n));
        let n_train = n_train.min(n);
        s.train.extend_from_slice(&idx[..n_train]);
        s.val.extend_from_slice(&idx[n_train..n_train + n_val]);
        s.test.extend_from_slice(&idx[n_train + n_val..]);
    }
    s.train.sort_unstable();
    s.val.sort_unstable();
    s.test.sort_unstable();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn splits_partition_and_keep_proportions(labels in proptest::collection::vec(0u32..4, 1..300), seed in any::<u64>()) {
            let s = stratified(&labels, [0.6, 0.2, 0.2], seed).unwrap();
            let mut all: Vec<usize> = s.train.iter().chain(&s.val).chain(&s.test).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
            for c in 0..4u32 {
                let n = labels.iter().filter(|&&l| l == c).count() as f64;
                let t = s.train.iter().filter(|&&i| labels[i] == c).count() as f64;
                prop_assert!((t - 0.6 * n).abs() <= 1.0);
            }
            prop_assert_eq!(s.clone(), stratified(&labels, [0.6, 0.2, 0.2], seed).unwrap());
        }
    }

    #[test]
    fn bad_fractions_are_rejected() {
        assert!(stratified(&[0, 1], [0.5, 0.5, 0.5], 1).is_err());
        assert!(stratified(&[0, 1], [1.2, -0.2, 0.0], 1).is_err());
    }
}
