//! The model zoo: PyTorch's parameter counts, hand-counted MACs, PyTorch's tensor names (the
//! zoo ResNet-20 loaded with the weights of the PyTorch-exported fixture computes its logits;
//! the zoo LeNets loaded with evoprune-nn's weights compute evoprune-nn's logits), and every
//! network builds, runs, exports and splits into channel groups.

mod common;
use evoprune_graph::groups::analyze;
use evoprune_graph::{Graph, GraphError, Tensor, exec, fast, fold, onnx, stats, zoo};
use safetensors::tensor::{Dtype, TensorView};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn npy(name: &str) -> Tensor {
    let a = evoprune_data::numpy::read_npy(&fixture(name)).unwrap();
    Tensor::new(a.shape, a.data)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn params(arch: &str, classes: usize, input: [usize; 3]) -> usize {
    stats::stats(&zoo::build(arch, classes, input, 0).unwrap())
        .unwrap()
        .params
}

/// Write `(name, shape, values)` tensors as f32 safetensors.
fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, d)| d.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn graph_tensors(g: &Graph) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    g.params
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.clone(), t.data.clone()))
        .collect()
}

const CIFAR: [usize; 3] = [3, 32, 32];
const IMAGENET: [usize; 3] = [3, 224, 224];

/// ResNet-20: PyTorch's count recorded with the fixture (tests/fixtures/resnet20.json,
/// `sum(p.numel() for p in model.parameters())`). The other CIFAR ResNets: by hand (as in
/// evoprune-vision's resnet_cifar test), stem 3*16*9, per stage 2n 3x3 convolutions (the
/// first of stages 2 and 3 reading half the channels), batch-norm scale and shift per channel,
/// linear 64*10 + 10; 20 and 56 give the paper's 0.27M and 0.85M (and evoprune-vision's test).
/// ResNet-110 with option-A shortcuts has 1,727,962 parameters: the 1,730,714 sometimes quoted
/// is option B's: its two 1x1 projection shortcuts, 16*32 + 32*64 weights and 2*(32 + 64)
/// batch-norm parameters, add exactly 2,752.
fn cifar_resnet_by_hand(depth: usize) -> usize {
    let n = (depth - 2) / 6;
    let convs = 27 * 16
        + 2 * n * 16 * 16 * 9
        + (16 * 32 * 9 + (2 * n - 1) * 32 * 32 * 9)
        + (32 * 64 * 9 + (2 * n - 1) * 64 * 64 * 9);
    let bn_channels = 16 + 2 * n * (16 + 32 + 64);
    convs + 2 * bn_channels + 64 * 10 + 10
}

#[test]
fn cifar_resnets_count_like_pytorch() {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("resnet20.json")).unwrap()).unwrap();
    assert_eq!(
        params("resnet20", 10, CIFAR),
        j["torch_params"].as_u64().unwrap() as usize
    );
    for (arch, depth, want) in [
        ("resnet20", 20, 269_722),
        ("resnet32", 32, 464_154),
        ("resnet44", 44, 658_586),
        ("resnet56", 56, 853_018),
        ("resnet110", 110, 1_727_962),
    ] {
        assert_eq!(cifar_resnet_by_hand(depth), want);
        assert_eq!(params(arch, 10, CIFAR), want, "{arch}");
    }
    assert_eq!(1_727_962 + 16 * 32 + 32 * 64 + 2 * (32 + 64), 1_730_714);
}

