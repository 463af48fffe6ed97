//! `evoprune run|resume|export` for the methods run in stages (GA pruning, hierarchical pruning,
//! surrogate-assisted compression), written once: each method says what differs in a [`Staged`]
//! implementation (its module beside this one).

use crate::deeptl::{ExportArgs, ResumeArgs, RunArgs, StageBar};
use anyhow::{Context, Result};
use evoprune_run::{Driver, MethodConfig, RunDir, Summary};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the command line needs of a staged method.
pub trait Staged {
    /// The config.
    type Config: MethodConfig;
    /// What `result.json` holds.
    type Result;
    /// The method's error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Name of the exported file when `--out` is left at its default.
    const EXPORT_FILE: &'static str;
    /// What the exported file holds (one phrase).
    const EXPORT_WHAT: &'static str;

    /// The run's name (the default folder is `runs/<name>`).
    fn name(cfg: &Self::Config) -> &str;
    /// Set the seed (`--seed`).
    fn set_seed(cfg: &mut Self::Config, seed: u64);
    /// Set the evaluation budget (`--evaluations`), or say why the method has none.
    fn set_evaluations(cfg: &mut Self::Config, n: u64) -> Result<()>;
    /// Start a run.
    fn run(cfg: &Self::Config, dir: &Path, d: Driver)
    -> Result<Summary<Self::Result>, Self::Error>;
    /// Continue a run.
    fn resume(dir: &Path, d: Driver) -> Result<Summary<Self::Result>, Self::Error>;
    /// Write a member's network; returns the file written.
    fn export(run_dir: &Path, member: usize, out: &Path) -> Result<PathBuf, Self::Error>;
    /// A Ctrl-C stop with everything finished checkpointed (exit status 130, no error).
    fn interrupted(e: &Self::Error) -> bool;
    /// The line printed above the result table.
    fn headline(r: &Self::Result) -> String;
}

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
        reporter: Box::new(StageBar::new()),
        stop,
        threads,
    }
}

fn finish<M: Staged>(r: Result<Summary<M::Result>, M::Error>) -> Result<Option<u8>> {
    match r {
        Ok(s) => {
            println!("\n{}\n", M::headline(&s.result));
            print!("{}", s.table.to_text());
            println!(
                "\nrun folder: {}\nreport: {}",
                s.dir.display(),
                s.dir.join("report.html").display()
            );
            Ok(None)
        }
        Err(e) if M::interrupted(&e) => {
            eprintln!("{e}");
            Ok(Some(130))
        }
        Err(e) => Err(e.into()),
    }
}

/// `evoprune run CONFIG` of method `M`.
pub fn run<M: Staged>(a: RunArgs) -> Result<Option<u8>> {
    let path = a.config.as_ref().expect("dispatched with a config");
    let mut cfg = M::Config::load(path)?;
    if let Some(s) = a.seed {
        M::set_seed(&mut cfg, s);
    }
    if let Some(n) = a.evaluations {
        M::set_evaluations(&mut cfg, n)?;
    }
    cfg.validate()?;
    let dir = match a.out {
        Some(d) => d,
        None => RunDir::fresh_path(&PathBuf::from("runs").join(M::name(&cfg))),
    };
    eprintln!("run folder: {}", dir.display());
    finish::<M>(M::run(&cfg, &dir, driver(a.threads)))
}

/// `evoprune resume RUN_DIR` of method `M`.
pub fn resume<M: Staged>(a: ResumeArgs) -> Result<Option<u8>> {
    finish::<M>(M::resume(&a.run_dir, driver(a.threads)))
}

/// `evoprune export RUN_DIR --member K` of method `M`.
pub fn export<M: Staged>(a: ExportArgs) -> Result<Option<u8>> {
    let out = if a.out == Path::new("head.safetensors") {
        PathBuf::from(M::EXPORT_FILE)
    } else {
        a.out.clone()
    };
    let w = M::export(&a.run_dir, a.member, &out)?;
    println!("wrote {} ({})", w.display(), M::EXPORT_WHAT);
    Ok(None)
}
