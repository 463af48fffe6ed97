//! A classifier under masks: realization, exact counts, export and fine-tuning.

use evoprune_graph::model::ModelConfig;
use evoprune_graph::net::{Masks, Net};
use evoprune_graph::{Graph, onnx, stats};
use std::collections::{BTreeMap, HashMap};

fn resnet20() -> Net {
    let m = ModelConfig {
        arch: Some("resnet20".into()),
        input: Some([1, 8, 8]),
        ..ModelConfig::default()
    };
    Net::new(m.load(5).unwrap()).unwrap()
}

/// SplitMix64 for reproducible "random" masks without a dependency.
fn stream(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn random_masks(net: &Net, seed: u64) -> Masks {
    let mut r = stream(seed);
    let keep = (0..net.analysis.groups.len())
        .map(|_| !r().is_multiple_of(3))
        .collect();
    let mut entries = HashMap::new();
    let mut bits = HashMap::new();
    for (k, l) in net.layers.iter().enumerate() {
        if k % 2 == 0 {
            entries.insert(
                l.name.clone(),
                (0..l.len())
                    .map(|_| !r().is_multiple_of(4) as u8 as f32)
                    .collect(),
            );
        }
        if k % 3 == 0 {
            bits.insert(l.name.clone(), if k % 2 == 0 { 8 } else { 4 });
        }
    }
    Masks {
        keep: Some(keep),
        entries,
        bits,
    }
}

fn inputs(net: &Net, n: usize) -> Vec<f32> {
    let mut r = stream(99);
    (0..n * net.input_len())
        .map(|_| (r() % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_realized_network_computes_the_masked_one_and_is_counted_exactly() {
    let net = resnet20();
    assert_eq!(net.classes, 10);
    assert_eq!(net.layers.len(), 20, "19 convolutions and the classifier");
    assert!(net.layers.last().unwrap().linear);
    let x = inputs(&net, 6);
    for seed in 0..3 {
        let m = random_masks(&net, seed);
        let masked = net.masked(&net.graph, &m).unwrap();
        let small = net.realize(&net.graph, &m).unwrap();
        assert!(stats::stats(&small).unwrap().params < net.dense.params);
        let d = max_diff(
            &net.logits(&masked, &x).unwrap(),
            &net.logits(&small, &x).unwrap(),
        );
        assert!(d < 1e-4, "seed {seed}: {d}");
        // every kept weight of the (random, nonzero) network is counted, no pruned one
        // (without quantization, whose rounding makes zeros of its own)
        let m = Masks {
            bits: HashMap::new(),
            ..m
        };
        let small = net.realize(&net.graph, &m).unwrap();
        let s = net.stats(&m).unwrap();
        let dense_small = stats::stats(&small).unwrap();
        let zeros: usize = net
            .layers
            .iter()
            .map(|l| {
                small.params[&l.name]
                    .data
                    .iter()
                    .filter(|v| **v == 0.0)
                    .count()
            })
            .sum();
        assert_eq!(s.params, dense_small.params - zeros, "seed {seed}");
        assert!(s.macs < dense_small.macs);
    }
}

#[test]
fn quantization_keeps_zeros_and_rounds_to_the_grid() {
    let net = resnet20();
    let l = &net.layers[3];
    let m = Masks {
        keep: None,
        entries: HashMap::from([(l.name.clone(), vec![0.0; l.len()])]),
        bits: HashMap::from([(net.layers[4].name.clone(), 4)]),
    };
    let g = net.masked(&net.graph, &m).unwrap();
    assert!(g.params[&l.name].data.iter().all(|v| *v == 0.0));
    let q = &g.params[&net.layers[4].name];
    let per = q.len() / q.shape[0];
    for row in q.data.chunks(per) {
        let scale = row.iter().fold(0.0f32, |a, v| a.max(v.abs())) / 7.0;
        let mut levels: Vec<i32> = row.iter().map(|v| (v / scale).round() as i32).collect();
        levels.sort();
        levels.dedup();
        assert!(levels.len() <= 15, "{levels:?}");
    }
    let bad = Masks {
        bits: HashMap::from([(net.layers[0].name.clone(), 3)]),
        ..Masks::default()
    };
    assert!(net.masked(&net.graph, &bad).is_err());
    let unknown = Masks {
        entries: HashMap::from([("nope".to_string(), vec![1.0])]),
        ..Masks::default()
    };
    assert!(net.masked(&net.graph, &unknown).is_err());
}

#[test]
fn export_writes_the_smaller_network_that_reloads_to_the_same_logits() {
    let net = resnet20();
    let m = random_masks(&net, 7);
    let dir = tempfile::tempdir().unwrap();
    let (o, w) = (dir.path().join("m.onnx"), dir.path().join("m.safetensors"));
    let extra = BTreeMap::from([("member".to_string(), "3".to_string())]);
    let e = net.export(&net.graph, &m, 1, &o, &w, &extra).unwrap();
    let back: Graph = onnx::load(&o).unwrap();
    let x = inputs(&net, 4);
    let small = net.realize(&net.graph, &m).unwrap();
    let d = max_diff(
        &net.logits(&small, &x).unwrap(),
        &net.logits(&back, &x).unwrap(),
    );
    assert!(d < 1e-5, "{d}");
    assert_eq!(e.params, net.stats(&m).unwrap().params);
    let rec = &e.tensors[&net.layers[0].name];
    assert_eq!(rec.bits, 8);
    let bytes = std::fs::read(&w).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert!(meta.metadata().as_ref().unwrap()["evoprune"].contains("\"member\":\"3\""));
}

#[test]
fn fine_tuning_holds_the_masks() {
    let net = resnet20();
    let m = random_masks(&net, 11);
    let n = 16;
    let x = inputs(&net, n);
    let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    let mut g = net.graph.clone();
    let cfg = evoprune_graph::model::TrainConfig {
        epochs: 2,
        batch: 8,
        ..Default::default()
    };
    let losses = net
        .fine_tune(&mut g, &m, &x, &y, &cfg.fine_tune(1), |_| {})
        .unwrap();
    assert_eq!(losses.len(), 2);
    let masks = net.training_masks(&m).unwrap();
    for (k, mask) in &masks {
        for (w, keep) in g.params[k].data.iter().zip(mask) {
            if *keep == 0.0 {
                assert_eq!(*w, 0.0, "{k}");
            }
        }
    }
    // the trained, realized network still computes its masked twin
    let a = net.logits(&net.masked(&g, &m).unwrap(), &x).unwrap();
    let b = net.logits(&net.realize(&g, &m).unwrap(), &x).unwrap();
    assert!(max_diff(&a, &b) < 1e-4);
}

/// A baseline training interrupted after an epoch (here: its progress callback panics, as a
/// kill would stop it) goes on from the epoch's checkpoint, to the bits of an uninterrupted
/// one; the checkpoint is removed when the baseline is written.
#[test]
fn an_interrupted_baseline_training_resumes_from_its_last_epoch() {
    use evoprune_graph::net::Baseline;
    let net = resnet20();
    let n = 16;
    let x = inputs(&net, n);
    let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    let cfg = evoprune_graph::model::TrainConfig {
        epochs: 3,
        batch: 8,
        ..Default::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let (whole, interrupted) = (tmp.path().join("whole"), tmp.path().join("cut"));
    let (want, _) = net
        .baseline(&cfg, &x, &y, 7, None, Some(&whole), |_| {})
        .unwrap();
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        net.baseline(&cfg, &x, &y, 7, None, Some(&interrupted), |p| {
            assert!(p.epochs < 2, "killed after epoch 2")
        })
    }));
    assert!(stopped.is_err());
    let entry = net.baseline_cache_path(&interrupted, &cfg, &x, &y, 7);
    let partial = entry.with_extension("partial.safetensors");
    assert!(partial.is_file() && !entry.exists());
    let (mut epochs, mut steps) = (Vec::new(), Vec::new());
    let (got, origin) = net
        .baseline(&cfg, &x, &y, 7, None, Some(&interrupted), |p| {
            steps.push((p.step, p.steps));
            if p.epoch_loss.is_some() {
                epochs.push(p.epochs)
            }
        })
        .unwrap();
    assert_eq!(epochs, [3], "epochs 1 and 2 were not trained again");
    // 16 samples in batches of 8: the progress goes on from the 4 steps already done
    assert_eq!(steps, [(5, 6), (6, 6)]);
    let Baseline::Trained { run, .. } = &origin else {
        panic!("{origin:?}")
    };
    assert_eq!((run.epochs, run.resumed), (3, 2));
    assert!(origin.describe("r").contains("resumed after epoch 2"));
    for (k, t) in &want.params {
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.params[k].data), bits(&t.data), "{k}");
    }
    assert!(entry.is_file() && !partial.exists());
    // a damaged checkpoint is ignored: the training starts again, to the same bits
    let again = tmp.path().join("again");
    let entry = net.baseline_cache_path(&again, &cfg, &x, &y, 7);
    std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
    std::fs::write(entry.with_extension("partial.safetensors"), b"torn").unwrap();
    let (g3, o3) = net
        .baseline(&cfg, &x, &y, 7, None, Some(&again), |_| {})
        .unwrap();
    assert!(
        matches!(&o3, Baseline::Trained { run, .. } if run.resumed == 0),
        "{o3:?}"
    );
    assert_eq!(g3.params, want.params);
}

