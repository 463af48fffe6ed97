//! C-TAEA, the constrained two-archive evolutionary algorithm (Li, Chen, Fu & Yao 2019,
//! doi:10.1109/TEVC.2018.2855411), the optimiser the surrogate-assisted compression paper runs
//! on its surrogates.
//!
//! Two archives of `N` members each, `N` being the number of reference directions:
//! - the **convergence archive** (CA) pushes towards the feasible Pareto front: feasible
//!   solutions first; when there are too many, the worst (by the achievement scalarising
//!   function of its niche) in the most crowded niche is dropped one at a time; when there are
//!   too few, infeasible ones are added by a non-dominated sort on (violation, scalarised value);
//! - the **diversity archive** (DA) ignores constraints and fills the niches the CA leaves
//!   empty, so that the search can cross infeasible regions.
//!
//! Mating is restricted: the first parent comes from the CA when the CA holds a larger share
//! of the non-dominated members of CA ∪ DA, else from the DA; the second from the CA with
//! probability equal to that share. Each parent is the winner of a binary tournament
//! (feasible beats infeasible, then Pareto dominance, else a coin). Each mating gives one
//! child. Defaults as pymoo's `CTAEA`: SBX eta 30 with crossover always, polynomial mutation
//! eta 20, duplicates eliminated. The survival follows pymoo's implementation (itself a port of
//! the authors' code) step by step; where it differs, the comment says so.
//!
//! **Where the archives live.** Everything a resumed run needs is in [`State`]:
//! `state.population` holds the CA (ranked by constrained non-domination) followed by the DA,
//! whose members carry `rank == usize::MAX` (outside the ranking, so [`State::front`] and the
//! reports built on it see the CA only); `state.aux` holds the CA's length and the ideal point.

mod config;

pub use config::CtaeaConfig;

use super::Algorithm;
use crate::genome::{Genome, RealBounds, RealVector};
use crate::operator::{Crossover, Mutation, PolynomialMutation, Sampling, Sbx, UniformReal};
use crate::pareto::{Dominance, compare, constrained_sort, non_dominated_sort};
use crate::{Error, EvoRng, Individual, ObjectiveSpec, Result, State};
use rand::Rng;
use rand::seq::SliceRandom;
use std::marker::PhantomData;

/// Key in [`State::aux`]: the number of CA members at the head of `state.population`.
pub const CA_LEN: &str = "ctaea.ca_len";
/// Key in [`State::aux`]: the ideal point (minimum of every objective over all evaluations).
pub const IDEAL: &str = "ctaea.ideal";

/// Rank given to the diversity archive's members (they are outside the ranking).
pub const DA_RANK: usize = usize::MAX;

/// C-TAEA over genome `G` with sampling `S`, crossover `X` and mutation `M`.
pub struct Ctaea<G, S, X, M> {
    config: CtaeaConfig,
    ref_dirs: Vec<Vec<f64>>,
    /// Initial population.
    pub sampling: S,
    /// Recombination (one of the two children is kept, at random).
    pub crossover: X,
    /// Mutation.
    pub mutation: M,
    _g: PhantomData<fn() -> G>,
}

impl<G, S, X, M> Ctaea<G, S, X, M> {
    /// C-TAEA with reference directions `ref_dirs` (one per population member; see
    /// [`das_dennis`](crate::pareto::das_dennis)) and the given operators.
    pub fn new(
        config: CtaeaConfig,
        ref_dirs: Vec<Vec<f64>>,
        sampling: S,
        crossover: X,
        mutation: M,
    ) -> Result<Self> {
        config.validate()?;
        let m = ref_dirs.first().map_or(0, Vec::len);
        if ref_dirs.len() < 2 || m < 2 {
            return Err(Error::config(
                "ref_dirs",
                format!(
                    "need at least 2 directions of at least 2 objectives, got {} of {m}",
                    ref_dirs.len()
                ),
            ));
        }
        if let Some(bad) = ref_dirs.iter().position(|d| {
            d.len() != m
                || d.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                || d.iter().sum::<f64>() <= 0.0
        }) {
            return Err(Error::config(
                "ref_dirs",
                format!("direction {bad} must have {m} finite non-negative weights, not all zero"),
            ));
        }
        Ok(Ctaea {
            config,
            ref_dirs,
            sampling,
            crossover,
            mutation,
            _g: PhantomData,
        })
    }

    /// The reference directions.
    pub fn ref_dirs(&self) -> &[Vec<f64>] {
        &self.ref_dirs
    }

