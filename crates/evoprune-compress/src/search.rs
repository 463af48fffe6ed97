//! The two searches compared at an equal real-evaluation budget, for one seed:
//!
//! - **surrogate-assisted** (the paper's loop): an initial design of real evaluations; then,
//!   until the budget, fit one regressor per target (accuracy, non-zero fraction, bytes), each
//!   chosen by k-fold cross-validation among the configured kinds; run C-TAEA (or a constrained
//!   NSGA-II) on the surrogates (the constraint is the predicted accuracy against the floor);
//!   evaluate for real the `per_iteration` candidates of its predicted feasible front that lie
//!   farthest, in normalised objective space, from everything evaluated so far (the paper's
//!   "distance in objective space"); refit.
//! - **real**: a constrained NSGA-II on the real problem, steady state with the same initial
//!   population size and the same evaluations per step, stopped at the same budget (a
//!   generational C-TAEA would spend the whole budget in one or two generations).
//!
//! The paper optimises the surrogates with C-TAEA for 1000 generations (`surrogate.optimiser =
//! "ctaea"`, the default); `"nsga2"` runs the constrained NSGA-II that stood in for it before,
//! with the same operators.

use crate::config::{Config, Optimiser};
use crate::plan::Scores;
use crate::subject::Subject;
use crate::{CompressError, Result};
use evoprune::pareto::non_dominated_sort;
use evoprune::{
    Algorithm, BitFlip, Ctaea, CtaeaConfig, Evaluation, Executor, Individual,
    IntPolynomialMutation, IntSbx, MaxEvaluations, MaxGenerations, MixedBounds, MixedCrossover,
    MixedGenome, MixedMutation, MixedSampling, Nsga2, Nsga2Config, ObjectiveSpec,
    PolynomialMutation, Problem, Sampling, Sbx, TerminationReason, UniformCrossover, rng_from_seed,
};
use evoprune_data::digits28::Part;
use evoprune_run::MethodConfig;
use evoprune_run::engine::EngineStage;
use evoprune_run::seeds::{self, Purpose};
use evoprune_surrogate::{Kind, Model, select};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The objective specs: accuracy (max), non-zero fraction (min), optionally bytes (min).
pub fn specs(size: bool) -> Vec<ObjectiveSpec> {
    let mut s = vec![
        ObjectiveSpec::maximize("accuracy"),
        ObjectiveSpec::minimize("nonzero"),
    ];
    if size {
        s.push(ObjectiveSpec::minimize("bytes"));
    }
    s
}

/// One real evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    /// The genome.
    pub genome: MixedGenome,
    /// Its validation scores.
    pub scores: Scores,
}

/// The real problem: a plan scored on the validation images.
pub struct RealProblem {
    subject: Arc<Subject>,
    val: Arc<Part>,
    floor: f64,
    dense_bytes: f64,
    specs: Vec<ObjectiveSpec>,
}

impl RealProblem {
    /// Plans applied to `subject`, scored on `val` (fitted to its input), under `floor`.
    pub fn new(subject: Arc<Subject>, val: Arc<Part>, floor: f64, size: bool) -> Self {
        let dense_bytes = subject.dense_bytes();
        RealProblem {
            subject,
            val,
            floor,
            dense_bytes,
            specs: specs(size),
        }
    }

    /// Scores of one genome.
    pub fn scores(&self, g: &MixedGenome) -> Result<Scores> {
        self.subject.score(&self.subject.plan(g)?, &self.val)
    }

    /// What it compresses.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The dense network's storage in bytes (the size objective's unit).
    pub fn dense_bytes(&self) -> f64 {
        self.dense_bytes
    }

    fn evaluation(&self, s: &Scores) -> Evaluation {
        let mut f = vec![s.accuracy, s.nonzero];
        if self.specs.len() == 3 {
            f.push(s.bytes / self.dense_bytes);
        }
        Evaluation::with_constraints(f, vec![self.floor - s.accuracy])
            .extra("accuracy", s.accuracy)
            .extra("nonzero", s.nonzero)
            .extra("bytes", s.bytes)
    }
}

