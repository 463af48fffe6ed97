//! The run: data, the network (the pre-trained LeNet, trained once and cached; or the `[model]`
//! network, fine-tuned once as a cached stage when `[model.train]` asks, its images fitted to
//! its input), then for every seed the surrogate-assisted search and the real search at the
//! same budget, the fronts re-scored on the test set (members under the floor on test are
//! flagged), hypervolumes with their median and spread, the surrogates' cross-validated errors,
//! plots, the report and export.
//!
//! With `[model]`, every member of the first seed's surrogate front (the members `export`
//! addresses) is written as its realized network, `models/member-K.onnx` and
//! `models/member-K.safetensors`, its test accuracy scored on that realized network.
//!
//! Each seed's searches checkpoint in `checkpoint/seed-S/` (the surrogate loop after every real
//! evaluation batch, the real search every generation); a finished seed is summarised
//! atomically in `checkpoint/seed-S/done.json`. The output files are declared once
//! (`outputs.rs`) and written together at the end.

use crate::config::{Config, ProblemConfig};
use crate::plan::{Plan, score};
use crate::search::{CvRecord, Evaluated, RealProblem, Seed, front};
use crate::subject::{self, Subject};
use crate::{CompressError, Result};
use evoprune::pareto::hypervolume;
use evoprune_data::digits28::{Data, Part, prepare};
use evoprune_nn::lenet::Net;
use evoprune_run::MethodConfig;
use evoprune_run::{Reporter, RunDir};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

pub use evoprune_run::Driver;

/// A reporter shared with the engine's observer.
struct SharedRep(Arc<Mutex<Box<dyn Reporter>>>);

impl Reporter for SharedRep {
    fn stage(&mut self, name: &str, total: Option<u64>) {
        self.0.lock().expect("reporter").stage(name, total)
    }
    fn progress(&mut self, done: u64) {
        self.0.lock().expect("reporter").progress(done)
    }
    fn note(&mut self, message: &str) {
        self.0.lock().expect("reporter").note(message)
    }
}

/// A front member, scored on validation (search) and test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The plan.
    pub plan: Plan,
    /// Validation accuracy (searched).
    pub val_accuracy: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Non-zero parameter fraction.
    pub nonzero: f64,
    /// Storage in bytes.
    pub bytes: f64,
    /// Whether the test accuracy also meets the floor (false: flagged).
    pub test_meets_floor: bool,
    /// `[model]` networks: parameters of the realized network as `Net::stats` counts them
    /// (pruned entries not counted; weights that quantization rounds to zero still are, unlike
    /// in `nonzero`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<usize>,
    /// `[model]` networks: its multiply-accumulates for one input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macs: Option<usize>,
    /// `[model]` networks, members `export` addresses: the realized network's ONNX file in the
    /// run folder (its safetensors beside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnx: Option<String>,
}

/// One search's result on one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// `surrogate` or `real`.
    pub method: String,
    /// Real evaluations spent.
    pub evaluations: usize,
    /// Hypervolume of the feasible front's (1 - validation accuracy, non-zero fraction[, bytes
    /// fraction]), reference 1 per objective.
    pub hypervolume: f64,
    /// The feasible front.
    pub front: Vec<Member>,
    /// Wall seconds of the search (its test scoring not counted), summed over resumes.
    pub seconds: f64,
    /// Why the search ended before its budget, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// `checkpoint/seed-S/done.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// The surrogate-assisted search.
    pub surrogate: SearchResult,
    /// The real search (absent when disabled).
    pub real: Option<SearchResult>,
    /// Cross-validation at every iteration of the surrogate loop.
    pub cv: Vec<CvRecord>,
}

/// Median, minimum, maximum, quartiles.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// The spread of `v` (linear-interpolation quartiles, as numpy's default).
pub fn spread(v: &[f64]) -> Spread {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if s.is_empty() {
            return f64::NAN;
        }
        let x = p * (s.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        s[lo] + (s[hi] - s[lo]) * (x - lo as f64)
    };
    Spread {
        median: q(0.5),
        q1: q(0.25),
        q3: q(0.75),
        min: q(0.0),
        max: q(1.0),
    }
}

