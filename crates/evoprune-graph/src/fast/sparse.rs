//! Kernels for unstructured sparsity: convolutions and linear layers whose weights are mostly
//! zeros (weight-level pruning: hierarchical pruning, GA pruning's connections), stored as
//! compressed rows (one row of non-zeros per output channel) and run without touching the
//! zeros.
//!
//! A convolution (stride 1, one group) runs on the plain, padded input with the "padded-width
//! grid" trick: output pixel `(y, x)` is computed at grid position `y * W + x` of the padded
//! width `W`, where tap `(c, ky, kx)` reads the input at that position plus the constant
//! `c * H * W + ky * W + kx`; each non-zero weight is then one broadcast multiply-add over a
//! contiguous run of sixteen-lane vectors, and the `W - ow` grid columns that are not outputs
//! are dropped when the grid is stored. A linear layer runs on the transposed batch, so each
//! non-zero is one multiply-add over vectors of sixteen samples.
//!
//! Hand-written: no crate we know of runs sparse-weight convolutions on the CPU (`sprs` and
//! `nalgebra-sparse` do sparse-dense products with scalar inner loops, not convolutions).
//!
//! Each output is summed over its row's non-zeros in one fixed order by one unit of work:
//! the same bits on 1 and N threads, on AVX-512 and on the portable lanes.
#![allow(unsafe_code)]

use super::conv::{Act, Geom, SendPtr};
use super::simd::{L, Lanes, has_avx512, has_fma};
use rayon::prelude::*;
use std::cell::RefCell;

/// The fraction of non-zero entries of `w`.
pub(crate) fn density(w: &[f32]) -> f64 {
    if w.is_empty() {
        return 1.0;
    }
    w.iter().filter(|v| **v != 0.0).count() as f64 / w.len() as f64
}

/// Compressed rows: row `r`'s non-zeros are `offs[rows[r]..rows[r + 1]]` (input offsets) and
/// `vals[..]` (weights).
#[derive(Clone, Debug, Default)]
struct Csr {
    rows: Vec<usize>,
    offs: Vec<u32>,
    vals: Vec<f32>,
}

impl Csr {
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.rows[r], self.rows[r + 1]);
        (&self.offs[a..b], &self.vals[a..b])
    }
}

/// Sixteen-lane vectors per register tile of the grid.
const P: usize = 4;

/// A stride-1, one-group convolution with compressed-row weights.
#[derive(Clone, Debug)]
pub(crate) struct SparseConv {
    g: Geom,
    w: Csr,
    bias: Vec<f32>,
}