impl Problem for RealProblem {
    type Genome = MixedGenome;
    type Error = CompressError;
    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }
    fn n_constraints(&self) -> usize {
        1
    }
    fn name(&self) -> &str {
        self.subject.problem_name()
    }
    fn batch_hint(&self) -> usize {
        1
    }
    fn evaluate(&self, g: &MixedGenome) -> Result<Evaluation> {
        Ok(self.evaluation(&self.scores(g)?))
    }
}

/// Surrogate features of a genome: its reals, then its ints (`2 + L` and `4 + L` for a network
/// of `L` layers: the length follows the network; genes fixed by the bounds are constant
/// columns).
pub fn features(g: &MixedGenome) -> Vec<f64> {
    g.reals
        .0
        .iter()
        .copied()
        .chain(g.ints.0.iter().map(|&v| v as f64))
        .collect()
}

/// The problem the surrogates define: predicted objectives, predicted constraint.
struct SurrogateProblem {
    models: Vec<Model>,
    floor: f64,
    specs: Vec<ObjectiveSpec>,
}

impl SurrogateProblem {
    fn predict(&self, genomes: &[&MixedGenome]) -> Result<Vec<Vec<f64>>> {
        let x: Vec<Vec<f64>> = genomes.iter().map(|g| features(g)).collect();
        let cols: Vec<Vec<f64>> = self
            .models
            .iter()
            .map(|m| m.predict(&x))
            .collect::<std::result::Result<_, _>>()?;
        Ok((0..x.len())
            .map(|i| cols.iter().map(|c| c[i]).collect())
            .collect())
    }
}

impl Problem for SurrogateProblem {
    type Genome = MixedGenome;
    type Error = CompressError;
    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }
    fn n_constraints(&self) -> usize {
        1
    }
    fn batch_hint(&self) -> usize {
        100_000
    }
    fn evaluate(&self, g: &MixedGenome) -> Result<Evaluation> {
        let p = self.predict(&[g])?.remove(0);
        Ok(Evaluation::with_constraints(
            p.clone(),
            vec![self.floor - p[0]],
        ))
    }
    fn evaluate_batch(&self, genomes: &[&MixedGenome]) -> Vec<Result<Evaluation>> {
        match self.predict(genomes) {
            Ok(rows) => rows
                .into_iter()
                .map(|p| {
                    Ok(Evaluation::with_constraints(
                        p.clone(),
                        vec![self.floor - p[0]],
                    ))
                })
                .collect(),
            Err(e) => {
                let msg = e.to_string();
                genomes
                    .iter()
                    .map(|_| Err(CompressError::invalid("surrogate", msg.clone())))
                    .collect()
            }
        }
    }
}

/// Cross-validated error (MAE) of each kind for each target at one iteration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvRecord {
    /// Real evaluations the surrogates were fitted on.
    pub samples: usize,
    /// Per target (accuracy, non-zero fraction, bytes as a fraction of the dense model).
    pub targets: Vec<TargetCv>,
}

/// The cross-validation of one target at one iteration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetCv {
    /// `accuracy`, `nonzero` or `bytes`.
    pub target: String,
    /// Mean absolute error of every kind.
    pub errors: Vec<(Kind, f64)>,
    /// The kind chosen.
    pub chosen: Kind,
}

/// `checkpoint/seed-S/surrogate.json`: the loop's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Every real evaluation, in order.
    pub evaluated: Vec<Evaluated>,
    /// Cross-validation at each iteration.
    pub cv: Vec<CvRecord>,
    /// Why the loop ended before spending its budget (the surrogates had no new candidate left).
    #[serde(default)]
    pub stopped: Option<String>,
    /// Wall seconds spent in the loop, summed over resumes (up to its last saved state).
    #[serde(default)]
    pub seconds: f64,
}

