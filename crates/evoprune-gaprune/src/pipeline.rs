//! The run: data, the pre-trained baseline (trained once and cached), the search loop, the
//! final retraining, physical compaction with measured speed, front/trajectory files, plots and
//! the report.

use crate::config::{Config, Mode};
use crate::problem::{Data, Part, Scoring, prepare};
use crate::search::{CycleRecord, LoopState, Outcome, fitness, retrain, run_loop};
use crate::subject::{Subject, Weights, realize_or_none};
use crate::{GapruneError, Result};
use evoprune::BitString;
use evoprune::pareto::{hypervolume, non_dominated_sort};
use evoprune_nn::lenet::{Net, SparseLeNet, count_errors};
use evoprune_nn::store::lenet_baseline;
use evoprune_run::MethodConfig;
use evoprune_run::plot::{Chart, Marker};
use evoprune_run::{Block, Column, Outputs, Report, Reporter, RunDir, Table};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The paper's Table 1 (Yang et al. 2019): lambdas, then test error, FLOPs and sparsity (%).
pub const PAPER_TABLE1: [([f64; 3], [f64; 3]); 4] = [
    ([0.3, 0.4, 0.3], [0.93, 6.22, 94.30]),
    ([0.5, 0.5, 0.0], [0.87, 6.10, 71.63]),
    ([0.5, 0.0, 0.5], [0.89, 9.00, 95.42]),
    ([0.8, 0.1, 0.1], [0.85, 8.16, 91.00]),
];

pub use evoprune_run::Driver;

/// One pruned network of the result, scored on test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Index (the `member` of `evoprune export`).
    pub index: usize,
    /// Test error (fraction) after the final retraining.
    pub test_error: f64,
    /// Validation error after the final retraining.
    pub val_error: f64,
    /// Remaining FLOPs fraction (`c`).
    pub flops: f64,
    /// Sparsity (`s`, zeroed parameters fraction).
    pub sparsity: f64,
    /// Remaining parameters.
    pub params: usize,
    /// Kept conv1 / conv2 filters (LeNet), or kept groups / groups (a network of `[model]`).
    pub filters: [usize; 2],
    /// Weighted fitness with the run's lambdas (validation error).
    pub fitness: f64,
    /// Inference on the timed test images, one thread, min of 3 (s): compacted convs + CSR
    /// FC (LeNet only: networks of `[model]` have no sparse executor yet).
    pub sparse_seconds: Option<f64>,
    /// The same with the compacted network's dense layers (the reference executor for a
    /// network of `[model]`).
    pub compact_seconds: f64,
    /// The model file (in the run folder).
    pub file: String,
    /// FLOPs fraction the model file computes, where `[model] round_channels` kept extra
    /// (zero-read) channels for blocked kernels; `None`: as `flops`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_flops: Option<f64>,
}

/// `checkpoint/final.json`: the masks of the final training, fixed when it starts, and the
/// members finished so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct FinalStage {
    masks: Vec<String>,
    members: Vec<Member>,
}

/// `result.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// GA or NSGA-II.
    pub mode: Mode,
    /// Lambdas.
    pub lambdas: [f64; 3],
    /// Baseline test error.
    pub baseline_test_error: f64,
    /// Baseline validation error.
    pub baseline_val_error: f64,
    /// Baseline inference on the timed test images, one thread, min of 3 (s).
    pub baseline_seconds: f64,
    /// Test images the speeds are measured on (all of them for LeNet, at most 512 for a
    /// network of `[model]`).
    #[serde(default)]
    pub timed_images: usize,
    /// The network pruned.
    #[serde(default)]
    pub network: String,
    /// The pruned networks (GA: the elite; NSGA-II: the front, by FLOPs).
    pub members: Vec<Member>,
    /// Hypervolume of the members' (test error, FLOPs, 1 - sparsity), reference (1, 1, 1).
    pub hypervolume_test: f64,
    /// Generations run.
    pub generations: u64,
    /// Why the search stopped.
    pub stopped: String,
    /// Seconds of evolution, of retraining in the loop, and of the final stage.
    pub seconds: [f64; 3],
    /// The data used.
    pub data: String,
    /// Test images.
    pub test_images: usize,
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

