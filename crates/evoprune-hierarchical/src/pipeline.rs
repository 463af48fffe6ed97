//! The run: data, the pre-trained network (trained once and cached), phase 1, the anchors,
//! phase 2, fine-tuning of the final front, front files, plots, the report and export.
//!
//! Each phase is one engine run checkpointed every generation in its own folder
//! (`checkpoint/phase1`, `checkpoint/phase2`); a finished phase is summarised atomically in
//! `checkpoint/phase1.json` / `phase2.json`, and each fine-tuned member is written as soon as it
//! is done (`checkpoint/finetune.json` lists them), so an interruption loses at most the
//! generation or the member in flight. The output files are declared once (`outputs.rs`) and
//! written together at the end.

use crate::config::{Config, Importance, ModelChoice, ModelConfig, ModelKind, Phase1Init};
use crate::model::{GraphNet, Model};
use crate::phase1::Thresholds;
use crate::phase2::{Adapt, ImportanceMutation, ImportanceSampling, Rate, Space, Survivors};
use crate::{HierError, Result};
use evoprune::pareto::{hypervolume, non_dominated_sort};
use evoprune::{
    BitString, Event, EvoRng, MaxGenerations, Nsga2, Nsga2Config, PolynomialMutation, RealBounds,
    RealVector, RunResult, Sampling, Sbx, SpreadReal, State, TerminationReason, UniformCrossover,
    UniformReal,
};
use evoprune_data::digits28::{Data, Part, prepare};
use evoprune_nn::dense::LENET_300_100;
use evoprune_nn::store::{dense_baseline, lenet_baseline};
use evoprune_run::MethodConfig;
use evoprune_run::engine::EngineStage;
use evoprune_run::seeds::{self, Purpose};
use evoprune_run::{Reporter, RunDir};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use evoprune_run::Driver;

type Rep = Arc<Mutex<Box<dyn Reporter>>>;

fn note(rep: &Rep, msg: &str) {
    rep.lock().expect("reporter").note(msg);
}

/// A point of a front: its keep-mask (hex, over all weights) and validation objectives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Validation error, then the costs.
    pub f: Vec<f64>,
    /// Kept weights per layer.
    pub kept: Vec<usize>,
    /// The keep-mask over all weights, hex.
    pub keep: String,
}

/// A finished phase (`checkpoint/phase1.json`, `phase2.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// The first front of the final population, by the first cost.
    pub front: Vec<Point>,
    /// Phase 1: the thresholds of each front member (magnitudes, per layer).
    pub thresholds: Vec<Vec<f64>>,
    /// Evaluations.
    pub evaluations: u64,
    /// Generations.
    pub generations: u64,
    /// Wall seconds (summed over resumes).
    pub seconds: f64,
    /// Phase 2: genome bits (surviving weights of the heavy anchor).
    pub bits: usize,
    /// Phase 2: children evaluated incrementally and in full.
    pub incremental: [u64; 2],
    /// Phase 2: indices of the heavy and light anchors in the phase-1 front.
    pub anchors: [usize; 2],
}

/// One member of the final result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Index (the `member` of `evoprune export`).
    pub index: usize,
    /// Which phase found it (1 or 2).
    pub phase: u8,
    /// Validation objectives at search time (error, costs...).
    pub search: Vec<f64>,
    /// Remaining parameter fraction.
    pub params: f64,
    /// Remaining MAC fraction.
    pub flops: f64,
    /// Kept weights per layer.
    pub kept: Vec<usize>,
    /// Test error as pruned (no fine-tuning).
    pub test_error_pruned: f64,
    /// Test error after fine-tuning (equal to the pruned one without fine-tuning).
    pub test_error: f64,
    /// Validation error after fine-tuning.
    pub val_error: f64,
    /// The model file (in the run folder): safetensors for the built-in LeNets, the realized
    /// network's ONNX for a `[model]` network.
    pub file: String,
    /// A `[model]` network: the realized network's safetensors (PyTorch names, new shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// Remaining parameters (biases always; batch-norm running statistics not counted).
    #[serde(default)]
    pub param_count: usize,
    /// Remaining multiply-accumulates per image.
    #[serde(default)]
    pub mac_count: usize,
}

/// `result.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// The network.
    pub model: ModelChoice,
    /// Baseline test error.
    pub baseline_test_error: f64,
    /// Baseline validation error (on the fitness images).
    pub baseline_val_error: f64,
    /// Hypervolume of the phase-1 front, the phase-2 front and their union, objectives as
    /// searched (validation), reference 1 for each.
    pub hypervolume: [f64; 3],
    /// The same after normalising each objective by the union's ideal and nadir points,
    /// reference 1.1 (pymoo's practice).
    pub hypervolume_normalized: [f64; 3],
    /// The fraction of the anchors' box that each front dominates: error scaled so the
    /// baseline's validation error is 0 and the light anchor's is 1, the first cost so 0 is 0
    /// and the heavy anchor's is 1 (the region phase 2 searches), reference (1, 1).
    pub hypervolume_box: [f64; 3],
    /// The fine-tuned members, by parameters.
    pub members: Vec<Member>,
    /// Phase 1 and 2 summaries (fronts omitted).
    pub phase_seconds: [f64; 2],
    /// Evaluations of each phase.
    pub evaluations: [u64; 2],
    /// Bits of the phase-2 genome.
    pub phase2_bits: usize,
    /// Phase-2 children evaluated incrementally and in full.
    pub incremental: [u64; 2],
    /// Seconds of fine-tuning and scoring.
    pub finetune_seconds: f64,
    /// The data used.
    pub data: String,
}

