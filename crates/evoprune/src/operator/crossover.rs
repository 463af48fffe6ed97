//! Crossovers.

use super::Crossover;
use crate::EvoRng;
use crate::genome::{IntBounds, IntVector, Linear, MixedGenome, RealBounds, RealVector};
use rand::Rng;

/// Each gene swapped between the two children with probability `swap_prob` (default 0.5).
/// Bit strings swap 64 genes per random word.
#[derive(Clone, Debug)]
pub struct UniformCrossover {
    /// Per-gene swap probability.
    pub swap_prob: f64,
}

impl Default for UniformCrossover {
    fn default() -> Self {
        UniformCrossover { swap_prob: 0.5 }
    }
}

impl<G: Linear + Clone + Send + Sync> Crossover<G> for UniformCrossover {
    fn crossover(&self, a: &G, b: &G, rng: &mut EvoRng) -> [G; 2] {
        let (mut x, mut y) = (a.clone(), b.clone());
        x.uniform_swap(&mut y, self.swap_prob, rng);
        [x, y]
    }
}

/// Swap the tails after one random cut point.
#[derive(Clone, Debug, Default)]
pub struct OnePoint;

impl<G: Linear + Clone + Send + Sync> Crossover<G> for OnePoint {
    fn crossover(&self, a: &G, b: &G, rng: &mut EvoRng) -> [G; 2] {
        let (mut x, mut y) = (a.clone(), b.clone());
        let n = x.n_genes();
        if n > 1 {
            let cut = rng.random_range(1..n);
            x.swap_range(&mut y, cut..n);
        }
        [x, y]
    }
}

/// Swap the segment between two random cut points.
#[derive(Clone, Debug, Default)]
pub struct TwoPoint;

impl<G: Linear + Clone + Send + Sync> Crossover<G> for TwoPoint {
    fn crossover(&self, a: &G, b: &G, rng: &mut EvoRng) -> [G; 2] {
        let (mut x, mut y) = (a.clone(), b.clone());
        let n = x.n_genes();
        if n > 2 {
            let c1 = rng.random_range(1..n);
            let c2 = rng.random_range(1..n);
            x.swap_range(&mut y, c1.min(c2)..c1.max(c2));
        }
        [x, y]
    }
}

/// Microbial crossover (Harvey 2009, doi:10.1007/978-3-642-21314-4_16): the better parent `a`
/// (the winner) passes on unchanged; the loser `b` copies each gene from the winner with
/// probability `infection` (default 0.5). Children: `[winner, infected loser]`.
#[derive(Clone, Debug)]
pub struct Microbial {
    /// Per-gene probability that the loser takes the winner's gene.
    pub infection: f64,
}

impl Default for Microbial {
    fn default() -> Self {
        Microbial { infection: 0.5 }
    }
}

impl<G: Linear + Clone + Send + Sync> Crossover<G> for Microbial {
    fn crossover(&self, winner: &G, loser: &G, rng: &mut EvoRng) -> [G; 2] {
        // After a uniform swap, each gene of the second child is the winner's with prob `infection`.
        let (mut w, mut l) = (winner.clone(), loser.clone());
        w.uniform_swap(&mut l, self.infection, rng);
        [winner.clone(), l]
    }
    fn better_parent_first(&self) -> bool {
        true
    }
}

/// Simulated binary crossover, bounded variant (Deb & Agrawal 1995; Deb et al. 2002), exactly as
/// pymoo's `SBX`: each variable crosses with probability `prob_var` (0.5), spread `eta` (15),
/// children's values exchanged with probability 0.5, results clamped to the bounds.
#[derive(Clone, Debug)]
pub struct Sbx {
    /// Variable bounds.
    pub bounds: RealBounds,
    /// Distribution index (default 15).
    pub eta: f64,
    /// Per-variable crossover probability (default 0.5).
    pub prob_var: f64,
}

impl Sbx {
    /// pymoo's defaults: `eta = 15`, `prob_var = 0.5`.
    pub fn new(bounds: RealBounds) -> Self {
        Sbx {
            bounds,
            eta: 15.0,
            prob_var: 0.5,
        }
    }

    fn cross_values(
        &self,
        x1: &mut [f64],
        x2: &mut [f64],
        lower: &[f64],
        upper: &[f64],
        rng: &mut EvoRng,
    ) {
        let pw = Powers::new(self.eta);
        for i in 0..x1.len() {
            if !(rng.random::<f64>() < self.prob_var) {
                continue;
            }
            let (xl, xu) = (lower[i], upper[i]);
            if (x1[i] - x2[i]).abs() <= 1e-14 || xl == xu {
                continue;
            }
            let (y1, y2) = if x1[i] < x2[i] {
                (x1[i], x2[i])
            } else {
                (x2[i], x1[i])
            };
            let delta = y2 - y1;
            let r: f64 = rng.random();
            let betaq = |beta: f64| {
                let alpha = 2.0 - 1.0 / pw.pow(beta);
                if r <= 1.0 / alpha {
                    pw.root(r * alpha)
                } else {
                    pw.root(1.0 / (2.0 - r * alpha))
                }
            };
            let mut c1 = 0.5 * ((y1 + y2) - betaq(1.0 + 2.0 * (y1 - xl) / delta) * delta);
            let mut c2 = 0.5 * ((y1 + y2) + betaq(1.0 + 2.0 * (xu - y2) / delta) * delta);
            if rng.random::<f64>() < 0.5 {
                std::mem::swap(&mut c1, &mut c2);
            }
            x1[i] = c1.clamp(xl, xu);
            x2[i] = c2.clamp(xl, xu);
        }
    }
}