/// One kind's cross-validation over a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    /// The regressor family.
    pub kind: evoprune_surrogate::Kind,
    /// Mean CV mean-absolute-error over all iterations and seeds.
    pub mean_mae: f64,
    /// Iterations at which it was chosen.
    pub chosen: usize,
}

/// One target's cross-validation over a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    /// `accuracy`, `nonzero` or `bytes`.
    pub target: String,
    /// Every kind.
    pub kinds: Vec<KindSummary>,
}

/// `result.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// Baseline validation and test accuracy.
    pub baseline_accuracy: [f64; 2],
    /// The accuracy floor.
    pub floor: f64,
    /// Every seed.
    pub seeds: Vec<SeedResult>,
    /// Hypervolume spread of the surrogate-assisted search.
    pub hv_surrogate: Spread,
    /// The same for the real search.
    pub hv_real: Option<Spread>,
    /// Seeds on which the surrogate-assisted front has the larger hypervolume.
    pub surrogate_wins: usize,
    /// Mean cross-validated error of each kind per target over all iterations and seeds, and
    /// how often each kind was chosen.
    pub cv_summary: Vec<TargetSummary>,
    /// Front members flagged (test accuracy under the floor), over all seeds and methods.
    pub flagged: usize,
    /// The data used.
    pub data: String,
    /// The `[model]` network compressed (absent: the built-in LeNet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
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

/// The pre-trained LeNet: the configured file, or the cached result of training one (the same
/// cache as GA pruning's: the two methods share a trained baseline).
pub fn baseline(cfg: &Config, data: &Data, rep: &mut dyn Reporter) -> Result<Net> {
    subject::lenet(cfg, data, rep)
}

fn members(
    subject: &Subject,
    evals: &[Evaluated],
    cfg: &Config,
    test: &Part,
) -> Result<(Vec<Member>, f64)> {
    let size = cfg.problem.size_objective;
    let dense = subject.dense_bytes();
    let f = front(evals, cfg.problem.accuracy_floor, size, dense);
    let pts: Vec<Vec<f64>> = f
        .iter()
        .map(|e| {
            let mut v = vec![1.0 - e.scores.accuracy, e.scores.nonzero];
            if size {
                v.push(e.scores.bytes / dense);
            }
            v
        })
        .collect();
    let hv = hypervolume(&pts, &vec![1.0; pts.first().map_or(2, |p| p.len())]);
    let out = f
        .iter()
        .map(|e| {
            let plan = subject.plan(&e.genome)?;
            // a network's: scored on the realized network
            let t = subject.score(&plan, test)?;
            let counts = match (subject, subject.masks(&plan)?) {
                (Subject::Graph { net, .. }, Some(m)) => Some(net.stats(&m)?),
                _ => None,
            };
            Ok(Member {
                val_accuracy: e.scores.accuracy,
                test_accuracy: t.accuracy,
                nonzero: e.scores.nonzero,
                bytes: e.scores.bytes,
                test_meets_floor: t.accuracy >= cfg.problem.accuracy_floor,
                params: counts.as_ref().map(|s| s.params),
                macs: counts.as_ref().map(|s| s.macs),
                onnx: None,
                plan,
            })
        })
        .collect::<Result<_>>()?;
    Ok((out, hv))
}

