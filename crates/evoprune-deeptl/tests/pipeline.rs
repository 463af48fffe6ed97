//! The whole pipeline on the embedded digits with a tiny budget: outputs, consistency of the
//! recorded front, resume equality after an interruption, and the export round trip.

use evoprune::BitString;
use evoprune_deeptl::pipeline::{Driver, FrontFile};
use evoprune_deeptl::{Config, DeeptlError};
use evoprune_run::{Reporter, Silent};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn tiny() -> Config {
    let mut c = Config::builtin();
    c.head.hidden = vec![32];
    c.train.max_epochs = 8;
    c.train.lr = 0.05;
    c.search.pop_size = 8;
    c.search.evaluations = 24;
    c.search.threads = 2;
    c
}

/// Sets the stop flag after `after` generations of the search (one progress report each, after
/// the one that opens the stage).
struct StopAfter {
    after: Option<u64>,
    generations: Option<u64>,
    stop: Arc<AtomicBool>,
}

impl Reporter for StopAfter {
    fn stage(&mut self, name: &str, _: Option<u64>) {
        self.generations = (name == "search").then_some(0);
    }
    fn progress(&mut self, _: u64) {
        if let Some(g) = &mut self.generations {
            if Some(*g) == self.after {
                self.stop.store(true, Ordering::SeqCst);
            }
            *g += 1;
        }
    }
    fn note(&mut self, _: &str) {}
}

fn driver(stop_after_generation: Option<u64>) -> Driver {
    let stop = Arc::new(AtomicBool::new(false));
    Driver {
        reporter: Box::new(StopAfter {
            after: stop_after_generation,
            generations: None,
            stop: stop.clone(),
        }),
        stop,
        threads: 0,
        remote: None,
    }
}

fn front(dir: &Path) -> FrontFile {
    let mut f: FrontFile =
        serde_json::from_str(&std::fs::read_to_string(dir.join("front.json")).unwrap()).unwrap();
    f.search_seconds = 0.0;
    f
}

#[test]
fn run_writes_a_consistent_run_folder() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("run");
    let s = evoprune_deeptl::run(&tiny(), &dir, driver(None)).unwrap();
    for f in [
        "config.toml",
        "COMPLETE",
        "front.csv",
        "front.json",
        "hypervolume.csv",
        "ensembles.csv",
        "key_features.csv",
        "feature_frequency.csv",
        "report.md",
        "report.html",
        "plots/hypervolume.svg",
        "plots/front-error-vs-active_fraction.svg",
        "plots/front-error-vs-one_minus_auroc.svg",
        "plots/front-active_fraction-vs-one_minus_auroc.svg",
        "checkpoint/state.ckpt",
        "heatmaps/pixel-frequency.png",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let f = front(&dir);
    assert_eq!(f.evaluations, 24);
    assert_eq!(f.features, 64);
    assert!(!f.members.is_empty());
    for m in &f.members {
        // the re-trained head reproduces the objectives the search recorded
        assert!((m.objectives[0] - (1.0 - m.val_accuracy)).abs() < 1e-12);
        assert!((m.objectives[1] - m.active_fraction).abs() < 1e-12);
        assert!((m.objectives[2] - (1.0 - m.val_auroc)).abs() < 1e-12);
        assert_eq!(BitString::from_hex(&m.mask).unwrap().count_ones(), m.active);
        // compacted head: 32 hidden (no bias), 5 outputs with bias
        assert_eq!(m.params, m.active * 32 + 32 * 5 + 5);
        assert_eq!(m.macs, m.active * 32 + 32 * 5);
    }
    // mutually non-dominated
    for a in &f.members {
        for b in &f.members {
            let dom = a.objectives.iter().zip(&b.objectives).all(|(x, y)| x <= y)
                && a.objectives.iter().zip(&b.objectives).any(|(x, y)| x < y);
            assert!(!dom, "member {} dominates {}", a.index, b.index);
        }
    }
    // test AUROC against each OoD source alone: the overall one, over their union, is their
    // sample-weighted mean, so it lies between them
    for (all, by) in f
        .members
        .iter()
        .map(|m| (m.test_auroc, &m.test_auroc_by_source))
        .chain([(f.baseline.test_auroc, &f.baseline.test_auroc_by_source)])
    {
        let names: Vec<&str> = by.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["classes 5-9", "noise"]);
        let (lo, hi) = (by[0].1.min(by[1].1), by[0].1.max(by[1].1));
        assert!(
            lo - 1e-12 <= all && all <= hi + 1e-12,
            "{all} not within {by:?}"
        );
    }
    let csv = std::fs::read_to_string(dir.join("front.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("test_auroc,test_auroc_classes_5-9,test_auroc_noise,params")
    );
    assert_eq!(f.baseline.active, 64);
    assert!(
        f.baseline.test_accuracy > 0.9,
        "{}",
        f.baseline.test_accuracy
    );
    assert!(!s.ensembles.is_empty());
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("plots/hypervolume.svg") && report.contains("Ensembles"));
    // a second run into the same folder is refused, naming the folder
    let e = evoprune_deeptl::run(&tiny(), &dir, driver(None)).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
}

