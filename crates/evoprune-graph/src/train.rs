//! Gradients on the representation: the graph run on burn's autodiff (flex on the CPU), and
//! fine-tuning with weight masks held fixed.
//!
//! Every node maps to burn tensor ops; values carry their rank at run time (1 to 4). Batch
//! normalisation either normalises with the batch's statistics and updates its running ones
//! (PyTorch's `model.train()`, momentum 0.1: [`BatchNorm::Batch`], needed to train a network
//! from scratch) or runs in inference mode with its running statistics frozen
//! ([`BatchNorm::Frozen`], the usual choice when fine-tuning a pruned pre-trained network on
//! small batches); its scale and shift learn either way. The reference executor ([`crate::exec`]) stays the arbiter: the tests check that
//! both compute the same function and that the gradients match finite differences.

use crate::ir::{Graph, Node, Op};
use crate::shape::{norm_axis, out_shape, slice_range};
use crate::{GraphError, Result};
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use std::collections::HashMap;

/// A value of rank 1 to 4.
#[derive(Clone, Debug)]
pub enum V {
    /// Rank 1.
    R1(Tensor<1>),
    /// Rank 2.
    R2(Tensor<2>),
    /// Rank 3.
    R3(Tensor<3>),
    /// Rank 4.
    R4(Tensor<4>),
}

macro_rules! each {
    ($v:expr, $t:ident => $e:expr) => {
        match $v {
            V::R1($t) => V::R1($e),
            V::R2($t) => V::R2($e),
            V::R3($t) => V::R3($e),
            V::R4($t) => V::R4($e),
        }
    };
}

fn err(node: &Node, reason: impl Into<String>) -> GraphError {
    crate::shape::node_err(node, reason)
}

impl V {
    /// A tensor of `shape` holding `data` on `dev`.
    pub fn from_vec(data: Vec<f32>, shape: &[usize], dev: &Device) -> Result<V> {
        if shape.is_empty() {
            return Ok(V::R1(Tensor::from_data(
                TensorData::new(data, vec![1]),
                dev,
            )));
        }
        let d = TensorData::new(data, shape.to_vec());
        Ok(match shape.len() {
            1 => V::R1(Tensor::from_data(d, dev)),
            2 => V::R2(Tensor::from_data(d, dev)),
            3 => V::R3(Tensor::from_data(d, dev)),
            4 => V::R4(Tensor::from_data(d, dev)),
            r => {
                return Err(GraphError::invalid(
                    "tensor",
                    format!("rank {r} (1 to 4 supported)"),
                ));
            }
        })
    }

    /// The dimensions.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            V::R1(t) => t.dims().to_vec(),
            V::R2(t) => t.dims().to_vec(),
            V::R3(t) => t.dims().to_vec(),
            V::R4(t) => t.dims().to_vec(),
        }
    }

    /// The elements, row-major.
    pub fn to_vec(&self) -> Vec<f32> {
        let d = match self {
            V::R1(t) => t.clone().into_data(),
            V::R2(t) => t.clone().into_data(),
            V::R3(t) => t.clone().into_data(),
            V::R4(t) => t.clone().into_data(),
        };
        d.try_to_vec::<f32>().unwrap_or_default()
    }

    /// The gradient of this leaf in `grads`, row-major (`None`: it got none).
    fn grad(&self, grads: &burn::tensor::Gradients) -> Option<Vec<f32>> {
        let d = match self {
            V::R1(t) => t.grad(grads).map(|g| g.into_data()),
            V::R2(t) => t.grad(grads).map(|g| g.into_data()),
            V::R3(t) => t.grad(grads).map(|g| g.into_data()),
            V::R4(t) => t.grad(grads).map(|g| g.into_data()),
        };
        d.and_then(|d| d.try_to_vec::<f32>().ok())
    }

    fn reshape(self, shape: &[usize]) -> Result<V> {
        let s = shape.to_vec();
        Ok(match shape.len() {
            1 => V::R1(self.flat().reshape([s[0]])),
            2 => V::R2(self.flat().reshape([s[0], s[1]])),
            3 => V::R3(self.flat().reshape([s[0], s[1], s[2]])),
            4 => V::R4(self.flat().reshape([s[0], s[1], s[2], s[3]])),
            r => return Err(GraphError::invalid("reshape", format!("rank {r}"))),
        })
    }

    fn flat(self) -> Tensor<1> {
        match self {
            V::R1(t) => t,
            V::R2(t) => t.flatten(0, 1),
            V::R3(t) => t.flatten(0, 2),
            V::R4(t) => t.flatten(0, 3),
        }
    }

    fn r4(self, node: &Node) -> Result<Tensor<4>> {
        match self {
            V::R4(t) => Ok(t),
            v => Err(err(
                node,
                format!("a 4-D input expected, got {:?}", v.dims()),
            )),
        }
    }

    fn r2(self, node: &Node) -> Result<Tensor<2>> {
        match self {
            V::R2(t) => Ok(t),
            v => Err(err(
                node,
                format!("a 2-D input expected, got {:?}", v.dims()),
            )),
        }
    }

    /// `self` with leading size-1 axes up to `rank` (NumPy broadcasting).
    fn lift(self, rank: usize) -> Result<V> {
        let d = self.dims();
        if d.len() >= rank {
            return Ok(self);
        }
        let s: Vec<usize> = std::iter::repeat_n(1, rank - d.len()).chain(d).collect();
        self.reshape(&s)
    }
}

