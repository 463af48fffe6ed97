//! Fully connected classifiers with biases and ReLU, e.g. LeNet-300-100 (784-300-100-10, the
//! MLP of the pruning literature: LeCun et al. 1998, Han et al. 2015), with weight-level masks,
//! mask-aware parameter/MAC counts, and training by the same Caffe solver as [`crate::lenet`].
//!
//! Hand-written on the `gemm` crate for the reason given in [`crate::lenet`]: it is evaluated
//! thousands of times per search. Parameters live in one flat vector, layer by layer: `W_l`
//! (`out x in`, row-major, PyTorch's `nn.Linear` layout) then `b_l`.

use crate::gemm::{Mat, matmul};
use crate::lenet::{Backprop, SolverConfig, SolverReport, solve};
use crate::{NnError, Result};
use rand::SeedableRng;
use rayon::prelude::*;

/// Rows per forward chunk (bounds workspace memory; results do not depend on it).
const CHUNK: usize = 1024;

/// A dense ReLU network `sizes[0] -> sizes[1] -> ... -> sizes[L]` with biases; the last layer
/// has no activation (logits).
#[derive(Clone, Debug, PartialEq)]
pub struct DenseNet {
    /// Layer widths, input first (at least two).
    pub sizes: Vec<usize>,
    /// All parameters, layer by layer: `W_l` (`sizes[l+1] x sizes[l]`) then `b_l`.
    pub params: Vec<f32>,
}

/// The shape of a [`DenseNet`], which is all the solver needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenseShape {
    sizes: Vec<usize>,
    /// Start of `W_l`; `b_l` follows it.
    w_off: Vec<usize>,
    total: usize,
}

impl DenseShape {
    /// The layout of `sizes` (input first). Errors on fewer than two sizes or a zero width.
    pub fn new(sizes: &[usize]) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(NnError::Shape(format!(
                "a dense network needs at least two non-zero widths, got {sizes:?}"
            )));
        }
        let mut w_off = Vec::with_capacity(sizes.len() - 1);
        let mut at = 0;
        for w in sizes.windows(2) {
            w_off.push(at);
            at += w[0] * w[1] + w[1];
        }
        Ok(DenseShape {
            sizes: sizes.to_vec(),
            w_off,
            total: at,
        })
    }
    /// Layers (weight matrices).
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }
    /// The range of `W_l` in the flat vector.
    pub fn weight_range(&self, l: usize) -> std::ops::Range<usize> {
        let s = self.w_off[l];
        s..s + self.sizes[l] * self.sizes[l + 1]
    }
    /// The range of `b_l`.
    pub fn bias_range(&self, l: usize) -> std::ops::Range<usize> {
        let e = self.weight_range(l).end;
        e..e + self.sizes[l + 1]
    }
    /// All parameters.
    pub fn len(&self) -> usize {
        self.total
    }
    /// Never true (clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
    /// Widths, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
}

/// Widths of LeNet-300-100 on 28x28 inputs.
pub const LENET_300_100: [usize; 4] = [784, 300, 100, 10];

impl DenseNet {
    /// LeNet-300-100 on 28x28 inputs (266,610 parameters), Glorot-uniform weights (Caffe's
    /// `xavier` filler of the reference prototxt uses the fan-in; PyTorch-style Glorot is used
    /// here as for [`crate::lenet::LeNet::random`]), zero biases.
    pub fn lenet_300_100(seed: u64) -> Self {
        DenseNet::random(&LENET_300_100, seed).expect("valid sizes")
    }

    /// Random Glorot-uniform weights and zero biases.
    pub fn random(sizes: &[usize], seed: u64) -> Result<Self> {
        use rand::Rng;
        let shape = DenseShape::new(sizes)?;
        let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut params = vec![0.0f32; shape.len()];
        for l in 0..shape.layers() {
            let a = (6.0 / (sizes[l] + sizes[l + 1]) as f32).sqrt();
            for w in &mut params[shape.weight_range(l)] {
                *w = r.random_range(-a..a);
            }
        }
        Ok(DenseNet {
            sizes: sizes.to_vec(),
            params,
        })
    }

    /// A network from its parameters (checked against `sizes`).
    pub fn from_params(sizes: &[usize], params: Vec<f32>) -> Result<Self> {
        let shape = DenseShape::new(sizes)?;
        if params.len() != shape.len() {
            return Err(NnError::Shape(format!(
                "{} parameters for widths {sizes:?}, which need {}",
                params.len(),
                shape.len()
            )));
        }
        Ok(DenseNet {
            sizes: sizes.to_vec(),
            params,
        })
    }