/// Search operators shared by the real search and the search on the surrogates (pymoo's
/// defaults, as the paper: SBX 0.9 / eta 15, polynomial mutation eta 20).
type Algo<S> = Nsga2<
    MixedGenome,
    S,
    MixedCrossover<Sbx, IntSbx, UniformCrossover>,
    MixedMutation<PolynomialMutation, IntPolynomialMutation, BitFlip>,
>;

type Operators = (
    MixedCrossover<Sbx, IntSbx, UniformCrossover>,
    MixedMutation<PolynomialMutation, IntPolynomialMutation, BitFlip>,
);

fn operators(b: &MixedBounds) -> Operators {
    (
        MixedCrossover {
            reals: Sbx::new(b.reals.clone()),
            ints: IntSbx::new(b.ints.clone()),
            bits: UniformCrossover::default(),
        },
        MixedMutation {
            reals: PolynomialMutation::new(b.reals.clone()),
            ints: IntPolynomialMutation::new(b.ints.clone()),
            bits: BitFlip { rate: None },
        },
    )
}

fn algorithm<S: Sampling<MixedGenome>>(
    b: &MixedBounds,
    cfg: Nsga2Config,
    sampling: S,
) -> Result<Algo<S>> {
    let (x, m) = operators(b);
    Ok(Nsga2::new(cfg, sampling, x, m)?)
}

/// `algo` on the surrogates for `generations`, on one thread, without a cache (a prediction
/// costs less than a lookup); its final population.
fn search_surrogates<A: Algorithm<MixedGenome>>(
    sp: &SurrogateProblem,
    algo: A,
    seed: u64,
    generations: u64,
) -> Result<Vec<Individual<MixedGenome>>> {
    let out = Executor::new(sp, algo)
        .seed(seed)
        .threads(1)
        .cache(false)
        .termination(MaxGenerations(generations))
        .run()?;
    Ok(out.state.population)
}

/// Known genomes first, then samples.
struct Seeded {
    known: Vec<MixedGenome>,
    sampling: MixedSampling,
}

impl Sampling<MixedGenome> for Seeded {
    fn sample(&self, n: usize, rng: &mut evoprune::EvoRng) -> Vec<MixedGenome> {
        let mut out: Vec<MixedGenome> = self.known.iter().take(n).cloned().collect();
        let rest = n - out.len();
        out.extend(self.sampling.sample(rest, rng));
        out
    }
}

fn minimised(s: &Scores, size: bool, dense_bytes: f64) -> Vec<f64> {
    let mut v = vec![1.0 - s.accuracy, s.nonzero];
    if size {
        v.push(s.bytes / dense_bytes);
    }
    v
}

/// The feasible non-dominated evaluations (validation objectives), by non-zero fraction.
pub fn front(evals: &[Evaluated], floor: f64, size: bool, dense_bytes: f64) -> Vec<Evaluated> {
    let feas: Vec<&Evaluated> = evals
        .iter()
        .filter(|e| e.scores.accuracy >= floor)
        .collect();
    let pts: Vec<Vec<f64>> = feas
        .iter()
        .map(|e| minimised(&e.scores, size, dense_bytes))
        .collect();
    let mut f: Vec<Evaluated> = non_dominated_sort(&pts)
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(|i| feas[i].clone())
        .collect();
    f.sort_by(|a, b| {
        a.scores
            .nonzero
            .total_cmp(&b.scores.nonzero)
            .then(b.scores.accuracy.total_cmp(&a.scores.accuracy))
    });
    f.dedup_by(|a, b| a.genome == b.genome);
    f
}

/// What one seed's runs need.
pub struct Seed<'a> {
    /// The config.
    pub cfg: &'a Config,
    /// The real problem.
    pub problem: &'a RealProblem,
    /// The seed.
    pub seed: u64,
    /// Its checkpoint folder.
    pub dir: &'a Path,
    /// Stop flag.
    pub stop: Arc<AtomicBool>,
    /// Threads of the real evaluations.
    pub threads: usize,
}

