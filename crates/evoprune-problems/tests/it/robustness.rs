//! Determinism across threads, failed evaluations, constraints, the cache, the weighted GA.

use evoprune::test_utils::OneMax;
use evoprune::{
    BitFlip, DensitySpread, Executor, MaxEvaluations, MaxGenerations, MaxTime, Microbial, Nsga2,
    Nsga2Config, TerminationReason, UniformBits, UniformCrossover, WeightedGa, WeightedGaConfig,
    pareto::hypervolume,
};
use std::time::Duration;

/// A budget of 200 evaluations over a space of 2^3 = 8 genomes: every algorithm must stop
/// with a named reason once nothing new is left, not spin (a wall-time backstop turns a spin
/// into a failure instead of a hung test).
#[test]
fn a_budget_larger_than_the_search_space_ends_the_run() {
    fn check<A: evoprune::Algorithm<<Knapsack as evoprune::Problem>::Genome>>(algo: A, what: &str) {
        let r = Executor::new(Knapsack::random(3, 2, 5), algo)
            .seed(2)
            .termination(MaxEvaluations(200))
            .termination(MaxTime(Duration::from_secs(60)))
            .run()
            .unwrap();
        let TerminationReason::SearchSpaceExhausted { distinct } = r.reason else {
            panic!("{what}: stopped by {:?}", r.reason);
        };
        assert!(
            distinct <= 8 && distinct == r.state.stats.evaluations,
            "{what}: {distinct}"
        );
        assert_eq!(r.state.stalled_generations(), evoprune::DEFAULT_STALL_LIMIT);
        assert_eq!(
            r.reason.to_string(),
            format!("search space exhausted: {distinct} distinct genomes evaluated")
        );
        assert!(!r.front().is_empty(), "{what}: the outputs are still there");
    }
    check(
        Nsga2::binary(Nsga2Config::steady_state(4, 2), 3).unwrap(),
        "nsga2-steady",
    );
    check(
        Nsga2::binary(
            Nsga2Config {
                pop_size: 6,
                ..Default::default()
            },
            3,
        )
        .unwrap(),
        "nsga2",
    );
    let weighted = WeightedGa::new(
        WeightedGaConfig {
            pop_size: 6,
            top_k: 3,
            weights: vec![0.5, 0.5],
            ..Default::default()
        },
        DensitySpread::new(3),
        Microbial::default(),
        BitFlip::default(),
    )
    .unwrap();
    check(weighted, "weighted-ga");
}

/// The weighted GA keeps `rank` as the non-domination rank: on OneMax/ZeroMax every genome is
/// Pareto-optimal, so its first front is every distinct member, not the fitness winner alone.
#[test]
fn weighted_ga_reports_the_non_dominated_front() {
    let algo = WeightedGa::new(
        WeightedGaConfig {
            weights: vec![0.5, 0.5],
            ..Default::default()
        },
        DensitySpread::new(40),
        Microbial::default(),
        BitFlip::default(),
    )
    .unwrap();
    let r = Executor::new(OneMax::new(40, 0), algo)
        .seed(4)
        .hv_reference(vec![0.0, 0.0])
        .termination(MaxGenerations(5))
        .run()
        .unwrap();
    let pop = &r.state.population;
    // all members are mutually non-dominated (rank 0); the elite is still first by fitness
    assert!(
        pop.iter().all(|i| i.rank == 0),
        "{:?}",
        pop.iter().map(|i| i.rank).collect::<Vec<_>>()
    );
    assert!(pop.windows(2).all(|w| w[0].fitness <= w[1].fitness));
    let ones: std::collections::BTreeSet<usize> =
        pop.iter().map(|i| i.genome.count_ones()).collect();
    assert!(ones.len() > 1 && r.front().len() == pop.len());
    // and the hypervolume history measures that front, not one point of it
    let front: Vec<&[f64]> = r.front().iter().map(|i| i.f.as_slice()).collect();
    let last = r.state.stats.hv_history.last().unwrap().hypervolume;
    assert_eq!(last, hypervolume(&front, &[0.0, 0.0]));
    let one = hypervolume(&[pop[0].f.as_slice()], &[0.0, 0.0]);
    assert!(last > one, "{last} vs the elite alone {one}");
}
use evoprune_problems::{Dtlz, Knapsack};