    /// The parameters.
    pub fn config(&self) -> &CtaeaConfig {
        &self.config
    }
}

impl Ctaea<RealVector, UniformReal, Sbx, PolynomialMutation> {
    /// pymoo's C-TAEA for real problems: uniform sampling, SBX (eta 30), polynomial mutation
    /// (eta 20).
    pub fn real(config: CtaeaConfig, ref_dirs: Vec<Vec<f64>>, bounds: RealBounds) -> Result<Self> {
        let mut sbx = Sbx::new(bounds.clone());
        sbx.eta = 30.0;
        Self::new(
            config,
            ref_dirs,
            UniformReal {
                bounds: bounds.clone(),
            },
            sbx,
            PolynomialMutation::new(bounds),
        )
    }
}

/// Feasible: evaluated and no constraint violated (a failed evaluation has `cv = +inf`).
fn feasible<G>(i: &Individual<G>) -> bool {
    i.cv <= 0.0
}

/// pymoo's `comp_by_cv_dom_then_random`: the feasible one; between two feasible ones the
/// dominating one; otherwise a coin.
fn tournament<G>(pop: &[Individual<G>], a: usize, b: usize, rng: &mut EvoRng) -> usize {
    match (feasible(&pop[a]), feasible(&pop[b])) {
        (true, true) => match compare(&pop[a].f, &pop[b].f) {
            Dominance::Dominates => a,
            Dominance::Dominated => b,
            _ => coin(a, b, rng),
        },
        (true, false) => a,
        (false, true) => b,
        (false, false) => coin(a, b, rng),
    }
}

fn coin(a: usize, b: usize, rng: &mut EvoRng) -> usize {
    if rng.random::<bool>() { a } else { b }
}