/// A finished run: its folder, result and result table.
pub type Summary = evoprune_run::Summary<ResultFile>;

/// Start a new run of `cfg` in `dir`.
pub fn run(cfg: &Config, dir: &Path, driver: Driver) -> Result<Summary> {
    let (cfg, rd) = evoprune_run::start(cfg, dir)?;
    execute(&cfg, rd, driver)
}

/// Continue (or re-finalise) the run in `dir`.
pub fn resume(dir: &Path, driver: Driver) -> Result<Summary> {
    let (cfg, rd) = evoprune_run::reopen(dir)?;
    execute(&cfg, rd, driver)
}

/// The pre-trained built-in network `kind`: the configured file, or the cached result of
/// training one with `baseline.solver` on the training split (key: model + data + solver +
/// seed; LeNet shares GA pruning's cache).
pub fn baseline(cfg: &Config, kind: ModelKind, data: &Data, rep: &Rep) -> Result<Model> {
    let b = &cfg.baseline;
    let mut r = rep.lock().expect("reporter");
    let progress = evoprune_run::training(&mut **r, "training the baseline".into());
    let (params, origin) = match kind {
        ModelKind::Lenet300100 => {
            let (n, o) = dense_baseline(b, cfg.seed, &LENET_300_100, &data.train, progress)?;
            (n.params, o)
        }
        ModelKind::Lenet => {
            let (n, o) = lenet_baseline(b, cfg.seed, &data.train, progress)?;
            (n.params, o)
        }
    };
    drop(r);
    note(rep, &origin.describe("baseline"));
    Model::new(kind, params)
}

/// The stored baseline of a `[model]` network fine-tuned before the search.
const GRAPH_BASELINE: &str = "baseline.safetensors";

/// The network of a `[model]` section and the data fitted to its input: the loaded network,
/// fine-tuned on the training split when `model.train.epochs > 0` (all weights free; a stage
/// of the run: stored in `checkpoint/baseline.safetensors`, not redone on resume).
fn graph_baseline(
    cfg: &Config,
    m: &ModelConfig,
    data: Data,
    rd: &RunDir,
    rep: &Rep,
) -> Result<(Model, Data)> {
    let net = evoprune_graph::net::Net::new(m.load(cfg.seed)?)?;
    if net.classes < 10 {
        return Err(HierError::invalid(
            "model",
            format!(
                "{} has {} classes; the digits need at least 10 outputs",
                m.describe(),
                net.classes
            ),
        ));
    }
    let fit = |p: &Part| -> Result<Part> {
        Ok(Part {
            x: net.fit(&p.x, p.len(), [1, 28, 28])?,
            y: p.y.clone(),
        })
    };
    let data = Data {
        train: fit(&data.train)?,
        val: fit(&data.val)?,
        test: fit(&data.test)?,
        description: format!(
            "{}; images fitted to the network's input {:?}",
            data.description,
            &net.graph.input_shape[1..]
        ),
    };
    note(rep, &data.description);
    let mut net = net;
    let (g, origin) = {
        let mut r = rep.lock().expect("reporter");
        let (seed, mut progress) =
            evoprune_run::baseline_stage(&mut **r, cfg.seed, &m.describe(), m.train.epochs);
        net.baseline(
            &m.train,
            &data.train.x,
            &data.train.y,
            seed,
            Some(&rd.checkpoint_dir().join(GRAPH_BASELINE)),
            Some(&cfg.baseline.cache_dir),
            move |p| progress(p.step, p.steps),
        )?
    };
    note(rep, &origin.describe(&m.describe()));
    net.graph = g;
    let model = Model::from_net(net)?;
    note(
        rep,
        &format!(
            "network {}: {} prunable weight tensors, {} weights, {} parameters, {} MACs per image",
            m.describe(),
            model.layers().len(),
            model.n_weights(),
            model.n_params(),
            model.dense_macs()
        ),
    );
    Ok((model, data))
}

/// Generation progress of one phase on the reporter.
struct Progress(Rep);

impl<G: evoprune::Genome> evoprune::Observer<G> for Progress {
    fn notify(&mut self, e: &Event, s: &State<G>, _: f64) -> evoprune::Result<()> {
        if matches!(e, Event::Generation | Event::Started { .. }) {
            self.0
                .lock()
                .expect("reporter")
                .progress(s.stats.generation);
        }
        Ok(())
    }
}

fn read_phase(path: &Path) -> Result<Option<PhaseResult>> {
    Ok(evoprune_run::stage::read(path)?)
}

