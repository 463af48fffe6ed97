//! The reference CPU executor: runs a [`Graph`] on a batch, op by op, in `f32`.
//!
//! Convolutions go through im2col and the `gemm` crate (through evoprune-nn's one checked
//! wrapper), depthwise convolutions through a direct loop; everything else is plain loops.
//! Images of a batch run in parallel on the rayon pool the caller installs; each image's
//! arithmetic is the same whatever the thread count, so results are bit-identical on 1 or N
//! threads. A faster executor is a later step; this one is the correctness reference.

use crate::ir::{Graph, Node, Op, Tensor};
use crate::shape::{node_err, norm_axis, out_shape, slice_range};
use crate::{GraphError, Result};
use evoprune_nn::gemm::{Mat, matmul, matmul_cm};
use rayon::prelude::*;
use std::collections::HashMap;

/// Run `g` on `input` (shape `[N, ...]` matching the graph's input apart from `N`); returns
/// the graph's outputs in order.
pub fn run(g: &Graph, input: &Tensor) -> Result<Vec<Tensor>> {
    run_until(g, input, &g.outputs)
}

/// Run `g` on `input` and return the values named in `wanted` (any intermediate value).
pub fn run_until(g: &Graph, input: &Tensor, wanted: &[String]) -> Result<Vec<Tensor>> {
    check_input(input, &g.input_shape)?;
    // last use of each value, to free memory as soon as possible
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for x in &n.inputs {
            last.insert(x, i);
        }
    }
    let mut vals: HashMap<String, Tensor> = HashMap::new();
    vals.insert(g.input.clone(), input.clone());
    for (i, n) in g.nodes.iter().enumerate() {
        // an elementwise op on a value nobody reads later updates that value's buffer
        let x0 = &n.inputs[0];
        if last.get(x0.as_str()) == Some(&i)
            && !wanted.contains(x0)
            && n.inputs[1..].iter().all(|k| k != x0)
            && elementwise(&n.op)
            && let Some(mut t) = vals.remove(x0)
        {
            let others: Vec<&Tensor> = n.inputs[1..]
                .iter()
                .map(|x| {
                    vals.get(x)
                        .or_else(|| g.params.get(x))
                        .ok_or_else(|| node_err(n, format!("input \"{x}\" is not available")))
                })
                .collect::<Result<_>>()?;
            let mut shapes: Vec<&[usize]> = vec![t.shape.as_slice()];
            shapes.extend(others.iter().map(|o| o.shape.as_slice()));
            let shape = out_shape(n, &shapes)?;
            if shape == t.shape && in_place(n, &mut t, &others) {
                for x in &n.inputs[1..] {
                    if last.get(x.as_str()) == Some(&i) && !wanted.contains(x) {
                        vals.remove(x);
                    }
                }
                vals.insert(n.outputs[0].clone(), t);
                continue;
            }
            vals.insert(x0.clone(), t);
        }
        let ins: Vec<&Tensor> = n
            .inputs
            .iter()
            .map(|x| {
                vals.get(x)
                    .or_else(|| g.params.get(x))
                    .ok_or_else(|| node_err(n, format!("input \"{x}\" is not available")))
            })
            .collect::<Result<_>>()?;
        let y = eval(n, &ins)?;
        for x in &n.inputs {
            if last.get(x.as_str()) == Some(&i) && !wanted.contains(x) {
                vals.remove(x);
            }
        }
        vals.insert(n.outputs[0].clone(), y);
    }
    wanted
        .iter()
        .map(|w| {
            vals.remove(w)
                .or_else(|| g.params.get(w).cloned())
                .ok_or_else(|| GraphError::invalid("output", format!("\"{w}\" is never computed")))
        })
        .collect()
}

/// `input` fits a network whose input is `expected` (any batch size): an error naming the
/// input otherwise. Both executors check with it.
pub(crate) fn check_input(input: &Tensor, expected: &[usize]) -> Result<()> {
    if input.shape.len() != expected.len()
        || input.shape.is_empty()
        || input.shape[1..] != expected[1..]
        || input.data.len() != input.shape.iter().product::<usize>()
    {
        return Err(GraphError::invalid(
            "input",
            format!(
                "shape {:?} does not match the network's input {:?} (any batch size)",
                input.shape, expected
            ),
        ));
    }
    Ok(())
}

/// Ops [`in_place`] may compute in their first input's buffer.
fn elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Relu
            | Op::Clip { .. }
            | Op::Sigmoid
            | Op::HardSwish
            | Op::HardSigmoid { .. }
            | Op::BatchNorm { .. }
            | Op::Add
            | Op::Mul
    )
}