/// Niche (closest reference direction by perpendicular distance of `f - ideal`) and the
/// achievement scalarising value of `f` on that direction (weights of 0 count as 1e-4, as in
/// pymoo). A point with a non-finite objective (a failed evaluation) goes to the extra niche
/// `dirs.len()`, which no direction owns, with value `+inf`.
fn associate(f: &[f64], ideal: &[f64], dirs: &[Vec<f64>]) -> (usize, f64) {
    if f.iter().any(|v| !v.is_finite()) {
        return (dirs.len(), f64::INFINITY);
    }
    let v: Vec<f64> = f.iter().zip(ideal).map(|(a, z)| a - z).collect();
    let mut best = (0, f64::INFINITY);
    for (k, w) in dirs.iter().enumerate() {
        let norm2: f64 = w.iter().map(|x| x * x).sum();
        let proj = v.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / norm2;
        let d2: f64 = v.iter().zip(w).map(|(a, b)| (a - proj * b).powi(2)).sum();
        if d2 < best.1 {
            best = (k, d2);
        }
    }
    let w = &dirs[best.0];
    let asf = v
        .iter()
        .zip(w)
        .map(|(a, &b)| a / if b == 0.0 { 1e-4 } else { b })
        .fold(f64::NEG_INFINITY, f64::max);
    (best.0, asf)
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Index of the largest value (the first on ties; NaN never wins).
fn argmax(idx: &[usize], value: impl Fn(usize) -> f64) -> usize {
    let mut best = idx[0];
    for &i in &idx[1..] {
        if value(i) > value(best) {
            best = i;
        }
    }
    best
}

impl<G, S, X, M> Ctaea<G, S, X, M>
where
    G: Genome,
    S: Sampling<G>,
    X: Crossover<G>,
    M: Mutation<G>,
{
    fn ideal(state: &State<G>, m: usize) -> Vec<f64> {
        state
            .aux
            .get(IDEAL)
            .filter(|v| v.len() == m)
            .cloned()
            .unwrap_or_else(|| vec![f64::INFINITY; m])
    }

    /// The convergence archive's update (pymoo `_updateCA`): `n` of `pop`.
    fn update_ca(
        &self,
        pop: Vec<Individual<G>>,
        n: usize,
        ideal: &[f64],
        rng: &mut EvoRng,
    ) -> Vec<Individual<G>> {
        let (sc, si): (Vec<_>, Vec<_>) = pop.into_iter().partition(|i| feasible(i));
        let mut s = if sc.len() <= n {
            // too few feasible: fill with infeasible ones, sorted on (violation, ASF value)
            let remainder = n - sc.len();
            let sub: Vec<[f64; 2]> = si
                .iter()
                .map(|i| [i.cv, associate(&i.f, ideal, &self.ref_dirs).1])
                .collect();
            let mut chosen: Vec<usize> = Vec::with_capacity(remainder);
            for mut front in non_dominated_sort(&sub) {
                if chosen.len() == remainder {
                    break;
                }
                if chosen.len() + front.len() > remainder {
                    front.sort_by(|&a, &b| sub[a][0].total_cmp(&sub[b][0]).then(a.cmp(&b)));
                    front.truncate(remainder - chosen.len());
                }
                chosen.extend(front);
            }
            let mut si: Vec<Option<Individual<G>>> = si.into_iter().map(Some).collect();
            let mut s = sc;
            s.extend(
                chosen
                    .into_iter()
                    .map(|k| si[k].take().expect("chosen once")),
            );
            s
        } else {
            self.thin_feasible(sc, n, ideal, rng)
        };
        let f: Vec<&[f64]> = s.iter().map(|i| i.f.as_slice()).collect();
        let cv: Vec<f64> = s.iter().map(|i| i.cv).collect();
        for (r, front) in constrained_sort(&f, &cv).into_iter().enumerate() {
            for k in front {
                s[k].rank = r;
                s[k].crowding = 0.0;
            }
        }
        s
    }

    /// More than `n` feasible members: the non-dominated fronts that reach `n`, then the worst
    /// member of the most crowded niche removed one at a time.
    fn thin_feasible(
        &self,
        sc: Vec<Individual<G>>,
        n: usize,
        ideal: &[f64],
        rng: &mut EvoRng,
    ) -> Vec<Individual<G>> {
        let f: Vec<&[f64]> = sc.iter().map(|i| i.f.as_slice()).collect();
        let mut keep: Vec<usize> = Vec::new();
        for front in non_dominated_sort(&f) {
            if keep.len() >= n {
                break;
            }
            keep.extend(front);
        }
        keep.sort_unstable();
        let s = super::take_at(sc, keep);
        if s.len() <= n {
            return s;
        }
        let assoc: Vec<(usize, f64)> = s
            .iter()
            .map(|i| associate(&i.f, ideal, &self.ref_dirs))
            .collect();
        let fv = |k: usize| assoc[k].1;
        // one count per direction, and one for the failed evaluations' extra niche
        let mut count = vec![0usize; self.ref_dirs.len() + 1];
        for &(c, _) in &assoc {
            count[c] += 1;
        }
        let mut alive = vec![true; s.len()];
        let mut n_alive = s.len();
        while n_alive > n {
            let most = *count.iter().max().expect("directions");
            let mut worst: Option<(usize, usize, f64)> = None;
            for niche in (0..count.len()).filter(|&c| count[c] == most) {
                let crowded: Vec<usize> = (0..s.len())
                    .filter(|&k| alive[k] && assoc[k].0 == niche)
                    .collect();
                let mut victim = argmax(&crowded, fv);
                // the closest pair in the niche, against the victim's distance to everyone else
                let to_rest = (0..s.len())
                    .filter(|&k| alive[k] && k != victim)
                    .map(|k| distance(&s[victim].f, &s[k].f))
                    .fold(f64::INFINITY, f64::min);
                let mut pair: Option<(f64, usize, usize)> = None;
                for (x, &a) in crowded.iter().enumerate() {
                    for &b in &crowded[x + 1..] {
                        let d = distance(&s[a].f, &s[b].f);
                        if pair.is_none_or(|(pd, _, _)| d < pd) {
                            pair = Some((d, a, b));
                        }
                    }
                }
                // pymoo also takes the pair on an exact tie, when `FV[pair] > niche_worst`; that
                // compares values with an index (a slip), so ties are left out here on purpose:
                // only a strictly closer pair replaces the victim
                if let Some((d, a, b)) = pair
                    && d - to_rest < 0.0
                {
                    let mut two = [a, b];
                    two.shuffle(rng);
                    victim = argmax(&two, fv);
                }
                if worst.is_none_or(|(_, _, w)| fv(victim) > w) {
                    worst = Some((victim, niche, fv(victim)));
                }
            }
            let (victim, niche, _) = worst.expect("a crowded niche has members");
            alive[victim] = false;
            count[niche] -= 1;
            n_alive -= 1;
        }
        s.into_iter()
            .zip(alive)
            .filter_map(|(i, a)| a.then_some(i))
            .collect()
    }

    /// The diversity archive's update (pymoo `_updateDA`): niche by niche, as many members
    /// of `hd` as the CA lacks there (one more each round), each the best scalarised value among
    /// the niche's non-dominated candidates.
    fn update_da(
        &self,
        ca: &[Individual<G>],
        hd: Vec<Individual<G>>,
        n: usize,
        ideal: &[f64],
    ) -> Vec<Individual<G>> {
        let dirs = self.ref_dirs.len();
        let assoc: Vec<(usize, f64)> = hd
            .iter()
            .map(|i| associate(&i.f, ideal, &self.ref_dirs))
            .collect();
        let mut in_ca = vec![0usize; dirs + 1];
        for i in ca {
            in_ca[associate(&i.f, ideal, &self.ref_dirs).0] += 1;
        }
        let mut used = vec![false; hd.len()];
        // the niches fill from the evaluated members; failed ones only make up the number
        let target = n.min(assoc.iter().filter(|a| a.0 < dirs).count());
        let mut picked: Vec<usize> = Vec::with_capacity(target);
        let mut round = 1;
        // every round adds at least one member while any is left (a niche with members left
        // gets one as soon as `round` exceeds its CA count), so this ends
        'fill: while picked.len() < target {
            for niche in 0..dirs {
                for _ in in_ca[niche]..round {
                    let cands: Vec<usize> = (0..hd.len())
                        .filter(|&k| !used[k] && assoc[k].0 == niche)
                        .collect();
                    if cands.is_empty() {
                        break;
                    }
                    let f: Vec<&[f64]> = cands.iter().map(|&k| hd[k].f.as_slice()).collect();
                    let nd: Vec<usize> = non_dominated_sort(&f)
                        .swap_remove(0)
                        .into_iter()
                        .map(|x| cands[x])
                        .collect();
                    let best = *nd
                        .iter()
                        .min_by(|&&a, &&b| assoc[a].1.total_cmp(&assoc[b].1))
                        .expect("a front is not empty");
                    used[best] = true;
                    picked.push(best);
                    if picked.len() == target {
                        break 'fill;
                    }
                }
            }
            round += 1;
        }
        let failed = (0..hd.len()).filter(|&k| assoc[k].0 == dirs);
        picked.extend(failed.take(n - picked.len()));
        let mut da = super::take_at(hd, picked);
        for i in &mut da {
            i.rank = DA_RANK;
            i.crowding = 0.0;
        }
        da
    }

    /// One parent: a binary tournament within `lo..hi` of `pop`.
    fn parent(pop: &[Individual<G>], lo: usize, hi: usize, rng: &mut EvoRng) -> usize {
        let a = rng.random_range(lo..hi);
        if hi - lo < 2 {
            return a;
        }
        let mut b = rng.random_range(lo..hi - 1);
        if b >= a {
            b += 1;
        }
        tournament(pop, a, b, rng)
    }

    /// `n` children by restricted mating over CA ∪ DA, none equal to a member or to each other
    /// when duplicates are eliminated.
    fn mate(&self, state: &mut State<G>, n: usize) -> Vec<G> {
        if state.population.is_empty() {
            return Vec::new();
        }
        let pop = &state.population;
        let rng = &mut state.rng;
        let n_ca = state
            .aux
            .get(CA_LEN)
            .and_then(|v| v.first())
            .map_or(pop.len(), |&x| x as usize)
            .min(pop.len());
        let (has_ca, has_da) = (n_ca > 0, n_ca < pop.len());
        // the shares of CA ∪ DA's non-dominated members (objectives only) in each archive
        let f: Vec<&[f64]> = pop.iter().map(|i| i.f.as_slice()).collect();
        let first = non_dominated_sort(&f)
            .into_iter()
            .next()
            .unwrap_or_default();
        let total = pop.len().max(1) as f64;
        let pc = first.iter().filter(|&&k| k < n_ca).count() as f64 / total;
        let pd = first.iter().filter(|&&k| k >= n_ca).count() as f64 / total;
        let pick = |from_da: bool, rng: &mut EvoRng| {
            if (from_da && has_da) || !has_ca {
                Self::parent(pop, n_ca, pop.len(), rng)
            } else {
                Self::parent(pop, 0, n_ca, rng)
            }
        };
        let mut brood = super::Brood::new(pop, n, self.config.eliminate_duplicates);
        for _ in 0..self.config.max_mating_rounds * n.max(1) {
            if brood.kids.len() == n {
                break;
            }
            let a = pick(pc <= pd, rng);
            let b = pick(rng.random::<f64>() >= pc, rng);
            let (pa, pb) = (&pop[a].genome, &pop[b].genome);
            let [c1, c2] = if rng.random::<f64>() < self.config.crossover_prob {
                self.crossover.crossover(pa, pb, rng)
            } else {
                [pa.clone(), pb.clone()]
            };
            let mut c = if rng.random::<bool>() { c2 } else { c1 };
            self.mutation.mutate(&mut c, rng);
            brood.offer(c);
        }
        brood.kids
    }
}