impl Seed<'_> {
    /// The surrogate-assisted loop (resumable from `dir/surrogate.json`): the initial design,
    /// then until the budget: fit the surrogates, optimise on them, evaluate the picks for real.
    pub fn surrogate(&self, mut on_eval: impl FnMut(usize)) -> Result<LoopState> {
        let c = &self.cfg.surrogate;
        let size = self.cfg.problem.size_objective;
        let dense = self.problem.dense_bytes;
        let b = self.problem.subject.bounds(self.cfg.problem.max_amount)?;
        let path = self.dir.join("surrogate.json");
        let mut st: LoopState = evoprune_run::stage::read(&path)?.unwrap_or_default();
        // the time of earlier processes, as saved, plus this one's at each save
        let (t, before) = (std::time::Instant::now(), st.seconds);
        let save = |st: &mut LoopState| {
            st.seconds = before + t.elapsed().as_secs_f64();
            evoprune_run::stage::write(&path, st)
        };
        if st.evaluated.is_empty() {
            // the same sampler and seed as the real search's initial population
            let init = MixedSampling { bounds: b.clone() }
                .sample(c.initial, &mut rng_from_seed(self.seed));
            st.evaluated = self.evaluate(init)?;
            save(&mut st)?;
        }
        on_eval(st.evaluated.len());
        while st.evaluated.len() < c.budget && st.stopped.is_none() {
            if self.stop.load(Ordering::SeqCst) {
                return Err(self.interrupted("surrogate search"));
            }
            let it = st.cv.len() as u64;
            let (models, rec) = self.fit(&st.evaluated, it)?;
            st.cv.push(rec);
            let pop = self.optimise(models, &st.evaluated, &b, it)?;
            let want = c.per_iteration.min(c.budget - st.evaluated.len());
            let picks = pick(&pop, &st.evaluated, want, size, dense);
            if picks.is_empty() {
                // converged: end this seed with what it has (saved, so a resume ends it too)
                st.stopped = Some(format!(
                    "no new candidate after {} of {} evaluations: every surrogate optimum was \
                     evaluated before",
                    st.evaluated.len(),
                    c.budget
                ));
                save(&mut st)?;
                break;
            }
            let new = self.evaluate(picks)?;
            st.evaluated.extend(new);
            save(&mut st)?;
            on_eval(st.evaluated.len());
        }
        Ok(st)
    }

    fn interrupted(&self, search: &str) -> CompressError {
        CompressError::Interrupted {
            phase: format!("{search}, seed {}", self.seed),
            run_dir: self.dir.to_path_buf(),
        }
    }

    /// Real evaluations of `genomes`, on the seed's threads, in order.
    fn evaluate(&self, genomes: Vec<MixedGenome>) -> Result<Vec<Evaluated>> {
        let pool = evoprune_run::seeds::pool(self.threads)?;
        pool.install(|| {
            genomes
                .into_par_iter()
                .map(|g| {
                    let scores = self.problem.scores(&g)?;
                    Ok(Evaluated { genome: g, scores })
                })
                .collect()
        })
    }

    /// One regressor per target (accuracy, non-zero fraction, bytes) fitted on `evaluated`,
    /// each kind chosen by k-fold cross-validation (folds seeded by iteration `it` and target).
    /// Returns the models of the searched objectives and the cross-validation record.
    fn fit(&self, evaluated: &[Evaluated], it: u64) -> Result<(Vec<Model>, CvRecord)> {
        let c = &self.cfg.surrogate;
        let dense = self.problem.dense_bytes;
        let x: Vec<Vec<f64>> = evaluated.iter().map(|e| features(&e.genome)).collect();
        let column = |v: &dyn Fn(&Scores) -> f64| -> Vec<f64> {
            evaluated.iter().map(|e| v(&e.scores)).collect()
        };
        // bytes are always modelled (reported), an objective only with size_objective
        let targets = [
            ("accuracy", column(&|s| s.accuracy)),
            ("nonzero", column(&|s| s.nonzero)),
            ("bytes", column(&|s| s.bytes / dense)),
        ];
        let mut models = Vec::new();
        let mut rec = CvRecord {
            samples: x.len(),
            targets: Vec::new(),
        };
        for (k, (name, y)) in targets.into_iter().enumerate() {
            let folds = c.folds.min(x.len());
            let (m, scores) = select(
                &c.kinds,
                &x,
                &y,
                folds,
                seeds::derive(self.seed, Purpose::SurrogateFolds, (it << 8) ^ k as u64),
            )?;
            rec.targets.push(TargetCv {
                target: name.into(),
                errors: scores,
                chosen: m.kind(),
            });
            if k < 2 || self.cfg.problem.size_objective {
                models.push(m);
            }
        }
        Ok((models, rec))
    }

    /// The optimiser on the surrogates `models` at iteration `it`, started from the real front
    /// of `evaluated` (at most half the population), the rest sampled. Returns its final
    /// population (C-TAEA: the convergence archive, then the diversity archive).
    fn optimise(
        &self,
        models: Vec<Model>,
        evaluated: &[Evaluated],
        b: &MixedBounds,
        it: u64,
    ) -> Result<Vec<Individual<MixedGenome>>> {
        let c = &self.cfg.surrogate;
        let (floor, size) = (
            self.cfg.problem.accuracy_floor,
            self.cfg.problem.size_objective,
        );
        let sp = SurrogateProblem {
            models,
            floor,
            specs: specs(size),
        };
        // start from the real front (at most half the population), then samples
        let known: Vec<MixedGenome> = front(evaluated, floor, size, self.problem.dense_bytes)
            .into_iter()
            .map(|e| e.genome)
            .collect();
        let seeded = |n: usize| {
            let mut known = known.clone();
            known.truncate(n / 2);
            Seeded {
                known,
                sampling: MixedSampling { bounds: b.clone() },
            }
        };
        let seed = seeds::derive(self.seed, Purpose::SurrogateSearch, it);
        match c.optimiser {
            Optimiser::Nsga2 => {
                let cfg = Nsga2Config {
                    pop_size: c.pop_size,
                    ..Default::default()
                };
                let algo = algorithm(b, cfg, seeded(c.pop_size))?;
                search_surrogates(&sp, algo, seed, c.generations)
            }
            Optimiser::Ctaea => {
                let dirs = evoprune::pareto::das_dennis_at_least(sp.specs.len(), c.pop_size);
                let (x, m) = operators(b);
                let cfg = CtaeaConfig {
                    crossover_prob: 0.9,
                    ..Default::default()
                };
                let n = dirs.len();
                let algo = Ctaea::new(cfg, dirs, seeded(n), x, m)?;
                search_surrogates(&sp, algo, seed, c.generations)
            }
        }
    }

    /// The real search (resumable from `dir/real/`): every evaluation, and the wall seconds
    /// the engine spent in it, summed over resumes.
    pub fn real(
        &self,
        mut on_eval: impl FnMut(usize) + Send + 'static,
    ) -> Result<(Vec<Evaluated>, f64)> {
        let c = &self.cfg.surrogate;
        let b = self.problem.subject.bounds(self.cfg.problem.max_amount)?;
        let algo = algorithm(
            &b,
            Nsga2Config::steady_state(c.initial, c.per_iteration),
            MixedSampling { bounds: b.clone() },
        )?;
        let dir = self.dir.join("real");
        let stage = EngineStage {
            dir,
            seed: self.seed,
            threads: self.threads,
            fingerprint: format!("{}\nreal seed {}", self.cfg.to_toml()?, self.seed),
            stop: self.stop.clone(),
            every: 1,
            remote: None,
        };
        let out = stage
            .executor(self.problem, algo)
            .cache(true)
            .termination(MaxEvaluations(c.budget as u64))
            .observer(
                move |_: &evoprune::Event, s: &evoprune::State<MixedGenome>, _: f64| {
                    on_eval(s.stats.evaluations as usize)
                },
            )
            .run()?;
        if out.reason == TerminationReason::Interrupted {
            return Err(self.interrupted("real search"));
        }
        // every evaluated genome, from the engine's cache (in no particular order: sort)
        let cache = out.state.cache.as_ref().expect("cache on");
        let mut evals: Vec<Evaluated> = cache
            .iter()
            .filter_map(|(g, o)| {
                o.as_ref().ok().map(|e| Evaluated {
                    genome: g.clone(),
                    scores: Scores {
                        accuracy: e.extras["accuracy"],
                        nonzero: e.extras["nonzero"],
                        bytes: e.extras["bytes"],
                    },
                })
            })
            .collect();
        // the plan genome has no bits; reals by bit pattern (a total order), then ints
        evals.sort_by_cached_key(|e| {
            let g = &e.genome;
            (
                g.reals.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                g.ints.0.clone(),
            )
        });
        Ok((evals, out.state.stats.elapsed_secs))
    }
}

