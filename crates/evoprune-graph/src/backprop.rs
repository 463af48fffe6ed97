//! Gradients on our own kernels: one training step (forward, cross-entropy, backward) of a
//! graph on the CPU, without burn.
//!
//! [`Trainer::new`] checks once that every node is one this module differentiates (the ops of
//! CNNs as PyTorch exports them: convolution of any groups, batch normalisation in training or
//! inference mode, ReLU/Clip/Sigmoid/HardSwish/HardSigmoid, same-shape Add/Sub/Mul, max and
//! average pooling, global and spatial means, reshapes, Gemm/MatMul with parameter weights,
//! channel Concat, Softmax) and that every value keeps the batch as its first axis; anything
//! else is refused with the node named, and [`crate::train`] then runs the graph on burn.
//!
//! Values are plain `[N, C, ...]` buffers kept across steps (no allocation once warm).
//! A convolution works on chunks of images ([`CHUNK_PIXELS`] output pixels, fixed by the
//! layer's geometry): im2col of the chunk, one GEMM on the `gemm` crate with the pixels as its
//! long `m` axis, and in the backward pass the weight gradient of each chunk summed in chunk
//! order. Every reduction (batch statistics, weight and bias gradients) runs in an order that
//! does not depend on the number of threads, so a step gives the same bits on 1 and N threads.
//!
//! Why hand-written: burn's autodiff on flex runs a CIFAR ResNet-20 step at about a third of
//! PyTorch's speed on this machine, and no crate offers convolution backward on the CPU.

use crate::ir::{Graph, Node, Op};
use crate::shape::{infer, node_err, norm_axis};
use crate::{GraphError, Result};
use evoprune_nn::gemm::{Mat, matmul_cm_par, matmul_par};
use rayon::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// Output pixels per convolution work chunk: whole images, at least one.
const CHUNK_PIXELS: usize = 2048;
/// Weight gradients of chunks of at least this many pixels and at most [`ABT_MAX_CHANNELS`]
/// output channels (per group) run on [`crate::fast::abt`], the others on gemm.
const ABT_MIN_PIXELS: usize = 1024;
/// See [`ABT_MIN_PIXELS`].
const ABT_MAX_CHANNELS: usize = 32;
/// Elements per parallel task of element-wise ops.
const ELEMS: usize = 1 << 14;

/// One batch norm's statistics over a training batch.
#[derive(Clone, Debug)]
pub struct BatchStats {
    /// The running-mean parameter it updates.
    pub mean_param: String,
    /// The running-variance parameter.
    pub var_param: String,
    /// Per-channel batch mean.
    pub mean: Vec<f32>,
    /// Per-channel biased batch variance (what normalised the batch).
    pub var: Vec<f32>,
    /// Values per channel in the batch (`N * H * W`).
    pub count: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Val(usize),
    Param(usize),
}

struct Step {
    /// Index into the graph's nodes.
    node: usize,
    ins: Vec<Src>,
    out: usize,
}

/// What a step keeps from the forward pass for the backward one.
#[derive(Default)]
enum Saved {
    #[default]
    None,
    /// Batch norm: per-channel mean, variance and 1/sqrt(var + eps) used.
    Norm {
        mean: Vec<f32>,
        var: Vec<f32>,
        inv: Vec<f32>,
    },
    /// Max pooling: the input index (within its plane) of each output, `u32::MAX` for none.
    Arg(Vec<u32>),
    /// Slice or Pad: for its input shape, the input index of each output (`u32::MAX`: pad).
    Map { shape: Vec<usize>, map: Vec<u32> },
}

/// A compiled training step for one graph: the nodes in order with their inputs resolved,
/// and buffers reused across steps.
pub struct Trainer {
    params: Vec<String>,
    steps: Vec<Step>,
    out: usize,
    vals: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    shapes: Vec<Vec<usize>>,
    saved: Vec<Saved>,
    pgrads: Vec<Vec<f32>>,
    work: Work,
    /// Free gradient buffers.
    pool: Vec<Vec<f32>>,
    /// Values names, by id (the input is 0).
    names: Vec<String>,
}

fn err(node: &Node, reason: impl Into<String>) -> GraphError {
    node_err(node, reason)
}

/// How batch norms run in a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// With the batch's statistics (returned for the running update).
    Batch,
    /// With the running statistics.
    Frozen,
}

/// The result of one step.
pub struct Outcome {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Batch statistics of each batch norm (empty with [`Norm::Frozen`]).
    pub stats: Vec<BatchStats>,
}

impl Trainer {
    /// Compile `g`, or say which node this module cannot differentiate.
    pub fn new(g: &Graph) -> Result<Trainer> {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut names = vec![g.input.clone()];
        ids.insert(&g.input, 0);
        let mut params: Vec<String> = Vec::new();
        let mut pid: HashMap<&str, usize> = HashMap::new();
        let s2 = infer(g, 2)?;
        let s3 = infer(g, 3)?;
        let mut steps = Vec::with_capacity(g.nodes.len());
        for (k, n) in g.nodes.iter().enumerate() {
            if n.outputs.len() != 1 {
                return Err(err(n, "several outputs are not differentiated here"));
            }
            let mut ins = Vec::with_capacity(n.inputs.len());
            for i in &n.inputs {
                if let Some(&v) = ids.get(i.as_str()) {
                    ins.push(Src::Val(v));
                } else if g.params.contains_key(i) {
                    let next = params.len();
                    let p = *pid.entry(i.as_str()).or_insert_with(|| {
                        params.push(i.clone());
                        next
                    });
                    ins.push(Src::Param(p));
                } else {
                    return Err(err(n, format!("input \"{i}\" is not computed before it")));
                }
            }
            let o = &n.outputs[0];
            for (s, b) in [(&s2, 2), (&s3, 3)] {
                if s[o].first() != Some(&b) {
                    return Err(err(n, "its output does not keep the batch as first axis"));
                }
            }
            if s2[o].contains(&0) {
                return Err(err(n, format!("an empty output {:?}", s2[o])));
            }
            supported(n, &ins, &s2)?;
            let id = names.len();
            names.push(o.clone());
            ids.insert(o, id);
            steps.push(Step {
                node: k,
                ins,
                out: id,
            });
        }
        let first = g
            .outputs
            .first()
            .ok_or_else(|| GraphError::invalid("graph", "no output"))?;
        let out = *ids.get(first.as_str()).ok_or_else(|| {
            GraphError::invalid("graph outputs", format!("\"{first}\" is never computed"))
        })?;
        if s2[first].len() != 2 {
            return Err(GraphError::invalid(
                "training",
                format!(
                    "the output \"{first}\" is {:?}, not [N, classes]",
                    s2[first]
                ),
            ));
        }
        let nv = names.len();
        Ok(Trainer {
            pgrads: vec![Vec::new(); params.len()],
            params,
            out,
            vals: vec![Vec::new(); nv],
            grads: vec![Vec::new(); nv],
            shapes: vec![Vec::new(); nv],
            saved: (0..steps.len()).map(|_| Saved::None).collect(),
            work: Work::default(),
            pool: Vec::new(),
            steps,
            names,
        })
    }

    /// The gradient of the last step's mean loss with respect to parameter `name` (masked
    /// entries zero), if the graph reads it.
    pub fn grad(&self, name: &str) -> Option<&[f32]> {
        self.params
            .iter()
            .position(|p| p == name)
            .map(|i| self.pgrads[i].as_slice())
    }

    /// Names of the parameters the graph reads, in the order [`Trainer::grad`] serves them.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// The last step's value `name` (the input or a node's output), `[n, ...]` row-major.
    pub fn value(&self, name: &str) -> Option<&[f32]> {
        self.names
            .iter()
            .position(|v| v == name)
            .map(|i| self.vals[i].as_slice())
    }

    /// The last step's output (logits) for the batch.
    pub fn logits(&self) -> &[f32] {
        &self.vals[self.out]
    }

