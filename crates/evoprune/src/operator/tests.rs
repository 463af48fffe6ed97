//! Property tests shared by all operators: lengths and bounds are kept.

use super::*;
use crate::genome::{BitString, IntBounds, IntVector, MixedBounds, RealBounds, RealVector};
use crate::{Evaluation, ObjectiveSpec, rng_from_seed};
use proptest::prelude::*;

fn real_bounds(n: usize, seed: u64) -> RealBounds {
    let mut rng = rng_from_seed(seed);
    use rand::Rng;
    let lo: Vec<f64> = (0..n).map(|_| rng.random_range(-5.0..0.0)).collect();
    let hi: Vec<f64> = lo
        .iter()
        .map(|l| l + rng.random_range(0.001..10.0))
        .collect();
    RealBounds::new(lo, hi).unwrap()
}

fn int_bounds(n: usize) -> IntBounds {
    IntBounds::new(
        (0..n as i64).map(|i| -i).collect(),
        (0..n as i64).map(|i| i % 3).collect(),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn real_operators_keep_length_and_bounds(n in 1usize..40, seed in any::<u64>()) {
        let b = real_bounds(n, seed);
        let mut rng = rng_from_seed(seed ^ 1);
        let pop = UniformReal { bounds: b.clone() }.sample(4, &mut rng);
        for g in &pop { prop_assert!(b.contains(g)); }
        let [c1, c2] = Sbx::new(b.clone()).crossover(&pop[0], &pop[1], &mut rng);
        let mut c3 = pop[2].clone();
        PolynomialMutation { prob_var: Some(1.0), ..PolynomialMutation::new(b.clone()) }.mutate(&mut c3, &mut rng);
        for c in [&c1, &c2, &c3] { prop_assert!(b.contains(c), "{:?} outside bounds", c); }
        for x in [OnePoint.crossover(&pop[0], &pop[1], &mut rng), TwoPoint.crossover(&pop[0], &pop[1], &mut rng),
                  UniformCrossover::default().crossover(&pop[0], &pop[1], &mut rng), Microbial::default().crossover(&pop[0], &pop[1], &mut rng)] {
            for c in &x { prop_assert!(b.contains(c)); }
        }
    }

    #[test]
    fn int_and_mixed_operators_keep_bounds(n in 1usize..20, bits in 0usize..200, seed in any::<u64>()) {
        let ib = int_bounds(n);
        let mb = MixedBounds { reals: real_bounds(3, seed), ints: ib.clone(), n_bits: bits };
        let mut rng = rng_from_seed(seed);
        let ints = UniformInt { bounds: ib.clone() }.sample(2, &mut rng);
        let [a, b] = IntSbx::new(ib.clone()).crossover(&ints[0], &ints[1], &mut rng);
        let mut c = ints[0].clone();
        IntPolynomialMutation::new(ib.clone()).mutate(&mut c, &mut rng);
        for x in [&a, &b, &c] { prop_assert!(ib.contains(x), "{:?}", x); }
        let pop = MixedSampling { bounds: mb.clone() }.sample(2, &mut rng);
        let x = MixedCrossover { reals: Sbx::new(mb.reals.clone()), ints: IntSbx::new(ib.clone()), bits: UniformCrossover::default() };
        let m = MixedMutation { reals: PolynomialMutation::new(mb.reals.clone()), ints: IntPolynomialMutation::new(ib.clone()), bits: BitFlip::default() };
        let [mut k1, k2] = x.crossover(&pop[0], &pop[1], &mut rng);
        m.mutate(&mut k1, &mut rng);
        let [k3, k4] = TwoPoint.crossover(&pop[0], &pop[1], &mut rng);
        for k in [&pop[0], &k1, &k2, &k3, &k4] { prop_assert!(mb.contains(k)); }
    }

    #[test]
    fn bit_operators_keep_length(len in 1usize..3000, seed in any::<u64>(), rate in 0.0f64..1.0) {
        let mut rng = rng_from_seed(seed);
        let pop = DensitySpread::new(len).sample(3, &mut rng);
        let [a, b] = UniformCrossover::default().crossover(&pop[0], &pop[1], &mut rng);
        let [c, d] = TwoPoint.crossover(&pop[0], &pop[1], &mut rng);
        let [w, l] = Microbial::default().crossover(&pop[0], &pop[1], &mut rng);
        prop_assert_eq!(&w, &pop[0], "the microbial winner is unchanged");
        for i in 0..len { prop_assert!(l.get(i) == pop[0].get(i) || l.get(i) == pop[1].get(i)); }
        let mut e = pop[2].clone();
        BitFlip::with_rate(rate).mutate(&mut e, &mut rng);
        for g in [&a, &b, &c, &d, &l, &e] { prop_assert_eq!(g.len(), len); }
        let biased = BiasedBits { keep_prob: vec![rate; len] }.sample(1, &mut rng);
        prop_assert_eq!(biased[0].len(), len);
    }
}

#[test]
fn density_spread_gives_round_p_l_ones_across_densities() {
    let mut rng = rng_from_seed(11);
    let pop = DensitySpread::new(2048).sample(30, &mut rng);
    let densities: Vec<f64> = pop.iter().map(BitString::density).collect();
    let lo = densities.iter().cloned().fold(1.0, f64::min);
    let hi = densities.iter().cloned().fold(0.0, f64::max);
    assert!(
        lo < 0.2 && hi > 0.8,
        "population spans densities: {lo}..{hi}"
    );
    // the same stream reproduces exact counts round(p * L)
    let mut r2 = rng_from_seed(11);
    use rand::Rng;
    let p: f64 = r2.random();
    assert_eq!(pop[0].count_ones(), (p * 2048.0).round() as usize);
}

#[test]
fn density_spread_never_draws_the_empty_mask() {
    // with L = 2, round(p * L) = 0 for p < 0.25: a quarter of the draws were empty before
    let mut rng = rng_from_seed(3);
    for len in [1, 2, 3] {
        let pop = DensitySpread::new(len).sample(400, &mut rng);
        assert!(pop.iter().all(|g| g.count_ones() >= 1), "len {len}");
        // and the full mask is still drawn
        assert!(pop.iter().any(|g| g.count_ones() == len), "len {len}");
    }
    assert!(
        DensitySpread::new(0)
            .sample(3, &mut rng)
            .iter()
            .all(|g| g.is_empty())
    );
}

#[test]
fn biased_bits_follow_keep_probabilities() {
    let mut rng = rng_from_seed(5);
    let keep: Vec<f64> = (0..1000)
        .map(|i| if i < 500 { 0.05 } else { 0.95 })
        .collect();
    let g = &BiasedBits { keep_prob: keep }.sample(1, &mut rng)[0];
    let low = (0..500).filter(|&i| g.get(i)).count();
    let high = (500..1000).filter(|&i| g.get(i)).count();
    assert!(low < 60 && high > 440, "{low} {high}");
}

#[test]
fn sbx_children_are_spread_symmetrically_around_parents() {
    // mean of children equals mean of parents when no clamping happens
    let b = RealBounds::uniform(1, -100.0, 100.0).unwrap();
    let sbx = Sbx {
        prob_var: 1.0,
        ..Sbx::new(b)
    };
    let mut rng = rng_from_seed(2);
    let (p1, p2) = (RealVector(vec![-1.0]), RealVector(vec![1.0]));
    let mut total = 0.0;
    for _ in 0..2000 {
        let [c1, c2] = sbx.crossover(&p1, &p2, &mut rng);
        assert!((c1[0] + c2[0]).abs() < 1e-9);
        total += c1[0].abs();
    }
    // eta = 15 keeps children close to the parents
    assert!((total / 2000.0 - 1.0).abs() < 0.1);
}

fn ranked(fs: &[(f64, f64)]) -> Vec<crate::Individual<usize>> {
    let specs = [ObjectiveSpec::minimize("a"), ObjectiveSpec::minimize("b")];
    let mut pop: Vec<_> = fs
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| {
            crate::Individual::from_outcome(i, Ok(Evaluation::new(vec![a, b])), &specs, 0).unwrap()
        })
        .collect();
    RankAndCrowding::assign(&mut pop);
    pop
}

