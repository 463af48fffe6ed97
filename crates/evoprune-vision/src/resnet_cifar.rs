//! CIFAR-style ResNets (He et al. 2016, section 4.2): ResNet-20/32/44/56/110 = `6n + 2` layers:
//! a 3x3 conv with 16 filters, three stages of `n` basic blocks with 16, 32 and 64 filters
//! (stride 2 at the first block of stages 2 and 3), global average pooling and a linear
//! classifier. Shortcuts are option A, as in the paper's CIFAR models: identity, or a stride-2
//! subsampling padded with zero channels when the width doubles (so ResNet-20 has 269,722
//! trainable parameters and ResNet-56 853,018 for 10 classes: the paper's 0.27M and 0.85M).
//!
//! Trainable burn modules (batch norm included) on any burn device: for users with a GPU and
//! CIFAR data. Weight masks for pruning are multipliers applied to the conv and linear weights
//! ([`ResNetCifar::apply_masks`]).

use crate::{Result, VisionError};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

/// One basic block: conv-bn-relu-conv-bn, plus the shortcut, then relu.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Zero channels added on each side of a subsampled shortcut (0: identity).
    pad: usize,
}

fn conv3x3(c_in: usize, c_out: usize, stride: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(dev)
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, dev: &Device) -> Self {
        BasicBlock {
            conv1: conv3x3(c_in, c_out, stride, dev),
            bn1: BatchNormConfig::new(c_out).init(dev),
            conv2: conv3x3(c_out, c_out, 1, dev),
            bn2: BatchNormConfig::new(c_out).init(dev),
            pad: (c_out - c_in) / 2,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = if self.pad > 0 {
            // option A: subsample by 2 (a 1x1 max-pool with stride 2 picks every other pixel),
            // then pad the channels with zeros on both sides
            let s = max_pool2d(x.clone(), MaxPoolOptions::new([1, 1]).with_stride([2, 2]));
            let [n, _, h, w] = s.dims();
            let z = Tensor::<4>::zeros([n, self.pad, h, w], &s.device());
            Tensor::cat(vec![z.clone(), s, z], 1)
        } else {
            x.clone()
        };
        let y = burn::tensor::activation::relu(self.bn1.forward(self.conv1.forward(x)));
        let y = self.bn2.forward(self.conv2.forward(y));
        burn::tensor::activation::relu(y + shortcut)
    }
}

/// A CIFAR ResNet of depth `6n + 2`.
#[derive(Module, Debug)]
pub struct ResNetCifar {
    conv1: Conv2d,
    bn1: BatchNorm,
    blocks: Vec<BasicBlock>,
    fc: Linear,
}