fn binary(a: V, b: V, node: &Node, f: impl Fn(V, V) -> Option<V>) -> Result<V> {
    let r = a.dims().len().max(b.dims().len());
    let (a, b) = (a.lift(r)?, b.lift(r)?);
    f(a, b).ok_or_else(|| err(node, "operands of different ranks"))
}

macro_rules! bin {
    ($a:expr, $b:expr, $node:expr, $op:tt) => {
        binary($a, $b, $node, |a, b| match (a, b) {
            (V::R1(x), V::R1(y)) => Some(V::R1(x $op y)),
            (V::R2(x), V::R2(y)) => Some(V::R2(x $op y)),
            (V::R3(x), V::R3(y)) => Some(V::R3(x $op y)),
            (V::R4(x), V::R4(y)) => Some(V::R4(x $op y)),
            _ => None,
        })
    };
}

/// Per-channel parameter `p` (shape `[C]`) shaped to broadcast over a value of rank `r`.
fn per_channel(p: &V, r: usize) -> Result<V> {
    let c = p.dims().iter().product::<usize>();
    let mut s = vec![1; r];
    if r >= 2 {
        s[1] = c;
    } else {
        s[0] = c;
    }
    p.clone().reshape(&s)
}

fn cat(vs: Vec<V>, axis: usize, node: &Node) -> Result<V> {
    match vs.first() {
        Some(V::R4(_)) => Ok(V::R4(Tensor::cat(
            vs.into_iter().map(|v| v.r4(node)).collect::<Result<_>>()?,
            axis,
        ))),
        Some(V::R2(_)) => Ok(V::R2(Tensor::cat(
            vs.into_iter().map(|v| v.r2(node)).collect::<Result<_>>()?,
            axis,
        ))),
        _ => Err(err(node, "concatenation of 2-D or 4-D values only")),
    }
}

fn zeros_like_dims(dims: &[usize], value: f32, dev: &Device) -> Result<V> {
    V::from_vec(vec![value; dims.iter().product()], dims, dev)
}