/// Values per parallel task of the elementwise ops.
const PAR_CHUNK: usize = 1 << 14;

/// Apply `node` to `t` in place (its first input; `others` the rest), with exactly
/// [`eval`]'s arithmetic per element, in parallel chunks (the same bits on any thread count).
/// `false` (and `t` untouched) when the op needs a new buffer (a broadcast first input).
pub(crate) fn in_place(node: &Node, t: &mut Tensor, others: &[&Tensor]) -> bool {
    fn each(t: &mut Tensor, f: impl Fn(f32) -> f32 + Sync) {
        t.data
            .par_chunks_mut(PAR_CHUNK)
            .for_each(|c| c.iter_mut().for_each(|v| *v = f(*v)));
    }
    fn zip(t: &mut Tensor, o: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) {
        t.data
            .par_chunks_mut(PAR_CHUNK)
            .zip(o.data.par_chunks(PAR_CHUNK))
            .for_each(|(c, d)| c.iter_mut().zip(d).for_each(|(v, w)| *v = f(*v, *w)));
    }
    match &node.op {
        Op::Relu => each(t, |v| v.max(0.0)),
        Op::Clip { min, max } => each(t, |v| v.max(*min).min(*max)),
        Op::Sigmoid => each(t, |v| 1.0 / (1.0 + (-v).exp())),
        Op::HardSwish => each(t, |v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0),
        Op::HardSigmoid { alpha, beta } => each(t, |v| (alpha * v + beta).clamp(0.0, 1.0)),
        Op::BatchNorm { epsilon } if t.shape.len() >= 2 && others.len() == 4 => {
            let c = t.shape[1];
            let per: usize = t.shape[2..].iter().product();
            let (s, b, m, v) = (
                &others[0].data,
                &others[1].data,
                &others[2].data,
                &others[3].data,
            );
            t.data
                .par_chunks_mut(per.max(1))
                .enumerate()
                .for_each(|(k, chunk)| {
                    let ch = k % c;
                    let a = s[ch] / (v[ch] + epsilon).sqrt();
                    let off = b[ch] - m[ch] * a;
                    chunk.iter_mut().for_each(|y| *y = *y * a + off);
                });
        }
        Op::Add if others.len() == 1 && others[0].shape == t.shape => {
            zip(t, others[0], |a, b| a + b)
        }
        Op::Mul if others.len() == 1 && others[0].shape == t.shape => {
            zip(t, others[0], |a, b| a * b)
        }
        _ => return false,
    }
    true
}

/// Apply one node to its inputs.
pub fn eval(node: &Node, ins: &[&Tensor]) -> Result<Tensor> {
    let shapes: Vec<&[usize]> = ins.iter().map(|t| t.shape.as_slice()).collect();
    let shape = out_shape(node, &shapes)?;
    let x = ins[0];
    let data = match &node.op {
        Op::Conv { .. } => conv(node, x, ins[1], ins.get(2).copied(), &shape),
        Op::BatchNorm { epsilon } => batch_norm(x, ins, *epsilon),
        Op::Relu => map(x, |v| v.max(0.0)),
        Op::Clip { min, max } => map(x, |v| v.max(*min).min(*max)),
        Op::Sigmoid => map(x, |v| 1.0 / (1.0 + (-v).exp())),
        Op::HardSwish => map(x, |v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0),
        Op::HardSigmoid { alpha, beta } => map(x, |v| (alpha * v + beta).clamp(0.0, 1.0)),
        Op::Add => binary(x, ins[1], &shape, |a, b| a + b),
        Op::Sub => binary(x, ins[1], &shape, |a, b| a - b),
        Op::Mul => binary(x, ins[1], &shape, |a, b| a * b),
        Op::Div => binary(x, ins[1], &shape, |a, b| a / b),
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ..
        } => pool(x, &shape, *kernel, *strides, *pads, PoolKind::Max),
        Op::AveragePool {
            kernel,
            strides,
            pads,
            count_include_pad,
            ..
        } => pool(
            x,
            &shape,
            *kernel,
            *strides,
            *pads,
            PoolKind::Avg(*count_include_pad),
        ),
        Op::GlobalAveragePool => {
            let per: usize = x.shape[2..].iter().product();
            x.data
                .chunks(per.max(1))
                .map(|c| c.iter().sum::<f32>() / per as f32)
                .collect()
        }
        Op::ReduceMean { axes, .. } => reduce_mean(node, x, axes)?,
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Squeeze { .. } | Op::Unsqueeze { .. } => {
            x.data.clone()
        }
        Op::Identity => x.data.clone(),
        Op::Transpose { perm } => transpose(x, perm),
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => slice(node, x, starts, ends, axes, steps)?,
        Op::Pad { pads, value } => pad(x, &shape, pads, *value),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => gemm_op(
            x,
            ins[1],
            ins.get(2).copied(),
            &shape,
            *alpha,
            *beta,
            *trans_a,
            *trans_b,
        ),
        Op::MatMul => {
            let (k, n) = (ins[1].shape[0], ins[1].shape[1]);
            let m = x.len() / k.max(1);
            let mut out = vec![0.0; m * n];
            matmul(
                &mut out,
                m,
                n,
                Mat::new(&x.data, m, k),
                Mat::new(&ins[1].data, k, n),
                false,
            );
            out
        }
        Op::Concat { axis } => concat(node, ins, *axis, &shape)?,
        Op::Softmax { axis } => softmax(node, x, *axis)?,
    };
    Ok(Tensor { shape, data })
}

