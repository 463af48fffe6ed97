//! NSGA-II must match the reference implementation's quality (pymoo NSGA2 defaults, population
//! 100, 250 generations, seeds 1-5, reference point 1.1 per objective) to within 0.002.

use super::nsga2_hv;
use evoprune_problems::{Dtlz, Zdt};

fn mean_over_seeds(run: impl Fn(u64) -> f64) -> f64 {
    (1..=5).map(run).sum::<f64>() / 5.0
}

fn zdt(variant: u8) -> f64 {
    mean_over_seeds(|seed| {
        let p = Zdt::new(variant, 30);
        let b = p.bounds();
        nsga2_hv(p, b, 100, 250, seed, &[1.1, 1.1])
    })
}

#[test]
fn zdt1_reaches_reference_hypervolume() {
    let hv = zdt(1);
    assert!(hv >= 0.8698 - 0.002, "ZDT1 mean HV {hv}");
}

#[test]
fn zdt2_reaches_reference_hypervolume() {
    let hv = zdt(2);
    assert!(hv >= 0.5363 - 0.002, "ZDT2 mean HV {hv}");
}

#[test]
fn zdt3_reaches_reference_hypervolume() {
    let hv = zdt(3);
    assert!(hv >= 1.3277 - 0.002, "ZDT3 mean HV {hv}");
}

#[test]
fn dtlz2_three_objectives_reaches_reference_hypervolume() {
    let hv = mean_over_seeds(|seed| {
        let p = Dtlz::dtlz2(3);
        let b = p.bounds();
        nsga2_hv(p, b, 100, 250, seed, &[1.1, 1.1, 1.1])
    });
    assert!(hv >= 0.70 - 0.002, "DTLZ2 mean HV {hv}");
}

/// Final feasible hypervolume of the engine's C-TAEA (pymoo's defaults, 91 Das-Dennis
/// directions) on a constrained problem.
fn ctaea_hv(p: evoprune_problems::Cdtlz, gens: u64, seed: u64, reference: f64) -> f64 {
    use evoprune::{Ctaea, CtaeaConfig, Executor, MaxGenerations, pareto};
    let algo = Ctaea::real(
        CtaeaConfig::default(),
        pareto::das_dennis(3, 12),
        p.bounds(),
    )
    .unwrap();
    let res = Executor::new(p, algo)
        .seed(seed)
        .termination(MaxGenerations(gens))
        .run()
        .unwrap();
    let front: Vec<&[f64]> = res.front().iter().map(|i| i.f.as_slice()).collect();
    pareto::hypervolume(&front, &[reference; 3])
}

// pymoo 0.6.2's C-TAEA, same settings, seeds 1-5 (scripts/reference/ctaea_pymoo.py): mean
// feasible hypervolume 0.13888 on C1-DTLZ1 and 0.67147 on C2-DTLZ2 (its NSGA-II: 0.13574 and
// 0.64257). The engine's must be within 1% (measured: 0.13925 and 0.66948; its NSGA-II
// 0.13562 and 0.63945).

#[test]
fn ctaea_on_c1_dtlz1_matches_pymoo_within_one_percent() {
    let hv =
        mean_over_seeds(|seed| ctaea_hv(evoprune_problems::Cdtlz::c1_dtlz1(3, 7), 500, seed, 0.55));
    assert!((hv / 0.13888 - 1.0).abs() <= 0.01, "C1-DTLZ1 mean HV {hv}");
}

#[test]
fn ctaea_on_c2_dtlz2_matches_pymoo_within_one_percent() {
    let hv =
        mean_over_seeds(|seed| ctaea_hv(evoprune_problems::Cdtlz::c2_dtlz2(3, 12), 250, seed, 1.1));
    assert!((hv / 0.67147 - 1.0).abs() <= 0.01, "C2-DTLZ2 mean HV {hv}");
}
