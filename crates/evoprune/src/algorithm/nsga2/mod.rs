//! NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002, doi:10.1109/4235.996017).
//!
//! Generational by default; with `n_offspring` smaller than the population it is the
//! steady-state variant MO-EvoPruneDeepTL uses (population 30, 2 offspring per step).
//! Defaults: binary tournament on rank and crowding, crossover probability 0.9, rank-and-crowding
//! survival, duplicate elimination. With [`Sbx`](crate::Sbx) (eta 15, per-variable 0.5) and
//! [`PolynomialMutation`](crate::PolynomialMutation) (eta 20, 1/n) it matches pymoo's `NSGA2`.

mod config;

pub use config::Nsga2Config;

use super::Algorithm;
use crate::genome::{BitString, Genome, RealBounds, RealVector};
use crate::operator::{
    BinaryTournament, BitFlip, Crossover, Mutation, PolynomialMutation, RankAndCrowding, Sampling,
    Sbx, Selection, Survival, UniformBits, UniformCrossover, UniformReal,
};
use crate::{EvoRng, Individual, Result, State};
use rand::Rng;
use std::marker::PhantomData;

/// NSGA-II over genome `G` with sampling `S`, crossover `X`, mutation `M`, selection `Sel` and
/// survival `Sur`.
pub struct Nsga2<G, S, X, M, Sel = BinaryTournament, Sur = RankAndCrowding> {
    config: Nsga2Config,
    /// Initial population.
    pub sampling: S,
    /// Recombination.
    pub crossover: X,
    /// Mutation.
    pub mutation: M,
    /// Mating selection.
    pub selection: Sel,
    /// Survival.
    pub survival: Sur,
    _g: PhantomData<fn() -> G>,
}

impl<G, S, X, M> Nsga2<G, S, X, M> {
    /// NSGA-II with the given operators, binary tournament and rank-and-crowding survival.
    pub fn new(config: Nsga2Config, sampling: S, crossover: X, mutation: M) -> Result<Self> {
        config.validate()?;
        Ok(Nsga2 {
            config,
            sampling,
            crossover,
            mutation,
            selection: BinaryTournament::default(),
            survival: RankAndCrowding,
            _g: PhantomData,
        })
    }
}

impl Nsga2<RealVector, UniformReal, Sbx, PolynomialMutation> {
    /// pymoo's NSGA-II for real problems: uniform sampling, SBX (eta 15), polynomial mutation (eta 20).
    pub fn real(config: Nsga2Config, bounds: RealBounds) -> Result<Self> {
        Self::new(
            config,
            UniformReal {
                bounds: bounds.clone(),
            },
            Sbx::new(bounds.clone()),
            PolynomialMutation::new(bounds),
        )
    }
}

impl Nsga2<BitString, UniformBits, UniformCrossover, BitFlip> {
    /// NSGA-II for bit strings: fair-coin sampling, uniform crossover, bit-flip at 1/L.
    pub fn binary(config: Nsga2Config, len: usize) -> Result<Self> {
        Self::new(
            config,
            UniformBits::new(len),
            UniformCrossover::default(),
            BitFlip::default(),
        )
    }
}

impl<G, S, X, M, Sel, Sur> Nsga2<G, S, X, M, Sel, Sur> {
    /// Replace the mating selection.
    pub fn with_selection<Sel2>(self, selection: Sel2) -> Nsga2<G, S, X, M, Sel2, Sur> {
        Nsga2 {
            config: self.config,
            sampling: self.sampling,
            crossover: self.crossover,
            mutation: self.mutation,
            selection,
            survival: self.survival,
            _g: PhantomData,
        }
    }

    /// The parameters.
    pub fn config(&self) -> &Nsga2Config {
        &self.config
    }
}

impl<G, S, X, M, Sel, Sur> Nsga2<G, S, X, M, Sel, Sur>
where
    G: Genome,
    S: Sampling<G>,
    X: Crossover<G>,
    M: Mutation<G>,
    Sel: Selection<G>,
    Sur: Survival<G>,
{
    /// `n` offspring of `pop`, none equal to a member or to each other when duplicates are
    /// eliminated (fewer if the space is exhausted after `max_mating_rounds`).
    fn mate(&self, pop: &[Individual<G>], n: usize, rng: &mut EvoRng) -> Vec<G> {
        let mut brood = super::Brood::new(pop, n, self.config.eliminate_duplicates);
        for _ in 0..self.config.max_mating_rounds {
            let need = n - brood.kids.len();
            if need == 0 {
                break;
            }
            for (a, b) in self.selection.select(pop, need.div_ceil(2), rng) {
                let (a, b) = if self.crossover.better_parent_first() && crowded_better(pop, b, a) {
                    (b, a)
                } else {
                    (a, b)
                };
                let (pa, pb) = (&pop[a].genome, &pop[b].genome);
                let pair = if rng.random::<f64>() < self.config.crossover_prob {
                    self.crossover.crossover(pa, pb, rng)
                } else {
                    [pa.clone(), pb.clone()]
                };
                for mut c in pair {
                    if brood.kids.len() == n {
                        break;
                    }
                    self.mutation.mutate(&mut c, rng);
                    brood.offer(c);
                }
            }
        }
        brood.kids
    }
}