#[test]
fn an_interrupted_run_resumes_to_the_same_front() {
    let t = tempfile::tempdir().unwrap();
    let whole = t.path().join("whole");
    evoprune_deeptl::run(&tiny(), &whole, driver(None)).unwrap();
    let part = t.path().join("part");
    let e = evoprune_deeptl::run(&tiny(), &part, driver(Some(3))).unwrap_err();
    assert!(matches!(e, DeeptlError::Interrupted { .. }), "{e}");
    assert!(!part.join("COMPLETE").exists() && !part.join("front.json").exists());
    evoprune_deeptl::resume(&part, driver(None)).unwrap();
    assert_eq!(front(&part), front(&whole));
    assert_eq!(
        std::fs::read_to_string(part.join("front.csv")).unwrap(),
        std::fs::read_to_string(whole.join("front.csv")).unwrap()
    );
}

/// The final stage stores each scored head: a resume reuses the stored ones (a doctored score
/// shows up in the front unchanged, so it was not recomputed), recomputes missing ones, and
/// recomputes a stored score whose mask is not the member's.
#[test]
fn final_scoring_is_stored_per_head_and_reused_on_resume() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("run");
    evoprune_deeptl::run(&tiny(), &dir, driver(None)).unwrap();
    let whole = front(&dir);
    assert!(whole.members.len() >= 3, "{}", whole.members.len());
    let head = |k: usize| dir.join(format!("checkpoint/final/head-{k}.json"));
    let n = whole.members.len();
    assert!(head(n).is_file(), "the unpruned head's score is stored too");
    assert!(!head(n + 1).exists());
    std::fs::remove_file(head(0)).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head(1)).unwrap()).unwrap();
    v["test"]["accuracy"] = serde_json::json!(0.123456);
    std::fs::write(head(1), v.to_string()).unwrap();
    let mut w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head(2)).unwrap()).unwrap();
    w["mask"] = serde_json::json!("00");
    w["test"]["accuracy"] = serde_json::json!(0.5);
    std::fs::write(head(2), w.to_string()).unwrap();
    evoprune_deeptl::resume(&dir, driver(None)).unwrap();
    let again = front(&dir);
    assert_eq!(again.members[0], whole.members[0], "recomputed identically");
    assert_eq!(
        again.members[1].test_accuracy, 0.123456,
        "stored score reused"
    );
    assert_eq!(
        again.members[2], whole.members[2],
        "foreign mask recomputed"
    );
    assert!(head(0).is_file(), "the recomputed score is stored again");
}