fn map(x: &Tensor, f: impl Fn(f32) -> f32) -> Vec<f32> {
    x.data.iter().map(|&v| f(v)).collect()
}

/// Advance the row-major multi-index `idx` within `shape` (wrapping to zeros at the end).
fn advance(idx: &mut [usize], shape: &[usize]) {
    for d in (0..idx.len()).rev() {
        idx[d] += 1;
        if idx[d] < shape[d] {
            return;
        }
        idx[d] = 0;
    }
}

/// Strides of a row-major shape.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

fn binary(a: &Tensor, b: &Tensor, shape: &[usize], f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
    if a.shape == b.shape {
        return a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect();
    }
    let r = shape.len();
    let bstr = |s: &[usize]| -> Vec<usize> {
        let st = strides(s);
        (0..r)
            .map(|i| {
                let j = i as isize - (r - s.len()) as isize;
                if j < 0 || s[j as usize] == 1 {
                    0
                } else {
                    st[j as usize]
                }
            })
            .collect()
    };
    let (sa, sb) = (bstr(&a.shape), bstr(&b.shape));
    let n: usize = shape.iter().product();
    let mut idx = vec![0usize; r];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut ia, mut ib) = (0, 0);
        for d in 0..r {
            ia += idx[d] * sa[d];
            ib += idx[d] * sb[d];
        }
        out.push(f(a.data[ia], b.data[ib]));
        advance(&mut idx, shape);
    }
    out
}

fn batch_norm(x: &Tensor, ins: &[&Tensor], eps: f32) -> Vec<f32> {
    let c = x.shape[1];
    let per: usize = x.shape[2..].iter().product();
    let (s, b, m, v) = (&ins[1].data, &ins[2].data, &ins[3].data, &ins[4].data);
    let mut out = x.data.clone();
    for (k, chunk) in out.chunks_mut(per.max(1)).enumerate() {
        let ch = k % c;
        let a = s[ch] / (v[ch] + eps).sqrt();
        let off = b[ch] - m[ch] * a;
        chunk.iter_mut().for_each(|y| *y = *y * a + off);
    }
    out
}

