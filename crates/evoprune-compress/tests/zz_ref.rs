//! SCRATCH (refactor reference runs; delete before commit).
use evoprune_compress::config::{Config, synthetic};
use evoprune_compress::{Driver, resume, run};
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

fn cfg() -> Config {
    let mut c = synthetic();
    c.baseline.cache_dir = Path::new("/tmp/ref/cache").into();
    c
}

#[test]
#[ignore]
fn make() {
    let o = out();
    run(&cfg(), &o.join("c"), driver("never", 0)).unwrap();
    let mut c2 = cfg();
    c2.problem.size_objective = true;
    c2.real.enabled = false;
    c2.seeds = vec![3];
    run(&c2, &o.join("csize"), driver("never", 0)).unwrap();
    assert!(run(&cfg(), &o.join("c_sur"), driver("seed 2: surrogate", 12)).is_err());
    assert!(run(&cfg(), &o.join("c_real"), driver("seed 1: NSGA-II", 12)).is_err());
}

#[test]
#[ignore]
fn resume_dirs() {
    for d in std::env::var("REF_RESUME").expect("REF_RESUME").split(',') {
        resume(Path::new(d), driver("never", 0)).unwrap();
    }
}