fn first_front<G: Clone>(pop: &[evoprune::Individual<G>]) -> Vec<usize> {
    let pts: Vec<Vec<f64>> = pop.iter().map(|i| i.f.clone()).collect();
    let mut f: Vec<usize> = non_dominated_sort(&pts)
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .filter(|&i| pop[i].is_feasible())
        .collect();
    f.sort_by(|&a, &b| pop[a].f[1].total_cmp(&pop[b].f[1]).then(a.cmp(&b)));
    f
}

struct Ctx<'a> {
    cfg: &'a Config,
    rd: &'a RunDir,
    model: Arc<Model>,
    val: Arc<Part>,
    threads: usize,
    stop: Arc<AtomicBool>,
    rep: Rep,
}

impl Ctx<'_> {
    fn interrupted(&self, phase: &str) -> HierError {
        HierError::Interrupted {
            phase: phase.into(),
            run_dir: self.rd.root().to_path_buf(),
        }
    }

    /// Open the reporter's stage `name` of `total` units.
    fn stage(&self, name: &str, total: u64) {
        self.rep.lock().expect("reporter").stage(name, Some(total));
    }

    /// Note a finished phase on the reporter.
    fn phase_done(&self, phase: u8, r: &PhaseResult) {
        note(
            &self.rep,
            &format!(
                "phase {phase} done: {} front members, {} evaluations, {:.0} s",
                r.front.len(),
                r.evaluations,
                r.seconds
            ),
        );
    }

    /// The checkpointed engine run of `phase` in `dir`.
    fn engine(&self, dir: &Path, seed: u64, phase: &str) -> Result<EngineStage> {
        Ok(EngineStage {
            dir: dir.to_path_buf(),
            seed,
            threads: self.threads,
            fingerprint: format!("{}\n{phase}", self.cfg.to_toml()?),
            stop: self.stop.clone(),
            every: 1,
            remote: None,
        })
    }

    /// Phase 1: NSGA-II over one magnitude threshold per layer.
    fn phase1(&self) -> Result<PhaseResult> {
        let done = self.rd.checkpoint_dir().join("phase1.json");
        if let Some(r) = read_phase(&done)? {
            return Ok(r);
        }
        let c = &self.cfg.phase1;
        let problem = Thresholds::new(self.model.clone(), self.val.clone(), &self.cfg.search.costs);
        let bounds = RealBounds::uniform(problem.n_genes(), 0.0, c.max_prune)?;
        let algo = Nsga2::new(
            nsga2(c.pop_size, c.crossover_prob),
            ThresholdInit {
                init: c.init,
                bounds: bounds.clone(),
            },
            Sbx::new(bounds.clone()),
            PolynomialMutation::new(bounds),
        )?;
        let dir = self.rd.checkpoint_dir().join("phase1");
        let layers = self.model.layers().len();
        self.stage(
            &format!("phase 1: thresholds of {layers} layers"),
            c.generations,
        );
        let out = self
            .engine(&dir, self.cfg.seed, "phase1")?
            .executor(&problem, algo)
            .cache(true)
            .termination(MaxGenerations(c.generations))
            .observer(Progress(self.rep.clone()))
            .run()?;
        if out.reason == TerminationReason::Interrupted {
            return Err(self.interrupted("phase 1"));
        }
        let (front, thresholds) = front_points(&self.model, &out.state.population, |g| {
            Ok((problem.keep_mask(&g.0)?, problem.thresholds(&g.0)))
        })?;
        let r = PhaseResult {
            front,
            thresholds,
            evaluations: out.state.stats.evaluations,
            generations: out.state.stats.generation,
            seconds: out.state.stats.elapsed_secs,
            bits: self.model.n_weights(),
            incremental: [0, 0],
            anchors: [0, 0],
        };
        finish_phase(&done, &dir, r)
    }

    fn importance(&self, data: &Data) -> Result<Vec<f32>> {
        Ok(match self.cfg.phase2.importance {
            Importance::Magnitude => crate::phase2::importance(&self.model, None),
            Importance::Taylor => {
                let part = self.model.take(&data.train, self.cfg.phase2.taylor_images);
                let g = self.model.gradient(&part)?;
                crate::phase2::importance(&self.model, Some(&g))
            }
        })
    }

    /// Phase 2: binary NSGA-II over the weights that survive the heavy anchor, sampled between
    /// the heavy and the light anchor.
    fn phase2(&self, p1: &PhaseResult, base_err: f64, data: &Data) -> Result<PhaseResult> {
        let done = self.rd.checkpoint_dir().join("phase2.json");
        if let Some(r) = read_phase(&done)? {
            return Ok(r);
        }
        let c = &self.cfg.phase2;
        let [h, l] = anchors(&p1.front, base_err, c.heavy_tolerance, c.light_tolerance)
            .ok_or_else(|| {
                HierError::invalid(
                    "phase 1",
                    "its front is empty (every evaluation failed): no anchor for phase 2",
                )
            })?;
        let (space, light_keep) = self.survivor_space(p1, [h, l], data)?;
        let problem = Arc::new(Survivors::new(
            self.model.clone(),
            self.val.clone(),
            space.clone(),
            &self.cfg.search.costs,
            c.incremental,
        ));
        let dir = self.rd.checkpoint_dir().join("phase2");
        let out = self.search_survivors(&dir, &space, &problem, &light_keep)?;
        let n = self.model.n_weights();
        let (front, _) = front_points(&self.model, &out.state.population, |g| {
            Ok((space.keep_mask(g, n), Vec::new()))
        })?;
        let r = PhaseResult {
            front,
            thresholds: Vec::new(),
            evaluations: out.state.stats.evaluations,
            generations: out.state.stats.generation,
            seconds: out.state.stats.elapsed_secs,
            bits: space.len(),
            incremental: [
                problem.counters[0].load(Ordering::Relaxed),
                problem.counters[1].load(Ordering::Relaxed),
            ],
            anchors: [h, l],
        };
        finish_phase(&done, &dir, r)
    }

    /// Phase 2's genome space: the weights that survive the heavy anchor `h` of the phase-1
    /// front, ranked by importance. Also returns the light anchor `l`'s keep-mask.
    fn survivor_space(
        &self,
        p1: &PhaseResult,
        [h, l]: [usize; 2],
        data: &Data,
    ) -> Result<(Arc<Space>, BitString)> {
        let parse = |p: &Point| {
            BitString::from_hex(&p.keep).map_err(|e| HierError::invalid("phase1.json", e))
        };
        let heavy = parse(&p1.front[h])?;
        let light_keep = parse(&p1.front[l])?;
        let imp = self.importance(data)?;
        let space = Arc::new(Space::new(&self.model, &heavy, &imp)?);
        if space.is_empty() {
            return Err(HierError::invalid(
                "phase2.heavy_tolerance",
                "the heavy anchor keeps no weight",
            ));
        }
        note(
            &self.rep,
            &format!(
                "phase-2 anchors: heavy = phase-1 member {h} ({:.2}% params, error {:.2}%), light = member {l} ({:.2}% params, error {:.2}%); {} bits",
                100.0 * p1.front[h].f[1],
                100.0 * p1.front[h].f[0],
                100.0 * p1.front[l].f[1],
                100.0 * p1.front[l].f[0],
                space.len()
            ),
        );
        Ok((space, light_keep))
    }

    /// The checkpointed phase-2 engine run in `dir`: importance-aware sampling from the light
    /// anchor, importance-aware mutation at a rate adapted to the population every generation.
    fn search_survivors(
        &self,
        dir: &Path,
        space: &Arc<Space>,
        problem: &Arc<Survivors>,
        light_keep: &BitString,
    ) -> Result<RunResult<BitString>> {
        let c = &self.cfg.phase2;
        let len = space.len() as f64;
        // a small surviving space can put mutation_min / len above the cap: the cap wins
        let hi = (c.mutation_max / len).min(0.5);
        let bounds = ((c.mutation_min / len).min(hi), hi);
        let rate = Rate::new(bounds.1);
        let algo = Nsga2::new(
            nsga2(c.pop_size, c.crossover_prob),
            ImportanceSampling {
                space: space.clone(),
                light: space.genome_of(light_keep),
            },
            UniformCrossover::default(),
            ImportanceMutation {
                space: space.clone(),
                rate: rate.clone(),
            },
        )?;
        self.stage(&format!("phase 2: {} bits", space.len()), c.generations);
        let seed = seeds::derive(self.cfg.seed, Purpose::Phase2, 0);
        let out = self
            .engine(dir, seed, "phase2")?
            .executor(problem.as_ref(), algo)
            // no evaluation cache: genomes of ~10^5 bits would make every per-generation
            // checkpoint carry all of them; duplicates of the population are eliminated anyway
            .cache(false)
            .termination(MaxGenerations(c.generations))
            .observer(Adapt {
                problem: problem.clone(),
                rate,
                bounds,
            })
            .observer(Progress(self.rep.clone()))
            .run()?;
        if out.reason == TerminationReason::Interrupted {
            return Err(self.interrupted("phase 2"));
        }
        Ok(out)
    }
}