#[test]
fn binary_tournament_prefers_lower_rank() {
    let pop = ranked(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]);
    let mut rng = rng_from_seed(1);
    let pairs = BinaryTournament::default().select(&pop, 2000, &mut rng);
    let wins0 = pairs
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .filter(|&i| i == 0)
        .count();
    let wins3 = pairs
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .filter(|&i| i == 3)
        .count();
    // the best wins every tournament it enters (~ 7/16 of picks), the worst none
    assert!(wins0 > 1500, "{wins0}");
    assert_eq!(wins3, 0);
}

#[test]
fn rank_and_crowding_keeps_first_fronts_and_extremes() {
    let fs = [
        (0.0, 4.0),
        (1.0, 3.0),
        (2.0, 2.0),
        (3.0, 1.0),
        (4.0, 0.0),
        (2.1, 2.1),
        (5.0, 5.0),
    ];
    let pop = ranked(&fs);
    let mut rng = rng_from_seed(3);
    let kept = RankAndCrowding.survive(pop.clone(), 3, &mut rng);
    let mut ids: Vec<usize> = kept.iter().map(|i| i.genome).collect();
    ids.sort_unstable();
    // extremes are infinite-crowding, then the most isolated inner point (all inner equal here)
    assert!(ids.contains(&0) && ids.contains(&4));
    assert!(kept.iter().all(|i| i.rank == 0));
    let kept = RankAndCrowding.survive(pop, 6, &mut rng);
    let ids: Vec<usize> = kept.iter().map(|i| i.genome).collect();
    assert!(ids.contains(&5) && !ids.contains(&6));
}

