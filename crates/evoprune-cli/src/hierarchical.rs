//! Hierarchical importance-guided pruning (`method = "hierarchical-prune"`) on the command line.

use crate::staged::Staged;
use anyhow::Result;
use evoprune_hierarchical::pipeline::ResultFile;
use evoprune_hierarchical::{Config, HierError, Summary};
use evoprune_run::Driver;
use std::path::{Path, PathBuf};

/// Hierarchical pruning.
pub struct Hierarchical;

impl Staged for Hierarchical {
    type Config = Config;
    type Result = ResultFile;
    type Error = HierError;
    const EXPORT_FILE: &'static str = "pruned.safetensors";
    const EXPORT_WHAT: &'static str = "dense layout, pruned weights zero; PyTorch names";

    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn set_seed(cfg: &mut Config, seed: u64) {
        cfg.seed = seed;
    }
    fn set_evaluations(_: &mut Config, _: u64) -> Result<()> {
        anyhow::bail!(
            "--evaluations: hierarchical pruning budgets generations (phase1.generations, phase2.generations)"
        )
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, HierError> {
        evoprune_hierarchical::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, HierError> {
        evoprune_hierarchical::resume(dir, d)
    }
    fn export(run_dir: &Path, member: usize, out: &Path) -> Result<PathBuf, HierError> {
        evoprune_hierarchical::export(run_dir, member, out)
    }
    fn interrupted(e: &HierError) -> bool {
        matches!(e, HierError::Interrupted { .. })
    }
    fn headline(r: &ResultFile) -> String {
        format!(
            "{:?}: baseline test error {:.2}%; hypervolume (validation, reference 1) phase 1 {:.4}, phase 2 {:.4}, both {:.4}; of the anchors' box {:.3} / {:.3} / {:.3}; phase 1 {:.0} s, phase 2 {:.0} s",
            r.model,
            100.0 * r.baseline_test_error,
            r.hypervolume[0],
            r.hypervolume[1],
            r.hypervolume[2],
            r.hypervolume_box[0],
            r.hypervolume_box[1],
            r.hypervolume_box[2],
            r.phase_seconds[0],
            r.phase_seconds[1]
        )
    }
}