/// The pre-trained LeNet: the configured file, or the cached result of training one with
/// `baseline.solver` on the training split (key: data + solver + seed).
pub fn baseline(cfg: &Config, data: &Data, rep: &mut dyn Reporter) -> Result<Net> {
    let (net, origin) = lenet_baseline(
        &cfg.baseline,
        cfg.seed,
        &data.train,
        evoprune_run::training(rep, "training the baseline LeNet".into()),
    )?;
    rep.note(&origin.describe("baseline LeNet"));
    Ok(net)
}

fn error_of(net: &Net, p: &Part) -> Result<f64> {
    Ok(count_errors(&net.logits_par(&p.x)?, &p.y) as f64 / p.len() as f64)
}

fn min_time(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn execute(cfg: &Config, rd: RunDir, mut driver: Driver) -> Result<Summary> {
    rd.mark_incomplete()?;
    let rep = driver.reporter.as_mut();
    let subject = subject_of(cfg)?;
    let data = prepare(cfg, &subject)?;
    rep.note(&data.description);
    let base = baseline_weights(cfg, &rd, &subject, &data, rep)?;
    let threads = evoprune_run::seeds::threads(driver.threads, cfg.search.threads);
    let pool = evoprune_run::seeds::pool(threads)?;
    let val = Arc::new(fitness_part(cfg, &data));
    let out = pool.install(|| {
        run_loop(
            cfg,
            &rd,
            &subject,
            &base,
            &data.train,
            val.clone(),
            threads,
            driver.stop.clone(),
            driver.reporter.as_mut(),
        )
    })?;
    let stop = driver.stop.clone();
    let ctx = Final {
        cfg,
        rd: &rd,
        subject: &subject,
        data: &data,
    };
    let summary = pool.install(|| ctx.finalize(&base, out, &stop, driver.reporter.as_mut()))?;
    Ok(summary)
}

/// The network of `cfg`: its `[model]`, or the built-in LeNet.
pub fn subject_of(cfg: &Config) -> Result<Subject> {
    Ok(match &cfg.model {
        None => Subject::Lenet,
        Some(m) => Subject::Graph(Arc::new(evoprune_graph::net::Net::new(m.load(cfg.seed)?)?)),
    })
}

/// The weights the search starts from: LeNet's cached baseline, or the `[model]` network as
/// loaded, fine-tuned first when `model.train.epochs > 0` (stored in the run folder, so a
/// resume does not train again).
fn baseline_weights(
    cfg: &Config,
    rd: &RunDir,
    subject: &Subject,
    data: &Data,
    rep: &mut dyn Reporter,
) -> Result<Weights> {
    let Subject::Graph(n) = subject else {
        return Ok(Weights::Lenet(baseline(cfg, data, rep)?));
    };
    let m = cfg.model.as_ref().expect("a network comes from [model]");
    let (seed, mut progress) =
        evoprune_run::baseline_stage(rep, cfg.seed, &m.describe(), m.train.epochs);
    let (g, origin) = n.baseline(
        &m.train,
        &data.train.x,
        &data.train.y,
        seed,
        Some(&rd.checkpoint_dir().join("baseline.safetensors")),
        Some(&cfg.baseline.cache_dir),
        move |p| progress(p.step, p.steps),
    )?;
    rep.note(&origin.describe(&m.describe()));
    Ok(Weights::Graph(g))
}

/// What the search scores masks on: the first `fitness_subset` validation images (all when
/// 0), and the first `recalibrate` training images for the batch norms.
fn fitness_part(cfg: &Config, data: &Data) -> Scoring {
    let mut val = data.val.clone();
    if cfg.search.fitness_subset > 0 && cfg.search.fitness_subset < val.len() {
        let per = val.x.len() / val.len().max(1);
        val.x.truncate(cfg.search.fitness_subset * per);
        val.y.truncate(cfg.search.fitness_subset);
    }
    Scoring {
        val,
        calib: head(&data.train, cfg.search.recalibrate),
        batch: cfg.retrain.batch,
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}", 100.0 * v)
}

/// The final stage's fixed inputs.
struct Final<'a> {
    cfg: &'a Config,
    rd: &'a RunDir,
    subject: &'a Subject,
    data: &'a Data,
}

