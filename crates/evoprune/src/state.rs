//! The complete, serialisable state of a run.

use crate::genome::Genome;
use crate::pareto::Archive;
use crate::problem::Outcome;
use crate::{EvoRng, Individual, rng_from_seed};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counters and history that terminations, observers and reports read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Completed generations (steps); 0 right after initialisation.
    pub generation: u64,
    /// Evaluations charged to the run: every genome whose outcome was not served by the cache.
    pub evaluations: u64,
    /// Genomes served by the evaluation cache (not charged).
    pub cache_hits: u64,
    /// Evaluations that failed (the candidate became infeasible).
    pub failures: u64,
    /// Wall time spent in the run, summed over resumes, in seconds.
    pub elapsed_secs: f64,
    /// Hypervolume of the feasible first front after each generation (when a reference point is set).
    pub hv_history: Vec<HvRecord>,
}

/// One hypervolume measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HvRecord {
    /// Generation it was measured after.
    pub generation: u64,
    /// Evaluations charged by then.
    pub evaluations: u64,
    /// Hypervolume of the feasible first front.
    pub hypervolume: f64,
}

/// Every evaluated genome with its full outcome (FxHash: genomes are hashed often and are not
/// adversarial; lookups only, so the hasher never affects results): all objectives, constraints and extras (not
/// only the first objective, a known defect of the original MO-EvoPruneDeepTL cache).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "G: Genome")]
pub struct EvalCache<G: Genome> {
    map: FxHashMap<G, Outcome>,
}

impl<G: Genome> Default for EvalCache<G> {
    fn default() -> Self {
        EvalCache {
            map: FxHashMap::default(),
        }
    }
}

impl<G: Genome> EvalCache<G> {
    /// The cached outcome of `g`.
    pub fn get(&self, g: &G) -> Option<&Outcome> {
        self.map.get(g)
    }
    /// Store an outcome.
    pub fn insert(&mut self, g: G, o: Outcome) {
        self.map.insert(g, o);
    }
    /// Every cached genome with its outcome, in no particular order (sort before any use
    /// that could affect results).
    pub fn iter(&self) -> impl Iterator<Item = (&G, &Outcome)> {
        self.map.iter()
    }

    /// Number of distinct genomes stored.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The state of a run: everything needed to continue it exactly, RNG included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "G: Genome")]
pub struct State<G: Genome> {
    /// The current population, ranked.
    pub population: Vec<Individual<G>>,
    /// The run's random number generator.
    pub rng: EvoRng,
    /// Counters and history.
    pub stats: Stats,
    /// The evaluation cache, when enabled.
    pub cache: Option<EvalCache<G>>,
    /// Every feasible non-dominated solution seen, when enabled: (objectives, genome).
    pub archive: Option<Archive<G>>,
    /// Numeric memory for algorithms that need more than a population (weights, ideal points).
    pub aux: BTreeMap<String, Vec<f64>>,
}

/// Key in [`State::aux`] of the number of consecutive generations that evaluated nothing new
/// (every offspring a duplicate or served by the cache); the executor stops the run when it
/// reaches its stall limit. Kept in `aux`, not in [`Stats`], so that checkpoints written before
/// it existed still load (their binary layout has no room for a new field).
pub const STALLED_GENERATIONS: &str = "stalled_generations";

impl<G: Genome> State<G> {
    /// Consecutive generations that evaluated nothing new ([`STALLED_GENERATIONS`]).
    pub fn stalled_generations(&self) -> u64 {
        self.aux
            .get(STALLED_GENERATIONS)
            .and_then(|v| v.first())
            .map_or(0, |&x| x as u64)
    }

    /// A fresh state seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        State {
            population: Vec::new(),
            rng: rng_from_seed(seed),
            stats: Stats::default(),
            cache: None,
            archive: None,
            aux: BTreeMap::new(),
        }
    }

    /// Append the hypervolume of the feasible first front against `reference` to the history.
    pub fn record_hv(&mut self, reference: &[f64]) {
        let front: Vec<&[f64]> = self.front().into_iter().map(|i| i.f.as_slice()).collect();
        let hv = crate::pareto::hypervolume(&front, reference);
        self.stats.hv_history.push(HvRecord {
            generation: self.stats.generation,
            evaluations: self.stats.evaluations,
            hypervolume: hv,
        });
    }

    /// Feasible members of the first front (the current approximation of the Pareto set).
    pub fn front(&self) -> Vec<&Individual<G>> {
        self.population
            .iter()
            .filter(|i| i.rank == 0 && i.is_feasible())
            .collect()
    }
}
