//! Initial populations.

use super::Sampling;
use crate::EvoRng;
use crate::genome::{
    BitString, IntBounds, IntVector, MixedBounds, MixedGenome, RealBounds, RealVector,
};
use rand::Rng;

/// Each bit set independently with probability `p` (default 0.5).
#[derive(Clone, Debug)]
pub struct UniformBits {
    /// Genome length.
    pub len: usize,
    /// Probability of a one.
    pub p: f64,
}

impl UniformBits {
    /// Fair coin per bit.
    pub fn new(len: usize) -> Self {
        UniformBits { len, p: 0.5 }
    }
}

impl Sampling<BitString> for UniformBits {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<BitString> {
        (0..n)
            .map(|_| {
                let mut b = BitString::zeros(self.len);
                b.flip_random(self.p, rng);
                b
            })
            .collect()
    }
}

/// MO-EvoPruneDeepTL's initialisation: individual `i` draws a density `p ~ U(0,1)` and gets
/// exactly `round(p * L)` ones at uniformly random positions, so the population spans every
/// density from nearly empty to nearly full. At least one bit is set: the empty mask is a
/// network with nothing left, an evaluation that can only fail.
#[derive(Clone, Debug)]
pub struct DensitySpread {
    /// Genome length `L`.
    pub len: usize,
}

impl DensitySpread {
    /// For genomes of `len` bits.
    pub fn new(len: usize) -> Self {
        DensitySpread { len }
    }
}

impl Sampling<BitString> for DensitySpread {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<BitString> {
        (0..n)
            .map(|_| {
                let p: f64 = rng.random();
                let k = ((p * self.len as f64).round() as usize).clamp(1.min(self.len), self.len);
                BitString::from_ones(self.len, rand::seq::index::sample(rng, self.len, k))
            })
            .collect()
    }
}

/// Bit `j` set with its own probability `keep_prob[j]` (importance-aware initialisation).
#[derive(Clone, Debug)]
pub struct BiasedBits {
    /// Per-gene probability of a one, each in `[0, 1]`.
    pub keep_prob: Vec<f64>,
}

impl Sampling<BitString> for BiasedBits {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<BitString> {
        (0..n)
            .map(|_| {
                let mut b = BitString::zeros(self.keep_prob.len());
                for (j, &p) in self.keep_prob.iter().enumerate() {
                    if rng.random::<f64>() < p {
                        b.set(j, true);
                    }
                }
                b
            })
            .collect()
    }
}

/// Uniform within real bounds.
#[derive(Clone, Debug)]
pub struct UniformReal {
    /// The bounds.
    pub bounds: RealBounds,
}

impl Sampling<RealVector> for UniformReal {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<RealVector> {
        (0..n)
            .map(|_| RealVector(sample_real(&self.bounds, rng)))
            .collect()
    }
}

/// Reals spread over levels: individual `i` draws a level `t ~ U(0, 1)` and each gene
/// `lower + (upper - lower) * min(1, 2 t v)` with `v ~ U(0, 1)`, so the genes of one
/// individual average about `t` of their range (less near the top, where they saturate).
/// The real-valued counterpart of [`DensitySpread`]: where [`UniformReal`] puts every
/// individual near the middle of the box (with many genes, the average of uniform draws
/// concentrates at one half), this population spans the whole diagonal, from near `lower` to
/// near `upper`, when the objectives reward the corner (a pruning threshold per layer near 0
/// keeps a network that works; one near half on every layer usually does not).
#[derive(Clone, Debug)]
pub struct SpreadReal {
    /// The bounds.
    pub bounds: RealBounds,
}

impl Sampling<RealVector> for SpreadReal {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<RealVector> {
        (0..n)
            .map(|_| {
                let t: f64 = rng.random();
                let genes = self
                    .bounds
                    .lower()
                    .iter()
                    .zip(self.bounds.upper())
                    .map(|(l, u)| l + (u - l) * (2.0 * t * rng.random::<f64>()).min(1.0))
                    .collect();
                RealVector(genes)
            })
            .collect()
    }
}

fn sample_real(b: &RealBounds, rng: &mut EvoRng) -> Vec<f64> {
    b.lower()
        .iter()
        .zip(b.upper())
        .map(|(l, u)| l + rng.random::<f64>() * (u - l))
        .collect()
}

fn sample_int(b: &IntBounds, rng: &mut EvoRng) -> Vec<i64> {
    b.lower()
        .iter()
        .zip(b.upper())
        .map(|(&l, &u)| rng.random_range(l..=u))
        .collect()
}

/// Uniform within inclusive integer bounds.
#[derive(Clone, Debug)]
pub struct UniformInt {
    /// The bounds.
    pub bounds: IntBounds,
}

impl Sampling<IntVector> for UniformInt {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<IntVector> {
        (0..n)
            .map(|_| IntVector(sample_int(&self.bounds, rng)))
            .collect()
    }
}

/// Uniform reals, uniform ints and fair-coin bits.
#[derive(Clone, Debug)]
pub struct MixedSampling {
    /// The bounds.
    pub bounds: MixedBounds,
}

impl Sampling<MixedGenome> for MixedSampling {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<MixedGenome> {
        (0..n)
            .map(|_| {
                let reals = RealVector(sample_real(&self.bounds.reals, rng));
                let ints = IntVector(sample_int(&self.bounds.ints, rng));
                let mut bits = BitString::zeros(self.bounds.n_bits);
                bits.flip_random(0.5, rng);
                MixedGenome { reals, ints, bits }
            })
            .collect()
    }
}