    /// The layout.
    pub fn shape(&self) -> DenseShape {
        DenseShape::new(&self.sizes).expect("validated on construction")
    }

    /// Named tensors in PyTorch's `nn.Sequential` naming (`fc1.weight`, `fc1.bias`, ...), with
    /// shapes.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let s = self.shape();
        let mut out = Vec::new();
        for l in 0..s.layers() {
            out.push((
                format!("fc{}.weight", l + 1),
                vec![self.sizes[l + 1], self.sizes[l]],
                &self.params[s.weight_range(l)],
            ));
            out.push((
                format!("fc{}.bias", l + 1),
                vec![self.sizes[l + 1]],
                &self.params[s.bias_range(l)],
            ));
        }
        out
    }

    /// Logits (`n x classes`) of `x` (`n x sizes[0]`), one thread.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        logits_of(&self.shape(), &self.params, x)
    }

    /// The same chunk-parallel on the current rayon pool (identical values).
    pub fn logits_par(&self, x: &[f32]) -> Result<Vec<f32>> {
        let s = self.shape();
        let (d, c) = (s.sizes[0], *s.sizes.last().expect("two sizes"));
        check(&s, &self.params, x)?;
        let n = x.len() / d;
        let mut out = vec![0.0f32; n * c];
        out.par_chunks_mut(CHUNK * c)
            .zip(x.par_chunks(CHUNK * d))
            .for_each_init(
                || Ws::new(&s, CHUNK),
                |ws, (o, xs)| {
                    let m = xs.len() / d;
                    forward(&s, &self.params, ws, xs, m);
                    o.copy_from_slice(&ws.z.last().expect("a layer")[..m * c]);
                },
            );
        Ok(out)
    }

    /// Mean cross-entropy over `x` / `y` and its gradient with respect to every parameter,
    /// one thread.
    pub fn loss_gradient(&self, x: &[f32], y: &[u32]) -> Result<(f64, Vec<f32>)> {
        crate::lenet::loss_gradient(&self.shape(), &self.params, x, y)
    }

    /// The network with `mask` (one multiplier per parameter, [`DenseShape::len`] values)
    /// applied.
    pub fn masked(&self, mask: &[f32]) -> Result<DenseNet> {
        if mask.len() != self.params.len() {
            return Err(NnError::Shape(format!(
                "mask has {} values, the network {}",
                mask.len(),
                self.params.len()
            )));
        }
        Ok(DenseNet {
            sizes: self.sizes.clone(),
            params: self.params.iter().zip(mask).map(|(w, m)| w * m).collect(),
        })
    }

    /// Multiply-accumulates per sample of the dense network (one per weight).
    pub fn macs(&self) -> usize {
        self.sizes.windows(2).map(|w| w[0] * w[1]).sum()
    }
}

fn check(s: &DenseShape, p: &[f32], x: &[f32]) -> Result<()> {
    if p.len() != s.len() {
        return Err(NnError::Shape(format!(
            "{} parameters, the network has {}",
            p.len(),
            s.len()
        )));
    }
    if !x.len().is_multiple_of(s.sizes[0]) {
        return Err(NnError::Shape(format!(
            "{} input values are not a whole number of {}-value samples",
            x.len(),
            s.sizes[0]
        )));
    }
    Ok(())
}

/// Logits of `x` under parameters `p` laid out as `s` (one thread).
pub fn logits_of(s: &DenseShape, p: &[f32], x: &[f32]) -> Result<Vec<f32>> {
    check(s, p, x)?;
    let (d, c) = (s.sizes[0], *s.sizes.last().expect("two sizes"));
    let n = x.len() / d;
    let mut out = vec![0.0f32; n * c];
    let mut ws = Ws::new(s, CHUNK.min(n.max(1)));
    for (o, xs) in out.chunks_mut(CHUNK * c).zip(x.chunks(CHUNK * d)) {
        let m = xs.len() / d;
        forward(s, p, &mut ws, xs, m);
        o.copy_from_slice(&ws.z.last().expect("a layer")[..m * c]);
    }
    Ok(out)
}