    /// One forward and backward pass of the mean cross-entropy of `g` on the batch `x`
    /// (`[n, ...]` as the graph's input) with labels `y`. Parameters with a mask in `masks`
    /// run as `w * m` and their gradient is masked. Parameter gradients are left for
    /// [`Trainer::grad`].
    pub fn step(
        &mut self,
        g: &Graph,
        x: &[f32],
        y: &[u32],
        norm: Norm,
        masks: &HashMap<String, Vec<f32>>,
    ) -> Result<Outcome> {
        self.pass(g, x, y, norm, masks, true)
    }

    /// The forward pass alone of `g` on the batch `x` (`n` inputs) with batch norms on the
    /// batch's statistics, which it returns (parameters under `masks` run as `w * m`, as in
    /// [`Trainer::step`]): what re-estimating the running statistics of a pruned network
    /// needs, at a third of a step's cost. [`Trainer::grad`] still gives the last step's
    /// gradients. A batch needs at least 2 inputs.
    pub fn batch_statistics(
        &mut self,
        g: &Graph,
        x: &[f32],
        n: usize,
        masks: &HashMap<String, Vec<f32>>,
    ) -> Result<Vec<BatchStats>> {
        if n < 2 {
            return Err(GraphError::invalid(
                "batch statistics",
                format!("a batch of {n} input(s) has no variance; give at least 2"),
            ));
        }
        Ok(self
            .pass(g, x, &vec![0; n], Norm::Batch, masks, false)?
            .stats)
    }

    /// A forward pass, and the backward one when `with_backward` (else the loss is not
    /// computed).
    fn pass(
        &mut self,
        g: &Graph,
        x: &[f32],
        y: &[u32],
        norm: Norm,
        masks: &HashMap<String, Vec<f32>>,
        with_backward: bool,
    ) -> Result<Outcome> {
        let n = y.len();
        // the graph this trainer was compiled for (same nodes writing the same values)
        let same = g.nodes.len() == self.steps.len()
            && self
                .steps
                .iter()
                .all(|st| g.nodes[st.node].outputs.first() == Some(&self.names[st.out]));
        if !same || g.input != self.names[0] {
            return Err(GraphError::invalid(
                "training",
                "the graph is not the one this trainer was compiled for",
            ));
        }
        for name in &self.params {
            let len = g.params.get(name).map(|t| t.len());
            if len.is_none() || masks.get(name).is_some_and(|m| Some(m.len()) != len) {
                return Err(GraphError::invalid(
                    "mask",
                    format!("\"{name}\": no such parameter, or a mask of another size"),
                ));
            }
        }
        let shapes = infer(g, n)?;
        for (id, name) in self.names.iter().enumerate() {
            let sh = &shapes[name];
            if sh.first() != Some(&n) {
                return Err(GraphError::invalid(
                    "training",
                    format!("value \"{name}\" is {sh:?} for a batch of {n}: not batch-first"),
                ));
            }
            self.shapes[id].clone_from(sh);
        }
        if x.len() != n * g.input_shape[1..].iter().product::<usize>() || n == 0 {
            return Err(GraphError::invalid(
                "training batch",
                format!(
                    "{} values for {n} samples of {:?}",
                    x.len(),
                    &g.input_shape[1..]
                ),
            ));
        }
        let classes = self.shapes[self.out][1];
        if let Some((i, &l)) = y.iter().enumerate().find(|(_, l)| **l as usize >= classes) {
            return Err(GraphError::invalid(
                "labels",
                format!("label {l} of sample {i} is not below the {classes} classes"),
            ));
        }
        // effective parameters: masked copies where a mask applies
        let masked: Vec<Option<Vec<f32>>> = self
            .params
            .iter()
            .map(|p| {
                masks
                    .get(p)
                    .map(|m| g.params[p].data.iter().zip(m).map(|(w, m)| w * m).collect())
            })
            .collect();
        let pv: Vec<&[f32]> = self
            .params
            .iter()
            .zip(&masked)
            .map(|(p, m)| m.as_deref().unwrap_or(&g.params[p].data))
            .collect();
        let norm = if n < 2 { Norm::Frozen } else { norm };
        set(&mut self.vals[0], x);
        for (k, st) in self.steps.iter().enumerate() {
            let node = &g.nodes[st.node];
            let mut out = std::mem::take(&mut self.vals[st.out]);
            let ctx = Ctx {
                node,
                ins: &st.ins,
                vals: &self.vals,
                shapes: &self.shapes,
                pv: &pv,
                out_shape: &self.shapes[st.out],
            };
            let prev = std::mem::take(&mut self.saved[k]);
            self.saved[k] = forward(&ctx, &mut out, norm, &mut self.work, prev)?;
            self.vals[st.out] = out;
        }
        if !with_backward {
            return Ok(Outcome {
                loss: f32::NAN,
                stats: self.stats_of(g, norm),
            });
        }
        // loss and its gradient
        let logits = &self.vals[self.out];
        let mut loss = 0.0f64;
        self.grads[self.out] = zeroed(&mut self.pool, n * classes);
        let dl = &mut self.grads[self.out];
        for i in 0..n {
            let row = &logits[i * classes..(i + 1) * classes];
            let mx = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let se: f64 = row.iter().map(|&v| ((v - mx) as f64).exp()).sum();
            let lse = mx as f64 + se.ln();
            loss += lse - row[y[i] as usize] as f64;
            for (j, d) in dl[i * classes..(i + 1) * classes].iter_mut().enumerate() {
                let p = (row[j] as f64 - lse).exp();
                let t = if j == y[i] as usize { 1.0 } else { 0.0 };
                *d = ((p - t) / n as f64) as f32;
            }
        }
        let loss = (loss / n as f64) as f32;
        // backward
        // Gradient buffers come from a pool when a consumer first writes them and go back
        // once their producer has used them: at most the live frontier is held, not one
        // buffer per value (ResNet-50 at 224 px, batch 64: 20 GB -> 12 GB).
        for (id, gr) in self.grads.iter_mut().enumerate() {
            if id != self.out && gr.capacity() > 0 {
                self.pool.push(std::mem::take(gr));
            }
        }
        for (p, gr) in self.pgrads.iter_mut().enumerate() {
            gr.clear();
            gr.resize(pv[p].len(), 0.0);
        }
        for (k, st) in self.steps.iter().enumerate().rev() {
            let node = &g.nodes[st.node];
            for v in std::iter::once(st.out).chain(st.ins.iter().filter_map(|s| match s {
                Src::Val(v) if *v != 0 => Some(*v),
                _ => None,
            })) {
                if self.grads[v].is_empty() {
                    self.grads[v] = zeroed(&mut self.pool, self.vals[v].len());
                }
            }
            let dy = std::mem::take(&mut self.grads[st.out]);
            let ctx = Ctx {
                node,
                ins: &st.ins,
                vals: &self.vals,
                shapes: &self.shapes,
                pv: &pv,
                out_shape: &self.shapes[st.out],
            };
            backward(
                &ctx,
                &self.vals[st.out],
                &dy,
                &self.saved[k],
                norm,
                &mut self.grads,
                &mut self.pgrads,
                &mut self.work,
            )?;
            self.pool.push(dy);
        }
        for (p, gr) in self.pgrads.iter_mut().enumerate() {
            if let Some(m) = masks.get(&self.params[p]) {
                gr.iter_mut().zip(m).for_each(|(g, m)| *g *= m);
            }
        }
        Ok(Outcome {
            loss,
            stats: self.stats_of(g, norm),
        })
    }