impl SparseConv {
    /// `weight` (`[cout, cin, kh, kw]`) and `bias` (`cout`) on geometry `g` (of the padded
    /// input); `None` unless the convolution has stride 1 and fits 32-bit offsets.
    pub(crate) fn new(g: Geom, weight: &[f32], bias: Option<&[f32]>) -> Option<SparseConv> {
        let [kh, kw] = g.k;
        let taps = g.cin * kh * kw;
        if g.s != [1, 1] || weight.len() != g.cout * taps || g.cin * g.h * g.w >= u32::MAX as usize
        {
            return None;
        }
        let mut w = Csr {
            rows: Vec::with_capacity(g.cout + 1),
            ..Default::default()
        };
        w.rows.push(0);
        for o in 0..g.cout {
            for c in 0..g.cin {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let v = weight[((o * g.cin + c) * kh + ky) * kw + kx];
                        if v != 0.0 {
                            let off = c * g.h * g.w + ky * g.d[0] * g.w + kx * g.d[1];
                            w.offs.push(off as u32);
                            w.vals.push(v);
                        }
                    }
                }
            }
            w.rows.push(w.offs.len());
        }
        let bias = match bias {
            Some(b) => b[..g.cout].to_vec(),
            None => vec![0.0; g.cout],
        };
        Some(SparseConv { g, w, bias })
    }

    /// The cost of this layer on the sparse kernel relative to the dense one, as an effective
    /// density: the fraction of non-zero weights times the grid's overhead (grid vectors per
    /// output pixel; the padded columns and the last partial vector are computed too).
    pub(crate) fn effective_density(&self) -> f64 {
        let g = &self.g;
        let pixels = (g.oh * g.ow).max(1) as f64;
        let all = (g.cout * g.cin * g.k[0] * g.k[1]).max(1) as f64;
        self.w.vals.len() as f64 / all * (self.grid().div_ceil(L) * L) as f64 / pixels
    }

    /// Grid positions per image: up to the last output pixel.
    fn grid(&self) -> usize {
        let g = &self.g;
        if g.oh == 0 || g.ow == 0 {
            return 0;
        }
        (g.oh - 1) * g.w + g.ow
    }

    /// Floats one padded input image takes (`cin x h x w`).
    pub(crate) fn in_len(&self) -> usize {
        self.g.cin * self.g.h * self.g.w
    }

    /// Floats the input buffer needs past its `n` images: the last grid vector may read past
    /// the last output position.
    pub(crate) const SLACK: usize = L;

    /// Output elements per image (plain).
    pub(crate) fn out_len(&self) -> usize {
        self.g.cout * self.g.oh * self.g.ow
    }

    /// Runs on `n` padded plain images `x` (`n * in_len() + SLACK` floats at least), adding
    /// the plain `res` and applying `act`, into the plain `out`.
    ///
    /// # Panics
    /// When a buffer is too short (checked before any unsafe access).
    pub(crate) fn run(&self, x: &[f32], n: usize, res: Option<&[f32]>, act: Act, out: &mut [f32]) {
        let g = self.g;
        let (img, per) = (self.in_len(), self.out_len());
        assert!(
            x.len() >= n * img + Self::SLACK,
            "sparse conv input too short"
        );
        assert!(out.len() >= n * per, "sparse conv output too short");
        assert!(res.is_none_or(|r| r.len() >= n * per), "residual too short");
        assert!(
            g.oh == 0
                || g.ow == 0
                || (g.oh - 1 + (g.k[0] - 1) * g.d[0]) < g.h
                    && (g.ow - 1 + (g.k[1] - 1) * g.d[1]) < g.w,
            "sparse conv geometry reads outside its input"
        );
        let grid = self.grid();
        let vecs = grid.div_ceil(L);
        let avx = has_avx512();
        let fma = !avx && has_fma();
        // units: (image, chunk of output channels), about 200k multiply-adds each
        let nnz = self.w.vals.len().max(1);
        let per_co = ((nnz / g.cout.max(1)).max(1) * vecs * L).max(1);
        let chunk = (200_000 / per_co).clamp(1, g.cout.max(1));
        let chunks = g.cout.div_ceil(chunk);
        let out_p = SendPtr(out.as_mut_ptr());
        (0..n * chunks).into_par_iter().for_each(|u| {
            let (i, c0) = (u / chunks, u % chunks * chunk);
            thread_local! {
                static GRID: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
            }
            GRID.with(|cell| {
                // a worker that steals another unit while this one waits cannot happen here
                // (no nested parallelism inside a unit), but stay safe if it ever does
                let mut own = Vec::new();
                let mut guard = cell.try_borrow_mut();
                let buf = match guard.as_mut() {
                    Ok(b) => &mut **b,
                    Err(_) => &mut own,
                };
                buf.resize(vecs * L, 0.0);
                for o in c0..(c0 + chunk).min(g.cout) {
                    let (offs, vals) = self.w.row(o);
                    // SAFETY: every read is at `i * img + off + p` with `off + p < img +
                    // SLACK` for grid positions `p < vecs * L` (the geometry assert: the
                    // largest offset plus the grid stays inside one image, the last vector
                    // rounds up by less than SLACK), inside `x` (asserted); `buf` holds
                    // `vecs * L` floats.
                    // without a residual the activation is applied in registers
                    let act_now = if res.is_none() { act } else { Act::default() };
                    unsafe {
                        let xi = x.as_ptr().add(i * img);
                        let b = self.bias[o];
                        let bp = buf.as_mut_ptr();
                        if avx {
                            #[cfg(target_arch = "x86_64")]
                            grid_avx512(xi, offs, vals, b, act_now, vecs, bp);
                        } else if fma {
                            #[cfg(target_arch = "x86_64")]
                            grid_fma(xi, offs, vals, b, act_now, vecs, bp);
                        } else {
                            grid_row::<[f32; L]>(xi, offs, vals, b, act_now, vecs, bp);
                        }
                    }
                    let base = i * per + o * g.oh * g.ow;
                    for y in 0..g.oh {
                        let src = &buf[y * g.w..y * g.w + g.ow];
                        let at = base + y * g.ow;
                        // SAFETY: `at + ow <= n * per` (asserted); units write disjoint
                        // output channels of disjoint images
                        let dst =
                            unsafe { std::slice::from_raw_parts_mut(out_p.get().add(at), g.ow) };
                        match res {
                            Some(r) => store(src, &r[at..at + g.ow], act, dst),
                            None => dst.copy_from_slice(src),
                        }
                    }
                }
            });
        });
    }
}

