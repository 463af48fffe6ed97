//! A `[model]` network end to end: a zoo ResNet-20 on 16x16 synthetic digits, fine-tuned once
//! (a cached stage), both searches, member files of the realized networks that reload and score
//! their recorded test accuracy, resume, export with its accuracy check, and errors naming the
//! `[model]` key.

use evoprune_compress::config::{ModelConfig, synthetic};
use evoprune_compress::pipeline::ResultFile;
use evoprune_compress::{CompressError, Config, Driver, MethodConfig, export, resume, run};
use evoprune_data::digits28::prepare;
use evoprune_graph::net::Net;
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

fn resnet20() -> ModelConfig {
    let mut m = ModelConfig {
        arch: Some("resnet20".into()),
        input: Some([1, 16, 16]),
        ..ModelConfig::default()
    };
    m.train.epochs = 6;
    m.train.batch = 8;
    m
}

/// A tiny run: 10 synthetic images per class (70 train, 30 validation, a third as many for
/// test), one seed,
/// 10 real evaluations per search.
fn tiny() -> Config {
    let mut c = synthetic();
    c.name = "resnet20-tiny".into();
    c.seeds = vec![3];
    c.data.synthetic_per_class = 10;
    c.data.val = 30;
    c.model = Some(resnet20());
    // no floor: every plan is feasible, so the fronts have members whatever the fine-tuning
    c.problem.accuracy_floor = 0.0;
    c.surrogate.initial = 6;
    c.surrogate.per_iteration = 2;
    c.surrogate.budget = 10;
    c.surrogate.pop_size = 8;
    c.surrogate.generations = 3;
    c.surrogate.folds = 3;
    c
}

fn result(dir: &Path) -> ResultFile {
    serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap()
}

fn strip_times(dir: &Path) -> String {
    let mut r = result(dir);
    for s in &mut r.seeds {
        s.surrogate.seconds = 0.0;
        if let Some(x) = s.real.as_mut() {
            x.seconds = 0.0;
        }
    }
    serde_json::to_string(&r).unwrap()
}

/// Every member of the first seed's surrogate front of the run in `dir`: a plan with one gene
/// per layer, weights only, no dynamic quantization; its realized network's file reloads and
/// scores exactly the recorded test accuracy.
fn check_members(dir: &Path, cfg: &Config, r: &ResultFile) {
    let data = prepare(&cfg.data, cfg.seed).unwrap();
    let dense = Net::new(cfg.model.as_ref().unwrap().load(cfg.seed).unwrap()).unwrap();
    let front = &r.seeds[0].surrogate.front;
    assert!(!front.is_empty());
    for (k, m) in front.iter().enumerate() {
        assert_eq!(m.plan.per_layer.len(), dense.layers.len());
        assert_eq!(m.plan.precision.len(), dense.layers.len());
        assert_eq!(m.plan.target, evoprune_compress::plan::Target::Weights);
        assert!(!m.plan.dynamic);
        assert!(m.params.unwrap() <= dense.dense.params);
        assert!(m.macs.unwrap() > 0);
        let rel = m.onnx.as_deref().unwrap();
        assert_eq!(rel, format!("models/member-{k}.onnx"));
        let onnx = dir.join(rel);
        assert!(onnx.with_extension("safetensors").is_file());
        // reloaded, the realized network scores exactly the recorded test accuracy
        let g = evoprune_graph::onnx::load(&onnx).unwrap();
        let net = Net::new(g).unwrap();
        let x = net.fit(&data.test.x, data.test.len(), [1, 28, 28]).unwrap();
        let acc = net.accuracy(&net.graph, &x, &data.test.y).unwrap();
        assert_eq!(acc, m.test_accuracy, "member {k}");
        // and holds the pruned weights: its non-zero parameters are the recorded ones or
        // fewer (quantization rounds small weights to zero)
        let zeros: usize = net
            .layers
            .iter()
            .map(|l| {
                net.graph.params[&l.name]
                    .data
                    .iter()
                    .filter(|v| **v == 0.0)
                    .count()
            })
            .sum();
        assert!(net.dense.params - zeros <= m.params.unwrap(), "member {k}");
    }
}

