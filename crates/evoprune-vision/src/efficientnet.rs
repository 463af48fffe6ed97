//! EfficientNet-Lite0 (Tan & Le 2019, doi:10.48550/arXiv.1905.11946; "Lite": no squeeze-excite,
//! ReLU6, fixed 32-channel stem and 1280-channel head).

use crate::{Result, VisionError};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use evoprune_data::numpy::Array;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One MBConv block: expansion, depthwise kernel, stride, channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSpec {
    /// Expansion ratio (1 = no expansion conv).
    pub expand: usize,
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Depthwise stride.
    pub stride: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
}

/// The 16 blocks of EfficientNet-B0/Lite0: stages (expand, kernel, stride, out, repeats) =
/// (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1).
impl BlockSpec {
    /// The 16 blocks of EfficientNet-Lite0, in order.
    pub fn lite0() -> Vec<BlockSpec> {
        lite0_blocks()
    }
}

fn lite0_blocks() -> Vec<BlockSpec> {
    let stages = [
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 2),
        (6, 5, 2, 40, 2),
        (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3),
        (6, 5, 2, 192, 4),
        (6, 3, 1, 320, 1),
    ];
    let mut c_in = 32;
    let mut out = Vec::new();
    for (expand, kernel, stride, c_out, repeats) in stages {
        for r in 0..repeats {
            out.push(BlockSpec {
                expand,
                kernel,
                stride: if r == 0 { stride } else { 1 },
                c_in,
                c_out,
            });
            c_in = c_out;
        }
    }
    out
}

/// A convolution with batch norm folded in: `w' = w * g / sqrt(v + eps)`, `b' = beta - m * g / sqrt(v + eps)`.
pub(crate) struct FoldedConv {
    pub(crate) w: Tensor<4>,
    pub(crate) b: Tensor<1>,
    stride: usize,
    /// (top, bottom) = (left, right): TF "same" padding, computed for the reference input size.
    pad: (usize, usize),
    groups: usize,
}

impl FoldedConv {
    pub(crate) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let opts = ConvOptions {
            stride: [self.stride; 2],
            padding: [self.pad, self.pad],
            dilation: [1, 1],
            groups: self.groups,
        };
        conv2d(x, self.w.clone(), Some(self.b.clone()), opts)
    }
}

/// TF "same" padding of one side pair for input size `size` (EfficientNet-PyTorch's
/// `Conv2dStaticSamePadding`): total `max((ceil(size/s) - 1) * s + k - size, 0)`, the extra pixel
/// at the end.
fn same_pad(size: usize, k: usize, s: usize) -> (usize, usize) {
    let out = size.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(size);
    (total / 2, total - total / 2)
}

struct Block {
    spec: BlockSpec,
    expand: Option<FoldedConv>,
    depthwise: FoldedConv,
    project: FoldedConv,
}

/// EfficientNet-Lite0 for inference, with batch norm folded into the convolutions.
pub struct EfficientNetLite0 {
    stem: FoldedConv,
    blocks: Vec<Block>,
    head: FoldedConv,
    fc_w: Tensor<2>,
    fc_b: Tensor<1>,
    device: Device,
}

const BN_EPS: f32 = 1e-3;

/// Stride, TF-same padding and groups of one convolution.
#[derive(Clone, Copy)]
pub(crate) struct Geometry {
    stride: usize,
    pad: (usize, usize),
    groups: usize,
}

pub(crate) const fn geo(stride: usize, pad: (usize, usize), groups: usize) -> Geometry {
    Geometry {
        stride,
        pad,
        groups,
    }
}

pub(crate) struct Weights<'a> {
    pub(crate) map: &'a HashMap<String, Array>,
    pub(crate) path: PathBuf,
}

impl Weights<'_> {
    pub(crate) fn get(&self, name: &str, shape: &[usize]) -> Result<&Array> {
        let a = self.map.get(name).ok_or_else(|| VisionError::Weights {
            path: self.path.clone(),
            reason: format!("missing tensor '{name}'"),
        })?;
        if a.shape != shape {
            return Err(VisionError::Weights {
                path: self.path.clone(),
                reason: format!("'{name}' has shape {:?}, expected {shape:?}", a.shape),
            });
        }
        Ok(a)
    }

    /// Conv `conv` (shape `[o, i, k, k]`) with batch norm `bn` folded in, placed with `geo`.
    fn folded(
        &self,
        conv: &str,
        bn: &str,
        shape: [usize; 4],
        geo: Geometry,
        dev: &Device,
    ) -> Result<FoldedConv> {
        self.folded_eps(conv, bn, shape, geo, BN_EPS, dev)
    }

    /// [`Weights::folded`] with batch norm epsilon `eps`.
    pub(crate) fn folded_eps(
        &self,
        conv: &str,
        bn: &str,
        shape: [usize; 4],
        geo: Geometry,
        eps: f32,
        dev: &Device,
    ) -> Result<FoldedConv> {
        let w = self.get(&format!("{conv}.weight"), &shape)?;
        let o = shape[0];
        let gamma = self.get(&format!("{bn}.weight"), &[o])?;
        let beta = self.get(&format!("{bn}.bias"), &[o])?;
        let mean = self.get(&format!("{bn}.running_mean"), &[o])?;
        let var = self.get(&format!("{bn}.running_var"), &[o])?;
        let per = w.data.len() / o;
        let mut wf = w.data.clone();
        let mut bf = vec![0.0f32; o];
        for c in 0..o {
            let scale = gamma.data[c] / (var.data[c] + eps).sqrt();
            wf[c * per..(c + 1) * per]
                .iter_mut()
                .for_each(|v| *v *= scale);
            bf[c] = beta.data[c] - mean.data[c] * scale;
        }
        Ok(FoldedConv {
            w: Tensor::from_data(TensorData::new(wf, shape), dev),
            b: Tensor::from_data(TensorData::new(bf, [o]), dev),
            stride: geo.stride,
            pad: geo.pad,
            groups: geo.groups,
        })
    }
}

