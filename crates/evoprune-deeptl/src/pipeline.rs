//! The run: prepare data, search, re-score the front on test, ensembles, explanations, report.

use crate::config::{Backbone, Config, InitKind};
use crate::data::{Prepared, prepare};
use crate::ensemble::EnsembleRow;
use crate::explain::{feature_counts, heat_maps, top_features};
use crate::problem::HeadPruning;
use crate::{DeeptlError, Result, outputs, scoring};
use evoprune::{
    BitFlip, BitString, DensitySpread, Event, EvoRng, Individual, MaxEvaluations, Nsga2,
    Nsga2Config, Observer, Sampling, State, TerminationReason, UniformBits, UniformCrossover,
};
use evoprune_run::MethodConfig;
use evoprune_run::{Reporter, RunDir, Table};
use rand::Rng;
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
    /// Test AUROC against each OoD source alone (`[ood]`: held-out classes, other datasets,
    /// noise), when there is more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_auroc_by_source: Vec<(String, f64)>,
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
    /// Test AUROC against each OoD source alone, when there is more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_auroc_by_source: Vec<(String, f64)>,
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
        remote: driver.remote.clone(),
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

/// The stages after the search: score the front and the unpruned head on test (stored per
/// head), ensembles, key features, explanations, then the declared outputs.
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
    let mut masks: Vec<BitString> = front.iter().map(|i| i.genome.clone()).collect();
    masks.push(BitString::ones(data.d));
    let mut scores = scoring::score_all(problem, rd, &masks, rep, threads)?;
    let base = scores
        .pop()
        .ok_or_else(|| DeeptlError::invalid("search", "no baseline"))?;
    let members = scoring::members(&front, &scores, data);
    let front_file = FrontFile {
        objectives: cfg
            .search
            .objectives
            .iter()
            .map(|o| o.name().into())
            .collect(),
        features: data.d,
        classes: data.class_labels.clone(),
        baseline: scoring::baseline(data, &base),
        members,
        evaluations: state.stats.evaluations,
        search_seconds: state.stats.elapsed_secs,
    };
    let ensembles = scoring::ensembles(cfg, data, &front_file.members, &scores);
    let mask_refs: Vec<&BitString> = front.iter().map(|i| &i.genome).collect();
    let counts = feature_counts(&mask_refs, data.d);
    let key = top_features(&counts, cfg.explain.top_k);
    let heat = grad_cam_stage(cfg, data, &key, rd, rep)?;
    let pixel_map = pixel_map_stage(cfg, data, &counts, front_file.members.len(), rd)?;
    let (ft, et) = write_outputs(
        &outputs::Finished {
            cfg,
            state,
            front: &front_file,
            baseline_objectives: problem.objective_values(&base.val, data.d),
            test_objectives: scores
                .iter()
                .map(|s| problem.objective_values(&s.test, s.active))
                .collect(),
            ensembles: &ensembles,
            key: &key,
            counts: &counts,
            notes: &data.notes,
            heat_maps: &heat,
            pixel_map: pixel_map.as_deref(),
        },
        rd,
    )?;
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

/// Write the declared outputs; the images of the explanation stages are already on disk.
fn write_outputs(f: &outputs::Finished, rd: &RunDir) -> Result<(Table, Table)> {
    let (o, ft, et) = outputs::declare(f)?;
    let mut existing: Vec<String> = f
        .heat_maps
        .iter()
        .flat_map(|(_, files)| files.iter().map(|p| p.display().to_string()))
        .collect();
    existing.extend(f.pixel_map.map(String::from));
    let existing: Vec<&str> = existing.iter().map(String::as_str).collect();
    o.write(rd, &existing)?;
    Ok((ft, et))
}

/// Grad-CAM heat maps of the key features (EfficientNet-Lite0 backbones only).
fn grad_cam_stage(
    cfg: &Config,
    data: &Prepared,
    key: &[(usize, usize)],
    rd: &RunDir,
    rep: &mut dyn Reporter,
) -> Result<Vec<(usize, Vec<std::path::PathBuf>)>> {
    if cfg.features.backbone != Backbone::EfficientnetLite0 || cfg.explain.heatmap_features == 0 {
        return Ok(Vec::new());
    }
    let weights = cfg.features.weights.as_deref().ok_or_else(|| {
        DeeptlError::invalid("features.weights", "EfficientNet-Lite0 needs its weights")
    })?;
    rep.stage("Grad-CAM heat maps", None);
    let model =
        evoprune_vision::EfficientNetLite0::load(weights, &cfg.features.compute()?.open()?)?;
    let feats: Vec<usize> = key
        .iter()
        .take(cfg.explain.heatmap_features)
        .map(|k| k.0)
        .collect();
    heat_maps(
        &model,
        &data.test_inputs,
        &feats,
        cfg.explain.heatmap_images,
        cfg.explain.heatmap_size,
        &rd.path("heatmaps"),
    )
}

/// Raw pixels as features: how often each pixel is kept, drawn over the mean test image.
/// Returns the image's path relative to the run folder, when the inputs are images.
fn pixel_map_stage(
    cfg: &Config,
    data: &Prepared,
    counts: &[usize],
    members: usize,
    rd: &RunDir,
) -> Result<Option<String>> {
    if cfg.features.backbone != Backbone::None {
        return Ok(None);
    }
    let shape: Option<[usize; 2]> = match (cfg.data.source, data.test_inputs.shape()) {
        (crate::config::Source::Digits, _) => Some([8, 8]),
        (_, [h, w]) | (_, [1, h, w]) => Some([*h, *w]),
        _ => None,
    };
    let Some([h, w]) = shape.filter(|[h, w]| h * w == data.d) else {
        return Ok(None);
    };
    let ti = &data.test_inputs;
    let mut mean = vec![0.0f32; data.d];
    for i in 0..ti.len() {
        mean.iter_mut()
            .zip(ti.row(i))
            .for_each(|(m, v)| *m += v / ti.len() as f32);
    }
    let top = mean.iter().fold(f32::MIN_POSITIVE, |a, &v| a.max(v));
    mean.iter_mut().for_each(|v| *v /= top);
    let n = members.max(1) as f32;
    let freq: Vec<f32> = counts.iter().map(|&c| c as f32 / n).collect();
    rd.subdir("heatmaps")?;
    let file = "heatmaps/pixel-frequency.png";
    crate::explain::write_overlay(&rd.path(file), &mean, &[h, w], &freq, [h, w], 256)?;
    Ok(Some(file.to_string()))
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