    /// The batch statistics the last forward pass normalised with (none when `Frozen`).
    fn stats_of(&self, g: &Graph, norm: Norm) -> Vec<BatchStats> {
        let mut stats = Vec::new();
        for (st, s) in self.steps.iter().zip(&self.saved) {
            let node = &g.nodes[st.node];
            if let (Saved::Norm { mean, var, .. }, Norm::Batch) = (s, norm) {
                let sh = &self.shapes[st.out];
                stats.push(BatchStats {
                    mean_param: node.inputs[3].clone(),
                    var_param: node.inputs[4].clone(),
                    mean: mean.clone(),
                    var: var.clone(),
                    count: sh[0] * sh[2..].iter().product::<usize>(),
                });
            }
        }
        stats
    }
}

/// A buffer of `len` zeros from `pool` (the smallest that holds it, else the largest).
fn zeroed(pool: &mut Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let fits = (0..pool.len())
        .filter(|&i| pool[i].capacity() >= len)
        .min_by_key(|&i| pool[i].capacity());
    let pick = fits.or_else(|| (0..pool.len()).max_by_key(|&i| pool[i].capacity()));
    let mut b = pick.map(|i| pool.swap_remove(i)).unwrap_or_default();
    b.truncate(len);
    b.par_chunks_mut(ELEMS).for_each(|c| c.fill(0.0));
    b.resize(len, 0.0);
    b
}

/// `y` resized to `len` without clearing: every forward op writes each of its outputs, so
/// zero-filling a buffer kept from the last step would only cost a pass over memory.
fn fit(y: &mut Vec<f32>, len: usize) {
    y.resize(len, 0.0);
}

fn set(dst: &mut Vec<f32>, src: &[f32]) {
    dst.clear();
    dst.extend_from_slice(src);
}

/// Refuse what [`forward`] / [`backward`] do not handle, naming the node.
fn supported(n: &Node, ins: &[Src], s: &HashMap<String, Vec<usize>>) -> Result<()> {
    let val = |i: usize| matches!(ins.get(i), Some(Src::Val(_)));
    let par = |i: usize| matches!(ins.get(i), Some(Src::Param(_)));
    let shape = |i: usize| &s[&n.inputs[i]];
    let ok = match &n.op {
        Op::Conv { .. } => val(0) && par(1) && (ins.len() == 2 || par(2)),
        Op::BatchNorm { .. } => val(0) && ins.len() == 5 && (1..5).all(par) && shape(0).len() >= 2,
        Op::Relu
        | Op::Clip { .. }
        | Op::Sigmoid
        | Op::HardSwish
        | Op::HardSigmoid { .. }
        | Op::Flatten { .. }
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Identity => val(0),
        Op::Add | Op::Sub | Op::Mul => val(0) && val(1) && shape(0) == shape(1),
        Op::MaxPool { .. } | Op::AveragePool { .. } | Op::GlobalAveragePool => {
            val(0) && shape(0).len() == 4
        }
        Op::ReduceMean { axes, .. } => {
            let r = shape(0).len();
            let mut ax: Vec<usize> = axes
                .iter()
                .map(|&a| norm_axis(n, a, r))
                .collect::<Result<_>>()?;
            ax.sort_unstable();
            val(0) && r == 4 && ax == [2, 3]
        }
        Op::Gemm { trans_a, .. } => {
            val(0)
                && !trans_a
                && par(1)
                && shape(0).len() == 2
                && (ins.len() == 2
                    || (par(2) && shape(2).iter().product::<usize>() == s[&n.outputs[0]][1]))
        }
        Op::MatMul => val(0) && par(1) && shape(0).len() == 2 && shape(1).len() == 2,
        Op::Concat { axis } => {
            let r = shape(0).len();
            (0..ins.len()).all(val) && norm_axis(n, *axis, r)? == 1
        }
        Op::Softmax { axis } => {
            let r = shape(0).len();
            val(0) && r == 2 && norm_axis(n, *axis, r)? == 1
        }
        Op::Slice { .. } => val(0),
        Op::Pad { pads, .. } => val(0) && pads.iter().all(|&p| p >= 0),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(err(
            n,
            format!(
                "{} with these inputs is not differentiated by the native trainer",
                n.op.op_type()
            ),
        ))
    }
}

struct Ctx<'a> {
    node: &'a Node,
    ins: &'a [Src],
    vals: &'a [Vec<f32>],
    shapes: &'a [Vec<usize>],
    pv: &'a [&'a [f32]],
    out_shape: &'a [usize],
}

impl<'a> Ctx<'a> {
    fn x(&self, i: usize) -> &'a [f32] {
        match self.ins[i] {
            Src::Val(v) => &self.vals[v],
            Src::Param(p) => self.pv[p],
        }
    }
    fn shape(&self, i: usize) -> &'a [usize] {
        match self.ins[i] {
            Src::Val(v) => &self.shapes[v],
            Src::Param(_) => &[],
        }
    }
    fn opt(&self, i: usize) -> Option<&'a [f32]> {
        (i < self.ins.len()).then(|| self.x(i))
    }
}

/// `y[i] = f(x[i])` in parallel.
fn map_into(y: &mut Vec<f32>, x: &[f32], f: impl Fn(f32) -> f32 + Sync) {
    fit(y, x.len());
    y.par_chunks_mut(ELEMS)
        .zip(x.par_chunks(ELEMS))
        .for_each(|(y, x)| y.iter_mut().zip(x).for_each(|(y, &x)| *y = f(x)));
}

/// `dx[i] += dy[i] * f(x[i], y[i])` in parallel.
fn acc_into(dx: &mut [f32], dy: &[f32], x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    dx.par_chunks_mut(ELEMS)
        .zip(dy.par_chunks(ELEMS))
        .zip(x.par_chunks(ELEMS).zip(y.par_chunks(ELEMS)))
        .for_each(|((dx, dy), (x, y))| {
            for i in 0..dx.len() {
                dx[i] += dy[i] * f(x[i], y[i]);
            }
        });
}

/// `N`, channels, values per channel and image.
fn ncs(shape: &[usize]) -> (usize, usize, usize) {
    (shape[0], shape[1], shape[2..].iter().product())
}

