//! End to end on synthetic 28x28 digits with the full-size LeNet and a small budget.

use evoprune_gaprune::config::{Mode, synthetic};
use evoprune_gaprune::{Driver, export, resume, run};
use evoprune_run::{Reporter, Silent};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

fn driver(threads: usize) -> Driver {
    Driver {
        reporter: Box::new(Silent),
        stop: Arc::new(AtomicBool::new(false)),
        threads,
        remote: None,
    }
}

/// Records the progress reported in the search's stages.
struct SearchProgress(Arc<Mutex<Vec<u64>>>, bool);

impl Reporter for SearchProgress {
    fn stage(&mut self, name: &str, _: Option<u64>) {
        self.1 = name.starts_with("GA search");
    }
    fn progress(&mut self, done: u64) {
        if self.1 {
            self.0.lock().unwrap().push(done);
        }
    }
    fn note(&mut self, _: &str) {}
}

#[test]
fn ga_and_nsga2_prune_export_and_do_not_depend_on_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = synthetic();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let s = run(&cfg, &tmp.path().join("ga"), driver(1)).unwrap();
    let r = &s.result;
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.generations, 10);
    let m = &r.members[0];
    // the GA pruned both filters and connections, and the network still works
    assert!(m.sparsity > 0.5, "sparsity {}", m.sparsity);
    assert!(m.flops < 0.9, "flops {}", m.flops);
    assert!(
        r.baseline_test_error < 0.05,
        "baseline {}",
        r.baseline_test_error
    );
    assert!(
        m.test_error < r.baseline_test_error + 0.05,
        "error {}",
        m.test_error
    );
    for f in [
        "result.json",
        "history.csv",
        "front.csv",
        "report.html",
        "error_vs_flops.svg",
        "COMPLETE",
    ] {
        assert!(s.dir.join(f).exists(), "{f}");
    }
    // the same run on two threads gives the same result (the baseline now comes from the cache)
    // and shows every generation as it ends, not only the retraining cycles'
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recording = Driver {
        reporter: Box::new(SearchProgress(seen.clone(), false)),
        ..driver(2)
    };
    let s2 = run(&cfg, &tmp.path().join("ga2"), recording).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        (1..=r.generations).all(|g| seen.contains(&g)) && seen.is_sorted(),
        "{seen:?}"
    );
    let (a, b) = (&s.result.members[0], &s2.result.members[0]);
    assert_eq!(
        (a.test_error, a.flops, a.params),
        (b.test_error, b.flops, b.params)
    );
    // resuming a finished run re-finalises it without searching again
    let s3 = resume(&s.dir, driver(1)).unwrap();
    assert_eq!(s3.result.members[0].params, a.params);
    // export checks the model against the recorded test error
    let out = tmp.path().join("m.safetensors");
    export(&s.dir, 0, &out).unwrap();
    assert!(out.exists());
    assert!(
        export(&s.dir, 5, &out)
            .unwrap_err()
            .to_string()
            .contains("--member")
    );
    // NSGA-II returns a front
    cfg.search.mode = Mode::Nsga2;
    let n = run(&cfg, &tmp.path().join("nsga"), driver(2)).unwrap();
    assert!(!n.result.members.is_empty());
    assert!(n.result.hypervolume_test > 0.0);
}