/// MO-EvoPruneDeepTL on any network: a PyTorch-exported ONNX model (the coupling fixture of
/// evoprune-graph, 3x16x16 input) as the frozen backbone, cut by default where its dense head
/// begins, or at a named value.
#[test]
fn an_onnx_network_cut_at_a_named_value_is_the_backbone() {
    use evoprune_deeptl::config::Backbone;
    let t = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evoprune-graph/tests/fixtures/couplings-ts.onnx");
    let mut c = tiny();
    c.features.backbone = Backbone::Onnx;
    c.features.weights = Some(model.clone());
    c.features.cache_dir = t.path().join("cache");
    let s = evoprune_deeptl::run(&c, &t.path().join("a"), driver(None)).unwrap();
    // the flattened 12 x 3 x 3 feature map entering the linear layer
    assert_eq!(s.front.features, 108);
    assert!(
        s.notes.iter().any(|n| n.contains("108 features")),
        "{:?}",
        s.notes
    );
    assert!(!s.front.members.is_empty());
    // a second run reads the features from the cache and gives the same front
    let again = evoprune_deeptl::run(&c, &t.path().join("b"), driver(None)).unwrap();
    assert!(
        again
            .notes
            .iter()
            .any(|n| n.contains("read from the cache"))
    );
    assert_eq!(front(&t.path().join("a")), front(&t.path().join("b")));
    // export writes the end-to-end ONNX model too, checked against the recorded accuracy
    let out = t.path().join("head.safetensors");
    let e = evoprune_deeptl::export::export(&t.path().join("a"), 0, &out, &mut Silent).unwrap();
    assert_eq!(
        e.onnx.as_deref(),
        Some(out.with_extension("onnx").as_path())
    );
    let card: evoprune_deeptl::export::HeadCard =
        serde_json::from_str(&std::fs::read_to_string(&e.card).unwrap()).unwrap();
    let onnx = card.onnx.expect("the card describes the ONNX model");
    assert_eq!(onnx.test_accuracy, s.front.members[0].test_accuracy);
    assert_eq!(onnx.input_shape, ["N", "64"]);
    assert!(evoprune_graph::onnx::load(&out.with_extension("onnx")).is_ok());
    // an unknown cut is an error naming the key
    c.features.cut = Some("no such value".into());
    let e = evoprune_deeptl::run(&c, &t.path().join("c"), driver(None)).unwrap_err();
    assert!(e.to_string().contains("features.cut"), "{e}");
}

#[test]
fn the_front_does_not_depend_on_threads() {
    let t = tempfile::tempdir().unwrap();
    let mut one = tiny();
    one.search.threads = 1;
    evoprune_deeptl::run(&one, &t.path().join("a"), driver(None)).unwrap();
    evoprune_deeptl::run(&tiny(), &t.path().join("b"), driver(None)).unwrap();
    assert_eq!(front(&t.path().join("a")), front(&t.path().join("b")));
}

#[test]
fn exported_heads_reproduce_the_recorded_predictions() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("run");
    let cfg = tiny();
    evoprune_deeptl::run(&cfg, &dir, driver(None)).unwrap();
    let f = front(&dir);
    let k = f.members.len() - 1;
    let out = t.path().join("head.safetensors");
    let e = evoprune_deeptl::export::export(&dir, k, &out, &mut Silent).unwrap();
    let (w, j) = (e.weights, e.card);
    // no ONNX backbone, no end-to-end ONNX model
    assert_eq!(e.onnx, None);
    assert!(!out.with_extension("onnx").exists());
    let card: evoprune_deeptl::export::HeadCard =
        serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    assert_eq!(card.onnx, None);
    assert_eq!(card.active_indices.len(), f.members[k].active);
    assert_eq!(card.params, f.members[k].params);
    // apply the exported head by hand, from the file alone, on the test split
    let t = evoprune_data::tensors::read_all(&w).unwrap();
    let idx: Vec<usize> = t["active_indices"]
        .data
        .iter()
        .map(|&v| v as usize)
        .collect();
    assert_eq!(idx, card.active_indices);
    let data = evoprune_deeptl::data::prepare(&cfg, &mut Silent).unwrap();
    let (w0, w1, b1) = (&t["layer0.weight"], &t["layer1.weight"], &t["layer1.bias"]);
    assert_eq!(w0.shape, vec![idx.len(), 32]);
    let mut correct = 0;
    for (i, &y) in data.test.y.iter().enumerate() {
        let row = &data.test.x[i * 64..(i + 1) * 64];
        let h: Vec<f32> = (0..32)
            .map(|o| {
                idx.iter()
                    .enumerate()
                    .map(|(r, &c)| row[c] * w0.data[r * 32 + o])
                    .sum::<f32>()
                    .max(0.0)
            })
            .collect();
        let logits: Vec<f32> = (0..5)
            .map(|o| b1.data[o] + (0..32).map(|r| h[r] * w1.data[r * 5 + o]).sum::<f32>())
            .collect();
        let pred = (0..5)
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
            .unwrap();
        correct += usize::from(pred as u32 == y);
    }
    let acc = correct as f64 / data.test.n as f64;
    assert!(
        (acc - f.members[k].test_accuracy).abs() < 1e-9,
        "{acc} vs {}",
        f.members[k].test_accuracy
    );
    // a member that does not exist is a clear error
    let e = evoprune_deeptl::export::export(&dir, 999, &out, &mut Silent).unwrap_err();
    assert!(e.to_string().contains("--member"), "{e}");
}