/// Test images timed for a network of `[model]` (the reference executor is slow on big ones).
const TIMED_IMAGES: usize = 512;

impl Final<'_> {
    /// The final stage: the masks to finish, the baseline scored, each member retrained,
    /// compacted, scored and saved, then the result and its outputs.
    fn finalize(
        &self,
        base: &Weights,
        out: Outcome,
        stop: &AtomicBool,
        rep: &mut dyn Reporter,
    ) -> Result<Summary> {
        let (cfg, rd) = (self.cfg, self.rd);
        let t_final = Instant::now();
        let genomes = final_genomes(cfg, self.subject, &out)?;
        let done_path = rd.checkpoint_dir().join("final.json");
        let mut fin = FinalStage::open(&done_path, &genomes)?;
        drop(genomes);
        let genomes = fin.genomes(&done_path)?;
        // a network's members show their retraining steps, each as its own stage
        let per_member = matches!(self.subject, Subject::Graph(_)) && cfg.finetune.epochs > 0.0;
        if !per_member {
            rep.stage(
                "final retraining and test scoring",
                Some(genomes.len() as u64),
            );
        }
        let scored = self.baseline_score(base)?;
        std::fs::create_dir_all(rd.path("models"))
            .map_err(|e| evoprune_run::RunError::io(rd.path("models"), e))?;
        let done = fin.usable(rd, genomes.len());
        if done > 0 {
            rep.note(&format!(
                "final retraining: {} of {} members already done",
                done,
                genomes.len()
            ));
        }
        if !per_member {
            rep.progress(done as u64);
        }
        for (i, g) in genomes.iter().enumerate().skip(done) {
            if stop.load(Ordering::SeqCst) {
                return Err(GapruneError::Interrupted {
                    generation: out.state.generation,
                    run_dir: rd.root().to_path_buf(),
                });
            }
            let member = match (self.subject, &out.net) {
                (Subject::Graph(n), Weights::Graph(w)) => {
                    if per_member {
                        rep.stage(
                            &format!("final retraining of member {} of {}", i + 1, genomes.len()),
                            Some(crate::subject::retrain_steps(
                                &cfg.finetune,
                                self.data.train.len(),
                            )),
                        );
                    }
                    self.finish_graph_member(n, w, i, g, rep)?
                }
                (_, Weights::Lenet(net)) => {
                    finish_member(cfg, rd, self.data, net, i, &crate::problem::decode(g))?
                }
                _ => return Err(GapruneError::invalid("weights", "of another network")),
            };
            fin.members.push(member);
            evoprune_run::stage::write(&done_path, &fin)?;
            if !per_member {
                rep.progress(i as u64 + 1);
            }
        }
        let mut result = result_file(cfg, self.data, &out.state, scored, fin.members, t_final);
        result.network = self.subject.describe();
        outputs(cfg, &out.state, &result)?.write(rd, &[])?;
        rd.mark_complete(&format!(
            "{} members, best test error {:.2}%\n",
            result.members.len(),
            100.0
                * result
                    .members
                    .iter()
                    .map(|m| m.test_error)
                    .fold(f64::INFINITY, f64::min)
        ))?;
        Ok(Summary {
            dir: rd.root().to_path_buf(),
            table: front_table(&result),
            result,
        })
    }

    /// The unpruned network's errors and inference time.
    fn baseline_score(&self, base: &Weights) -> Result<BaselineScore> {
        let (test, val) = (&self.data.test, &self.data.val);
        match (self.subject, base) {
            (Subject::Graph(n), Weights::Graph(g)) => {
                let timed = head(test, TIMED_IMAGES);
                Ok(BaselineScore {
                    test_error: self.subject.error(base, test)?,
                    val_error: self.subject.error(base, val)?,
                    seconds: min_time(|| n.logits(g, &timed.x).map(|_| ()).map_err(Into::into))?,
                    timed_images: timed.len(),
                })
            }
            (_, Weights::Lenet(net)) => BaselineScore::of(net, self.data),
            _ => Err(GapruneError::invalid("weights", "of another network")),
        }
    }

    /// Member `i` on a network of `[model]`: `w` fine-tuned on genome `g`'s masks, realized
    /// (physically smaller), scored on test and validation, timed, and saved as
    /// `models/member-{i}.onnx` with its weights in `models/member-{i}.safetensors`.
    fn finish_graph_member(
        &self,
        n: &evoprune_graph::net::Net,
        w: &evoprune_graph::Graph,
        i: usize,
        g: &BitString,
        rep: &mut dyn Reporter,
    ) -> Result<Member> {
        let (cfg, data) = (self.cfg, self.data);
        let mut solver = cfg.finetune.clone();
        solver.seed = evoprune_run::seeds::derive(
            cfg.seed,
            evoprune_run::seeds::Purpose::NetworkTraining,
            1 + i as u64,
        );
        let tuned = self.subject.retrain(
            &Weights::Graph(w.clone()),
            g,
            &data.train,
            &solver,
            false,
            rep,
        )?;
        let Weights::Graph(mut tuned) = tuned else {
            return Err(GapruneError::invalid("weights", "of another network"));
        };
        let m = Subject::masks(n, g);
        // fine-tuning refreshes the batch norms; without it, the member gets the statistics
        // the search scored it with
        if cfg.finetune.epochs <= 0.0 && cfg.search.recalibrate >= 2 {
            let calib = head(&data.train, cfg.search.recalibrate);
            n.recalibrate(&mut tuned, &m, &calib.x, cfg.retrain.batch)?;
        }
        // the network the files hold (channel counts rounded for blocked kernels, same
        // function): scored and timed as written
        let round = cfg.model.as_ref().map_or(1, |m| m.round_channels);
        let small = realize_or_none(n, &tuned, &m, round)?.ok_or_else(|| {
            GapruneError::invalid(
                format!("member {i}"),
                "its genome removes every channel of a tensor",
            )
        })?;
        let test_error = 1.0 - n.accuracy(&small, &data.test.x, &data.test.y)?;
        let val_error = 1.0 - n.accuracy(&small, &data.val.x, &data.val.y)?;
        let timed = head(&data.test, TIMED_IMAGES);
        let compact_seconds =
            min_time(|| n.logits(&small, &timed.x).map(|_| ()).map_err(Into::into))?;
        let s = n.stats(&m)?;
        let (dense_params, dense_macs) = self.subject.dense();
        let file = format!("models/member-{i}.onnx");
        let extra = std::collections::BTreeMap::from([
            ("method".to_string(), crate::config::METHOD.to_string()),
            ("member".to_string(), i.to_string()),
            ("test_error".to_string(), format!("{test_error}")),
        ]);
        let ex = n.write_realized(
            &small,
            &m,
            round,
            &self.rd.path(&file),
            &self.rd.path(&format!("models/member-{i}.safetensors")),
            &extra,
        )?;
        let flops = s.macs as f64 / dense_macs.max(1) as f64;
        let kept = g.to_bools()[..n.analysis.groups.len()]
            .iter()
            .filter(|b| **b)
            .count();
        Ok(Member {
            index: i,
            test_error,
            val_error,
            flops,
            sparsity: 1.0 - s.params as f64 / dense_params.max(1) as f64,
            params: s.params,
            filters: [kept, n.analysis.groups.len()],
            fitness: fitness(
                &[
                    val_error,
                    flops,
                    s.params as f64 / dense_params.max(1) as f64,
                ],
                &cfg.search.lambdas,
            ),
            sparse_seconds: None,
            compact_seconds,
            file,
            file_flops: (ex.file_macs != s.macs)
                .then(|| ex.file_macs as f64 / dense_macs.max(1) as f64),
        })
    }
}

