//! `evoprune run|resume|export` for configs with `method = "hierarchical-prune"`.

use crate::deeptl::{ExportArgs, ResumeArgs, RunArgs};
use crate::gaprune::driver;
use anyhow::Result;
use evoprune_hierarchical::{Config, HierError, Summary};
use evoprune_run::RunDir;
use std::path::{Path, PathBuf};

fn finish(r: evoprune_hierarchical::Result<Summary>) -> Result<Option<u8>> {
    match r {
        Ok(s) => {
            let r = &s.result;
            println!(
                "\n{:?}: baseline test error {:.2}%; hypervolume (validation, reference 1) phase 1 {:.4}, phase 2 {:.4}, both {:.4}; of the anchors' box {:.3} / {:.3} / {:.3}; phase 1 {:.0} s, phase 2 {:.0} s\n",
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
            );
            print!("{}", s.table.to_text());
            println!(
                "\nrun folder: {}\nreport: {}",
                s.dir.display(),
                s.dir.join("report.html").display()
            );
            Ok(None)
        }
        Err(e @ HierError::Interrupted { .. }) => {
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
        anyhow::bail!(
            "--evaluations: hierarchical pruning budgets generations (phase1.generations, phase2.generations)"
        );
    }
    cfg.validate()?;
    let dir = match a.out {
        Some(d) => d,
        None => RunDir::fresh_path(&PathBuf::from("runs").join(&cfg.name)),
    };
    eprintln!("run folder: {}", dir.display());
    finish(evoprune_hierarchical::run(&cfg, &dir, driver(a.threads)))
}

pub fn resume(a: ResumeArgs) -> Result<Option<u8>> {
    finish(evoprune_hierarchical::resume(&a.run_dir, driver(a.threads)))
}

pub fn export(a: ExportArgs) -> Result<Option<u8>> {
    let out = if a.out == Path::new("head.safetensors") {
        PathBuf::from("pruned.safetensors")
    } else {
        a.out.clone()
    };
    let w = evoprune_hierarchical::export(&a.run_dir, a.member, &out)?;
    println!(
        "wrote {} (dense layout, pruned weights zero; PyTorch names)",
        w.display()
    );
    Ok(None)
}