/// Apply `node` on burn tensors.
fn eval(node: &Node, ins: Vec<V>, dev: &Device) -> Result<V> {
    let shapes: Vec<Vec<usize>> = ins.iter().map(V::dims).collect();
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let out = out_shape(node, &refs)?;
    let mut it = ins.into_iter();
    let x = it.next().ok_or_else(|| err(node, "no input"))?;
    let rest: Vec<V> = it.collect();
    Ok(match &node.op {
        Op::Conv {
            strides,
            pads,
            dilations,
            groups,
            ..
        } => {
            let w = rest[0].clone().r4(node)?;
            let b = match rest.get(1) {
                Some(V::R1(b)) => Some(b.clone()),
                _ => None,
            };
            let mut o = ConvOptions::new(*strides, [0, 0], *dilations, *groups);
            o.padding = [(pads[0], pads[2]), (pads[1], pads[3])];
            V::R4(conv2d(x.r4(node)?, w, b, o))
        }
        Op::BatchNorm { epsilon } => {
            let r = x.dims().len();
            let eps = *epsilon;
            let [s, b, m, v] = [0, 1, 2, 3].map(|k| rest[k].clone());
            let (V::R1(s), V::R1(b), V::R1(m), V::R1(v)) = (s, b, m, v) else {
                return Err(err(node, "per-channel parameters expected"));
            };
            let a = s / (v + eps).sqrt();
            let off = b - m * a.clone();
            let a = per_channel(&V::R1(a), r)?;
            let off = per_channel(&V::R1(off), r)?;
            bin!(bin!(x, a, node, *)?, off, node, +)?
        }
        Op::Relu => each!(x, t => activation::relu(t)),
        Op::Clip { min, max } => each!(x, t => t.clamp(min.max(-3.0e38), max.min(3.0e38))),
        Op::Sigmoid => each!(x, t => activation::sigmoid(t)),
        Op::HardSwish => each!(x, t => t.clone() * (t + 3.0).clamp(0.0, 6.0) / 6.0),
        Op::HardSigmoid { alpha, beta } => each!(x, t => (t * *alpha + *beta).clamp(0.0, 1.0)),
        Op::Add => bin!(x, rest[0].clone(), node, +)?,
        Op::Sub => bin!(x, rest[0].clone(), node, -)?,
        Op::Mul => bin!(x, rest[0].clone(), node, *)?,
        Op::Div => bin!(x, rest[0].clone(), node, /)?,
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        } => V::R4(max_pool2d(
            x.r4(node)?,
            MaxPoolOptions::new(*kernel)
                .with_stride(*strides)
                .with_padding_pairs([(pads[0], pads[2]), (pads[1], pads[3])])
                .with_ceil_mode(*ceil_mode),
        )),
        Op::AveragePool {
            kernel,
            strides,
            pads,
            ceil_mode,
            count_include_pad,
        } => V::R4(avg_pool2d(
            x.r4(node)?,
            AvgPoolOptions::new(*kernel)
                .with_stride(*strides)
                .with_padding_pairs([(pads[0], pads[2]), (pads[1], pads[3])])
                .with_count_include_pad(*count_include_pad)
                .with_ceil_mode(*ceil_mode),
        )),
        Op::GlobalAveragePool => V::R4(x.r4(node)?.mean_dim(2).mean_dim(3)),
        Op::ReduceMean { axes, .. } => {
            let r = x.dims().len();
            let mut v = x;
            let ax: Vec<usize> = if axes.is_empty() {
                (0..r).collect()
            } else {
                axes.iter()
                    .map(|&a| norm_axis(node, a, r))
                    .collect::<Result<_>>()?
            };
            for a in ax {
                v = each!(v, t => t.mean_dim(a));
            }
            v.reshape(&out)?
        }
        Op::Flatten { .. }
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Identity => x.reshape(&out)?,
        Op::Transpose { perm } => match x {
            V::R2(t) => V::R2(t.permute([perm[0], perm[1]])),
            V::R3(t) => V::R3(t.permute([perm[0], perm[1], perm[2]])),
            V::R4(t) => V::R4(t.permute([perm[0], perm[1], perm[2], perm[3]])),
            v => v,
        },
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => {
            let r = x.dims().len();
            let mut v = x;
            for k in 0..starts.len() {
                let a = norm_axis(node, axes[k], r)?;
                let n = v.dims()[a];
                let (s, st, c) = slice_range(starts[k], ends[k], steps[k], n);
                let idx: Vec<i64> = (0..c as i64).map(|i| s + i * st).collect();
                let t: Tensor<1, Int> = Tensor::from_data(TensorData::new(idx, vec![c]), dev);
                v = each!(v, x => x.select(a, t.clone()));
            }
            v
        }
        Op::Pad { pads, value } => {
            let r = x.dims().len();
            let mut v = x;
            for a in 0..r {
                let (b, e) = (pads[a], pads[a + r]);
                if b < 0 || e < 0 {
                    return Err(err(node, "negative pads"));
                }
                let mut parts = Vec::new();
                let mut d = v.dims();
                if b > 0 {
                    d[a] = b as usize;
                    parts.push(zeros_like_dims(&d, *value, dev)?);
                }
                parts.push(v);
                if e > 0 {
                    d[a] = e as usize;
                    parts.push(zeros_like_dims(&d, *value, dev)?);
                }
                v = if parts.len() == 1 {
                    parts.remove(0)
                } else {
                    cat(parts, a, node)?
                };
            }
            v
        }
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => {
            let mut a = x.r2(node)?;
            let mut b = rest[0].clone().r2(node)?;
            if *trans_a {
                a = a.transpose();
            }
            if *trans_b {
                b = b.transpose();
            }
            let mut y = a.matmul(b) * *alpha;
            if let Some(c) = rest.get(1) {
                let c = c.clone().lift(2)?.r2(node)?;
                y = y + c * *beta;
            }
            V::R2(y)
        }
        Op::MatMul => V::R2(x.r2(node)?.matmul(rest[0].clone().r2(node)?)),
        Op::Concat { axis } => {
            let a = norm_axis(node, *axis, out.len())?;
            cat(std::iter::once(x).chain(rest).collect(), a, node)?
        }
        Op::Softmax { axis } => {
            let a = norm_axis(node, *axis, out.len())?;
            each!(x, t => activation::softmax(t, a))
        }
    })
}

/// Run `g` on burn tensors: `params` (by name) and the input `x`; returns the first output.
/// Batch norms use their running statistics.
pub fn forward(g: &Graph, params: &HashMap<String, V>, x: V, dev: &Device) -> Result<V> {
    forward_with(g, params, x, dev, None)
}