/// The first layer's pre-activations without bias, transposed: `W_1 x^T` (`sizes[1] x n`),
/// from the transposed inputs `xt` (`sizes[0] x n`). Row `o` is unit `o` over all samples, so
/// changing weight `(o, i)` by `dw` changes row `o` by `dw * xt[i]`: the incremental update.
pub fn first_layer_t(s: &DenseShape, p: &[f32], xt: &[f32], n: usize) -> Result<Vec<f32>> {
    let (d, h) = (s.sizes[0], s.sizes[1]);
    if p.len() != s.len() || xt.len() != d * n {
        return Err(NnError::Shape(format!(
            "{} transposed input values for {n} samples of {d}",
            xt.len()
        )));
    }
    let mut z = vec![0.0f32; h * n];
    matmul(
        &mut z,
        h,
        n,
        Mat::new(&p[s.weight_range(0)], h, d),
        Mat::new(xt, d, n),
        false,
    );
    Ok(z)
}

/// The layers after the first: given the first layer's pre-activations `z1` (`n x sizes[1]`,
/// without bias), finish the forward pass. Used for incremental evaluation, where `z1` is
/// updated by the few weights that changed instead of recomputed.
pub fn logits_from_first(s: &DenseShape, p: &[f32], z1: &[f32]) -> Result<Vec<f32>> {
    let h = s.sizes[1];
    if p.len() != s.len() || !z1.len().is_multiple_of(h) {
        return Err(NnError::Shape(format!(
            "{} first-layer values are not a whole number of {h}-unit rows",
            z1.len()
        )));
    }
    let n = z1.len() / h;
    let mut a = z1.to_vec();
    let b = &p[s.bias_range(0)];
    for r in a.chunks_exact_mut(h) {
        r.iter_mut().zip(b).for_each(|(v, bb)| *v += bb);
    }
    if s.layers() == 1 {
        return Ok(a);
    }
    crate::head::train::relu(&mut a);
    Ok(tail(s, p, Mat::new(&a, n, h), n))
}

/// The same from the transposed pre-activations `z1t` (`sizes[1] x n`, the layout of
/// [`first_layer_t`]), consumed: no transpose is made, the next layer reads it transposed.
pub fn logits_from_first_t(
    s: &DenseShape,
    p: &[f32],
    mut z1t: Vec<f32>,
    n: usize,
) -> Result<Vec<f32>> {
    let h = s.sizes[1];
    if p.len() != s.len() || z1t.len() != h * n {
        return Err(NnError::Shape(format!(
            "{} first-layer values for {h} units x {n} samples",
            z1t.len()
        )));
    }
    let b = &p[s.bias_range(0)];
    for (r, bb) in z1t.chunks_exact_mut(n.max(1)).zip(b) {
        r.iter_mut().for_each(|v| *v += bb);
    }
    if s.layers() == 1 {
        let mut out = vec![0.0f32; n * h];
        for o in 0..h {
            for i in 0..n {
                out[i * h + o] = z1t[o * n + i];
            }
        }
        return Ok(out);
    }
    crate::head::train::relu(&mut z1t);
    Ok(tail(s, p, Mat::new(&z1t, h, n).t(), n))
}

/// Layers 2.. of the forward pass from the first hidden layer's activations `a1` (`n x h`).
fn tail(s: &DenseShape, p: &[f32], a1: Mat<'_>, n: usize) -> Vec<f32> {
    let mut cur: Vec<f32> = Vec::new();
    for l in 1..s.layers() {
        let (i, o) = (s.sizes[l], s.sizes[l + 1]);
        let mut z = vec![0.0f32; n * o];
        let input = if l == 1 { a1 } else { Mat::new(&cur, n, i) };
        matmul(
            &mut z,
            n,
            o,
            input,
            Mat::new(&p[s.weight_range(l)], o, i).t(),
            false,
        );
        let b = &p[s.bias_range(l)];
        for r in z.chunks_exact_mut(o) {
            r.iter_mut().zip(b).for_each(|(v, bb)| *v += bb);
        }
        if l + 1 < s.layers() {
            crate::head::train::relu(&mut z);
        }
        cur = z;
    }
    cur
}

/// Activations of one batch.
pub(crate) struct Ws {
    /// Pre-activations per layer (`cap x sizes[l+1]`); hidden ones hold the ReLU output after
    /// the forward pass.
    z: Vec<Vec<f32>>,
    dz: Vec<Vec<f32>>,
    x: Vec<f32>,
}

impl Ws {
    fn new(s: &DenseShape, cap: usize) -> Self {
        Ws {
            z: s.sizes[1..].iter().map(|&w| vec![0.0; cap * w]).collect(),
            dz: Vec::new(),
            x: Vec::new(),
        }
    }
}