impl EfficientNetLite0 {
    /// Load the EfficientNet-PyTorch-named weights (`_conv_stem`, `_bn0`, `_blocks.N.*`,
    /// `_conv_head`, `_bn1`, `_fc`). Padding is computed for a 224x224 input, as the reference
    /// model does (for any input size divisible by 32 it equals dynamic "same" padding).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let map = evoprune_data::tensors::read_all(path)?;
        Self::from_tensors(&map, path, device)
    }

    /// Build from named tensors (see [`EfficientNetLite0::load`]).
    pub fn from_tensors(map: &HashMap<String, Array>, path: &Path, dev: &Device) -> Result<Self> {
        let w = Weights {
            map,
            path: path.to_path_buf(),
        };
        let mut size = 224;
        let stem = w.folded(
            "_conv_stem",
            "_bn0",
            [32, 3, 3, 3],
            geo(2, same_pad(size, 3, 2), 1),
            dev,
        )?;
        size = size.div_ceil(2);
        let mut blocks = Vec::new();
        for (i, spec) in lite0_blocks().into_iter().enumerate() {
            let p = format!("_blocks.{i}");
            let mid = spec.c_in * spec.expand;
            let expand = if spec.expand != 1 {
                Some(w.folded(
                    &format!("{p}._expand_conv"),
                    &format!("{p}._bn0"),
                    [mid, spec.c_in, 1, 1],
                    geo(1, (0, 0), 1),
                    dev,
                )?)
            } else {
                None
            };
            let k = spec.kernel;
            let depthwise = w.folded(
                &format!("{p}._depthwise_conv"),
                &format!("{p}._bn1"),
                [mid, 1, k, k],
                geo(spec.stride, same_pad(size, k, spec.stride), mid),
                dev,
            )?;
            size = size.div_ceil(spec.stride);
            let project = w.folded(
                &format!("{p}._project_conv"),
                &format!("{p}._bn2"),
                [spec.c_out, mid, 1, 1],
                geo(1, (0, 0), 1),
                dev,
            )?;
            blocks.push(Block {
                spec,
                expand,
                depthwise,
                project,
            });
        }
        let head = w.folded(
            "_conv_head",
            "_bn1",
            [1280, 320, 1, 1],
            geo(1, (0, 0), 1),
            dev,
        )?;
        let fc_w = w.get("_fc.weight", &[1000, 1280])?;
        let fc_b = w.get("_fc.bias", &[1000])?;
        Ok(EfficientNetLite0 {
            stem,
            blocks,
            head,
            fc_w: Tensor::from_data(TensorData::new(fc_w.data.clone(), [1000, 1280]), dev),
            fc_b: Tensor::from_data(TensorData::new(fc_b.data.clone(), [1000]), dev),
            device: dev.clone(),
        })
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Pooled features `[n, 1280]` of a batch `[n, 3, h, w]` (global average of the head).
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.head.forward(self.last_block_output(x)).clamp(0.0, 6.0);
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }

    /// Grad-CAM maps of pooled feature `channels` for a batch `[n, 3, h, w]`, taken on the last
    /// MBConv block's output `A` (the last convolutional block before pooling). Returns
    /// `[n][channel]` maps of `h/32 x w/32` values in `[0, 1]` (each divided by its maximum),
    /// with the spatial size.
    ///
    /// Exact and closed-form, so no autodiff is needed: feature `j` is
    /// `f_j = mean_xy relu6(z_j)` with `z_j = sum_k W[j,k] A_k + b_j` (the 1x1 head convolution,
    /// batch norm folded), hence `d f_j / d A_k(x,y) = W[j,k] [0 < z_j(x,y) < 6] / HW`. Grad-CAM's
    /// channel weights are the spatial means of that gradient, `a_k = W[j,k] g_j / HW` with
    /// `g_j` the fraction of unsaturated positions, and the map
    /// `relu(sum_k a_k A_k) = relu(g_j (z_j - b_j)) / HW`: a positive multiple of
    /// `relu(z_j - b_j)` when `g_j > 0`, and zero (no gradient) otherwise.
    #[allow(clippy::type_complexity)]
    pub fn grad_cam(
        &self,
        x: Tensor<4>,
        channels: &[usize],
    ) -> Result<(Vec<Vec<Vec<f32>>>, [usize; 2])> {
        let z = self.head.forward(self.last_block_output(x));
        let [n, c, h, w] = z.dims();
        if let Some(&bad) = channels.iter().find(|&&j| j >= c) {
            return Err(VisionError::Shape(format!("feature channel {bad} of {c}")));
        }
        let z = z.into_data().try_to_vec::<f32>().expect("f32 tensor");
        let b = self
            .head
            .b
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 tensor");
        let hw = h * w;
        let maps = (0..n)
            .map(|i| {
                channels
                    .iter()
                    .map(|&j| {
                        let zj = &z[(i * c + j) * hw..(i * c + j + 1) * hw];
                        let open = zj.iter().filter(|&&v| v > 0.0 && v < 6.0).count();
                        let mut m: Vec<f32> = if open == 0 {
                            vec![0.0; hw]
                        } else {
                            zj.iter().map(|&v| (v - b[j]).max(0.0)).collect()
                        };
                        let top = m.iter().fold(0.0f32, |a, &v| a.max(v));
                        if top > 0.0 {
                            m.iter_mut().for_each(|v| *v /= top);
                        }
                        m
                    })
                    .collect()
            })
            .collect();
        Ok((maps, [h, w]))
    }

    /// [`grad_cam`](Self::grad_cam) of images given as row-major NCHW `f32` values.
    #[allow(clippy::type_complexity)]
    pub fn grad_cam_of(
        &self,
        x: &[f32],
        n: usize,
        h: usize,
        w: usize,
        channels: &[usize],
    ) -> Result<(Vec<Vec<Vec<f32>>>, [usize; 2])> {
        if x.len() != n * 3 * h * w {
            return Err(VisionError::Shape(format!(
                "{} values for {n} images of 3x{h}x{w}",
                x.len()
            )));
        }
        let t = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [n, 3, h, w]), &self.device);
        self.grad_cam(t, channels)
    }

    /// The 1x1 head convolution (batch norm folded, before ReLU6) of a last-block output:
    /// `[n, 320, h, w]` -> `[n, 1280, h, w]`. Pooled features are `mean_xy relu6(head_conv(A))`.
    pub fn head_conv(&self, a: Tensor<4>) -> Tensor<4> {
        self.head.forward(a)
    }

    /// The output of the last MBConv block (Grad-CAM's layer), `[n, 320, h/32, w/32]`.
    pub fn last_block_output(&self, x: Tensor<4>) -> Tensor<4> {
        let relu6 = |t: Tensor<4>| t.clamp(0.0, 6.0);
        let mut x = relu6(self.stem.forward(x));
        for b in &self.blocks {
            let input = x.clone();
            let mut h = match &b.expand {
                Some(e) => relu6(e.forward(x)),
                None => x,
            };
            h = relu6(b.depthwise.forward(h));
            h = b.project.forward(h);
            x = if b.spec.stride == 1 && b.spec.c_in == b.spec.c_out {
                h + input
            } else {
                h
            };
        }
        x
    }

    /// ImageNet logits `[n, 1000]` of pooled features.
    pub fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        features.matmul(self.fc_w.clone().transpose()) + self.fc_b.clone().unsqueeze::<2>()
    }

    /// Pooled features of images given as row-major NCHW `f32` values.
    pub fn features_of(&self, x: &[f32], n: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        crate::on_nchw(x, n, h, w, &self.device, |t| self.features(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_table_matches_the_weights_layout() {
        let b = lite0_blocks();
        assert_eq!(b.len(), 16);
        assert_eq!(
            b[0],
            BlockSpec {
                expand: 1,
                kernel: 3,
                stride: 1,
                c_in: 32,
                c_out: 16
            }
        );
        assert_eq!(
            b[3],
            BlockSpec {
                expand: 6,
                kernel: 5,
                stride: 2,
                c_in: 24,
                c_out: 40
            }
        );
        assert_eq!(
            b[15],
            BlockSpec {
                expand: 6,
                kernel: 3,
                stride: 1,
                c_in: 192,
                c_out: 320
            }
        );
        assert_eq!(b.iter().filter(|s| s.stride == 2).count(), 4);
    }

    #[test]
    fn tf_same_padding_is_asymmetric_for_even_inputs() {
        assert_eq!(same_pad(224, 3, 2), (0, 1));
        assert_eq!(same_pad(28, 5, 2), (1, 2));
        assert_eq!(same_pad(112, 3, 1), (1, 1));
        assert_eq!(same_pad(14, 5, 1), (2, 2));
        assert_eq!(same_pad(7, 1, 1), (0, 0));
    }
}
