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
