//! Gradients on the representation: burn's forward pass computes the reference executor's
//! function, its gradients match finite differences, and fine-tuning with fixed masks learns
//! while pruned weights stay zero.

mod common;
use common::{committed, max_abs, npy};
use evoprune_graph::train::{self, FineTune, V};
use evoprune_graph::{Dim, Graph, Node, Op, Tensor, exec, onnx};
use std::collections::{BTreeMap, HashMap};

fn burn_logits(g: &Graph, x: &Tensor) -> Vec<f32> {
    let dev = burn::tensor::Device::default();
    let (_, used) = train::params_on(g, &dev, &[], &HashMap::new()).unwrap();
    let xv = V::from_vec(x.data.clone(), &x.shape, &dev).unwrap();
    let logits = train::forward(g, &used, xv, &dev).unwrap().to_vec();
    // what `evoprune bench --executor burn` runs computes the same
    let b = train::BurnInference::new(g).unwrap().run(x).unwrap();
    assert_eq!(b.data, logits);
    logits
}

#[test]
fn burn_computes_the_reference_executors_function() {
    for (file, model) in [
        ("resnet20-ts.onnx", "resnet20"),
        ("resnet20-ts-bn.onnx", "resnet20"),
        ("couplings-dynamo.onnx", "couplings"),
        ("couplings-ts-bn.onnx", "couplings"),
    ] {
        let g = onnx::load(&committed().join(file)).unwrap();
        let x = npy(&committed(), &format!("{model}.input.npy"));
        let want = exec::run(&g, &x).unwrap().remove(0);
        let d = max_abs(&burn_logits(&g, &x), &want.data);
        assert!(d < 1e-4, "{file}: burn vs reference executor {d}");
    }
}

/// conv (3 -> 4) -> batch norm -> relu -> global pool -> flatten -> linear (4 -> 3).
fn small() -> Graph {
    let mut params = BTreeMap::new();
    let mut s = 7u64;
    let mut r = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    };
    params.insert("conv.weight".into(), Tensor::new(vec![4, 3, 3, 3], r(108)));
    params.insert("conv.bias".into(), Tensor::new(vec![4], r(4)));
    params.insert(
        "bn.weight".into(),
        Tensor::new(vec![4], vec![1.0, 0.8, 1.2, 0.9]),
    );
    params.insert("bn.bias".into(), Tensor::new(vec![4], r(4)));
    params.insert("bn.running_mean".into(), Tensor::new(vec![4], r(4)));
    params.insert(
        "bn.running_var".into(),
        Tensor::new(vec![4], vec![1.0, 0.5, 2.0, 1.5]),
    );
    params.insert("fc.weight".into(), Tensor::new(vec![3, 4], r(12)));
    params.insert("fc.bias".into(), Tensor::new(vec![3], r(3)));
    let node = |name: &str, op: Op, inputs: &[&str], out: &str| Node {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![out.into()],
    };
    Graph {
        name: "small".into(),
        input: "x".into(),
        input_shape: vec![1, 3, 6, 6],
        outputs: vec!["y".into()],
        nodes: vec![
            node(
                "conv",
                Op::Conv {
                    kernel: [3, 3],
                    strides: [1, 1],
                    pads: [1, 1, 1, 1],
                    dilations: [1, 1],
                    groups: 1,
                },
                &["x", "conv.weight", "conv.bias"],
                "c",
            ),
            node(
                "bn",
                Op::BatchNorm { epsilon: 1e-5 },
                &[
                    "c",
                    "bn.weight",
                    "bn.bias",
                    "bn.running_mean",
                    "bn.running_var",
                ],
                "b",
            ),
            node("relu", Op::Relu, &["b"], "r"),
            node("gap", Op::GlobalAveragePool, &["r"], "p"),
            node(
                "flat",
                Op::Reshape {
                    shape: vec![Dim::Batch, Dim::Fixed(-1)],
                },
                &["p"],
                "f",
            ),
            node(
                "fc",
                Op::Gemm {
                    alpha: 1.0,
                    beta: 1.0,
                    trans_a: false,
                    trans_b: true,
                },
                &["f", "fc.weight", "fc.bias"],
                "y",
            ),
        ],
        params,
    }
}

