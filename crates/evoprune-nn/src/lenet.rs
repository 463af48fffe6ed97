//! LeNet, the Caffe variant of the GA-pruning paper (Yang et al. 2019): conv 20@5x5, max-pool 2,
//! conv 50@5x5, max-pool 2, FC 500 + ReLU, FC 10 (431,080 parameters for 1x28x28 inputs), with
//! per-filter and per-connection masks and exact mask-aware parameter and MAC counts.

use crate::gemm::{Mat, matmul};
use crate::{NnError, Result};
use std::collections::HashMap;

/// Layer sizes (Caffe LeNet on 28x28 inputs).
pub const C1: usize = 20;
/// Filters of the second convolution.
pub const C2: usize = 50;
/// Hidden units of the first fully connected layer.
pub const H: usize = 500;
/// Classes.
pub const OUT: usize = 10;
/// Inputs of FC1: 50 channels x 4 x 4.
pub const FC1_IN: usize = C2 * 16;

/// Which units and connections are kept (`true` = kept).
#[derive(Clone, Debug, PartialEq)]
pub struct LeNetMask {
    /// One bit per conv1 filter (20).
    pub conv1: Vec<bool>,
    /// One bit per conv2 filter (50).
    pub conv2: Vec<bool>,
    /// One bit per FC1 connection, row-major `[out=500][in=800]`.
    pub fc1: Vec<bool>,
    /// One bit per FC2 connection, row-major `[out=10][in=500]`.
    pub fc2: Vec<bool>,
}

impl LeNetMask {
    /// Everything kept.
    pub fn full() -> Self {
        LeNetMask {
            conv1: vec![true; C1],
            conv2: vec![true; C2],
            fc1: vec![true; H * FC1_IN],
            fc2: vec![true; OUT * H],
        }
    }

    fn check(&self) -> Result<()> {
        let lens = [
            (self.conv1.len(), C1, "conv1"),
            (self.conv2.len(), C2, "conv2"),
            (self.fc1.len(), H * FC1_IN, "fc1"),
            (self.fc2.len(), OUT * H, "fc2"),
        ];
        for (got, want, name) in lens {
            if got != want {
                return Err(NnError::Shape(format!(
                    "{name} mask has {got} bits, LeNet needs {want}"
                )));
            }
        }
        Ok(())
    }

    /// FC1 connection `(o, i)` is effective: kept, and its input channel `i / 16` is alive.
    fn fc1_effective(&self, o: usize, i: usize) -> bool {
        self.fc1[o * FC1_IN + i] && self.conv2[i / 16]
    }

    /// Kept (conv1 filters, conv2 filters, effective FC1 connections, FC2 connections).
    fn kept(&self) -> (usize, usize, usize, usize) {
        let count = |v: &[bool]| v.iter().filter(|b| **b).count();
        let fc1 = (0..H)
            .map(|o| (0..FC1_IN).filter(|&i| self.fc1_effective(o, i)).count())
            .sum();
        (
            count(&self.conv1),
            count(&self.conv2),
            fc1,
            count(&self.fc2),
        )
    }

    /// Remaining parameters: kept filters with their kept input channels and biases, effective
    /// FC connections, and all FC biases.
    pub fn param_count(&self) -> usize {
        let (a1, a2, fc1, fc2) = self.kept();
        a1 * (25 + 1) + a2 * (a1 * 25 + 1) + fc1 + H + fc2 + OUT
    }

    /// Remaining multiply-accumulates per 28x28 image (convolutions and FC layers; pooling,
    /// ReLU and biases not counted).
    pub fn macs(&self) -> usize {
        let (a1, a2, fc1, fc2) = self.kept();
        a1 * 24 * 24 * 25 + a2 * 8 * 8 * a1 * 25 + fc1 + fc2
    }
}

/// LeNet weights (PyTorch layout: conv `[out, in, k, k]`, linear `[out, in]`).
#[derive(Clone, Debug, PartialEq)]
pub struct LeNet {
    /// `conv1.weight` [20,1,5,5], `conv1.bias` [20], `conv2.weight` [50,20,5,5], `conv2.bias` [50],
    /// `fc1.weight` [500,800], `fc1.bias` [500], `fc2.weight` [10,500], `fc2.bias` [10].
    pub tensors: HashMap<String, Vec<f32>>,
}