#[test]
fn same_seed_same_front_on_one_or_many_threads() {
    let run = |threads| {
        let p = Dtlz::dtlz2(3);
        let algo = Nsga2::real(
            Nsga2Config {
                pop_size: 40,
                ..Default::default()
            },
            p.bounds(),
        )
        .unwrap();
        let r = Executor::new(p, algo)
            .seed(3)
            .threads(threads)
            .termination(MaxGenerations(20))
            .run()
            .unwrap();
        r.state
            .population
            .iter()
            .map(|i| (i.genome.clone(), i.rank))
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
    assert_eq!(one, run(1));
}

#[test]
fn failed_evaluations_become_infeasible_and_the_run_goes_on() {
    // every genome with a multiple of 7 ones fails ("NaN loss")
    let p = OneMax::new(60, 7);
    let algo = Nsga2::new(
        Nsga2Config {
            pop_size: 30,
            ..Default::default()
        },
        DensitySpread::new(60),
        UniformCrossover::default(),
        BitFlip::default(),
    )
    .unwrap();
    let r = Executor::new(p, algo)
        .seed(1)
        .termination(MaxGenerations(30))
        .run()
        .unwrap();
    assert!(r.state.stats.failures > 0);
    assert!(r.front().iter().all(|i| i.evaluation().is_some()
        && (i.genome.count_ones() == 0 || i.genome.count_ones() % 7 != 0)));
    // failed members, if any survive, rank behind every feasible one
    let worst_feasible = r
        .state
        .population
        .iter()
        .filter(|i| i.is_feasible())
        .map(|i| i.rank)
        .max()
        .unwrap();
    assert!(
        r.state
            .population
            .iter()
            .filter(|i| !i.is_feasible())
            .all(|i| i.rank > worst_feasible)
    );
}

#[test]
fn cache_serves_repeated_genomes_with_every_objective() {
    // tiny space (2^6 genomes): duplicates are certain
    let p = OneMax::new(6, 0);
    let algo = Nsga2::new(
        Nsga2Config {
            pop_size: 8,
            eliminate_duplicates: false,
            ..Default::default()
        },
        UniformBits::new(6),
        UniformCrossover::default(),
        BitFlip::default(),
    )
    .unwrap();
    let r = Executor::new(p, algo)
        .seed(5)
        .termination(MaxGenerations(40))
        .run()
        .unwrap();
    let s = &r.state.stats;
    assert!(s.cache_hits > 0);
    assert!(
        s.evaluations <= 64,
        "at most one real evaluation per distinct genome: {}",
        s.evaluations
    );
    let cache = r.state.cache.as_ref().unwrap();
    assert_eq!(cache.len() as u64, s.evaluations);
    for ind in &r.state.population {
        let e = cache.get(&ind.genome).unwrap().as_ref().unwrap();
        assert_eq!(e.objectives.len(), 2, "all objectives cached");
        assert_eq!(e.objectives, ind.evaluation().unwrap().objectives);
    }
}

#[test]
fn constrained_knapsack_front_is_feasible_and_improves() {
    let p = Knapsack::random(100, 2, 7);
    let reference = vec![0.0, 0.0];
    let algo = Nsga2::binary(
        Nsga2Config {
            pop_size: 50,
            ..Default::default()
        },
        100,
    )
    .unwrap();
    let r = Executor::new(p, algo)
        .seed(1)
        .hv_reference(reference)
        .archive(true)
        .termination(MaxGenerations(100))
        .run()
        .unwrap();
    assert!(!r.front().is_empty());
    assert!(r.front().iter().all(|i| i.is_feasible() && i.cv == 0.0));
    let h = &r.state.stats.hv_history;
    assert_eq!(h.len(), 101);
    assert!(
        h.last().unwrap().hypervolume > h[0].hypervolume * 1.2,
        "{} -> {}",
        h[0].hypervolume,
        h.last().unwrap().hypervolume
    );
    // the archive holds everything non-dominated ever seen, so it dominates at least the front
    let archive = r.state.archive.as_ref().unwrap();
    let a: Vec<&[f64]> = archive.objectives();
    let f: Vec<&[f64]> = r.front().iter().map(|i| i.f.as_slice()).collect();
    assert!(hypervolume(&a, &[0.0, 0.0]) >= hypervolume(&f, &[0.0, 0.0]));
}

#[test]
fn weighted_ga_keeps_its_elite_and_improves_fitness() {
    let p = Knapsack::random(80, 2, 11);
    let cfg = WeightedGaConfig {
        weights: vec![0.5, 0.5],
        ..Default::default()
    };
    let algo = WeightedGa::new(
        cfg,
        DensitySpread::new(80),
        Microbial::default(),
        BitFlip::with_rate(0.02),
    )
    .unwrap();
    let mut best = Vec::new();
    let r = Executor::new(p, algo)
        .seed(3)
        .termination(MaxGenerations(60))
        .observer(
            move |e: &evoprune::Event, s: &evoprune::State<evoprune::BitString>, _: f64| {
                if *e == evoprune::Event::Generation {
                    let b = s.population[0].fitness;
                    if let Some(&prev) = best.last() {
                        assert!(
                            b <= prev,
                            "elitism: best fitness never worsens ({prev} -> {b})"
                        );
                    }
                    best.push(b);
                }
            },
        )
        .run()
        .unwrap();
    assert_eq!(r.state.population.len(), 30);
    assert!(r.state.population[0].is_feasible());
    assert!(
        r.state.population[0].fitness < 0.0,
        "profits are maximised, so feasible fitness is negative"
    );
}

#[test]
fn weighted_ga_rejects_wrong_weight_count() {
    let p = Knapsack::random(10, 2, 1);
    let cfg = WeightedGaConfig {
        weights: vec![1.0],
        ..Default::default()
    };
    let algo = WeightedGa::new(
        cfg,
        DensitySpread::new(10),
        Microbial::default(),
        BitFlip::default(),
    )
    .unwrap();
    let e = Executor::new(p, algo).run().unwrap_err();
    assert!(e.to_string().contains("weights"), "{e}");
}

#[test]
fn two_million_bit_masks_are_practical() {
    // a steady-state step over 2M-bit genomes: sampling, crossover, mutation, dedup, cache
    let p = OneMax::new(2_000_000, 0);
    let algo = Nsga2::new(
        Nsga2Config::steady_state(10, 2),
        DensitySpread::new(2_000_000),
        UniformCrossover::default(),
        BitFlip::default(),
    )
    .unwrap();
    let r = Executor::new(p, algo)
        .seed(1)
        .termination(MaxGenerations(20))
        .run()
        .unwrap();
    assert_eq!(r.state.stats.evaluations, 10 + 40);
    assert!(
        r.state
            .population
            .iter()
            .all(|i| i.genome.len() == 2_000_000)
    );
}
