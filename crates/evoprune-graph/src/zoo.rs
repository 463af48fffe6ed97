//! A model zoo: the networks of the pruning literature built as [`Graph`]s with PyTorch's
//! parameter names and shapes (torchvision's where torchvision has the model), freshly
//! initialised from a seed or loaded by name from a safetensors file.
//!
//! | name | network | names as in |
//! |---|---|---|
//! | `lenet` | Caffe LeNet-5 (20, 50 filters, 500 hidden) | evoprune-nn's `lenet` |
//! | `lenet-300-100` | MLP 300-100 | evoprune-nn's `DenseNet` |
//! | `resnet20` ... `resnet110` | CIFAR ResNets, option-A shortcuts | scripts/fixtures/export_models.py |
//! | `resnet18`, `resnet50` | torchvision | torchvision |
//! | `vgg11-bn`, `vgg16-bn` | torchvision `features`; CIFAR head for 32x32 inputs | torchvision |
//! | `mobilenet-v2` | torchvision | torchvision |
//! | `efficientnet-lite0` | EfficientNet-PyTorch layout | the shared ImageNet weights |
//!
//! Batch normalisation stays as [`Op::BatchNorm`](crate::Op::BatchNorm) nodes
//! ([`fold::fold_batch_norms`](crate::fold::fold_batch_norms) folds them for inference);
//! dropout is left out (inference). Every network has one output, [`LOGITS`], and names
//! the flattened input of its classifier [`POOLED`] (after global average pooling where the
//! network has it) for [`exec::run_until`](crate::exec::run_until).
//!
//! Fresh weights: convolution and linear weights Kaiming-normal (`std = sqrt(2 / fan_in)`),
//! biases 0, batch norm weight 1, bias 0, running mean 0, variance 1. Each tensor draws from
//! its own SplitMix64 stream seeded by the seed and the tensor's name, so the weights do not
//! depend on the thread count or on the other layers.

mod builder;
mod nets;

use crate::ir::{Graph, Tensor};
use crate::{GraphError, Result};
use builder::Builder;
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// The value every zoo network outputs: the logits `[N, classes]`.
pub const LOGITS: &str = "logits";

/// The value the classifier reads, `[N, features]`: the globally pooled, flattened features
/// (the ResNets, MobileNetV2, EfficientNet-Lite0; VGG's flattened features; LeNet's flattened
/// second pooling; LeNet-300-100's flattened image).
pub const POOLED: &str = "pooled";

const NAMES: &[&str] = &[
    "lenet",
    "lenet-300-100",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet18",
    "resnet50",
    "vgg11-bn",
    "vgg16-bn",
    "mobilenet-v2",
    "efficientnet-lite0",
];

/// The architectures [`build`] knows.
pub fn names() -> &'static [&'static str] {
    NAMES
}

/// Network `arch` (one of [`names`]) for `classes` classes and inputs of `input` = `[C, H, W]`,
/// with fresh weights drawn from `seed` (deterministic).
pub fn build(arch: &str, classes: usize, input: [usize; 3], seed: u64) -> Result<Graph> {
    if classes == 0 || input.contains(&0) {
        return Err(GraphError::invalid(
            arch,
            format!(
                "needs at least one class and a non-empty input, got {classes} classes and input {input:?}"
            ),
        ));
    }
    let mut b = Builder::new(arch, input, seed);
    let out = match arch {
        "lenet" => nets::lenet(&mut b, classes),
        "lenet-300-100" => nets::lenet_300_100(&mut b, classes),
        "resnet20" => nets::resnet_cifar(&mut b, 20, classes),
        "resnet32" => nets::resnet_cifar(&mut b, 32, classes),
        "resnet44" => nets::resnet_cifar(&mut b, 44, classes),
        "resnet56" => nets::resnet_cifar(&mut b, 56, classes),
        "resnet110" => nets::resnet_cifar(&mut b, 110, classes),
        "resnet18" => nets::resnet_tv(&mut b, [2, 2, 2, 2], false, classes),
        "resnet50" => nets::resnet_tv(&mut b, [3, 4, 6, 3], true, classes),
        "vgg11-bn" => nets::vgg_bn(&mut b, nets::VGG11, classes),
        "vgg16-bn" => nets::vgg_bn(&mut b, nets::VGG16, classes),
        "mobilenet-v2" => nets::mobilenet_v2(&mut b, classes),
        "efficientnet-lite0" => nets::efficientnet_lite0(&mut b, classes),
        _ => {
            return Err(GraphError::invalid(
                "architecture",
                format!("unknown network \"{arch}\" (known: {})", NAMES.join(", ")),
            ));
        }
    }
    .map_err(|e| match e {
        GraphError::Invalid { what, reason } => {
            GraphError::invalid(format!("{arch}: {what}"), reason)
        }
        e => e,
    })?;
    Ok(b.finish(&out))
}

/// Replace every parameter of `g` by the tensor of the same name in the safetensors file
/// `path` (f32, f16 or bf16, converted to f32) or the PyTorch checkpoint (`.pth`/`.pt`: its
/// state dict, also under a `state_dict` or `model` key). A tensor missing from the file or of
/// another shape is an error naming it and the file, and leaves `g` unchanged; tensors of the
/// file that `g` does not use are ignored.
pub fn load_weights(g: &mut Graph, path: &Path) -> Result<()> {
    load_weights_except(g, path, &[])
}

