//! A `[model]` network end to end: ResNet-20 on 16x16 synthetic digits, every convolution and
//! linear weight thresholded in phase 1, phase 2 over the survivors (Taylor importance),
//! members fine-tuned, exported as ONNX + safetensors, scored as written; resume and export.

use evoprune_graph::model::{ModelConfig, TrainConfig};
use evoprune_graph::net::Net;
use evoprune_hierarchical::config::{Importance, ModelChoice, ModelKind, synthetic};
use evoprune_hierarchical::pipeline::{PhaseResult, ResultFile};
use evoprune_hierarchical::{Config, Driver, HierError, MethodConfig, export, resume, run};
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

fn network() -> ModelConfig {
    ModelConfig {
        arch: Some("resnet20".into()),
        input: Some([1, 16, 16]),
        train: TrainConfig {
            epochs: 1,
            lr: 0.05,
            batch: 16,
            ..TrainConfig::default()
        },
        ..ModelConfig::default()
    }
}

fn config() -> Config {
    let mut c = synthetic(ModelKind::Lenet300100);
    c.name = "resnet20-hierarchical".into();
    c.model = ModelChoice::Network(network());
    c.data.synthetic_per_class = 8;
    c.data.val = 20;
    c.phase1.pop_size = 4;
    c.phase1.generations = 2;
    c.phase2.pop_size = 4;
    c.phase2.generations = 2;
    c.phase2.light_tolerance = 0.5;
    c.phase2.importance = Importance::Taylor;
    c.phase2.taylor_images = 20;
    c.finetune.max_members = 2;
    c.finetune.solver.epochs = 1.0;
    c.finetune.solver.batch = 16;
    c
}

fn outputs(dir: &Path) -> (String, String) {
    (
        std::fs::read_to_string(dir.join("fronts.csv")).unwrap(),
        std::fs::read_to_string(dir.join("members.csv")).unwrap(),
    )
}