/// Names and shapes of LeNet's tensors.
pub fn lenet_shapes() -> Vec<(&'static str, Vec<usize>)> {
    vec![
        ("conv1.weight", vec![C1, 1, 5, 5]),
        ("conv1.bias", vec![C1]),
        ("conv2.weight", vec![C2, C1, 5, 5]),
        ("conv2.bias", vec![C2]),
        ("fc1.weight", vec![H, FC1_IN]),
        ("fc1.bias", vec![H]),
        ("fc2.weight", vec![OUT, H]),
        ("fc2.bias", vec![OUT]),
    ]
}

impl LeNet {
    /// Glorot-uniform weights and zero biases from `seed`.
    pub fn random(seed: u64) -> Self {
        let mut s = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut next = || {
            // SplitMix64
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut tensors = HashMap::new();
        for (name, shape) in lenet_shapes() {
            let n: usize = shape.iter().product();
            let v = if name.ends_with("bias") {
                vec![0.0; n]
            } else {
                let fan_in: usize = shape[1..].iter().product();
                let fan_out = shape[0] * shape[2..].iter().product::<usize>();
                let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
                (0..n).map(|_| (next() * 2.0 - 1.0) * limit).collect()
            };
            tensors.insert(name.to_string(), v);
        }
        LeNet { tensors }
    }

    /// Trainable parameters (431,080).
    pub fn param_count(&self) -> usize {
        self.tensors.values().map(Vec::len).sum()
    }

    /// The weights with pruned filters, input channels and connections set to zero.
    pub fn masked(&self, m: &LeNetMask) -> Result<LeNet> {
        m.check()?;
        let mut t = self.tensors.clone();
        let w1 = t.get_mut("conv1.weight").expect("conv1.weight");
        for f in 0..C1 {
            if !m.conv1[f] {
                w1[f * 25..(f + 1) * 25].fill(0.0);
            }
        }
        let b1 = t.get_mut("conv1.bias").expect("conv1.bias");
        (0..C1).filter(|&f| !m.conv1[f]).for_each(|f| b1[f] = 0.0);
        let w2 = t.get_mut("conv2.weight").expect("conv2.weight");
        for f in 0..C2 {
            for c in 0..C1 {
                if !m.conv2[f] || !m.conv1[c] {
                    w2[(f * C1 + c) * 25..(f * C1 + c + 1) * 25].fill(0.0);
                }
            }
        }
        let b2 = t.get_mut("conv2.bias").expect("conv2.bias");
        (0..C2).filter(|&f| !m.conv2[f]).for_each(|f| b2[f] = 0.0);
        let f1 = t.get_mut("fc1.weight").expect("fc1.weight");
        for o in 0..H {
            for i in 0..FC1_IN {
                if !m.fc1_effective(o, i) {
                    f1[o * FC1_IN + i] = 0.0;
                }
            }
        }
        let f2 = t.get_mut("fc2.weight").expect("fc2.weight");
        f2.iter_mut()
            .zip(&m.fc2)
            .filter(|(_, k)| !**k)
            .for_each(|(w, _)| *w = 0.0);
        Ok(LeNet { tensors: t })
    }

    /// Logits (`n x 10`, row-major) of `n` grey 28x28 images (row-major `n x 784`).
    ///
    /// Hand-written on im2col + the `gemm` crate, in chunks of 256 images: burn-flex runs
    /// LeNet's small convolutions through a generic direct kernel; this path is about 2x faster
    /// (10k images: 1.3-2.0 s vs 3.4-3.9 s single call, `cargo bench -p evoprune-vision --bench efficientnet -- lenet`).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        if x.len() % 784 != 0 {
            return Err(NnError::Shape(format!(
                "{} values are not a whole number of 28x28 images",
                x.len()
            )));
        }
        let w = |k: &str| {
            self.tensors
                .get(k)
                .map(Vec::as_slice)
                .ok_or_else(|| NnError::Shape(format!("LeNet tensor '{k}' missing")))
        };
        let (w1, b1, w2, b2) = (
            w("conv1.weight")?,
            w("conv1.bias")?,
            w("conv2.weight")?,
            w("conv2.bias")?,
        );
        let (f1w, f1b, f2w, f2b) = (
            w("fc1.weight")?,
            w("fc1.bias")?,
            w("fc2.weight")?,
            w("fc2.bias")?,
        );
        // conv2 weights from [o][c][ky][kx] to [o][ky][kx][c], matching the im2col rows
        let mut w2k = vec![0.0f32; C2 * C1 * 25];
        for o in 0..C2 {
            for c in 0..C1 {
                for k in 0..25 {
                    w2k[(o * 25 + k) * C1 + c] = w2[(o * C1 + c) * 25 + k];
                }
            }
        }
        let n_all = x.len() / 784;
        let mut out = vec![0.0f32; n_all * OUT];
        const CHUNK: usize = 256;
        let mut cols1 = vec![0.0f32; CHUNK * 576 * 25];
        let mut a1 = vec![0.0f32; CHUNK * 576 * C1];
        let mut p1 = vec![0.0f32; CHUNK * 144 * C1];
        let mut cols2 = vec![0.0f32; CHUNK * 64 * C1 * 25];
        let mut a2 = vec![0.0f32; CHUNK * 64 * C2];
        let mut flat = vec![0.0f32; CHUNK * FC1_IN];
        let mut h = vec![0.0f32; CHUNK * H];
        for (ci, imgs) in x.chunks(CHUNK * 784).enumerate() {
            let n = imgs.len() / 784;
            // conv1: im2col rows = (image, y, x) over 24x24, cols = (ky, kx)
            for i in 0..n {
                let img = &imgs[i * 784..(i + 1) * 784];
                for y in 0..24 {
                    for xx in 0..24 {
                        let r = &mut cols1[((i * 576) + y * 24 + xx) * 25..][..25];
                        for ky in 0..5 {
                            r[ky * 5..ky * 5 + 5].copy_from_slice(&img[(y + ky) * 28 + xx..][..5]);
                        }
                    }
                }
            }
            matmul(
                &mut a1,
                n * 576,
                C1,
                Mat::new(&cols1, n * 576, 25),
                Mat::new(w1, C1, 25).t(),
                false,
            );
            add_bias(&mut a1[..n * 576 * C1], b1);
            pool2(&a1, &mut p1, n, 24, C1);
            // conv2: rows = (image, y, x) over 8x8, cols = (ky, kx, c): 25 contiguous runs of the
            // 20 HWC channels; the weights were reordered to match
            for i in 0..n {
                for y in 0..8 {
                    for xx in 0..8 {
                        let r = &mut cols2[((i * 64) + y * 8 + xx) * 500..][..500];
                        for ky in 0..5 {
                            for kx in 0..5 {
                                let src = ((i * 144) + (y + ky) * 12 + xx + kx) * C1;
                                r[(ky * 5 + kx) * C1..][..C1].copy_from_slice(&p1[src..src + C1]);
                            }
                        }
                    }
                }
            }
            matmul(
                &mut a2,
                n * 64,
                C2,
                Mat::new(&cols2, n * 64, 500),
                Mat::new(&w2k, C2, 500).t(),
                false,
            );
            add_bias(&mut a2[..n * 64 * C2], b2);
            // pool to 4x4x50 (HWC), then flatten in PyTorch's CHW order: c * 16 + y * 4 + x
            let mut p2 = vec![0.0f32; n * 16 * C2];
            pool2(&a2, &mut p2, n, 8, C2);
            for i in 0..n {
                for pos in 0..16 {
                    for c in 0..C2 {
                        flat[i * FC1_IN + c * 16 + pos] = p2[(i * 16 + pos) * C2 + c];
                    }
                }
            }
            matmul(
                &mut h,
                n,
                H,
                Mat::new(&flat, n, FC1_IN),
                Mat::new(f1w, H, FC1_IN).t(),
                false,
            );
            add_bias(&mut h[..n * H], f1b);
            crate::head::relu(&mut h[..n * H]);
            let o = &mut out[ci * CHUNK * OUT..ci * CHUNK * OUT + n * OUT];
            matmul(
                o,
                n,
                OUT,
                Mat::new(&h, n, H),
                Mat::new(f2w, OUT, H).t(),
                false,
            );
            add_bias(o, f2b);
        }
        Ok(out)
    }
}