/// One node's forward pass into `y`; `prev` is what the node saved in the last step (a
/// Slice's or Pad's index map is kept while the input's shape is the same).
fn forward(
    c: &Ctx<'_>,
    y: &mut Vec<f32>,
    norm: Norm,
    work: &mut Work,
    prev: Saved,
) -> Result<Saved> {
    let node = c.node;
    let x = c.x(0);
    let len: usize = c.out_shape.iter().product();
    Ok(match &node.op {
        Op::Conv { .. } => {
            let geo = Geo::of(node, c.shape(0), c.out_shape);
            fit(y, len);
            if geo.direct() {
                conv_forward_direct(&geo, x, c.x(1), c.opt(2), y, work);
            } else {
                conv_forward(&geo, x, c.x(1), c.opt(2), y);
            }
            Saved::None
        }
        Op::BatchNorm { epsilon } => {
            let (n, ch, s) = ncs(c.shape(0));
            let (scale, bias) = (c.x(1), c.x(2));
            let (mean, var) = match norm {
                Norm::Batch => batch_moments(x, n, ch, s),
                Norm::Frozen => (c.x(3).to_vec(), c.x(4).to_vec()),
            };
            let inv: Vec<f32> = var.iter().map(|v| 1.0 / (v + epsilon).sqrt()).collect();
            fit(y, len);
            y.par_chunks_mut(ch * s)
                .zip(x.par_chunks(ch * s))
                .for_each(|(yi, xi)| {
                    for k in 0..ch {
                        let (m, iv, a, b) = (mean[k], inv[k], scale[k], bias[k]);
                        for (o, &v) in yi[k * s..(k + 1) * s]
                            .iter_mut()
                            .zip(&xi[k * s..(k + 1) * s])
                        {
                            *o = (v - m) * iv * a + b;
                        }
                    }
                });
            Saved::Norm { mean, var, inv }
        }
        Op::Relu => {
            map_into(y, x, |v| v.max(0.0));
            Saved::None
        }
        Op::Clip { min, max } => {
            let (lo, hi) = (*min, *max);
            map_into(y, x, |v| v.max(lo).min(hi));
            Saved::None
        }
        Op::Sigmoid => {
            map_into(y, x, |v| 1.0 / (1.0 + (-v).exp()));
            Saved::None
        }
        Op::HardSwish => {
            map_into(y, x, |v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0);
            Saved::None
        }
        Op::HardSigmoid { alpha, beta } => {
            let (a, b) = (*alpha, *beta);
            map_into(y, x, |v| (a * v + b).clamp(0.0, 1.0));
            Saved::None
        }
        Op::Flatten { .. }
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Identity => {
            set(y, x);
            Saved::None
        }
        Op::Add | Op::Sub | Op::Mul => {
            let b = c.x(1);
            fit(y, len);
            let op = node.op.clone();
            y.par_chunks_mut(ELEMS)
                .zip(x.par_chunks(ELEMS).zip(b.par_chunks(ELEMS)))
                .for_each(|(y, (a, b))| {
                    for i in 0..y.len() {
                        y[i] = match op {
                            Op::Add => a[i] + b[i],
                            Op::Sub => a[i] - b[i],
                            _ => a[i] * b[i],
                        };
                    }
                });
            Saved::None
        }
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ..
        } => {
            let w = Win::of(c.shape(0), c.out_shape, *kernel, *strides, *pads);
            fit(y, len);
            let mut arg = vec![0u32; len];
            let per_in = w.c * w.h * w.w;
            let per_out = w.c * w.oh * w.ow;
            y.par_chunks_mut(per_out)
                .zip(arg.par_chunks_mut(per_out))
                .zip(x.par_chunks(per_in))
                .for_each(|((yi, ai), xi)| {
                    for p in 0..w.c {
                        let src = &xi[p * w.h * w.w..(p + 1) * w.h * w.w];
                        for oy in 0..w.oh {
                            for ox in 0..w.ow {
                                let (mut best, mut at) = (f32::NEG_INFINITY, u32::MAX);
                                w.each(oy, ox, |i| {
                                    // the first maximum wins
                                    if at == u32::MAX || src[i] > best {
                                        best = src[i];
                                        at = i as u32;
                                    }
                                });
                                let o = (p * w.oh + oy) * w.ow + ox;
                                yi[o] = best;
                                ai[o] = at;
                            }
                        }
                    }
                });
            Saved::Arg(arg)
        }
        Op::AveragePool {
            kernel,
            strides,
            pads,
            count_include_pad,
            ..
        } => {
            let w = Win::of(c.shape(0), c.out_shape, *kernel, *strides, *pads);
            fit(y, len);
            let inc = *count_include_pad;
            let (per_in, per_out) = (w.c * w.h * w.w, w.c * w.oh * w.ow);
            y.par_chunks_mut(per_out)
                .zip(x.par_chunks(per_in))
                .for_each(|(yi, xi)| {
                    for p in 0..w.c {
                        let src = &xi[p * w.h * w.w..(p + 1) * w.h * w.w];
                        for oy in 0..w.oh {
                            for ox in 0..w.ow {
                                let mut acc = 0.0f32;
                                w.each(oy, ox, |i| acc += src[i]);
                                yi[(p * w.oh + oy) * w.ow + ox] = acc / w.divisor(oy, ox, inc);
                            }
                        }
                    }
                });
            Saved::None
        }
        Op::GlobalAveragePool | Op::ReduceMean { .. } => {
            let (_, _, s) = ncs(c.shape(0));
            fit(y, len);
            y.par_chunks_mut(ELEMS / s.max(1) + 1)
                .zip(x.par_chunks((ELEMS / s.max(1) + 1) * s))
                .for_each(|(y, x)| {
                    for (o, plane) in y.iter_mut().zip(x.chunks(s)) {
                        *o = sum32(plane) / s as f32;
                    }
                });
            Saved::None
        }
        Op::Gemm { .. } | Op::MatMul => {
            let (alpha, beta, tb) = match &node.op {
                Op::Gemm {
                    alpha,
                    beta,
                    trans_b,
                    ..
                } => (*alpha, *beta, *trans_b),
                _ => (1.0, 1.0, false),
            };
            let (n, f) = (c.shape(0)[0], c.shape(0)[1]);
            let o = c.out_shape[1];
            fit(y, len);
            matmul_par(
                y,
                n,
                o,
                Mat::new(x, n, f),
                weight_view(c.x(1), f, o, tb),
                false,
            );
            if alpha != 1.0 {
                y.iter_mut().for_each(|v| *v *= alpha);
            }
            if let Some(b) = c.opt(2) {
                for row in y.chunks_mut(o) {
                    row.iter_mut().zip(b).for_each(|(v, b)| *v += beta * b);
                }
            }
            Saved::None
        }
        Op::Concat { .. } => {
            fit(y, len);
            let n = c.out_shape[0];
            let per_out = len / n.max(1);
            let mut off = 0;
            for i in 0..c.ins.len() {
                let xi = c.x(i);
                let per = xi.len() / n.max(1);
                for (yi, xi) in y.chunks_mut(per_out).zip(xi.chunks(per)) {
                    yi[off..off + per].copy_from_slice(xi);
                }
                off += per;
            }
            Saved::None
        }
        Op::Slice { .. } | Op::Pad { .. } => {
            let map = match prev {
                Saved::Map { shape, map } if shape == c.shape(0) && map.len() == len => map,
                _ => gather_map(node, c.shape(0), c.out_shape)?,
            };
            let fill = match &node.op {
                Op::Pad { value, .. } => *value,
                _ => 0.0,
            };
            y.clear();
            y.extend(
                map.iter()
                    .map(|&i| if i == u32::MAX { fill } else { x[i as usize] }),
            );
            Saved::Map {
                shape: c.shape(0).to_vec(),
                map,
            }
        }
        Op::Softmax { .. } => {
            let k = c.out_shape[1];
            fit(y, len);
            for (yr, xr) in y.chunks_mut(k).zip(x.chunks(k)) {
                let mx = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut s = 0.0f32;
                for (o, &v) in yr.iter_mut().zip(xr) {
                    *o = (v - mx).exp();
                    s += *o;
                }
                yr.iter_mut().for_each(|o| *o /= s);
            }
            Saved::None
        }
        _ => return Err(err(node, "not differentiated by the native trainer")),
    })
}