/// NSGA-II settings of either phase.
fn nsga2(pop_size: usize, crossover_prob: f64) -> Nsga2Config {
    Nsga2Config {
        pop_size,
        crossover_prob,
        ..Default::default()
    }
}

/// The first front of `pop` as points, each keep-mask once, with the extra vector `keep`
/// returns beside each mask (phase 1: the thresholds).
fn front_points<G: Clone>(
    model: &Model,
    pop: &[evoprune::Individual<G>],
    keep: impl Fn(&G) -> Result<(BitString, Vec<f64>)>,
) -> Result<(Vec<Point>, Vec<Vec<f64>>)> {
    let mut front = Vec::new();
    let mut extra = Vec::new();
    for i in first_front(pop) {
        let (mask, x) = keep(&pop[i].genome)?;
        front.push(point(model, pop[i].f.clone(), &mask));
        extra.push(x);
    }
    dedup_points(&mut front, &mut extra);
    Ok((front, extra))
}

/// Store a finished phase in `done` and drop its engine checkpoint `dir`.
fn finish_phase(done: &Path, dir: &Path, r: PhaseResult) -> Result<PhaseResult> {
    evoprune_run::stage::write(done, &r)?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(r)
}

fn point(model: &Model, f: Vec<f64>, keep: &BitString) -> Point {
    Point {
        f,
        kept: model
            .layers()
            .iter()
            .map(|l| l.weights.clone().filter(|&k| keep.get(k)).count())
            .collect(),
        keep: keep.to_hex(),
    }
}