/// The stages: data, the baseline, every seed's two searches, then the outputs.
fn execute(cfg: &Config, rd: RunDir, driver: Driver) -> Result<Summary> {
    rd.mark_incomplete()?;
    // shared so the engine's observer (which must be 'static) can report the real search's
    // progress too
    let shared: Arc<Mutex<Box<dyn Reporter>>> = Arc::new(Mutex::new(driver.reporter));
    let mut guard = SharedRep(shared.clone());
    let rep: &mut dyn Reporter = &mut guard;
    let data = prepare(&cfg.data, cfg.seed)?;
    rep.note(&data.description);
    let subject = Arc::new(subject::load(cfg, &data, &rd, rep)?);
    let val = Arc::new(subject.fit(&data.val.take(cfg.problem.fitness_subset))?);
    let test = subject.fit(&data.test)?;
    let base = baseline_accuracy(cfg, &subject, &val, &test, rep)?;
    // `problem.max_drop` resolved against the dense network: from here on the floor is fixed
    let resolved = Config {
        problem: ProblemConfig {
            accuracy_floor: cfg.problem.floor(base[0]),
            ..cfg.problem.clone()
        },
        ..cfg.clone()
    };
    let cfg = &resolved;
    let searches = Searches {
        cfg,
        problem: RealProblem::new(
            subject.clone(),
            val,
            cfg.problem.accuracy_floor,
            cfg.problem.size_objective,
        ),
        subject: subject.clone(),
        test: &test,
        stop: driver.stop.clone(),
        threads: evoprune_run::seeds::threads(driver.threads, cfg.threads),
        shared,
    };
    let mut results = Vec::new();
    for &seed in &cfg.seeds {
        results.push(searches.seed(&rd, seed, rep)?);
    }
    finalize(cfg, &rd, &data, &subject, base, results)
}

/// The dense network's validation and test accuracy (noted with the floor).
fn baseline_accuracy(
    cfg: &Config,
    subject: &Subject,
    val: &Part,
    test: &Part,
    rep: &mut dyn Reporter,
) -> Result<[f64; 2]> {
    let dense = subject.dense_plan()?;
    let base_val = subject.score(&dense, val)?.accuracy;
    let base_test = subject.score(&dense, test)?.accuracy;
    let floor = cfg.problem.floor(base_val);
    let how = match cfg.problem.max_drop {
        Some(d) => format!(" (validation - {:.2} pt, problem.max_drop)", 100.0 * d),
        None => String::new(),
    };
    rep.note(&format!(
        "baseline accuracy: validation {:.2}%, test {:.2}%; floor {:.2}%{how}",
        100.0 * base_val,
        100.0 * base_test,
        100.0 * floor
    ));
    Ok([base_val, base_test])
}

/// What every seed's searches share.
struct Searches<'a> {
    cfg: &'a Config,
    subject: Arc<Subject>,
    problem: RealProblem,
    test: &'a Part,
    stop: Arc<AtomicBool>,
    threads: usize,
    /// The reporter, for the real search's (`'static`) progress callback.
    shared: Arc<Mutex<Box<dyn Reporter>>>,
}

