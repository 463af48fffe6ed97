//! End to end on synthetic 28x28 digits: both searches on two seeds at the same budget, test
//! re-scoring, reproducibility on 1 and 2 threads, interruption and resume, export.

use evoprune_compress::config::{ProblemConfig, synthetic};
use evoprune_compress::pipeline::ResultFile;
use evoprune_compress::{CompressError, Driver, export, resume, run};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn driver(threads: usize, stop: bool) -> Driver {
    Driver {
        reporter: Box::new(evoprune_run::Silent),
        stop: Arc::new(AtomicBool::new(stop)),
        threads,
        remote: None,
    }
}

fn strip_times(dir: &Path) -> String {
    let r: ResultFile =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    let mut r = r;
    for s in &mut r.seeds {
        s.surrogate.seconds = 0.0;
        if let Some(x) = s.real.as_mut() {
            x.seconds = 0.0;
        }
    }
    serde_json::to_string(&r).unwrap()
}

#[test]
fn both_searches_same_budget_reproducible_resumable_exportable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = synthetic();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let a = tmp.path().join("a");
    let s = run(&cfg, &a, driver(1, false)).unwrap();
    let r = &s.result;
    assert_eq!(r.seeds.len(), 2);
    for sd in &r.seeds {
        assert_eq!(sd.surrogate.evaluations, 16);
        let real = sd.real.as_ref().unwrap();
        assert_eq!(real.evaluations, 16);
        // (16 - 10) / 2 surrogate iterations, each with CV of the 3 kinds for 3 targets
        assert_eq!(sd.cv.len(), 3);
        assert!(
            sd.cv
                .iter()
                .all(|c| c.targets.len() == 3 && c.targets[0].errors.len() == 3)
        );
        for m in sd.surrogate.front.iter().chain(&real.front) {
            assert!(m.val_accuracy >= cfg.problem.accuracy_floor);
            assert_eq!(
                m.test_meets_floor,
                m.test_accuracy >= cfg.problem.accuracy_floor
            );
        }
        assert!(sd.surrogate.hypervolume > 0.0, "{:?}", sd.surrogate);
    }
    for f in [
        "result.json",
        "seeds.csv",
        "fronts.csv",
        "cv.csv",
        "fronts.svg",
        "report.html",
    ] {
        assert!(a.join(f).exists(), "{f}");
    }
    // the same on two threads
    let b = tmp.path().join("b");
    run(&cfg, &b, driver(2, false)).unwrap();
    assert_eq!(strip_times(&a), strip_times(&b));
    // interrupted at once, then resumed
    let c = tmp.path().join("c");
    match run(&cfg, &c, driver(2, true)) {
        Err(CompressError::Interrupted { .. }) => {}
        other => panic!("expected an interruption, got {:?}", other.map(|s| s.dir)),
    }
    resume(&c, driver(1, false)).unwrap();
    assert_eq!(strip_times(&a), strip_times(&c));
    // searches finished before an interruption keep their time: without the seeds' results,
    // a resume restores both searches from their checkpoints, with the seconds they took
    let before = strip_times(&a);
    for seed in [1, 2] {
        std::fs::remove_file(a.join(format!("checkpoint/seed-{seed}/done.json"))).unwrap();
    }
    let again = resume(&a, driver(1, false)).unwrap().result;
    assert_eq!(strip_times(&a), before);
    for (first, second) in r.seeds.iter().zip(&again.seeds) {
        assert_eq!(second.surrogate.seconds, first.surrogate.seconds);
        // the engine's time as of its last checkpoint (a finished run resumes without a step)
        let (x, y) = (first.real.as_ref().unwrap(), second.real.as_ref().unwrap());
        assert_eq!(y.seconds, x.seconds);
    }
    // export
    if !r.seeds[0].surrogate.front.is_empty() {
        let out = tmp.path().join("m.safetensors");
        export(&a, 0, &out).unwrap();
        assert!(out.exists());
    }
    assert!(export(&a, 999, &tmp.path().join("x.safetensors")).is_err());
    // a floor relative to the dense network (same cached baseline): resolved against its
    // validation accuracy, and every front member meets it
    let mut rel = cfg.clone();
    rel.seeds = vec![1];
    rel.real.enabled = false;
    rel.problem = ProblemConfig {
        max_drop: Some(0.05),
        ..ProblemConfig::default()
    };
    let r = run(&rel, &tmp.path().join("rel"), driver(2, false))
        .unwrap()
        .result;
    assert!(
        (r.floor - (r.baseline_accuracy[0] - 0.05)).abs() < 1e-12,
        "{}",
        r.floor
    );
    assert_ne!(r.floor, ProblemConfig::default().accuracy_floor);
    let front = &r.seeds[0].surrogate.front;
    assert!(!front.is_empty() && front.iter().all(|m| m.val_accuracy >= r.floor));
}