/// Deb's crowded comparison under constraints: `x` is strictly better than `y` when it violates
/// less, or ranks in a better front, or lies in the same front where it is less crowded.
fn crowded_better<G>(pop: &[Individual<G>], x: usize, y: usize) -> bool {
    let (x, y) = (&pop[x], &pop[y]);
    if x.cv != y.cv {
        return x.cv < y.cv;
    }
    if x.rank != y.rank {
        return x.rank < y.rank;
    }
    x.crowding > y.crowding
}

impl<G, S, X, M, Sel, Sur> Algorithm<G> for Nsga2<G, S, X, M, Sel, Sur>
where
    G: Genome,
    S: Sampling<G>,
    X: Crossover<G>,
    M: Mutation<G>,
    Sel: Selection<G>,
    Sur: Survival<G>,
{
    fn name(&self) -> &str {
        "nsga2"
    }

    fn pop_size(&self) -> usize {
        self.config.pop_size
    }

    fn sample(&self, state: &mut State<G>) -> Vec<G> {
        let c = &self.config;
        super::sample_distinct(
            &self.sampling,
            c.pop_size,
            c.eliminate_duplicates,
            c.max_mating_rounds,
            &mut state.rng,
        )
    }

    fn offspring(&self, state: &mut State<G>) -> Vec<G> {
        self.mate(&state.population, self.config.offspring(), &mut state.rng)
    }

    fn tell(&self, state: &mut State<G>, evaluated: Vec<Individual<G>>) {
        let mut merged = std::mem::take(&mut state.population);
        merged.extend(evaluated);
        let n = self.config.pop_size;
        state.population = self.survival.survive(merged, n, &mut state.rng);
    }

    fn offspring_one(&self, state: &mut State<G>) -> Option<G> {
        // until two members are back there is nothing to mate: sample instead
        let kid = if state.population.len() < 2 {
            self.sampling.sample(1, &mut state.rng)
        } else {
            self.mate(&state.population, 1, &mut state.rng)
        };
        Some(
            kid.into_iter()
                .next()
                .unwrap_or_else(|| self.sampling.sample(1, &mut state.rng).remove(0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Evaluation, Microbial, ObjectiveSpec};

    /// Always the same pair, worse member first.
    struct Fixed(usize, usize);
    impl<G> Selection<G> for Fixed {
        fn select(&self, _: &[Individual<G>], n: usize, _: &mut EvoRng) -> Vec<(usize, usize)> {
            vec![(self.0, self.1); n]
        }
    }

    fn member(bits: &[usize], f: [f64; 2]) -> Individual<BitString> {
        let specs = [ObjectiveSpec::minimize("a"), ObjectiveSpec::minimize("b")];
        let g = BitString::from_ones(8, bits.iter().copied());
        Individual::from_outcome(g, Ok(Evaluation::new(f.to_vec())), &specs, 0).unwrap()
    }

    #[test]
    fn microbial_crossover_gets_the_crowded_comparison_winner_first() {
        // member 0 dominates member 1; the selection hands them over as (1, 0)
        let mut pop = vec![member(&[0, 1], [0.0, 0.0]), member(&[5, 6, 7], [1.0, 1.0])];
        RankAndCrowding::assign(&mut pop);
        assert_eq!((pop[0].rank, pop[1].rank), (0, 1));
        let algo = Nsga2::new(
            cfg_no_dedup(),
            UniformBits::new(8),
            Microbial { infection: 0.5 },
            BitFlip::with_rate(0.0),
        )
        .unwrap()
        .with_selection(Fixed(1, 0));
        let mut rng = crate::rng_from_seed(1);
        let kids = algo.mate(&pop, 2, &mut rng);
        // the winner passes on unchanged; the loser takes genes from it
        assert_eq!(kids[0], pop[0].genome);
        assert!(
            kids[1]
                .iter_ones()
                .all(|i| pop[0].genome.get(i) || pop[1].genome.get(i))
        );
        // a symmetric operator keeps the drawn order (runs with it are unchanged)
        let sym = Nsga2::new(
            cfg_no_dedup(),
            UniformBits::new(8),
            UniformCrossover { swap_prob: 0.0 },
            BitFlip::with_rate(0.0),
        )
        .unwrap()
        .with_selection(Fixed(1, 0));
        assert_eq!(sym.mate(&pop, 2, &mut rng)[0], pop[1].genome);
    }

    fn cfg_no_dedup() -> Nsga2Config {
        Nsga2Config {
            pop_size: 2,
            crossover_prob: 1.0,
            eliminate_duplicates: false,
            ..Default::default()
        }
    }
}