#[test]
fn negative_assortative_mating_picks_distant_mates() {
    let specs = [ObjectiveSpec::minimize("a")];
    let genomes = [
        BitString::zeros(64),
        BitString::zeros(64),
        BitString::ones(64),
        BitString::zeros(64),
    ];
    let mut pop: Vec<_> = genomes
        .iter()
        .map(|g| {
            crate::Individual::from_outcome(g.clone(), Ok(Evaluation::new(vec![0.0])), &specs, 0)
                .unwrap()
        })
        .collect();
    RankAndCrowding::assign(&mut pop);
    let mut rng = rng_from_seed(9);
    let far = |pairs: Vec<(usize, usize)>| {
        pairs
            .iter()
            .filter(|&&(a, b)| pop[a].genome.hamming(&pop[b].genome) == 64)
            .count()
    };
    let nam = far(NegativeAssortativeMating { candidates: 4 }.select(&pop, 2000, &mut rng));
    let plain = far(BinaryTournament::default().select(&pop, 2000, &mut rng));
    assert!(
        nam as f64 > 1.5 * plain as f64,
        "assortative {nam} vs plain {plain}"
    );
}

#[test]
fn top_k_draws_distinct_parents_from_the_best_with_the_winner_first() {
    let specs = [ObjectiveSpec::minimize("a")];
    let mut pop: Vec<_> = (0..10)
        .map(|i| {
            crate::Individual::from_outcome(i, Ok(Evaluation::new(vec![0.0])), &specs, 0).unwrap()
        })
        .collect();
    for (i, ind) in pop.iter_mut().enumerate() {
        ind.fitness = (10 - i) as f64;
    }
    let mut rng = rng_from_seed(4);
    for (w, l) in (TopK { k: 3 }).select(&pop, 500, &mut rng) {
        assert!(w >= 7 && l >= 7 && w != l);
        assert!(pop[w].fitness < pop[l].fitness);
    }
    let _ = IntVector(vec![]);
}

#[test]
fn spread_reals_span_the_diagonal_where_uniform_ones_cluster_in_the_middle() {
    let bounds = RealBounds::uniform(56, 0.0, 0.8).unwrap();
    let mean = |g: &RealVector| g.0.iter().sum::<f64>() / g.0.len() as f64;
    let mut rng = rng_from_seed(5);
    let spread: Vec<f64> = SpreadReal {
        bounds: bounds.clone(),
    }
    .sample(40, &mut rng)
    .iter()
    .map(mean)
    .collect();
    let uniform: Vec<f64> = UniformReal {
        bounds: bounds.clone(),
    }
    .sample(40, &mut rng)
    .iter()
    .map(mean)
    .collect();
    let lo = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    // 56 uniform genes average to 0.4 +- 0.03; spread individuals reach both corners
    assert!(lo(&uniform) > 0.3 && hi(&uniform) < 0.5, "{uniform:?}");
    assert!(lo(&spread) < 0.1 && hi(&spread) > 0.6, "{spread:?}");
    for g in (SpreadReal { bounds }).sample(100, &mut rng) {
        assert!(g.0.iter().all(|x| (0.0..=0.8).contains(x)));
    }
}
