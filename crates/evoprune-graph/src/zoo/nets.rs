//! The architectures, layer by layer, with PyTorch's module names.

use super::builder::{Builder, INPUT, conv};
use crate::ir::Op;
use crate::{GraphError, Result};

/// PyTorch's default batch-norm epsilon.
const EPS: f32 = 1e-5;

/// EfficientNet-PyTorch's batch-norm epsilon.
const EPS_EFFICIENTNET: f32 = 1e-3;

/// Caffe's LeNet-5 (evoprune-nn's `lenet`): conv 20@5x5, max-pool 2, conv 50@5x5, max-pool 2,
/// `fc1` 500 + ReLU, `fc2` (no activation after the convolutions, as in Caffe).
pub(super) fn lenet(b: &mut Builder, classes: usize) -> Result<String> {
    let unpadded = |out| conv(out, 5, 1).pads([0; 4]).bias();
    let x = b.conv("conv1", INPUT, unpadded(20))?;
    let x = b.max_pool("pool1", &x, 2, 2, 0)?;
    let x = b.conv("conv2", &x, unpadded(50))?;
    let x = b.max_pool("pool2", &x, 2, 2, 0)?;
    let x = b.flatten(super::POOLED, &x)?;
    let x = b.linear("fc1", &x, 500)?;
    let x = b.relu(&x)?;
    b.linear("fc2", &x, classes)
}

/// LeNet-300-100: the flattened image through `fc1` 300, `fc2` 100 (ReLU after each) and `fc3`.
pub(super) fn lenet_300_100(b: &mut Builder, classes: usize) -> Result<String> {
    let mut x = b.flatten(super::POOLED, INPUT)?;
    for (k, width) in [300, 100].into_iter().enumerate() {
        x = b.linear(&format!("fc{}", k + 1), &x, width)?;
        x = b.relu(&x)?;
    }
    b.linear("fc3", &x, classes)
}

/// The option-A shortcut of a CIFAR block that changes width: `x[:, :, ::2, ::2]` with
/// `(planes - c_in) / 2` zero channels on each side (`planes / 4` when the width doubles).
fn option_a(b: &mut Builder, p: &str, x: &str, planes: usize) -> Result<String> {
    let slice = Op::Slice {
        starts: vec![0, 0],
        ends: vec![i64::MAX, i64::MAX],
        axes: vec![2, 3],
        steps: vec![2, 2],
    };
    let s = b.node(&format!("{p}.shortcut.slice"), slice, &[x])?;
    let pad = (planes - b.shape(x)[1]) as i64 / 2;
    let op = Op::Pad {
        pads: vec![0, pad, 0, 0, 0, pad, 0, 0],
        value: 0.0,
    };
    b.node(&format!("{p}.shortcut"), op, &[&s])
}

/// A CIFAR basic block `p` (`conv1`, `bn1`, `conv2`, `bn2`, option-A shortcut).
fn cifar_block(b: &mut Builder, p: &str, x: &str, planes: usize, stride: usize) -> Result<String> {
    let y = b.conv(&format!("{p}.conv1"), x, conv(planes, 3, stride))?;
    let y = b.bn(&format!("{p}.bn1"), &y, EPS)?;
    let y = b.relu(&y)?;
    let y = b.conv(&format!("{p}.conv2"), &y, conv(planes, 3, 1))?;
    let y = b.bn(&format!("{p}.bn2"), &y, EPS)?;
    let short = if stride != 1 || b.shape(x)[1] != planes {
        option_a(b, p, x, planes)?
    } else {
        x.to_string()
    };
    let y = b.node(&format!("{p}.add"), Op::Add, &[&y, &short])?;
    b.relu(&y)
}

/// CIFAR ResNet-`depth` (He et al. 2016, section 4.2; scripts/fixtures/export_models.py's
/// `CifarResNet`): `conv1`/`bn1` 16, `layer1..3` of `(depth - 2) / 6` blocks of 16, 32, 64
/// channels, global average pooling, `linear`.
pub(super) fn resnet_cifar(b: &mut Builder, depth: usize, classes: usize) -> Result<String> {
    let n = (depth - 2) / 6;
    let x = b.conv("conv1", INPUT, conv(16, 3, 1))?;
    let x = b.bn("bn1", &x, EPS)?;
    let mut x = b.relu(&x)?;
    for (s, planes) in [16, 32, 64].into_iter().enumerate() {
        for i in 0..n {
            let stride = if i == 0 && s > 0 { 2 } else { 1 };
            x = cifar_block(b, &format!("layer{}.{i}", s + 1), &x, planes, stride)?;
        }
    }
    let x = b.global_pool(&x)?;
    b.linear("linear", &x, classes)
}