fn forward(s: &DenseShape, p: &[f32], ws: &mut Ws, x: &[f32], n: usize) {
    let last = s.layers() - 1;
    for l in 0..s.layers() {
        let (i, o) = (s.sizes[l], s.sizes[l + 1]);
        let (before, after) = ws.z.split_at_mut(l);
        let input: &[f32] = if l == 0 { x } else { &before[l - 1] };
        let z = &mut after[0];
        matmul(
            z,
            n,
            o,
            Mat::new(input, n, i),
            Mat::new(&p[s.weight_range(l)], o, i).t(),
            false,
        );
        let b = &p[s.bias_range(l)];
        for r in z[..n * o].chunks_exact_mut(o) {
            r.iter_mut().zip(b).for_each(|(v, bb)| *v += bb);
        }
        if l < last {
            crate::head::train::relu(&mut z[..n * o]);
        }
    }
}

impl Backprop for DenseShape {
    type Ws = Ws;
    fn input_len(&self) -> usize {
        self.sizes[0]
    }
    fn classes(&self) -> usize {
        *self.sizes.last().expect("two sizes")
    }
    fn n_params(&self) -> usize {
        self.total
    }
    fn is_bias(&self, i: usize) -> bool {
        (0..self.layers()).any(|l| self.bias_range(l).contains(&i))
    }
    fn workspace(&self, cap: usize) -> Ws {
        let mut ws = Ws::new(self, cap);
        ws.dz = self.sizes[1..]
            .iter()
            .map(|&w| vec![0.0; cap * w])
            .collect();
        ws.x = vec![0.0; cap * self.sizes[0]];
        ws
    }
    fn step(&self, p: &[f32], ws: &mut Ws, x: &[f32], y: &[u32], denom: f32, g: &mut [f32]) -> f64 {
        let n = y.len();
        forward(self, p, ws, x, n);
        let c = self.classes();
        let lay = self.layers();
        let mut loss = 0.0f64;
        {
            let z = &ws.z[lay - 1];
            let d = &mut ws.dz[lay - 1];
            for (i, &t) in y.iter().enumerate() {
                let zi = &z[i * c..(i + 1) * c];
                let m = zi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = zi.iter().map(|v| (v - m).exp()).sum();
                loss += f64::from(sum.ln() + m - zi[t as usize]);
                for k in 0..c {
                    d[i * c + k] =
                        ((zi[k] - m).exp() / sum - if k == t as usize { 1.0 } else { 0.0 }) / denom;
                }
            }
        }
        for l in (0..lay).rev() {
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            let input: &[f32] = if l == 0 { x } else { &ws.z[l - 1] };
            let wr = self.weight_range(l);
            let br = self.bias_range(l);
            let dz = &ws.dz[l];
            matmul(
                &mut g[wr.clone()],
                o,
                i,
                Mat::new(dz, n, o).t(),
                Mat::new(input, n, i),
                false,
            );
            let gb = &mut g[br];
            gb.fill(0.0);
            for r in dz[..n * o].chunks_exact(o) {
                gb.iter_mut().zip(r).for_each(|(d, v)| *d += v);
            }
            if l > 0 {
                let (lo, hi) = ws.dz.split_at_mut(l);
                let da = &mut lo[l - 1];
                matmul(
                    da,
                    n,
                    i,
                    Mat::new(&hi[0], n, o),
                    Mat::new(&p[wr], o, i),
                    false,
                );
                crate::head::train::relu_backward(&mut da[..n * i], &ws.z[l - 1][..n * i]);
            }
        }
        loss
    }
}

