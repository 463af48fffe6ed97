//! Surrogate-assisted constrained compression as a registered [`Method`](evoprune_run::Method).

use crate::pipeline::{ResultFile, Spread};
use crate::{CompressError, Config, Summary};
use evoprune_run::{Driver, Finished, MethodSpec, Overrides, RunError};
use std::path::Path;

/// Surrogate-assisted constrained compression (`method = "surrogate-compress"`).
pub struct Compress;

impl MethodSpec for Compress {
    type Config = Config;
    type Output = Summary;
    type Error = CompressError;
    const KEY: &'static str = crate::config::METHOD;
    const ABOUT: &'static str = "surrogate-assisted pruning + quantization under an accuracy floor";
    const EXPORT_FILE: &'static str = "lenet-compressed.safetensors";

    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn apply(cfg: &mut Config, o: &Overrides) -> evoprune_run::Result<()> {
        if let Some(s) = o.seed {
            cfg.seed = s;
        }
        if let Some(n) = o.evaluations {
            cfg.surrogate.budget = usize::try_from(n)
                .map_err(|e| RunError::invalid("--evaluations", e.to_string()))?;
        }
        Ok(())
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, CompressError> {
        crate::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, CompressError> {
        crate::resume(dir, d)
    }
    fn export(
        dir: &Path,
        member: usize,
        out: &Path,
        _: &mut dyn evoprune_run::Reporter,
    ) -> Result<Vec<String>, CompressError> {
        let written = crate::export(dir, member, out)?;
        Ok(match &written[..] {
            [w] => vec![format!(
                "wrote {} (pruned + quantized weights as f32, the plan in the metadata)",
                w.display()
            )],
            files => files
                .iter()
                .map(|f| {
                    format!(
                        "wrote {} (the member's realized network; its test accuracy re-checked)",
                        f.display()
                    )
                })
                .collect(),
        })
    }
    fn interrupted(e: &CompressError) -> bool {
        matches!(e, CompressError::Interrupted { .. })
    }
    fn finished(s: &Summary) -> Finished {
        let r: &ResultFile = &s.result;
        let sp = |x: &Spread| format!("median {:.4} (range {:.4}-{:.4})", x.median, x.min, x.max);
        let headline = format!(
            "baseline accuracy {:.2}% (test {:.2}%), floor {:.2}%; hypervolume surrogate {}, real {}; surrogate better on {} of {} seeds; {} front members flagged on test",
            100.0 * r.baseline_accuracy[0],
            100.0 * r.baseline_accuracy[1],
            100.0 * r.floor,
            sp(&r.hv_surrogate),
            r.hv_real
                .as_ref()
                .map(sp)
                .unwrap_or_else(|| "not run".into()),
            r.surrogate_wins,
            r.seeds.len(),
            r.flagged
        );
        Finished::headline(&s.dir, headline, &s.table)
    }
    fn baseline(
        cfg: &Config,
        rep: &mut dyn evoprune_run::Reporter,
    ) -> Result<Option<Vec<String>>, CompressError> {
        let Some(m) = cfg.model.as_ref().filter(|m| m.train.epochs > 0) else {
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