impl Searches<'_> {
    /// Both searches of `seed`, or their result stored in `checkpoint/seed-S/done.json`.
    fn seed(&self, rd: &RunDir, seed: u64, rep: &mut dyn Reporter) -> Result<SeedResult> {
        let dir = rd.checkpoint_dir().join(format!("seed-{seed}"));
        std::fs::create_dir_all(&dir).map_err(|e| evoprune_run::RunError::io(&dir, e))?;
        let done = dir.join("done.json");
        if let Some(r) = evoprune_run::stage::read::<SeedResult>(&done)? {
            return Ok(r);
        }
        let s = Seed {
            cfg: self.cfg,
            problem: &self.problem,
            seed,
            dir: &dir,
            stop: self.stop.clone(),
            threads: self.threads,
        };
        let (surrogate, cv) = self.surrogate(&s, rep)?;
        let real = if self.cfg.real.enabled {
            Some(self.real(&s, rep)?)
        } else {
            None
        };
        rep.note(&format!(
            "seed {seed}: hypervolume surrogate {:.4}{}",
            surrogate.hypervolume,
            real.as_ref()
                .map(|r| format!(", real {:.4}", r.hypervolume))
                .unwrap_or_default()
        ));
        let r = SeedResult {
            seed,
            surrogate,
            real,
            cv,
        };
        evoprune_run::stage::write(&done, &r)?;
        Ok(r)
    }

    /// The surrogate-assisted search of seed `s`, its front scored on test, and its
    /// cross-validation records.
    fn surrogate(
        &self,
        s: &Seed<'_>,
        rep: &mut dyn Reporter,
    ) -> Result<(SearchResult, Vec<CvRecord>)> {
        rep.stage(
            &format!(
                "seed {}: surrogate-assisted search (real evaluations)",
                s.seed
            ),
            Some(self.cfg.surrogate.budget as u64),
        );
        let st = s.surrogate(|n| rep.progress(n as u64))?;
        let seconds = st.seconds;
        if let Some(why) = &st.stopped {
            rep.note(&format!(
                "seed {}: surrogate search ended early: {why}",
                s.seed
            ));
        }
        let (front, hypervolume) = members(&self.subject, &st.evaluated, self.cfg, self.test)?;
        let result = SearchResult {
            method: "surrogate".into(),
            evaluations: st.evaluated.len(),
            hypervolume,
            front,
            seconds,
            stopped: st.stopped,
        };
        Ok((result, st.cv))
    }

    /// The constrained NSGA-II on the real problem for seed `s`, its front scored on test.
    fn real(&self, s: &Seed<'_>, rep: &mut dyn Reporter) -> Result<SearchResult> {
        rep.stage(
            &format!("seed {}: NSGA-II on the real problem", s.seed),
            Some(self.cfg.surrogate.budget as u64),
        );
        let shared = self.shared.clone();
        let (evals, seconds) =
            s.real(move |n| shared.lock().expect("reporter").progress(n as u64))?;
        let (front, hypervolume) = members(&self.subject, &evals, self.cfg, self.test)?;
        Ok(SearchResult {
            method: "real".into(),
            evaluations: evals.len(),
            hypervolume,
            front,
            seconds,
            stopped: None,
        })
    }
}

/// Mean cross-validated error of each kind per target over every iteration of every seed, and
/// how often each kind was chosen.
fn cv_summary(kinds: &[evoprune_surrogate::Kind], seeds: &[SeedResult]) -> Vec<TargetSummary> {
    let records = || seeds.iter().flat_map(|s| s.cv.iter());
    let kind = |ti: usize, k: evoprune_surrogate::Kind| {
        let errs: Vec<f64> = records()
            .filter_map(|c| c.targets.get(ti))
            .flat_map(|t| t.errors.iter().filter(|(kk, _)| *kk == k).map(|(_, e)| *e))
            .collect();
        let chosen = records()
            .filter(|c| c.targets.get(ti).is_some_and(|t| t.chosen == k))
            .count();
        KindSummary {
            kind: k,
            mean_mae: errs.iter().sum::<f64>() / errs.len().max(1) as f64,
            chosen,
        }
    };
    ["accuracy", "nonzero", "bytes"]
        .iter()
        .enumerate()
        .map(|(ti, name)| TargetSummary {
            target: name.to_string(),
            kinds: kinds.iter().map(|&k| kind(ti, k)).collect(),
        })
        .collect()
}

/// Seeds on which the surrogate-assisted front has the larger hypervolume.
fn surrogate_wins(seeds: &[SeedResult]) -> usize {
    seeds
        .iter()
        .filter(|s| {
            s.real
                .as_ref()
                .is_some_and(|r| s.surrogate.hypervolume > r.hypervolume)
        })
        .count()
}

/// Front members under the floor on the test set, over every seed and search.
fn flagged(seeds: &[SeedResult]) -> usize {
    seeds
        .iter()
        .flat_map(|s| {
            s.surrogate
                .front
                .iter()
                .chain(s.real.iter().flat_map(|r| r.front.iter()))
        })
        .filter(|m| !m.test_meets_floor)
        .count()
}