/// The first `n` images of `p`.
fn head(p: &Part, n: usize) -> Part {
    let k = p.len().min(n);
    let per = p.x.len() / p.len().max(1);
    Part {
        x: p.x[..k * per].to_vec(),
        y: p.y[..k].to_vec(),
    }
}

/// The genomes to finish, by remaining MACs (the order of the report, known from the genome,
/// so each model file is written once under its final name): the elite (GA) or the unique
/// first front (NSGA-II), `search.front_members` of it when that is set.
fn final_genomes(cfg: &Config, subject: &Subject, out: &Outcome) -> Result<Vec<BitString>> {
    let mut genomes: Vec<BitString> = match cfg.search.mode {
        Mode::Ga => vec![
            BitString::from_hex(&out.state.elite)
                .map_err(|e| GapruneError::invalid("checkpoint/cycles.json", e))?,
        ],
        Mode::Nsga2 => {
            let pop = &out.population;
            let pts: Vec<Vec<f64>> = pop.iter().map(|i| i.f.clone()).collect();
            let fronts = non_dominated_sort(&pts);
            let mut g: Vec<_> = fronts
                .first()
                .map(|f| f.iter().map(|&i| pop[i].genome.clone()).collect())
                .unwrap_or_default();
            g.sort_by_key(|x: &BitString| x.to_hex());
            g.dedup();
            g
        }
    };
    genomes.sort_by_cached_key(|g| subject.macs(g));
    let keep = match cfg.search.front_members {
        0 => genomes.len(),
        k => k,
    };
    Ok(evoprune::pareto::spread(genomes.len(), keep)
        .into_iter()
        .map(|i| genomes[i].clone())
        .collect())
}

