//! # evoprune — the evolutionary engine
//!
//! Multi-objective evolutionary search as a library: genomes, operators, NSGA-II (generational
//! and steady state), a weighted-sum elitist GA, Pareto tools, an evaluation cache, termination
//! rules, observers and crash-safe checkpoints. It knows nothing of neural networks and never
//! prints; a neural backend implements [`Problem`], a front end implements [`Observer`].
//!
//! | concept | items |
//! | --- | --- |
//! | what to optimise | [`Problem`], [`ObjectiveSpec`], [`Evaluation`] |
//! | genomes | [`BitString`], [`RealVector`], [`IntVector`], [`MixedGenome`] |
//! | operators | [`operator`]: samplings, crossovers, mutations, selections, survival |
//! | algorithms | [`Nsga2`], [`WeightedGa`], the [`Algorithm`] trait |
//! | evaluating elsewhere | [`AskTell`] (generational or asynchronous ask/tell, journaled) |
//! | running | [`Executor`], [`Evaluator`], [`State`], terminations, [`Observer`], [`FileCheckpoint`] |
//! | Pareto tools | [`pareto`]: sorting, crowding, hypervolume, archive |
//!
//! ```
//! use evoprune::test_utils::Schaffer;
//! use evoprune::{Executor, MaxEvaluations, Nsga2, Nsga2Config, pareto::hypervolume};
//! let problem = Schaffer::new();
//! let algo = Nsga2::real(Nsga2Config { pop_size: 40, ..Default::default() }, problem.bounds()).unwrap();
//! let res = Executor::new(problem, algo).seed(7).termination(MaxEvaluations(2000)).run().unwrap();
//! let front: Vec<&[f64]> = res.front().iter().map(|i| i.f.as_slice()).collect();
//! assert!(hypervolume(&front, &[4.0, 4.0]) > 10.0);
//! ```

pub mod algorithm;
pub mod ask_tell;
pub mod checkpoint;
mod error;
mod evaluator;
mod executor;
pub mod genome;
mod individual;
pub mod observer;
pub mod operator;
pub mod pareto;
mod problem;
mod rng;
mod state;
pub mod termination;
pub mod test_utils;

pub use algorithm::{
    Algorithm, Ctaea, CtaeaConfig, Nsga2, Nsga2Config, WeightedGa, WeightedGaConfig,
};
pub use ask_tell::{AskTell, Mode, Session};
pub use checkpoint::{FileCheckpoint, Journal, Snapshot};
pub use error::{Error, Result};
pub use evaluator::{Evaluator, Remote, error_chain};
pub use executor::{DEFAULT_STALL_LIMIT, Executor, RunResult};
pub use genome::{
    BitString, Genome, GenomeDistance, IntBounds, IntVector, Linear, MixedBounds, MixedGenome,
    RealBounds, RealVector,
};
pub use individual::Individual;
pub use observer::{Event, Observer};
pub use operator::{
    BiasedBits, BinaryTournament, BitFlip, Crossover, DensitySpread, IntPolynomialMutation, IntSbx,
    Microbial, MixedCrossover, MixedMutation, MixedSampling, Mutation, NegativeAssortativeMating,
    OnePoint, PolynomialMutation, RankAndCrowding, Sampling, Sbx, Selection, SpreadReal, Survival,
    TopK, TournamentRule, TwoPoint, UniformBits, UniformCrossover, UniformInt, UniformReal,
};
pub use problem::{Direction, Evaluation, ObjectiveSpec, Outcome, Problem};
pub use rng::{EvoRng, rng_from_seed};
pub use state::{EvalCache, HvRecord, State, Stats};
pub use termination::{
    AnyOf, HvStagnation, MaxEvaluations, MaxGenerations, MaxTime, Termination, TerminationReason,
};

#[cfg(test)]
mod autotraits {
    use super::*;
    fn send_sync<T: Send + Sync>() {}
    #[test]
    fn public_types_are_send_and_sync() {
        send_sync::<BitString>();
        send_sync::<RealVector>();
        send_sync::<MixedGenome>();
        send_sync::<State<BitString>>();
        send_sync::<Individual<RealVector>>();
        send_sync::<Nsga2<RealVector, UniformReal, Sbx, PolynomialMutation>>();
        send_sync::<FileCheckpoint>();
        send_sync::<Error>();
    }
}
