//! SCRATCH (refactor reference runs; delete before commit).
use evoprune_hierarchical::config::{Config, Cost, Importance, ModelKind, synthetic};
use evoprune_hierarchical::{Driver, resume, run};
use evoprune_run::Reporter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

struct StopAt {
    stop: Arc<AtomicBool>,
    pat: &'static str,
    at: u64,
    cur: String,
}
impl Reporter for StopAt {
    fn stage(&mut self, name: &str, _: Option<u64>) {
        self.cur = name.to_string();
    }
    fn progress(&mut self, done: u64) {
        if self.cur.contains(self.pat) && done >= self.at {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
    fn note(&mut self, _: &str) {}
}

fn driver(pat: &'static str, at: u64) -> Driver {
    let stop = Arc::new(AtomicBool::new(false));
    Driver {
        reporter: Box::new(StopAt { stop: stop.clone(), pat, at, cur: String::new() }),
        stop,
        threads: 2,
    }
}

fn out() -> PathBuf {
    PathBuf::from(std::env::var("REF_OUT").expect("REF_OUT"))
}

fn cfg300() -> Config {
    let mut c = synthetic(ModelKind::Lenet300100);
    c.baseline.cache_dir = Path::new("/tmp/ref/cache").into();
    c
}

fn cfg_lenet() -> Config {
    let mut cfg = synthetic(ModelKind::Lenet);
    cfg.baseline.cache_dir = Path::new("/tmp/ref/cache").into();
    cfg.search.costs = vec![Cost::Flops, Cost::Params];
    cfg.phase2.importance = Importance::Taylor;
    cfg.phase2.taylor_images = 50;
    cfg.data.synthetic_per_class = 30;
    cfg.baseline.solver.epochs = 6.0;
    cfg.finetune.max_members = 0;
    cfg
}

#[test]
#[ignore]
fn make() {
    let o = out();
    run(&cfg300(), &o.join("h300"), driver("never", 0)).unwrap();
    run(&cfg_lenet(), &o.join("hlenet"), driver("never", 0)).unwrap();
    assert!(run(&cfg300(), &o.join("h300_p2"), driver("phase 2", 1)).is_err());
    assert!(run(&cfg300(), &o.join("h300_ft"), driver("fine-tuning", 1)).is_err());
}

#[test]
#[ignore]
fn resume_dirs() {
    for d in std::env::var("REF_RESUME").expect("REF_RESUME").split(',') {
        resume(Path::new(d), driver("never", 0)).unwrap();
    }
}
