//! Algorithms. Each lives in its own folder; adding one (NSGA-III, SMS-EMOA, MOEA/D, C-TAEA)
//! means adding a folder and implementing [`Algorithm`], without touching the others.
//!
//! | algorithm | use |
//! | --- | --- |
//! | [`Nsga2`] | NSGA-II, generational or steady state (`n_offspring` per step) |
//! | [`WeightedGa`] | elitist GA on a weighted sum of objectives (top-K + microbial crossover) |
//! | [`Ctaea`] | C-TAEA: constrained, two archives (convergence and diversity), reference directions |

pub mod ctaea;
mod nsga2;
mod weighted_ga;

pub use ctaea::{Ctaea, CtaeaConfig};
pub use nsga2::{Nsga2, Nsga2Config};
pub use weighted_ga::{WeightedGa, WeightedGaConfig};

use crate::genome::Genome;
use crate::{Individual, ObjectiveSpec, Result, State};

/// A population-based optimiser, written as ask and tell: it proposes genomes and takes their
/// evaluations back, and never evaluates anything itself. The [`Executor`](crate::Executor)
/// drives it on a [`Problem`](crate::Problem) in this process; an [`AskTell`](crate::AskTell)
/// session hands its candidates to any evaluator (Python, a Ray cluster) and takes the results
/// back in any order. All run memory lives in [`State`], so a checkpointed state plus the
/// algorithm's configuration is enough to continue a run exactly.
pub trait Algorithm<G: Genome>: Send {
    /// A short name, stored in checkpoints (a resume with another algorithm is refused).
    fn name(&self) -> &str;
    /// Check the algorithm against the problem's objectives (e.g. one weight per objective).
    fn check(&self, objectives: &[ObjectiveSpec]) -> Result<()> {
        let _ = objectives;
        Ok(())
    }
    /// The population size.
    fn pop_size(&self) -> usize;
    /// The initial population.
    fn sample(&self, state: &mut State<G>) -> Vec<G>;
    /// The candidates of one generation (one steady-state step), bred from `state.population`.
    fn offspring(&self, state: &mut State<G>) -> Vec<G>;
    /// Take evaluated candidates into the population: the initial population when
    /// `state.population` is empty, else the offspring of the last [`Algorithm::offspring`].
    fn tell(&self, state: &mut State<G>, evaluated: Vec<Individual<G>>);
    /// One candidate bred from the population as it is now, for asynchronous steady-state runs
    /// (each result is told alone, with [`Algorithm::tell`], as soon as it arrives); `None` when
    /// the algorithm is generational only.
    fn offspring_one(&self, state: &mut State<G>) -> Option<G> {
        let _ = state;
        None
    }
}

/// A boxed algorithm is an algorithm (a choice made at run time, e.g. from Python).
impl<G: Genome, A: Algorithm<G> + ?Sized> Algorithm<G> for Box<A> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn check(&self, objectives: &[ObjectiveSpec]) -> Result<()> {
        (**self).check(objectives)
    }
    fn pop_size(&self) -> usize {
        (**self).pop_size()
    }
    fn sample(&self, state: &mut State<G>) -> Vec<G> {
        (**self).sample(state)
    }
    fn offspring(&self, state: &mut State<G>) -> Vec<G> {
        (**self).offspring(state)
    }
    fn tell(&self, state: &mut State<G>, evaluated: Vec<Individual<G>>) {
        (**self).tell(state, evaluated)
    }
    fn offspring_one(&self, state: &mut State<G>) -> Option<G> {
        (**self).offspring_one(state)
    }
}

/// `n` genomes from `sampling`, all different when `dedup` (fewer if `rounds` of resampling do
/// not find enough): the initial population of NSGA-II and C-TAEA.
pub(crate) fn sample_distinct<G: Genome, S: crate::operator::Sampling<G>>(
    sampling: &S,
    n: usize,
    dedup: bool,
    rounds: usize,
    rng: &mut crate::EvoRng,
) -> Vec<G> {
    let mut genomes = sampling.sample(n, rng);
    if dedup {
        let mut seen = rustc_hash::FxHashSet::default();
        genomes.retain(|g| seen.insert(g.clone()));
        for _ in 0..rounds {
            if genomes.len() >= n {
                break;
            }
            for g in sampling.sample(n - genomes.len(), rng) {
                if seen.insert(g.clone()) {
                    genomes.push(g);
                }
            }
        }
    }
    genomes
}

/// Offspring being collected: with duplicate elimination, a child equal to a population member
/// or to an earlier child is turned away. Shared by NSGA-II's and C-TAEA's mating.
pub(crate) struct Brood<'a, G: Genome> {
    seen: Option<(rustc_hash::FxHashSet<&'a G>, rustc_hash::FxHashSet<G>)>,
    /// The children accepted so far, in order.
    pub kids: Vec<G>,
}

impl<'a, G: Genome> Brood<'a, G> {
    /// An empty brood of up to `n` children of `pop` (`dedup`: no duplicates).
    pub fn new(pop: &'a [Individual<G>], n: usize, dedup: bool) -> Self {
        Brood {
            seen: dedup.then(|| {
                (
                    pop.iter().map(|i| &i.genome).collect(),
                    rustc_hash::FxHashSet::default(),
                )
            }),
            kids: Vec::with_capacity(n),
        }
    }

    /// Take `c` unless it is a duplicate.
    pub fn offer(&mut self, c: G) {
        if let Some((pop, kids)) = &mut self.seen {
            if pop.contains(&c) || kids.contains(&c) {
                return;
            }
            kids.insert(c.clone());
        }
        self.kids.push(c);
    }
}

/// The items of `items` at positions `idx` (each at most once), in `idx`'s order.
pub(crate) fn take_at<T>(items: Vec<T>, idx: impl IntoIterator<Item = usize>) -> Vec<T> {
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    idx.into_iter()
        .map(|i| slots[i].take().expect("each position is taken once"))
        .collect()
}