fn data(n: usize) -> (Vec<f32>, Vec<u32>) {
    // class k: a bright square in colour channel k, over noise (global pooling keeps colour)
    let mut s = 3u64;
    let mut x = vec![0.0f32; n * 3 * 36];
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let k = (i % 3) as u32;
        y.push(k);
        for v in &mut x[i * 108..(i + 1) * 108] {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2;
        }
        let c = k as usize;
        for dy in 0..3 {
            for dx in 0..3 {
                x[i * 108 + c * 36 + (1 + dy) * 6 + 1 + dx] += 1.0;
            }
        }
    }
    (x, y)
}

/// Loss of `g` on (x, y) by the reference executor, in f64.
fn ref_loss(g: &Graph, x: &[f32], y: &[u32]) -> f64 {
    let n = y.len();
    let t = Tensor::new(vec![n, 3, 6, 6], x.to_vec());
    let l = exec::run(g, &t).unwrap().remove(0);
    let k = l.shape[1];
    (0..n)
        .map(|i| {
            let row: Vec<f64> = l.data[i * k..(i + 1) * k]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            lse - row[y[i] as usize]
        })
        .sum::<f64>()
        / n as f64
}

#[test]
fn gradients_match_finite_differences() {
    let g = small();
    let (x, y) = data(6);
    let dev = burn::tensor::Device::default().autodiff();
    let learn = train::learnable(&g);
    assert!(!learn.contains(&"bn.running_mean".to_string()));
    let (leaves, used) = train::params_on(&g, &dev, &learn, &HashMap::new()).unwrap();
    let logits = train::forward(
        &g,
        &used,
        V::from_vec(x.clone(), &[6, 3, 6, 6], &dev).unwrap(),
        &dev,
    )
    .unwrap();
    let V::R2(logits) = logits else {
        panic!("2-D logits")
    };
    let loss = train::cross_entropy(logits, &y, &dev);
    let grads = loss.backward();
    for (name, idx) in [
        ("conv.weight", 5usize),
        ("conv.weight", 77),
        ("bn.weight", 2),
        ("fc.weight", 7),
        ("fc.bias", 1),
        ("conv.bias", 3),
    ] {
        let got = match &leaves[name] {
            V::R1(t) => t
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()[idx],
            V::R2(t) => t
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()[idx],
            V::R4(t) => t
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()[idx],
            V::R3(_) => unreachable!(),
        } as f64;
        let h = 1e-2f32;
        let mut gp = g.clone();
        gp.params.get_mut(name).unwrap().data[idx] += h;
        let mut gm = g.clone();
        gm.params.get_mut(name).unwrap().data[idx] -= h;
        let fd = (ref_loss(&gp, &x, &y) - ref_loss(&gm, &x, &y)) / (2.0 * h as f64);
        assert!(
            (got - fd).abs() < 2e-3 + 2e-2 * fd.abs(),
            "{name}[{idx}]: autodiff {got} vs finite difference {fd}"
        );
    }
}

