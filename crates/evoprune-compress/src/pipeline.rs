//! The run: data, the pre-trained LeNet (trained once and cached), then for every seed the
//! surrogate-assisted search and the real search at the same budget, the fronts re-scored on
//! the test set (members under the floor on test are flagged), hypervolumes with their median
//! and spread, the surrogates' cross-validated errors, plots, the report and export.
//!
//! Each seed's searches checkpoint in `checkpoint/seed-S/` (the surrogate loop after every real
//! evaluation batch, the real search every generation); a finished seed is summarised
//! atomically in `checkpoint/seed-S/done.json`.

use crate::config::Config;
use crate::plan::{Plan, decode, score};
use crate::search::{CvRecord, Evaluated, RealProblem, Seed, front};
use crate::{CompressError, Result};
use evoprune::pareto::hypervolume;
use evoprune_data::digits28::{Data, Part, prepare};
use evoprune_nn::lenet::Net;
use evoprune_run::MethodConfig;
use evoprune_run::plot::{Marker, Series, chart};
use evoprune_run::{Block, Report, Reporter, RunDir, Table};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub use evoprune_run::Driver;

/// A reporter shared with the engine's observer.
struct SharedRep(Arc<std::sync::Mutex<Box<dyn Reporter>>>);

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
    /// Wall seconds.
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
    let (net, origin) = evoprune_nn::store::lenet_baseline(
        &cfg.baseline,
        cfg.seed,
        &data.train,
        evoprune_run::staged(rep, "training the baseline LeNet"),
    )?;
    rep.note(&origin.describe("baseline LeNet"));
    Ok(net)
}

fn members(
    net: &Net,
    evals: &[Evaluated],
    cfg: &Config,
    test: &Part,
) -> Result<(Vec<Member>, f64)> {
    let size = cfg.problem.size_objective;
    let dense = 4.0 * net.params.len() as f64;
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
            let plan = decode(&e.genome)?;
            let t = score(net, &plan, test)?;
            Ok(Member {
                plan,
                val_accuracy: e.scores.accuracy,
                test_accuracy: t.accuracy,
                nonzero: e.scores.nonzero,
                bytes: e.scores.bytes,
                test_meets_floor: t.accuracy >= cfg.problem.accuracy_floor,
            })
        })
        .collect::<Result<_>>()?;
    Ok((out, hv))
}

fn execute(cfg: &Config, rd: RunDir, driver: Driver) -> Result<Summary> {
    rd.mark_incomplete()?;
    // shared so the engine's observer (which must be 'static) can report the real search's
    // progress too
    let shared: Arc<std::sync::Mutex<Box<dyn Reporter>>> =
        Arc::new(std::sync::Mutex::new(driver.reporter));
    let mut guard = SharedRep(shared.clone());
    let rep: &mut dyn Reporter = &mut guard;
    let data = prepare(&cfg.data, cfg.seed)?;
    rep.note(&data.description);
    let net = Arc::new(baseline(cfg, &data, rep)?);
    let threads = evoprune_run::seeds::threads(driver.threads, cfg.threads);
    let val = Arc::new(data.val.take(cfg.problem.fitness_subset));
    let problem = RealProblem::new(
        net.clone(),
        val.clone(),
        cfg.problem.accuracy_floor,
        cfg.problem.size_objective,
    );
    let dense = decode(&evoprune::MixedGenome {
        reals: evoprune::RealVector(vec![0.0; 6]),
        ints: evoprune::IntVector(vec![0; 8]),
        bits: evoprune::BitString::zeros(0),
    })?;
    let base_val = score(&net, &dense, &val)?.accuracy;
    let base_test = score(&net, &dense, &data.test)?.accuracy;
    rep.note(&format!(
        "baseline accuracy: validation {:.2}%, test {:.2}%; floor {:.2}%",
        100.0 * base_val,
        100.0 * base_test,
        100.0 * cfg.problem.accuracy_floor
    ));
    let mut results = Vec::new();
    for &seed in &cfg.seeds {
        let dir = rd.checkpoint_dir().join(format!("seed-{seed}"));
        std::fs::create_dir_all(&dir).map_err(|e| evoprune_run::RunError::io(&dir, e))?;
        let done = dir.join("done.json");
        if let Some(r) = evoprune_run::stage::read::<SeedResult>(&done)? {
            results.push(r);
            continue;
        }
        let s = Seed {
            cfg,
            problem: &problem,
            seed,
            dir: &dir,
            stop: driver.stop.clone(),
            threads,
        };
        let budget = cfg.surrogate.budget as u64;
        rep.stage(
            &format!("seed {seed}: surrogate-assisted search (real evaluations)"),
            Some(budget),
        );
        let t = Instant::now();
        let st = s.surrogate(|n| rep.progress(n as u64))?;
        let secs = t.elapsed().as_secs_f64();
        if let Some(why) = &st.stopped {
            rep.note(&format!("seed {seed}: surrogate search ended early: {why}"));
        }
        let (front_s, hv_s) = members(&net, &st.evaluated, cfg, &data.test)?;
        let surrogate = SearchResult {
            method: "surrogate".into(),
            evaluations: st.evaluated.len(),
            hypervolume: hv_s,
            front: front_s,
            seconds: secs,
            stopped: st.stopped.clone(),
        };
        let real = if cfg.real.enabled {
            rep.stage(
                &format!("seed {seed}: NSGA-II on the real problem"),
                Some(budget),
            );
            let t = Instant::now();
            let r2 = shared.clone();
            let evals = s.real(move |n| r2.lock().expect("reporter").progress(n as u64))?;
            let secs = t.elapsed().as_secs_f64();
            let (f, hv) = members(&net, &evals, cfg, &data.test)?;
            Some(SearchResult {
                method: "real".into(),
                evaluations: evals.len(),
                hypervolume: hv,
                front: f,
                seconds: secs,
                stopped: None,
            })
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
            cv: st.cv,
        };
        evoprune_run::write_atomic(&done, &serde_json::to_vec(&r).expect("serialisable"))?;
        results.push(r);
    }
    finalize(cfg, &rd, &data, [base_val, base_test], results)
}