pub use crate::backprop::BatchStats;

/// A graph ready for inference on burn's flex backend, its parameters moved to the device
/// once (what `evoprune bench --executor burn` times against the fast executor).
pub struct BurnInference {
    g: Graph,
    params: HashMap<String, V>,
    dev: Device,
}

impl BurnInference {
    /// `g` with its parameters on the CPU device.
    pub fn new(g: &Graph) -> Result<Self> {
        let dev = Device::default();
        let (_, params) = params_on(g, &dev, &[], &HashMap::new())?;
        Ok(BurnInference {
            g: g.clone(),
            params,
            dev,
        })
    }

    /// The first output of the graph on `x`.
    pub fn run(&self, x: &crate::Tensor) -> Result<crate::Tensor> {
        crate::exec::check_input(x, &self.g.input_shape)?;
        let v = V::from_vec(x.data.clone(), &x.shape, &self.dev)?;
        let out = forward(&self.g, &self.params, v, &self.dev)?;
        Ok(crate::Tensor::new(out.dims(), out.to_vec()))
    }
}

/// [`forward`] in training mode: batch norms normalise with the batch's statistics, which are
/// appended to `stats` for the running-statistics update.
pub fn forward_train(
    g: &Graph,
    params: &HashMap<String, V>,
    x: V,
    dev: &Device,
    stats: &mut Vec<BatchStats>,
) -> Result<V> {
    forward_with(g, params, x, dev, Some(stats))
}

/// Batch normalisation of `x` (`[N, C]` or `[N, C, H, W]`) with its own statistics.
fn batch_norm_train(node: &Node, x: V, s: V, b: V, eps: f32) -> Result<(V, BatchStats)> {
    let (V::R1(s), V::R1(b)) = (s, b) else {
        return Err(err(node, "per-channel parameters expected"));
    };
    let stats = |mean: Vec<f32>, var: Vec<f32>, count: usize| BatchStats {
        mean_param: node.inputs[3].clone(),
        var_param: node.inputs[4].clone(),
        mean,
        var,
        count,
    };
    let vals = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
    match x {
        V::R4(t) => {
            let [n, c, h, w] = t.dims();
            let mean = t.clone().mean_dim(0).mean_dim(2).mean_dim(3);
            let d = t - mean.clone();
            let var = (d.clone() * d.clone()).mean_dim(0).mean_dim(2).mean_dim(3);
            let y =
                d / (var.clone() + eps).sqrt() * s.reshape([1, c, 1, 1]) + b.reshape([1, c, 1, 1]);
            let st = stats(vals(mean.reshape([c])), vals(var.reshape([c])), n * h * w);
            Ok((V::R4(y), st))
        }
        V::R2(t) => {
            let [n, c] = t.dims();
            let mean = t.clone().mean_dim(0);
            let d = t - mean.clone();
            let var = (d.clone() * d.clone()).mean_dim(0);
            let y = d / (var.clone() + eps).sqrt() * s.reshape([1, c]) + b.reshape([1, c]);
            Ok((
                V::R2(y),
                stats(vals(mean.reshape([c])), vals(var.reshape([c])), n),
            ))
        }
        v => Err(err(
            node,
            format!(
                "training-mode batch norm takes [N, C] or [N, C, H, W], got {:?}",
                v.dims()
            ),
        )),
    }
}

fn forward_with(
    g: &Graph,
    params: &HashMap<String, V>,
    x: V,
    dev: &Device,
    mut train: Option<&mut Vec<BatchStats>>,
) -> Result<V> {
    let mut vals: HashMap<&str, V> = HashMap::new();
    vals.insert(&g.input, x);
    for n in &g.nodes {
        let ins: Vec<V> = n
            .inputs
            .iter()
            .map(|i| {
                vals.get(i.as_str())
                    .or_else(|| params.get(i))
                    .cloned()
                    .ok_or_else(|| err(n, format!("input \"{i}\" is not available")))
            })
            .collect::<Result<_>>()?;
        let y = match (&n.op, train.as_deref_mut()) {
            (Op::BatchNorm { epsilon }, Some(stats)) if n.inputs.len() == 5 => {
                let mut ins = ins.into_iter();
                let x = ins.next().expect("input");
                let (s, b) = (ins.next().expect("scale"), ins.next().expect("bias"));
                let (y, st) = batch_norm_train(n, x, s, b, *epsilon)?;
                stats.push(st);
                y
            }
            _ => eval(n, ins, dev)?,
        };
        vals.insert(&n.outputs[0], y);
    }
    g.outputs
        .first()
        .and_then(|o| vals.remove(o.as_str()))
        .ok_or_else(|| GraphError::invalid("graph", "no output"))
}