/// For each output element of a Slice or constant Pad, the input element it copies
/// (`u32::MAX`: padding).
fn gather_map(node: &Node, xs: &[usize], ys: &[usize]) -> Result<Vec<u32>> {
    let r = xs.len();
    // input index along axis a = begin[a] + o * step[a]
    let mut begin = vec![0i64; r];
    let mut step = vec![1i64; r];
    match &node.op {
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => {
            for k in 0..starts.len() {
                let a = norm_axis(node, axes[k], r)?;
                let (s, st, _) = crate::shape::slice_range(starts[k], ends[k], steps[k], xs[a]);
                begin[a] = s;
                step[a] = st;
            }
        }
        Op::Pad { pads, .. } => {
            for a in 0..r {
                begin[a] = -pads[a];
            }
        }
        _ => unreachable!("slice or pad"),
    }
    let n: usize = ys.iter().product();
    if xs.iter().product::<usize>() >= u32::MAX as usize {
        return Err(err(node, "too large for the native trainer"));
    }
    let st = crate::exec::strides(xs);
    let mut idx = vec![0usize; r];
    let mut map = Vec::with_capacity(n);
    for _ in 0..n {
        let mut at = 0i64;
        let mut inside = true;
        for a in 0..r {
            let i = begin[a] + idx[a] as i64 * step[a];
            inside &= (0..xs[a] as i64).contains(&i);
            at += i * st[a] as i64;
        }
        map.push(if inside { at as u32 } else { u32::MAX });
        for a in (0..r).rev() {
            idx[a] += 1;
            if idx[a] < ys[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(map)
}

/// `[f, o]` view of a Gemm/MatMul weight stored `[o, f]` (`trans`) or `[f, o]`.
fn weight_view(b: &[f32], f: usize, o: usize, trans: bool) -> Mat<'_> {
    if trans {
        Mat::new(b, o, f).t()
    } else {
        Mat::new(b, f, o)
    }
}

/// Lanes of the f64 sums below: independent partial sums, so that the loops vectorise (one
/// running sum waits on each addition's latency); the lanes are combined in a fixed order.
const LANES: usize = 16;

/// Σ a in f32, in [`LANES`] partial sums.
fn sum32(a: &[f32]) -> f32 {
    let mut s = [0.0f32; LANES];
    let c = a.chunks_exact(LANES);
    let r = c.remainder();
    for x in c {
        for i in 0..LANES {
            s[i] += x[i];
        }
    }
    for (i, x) in r.iter().enumerate() {
        s[i] += x;
    }
    s.iter().sum()
}

/// Per-channel mean and biased variance of `[n, ch, s]` (f64 sums of x and x², each channel
/// summed in one fixed order).
fn batch_moments(x: &[f32], n: usize, ch: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
    let cnt = (n * s) as f64;
    let out: Vec<(f32, f32)> = (0..ch)
        .into_par_iter()
        .map(|k| {
            // shifted by the channel's first value
            let shift = x.get(k * s).copied().unwrap_or(0.0);
            let rows = (0..n).map(|i| &x[(i * ch + k) * s..(i * ch + k + 1) * s]);
            let (sum, sq) = channel_sums(rows.clone(), rows, shift, shift);
            let m = sum / cnt;
            (
                (shift as f64 + m) as f32,
                (sq / cnt - m * m).max(0.0) as f32,
            )
        })
        .collect();
    out.into_iter().unzip()
}

/// (Σ (a - sa), Σ (a - sa)·(b - sb)) over a channel's rows (one per image): sixteen f32 lanes, flushed into f64 every
/// [`FLUSH`] values or so (short rows, such as 8x8 maps, share one set of lanes). The shifts
/// keep the sums of products small where the values sit far from zero (a variance as
/// E[x²] - E[x]²).
fn channel_sums<'a>(
    a: impl Iterator<Item = &'a [f32]>,
    b: impl Iterator<Item = &'a [f32]>,
    sa: f32,
    sb: f32,
) -> (f64, f64) {
    let (mut s, mut p) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (mut ts, mut tp) = (0.0f64, 0.0f64);
    let mut pending = 0;
    for (a, b) in a.zip(b) {
        let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (ar, br) = (ac.remainder(), bc.remainder());
        for (x, y) in ac.zip(bc) {
            for i in 0..LANES {
                let d = x[i] - sa;
                s[i] += d;
                p[i] += d * (y[i] - sb);
            }
        }
        for (i, (x, y)) in ar.iter().zip(br).enumerate() {
            let d = x - sa;
            s[i] += d;
            p[i] += d * (y - sb);
        }
        pending += a.len();
        if pending >= FLUSH {
            ts += s.iter().map(|&v| v as f64).sum::<f64>();
            tp += p.iter().map(|&v| v as f64).sum::<f64>();
            (s, p, pending) = ([0.0; LANES], [0.0; LANES], 0);
        }
    }
    (
        ts + s.iter().map(|&v| v as f64).sum::<f64>(),
        tp + p.iter().map(|&v| v as f64).sum::<f64>(),
    )
}

/// Values per lane set of [`channel_sums`] before they go into f64.
const FLUSH: usize = 256;

/// Per channel of `[n, ch, s]`: (Σ dy, Σ dy * (x - mean) * inv), in f64, in one fixed order.
fn norm_sums(
    dy: &[f32],
    x: &[f32],
    n: usize,
    ch: usize,
    s: usize,
    mean: &[f32],
    inv: &[f32],
) -> Vec<(f64, f64)> {
    (0..ch)
        .into_par_iter()
        .map(|k| {
            let r = |i: usize| (i * ch + k) * s..(i * ch + k + 1) * s;
            let (a, b) = channel_sums(
                (0..n).map(|i| &dy[r(i)]),
                (0..n).map(|i| &x[r(i)]),
                0.0,
                mean[k],
            );
            (a, inv[k] as f64 * b)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn backward(
    c: &Ctx<'_>,
    y: &[f32],
    dy: &[f32],
    saved: &Saved,
    norm: Norm,
    grads: &mut [Vec<f32>],
    pgrads: &mut [Vec<f32>],
    work: &mut Work,
) -> Result<()> {
    let node = c.node;
    let x = c.x(0);
    // the gradient buffer of value input `i`, if it is a value other than the graph input
    macro_rules! dx {
        ($i:expr) => {
            match c.ins[$i] {
                Src::Val(v) if v != 0 => Some(&mut grads[v]),
                _ => None,
            }
        };
    }
    match &node.op {
        Op::Conv { .. } => {
            let geo = Geo::of(node, c.shape(0), c.out_shape);
            let Src::Param(wp) = c.ins[1] else {
                unreachable!("checked")
            };
            let bp = match c.ins.get(2) {
                Some(Src::Param(b)) => Some(*b),
                _ => None,
            };
            let direct = geo.direct_backward();
            let mut dx = dx!(0);
            if direct && let Some(dx) = dx.as_deref_mut() {
                conv_input_grad_direct(&geo, c.x(1), dy, dx, work);
            }
            let dx = if direct {
                None
            } else {
                dx.map(|v| v.as_mut_slice())
            };
            let (dw, db) = conv_backward(&geo, x, c.x(1), dy, dx, bp.is_some());
            pgrads[wp].iter_mut().zip(&dw).for_each(|(a, b)| *a += b);
            if let Some(bp) = bp {
                pgrads[bp].iter_mut().zip(&db).for_each(|(a, b)| *a += b);
            }
        }
        Op::BatchNorm { .. } => {
            let Saved::Norm { mean, inv, .. } = saved else {
                unreachable!("saved in forward")
            };
            let (n, ch, s) = ncs(c.shape(0));
            let sums = norm_sums(dy, x, n, ch, s, mean, inv);
            let scale = c.x(1);
            if let (Src::Param(sp), Src::Param(bp)) = (c.ins[1], c.ins[2]) {
                for k in 0..ch {
                    pgrads[sp][k] += sums[k].1 as f32;
                    pgrads[bp][k] += sums[k].0 as f32;
                }
            }
            if let Some(dx) = dx!(0) {
                let cnt = (n * s) as f64;
                let coef: Vec<(f32, f32, f32)> = (0..ch)
                    .map(|k| {
                        let a = scale[k] * inv[k];
                        match norm {
                            Norm::Batch => (a, (sums[k].0 / cnt) as f32, (sums[k].1 / cnt) as f32),
                            Norm::Frozen => (a, 0.0, 0.0),
                        }
                    })
                    .collect();
                dx.par_chunks_mut(ch * s)
                    .zip(dy.par_chunks(ch * s).zip(x.par_chunks(ch * s)))
                    .for_each(|(dxi, (dyi, xi))| {
                        for k in 0..ch {
                            let (a, md, mdx) = coef[k];
                            let r = k * s..(k + 1) * s;
                            for ((o, &d), &v) in
                                dxi[r.clone()].iter_mut().zip(&dyi[r.clone()]).zip(&xi[r])
                            {
                                let xh = (v - mean[k]) * inv[k];
                                *o += a * (d - md - xh * mdx);
                            }
                        }
                    });
            }
        }
        Op::Relu => {
            if let Some(dx) = dx!(0) {
                acc_into(dx, dy, x, y, |_, y| if y > 0.0 { 1.0 } else { 0.0 });
            }
        }
        Op::Clip { min, max } => {
            let (lo, hi) = (*min, *max);
            if let Some(dx) = dx!(0) {
                acc_into(
                    dx,
                    dy,
                    x,
                    y,
                    |x, _| if x > lo && x < hi { 1.0 } else { 0.0 },
                );
            }
        }
        Op::Sigmoid => {
            if let Some(dx) = dx!(0) {
                acc_into(dx, dy, x, y, |_, y| y * (1.0 - y));
            }
        }
        Op::HardSwish => {
            if let Some(dx) = dx!(0) {
                acc_into(dx, dy, x, y, |x, _| {
                    if x < -3.0 {
                        0.0
                    } else if x > 3.0 {
                        1.0
                    } else {
                        (2.0 * x + 3.0) / 6.0
                    }
                });
            }
        }
        Op::HardSigmoid { alpha, beta } => {
            let (a, b) = (*alpha, *beta);
            if let Some(dx) = dx!(0) {
                acc_into(dx, dy, x, y, |x, _| {
                    let t = a * x + b;
                    if t > 0.0 && t < 1.0 { a } else { 0.0 }
                });
            }
        }
        Op::Flatten { .. }
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Identity => {
            if let Some(dx) = dx!(0) {
                acc_into(dx, dy, x, x, |_, _| 1.0);
            }
        }
        Op::Add | Op::Sub | Op::Mul => {
            let b = c.x(1);
            let sign = if matches!(node.op, Op::Sub) {
                -1.0
            } else {
                1.0
            };
            let mul = matches!(node.op, Op::Mul);
            if let Some(da) = dx!(0) {
                acc_into(da, dy, b, b, |b, _| if mul { b } else { 1.0 });
            }
            if let Some(db) = dx!(1) {
                acc_into(db, dy, x, x, |a, _| if mul { a } else { sign });
            }
        }
        Op::MaxPool { .. } => {
            let Saved::Arg(arg) = saved else {
                unreachable!("saved in forward")
            };
            if let Some(dx) = dx!(0) {
                let (_, ch, s) = ncs(c.shape(0));
                let so: usize = c.out_shape[2..].iter().product();
                dx.par_chunks_mut(ch * s)
                    .zip(dy.par_chunks(ch * so).zip(arg.par_chunks(ch * so)))
                    .for_each(|(dxi, (dyi, ai))| {
                        for k in 0..ch {
                            for o in k * so..(k + 1) * so {
                                if ai[o] != u32::MAX {
                                    dxi[k * s + ai[o] as usize] += dyi[o];
                                }
                            }
                        }
                    });
            }
        }
        Op::AveragePool {
            kernel,
            strides,
            pads,
            count_include_pad,
            ..
        } => {
            if let Some(dx) = dx!(0) {
                let w = Win::of(c.shape(0), c.out_shape, *kernel, *strides, *pads);
                let (per_in, per_out) = (w.c * w.h * w.w, w.c * w.oh * w.ow);
                let inc = *count_include_pad;
                dx.par_chunks_mut(per_in)
                    .zip(dy.par_chunks(per_out))
                    .for_each(|(dxi, dyi)| {
                        for p in 0..w.c {
                            let dst = &mut dxi[p * w.h * w.w..(p + 1) * w.h * w.w];
                            for oy in 0..w.oh {
                                for ox in 0..w.ow {
                                    let g =
                                        dyi[(p * w.oh + oy) * w.ow + ox] / w.divisor(oy, ox, inc);
                                    w.each(oy, ox, |i| dst[i] += g);
                                }
                            }
                        }
                    });
            }
        }
        Op::GlobalAveragePool | Op::ReduceMean { .. } => {
            if let Some(dx) = dx!(0) {
                let (_, _, s) = ncs(c.shape(0));
                dx.par_chunks_mut(s).zip(dy.par_iter()).for_each(|(d, &g)| {
                    let g = g / s as f32;
                    d.iter_mut().for_each(|v| *v += g);
                });
            }
        }
        Op::Gemm { .. } | Op::MatMul => {
            let (alpha, beta, tb) = match &node.op {
                Op::Gemm {
                    alpha,
                    beta,
                    trans_b,
                    ..
                } => (*alpha, *beta, *trans_b),
                _ => (1.0, 1.0, false),
            };
            let (n, f) = (c.shape(0)[0], c.shape(0)[1]);
            let o = c.out_shape[1];
            let scaled: Vec<f32>;
            let g: &[f32] = if alpha != 1.0 {
                scaled = dy.iter().map(|v| v * alpha).collect();
                &scaled
            } else {
                dy
            };
            if let Src::Param(wp) = c.ins[1] {
                let dw = &mut pgrads[wp];
                if tb {
                    // [o, f] = dy^T x
                    matmul_par(dw, o, f, Mat::new(g, n, o).t(), Mat::new(x, n, f), true);
                } else {
                    matmul_par(dw, f, o, Mat::new(x, n, f).t(), Mat::new(g, n, o), true);
                }
            }
            if let Some(Src::Param(bp)) = c.ins.get(2) {
                let db = &mut pgrads[*bp];
                for row in dy.chunks(o) {
                    db.iter_mut().zip(row).for_each(|(d, v)| *d += beta * v);
                }
            }
            if let Some(dx) = dx!(0) {
                let w = weight_view(c.x(1), f, o, tb);
                matmul_par(dx, n, f, Mat::new(g, n, o), w.t(), true);
            }
        }
        Op::Concat { .. } => {
            let n = c.out_shape[0];
            let per_out = dy.len() / n.max(1);
            let mut off = 0;
            for i in 0..c.ins.len() {
                let per = c.x(i).len() / n.max(1);
                if let Some(dx) = dx!(i) {
                    for (dxi, dyi) in dx.chunks_mut(per).zip(dy.chunks(per_out)) {
                        dxi.iter_mut()
                            .zip(&dyi[off..off + per])
                            .for_each(|(a, b)| *a += b);
                    }
                }
                off += per;
            }
        }
        Op::Slice { .. } | Op::Pad { .. } => {
            let Saved::Map { map, .. } = saved else {
                unreachable!("saved in forward")
            };
            if let Some(dx) = dx!(0) {
                for (&i, &d) in map.iter().zip(dy) {
                    if i != u32::MAX {
                        dx[i as usize] += d;
                    }
                }
            }
        }
        Op::Softmax { .. } => {
            if let Some(dx) = dx!(0) {
                let k = c.out_shape[1];
                for ((dxr, dyr), yr) in dx.chunks_mut(k).zip(dy.chunks(k)).zip(y.chunks(k)) {
                    let dot: f32 = dyr.iter().zip(yr).map(|(a, b)| a * b).sum();
                    for j in 0..k {
                        dxr[j] += yr[j] * (dyr[j] - dot);
                    }
                }
            }
        }
        _ => return Err(err(node, "not differentiated by the native trainer")),
    }
    Ok(())
}

/// A pooling window geometry on `[N, C, H, W]` (windows clipped to the input, as the
/// reference executor's pooling).
struct Win {
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    s: [usize; 2],
    pads: [usize; 4],
}

impl Win {
    fn of(x: &[usize], y: &[usize], k: [usize; 2], s: [usize; 2], pads: [usize; 4]) -> Win {
        Win {
            c: x[1],
            h: x[2],
            w: x[3],
            oh: y[2],
            ow: y[3],
            k,
            s,
            pads,
        }
    }
    fn origin(&self, oy: usize, ox: usize) -> (isize, isize) {
        (
            (oy * self.s[0]) as isize - self.pads[0] as isize,
            (ox * self.s[1]) as isize - self.pads[1] as isize,
        )
    }
    /// Call `f` with the plane index of every input cell of window `(oy, ox)`, row by row.
    fn each(&self, oy: usize, ox: usize, mut f: impl FnMut(usize)) {
        let (y0, x0) = self.origin(oy, ox);
        let (h, w) = (self.h as isize, self.w as isize);
        for iy in y0.max(0)..(y0 + self.k[0] as isize).min(h) {
            for ix in x0.max(0)..(x0 + self.k[1] as isize).min(w) {
                f((iy * w + ix) as usize);
            }
        }
    }
    /// The average's divisor at window `(oy, ox)`.
    fn divisor(&self, oy: usize, ox: usize, include_pad: bool) -> f32 {
        let (y0, x0) = self.origin(oy, ox);
        let (h, w) = (self.h as isize, self.w as isize);
        let (ye, xe) = if include_pad {
            (h + self.pads[2] as isize, w + self.pads[3] as isize)
        } else {
            (h, w)
        };
        let (ys, xs) = if include_pad {
            (y0, x0)
        } else {
            (y0.max(0), x0.max(0))
        };
        let rows = (y0 + self.k[0] as isize).min(ye) - ys;
        let cols = (x0 + self.k[1] as isize).min(xe) - xs;
        (rows * cols).max(1) as f32
    }
}

/// A convolution's geometry.
#[derive(Clone, Copy, Debug)]
struct Geo {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    pt: usize,
    pl: usize,
    pb: usize,
    pr: usize,
    groups: usize,
}

impl Geo {
    fn of(node: &Node, x: &[usize], y: &[usize]) -> Geo {
        let Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            groups,
        } = &node.op
        else {
            unreachable!("a convolution")
        };
        Geo {
            n: x[0],
            cin: x[1],
            h: x[2],
            w: x[3],
            cout: y[1],
            oh: y[2],
            ow: y[3],
            kh: kernel[0],
            kw: kernel[1],
            sh: strides[0],
            sw: strides[1],
            dh: dilations[0],
            dw: dilations[1],
            pt: pads[0],
            pl: pads[1],
            pb: pads[2],
            pr: pads[3],
            groups: *groups,
        }
    }
    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of a group's im2col matrix.
    fn kg(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    fn ohw(&self) -> usize {
        self.oh * self.ow
    }
    /// Images per chunk.
    fn chunk(&self) -> usize {
        CHUNK_PIXELS
            .div_ceil(self.ohw().max(1))
            .clamp(1, self.n.max(1))
    }
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

/// Visit the im2col matrix of group `gi` for the `imgs` images whose input starts at `x`:
/// `f(dst_row_segment, src_row, off, lo, hi)` for every output row of every (channel, ky, kx)
/// row, `src_row` `None` where the input row lies in the padding.
fn for_cols(
    geo: &Geo,
    gi: usize,
    imgs: usize,
    mut f: impl FnMut(usize, Option<usize>, isize, usize, usize),
) {
    let (hw, ohw) = (geo.h * geo.w, geo.ohw());
    let m = imgs * ohw;
    let cig = geo.cin_g();
    for ci in 0..cig {
        let ch = gi * cig + ci;
        for ky in 0..geo.kh {
            for kx in 0..geo.kw {
                let r = (ci * geo.kh + ky) * geo.kw + kx;
                let off = (kx * geo.dw) as isize - geo.pl as isize;
                let (lo, hi) = in_bounds(off, geo.sw, geo.w, geo.ow);
                for ii in 0..imgs {
                    for oy in 0..geo.oh {
                        let iy = (oy * geo.sh + ky * geo.dh) as isize - geo.pt as isize;
                        let dst = r * m + ii * ohw + oy * geo.ow;
                        // a tap whose every output column reads padding (kernel wider than
                        // the padded input allows, e.g. 5 wide on a 1-pixel map) has no source
                        let src = ((0..geo.h as isize).contains(&iy) && lo < hi)
                            .then(|| (ii * geo.cin + ch) * hw + iy as usize * geo.w);
                        f(dst, src, off, lo, hi);
                    }
                }
            }
        }
    }
}

fn im2col(geo: &Geo, gi: usize, imgs: usize, x: &[f32], cols: &mut [f32]) {
    let (ow, sw) = (geo.ow, geo.sw);
    for_cols(geo, gi, imgs, |dst, src, off, lo, hi| {
        let d = &mut cols[dst..dst + ow];
        match src {
            None => d.fill(0.0),
            Some(s) => {
                d[..lo].fill(0.0);
                d[hi..].fill(0.0);
                if sw == 1 {
                    let a = (s as isize + lo as isize + off) as usize;
                    d[lo..hi].copy_from_slice(&x[a..a + hi - lo]);
                } else {
                    for ox in lo..hi {
                        d[ox] = x[(s as isize + (ox * sw) as isize + off) as usize];
                    }
                }
            }
        }
    });
}

fn col2im(geo: &Geo, gi: usize, imgs: usize, cols: &[f32], dx: &mut [f32]) {
    let sw = geo.sw;
    for_cols(geo, gi, imgs, |dst, src, off, lo, hi| {
        if let Some(s) = src {
            if sw == 1 {
                let a = (s as isize + lo as isize + off) as usize;
                let d = &mut dx[a..a + hi - lo];
                d.iter_mut()
                    .zip(&cols[dst + lo..dst + hi])
                    .for_each(|(d, c)| *d += c);
            } else {
                for ox in lo..hi {
                    dx[(s as isize + (ox * sw) as isize + off) as usize] += cols[dst + ox];
                }
            }
        }
    });
}

thread_local! {
    /// Per-thread im2col and GEMM scratch, kept across layers and steps.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        // a worker waiting inside a parallel gemm may run another trainer's chunk on this
        // thread: that one gets buffers of its own
        let mut own = (Vec::new(), Vec::new());
        let mut held = s.try_borrow_mut();
        let (x, y) = match held.as_deref_mut() {
            Ok(s) => s,
            Err(_) => &mut own,
        };
        if x.len() < a {
            x.resize(a, 0.0);
        }
        if y.len() < b {
            y.resize(b, 0.0);
        }
        f(&mut x[..a], &mut y[..b])
    })
}

fn conv_forward(geo: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let g = *geo;
    let imgs = g.chunk();
    let chunks = g.n.div_ceil(imgs);
    let (kg, cog, ohw) = (g.kg(), g.cout_g(), g.ohw());
    let per_in = g.cin * g.h * g.w;
    let run = |(ci, yc): (usize, &mut [f32])| {
        let k = yc.len() / (g.cout * ohw);
        let m = k * ohw;
        let xc = &x[ci * imgs * per_in..(ci * imgs + k) * per_in];
        with_scratch(kg * m, cog * m, |cols, tmp| {
            for gi in 0..g.groups {
                im2col(&g, gi, k, xc, cols);
                let wg = &w[gi * cog * kg..(gi + 1) * cog * kg];
                // tmp (pixel, out channel) at co * m + p
                matmul_cm_par(
                    tmp,
                    m,
                    cog,
                    Mat::new(cols, kg, m).t(),
                    Mat::new(wg, cog, kg).t(),
                    false,
                    chunks == 1,
                );
                for ii in 0..k {
                    for co in 0..cog {
                        let c = gi * cog + co;
                        let bias = b.map_or(0.0, |b| b[c]);
                        let dst = &mut yc[(ii * g.cout + c) * ohw..(ii * g.cout + c + 1) * ohw];
                        let src = &tmp[co * m + ii * ohw..co * m + (ii + 1) * ohw];
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d = s + bias);
                    }
                }
            }
        });
    };
    y.par_chunks_mut(imgs * g.cout * ohw)
        .enumerate()
        .for_each(run);
}

/// Weight and bias gradients of a convolution (summed over chunks in chunk order), adding
/// the input gradient into `dx` when given.
fn conv_backward(
    geo: &Geo,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    bias: bool,
) -> (Vec<f32>, Vec<f32>) {
    let g = *geo;
    let imgs = g.chunk();
    let chunks = g.n.div_ceil(imgs);
    let par = chunks == 1;
    let (kg, cog, ohw) = (g.kg(), g.cout_g(), g.ohw());
    let per_in = g.cin * g.h * g.w;
    let per_out = g.cout * ohw;
    let part = |ci: usize, dxc: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
        let k = (g.n - ci * imgs).min(imgs);
        let m = k * ohw;
        let xc = &x[ci * imgs * per_in..(ci * imgs + k) * per_in];
        let dyc = &dy[ci * imgs * per_out..(ci * imgs + k) * per_out];
        let mut dw = vec![0.0f32; g.cout * kg];
        let mut db = vec![0.0f32; g.cout];
        let mut dxc = dxc;
        with_scratch(kg * m, cog * m, |cols, dyg| {
            for gi in 0..g.groups {
                // this group's output gradient as [out channel][pixel]
                for co in 0..cog {
                    let c = gi * cog + co;
                    for ii in 0..k {
                        let src = &dyc[(ii * g.cout + c) * ohw..(ii * g.cout + c + 1) * ohw];
                        dyg[co * m + ii * ohw..co * m + (ii + 1) * ohw].copy_from_slice(src);
                    }
                    if bias {
                        db[c] = sum32(&dyg[co * m..(co + 1) * m]);
                    }
                }
                im2col(&g, gi, k, xc, cols);
                // dW_g [co][k] = column-major (k, co): cols (kg x m) * dyg^T (m x cog)
                let dwg = &mut dw[gi * cog * kg..(gi + 1) * cog * kg];
                // dW_g [co][k] = dyg (cog x m) * cols^T (m x kg): few output channels on long
                // pixel rows on the in-place kernel, the rest on gemm, whose packing is repaid
                // by many channels (measured on VGG-16 and ResNet-56)
                if m >= ABT_MIN_PIXELS && cog <= ABT_MAX_CHANNELS {
                    crate::fast::abt::abt(dyg, cog, cols, kg, m, dwg, false, par);
                } else {
                    let (a, b) = (Mat::new(dyg, cog, m), Mat::new(cols, kg, m).t());
                    if par {
                        matmul_par(dwg, cog, kg, a, b, false);
                    } else {
                        evoprune_nn::gemm::matmul(dwg, cog, kg, a, b, false);
                    }
                }
                if let Some(dxc) = dxc.as_deref_mut() {
                    let wg = &w[gi * cog * kg..(gi + 1) * cog * kg];
                    // dcols (p, k) at k * m + p: dyg^T (m x cog) * W_g (cog x kg)
                    matmul_cm_par(
                        cols,
                        m,
                        kg,
                        Mat::new(dyg, cog, m).t(),
                        Mat::new(wg, cog, kg),
                        false,
                        par,
                    );
                    col2im(&g, gi, k, cols, dxc);
                }
            }
        });
        (dw, db)
    };
    let parts: Vec<(Vec<f32>, Vec<f32>)> = match dx {
        Some(dx) => dx
            .par_chunks_mut(imgs * per_in)
            .enumerate()
            .map(|(ci, d)| part(ci, Some(d)))
            .collect(),
        None => (0..chunks)
            .into_par_iter()
            .map(|ci| part(ci, None))
            .collect(),
    };
    let mut it = parts.into_iter();
    let (mut dw, mut db) = it.next().unwrap_or_default();
    for (w2, b2) in it {
        dw.iter_mut().zip(&w2).for_each(|(a, b)| *a += b);
        db.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
    }
    (dw, db)
}

/// Buffers of the direct convolution path, kept across layers and steps.
#[derive(Default)]
pub(crate) struct Work {
    padded: Vec<f32>,
    blocked: Vec<f32>,
}

impl Geo {
    /// Whether the fast executor's direct kernels run this convolution: one group (they are
    /// dense kernels).
    fn direct(&self) -> bool {
        self.groups == 1 && self.cin > 0 && self.cout > 0
    }

    /// Whether the input gradient runs as a direct convolution of the padded output gradient
    /// with the flipped, transposed weights: stride and dilation 1, padding below the kernel.
    fn direct_backward(&self) -> bool {
        self.direct()
            && [self.sh, self.sw, self.dh, self.dw] == [1, 1, 1, 1]
            && self.pt < self.kh
            && self.pb < self.kh
            && self.pl < self.kw
            && self.pr < self.kw
    }
}

/// `n` images of `c x h x w` (plain) zero-padded by `p` into `buf` (borrowed back, or `x`
/// itself without padding).
fn padded<'a>(
    x: &'a [f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    p: [usize; 4],
    buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    if p == [0; 4] {
        return x;
    }
    buf.resize(n * c * (h + p[0] + p[2]) * (w + p[1] + p[3]), 0.0);
    crate::fast::blocked::pad(x, n * c, h, w, 1, p, buf);
    buf
}

