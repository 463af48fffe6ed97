//! The `[model]` section every method shares: which network to prune (an ONNX file, or a zoo
//! architecture with PyTorch-named weights), its input and classes, and an optional fine-tuning
//! of it on the run's data before the search; plus fitting a dataset's images to the network's
//! input.

use crate::ir::Graph;
use crate::{GraphError, Result, onnx, zoo};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The network a run prunes.
///
/// ```toml
/// [model]
/// onnx = "resnet20.onnx"         # as torch.onnx.export writes it
/// # or: arch = "resnet56", weights = "resnet56.safetensors", input = [3, 32, 32], classes = 10
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// An ONNX file (opset 11 or later; batch norm folded or not; external data beside it).
    pub onnx: Option<PathBuf>,
    /// A zoo architecture (`evoprune inspect` lists them), instead of `onnx`.
    pub arch: Option<String>,
    /// Zoo architectures: weights by PyTorch name (safetensors or `.pth`); default: seeded
    /// random ones (then set `train.epochs`).
    pub weights: Option<PathBuf>,
    /// Zoo architectures: the input as `[C, H, W]` (default `[3, 32, 32]` for CIFAR networks,
    /// `[3, 224, 224]` for ImageNet ones, `[1, 28, 28]` for the LeNets).
    pub input: Option<[usize; 3]>,
    /// Zoo architectures: classes (default 10, or 1000 for ImageNet networks).
    pub classes: Option<usize>,
    /// Zoo architectures with `weights`: a new classifier (the last linear layer, seeded random
    /// weights for `classes`) over the file's backbone, to fine-tune a network trained on other
    /// classes (ImageNet weights on MNIST: set `train.epochs`); every other tensor must be in
    /// the file.
    pub new_head: bool,
    /// The exported members keep a multiple of this many channels (or all of them) in every
    /// image-like tensor the pruning shrinks (0 or 1: exactly the channels kept). The extra
    /// channels are zero wherever they are read, so the function is the same (in floats up to
    /// the order of the sums; the recorded accuracy is the file's own); onnxruntime runs its
    /// fast blocked (NCHWc) convolutions only on multiples of 8 channels (AVX2; 16 on AVX-512)
    /// and much slower ones otherwise. The search and its FLOPs are not affected. Only
    /// methods that remove channels (GA pruning) have anything to round; hierarchical and
    /// surrogate members keep every channel.
    pub round_channels: usize,
    /// Fine-tuning of the loaded network on the run's training data before the search (none
    /// by default: the network is used as trained).
    pub train: TrainConfig,
}

/// SGD fine-tuning settings (momentum, weight decay, mini-batches), as TOML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training data (0: none).
    pub epochs: usize,
    /// Learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// Samples per step.
    pub batch: usize,
    /// Batch normalisation while training: `"batch"` (batch statistics, running ones updated:
    /// PyTorch's `model.train()`, needed from random weights) or `"frozen"` (running
    /// statistics kept, inference mode).
    pub batch_norm: BatchNormMode,
}

/// How batch norms train (see [`TrainConfig::batch_norm`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchNormMode {
    /// Batch statistics; running statistics updated.
    #[default]
    Batch,
    /// Running statistics, unchanged.
    Frozen,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 0,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            batch: 32,
            batch_norm: BatchNormMode::Batch,
        }
    }
}

impl TrainConfig {
    /// Check the values; the error is `(key under this section, reason)`.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(("lr", format!("must be finite and > 0, got {}", self.lr)));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err((
                "momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err((
                "weight_decay",
                format!("must be finite and >= 0, got {}", self.weight_decay),
            ));
        }
        if self.batch == 0 {
            return Err(("batch", "must be at least 1".into()));
        }
        if self.epochs > 10_000 {
            return Err(("epochs", format!("at most 10000, got {}", self.epochs)));
        }
        Ok(())
    }

    /// The fine-tuning settings with the sample order drawn from `seed`.
    #[cfg(feature = "train")]
    pub fn fine_tune(&self, seed: u64) -> crate::train::FineTune {
        crate::train::FineTune {
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            epochs: self.epochs as f64,
            batch: self.batch,
            seed,
            batch_norm: match self.batch_norm {
                BatchNormMode::Batch => crate::train::BatchNorm::Batch,
                BatchNormMode::Frozen => crate::train::BatchNorm::Frozen,
            },
        }
    }
}

/// Zoo architectures trained on ImageNet-sized inputs (their default input and classes).
const IMAGENET: [&str; 4] = ["resnet18", "resnet50", "mobilenet-v2", "efficientnet-lite0"];

