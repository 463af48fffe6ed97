//! Hierarchical importance-guided pruning as a registered [`Method`](evoprune_run::Method).

use crate::pipeline::ResultFile;
use crate::{Config, HierError, Summary};
use evoprune_run::{Driver, Finished, MethodSpec, Overrides};
use std::path::Path;

/// Hierarchical importance-guided pruning (`method = "hierarchical-prune"`).
pub struct Hierarchical;

impl MethodSpec for Hierarchical {
    type Config = Config;
    type Output = Summary;
    type Error = HierError;
    const KEY: &'static str = crate::config::METHOD;
    const ABOUT: &'static str =
        "hierarchical importance-guided pruning: per-layer thresholds, then survivors' bits";
    const EXPORT_FILE: &'static str = "pruned.safetensors";

    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn apply(cfg: &mut Config, o: &Overrides) -> evoprune_run::Result<()> {
        o.seed_only(&mut cfg.seed, "phase1.generations, phase2.generations")
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, HierError> {
        crate::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, HierError> {
        crate::resume(dir, d)
    }
    fn export(
        dir: &Path,
        member: usize,
        out: &Path,
        _: &mut dyn evoprune_run::Reporter,
    ) -> Result<Vec<String>, HierError> {
        let w = crate::export(dir, member, out)?;
        Ok(match &w[..] {
            [onnx, weights] => vec![format!(
                "wrote {} and {} (the realized network, pruned weights zero; PyTorch names)",
                onnx.display(),
                weights.display()
            )],
            _ => w
                .iter()
                .map(|p| {
                    format!(
                        "wrote {} (dense layout, pruned weights zero; PyTorch names)",
                        p.display()
                    )
                })
                .collect(),
        })
    }
    fn interrupted(e: &HierError) -> bool {
        matches!(e, HierError::Interrupted { .. })
    }
    fn finished(s: &Summary) -> Finished {
        let r: &ResultFile = &s.result;
        let headline = format!(
            "{}: baseline test error {:.2}%; hypervolume (validation, reference 1) phase 1 {:.4}, phase 2 {:.4}, both {:.4}; of the anchors' box {:.3} / {:.3} / {:.3}; phase 1 {:.0} s, phase 2 {:.0} s",
            r.model.describe(),
            100.0 * r.baseline_test_error,
            r.hypervolume[0],
            r.hypervolume[1],
            r.hypervolume[2],
            r.hypervolume_box[0],
            r.hypervolume_box[1],
            r.hypervolume_box[2],
            r.phase_seconds[0],
            r.phase_seconds[1]
        );
        Finished::headline(&s.dir, headline, &s.table)
    }
    fn baseline(
        cfg: &Config,
        rep: &mut dyn evoprune_run::Reporter,
    ) -> Result<Option<Vec<String>>, HierError> {
        let Some(m) = cfg.model.network().filter(|m| m.train.epochs > 0) else {
            return Ok(None);
        };
        let (seed, mut progress) =
            evoprune_run::baseline_stage(rep, cfg.seed, &m.describe(), m.train.epochs);
        let cache = &cfg.baseline.cache_dir;
        let progress = move |p: evoprune_graph::train::Progress| progress(p.step, p.steps);
        let r = evoprune_graph::net::baseline_report(m, &cfg.data, cache, cfg.seed, seed, progress);
        Ok(Some(r?.lines()))
    }
}
