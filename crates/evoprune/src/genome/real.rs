//! Bounded real vectors.

use super::{GenomeDistance, Linear, uniform_swap_slices};
use crate::{Error, EvoRng, Result};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

/// A vector of reals. Equality and hashing are bitwise (`-0.0 != 0.0`), which is what a cache
/// keyed by genome needs; NaN genes never occur because operators clamp to bounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RealVector(pub Vec<f64>);

impl PartialEq for RealVector {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}
impl Eq for RealVector {}
impl Hash for RealVector {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for x in &self.0 {
            state.write_u64(x.to_bits());
        }
    }
}

impl std::ops::Deref for RealVector {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.0
    }
}

impl Linear for RealVector {
    fn n_genes(&self) -> usize {
        self.0.len()
    }
    fn swap_range(&mut self, other: &mut Self, range: std::ops::Range<usize>) {
        self.0[range.clone()].swap_with_slice(&mut other.0[range]);
    }
    fn uniform_swap(&mut self, other: &mut Self, p: f64, rng: &mut EvoRng) {
        uniform_swap_slices(&mut self.0, &mut other.0, p, rng);
    }
}

impl GenomeDistance for RealVector {
    fn distance(&self, other: &Self) -> f64 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt()
    }
}

/// Box bounds `lower[i] <= x[i] <= upper[i]`, finite, with `lower[i] < upper[i]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealBounds {
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl RealBounds {
    /// Validated bounds.
    pub fn new(lower: Vec<f64>, upper: Vec<f64>) -> Result<Self> {
        if lower.len() != upper.len() {
            return Err(Error::config(
                "bounds",
                format!("{} lower vs {} upper bounds", lower.len(), upper.len()),
            ));
        }
        for (i, (l, u)) in lower.iter().zip(&upper).enumerate() {
            if !l.is_finite() || !u.is_finite() || l >= u {
                return Err(Error::config(
                    "bounds",
                    format!("variable {i}: need finite lower < upper, got [{l}, {u}]"),
                ));
            }
        }
        Ok(RealBounds { lower, upper })
    }

    /// The same interval `[lo, hi]` for `n` variables.
    pub fn uniform(n: usize, lo: f64, hi: f64) -> Result<Self> {
        Self::new(vec![lo; n], vec![hi; n])
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.lower.len()
    }
    /// True when there are no variables.
    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }
    /// Lower bounds.
    pub fn lower(&self) -> &[f64] {
        &self.lower
    }
    /// Upper bounds.
    pub fn upper(&self) -> &[f64] {
        &self.upper
    }
    /// True when `x` has the right length and lies within the bounds.
    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.len()
            && x.iter()
                .enumerate()
                .all(|(i, v)| *v >= self.lower[i] && *v <= self.upper[i])
    }
}
