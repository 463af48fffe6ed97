//! Variation and selection operators, each a small named type.
//!
//! | role | trait | implementations |
//! | --- | --- | --- |
//! | initial population | [`Sampling`] | [`UniformBits`], [`DensitySpread`], [`BiasedBits`], [`UniformReal`], [`SpreadReal`], [`UniformInt`], [`MixedSampling`] |
//! | recombination | [`Crossover`] | [`UniformCrossover`], [`OnePoint`], [`TwoPoint`], [`Sbx`], [`IntSbx`], [`Microbial`], [`MixedCrossover`] |
//! | mutation | [`Mutation`] | [`BitFlip`], [`PolynomialMutation`], [`IntPolynomialMutation`], [`MixedMutation`] |
//! | mating selection | [`Selection`] | [`BinaryTournament`], [`NegativeAssortativeMating`], [`TopK`] |
//! | survival | [`Survival`] | [`RankAndCrowding`] |
//!
//! Every operator takes the run's [`EvoRng`](crate::EvoRng), so a seeded run is reproducible,
//! and traits are object safe, so operators can be chosen at run time (`Box<dyn Mutation<G>>`).
//!
//! ```
//! use evoprune::{BitFlip, BitString, DensitySpread, Mutation, Sampling, rng_from_seed};
//! let mut rng = rng_from_seed(1);
//! let mut pop = DensitySpread::new(2048).sample(30, &mut rng);
//! BitFlip::default().mutate(&mut pop[0], &mut rng);
//! assert!(pop.iter().all(|g| g.len() == 2048));
//! ```

mod crossover;
mod mutation;
mod sampling;
mod selection;
mod survival;

pub use crossover::{IntSbx, Microbial, MixedCrossover, OnePoint, Sbx, TwoPoint, UniformCrossover};
pub use mutation::{BitFlip, IntPolynomialMutation, MixedMutation, PolynomialMutation};
pub use sampling::{
    BiasedBits, DensitySpread, MixedSampling, SpreadReal, UniformBits, UniformInt, UniformReal,
};
pub use selection::{BinaryTournament, NegativeAssortativeMating, TopK, TournamentRule};
pub use survival::RankAndCrowding;

use crate::{EvoRng, Individual};

/// Creates an initial population.
pub trait Sampling<G>: Send + Sync {
    /// `n` new genomes.
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<G>;
}

/// Recombines two parents into two children.
pub trait Crossover<G>: Send + Sync {
    /// Two children of `a` and `b`. Operators that treat parents asymmetrically (microbial)
    /// take the better parent as `a`.
    fn crossover(&self, a: &G, b: &G, rng: &mut EvoRng) -> [G; 2];

    /// True when the operator treats its parents asymmetrically and must get the better one
    /// first (microbial crossover: the winner passes on unchanged). Algorithms whose selection
    /// does not already order each pair (NSGA-II's tournaments) then order it by the crowded
    /// comparison. Symmetric operators keep the drawn order, so their runs are unchanged.
    fn better_parent_first(&self) -> bool {
        false
    }
}

/// Perturbs one genome in place.
pub trait Mutation<G>: Send + Sync {
    /// Mutate `g`.
    fn mutate(&self, g: &mut G, rng: &mut EvoRng);
}

/// Chooses parent pairs from a ranked population.
pub trait Selection<G>: Send + Sync {
    /// `n_pairs` pairs of population indices.
    fn select(
        &self,
        pop: &[Individual<G>],
        n_pairs: usize,
        rng: &mut EvoRng,
    ) -> Vec<(usize, usize)>;
}

/// Reduces a merged population to the next one.
pub trait Survival<G>: Send + Sync {
    /// Keep `n` of `candidates`, setting `rank` and `crowding` on them.
    fn survive(
        &self,
        candidates: Vec<Individual<G>>,
        n: usize,
        rng: &mut EvoRng,
    ) -> Vec<Individual<G>>;
}

macro_rules! forward_box {
    ($($tr:ident { fn $m:ident(&self $(, $a:ident : $t:ty)*) -> $r:ty; })*) => {$(
        impl<G, T: $tr<G> + ?Sized> $tr<G> for Box<T> {
            fn $m(&self $(, $a: $t)*) -> $r { (**self).$m($($a),*) }
        }
    )*};
}
forward_box! {
    Sampling { fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<G>; }
    Crossover { fn crossover(&self, a: &G, b: &G, rng: &mut EvoRng) -> [G; 2]; }
    Mutation { fn mutate(&self, g: &mut G, rng: &mut EvoRng) -> (); }
    Selection { fn select(&self, pop: &[Individual<G>], n_pairs: usize, rng: &mut EvoRng) -> Vec<(usize, usize)>; }
    Survival { fn survive(&self, candidates: Vec<Individual<G>>, n: usize, rng: &mut EvoRng) -> Vec<Individual<G>>; }
}

#[cfg(test)]
mod tests;
