//! Mixed genomes: reals, integers and bits in one individual.

use super::{BitString, GenomeDistance, IntBounds, IntVector, Linear, RealBounds, RealVector};
use crate::EvoRng;
use serde::{Deserialize, Serialize};

/// A genome made of a real part, an integer part and a bit part — e.g. per-layer pruning ratios
/// (reals), per-layer quantization bit-widths (ints) and on/off switches (bits).
///
/// As a [`Linear`] sequence its genes are the reals, then the ints, then the bits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MixedGenome {
    /// Real-valued genes.
    pub reals: RealVector,
    /// Integer genes.
    pub ints: IntVector,
    /// Binary genes.
    pub bits: BitString,
}

/// Bounds of a [`MixedGenome`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixedBounds {
    /// Bounds of the real part.
    pub reals: RealBounds,
    /// Bounds of the integer part.
    pub ints: IntBounds,
    /// Length of the bit part.
    pub n_bits: usize,
}

impl MixedBounds {
    /// True when every part has the right length and lies within its bounds.
    pub fn contains(&self, g: &MixedGenome) -> bool {
        self.reals.contains(&g.reals) && self.ints.contains(&g.ints) && g.bits.len() == self.n_bits
    }
}

impl Linear for MixedGenome {
    fn n_genes(&self) -> usize {
        self.reals.n_genes() + self.ints.n_genes() + self.bits.n_genes()
    }

    fn swap_range(&mut self, other: &mut Self, range: std::ops::Range<usize>) {
        let (nr, ni) = (self.reals.n_genes(), self.ints.n_genes());
        let part = |lo: usize, len: usize| {
            let s = range.start.clamp(lo, lo + len) - lo;
            let e = range.end.clamp(lo, lo + len) - lo;
            s..e
        };
        self.reals.swap_range(&mut other.reals, part(0, nr));
        self.ints.swap_range(&mut other.ints, part(nr, ni));
        self.bits
            .swap_range(&mut other.bits, part(nr + ni, self.bits.n_genes()));
    }

    fn uniform_swap(&mut self, other: &mut Self, p: f64, rng: &mut EvoRng) {
        self.reals.uniform_swap(&mut other.reals, p, rng);
        self.ints.uniform_swap(&mut other.ints, p, rng);
        self.bits.uniform_swap(&mut other.bits, p, rng);
    }
}

impl GenomeDistance for MixedGenome {
    fn distance(&self, other: &Self) -> f64 {
        self.reals.distance(&other.reals)
            + self.ints.distance(&other.ints)
            + self.bits.distance(&other.bits)
    }
}