/// torchvision's `downsample` of block `p` (1x1 convolution and batch norm) when the block
/// changes stride or width, else `x` itself.
fn downsample(b: &mut Builder, p: &str, x: &str, out: usize, stride: usize) -> Result<String> {
    if stride == 1 && b.shape(x)[1] == out {
        return Ok(x.to_string());
    }
    let y = b.conv(&format!("{p}.downsample.0"), x, conv(out, 1, stride))?;
    b.bn(&format!("{p}.downsample.1"), &y, EPS)
}

/// torchvision's `BasicBlock` (ResNet-18/34) or `Bottleneck` (ResNet-50 and up, v1.5: the
/// stride on the 3x3 convolution) `p` of width `width`.
fn tv_block(
    b: &mut Builder,
    p: &str,
    x: &str,
    width: usize,
    stride: usize,
    bottleneck: bool,
) -> Result<String> {
    let convs = if bottleneck {
        vec![
            conv(width, 1, 1),
            conv(width, 3, stride),
            conv(4 * width, 1, 1),
        ]
    } else {
        vec![conv(width, 3, stride), conv(width, 3, 1)]
    };
    let out = convs[convs.len() - 1].out;
    let identity = downsample(b, p, x, out, stride)?;
    let mut y = x.to_string();
    for (k, c) in convs.iter().enumerate() {
        y = b.conv(&format!("{p}.conv{}", k + 1), &y, *c)?;
        y = b.bn(&format!("{p}.bn{}", k + 1), &y, EPS)?;
        if k + 1 < convs.len() {
            y = b.relu(&y)?;
        }
    }
    let y = b.node(&format!("{p}.add"), Op::Add, &[&y, &identity])?;
    b.relu(&y)
}

/// torchvision's ResNet with `blocks` per stage: `conv1` 7x7/2, `bn1`, `maxpool` 3x3/2,
/// `layer1..4`, global average pooling, `fc`.
pub(super) fn resnet_tv(
    b: &mut Builder,
    blocks: [usize; 4],
    bottleneck: bool,
    classes: usize,
) -> Result<String> {
    let x = b.conv("conv1", INPUT, conv(64, 7, 2))?;
    let x = b.bn("bn1", &x, EPS)?;
    let x = b.relu(&x)?;
    let mut x = b.max_pool("maxpool", &x, 3, 2, 1)?;
    for (s, &n) in blocks.iter().enumerate() {
        for i in 0..n {
            let stride = if i == 0 && s > 0 { 2 } else { 1 };
            let p = format!("layer{}.{i}", s + 1);
            x = tv_block(b, &p, &x, 64 << s, stride, bottleneck)?;
        }
    }
    let x = b.global_pool(&x)?;
    b.linear("fc", &x, classes)
}

/// VGG-11 (configuration A) widths; 0 is a max-pool.
pub(super) const VGG11: &[usize] = &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0];

