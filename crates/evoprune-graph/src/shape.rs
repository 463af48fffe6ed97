//! Output shapes of each op, for a given batch size; the executor and the analyses share them.

use crate::ir::{Dim, Graph, Node, Op, Pads};
use crate::{GraphError, Result};
use std::collections::HashMap;

/// An error about `node`.
pub(crate) fn node_err(node: &Node, reason: impl Into<String>) -> GraphError {
    GraphError::Node {
        file: "graph".into(),
        node: node.name.clone(),
        op_type: node.op.op_type().into(),
        reason: reason.into(),
    }
}

/// `axis` (negative counts from the end) as an index into `rank` axes.
pub(crate) fn norm_axis(node: &Node, axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(node_err(
            node,
            format!("axis {axis} out of range for rank {rank}"),
        ));
    }
    Ok(a as usize)
}

/// NumPy broadcast of two shapes.
pub(crate) fn broadcast(node: &Node, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let x = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let y = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(node_err(
                    node,
                    format!("shapes {a:?} and {b:?} do not broadcast"),
                ));
            }
        };
    }
    Ok(out)
}

/// Output size of a pooling or convolution window along one axis, PyTorch/ONNX rules: with
/// `ceil`, the size rounds up, but a last window that would start in the end padding is dropped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn window_out(
    node: &Node,
    size: usize,
    k: usize,
    stride: usize,
    pad_begin: usize,
    pad_end: usize,
    dil: usize,
    ceil: bool,
) -> Result<usize> {
    let eff = dil * (k.max(1) - 1) + 1;
    let span = size + pad_begin + pad_end;
    if span < eff || stride == 0 || k == 0 {
        return Err(node_err(
            node,
            format!(
                "window {k} (dilation {dil}, stride {stride}) does not fit the padded input {span}"
            ),
        ));
    }
    let q = span - eff;
    let mut o = if ceil { q.div_ceil(stride) } else { q / stride } + 1;
    if ceil && (o - 1) * stride >= size + pad_begin {
        o -= 1;
    }
    Ok(o)
}

fn spatial(
    node: &Node,
    x: &[usize],
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: Pads,
    dil: [usize; 2],
    ceil: bool,
) -> Result<[usize; 2]> {
    if x.len() != 4 {
        return Err(node_err(
            node,
            format!("expects NCHW input, got shape {x:?}"),
        ));
    }
    let oh = window_out(
        node, x[2], kernel[0], strides[0], pads[0], pads[2], dil[0], ceil,
    )?;
    let ow = window_out(
        node, x[3], kernel[1], strides[1], pads[1], pads[3], dil[1], ceil,
    )?;
    Ok([oh, ow])
}

/// The target shape of a Reshape of an input of shape `x` (ONNX semantics for 0 and -1).
pub(crate) fn reshape_target(node: &Node, x: &[usize], dims: &[Dim]) -> Result<Vec<usize>> {
    let total: usize = x.iter().product();
    let mut out = Vec::with_capacity(dims.len());
    let mut infer = None;
    for (i, d) in dims.iter().enumerate() {
        let v = match *d {
            Dim::Batch => x.first().copied().unwrap_or(1),
            Dim::Fixed(0) => *x
                .get(i)
                .ok_or_else(|| node_err(node, "0 in the target shape past the input's rank"))?,
            Dim::Fixed(-1) if infer.is_none() => {
                infer = Some(i);
                1
            }
            Dim::Fixed(v) if v > 0 => v as usize,
            Dim::Fixed(v) => return Err(node_err(node, format!("bad target dimension {v}"))),
        };
        out.push(v);
    }
    let known = checked_product(node, &out)?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(node_err(node, format!("cannot reshape {x:?} to {dims:?}")));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(node_err(node, format!("cannot reshape {x:?} to {dims:?}")));
    }
    Ok(out)
}

/// Resolved Slice bounds for one axis of size `n`: (start, step, count).
pub(crate) fn slice_range(start: i64, end: i64, step: i64, n: usize) -> (i64, i64, usize) {
    // ONNX's clamping: starts into [0, n] ([0, n - 1] stepping backwards), ends into [0, n]
    // ([-1, n - 1] backwards); in i128 so that no i64 input overflows
    let n = n as i128;
    let (start, end, st) = (start as i128, end as i128, step as i128);
    let norm = |v: i128| if v < 0 { v + n } else { v };
    if st > 0 {
        let s = norm(start).clamp(0, n);
        let e = norm(end).clamp(0, n);
        let c = if e > s { (e - s + st - 1) / st } else { 0 };
        (s as i64, step, c as usize)
    } else {
        let s = norm(start).clamp(0, (n - 1).max(0));
        let e = norm(end).clamp(-1, n - 1);
        let c = if s > e { (s - e - st - 1) / (-st) } else { 0 };
        (s as i64, step, c as usize)
    }
}

/// The most elements one value may hold for a batch of one (2^31: 8 GiB of `f32`); a model
/// declaring more is refused before anything is allocated.
pub const MAX_ELEMENTS: usize = 1 << 31;