#[test]
fn a_network_is_compressed_its_members_reload_and_export_checks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = tiny();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let a = tmp.path().join("a");
    let s = run(&cfg, &a, driver(2, false)).unwrap();
    let r = &s.result;
    assert_eq!(r.network.as_deref(), Some("resnet20 (random weights)"));
    assert!(
        a.join("checkpoint/baseline.safetensors").is_file(),
        "the fine-tuned baseline is a cached stage"
    );
    let sd = &r.seeds[0];
    assert_eq!(sd.surrogate.evaluations, 10);
    assert_eq!(sd.real.as_ref().unwrap().evaluations, 10);
    let front = &sd.surrogate.front;

    check_members(&a, &cfg, r);
    let fronts = std::fs::read_to_string(a.join("fronts.csv")).unwrap();
    assert!(
        fronts
            .lines()
            .next()
            .unwrap()
            .ends_with(",params,macs,onnx"),
        "{fronts}"
    );
    // the real search's members are scored on the realized network too, without files
    for m in &sd.real.as_ref().unwrap().front {
        assert!(m.onnx.is_none() && m.params.is_some());
    }

    // interrupted at once (after the fine-tuning and the initial design), then resumed on one
    // thread: the same result
    let c = tmp.path().join("c");
    match run(&cfg, &c, driver(2, true)) {
        Err(CompressError::Interrupted { .. }) => {}
        other => panic!("expected an interruption, got {:?}", other.map(|s| s.dir)),
    }
    // the second run read the baseline the first cached: one entry, the same bytes
    let entries: Vec<_> = std::fs::read_dir(tmp.path().join("cache/baselines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);
    for run in [&a, &c] {
        assert_eq!(
            std::fs::read(run.join("checkpoint/baseline.safetensors")).unwrap(),
            std::fs::read(&entries[0]).unwrap()
        );
    }
    resume(&c, driver(1, false)).unwrap();
    assert_eq!(strip_times(&a), strip_times(&c));
    assert_eq!(
        std::fs::read(a.join("models/member-0.onnx")).unwrap(),
        std::fs::read(c.join("models/member-0.onnx")).unwrap()
    );

    // export: the ONNX and its safetensors, re-checked
    let out = tmp.path().join("out/m.onnx");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let written = export(&a, 0, &out).unwrap();
    assert_eq!(
        written,
        vec![out.clone(), out.with_extension("safetensors")]
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(a.join("models/member-0.onnx")).unwrap()
    );
    assert!(out.with_extension("safetensors").is_file());
    // the default name (a .safetensors) gets the ONNX beside it
    let st = tmp.path().join("out/d.safetensors");
    let written = export(&a, 0, &st).unwrap();
    assert_eq!(written, vec![st.with_extension("onnx"), st.clone()]);
    assert!(export(&a, front.len(), &tmp.path().join("x.onnx")).is_err());
    // a recorded accuracy the file does not score: refused
    let mut tampered = result(&c);
    tampered.seeds[0].surrogate.front[0].test_accuracy += 0.5;
    std::fs::write(
        c.join("result.json"),
        serde_json::to_string(&tampered).unwrap(),
    )
    .unwrap();
    let e = export(&c, 0, &tmp.path().join("y.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("member-0.onnx") && e.contains("recorded"), "{e}");
    assert!(!tmp.path().join("y.onnx").exists());
}

#[test]
fn an_onnx_network_exported_by_pytorch_is_compressed() {
    // the fixture: batch norms folded into biased convolutions, 3x32x32 input, no fine-tuning
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = tiny();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    cfg.model = Some(ModelConfig::onnx(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../evoprune-graph/tests/fixtures/resnet20-ts.onnx"),
    ));
    cfg.real.enabled = false;
    let a = tmp.path().join("a");
    let s = run(&cfg, &a, driver(2, false)).unwrap();
    assert_eq!(s.result.network.as_deref(), Some("resnet20-ts.onnx"));
    assert!(
        !a.join("checkpoint/baseline.safetensors").exists(),
        "nothing to fine-tune"
    );
    assert!(!tmp.path().join("cache").exists(), "nothing cached");
    check_members(&a, &cfg, &s.result);
    let out = tmp.path().join("m.onnx");
    export(&a, 0, &out).unwrap();
    assert!(out.is_file() && out.with_extension("safetensors").is_file());
}

#[test]
fn model_errors_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    // the example configs load: the network's with its [model], LeNet's without
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let c = Config::load(&configs.join("resnet20-surrogate.toml")).unwrap();
    let m = c.model.unwrap();
    assert_eq!(
        (m.arch.as_deref(), m.input, m.train.epochs),
        (Some("resnet20"), Some([1, 32, 32]), 2)
    );
    assert!(
        Config::load(&configs.join("lenet-surrogate.toml"))
            .unwrap()
            .model
            .is_none()
    );
    // a network with fewer classes than the digits' labels
    let mut cfg = tiny();
    cfg.model.as_mut().unwrap().classes = Some(5);
    let e = run(&cfg, &tmp.path().join("r"), driver(1, false))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("model:") && e.contains("10 classes"), "{e}");
    // a missing ONNX file: the error names it
    let mut cfg = tiny();
    cfg.model = Some(ModelConfig::onnx(tmp.path().join("missing.onnx")));
    let e = run(&cfg, &tmp.path().join("s"), driver(1, false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.onnx"), "{e}");
    // the config file: keys under [model] named, paths relative to the file
    let sub = tmp.path().join("cfg");
    std::fs::create_dir(&sub).unwrap();
    let f = sub.join("c.toml");
    let head = "method = \"surrogate-compress\"\n[data]\nsource = \"synthetic\"\n";
    std::fs::write(&f, format!("{head}[model]\nonnx = \"nets/x.onnx\"\n")).unwrap();
    let c = Config::load(&f).unwrap();
    assert_eq!(
        c.model.unwrap().onnx.unwrap(),
        sub.join("nets/x.onnx"),
        "resolved against the config's folder"
    );
    for (body, key) in [
        ("[model]\narch = \"resnet21\"\n", "model.arch"),
        (
            "[model]\narch = \"resnet20\"\nclasses = 1\n",
            "model.classes",
        ),
        (
            "[model]\nonnx = \"x.onnx\"\ninput = [1, 8, 8]\n",
            "model.input",
        ),
        (
            "[model]\narch = \"resnet20\"\nweight = \"w.pth\"\n",
            "weight",
        ),
    ] {
        std::fs::write(&f, format!("{head}{body}")).unwrap();
        let e = Config::load(&f).unwrap_err().to_string();
        assert!(e.contains(key), "{body}: {e}");
    }
}