/// The member files of a `[model]` run: member `k` of the first seed's surrogate front.
fn member_file(k: usize) -> String {
    format!("models/member-{k}.onnx")
}

/// Write every member of the first seed's surrogate front (the members `export` addresses) of a
/// `[model]` run as its realized network (`models/member-K.onnx` + `.safetensors`, written
/// atomically, the plan and the recorded test accuracy in the safetensors metadata), and record
/// the file in the member.
fn write_members(
    rd: &RunDir,
    subject: &Subject,
    round_channels: usize,
    seeds: &mut [SeedResult],
) -> Result<()> {
    let Subject::Graph { net, weights } = subject else {
        return Ok(());
    };
    let Some(first) = seeds.first_mut() else {
        return Ok(());
    };
    rd.subdir("models")?;
    for (k, m) in first.surrogate.front.iter_mut().enumerate() {
        let masks = m.plan.masks(net, weights)?;
        let rel = member_file(k);
        let onnx = rd.path(&rel);
        let extra = BTreeMap::from([
            ("method".to_string(), crate::config::METHOD.to_string()),
            ("member".to_string(), k.to_string()),
            (
                "plan".to_string(),
                serde_json::to_string(&m.plan).expect("serialisable"),
            ),
            ("test_accuracy".to_string(), format!("{}", m.test_accuracy)),
        ]);
        net.export(
            weights,
            &masks,
            round_channels,
            &onnx,
            &onnx.with_extension("safetensors"),
            &extra,
        )?;
        m.onnx = Some(rel);
    }
    Ok(())
}

/// The last stage: the seeds summarised, the member files of a `[model]` run written, every
/// output written at once, the run marked complete.
fn finalize(
    cfg: &Config,
    rd: &RunDir,
    data: &Data,
    subject: &Subject,
    base: [f64; 2],
    mut seeds: Vec<SeedResult>,
) -> Result<Summary> {
    let round = cfg.model.as_ref().map_or(1, |m| m.round_channels);
    write_members(rd, subject, round, &mut seeds)?;
    let hv_s: Vec<f64> = seeds.iter().map(|s| s.surrogate.hypervolume).collect();
    let hv_r: Vec<f64> = seeds
        .iter()
        .filter_map(|s| s.real.as_ref().map(|r| r.hypervolume))
        .collect();
    let result = ResultFile {
        baseline_accuracy: base,
        floor: cfg.problem.accuracy_floor,
        hv_surrogate: spread(&hv_s),
        hv_real: (!hv_r.is_empty()).then(|| spread(&hv_r)),
        surrogate_wins: surrogate_wins(&seeds),
        cv_summary: cv_summary(&cfg.surrogate.kinds, &seeds),
        flagged: flagged(&seeds),
        seeds,
        data: data.description.clone(),
        network: cfg.model.as_ref().map(|m| m.describe()),
    };
    let (outputs, table) = crate::outputs::declare(cfg, &result)?;
    outputs.write(rd, &[])?;
    rd.mark_complete(&format!(
        "{} seeds; median hypervolume surrogate {:.4}{}\n",
        result.seeds.len(),
        result.hv_surrogate.median,
        result
            .hv_real
            .map(|s| format!(", real {:.4}", s.median))
            .unwrap_or_default()
    ))?;
    Ok(Summary {
        dir: rd.root().to_path_buf(),
        result,
        table,
    })
}

