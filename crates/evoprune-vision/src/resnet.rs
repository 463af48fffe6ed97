//! ResNet-50 (He et al. 2016, doi:10.1109/CVPR.2016.90) in the torchvision layout (v1.5: the
//! stride sits on the 3x3 convolution), for inference with batch norm folded into the
//! convolutions. Reads torchvision- and timm-named safetensors (`conv1`, `bn1`,
//! `layer{1-4}.{i}.conv{1-3}` / `bn{1-3}` / `downsample.{0,1}`, `fc`).

use crate::efficientnet::{FoldedConv, Weights, geo};
use crate::{Result, VisionError};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use evoprune_data::numpy::Array;
use std::collections::HashMap;
use std::path::Path;

/// torchvision's batch-norm epsilon.
const BN_EPS: f32 = 1e-5;

/// Bottleneck blocks per stage of ResNet-50.
pub const RESNET50_BLOCKS: [usize; 4] = [3, 4, 6, 3];

struct Bottleneck {
    c1: FoldedConv,
    c2: FoldedConv,
    c3: FoldedConv,
    down: Option<FoldedConv>,
}

impl Bottleneck {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.down {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let y = self.c1.forward(x).clamp_min(0.0);
        let y = self.c2.forward(y).clamp_min(0.0);
        (self.c3.forward(y) + identity).clamp_min(0.0)
    }
}

/// ResNet-50 for inference.
pub struct ResNet50 {
    stem: FoldedConv,
    blocks: Vec<Bottleneck>,
    fc_w: Tensor<2>,
    fc_b: Tensor<1>,
    classes: usize,
    device: Device,
}

impl ResNet50 {
    /// Load torchvision/timm-named weights from a safetensors (or .npz) file.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let map = evoprune_data::tensors::read_all(path)?;
        Self::from_tensors(&map, path, device)
    }

    /// Build from named tensors (any number of classes in `fc`).
    pub fn from_tensors(map: &HashMap<String, Array>, path: &Path, dev: &Device) -> Result<Self> {
        let w = Weights {
            map,
            path: path.to_path_buf(),
        };
        let stem = w.folded_eps(
            "conv1",
            "bn1",
            [64, 3, 7, 7],
            geo(2, (3, 3), 1),
            BN_EPS,
            dev,
        )?;
        let mut blocks = Vec::new();
        let mut c_in = 64;
        for (s, &n) in RESNET50_BLOCKS.iter().enumerate() {
            let width = 64 << s;
            let out = width * 4;
            for i in 0..n {
                let p = format!("layer{}.{i}", s + 1);
                let stride = if i == 0 && s > 0 { 2 } else { 1 };
                let down = if i == 0 {
                    Some(w.folded_eps(
                        &format!("{p}.downsample.0"),
                        &format!("{p}.downsample.1"),
                        [out, c_in, 1, 1],
                        geo(stride, (0, 0), 1),
                        BN_EPS,
                        dev,
                    )?)
                } else {
                    None
                };
                let conv = |k: usize, shape: [usize; 4], g| {
                    w.folded_eps(
                        &format!("{p}.conv{k}"),
                        &format!("{p}.bn{k}"),
                        shape,
                        g,
                        BN_EPS,
                        dev,
                    )
                };
                blocks.push(Bottleneck {
                    c1: conv(1, [width, c_in, 1, 1], geo(1, (0, 0), 1))?,
                    c2: conv(2, [width, width, 3, 3], geo(stride, (1, 1), 1))?,
                    c3: conv(3, [out, width, 1, 1], geo(1, (0, 0), 1))?,
                    down,
                });
                c_in = out;
            }
        }
        let fc = map.get("fc.weight").ok_or_else(|| VisionError::Weights {
            path: path.to_path_buf(),
            reason: "missing tensor 'fc.weight'".into(),
        })?;
        let classes = fc.shape.first().copied().unwrap_or(0);
        let fc_w = w.get("fc.weight", &[classes, 2048])?;
        let fc_b = w.get("fc.bias", &[classes])?;
        Ok(ResNet50 {
            stem,
            blocks,
            fc_w: Tensor::from_data(TensorData::new(fc_w.data.clone(), [classes, 2048]), dev),
            fc_b: Tensor::from_data(TensorData::new(fc_b.data.clone(), [classes]), dev),
            classes,
            device: dev.clone(),
        })
    }

    /// Classes of the `fc` layer.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Pooled features `[n, 2048]` of a batch `[n, 3, h, w]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.stem.forward(x).clamp_min(0.0);
        let mut x = max_pool2d(
            x,
            MaxPoolOptions::new([3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1]),
        );
        for b in &self.blocks {
            x = b.forward(x);
        }
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }

    /// Logits `[n, classes]` of pooled features.
    pub fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        features.matmul(self.fc_w.clone().transpose()) + self.fc_b.clone().unsqueeze::<2>()
    }

    /// Pooled features of images given as row-major NCHW `f32` values.
    pub fn features_of(&self, x: &[f32], n: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        crate::on_nchw(x, n, h, w, &self.device, |t| self.features(t))
    }
}