/// The parameters of `g` as burn tensors on `dev` (learnable ones tracking gradients, with
/// `masks` applied: a masked weight is `w * m`, so its pruned entries stay out of the function
/// and get no gradient).
pub fn params_on(
    g: &Graph,
    dev: &Device,
    learnable: &[String],
    masks: &HashMap<String, Vec<f32>>,
) -> Result<(HashMap<String, V>, HashMap<String, V>)> {
    let mut leaves = HashMap::new();
    let mut used = HashMap::new();
    for (k, t) in &g.params {
        let v = V::from_vec(t.data.clone(), &t.shape, dev)?;
        if learnable.contains(k) {
            let leaf = each!(v, t => t.require_grad());
            let eff = match masks.get(k) {
                Some(m) => {
                    bin!(leaf.clone(), V::from_vec(m.clone(), &t.shape, dev)?, &Node { name: k.clone(), op: Op::Mul, inputs: vec![], outputs: vec![] }, *)?
                }
                None => leaf.clone(),
            };
            leaves.insert(k.clone(), leaf);
            used.insert(k.clone(), eff);
        } else {
            used.insert(k.clone(), v);
        }
    }
    Ok((leaves, used))
}

/// The learnable parameters of `g`: every parameter except batch norms' running statistics.
pub fn learnable(g: &Graph) -> Vec<String> {
    let mut frozen = std::collections::HashSet::new();
    for n in &g.nodes {
        if let Op::BatchNorm { .. } = n.op {
            frozen.extend(n.inputs.iter().skip(3).cloned());
        }
    }
    g.params
        .keys()
        .filter(|k| !frozen.contains(*k))
        .cloned()
        .collect()
}

/// Mean cross-entropy of `logits` `[n, k]` against `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: &[u32], dev: &Device) -> Tensor<1> {
    let [n, k] = logits.dims();
    let mut onehot = vec![0.0f32; n * k];
    for (i, &y) in labels.iter().enumerate() {
        if (y as usize) < k {
            onehot[i * k + y as usize] = 1.0;
        }
    }
    let oh: Tensor<2> = Tensor::from_data(TensorData::new(onehot, vec![n, k]), dev);
    let lp = activation::log_softmax(logits, 1);
    (lp * oh).sum().neg() / n as f32
}

/// How batch normalisation behaves while training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchNorm {
    /// Batch statistics, running statistics updated with momentum 0.1 and the unbiased batch
    /// variance (PyTorch's `model.train()`).
    #[default]
    Batch,
    /// Running statistics used and left unchanged (inference mode).
    Frozen,
}

/// Running-statistics momentum of [`BatchNorm::Batch`] (PyTorch's default).
const BN_MOMENTUM: f32 = 0.1;

/// Check `x` holds `y.len() > 0` inputs of `g` and every mask matches its parameter; returns
/// (values per input, inputs). `what` names the data in the error.
fn check_inputs(
    g: &Graph,
    x: &[f32],
    y: &[u32],
    masks: &HashMap<String, Vec<f32>>,
    what: &str,
) -> Result<(usize, usize)> {
    let per: usize = g.input_shape[1..].iter().product();
    let n = y.len();
    if x.len() != n * per || n == 0 {
        return Err(GraphError::invalid(
            what,
            format!("{} values for {n} samples of {per}", x.len()),
        ));
    }
    for (k, m) in masks {
        if g.params.get(k).is_none_or(|t| t.len() != m.len()) {
            return Err(GraphError::invalid(
                "mask",
                format!("\"{k}\" does not match a parameter"),
            ));
        }
    }
    Ok((per, n))
}

/// Where a fine-tuning is, reported after every SGD step (for progress displays; a long
/// epoch is not silent until it ends).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Steps done, the steps of epochs finished before a resume included.
    pub step: u64,
    /// Steps in all ([`FineTune::steps`]).
    pub steps: u64,
    /// Epochs finished.
    pub epochs: usize,
    /// The mean loss of the epoch this step finished; `None` within an epoch.
    pub epoch_loss: Option<f32>,
}

/// Fine-tuning settings: SGD with momentum and weight decay, in mini-batches.
#[derive(Clone, Debug, PartialEq)]
pub struct FineTune {
    /// Learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// L2 weight decay (on learnable parameters).
    pub weight_decay: f32,
    /// Passes over the data. A fractional part is a last, partial pass: the first
    /// `round(fraction x samples)` samples of that pass's order (at least one), so `0.25`
    /// trains on a quarter of the data, drawn afresh from the seed.
    pub epochs: f64,
    /// Samples per step.
    pub batch: usize,
    /// Seed of the sample order.
    pub seed: u64,
    /// Batch normalisation while training.
    pub batch_norm: BatchNorm,
}

