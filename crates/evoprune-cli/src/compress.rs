//! `evoprune run|resume|export` for configs with `method = "surrogate-compress"`.

use crate::deeptl::{ExportArgs, ResumeArgs, RunArgs};
use crate::gaprune::driver;
use anyhow::Result;
use evoprune_compress::{CompressError, Config, Summary};
use evoprune_run::RunDir;
use std::path::{Path, PathBuf};

fn finish(r: evoprune_compress::Result<Summary>) -> Result<Option<u8>> {
    match r {
        Ok(s) => {
            let r = &s.result;
            let sp = |x: &evoprune_compress::pipeline::Spread| {
                format!("median {:.4} (range {:.4}-{:.4})", x.median, x.min, x.max)
            };
            println!(
                "\nbaseline accuracy {:.2}% (test {:.2}%), floor {:.2}%; hypervolume surrogate {}, real {}; surrogate better on {} of {} seeds; {} front members flagged on test\n",
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
            print!("{}", s.table.to_text());
            println!(
                "\nrun folder: {}\nreport: {}",
                s.dir.display(),
                s.dir.join("report.html").display()
            );
            Ok(None)
        }
        Err(e @ CompressError::Interrupted { .. }) => {
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
    if let Some(n) = a.evaluations {
        cfg.surrogate.budget = n as usize;
    }
    cfg.validate()?;
    let dir = match a.out {
        Some(d) => d,
        None => RunDir::fresh_path(&PathBuf::from("runs").join(&cfg.name)),
    };
    eprintln!("run folder: {}", dir.display());
    finish(evoprune_compress::run(&cfg, &dir, driver(a.threads)))
}

pub fn resume(a: ResumeArgs) -> Result<Option<u8>> {
    finish(evoprune_compress::resume(&a.run_dir, driver(a.threads)))
}

pub fn export(a: ExportArgs) -> Result<Option<u8>> {
    let out = if a.out == Path::new("head.safetensors") {
        PathBuf::from("lenet-compressed.safetensors")
    } else {
        a.out.clone()
    };
    let w = evoprune_compress::export(&a.run_dir, a.member, &out)?;
    println!(
        "wrote {} (pruned + quantized weights as f32, the plan in the metadata)",
        w.display()
    );
    Ok(None)
}
