//! The LeNet compute core for any layer widths: forward, backward and workspaces, on im2col and
//! the `gemm` crate.
//!
//! Hand-written because it is the hot loop of GA pruning (thousands of masked or compacted
//! forwards, periodic retraining): burn-flex runs LeNet's small convolutions through a generic
//! direct kernel about 2x slower than this, and its autodiff allocates per step. All parameters
//! live in one flat vector (see [`Layout`]), so the optimiser update, masks and gradient sums are
//! single loops.

use crate::gemm::{Mat, matmul};

/// Widths of a (possibly compacted) LeNet: `c1` conv1 filters, `c2` conv2 filters, `h` FC1
/// units; the input is 1x28x28 and the output 10 classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dims {
    /// conv1 filters (5x5 over 1 channel).
    pub c1: usize,
    /// conv2 filters (5x5 over `c1` channels).
    pub c2: usize,
    /// FC1 units (over `16 * c2` inputs).
    pub h: usize,
}

impl Dims {
    /// The full Caffe LeNet: 20, 50, 500.
    pub const FULL: Dims = Dims {
        c1: 20,
        c2: 50,
        h: 500,
    };

    /// FC1 inputs.
    pub fn fc1_in(&self) -> usize {
        16 * self.c2
    }

    /// Offsets of each tensor in the flat parameter vector.
    pub fn layout(&self) -> Layout {
        let sizes = [
            25 * self.c1,
            self.c1,
            25 * self.c1 * self.c2,
            self.c2,
            self.fc1_in() * self.h,
            self.h,
            10 * self.h,
            10,
        ];
        let mut off = [0; 9];
        for (i, s) in sizes.iter().enumerate() {
            off[i + 1] = off[i] + s;
        }
        Layout { off }
    }

    /// Multiply-accumulates per image of the dense network of these widths.
    pub fn macs(&self) -> usize {
        self.c1 * 576 * 25 + self.c2 * 64 * 25 * self.c1 + self.fc1_in() * self.h + self.h * 10
    }
}

/// Tensors in the flat parameter vector, in order: `w1` `[c1][25]`, `b1`, `w2` `[c2][25][c1]`
/// (kernel position outer, input channel inner: the im2col column order), `b2`, `f1`
/// `[h][16 c2]` (PyTorch's CHW flatten order, `c * 16 + y * 4 + x`), `fb1`, `f2` `[10][h]`, `fb2`.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    off: [usize; 9],
}

/// Index of each tensor in [`Layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum T {
    W1 = 0,
    B1,
    W2,
    B2,
    F1,
    Fb1,
    F2,
    Fb2,
}

impl Layout {
    /// The range of tensor `t`.
    pub fn range(&self, t: T) -> std::ops::Range<usize> {
        self.off[t as usize]..self.off[t as usize + 1]
    }
    /// Total parameters.
    pub fn len(&self) -> usize {
        self.off[8]
    }
    /// Never true for a real network (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.off[8] == 0
    }
    /// Whether parameter `i` is a bias.
    pub fn is_bias(&self, i: usize) -> bool {
        [T::B1, T::B2, T::Fb1, T::Fb2]
            .iter()
            .any(|&t| self.range(t).contains(&i))
    }
}

/// Activations and gradients of one batch of at most `cap` images (reused across batches: no
/// allocation per step).
pub(crate) struct Workspace {
    cap: usize,
    dims: Dims,
    cols1: Vec<f32>,
    a1: Vec<f32>,
    p1: Vec<f32>,
    arg1: Vec<u8>,
    cols2: Vec<f32>,
    a2: Vec<f32>,
    p2: Vec<f32>,
    arg2: Vec<u8>,
    /// FC1 inputs of the last forward, `n x 16 c2`.
    pub flat: Vec<f32>,
    hid: Vec<f32>,
    /// Logits of the last forward, `n x 10`.
    pub out: Vec<f32>,
    // backward
    dout: Vec<f32>,
    dh: Vec<f32>,
    dflat: Vec<f32>,
    da2: Vec<f32>,
    dcols2: Vec<f32>,
    dp1: Vec<f32>,
    da1: Vec<f32>,
}

impl Workspace {
    pub fn new(dims: Dims, cap: usize) -> Self {
        let Dims { c1, c2, h } = dims;
        Workspace {
            cap,
            dims,
            cols1: vec![0.0; cap * 576 * 25],
            a1: vec![0.0; cap * 576 * c1],
            p1: vec![0.0; cap * 144 * c1],
            arg1: vec![0; cap * 144 * c1],
            cols2: vec![0.0; cap * 64 * 25 * c1],
            a2: vec![0.0; cap * 64 * c2],
            p2: vec![0.0; cap * 16 * c2],
            arg2: vec![0; cap * 16 * c2],
            flat: vec![0.0; cap * 16 * c2],
            hid: vec![0.0; cap * h],
            out: vec![0.0; cap * 10],
            dout: Vec::new(),
            dh: Vec::new(),
            dflat: Vec::new(),
            da2: Vec::new(),
            dcols2: Vec::new(),
            dp1: Vec::new(),
            da1: Vec::new(),
        }
    }