/// [`load_weights`] for every parameter but those named in `keep`, which keep their values
/// (a new classifier, [`head_params`], over a pre-trained backbone).
pub fn load_weights_except(g: &mut Graph, path: &Path, keep: &[String]) -> Result<()> {
    if matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pth" | "pt")
    ) {
        return load_pytorch(g, path, keep);
    }
    let bytes = std::fs::read(path).map_err(|source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let st = SafeTensors::deserialize(&bytes).map_err(|e| GraphError::Format {
        file: file.clone(),
        reason: format!("not a valid safetensors file: {e}"),
    })?;
    assign_safetensors(g, &file, &st, keep)
}

/// [`load_weights_except`] from a safetensors file already read (`file` names it in errors).
pub(crate) fn assign_safetensors(
    g: &mut Graph,
    file: &str,
    st: &SafeTensors<'_>,
    keep: &[String],
) -> Result<()> {
    assign(g, file, keep, |name| {
        let v = st.tensor(name).ok()?;
        let data = to_f32(v.dtype(), v.data())
            .ok_or_else(|| format!("dtype {:?} is not f32, f16 or bf16", v.dtype()));
        Some((v.shape().to_vec(), data))
    })
}

/// Replace every parameter of `g` but those in `keep` by what `get` finds under its name (its
/// shape and values, or why the values cannot be read); nothing changes unless every one is
/// found with its shape. `file` names the source in errors.
fn assign(
    g: &mut Graph,
    file: &str,
    keep: &[String],
    get: impl Fn(&str) -> Option<(Vec<usize>, std::result::Result<Vec<f32>, String>)>,
) -> Result<()> {
    let mut loaded = Vec::with_capacity(g.params.len());
    for (name, t) in g.params.iter().filter(|(n, _)| !keep.contains(n)) {
        let err = |reason: String| GraphError::Tensor {
            file: file.to_string(),
            tensor: name.clone(),
            reason,
        };
        let (shape, data) = get(name).ok_or_else(|| err("missing from the file".into()))?;
        if shape != t.shape {
            return Err(err(format!(
                "has shape {shape:?}, the network needs {:?}",
                t.shape
            )));
        }
        loaded.push((name.clone(), Tensor::new(shape, data.map_err(err)?)));
    }
    g.params.extend(loaded);
    Ok(())
}

/// [`load_weights`] from a PyTorch checkpoint, read by evoprune-data's `pytorch-reader` path.
fn load_pytorch(g: &mut Graph, path: &Path, keep: &[String]) -> Result<()> {
    let file = path.display().to_string();
    let all = evoprune_data::tensors::read_all(path).map_err(|e| GraphError::Format {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    assign(g, &file, keep, |name| {
        all.get(name).map(|a| (a.shape.clone(), Ok(a.data.clone())))
    })
}

/// The classifier's parameters: those of the node nearest the first output, walking back
/// along first inputs, that has any (a zoo network's final linear layer, `fc.weight` and
/// `fc.bias`); empty when no node on that path has parameters.
pub fn head_params(g: &Graph) -> Vec<String> {
    let mut value = g.outputs.first().cloned();
    while let Some(v) = value {
        let Some(i) = g.producer(&v) else { break };
        let node = &g.nodes[i];
        let params: Vec<String> = node
            .inputs
            .iter()
            .filter(|x| g.params.contains_key(*x))
            .cloned()
            .collect();
        if !params.is_empty() {
            return params;
        }
        value = node.inputs.first().cloned();
    }
    Vec::new()
}

/// Little-endian f32, f16 or bf16 values as f32.
fn to_f32(dtype: Dtype, b: &[u8]) -> Option<Vec<f32>> {
    let half = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
    Some(match dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => b.chunks_exact(2).map(|c| f16_to_f32(half(c))).collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| f32::from_bits(u32::from(half(c)) << 16))
            .collect(),
        _ => return None,
    })
}

/// IEEE half to single precision (subnormals, infinities and NaN included).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: m * 2^-24, exact in f32
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// One SplitMix64 step.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a hash of a name.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// `n` normal values of standard deviation `std` for tensor `name` (Box-Muller on SplitMix64),
/// drawn in blocks of 2^16 with one stream per block: the same on any number of threads.
fn normal(seed: u64, name: &str, n: usize, std: f64) -> Vec<f32> {
    const BLOCK: usize = 1 << 16;
    let base = seed ^ fnv1a(name);
    let mut out = vec![0.0f32; n];
    out.par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(k, chunk)| {
            let mut s = base ^ (k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
            splitmix(&mut s);
            for pair in chunk.chunks_mut(2) {
                let u1 = ((splitmix(&mut s) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                let u2 = (splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64;
                let r = (-2.0 * u1.ln()).sqrt() * std;
                let t = std::f64::consts::TAU * u2;
                pair[0] = (r * t.cos()) as f32;
                if let Some(v) = pair.get_mut(1) {
                    *v = (r * t.sin()) as f32;
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert_exactly() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x8000, -0.0),
            (0x3555, 0.333_251_95),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#x}");
        }
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    }

    #[test]
    fn normal_draws_are_deterministic_and_standard() {
        let a = normal(7, "w", 200_001, 1.0);
        assert_eq!(a, normal(7, "w", 200_001, 1.0));
        assert_ne!(a[..10], normal(8, "w", 10, 1.0)[..]);
        assert_ne!(a[..10], normal(7, "v", 10, 1.0)[..]);
        let n = a.len() as f64;
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = a
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
