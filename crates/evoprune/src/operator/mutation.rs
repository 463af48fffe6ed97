//! Mutations.

use super::Mutation;
use super::crossover::{Powers, round_into};
use crate::EvoRng;
use crate::genome::{BitString, IntBounds, IntVector, MixedGenome, RealBounds, RealVector};
use rand::Rng;

/// Flip each bit independently with probability `rate` (`None`: `1 / L`). Cost is proportional
/// to the number of flips, so it stays cheap on multi-million-bit masks.
#[derive(Clone, Debug, Default)]
pub struct BitFlip {
    /// Per-gene flip probability; `None` means `1 / L`.
    pub rate: Option<f64>,
}

impl BitFlip {
    /// A fixed per-gene rate.
    pub fn with_rate(rate: f64) -> Self {
        BitFlip { rate: Some(rate) }
    }
}

impl Mutation<BitString> for BitFlip {
    fn mutate(&self, g: &mut BitString, rng: &mut EvoRng) {
        if g.is_empty() {
            return;
        }
        let p = self.rate.unwrap_or(1.0 / g.len() as f64);
        g.flip_random(p, rng);
    }
}

/// Polynomial mutation, bounded variant (Deb & Goyal 1996), exactly as pymoo's `PM`: each
/// variable mutates with probability `prob_var` (`None`: `min(0.5, 1/n)`), distribution index
/// `eta` (20).
#[derive(Clone, Debug)]
pub struct PolynomialMutation {
    /// Variable bounds.
    pub bounds: RealBounds,
    /// Distribution index (default 20).
    pub eta: f64,
    /// Per-variable mutation probability; `None` means `min(0.5, 1/n)`.
    pub prob_var: Option<f64>,
}

impl PolynomialMutation {
    /// pymoo's defaults: `eta = 20`, `prob_var = min(0.5, 1/n)`.
    pub fn new(bounds: RealBounds) -> Self {
        PolynomialMutation {
            bounds,
            eta: 20.0,
            prob_var: None,
        }
    }

    fn mutate_values(&self, x: &mut [f64], lower: &[f64], upper: &[f64], rng: &mut EvoRng) {
        let n = x.len();
        if n == 0 {
            return;
        }
        let p = self.prob_var.unwrap_or((1.0 / n as f64).min(0.5));
        let pw = Powers::new(self.eta);
        for i in 0..n {
            if !(rng.random::<f64>() < p) {
                continue;
            }
            let (xl, xu) = (lower[i], upper[i]);
            if xl == xu {
                continue;
            }
            let v = x[i];
            let d1 = (v - xl) / (xu - xl);
            let d2 = (xu - v) / (xu - xl);
            let r: f64 = rng.random();
            let dq = if r <= 0.5 {
                let val = 2.0 * r + (1.0 - 2.0 * r) * pw.pow(1.0 - d1);
                pw.root(val) - 1.0
            } else {
                let val = 2.0 * (1.0 - r) + 2.0 * (r - 0.5) * pw.pow(1.0 - d2);
                1.0 - pw.root(val)
            };
            x[i] = (v + dq * (xu - xl)).clamp(xl, xu);
        }
    }
}

impl Mutation<RealVector> for PolynomialMutation {
    fn mutate(&self, g: &mut RealVector, rng: &mut EvoRng) {
        self.mutate_values(&mut g.0, self.bounds.lower(), self.bounds.upper(), rng);
    }
}

/// Polynomial mutation on integers (on widened reals, then rounded).
#[derive(Clone, Debug)]
pub struct IntPolynomialMutation {
    pm: PolynomialMutation,
    bounds: IntBounds,
}

impl IntPolynomialMutation {
    /// pymoo's defaults (`eta = 20`, `prob_var = min(0.5, 1/n)`).
    pub fn new(bounds: IntBounds) -> Self {
        IntPolynomialMutation {
            pm: PolynomialMutation::new(bounds.as_real()),
            bounds,
        }
    }
}

impl Mutation<IntVector> for IntPolynomialMutation {
    fn mutate(&self, g: &mut IntVector, rng: &mut EvoRng) {
        let mut x: Vec<f64> = g.iter().map(|&v| v as f64).collect();
        let rb = &self.pm.bounds;
        self.pm.mutate_values(&mut x, rb.lower(), rb.upper(), rng);
        g.0 = round_into(&x, &self.bounds);
    }
}

/// Part-wise mutation of a mixed genome.
#[derive(Clone, Debug)]
pub struct MixedMutation<R, I, B> {
    /// For the real part.
    pub reals: R,
    /// For the integer part.
    pub ints: I,
    /// For the bit part.
    pub bits: B,
}

impl<R, I, B> Mutation<MixedGenome> for MixedMutation<R, I, B>
where
    R: Mutation<RealVector>,
    I: Mutation<IntVector>,
    B: Mutation<BitString>,
{
    fn mutate(&self, g: &mut MixedGenome, rng: &mut EvoRng) {
        self.reals.mutate(&mut g.reals, rng);
        self.ints.mutate(&mut g.ints, rng);
        self.bits.mutate(&mut g.bits, rng);
    }
}
