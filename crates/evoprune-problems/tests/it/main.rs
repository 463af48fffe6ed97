//! Integration tests of the engine on the standard problems.

mod quality;
mod resume;
mod robustness;

use evoprune::{
    Executor, MaxGenerations, Nsga2, Nsga2Config, Problem, RealVector, pareto::hypervolume,
};

/// Final-front hypervolume of pymoo-default NSGA-II on a real problem.
pub fn nsga2_hv<P: Problem<Genome = RealVector>>(
    problem: P,
    bounds: evoprune::RealBounds,
    pop: usize,
    gens: u64,
    seed: u64,
    reference: &[f64],
) -> f64 {
    let algo = Nsga2::real(
        Nsga2Config {
            pop_size: pop,
            ..Default::default()
        },
        bounds,
    )
    .unwrap();
    let res = Executor::new(problem, algo)
        .seed(seed)
        .termination(MaxGenerations(gens))
        .run()
        .unwrap();
    let front: Vec<&[f64]> = res.front().iter().map(|i| i.f.as_slice()).collect();
    hypervolume(&front, reference)
}