/// VGG-16 (configuration D) widths; 0 is a max-pool.
pub(super) const VGG16: &[usize] = &[
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

/// torchvision's `vgg*_bn` `features` (`features.N`: conv with bias, batch norm, ReLU per
/// width; a 2x2 max-pool per 0), then a head:
///
/// - 32x32 inputs (CIFAR): the convention of the CIFAR pruning literature (e.g. kuangliu's
///   pytorch-cifar VGG): `features`, flatten (512 values) and one `Linear(512, classes)` named
///   `classifier`;
/// - other inputs: torchvision's ImageNet head, `AdaptiveAvgPool2d((7, 7))` (only where it is an
///   exact average pooling: feature maps of a multiple of 7, e.g. 7x7 for 224x224 inputs), then
///   `classifier.0` 4096, ReLU, `classifier.3` 4096, ReLU, `classifier.6` (dropout omitted:
///   inference).
pub(super) fn vgg_bn(b: &mut Builder, cfg: &[usize], classes: usize) -> Result<String> {
    let cifar = b.shape(INPUT)[2..] == [32, 32];
    let mut x = INPUT.to_string();
    let mut i = 0;
    for &width in cfg {
        if width == 0 {
            x = b.max_pool(&format!("features.{i}"), &x, 2, 2, 0)?;
            i += 1;
            continue;
        }
        x = b.conv(&format!("features.{i}"), &x, conv(width, 3, 1).bias())?;
        x = b.bn(&format!("features.{}", i + 1), &x, EPS)?;
        x = b.node(&format!("features.{}", i + 2), Op::Relu, &[&x])?;
        i += 3;
    }
    if cifar {
        let x = b.flatten(super::POOLED, &x)?;
        return b.linear("classifier", &x, classes);
    }
    let x = adaptive_avg_pool(b, &x, 7)?;
    let mut x = b.flatten(super::POOLED, &x)?;
    for k in [0, 3] {
        x = b.linear(&format!("classifier.{k}"), &x, 4096)?;
        x = b.node(&format!("classifier.{}", k + 1), Op::Relu, &[&x])?;
    }
    b.linear("classifier.6", &x, classes)
}

/// `AdaptiveAvgPool2d((size, size))` of `x` where it is an exact average pooling (node
/// `avgpool`; nothing when the map already has that size); an error otherwise.
fn adaptive_avg_pool(b: &mut Builder, x: &str, size: usize) -> Result<String> {
    let (h, w) = (b.shape(x)[2], b.shape(x)[3]);
    if h % size != 0 || w % size != 0 {
        return Err(GraphError::invalid(
            "input",
            format!(
                "the ImageNet head pools the {h}x{w} feature map to {size}x{size}, which is an \
                 exact average pooling only for multiples of {size} (use 224x224 inputs, or \
                 32x32 for the CIFAR head)"
            ),
        ));
    }
    if (h, w) == (size, size) {
        return Ok(x.to_string());
    }
    let (kh, kw) = (h / size, w / size);
    let op = Op::AveragePool {
        kernel: [kh, kw],
        strides: [kh, kw],
        pads: [0; 4],
        ceil_mode: false,
        count_include_pad: false,
    };
    b.node("avgpool", op, &[x])
}

/// A torchvision `Conv2dNormActivation` `p` (`p.0` conv, `p.1` batch norm, ReLU6).
fn conv_bn_relu6(b: &mut Builder, p: &str, x: &str, c: super::builder::ConvSpec) -> Result<String> {
    let y = b.conv(&format!("{p}.0"), x, c)?;
    let y = b.bn(&format!("{p}.1"), &y, EPS)?;
    b.relu6(&y)
}

/// torchvision's MobileNetV2 `InvertedResidual` `p` (`p.conv.N`).
fn inverted_residual(
    b: &mut Builder,
    p: &str,
    x: &str,
    out: usize,
    expand: usize,
    stride: usize,
) -> Result<String> {
    let cin = b.shape(x)[1];
    let hidden = cin * expand;
    let mut y = x.to_string();
    let mut k = 0;
    if expand != 1 {
        y = conv_bn_relu6(b, &format!("{p}.conv.0"), &y, conv(hidden, 1, 1))?;
        k = 1;
    }
    let dw = conv(hidden, 3, stride).groups(hidden);
    y = conv_bn_relu6(b, &format!("{p}.conv.{k}"), &y, dw)?;
    y = b.conv(&format!("{p}.conv.{}", k + 1), &y, conv(out, 1, 1))?;
    y = b.bn(&format!("{p}.conv.{}", k + 2), &y, EPS)?;
    if stride == 1 && cin == out {
        y = b.node(&format!("{p}.add"), Op::Add, &[x, &y])?;
    }
    Ok(y)
}

/// torchvision's `mobilenet_v2` (width 1.0): `features.0` stem, `features.1..17` inverted
/// residuals, `features.18` 1x1 to 1280, global average pooling, `classifier.1`.
pub(super) fn mobilenet_v2(b: &mut Builder, classes: usize) -> Result<String> {
    let stages = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut x = conv_bn_relu6(b, "features.0", INPUT, conv(32, 3, 2))?;
    let mut i = 1;
    for (t, c, n, s) in stages {
        for r in 0..n {
            let stride = if r == 0 { s } else { 1 };
            x = inverted_residual(b, &format!("features.{i}"), &x, c, t, stride)?;
            i += 1;
        }
    }
    let x = conv_bn_relu6(b, &format!("features.{i}"), &x, conv(1280, 1, 1))?;
    let x = b.global_pool(&x)?;
    b.linear("classifier.1", &x, classes)
}

/// TF "same" padding `(begin, end)` of one axis of size `size` (EfficientNet-PyTorch's
/// `Conv2dStaticSamePadding`; the extra pixel at the end).
fn same_pad(size: usize, k: usize, s: usize) -> (usize, usize) {
    let out = size.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// A `k`x`k` convolution with TF "same" padding for input `x`.
fn same(b: &Builder, x: &str, out: usize, k: usize, stride: usize) -> super::builder::ConvSpec {
    let (t, bt) = same_pad(b.shape(x)[2], k, stride);
    let (l, r) = same_pad(b.shape(x)[3], k, stride);
    conv(out, k, stride).pads([t, l, bt, r])
}

/// The 16 MBConv blocks of EfficientNet-B0/Lite0 as (expand, kernel, stride, out channels).
fn lite0_blocks() -> Vec<(usize, usize, usize, usize)> {
    let stages = [
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 2),
        (6, 5, 2, 40, 2),
        (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3),
        (6, 5, 2, 192, 4),
        (6, 3, 1, 320, 1),
    ];
    let mut out = Vec::new();
    for (e, k, s, c, n) in stages {
        for r in 0..n {
            out.push((e, k, if r == 0 { s } else { 1 }, c));
        }
    }
    out
}

/// EfficientNet-Lite0 in EfficientNet-PyTorch's layout (the names of
/// ../shared/data/efficientnet-lite0/efficientnet-lite0.safetensors and evoprune-vision's
/// `EfficientNetLite0`): `_conv_stem`/`_bn0`, `_blocks.N` (`_expand_conv`/`_bn0`,
/// `_depthwise_conv`/`_bn1`, `_project_conv`/`_bn2`), `_conv_head`/`_bn1`, `_fc`. ReLU6, no
/// squeeze-excitation, batch-norm epsilon 1e-3, TF "same" padding computed for the input size
/// (for 224x224, the static padding of the reference model).
pub(super) fn efficientnet_lite0(b: &mut Builder, classes: usize) -> Result<String> {
    let c = same(b, INPUT, 32, 3, 2);
    let x = b.conv("_conv_stem", INPUT, c)?;
    let x = b.bn("_bn0", &x, EPS_EFFICIENTNET)?;
    let mut x = b.relu6(&x)?;
    for (i, (expand, k, stride, out)) in lite0_blocks().into_iter().enumerate() {
        let p = format!("_blocks.{i}");
        let cin = b.shape(&x)[1];
        let mid = cin * expand;
        let mut y = x.clone();
        if expand != 1 {
            y = b.conv(&format!("{p}._expand_conv"), &y, conv(mid, 1, 1))?;
            y = b.bn(&format!("{p}._bn0"), &y, EPS_EFFICIENTNET)?;
            y = b.relu6(&y)?;
        }
        let dw = same(b, &y, mid, k, stride).groups(mid);
        y = b.conv(&format!("{p}._depthwise_conv"), &y, dw)?;
        y = b.bn(&format!("{p}._bn1"), &y, EPS_EFFICIENTNET)?;
        y = b.relu6(&y)?;
        y = b.conv(&format!("{p}._project_conv"), &y, conv(out, 1, 1))?;
        y = b.bn(&format!("{p}._bn2"), &y, EPS_EFFICIENTNET)?;
        x = if stride == 1 && cin == out {
            b.node(&format!("{p}.add"), Op::Add, &[&y, &x])?
        } else {
            y
        };
    }
    let x = b.conv("_conv_head", &x, conv(1280, 1, 1))?;
    let x = b.bn("_bn1", &x, EPS_EFFICIENTNET)?;
    let x = b.relu6(&x)?;
    let x = b.global_pool(&x)?;
    b.linear("_fc", &x, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_padding_is_asymmetric_for_even_inputs() {
        assert_eq!(same_pad(224, 3, 2), (0, 1));
        assert_eq!(same_pad(28, 5, 2), (1, 2));
        assert_eq!(same_pad(112, 3, 1), (1, 1));
        assert_eq!(same_pad(7, 1, 1), (0, 0));
    }

    #[test]
    fn the_lite0_block_table_has_16_blocks_4_of_them_strided() {
        let b = lite0_blocks();
        assert_eq!(b.len(), 16);
        assert_eq!(b[0], (1, 3, 1, 16));
        assert_eq!(b[3], (6, 5, 2, 40));
        assert_eq!(b[15], (6, 3, 1, 320));
        assert_eq!(b.iter().filter(|s| s.2 == 2).count(), 4);
    }
}