/// The product of `dims`, or an error naming `node` when it exceeds [`MAX_ELEMENTS`].
fn checked_product(node: &Node, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            node_err(
                node,
                format!("output of shape {dims:?} is too large (over 2^31 elements)"),
            )
        })
}

/// The output shape of `node` given its inputs' shapes (`None` for absent optional inputs),
/// checked to hold at most [`MAX_ELEMENTS`] elements.
pub fn out_shape(node: &Node, ins: &[&[usize]]) -> Result<Vec<usize>> {
    let s = out_shape_unchecked(node, ins)?;
    checked_product(node, &s)?;
    if s.contains(&0) {
        return Err(node_err(
            node,
            format!("output of shape {s:?} has an empty axis"),
        ));
    }
    Ok(s)
}

/// `axes` normalised for `rank`, each at most once.
fn distinct_axes(node: &Node, axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = norm_axis(node, a, rank)?;
        if out.contains(&a) {
            return Err(node_err(node, format!("axis {a} given twice")));
        }
        out.push(a);
    }
    Ok(out)
}

fn out_shape_unchecked(node: &Node, ins: &[&[usize]]) -> Result<Vec<usize>> {
    let x = *ins.first().ok_or_else(|| node_err(node, "no input"))?;
    let need = |k: usize| -> Result<&[usize]> {
        ins.get(k)
            .copied()
            .ok_or_else(|| node_err(node, format!("input {k} missing")))
    };
    Ok(match &node.op {
        Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            groups,
        } => {
            let w = need(1)?;
            if w.len() != 4 || x.len() != 4 {
                return Err(node_err(
                    node,
                    format!("input {x:?}, weight {w:?}: 2-D only"),
                ));
            }
            if *groups == 0 || x[1] != w[1] * groups || w[0] % groups != 0 {
                return Err(node_err(
                    node,
                    format!("input {x:?} does not fit weight {w:?} with {groups} groups"),
                ));
            }
            if [w[2], w[3]] != *kernel {
                return Err(node_err(
                    node,
                    format!("kernel {kernel:?} but weight {w:?}"),
                ));
            }
            if let Some(b) = ins.get(2)
                && *b != [w[0]]
            {
                return Err(node_err(
                    node,
                    format!("bias of shape {b:?} for {} filters", w[0]),
                ));
            }
            let [oh, ow] = spatial(node, x, *kernel, *strides, *pads, *dilations, false)?;
            vec![x[0], w[0], oh, ow]
        }
        Op::BatchNorm { .. } => {
            for k in 1..5 {
                let p = need(k)?;
                if x.len() < 2 || p != [x[1]] {
                    return Err(node_err(node, format!("input {x:?}, parameter {k} {p:?}")));
                }
            }
            x.to_vec()
        }
        Op::Relu
        | Op::Clip { .. }
        | Op::Sigmoid
        | Op::HardSwish
        | Op::HardSigmoid { .. }
        | Op::Identity => x.to_vec(),
        Op::Softmax { axis } => {
            norm_axis(node, *axis, x.len())?;
            x.to_vec()
        }
        Op::Mul | Op::Add | Op::Sub | Op::Div => broadcast(node, x, need(1)?)?,
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        }
        | Op::AveragePool {
            kernel,
            strides,
            pads,
            ceil_mode,
            ..
        } => {
            let [oh, ow] = spatial(node, x, *kernel, *strides, *pads, [1, 1], *ceil_mode)?;
            vec![x[0], x[1], oh, ow]
        }
        Op::GlobalAveragePool => {
            if x.len() < 3 {
                return Err(node_err(
                    node,
                    format!("expects N, C, spatial..., got {x:?}"),
                ));
            }
            let mut s = x.to_vec();
            s[2..].iter_mut().for_each(|v| *v = 1);
            s
        }
        Op::ReduceMean { axes, keepdims } => {
            let ax: Vec<usize> = if axes.is_empty() {
                (0..x.len()).collect()
            } else {
                axes.iter()
                    .map(|&a| norm_axis(node, a, x.len()))
                    .collect::<Result<_>>()?
            };
            let mut s = Vec::new();
            for (i, &d) in x.iter().enumerate() {
                if ax.contains(&i) {
                    if *keepdims {
                        s.push(1);
                    }
                } else {
                    s.push(d);
                }
            }
            s
        }
        Op::Flatten { axis } => {
            let a = if *axis == x.len() as i64 {
                x.len()
            } else {
                norm_axis(node, *axis, x.len())?
            };
            vec![x[..a].iter().product(), x[a..].iter().product()]
        }
        Op::Reshape { shape } => reshape_target(node, x, shape)?,
        Op::Transpose { perm } => {
            let mut seen = vec![false; x.len()];
            if perm.len() != x.len()
                || perm
                    .iter()
                    .any(|&p| p >= x.len() || std::mem::replace(&mut seen[p], true))
            {
                return Err(node_err(
                    node,
                    format!("perm {perm:?} for rank {}", x.len()),
                ));
            }
            perm.iter().map(|&p| x[p]).collect()
        }
        Op::Squeeze { axes } => {
            let ax = distinct_axes(node, axes, x.len())?;
            let mut s = Vec::new();
            for (i, &d) in x.iter().enumerate() {
                let drop = if ax.is_empty() {
                    d == 1
                } else {
                    ax.contains(&i)
                };
                if drop && d != 1 {
                    return Err(node_err(node, format!("axis {i} of {x:?} is not 1")));
                }
                if !drop {
                    s.push(d);
                }
            }
            s
        }
        Op::Unsqueeze { axes } => {
            let r = x.len() + axes.len();
            let ax = distinct_axes(node, axes, r)?;
            let mut it = x.iter();
            (0..r)
                .map(|i| {
                    if ax.contains(&i) {
                        1
                    } else {
                        *it.next().unwrap_or(&1)
                    }
                })
                .collect()
        }
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => {
            let mut s = x.to_vec();
            if axes.len() != starts.len()
                || ends.len() != starts.len()
                || steps.len() != starts.len()
            {
                return Err(node_err(
                    node,
                    "starts, ends, axes and steps differ in length",
                ));
            }
            distinct_axes(node, axes, x.len())?;
            for k in 0..starts.len() {
                let a = norm_axis(node, axes[k], x.len())?;
                if steps[k] == 0 {
                    return Err(node_err(node, "step 0"));
                }
                s[a] = slice_range(starts[k], ends[k], steps[k], x[a]).2;
            }
            s
        }
        Op::Pad { pads, .. } => {
            if pads.len() != 2 * x.len() {
                return Err(node_err(
                    node,
                    format!("{} pads for rank {}", pads.len(), x.len()),
                ));
            }
            let mut s = Vec::with_capacity(x.len());
            for (i, &d) in x.iter().enumerate() {
                let v = (d as i64)
                    .checked_add(pads[i])
                    .and_then(|v| v.checked_add(pads[i + x.len()]))
                    .unwrap_or(-1);
                if v < 0 || v as usize > MAX_ELEMENTS {
                    return Err(node_err(node, format!("pads {pads:?} do not fit {x:?}")));
                }
                s.push(v as usize);
            }
            s
        }
        Op::Gemm {
            trans_a, trans_b, ..
        } => {
            let b = need(1)?;
            if x.len() != 2 || b.len() != 2 {
                return Err(node_err(
                    node,
                    format!("2-D operands expected, got {x:?} and {b:?}"),
                ));
            }
            let (m, k) = if *trans_a { (x[1], x[0]) } else { (x[0], x[1]) };
            let (k2, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
            if k != k2 {
                return Err(node_err(node, format!("{x:?} x {b:?}: inner sizes differ")));
            }
            if let Some(c) = ins.get(2)
                && (c.len() > 2 || broadcast(node, &[m, n], c)? != [m, n])
            {
                return Err(node_err(
                    node,
                    format!("C of shape {c:?} does not broadcast to [{m}, {n}]"),
                ));
            }
            vec![m, n]
        }
        Op::MatMul => {
            let b = need(1)?;
            if x.len() < 2 || b.len() != 2 || x[x.len() - 1] != b[0] {
                return Err(node_err(
                    node,
                    format!("{x:?} x {b:?}: supported as (..., k) x (k, n)"),
                ));
            }
            let mut s = x.to_vec();
            let last = s.len() - 1;
            s[last] = b[1];
            s
        }
        Op::Concat { axis } => {
            let a = norm_axis(node, *axis, x.len())?;
            let mut s = x.to_vec();
            for y in &ins[1..] {
                if y.len() != x.len() || (0..x.len()).any(|i| i != a && y[i] != x[i]) {
                    return Err(node_err(
                        node,
                        format!("cannot concatenate {x:?} and {y:?}"),
                    ));
                }
                s[a] += y[a];
            }
            s
        }
    })
}

/// Every value's shape for a batch of `batch`: parameters, the input, each node's output.
pub fn infer(g: &Graph, batch: usize) -> Result<HashMap<String, Vec<usize>>> {
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    for (k, t) in &g.params {
        shapes.insert(k.clone(), t.shape.clone());
    }
    let mut input = g.input_shape.clone();
    if let Some(b) = input.first_mut() {
        *b = batch;
    }
    shapes.insert(g.input.clone(), input);
    for n in &g.nodes {
        let ins: Vec<&[usize]> =
            n.inputs
                .iter()
                .map(|i| {
                    shapes.get(i).map(Vec::as_slice).ok_or_else(|| {
                        node_err(n, format!("input \"{i}\" is not computed before it"))
                    })
                })
                .collect::<Result<_>>()?;
        let s = out_shape(n, &ins)?;
        for o in &n.outputs {
            shapes.insert(o.clone(), s.clone());
        }
    }
    for o in &g.outputs {
        if !shapes.contains_key(o) {
            return Err(GraphError::invalid(
                "graph outputs",
                format!("\"{o}\" is never computed"),
            ));
        }
    }
    Ok(shapes)
}
