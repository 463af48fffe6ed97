//! ResNet-50 (torchvision layout) against PyTorch on formula-generated weights: the fixture
//! `tests/fixtures/resnet50_forward.json` comes from `scripts/make_resnet50_fixture.py`, which
//! documents the formula this test mirrors.

use evoprune_data::numpy::Array;
use evoprune_vision::{ResNet50, default_device};
use std::collections::HashMap;
use std::path::Path;

fn formula(t: u64, n: usize) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            (i.wrapping_mul(2_654_435_761).wrapping_add(97 * t + 1) % (1u64 << 32)) as f64
                / 4_294_967_296.0
        })
        .collect()
}

fn value(name: &str, shape: &[usize], t: u64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    formula(t, n)
        .into_iter()
        .map(|u| {
            let v = if name.ends_with("running_var")
                || (name.ends_with(".weight") && shape.len() == 1)
            {
                0.5 + u
            } else if name.ends_with("weight") {
                let fan_in: usize = shape[1..].iter().product();
                (2.0 * u - 1.0) * (3.0 / fan_in as f64).sqrt()
            } else {
                (u - 0.5) * 0.2
            };
            v as f32
        })
        .collect()
}

fn fixture() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resnet50_forward.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn weights(fx: &serde_json::Value) -> HashMap<String, Array> {
    let names = fx["names"].as_array().unwrap();
    let shapes = fx["shapes"].as_array().unwrap();
    names
        .iter()
        .zip(shapes)
        .enumerate()
        .map(|(t, (n, s))| {
            let name = n.as_str().unwrap().to_string();
            let shape: Vec<usize> = s
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let data = value(&name, &shape, t as u64);
            (name, Array { shape, data })
        })
        .collect()
}

#[test]
fn forward_matches_pytorch_on_formula_weights() {
    let fx = fixture();
    let map = weights(&fx);
    assert_eq!(
        map.len(),
        267,
        "torchvision resnet50: 53 convs, 53 batch norms x 4, fc"
    );
    let dev = default_device();
    let m = ResNet50::from_tensors(&map, Path::new("<formula>"), &dev).unwrap();
    assert_eq!(m.classes(), 1000);
    let x: Vec<f32> = formula(100_000, 2 * 3 * 64 * 64)
        .into_iter()
        .map(|u| (u * 2.0 - 1.0) as f32)
        .collect();
    let f = m.features_of(&x, 2, 64, 64).unwrap();
    let want_f: Vec<f64> = fx["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(f.len(), want_f.len());
    let max_f = f
        .iter()
        .zip(&want_f)
        .map(|(a, b)| (f64::from(*a) - b).abs())
        .fold(0.0, f64::max);
    let t = burn::tensor::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(f.clone(), [2, 2048]),
        &dev,
    );
    let z: Vec<f32> = m.classify(t).into_data().try_to_vec().unwrap();
    let max_z = z
        .iter()
        .zip(fx["logits"].as_array().unwrap())
        .map(|(a, b)| (f64::from(*a) - b.as_f64().unwrap()).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "ResNet-50 vs PyTorch: max |feature error| {max_f:.2e}, max |logit error| {max_z:.2e}"
    );
    assert!(max_f < 1e-3 && max_z < 1e-3, "{max_f} {max_z}");
}

#[test]
fn missing_or_misshapen_tensors_are_errors_naming_them() {
    let fx = fixture();
    let mut map = weights(&fx);
    map.remove("layer3.2.bn2.running_var");
    let e = ResNet50::from_tensors(&map, Path::new("w.safetensors"), &default_device())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("layer3.2.bn2.running_var") && e.contains("w.safetensors"),
        "{e}"
    );
    let mut map = weights(&fx);
    map.get_mut("layer1.0.conv2.weight").unwrap().shape = vec![64, 64, 1, 9];
    let e = ResNet50::from_tensors(&map, Path::new("w.safetensors"), &default_device())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("layer1.0.conv2.weight"), "{e}");
}

#[test]
fn pth_checkpoints_are_read_through_the_same_path() {
    // a real zip-format .pth (not a ResNet): it is parsed, and the first missing tensor named
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../evoprune-data/tests/fixtures/tiny.pth");
    let e = ResNet50::load(&p, &default_device())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("tiny.pth") && e.contains("conv1.weight"), "{e}");
}