impl FineTune {
    /// The SGD steps of a fine-tuning on `n` samples: `ceil(n / batch)` per whole pass, and the
    /// partial last pass's share (as [`fine_tune_from`] takes it). 0 for a batch of 0.
    pub fn steps(&self, n: usize) -> u64 {
        if self.batch == 0 || n == 0 || !(self.epochs.is_finite() && self.epochs > 0.0) {
            return 0;
        }
        let passes = self.epochs.ceil() as u64;
        let per = n.div_ceil(self.batch) as u64;
        let last = last_pass(self.epochs, n).div_ceil(self.batch) as u64;
        (passes - 1) * per + last
    }
}

/// The samples of the last pass of `epochs` passes over `n`: the fractional part's share
/// (at least one), or all of them.
fn last_pass(epochs: f64, n: usize) -> usize {
    match epochs.fract() {
        f if f > 0.0 => ((f * n as f64).round() as usize).clamp(1, n),
        _ => n,
    }
}

/// Which implementation computes the gradients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// [`crate::backprop`] where it handles every node of the graph, else burn.
    #[default]
    Auto,
    /// [`crate::backprop`] (an error for a graph it does not handle).
    Native,
    /// burn's autodiff (flex on the CPU).
    Burn,
}

/// The native trainer for `g` under `engine` (`None`: use burn).
fn native(g: &Graph, engine: Engine) -> Result<Option<crate::backprop::Trainer>> {
    Ok(match engine {
        Engine::Burn => None,
        Engine::Native => Some(crate::backprop::Trainer::new(g)?),
        Engine::Auto => crate::backprop::Trainer::new(g).ok(),
    })
}

/// Fine-tune `g`'s learnable parameters on `x` (`[n, ...]` as the graph's input) and labels
/// `y`, with `masks` (0/1 per weight entry, by parameter name) held fixed: masked entries stay
/// zero. Returns the mean training loss of each epoch. Gradients come from
/// [`crate::backprop`] when it handles the graph, else from burn ([`fine_tune_with`] chooses).
pub fn fine_tune(
    g: &mut Graph,
    x: &[f32],
    y: &[u32],
    masks: &HashMap<String, Vec<f32>>,
    cfg: &FineTune,
    progress: impl FnMut(Progress),
) -> Result<Vec<f32>> {
    fine_tune_with(Engine::Auto, g, x, y, masks, cfg, progress)
}

/// One SGD step on `w` with momentum buffer `v`, gradient `gv` and optional mask `m`
/// (element-wise, in parallel: the same bits on any number of threads).
fn sgd(w: &mut [f32], v: &mut [f32], gv: &[f32], m: Option<&Vec<f32>>, cfg: &FineTune) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 15;
    let (lr, mom, wd) = (cfg.lr, cfg.momentum, cfg.weight_decay);
    let ms: &[f32] = m.map_or(&[], |m| m.as_slice());
    w.par_chunks_mut(CHUNK)
        .zip(v.par_chunks_mut(CHUNK))
        .zip(gv.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(c, ((w, v), g))| {
            for i in 0..w.len() {
                let d = g[i] + wd * w[i];
                v[i] = mom * v[i] + d;
                w[i] -= lr * v[i];
                if let Some(m) = ms.get(c * CHUNK + i) {
                    w[i] *= m;
                }
            }
        });
}

/// [`fine_tune`] on the given gradient engine.
pub fn fine_tune_with(
    engine: Engine,
    g: &mut Graph,
    x: &[f32],
    y: &[u32],
    masks: &HashMap<String, Vec<f32>>,
    cfg: &FineTune,
    progress: impl FnMut(Progress),
) -> Result<Vec<f32>> {
    let done = fine_tune_from(
        engine,
        g,
        x,
        y,
        masks,
        cfg,
        Epochs::default(),
        |_, _| Ok(()),
        progress,
    )?;
    Ok(done.losses)
}

/// Where a fine-tuning stands after whole epochs: each one's mean loss and SGD's momentum
/// buffers (by parameter name). With the graph's parameters at that moment it is all a
/// fine-tuning needs to go on exactly as if it had not stopped ([`fine_tune_from`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Epochs {
    /// The mean training loss of each finished epoch.
    pub losses: Vec<f32>,
    /// The momentum buffers.
    pub velocity: HashMap<String, Vec<f32>>,
}

