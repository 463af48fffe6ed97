//! Engine benchmarks: the full NSGA-II run on ZDT1 (population 100, 250 generations; the
//! reference implementation needs about 2.0 s on this 2-core machine, the target is 40 ms),
//! plus its components.
//!
//! Run: `cargo bench -p evoprune-problems --bench engine`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use evoprune::pareto::{crowding_distance, hypervolume, non_dominated_sort};
use evoprune::{
    BitFlip, BitString, Crossover, DensitySpread, Executor, MaxGenerations, Mutation, Nsga2,
    Nsga2Config, Sampling, UniformCrossover, rng_from_seed,
};
use evoprune_problems::{Dtlz, Zdt};
use rand::Rng;
use std::hint::black_box;

fn zdt1_run(cache: bool) -> f64 {
    let p = Zdt::zdt1();
    let algo = Nsga2::real(Nsga2Config::default(), p.bounds()).unwrap();
    let r = Executor::new(p, algo)
        .seed(1)
        .cache(cache)
        .termination(MaxGenerations(250))
        .run()
        .unwrap();
    r.state.population[0].f[0]
}

fn full_runs(c: &mut Criterion) {
    let mut g = c.benchmark_group("nsga2_run");
    g.sample_size(20);
    g.bench_function("zdt1_pop100_gen250", |b| {
        b.iter(|| black_box(zdt1_run(false)))
    });
    g.bench_function("zdt1_pop100_gen250_cached", |b| {
        b.iter(|| black_box(zdt1_run(true)))
    });
    g.bench_function("dtlz2_m3_pop100_gen250", |b| {
        b.iter(|| {
            let p = Dtlz::dtlz2(3);
            let algo = Nsga2::real(Nsga2Config::default(), p.bounds()).unwrap();
            black_box(
                Executor::new(p, algo)
                    .seed(1)
                    .cache(false)
                    .termination(MaxGenerations(250))
                    .run()
                    .unwrap()
                    .state
                    .stats
                    .evaluations,
            )
        })
    });
    g.finish();
}

fn random_points(n: usize, m: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = rng_from_seed(seed);
    (0..n)
        .map(|_| (0..m).map(|_| rng.random::<f64>()).collect())
        .collect()
}

/// Points on the unit sphere's positive orthant: all mutually non-dominated (the hard case for HV).
fn sphere_points(n: usize, m: usize, seed: u64) -> Vec<Vec<f64>> {
    random_points(n, m, seed)
        .into_iter()
        .map(|v| {
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn pareto_tools(c: &mut Criterion) {
    let mut g = c.benchmark_group("sort");
    for &(n, m) in &[(200usize, 2usize), (200, 3), (1000, 2), (1000, 3)] {
        let pts = random_points(n, m, 1);
        g.bench_with_input(BenchmarkId::new(format!("m{m}"), n), &pts, |b, p| {
            b.iter(|| black_box(non_dominated_sort(p)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("crowding");
    let pts = sphere_points(200, 3, 2);
    let front: Vec<usize> = (0..200).collect();
    g.bench_function("m3_n200", |b| {
        b.iter(|| black_box(crowding_distance(&pts, &front)))
    });
    g.finish();
    let mut g = c.benchmark_group("hypervolume");
    for &(n, m) in &[(100usize, 2usize), (100, 3), (1000, 3), (50, 4), (30, 5)] {
        let pts = sphere_points(n, m, 3);
        let r = vec![1.1; m];
        g.bench_with_input(BenchmarkId::new(format!("m{m}"), n), &pts, |b, p| {
            b.iter(|| black_box(hypervolume(p, &r)))
        });
    }
    g.finish();
}

fn bit_operators(c: &mut Criterion) {
    let mut g = c.benchmark_group("bits_2M");
    let mut rng = rng_from_seed(1);
    let pop = DensitySpread::new(2_000_000).sample(2, &mut rng);
    g.bench_function("uniform_crossover", |b| {
        b.iter(|| black_box(UniformCrossover::default().crossover(&pop[0], &pop[1], &mut rng)))
    });
    g.bench_function("bitflip_1_over_L", |b| {
        let mut x: BitString = pop[0].clone();
        b.iter(|| BitFlip::default().mutate(&mut x, &mut rng))
    });
    g.bench_function("density_spread_sample", |b| {
        b.iter(|| black_box(DensitySpread::new(2_000_000).sample(1, &mut rng)))
    });
    g.finish();
}

criterion_group!(benches, full_runs, pareto_tools, bit_operators);
criterion_main!(benches);
