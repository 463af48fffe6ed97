//! [`Net`]: LeNet weights in the compute layout, for any widths; conversion from/to the
//! PyTorch-named [`LeNet`], masks as multipliers, physical compaction, and the CSR form of the
//! FC layers.

use super::core::{Dims, T, Workspace, forward};
use super::{C1, C2, FC1_IN, H, LeNet, LeNetMask, OUT};
use crate::{NnError, Result};
use rayon::prelude::*;

/// A LeNet of widths [`Dims`] with its parameters in one flat vector ([`super::core::Layout`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// Layer widths.
    pub dims: Dims,
    /// Parameters in the layout of `dims.layout()`.
    pub params: Vec<f32>,
}

/// Images per forward chunk (bounds the workspace at ~25 MB for the full network).
const CHUNK: usize = 256;

impl Net {
    /// From the PyTorch-layout weights (full widths).
    pub fn from_lenet(net: &LeNet) -> Result<Net> {
        for k in ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] {
            if !net.tensors.contains_key(k) {
                return Err(NnError::Shape(format!("LeNet tensor '{k}' missing")));
            }
        }
        Self::from_parts(Dims::FULL, net)
    }

    /// A network of widths `dims` from PyTorch-named tensors; the conv tensors are required,
    /// missing FC tensors are zeros.
    pub fn from_parts(dims: Dims, net: &LeNet) -> Result<Net> {
        let Dims { c1, c2, h } = dims;
        let l = dims.layout();
        let mut p = vec![0.0f32; l.len()];
        let get = |k: &str, len: usize, required: bool| -> Result<Option<&[f32]>> {
            let Some(v) = net.tensors.get(k) else {
                return if required {
                    Err(NnError::Shape(format!("LeNet tensor '{k}' missing")))
                } else {
                    Ok(None)
                };
            };
            if v.len() != len {
                return Err(NnError::Shape(format!(
                    "LeNet tensor '{k}' has {} values, expected {len}",
                    v.len()
                )));
            }
            Ok(Some(v))
        };
        let mut put = |t: T, k: &str, len: usize, required: bool| -> Result<()> {
            if let Some(v) = get(k, len, required)? {
                p[l.range(t)].copy_from_slice(v);
            }
            Ok(())
        };
        put(T::W1, "conv1.weight", c1 * 25, true)?;
        put(T::B1, "conv1.bias", c1, true)?;
        put(T::B2, "conv2.bias", c2, true)?;
        put(T::F1, "fc1.weight", h * 16 * c2, false)?;
        put(T::Fb1, "fc1.bias", h, false)?;
        put(T::F2, "fc2.weight", OUT * h, false)?;
        put(T::Fb2, "fc2.bias", OUT, false)?;
        let w2 = get("conv2.weight", c2 * c1 * 25, true)?.expect("required");
        let r = l.range(T::W2);
        for o in 0..c2 {
            for c in 0..c1 {
                for k in 0..25 {
                    p[r.start + (o * 25 + k) * c1 + c] = w2[(o * c1 + c) * 25 + k];
                }
            }
        }
        Ok(Net { dims, params: p })
    }

    /// PyTorch-named tensors `(name, shape, values)` of any widths (conv2 back to
    /// `[out, in, 5, 5]`).
    pub fn tensors(&self) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
        let Dims { c1, c2, h } = self.dims;
        let l = self.dims.layout();
        let p = &self.params;
        let mut w2 = vec![0.0f32; c2 * c1 * 25];
        let r = l.range(T::W2);
        for o in 0..c2 {
            for c in 0..c1 {
                for k in 0..25 {
                    w2[(o * c1 + c) * 25 + k] = p[r.start + (o * 25 + k) * c1 + c];
                }
            }
        }
        vec![
            (
                "conv1.weight",
                vec![c1, 1, 5, 5],
                p[l.range(T::W1)].to_vec(),
            ),
            ("conv1.bias", vec![c1], p[l.range(T::B1)].to_vec()),
            ("conv2.weight", vec![c2, c1, 5, 5], w2),
            ("conv2.bias", vec![c2], p[l.range(T::B2)].to_vec()),
            ("fc1.weight", vec![h, 16 * c2], p[l.range(T::F1)].to_vec()),
            ("fc1.bias", vec![h], p[l.range(T::Fb1)].to_vec()),
            ("fc2.weight", vec![OUT, h], p[l.range(T::F2)].to_vec()),
            ("fc2.bias", vec![OUT], p[l.range(T::Fb2)].to_vec()),
        ]
    }

    /// Back to the PyTorch-named form.
    pub fn to_lenet(&self) -> LeNet {
        LeNet {
            tensors: self
                .tensors()
                .into_iter()
                .map(|(k, _, v)| (k.to_string(), v))
                .collect(),
        }
    }

    /// Logits (`n x 10`) of `n` grey 28x28 images (`n x 784`), one thread.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_images(x)?;
        let n_all = x.len() / 784;
        let mut out = vec![0.0f32; n_all * OUT];
        let mut ws = Workspace::new(self.dims, CHUNK.min(n_all.max(1)));
        for (ci, imgs) in x.chunks(CHUNK * 784).enumerate() {
            let n = imgs.len() / 784;
            forward(&self.params, self.dims, &mut ws, imgs, n);
            out[ci * CHUNK * OUT..][..n * OUT].copy_from_slice(&ws.out[..n * OUT]);
        }
        Ok(out)
    }

    /// The same on the current rayon pool, chunk by chunk (identical values: each image's
    /// logits do not depend on the chunking).
    pub fn logits_par(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_images(x)?;
        let n_all = x.len() / 784;
        let mut out = vec![0.0f32; n_all * OUT];
        out.par_chunks_mut(CHUNK * OUT)
            .zip(x.par_chunks(CHUNK * 784))
            .for_each_init(
                || Workspace::new(self.dims, CHUNK),
                |ws, (o, imgs)| {
                    let n = imgs.len() / 784;
                    forward(&self.params, self.dims, ws, imgs, n);
                    o.copy_from_slice(&ws.out[..n * OUT]);
                },
            );
        Ok(out)
    }

    /// Mean cross-entropy over `x` (`n x 784`) / `y` and its gradient with respect to every
    /// parameter (in [`Net::params`]' layout), one thread.
    pub fn loss_gradient(&self, x: &[f32], y: &[u32]) -> Result<(f64, Vec<f32>)> {
        super::loss_gradient(&self.dims, &self.params, x, y)
    }

    /// Misclassified images among `x` (one thread).
    pub fn errors(&self, x: &[f32], y: &[u32]) -> Result<usize> {
        let z = self.logits(x)?;
        Ok(count_errors(&z, y))
    }

    /// The mask as multipliers (1 kept, 0 pruned) in the full layout: a pruned conv1 filter
    /// also zeroes its input channel of conv2, a pruned conv2 filter its 16 inputs of FC1.
    pub fn mask_vector(m: &LeNetMask) -> Result<Vec<f32>> {
        m.check()?;
        let l = Dims::FULL.layout();
        let mut v = vec![1.0f32; l.len()];
        let w1 = l.range(T::W1).start;
        let b1 = l.range(T::B1).start;
        for f in (0..C1).filter(|&f| !m.conv1[f]) {
            v[w1 + f * 25..w1 + (f + 1) * 25].fill(0.0);
            v[b1 + f] = 0.0;
        }
        let w2 = l.range(T::W2).start;
        let b2 = l.range(T::B2).start;
        for o in 0..C2 {
            for k in 0..25 {
                for c in 0..C1 {
                    if !m.conv2[o] || !m.conv1[c] {
                        v[w2 + (o * 25 + k) * C1 + c] = 0.0;
                    }
                }
            }
            if !m.conv2[o] {
                v[b2 + o] = 0.0;
            }
        }
        let f1 = l.range(T::F1).start;
        for o in 0..H {
            for i in 0..FC1_IN {
                if !m.fc1_effective(o, i) {
                    v[f1 + o * FC1_IN + i] = 0.0;
                }
            }
        }
        let f2 = l.range(T::F2).start;
        for (i, k) in m.fc2.iter().enumerate() {
            if !k {
                v[f2 + i] = 0.0;
            }
        }
        Ok(v)
    }

    /// These weights as computed at `precision` per weight tensor (conv1, conv2, fc1, fc2):
    /// symmetric per-channel quantization, dequantized ([`crate::quant`]). Biases stay `f32`.
    pub fn quantized(&self, precision: [crate::quant::Precision; 4]) -> Result<Net> {
        let l = self.dims.layout();
        let Dims { c1, c2, h } = self.dims;
        let mut p = self.params.clone();
        for ((t, rows), prec) in [(T::W1, c1), (T::W2, c2), (T::F1, h), (T::F2, 10)]
            .into_iter()
            .zip(precision)
        {
            let r = l.range(t);
            let cols = r.len() / rows.max(1);
            let q = crate::quant::fake_quantize(&p[r.clone()], rows, cols, prec)?;
            p[r].copy_from_slice(&q);
        }
        Ok(Net {
            dims: self.dims,
            params: p,
        })
    }

    /// Storage in bytes at `precision` per weight tensor (conv1, conv2, fc1, fc2): each tensor
    /// dense or CSR, whichever is smaller, counting only its non-zero weights, plus scales and
    /// `f32` biases ([`crate::quant::weight_bytes`]).
    pub fn storage_bytes(&self, precision: [crate::quant::Precision; 4]) -> usize {
        let l = self.dims.layout();
        let Dims { c1, c2, h } = self.dims;
        let weights: usize = [(T::W1, c1), (T::W2, c2), (T::F1, h), (T::F2, 10)]
            .into_iter()
            .zip(precision)
            .map(|((t, rows), prec)| {
                let r = l.range(t);
                let nz = self.params[r.clone()].iter().filter(|v| **v != 0.0).count();
                crate::quant::weight_bytes(rows, r.len() / rows.max(1), nz, prec)
            })
            .sum();
        let biases = 4 * (c1 + c2 + h + 10);
        weights + biases
    }

    /// Logits with PyTorch's dynamic int8 quantization of the linear layers (the
    /// convolutions stay `f32`): FC weights int8 per tensor, FC inputs quantized per chunk of
    /// images to 7-bit `u8` ([`crate::quant`]), one thread.
    pub fn logits_dynamic_int8(&self, x: &[f32]) -> Result<Vec<f32>> {
        use crate::gemm::{Mat, matmul};
        check_images(x)?;
        let l = self.dims.layout();
        let (h, fin) = (self.dims.h, self.dims.fc1_in());
        let f1 = crate::quant::dynamic_int8_weights(&self.params[l.range(T::F1)]);
        let f2 = crate::quant::dynamic_int8_weights(&self.params[l.range(T::F2)]);
        let (b1, b2) = (&self.params[l.range(T::Fb1)], &self.params[l.range(T::Fb2)]);
        let n_all = x.len() / 784;
        let mut out = vec![0.0f32; n_all * OUT];
        let mut ws = Workspace::new(self.dims, CHUNK.min(n_all.max(1)));
        let mut hid = vec![0.0f32; CHUNK * h];
        for (ci, imgs) in x.chunks(CHUNK * 784).enumerate() {
            let n = imgs.len() / 784;
            super::core::forward_conv(&self.params, self.dims, &mut ws, imgs, n);
            let a = crate::quant::dynamic_uint8_activations(&ws.flat[..n * fin]);
            matmul(
                &mut hid,
                n,
                h,
                Mat::new(&a, n, fin),
                Mat::new(&f1, h, fin).t(),
                false,
            );
            for r in hid[..n * h].chunks_exact_mut(h) {
                r.iter_mut()
                    .zip(b1)
                    .for_each(|(v, b)| *v = (*v + b).max(0.0));
            }
            let a2 = crate::quant::dynamic_uint8_activations(&hid[..n * h]);
            let o = &mut out[ci * CHUNK * OUT..][..n * OUT];
            matmul(
                o,
                n,
                OUT,
                Mat::new(&a2, n, h),
                Mat::new(&f2, OUT, h).t(),
                false,
            );
            for r in o.chunks_exact_mut(OUT) {
                r.iter_mut().zip(b2).for_each(|(v, b)| *v += b);
            }
        }
        Ok(out)
    }

    /// These (full-width) weights with `mask` applied.
    pub fn masked(&self, mask: &LeNetMask) -> Result<Net> {
        if self.dims != Dims::FULL {
            return Err(NnError::Shape(
                "a mask applies to the full-width LeNet only".into(),
            ));
        }
        let v = Self::mask_vector(mask)?;
        Ok(Net {
            dims: self.dims,
            params: self.params.iter().zip(&v).map(|(w, m)| w * m).collect(),
        })
    }

    /// Physically remove what `mask` prunes: dead filters and their input channels, FC1 units
    /// left without inputs (their constant output `relu(bias)` is folded into FC2's bias) or
    /// without outputs. The result computes the same logits as [`Net::masked`] with fewer MACs.
    pub fn compact(&self, mask: &LeNetMask) -> Result<Compact> {
        self.compact_with(mask, true)
    }

    /// Like [`Net::compact`], but removing only filters (every FC1 unit stays): the form that
    /// is trained and written back with [`Net::scatter`].
    pub fn compact_filters(&self, mask: &LeNetMask) -> Result<Compact> {
        self.compact_with(mask, false)
    }

    fn compact_with(&self, mask: &LeNetMask, drop_units: bool) -> Result<Compact> {
        let full = self.masked(mask)?;
        let lf = Dims::FULL.layout();
        let p = &full.params;
        let k1: Vec<usize> = (0..C1).filter(|&f| mask.conv1[f]).collect();
        let k2: Vec<usize> = (0..C2).filter(|&f| mask.conv2[f]).collect();
        let f2 = &p[lf.range(T::F2)];
        let fb1 = &p[lf.range(T::Fb1)];
        let mut fold = [0.0f32; OUT];
        let mut kh = Vec::new();
        for j in 0..H {
            if !drop_units {
                kh.push(j);
                continue;
            }
            let has_in = k2
                .iter()
                .any(|&c| (0..16).any(|q| mask.fc1[j * FC1_IN + c * 16 + q]));
            let has_out = (0..OUT).any(|o| mask.fc2[o * H + j]);
            if !has_out {
                continue;
            }
            if has_in {
                kh.push(j);
            } else {
                let a = fb1[j].max(0.0);
                (0..OUT).for_each(|o| fold[o] += a * f2[o * H + j]);
            }
        }
        let dims = Dims {
            c1: k1.len(),
            c2: k2.len(),
            h: kh.len(),
        };
        let l = dims.layout();
        // index[i] = the full-layout position of compact parameter i
        let mut index = vec![0usize; l.len()];
        for (a, &f) in k1.iter().enumerate() {
            for k in 0..25 {
                index[l.range(T::W1).start + a * 25 + k] = lf.range(T::W1).start + f * 25 + k;
            }
            index[l.range(T::B1).start + a] = lf.range(T::B1).start + f;
        }
        for (b, &o) in k2.iter().enumerate() {
            for k in 0..25 {
                for (a, &c) in k1.iter().enumerate() {
                    index[l.range(T::W2).start + (b * 25 + k) * dims.c1 + a] =
                        lf.range(T::W2).start + (o * 25 + k) * C1 + c;
                }
            }
            index[l.range(T::B2).start + b] = lf.range(T::B2).start + o;
        }
        let fin = dims.fc1_in();
        for (r, &j) in kh.iter().enumerate() {
            for (b, &c) in k2.iter().enumerate() {
                for q in 0..16 {
                    index[l.range(T::F1).start + r * fin + b * 16 + q] =
                        lf.range(T::F1).start + j * FC1_IN + c * 16 + q;
                }
            }
            index[l.range(T::Fb1).start + r] = lf.range(T::Fb1).start + j;
            for o in 0..OUT {
                index[l.range(T::F2).start + o * dims.h + r] = lf.range(T::F2).start + o * H + j;
            }
        }
        for o in 0..OUT {
            index[l.range(T::Fb2).start + o] = lf.range(T::Fb2).start + o;
        }
        let mut q: Vec<f32> = index.iter().map(|&i| p[i]).collect();
        q[l.range(T::Fb2)]
            .iter_mut()
            .zip(fold)
            .for_each(|(b, f)| *b += f);
        let mv = Self::mask_vector(mask)?;
        Ok(Compact {
            net: Net { dims, params: q },
            mask: index.iter().map(|&i| mv[i]).collect(),
            conv1: k1,
            conv2: k2,
            hidden: kh,
            index,
            folded: drop_units,
        })
    }

    /// Write the parameters of `c` (from [`Net::compact_filters`] of these full-width weights)
    /// back into their places.
    pub fn scatter(&mut self, c: &Compact) -> Result<()> {
        if c.folded || self.dims != Dims::FULL {
            return Err(NnError::Shape(
                "scatter needs a filters-only compaction of the full-width network".into(),
            ));
        }
        for (v, &i) in c.net.params.iter().zip(&c.index) {
            self.params[i] = *v;
        }
        Ok(())
    }
}