impl<G, S, X, M> Algorithm<G> for Ctaea<G, S, X, M>
where
    G: Genome,
    S: Sampling<G>,
    X: Crossover<G>,
    M: Mutation<G>,
{
    fn name(&self) -> &str {
        "ctaea"
    }

    fn check(&self, objectives: &[ObjectiveSpec]) -> Result<()> {
        let m = self.ref_dirs[0].len();
        if objectives.len() != m {
            return Err(Error::config(
                "ref_dirs",
                format!(
                    "directions have {m} components but the problem has {} objectives",
                    objectives.len()
                ),
            ));
        }
        Ok(())
    }

    fn pop_size(&self) -> usize {
        self.ref_dirs.len()
    }

    fn sample(&self, state: &mut State<G>) -> Vec<G> {
        let c = &self.config;
        super::sample_distinct(
            &self.sampling,
            self.pop_size(),
            c.eliminate_duplicates,
            c.max_mating_rounds,
            &mut state.rng,
        )
    }

    fn offspring(&self, state: &mut State<G>) -> Vec<G> {
        self.mate(state, self.pop_size())
    }

    fn tell(&self, state: &mut State<G>, evaluated: Vec<Individual<G>>) {
        let m = self.ref_dirs[0].len();
        // the ideal point over every evaluation so far (finite values only)
        let mut ideal = Self::ideal(state, m);
        for i in &evaluated {
            for (z, &v) in ideal.iter_mut().zip(&i.f) {
                if v.is_finite() && v < *z {
                    *z = v;
                }
            }
        }
        // before any finite value the association measures from the origin
        let z: Vec<f64> = ideal
            .iter()
            .map(|&v| if v.is_finite() { v } else { 0.0 })
            .collect();
        let initial = state.population.is_empty();
        let mut old = std::mem::take(&mut state.population);
        let n_ca = state
            .aux
            .get(CA_LEN)
            .and_then(|v| v.first())
            .map_or(old.len(), |&x| x as usize)
            .min(old.len());
        let da_old = old.split_off(n_ca);
        let (ca, da) = if initial {
            // pymoo: the first CA keeps as many as were sampled; the DA is drawn from them
            let n = evaluated.len();
            let ca = self.update_ca(evaluated.clone(), n, &z, &mut state.rng);
            let da = self.update_da(&ca, evaluated, n, &z);
            (ca, da)
        } else {
            let n = self.pop_size();
            let mut merged = old;
            merged.extend(evaluated.iter().cloned());
            let ca = self.update_ca(merged, n, &z, &mut state.rng);
            let mut hd = da_old;
            hd.extend(evaluated);
            let da = self.update_da(&ca, hd, n, &z);
            (ca, da)
        };
        state.aux.insert(CA_LEN.into(), vec![ca.len() as f64]);
        state.aux.insert(IDEAL.into(), ideal);
        state.population = ca;
        state.population.extend(da);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Evaluation, MaxGenerations, Problem};

    /// Minimise (x0, 1 - x0 + g) with g = sum of the rest squared, subject to x0 >= 0.3:
    /// feasible front x0 in [0.3, 1], g = 0.
    struct Cut;
    impl Problem for Cut {
        type Genome = RealVector;
        type Error = std::convert::Infallible;
        fn objectives(&self) -> &[ObjectiveSpec] {
            static S: std::sync::OnceLock<Vec<ObjectiveSpec>> = std::sync::OnceLock::new();
            S.get_or_init(|| vec![ObjectiveSpec::minimize("a"), ObjectiveSpec::minimize("b")])
        }
        fn n_constraints(&self) -> usize {
            1
        }
        fn evaluate(&self, x: &RealVector) -> std::result::Result<Evaluation, Self::Error> {
            let g: f64 = x.0[1..].iter().map(|v| v * v).sum();
            Ok(Evaluation::with_constraints(
                vec![x.0[0], 1.0 - x.0[0] + g],
                vec![0.3 - x.0[0]],
            ))
        }
    }

    fn algo(n: usize) -> Ctaea<RealVector, UniformReal, Sbx, PolynomialMutation> {
        Ctaea::real(
            CtaeaConfig::default(),
            crate::pareto::das_dennis(2, n - 1),
            RealBounds::uniform(5, 0.0, 1.0).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn archives_keep_their_sizes_and_the_front_is_feasible_and_converged() {
        let res = crate::Executor::new(Cut, algo(20))
            .seed(3)
            .termination(MaxGenerations(60))
            .run()
            .unwrap();
        let st = &res.state;
        let n_ca = st.aux[CA_LEN][0] as usize;
        assert_eq!(n_ca, 20);
        assert_eq!(st.population.len(), 40);
        assert!(st.population[..n_ca].iter().all(|i| i.rank != DA_RANK));
        assert!(st.population[n_ca..].iter().all(|i| i.rank == DA_RANK));
        let front = st.front();
        assert!(front.len() >= 15, "front of {}", front.len());
        for i in front {
            assert!(i.f[0] >= 0.3 - 1e-12);
            assert!(
                (i.f[0] + i.f[1] - 1.0).abs() < 0.02,
                "not converged: {:?}",
                i.f
            );
        }
        // the ideal point is the minimum seen
        let ideal = &st.aux[IDEAL];
        assert!(ideal[0] >= 0.0 && ideal[0] < 0.31, "{ideal:?}");
    }

    #[test]
    fn same_seed_same_run_and_a_resumed_run_continues_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let run = |gens, resume| {
            crate::Executor::new(Cut, algo(10))
                .seed(7)
                .termination(MaxGenerations(gens))
                .checkpoint(crate::FileCheckpoint::new(dir.path(), 1))
                .resume(resume)
                .run()
                .unwrap()
                .state
        };
        let straight = run(15, false);
        assert_eq!(run(15, false).population, straight.population);
        // stop after 5 generations, resume to 15: the archives and the ideal point are all in
        // the checkpointed state
        run(5, false);
        let resumed = run(15, true);
        assert_eq!(resumed.population, straight.population);
        assert_eq!(resumed.aux, straight.aux);
    }

    #[test]
    fn bad_directions_and_objective_counts_are_refused() {
        let b = RealBounds::uniform(3, 0.0, 1.0).unwrap();
        let e = Ctaea::real(CtaeaConfig::default(), vec![vec![1.0, 0.0]], b.clone())
            .err()
            .unwrap();
        assert!(e.to_string().contains("ref_dirs"), "{e}");
        let e = Ctaea::real(
            CtaeaConfig::default(),
            vec![vec![1.0, 0.0], vec![f64::NAN, 1.0]],
            b.clone(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("direction 1"), "{e}");
        let a = Ctaea::real(CtaeaConfig::default(), crate::pareto::das_dennis(3, 2), b).unwrap();
        let specs = [ObjectiveSpec::minimize("a"), ObjectiveSpec::minimize("b")];
        assert!(Algorithm::<RealVector>::check(&a, &specs).is_err());
    }

    #[test]
    fn a_failed_evaluation_is_ranked_last_and_breaks_nothing() {
        let specs = [ObjectiveSpec::minimize("a"), ObjectiveSpec::minimize("b")];
        let a = algo(4);
        let mut st = State::new(1);
        let mk = |x: f64, ok: bool| {
            let o = if ok {
                Ok(Evaluation::with_constraints(vec![x, 1.0 - x], vec![0.0]))
            } else {
                Err("boom".to_string())
            };
            Individual::from_outcome(RealVector(vec![x; 5]), o, &specs, 1).unwrap()
        };
        let first: Vec<_> = [0.1, 0.4, 0.7, 0.9].iter().map(|&x| mk(x, true)).collect();
        a.tell(&mut st, first);
        let kids = a.offspring(&mut st);
        assert_eq!(kids.len(), 4);
        let told: Vec<_> = [0.2, 0.5]
            .iter()
            .map(|&x| mk(x, true))
            .chain([mk(0.3, false)])
            .collect();
        a.tell(&mut st, told);
        let n_ca = st.aux[CA_LEN][0] as usize;
        assert_eq!(n_ca, 4);
        assert!(st.population[..n_ca].iter().all(|i| i.outcome.is_ok()));
        assert!(st.aux[IDEAL].iter().all(|v| v.is_finite()));
    }
}
