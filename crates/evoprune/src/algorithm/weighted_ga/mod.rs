//! Elitist GA on a weighted sum of objectives, as in Yang et al. 2019 ("Multi-Objective Pruning
//! for CNNs Using Genetic Algorithm", ICANN, doi:10.1007/978-3-030-30484-3_25).
//!
//! Each generation: the best member (the elite) survives unchanged; the other `pop_size - 1`
//! are children of pairs drawn from the `top_k` best, recombined with probability
//! `crossover_prob` (microbial crossover by default: the loser copies genes from the winner),
//! then mutated. Fitness is `sum_i w_i * f_i` over the minimisation-form objectives; feasible
//! members rank before infeasible ones. Defaults are the paper's: N = 30, K = 5, Pc = 0.6.

use super::Algorithm;
use crate::genome::Genome;
use crate::operator::{Crossover, Mutation, RankAndCrowding, Sampling, Selection, TopK};
use crate::{Error, Individual, ObjectiveSpec, Result, State};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Parameters of [`WeightedGa`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct WeightedGaConfig {
    /// Population size N.
    pub pop_size: usize,
    /// Parents are drawn from the K best.
    pub top_k: usize,
    /// Crossover probability Pc.
    pub crossover_prob: f64,
    /// One weight per objective (lambda), applied to the minimisation-form values.
    pub weights: Vec<f64>,
}

impl Default for WeightedGaConfig {
    fn default() -> Self {
        WeightedGaConfig {
            pop_size: 30,
            top_k: 5,
            crossover_prob: 0.6,
            weights: Vec::new(),
        }
    }
}

impl WeightedGaConfig {
    /// Check every rule.
    pub fn validate(&self) -> Result<()> {
        if self.pop_size < 2 {
            return Err(Error::config(
                "pop_size",
                format!("must be at least 2, got {}", self.pop_size),
            ));
        }
        if self.top_k < 1 || self.top_k > self.pop_size {
            return Err(Error::config(
                "top_k",
                format!(
                    "must be in [1, pop_size = {}], got {}",
                    self.pop_size, self.top_k
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.crossover_prob) {
            return Err(Error::config(
                "crossover_prob",
                format!("must be in [0, 1], got {}", self.crossover_prob),
            ));
        }
        if self.weights.is_empty() || self.weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(Error::config(
                "weights",
                "need one finite, non-negative weight per objective",
            ));
        }
        Ok(())
    }
}

/// The weighted-sum elitist GA.
pub struct WeightedGa<S, X, M> {
    config: WeightedGaConfig,
    /// Initial population.
    pub sampling: S,
    /// Recombination of (winner, loser); the second child is kept.
    pub crossover: X,
    /// Mutation of every child (never of the elite).
    pub mutation: M,
}

impl<S, X, M> WeightedGa<S, X, M> {
    /// A weighted GA with the given operators.
    pub fn new(config: WeightedGaConfig, sampling: S, crossover: X, mutation: M) -> Result<Self> {
        config.validate()?;
        Ok(WeightedGa {
            config,
            sampling,
            crossover,
            mutation,
        })
    }

    fn assign_fitness<G>(&self, pop: &mut [Individual<G>]) {
        for ind in pop.iter_mut() {
            ind.fitness = ind
                .f
                .iter()
                .zip(&self.config.weights)
                .map(|(f, w)| f * w)
                .sum();
            if !ind.fitness.is_finite() {
                ind.fitness = f64::INFINITY;
            }
        }
        // `rank` and `crowding` keep their meaning (non-domination rank, crowding distance), so
        // `State::front` and hypervolume histories see the population's real first front; the
        // fitness order lives in `fitness` and the population's order (best first).
        RankAndCrowding::assign(pop);
    }

    /// Sort `pop` best first by (violation, fitness), the order elitism and top-K use.
    fn sort_by_fitness<G>(pop: Vec<Individual<G>>) -> Vec<Individual<G>> {
        let order = TopK::order(&pop);
        let mut slots: Vec<Option<Individual<G>>> = pop.into_iter().map(Some).collect();
        order
            .into_iter()
            .map(|i| slots[i].take().expect("an order visits each member once"))
            .collect()
    }
}

impl<G, S, X, M> Algorithm<G> for WeightedGa<S, X, M>
where
    G: Genome,
    S: Sampling<G>,
    X: Crossover<G>,
    M: Mutation<G>,
{
    fn name(&self) -> &str {
        "weighted-ga"
    }

    fn check(&self, objectives: &[ObjectiveSpec]) -> Result<()> {
        let m = objectives.len();
        if self.config.weights.len() != m {
            return Err(Error::config(
                "weights",
                format!("{} weights for {m} objectives", self.config.weights.len()),
            ));
        }
        Ok(())
    }

    fn pop_size(&self) -> usize {
        self.config.pop_size
    }

    fn sample(&self, state: &mut State<G>) -> Vec<G> {
        self.sampling.sample(self.config.pop_size, &mut state.rng)
    }

    fn offspring(&self, state: &mut State<G>) -> Vec<G> {
        let pop = &state.population;
        let rng = &mut state.rng;
        let pairs = TopK {
            k: self.config.top_k,
        }
        .select(pop, self.config.pop_size - 1, rng);
        let mut kids = Vec::with_capacity(pairs.len());
        for (w, l) in pairs {
            let mut child = if rng.random::<f64>() < self.config.crossover_prob {
                let [_, c] = self
                    .crossover
                    .crossover(&pop[w].genome, &pop[l].genome, rng);
                c
            } else if rng.random::<bool>() {
                pop[w].genome.clone()
            } else {
                pop[l].genome.clone()
            };
            self.mutation.mutate(&mut child, rng);
            kids.push(child);
        }
        kids
    }

    fn tell(&self, state: &mut State<G>, evaluated: Vec<Individual<G>>) {
        // the elite (best of the population that bred the offspring) survives unchanged
        let mut next = match TopK::order(&state.population).first() {
            Some(&e) => vec![state.population[e].clone()],
            None => Vec::new(),
        };
        next.extend(evaluated);
        self.assign_fitness(&mut next);
        state.population = Self::sort_by_fitness(next);
    }
}