impl FinalStage {
    /// The stored stage, or a new one finishing `genomes`, stored at once. The masks to finish
    /// are fixed the first time (a resume re-scores the population under the final weights and
    /// could pick another front), then each finished member is stored at once: an interruption
    /// loses at most the one in flight.
    fn open(path: &Path, genomes: &[BitString]) -> Result<Self> {
        if let Some(f) = evoprune_run::stage::read(path)? {
            return Ok(f);
        }
        let f = FinalStage {
            masks: genomes.iter().map(|g| g.to_hex()).collect(),
            members: Vec::new(),
        };
        evoprune_run::stage::write(path, &f)?;
        Ok(f)
    }

    /// The genomes to finish; `path` names the file in errors.
    fn genomes(&self, path: &Path) -> Result<Vec<BitString>> {
        self.masks
            .iter()
            .map(|h| {
                BitString::from_hex(h)
                    .map_err(|e| GapruneError::invalid(path.display().to_string(), e))
            })
            .collect()
    }

    /// Keep the finished members that can be trusted (in order, of one of the `masks` masks,
    /// their model file present) and return how many there are.
    fn usable(&mut self, rd: &RunDir, masks: usize) -> usize {
        let usable = self
            .members
            .iter()
            .enumerate()
            .take_while(|(k, m)| m.index == *k && *k < masks && rd.path(&m.file).is_file())
            .count();
        self.members.truncate(usable);
        usable
    }
}

/// The unpruned network's errors and inference time on the test set.
struct BaselineScore {
    test_error: f64,
    val_error: f64,
    seconds: f64,
    timed_images: usize,
}

impl BaselineScore {
    fn of(base: &Net, data: &Data) -> Result<Self> {
        let test = &data.test;
        let seconds = min_time(|| base.logits(&test.x).map(|_| ()).map_err(Into::into))?;
        Ok(BaselineScore {
            test_error: error_of(base, test)?,
            val_error: error_of(base, &data.val)?,
            seconds,
            timed_images: test.len(),
        })
    }
}

/// Member `i` of the result: `net` retrained on `mask`, compacted, scored on test and
/// validation, timed, and saved as `models/member-{i}.safetensors`.
fn finish_member(
    cfg: &Config,
    rd: &RunDir,
    data: &Data,
    net: &Net,
    i: usize,
    mask: &evoprune_nn::lenet::LeNetMask,
) -> Result<Member> {
    use crate::problem::{FULL_MACS, FULL_PARAMS};
    let test = &data.test;
    let tuned = retrain(
        net,
        mask,
        &data.train,
        &cfg.finetune,
        &mut evoprune_run::Silent,
    )?;
    let c = tuned.compact(mask)?;
    let sparse = SparseLeNet::from_compact(&c);
    let z = sparse.logits(&test.x)?;
    let test_error = count_errors(&z, &test.y) as f64 / test.len() as f64;
    let val_error = error_of(&c.net, &data.val)?;
    let sparse_seconds = min_time(|| sparse.logits(&test.x).map(|_| ()).map_err(Into::into))?;
    let compact_seconds = min_time(|| c.net.logits(&test.x).map(|_| ()).map_err(Into::into))?;
    let flops = mask.macs() as f64 / FULL_MACS as f64;
    let params = mask.param_count();
    let file = format!("models/member-{i}.safetensors");
    let meta = HashMap::from([
        ("test_error".to_string(), format!("{test_error}")),
        ("method".to_string(), crate::config::METHOD.to_string()),
    ]);
    rd.write(&file, &sparse.to_safetensors(&meta)?)?;
    Ok(Member {
        index: i,
        test_error,
        val_error,
        flops,
        sparsity: 1.0 - params as f64 / FULL_PARAMS as f64,
        params,
        filters: [c.conv1.len(), c.conv2.len()],
        fitness: fitness(
            &[val_error, flops, params as f64 / FULL_PARAMS as f64],
            &cfg.search.lambdas,
        ),
        sparse_seconds: Some(sparse_seconds),
        compact_seconds,
        file,
        file_flops: None,
    })
}