#[test]
fn odin_input_perturbation_changes_auroc_not_accuracy() {
    use evoprune::Problem;
    let mut cfg = tiny();
    let data = evoprune_deeptl::data::prepare(&cfg, &mut Silent).unwrap();
    let mask = BitString::ones(64);
    let plain = evoprune_deeptl::problem::HeadPruning::new(&cfg, &data)
        .evaluate(&mask)
        .unwrap();
    cfg.search.odin_epsilon = 0.05;
    let moved = evoprune_deeptl::problem::HeadPruning::new(&cfg, &data)
        .evaluate(&mask)
        .unwrap();
    assert_eq!(plain.extras["accuracy"], moved.extras["accuracy"]);
    assert_ne!(plain.extras["auroc"], moved.extras["auroc"]);
    assert!(moved.extras["auroc"] > 0.5);
}

/// The end-to-end ONNX model of a member with an ONNX backbone cut at a 4-D feature map (so
/// flattened inside) and `data.scale` != 1 (so applied inside): it reloads, scores the recorded
/// test accuracy on the raw test samples, selects exactly the active features (its Slice nodes
/// cover them, and its logits are the method's own head's) and names what it expects.
#[test]
fn an_onnx_backbone_member_exports_as_one_onnx_model() {
    use evoprune_deeptl::config::Backbone;
    use evoprune_graph::{Op, Tensor, exec, onnx, shape};
    let t = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evoprune-graph/tests/fixtures/couplings-ts.onnx");
    // the value the linear layer's input is flattened from
    let g = onnx::load(&model).unwrap();
    let gemm = g
        .nodes
        .iter()
        .rev()
        .find(|n| matches!(n.op, Op::Gemm { .. } | Op::MatMul))
        .unwrap();
    let flat = &g.nodes[g.producer(&gemm.inputs[0]).unwrap()];
    assert!(matches!(flat.op, Op::Flatten { .. } | Op::Reshape { .. }));
    let cut = flat.inputs[0].clone();
    assert_eq!(shape::infer(&g, 1).unwrap()[&cut].len(), 4);
    let mut c = tiny();
    c.features.backbone = Backbone::Onnx;
    c.features.weights = Some(model);
    c.features.cut = Some(cut.clone());
    c.features.cache_dir = t.path().join("cache");
    c.data.scale = 0.5;
    let dir = t.path().join("run");
    let s = evoprune_deeptl::run(&c, &dir, driver(None)).unwrap();
    assert_eq!(s.front.features, 108);
    let member = &s.front.members[0];
    let out = t.path().join("member.safetensors");
    let e = evoprune_deeptl::export::export(&dir, 0, &out, &mut Silent).unwrap();
    let path = e.onnx.expect("an ONNX backbone gives an ONNX model");
    assert_eq!(path, t.path().join("member.onnx"));
    let card: evoprune_deeptl::export::HeadCard =
        serde_json::from_str(&std::fs::read_to_string(&e.card).unwrap()).unwrap();
    let oc = card.onnx.clone().unwrap();
    assert_eq!(oc.file, "member.onnx");
    assert!(oc.usage.contains("data.scale"), "{}", oc.usage);
    assert!(oc.usage.contains(&cut), "{}", oc.usage);

    let g = onnx::load(&path).unwrap();
    shape::infer(&g, 3).unwrap();
    assert_eq!(
        (g.input.as_str(), g.input_shape.as_slice()),
        (oc.input.as_str(), &[1, 64][..])
    );
    assert_eq!(g.outputs, std::slice::from_ref(&oc.output));
    // the Slice nodes along axis 1 after the cut take exactly the active features, in order
    let active = &card.active_indices;
    assert_eq!(active.len(), member.active);
    let slices: Vec<&evoprune_graph::Node> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Slice { .. }) && n.name.starts_with("deeptl/"))
        .collect();
    let mut taken = Vec::new();
    for n in &slices {
        let Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } = &n.op
        else {
            unreachable!()
        };
        assert_eq!((axes.as_slice(), steps.as_slice()), (&[1][..], &[1][..]));
        taken.extend(starts[0] as usize..ends[0] as usize);
    }
    assert_eq!(&taken, active);
    let gaps = active.windows(2).filter(|w| w[1] != w[0] + 1).count();
    assert_eq!(slices.len(), gaps + 1);
    // this member exercises the Concat (several runs)
    assert!(slices.len() > 1, "{active:?}");
    let concats = g
        .nodes
        .iter()
        .filter(|n| {
            matches!(n.op, Op::Concat { .. })
                && n.inputs
                    == slices
                        .iter()
                        .map(|s| s.outputs[0].clone())
                        .collect::<Vec<_>>()
        })
        .count();
    assert_eq!(concats, usize::from(slices.len() > 1));

    // on the raw test samples it scores the recorded accuracy
    let test = evoprune_deeptl::data::test_samples(&c).unwrap();
    let x = Tensor::new(vec![test.len(), 64], test.features().to_vec());
    let logits = exec::run(&g, &x).unwrap().remove(0);
    assert_eq!(logits.shape, [test.len(), 5]);
    let acc = evoprune_nn::metrics::accuracy(&logits.data, test.labels(), 5).unwrap();
    assert_eq!(acc, member.test_accuracy);
    assert_eq!(oc.test_accuracy, member.test_accuracy);

    // and its logits are the method's own head's on the run's features
    let data = evoprune_deeptl::data::prepare(&c, &mut Silent).unwrap();
    assert_eq!(test.labels(), data.test.y.as_slice());
    let mask = BitString::from_hex(&member.mask).unwrap();
    let head = evoprune_deeptl::problem::HeadPruning::new(&c, &data)
        .train(&mask)
        .unwrap();
    assert_eq!(&head.active, active);
    let n = 8;
    let xa = evoprune_nn::gather_columns(&data.test.x[..n * data.d], data.d, active).unwrap();
    let want = head.mlp.logits(&xa).unwrap();
    for (i, (a, b)) in logits.data[..n * 5].iter().zip(&want).enumerate() {
        assert!((a - b).abs() < 1e-4, "logit {i}: ONNX {a}, head {b}");
    }

    // an output path the card or the ONNX model would overwrite is refused
    let e = evoprune_deeptl::export::export(&dir, 0, &t.path().join("x.onnx"), &mut Silent)
        .unwrap_err();
    assert!(e.to_string().contains("x.onnx"), "{e}");
}