/// A physically compacted LeNet and which original units it kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Compact {
    /// The smaller network (pruned connections inside it are zeros).
    pub net: Net,
    /// Original indices of the kept conv1 filters.
    pub conv1: Vec<usize>,
    /// Original indices of the kept conv2 filters.
    pub conv2: Vec<usize>,
    /// Original indices of the kept FC1 units.
    pub hidden: Vec<usize>,
    /// The mask as multipliers in the compact layout (for training it).
    pub mask: Vec<f32>,
    /// Full-layout position of each compact parameter.
    index: Vec<usize>,
    /// Whether input-less FC1 units were folded into FC2's bias (then it cannot be scattered).
    folded: bool,
}

fn check_images(x: &[f32]) -> Result<()> {
    if !x.len().is_multiple_of(784) {
        return Err(NnError::Shape(format!(
            "{} values are not a whole number of 28x28 images",
            x.len()
        )));
    }
    Ok(())
}

/// Rows of `z` (`n x 10`) whose arg-max (first on ties) differs from `y`.
pub fn count_errors(z: &[f32], y: &[u32]) -> usize {
    z.chunks_exact(OUT)
        .zip(y)
        .filter(|(r, t)| {
            let mut best = 0;
            for k in 1..OUT {
                if r[k] > r[best] {
                    best = k;
                }
            }
            best != **t as usize
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: usize) -> Vec<f32> {
        (0..n * 784)
            .map(|i| ((i * 37 % 251) as f32) / 251.0)
            .collect()
    }

    #[test]
    fn conversion_round_trips_and_matches_the_reference_forward() {
        let l = LeNet::random(4);
        let net = Net::from_lenet(&l).unwrap();
        assert_eq!(net.to_lenet(), l);
        let x = images(3);
        let a = net.logits(&x).unwrap();
        let b = net.logits_par(&x).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 30);
        let mut bad = l.clone();
        bad.tensors.get_mut("fc2.bias").unwrap().pop();
        assert!(
            Net::from_lenet(&bad)
                .unwrap_err()
                .to_string()
                .contains("fc2.bias")
        );
    }

    #[test]
    fn compaction_keeps_the_logits_and_matches_the_mac_count() {
        let mut l = LeNet::random(9);
        // non-zero biases so the folding of input-less FC1 units is exercised
        for (k, v) in l.tensors.iter_mut() {
            if k.ends_with("bias") {
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = 0.05 * ((i % 7) as f32 - 3.0));
            }
        }
        let net = Net::from_lenet(&l).unwrap();
        let mut m = LeNetMask::full();
        [1, 4, 5, 19].iter().for_each(|&f| m.conv1[f] = false);
        (0..50)
            .filter(|f| f % 3 == 0)
            .for_each(|f| m.conv2[f] = false);
        for (i, b) in m.fc1.iter_mut().enumerate() {
            *b = (i * 7919) % 10 < 3;
        }
        // unit 0 keeps no inputs (folded), unit 1 keeps no outputs (dropped)
        (0..FC1_IN).for_each(|i| m.fc1[i] = false);
        (0..OUT).for_each(|o| m.fc2[o * H + 1] = false);
        let c = net.compact(&m).unwrap();
        assert_eq!(c.conv1.len(), 16);
        assert_eq!(c.conv2.len(), 33);
        assert!(!c.hidden.contains(&0) && !c.hidden.contains(&1));
        let x = images(5);
        let want = net.masked(&m).unwrap().logits(&x).unwrap();
        let got = c.net.logits(&x).unwrap();
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // the filters-only form trains and scatters back exactly
        let f = net.compact_filters(&m).unwrap();
        assert_eq!(f.hidden.len(), H);
        let mut back = net.masked(&m).unwrap();
        let before = back.clone();
        back.scatter(&f).unwrap();
        assert_eq!(back, before);
        assert!(back.scatter(&c).is_err());
        let got = f.net.logits(&x).unwrap();
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // the compacted dense MACs bound the mask's effective MACs from above
        assert!(c.net.dims.macs() >= m.macs());
        assert_eq!(
            c.net.dims.c1 * 576 * 25 + c.net.dims.c2 * 64 * 25 * c.net.dims.c1,
            16 * 576 * 25 + 33 * 64 * 25 * 16
        );
    }

    #[test]
    fn quantized_lenet_sizes_and_dynamic_int8() {
        use crate::quant::Precision::{F32, Int4, Int8};
        let net = Net::from_lenet(&LeNet::random(5)).unwrap();
        let dense = net.storage_bytes([F32; 4]);
        assert_eq!(dense, 4 * 431_080);
        // fc1 at int8: 400,000 bytes + 500 scales instead of 1.6 MB
        assert_eq!(
            net.storage_bytes([F32, F32, Int8, F32]),
            dense - 1_600_000 + 400_000 + 2_000
        );
        let q8 = net.quantized([Int8; 4]).unwrap();
        let q4 = net.quantized([Int8, Int8, Int4, Int8]).unwrap();
        let x: Vec<f32> = (0..20 * 784)
            .map(|i| (i * 31 % 255) as f32 / 255.0)
            .collect();
        let z = net.logits(&x).unwrap();
        let z8 = q8.logits(&x).unwrap();
        let z4 = q4.logits(&x).unwrap();
        let zd = net.logits_dynamic_int8(&x).unwrap();
        let diff = |a: &[f32]| {
            a.iter()
                .zip(&z)
                .map(|(p, r)| (p - r).abs())
                .fold(0.0f32, f32::max)
        };
        let scale = z.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // quantized logits are close to the float ones, but not equal; 4 bits err more
        assert!(
            diff(&z8) > 0.0 && diff(&z8) < 0.05 * scale,
            "{} {scale}",
            diff(&z8)
        );
        assert!(diff(&z4) > diff(&z8));
        assert!(
            diff(&zd) > 0.0 && diff(&zd) < 0.05 * scale,
            "{} {scale}",
            diff(&zd)
        );
        // zeros stay zeros: a pruned net's quantized form keeps its sparsity
        let mut m = LeNetMask::full();
        m.fc1.iter_mut().step_by(2).for_each(|b| *b = false);
        let pruned = net.masked(&m).unwrap();
        let pq = pruned.quantized([F32, F32, Int8, F32]).unwrap();
        let l = Dims::FULL.layout();
        // every pruned weight stays zero (small kept ones may round to zero too)
        assert!(
            pruned.params[l.range(T::F1)]
                .iter()
                .zip(&pq.params[l.range(T::F1)])
                .all(|(a, b)| *a != 0.0 || *b == 0.0)
        );
        assert!(pruned.storage_bytes([F32; 4]) < dense);
    }
}