/// Train `net` in place with Caffe's solver (see [`crate::lenet::train`]): fixed masks
/// (`mask`: one multiplier per parameter, masked weights zero on entry stay zero), bit-identical
/// on 1 or N threads, a NaN/infinite loss is [`NnError::NonFinite`].
pub fn train_dense(
    net: &mut DenseNet,
    mask: Option<&[f32]>,
    x: &[f32],
    y: &[u32],
    cfg: &SolverConfig,
    progress: impl FnMut(usize, usize),
) -> Result<SolverReport> {
    let s = net.shape();
    solve(&s, &mut net.params, mask, x, y, cfg, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        use rand::Rng;
        let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let k = i % 3;
            for j in 0..8 {
                let centre = if j % 3 == k { 1.5 } else { 0.0 };
                x.push(centre + r.random_range(-0.5f32..0.5));
            }
            y.push(k as u32);
        }
        (x, y)
    }

    #[test]
    fn layout_and_counts_of_lenet_300_100() {
        let n = DenseNet::lenet_300_100(1);
        let s = n.shape();
        assert_eq!(s.len(), 266_610);
        assert_eq!(n.macs(), 784 * 300 + 300 * 100 + 100 * 10);
        assert_eq!(s.weight_range(1), 235_500..235_500 + 30_000);
        assert_eq!(s.bias_range(2), 266_600..266_610);
        let t = n.tensors();
        assert_eq!(t[0].0, "fc1.weight");
        assert_eq!(t[0].1, vec![300, 784]);
        assert!(DenseShape::new(&[3]).is_err());
        assert!(DenseNet::from_params(&[2, 2], vec![0.0; 5]).is_err());
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = DenseShape::new(&[8, 5, 4, 3]).unwrap();
        let net = DenseNet::random(&[8, 5, 4, 3], 2).unwrap();
        let mut p = net.params.clone();
        // non-zero biases so their gradient is exercised
        for l in 0..3 {
            for (k, b) in p[s.bias_range(l)].iter_mut().enumerate() {
                *b = 0.05 * k as f32;
            }
        }
        let (x, y) = blobs(6, 3);
        let mut ws = s.workspace(6);
        let mut g = vec![0.0; s.len()];
        s.step(&p, &mut ws, &x, &y, 6.0, &mut g);
        let loss = |p: &[f32]| {
            let mut ws = s.workspace(6);
            let mut g = vec![0.0; s.len()];
            s.step(p, &mut ws, &x, &y, 6.0, &mut g) / 6.0
        };
        for i in (0..s.len()).step_by(7) {
            let mut a = p.clone();
            let mut b = p.clone();
            a[i] += 1e-2;
            b[i] -= 1e-2;
            let fd = (loss(&a) - loss(&b)) / 2e-2;
            assert!(
                (fd - f64::from(g[i])).abs() < 2e-3 + 0.02 * fd.abs(),
                "param {i}: {fd} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn trains_with_a_fixed_mask_identically_on_one_or_two_threads() {
        let (x, y) = blobs(300, 1);
        let base = DenseNet::random(&[8, 16, 3], 4).unwrap();
        let s = base.shape();
        let mut mask = vec![1.0f32; s.len()];
        for (k, m) in mask[s.weight_range(0)].iter_mut().enumerate() {
            if k % 3 == 0 {
                *m = 0.0;
            }
        }
        let cfg = SolverConfig {
            epochs: 20.0,
            batch: 32,
            lr: 0.05,
            ..SolverConfig::default()
        };
        let run = |threads: usize| {
            let mut net = base.masked(&mask).unwrap();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let r = pool
                .install(|| train_dense(&mut net, Some(&mask), &x, &y, &cfg, |_, _| {}))
                .unwrap();
            (net, r)
        };
        let (net, r) = run(1);
        assert!(r.epoch_loss.last().unwrap() < &(0.5 * r.epoch_loss[0]));
        let z = net.logits(&x).unwrap();
        let errs = ((1.0 - crate::metrics::accuracy(&z, &y, 3).unwrap()) * 300.0).round() as usize;
        assert!(errs < 10, "{errs} errors, losses {:?}", r.epoch_loss);
        assert!(
            net.params
                .iter()
                .zip(&mask)
                .all(|(w, m)| *m != 0.0 || *w == 0.0)
        );
        assert_eq!(run(2).0, net);
        assert_eq!(net.logits_par(&x).unwrap(), z);
        // the tail forward from the first layer's pre-activations gives the same logits
        let n = y.len();
        let mut z1 = vec![0.0f32; n * 16];
        for i in 0..n {
            for o in 0..16 {
                z1[i * 16 + o] = (0..8)
                    .map(|k| x[i * 8 + k] * net.params[o * 8 + k])
                    .sum::<f32>();
            }
        }
        let tail = logits_from_first(&s, &net.params, &z1).unwrap();
        for (a, b) in tail.iter().zip(&z) {
            assert!((a - b).abs() < 1e-4);
        }
        let mut xt = vec![0.0f32; 8 * n];
        for i in 0..n {
            for k in 0..8 {
                xt[k * n + i] = x[i * 8 + k];
            }
        }
        let z1t = first_layer_t(&s, &net.params, &xt, n).unwrap();
        let tail_t = logits_from_first_t(&s, &net.params, z1t, n).unwrap();
        for (a, b) in tail_t.iter().zip(&z) {
            assert!((a - b).abs() < 1e-4);
        }
        // a diverging run is an error
        let mut bad = base.clone();
        let hot = SolverConfig {
            lr: 1e9,
            ..cfg.clone()
        };
        assert!(matches!(
            train_dense(&mut bad, None, &x, &y, &hot, |_, _| {}),
            Err(NnError::NonFinite { .. })
        ));
        assert!(train_dense(&mut bad, None, &x[..10], &y, &cfg, |_, _| {}).is_err());
    }
}
