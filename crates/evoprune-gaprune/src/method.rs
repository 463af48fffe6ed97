//! GA pruning as a registered [`Method`](evoprune_run::Method).

use crate::pipeline::ResultFile;
use crate::{Config, GapruneError, Summary};
use evoprune_run::{Driver, Finished, MethodSpec, Overrides};
use std::path::Path;

/// GA pruning of LeNet (`method = "ga-prune"`).
pub struct GaPrune;

impl MethodSpec for GaPrune {
    type Config = Config;
    type Output = Summary;
    type Error = GapruneError;
    const KEY: &'static str = crate::config::METHOD;
    const ABOUT: &'static str = "GA pruning (Yang et al. 2019) of LeNet or any network: filters (coupled-channel groups) + connections, weighted GA or NSGA-II";
    const EXPORT_FILE: &'static str = "lenet-pruned.safetensors";

    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn apply(cfg: &mut Config, o: &Overrides) -> evoprune_run::Result<()> {
        o.seed_only(&mut cfg.seed, "search.max_generations")
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, GapruneError> {
        crate::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, GapruneError> {
        crate::resume(dir, d)
    }
    fn export(
        dir: &Path,
        member: usize,
        out: &Path,
        _: &mut dyn evoprune_run::Reporter,
    ) -> Result<Vec<String>, GapruneError> {
        let w = crate::export(dir, member, out)?;
        Ok(vec![if w.extension().is_some_and(|e| e == "onnx") {
            format!(
                "wrote {} (the physically smaller network) and {} (its weights by PyTorch name; pruning recorded in its metadata)",
                w.display(),
                w.with_extension("safetensors").display()
            )
        } else {
            format!(
                "wrote {} (narrowed convolutions + CSR FC layers; see its metadata)",
                w.display()
            )
        }])
    }
    fn interrupted(e: &GapruneError) -> bool {
        matches!(e, GapruneError::Interrupted { .. })
    }
    fn finished(s: &Summary) -> Finished {
        let r: &ResultFile = &s.result;
        let headline = format!(
            "{:?} search: {} generations ({}); baseline test error {:.2}%; hypervolume {:.4}",
            r.mode,
            r.generations,
            r.stopped,
            100.0 * r.baseline_test_error,
            r.hypervolume_test
        );
        Finished::headline(&s.dir, headline, &s.table)
    }
    fn baseline(
        cfg: &Config,
        rep: &mut dyn evoprune_run::Reporter,
    ) -> Result<Option<Vec<String>>, GapruneError> {
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
