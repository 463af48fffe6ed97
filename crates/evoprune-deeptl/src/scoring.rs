//! The final stage: each front member's head (and the unpruned head) trained again and scored
//! on validation and test. Each finished head's scores are stored under
//! `checkpoint/final/`, so an interrupted run loses at most the heads in flight.

use crate::data::Prepared;
use crate::ensemble::{EnsembleRow, majority_vote, mean_scores, window_members};
use crate::pipeline::{Baseline, Member};
use crate::problem::{HeadPruning, Scores};
use crate::{Config, Result};
use evoprune::{BitString, Individual};
use evoprune_run::{Reporter, RunDir};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// What the final stage measured of one mask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FinalScore {
    /// The mask as hex (checked on resume: a stored score belongs to exactly this mask).
    pub mask: String,
    /// Active features.
    pub active: usize,
    /// Parameters of the compacted head.
    pub params: usize,
    /// Multiply-accumulates per sample of the compacted head.
    pub macs: usize,
    /// Training epochs run.
    pub epochs: usize,
    /// Scores on validation.
    pub val: Scores,
    /// Scores on test.
    pub test: Scores,
}

fn train_and_score(problem: &HeadPruning, mask: &BitString) -> Result<FinalScore> {
    let t = problem.train(mask)?;
    let d = problem.data();
    Ok(FinalScore {
        mask: mask.to_hex(),
        active: t.active.len(),
        params: t.mlp.param_count(),
        macs: t.mlp.macs(),
        epochs: t.report.epochs,
        val: problem.score(&t, &d.val, &d.ood_val)?,
        test: problem.score(&t, &d.test, &d.ood_test)?,
    })
}

/// Score `masks` (the front, then the unpruned head), reusing the scores stored by an
/// interrupted earlier attempt and storing each new one as soon as it is finished.
pub(crate) fn score_all(
    problem: &HeadPruning,
    rd: &RunDir,
    masks: &[BitString],
    rep: &mut dyn Reporter,
    threads: usize,
) -> Result<Vec<FinalScore>> {
    let dir = rd.checkpoint_dir().join("final");
    let path = |k: usize| dir.join(format!("head-{k}.json"));
    rep.stage(
        "scoring the front and the baseline on test",
        Some(masks.len() as u64),
    );
    let done = Mutex::new((0u64, rep));
    let pool = evoprune_run::seeds::pool(threads)?;
    let scores: Vec<Result<FinalScore>> = pool.install(|| {
        masks
            .par_iter()
            .enumerate()
            .map(|(k, m)| {
                let stored: Option<FinalScore> = evoprune_run::stage::read(&path(k))?;
                let s = match stored.filter(|s| s.mask == m.to_hex()) {
                    Some(s) => s,
                    None => {
                        let s = train_and_score(problem, m)?;
                        evoprune_run::stage::write(&path(k), &s)?;
                        s
                    }
                };
                let mut g = done.lock().unwrap_or_else(|p| p.into_inner());
                g.0 += 1;
                let n = g.0;
                g.1.progress(n);
                Ok(s)
            })
            .collect()
    });
    scores.into_iter().collect()
}

/// AUROC of the test split against each OoD source alone, when there is more than one.
fn by_source(data: &Prepared, s: &Scores) -> Vec<(String, f64)> {
    if data.ood_test_sources.len() < 2 {
        return Vec::new();
    }
    data.ood_test_sources
        .iter()
        .map(|p| {
            // a stored score holds one ODIN score per OoD sample of this data (same config, same
            // seed); anything else has no per-source value
            let a = s
                .odin_ood
                .get(p.range.clone())
                .and_then(|ood| evoprune_nn::metrics::auroc(&s.odin_ind, ood))
                .unwrap_or(f64::NAN);
            (p.name.clone(), a)
        })
        .collect()
}

/// The unpruned head's row.
pub(crate) fn baseline(data: &Prepared, s: &FinalScore) -> Baseline {
    Baseline {
        active: data.d,
        test_auroc_by_source: by_source(data, &s.test),
        val_accuracy: s.val.accuracy,
        val_auroc: s.val.auroc,
        test_accuracy: s.test.accuracy,
        test_auroc: s.test.auroc,
        params: s.params,
        macs: s.macs,
        epochs: s.epochs,
    }
}

/// The front's rows, in front order.
pub(crate) fn members(
    front: &[&Individual<BitString>],
    scores: &[FinalScore],
    data: &Prepared,
) -> Vec<Member> {
    let d = data.d;
    front
        .iter()
        .zip(scores)
        .enumerate()
        .map(|(k, (ind, s))| Member {
            index: k,
            active: s.active,
            active_fraction: s.active as f64 / d as f64,
            val_accuracy: s.val.accuracy,
            val_auroc: s.val.auroc,
            test_accuracy: s.test.accuracy,
            test_auroc: s.test.auroc,
            test_auroc_by_source: by_source(data, &s.test),
            params: s.params,
            macs: s.macs,
            epochs: s.epochs,
            objectives: ind.f.clone(),
            mask: ind.genome.to_hex(),
        })
        .collect()
}

/// The ensembles of the config's percentile windows, on test: majority vote for accuracy,
/// mean ODIN score for AUROC, each window against its best single member.
pub(crate) fn ensembles(
    cfg: &Config,
    data: &Prepared,
    members: &[Member],
    scores: &[FinalScore],
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
            rows.push(ensemble(criterion, w, idx, data, members, scores));
        }
    }
    rows
}

fn ensemble(
    criterion: &str,
    window: [f64; 2],
    idx: Vec<usize>,
    data: &Prepared,
    members: &[Member],
    scores: &[FinalScore],
) -> EnsembleRow {
    let preds: Vec<&[u32]> = idx
        .iter()
        .map(|&i| scores[i].test.predictions.as_slice())
        .collect();
    let vote = majority_vote(&preds, data.n_classes);
    let correct = vote
        .iter()
        .zip(&data.test.y)
        .filter(|(p, y)| p == y)
        .count();
    let ind: Vec<&[f32]> = idx
        .iter()
        .map(|&i| scores[i].test.odin_ind.as_slice())
        .collect();
    let ood: Vec<&[f32]> = idx
        .iter()
        .map(|&i| scores[i].test.odin_ood.as_slice())
        .collect();
    let auroc = evoprune_nn::metrics::auroc(&mean_scores(&ind), &mean_scores(&ood)).unwrap_or(0.5);
    let best = |f: fn(&Member) -> f64| idx.iter().map(|&i| f(&members[i])).fold(0.0, f64::max);
    EnsembleRow {
        criterion: criterion.into(),
        window,
        accuracy: correct as f64 / data.test.n as f64,
        auroc,
        best_member_accuracy: best(|m| m.test_accuracy),
        best_member_auroc: best(|m| m.test_auroc),
        members: idx,
    }
}
