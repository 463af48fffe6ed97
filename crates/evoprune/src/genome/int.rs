//! Bounded integer vectors.

use super::{GenomeDistance, Linear, uniform_swap_slices};
use crate::{Error, EvoRng, Result};
use serde::{Deserialize, Serialize};

/// A vector of integers (bit-widths, categorical choices, counts).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntVector(pub Vec<i64>);

impl std::ops::Deref for IntVector {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        &self.0
    }
}

impl Linear for IntVector {
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

impl GenomeDistance for IntVector {
    fn distance(&self, other: &Self) -> f64 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b).unsigned_abs() as f64)
            .sum()
    }
}

/// Inclusive integer bounds `lower[i] <= x[i] <= upper[i]`, with `lower[i] <= upper[i]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntBounds {
    lower: Vec<i64>,
    upper: Vec<i64>,
}

impl IntBounds {
    /// Validated bounds.
    pub fn new(lower: Vec<i64>, upper: Vec<i64>) -> Result<Self> {
        if lower.len() != upper.len() {
            return Err(Error::config(
                "bounds",
                format!("{} lower vs {} upper bounds", lower.len(), upper.len()),
            ));
        }
        for (i, (l, u)) in lower.iter().zip(&upper).enumerate() {
            if l > u {
                return Err(Error::config(
                    "bounds",
                    format!("integer variable {i}: lower {l} > upper {u}"),
                ));
            }
        }
        Ok(IntBounds { lower, upper })
    }
    /// Number of variables.
    pub fn len(&self) -> usize {
        self.lower.len()
    }
    /// True when there are no variables.
    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }
    /// Lower bounds (inclusive).
    pub fn lower(&self) -> &[i64] {
        &self.lower
    }
    /// Upper bounds (inclusive).
    pub fn upper(&self) -> &[i64] {
        &self.upper
    }
    /// True when `x` has the right length and lies within the bounds.
    pub fn contains(&self, x: &[i64]) -> bool {
        x.len() == self.len()
            && x.iter()
                .enumerate()
                .all(|(i, v)| *v >= self.lower[i] && *v <= self.upper[i])
    }
    /// The bounds as reals, widened by 0.5 on each side, so that real-coded operators followed by
    /// rounding give every integer an equal share of the interval.
    pub(crate) fn as_real(&self) -> super::RealBounds {
        super::RealBounds::new(
            self.lower.iter().map(|&l| l as f64 - 0.5 + 1e-9).collect(),
            self.upper.iter().map(|&u| u as f64 + 0.5 - 1e-9).collect(),
        )
        .expect("integer bounds are valid real bounds")
    }
}
