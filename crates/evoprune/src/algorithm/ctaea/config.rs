//! C-TAEA parameters.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// C-TAEA parameters (the population size is the number of reference directions). Defaults as
/// pymoo's `CTAEA`: crossover always, duplicates eliminated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct CtaeaConfig {
    /// Probability that a pair of parents is recombined (otherwise one is copied, then mutated).
    pub crossover_prob: f64,
    /// Reject offspring equal to an archive member or to another offspring.
    pub eliminate_duplicates: bool,
    /// Matings tried per wanted child to fill the offspring with non-duplicates.
    pub max_mating_rounds: usize,
}

impl Default for CtaeaConfig {
    fn default() -> Self {
        CtaeaConfig {
            crossover_prob: 1.0,
            eliminate_duplicates: true,
            max_mating_rounds: 100,
        }
    }
}

impl CtaeaConfig {
    /// Check every rule; one error per rule.
    pub fn validate(&self) -> Result<()> {
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
}