/// Convolution: per image and group, im2col then one GEMM; depthwise convolutions (one input
/// channel per output channel) directly, plane by plane.
fn conv(node: &Node, x: &Tensor, w: &Tensor, b: Option<&Tensor>, out: &[usize]) -> Vec<f32> {
    let Op::Conv {
        kernel: [kh, kw],
        strides: [sh, sw],
        pads,
        dilations: [dh, dw],
        groups,
    } = node.op
    else {
        unreachable!("conv called on a Conv node")
    };
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (cout, oh, ow) = (out[1], out[2], out[3]);
    let (cig, cog) = (cin / groups, cout / groups);
    let kk = cig * kh * kw;
    let img_in = cin * h * wd;
    let img_out = cout * oh * ow;
    let mut y = vec![0.0f32; n * img_out];
    if groups == cin && cog == 1 {
        // depthwise: each output plane is its input plane's taps added up, row run by row run
        y.par_chunks_mut(oh * ow).enumerate().for_each(|(p, yp)| {
            let (i, c) = (p / cout, p % cout);
            let plane = &x.data[i * img_in + c * h * wd..i * img_in + (c + 1) * h * wd];
            let wc = &w.data[c * kh * kw..(c + 1) * kh * kw];
            for ki in 0..kh {
                for kj in 0..kw {
                    let wv = wc[ki * kw + kj];
                    let off = (kj * dw) as isize - pads[1] as isize;
                    let (lo, hi) = in_bounds(off, sw, wd, ow);
                    for oy in 0..oh {
                        let iy = (oy * sh + ki * dh) as isize - pads[0] as isize;
                        if iy < 0 || iy as usize >= h {
                            continue;
                        }
                        let src = &plane[iy as usize * wd..(iy as usize + 1) * wd];
                        let d = &mut yp[oy * ow..(oy + 1) * ow];
                        let first = (lo * sw) as isize + off;
                        if hi == lo {
                            // every tap of this row falls in the padding (its start may lie
                            // past the row's end)
                        } else if sw == 1 {
                            let f = first as usize;
                            for (o, v) in d[lo..hi].iter_mut().zip(&src[f..f + (hi - lo)]) {
                                *o += wv * v;
                            }
                        } else {
                            for (k, o) in d[lo..hi].iter_mut().enumerate() {
                                *o += wv * src[(first + (k * sw) as isize) as usize];
                            }
                        }
                    }
                }
            }
            if let Some(b) = b {
                yp.iter_mut().for_each(|v| *v += b.data[c]);
            }
        });
        return y;
    }
    y.par_chunks_mut(img_out).enumerate().for_each(|(i, yi)| {
        let xi = &x.data[i * img_in..(i + 1) * img_in];
        // a 1x1 convolution with stride 1 and no padding reads its input as the matrix
        let pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pads == [0; 4];
        let mut col = vec![0.0f32; if pointwise { 0 } else { kk * oh * ow }];
        for g in 0..groups {
            // im2col: rows (c, ki, kj), columns output pixels
            for c in (0..cig).filter(|_| !pointwise) {
                let plane = &xi[(g * cig + c) * h * wd..(g * cig + c + 1) * h * wd];
                for ki in 0..kh {
                    for kj in 0..kw {
                        let row = (c * kh + ki) * kw + kj;
                        let dst = &mut col[row * oh * ow..(row + 1) * oh * ow];
                        let off = (kj * dw) as isize - pads[1] as isize;
                        let (lo, hi) = in_bounds(off, sw, wd, ow);
                        for oy in 0..oh {
                            let iy = (oy * sh + ki * dh) as isize - pads[0] as isize;
                            let d = &mut dst[oy * ow..(oy + 1) * ow];
                            if iy < 0 || iy as usize >= h {
                                d.fill(0.0);
                                continue;
                            }
                            let src = &plane[iy as usize * wd..(iy as usize + 1) * wd];
                            d[..lo].fill(0.0);
                            d[hi..].fill(0.0);
                            let first = (lo * sw) as isize + off;
                            if hi == lo {
                                // every tap of this row falls in the padding
                            } else if sw == 1 {
                                let f = first as usize;
                                d[lo..hi].copy_from_slice(&src[f..f + (hi - lo)]);
                            } else {
                                for (k, v) in d[lo..hi].iter_mut().enumerate() {
                                    *v = src[(first + (k * sw) as isize) as usize];
                                }
                            }
                        }
                    }
                }
            }
            let wg = &w.data[g * cog * kk..(g + 1) * cog * kk];
            let yg = &mut yi[g * cog * oh * ow..(g + 1) * cog * oh * ow];
            // (pixels x kk) * (kk x channels) into the [channels, pixels] output
            matmul_cm(
                yg,
                oh * ow,
                cog,
                if pointwise {
                    Mat::new(&xi[g * cig * h * wd..(g + 1) * cig * h * wd], kk, oh * ow).t()
                } else {
                    Mat::new(&col, kk, oh * ow).t()
                },
                Mat::new(wg, cog, kk).t(),
                false,
            );
        }
        if let Some(b) = b {
            for (co, plane) in yi.chunks_mut(oh * ow).enumerate() {
                plane.iter_mut().for_each(|v| *v += b.data[co]);
            }
        }
    });
    y
}

/// The output columns `lo..hi` whose input column `ox * stride + off` lies in `0..width`.
fn in_bounds(off: isize, stride: usize, width: usize, ow: usize) -> (usize, usize) {
    let lo = if off >= 0 {
        0
    } else {
        ((-off) as usize).div_ceil(stride).min(ow)
    };
    let hi = if (width as isize) <= off {
        0
    } else {
        ((width as isize - 1 - off) as usize / stride + 1).min(ow)
    };
    (lo, hi.max(lo))
}