fn add_bias(x: &mut [f32], b: &[f32]) {
    for r in x.chunks_exact_mut(b.len()) {
        r.iter_mut().zip(b).for_each(|(v, bb)| *v += bb);
    }
}

/// 2x2 max-pool, stride 2, of `n` HWC maps of `size x size x c`.
fn pool2(input: &[f32], out: &mut [f32], n: usize, size: usize, c: usize) {
    let half = size / 2;
    for i in 0..n {
        for y in 0..half {
            for x in 0..half {
                let o = &mut out[((i * half * half) + y * half + x) * c..][..c];
                let at = |yy: usize, xx: usize| ((i * size * size) + yy * size + xx) * c;
                let (p, q, r, s) = (
                    at(2 * y, 2 * x),
                    at(2 * y, 2 * x + 1),
                    at(2 * y + 1, 2 * x),
                    at(2 * y + 1, 2 * x + 1),
                );
                for k in 0..c {
                    o[k] = input[p + k]
                        .max(input[q + k])
                        .max(input[r + k])
                        .max(input[s + k]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_and_mac_counts_are_exact() {
        let full = LeNetMask::full();
        assert_eq!(LeNet::random(0).param_count(), 431_080);
        assert_eq!(full.param_count(), 431_080);
        // 20*576*25 + 50*64*20*25 + 800*500 + 500*10
        assert_eq!(full.macs(), 288_000 + 1_600_000 + 400_000 + 5_000);
        // keep 10 conv1 filters and 25 conv2 filters, all connections
        let mut m = LeNetMask::full();
        (10..20).for_each(|f| m.conv1[f] = false);
        (25..50).for_each(|f| m.conv2[f] = false);
        // conv1 10*26, conv2 25*(10*25+1), fc1 25 channels*16*500 + 500, fc2 5010
        assert_eq!(m.param_count(), 260 + 6_275 + 200_500 + 5_010);
        assert_eq!(m.macs(), 144_000 + 400_000 + 200_000 + 5_000);
        // pruning connections only
        let mut c = LeNetMask::full();
        c.fc1[0] = false;
        c.fc2[9] = false;
        assert_eq!(c.param_count(), 431_078);
        assert_eq!(c.macs(), full.macs() - 2);
        let bad = LeNetMask {
            conv1: vec![true; 3],
            ..LeNetMask::full()
        };
        assert!(
            LeNet::random(0)
                .masked(&bad)
                .unwrap_err()
                .to_string()
                .contains("conv1 mask has 3 bits")
        );
    }

    #[test]
    fn forward_shapes_and_filter_pruning_equals_zeroing_its_fc1_inputs() {
        let net = LeNet::random(3);
        let x: Vec<f32> = (0..4 * 784)
            .map(|i| ((i * 31 % 255) as f32) / 255.0)
            .collect();
        assert_eq!(net.logits(&x).unwrap().len(), 40);
        assert!(net.logits(&x[..100]).is_err());
        // pruning conv2 filter 7 == removing FC1's inputs 112..128 (its 4x4 map)
        let mut by_filter = LeNetMask::full();
        by_filter.conv2[7] = false;
        let mut by_links = LeNetMask::full();
        for o in 0..H {
            (112..128).for_each(|i| by_links.fc1[o * FC1_IN + i] = false);
        }
        let a = net.masked(&by_filter).unwrap().logits(&x).unwrap();
        let b = net.masked(&by_links).unwrap().logits(&x).unwrap();
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5);
        }
        // one conv2 filter: 8*8*20*25 conv MACs and its 16 inputs to each of 500 FC1 units
        assert_eq!(by_filter.macs(), 2_293_000 - 32_000 - 8_000);
        assert_eq!(by_filter.macs(), by_links.macs() - 32_000);
    }
}
