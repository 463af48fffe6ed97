//! GA pruning of LeNet (`method = "ga-prune"`) on the command line.

use crate::staged::Staged;
use anyhow::Result;
use evoprune_gaprune::pipeline::ResultFile;
use evoprune_gaprune::{Config, GapruneError, Summary};
use evoprune_run::Driver;
use std::path::{Path, PathBuf};

/// GA pruning.
pub struct GaPrune;

impl Staged for GaPrune {
    type Config = Config;
    type Result = ResultFile;
    type Error = GapruneError;
    const EXPORT_FILE: &'static str = "lenet-pruned.safetensors";
    const EXPORT_WHAT: &'static str = "narrowed convolutions + CSR FC layers; see its metadata";

    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn set_seed(cfg: &mut Config, seed: u64) {
        cfg.seed = seed;
    }
    fn set_evaluations(_: &mut Config, _: u64) -> Result<()> {
        anyhow::bail!("--evaluations: GA pruning budgets generations (search.max_generations)")
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, GapruneError> {
        evoprune_gaprune::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, GapruneError> {
        evoprune_gaprune::resume(dir, d)
    }
    fn export(run_dir: &Path, member: usize, out: &Path) -> Result<PathBuf, GapruneError> {
        evoprune_gaprune::export(run_dir, member, out)
    }
    fn interrupted(e: &GapruneError) -> bool {
        matches!(e, GapruneError::Interrupted { .. })
    }
    fn headline(r: &ResultFile) -> String {
        format!(
            "{:?} search: {} generations ({}); baseline test error {:.2}%; hypervolume {:.4}",
            r.mode,
            r.generations,
            r.stopped,
            100.0 * r.baseline_test_error,
            r.hypervolume_test
        )
    }
}
