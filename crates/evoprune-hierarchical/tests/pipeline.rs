//! End to end on synthetic 28x28 digits: both phases, fine-tuning, outputs, reproducibility on
//! 1 and 2 threads, interruption and resume, export.

use evoprune_hierarchical::config::{ModelKind, synthetic};
use evoprune_hierarchical::pipeline::ResultFile;
use evoprune_hierarchical::{Driver, HierError, export, resume, run};
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

fn fronts(dir: &Path) -> (String, String) {
    (
        std::fs::read_to_string(dir.join("fronts.csv")).unwrap(),
        std::fs::read_to_string(dir.join("members.csv")).unwrap(),
    )
}

#[test]
fn lenet_300_100_end_to_end_reproducible_resumable_exportable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = synthetic(ModelKind::Lenet300100);
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let a = tmp.path().join("a");
    let s = run(&cfg, &a, driver(1, false)).unwrap();
    let r = &s.result;
    assert!(r.baseline_test_error < 0.05, "{}", r.baseline_test_error);
    assert!(!r.members.is_empty() && r.members.len() <= 2);
    assert!(r.phase2_bits > 0 && r.phase2_bits < 266_200);
    // phase 2 is evaluated incrementally once the population exists
    assert!(r.incremental[0] > 0, "{:?}", r.incremental);
    // the union's front is at least as good as either phase's
    assert!(r.hypervolume[2] >= r.hypervolume[0] - 1e-12);
    assert!(r.hypervolume[2] >= r.hypervolume[1] - 1e-12);
    for m in &r.members {
        assert!(m.params > 0.0 && m.params <= 1.0);
        assert!(a.join(&m.file).exists());
    }
    for f in [
        "result.json",
        "fronts.svg",
        "members.svg",
        "report.html",
        "report.md",
    ] {
        assert!(a.join(f).exists(), "{f}");
    }
    // the same on two threads (the baseline now comes from the cache)
    let b = tmp.path().join("b");
    run(&cfg, &b, driver(2, false)).unwrap();
    assert_eq!(fronts(&a), fronts(&b));
    // interrupted at once, then resumed: the same result as the straight run
    let c = tmp.path().join("c");
    match run(&cfg, &c, driver(2, true)) {
        Err(HierError::Interrupted { .. }) => {}
        other => panic!("expected an interruption, got {:?}", other.map(|s| s.dir)),
    }
    assert!(!c.join("result.json").exists());
    resume(&c, driver(1, false)).unwrap();
    assert_eq!(fronts(&a), fronts(&c));
    // resuming a finished run re-finalises it identically
    resume(&a, driver(2, false)).unwrap();
    let again: ResultFile =
        serde_json::from_str(&std::fs::read_to_string(a.join("result.json")).unwrap()).unwrap();
    assert_eq!(again.members, r.members);
    // export checks the file against its recorded test error
    let out = tmp.path().join("m0.safetensors");
    export(&a, 0, &out).unwrap();
    assert!(out.exists());
    let e = export(&a, 99, &out).unwrap_err().to_string();
    assert!(e.contains("member"), "{e}");
    std::fs::write(a.join(&r.members[0].file), b"garbage").unwrap();
    let e = export(&a, 0, &tmp.path().join("x.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("member-0.safetensors"), "{e}");
}

#[test]
fn lenet_end_to_end_with_flops_and_taylor_importance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = synthetic(ModelKind::Lenet);
    cfg.baseline.cache_dir = tmp.path().join("cache");
    cfg.search.costs = vec![
        evoprune_hierarchical::config::Cost::Flops,
        evoprune_hierarchical::config::Cost::Params,
    ];
    cfg.phase2.importance = evoprune_hierarchical::config::Importance::Taylor;
    cfg.phase2.taylor_images = 50;
    cfg.data.synthetic_per_class = 30;
    cfg.baseline.solver.epochs = 6.0;
    cfg.finetune.max_members = 0;
    let s = run(&cfg, &tmp.path().join("l"), driver(2, false)).unwrap();
    let r = &s.result;
    assert_eq!(r.incremental[0], 0, "LeNet is evaluated in full");
    assert!(!r.members.is_empty());
    // without fine-tuning, members are scored as pruned
    for m in &r.members {
        assert_eq!(m.test_error, m.test_error_pruned);
        assert_eq!(m.search.len(), 3);
        assert!((m.search[1] - m.flops).abs() < 1e-12);
    }
}
