//! LeNet, the Caffe variant of the GA-pruning paper (Yang et al. 2019): conv 20@5x5, max-pool 2,
//! conv 50@5x5, max-pool 2, FC 500 + ReLU, FC 10 (431,080 parameters for 1x28x28 inputs), with
//! per-filter and per-connection masks and exact mask-aware parameter and MAC counts.

mod core;
mod net;
mod sparse;
mod train;

pub use core::{Dims, Layout, T};
pub use net::{Compact, Net, count_errors};
pub use sparse::{Csr, SparseLeNet};
pub(crate) use train::{Backprop, loss_gradient, solve};
pub use train::{SolverConfig, SolverReport, train};

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

    /// Logits (`n x 10`, row-major) of `n` grey 28x28 images (row-major `n x 784`), computed
    /// by [`Net`]'s im2col + gemm core (burn-flex runs LeNet's small convolutions through a
    /// generic direct kernel; this path is about 2x faster,
    /// `cargo bench -p evoprune-vision --bench efficientnet -- lenet`).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        Net::from_lenet(self)?.logits(x)
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