/// [`fine_tune_with`] from `from` (`g` holding the parameters of that moment: `Epochs::default()`
/// and the initial `g` start afresh): the sample orders of the finished epochs are drawn again
/// and skipped, so the result is bit for bit the uninterrupted one. `after_epoch` sees the
/// graph and the state after every epoch (to checkpoint them; its error stops the training).
#[allow(clippy::too_many_arguments)]
pub fn fine_tune_from(
    engine: Engine,
    g: &mut Graph,
    x: &[f32],
    y: &[u32],
    masks: &HashMap<String, Vec<f32>>,
    cfg: &FineTune,
    from: Epochs,
    mut after_epoch: impl FnMut(&Graph, &Epochs) -> Result<()>,
    mut progress: impl FnMut(Progress),
) -> Result<Epochs> {
    let (per, n) = check_inputs(g, x, y, masks, "fine-tuning data")?;
    if !(cfg.epochs.is_finite() && (0.0..=1e6).contains(&cfg.epochs)) {
        return Err(GraphError::invalid(
            "fine-tuning",
            format!("epochs must be in [0, 1e6], got {}", cfg.epochs),
        ));
    }
    // whole passes, then the partial one
    let passes = cfg.epochs.ceil() as usize;
    let last = last_pass(cfg.epochs, n);
    if from.losses.len() > passes {
        return Err(GraphError::invalid(
            "fine-tuning",
            format!(
                "resumed after {} epochs of {}",
                from.losses.len(),
                cfg.epochs
            ),
        ));
    }
    if cfg.batch == 0 {
        return Err(GraphError::invalid("fine-tuning", "a batch of 0 samples"));
    }
    for (k, m) in masks {
        if let Some(t) = g.params.get_mut(k) {
            t.data.iter_mut().zip(m).for_each(|(w, m)| *w *= m);
        }
    }
    let mut trainer = native(g, engine)?;
    let dev = Device::default().autodiff();
    let learn = learnable(g);
    let start = from.losses.len();
    let mut done = from;
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = cfg.seed ^ 0x9e37_79b9_7f4a_7c15;
    let steps = cfg.steps(n);
    let mut step = start as u64 * n.div_ceil(cfg.batch) as u64;
    let mut xb = Vec::with_capacity(cfg.batch.min(n) * per);
    let mut yb = Vec::with_capacity(cfg.batch.min(n));
    for epoch in 0..passes {
        // Fisher-Yates with a SplitMix64 stream: the same order on every machine
        for i in (1..n).rev() {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            order.swap(i, ((z ^ (z >> 31)) % (i as u64 + 1)) as usize);
        }
        if epoch < start {
            continue;
        }
        let (mut total, mut seen) = (0.0f64, 0usize);
        let take = if epoch + 1 == passes { last } else { n };
        for chunk in order[..take].chunks(cfg.batch) {
            xb.clear();
            yb.clear();
            for &i in chunk {
                xb.extend_from_slice(&x[i * per..(i + 1) * per]);
                yb.push(y[i]);
            }
            // one sample has no batch statistics: PyTorch refuses it too, we fall back
            let batch_stats = cfg.batch_norm == BatchNorm::Batch && chunk.len() > 1;
            let bad = |l: f32| {
                GraphError::invalid(
                    "fine-tuning",
                    format!("the loss became {l} at epoch {epoch}; lower the learning rate"),
                )
            };
            let l = if let Some(t) = trainer.as_mut() {
                let norm = if batch_stats {
                    crate::backprop::Norm::Batch
                } else {
                    crate::backprop::Norm::Frozen
                };
                let out = t.step(g, &xb, &yb, norm, masks)?;
                if !out.loss.is_finite() {
                    return Err(bad(out.loss));
                }
                for st in &out.stats {
                    update_running(g, st);
                }
                for k in &learn {
                    let Some(gv) = t.grad(k) else {
                        continue;
                    };
                    let w = &mut g.params.get_mut(k).expect("parameter").data;
                    let v = done
                        .velocity
                        .entry(k.clone())
                        .or_insert_with(|| vec![0.0; w.len()]);
                    sgd(w, v, gv, masks.get(k), cfg);
                }
                out.loss
            } else {
                let mut shape = g.input_shape.clone();
                shape[0] = chunk.len();
                let (leaves, used) = params_on(g, &dev, &learn, masks)?;
                let mut stats = Vec::new();
                let x = V::from_vec(xb.clone(), &shape, &dev)?;
                let logits = if batch_stats {
                    forward_train(g, &used, x, &dev, &mut stats)?
                } else {
                    forward(g, &used, x, &dev)?
                };
                for st in &stats {
                    update_running(g, st);
                }
                let V::R2(logits) = logits else {
                    return Err(GraphError::invalid(
                        "fine-tuning",
                        "the output is not [N, classes]",
                    ));
                };
                let loss = cross_entropy(logits, &yb, &dev);
                let l = loss
                    .clone()
                    .into_data()
                    .try_to_vec::<f32>()
                    .ok()
                    .and_then(|v| v.first().copied())
                    .unwrap_or(f32::NAN);
                if !l.is_finite() {
                    return Err(bad(l));
                }
                let grads = loss.backward();
                for (k, leaf) in &leaves {
                    let Some(gv) = leaf.grad(&grads) else {
                        continue;
                    };
                    let w = &mut g.params.get_mut(k).expect("parameter").data;
                    let v = done
                        .velocity
                        .entry(k.clone())
                        .or_insert_with(|| vec![0.0; w.len()]);
                    sgd(w, v, &gv, masks.get(k), cfg);
                }
                l
            };
            total += l as f64 * chunk.len() as f64;
            seen += chunk.len();
            step += 1;
            if seen < take {
                progress(Progress {
                    step,
                    steps,
                    epochs: epoch,
                    epoch_loss: None,
                });
            }
        }
        let mean = (total / seen.max(1) as f64) as f32;
        done.losses.push(mean);
        after_epoch(g, &done)?;
        progress(Progress {
            step,
            steps,
            epochs: epoch + 1,
            epoch_loss: Some(mean),
        });
    }
    Ok(done)
}

