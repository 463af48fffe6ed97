//! The cost of one phase-2 evaluation of LeNet-300-100 on 5,000 validation images: a child one
//! mutation away from a population member, scored incrementally (the member's first-layer
//! activations plus the differing weights) and in full; and the mutation itself on ~80,000 bits.
//!
//! Run: `cargo bench -p evoprune-hierarchical --bench phase2`.

use criterion::{Criterion, criterion_group, criterion_main};
use evoprune::{BitString, Mutation, Problem, Sampling, rng_from_seed};
use evoprune_data::digits28::synthetic_digits;
use evoprune_hierarchical::config::{Cost, ModelKind};
use evoprune_hierarchical::model::Model;
use evoprune_hierarchical::phase1::Thresholds;
use evoprune_hierarchical::phase2::{
    ImportanceMutation, ImportanceSampling, Rate, Space, Survivors, importance,
};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let model = Arc::new(Model::random(ModelKind::Lenet300100, 1));
    let val = Arc::new(synthetic_digits(5000, 2));
    let p1 = Thresholds::new(model.clone(), val.clone(), &[Cost::Params]);
    // anchors like a real run's: ~31% and ~8% of the weights
    let heavy = p1.keep_mask(&[0.7, 0.45, 0.1]).unwrap();
    let light = p1.keep_mask(&[0.93, 0.85, 0.3]).unwrap();
    let space = Arc::new(Space::new(&model, &heavy, &importance(&model, None)).unwrap());
    let samp = ImportanceSampling {
        space: space.clone(),
        light: space.genome_of(&light),
    };
    let pop = samp.sample(40, &mut rng_from_seed(1));
    let refs: Vec<&BitString> = pop.iter().collect();
    let inc = Survivors::new(
        model.clone(),
        val.clone(),
        space.clone(),
        &[Cost::Params],
        true,
    );
    let full = Survivors::new(
        model.clone(),
        val.clone(),
        space.clone(),
        &[Cost::Params],
        false,
    );
    inc.set_bases(&refs).unwrap();
    // a typical late-search step: ~100 flips
    let m = ImportanceMutation {
        space: space.clone(),
        rate: Rate::new(100.0 / space.len() as f64),
    };
    let mut child = pop[7].clone();
    m.mutate(&mut child, &mut rng_from_seed(3));
    let mut g = c.benchmark_group(format!("phase2_eval_lenet300_{}bits_5000img", space.len()));
    g.sample_size(20);
    g.bench_function("incremental", |b| b.iter(|| inc.evaluate(&child).unwrap()));
    g.bench_function("full", |b| b.iter(|| full.evaluate(&child).unwrap()));
    g.bench_function("mutation", |b| {
        let mut rng = rng_from_seed(4);
        b.iter(|| {
            let mut x = pop[3].clone();
            m.mutate(&mut x, &mut rng);
            x
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