/// The `want` candidates of the surrogate population's predicted feasible front (then the
/// rest of it) farthest from the evaluated points in normalised objective space, picked one at
/// a time (max-min distance), skipping genomes evaluated before.
fn pick(
    pop: &[evoprune::Individual<MixedGenome>],
    evaluated: &[Evaluated],
    want: usize,
    size: bool,
    dense: f64,
) -> Vec<MixedGenome> {
    let done: std::collections::HashSet<&MixedGenome> =
        evaluated.iter().map(|e| &e.genome).collect();
    // minimisation-form predicted objectives: the engine stores `f` minimised already
    let mut cands: Vec<(usize, Vec<f64>)> = pop
        .iter()
        .enumerate()
        .filter(|(_, i)| !done.contains(&i.genome))
        .map(|(k, i)| (k, i.f.clone()))
        .collect();
    let feasible_first = |k: usize| (!pop[k].is_feasible(), pop[k].rank);
    cands.sort_by_key(|(k, _)| (feasible_first(*k), *k));
    let mut refs: Vec<Vec<f64>> = evaluated
        .iter()
        .map(|e| {
            let mut v = vec![-e.scores.accuracy, e.scores.nonzero];
            if size {
                v.push(e.scores.bytes / dense);
            }
            v
        })
        .collect();
    let m = refs.first().map_or(2, |r| r.len());
    let lo: Vec<f64> = (0..m)
        .map(|j| refs.iter().map(|r| r[j]).fold(f64::INFINITY, f64::min))
        .collect();
    let hi: Vec<f64> = (0..m)
        .map(|j| refs.iter().map(|r| r[j]).fold(f64::NEG_INFINITY, f64::max))
        .collect();
    let dist = |a: &[f64], b: &[f64]| -> f64 {
        (0..m)
            .map(|j| ((a[j] - b[j]) / (hi[j] - lo[j]).max(1e-12)).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut out: Vec<MixedGenome> = Vec::new();
    while out.len() < want && !cands.is_empty() {
        // the best tier still available (feasible first front first)
        let tier = feasible_first(cands[0].0);
        let mut best: Option<(f64, usize)> = None;
        for (ci, (k, f)) in cands.iter().enumerate() {
            if feasible_first(*k) != tier {
                break;
            }
            let d = refs
                .iter()
                .map(|r| dist(f, r))
                .fold(f64::INFINITY, f64::min);
            if best.is_none_or(|(bd, _)| d > bd) {
                best = Some((d, ci));
            }
        }
        let (_, ci) = best.expect("a candidate in the tier");
        let (k, f) = cands.remove(ci);
        if out.iter().all(|g| *g != pop[k].genome) {
            out.push(pop[k].genome.clone());
            refs.push(f);
        }
    }
    out
}