/// Move a batch norm's running statistics towards the batch's (momentum [`BN_MOMENTUM`],
/// unbiased variance, as PyTorch).
fn update_running(g: &mut Graph, st: &BatchStats) {
    let unbias = st.count as f32 / (st.count.max(2) - 1) as f32;
    if let Some(m) = g.params.get_mut(&st.mean_param) {
        for (r, b) in m.data.iter_mut().zip(&st.mean) {
            *r = (1.0 - BN_MOMENTUM) * *r + BN_MOMENTUM * b;
        }
    }
    if let Some(v) = g.params.get_mut(&st.var_param) {
        for (r, b) in v.data.iter_mut().zip(&st.var) {
            *r = (1.0 - BN_MOMENTUM) * *r + BN_MOMENTUM * b * unbias;
        }
    }
}

/// Samples per autodiff pass of [`gradients`] (bounds the activations' memory).
const GRAD_CHUNK: usize = 64;

/// The gradient of the mean cross-entropy of `g` over all of `x` (`[n, ...]` as the graph's
/// input) and labels `y` with respect to each learnable parameter (see [`learnable`]), by
/// name, with `masks` (0/1 per weight entry) applied as in [`fine_tune`]: a masked entry's
/// gradient is zero. Batch norms run in inference mode. Computed in chunks of samples, each
/// weighted by its share of `n`.
pub fn gradients(
    g: &Graph,
    x: &[f32],
    y: &[u32],
    masks: &HashMap<String, Vec<f32>>,
) -> Result<HashMap<String, Vec<f32>>> {
    gradients_with(Engine::Auto, g, x, y, masks)
}

/// [`gradients`] on the given engine.
pub fn gradients_with(
    engine: Engine,
    g: &Graph,
    x: &[f32],
    y: &[u32],
    masks: &HashMap<String, Vec<f32>>,
) -> Result<HashMap<String, Vec<f32>>> {
    let (per, n) = check_inputs(g, x, y, masks, "gradient data")?;
    let mut trainer = native(g, engine)?;
    let dev = Device::default().autodiff();
    let learn = learnable(g);
    let mut out: HashMap<String, Vec<f32>> = learn
        .iter()
        .map(|k| (k.clone(), vec![0.0; g.params[k].len()]))
        .collect();
    for (c, yb) in y.chunks(GRAD_CHUNK).enumerate() {
        let start = c * GRAD_CHUNK;
        let xb = &x[start * per..(start + yb.len()) * per];
        let w = yb.len() as f32 / n as f32;
        if let Some(t) = trainer.as_mut() {
            t.step(g, xb, yb, crate::backprop::Norm::Frozen, masks)?;
            for (k, acc) in out.iter_mut() {
                if let Some(gv) = t.grad(k) {
                    acc.iter_mut().zip(gv).for_each(|(a, v)| *a += w * v);
                }
            }
            continue;
        }
        let mut shape = g.input_shape.clone();
        shape[0] = yb.len();
        let (leaves, used) = params_on(g, &dev, &learn, masks)?;
        let V::R2(logits) = forward(g, &used, V::from_vec(xb.to_vec(), &shape, &dev)?, &dev)?
        else {
            return Err(GraphError::invalid(
                "gradients",
                "the output is not [N, classes]",
            ));
        };
        let grads = cross_entropy(logits, yb, &dev).backward();
        for (k, leaf) in &leaves {
            let Some(gv) = leaf.grad(&grads) else {
                continue;
            };
            let acc = out.get_mut(k).expect("learnable parameter");
            acc.iter_mut().zip(gv).for_each(|(a, v)| *a += w * v);
        }
    }
    Ok(out)
}
