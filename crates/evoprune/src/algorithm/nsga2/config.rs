//! NSGA-II parameters.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// NSGA-II parameters. Defaults follow Deb et al. 2002 and pymoo: population 100, as many
/// offspring as the population, crossover probability 0.9, duplicates eliminated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Nsga2Config {
    /// Population size.
    pub pop_size: usize,
    /// Offspring per step; `None` means `pop_size` (generational). A small value (MO-EvoPruneDeepTL
    /// uses 2) gives the steady-state variant.
    pub n_offspring: Option<usize>,
    /// Probability that a pair of parents is recombined (otherwise copied, then mutated).
    pub crossover_prob: f64,
    /// Reject offspring equal to a population member or to another offspring.
    pub eliminate_duplicates: bool,
    /// Rounds of mating tried to fill the offspring with non-duplicates.
    pub max_mating_rounds: usize,
}

impl Default for Nsga2Config {
    fn default() -> Self {
        Nsga2Config {
            pop_size: 100,
            n_offspring: None,
            crossover_prob: 0.9,
            eliminate_duplicates: true,
            max_mating_rounds: 100,
        }
    }
}

impl Nsga2Config {
    /// MO-EvoPruneDeepTL's steady state: population 30, 2 offspring per step, crossover always.
    pub fn steady_state(pop_size: usize, n_offspring: usize) -> Self {
        Nsga2Config {
            pop_size,
            n_offspring: Some(n_offspring),
            crossover_prob: 1.0,
            ..Default::default()
        }
    }

    /// Check every rule; one error per rule.
    pub fn validate(&self) -> Result<()> {
        if self.pop_size < 2 {
            return Err(Error::config(
                "pop_size",
                format!("must be at least 2, got {}", self.pop_size),
            ));
        }
        if self.n_offspring == Some(0) {
            return Err(Error::config("n_offspring", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.crossover_prob) {
            return Err(Error::config(
                "crossover_prob",
                format!("must be in [0, 1], got {}", self.crossover_prob),
            ));
        }
        if self.max_mating_rounds == 0 {
            return Err(Error::config("max_mating_rounds", "must be at least 1"));
        }
        Ok(())
    }

    /// Offspring per step.
    pub fn offspring(&self) -> usize {
        self.n_offspring.unwrap_or(self.pop_size)
    }
}