fn dedup_points(front: &mut Vec<Point>, extra: &mut Vec<Vec<f64>>) {
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while i < front.len() {
        if seen.insert(front[i].keep.clone()) {
            i += 1;
        } else {
            front.remove(i);
            extra.remove(i);
        }
    }
}

/// Indices of the heavy and light anchors in a phase-1 front sorted by the first cost: the
/// sparsest members within `heavy` and `light` of the baseline's validation error (the densest
/// member when none is). `None` for an empty front (every phase-1 evaluation failed).
pub fn anchors(front: &[Point], base_err: f64, heavy: f64, light: f64) -> Option<[usize; 2]> {
    let densest = (0..front.len()).max_by(|&a, &b| front[a].f[1].total_cmp(&front[b].f[1]))?;
    let pick = |tol: f64| {
        front
            .iter()
            .enumerate()
            .filter(|(_, p)| p.f[0] <= base_err + tol + 1e-12)
            .min_by(|a, b| a.1.f[1].total_cmp(&b.1.f[1]))
            .map_or(densest, |(i, _)| i)
    };
    Some([pick(heavy), pick(light)])
}

/// Phase 1's initial population, as `[phase1] init` says.
struct ThresholdInit {
    init: Phase1Init,
    bounds: RealBounds,
}

impl Sampling<RealVector> for ThresholdInit {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<RealVector> {
        let bounds = self.bounds.clone();
        match self.init {
            Phase1Init::Uniform => UniformReal { bounds }.sample(n, rng),
            Phase1Init::Spread => SpreadReal { bounds }.sample(n, rng),
        }
    }
}

/// The stages: data, the baseline, phase 1, phase 2, then fine-tuning and the outputs.
fn execute(cfg: &Config, rd: RunDir, driver: Driver) -> Result<Summary> {
    rd.mark_incomplete()?;
    let rep: Rep = Arc::new(Mutex::new(driver.reporter));
    let data = prepare(&cfg.data, cfg.seed)?;
    let (model, data) = match &cfg.model {
        ModelChoice::Builtin(kind) => {
            note(&rep, &data.description);
            (baseline(cfg, *kind, &data, &rep)?, data)
        }
        ModelChoice::Network(m) => graph_baseline(cfg, m, data, &rd, &rep)?,
    };
    let model = Arc::new(model);
    let threads = evoprune_run::seeds::threads(driver.threads, cfg.search.threads);
    let pool = evoprune_run::seeds::pool(threads)?;
    let val = Arc::new(model.take(&data.val, cfg.search.fitness_subset));
    let ctx = Ctx {
        cfg,
        rd: &rd,
        model,
        val,
        threads,
        stop: driver.stop.clone(),
        rep,
    };
    pool.install(|| {
        let base_err = ctx.model.error_par(&ctx.model.params, &ctx.val)?;
        let p1 = ctx.phase1()?;
        ctx.phase_done(1, &p1);
        let p2 = ctx.phase2(&p1, base_err, &data)?;
        ctx.phase_done(2, &p2);
        finalize(&ctx, &data, base_err, &p1, &p2)
    })
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Finetuned {
    members: Vec<Member>,
}

fn hv_sets(sets: [&[Vec<f64>]; 3]) -> ([f64; 3], [f64; 3]) {
    let m = sets[2].first().map_or(2, |p| p.len());
    let raw = sets.map(|s| hypervolume(s, &vec![1.0; m]));
    let union = sets[2];
    let lo: Vec<f64> = (0..m)
        .map(|j| union.iter().map(|p| p[j]).fold(f64::INFINITY, f64::min))
        .collect();
    let hi: Vec<f64> = (0..m)
        .map(|j| union.iter().map(|p| p[j]).fold(f64::NEG_INFINITY, f64::max))
        .collect();
    let norm = |s: &[Vec<f64>]| -> Vec<Vec<f64>> {
        s.iter()
            .map(|p| {
                (0..m)
                    .map(|j| (p[j] - lo[j]) / (hi[j] - lo[j]).max(1e-12))
                    .collect()
            })
            .collect()
    };
    let normed = sets.map(|s| hypervolume(&norm(s), &vec![1.1; m]));
    (raw, normed)
}

/// Hypervolumes of the phase-1 front, the phase-2 front and the final one: raw, normalised and
/// of the anchors' box (see [`ResultFile`]).
fn hypervolumes(
    base_err: f64,
    p1: &PhaseResult,
    p2: &PhaseResult,
    fin: &[(u8, &Point)],
) -> [[f64; 3]; 3] {
    let f1: Vec<Vec<f64>> = p1.front.iter().map(|p| p.f.clone()).collect();
    let f2: Vec<Vec<f64>> = p2.front.iter().map(|p| p.f.clone()).collect();
    let fu: Vec<Vec<f64>> = fin.iter().map(|(_, p)| p.f.clone()).collect();
    let (hv, hvn) = hv_sets([&f1, &f2, &fu]);
    let [h, l] = p2.anchors;
    let (e_hi, c_hi) = (
        p1.front.get(l).map_or(1.0, |p| p.f[0]),
        p1.front.get(h).map_or(1.0, |p| p.f[1]),
    );
    let boxed = |s: &[Vec<f64>]| -> f64 {
        let pts: Vec<Vec<f64>> = s
            .iter()
            .map(|p| {
                vec![
                    (p[0] - base_err) / (e_hi - base_err).max(1e-12),
                    p[1] / c_hi.max(1e-12),
                ]
            })
            .collect();
        hypervolume(&pts, &[1.0, 1.0])
    };
    [hv, hvn, [boxed(&f1), boxed(&f2), boxed(&fu)]]
}

/// The final front: the non-dominated points of both phases by the first cost, each keep-mask
/// once, with the phase that found each.
fn final_front<'a>(p1: &'a PhaseResult, p2: &'a PhaseResult) -> Vec<(u8, &'a Point)> {
    let all: Vec<(u8, &Point)> = (p1.front.iter().map(|p| (1, p)))
        .chain(p2.front.iter().map(|p| (2, p)))
        .collect();
    let pts: Vec<Vec<f64>> = all.iter().map(|(_, p)| p.f.clone()).collect();
    let first = non_dominated_sort(&pts)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut fin: Vec<(u8, &Point)> = first.iter().map(|&i| all[i]).collect();
    fin.sort_by(|a, b| a.1.f[1].total_cmp(&b.1.f[1]).then(a.1.keep.cmp(&b.1.keep)));
    fin.dedup_by(|a, b| a.1.keep == b.1.keep);
    fin
}