impl ModelConfig {
    /// An ONNX file.
    pub fn onnx(path: impl Into<PathBuf>) -> Self {
        ModelConfig {
            onnx: Some(path.into()),
            ..ModelConfig::default()
        }
    }

    /// Check the section; the error is `(key under [model], reason)`.
    pub fn check(&self) -> std::result::Result<(), (String, String)> {
        let e = |k: &str, r: String| Err((k.to_string(), r));
        match (&self.onnx, &self.arch) {
            (Some(_), Some(_)) => return e("arch", "give either onnx or arch, not both".into()),
            (None, None) => {
                return e(
                    "onnx",
                    "give onnx = \"model.onnx\" or arch = \"...\"".into(),
                );
            }
            (Some(_), None) => {
                for (k, set) in [
                    ("weights", self.weights.is_some()),
                    ("input", self.input.is_some()),
                    ("classes", self.classes.is_some()),
                    ("new_head", self.new_head),
                ] {
                    if set {
                        return e(
                            k,
                            "is for zoo architectures (arch); an ONNX file has its own".into(),
                        );
                    }
                }
            }
            (None, Some(a)) => {
                if !zoo::names().contains(&a.as_str()) {
                    return e(
                        "arch",
                        format!(
                            "unknown architecture {a:?}; known: {}",
                            zoo::names().join(", ")
                        ),
                    );
                }
            }
        }
        if self.round_channels > 1024 {
            return e(
                "round_channels",
                format!("must be in 0..=1024, got {}", self.round_channels),
            );
        }
        if self.new_head && self.weights.is_none() {
            return e(
                "new_head",
                "replaces the classifier of a weights file; give weights = \"...\"".into(),
            );
        }
        if let Some(i) = self.input
            && i.iter().any(|&d| d == 0 || d > 4096)
        {
            return e("input", format!("[C, H, W] each in 1..=4096, got {i:?}"));
        }
        if let Some(c) = self.classes
            && !(2..=100_000).contains(&c)
        {
            return e("classes", format!("must be in 2..=100000, got {c}"));
        }
        self.train
            .check()
            .map_err(|(k, r)| (format!("train.{k}"), r))
    }

    /// The file paths of the section (resolved against the config's folder by the caller).
    pub fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.onnx.iter_mut().chain(self.weights.iter_mut())
    }

    /// A short description for reports and cache keys (`resnet20.onnx`, `resnet56 (weights
    /// w.safetensors)`).
    pub fn describe(&self) -> String {
        let file = |p: &PathBuf| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into())
        };
        match (&self.onnx, &self.arch) {
            (Some(p), _) => file(p),
            (None, Some(a)) => match &self.weights {
                Some(w) if self.new_head => format!("{a} (weights {}, new head)", file(w)),
                Some(w) => format!("{a} (weights {})", file(w)),
                None => format!("{a} (random weights)"),
            },
            (None, None) => "no network".into(),
        }
    }

    /// Load the network: the ONNX file, or the zoo architecture built with its weights
    /// (random ones drawn from `seed` without weights).
    pub fn load(&self, seed: u64) -> Result<Graph> {
        self.check()
            .map_err(|(k, r)| GraphError::invalid(format!("model.{k}"), r))?;
        if let Some(p) = &self.onnx {
            return onnx::load(p);
        }
        let arch = self.arch.as_deref().unwrap_or_default();
        let imagenet = IMAGENET.contains(&arch);
        let input = self.input.unwrap_or(if arch.starts_with("lenet") {
            [1, 28, 28]
        } else if imagenet {
            [3, 224, 224]
        } else {
            [3, 32, 32]
        });
        let classes = self.classes.unwrap_or(if imagenet { 1000 } else { 10 });
        let mut g = zoo::build(arch, classes, input, seed)?;
        if let Some(w) = &self.weights {
            let head = if self.new_head {
                zoo::head_params(&g)
            } else {
                Vec::new()
            };
            zoo::load_weights_except(&mut g, w, &head)?;
        }
        Ok(g)
    }
}

