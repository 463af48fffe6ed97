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
    // WFG with the last objective sliced off (the engine) against the recursion it replaced
    // (issue 14), which stayed in m dimensions all the way down: same values, fewer calls.
    let mut g = c.benchmark_group("hypervolume_wfg");
    for &(n, m) in &[(50usize, 4usize), (30, 5), (20, 6)] {
        let pts = sphere_points(n, m, 3);
        let r = vec![1.1; m];
        let (old, calls) = unsliced::hypervolume(&pts, &r);
        let new = hypervolume(&pts, &r);
        assert!((old - new).abs() <= 1e-12 * new, "m{m}: {old} vs {new}");
        eprintln!("hypervolume m{m} n{n}: {new:.12}; unsliced WFG made {calls} recursive calls");
        g.bench_with_input(BenchmarkId::new(format!("sliced_m{m}"), n), &pts, |b, p| {
            b.iter(|| black_box(hypervolume(p, &r)))
        });
        g.bench_with_input(
            BenchmarkId::new(format!("unsliced_m{m}"), n),
            &pts,
            |b, p| b.iter(|| black_box(unsliced::hypervolume(p, &r).0)),
        );
    }
    g.finish();
}

/// The WFG recursion as it was before issue 14, kept here only as the bench's peer: the limit
/// sets were recursed on in all m objectives, so the 3-D sweep was never reached.
mod unsliced {
    pub fn hypervolume(pts: &[Vec<f64>], r: &[f64]) -> (f64, u64) {
        let mut calls = 0;
        let pts: Vec<Vec<f64>> = pts
            .iter()
            .filter(|p| p.iter().zip(r).all(|(x, rr)| x < rr))
            .cloned()
            .collect();
        (wfg(pts, r, &mut calls), calls)
    }

    fn wfg(mut pts: Vec<Vec<f64>>, r: &[f64], calls: &mut u64) -> f64 {
        *calls += 1;
        let m = r.len();
        pts.sort_by(|a, b| b[m - 1].total_cmp(&a[m - 1]));
        let mut total = 0.0;
        for k in 0..pts.len() {
            let incl: f64 = pts[k].iter().zip(r).map(|(x, rr)| rr - x).product();
            let limit: Vec<Vec<f64>> = pts[k + 1..]
                .iter()
                .map(|q| q.iter().zip(&pts[k]).map(|(a, b)| a.max(*b)).collect())
                .collect();
            let limit = non_dominated_unique(limit);
            let sub = match limit.len() {
                0 => 0.0,
                1 => limit[0].iter().zip(r).map(|(x, rr)| rr - x).product(),
                _ => wfg(limit, r, calls),
            };
            total += incl - sub;
        }
        total
    }

    fn non_dominated_unique(pts: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        let mut keep: Vec<Vec<f64>> = Vec::with_capacity(pts.len());
        'outer: for p in pts {
            let mut i = 0;
            while i < keep.len() {
                if keep[i].iter().zip(&p).all(|(a, b)| a <= b) {
                    continue 'outer;
                }
                if p.iter().zip(&keep[i]).all(|(a, b)| a <= b) {
                    keep.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            keep.push(p);
        }
        keep
    }
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