/// Indices into the final front `fin` (sorted by its first cost) of, for each fraction in
/// `targets`, the densest member whose first cost is at most it (the sparsest where none is);
/// ascending, without repeats.
fn near(fin: &[(u8, &Point)], targets: &[f64]) -> Vec<usize> {
    let mut v: Vec<usize> = targets
        .iter()
        .filter_map(|&t| {
            let below = fin.iter().rposition(|(_, p)| p.f[1] <= t + 1e-12);
            below.or((!fin.is_empty()).then_some(0))
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The members `chosen` from the final front `fin`, fine-tuned with their masks fixed (scored
/// as pruned without fine-tuning), by index. Each is saved and listed in
/// `checkpoint/finetune.json` as soon as it is done; members listed there are not redone.
fn finetune(
    ctx: &Ctx<'_>,
    data: &Data,
    fin: &[(u8, &Point)],
    chosen: &[usize],
) -> Result<Vec<Member>> {
    let ck = ctx.rd.checkpoint_dir().join("finetune.json");
    let mut done: Finetuned = evoprune_run::stage::read(&ck)?.unwrap_or_default();
    // fine-tuning shows each member's training steps as its own stage
    let tuning = ctx.cfg.finetune.max_members > 0;
    if !tuning {
        ctx.stage("scoring the front", chosen.len() as u64);
    }
    ctx.rd.subdir("models")?;
    for (index, &ci) in chosen.iter().enumerate() {
        if done.members.iter().any(|m| m.index == index) {
            continue;
        }
        if ctx.stop.load(Ordering::SeqCst) {
            return Err(ctx.interrupted("fine-tuning"));
        }
        let (phase, pt) = fin[ci];
        done.members
            .push(finetune_member(ctx, data, index, chosen.len(), phase, pt)?);
        evoprune_run::stage::write(&ck, &done)?;
        if !tuning {
            ctx.rep.lock().expect("reporter").progress(index as u64 + 1);
        }
    }
    let mut members = done.members;
    members.sort_by_key(|m| m.index);
    Ok(members)
}

/// Member `index` (of `of`): point `pt` pruned, fine-tuned (solver seed: the run's plus
/// `index`; its steps a stage of their own), scored on test and validation, and written to
/// `models/member-INDEX.safetensors`.
fn finetune_member(
    ctx: &Ctx<'_>,
    data: &Data,
    index: usize,
    of: usize,
    phase: u8,
    pt: &Point,
) -> Result<Member> {
    let (cfg, model) = (ctx.cfg, &ctx.model);
    let keep = BitString::from_hex(&pt.keep).map_err(|e| HierError::invalid("checkpoint", e))?;
    let pruned = model.masked_params(|k| keep.get(k));
    let test_error_pruned = model.error_par(&pruned, &data.test)?;
    let tuned = if cfg.finetune.max_members > 0 {
        let mask = model.mask_vector(|k| keep.get(k));
        let mut s = cfg.finetune.solver.clone();
        s.seed = cfg.seed.wrapping_add(index as u64);
        let mut r = ctx.rep.lock().expect("reporter");
        let name = format!("fine-tuning member {} of {of} (masks fixed)", index + 1);
        let mut progress = evoprune_run::training(&mut **r, name);
        model.train(pruned, Some(&mask), &data.train, &s, |d, t| {
            progress(d as u64, t as u64)
        })?
    } else {
        pruned
    };
    let val_error = model.error_par(&tuned, &ctx.val)?;
    let c = model.counts(pt.kept.clone());
    if let Some(g) = model.graph_net() {
        let (test_error, file, weights) = export_member(ctx, g, data, index, &keep, &tuned, &c)?;
        return Ok(Member {
            index,
            phase,
            search: pt.f.clone(),
            params: c.params as f64 / model.n_params() as f64,
            flops: c.macs as f64 / model.dense_macs() as f64,
            kept: pt.kept.clone(),
            test_error_pruned,
            test_error,
            val_error,
            file,
            weights: Some(weights),
            param_count: c.params,
            mac_count: c.macs,
        });
    }
    let test_error = model.error_par(&tuned, &data.test)?;
    let file = format!("models/member-{index}.safetensors");
    let meta = HashMap::from([
        ("method".to_string(), crate::config::METHOD.to_string()),
        ("model".to_string(), format!("{:?}", cfg.model)),
        ("test_error".to_string(), format!("{test_error}")),
        ("kept_params".to_string(), c.params.to_string()),
    ]);
    ctx.rd.write(&file, &model.to_safetensors(&tuned, &meta)?)?;
    Ok(Member {
        index,
        phase,
        search: pt.f.clone(),
        params: c.params as f64 / model.n_params() as f64,
        flops: c.macs as f64 / model.dense_macs() as f64,
        kept: pt.kept.clone(),
        test_error_pruned,
        test_error,
        val_error,
        file,
        weights: None,
        param_count: c.params,
        mac_count: c.macs,
    })
}

/// Member `index` of a `[model]` network (fine-tuned parameters `tuned`, keep-mask `keep`)
/// realized and written as `models/member-INDEX.onnx` + `.safetensors`; its test error is
/// that of the written ONNX, reloaded. Returns (test error, ONNX file, safetensors file).
fn export_member(
    ctx: &Ctx<'_>,
    g: &GraphNet,
    data: &Data,
    index: usize,
    keep: &BitString,
    tuned: &[f32],
    c: &crate::model::Counts,
) -> Result<(f64, String, String)> {
    let masks = ctx.model.masks(|k| keep.get(k));
    let (file, weights) = (
        format!("models/member-{index}.onnx"),
        format!("models/member-{index}.safetensors"),
    );
    ctx.rd.subdir("models")?;
    let extra = BTreeMap::from([
        ("method".to_string(), crate::config::METHOD.to_string()),
        ("model".to_string(), ctx.cfg.model.describe()),
        ("member".to_string(), index.to_string()),
    ]);
    let ex = g.net.export(
        &g.graph_of(tuned),
        &masks,
        ctx.cfg.model.network().map_or(1, |m| m.round_channels),
        &ctx.rd.path(&file),
        &ctx.rd.path(&weights),
        &extra,
    )?;
    if (ex.params, ex.macs) != (c.params, c.macs) {
        return Err(HierError::invalid(
            file,
            format!(
                "the realized network has {} parameters and {} MACs, the search counted {} and {}",
                ex.params, ex.macs, c.params, c.macs
            ),
        ));
    }
    let test_error = exported_error(&ctx.rd.path(&file), &data.test, false)?;
    Ok((test_error, file, weights))
}

/// Test error of the member ONNX at `path` on `test`: images already fitted to its input, or
/// 28x28 ones fitted now (`fit`).
fn exported_error(path: &Path, test: &Part, fit: bool) -> Result<f64> {
    let net = evoprune_graph::net::Net::new(evoprune_graph::onnx::load(path)?)?;
    let acc = if fit {
        let x = net.fit(&test.x, test.len(), [1, 28, 28])?;
        net.accuracy(&net.graph, &x, &test.y)?
    } else {
        net.accuracy(&net.graph, &test.x, &test.y)?
    };
    Ok(1.0 - acc)
}

/// The last stage: the final front, its members fine-tuned and scored, hypervolumes, then every
/// output written at once and the run marked complete.
fn finalize(
    ctx: &Ctx<'_>,
    data: &Data,
    base_err: f64,
    p1: &PhaseResult,
    p2: &PhaseResult,
) -> Result<Summary> {
    let t0 = Instant::now();
    let (cfg, rd, model) = (ctx.cfg, ctx.rd, &ctx.model);
    let fin = final_front(p1, p2);
    let chosen = if cfg.finetune.near.is_empty() {
        evoprune::pareto::spread(fin.len(), cfg.finetune.max_members.max(1))
    } else {
        near(&fin, &cfg.finetune.near)
    };
    let baseline_test_error = model.error_par(&model.params, &data.test)?;
    let members = finetune(ctx, data, &fin, &chosen)?;
    let [hypervolume, hypervolume_normalized, hypervolume_box] =
        hypervolumes(base_err, p1, p2, &fin);
    let result = ResultFile {
        model: cfg.model.clone(),
        baseline_test_error,
        baseline_val_error: base_err,
        hypervolume,
        hypervolume_normalized,
        hypervolume_box,
        members,
        phase_seconds: [p1.seconds, p2.seconds],
        evaluations: [p1.evaluations, p2.evaluations],
        phase2_bits: p2.bits,
        incremental: p2.incremental,
        finetune_seconds: t0.elapsed().as_secs_f64(),
        data: data.description.clone(),
    };
    let (outputs, table) = crate::outputs::declare(cfg, p1, p2, &fin, &result)?;
    outputs.write(rd, &[])?;
    rd.mark_complete(&completion(&result))?;
    Ok(Summary {
        dir: rd.root().to_path_buf(),
        result,
        table,
    })
}

/// The completion marker's line: members, and the sparsest within half a point of the baseline.
fn completion(r: &ResultFile) -> String {
    let best = r
        .members
        .iter()
        .filter(|m| m.test_error <= r.baseline_test_error + 0.005)
        .map(|m| m.params)
        .fold(f64::INFINITY, f64::min);
    format!(
        "{} members; sparsest within 0.5 point of the baseline: {:.2}% of the parameters\n",
        r.members.len(),
        100.0 * best
    )
}

/// Copy member `member` of a finished run to `out` after checking that it loads and
/// reproduces its recorded test error. Returns the paths written: for a `[model]` network the
/// realized ONNX at `out` and its safetensors beside it (`out` with extension `safetensors`).
pub fn export(run_dir: &Path, member: usize, out: &Path) -> Result<Vec<PathBuf>> {
    let (rd, r): (RunDir, ResultFile) = RunDir::open_finished(run_dir)?;
    let m = evoprune_run::member(&r.members, member, "the run")?;
    let cfg = Config::stored(&rd)?;
    let path = rd.path(&m.file);
    let data = prepare(&cfg.data, cfg.seed)?;
    let kind = match &cfg.model {
        ModelChoice::Builtin(k) => *k,
        ModelChoice::Network(_) => return export_network(&rd, m, &data.test, out),
    };
    let model = Model::load(kind, &path)?;
    let e = model.error_par(&model.params, &data.test)?;
    if (e - m.test_error).abs() > 1e-9 {
        return Err(HierError::invalid(
            m.file.clone(),
            format!(
                "test error {e} differs from the recorded {}: the file or the data changed",
                m.test_error
            ),
        ));
    }
    copy(&path, out)?;
    Ok(vec![out.to_path_buf()])
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).map_err(|e| evoprune_run::RunError::io(from, e))?;
    Ok(evoprune_run::write_atomic(to, &bytes)?)
}

/// [`export`] of a `[model]` network's member: its ONNX reloaded and scored on `test` (28x28
/// images, fitted to its input) against the recorded test error, then the ONNX copied to `out`
/// and the safetensors beside it (an `out` ending in `.safetensors`, as the default
/// `pruned.safetensors`, gets the weights, and the ONNX goes beside it as `.onnx`).
fn export_network(rd: &RunDir, m: &Member, test: &Part, out: &Path) -> Result<Vec<PathBuf>> {
    let (onnx_out, weights_out) = match out.extension() {
        Some(e) if e == "safetensors" => (out.with_extension("onnx"), out.to_path_buf()),
        _ => (out.to_path_buf(), out.with_extension("safetensors")),
    };
    let weights = m.weights.as_deref().ok_or_else(|| {
        HierError::invalid(
            "result.json",
            format!("member {} names no weights file", m.index),
        )
    })?;
    let path = rd.path(&m.file);
    let e = exported_error(&path, test, true)?;
    if (e - m.test_error).abs() > 1e-9 {
        return Err(HierError::invalid(
            m.file.clone(),
            format!(
                "test error {e} differs from the recorded {}: the file or the data changed",
                m.test_error
            ),
        ));
    }
    copy(&path, &onnx_out)?;
    copy(&rd.path(weights), &weights_out)?;
    Ok(vec![onnx_out, weights_out])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_of_a_front() {
        let p = |e: f64, c: f64| Point {
            f: vec![e, c],
            kept: vec![],
            keep: String::new(),
        };
        // sorted by params; baseline error 0.02
        let front = [
            p(0.5, 0.01),
            p(0.05, 0.05),
            p(0.03, 0.1),
            p(0.021, 0.3),
            p(0.02, 0.6),
        ];
        assert_eq!(anchors(&front, 0.02, 0.002, 0.03), Some([3, 1]));
        // nothing within tolerance: the densest member
        assert_eq!(anchors(&front, 0.0, 0.0, 0.0), Some([4, 4]));
        // an empty phase-1 front (every evaluation failed) has no anchors: an error, no panic
        assert_eq!(anchors(&[], 0.02, 0.002, 0.03), None);
        // the members to fine-tune near given fractions: the densest at or below each
        let fin: Vec<(u8, &Point)> = front.iter().map(|q| (1, q)).collect();
        assert_eq!(near(&fin, &[0.3, 0.5, 0.29, 1.0]), vec![2, 3, 4]);
        assert_eq!(near(&fin, &[0.001]), vec![0], "none below: the sparsest");
        assert!(near(&[], &[0.5]).is_empty());
    }
}