#[derive(Clone, Copy)]
enum PoolKind {
    Max,
    /// Average; `true`: padded cells count in the divisor.
    Avg(bool),
}

fn pool(
    x: &Tensor,
    out: &[usize],
    [kh, kw]: [usize; 2],
    [sh, sw]: [usize; 2],
    pads: [usize; 4],
    kind: PoolKind,
) -> Vec<f32> {
    let (h, w) = (x.shape[2] as isize, x.shape[3] as isize);
    let (oh, ow) = (out[2], out[3]);
    let planes = x.shape[0] * x.shape[1];
    let mut y = vec![0.0f32; planes * oh * ow];
    for p in 0..planes {
        let src = &x.data[p * (h * w) as usize..(p + 1) * (h * w) as usize];
        for oy in 0..oh {
            for ox in 0..ow {
                let y0 = (oy * sh) as isize - pads[0] as isize;
                let x0 = (ox * sw) as isize - pads[1] as isize;
                let (mut acc, mut cnt) = (
                    match kind {
                        PoolKind::Max => f32::NEG_INFINITY,
                        PoolKind::Avg(_) => 0.0,
                    },
                    0usize,
                );
                for iy in y0..y0 + kh as isize {
                    for ix in x0..x0 + kw as isize {
                        if iy < 0 || iy >= h || ix < 0 || ix >= w {
                            continue;
                        }
                        let v = src[(iy * w + ix) as usize];
                        match kind {
                            PoolKind::Max => acc = acc.max(v),
                            PoolKind::Avg(_) => acc += v,
                        }
                        cnt += 1;
                    }
                }
                y[(p * oh + oy) * ow + ox] = match kind {
                    PoolKind::Max => acc,
                    PoolKind::Avg(false) => acc / cnt.max(1) as f32,
                    PoolKind::Avg(true) => {
                        // the window clipped to the padded input (ceil mode may overhang it)
                        let ye = (y0 + kh as isize).min(h + pads[2] as isize);
                        let xe = (x0 + kw as isize).min(w + pads[3] as isize);
                        acc / ((ye - y0) * (xe - x0)).max(1) as f32
                    }
                };
            }
        }
    }
    y
}

fn reduce_mean(node: &Node, x: &Tensor, axes: &[i64]) -> Result<Vec<f32>> {
    let r = x.shape.len();
    let ax: Vec<usize> = if axes.is_empty() {
        (0..r).collect()
    } else {
        axes.iter()
            .map(|&a| norm_axis(node, a, r))
            .collect::<Result<_>>()?
    };
    let kept: Vec<usize> = (0..r)
        .map(|i| if ax.contains(&i) { 1 } else { x.shape[i] })
        .collect();
    let n_out: usize = kept.iter().product();
    let count = (x.len() / n_out.max(1)) as f32;
    let ost = strides(&kept);
    let mut out = vec![0.0f32; n_out];
    let mut idx = vec![0usize; r];
    for &v in &x.data {
        let o: usize = (0..r)
            .map(|d| if ax.contains(&d) { 0 } else { idx[d] * ost[d] })
            .sum();
        out[o] += v;
        advance(&mut idx, &x.shape);
    }
    out.iter_mut().for_each(|v| *v /= count);
    Ok(out)
}