/// `dst = act(src + res)`.
fn store(src: &[f32], res: &[f32], act: Act, dst: &mut [f32]) {
    let (lo, hi) = (
        act.lo.unwrap_or(f32::NEG_INFINITY),
        act.hi.unwrap_or(f32::INFINITY),
    );
    for ((d, s), r) in dst.iter_mut().zip(src).zip(res) {
        *d = (s + r).max(lo).min(hi);
    }
}

/// `act(v)`.
#[inline(always)]
fn activate<V: Lanes>(mut v: V, act: Act) -> V {
    if let Some(lo) = act.lo {
        v = v.max(V::splat(lo));
    }
    if let Some(hi) = act.hi {
        v = v.min(V::splat(hi));
    }
    v
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn grid_avx512(
    x: *const f32,
    offs: &[u32],
    vals: &[f32],
    bias: f32,
    act: Act,
    vecs: usize,
    out: *mut f32,
) {
    // SAFETY: forwarded
    unsafe { grid_row::<std::arch::x86_64::__m512>(x, offs, vals, bias, act, vecs, out) }
}

/// The portable kernel compiled with AVX2 and FMA (see [`has_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn grid_fma(
    x: *const f32,
    offs: &[u32],
    vals: &[f32],
    bias: f32,
    act: Act,
    vecs: usize,
    out: *mut f32,
) {
    // SAFETY: forwarded
    unsafe { grid_row::<[f32; L]>(x, offs, vals, bias, act, vecs, out) }
}

/// `out[p] = act(bias + Σ_e vals[e] · x[offs[e] + p])` for `p < vecs * 16`, `P` vectors at a
/// time.
///
/// # Safety
/// `x + offs[e] + p` readable for every `e` and `p < vecs * 16`; `out` holds `vecs * 16`.
#[inline(always)]
unsafe fn grid_row<V: Lanes>(
    x: *const f32,
    offs: &[u32],
    vals: &[f32],
    bias: f32,
    act: Act,
    vecs: usize,
    out: *mut f32,
) {
    let mut v = 0;
    while v + P <= vecs {
        let mut acc = [V::splat(bias); P];
        for (o, w) in offs.iter().zip(vals) {
            let wv = V::splat(*w);
            // SAFETY: caller
            let p = unsafe { x.add(*o as usize + v * L) };
            for (j, a) in acc.iter_mut().enumerate() {
                *a = unsafe { V::load(p.add(j * L)) }.fma(wv, *a);
            }
        }
        for (j, a) in acc.iter().enumerate() {
            // SAFETY: caller
            unsafe { activate(*a, act).store(out.add((v + j) * L)) };
        }
        v += P;
    }
    while v < vecs {
        let mut a = V::splat(bias);
        for (o, w) in offs.iter().zip(vals) {
            // SAFETY: caller
            a = unsafe { V::load(x.add(*o as usize + v * L)) }.fma(V::splat(*w), a);
        }
        // SAFETY: caller
        unsafe { activate(a, act).store(out.add(v * L)) };
        v += 1;
    }
}