/// `result.json` of the finished `members`; the final stage began at `t_final`.
fn result_file(
    cfg: &Config,
    data: &Data,
    state: &LoopState,
    base: BaselineScore,
    members: Vec<Member>,
    t_final: Instant,
) -> ResultFile {
    let pts: Vec<[f64; 3]> = members
        .iter()
        .map(|m| [m.test_error, m.flops, 1.0 - m.sparsity])
        .collect();
    let (search_s, retrain_s) = state.history.iter().fold((0.0, 0.0), |(a, b), h| {
        (a + h.search_seconds, b + h.retrain_seconds)
    });
    ResultFile {
        mode: cfg.search.mode,
        lambdas: cfg.search.lambdas,
        baseline_test_error: base.test_error,
        baseline_val_error: base.val_error,
        baseline_seconds: base.seconds,
        timed_images: base.timed_images,
        network: "LeNet".into(),
        members,
        hypervolume_test: hypervolume(&pts, &[1.0, 1.0, 1.0]),
        generations: state.generation,
        stopped: state.stopped.clone().unwrap_or_default(),
        seconds: [search_s, retrain_s, t_final.elapsed().as_secs_f64()],
        data: data.description.clone(),
        test_images: data.test.len(),
    }
}

/// Every output file of a finished run.
fn outputs(cfg: &Config, state: &LoopState, r: &ResultFile) -> Result<Outputs> {
    Ok(Outputs::new()
        .json("result.json", r)?
        .csv("history.csv", history_table(state))
        .csv("front.csv", front_table(r))
        .chart("trajectory.svg", trajectory_chart(state))
        .chart("error_vs_flops.svg", error_chart(r, Axis::Flops))
        .chart("error_vs_sparsity.svg", error_chart(r, Axis::Sparsity))
        .report("report", report(cfg, r)))
}

/// `history.csv`: one row per retraining cycle.
fn history_table(state: &LoopState) -> Table {
    let f6 = |v: f64| format!("{v:.6}");
    let f2 = |v: f64| format!("{v:.2}");
    Table::from_columns(
        &state.history,
        &[
            ("cycle", &|h: &CycleRecord| h.cycle.to_string()),
            ("generation", &|h| h.generation.to_string()),
            ("error_before", &|h| f6(h.before[0])),
            ("flops_before", &|h| f6(h.before[1])),
            ("params_before", &|h| f6(h.before[2])),
            ("fitness_before", &|h| f6(h.fitness_before)),
            ("error_after", &|h| f6(h.after[0])),
            ("flops_after", &|h| f6(h.after[1])),
            ("params_after", &|h| f6(h.after[2])),
            ("fitness_after", &|h| f6(h.fitness_after)),
            ("evaluations", &|h| h.evaluations.to_string()),
            ("search_s", &|h| f2(h.search_seconds)),
            ("retrain_s", &|h| f2(h.retrain_seconds)),
        ],
    )
}