fn finalize(
    cfg: &Config,
    rd: &RunDir,
    data: &Data,
    base: [f64; 2],
    seeds: Vec<SeedResult>,
) -> Result<Summary> {
    let hv_s: Vec<f64> = seeds.iter().map(|s| s.surrogate.hypervolume).collect();
    let hv_r: Vec<f64> = seeds
        .iter()
        .filter_map(|s| s.real.as_ref().map(|r| r.hypervolume))
        .collect();
    let wins = seeds
        .iter()
        .filter(|s| {
            s.real
                .as_ref()
                .is_some_and(|r| s.surrogate.hypervolume > r.hypervolume)
        })
        .count();
    let mut cv_summary = Vec::new();
    for (ti, name) in ["accuracy", "nonzero", "bytes"].iter().enumerate() {
        let mut per_kind = Vec::new();
        for &k in &cfg.surrogate.kinds {
            let errs: Vec<f64> = seeds
                .iter()
                .flat_map(|s| s.cv.iter())
                .filter_map(|c| c.targets.get(ti))
                .flat_map(|t| t.errors.iter().filter(|(kk, _)| *kk == k).map(|(_, e)| *e))
                .collect();
            let chosen = seeds
                .iter()
                .flat_map(|s| s.cv.iter())
                .filter(|c| c.targets.get(ti).is_some_and(|t| t.chosen == k))
                .count();
            let mean = errs.iter().sum::<f64>() / errs.len().max(1) as f64;
            per_kind.push(KindSummary {
                kind: k,
                mean_mae: mean,
                chosen,
            });
        }
        cv_summary.push(TargetSummary {
            target: name.to_string(),
            kinds: per_kind,
        });
    }
    let flagged = seeds
        .iter()
        .flat_map(|s| {
            s.surrogate
                .front
                .iter()
                .chain(s.real.iter().flat_map(|r| r.front.iter()))
        })
        .filter(|m| !m.test_meets_floor)
        .count();
    let result = ResultFile {
        baseline_accuracy: base,
        floor: cfg.problem.accuracy_floor,
        hv_surrogate: spread(&hv_s),
        hv_real: (!hv_r.is_empty()).then(|| spread(&hv_r)),
        surrogate_wins: wins,
        cv_summary,
        flagged,
        seeds,
        data: data.description.clone(),
    };
    let table = write_outputs(cfg, rd, &result)?;
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

fn pct(v: f64) -> String {
    format!("{:.2}", 100.0 * v)
}

fn write_outputs(cfg: &Config, rd: &RunDir, r: &ResultFile) -> Result<Table> {
    rd.write_json("result.json", r)?;
    let mut t = Table::new([
        "seed",
        "method",
        "evaluations",
        "hypervolume",
        "front",
        "flagged",
        "best nonzero %",
        "seconds",
    ]);
    let mut fronts = Table::new([
        "seed",
        "method",
        "member",
        "val_accuracy",
        "test_accuracy",
        "nonzero",
        "bytes",
        "test_meets_floor",
        "plan",
    ]);
    for s in &r.seeds {
        for m in std::iter::once(&s.surrogate).chain(s.real.iter()) {
            t.push([
                s.seed.to_string(),
                m.method.clone(),
                m.evaluations.to_string(),
                format!("{:.4}", m.hypervolume),
                m.front.len().to_string(),
                m.front
                    .iter()
                    .filter(|x| !x.test_meets_floor)
                    .count()
                    .to_string(),
                m.front
                    .first()
                    .map(|x| pct(x.nonzero))
                    .unwrap_or_else(|| "-".into()),
                format!("{:.1}", m.seconds),
            ]);
            for (i, x) in m.front.iter().enumerate() {
                fronts.push([
                    s.seed.to_string(),
                    m.method.clone(),
                    i.to_string(),
                    format!("{:.4}", x.val_accuracy),
                    format!("{:.4}", x.test_accuracy),
                    format!("{:.6}", x.nonzero),
                    format!("{}", x.bytes),
                    x.test_meets_floor.to_string(),
                    serde_json::to_string(&x.plan).expect("serialisable"),
                ]);
            }
        }
    }
    t.write_csv(&rd.path("seeds.csv"))?;
    fronts.write_csv(&rd.path("fronts.csv"))?;
    let mut cv = Table::new([
        "seed",
        "iteration",
        "samples",
        "target",
        "kind",
        "cv_mae",
        "chosen",
    ]);
    for s in &r.seeds {
        for (it, c) in s.cv.iter().enumerate() {
            for t in &c.targets {
                let (name, chosen) = (&t.target, &t.chosen);
                for (k, e) in &t.errors {
                    cv.push([
                        s.seed.to_string(),
                        it.to_string(),
                        c.samples.to_string(),
                        name.clone(),
                        format!("{k:?}"),
                        format!("{e:.6}"),
                        (k == chosen).to_string(),
                    ]);
                }
            }
        }
    }
    cv.write_csv(&rd.path("cv.csv"))?;
    let series = |method: &str, marker: Marker| {
        let pts: Vec<(f64, f64)> = r
            .seeds
            .iter()
            .flat_map(|s| std::iter::once(&s.surrogate).chain(s.real.iter()))
            .filter(|m| m.method == method)
            .flat_map(|m| {
                m.front
                    .iter()
                    .map(|x| (100.0 * x.nonzero, 100.0 * x.val_accuracy))
            })
            .collect();
        Series::new(format!("{method} (all seeds)"), pts, marker)
    };
    chart(
        &rd.path("fronts.svg"),
        "Feasible fronts: validation accuracy vs non-zero parameters",
        "non-zero parameters %",
        "validation accuracy %",
        &[
            series("surrogate", Marker::Dot),
            series("real", Marker::Cross),
            Series::new(
                "dense baseline",
                vec![(100.0, 100.0 * r.baseline_accuracy[0])],
                Marker::Ring,
            ),
        ],
    )?;
    let mut cvt = Table::new(["target", "kind", "mean CV MAE", "chosen (iterations)"]);
    for t in &r.cv_summary {
        for k in &t.kinds {
            cvt.push([
                t.target.clone(),
                format!("{:?}", k.kind),
                format!("{:.5}", k.mean_mae),
                k.chosen.to_string(),
            ]);
        }
    }
    let sp = |s: &Spread| {
        format!(
            "median {:.4} (IQR {:.4}-{:.4}, range {:.4}-{:.4})",
            s.median, s.q1, s.q3, s.min, s.max
        )
    };
    let mut rep = Report::new(format!(
        "Surrogate-assisted constrained compression: {}",
        cfg.name
    ));
    rep.push(Block::Text(format!(
        "{}. Baseline LeNet accuracy: validation {:.2}%, test {:.2}%. Constraint: validation accuracy >= {:.2}%. Budget {} real evaluations per search ({} initial, {} per iteration). Hypervolume of the feasible front (1 - accuracy, non-zero fraction), reference 1: surrogate {}; real {}. The surrogate search has the larger hypervolume on {} of {} seeds. Front members below the floor on the test set (flagged): {}.",
        r.data,
        100.0 * r.baseline_accuracy[0],
        100.0 * r.baseline_accuracy[1],
        100.0 * r.floor,
        cfg.surrogate.budget,
        cfg.surrogate.initial,
        cfg.surrogate.per_iteration,
        sp(&r.hv_surrogate),
        r.hv_real.as_ref().map(sp).unwrap_or_else(|| "not run".into()),
        r.surrogate_wins,
        r.seeds.len(),
        r.flagged
    )))
    .push(Block::Heading(2, "Per seed".into()))
    .push(Block::Table(t.clone()))
    .push(Block::Heading(2, "Surrogates: cross-validated error".into()))
    .push(Block::Table(cvt))
    .push(Block::Image("fronts.svg".into(), "Feasible fronts".into()));
    rd.write("report.md", rep.to_markdown().as_bytes())?;
    rd.write("report.html", rep.to_html().as_bytes())?;
    Ok(t)
}

/// Write front member `member` of the surrogate search of the first seed (as listed in
/// `fronts.csv`) as a compressed LeNet (pruned and quantized weights, dequantized to `f32`,
/// the plan in the metadata) after checking its recorded test accuracy. Returns the path.
pub fn export(run_dir: &Path, member: usize, out: &Path) -> Result<std::path::PathBuf> {
    let (rd, r): (RunDir, ResultFile) = RunDir::open_finished(run_dir)?;
    let front = &r.seeds[0].surrogate.front;
    let m = evoprune_run::member(front, member, "the first seed's surrogate front")?;
    let cfg = Config::stored(&rd)?;
    let data = prepare(&cfg.data, cfg.seed)?;
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
    Ok(out.to_path_buf())
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