#[test]
fn baselines_are_shared_through_a_content_keyed_cache() {
    use evoprune_graph::net::Baseline;
    let net = resnet20();
    let n = 16;
    let x = inputs(&net, n);
    let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    let cfg = evoprune_graph::model::TrainConfig {
        epochs: 2,
        batch: 8,
        ..Default::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let run_a = tmp.path().join("a/checkpoint/baseline.safetensors");
    let (ga, oa) = net
        .baseline(&cfg, &x, &y, 7, Some(&run_a), Some(&cache), |_| {})
        .unwrap();
    let Baseline::Trained {
        run,
        cached: Some(entry),
        replaced: None,
    } = &oa
    else {
        panic!("trained and cached: {oa:?}")
    };
    assert_eq!(run.epochs, 2);
    assert!(run.seconds.is_some() && run.loss.is_finite());
    assert_eq!(
        entry,
        &net.baseline_cache_path(&cache, &cfg, &x, &y, 7),
        "the entry is keyed by the network, training, data and seed"
    );
    assert!(entry.starts_with(cache.join("baselines")));
    assert!(std::fs::read(entry).unwrap() == std::fs::read(&run_a).unwrap());
    assert_ne!(ga.params, net.graph.params, "trained");

    // a second run folder reads the cache (no training), with the first training's record
    let run_b = tmp.path().join("b/baseline.safetensors");
    let (gb, ob) = net
        .baseline(&cfg, &x, &y, 7, Some(&run_b), Some(&cache), |_| {
            panic!("no training")
        })
        .unwrap();
    assert_eq!(gb.params, ga.params);
    assert_eq!(ob, Baseline::Cached(entry.clone(), run.clone()));
    assert!(std::fs::read(&run_b).unwrap() == std::fs::read(entry).unwrap());
    // the run folder's own copy comes first (a resume), even without the cache
    let (gc, oc) = net
        .baseline(&cfg, &x, &y, 7, Some(&run_b), None, |_| panic!())
        .unwrap();
    assert_eq!(
        (gc.params, oc),
        (ga.params.clone(), Baseline::Stored(run.clone()))
    );

    // any change of seed, data, labels, training or weights is another entry
    let other = |k: &std::path::Path| assert_ne!(k, entry.as_path());
    other(&net.baseline_cache_path(&cache, &cfg, &x, &y, 8));
    let mut x2 = x.clone();
    x2[5] += 1e-3;
    other(&net.baseline_cache_path(&cache, &cfg, &x2, &y, 7));
    let mut y2 = y.clone();
    y2.swap(0, 1);
    other(&net.baseline_cache_path(&cache, &cfg, &x, &y2, 7));
    let lr = evoprune_graph::model::TrainConfig {
        lr: 0.02,
        ..cfg.clone()
    };
    other(&net.baseline_cache_path(&cache, &lr, &x, &y, 7));
    let mut g2 = net.graph.clone();
    g2.params.values_mut().next().unwrap().data[0] += 1.0;
    other(
        &Net::new(g2)
            .unwrap()
            .baseline_cache_path(&cache, &cfg, &x, &y, 7),
    );

    // a damaged entry is trained again (the same bits: training is deterministic), replaced,
    // and the result says so
    std::fs::write(entry, b"not safetensors").unwrap();
    let (gd, od) = net
        .baseline(&cfg, &x, &y, 7, None, Some(&cache), |_| {})
        .unwrap();
    assert_eq!(gd.params, ga.params);
    match &od {
        Baseline::Trained {
            replaced: Some(why),
            ..
        } => assert!(why.contains("safetensors"), "{why}"),
        o => panic!("replaced: {o:?}"),
    }
    assert!(od.describe("r").contains("replaced"));
    // the new entry serves the next run
    let (gf, of) = net
        .baseline(&cfg, &x, &y, 7, None, Some(&cache), |_| panic!())
        .unwrap();
    assert_eq!(gf.params, ga.params);
    assert!(matches!(of, Baseline::Cached(..)), "{of:?}");
    // nothing asked: the network as loaded, nothing written
    let none = evoprune_graph::model::TrainConfig {
        epochs: 0,
        ..cfg.clone()
    };
    let (ge, oe) = net
        .baseline(
            &none,
            &x,
            &y,
            7,
            None,
            Some(&tmp.path().join("c2")),
            |_| panic!(),
        )
        .unwrap();
    assert_eq!(
        (ge.params, oe),
        (net.graph.params.clone(), Baseline::AsLoaded)
    );
    assert!(!tmp.path().join("c2").exists());
}

#[test]
fn non_classifiers_are_refused() {
    let mut g = resnet20().graph;
    g.outputs.push(g.input.clone());
    assert!(Net::new(g).unwrap_err().to_string().contains("one output"));
}

#[test]
fn recalibrated_batch_norms_make_inference_match_the_batch_statistics() {
    let net = resnet20();
    let m = Masks {
        bits: HashMap::new(),
        ..random_masks(&net, 3)
    };
    let n = 32;
    let x = inputs(&net, n);
    // the pruned network in training mode on the batch: each batch norm on its own statistics
    let mut t = evoprune_graph::backprop::Trainer::new(&net.graph).unwrap();
    let masks = net.training_masks(&m).unwrap();
    t.batch_statistics(&net.graph, &x, n, &masks).unwrap();
    let train_mode = t.logits().to_vec();
    let scale = train_mode.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let before = net
        .logits(&net.realize(&net.graph, &m).unwrap(), &x)
        .unwrap();
    let mut g = net.graph.clone();
    net.recalibrate(&mut g, &m, &x, n).unwrap();
    let after = net.logits(&net.realize(&g, &m).unwrap(), &x).unwrap();
    // inference with the re-estimated statistics computes what the batch statistics did (up
    // to the unbiased variance's n / (n - 1)); the stale ones did not
    let (d_after, d_before) = (
        max_diff(&after, &train_mode),
        max_diff(&before, &train_mode),
    );
    assert!(d_after < 0.02 * scale, "{d_after} of {scale}");
    assert!(d_before > 5.0 * d_after, "{d_before} vs {d_after}");
    // only running statistics changed
    let bn = g
        .nodes
        .iter()
        .find(|k| matches!(k.op, evoprune_graph::Op::BatchNorm { .. }))
        .unwrap();
    for (name, p) in &g.params {
        let stat = g.nodes.iter().any(|k| {
            matches!(k.op, evoprune_graph::Op::BatchNorm { .. })
                && (k.inputs[3] == *name || k.inputs[4] == *name)
        });
        assert_eq!(stat, p != &net.graph.params[name], "{name}");
    }
    // two batches of 16 pool to the statistics of one batch of 32 (the first batch norm's
    // input does not depend on any other batch norm)
    let mut g16 = net.graph.clone();
    net.recalibrate(&mut g16, &m, &x, 16).unwrap();
    for p in [&bn.inputs[3], &bn.inputs[4]] {
        let d = max_diff(&g16.params[p].data, &g.params[p].data);
        assert!(d < 1e-4, "{p}: {d}");
    }
    assert!(net.recalibrate(&mut g16, &m, &x, 1).is_err());
    assert!(net.recalibrate(&mut g16, &m, &x[1..], 16).is_err());
    assert!(
        net.recalibrate(&mut g16, &m, &x[..net.input_len()], 16)
            .is_err()
    );
}

/// Group importance follows the batch-norm scales (relative to their layer), and the filter
/// norms when the batch norms are folded into the convolutions.
#[test]
fn group_importance_ranks_by_batch_norm_scale_or_filter_norm() {
    let net = resnet20();
    let k = net.analysis.groups.len();
    let base = net.group_importance(&net.graph).unwrap();
    assert_eq!(base.len(), k);
    assert!(base.iter().all(|v| v.is_finite() && *v >= 0.0), "{base:?}");
    // one group's batch-normalised channels silenced, another's scaled up 4x
    let is_bn_out = |g: &Graph, v: &str| {
        g.nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == v))
            .and_then(|n| {
                matches!(n.op, evoprune_graph::Op::BatchNorm { .. }).then(|| n.inputs[1].clone())
            })
    };
    let (dead, loud) = (0, k - 1);
    let mut g = net.graph.clone();
    for (grp, factor) in [(dead, 0.0f32), (loud, 4.0)] {
        let mut touched = 0;
        for (v, c) in &net.analysis.groups[grp].channels {
            if let Some(scale) = is_bn_out(&g, v) {
                let t = g.params.get_mut(&scale).unwrap();
                t.data[*c] = if factor == 0.0 {
                    0.0
                } else {
                    factor * t.data[*c].abs().max(0.5)
                };
                touched += 1;
            }
        }
        assert!(touched > 0, "group {grp} has no batch-normalised channel");
    }
    let imp = net.group_importance(&g).unwrap();
    assert_eq!(imp[dead], 0.0);
    let others = (0..k).filter(|&i| i != dead && i != loud);
    assert!(
        others.clone().all(|i| imp[i] > 0.0 && imp[i] < imp[loud]),
        "{imp:?}"
    );
    // folded batch norms: the scales live in the filters, and the ranking follows them
    let folded = Net::new(evoprune_graph::fold::fold_batch_norms(&g)).unwrap();
    assert_eq!(folded.analysis.groups.len(), k);
    let f = folded.group_importance(&folded.graph).unwrap();
    let same = |i: usize| {
        let s = &net.analysis.groups[i].sources;
        folded
            .analysis
            .groups
            .iter()
            .position(|h| &h.sources == s)
            .unwrap()
    };
    assert_eq!(f[same(dead)], 0.0);
    assert!(others.clone().all(|i| f[same(i)] > 0.0), "{f:?}");
    assert!(f[same(loud)] > 2.0 * f[same(1)], "{f:?}");
    // weights of another network are refused by name
    let mut lacking = net.graph.clone();
    let name = net.layers[0].name.clone();
    lacking.params.remove(&name);
    let e = net.group_importance(&lacking).unwrap_err().to_string();
    assert!(e.contains(&name), "{e}");
}
