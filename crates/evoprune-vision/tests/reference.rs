//! EfficientNet-Lite0 against the PyTorch reference outputs in ../shared/data (`#[ignore]`d:
//! `.ci/run` runs them with `--ignored` when the data is there), and structural checks that
//! always run.
//!
//! `EVOPRUNE_TEST_DEVICE` (default `cpu`) runs them on another device, e.g. the wgpu backend:
//! `EVOPRUNE_TEST_DEVICE=wgpu cargo test -p evoprune-vision --features wgpu --test reference`.

use burn::tensor::{Tensor, TensorData};
use evoprune_data::numpy::Array;
use evoprune_vision::{Compute, EfficientNetLite0, preprocess};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The device under test (`EVOPRUNE_TEST_DEVICE`, default the CPU).
fn compute() -> Compute {
    std::env::var("EVOPRUNE_TEST_DEVICE").map_or(Compute::Cpu, |s| s.parse().unwrap())
}

fn default_device() -> burn::tensor::Device {
    compute().open().unwrap()
}

/// The shared reference outputs, the real model and its device (../shared/data must be there).
fn shared() -> (
    PathBuf,
    serde_json::Value,
    EfficientNetLite0,
    burn::tensor::Device,
) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/efficientnet-lite0");
    let weights = dir.join("efficientnet-lite0.safetensors");
    assert!(
        weights.exists(),
        "{} is missing: this test needs ../shared/data",
        weights.display()
    );
    let reference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let dev = default_device();
    let model = EfficientNetLite0::load(&weights, &dev).unwrap();
    (dir, reference, model, dev)
}

/// Reached: 6.7e-6 (logits) and 8.8e-6 (features) on burn flex, 8.0e-6 on wgpu; the bound
/// leaves room for another CPU's summation order, not for a wrong layer.
#[test]
#[ignore = "needs ../shared/data"]
fn synthetic_input_matches_pytorch_logits_and_features_within_5e_5() {
    let (_, reference, model, dev) = shared();
    let x: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| (i as f64 * 0.001).sin() as f32)
        .collect();
    let feats = model.features(Tensor::<4>::from_data(
        TensorData::new(x, [1, 3, 224, 224]),
        &dev,
    ));
    let logits: Vec<f32> = model
        .classify(feats.clone())
        .into_data()
        .try_to_vec()
        .unwrap();
    let feats: Vec<f32> = feats.into_data().try_to_vec().unwrap();
    let syn = &reference["images"]["synthetic_sin"];
    let want = |k: &str| {
        syn[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect::<Vec<f32>>()
    };
    let (wl, wf) = (want("logits"), want("pooled"));
    assert_eq!((logits.len(), feats.len()), (wl.len(), wf.len()));
    let err = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    eprintln!(
        "EfficientNet-Lite0 vs PyTorch, synthetic input: max |logit error| {:.2e}, max |feature error| {:.2e}",
        err(&logits, &wl),
        err(&feats, &wf)
    );
    assert!(
        err(&logits, &wl) < 5e-5,
        "max logit error {}",
        err(&logits, &wl)
    );
    assert!(
        err(&feats, &wf) < 5e-5,
        "max feature error {}",
        err(&feats, &wf)
    );
}

#[test]
#[ignore = "needs ../shared/data"]
fn real_photos_get_the_reference_top5() {
    let (dir, reference, model, dev) = shared();
    for name in ["china", "flower"] {
        let img = dir.join(format!("../images/{name}.jpg"));
        let x = preprocess::imagenet(&img, 256, 224).unwrap();
        let feats = model.features(Tensor::<4>::from_data(
            TensorData::new(x, [1, 3, 224, 224]),
            &dev,
        ));
        let logits: Vec<f32> = model.classify(feats).into_data().try_to_vec().unwrap();
        let mut idx: Vec<usize> = (0..1000).collect();
        idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let want: Vec<usize> = reference["images"][name]["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[0].as_u64().unwrap() as usize)
            .collect();
        eprintln!("{name}: top-5 {:?}, reference {:?}", &idx[..5], want);
        assert_eq!(idx[0], want[0], "{name}: top-1");
        let mut got5 = idx[..5].to_vec();
        let mut want5 = want.clone();
        got5.sort_unstable();
        want5.sort_unstable();
        assert_eq!(got5, want5, "{name}: top-5 set");
    }
}

/// Random weights of the right shapes (a self-made fixture: no shared data needed).
fn fixture() -> HashMap<String, Array> {
    let mut map: HashMap<String, Array> = HashMap::new();
    let mut seed = 1u64;
    let mut rnd = |n: usize| {
        (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 0.2
            })
            .collect::<Vec<f32>>()
    };
    let mut put = |name: String, shape: Vec<usize>, data: Vec<f32>| {
        map.insert(name, Array { shape, data });
    };
    let bn = |put: &mut dyn FnMut(String, Vec<usize>, Vec<f32>), p: &str, c: usize| {
        put(format!("{p}.weight"), vec![c], vec![1.0; c]);
        put(format!("{p}.bias"), vec![c], vec![0.0; c]);
        put(format!("{p}.running_mean"), vec![c], vec![0.0; c]);
        put(format!("{p}.running_var"), vec![c], vec![1.0; c]);
    };
    put("_conv_stem.weight".into(), vec![32, 3, 3, 3], rnd(32 * 27));
    bn(&mut put, "_bn0", 32);
    for (i, s) in evoprune_vision::BlockSpec::lite0().iter().enumerate() {
        let mid = s.c_in * s.expand;
        if s.expand != 1 {
            put(
                format!("_blocks.{i}._expand_conv.weight"),
                vec![mid, s.c_in, 1, 1],
                rnd(mid * s.c_in),
            );
            bn(&mut put, &format!("_blocks.{i}._bn0"), mid);
        }
        put(
            format!("_blocks.{i}._depthwise_conv.weight"),
            vec![mid, 1, s.kernel, s.kernel],
            rnd(mid * s.kernel * s.kernel),
        );
        bn(&mut put, &format!("_blocks.{i}._bn1"), mid);
        put(
            format!("_blocks.{i}._project_conv.weight"),
            vec![s.c_out, mid, 1, 1],
            rnd(s.c_out * mid),
        );
        bn(&mut put, &format!("_blocks.{i}._bn2"), s.c_out);
    }
    put(
        "_conv_head.weight".into(),
        vec![1280, 320, 1, 1],
        rnd(1280 * 320),
    );
    bn(&mut put, "_bn1", 1280);
    put("_fc.weight".into(), vec![1000, 1280], rnd(1000 * 1280));
    put("_fc.bias".into(), vec![1000], vec![0.0; 1000]);
    map
}