/// `front.csv`, the report's result table and the terminal's: one row per member.
fn front_table(r: &ResultFile) -> Table {
    let speedup = |s: f64| format!("{:.1}x", r.baseline_seconds / s);
    let sparse = |s: Option<f64>| s.map_or_else(|| "-".into(), speedup);
    let file_flops = |m: &Member| pct(m.file_flops.unwrap_or(m.flops));
    let speedup_sparse = |m: &Member| sparse(m.sparse_seconds);
    let speedup_compact = |m: &Member| speedup(m.compact_seconds);
    let mut columns: Vec<Column<'_, Member>> = vec![
        ("member", &|m: &Member| m.index.to_string()),
        ("test error %", &|m| pct(m.test_error)),
        ("val error %", &|m| pct(m.val_error)),
        ("FLOPs %", &|m| pct(m.flops)),
    ];
    // only where `round_channels` made the files compute more than the search counted
    if r.members.iter().any(|m| m.file_flops.is_some()) {
        columns.push(("file FLOPs %", &file_flops));
    }
    columns.extend_from_slice(&[
        ("sparsity %", &|m: &Member| pct(m.sparsity)),
        ("params", &|m: &Member| m.params.to_string()),
        ("filters", &|m: &Member| {
            format!("{}/{}", m.filters[0], m.filters[1])
        }),
        ("speedup (sparse)", &speedup_sparse),
        ("speedup (compact)", &speedup_compact),
    ]);
    Table::from_columns(&r.members, &columns)
}

/// The elite after each retraining (the paper's Fig. 2).
fn trajectory_chart(state: &LoopState) -> Chart {
    let g = |k: usize, scale: f64| -> Vec<(f64, f64)> {
        state
            .history
            .iter()
            .map(|h| (h.generation as f64, scale * (100.0 * h.after[k])))
            .collect()
    };
    Chart::new(
        "Elite after each retraining",
        "generation",
        "% (FLOPs, parameters) / error x 10",
    )
    .with("FLOPs %", g(1, 1.0), Marker::Line)
    .with("parameters %", g(2, 1.0), Marker::Line)
    .with("validation error % x 10", g(0, 10.0), Marker::Line)
}

/// The x axis of a test-error chart.
#[derive(Clone, Copy)]
enum Axis {
    Flops,
    Sparsity,
}

/// Test error against remaining FLOPs or sparsity: the members, the paper's Table 1 and the
/// baseline.
fn error_chart(r: &ResultFile, axis: Axis) -> Chart {
    let (title, x_label, paper_col, baseline_x) = match axis {
        Axis::Flops => (
            "Test error vs remaining FLOPs",
            "remaining FLOPs %",
            1,
            100.0,
        ),
        Axis::Sparsity => ("Test error vs sparsity", "sparsity %", 2, 0.0),
    };
    let ours: Vec<(f64, f64)> = r
        .members
        .iter()
        .map(|m| {
            let x = match axis {
                Axis::Flops => m.flops,
                Axis::Sparsity => m.sparsity,
            };
            (100.0 * x, 100.0 * m.test_error)
        })
        .collect();
    let paper = PAPER_TABLE1
        .iter()
        .map(|(_, v)| (v[paper_col], v[0]))
        .collect();
    let label = match r.mode {
        Mode::Ga => "evoprune GA (this run)",
        Mode::Nsga2 => "evoprune NSGA-II front",
    };
    Chart::new(title, x_label, "test error %")
        .with(label, ours, Marker::Dot)
        .with("Yang et al. Table 1", paper, Marker::Cross)
        .with(
            "baseline",
            vec![(baseline_x, 100.0 * r.baseline_test_error)],
            Marker::Ring,
        )
}

/// The paper's Table 1 with its baseline.
fn paper_table() -> Table {
    let mut paper = Table::new(["lambdas", "error %", "FLOPs %", "sparsity %"]);
    paper.push(["baseline (paper)", "0.80", "100", "0"]);
    for (l, v) in PAPER_TABLE1 {
        paper.push([
            format!("{l:?}"),
            format!("{:.2}", v[0]),
            format!("{:.2}", v[1]),
            format!("{:.2}", v[2]),
        ]);
    }
    paper
}