#[test]
fn fine_tuning_learns_and_keeps_masked_weights_at_zero() {
    let mut g = small();
    let (x, y) = data(60);
    let before = ref_loss(&g, &x, &y);
    // prune conv filter 1 entirely and half of the linear weights
    let mut masks = HashMap::new();
    let mut mc = vec![1.0f32; 108];
    mc[27..54].fill(0.0);
    masks.insert("conv.weight".to_string(), mc);
    masks.insert(
        "fc.weight".to_string(),
        (0..12).map(|i| (i % 2) as f32).collect(),
    );
    let cfg = FineTune {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 1e-4,
        epochs: 15.0,
        batch: 12,
        seed: 1,
        batch_norm: evoprune_graph::train::BatchNorm::Frozen,
    };
    let mut seen = Vec::new();
    let losses = train::fine_tune(&mut g, &x, &y, &masks, &cfg, |p| seen.push(p)).unwrap();
    assert_eq!(losses.len(), 15);
    // progress after every step (60 samples in batches of 12: 5 per epoch), each epoch's
    // mean loss at its last step
    assert_eq!(cfg.steps(60), 75);
    assert_eq!(seen.len(), 75);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(
            (p.step, p.steps, p.epochs),
            (i as u64 + 1, 75, (i + 1) / 5),
            "{p:?}"
        );
        assert_eq!(p.epoch_loss.is_some(), (i + 1) % 5 == 0, "{p:?}");
    }
    let ends: Vec<f32> = seen.iter().filter_map(|p| p.epoch_loss).collect();
    assert_eq!(ends, losses);
    let after = ref_loss(&g, &x, &y);
    assert!(
        after < 0.5 * before,
        "loss {before} -> {after} ({losses:?})"
    );
    assert!(
        g.params["conv.weight"].data[27..54]
            .iter()
            .all(|&w| w == 0.0)
    );
    assert!(
        g.params["fc.weight"]
            .data
            .iter()
            .step_by(2)
            .all(|&w| w == 0.0)
    );
    assert!(
        g.params["fc.weight"]
            .data
            .iter()
            .skip(1)
            .step_by(2)
            .all(|&w| w != 0.0)
    );
    // running statistics are frozen
    assert_eq!(g.params["bn.running_var"].data, vec![1.0, 0.5, 2.0, 1.5]);
    // the same seed gives the same weights
    let mut g2 = small();
    train::fine_tune(&mut g2, &x, &y, &masks, &cfg, |_| {}).unwrap();
    assert_eq!(g2.params, g.params);
    // bad input: a mask of the wrong size is an error naming it
    masks.insert("fc.bias".to_string(), vec![1.0]);
    let e = train::fine_tune(&mut g2, &x, &y, &masks, &cfg, |_| {}).unwrap_err();
    assert!(e.to_string().contains("fc.bias"), "{e}");
}

#[test]
fn a_fractional_epoch_trains_on_that_share_of_a_last_pass() {
    // every sample the same, so a pass's order does not matter and only the number of steps
    // (and their batch sizes) decides the weights
    let (x1, y1) = data(1);
    let copies = |n: usize| (x1.repeat(n), vec![y1[0]; n]);
    let cfg = |epochs: f64| FineTune {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 1e-4,
        epochs,
        batch: 12,
        seed: 3,
        batch_norm: evoprune_graph::train::BatchNorm::Frozen,
    };
    let masks = HashMap::new();
    let run = |n: usize, epochs: f64| {
        let (x, y) = copies(n);
        let mut g = small();
        let mut steps = Vec::new();
        let c = cfg(epochs);
        let losses = train::fine_tune(&mut g, &x, &y, &masks, &c, |p| steps.push(p.step)).unwrap();
        // the steps the progress counts are the steps taken
        let want: Vec<u64> = (1..=c.steps(n)).collect();
        assert_eq!(steps, want, "{n} samples, {epochs} epochs");
        (g.params, losses.len())
    };
    // 24 samples, 1.5 epochs: 2 steps, then 1 step of the half pass = 3 passes of 12
    let (a, passes) = run(24, 1.5);
    assert_eq!(passes, 2);
    assert_eq!(a, run(12, 3.0).0);
    assert_ne!(a, run(24, 1.0).0);
    assert_ne!(a, run(24, 2.0).0);
    // a quarter of 48 is one batch of 12
    assert_eq!(run(48, 0.25).0, run(12, 1.0).0);
    // out of range: an error naming epochs
    let (x, y) = copies(12);
    for bad in [f64::NAN, -0.5, f64::INFINITY] {
        let e = train::fine_tune(&mut small(), &x, &y, &masks, &cfg(bad), |_| {}).unwrap_err();
        assert!(e.to_string().contains("epochs"), "{e}");
    }
}

