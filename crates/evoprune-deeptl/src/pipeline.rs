//! The run: prepare data, search, re-score the front on test, ensembles, explanations, report.

use crate::config::{Backbone, Config, InitKind, ObjectiveKind};
use crate::data::{Prepared, prepare};
use crate::ensemble::{EnsembleRow, majority_vote, mean_scores, window_members};
use crate::explain::{feature_counts, heat_maps, top_features};
use crate::problem::{HeadPruning, Scores, Trained};
use crate::{DeeptlError, Result};
use evoprune::{
    BitFlip, BitString, DensitySpread, Event, EvoRng, Individual, MaxEvaluations, Nsga2,
    Nsga2Config, Observer, Sampling, State, TerminationReason, UniformBits, UniformCrossover,
};
use evoprune_run::MethodConfig;
use evoprune_run::plot::{Marker, Series, chart};
use evoprune_run::{Block, Report, Reporter, RunDir, Table};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The initial population of the config (one type for every kind).
#[derive(Clone, Debug)]
pub struct InitSampling {
    kind: InitKind,
    len: usize,
}

impl Sampling<BitString> for InitSampling {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<BitString> {
        match self.kind {
            InitKind::DensitySpread => DensitySpread::new(self.len).sample(n, rng),
            InitKind::Uniform => UniformBits::new(self.len).sample(n, rng),
            InitKind::DensitySpreadLog => (0..n)
                .map(|i| {
                    let l = self.len as f64;
                    let u: f64 = rng.random();
                    let p = if i % 2 == 0 { u } else { l.powf(u - 1.0) };
                    let k = ((p * l).round() as usize).clamp(1, self.len);
                    BitString::from_ones(self.len, rand::seq::index::sample(rng, self.len, k))
                })
                .collect(),
        }
    }
}

/// One member of the final front, scored on validation and test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Position in the front (sorted by active features, then validation error).
    pub index: usize,
    /// Active features.
    pub active: usize,
    /// Active fraction.
    pub active_fraction: f64,
    /// Validation accuracy.
    pub val_accuracy: f64,
    /// Validation AUROC.
    pub val_auroc: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Test AUROC.
    pub test_auroc: f64,
    /// Parameters of the physically compacted head.
    pub params: usize,
    /// Multiply-accumulates per sample of the compacted head (FLOPs = 2 x MACs).
    pub macs: usize,
    /// Training epochs run.
    pub epochs: usize,
    /// The search objectives (validation), in config order.
    pub objectives: Vec<f64>,
    /// The mask as hex (bit j of the string = feature j).
    pub mask: String,
}

/// The unpruned head (every feature active).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Features.
    pub active: usize,
    /// Validation accuracy.
    pub val_accuracy: f64,
    /// Validation AUROC.
    pub val_auroc: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Test AUROC.
    pub test_auroc: f64,
    /// Parameters.
    pub params: usize,
    /// MACs per sample.
    pub macs: usize,
    /// Epochs run.
    pub epochs: usize,
}

/// `front.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrontFile {
    /// Names of the search objectives (all minimised, on validation).
    pub objectives: Vec<String>,
    /// Features per sample (mask length).
    pub features: usize,
    /// Classes (original labels, in head output order).
    pub classes: Vec<u32>,
    /// The unpruned head.
    pub baseline: Baseline,
    /// The front.
    pub members: Vec<Member>,
    /// Evaluations spent.
    pub evaluations: u64,
    /// Search time in seconds.
    pub search_seconds: f64,
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The run folder.
    pub dir: std::path::PathBuf,
    /// The front and baseline.
    pub front: FrontFile,
    /// The ensemble table.
    pub ensembles: Vec<EnsembleRow>,
    /// The same, as a table for a terminal.
    pub ensemble_table: Table,
    /// The most frequently active features `(feature, members)`.
    pub key_features: Vec<(usize, usize)>,
    /// The front as a table for a terminal.
    pub table: Table,
    /// Data preparation notes.
    pub notes: Vec<String>,
}

pub use evoprune_run::Driver;

type Rep = Arc<Mutex<Box<dyn Reporter>>>;