impl Crossover<RealVector> for Sbx {
    fn crossover(&self, a: &RealVector, b: &RealVector, rng: &mut EvoRng) -> [RealVector; 2] {
        let (mut x, mut y) = (a.clone(), b.clone());
        self.cross_values(
            &mut x.0,
            &mut y.0,
            self.bounds.lower(),
            self.bounds.upper(),
            rng,
        );
        [x, y]
    }
}

/// `x^(eta+1)` and `x^(1/(eta+1))` for a distribution index `eta`, the inner loop of SBX and
/// polynomial mutation. Integer `eta` (the usual case: 15, 20) uses `powi`; a power-of-two
/// `eta + 1` (SBX's default 16) takes its root by repeated square roots. Same values as `powf`
/// to within a few ulps, several times faster (these calls dominated a ZDT1 run's profile).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Powers {
    e: f64,
    int_e: Option<i32>,
    sqrt_steps: Option<u32>,
}

impl Powers {
    pub(crate) fn new(eta: f64) -> Self {
        let e = eta + 1.0;
        let int_e = (e.fract() == 0.0 && e > 0.0 && e <= 1024.0).then_some(e as i32);
        let sqrt_steps = int_e
            .filter(|i| (*i as u32).is_power_of_two() && *i <= 64)
            .map(|i| (i as u32).trailing_zeros());
        Powers {
            e,
            int_e,
            sqrt_steps,
        }
    }
    /// `x^(eta+1)`.
    #[inline]
    pub(crate) fn pow(&self, x: f64) -> f64 {
        match self.int_e {
            Some(i) => x.powi(i),
            None => x.powf(self.e),
        }
    }
    /// `x^(1/(eta+1))` for `x >= 0`.
    #[inline]
    pub(crate) fn root(&self, x: f64) -> f64 {
        match self.sqrt_steps {
            Some(k) => (0..k).fold(x, |v, _| v.sqrt()),
            None => x.powf(1.0 / self.e),
        }
    }
}

/// SBX on integers: operate on the reals widened by half a unit around each bound, then round
/// (pymoo's integer-from-float approach).
#[derive(Clone, Debug)]
pub struct IntSbx {
    sbx: Sbx,
    bounds: IntBounds,
}

impl IntSbx {
    /// pymoo's defaults (`eta = 15`, `prob_var = 0.5`).
    pub fn new(bounds: IntBounds) -> Self {
        IntSbx {
            sbx: Sbx::new(bounds.as_real()),
            bounds,
        }
    }
}

pub(crate) fn round_into(v: &[f64], bounds: &IntBounds) -> Vec<i64> {
    v.iter()
        .enumerate()
        .map(|(i, x)| (x.round() as i64).clamp(bounds.lower()[i], bounds.upper()[i]))
        .collect()
}

impl Crossover<IntVector> for IntSbx {
    fn crossover(&self, a: &IntVector, b: &IntVector, rng: &mut EvoRng) -> [IntVector; 2] {
        let mut x: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        let mut y: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        let rb = &self.sbx.bounds;
        self.sbx
            .cross_values(&mut x, &mut y, rb.lower(), rb.upper(), rng);
        [
            IntVector(round_into(&x, &self.bounds)),
            IntVector(round_into(&y, &self.bounds)),
        ]
    }
}

/// Part-wise crossover of a mixed genome: one operator per part.
#[derive(Clone, Debug)]
pub struct MixedCrossover<R, I, B> {
    /// For the real part (e.g. [`Sbx`]).
    pub reals: R,
    /// For the integer part (e.g. [`IntSbx`]).
    pub ints: I,
    /// For the bit part (e.g. [`UniformCrossover`]).
    pub bits: B,
}

impl<R, I, B> Crossover<MixedGenome> for MixedCrossover<R, I, B>
where
    R: Crossover<RealVector>,
    I: Crossover<IntVector>,
    B: Crossover<crate::BitString>,
{
    fn crossover(&self, a: &MixedGenome, b: &MixedGenome, rng: &mut EvoRng) -> [MixedGenome; 2] {
        let [r1, r2] = self.reals.crossover(&a.reals, &b.reals, rng);
        let [i1, i2] = self.ints.crossover(&a.ints, &b.ints, rng);
        let [b1, b2] = self.bits.crossover(&a.bits, &b.bits, rng);
        [
            MixedGenome {
                reals: r1,
                ints: i1,
                bits: b1,
            },
            MixedGenome {
                reals: r2,
                ints: i2,
                bits: b2,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::Powers;

    #[test]
    fn fast_powers_match_powf() {
        for eta in [0.0, 1.0, 2.5, 15.0, 20.0, 31.0, 63.0] {
            let p = Powers::new(eta);
            for x in [1e-12, 0.001, 0.3, 0.5, 0.999, 1.0, 1.7, 37.0] {
                let (a, b) = (p.pow(x), x.powf(eta + 1.0));
                assert!(
                    (a - b).abs() <= 1e-13 * b.abs().max(1e-300),
                    "pow eta={eta} x={x}: {a} vs {b}"
                );
                let (a, b) = (p.root(x), x.powf(1.0 / (eta + 1.0)));
                assert!(
                    (a - b).abs() <= 1e-14 * b.abs(),
                    "root eta={eta} x={x}: {a} vs {b}"
                );
            }
        }
    }
}