/// The paper's backbone: a torchvision ResNet-50 exported from PyTorch (fixed formula weights:
/// ImageNet weights are not available offline), cut where its classifier starts (2,048
/// features), on the embedded digits resized to its 224 px input; the chosen member exported
/// as one ONNX classifier, checked against the recorded test accuracy by the export itself.
#[test]
#[ignore = "needs the large fixtures (EVOPRUNE_LARGE_FIXTURES); run by .ci/run"]
fn a_resnet50_onnx_backbone_runs_end_to_end() {
    use evoprune_deeptl::config::Backbone;
    let dir = std::env::var_os("EVOPRUNE_LARGE_FIXTURES")
        .expect("EVOPRUNE_LARGE_FIXTURES: the folder export_models.py --large wrote");
    let model = Path::new(&dir).join("resnet50-ts.onnx");
    assert!(model.is_file(), "{} missing", model.display());
    let t = tempfile::tempdir().unwrap();
    let mut c = tiny();
    c.features.backbone = Backbone::Onnx;
    c.features.weights = Some(model);
    c.features.cache_dir = t.path().join("cache");
    c.data.limit = [40, 20, 20];
    c.search.evaluations = 16;
    let run = t.path().join("run");
    let s = evoprune_deeptl::run(&c, &run, driver(None)).unwrap();
    assert_eq!(s.front.features, 2048);
    assert!(!s.front.members.is_empty());
    for m in &s.front.members {
        assert_eq!(m.params, m.active * 32 + 32 * 5 + 5);
    }
    let e = evoprune_deeptl::export::export(&run, 0, &t.path().join("m.safetensors"), &mut Silent)
        .unwrap();
    let onnx = e.onnx.expect("an ONNX backbone gives an ONNX model");
    let g = evoprune_graph::onnx::load(&onnx).unwrap();
    assert_eq!(g.input_shape, [1, 64]);
}