/// torchvision's published counts (the `num_params` of each model's IMAGENET1K_V1 weights in
/// the torchvision docs; re-derived by hand from the layer tables while writing this test):
/// resnet18 11,689,512; resnet50 25,557,032; mobilenet_v2 3,504,872. EfficientNet-Lite0:
/// the sum of the non-running-statistics tensors of the shared ImageNet weights
/// (../shared/data/efficientnet-lite0/efficientnet-lite0.safetensors), 4,652,008. The LeNets:
/// Caffe LeNet-5 20*25+20 + 50*20*25+50 + 800*500+500 + 500*10+10 = 431,080 (evoprune-nn's
/// figure); LeNet-300-100 784*300+300 + 300*100+100 + 100*10+10 = 266,610.
#[test]
fn imagenet_and_mnist_networks_count_like_pytorch() {
    assert_eq!(params("resnet18", 1000, IMAGENET), 11_689_512);
    assert_eq!(params("resnet50", 1000, IMAGENET), 25_557_032);
    assert_eq!(params("mobilenet-v2", 1000, IMAGENET), 3_504_872);
    assert_eq!(params("efficientnet-lite0", 1000, IMAGENET), 4_652_008);
    assert_eq!(params("lenet", 10, [1, 28, 28]), 431_080);
    assert_eq!(params("lenet-300-100", 10, [1, 28, 28]), 266_610);
    // the CIFAR head of VGG (32x32 inputs: features then Linear(512, classes)), by hand:
    // sum over convolutions of 9 c_in c_out + c_out + 2 c_out (batch norm), plus 512*10 + 10
    let vgg = |cfg: &[usize]| {
        let mut c_in = 3;
        let mut p = 512 * 10 + 10;
        for &c in cfg {
            p += 9 * c_in * c + 3 * c;
            c_in = c;
        }
        p
    };
    let a = [64, 128, 256, 256, 512, 512, 512, 512];
    let d = [
        64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512,
    ];
    assert_eq!((vgg(&a), vgg(&d)), (9_231_114, 14_728_266));
    assert_eq!(params("vgg11-bn", 10, CIFAR), 9_231_114);
    assert_eq!(params("vgg16-bn", 10, CIFAR), 14_728_266);
}

/// torchvision's published count for vgg16_bn (IMAGENET1K_V1 `num_params`): 138,365,992, of
/// which the ImageNet head's 25088*4096 + 4096*4096 + 4096*1000 weights and biases are
/// 123,642,856. Builds 553 MB of weights.
#[test]
fn vgg16_bn_with_the_imagenet_head_counts_like_torchvision() {
    let g = zoo::build("vgg16-bn", 1000, IMAGENET, 0).unwrap();
    assert_eq!(stats::stats(&g).unwrap().params, 138_365_992);
    assert_eq!(g.params["classifier.0.weight"].shape, [4096, 25088]);
    assert_eq!(g.params["classifier.6.weight"].shape, [1000, 4096]);
    assert!(!g.nodes.iter().any(|n| n.name == "avgpool"), "7x7 already");
}

fn macs(arch: &str, classes: usize, input: [usize; 3]) -> usize {
    stats::stats(&zoo::build(arch, classes, input, 0).unwrap())
        .unwrap()
        .macs
}

#[test]
fn macs_are_the_hand_counts() {
    // ResNet-20 (as in onnx_import.rs): stem 32*32*16*3*9 = 442,368; stage 1: 6 convolutions
    // of 32*32*16*16*9 = 2,359,296; stages 2 and 3: 16*16*32*16*9 = 1,179,648 (the strided
    // first one) + 5 x 2,359,296 each (8*8*64*32*9 and 8*8*64*64*9 are the same numbers);
    // linear 64*10
    let stage = |n: usize| 1_179_648 + (2 * n - 1) * 2_359_296;
    assert_eq!(
        macs("resnet20", 10, CIFAR),
        442_368 + 6 * 2_359_296 + 2 * stage(3) + 640
    );
    assert_eq!(macs("resnet20", 10, CIFAR), 40_551_040);
    // ResNet-56: n = 9, the same layers 18 and 17 + 1 times
    assert_eq!(
        macs("resnet56", 10, CIFAR),
        442_368 + 18 * 2_359_296 + 2 * stage(9) + 640
    );
    assert_eq!(macs("resnet56", 10, CIFAR), 125_485_696);
    // layer-by-layer hand counts (convolutions: output pixels x c_out x c_in/groups x k^2;
    // the classifier c x 1000), the GFLOPS torchvision publishes for these models (1.81, 4.09
    // and 0.30: multiply-accumulates) rounded
    assert_eq!(macs("resnet18", 1000, IMAGENET), 1_814_073_344);
    assert_eq!(macs("resnet50", 1000, IMAGENET), 4_089_184_256);
    assert_eq!(macs("mobilenet-v2", 1000, IMAGENET), 300_774_272);
    // LeNet-5: 24*24*20*25 + 8*8*50*20*25 + 800*500 + 500*10 (evoprune-nn's dense MACs)
    assert_eq!(
        macs("lenet", 10, [1, 28, 28]),
        288_000 + 1_600_000 + 400_000 + 5_000
    );
}

