//! `evoprune run|resume|export` for configs with `method = "ga-prune"` (GA pruning of LeNet).

use crate::deeptl::{ExportArgs, ResumeArgs, RunArgs, StageBar};
use anyhow::{Context, Result};
use evoprune_gaprune::{Config, Driver, GapruneError, Summary};
use evoprune_run::RunDir;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The `method` key of a config file (`None` when absent).
pub fn method_of(path: &Path) -> Result<Option<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config", path.display()))?;
    let t: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        // malformed: let the method's own parser report it with line and key
        Err(_) => return Ok(None),
    };
    Ok(t.get("method").and_then(|v| v.as_str()).map(str::to_string))
}

/// The driver of a staged method's run: stage bar on standard error, Ctrl-C stops after the
/// current generation (or stage item) with a checkpoint.
pub fn driver(threads: usize) -> Driver {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    Driver {
        reporter: Box::new(StageBar {
            bar: None,
            visible: std::io::stderr().is_terminal(),
        }),
        stop,
        threads,
    }
}

fn finish(r: evoprune_gaprune::Result<Summary>) -> Result<Option<u8>> {
    match r {
        Ok(s) => {
            let r = &s.result;
            println!(
                "\n{:?} search: {} generations ({}); baseline test error {:.2}%; hypervolume {:.4}\n",
                r.mode,
                r.generations,
                r.stopped,
                100.0 * r.baseline_test_error,
                r.hypervolume_test
            );
            print!("{}", s.table.to_text());
            println!(
                "\nrun folder: {}\nreport: {}",
                s.dir.display(),
                s.dir.join("report.html").display()
            );
            Ok(None)
        }
        Err(e @ GapruneError::Interrupted { .. }) => {
            eprintln!("{e}");
            Ok(Some(130))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn run(a: RunArgs) -> Result<Option<u8>> {
    let path = a.config.as_ref().expect("dispatched with a config");
    let mut cfg = Config::load(path)?;
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if a.evaluations.is_some() {
        anyhow::bail!("--evaluations: GA pruning budgets generations (search.max_generations)");
    }
    cfg.validate()?;
    let dir = match a.out {
        Some(d) => d,
        None => RunDir::fresh_path(&PathBuf::from("runs").join(&cfg.name)),
    };
    eprintln!("run folder: {}", dir.display());
    finish(evoprune_gaprune::run(&cfg, &dir, driver(a.threads)))
}

pub fn resume(a: ResumeArgs) -> Result<Option<u8>> {
    finish(evoprune_gaprune::resume(&a.run_dir, driver(a.threads)))
}

pub fn export(a: ExportArgs) -> Result<Option<u8>> {
    let out = if a.out == Path::new("head.safetensors") {
        PathBuf::from("lenet-pruned.safetensors")
    } else {
        a.out.clone()
    };
    let w = evoprune_gaprune::export(&a.run_dir, a.member, &out)?;
    println!(
        "wrote {} (narrowed convolutions + CSR FC layers; see its metadata)",
        w.display()
    );
    Ok(None)
}