#[test]
fn resnet20_end_to_end_members_exported_as_onnx_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let a = tmp.path().join("a");
    let s = run(&cfg, &a, driver(2, false)).unwrap();
    let r = &s.result;
    assert_eq!(r.model, cfg.model);
    assert!(a.join("checkpoint/baseline.safetensors").is_file());
    // phase 1 thresholds every convolution and linear weight: one gene (layer) per tensor
    let net = Net::new(network().load(cfg.seed).unwrap()).unwrap();
    assert_eq!(net.layers.len(), 20);
    let p1: PhaseResult =
        serde_json::from_str(&std::fs::read_to_string(a.join("checkpoint/phase1.json")).unwrap())
            .unwrap();
    assert!(!p1.front.is_empty());
    assert!(p1.front.iter().all(|p| p.kept.len() == 20));
    assert!(p1.thresholds.iter().all(|t| t.len() == 20));
    assert!(r.phase2_bits > 0 && r.phase2_bits <= p1.bits);
    assert_eq!(p1.bits, net.layers.iter().map(|l| l.len()).sum::<usize>());
    assert_eq!(
        r.incremental[0], 0,
        "a [model] network is evaluated in full"
    );
    // members: the realized network as ONNX + safetensors, scored as written
    assert!(!r.members.is_empty() && r.members.len() <= 2);
    for m in &r.members {
        assert!(m.file.ends_with(".onnx"), "{}", m.file);
        assert!(a.join(m.weights.as_ref().unwrap()).is_file());
        let back = evoprune_graph::onnx::load(&a.join(&m.file)).unwrap();
        let bn = Net::new(back).unwrap();
        let zeros: usize = bn
            .layers
            .iter()
            .map(|l| {
                bn.graph.params[&l.name]
                    .data
                    .iter()
                    .filter(|v| **v == 0.0)
                    .count()
            })
            .sum();
        // unstructured pruning: the same tensors, pruned entries zero
        assert_eq!(bn.layers.len(), 20);
        assert!(zeros >= net.dense.params - m.param_count, "{zeros}");
        assert!(m.params < 1.0 && m.param_count < net.dense.params);
        assert!((m.params - m.param_count as f64 / net.dense.params as f64).abs() < 1e-12);
        assert!((m.flops - m.mac_count as f64 / net.dense.macs as f64).abs() < 1e-12);
        assert!((0.0..=1.0).contains(&m.test_error));
    }
    // export re-scores the ONNX against the recorded test error and copies both files
    let out = tmp.path().join("m.onnx");
    let w = export(&a, 0, &out).unwrap();
    assert_eq!(w, vec![out.clone(), tmp.path().join("m.safetensors")]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(a.join(&r.members[0].file)).unwrap()
    );
    assert!(w[1].is_file());
    // the default name (pruned.safetensors) gets the weights, the ONNX beside it
    let w = export(&a, 0, &tmp.path().join("p.safetensors")).unwrap();
    assert_eq!(
        w,
        vec![tmp.path().join("p.onnx"), tmp.path().join("p.safetensors")]
    );
    assert!(w.iter().all(|p| p.is_file()));
    // resuming a finished run re-finalises it identically
    resume(&a, driver(1, false)).unwrap();
    let again: ResultFile =
        serde_json::from_str(&std::fs::read_to_string(a.join("result.json")).unwrap()).unwrap();
    assert_eq!(again.members, r.members);
    // interrupted at once, then resumed on one thread: the straight run's result
    let c = tmp.path().join("c");
    match run(&cfg, &c, driver(2, true)) {
        Err(HierError::Interrupted { .. }) => {}
        other => panic!("expected an interruption, got {:?}", other.map(|s| s.dir)),
    }
    let sc = resume(&c, driver(1, false)).unwrap();
    assert_eq!(outputs(&a), outputs(&c));
    assert_eq!(sc.result.members, r.members);
    // a recorded test error the written network does not reproduce is refused
    let text = std::fs::read_to_string(a.join("result.json")).unwrap();
    let mut tampered: ResultFile = serde_json::from_str(&text).unwrap();
    tampered.members[0].test_error += 0.25;
    std::fs::write(
        a.join("result.json"),
        serde_json::to_string(&tampered).unwrap(),
    )
    .unwrap();
    let e = export(&a, 0, &tmp.path().join("z.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("differs") && e.contains("member-0.onnx"), "{e}");
    std::fs::write(a.join("result.json"), text).unwrap();
    // a changed member file is refused, naming it
    std::fs::write(a.join(&r.members[0].file), b"not onnx").unwrap();
    let e = export(&a, 0, &tmp.path().join("y.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("member-0.onnx"), "{e}");
}

#[test]
fn a_torch_exported_onnx_file_is_pruned_and_exported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evoprune-graph/tests/fixtures/resnet20-ts.onnx");
    cfg.model = ModelChoice::Network(ModelConfig::onnx(onnx));
    cfg.data.synthetic_per_class = 4;
    cfg.phase2.importance = Importance::Magnitude;
    cfg.finetune.max_members = 0;
    // the spread initialisation: a member near the dense corner is in the first population
    cfg.phase1.init = evoprune_hierarchical::config::Phase1Init::Spread;
    let a = tmp.path().join("a");
    let r = run(&cfg, &a, driver(2, false)).unwrap().result;
    assert!(!r.members.is_empty());
    // the member reloads and scores its recorded test error (export checks), 3x32x32 input
    let out = tmp.path().join("m.onnx");
    export(&a, 0, &out).unwrap();
    let g = evoprune_graph::onnx::load(&out).unwrap();
    assert_eq!(g.input_shape, vec![1, 3, 32, 32]);
    assert!(r.members[0].param_count < Net::new(g).unwrap().dense.params);
}

#[test]
fn the_example_config_loads() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/resnet20-hierarchical.toml");
    let c = Config::load(&f).unwrap();
    let m = c.model.network().expect("a [model] section");
    assert_eq!(
        (m.arch.as_deref(), m.input),
        (Some("resnet20"), Some([1, 32, 32]))
    );
    assert_eq!(m.train.epochs, 2);
    // the papers' ResNets: spread initial thresholds, members fine-tuned near given fractions
    for name in ["resnet56-hierarchical.toml", "resnet110-hierarchical.toml"] {
        let f = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs")
            .join(name);
        let c = Config::load(&f).unwrap();
        assert_eq!(
            c.phase1.init,
            evoprune_hierarchical::config::Phase1Init::Spread,
            "{name}"
        );
        assert!(
            !c.finetune.near.is_empty() && c.finetune.near.iter().all(|f| *f < 0.62),
            "{name}"
        );
    }
    // the LeNet configs keep their built-in models
    for (name, kind) in [
        ("lenet-hierarchical.toml", ModelKind::Lenet),
        ("lenet300-hierarchical.toml", ModelKind::Lenet300100),
    ] {
        let f = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs")
            .join(name);
        assert_eq!(Config::load(&f).unwrap().model, ModelChoice::Builtin(kind));
    }
}

#[test]
fn bad_model_sections_are_errors_naming_the_key() {
    let head = "method = \"hierarchical-prune\"\n";
    for (body, key) in [
        (
            "[model]\narch = \"resnet20\"\nwieghts = \"w.safetensors\"\n",
            "wieghts",
        ),
        ("[model]\narch = \"resnet99\"\n", "model.arch"),
    ] {
        let e = Config::parse(&format!("{head}{body}"), Path::new("h.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{body}: {e}");
    }
    // a network with fewer than the digits' 10 classes is refused at the start, naming model
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.model = ModelChoice::Network(ModelConfig {
        classes: Some(5),
        ..network()
    });
    let e = run(&cfg, &tmp.path().join("r"), driver(1, false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("model") && e.contains("classes"), "{e}");
    // a missing ONNX file names it
    cfg.model = ModelChoice::Network(ModelConfig::onnx(tmp.path().join("nope.onnx")));
    let e = run(&cfg, &tmp.path().join("s"), driver(1, false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.onnx"), "{e}");
}