fn transpose(x: &Tensor, perm: &[usize]) -> Vec<f32> {
    let st = strides(&x.shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let src_st: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let r = perm.len();
    let mut idx = vec![0usize; r];
    let mut out = Vec::with_capacity(x.len());
    for _ in 0..x.len() {
        out.push(x.data[(0..r).map(|d| idx[d] * src_st[d]).sum::<usize>()]);
        advance(&mut idx, &out_shape);
    }
    out
}

fn slice(
    node: &Node,
    x: &Tensor,
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> Result<Vec<f32>> {
    let r = x.shape.len();
    let mut begin = vec![0i64; r];
    let mut step = vec![1i64; r];
    let mut count = x.shape.clone();
    for k in 0..starts.len() {
        let a = norm_axis(node, axes[k], r)?;
        let (s, st, c) = slice_range(starts[k], ends[k], steps[k], x.shape[a]);
        begin[a] = s;
        step[a] = st;
        count[a] = c;
    }
    let xs = strides(&x.shape);
    let n: usize = count.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 || r == 0 {
        if r == 0 {
            out.extend_from_slice(&x.data);
        }
        return Ok(out);
    }
    // row by row: the outer axes by multi-index, the last one as a (strided) run
    let (inner, outer) = (count[r - 1], &count[..r - 1]);
    let (b_last, s_last) = (begin[r - 1], step[r - 1]);
    let mut idx = vec![0usize; r - 1];
    for _ in 0..n / inner {
        let base: i64 = (0..r - 1)
            .map(|d| (begin[d] + idx[d] as i64 * step[d]) * xs[d] as i64)
            .sum::<i64>()
            + b_last;
        if s_last == 1 {
            let b = base as usize;
            out.extend_from_slice(&x.data[b..b + inner]);
        } else {
            out.extend((0..inner as i64).map(|j| x.data[(base + j * s_last) as usize]));
        }
        advance(&mut idx, outer);
    }
    Ok(out)
}

fn pad(x: &Tensor, out: &[usize], pads: &[i64], value: f32) -> Vec<f32> {
    let r = x.shape.len();
    let n: usize = out.iter().product();
    let xs = strides(&x.shape);
    let mut y = Vec::with_capacity(n);
    if n == 0 {
        return y;
    }
    if r == 0 {
        y.extend_from_slice(&x.data);
        return y;
    }
    // row by row: the outer axes by multi-index, the last one as value, run, value
    let (inner, w) = (out[r - 1], x.shape[r - 1] as i64);
    let before = pads[r - 1];
    let mut idx = vec![0usize; r - 1];
    for _ in 0..n / inner {
        let mut off = 0usize;
        let mut inside = true;
        for d in 0..r - 1 {
            let i = idx[d] as i64 - pads[d];
            if i < 0 || i >= x.shape[d] as i64 {
                inside = false;
                break;
            }
            off += i as usize * xs[d];
        }
        if !inside {
            y.extend(std::iter::repeat_n(value, inner));
        } else {
            for j in 0..inner as i64 {
                let i = j - before;
                y.push(if i < 0 || i >= w {
                    value
                } else {
                    x.data[off + i as usize]
                });
            }
        }
        advance(&mut idx, &out[..r - 1]);
    }
    y
}

#[allow(clippy::too_many_arguments)]
fn gemm_op(
    a: &Tensor,
    b: &Tensor,
    c: Option<&Tensor>,
    out: &[usize],
    alpha: f32,
    beta: f32,
    ta: bool,
    tb: bool,
) -> Vec<f32> {
    let (m, n) = (out[0], out[1]);
    let mut ma = Mat::new(&a.data, a.shape[0], a.shape[1]);
    if ta {
        ma = ma.t();
    }
    let mut mb = Mat::new(&b.data, b.shape[0], b.shape[1]);
    if tb {
        mb = mb.t();
    }
    let mut y = vec![0.0f32; m * n];
    matmul(&mut y, m, n, ma, mb, false);
    if alpha != 1.0 {
        y.iter_mut().for_each(|v| *v *= alpha);
    }
    if let Some(c) = c.filter(|_| beta != 0.0) {
        let cc = binary(&Tensor::zeros(out.to_vec()), c, out, |_, v| v);
        y.iter_mut().zip(cc).for_each(|(v, cv)| *v += beta * cv);
    }
    y
}

fn concat(node: &Node, ins: &[&Tensor], axis: i64, out: &[usize]) -> Result<Vec<f32>> {
    let a = norm_axis(node, axis, out.len())?;
    let outer: usize = out[..a].iter().product();
    let mut y = Vec::with_capacity(out.iter().product());
    for o in 0..outer {
        for t in ins {
            let inner: usize = t.shape[a..].iter().product();
            y.extend_from_slice(&t.data[o * inner..(o + 1) * inner]);
        }
    }
    Ok(y)
}

fn softmax(node: &Node, x: &Tensor, axis: i64) -> Result<Vec<f32>> {
    let a = norm_axis(node, axis, x.shape.len())?;
    let inner: usize = x.shape[a + 1..].iter().product();
    let n = x.shape[a];
    let outer: usize = x.shape[..a].iter().product();
    let mut y = x.data.clone();
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * n + k) * inner + i;
            let m = (0..n)
                .map(|k| x.data[at(k)])
                .fold(f32::NEG_INFINITY, f32::max);
            let s: f32 = (0..n).map(|k| (x.data[at(k)] - m).exp()).sum();
            for k in 0..n {
                y[at(k)] = (x.data[at(k)] - m).exp() / s;
            }
        }
    }
    Ok(y)
}