#[test]
fn random_weights_fixture_runs_and_bad_weights_are_named() {
    let mut map = fixture();
    let dev = default_device();
    let p = Path::new("fixture.safetensors");
    let m = EfficientNetLite0::from_tensors(&map, p, &dev).unwrap();
    let f = m
        .features_of(&vec![0.1; 2 * 3 * 64 * 64], 2, 64, 64)
        .unwrap();
    assert_eq!(f.len(), 2 * 1280);
    assert!(f.iter().all(|v| v.is_finite()));
    map.get_mut("_blocks.3._depthwise_conv.weight")
        .unwrap()
        .shape = vec![144, 1, 3, 3];
    let e = EfficientNetLite0::from_tensors(&map, p, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("_blocks.3._depthwise_conv.weight") && e.contains("fixture.safetensors"),
        "{e}"
    );
    let mut map = fixture();
    map.remove("_fc.bias");
    let e = EfficientNetLite0::from_tensors(&map, p, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing tensor '_fc.bias'"), "{e}");
}

#[test]
fn feature_cache_hits_on_the_same_input_and_misses_on_a_changed_one() {
    use evoprune_vision::extract::{CacheUse, Preprocessing, cached};
    let dir = std::env::temp_dir().join(format!("evoprune-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let weights = dir.join("w.safetensors");
    let map = fixture();
    let tensors: Vec<(&str, &[usize], &[f32])> = map
        .iter()
        .map(|(k, a)| (k.as_str(), a.shape.as_slice(), a.data.as_slice()))
        .collect();
    evoprune_data::tensors::write(&weights, &tensors, HashMap::new()).unwrap();
    let dev = default_device();
    let model = EfficientNetLite0::load(&weights, &dev).unwrap();
    let pixels: Vec<f32> = (0..5 * 28 * 28).map(|i| (i % 255) as f32 / 255.0).collect();
    let data = evoprune_data::Dataset::new(pixels.clone(), vec![1, 28, 28], vec![0, 1, 2, 1, 0], 3)
        .unwrap();
    let prep = Preprocessing {
        input_size: 32,
        batch: 2,
        compute: compute(),
    };
    // batches run in parallel on the rayon pool, one per thread: the same features on 1 or 2
    // threads, progress after each group of batches
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut calls = Vec::new();
        let f = pool
            .install(|| {
                evoprune_vision::extract::extract(&model, &data, &prep, |d, t| calls.push((d, t)))
            })
            .unwrap();
        (f, calls)
    };
    let (one, calls1) = on(1);
    let (two, calls2) = on(2);
    assert_eq!(one, two);
    assert_eq!(calls1, vec![(2, 5), (4, 5), (5, 5)]);
    if compute() == Compute::Cpu {
        assert_eq!(calls2, vec![(4, 5), (5, 5)]);
    } else {
        assert_eq!(calls2, calls1, "a GPU runs the batches one after the other");
    }
    let (f1, hit1) = cached(
        &dir.join("cache"),
        &weights,
        &model,
        &data,
        &prep,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(hit1, CacheUse::Miss);
    assert_eq!(f1, one);
    let (f2, hit2) = cached(
        &dir.join("cache"),
        &weights,
        &model,
        &data,
        &prep,
        |_, _| panic!("a hit computes nothing"),
    )
    .unwrap();
    assert_eq!(hit2, CacheUse::Hit);
    assert_eq!(f1, f2);
    // a damaged entry is recomputed with the reason, and replaced
    let entry = std::fs::read_dir(dir.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .unwrap();
    let bytes = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
    let (f2b, used) = cached(
        &dir.join("cache"),
        &weights,
        &model,
        &data,
        &prep,
        |_, _| {},
    )
    .unwrap();
    assert!(matches!(used, CacheUse::Replaced(_)), "{used:?}");
    assert_eq!(f2b, f1);
    let again = cached(
        &dir.join("cache"),
        &weights,
        &model,
        &data,
        &prep,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(again, (f1.clone(), CacheUse::Hit));
    let mut changed = pixels;
    changed[100] = 0.0;
    let data2 =
        evoprune_data::Dataset::new(changed, vec![1, 28, 28], vec![0, 1, 2, 1, 0], 3).unwrap();
    let (f3, hit3) = cached(
        &dir.join("cache"),
        &weights,
        &model,
        &data2,
        &prep,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(
        hit3,
        CacheUse::Miss,
        "a changed input is never served stale features"
    );
    assert_ne!(f3, f1);
    let other = Preprocessing {
        input_size: 64,
        batch: 2,
        compute: compute(),
    };
    let other_use = cached(
        &dir.join("cache"),
        &weights,
        &model,
        &data,
        &other,
        |_, _| {},
    );
    assert_eq!(other_use.unwrap().1, CacheUse::Miss);
    // features of another device are another cache entry; a model loaded elsewhere is refused
    let gpu = Preprocessing {
        compute: if compute() == Compute::Cpu {
            Compute::WgpuCpu
        } else {
            Compute::Cpu
        },
        ..prep.clone()
    };
    let key = |p: &Preprocessing| evoprune_vision::extract::cache_key(&weights, &data, p).unwrap();
    assert_ne!(key(&gpu), key(&prep));
    let e = cached(&dir.join("cache"), &weights, &model, &data, &gpu, |_, _| {}).unwrap_err();
    assert!(
        e.to_string().contains("device") || e.to_string().contains("--features"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Grad-CAM's closed form against finite differences: the channel weights are the spatial means
/// of d f_j / d A_k, measured by nudging all of channel k of the last block's output.
#[test]
fn grad_cam_matches_finite_differences() {
    let dev = default_device();
    // the random fixture with batch-norm shifts of 0.5, so activations stay of order one
    let mut w = fixture();
    for (name, a) in w.iter_mut() {
        if name.contains("_bn") && name.ends_with(".bias") {
            a.data.iter_mut().for_each(|v| *v = 0.5);
        }
    }
    let m = EfficientNetLite0::from_tensors(&w, Path::new("fixture.safetensors"), &dev).unwrap();
    let (n, s) = (1, 128);
    let x: Vec<f32> = (0..3 * s * s)
        .map(|i| ((i * 7919) % 113) as f32 / 56.0 - 1.0)
        .collect();
    let input = || Tensor::<4>::from_data(TensorData::new(x.clone(), [n, 3, s, s]), &dev);
    let a = m.last_block_output(input());
    let [_, c, h, w] = a.dims();
    let hw = h * w;
    let av = a.clone().into_data().try_to_vec::<f32>().unwrap();
    let pooled = |av: &[f32], j: usize| -> f64 {
        let t = Tensor::<4>::from_data(TensorData::new(av.to_vec(), [1, c, h, w]), &dev);
        let z = m.head_conv(t).into_data().try_to_vec::<f32>().unwrap();
        z[j * hw..(j + 1) * hw]
            .iter()
            .map(|&v| f64::from(v.clamp(0.0, 6.0)))
            .sum::<f64>()
            / hw as f64
    };
    let zs = m.head_conv(a).into_data().try_to_vec::<f32>().unwrap();
    // a channel with an unsaturated position (non-zero gradient) and no position near a kink of
    // ReLU6, where a finite difference would straddle it
    let j = (0..1280)
        .find(|&j| {
            let zj = &zs[j * hw..(j + 1) * hw];
            zj.iter().any(|&v| v > 0.0 && v < 6.0)
                && zj.iter().all(|&v| v.abs() > 0.05 && (v - 6.0).abs() > 0.05)
        })
        .expect("a usable channel");
    let base = pooled(&av, j);
    let eps = 1e-2f32;
    let mut cam = vec![0.0f64; hw];
    for k in 0..c {
        let mut nudged = av.clone();
        nudged[k * hw..(k + 1) * hw]
            .iter_mut()
            .for_each(|v| *v += eps);
        let alpha = (pooled(&nudged, j) - base) / (f64::from(eps) * hw as f64);
        for p in 0..hw {
            cam[p] += alpha * f64::from(av[k * hw + p]);
        }
    }
    let top = cam.iter().fold(0.0f64, |a, &v| a.max(v));
    let expect: Vec<f64> = cam.iter().map(|&v| v.max(0.0) / top).collect();
    let (maps, [gh, gw]) = m.grad_cam(input(), &[j]).unwrap();
    assert_eq!((gh, gw), (s / 32, s / 32));
    for (g, e) in maps[0][0].iter().zip(&expect) {
        assert!(
            (f64::from(*g) - e).abs() < 2e-2,
            "{:?} vs {expect:?}",
            maps[0][0]
        );
    }
    assert!(m.grad_cam(input(), &[1280]).is_err());
}
