//! GA pruning of a network of `[model]` (a ResNet-20 from the zoo, 16 px input) on synthetic
//! digits: group genes + classifier connections, elite fine-tuning, ONNX members.

use evoprune_gaprune::config::{Mode, synthetic};
use evoprune_gaprune::{Config, Driver, MethodConfig, export, resume, run};
use evoprune_graph::model::ModelConfig;
use evoprune_graph::net::Net;
use evoprune_run::Silent;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn driver(threads: usize) -> Driver {
    Driver {
        reporter: Box::new(Silent),
        stop: Arc::new(AtomicBool::new(false)),
        threads,
        remote: None,
    }
}

fn config() -> Config {
    let mut cfg = synthetic();
    cfg.name = "resnet20-ga".into();
    cfg.model = Some(ModelConfig {
        arch: Some("resnet20".into()),
        input: Some([1, 16, 16]),
        ..ModelConfig::default()
    });
    let m = cfg.model.as_mut().unwrap();
    m.train.epochs = 2;
    m.train.lr = 0.05;
    cfg.data.synthetic_per_class = 12;
    cfg.data.val = 40;
    cfg.search.max_generations = 2;
    cfg.search.retrain_every = 1;
    cfg.search.pop_size = 4;
    cfg.search.top_k = 2;
    cfg.search.conv_mutation = 0.2;
    cfg.retrain.epochs = 1.0;
    cfg.retrain.batch = 16;
    cfg.retrain.lr = 0.01;
    cfg.finetune = cfg.retrain.clone();
    cfg
}

#[test]
fn a_resnet_is_pruned_by_groups_and_connections_into_a_smaller_onnx() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.baseline.cache_dir = tmp.path().join("cache");
    let s = run(&cfg, &tmp.path().join("ga"), driver(1)).unwrap();
    let r = &s.result;
    assert_eq!(r.members.len(), 1);
    assert!(r.network.contains("groups"), "{}", r.network);
    let m = &r.members[0];
    assert!(m.file.ends_with(".onnx"));
    assert!(m.flops < 1.0 && m.sparsity > 0.0, "{m:?}");
    assert!(
        m.filters[0] < m.filters[1],
        "groups were removed: {:?}",
        m.filters
    );
    assert!(m.sparse_seconds.is_none());
    // the member file is the physically smaller network and scores the recorded error
    let g = evoprune_graph::onnx::load(&s.dir.join(&m.file)).unwrap();
    let net = Net::new(g).unwrap();
    assert_eq!(net.dense.params, m.params + zeros(&net));
    assert!(s.dir.join("models/member-0.safetensors").exists());
    let out = tmp.path().join("out/best.onnx");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let w = export(&s.dir, 0, &out).unwrap();
    assert_eq!(w, out);
    assert!(out.with_extension("safetensors").exists());
    // two threads and a resume give the same member
    let s2 = run(&cfg, &tmp.path().join("ga2"), driver(2)).unwrap();
    let b = &s2.result.members[0];
    assert_eq!(
        (m.test_error, m.flops, m.params),
        (b.test_error, b.flops, b.params)
    );
    let s3 = resume(&s.dir, driver(1)).unwrap();
    assert_eq!(s3.result.members[0].params, m.params);
    // channel counts rounded to multiples of 8 in the file: the same member and test error,
    // more FLOPs in the file, every image-like tensor of it a multiple of 8 channels
    let mut r8 = cfg.clone();
    r8.model.as_mut().unwrap().round_channels = 8;
    let s8 = run(&r8, &tmp.path().join("ga8"), driver(1)).unwrap();
    let m8 = &s8.result.members[0];
    assert_eq!(
        (m8.test_error, m8.flops, m8.params),
        (m.test_error, m.flops, m.params)
    );
    let file_flops = m8.file_flops.expect("channels were taken back");
    assert!(file_flops > m8.flops && file_flops <= 1.0, "{m8:?}");
    let g8 = evoprune_graph::onnx::load(&s8.dir.join(&m8.file)).unwrap();
    for (v, sh) in evoprune_graph::shape::infer(&g8, 1).unwrap() {
        if sh.len() == 4 && v != g8.input && !g8.params.contains_key(&v) {
            assert_eq!(sh[1] % 8, 0, "{v}: {sh:?}");
        }
    }
    // NSGA-II gives a front of ONNX members
    let mut n = cfg.clone();
    n.search.mode = Mode::Nsga2;
    // its candidates' batch norms re-estimated on 24 training images before scoring
    n.search.recalibrate = 24;
    let f = run(&n, &tmp.path().join("nsga"), driver(2)).unwrap();
    assert!(!f.result.members.is_empty());
    assert!(f.result.members.iter().all(|m| m.file.ends_with(".onnx")));
    // a capped front finishes only the member with the fewest MACs of the same search
    n.search.front_members = 1;
    let one = run(&n, &tmp.path().join("nsga-one"), driver(2)).unwrap();
    assert_eq!(one.result.members.len(), 1);
    assert_eq!(one.result.members[0].flops, f.result.members[0].flops);
    assert_eq!(one.result.members[0].params, f.result.members[0].params);
}

/// Zero entries of the convolution and linear weights (pruned connections).
fn zeros(net: &Net) -> usize {
    net.layers
        .iter()
        .map(|l| {
            net.graph.params[&l.name]
                .data
                .iter()
                .filter(|v| **v == 0.0)
                .count()
        })
        .sum()
}

#[test]
fn the_example_config_loads() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/resnet20-ga.toml");
    let cfg = Config::load(&p).unwrap();
    let m = cfg.model.as_ref().unwrap();
    assert_eq!(m.arch.as_deref(), Some("resnet20"));
    assert_eq!(cfg.search.mode, Mode::Nsga2);
}

#[test]
fn the_model_section_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    let text = "method = \"ga-prune\"\n[model]\narch = \"resnet20\"\nbogus = 1\n";
    std::fs::write(&p, text).unwrap();
    let e = Config::load(&p).unwrap_err().to_string();
    assert!(e.contains("bogus"), "{e}");
    let text = "method = \"ga-prune\"\n[model]\narch = \"resnet21\"\n";
    std::fs::write(&p, text).unwrap();
    let e = Config::load(&p).unwrap_err().to_string();
    assert!(e.contains("model.arch"), "{e}");
    for (text, key) in [
        (
            "method = \"ga-prune\"\n[model]\narch = \"resnet20\"\nround_channels = 5000\n",
            "model.round_channels",
        ),
        // LeNet has no batch norm to re-estimate
        (
            "method = \"ga-prune\"\n[search]\nrecalibrate = 64\n",
            "search.recalibrate",
        ),
    ] {
        std::fs::write(&p, text).unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    }
    // a missing ONNX file is an error naming it, before anything is written
    let text =
        "method = \"ga-prune\"\n[data]\nsource = \"synthetic\"\n[model]\nonnx = \"missing.onnx\"\n";
    std::fs::write(&p, text).unwrap();
    let cfg = Config::load(&p).unwrap();
    let e = run(&cfg, &dir.path().join("run"), driver(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.onnx"), "{e}");
}