/// Export front member `member` of the surrogate search of the first seed (as listed in
/// `fronts.csv`) after checking its recorded test accuracy. Returns the paths written.
///
/// - LeNet: the compressed LeNet at `out` (pruned and quantized weights, dequantized to `f32`,
///   the plan in the metadata), re-scored from the cached baseline.
/// - A `[model]` run: the member's realized network, `models/member-K.onnx`, reloaded and
///   re-scored on the test images; refused when it does not score the recorded accuracy;
///   then copied to `out` (to `out` with the extension `.onnx` when `out` ends in
///   `.safetensors`) with its safetensors beside it (`out` with the extension `.safetensors`).
pub fn export(run_dir: &Path, member: usize, out: &Path) -> Result<Vec<PathBuf>> {
    let (rd, r): (RunDir, ResultFile) = RunDir::open_finished(run_dir)?;
    let first = r.seeds.first().ok_or_else(|| {
        crate::CompressError::invalid(
            rd.path("result.json").display().to_string(),
            "no seed results: the run folder is damaged",
        )
    })?;
    let front = &first.surrogate.front;
    let m = evoprune_run::member(front, member, "the first seed's surrogate front")?;
    let cfg = Config::stored(&rd)?;
    let data = prepare(&cfg.data, cfg.seed)?;
    if cfg.model.is_some() {
        return export_network(&rd, &data, m, member, out);
    }
    let net = baseline(&cfg, &data, &mut evoprune_run::Silent)?;
    let t = score(&net, &m.plan, &data.test)?;
    if (t.accuracy - m.test_accuracy).abs() > 1e-9 {
        return Err(CompressError::invalid(
            "result.json",
            format!(
                "member {member} now scores {} on test, {} was recorded: the baseline or the data changed",
                t.accuracy, m.test_accuracy
            ),
        ));
    }
    let c = m.plan.apply(&net)?;
    let meta = HashMap::from([
        ("method".to_string(), crate::config::METHOD.to_string()),
        (
            "plan".to_string(),
            serde_json::to_string(&m.plan).expect("serialisable"),
        ),
        ("test_accuracy".to_string(), format!("{}", m.test_accuracy)),
    ]);
    c.save(out, meta)?;
    Ok(vec![out.to_path_buf()])
}

/// The test accuracy of the ONNX network at `path` on the digits `test` images (fitted to its
/// input).
pub fn onnx_test_accuracy(path: &Path, test: &Part) -> Result<f64> {
    let g = evoprune_graph::onnx::load(path)?;
    let net = evoprune_graph::net::Net::new(g)?;
    let t = subject::fit(&net, test)?;
    Ok(net.accuracy(&net.graph, &t.x, &t.y)?)
}

/// [`export`] of a `[model]` run's member `k`.
fn export_network(
    rd: &RunDir,
    data: &Data,
    m: &Member,
    k: usize,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    let rel = m.onnx.clone().unwrap_or_else(|| member_file(k));
    let src = rd.path(&rel);
    let src_w = src.with_extension("safetensors");
    for f in [&src, &src_w] {
        if !f.is_file() {
            return Err(CompressError::invalid(
                f.display().to_string(),
                format!("member {k}'s file is missing: the run folder is damaged"),
            ));
        }
    }
    let acc = onnx_test_accuracy(&src, &data.test)?;
    if (acc - m.test_accuracy).abs() > 1e-9 {
        return Err(CompressError::invalid(
            src.display().to_string(),
            format!(
                "member {k} scores {acc} on test, {} was recorded: the file or the data changed",
                m.test_accuracy
            ),
        ));
    }
    let onnx = if out.extension().is_some_and(|e| e == "safetensors") {
        out.with_extension("onnx")
    } else {
        out.to_path_buf()
    };
    let weights = onnx.with_extension("safetensors");
    for (from, to) in [(&src, &onnx), (&src_w, &weights)] {
        let bytes = std::fs::read(from).map_err(|e| evoprune_run::RunError::io(from, e))?;
        evoprune_run::write_atomic(to, &bytes)?;
    }
    Ok(vec![onnx, weights])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_numpys() {
        let s = spread(&[3.0, 1.0, 2.0, 4.0, 5.0]);
        assert_eq!(
            (s.median, s.q1, s.q3, s.min, s.max),
            (3.0, 2.0, 4.0, 1.0, 5.0)
        );
        let s = spread(&[1.0, 2.0]);
        assert_eq!((s.median, s.q1, s.q3), (1.5, 1.25, 1.75));
    }
}
