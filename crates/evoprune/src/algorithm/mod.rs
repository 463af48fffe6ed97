//! Algorithms. Each lives in its own folder; adding one (NSGA-III, SMS-EMOA, MOEA/D, C-TAEA)
//! means adding a folder and implementing [`Algorithm`], without touching the others.
//!
//! | algorithm | use |
//! | --- | --- |
//! | [`Nsga2`] | NSGA-II, generational or steady state (`n_offspring` per step) |
//! | [`WeightedGa`] | elitist GA on a weighted sum of objectives (top-K + microbial crossover) |

mod nsga2;
mod weighted_ga;

pub use nsga2::{Nsga2, Nsga2Config};
pub use weighted_ga::{WeightedGa, WeightedGaConfig};

use crate::{Evaluator, Problem, Result, State};

/// A population-based optimiser. All run memory lives in [`State`], so a checkpointed state plus
/// the algorithm's configuration is enough to continue a run exactly.
pub trait Algorithm<P: Problem>: Send {
    /// A short name, stored in checkpoints (a resume with another algorithm is refused).
    fn name(&self) -> &str;
    /// Create, evaluate and rank the initial population.
    fn init(&self, ev: &mut Evaluator<'_, P>, state: &mut State<P::Genome>) -> Result<()>;
    /// One generation (or one steady-state step).
    fn step(&self, ev: &mut Evaluator<'_, P>, state: &mut State<P::Genome>) -> Result<()>;
}