    fn ensure_backward(&mut self) {
        if self.dout.is_empty() {
            let (cap, Dims { c1, c2, h }) = (self.cap, self.dims);
            self.dout = vec![0.0; cap * 10];
            self.dh = vec![0.0; cap * h];
            self.dflat = vec![0.0; cap * 16 * c2];
            self.da2 = vec![0.0; cap * 64 * c2];
            self.dcols2 = vec![0.0; cap * 64 * 25 * c1];
            self.dp1 = vec![0.0; cap * 144 * c1];
            self.da1 = vec![0.0; cap * 576 * c1];
        }
    }
}

fn add_bias(x: &mut [f32], b: &[f32]) {
    if b.is_empty() {
        return;
    }
    for r in x.chunks_exact_mut(b.len()) {
        r.iter_mut().zip(b).for_each(|(v, bb)| *v += bb);
    }
}

fn col_sums(x: &[f32], width: usize, dst: &mut [f32]) {
    dst.fill(0.0);
    if width == 0 {
        return;
    }
    for r in x.chunks_exact(width) {
        dst.iter_mut().zip(r).for_each(|(d, v)| *d += v);
    }
}

/// 2x2 max-pool, stride 2, of `n` HWC maps `size x size x c`, recording which of the four
/// inputs won (first maximum on ties, as PyTorch).
fn pool2(input: &[f32], out: &mut [f32], arg: &mut [u8], n: usize, size: usize, c: usize) {
    let half = size / 2;
    for i in 0..n {
        for y in 0..half {
            for x in 0..half {
                let o = ((i * half * half) + y * half + x) * c;
                let at = |yy: usize, xx: usize| ((i * size * size) + yy * size + xx) * c;
                let src = [
                    at(2 * y, 2 * x),
                    at(2 * y, 2 * x + 1),
                    at(2 * y + 1, 2 * x),
                    at(2 * y + 1, 2 * x + 1),
                ];
                for k in 0..c {
                    let mut best = input[src[0] + k];
                    let mut w = 0u8;
                    for (q, s) in src.iter().enumerate().skip(1) {
                        let v = input[s + k];
                        if v > best {
                            best = v;
                            w = q as u8;
                        }
                    }
                    out[o + k] = best;
                    arg[o + k] = w;
                }
            }
        }
    }
}

/// The gradient of [`pool2`]: route each output gradient to its winning input.
fn unpool2(dout: &[f32], arg: &[u8], din: &mut [f32], n: usize, size: usize, c: usize) {
    let half = size / 2;
    din[..n * size * size * c].fill(0.0);
    for i in 0..n {
        for y in 0..half {
            for x in 0..half {
                let o = ((i * half * half) + y * half + x) * c;
                for k in 0..c {
                    let q = arg[o + k] as usize;
                    let (yy, xx) = (2 * y + q / 2, 2 * x + q % 2);
                    din[((i * size * size) + yy * size + xx) * c + k] = dout[o + k];
                }
            }
        }
    }
}