/// Below this many samples the fast executor runs linear layers dense (measured: the sparse
/// kernel's sixteen-sample vectors are mostly empty there, and a dense matrix-vector product
/// streams the weights faster than gathered dot products at any density we tried).
pub(crate) const SMALL_BATCH: usize = 8;

/// A linear layer `y = x · Wᵀ + b` with compressed-row weights (`W`: `[out, in]`).
#[derive(Clone, Debug)]
pub(crate) struct SparseLinear {
    inputs: usize,
    w: Csr,
    bias: Vec<f32>,
}

impl SparseLinear {
    /// `weight` as `[out, in]` (`transposed`: as `[in, out]`) scaled by `alpha`, and `bias`
    /// (`out` values, or none) scaled by `beta`.
    pub(crate) fn new(
        weight: &[f32],
        outputs: usize,
        inputs: usize,
        transposed: bool,
        alpha: f32,
        bias: Option<&[f32]>,
        beta: f32,
    ) -> Option<SparseLinear> {
        if weight.len() != outputs * inputs || inputs >= u32::MAX as usize {
            return None;
        }
        let mut w = Csr {
            rows: Vec::with_capacity(outputs + 1),
            ..Default::default()
        };
        w.rows.push(0);
        for o in 0..outputs {
            for i in 0..inputs {
                let v = if transposed {
                    weight[i * outputs + o]
                } else {
                    weight[o * inputs + i]
                };
                if v != 0.0 {
                    w.offs.push(i as u32);
                    w.vals.push(alpha * v);
                }
            }
            w.rows.push(w.offs.len());
        }
        let bias = match bias {
            Some(b) if b.len() == outputs => b.iter().map(|v| beta * v).collect(),
            Some(_) => return None,
            None => vec![0.0; outputs],
        };
        Some(SparseLinear { inputs, w, bias })
    }

    /// Outputs per sample.
    pub(crate) fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// Floats of scratch [`SparseLinear::run`] uses for `n` samples.
    pub(crate) fn scratch_len(&self, n: usize) -> usize {
        n.div_ceil(L) * L * (self.inputs + self.outputs())
    }