#[test]
fn chunked_gradients_match_finite_differences_and_respect_masks() {
    let g = small();
    // 70 samples: two chunks of unequal size, weighted by their share
    let (x, y) = data(70);
    let masks = HashMap::from([(
        "fc.weight".to_string(),
        (0..12).map(|i| (i % 2) as f32).collect::<Vec<f32>>(),
    )]);
    let grads = train::gradients(&g, &x, &y, &masks).unwrap();
    assert!(
        !grads.contains_key("bn.running_var"),
        "running statistics are frozen"
    );
    assert_eq!(grads["conv.weight"].len(), 108);
    // masked entries get no gradient
    assert!(grads["fc.weight"].iter().step_by(2).all(|&v| v == 0.0));
    // the function differentiated is the masked network's
    let mut gm = g.clone();
    for (w, m) in gm
        .params
        .get_mut("fc.weight")
        .unwrap()
        .data
        .iter_mut()
        .zip(&masks["fc.weight"])
    {
        *w *= m;
    }
    for (name, idx) in [
        ("conv.weight", 5usize),
        ("conv.weight", 100),
        ("bn.bias", 2),
        ("fc.weight", 7),
        ("fc.bias", 1),
    ] {
        let h = 1e-2f32;
        let mut gp = gm.clone();
        gp.params.get_mut(name).unwrap().data[idx] += h;
        let mut gn = gm.clone();
        gn.params.get_mut(name).unwrap().data[idx] -= h;
        let fd = (ref_loss(&gp, &x, &y) - ref_loss(&gn, &x, &y)) / (2.0 * h as f64);
        let got = grads[name][idx] as f64;
        assert!(
            (got - fd).abs() < 2e-3 + 2e-2 * fd.abs(),
            "{name}[{idx}]: chunked autodiff {got} vs finite difference {fd}"
        );
    }
    // bad input is an error, no panic
    assert!(train::gradients(&g, &x[..10], &y, &masks).is_err());
    let bad = HashMap::from([("fc.bias".to_string(), vec![1.0])]);
    assert!(train::gradients(&g, &x, &y, &bad).is_err());
}

/// From random weights a ResNet only learns with batch statistics (PyTorch's `model.train()`):
/// the running statistics move towards the data's, and the network then classifies in
/// inference mode (the reference executor).
#[test]
fn training_mode_batch_norm_trains_a_resnet_from_scratch() {
    let mut g = evoprune_graph::zoo::build("resnet20", 4, [1, 8, 8], 7).unwrap();
    // class k: a bright 4x4 quadrant k on noise
    let n = 64;
    let mut x = vec![0.0f32; n * 64];
    let mut y = Vec::with_capacity(n);
    let mut s = 12345u64;
    for i in 0..n {
        let k = i % 4;
        y.push(k as u32);
        for p in 0..64 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (r, c) = (p / 8, p % 8);
            let bright = (r / 4) * 2 + c / 4 == k;
            x[i * 64 + p] =
                (s >> 40) as f32 / (1u64 << 24) as f32 * 0.5 + if bright { 1.0 } else { 0.0 };
        }
    }
    let mean_name = g
        .params
        .keys()
        .find(|k| k.ends_with("running_mean"))
        .unwrap()
        .clone();
    let before = g.params[&mean_name].data.clone();
    let cfg = FineTune {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        epochs: 6.0,
        batch: 16,
        seed: 3,
        batch_norm: evoprune_graph::train::BatchNorm::Batch,
    };
    let losses = train::fine_tune(&mut g, &x, &y, &HashMap::new(), &cfg, |_| {}).unwrap();
    assert!(
        losses.last().unwrap() < &(0.5 * losses[0]),
        "losses {losses:?}"
    );
    assert_ne!(
        g.params[&mean_name].data, before,
        "running statistics moved"
    );
    let out = exec::run(&g, &Tensor::new(vec![n, 1, 8, 8], x)).unwrap();
    let right = evoprune_graph::net::correct(&out[0].data, &y, 4);
    assert!(
        right as f64 / n as f64 > 0.9,
        "{right}/{n} in inference mode"
    );
}