/// Fit `n` images of shape `from` (`[C, H, W]`, row-major, in `x`) to a network input of shape
/// `to`: one channel is repeated to `to`'s channels; a smaller image is zero-padded, centred
/// (MNIST's 28 px in a 32 px CIFAR network, as the papers' stand-in); a larger one is resized
/// bilinearly (half-pixel centres, as PyTorch's `interpolate(mode="bilinear")`).
pub fn fit_images(x: &[f32], n: usize, from: [usize; 3], to: [usize; 3]) -> Result<Vec<f32>> {
    let [fc, fh, fw] = from;
    let [tc, th, tw] = to;
    if x.len() != n * fc * fh * fw {
        return Err(GraphError::invalid(
            "images",
            format!("{} values for {n} images of {from:?}", x.len()),
        ));
    }
    if fc != tc && fc != 1 {
        return Err(GraphError::invalid(
            "images",
            format!("{fc} channels cannot feed the network's {tc} (only 1 channel is repeated)"),
        ));
    }
    if from == to {
        return Ok(x.to_vec());
    }
    let plane = |img: &[f32], c: usize| -> Vec<f32> {
        let src = &img[c * fh * fw..(c + 1) * fh * fw];
        if fh == th && fw == tw {
            return src.to_vec();
        }
        let mut out = vec![0.0f32; th * tw];
        if th >= fh && tw >= fw {
            let (oy, ox) = ((th - fh) / 2, (tw - fw) / 2);
            for y in 0..fh {
                out[(oy + y) * tw + ox..(oy + y) * tw + ox + fw]
                    .copy_from_slice(&src[y * fw..(y + 1) * fw]);
            }
            return out;
        }
        let coord = |o: usize, t: usize, f: usize| -> (usize, usize, f32) {
            let s = ((o as f32 + 0.5) * f as f32 / t as f32 - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(f - 1);
            (i0, (i0 + 1).min(f - 1), s - i0 as f32)
        };
        for y in 0..th {
            let (y0, y1, ay) = coord(y, th, fh);
            for xx in 0..tw {
                let (x0, x1, ax) = coord(xx, tw, fw);
                let v = |yy: usize, xi: usize| src[yy * fw + xi];
                out[y * tw + xx] = (1.0 - ay) * ((1.0 - ax) * v(y0, x0) + ax * v(y0, x1))
                    + ay * ((1.0 - ax) * v(y1, x0) + ax * v(y1, x1));
            }
        }
        out
    };
    let mut out = Vec::with_capacity(n * tc * th * tw);
    for img in x.chunks(fc * fh * fw) {
        for c in 0..tc {
            out.extend(plane(img, if fc == 1 { 0 } else { c }));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_centred_and_repeats_channels() {
        let x: Vec<f32> = (1..=4).map(|v| v as f32).collect();
        let y = fit_images(&x, 1, [1, 2, 2], [3, 4, 4]).unwrap();
        assert_eq!(y.len(), 48);
        let p = &y[16..32];
        assert_eq!(p[5], 1.0);
        assert_eq!(p[6], 2.0);
        assert_eq!(p[9], 3.0);
        assert_eq!(p[10], 4.0);
        assert_eq!(p.iter().sum::<f32>(), 10.0);
        assert_eq!(&y[..16], &y[32..]);
    }

    #[test]
    fn downsizes_bilinearly() {
        // 4x4 to 2x2 with half-pixel centres averages each 2x2 block
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let y = fit_images(&x, 1, [1, 4, 4], [1, 2, 2]).unwrap();
        assert_eq!(y, vec![2.5, 4.5, 10.5, 12.5]);
        assert!(fit_images(&x, 1, [2, 2, 4], [3, 2, 4]).is_err());
        assert!(fit_images(&x, 2, [1, 4, 4], [1, 2, 2]).is_err());
    }

    #[test]
    fn section_is_checked() {
        let mut m = ModelConfig::default();
        assert_eq!(m.check().unwrap_err().0, "onnx");
        m.arch = Some("resnet21".into());
        assert_eq!(m.check().unwrap_err().0, "arch");
        m.arch = Some("resnet20".into());
        m.input = Some([1, 0, 8]);
        assert_eq!(m.check().unwrap_err().0, "input");
        m.input = Some([1, 8, 8]);
        m.train.lr = f32::NAN;
        assert_eq!(m.check().unwrap_err().0, "train.lr");
        m.train.lr = 0.1;
        let g = m.load(3).unwrap();
        assert_eq!(g.input_shape, vec![1, 1, 8, 8]);
        let mut o = ModelConfig::onnx("x.onnx");
        o.classes = Some(10);
        assert_eq!(o.check().unwrap_err().0, "classes");
        let bad: std::result::Result<ModelConfig, _> = toml_like("{\"onnx\":\"a\",\"bogus\":1}");
        assert!(bad.is_err());
    }

    fn toml_like(s: &str) -> std::result::Result<ModelConfig, serde_json::Error> {
        serde_json::from_str(s)
    }
}