/// `report.md` / `report.html`.
fn report(cfg: &Config, r: &ResultFile) -> Report {
    let mut rep = Report::new(format!("GA pruning of LeNet: {}", cfg.name));
    rep.push(Block::Text(format!(
        "Mode {:?}, lambdas {:?}; {}. Baseline test error {:.2}% (validation {:.2}%). {} generations ({}). Time: evolution {:.0} s, retraining {:.0} s, final stage {:.0} s. Hypervolume of (test error, FLOPs, 1 - sparsity), reference (1, 1, 1): {:.4}.",
        r.mode,
        r.lambdas,
        r.data,
        100.0 * r.baseline_test_error,
        100.0 * r.baseline_val_error,
        r.generations,
        r.stopped,
        r.seconds[0],
        r.seconds[1],
        r.seconds[2],
        r.hypervolume_test
    )))
    .push(Block::Heading(2, "Result (test set)".into()))
    .push(Block::Table(front_table(r)))
    .push(Block::Text(format!(
        "Speedups: dense baseline {:.3} s for the {} test images on one thread, against the compacted network (filters removed) with CSR FC layers (sparse) or dense FC layers (compact); min of 3.",
        r.baseline_seconds,
        r.test_images
    )))
    .push(Block::Heading(2, "The paper (Yang et al. 2019, Table 1)".into()))
    .push(Block::Table(paper_table()))
    .push(Block::Image("error_vs_flops.svg".into(), "Test error vs FLOPs".into()))
    .push(Block::Image(
        "error_vs_sparsity.svg".into(),
        "Test error vs sparsity".into(),
    ))
    .push(Block::Image(
        "trajectory.svg".into(),
        "The elite after each retraining".into(),
    ));
    rep
}

/// Copy front member `member` of a finished run to `out` after checking that it loads and
/// reproduces its recorded test error. Returns the path written.
pub fn export(run_dir: &Path, member: usize, out: &Path) -> Result<std::path::PathBuf> {
    let (rd, r): (RunDir, ResultFile) = RunDir::open_finished(run_dir)?;
    let m = evoprune_run::member(&r.members, member, "the run")?;
    let bytes = std::fs::read(rd.path(&m.file))
        .map_err(|e| evoprune_run::RunError::io(rd.path(&m.file), e))?;
    let cfg = Config::stored(&rd)?;
    if cfg.model.is_some() {
        return export_network(&cfg, &rd, m, out);
    }
    let data = prepare(&cfg, &Subject::Lenet)?;
    let s = SparseLeNet::from_safetensors(&bytes)
        .map_err(|e| GapruneError::invalid(m.file.clone(), e.to_string()))?;
    let e = count_errors(&s.logits(&data.test.x)?, &data.test.y) as f64 / data.test.len() as f64;
    if (e - m.test_error).abs() > 1e-9 {
        return Err(GapruneError::invalid(
            m.file.clone(),
            format!(
                "test error {e} differs from the recorded {}: the file or the data changed",
                m.test_error
            ),
        ));
    }
    evoprune_run::write_atomic(out, &bytes)?;
    Ok(out.to_path_buf())
}

/// [`export`] of a network of `[model]`: the member's ONNX, reloaded and re-scored on the
/// test images, written to `out` (with the extension `.onnx`) and its weights beside it
/// (`.safetensors`). Returns the ONNX path.
fn export_network(cfg: &Config, rd: &RunDir, m: &Member, out: &Path) -> Result<std::path::PathBuf> {
    let path = rd.path(&m.file);
    let net = Arc::new(evoprune_graph::net::Net::new(evoprune_graph::onnx::load(
        &path,
    )?)?);
    let data = prepare(cfg, &Subject::Graph(net.clone()))?;
    let e = 1.0 - net.accuracy(&net.graph, &data.test.x, &data.test.y)?;
    if (e - m.test_error).abs() > 1e-9 {
        return Err(GapruneError::invalid(
            m.file.clone(),
            format!(
                "test error {e} differs from the recorded {}: the file or the data changed",
                m.test_error
            ),
        ));
    }
    let onnx_out = out.with_extension("onnx");
    let weights = path.with_extension("safetensors");
    let w = std::fs::read(&weights).map_err(|e| evoprune_run::RunError::io(&weights, e))?;
    let o = std::fs::read(&path).map_err(|e| evoprune_run::RunError::io(&path, e))?;
    evoprune_run::write_atomic(&onnx_out.with_extension("safetensors"), &w)?;
    evoprune_run::write_atomic(&onnx_out, &o)?;
    Ok(onnx_out)
}