    /// `x` (`[n, in]`) into `out` (`[n, out]`); `scratch` is reused between calls (it holds
    /// [`SparseLinear::scratch_len`] floats after the call).
    ///
    /// # Panics
    /// When a buffer is too short.
    pub(crate) fn run(&self, x: &[f32], n: usize, out: &mut [f32], scratch: &mut Vec<f32>) {
        let (ni, no) = (self.inputs, self.outputs());
        assert!(
            x.len() >= n * ni && out.len() >= n * no,
            "sparse linear buffers"
        );
        if n == 0 {
            return;
        }
        // samples padded to whole vectors; inputs transposed to `[in][np]`, outputs computed
        // as `[out][np]`
        let np = n.div_ceil(L) * L;
        scratch.clear();
        scratch.resize(np * (ni + no), 0.0);
        let (xt, yt) = scratch.split_at_mut(np * ni);
        for s in 0..n {
            for (i, v) in x[s * ni..(s + 1) * ni].iter().enumerate() {
                xt[i * np + s] = *v;
            }
        }
        let vecs = np / L;
        let avx = has_avx512();
        let fma = !avx && has_fma();
        let per_row = (self.w.vals.len() / no.max(1)).max(1) * np;
        let min = (200_000 / per_row).max(1);
        yt.par_chunks_mut(np)
            .with_min_len(min)
            .enumerate()
            .for_each(|(o, row)| {
                let (offs, vals) = self.w.row(o);
                // the offsets are input indices: scale them to rows of `xt`
                // SAFETY: `offs[e] * np + p < ni * np` for `p < np`; `row` holds `np`
                unsafe {
                    if avx {
                        #[cfg(target_arch = "x86_64")]
                        linear_avx512(xt.as_ptr(), np, offs, vals, self.bias[o], vecs, row);
                    } else if fma {
                        #[cfg(target_arch = "x86_64")]
                        linear_fma(xt.as_ptr(), np, offs, vals, self.bias[o], vecs, row);
                    } else {
                        linear_row::<[f32; L]>(
                            xt.as_ptr(),
                            np,
                            offs,
                            vals,
                            self.bias[o],
                            vecs,
                            row,
                        );
                    }
                }
            });
        for s in 0..n {
            for (o, y) in out[s * no..(s + 1) * no].iter_mut().enumerate() {
                *y = yt[o * np + s];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn linear_avx512(
    xt: *const f32,
    np: usize,
    offs: &[u32],
    vals: &[f32],
    bias: f32,
    vecs: usize,
    row: &mut [f32],
) {
    // SAFETY: forwarded
    unsafe { linear_row::<std::arch::x86_64::__m512>(xt, np, offs, vals, bias, vecs, row) }
}

/// The portable kernel compiled with AVX2 and FMA (see [`has_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn linear_fma(
    xt: *const f32,
    np: usize,
    offs: &[u32],
    vals: &[f32],
    bias: f32,
    vecs: usize,
    row: &mut [f32],
) {
    // SAFETY: forwarded
    unsafe { linear_row::<[f32; L]>(xt, np, offs, vals, bias, vecs, row) }
}

/// `row[p] = bias + Σ_e vals[e] · xt[offs[e] * np + p]`, `P` vectors of samples at a time.
///
/// # Safety
/// `xt + offs[e] * np + p` readable for `p < vecs * 16`; `row` holds `vecs * 16`.
#[inline(always)]
unsafe fn linear_row<V: Lanes>(
    xt: *const f32,
    np: usize,
    offs: &[u32],
    vals: &[f32],
    bias: f32,
    vecs: usize,
    row: &mut [f32],
) {
    let out = row.as_mut_ptr();
    let mut v = 0;
    while v < vecs {
        let k = (vecs - v).min(P);
        let mut acc = [V::splat(bias); P];
        for (o, w) in offs.iter().zip(vals) {
            let wv = V::splat(*w);
            // SAFETY: caller
            let p = unsafe { xt.add(*o as usize * np + v * L) };
            for (j, a) in acc.iter_mut().enumerate().take(k) {
                *a = unsafe { V::load(p.add(j * L)) }.fma(wv, *a);
            }
        }
        for (j, a) in acc.iter().enumerate().take(k) {
            // SAFETY: caller
            unsafe { a.store(out.add((v + j) * L)) };
        }
        v += k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64, density: f64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((s >> 40) as f64 / (1u64 << 24) as f64 - 0.5) as f32;
                if u < density { v } else { 0.0 }
            })
            .collect()
    }

    #[test]
    fn sparse_linear_matches_the_dense_product_on_both_layouts() {
        for (n, ni, no) in [(1, 7, 3), (17, 40, 9), (70, 33, 20)] {
            let w = lcg(no * ni, 3, 0.3);
            let b = lcg(no, 4, 1.0);
            let x = lcg(n * ni, 5, 1.0);
            let mut want = vec![0.0f32; n * no];
            for s in 0..n {
                for o in 0..no {
                    let mut acc = 0.5 * b[o];
                    for i in 0..ni {
                        acc += 2.0 * w[o * ni + i] * x[s * ni + i];
                    }
                    want[s * no + o] = acc;
                }
            }
            let mut wt = vec![0.0; ni * no];
            for o in 0..no {
                for i in 0..ni {
                    wt[i * no + o] = w[o * ni + i];
                }
            }
            for (weights, transposed) in [(&w, false), (&wt, true)] {
                let k = SparseLinear::new(weights, no, ni, transposed, 2.0, Some(&b), 0.5).unwrap();
                let mut got = vec![f32::NAN; n * no];
                k.run(&x, n, &mut got, &mut Vec::new());
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "{g} vs {w}");
                }
            }
        }
    }
}