/// The search's progress through the run's reporter: the stage "search" over the evaluation
/// budget, with the best value of each objective as its detail.
struct SearchProgress {
    rep: Rep,
    names: Vec<String>,
    budget: u64,
}

impl Observer<BitString> for SearchProgress {
    fn notify(&mut self, event: &Event, s: &State<BitString>, _: f64) -> evoprune::Result<()> {
        let mut r = self.rep.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Started { resumed } => {
                r.stage("search", Some(self.budget));
                if *resumed {
                    r.note(&format!("resuming at {} evaluations", s.stats.evaluations));
                }
                r.progress(s.stats.evaluations.min(self.budget));
            }
            Event::Generation => {
                let best: Vec<String> = self
                    .names
                    .iter()
                    .enumerate()
                    .map(|(k, n)| {
                        let b = s
                            .population
                            .iter()
                            .filter(|i| i.is_feasible())
                            .map(|i| i.f[k])
                            .fold(f64::INFINITY, f64::min);
                        format!("{n} {b:.4}")
                    })
                    .collect();
                r.detail(&format!("best: {}", best.join(", ")));
                r.progress(s.stats.evaluations.min(self.budget));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Start a new run of `cfg` in `dir` (which must not exist or be empty).
pub fn run(cfg: &Config, dir: &Path, driver: Driver) -> Result<Summary> {
    let (cfg, rd) = evoprune_run::start(cfg, dir)?;
    execute(&cfg, rd, driver)
}

/// Continue the run in `dir` (interrupted or finished: a finished run is re-finalised from its
/// checkpoint without new evaluations).
pub fn resume(dir: &Path, driver: Driver) -> Result<Summary> {
    let (cfg, rd) = evoprune_run::reopen(dir)?;
    execute(&cfg, rd, driver)
}

fn execute(cfg: &Config, rd: RunDir, driver: Driver) -> Result<Summary> {
    rd.mark_incomplete()?;
    let rep: Rep = Arc::new(Mutex::new(driver.reporter));
    let data = prepare(cfg, rep.lock().expect("reporter").as_mut())?;
    let problem = HeadPruning::new(cfg, &data);
    let nsga = Nsga2Config {
        pop_size: cfg.search.pop_size,
        n_offspring: Some(cfg.search.offspring),
        crossover_prob: cfg.search.crossover_prob,
        ..Default::default()
    };
    let algo = Nsga2::new(
        nsga,
        InitSampling {
            kind: cfg.search.init,
            len: data.d,
        },
        UniformCrossover {
            swap_prob: cfg.search.swap_prob,
        },
        BitFlip {
            rate: (cfg.search.mutation_rate > 0.0).then_some(cfg.search.mutation_rate),
        },
    )?;
    let threads = evoprune_run::seeds::threads(driver.threads, cfg.search.threads);
    let m = cfg.search.objectives.len();
    let stage = evoprune_run::engine::EngineStage {
        dir: rd.checkpoint_dir(),
        seed: cfg.seed,
        threads,
        fingerprint: cfg.to_toml()?,
        stop: driver.stop.clone(),
        every: cfg.search.checkpoint_every,
    };
    let res = stage
        .executor(&problem, algo)
        .hv_reference(vec![1.0; m])
        .termination(MaxEvaluations(cfg.search.evaluations))
        .observer(SearchProgress {
            rep: rep.clone(),
            names: cfg
                .search
                .objectives
                .iter()
                .map(|o| o.name().to_string())
                .collect(),
            budget: cfg.search.evaluations,
        })
        .run()?;
    if res.reason == TerminationReason::Interrupted {
        return Err(DeeptlError::Interrupted {
            evaluations: res.state.stats.evaluations,
            run_dir: rd.root().to_path_buf(),
        });
    }
    finalize(
        cfg,
        &rd,
        &problem,
        &res.state,
        rep.lock().expect("reporter").as_mut(),
        threads,
    )
}

fn obj_label(o: ObjectiveKind) -> &'static str {
    match o {
        ObjectiveKind::Error => "1 - accuracy (validation)",
        ObjectiveKind::Active => "active feature fraction",
        ObjectiveKind::Auroc => "1 - AUROC (validation)",
    }
}

fn f4(v: f64) -> String {
    format!("{v:.4}")
}

/// Unique front genomes, sorted by active count then validation objectives.
fn front_genomes(state: &State<BitString>) -> Vec<&Individual<BitString>> {
    let mut f = state.front();
    f.sort_by(|a, b| {
        a.genome
            .count_ones()
            .cmp(&b.genome.count_ones())
            .then_with(|| {
                a.f.iter()
                    .zip(&b.f)
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    });
    f.dedup_by(|a, b| a.genome == b.genome);
    f
}

struct Scored {
    trained: Trained,
    val: Scores,
    test: Scores,
}

fn train_and_score(problem: &HeadPruning, mask: &BitString) -> Result<Scored> {
    let t = problem.train(mask)?;
    let d = problem.data();
    Ok(Scored {
        val: problem.score(&t, &d.val, &d.ood_val)?,
        test: problem.score(&t, &d.test, &d.ood_test)?,
        trained: t,
    })
}

fn finalize(
    cfg: &Config,
    rd: &RunDir,
    problem: &HeadPruning,
    state: &State<BitString>,
    rep: &mut dyn Reporter,
    threads: usize,
) -> Result<Summary> {
    let data: &Prepared = problem.data();
    let front = front_genomes(state);
    if front.is_empty() {
        return Err(DeeptlError::invalid(
            "search",
            "no feasible candidate: every evaluation failed (see checkpoint/evaluations.journal)",
        ));
    }
    rep.stage(
        "scoring the front and the baseline on test",
        Some(front.len() as u64 + 1),
    );
    let pool = evoprune_run::seeds::pool(threads)?;
    let mut masks: Vec<BitString> = front.iter().map(|i| i.genome.clone()).collect();
    masks.push(BitString::ones(data.d));
    let scored: Vec<Result<Scored>> = pool.install(|| {
        masks
            .par_iter()
            .map(|m| train_and_score(problem, m))
            .collect()
    });
    rep.progress(masks.len() as u64);
    let mut scored = scored.into_iter().collect::<Result<Vec<_>>>()?;
    let base = scored.pop().expect("baseline");
    let baseline = Baseline {
        active: data.d,
        val_accuracy: base.val.accuracy,
        val_auroc: base.val.auroc,
        test_accuracy: base.test.accuracy,
        test_auroc: base.test.auroc,
        params: base.trained.mlp.param_count(),
        macs: base.trained.mlp.macs(),
        epochs: base.trained.report.epochs,
    };
    let members: Vec<Member> = front
        .iter()
        .zip(&scored)
        .enumerate()
        .map(|(k, (ind, s))| Member {
            index: k,
            active: s.trained.active.len(),
            active_fraction: s.trained.active.len() as f64 / data.d as f64,
            val_accuracy: s.val.accuracy,
            val_auroc: s.val.auroc,
            test_accuracy: s.test.accuracy,
            test_auroc: s.test.auroc,
            params: s.trained.mlp.param_count(),
            macs: s.trained.mlp.macs(),
            epochs: s.trained.report.epochs,
            objectives: ind.f.clone(),
            mask: ind.genome.to_hex(),
        })
        .collect();
    let front_file = FrontFile {
        objectives: cfg
            .search
            .objectives
            .iter()
            .map(|o| o.name().to_string())
            .collect(),
        features: data.d,
        classes: data.class_labels.clone(),
        baseline: baseline.clone(),
        members: members.clone(),
        evaluations: state.stats.evaluations,
        search_seconds: state.stats.elapsed_secs,
    };

    // front.csv / front.json
    let mut ft = Table::new([
        "member",
        "active",
        "active_%",
        "val_acc",
        "val_auroc",
        "test_acc",
        "test_auroc",
        "params",
        "flops",
    ]);
    ft.push([
        "baseline".to_string(),
        baseline.active.to_string(),
        "100.00".into(),
        f4(baseline.val_accuracy),
        f4(baseline.val_auroc),
        f4(baseline.test_accuracy),
        f4(baseline.test_auroc),
        baseline.params.to_string(),
        (2 * baseline.macs).to_string(),
    ]);
    for m in &members {
        ft.push([
            m.index.to_string(),
            m.active.to_string(),
            format!("{:.2}", 100.0 * m.active_fraction),
            f4(m.val_accuracy),
            f4(m.val_auroc),
            f4(m.test_accuracy),
            f4(m.test_auroc),
            m.params.to_string(),
            (2 * m.macs).to_string(),
        ]);
    }
    let mut csv = Table::new(
        ["member", "active", "active_fraction"]
            .into_iter()
            .map(String::from)
            .chain(front_file.objectives.iter().cloned())
            .chain(
                [
                    "val_accuracy",
                    "val_auroc",
                    "test_accuracy",
                    "test_auroc",
                    "params",
                    "macs",
                    "mask",
                ]
                .map(String::from),
            ),
    );
    for m in &members {
        csv.push(
            [
                m.index.to_string(),
                m.active.to_string(),
                m.active_fraction.to_string(),
            ]
            .into_iter()
            .chain(m.objectives.iter().map(|v| v.to_string()))
            .chain([
                m.val_accuracy.to_string(),
                m.val_auroc.to_string(),
                m.test_accuracy.to_string(),
                m.test_auroc.to_string(),
                m.params.to_string(),
                m.macs.to_string(),
                m.mask.clone(),
            ]),
        );
    }
    csv.write_csv(&rd.path("front.csv"))?;
    rd.write_json("front.json", &front_file)?;

    // hypervolume per step
    let mut hv = Table::new(["generation", "evaluations", "hypervolume"]);
    for r in &state.stats.hv_history {
        hv.push([
            r.generation.to_string(),
            r.evaluations.to_string(),
            r.hypervolume.to_string(),
        ]);
    }
    hv.write_csv(&rd.path("hypervolume.csv"))?;

    // plots
    rd.subdir("plots")?;
    let objs = &cfg.search.objectives;
    let base_val: Vec<f64> = problem.objective_values(&base.val, data.d);
    let test_vals: Vec<Vec<f64>> = scored
        .iter()
        .map(|s| problem.objective_values(&s.test, s.trained.active.len()))
        .collect();
    let mut plot_files = Vec::new();
    for a in 0..objs.len() {
        for b in a + 1..objs.len() {
            let file = format!("plots/front-{}-vs-{}.svg", objs[a].name(), objs[b].name());
            chart(
                &rd.path(&file),
                "Final front",
                obj_label(objs[a]),
                obj_label(objs[b]),
                &[
                    Series::new(
                        "front (validation)",
                        members
                            .iter()
                            .map(|m| (m.objectives[a], m.objectives[b]))
                            .collect(),
                        Marker::Dot,
                    ),
                    Series::new(
                        "front (test)",
                        test_vals.iter().map(|v| (v[a], v[b])).collect(),
                        Marker::Ring,
                    ),
                    Series::new(
                        "unpruned head (validation)",
                        vec![(base_val[a], base_val[b])],
                        Marker::Cross,
                    ),
                ],
            )?;
            plot_files.push(file);
        }
    }
    chart(
        &rd.path("plots/hypervolume.svg"),
        "Hypervolume of the first front (reference 1 per objective)",
        "evaluations",
        "hypervolume",
        &[Series::new(
            "hypervolume",
            state
                .stats
                .hv_history
                .iter()
                .map(|r| (r.evaluations as f64, r.hypervolume))
                .collect(),
            Marker::Line,
        )],
    )?;

    // ensembles
    let ensembles = ensembles(cfg, data, &members, &scored);
    let mut et = Table::new([
        "criterion",
        "window",
        "members",
        "ens_acc",
        "best_acc",
        "ens_auroc",
        "best_auroc",
    ]);
    for e in &ensembles {
        et.push([
            e.criterion.clone(),
            format!("({:.0},{:.0})", e.window[0], e.window[1]),
            e.members.len().to_string(),
            f4(e.accuracy),
            f4(e.best_member_accuracy),
            f4(e.auroc),
            f4(e.best_member_auroc),
        ]);
    }
    et.write_csv(&rd.path("ensembles.csv"))?;

    // key features
    let mask_refs: Vec<&BitString> = front.iter().map(|i| &i.genome).collect();
    let counts = feature_counts(&mask_refs, data.d);
    let key = top_features(&counts, cfg.explain.top_k);
    let mut kt = Table::new(["rank", "feature", "members", "share_of_front"]);
    for (r, (j, c)) in key.iter().enumerate() {
        kt.push([
            (r + 1).to_string(),
            j.to_string(),
            c.to_string(),
            format!("{:.2}", *c as f64 / members.len() as f64),
        ]);
    }
    kt.write_csv(&rd.path("key_features.csv"))?;
    let mut freq = Table::new(["feature", "members"]);
    for (j, c) in counts.iter().enumerate() {
        freq.push([j.to_string(), c.to_string()]);
    }
    freq.write_csv(&rd.path("feature_frequency.csv"))?;

    // heat maps
    let mut maps = Vec::new();
    if cfg.features.backbone == Backbone::EfficientnetLite0 && cfg.explain.heatmap_features > 0 {
        rep.stage("Grad-CAM heat maps", None);
        let model = evoprune_vision::EfficientNetLite0::load(
            cfg.features.weights.as_deref().expect("validated"),
            &cfg.features.compute()?.open()?,
        )?;
        let feats: Vec<usize> = key
            .iter()
            .take(cfg.explain.heatmap_features)
            .map(|k| k.0)
            .collect();
        maps = heat_maps(
            &model,
            &data.test_inputs,
            &feats,
            cfg.explain.heatmap_images,
            cfg.explain.heatmap_size,
            &rd.path("heatmaps"),
        )?;
    }

    // raw pixels as features: how often each pixel is kept, over the mean test image
    let mut pixel_map = None;
    if cfg.features.backbone == Backbone::None {
        let shape: Option<[usize; 2]> = match (cfg.data.source, data.test_inputs.shape()) {
            (crate::config::Source::Digits, _) => Some([8, 8]),
            (_, [h, w]) | (_, [1, h, w]) => Some([*h, *w]),
            _ => None,
        };
        if let Some([h, w]) = shape.filter(|[h, w]| h * w == data.d) {
            let ti = &data.test_inputs;
            let mut mean = vec![0.0f32; data.d];
            for i in 0..ti.len() {
                mean.iter_mut()
                    .zip(ti.row(i))
                    .for_each(|(m, v)| *m += v / ti.len() as f32);
            }
            let top = mean.iter().fold(f32::MIN_POSITIVE, |a, &v| a.max(v));
            mean.iter_mut().for_each(|v| *v /= top);
            let n = members.len().max(1) as f32;
            let freq: Vec<f32> = counts.iter().map(|&c| c as f32 / n).collect();
            rd.subdir("heatmaps")?;
            let file = "heatmaps/pixel-frequency.png";
            crate::explain::write_overlay(&rd.path(file), &mean, &[h, w], &freq, [h, w], 256)?;
            pixel_map = Some(file.to_string());
        }
    }

    // report
    let mut r = Report::new(format!("MO-EvoPruneDeepTL run: {}", cfg.name));
    r.push(Block::Text(format!(
        "{} evaluations in {:.1} s (seed {}); {} front members; objectives: {}.",
        state.stats.evaluations,
        state.stats.elapsed_secs,
        cfg.seed,
        members.len(),
        front_file.objectives.join(", ")
    )));
    for n in &data.notes {
        r.push(Block::Text(n.clone()));
    }
    r.push(Block::Heading(1, "Front (scored on validation during the search, on test here)".into()))
        .push(Block::Table(ft.clone()))
        .push(Block::Text("FLOPs = 2 x multiply-accumulates per sample of the physically compacted head (only the active input rows). Masks are in front.csv / front.json; `evoprune export` writes a member's head.".into()));
    for f in &plot_files {
        r.push(Block::Image(
            f.clone(),
            "Front: validation (dots), test (rings), unpruned head (cross)".into(),
        ));
    }
    r.push(Block::Image(
        "plots/hypervolume.svg".into(),
        "Hypervolume over evaluations".into(),
    ));
    r.push(Block::Heading(1, "Ensembles".into()))
        .push(Block::Text("Majority vote (accuracy) and mean ODIN score (AUROC) over the front members whose validation accuracy, or validation AUROC, lies in each percentile window; compared with the window's best single member on test.".into()))
        .push(Block::Table(et.clone()));
    r.push(Block::Heading(
        1,
        format!("The {} most frequently active features", key.len()),
    ))
    .push(Block::Table(kt));
    if let Some(f) = &pixel_map {
        r.push(Block::Image(
            f.clone(),
            "Share of front members keeping each pixel (red: all, blue: none), over the mean test image".into(),
        ));
    }
    if !maps.is_empty() {
        r.push(Block::Heading(
            1,
            "Grad-CAM heat maps of the key feature channels".into(),
        ));
        for (j, files) in &maps {
            r.push(Block::Gallery(
                files.iter().map(|p| p.display().to_string()).collect(),
                format!(
                    "feature {j} on the first test images (last MBConv block, {0}x{0} input)",
                    cfg.explain.heatmap_size
                ),
            ));
        }
    }
    r.push(Block::Heading(1, "Config".into()))
        .push(Block::Code(cfg.to_toml()?));
    rd.write("report.md", r.to_markdown().as_bytes())?;
    rd.write("report.html", r.to_html().as_bytes())?;
    rd.mark_complete(&ft.to_text())?;
    Ok(Summary {
        dir: rd.root().to_path_buf(),
        front: front_file,
        ensembles,
        ensemble_table: et,
        key_features: key,
        table: ft,
        notes: data.notes.clone(),
    })
}

fn ensembles(
    cfg: &Config,
    data: &Prepared,
    members: &[Member],
    scored: &[Scored],
) -> Vec<EnsembleRow> {
    let mut rows = Vec::new();
    for (criterion, values) in [
        (
            "accuracy",
            members.iter().map(|m| m.val_accuracy).collect::<Vec<_>>(),
        ),
        ("auroc", members.iter().map(|m| m.val_auroc).collect()),
    ] {
        for &w in &cfg.ensembles.windows {
            let mut idx = window_members(&values, w);
            if idx.is_empty() {
                continue;
            }
            // best first (by the window's criterion on validation), for vote tie-breaking
            idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
            let preds: Vec<&[u32]> = idx
                .iter()
                .map(|&i| scored[i].test.predictions.as_slice())
                .collect();
            let vote = majority_vote(&preds, data.n_classes);
            let correct = vote
                .iter()
                .zip(&data.test.y)
                .filter(|(p, y)| p == y)
                .count();
            let ind: Vec<&[f32]> = idx
                .iter()
                .map(|&i| scored[i].test.odin_ind.as_slice())
                .collect();
            let ood: Vec<&[f32]> = idx
                .iter()
                .map(|&i| scored[i].test.odin_ood.as_slice())
                .collect();
            let auroc =
                evoprune_nn::metrics::auroc(&mean_scores(&ind), &mean_scores(&ood)).unwrap_or(0.5);
            rows.push(EnsembleRow {
                criterion: criterion.into(),
                window: w,
                members: idx.clone(),
                accuracy: correct as f64 / data.test.n as f64,
                auroc,
                best_member_accuracy: idx
                    .iter()
                    .map(|&i| members[i].test_accuracy)
                    .fold(0.0, f64::max),
                best_member_auroc: idx
                    .iter()
                    .map(|&i| members[i].test_auroc)
                    .fold(0.0, f64::max),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_density_init_reaches_sparse_masks() {
        let s = InitSampling {
            kind: InitKind::DensitySpreadLog,
            len: 1280,
        };
        let mut rng = evoprune::rng_from_seed(3);
        let pop = s.sample(30, &mut rng);
        let d: Vec<f64> = pop.iter().map(|g| g.density()).collect();
        assert!(d.iter().all(|&x| x > 0.0 && x <= 1.0));
        assert!(d.iter().filter(|&&x| x < 0.01).count() >= 2, "{d:?}");
        assert!(d.iter().filter(|&&x| x > 0.3).count() >= 5, "{d:?}");
    }
}