/// The forward convolution on the fast executor's direct kernels: the input padded once,
/// the output blocked, then plain.
fn conv_forward_direct(
    g: &Geo,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    work: &mut Work,
) {
    use crate::fast::conv::{Act, Conv, Geom, Strides};
    let Work {
        padded: pbuf,
        blocked,
    } = work;
    let p = [g.pt, g.pl, g.pb, g.pr];
    let (hp, wp) = (g.h + g.pt + g.pb, g.w + g.pl + g.pr);
    let xp = padded(x, g.n, g.cin, g.h, g.w, p, pbuf);
    let geom = Geom {
        cin: g.cin,
        h: hp,
        w: wp,
        cout: g.cout,
        oh: g.oh,
        ow: g.ow,
        k: [g.kh, g.kw],
        s: [g.sh, g.sw],
        d: [g.dh, g.dw],
    };
    let conv = Conv::new(geom, w, b);
    blocked.resize(g.n * conv.out_len(), 0.0);
    conv.run(
        xp,
        Strides::plain(g.cin, hp, wp),
        g.n,
        None,
        Act::default(),
        blocked,
    );
    crate::fast::blocked::to_plain(blocked, &[g.n, g.cout, g.oh, g.ow], y);
}

/// Adds the input gradient of a stride-1 convolution into `dx`: the output gradient padded by
/// `k - 1 - pad` on each side, convolved with the weights transposed (in <-> out) and
/// flipped, on the direct kernels.
fn conv_input_grad_direct(g: &Geo, w: &[f32], dy: &[f32], dx: &mut [f32], work: &mut Work) {
    use crate::fast::conv::{Act, Conv, Geom, Strides};
    use crate::fast::simd::L;
    let Work {
        padded: pbuf,
        blocked,
    } = work;
    let (kh, kw) = (g.kh, g.kw);
    let q = [kh - 1 - g.pt, kw - 1 - g.pl, kh - 1 - g.pb, kw - 1 - g.pr];
    let (hp, wp) = (g.oh + q[0] + q[2], g.ow + q[1] + q[3]);
    let dyp = padded(dy, g.n, g.cout, g.oh, g.ow, q, pbuf);
    let geom = Geom {
        cin: g.cout,
        h: hp,
        w: wp,
        cout: g.cin,
        oh: g.h,
        ow: g.w,
        k: [kh, kw],
        s: [1, 1],
        d: [1, 1],
    };
    let conv = Conv::new_flipped(geom, w);
    blocked.resize(g.n * conv.out_len(), 0.0);
    conv.run(
        dyp,
        Strides::plain(g.cout, hp, wp),
        g.n,
        None,
        Act::default(),
        blocked,
    );
    // dx += plain(blocked)
    let (c, hw) = (g.cin, g.h * g.w);
    let cb = c.div_ceil(L);
    let src: &[f32] = blocked;
    dx.par_chunks_mut(hw).enumerate().for_each(|(k, o)| {
        let (i, ch) = (k / c, k % c);
        let s = &src[(i * cb + ch / L) * hw * L..(i * cb + ch / L + 1) * hw * L];
        for (p, v) in o.iter_mut().enumerate() {
            *v += s[p * L + ch % L];
        }
    });
}
