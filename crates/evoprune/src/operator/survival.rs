//! Survival.

use super::Survival;
use crate::pareto::{constrained_sort, crowding_distance};
use crate::{EvoRng, Individual};
use rand::seq::SliceRandom;

/// NSGA-II survival (Deb et al. 2002): fill the next population front by front under
/// constrained domination; the front that does not fit is truncated by descending crowding
/// distance (ties broken at random, as pymoo's `RankAndCrowding`).
#[derive(Clone, Debug, Default)]
pub struct RankAndCrowding;

impl RankAndCrowding {
    /// Set `rank` and `crowding` on every member without removing any.
    pub fn assign<G>(pop: &mut [Individual<G>]) {
        let fs: Vec<&[f64]> = pop.iter().map(|i| i.f.as_slice()).collect();
        let cv: Vec<f64> = pop.iter().map(|i| i.cv).collect();
        let fronts = constrained_sort(&fs, &cv);
        let cds: Vec<Vec<f64>> = fronts.iter().map(|fr| crowding_distance(&fs, fr)).collect();
        for (r, (fr, cd)) in fronts.iter().zip(cds).enumerate() {
            for (&i, d) in fr.iter().zip(cd) {
                pop[i].rank = r;
                pop[i].crowding = d;
            }
        }
    }
}

impl<G: Send + Sync> Survival<G> for RankAndCrowding {
    fn survive(
        &self,
        candidates: Vec<Individual<G>>,
        n: usize,
        rng: &mut EvoRng,
    ) -> Vec<Individual<G>> {
        let fs: Vec<&[f64]> = candidates.iter().map(|i| i.f.as_slice()).collect();
        let cv: Vec<f64> = candidates.iter().map(|i| i.cv).collect();
        let fronts = constrained_sort(&fs, &cv);
        let mut keep: Vec<(usize, usize, f64)> = Vec::with_capacity(n); // (index, rank, crowding)
        for (r, front) in fronts.iter().enumerate() {
            if keep.len() >= n {
                break;
            }
            let cd = crowding_distance(&fs, front);
            if keep.len() + front.len() <= n {
                keep.extend(front.iter().zip(&cd).map(|(&i, &d)| (i, r, d)));
            } else {
                let mut order: Vec<usize> = (0..front.len()).collect();
                order.shuffle(rng);
                order.sort_by(|&a, &b| cd[b].total_cmp(&cd[a])); // stable: random among ties
                let need = n - keep.len();
                keep.extend(order[..need].iter().map(|&k| (front[k], r, cd[k])));
            }
        }
        let mut slots: Vec<Option<Individual<G>>> = candidates.into_iter().map(Some).collect();
        keep.into_iter()
            .map(|(i, r, d)| {
                let mut ind = slots[i].take().expect("each candidate kept at most once");
                ind.rank = r;
                ind.crowding = d;
                ind
            })
            .collect()
    }
}