/// The convolutional part of [`forward`]: FC1's inputs land in [`Workspace::flat`] (`n x 16 c2`,
/// CHW order). Only the conv tensors of `p` are read.
pub(crate) fn forward_conv(p: &[f32], dims: Dims, ws: &mut Workspace, x: &[f32], n: usize) {
    debug_assert!(n <= ws.cap && ws.dims == dims && x.len() >= n * 784);
    let Dims { c1, c2, .. } = dims;
    let l = dims.layout();
    let k2 = 25 * c1;
    // conv1: im2col rows = (image, y, x) over 24x24, columns = (ky, kx)
    for i in 0..n {
        let img = &x[i * 784..(i + 1) * 784];
        for y in 0..24 {
            for xx in 0..24 {
                let r = &mut ws.cols1[((i * 576) + y * 24 + xx) * 25..][..25];
                for ky in 0..5 {
                    r[ky * 5..ky * 5 + 5].copy_from_slice(&img[(y + ky) * 28 + xx..][..5]);
                }
            }
        }
    }
    matmul(
        &mut ws.a1,
        n * 576,
        c1,
        Mat::new(&ws.cols1, n * 576, 25),
        Mat::new(&p[l.range(T::W1)], c1, 25).t(),
        false,
    );
    add_bias(&mut ws.a1[..n * 576 * c1], &p[l.range(T::B1)]);
    pool2(&ws.a1, &mut ws.p1, &mut ws.arg1, n, 24, c1);
    // conv2: rows = (image, y, x) over 8x8, columns = (ky, kx, c): 25 contiguous runs of the
    // c1 HWC channels
    for i in 0..n {
        for y in 0..8 {
            for xx in 0..8 {
                let r = &mut ws.cols2[((i * 64) + y * 8 + xx) * k2..][..k2];
                for ky in 0..5 {
                    for kx in 0..5 {
                        let src = ((i * 144) + (y + ky) * 12 + xx + kx) * c1;
                        r[(ky * 5 + kx) * c1..][..c1].copy_from_slice(&ws.p1[src..src + c1]);
                    }
                }
            }
        }
    }
    matmul(
        &mut ws.a2,
        n * 64,
        c2,
        Mat::new(&ws.cols2, n * 64, k2),
        Mat::new(&p[l.range(T::W2)], c2, k2).t(),
        false,
    );
    add_bias(&mut ws.a2[..n * 64 * c2], &p[l.range(T::B2)]);
    pool2(&ws.a2, &mut ws.p2, &mut ws.arg2, n, 8, c2);
    let fin = dims.fc1_in();
    for i in 0..n {
        for pos in 0..16 {
            for c in 0..c2 {
                ws.flat[i * fin + c * 16 + pos] = ws.p2[(i * 16 + pos) * c2 + c];
            }
        }
    }
}

/// Forward `n <= cap` grey 28x28 images (`x`: `n x 784`); logits land in `ws.out[..n * 10]`.
pub(crate) fn forward(p: &[f32], dims: Dims, ws: &mut Workspace, x: &[f32], n: usize) {
    forward_conv(p, dims, ws, x, n);
    let (h, fin) = (dims.h, dims.fc1_in());
    let l = dims.layout();
    matmul(
        &mut ws.hid,
        n,
        h,
        Mat::new(&ws.flat, n, fin),
        Mat::new(&p[l.range(T::F1)], h, fin).t(),
        false,
    );
    add_bias(&mut ws.hid[..n * h], &p[l.range(T::Fb1)]);
    crate::head::train::relu(&mut ws.hid[..n * h]);
    matmul(
        &mut ws.out,
        n,
        10,
        Mat::new(&ws.hid, n, h),
        Mat::new(&p[l.range(T::F2)], 10, h).t(),
        false,
    );
    add_bias(&mut ws.out[..n * 10], &p[l.range(T::Fb2)]);
}