impl ResNetCifar {
    /// A freshly initialised network of `depth` layers (20, 32, 44, 56, 110, ...: `6n + 2`)
    /// for `classes` classes.
    pub fn new(depth: usize, classes: usize, dev: &Device) -> Result<Self> {
        if depth < 8 || (depth - 2) % 6 != 0 || classes == 0 {
            return Err(VisionError::Shape(format!(
                "a CIFAR ResNet has 6n + 2 layers (20, 32, 44, 56, 110) and at least one class, got depth {depth}, {classes} classes"
            )));
        }
        let n = (depth - 2) / 6;
        let mut blocks = Vec::with_capacity(3 * n);
        let mut c_in = 16;
        for (s, width) in [16, 32, 64].into_iter().enumerate() {
            for i in 0..n {
                let stride = if i == 0 && s > 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(c_in, width, stride, dev));
                c_in = width;
            }
        }
        Ok(ResNetCifar {
            conv1: conv3x3(3, 16, 1, dev),
            bn1: BatchNormConfig::new(16).init(dev),
            blocks,
            fc: LinearConfig::new(64, classes).init(dev),
        })
    }

    /// Logits `[n, classes]` of images `[n, 3, h, w]` (32x32 for CIFAR).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = burn::tensor::activation::relu(self.bn1.forward(self.conv1.forward(x)));
        for b in &self.blocks {
            x = b.forward(x);
        }
        let [n, c, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([n, c]);
        self.fc.forward(pooled)
    }

    /// The prunable weight tensors (every conv, then the classifier) as `(name, values)`,
    /// in the order [`ResNetCifar::apply_masks`] takes masks.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![(
            "conv1.weight".to_string(),
            self.conv1.weight.dims().to_vec(),
        )];
        for (i, b) in self.blocks.iter().enumerate() {
            out.push((
                format!("block{i}.conv1.weight"),
                b.conv1.weight.dims().to_vec(),
            ));
            out.push((
                format!("block{i}.conv2.weight"),
                b.conv2.weight.dims().to_vec(),
            ));
        }
        out.push(("fc.weight".to_string(), self.fc.weight.dims().to_vec()));
        out
    }

    /// Multiply every prunable weight tensor by its mask (one tensor per entry of
    /// [`ResNetCifar::weight_shapes`], same shapes; `fc_mask` for the classifier). The masked
    /// weights stay trainable leaves; re-apply the masks after each optimiser step to keep
    /// pruned weights at zero.
    pub fn apply_masks(self, masks: &[Tensor<4>], fc_mask: Tensor<2>) -> Result<Self> {
        let n_conv = 1 + 2 * self.blocks.len();
        if masks.len() != n_conv {
            return Err(VisionError::Shape(format!(
                "{} conv masks for {n_conv} convolutions",
                masks.len()
            )));
        }
        fn mul<const D: usize>(p: Param<Tensor<D>>, m: &Tensor<D>) -> Result<Param<Tensor<D>>> {
            if p.dims() != m.dims() {
                return Err(VisionError::Shape(format!(
                    "mask of shape {:?} for a weight of shape {:?}",
                    m.dims(),
                    p.dims()
                )));
            }
            Ok(p.map(|w| {
                let grad = w.is_require_grad();
                let v = (w * m.clone()).detach();
                if grad { v.require_grad() } else { v }
            }))
        }
        let ResNetCifar {
            mut conv1,
            bn1,
            blocks,
            mut fc,
        } = self;
        conv1.weight = mul(conv1.weight, &masks[0])?;
        let mut out = Vec::with_capacity(blocks.len());
        for (i, mut b) in blocks.into_iter().enumerate() {
            b.conv1.weight = mul(b.conv1.weight, &masks[1 + 2 * i])?;
            b.conv2.weight = mul(b.conv2.weight, &masks[2 + 2 * i])?;
            out.push(b);
        }
        fc.weight = mul(fc.weight, &fc_mask)?;
        Ok(ResNetCifar {
            conv1,
            bn1,
            blocks: out,
            fc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Int, TensorData};

    #[test]
    fn parameter_counts_are_the_papers() {
        let dev = Device::default();
        // hand-computed: stem 3x16x9 + BN; per stage n blocks of two 3x3 convs (the first of
        // stages 2 and 3 reads half the channels) + BN scale/shift; fc 64x10 + 10
        let trainable = |n: usize| {
            let convs = 27 * 16
                + 2 * n * 16 * 16 * 9
                + (16 * 32 * 9 + (2 * n - 1) * 32 * 32 * 9)
                + (32 * 64 * 9 + (2 * n - 1) * 64 * 64 * 9);
            let bn_channels = 16 + 2 * n * (16 + 32 + 64);
            (convs + 2 * bn_channels + 650, bn_channels)
        };
        for (depth, params) in [(20, 269_722), (56, 853_018)] {
            let m = ResNetCifar::new(depth, 10, &dev).unwrap();
            let (t, bn) = trainable((depth - 2) / 6);
            assert_eq!(t, params);
            // burn also counts batch norm's running mean and variance
            assert_eq!(m.num_params(), params + 2 * bn, "ResNet-{depth}");
        }
        assert!(ResNetCifar::new(21, 10, &dev).is_err());
    }

    #[test]
    fn forward_and_backward_on_random_data() {
        let dev = Device::default().autodiff();
        let m = ResNetCifar::new(20, 10, &dev).unwrap();
        let shapes = m.weight_shapes();
        assert_eq!(shapes.len(), 20);
        // prune half of conv1's filters and every other classifier weight
        let mut masks = Vec::new();
        for (name, s) in &shapes[..shapes.len() - 1] {
            let d = [s[0], s[1], s[2], s[3]];
            let mut v = vec![1.0f32; d.iter().product()];
            if name == "conv1.weight" {
                v[..8 * 27].fill(0.0);
            }
            masks.push(Tensor::<4>::from_data(TensorData::new(v, d), &dev));
        }
        let fs = &shapes.last().unwrap().1;
        let fv: Vec<f32> = (0..fs[0] * fs[1]).map(|i| (i % 2) as f32).collect();
        let fc = Tensor::<2>::from_data(TensorData::new(fv, [fs[0], fs[1]]), &dev);
        let m = m.apply_masks(&masks, fc).unwrap();
        let x: Vec<f32> = (0..4 * 3 * 32 * 32)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [4, 3, 32, 32]), &dev);
        let logits = m.forward(x);
        assert_eq!(logits.dims(), [4, 10]);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 3, 5, 9], [4]), &dev);
        let loss = burn::nn::loss::CrossEntropyLossConfig::new()
            .init(&dev)
            .forward(logits, y);
        let l: f32 = loss.clone().into_data().try_to_vec::<f32>().unwrap()[0];
        assert!(l.is_finite() && l > 0.0, "{l}");
        let grads = loss.backward();
        let g = m.conv1.weight.grad(&grads).expect("conv1 has a gradient");
        assert_eq!(g.dims(), [16, 3, 3, 3]);
        let gv: Vec<f32> = g.into_data().try_to_vec::<f32>().unwrap();
        assert!(gv.iter().all(|v| v.is_finite()));
        assert!(gv.iter().any(|v| *v != 0.0));
        let gfc: Vec<f32> =
            m.fc.weight
                .grad(&grads)
                .expect("fc has a gradient")
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
        assert!(gfc.iter().any(|v| *v != 0.0));
        let last = m.blocks.last().unwrap();
        assert!(last.conv2.weight.grad(&grads).is_some());
    }
}
