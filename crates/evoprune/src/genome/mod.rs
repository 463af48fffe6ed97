//! Genome representations.
//!
//! | type | genes | typical use |
//! | --- | --- | --- |
//! | [`BitString`] | packed bits, 10 to millions | pruning masks (features, filters, weights) |
//! | [`RealVector`] + [`RealBounds`] | bounded `f64` | per-layer thresholds, test problems |
//! | [`IntVector`] + [`IntBounds`] | bounded `i64` (inclusive) | bit-widths, categorical choices |
//! | [`MixedGenome`] + [`MixedBounds`] | reals, then ints, then bits | pruning ratio + quantization |
//!
//! Every genome is hashable (the evaluation cache is keyed by genome), serialisable (checkpoints)
//! and implements [`Linear`]: a fixed-length sequence of genes that crossovers can exchange.

mod bits;
mod int;
mod mixed;
mod real;

pub use bits::BitString;
pub use int::{IntBounds, IntVector};
pub use mixed::{MixedBounds, MixedGenome};
pub use real::{RealBounds, RealVector};

use crate::EvoRng;
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;
use std::hash::Hash;

/// What the engine needs of a genome: cloning, equality and hashing (cache, duplicate
/// elimination), serialisation (checkpoints) and thread safety (parallel evaluation).
pub trait Genome:
    Clone + Eq + Hash + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
}
impl<T> Genome for T where
    T: Clone + Eq + Hash + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
}

/// A fixed-length sequence of genes that two parents can exchange position by position.
pub trait Linear {
    /// Number of genes.
    fn n_genes(&self) -> usize;
    /// Swap genes `range` between `self` and `other` (same length required).
    fn swap_range(&mut self, other: &mut Self, range: std::ops::Range<usize>);
    /// Swap each gene between `self` and `other` independently with probability `p`.
    fn uniform_swap(&mut self, other: &mut Self, p: f64, rng: &mut EvoRng);
}

/// A distance between two genomes, used by negative assortative mating.
pub trait GenomeDistance {
    /// Distance between `self` and `other` (Hamming for bits, Euclidean for reals, ...).
    fn distance(&self, other: &Self) -> f64;
}

/// Swap elements of two equally long slices independently with probability `p` each.
pub(crate) fn uniform_swap_slices<T>(a: &mut [T], b: &mut [T], p: f64, rng: &mut EvoRng) {
    use rand::Rng;
    assert_eq!(
        a.len(),
        b.len(),
        "uniform_swap on genomes of different lengths"
    );
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        if rng.random::<f64>() < p {
            std::mem::swap(x, y);
        }
    }
}