/// The zoo ResNet-20 with the weights of the PyTorch model exported to
/// tests/fixtures/resnet20-ts-bn.onnx (batch norm kept; its initializers carry the PyTorch
/// parameter names) computes that model's logits: same names, shapes and wiring.
#[test]
fn zoo_resnet20_with_the_fixture_weights_is_the_pytorch_model() {
    let reference = onnx::load(&fixture("resnet20-ts-bn.onnx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet20.safetensors");
    write_safetensors(&path, &graph_tensors(&reference));
    let mut g = zoo::build("resnet20", 10, CIFAR, 1).unwrap();
    assert_eq!(
        g.params.keys().collect::<Vec<_>>(),
        reference.params.keys().collect::<Vec<_>>(),
        "the same tensors"
    );
    let fresh = g.params["layer2.0.conv1.weight"].clone();
    zoo::load_weights(&mut g, &path).unwrap();
    assert_eq!(g.params, reference.params);
    assert_ne!(g.params["layer2.0.conv1.weight"], fresh);
    let x = npy("resnet20.input.npy");
    let want = exec::run(&reference, &x).unwrap().remove(0);
    let got = exec::run(&g, &x).unwrap().remove(0);
    assert_eq!(got.shape, [x.shape[0], 10]);
    let d = max_abs(&got.data, &want.data);
    assert!(d < 1e-4, "zoo vs imported ResNet-20: {d}");
    let ort = npy("resnet20.ort.npy");
    let d = max_abs(&got.data, &ort.data);
    assert!(d < 1e-4, "zoo ResNet-20 vs onnxruntime: {d}");
    // folding the zoo graph's batch norms gives the same function
    let folded = exec::run(&fold::fold_batch_norms(&g), &x)
        .unwrap()
        .remove(0);
    assert!(max_abs(&folded.data, &want.data) < 1e-4);
    // the pooled features are the classifier's input
    let pooled = exec::run_until(&g, &x, &[zoo::POOLED.to_string()])
        .unwrap()
        .remove(0);
    assert_eq!(pooled.shape, [x.shape[0], 64]);
}

/// The zoo LeNets loaded with evoprune-nn's networks (PyTorch-named tensors) compute
/// evoprune-nn's logits.
#[test]
fn zoo_lenets_are_evoprune_nns() {
    let dir = tempfile::tempdir().unwrap();
    let n = 5;
    let x: Vec<f32> = (0..n * 784)
        .map(|i| ((i * 37 % 251) as f32) / 251.0)
        .collect();
    let input = Tensor::new(vec![n, 1, 28, 28], x.clone());
    let lenet = evoprune_nn::lenet::LeNet::random(3);
    let tensors: Vec<_> = evoprune_nn::lenet::lenet_shapes()
        .into_iter()
        .map(|(k, s)| (k.to_string(), s, lenet.tensors[k].clone()))
        .collect();
    let dense = evoprune_nn::dense::DenseNet::lenet_300_100(4);
    let dense_tensors: Vec<_> = dense
        .tensors()
        .into_iter()
        .map(|(k, s, v)| (k, s, v.to_vec()))
        .collect();
    for (arch, t, want) in [
        ("lenet", tensors, lenet.logits(&x).unwrap()),
        ("lenet-300-100", dense_tensors, dense.logits(&x).unwrap()),
    ] {
        let path = dir.path().join(format!("{arch}.safetensors"));
        write_safetensors(&path, &t);
        let mut g = zoo::build(arch, 10, [1, 28, 28], 0).unwrap();
        zoo::load_weights(&mut g, &path).unwrap();
        let got = exec::run(&g, &input).unwrap().remove(0);
        let d = max_abs(&got.data, &want);
        assert!(d < 1e-4, "{arch}: zoo vs evoprune-nn {d}");
    }
}

/// Every network builds at a small input, runs a batch of two to finite logits and pooled
/// features, exports to ONNX and back unchanged, and splits into coupled-channel groups; the
/// same seed gives the same weights, another seed others.
#[test]
fn every_network_builds_runs_exports_and_splits_into_groups() {
    for &arch in zoo::names() {
        let input = match arch {
            "lenet" | "lenet-300-100" => [1, 28, 28],
            "resnet18" | "resnet50" | "mobilenet-v2" | "efficientnet-lite0" => [3, 64, 64],
            _ => CIFAR,
        };
        let g = zoo::build(arch, 7, input, 11).unwrap();
        assert_eq!(g, zoo::build(arch, 7, input, 11).unwrap(), "{arch}");
        let other = zoo::build(arch, 7, input, 12).unwrap();
        assert_ne!(g.params, other.params, "{arch}");
        assert_eq!(g.outputs, [zoo::LOGITS]);
        let n: usize = input.iter().product();
        let x = Tensor::new(
            [2].into_iter().chain(input).collect(),
            (0..2 * n)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect(),
        );
        let want = [zoo::LOGITS.to_string(), zoo::POOLED.to_string()];
        let y = exec::run_until(&g, &x, &want).unwrap();
        assert_eq!(y[0].shape, [2, 7], "{arch}");
        assert_eq!(y[1].shape[0], 2, "{arch}");
        assert!(
            y.iter().all(|t| t.data.iter().all(|v| v.is_finite())),
            "{arch}"
        );
        assert!(y[0].data.iter().any(|&v| v != 0.0), "{arch}");
        let back = onnx::load_bytes(&onnx::to_bytes(&g).unwrap(), arch, None).unwrap();
        assert_eq!(back.params, g.params, "{arch}");
        assert_eq!(exec::run(&back, &x).unwrap()[0].data, y[0].data, "{arch}");
        let a = analyze(&g).unwrap();
        assert!(!a.groups.is_empty(), "{arch}");
    }
}

#[test]
fn pooled_features_have_the_classifiers_width() {
    for (arch, input, width) in [
        ("resnet20", CIFAR, 64),
        ("resnet18", [3, 64, 64], 512),
        ("resnet50", [3, 64, 64], 2048),
        ("mobilenet-v2", [3, 64, 64], 1280),
        ("efficientnet-lite0", [3, 64, 64], 1280),
        ("vgg11-bn", CIFAR, 512),
        ("lenet", [1, 28, 28], 800),
    ] {
        let g = zoo::build(arch, 10, input, 0).unwrap();
        let s = evoprune_graph::shape::infer(&g, 1).unwrap();
        assert_eq!(s[zoo::POOLED], [1, width], "{arch}");
    }
}

#[test]
fn an_unknown_network_is_an_error_listing_the_known_ones() {
    let e = zoo::build("resnet19", 10, CIFAR, 0).unwrap_err();
    assert!(matches!(e, GraphError::Invalid { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("\"resnet19\""), "{msg}");
    for name in zoo::names() {
        assert!(msg.contains(name), "{msg} lacks {name}");
    }
    assert!(zoo::build("resnet20", 0, CIFAR, 0).is_err());
    assert!(zoo::build("resnet20", 10, [3, 0, 32], 0).is_err());
    // VGG's ImageNet head only where adaptive pooling to 7x7 is an exact average pooling
    let e = zoo::build("vgg11-bn", 10, [3, 64, 64], 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("vgg11-bn") && e.contains("7x7"), "{e}");
}

#[test]
fn a_weights_file_missing_a_tensor_or_misshaping_one_names_it_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let g = zoo::build("resnet20", 10, CIFAR, 5).unwrap();
    let mut t = graph_tensors(&g);
    t.retain(|(k, _, _)| k != "layer2.1.bn1.running_var");
    t.push(("unused.extra".into(), vec![2], vec![1.0, 2.0]));
    let path = dir.path().join("missing.safetensors");
    write_safetensors(&path, &t);
    let mut h = zoo::build("resnet20", 10, CIFAR, 6).unwrap();
    let before = h.clone();
    let e = zoo::load_weights(&mut h, &path).unwrap_err();
    assert!(matches!(e, GraphError::Tensor { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("layer2.1.bn1.running_var") && msg.contains("missing.safetensors"),
        "{msg}"
    );
    assert_eq!(h, before, "unchanged on error");
    // mis-shaped
    let mut t = graph_tensors(&g);
    let fc = t.iter_mut().find(|(k, _, _)| k == "linear.weight").unwrap();
    fc.1 = vec![64, 10];
    let path = dir.path().join("shape.safetensors");
    write_safetensors(&path, &t);
    let msg = zoo::load_weights(&mut h, &path).unwrap_err().to_string();
    assert!(
        msg.contains("linear.weight")
            && msg.contains("[64, 10]")
            && msg.contains("shape.safetensors"),
        "{msg}"
    );
    // complete (with an extra tensor): loads
    let mut t = graph_tensors(&g);
    t.push(("num_batches_tracked".into(), vec![1], vec![3.0]));
    write_safetensors(&path, &t);
    zoo::load_weights(&mut h, &path).unwrap();
    assert_eq!(h.params, g.params);
    let e = zoo::load_weights(&mut h, &dir.path().join("none.safetensors")).unwrap_err();
    assert!(e.to_string().contains("none.safetensors"), "{e}");
}

/// `new_head`: every tensor of a file trained for other classes but the classifier's, which is
/// the seeded new one; without it the classifier's shape is an error naming it.
#[test]
fn a_new_head_keeps_the_backbone_of_a_file_trained_for_other_classes() {
    let dir = tempfile::tempdir().unwrap();
    let g = zoo::build("resnet20", 10, CIFAR, 5).unwrap();
    let path = dir.path().join("ten.safetensors");
    write_safetensors(&path, &graph_tensors(&g));
    let config = |new_head| evoprune_graph::model::ModelConfig {
        arch: Some("resnet20".into()),
        weights: Some(path.clone()),
        classes: Some(4),
        new_head,
        ..Default::default()
    };
    let e = config(false).load(9).unwrap_err().to_string();
    assert!(e.contains("linear.") && e.contains("needs [4"), "{e}");
    let h = config(true).load(9).unwrap();
    assert_eq!(zoo::head_params(&h), ["linear.weight", "linear.bias"]);
    let fresh = zoo::build("resnet20", 4, CIFAR, 9).unwrap();
    assert_eq!(h.params.len(), g.params.len());
    for (k, t) in &h.params {
        let want = if k.starts_with("linear.") {
            &fresh.params[k]
        } else {
            &g.params[k]
        };
        assert_eq!(t, want, "{k}");
    }
    assert!(config(true).describe().contains("new head"));
    let mut m = config(true);
    m.weights = None;
    let e = m.load(9).unwrap_err().to_string();
    assert!(e.contains("new_head"), "{e}");
}

/// f16 weights load as their f32 values.
#[test]
fn half_precision_weights_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = zoo::build("lenet-300-100", 10, [1, 28, 28], 0).unwrap();
    // 1.5 and -0.25 in IEEE half precision
    let views: Vec<(String, Vec<usize>, Vec<u8>)> = g
        .params
        .iter()
        .map(|(k, t)| {
            let bytes = (0..t.len())
                .flat_map(|i| if i % 2 == 0 { 0x3e00u16 } else { 0xb400 }.to_le_bytes())
                .collect();
            (k.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = views
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                TensorView::new(Dtype::F16, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let path = dir.path().join("half.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    zoo::load_weights(&mut g, &path).unwrap();
    assert_eq!(g.params["fc2.weight"].data[..4], [1.5, -0.25, 1.5, -0.25]);
}

/// The row `k` of a `[rows, n]` row-major matrix.
fn row(t: &[f32], n: usize, k: usize) -> &[f32] {
    &t[k * n..(k + 1) * n]
}

/// The zoo EfficientNet-Lite0 with the shared ImageNet weights: pooled features of a synthetic
/// input and a photo equal evoprune-vision's `EfficientNetLite0` (burn, batch norm folded)
/// within 1e-4, its logits those of vision's features through `_fc`, and on the synthetic
/// input the pooled features and logits PyTorch recorded (reference.json) within 1e-4.
#[test]
#[ignore = "needs ../shared/data"]
fn efficientnet_lite0_with_the_real_weights_matches_evoprune_vision_and_pytorch() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let weights = data.join("efficientnet-lite0/efficientnet-lite0.safetensors");
    assert!(weights.exists(), "{} is missing", weights.display());
    let mut g = zoo::build("efficientnet-lite0", 1000, IMAGENET, 0).unwrap();
    zoo::load_weights(&mut g, &weights).unwrap();
    let synthetic: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| (i as f64 * 0.001).sin() as f32)
        .collect();
    let photo =
        evoprune_vision::preprocess::imagenet(&data.join("images/china.jpg"), 256, 224).unwrap();
    let x = Tensor::new(vec![2, 3, 224, 224], [synthetic, photo].concat());
    let wanted = [zoo::LOGITS.to_string(), zoo::POOLED.to_string()];
    let y = exec::run_until(&g, &x, &wanted).unwrap();
    let (logits, pooled) = (&y[0].data, &y[1].data);
    assert_eq!(
        (y[0].shape.as_slice(), y[1].shape.as_slice()),
        (&[2, 1000][..], &[2, 1280][..])
    );
    let vision =
        evoprune_vision::EfficientNetLite0::load(&weights, &evoprune_vision::default_device())
            .unwrap();
    let feats = vision.features_of(&x.data, 2, 224, 224).unwrap();
    let d = max_abs(pooled, &feats);
    eprintln!("zoo vs evoprune-vision pooled features: {d:.2e}");
    assert!(d < 1e-4, "zoo vs evoprune-vision pooled features: {d}");
    let (w, b) = (&g.params["_fc.weight"].data, &g.params["_fc.bias"].data);
    for k in 0..2 {
        let f = row(&feats, 1280, k);
        let via: Vec<f32> = (0..1000)
            .map(|o| {
                b[o] + row(w, 1280, o)
                    .iter()
                    .zip(f)
                    .map(|(a, c)| a * c)
                    .sum::<f32>()
            })
            .collect();
        let d = max_abs(row(logits, 1000, k), &via);
        assert!(
            d < 1e-4,
            "image {k}: zoo logits vs vision features through _fc: {d}"
        );
    }
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("efficientnet-lite0/reference.json")).unwrap(),
    )
    .unwrap();
    let syn = &reference["images"]["synthetic_sin"];
    let want = |k: &str| -> Vec<f32> {
        syn[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let (dl, df) = (
        max_abs(row(logits, 1000, 0), &want("logits")),
        max_abs(row(pooled, 1280, 0), &want("pooled")),
    );
    eprintln!("zoo vs PyTorch, synthetic input: logits {dl:.2e}, pooled {df:.2e}");
    assert!(
        dl < 1e-4 && df < 1e-4,
        "zoo vs PyTorch: logits {dl}, pooled {df}"
    );
    // the fast executor (MO-EvoPruneDeepTL's CPU feature extraction) on the real weights
    let fast = fast::Plan::with_outputs(&g, &wanted)
        .unwrap()
        .run(&x)
        .unwrap();
    let (fl, ff) = (
        max_abs(row(&fast[0].data, 1000, 0), &want("logits")),
        max_abs(row(&fast[1].data, 1280, 0), &want("pooled")),
    );
    let fv = max_abs(&fast[1].data, &feats);
    eprintln!(
        "fast executor vs PyTorch: logits {fl:.2e}, pooled {ff:.2e}; vs evoprune-vision {fv:.2e}"
    );
    assert!(
        fl < 1e-4 && ff < 1e-4 && fv < 1e-4,
        "fast executor vs PyTorch: logits {fl}, pooled {ff}; vs evoprune-vision {fv}"
    );
    // exported to ONNX and imported again, it gives the built-in backbone's features (so
    // MO-EvoPruneDeepTL runs unchanged from the ONNX file), and onnxruntime its logits
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("efficientnet-lite0.onnx");
    evoprune_graph::onnx::save(&g, &file).unwrap();
    let back = evoprune_graph::onnx::load(&file).unwrap();
    let yb = exec::run_until(&back, &x, &wanted).unwrap();
    let d = max_abs(&yb[1].data, &feats);
    eprintln!("exported ONNX vs evoprune-vision pooled features: {d:.2e}");
    assert!(
        d < 1e-4,
        "exported ONNX vs evoprune-vision pooled features: {d}"
    );
    let ort = common::ort(&file, &x);
    let d = max_abs(&ort.data, logits);
    eprintln!("onnxruntime on the exported ONNX vs the zoo logits: {d:.2e}");
    assert!(d < 1e-4, "onnxruntime vs zoo logits: {d}");
    // the photo's top-1 is PyTorch's (palace)
    let top = (0..1000)
        .max_by(|&a, &c| row(logits, 1000, 1)[a].total_cmp(&row(logits, 1000, 1)[c]))
        .unwrap();
    assert_eq!(
        top as u64,
        reference["images"]["china"]["top5"][0][0].as_u64().unwrap()
    );
}

/// The weight formula of `scripts/make_resnet50_fixture.py`: tensor `t` of the state dict, in
/// order, gets a deterministic stream; batch-norm scales and variances are in [0.5, 1.5],
/// weights uniform in He's range, the rest small.
fn formula(t: u64, n: usize) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            (i.wrapping_mul(2_654_435_761).wrapping_add(97 * t + 1) % (1u64 << 32)) as f64
                / 4_294_967_296.0
        })
        .collect()
}

fn formula_value(name: &str, shape: &[usize], t: u64) -> Vec<f32> {
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

/// torchvision's ResNet-50 on formula weights (the fixture of scripts/make_resnet50_fixture.py,
/// the check evoprune-vision's burn ResNet-50 passed before it moved here): the zoo network's
/// pooled features and logits equal PyTorch's; a checkpoint missing a tensor is an error
/// naming it.
#[test]
fn zoo_resnet50_is_pytorchs_on_formula_weights() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resnet50_forward.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let names = fx["names"].as_array().unwrap();
    let shapes = fx["shapes"].as_array().unwrap();
    assert_eq!(names.len(), 267, "53 convs, 53 batch norms x 4, fc");
    let mut tensors = Vec::new();
    for (t, (n, s)) in names.iter().zip(shapes).enumerate() {
        let name = n.as_str().unwrap().to_string();
        let shape: Vec<usize> = s
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let data = formula_value(&name, &shape, t as u64);
        tensors.push((name, shape, data));
    }
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.safetensors");
    write_safetensors(&w, &tensors);
    let mut g = zoo::build("resnet50", 1000, [3, 64, 64], 0).unwrap();
    zoo::load_weights(&mut g, &w).unwrap();
    let x: Vec<f32> = formula(100_000, 2 * 3 * 64 * 64)
        .into_iter()
        .map(|u| (u * 2.0 - 1.0) as f32)
        .collect();
    let out = exec::run_until(
        &g,
        &Tensor::new(vec![2, 3, 64, 64], x),
        &[zoo::POOLED.to_string(), zoo::LOGITS.to_string()],
    )
    .unwrap();
    let diff = |got: &[f32], key: &str| -> f64 {
        let want = fx[key].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{key}");
        got.iter()
            .zip(want)
            .map(|(a, b)| (f64::from(*a) - b.as_f64().unwrap()).abs())
            .fold(0.0, f64::max)
    };
    let (f, z) = (diff(&out[0].data, "features"), diff(&out[1].data, "logits"));
    eprintln!("zoo ResNet-50 vs PyTorch: features {f:.2e}, logits {z:.2e}");
    assert!(f < 1e-5 && z < 1e-5, "{f} {z}");
    tensors.retain(|(n, _, _)| n != "layer3.2.bn2.running_var");
    write_safetensors(&w, &tensors);
    let e = zoo::load_weights(&mut g, &w).unwrap_err().to_string();
    assert!(
        e.contains("layer3.2.bn2.running_var") && e.contains("w.safetensors"),
        "{e}"
    );
}

/// PyTorch checkpoints load by the same names (a real zip-format .pth that is not a ResNet:
/// parsed, and the first tensor the network needs named as missing).
#[test]
fn pth_checkpoints_load_through_the_same_path() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../evoprune-data/tests/fixtures/tiny.pth");
    let mut g = zoo::build("resnet20", 10, [3, 32, 32], 0).unwrap();
    let e = zoo::load_weights(&mut g, &p).unwrap_err().to_string();
    assert!(e.contains("tiny.pth") && e.contains("missing"), "{e}");
}
