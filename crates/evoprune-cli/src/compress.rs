//! Surrogate-assisted constrained compression (`method = "surrogate-compress"`) on the command
//! line.

use crate::staged::Staged;
use anyhow::Result;
use evoprune_compress::pipeline::{ResultFile, Spread};
use evoprune_compress::{CompressError, Config, Summary};
use evoprune_run::Driver;
use std::path::{Path, PathBuf};

/// Surrogate-assisted compression.
pub struct Compress;

impl Staged for Compress {
    type Config = Config;
    type Result = ResultFile;
    type Error = CompressError;
    const EXPORT_FILE: &'static str = "lenet-compressed.safetensors";
    const EXPORT_WHAT: &'static str = "pruned + quantized weights as f32, the plan in the metadata";

    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn set_seed(cfg: &mut Config, seed: u64) {
        cfg.seed = seed;
    }
    fn set_evaluations(cfg: &mut Config, n: u64) -> Result<()> {
        cfg.surrogate.budget = usize::try_from(n)?;
        Ok(())
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, CompressError> {
        evoprune_compress::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, CompressError> {
        evoprune_compress::resume(dir, d)
    }
    fn export(run_dir: &Path, member: usize, out: &Path) -> Result<PathBuf, CompressError> {
        evoprune_compress::export(run_dir, member, out)
    }
    fn interrupted(e: &CompressError) -> bool {
        matches!(e, CompressError::Interrupted { .. })
    }
    fn headline(r: &ResultFile) -> String {
        let sp = |x: &Spread| format!("median {:.4} (range {:.4}-{:.4})", x.median, x.min, x.max);
        format!(
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
        )
    }
}