/// Softmax cross-entropy of the last forward against `labels`, and the full gradient of
/// `sum(loss) / denom` into `g` (overwritten). Returns the summed loss of the `n` images.
pub(crate) fn backward(
    p: &[f32],
    dims: Dims,
    ws: &mut Workspace,
    labels: &[u32],
    denom: f32,
    g: &mut [f32],
) -> f64 {
    ws.ensure_backward();
    let n = labels.len();
    let Dims { c1, c2, h } = dims;
    let l = dims.layout();
    let (fin, k2) = (dims.fc1_in(), 25 * c1);
    let mut loss = 0.0f64;
    for (i, &y) in labels.iter().enumerate() {
        let z = &ws.out[i * 10..(i + 1) * 10];
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let s: f32 = z.iter().map(|v| (v - m).exp()).sum();
        loss += f64::from(s.ln() + m - z[y as usize]);
        let d = &mut ws.dout[i * 10..(i + 1) * 10];
        for k in 0..10 {
            d[k] = ((z[k] - m).exp() / s - if k == y as usize { 1.0 } else { 0.0 }) / denom;
        }
    }
    let (gw1, rest) = g.split_at_mut(l.range(T::B1).start);
    let (gb1, rest) = rest.split_at_mut(c1);
    let (gw2, rest) = rest.split_at_mut(25 * c1 * c2);
    let (gb2, rest) = rest.split_at_mut(c2);
    let (gf1, rest) = rest.split_at_mut(fin * h);
    let (gfb1, rest) = rest.split_at_mut(h);
    let (gf2, gfb2) = rest.split_at_mut(10 * h);
    // FC2
    matmul(
        gf2,
        10,
        h,
        Mat::new(&ws.dout, n, 10).t(),
        Mat::new(&ws.hid, n, h),
        false,
    );
    col_sums(&ws.dout[..n * 10], 10, gfb2);
    matmul(
        &mut ws.dh,
        n,
        h,
        Mat::new(&ws.dout, n, 10),
        Mat::new(&p[l.range(T::F2)], 10, h),
        false,
    );
    crate::head::train::relu_backward(&mut ws.dh[..n * h], &ws.hid[..n * h]);
    // FC1
    matmul(
        gf1,
        h,
        fin,
        Mat::new(&ws.dh, n, h).t(),
        Mat::new(&ws.flat, n, fin),
        false,
    );
    col_sums(&ws.dh[..n * h], h, gfb1);
    matmul(
        &mut ws.dflat,
        n,
        fin,
        Mat::new(&ws.dh, n, h),
        Mat::new(&p[l.range(T::F1)], h, fin),
        false,
    );
    // back to HWC (reuse p2's shape in dcols2's head as scratch would alias; use da2 after)
    let mut dp2 = std::mem::take(&mut ws.p2); // p2 values are no longer needed
    for i in 0..n {
        for pos in 0..16 {
            for c in 0..c2 {
                dp2[(i * 16 + pos) * c2 + c] = ws.dflat[i * fin + c * 16 + pos];
            }
        }
    }
    unpool2(&dp2, &ws.arg2, &mut ws.da2, n, 8, c2);
    ws.p2 = dp2;
    // conv2
    matmul(
        gw2,
        c2,
        k2,
        Mat::new(&ws.da2, n * 64, c2).t(),
        Mat::new(&ws.cols2, n * 64, k2),
        false,
    );
    col_sums(&ws.da2[..n * 64 * c2], c2, gb2);
    matmul(
        &mut ws.dcols2,
        n * 64,
        k2,
        Mat::new(&ws.da2, n * 64, c2),
        Mat::new(&p[l.range(T::W2)], c2, k2),
        false,
    );
    // col2im into dp1
    ws.dp1[..n * 144 * c1].fill(0.0);
    for i in 0..n {
        for y in 0..8 {
            for xx in 0..8 {
                let r = &ws.dcols2[((i * 64) + y * 8 + xx) * k2..][..k2];
                for ky in 0..5 {
                    for kx in 0..5 {
                        let dst = ((i * 144) + (y + ky) * 12 + xx + kx) * c1;
                        ws.dp1[dst..dst + c1]
                            .iter_mut()
                            .zip(&r[(ky * 5 + kx) * c1..][..c1])
                            .for_each(|(d, v)| *d += v);
                    }
                }
            }
        }
    }
    unpool2(&ws.dp1, &ws.arg1, &mut ws.da1, n, 24, c1);
    // conv1
    matmul(
        gw1,
        c1,
        25,
        Mat::new(&ws.da1, n * 576, c1).t(),
        Mat::new(&ws.cols1, n * 576, 25),
        false,
    );
    col_sums(&ws.da1[..n * 576 * c1], c1, gb1);
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_vec(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let dims = Dims { c1: 3, c2: 4, h: 6 };
        let l = dims.layout();
        let mut p = rand_vec(l.len(), 1, 0.3);
        let n = 3;
        let x = rand_vec(n * 784, 2, 1.0);
        let y = [1u32, 7, 3];
        let mut ws = Workspace::new(dims, n);
        let loss = |p: &[f32], ws: &mut Workspace| {
            forward(p, dims, ws, &x, n);
            let mut g = vec![0.0; l.len()];
            backward(p, dims, ws, &y, n as f32, &mut g) / n as f64
        };
        let mut g = vec![0.0; l.len()];
        forward(&p, dims, &mut ws, &x, n);
        backward(&p, dims, &mut ws, &y, n as f32, &mut g);
        // one parameter of every tensor, plus a few more
        let mut checked = 0;
        for t in [T::W1, T::B1, T::W2, T::B2, T::F1, T::Fb1, T::F2, T::Fb2] {
            let r = l.range(t);
            for i in [r.start, r.start + (r.end - r.start) / 2, r.end - 1] {
                let e = 1e-3f32;
                let old = p[i];
                p[i] = old + e;
                let up = loss(&p, &mut ws);
                p[i] = old - e;
                let down = loss(&p, &mut ws);
                p[i] = old;
                let fd = ((up - down) / (2.0 * e as f64)) as f32;
                assert!(
                    (fd - g[i]).abs() < 2e-3 + 2e-2 * g[i].abs(),
                    "{t:?}[{i}]: analytic {} vs numeric {fd}",
                    g[i]
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 24);
    }

    #[test]
    fn layout_of_the_full_network_has_431080_parameters() {
        assert_eq!(Dims::FULL.layout().len(), 431_080);
        assert_eq!(Dims::FULL.macs(), 2_293_000);
        let l = Dims::FULL.layout();
        assert!(l.is_bias(l.range(T::Fb1).start) && !l.is_bias(0));
    }
}
