//! The fast CPU executor: a [`Graph`] compiled once into a [`Plan`] and run many times.
//!
//! Compiling folds batch normalisation into the convolutions, packs every convolution's
//! weights for its direct kernels (module `conv`), and fuses a convolution with the residual
//! `Add` and the `Relu`/`Clip` after it (one pass over the output instead of three).
//! Convolution outputs stay in the channel-blocked layout `[N][C/16][H][W][16]` through the
//! ops that understand it (element-wise ops, pooling, the global mean, further convolutions);
//! any other op gets plain NCHW and runs the reference executor's code ([`exec::eval`]), so
//! every network the reference executor runs, this one runs. Intermediate buffers are reused
//! within a run and by the plan's later runs. The reference executor stays the arbiter: the
//! tests check both give the same outputs (within 1e-4) and that this one gives the same bits
//! on 1 and N threads.

pub(crate) mod abt;
pub(crate) mod blocked;
pub(crate) mod conv;
pub(crate) mod simd;
pub(crate) mod sparse;

use crate::exec;
use crate::ir::{Graph, Node, Op, Tensor};
use crate::shape::node_err;
use crate::{GraphError, Result, fold, shape};
use conv::{Act, Geom, Strides};
use std::collections::{HashMap, HashSet};

/// How a value is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Plain,
    Blocked,
}

#[derive(Clone, Debug)]
struct Slot {
    /// Shape for a batch of one.
    shape: Vec<usize>,
    layout: Layout,
}

#[derive(Clone, Debug)]
enum Arg {
    Slot(usize),
    Param(Tensor),
}

#[derive(Clone, Debug)]
enum Step {
    /// `pad`: the convolution's padding, applied to a copy of the input first (the kernel's
    /// geometry then has none).
    Conv {
        x: usize,
        res: Option<usize>,
        act: Act,
        k: Box<conv::Conv>,
        pad: [usize; 4],
        y: usize,
        /// [`Options::flat_pointwise`].
        flat: bool,
    },
    Depthwise {
        x: usize,
        res: Option<usize>,
        act: Act,
        k: Box<conv::Depthwise>,
        pad: [usize; 4],
        y: usize,
    },
    /// A convolution with mostly-zero weights on plain values (`pad` as for `Conv`).
    SparseConv {
        x: usize,
        res: Option<usize>,
        act: Act,
        k: Box<sparse::SparseConv>,
        pad: [usize; 4],
        y: usize,
    },
    /// A linear layer (`Gemm` / `MatMul` on a parameter) with mostly-zero weights; batches
    /// under [`sparse::SMALL_BATCH`] run `node` on the reference op with `args`.
    SparseLinear {
        x: usize,
        k: Box<sparse::SparseLinear>,
        node: Node,
        args: Vec<Arg>,
        y: usize,
    },
    ToBlocked {
        x: usize,
        y: usize,
    },
    ToPlain {
        x: usize,
        y: usize,
    },
    /// An element-wise node on one value, or on two values of one shape and layout.
    Elementwise {
        node: Node,
        x: usize,
        other: Option<usize>,
        y: usize,
    },
    Pool {
        x: usize,
        y: usize,
        w: blocked::Window,
        avg: bool,
    },
    Mean {
        x: usize,
        y: usize,
    },
    /// Any other node, on plain values, through the reference executor.
    Ref {
        node: Node,
        args: Vec<Arg>,
        y: usize,
    },
}

impl Step {
    fn reads(&self) -> Vec<usize> {
        match self {
            Step::Conv { x, res, .. }
            | Step::Depthwise { x, res, .. }
            | Step::SparseConv { x, res, .. } => std::iter::once(*x).chain(*res).collect(),
            Step::ToBlocked { x, .. }
            | Step::SparseLinear { x, .. }
            | Step::ToPlain { x, .. }
            | Step::Pool { x, .. }
            | Step::Mean { x, .. } => vec![*x],
            Step::Elementwise { x, other, .. } => std::iter::once(*x).chain(*other).collect(),
            Step::Ref { args, .. } => args
                .iter()
                .filter_map(|a| match a {
                    Arg::Slot(s) => Some(*s),
                    Arg::Param(_) => None,
                })
                .collect(),
        }
    }
}

/// Kernel choices of a [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// A convolution (stride 1, one group) whose weights have at most this fraction of
    /// non-zeros (after batch-norm folding), times the sparse kernel's overhead on small maps
    /// (grid positions per output pixel), runs on the sparse kernel; below 0: never.
    pub sparse_conv: f64,
    /// The same for linear layers (`Gemm`, `MatMul` on parameter weights).
    pub sparse_linear: f64,
    /// 1x1 convolutions on maps at most 7 pixels wide run on all images' pixels as one map of
    /// full tiles when the batch gives at least 224 such pixels (the same bits; EfficientNet-
    /// Lite0 at 96 px and ResNet-50 at 32 px, batch 32, measured 3-20% faster, and batch 1,
    /// where the map is a few tiles with padding, slower).
    pub flat_pointwise: bool,
}

impl Options {
    /// Dense kernels only.
    pub const DENSE: Options = Options {
        sparse_conv: -1.0,
        sparse_linear: -1.0,
        flat_pointwise: true,
    };
}

impl Default for Options {
    /// The densities below which the sparse kernels were measured faster than the dense ones
    /// on this machine (`cargo run --release -p evoprune-graph --example sparse_speedup`).
    fn default() -> Self {
        Options {
            sparse_conv: SPARSE_CONV_BELOW,
            sparse_linear: SPARSE_LINEAR_BELOW,
            flat_pointwise: true,
        }
    }
}

/// See [`Options::default`].
const SPARSE_CONV_BELOW: f64 = 0.15;
/// See [`Options::default`].
const SPARSE_LINEAR_BELOW: f64 = 0.4;

/// A graph compiled for the fast executor.
#[derive(Debug)]
pub struct Plan {
    input: usize,
    input_shape: Vec<usize>,
    outputs: Vec<Arg>,
    slots: Vec<Slot>,
    steps: Vec<Step>,
    /// Slots no later step reads, freed after each step.
    free_after: Vec<Vec<usize>>,
    /// Buffers kept between runs (a run takes them; concurrent runs start without).
    buffers: std::sync::Mutex<Pool>,
}

impl Clone for Plan {
    fn clone(&self) -> Self {
        Plan {
            input: self.input,
            input_shape: self.input_shape.clone(),
            outputs: self.outputs.clone(),
            slots: self.slots.clone(),
            steps: self.steps.clone(),
            free_after: self.free_after.clone(),
            buffers: Default::default(),
        }
    }
}

/// Runs `g` on `input` with a freshly compiled [`Plan`] (compile once and call [`Plan::run`]
/// to run many batches).
pub fn run(g: &Graph, input: &Tensor) -> Result<Vec<Tensor>> {
    Plan::new(g)?.run(input)
}

struct Builder<'g> {
    g: &'g Graph,
    opts: Options,
    /// The values whose first axis is the batch.
    batchy: &'g HashSet<String>,
    shapes: HashMap<String, Vec<usize>>,
    slots: Vec<Slot>,
    steps: Vec<Step>,
    plain: HashMap<String, usize>,
    blocked: HashMap<String, usize>,
}

impl Builder<'_> {
    fn slot(&mut self, name: &str, layout: Layout) -> usize {
        self.slots.push(Slot {
            shape: self.shapes[name].clone(),
            layout,
        });
        let s = self.slots.len() - 1;
        match layout {
            Layout::Plain => self.plain.insert(name.to_string(), s),
            Layout::Blocked => self.blocked.insert(name.to_string(), s),
        };
        s
    }

    fn unavailable(&self, node: &Node, name: &str) -> GraphError {
        node_err(node, format!("input \"{name}\" is not available"))
    }

    /// `name` in plain layout, converting a blocked value once.
    fn plain(&mut self, node: &Node, name: &str) -> Result<usize> {
        if let Some(&s) = self.plain.get(name) {
            return Ok(s);
        }
        let x = *self
            .blocked
            .get(name)
            .ok_or_else(|| self.unavailable(node, name))?;
        let y = self.slot(name, Layout::Plain);
        self.steps.push(Step::ToPlain { x, y });
        Ok(y)
    }

    /// `name` blocked (4-D values only), converting a plain value once.
    fn blocked(&mut self, node: &Node, name: &str) -> Result<usize> {
        if let Some(&s) = self.blocked.get(name) {
            return Ok(s);
        }
        let x = *self
            .plain
            .get(name)
            .ok_or_else(|| self.unavailable(node, name))?;
        let y = self.slot(name, Layout::Blocked);
        self.steps.push(Step::ToBlocked { x, y });
        Ok(y)
    }

    /// Its blocked slot when `name` is a computed value that exists blocked.
    fn has_blocked(&self, name: &str) -> bool {
        self.blocked.contains_key(name)
    }

    /// Emits convolution node `c` (fast-capable), writing value `out`.
    fn conv(&mut self, c: &Node, res: Option<&str>, act: Act, out: &str) -> Result<()> {
        let Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            groups,
        } = c.op
        else {
            unreachable!("only convolutions are fused")
        };
        let xs = self.shapes[&c.inputs[0]].clone();
        let ys = &self.shapes[&c.outputs[0]];
        let pad = pads;
        let geom = Geom {
            cin: xs[1],
            h: xs[2] + pads[0] + pads[2],
            w: xs[3] + pads[1] + pads[3],
            cout: ys[1],
            oh: ys[2],
            ow: ys[3],
            k: kernel,
            s: strides,
            d: dilations,
        };
        let w = &self.g.params[&c.inputs[1]].data;
        let b = c.inputs.get(2).map(|b| self.g.params[b].data.as_slice());
        // mostly-zero weights: the sparse kernel on plain values
        let sparse = if groups == 1 && sparse::density(w) <= self.opts.sparse_conv {
            sparse::SparseConv::new(geom, w, b)
                .filter(|k| k.effective_density() <= self.opts.sparse_conv)
        } else {
            None
        };
        if let Some(k) = sparse {
            let x = self.plain(c, &c.inputs[0])?;
            let res = match res {
                Some(r) => Some(self.plain(c, r)?),
                None => None,
            };
            let y = self.slot(out, Layout::Plain);
            self.steps.push(Step::SparseConv {
                x,
                res,
                act,
                k: Box::new(k),
                pad,
                y,
            });
            return Ok(());
        }
        let res = match res {
            Some(r) => Some(self.blocked(c, r)?),
            None => None,
        };
        if groups == 1 {
            let k = Box::new(conv::Conv::new(geom, w, b));
            let x = if self.has_blocked(&c.inputs[0]) {
                self.blocked[&c.inputs[0]]
            } else {
                self.plain(c, &c.inputs[0])?
            };
            let y = self.slot(out, Layout::Blocked);
            self.steps.push(Step::Conv {
                x,
                res,
                act,
                k,
                pad,
                y,
                flat: self.opts.flat_pointwise,
            });
        } else {
            // padded in the kernel: the geometry of the unpadded input
            let unpadded = Geom {
                h: xs[2],
                w: xs[3],
                ..geom
            };
            let k = Box::new(conv::Depthwise::new(unpadded, [pad[0], pad[1]], w, b));
            let pad = [0; 4];
            let x = self.blocked(c, &c.inputs[0])?;
            let y = self.slot(out, Layout::Blocked);
            self.steps.push(Step::Depthwise {
                x,
                res,
                act,
                k,
                pad,
                y,
            });
        }
        Ok(())
    }

    /// A linear node (`Gemm` without a transposed input, `MatMul`) on a 2-D batch value with
    /// parameter weights of at most `sparse_linear` density, as a sparse step.
    fn sparse_linear(&self, n: &Node) -> Option<sparse::SparseLinear> {
        let x0 = n.inputs.first()?;
        let xs = self.shapes.get(x0)?;
        if xs.len() != 2 || !self.batchy.contains(x0.as_str()) || self.g.params.contains_key(x0) {
            return None;
        }
        let w = self.g.params.get(n.inputs.get(1)?)?;
        if w.shape.len() != 2 || sparse::density(&w.data) > self.opts.sparse_linear {
            return None;
        }
        match n.op {
            Op::Gemm {
                alpha,
                beta,
                trans_a: false,
                trans_b,
            } => {
                let (inputs, outputs) = if trans_b {
                    (w.shape[1], w.shape[0])
                } else {
                    (w.shape[0], w.shape[1])
                };
                let bias = match n.inputs.get(2) {
                    Some(b) => Some(self.g.params.get(b)?.data.as_slice()),
                    None => None,
                };
                if inputs != xs[1] {
                    return None;
                }
                sparse::SparseLinear::new(&w.data, outputs, inputs, !trans_b, alpha, bias, beta)
            }
            Op::MatMul if n.inputs.len() == 2 && w.shape[0] == xs[1] => {
                sparse::SparseLinear::new(&w.data, w.shape[1], w.shape[0], true, 1.0, None, 1.0)
            }
            _ => None,
        }
    }

    /// Emits any other node.
    fn node(&mut self, n: &Node) -> Result<()> {
        let out = n.outputs[0].as_str();
        let x0 = n.inputs[0].as_str();
        if matches!(n.op, Op::Gemm { .. } | Op::MatMul)
            && let Some(k) = self.sparse_linear(n)
        {
            let x = self.plain(n, x0)?;
            let args = n
                .inputs
                .iter()
                .map(|v| match self.g.params.get(v) {
                    Some(p) => Arg::Param(p.clone()),
                    None => Arg::Slot(x),
                })
                .collect();
            let y = self.slot(out, Layout::Plain);
            self.steps.push(Step::SparseLinear {
                x,
                k: Box::new(k),
                node: n.clone(),
                args,
                y,
            });
            return Ok(());
        }
        let is_value = |b: &Builder, v: &str| !b.g.params.contains_key(v);
        match &n.op {
            Op::Relu | Op::Clip { .. } | Op::Sigmoid | Op::HardSwish | Op::HardSigmoid { .. }
                if is_value(self, x0) && self.batchy.contains(x0) =>
            {
                let (x, layout) = if self.has_blocked(x0) {
                    (self.blocked[x0], Layout::Blocked)
                } else {
                    (self.plain(n, x0)?, Layout::Plain)
                };
                let y = self.slot(out, layout);
                self.steps.push(Step::Elementwise {
                    node: n.clone(),
                    x,
                    other: None,
                    y,
                });
            }
            Op::Add | Op::Mul
                if n.inputs.len() == 2
                    && n.inputs.iter().all(|v| is_value(self, v))
                    && self.shapes[x0] == self.shapes[&n.inputs[1]]
                    && n.inputs.iter().all(|v| self.has_blocked(v)) =>
            {
                let (x, o) = (self.blocked[x0], self.blocked[&n.inputs[1]]);
                let y = self.slot(out, Layout::Blocked);
                self.steps.push(Step::Elementwise {
                    node: n.clone(),
                    x,
                    other: Some(o),
                    y,
                });
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
                ..
            } if self.has_blocked(x0) => {
                self.pool(n, *kernel, *strides, *pads, false, false)?;
            }
            Op::AveragePool {
                kernel,
                strides,
                pads,
                count_include_pad,
                ..
            } if self.has_blocked(x0) => {
                self.pool(n, *kernel, *strides, *pads, true, *count_include_pad)?;
            }
            Op::GlobalAveragePool if self.has_blocked(x0) => {
                let x = self.blocked[x0];
                let y = self.slot(out, Layout::Plain);
                self.steps.push(Step::Mean { x, y });
            }
            _ => {
                let args = n
                    .inputs
                    .iter()
                    .map(|v| match self.g.params.get(v) {
                        Some(p) => Ok(Arg::Param(p.clone())),
                        None => self.plain(n, v).map(Arg::Slot),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let y = self.slot(out, Layout::Plain);
                self.steps.push(Step::Ref {
                    node: n.clone(),
                    args,
                    y,
                });
            }
        }
        Ok(())
    }

    fn pool(
        &mut self,
        n: &Node,
        k: [usize; 2],
        s: [usize; 2],
        pads: [usize; 4],
        avg: bool,
        count_pad: bool,
    ) -> Result<()> {
        let xs = &self.shapes[&n.inputs[0]];
        let w = blocked::Window {
            k,
            s,
            pad: [pads[0], pads[1]],
            count_pad,
            end: [xs[2] + pads[2], xs[3] + pads[3]],
        };
        let x = self.blocked[&n.inputs[0]];
        let y = self.slot(&n.outputs[0], Layout::Blocked);
        self.steps.push(Step::Pool { x, y, w, avg });
        Ok(())
    }
}

/// Whether the fast kernels run convolution `n` (4-D, parameters for weight and bias; dense or
/// depthwise).
fn fast_conv(g: &Graph, shapes: &HashMap<String, Vec<usize>>, n: &Node) -> bool {
    let Op::Conv { groups, .. } = n.op else {
        return false;
    };
    let (Some(x), Some(y)) = (shapes.get(&n.inputs[0]), shapes.get(&n.outputs[0])) else {
        return false;
    };
    x.len() == 4
        && y.len() == 4
        && n.inputs.len() >= 2
        && n.inputs[1..].iter().all(|p| g.params.contains_key(p))
        && (groups == 1 || (groups == x[1] && groups == y[1]))
        && !g.params.contains_key(&n.inputs[0])
}

impl Plan {
    /// Compiles `g` to compute its outputs.
    pub fn new(g: &Graph) -> Result<Plan> {
        Plan::with_outputs(g, &g.outputs)
    }

    /// Compiles `g` to compute the values named in `wanted` (any intermediate value).
    pub fn with_outputs(g: &Graph, wanted: &[String]) -> Result<Plan> {
        Plan::with_options(g, wanted, Options::default())
    }

    /// [`Plan::with_outputs`] with the kernel choices of `opts`.
    pub fn with_options(g: &Graph, wanted: &[String], opts: Options) -> Result<Plan> {
        let original = g;
        let mut g = g.clone();
        // batch norms are folded only where the convolution's own output is not wanted
        g.outputs = wanted.to_vec();
        let g = fold::fold_batch_norms(&g);
        let shapes = shape::infer(&g, 1)?;
        // values whose first axis is the batch (1 at batch 1, 2 at batch 2): only these run
        // on the fast steps, which size their outputs from the batch; anything else (a
        // Reshape folding the batch into another axis) stays on the reference ops
        let shapes2 = shape::infer(&g, 2)?;
        let batchy: HashSet<String> = shapes
            .iter()
            .filter(|(v, s)| {
                !g.params.contains_key(*v)
                    && s.first() == Some(&1)
                    && shapes2.get(*v).and_then(|t| t.first()) == Some(&2)
            })
            .map(|(v, _)| v.clone())
            .collect();
        // readers of each value (a wanted value counts as read)
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for n in &g.nodes {
            for x in &n.inputs {
                *uses.entry(x).or_default() += 1;
            }
        }
        for w in wanted {
            *uses.entry(w).or_default() += 1;
        }
        let consumer = |v: &str| g.nodes.iter().position(|n| n.inputs.iter().any(|x| x == v));
        // fusion: a convolution absorbs its residual Add and its Relu/Clip, and is emitted
        // where the last absorbed node was (the residual is computed by then)
        let mut absorbed: HashSet<usize> = HashSet::new();
        let mut fused: HashMap<usize, (usize, Option<String>, Act)> = HashMap::new();
        for (i, n) in g.nodes.iter().enumerate() {
            if !fast_conv(&g, &shapes, n)
                || !batchy.contains(&n.inputs[0])
                || !batchy.contains(&n.outputs[0])
            {
                continue;
            }
            let mut out = n.outputs[0].as_str();
            let (mut last, mut res, mut act) = (i, None, Act::default());
            let single = |v: &str| uses.get(v) == Some(&1) && !wanted.iter().any(|w| w == v);
            if single(out)
                && let Some(j) = consumer(out)
                && !absorbed.contains(&j)
                && matches!(g.nodes[j].op, Op::Add)
                && g.nodes[j].inputs.len() == 2
                && let Some(r) = g.nodes[j].inputs.iter().find(|x| x.as_str() != out)
                && !g.params.contains_key(r)
                && batchy.contains(r)
                && shapes.get(r) == shapes.get(out)
            {
                res = Some(r.clone());
                absorbed.insert(j);
                last = j;
                out = g.nodes[j].outputs[0].as_str();
            }
            if single(out)
                && let Some(j) = consumer(out)
                && !absorbed.contains(&j)
            {
                let a = match g.nodes[j].op {
                    Op::Relu => Some(Act {
                        lo: Some(0.0),
                        hi: None,
                    }),
                    Op::Clip { min, max } => Some(Act {
                        lo: Some(min),
                        hi: Some(max),
                    }),
                    _ => None,
                };
                if let Some(a) = a {
                    act = a;
                    absorbed.insert(j);
                    last = j;
                }
            }
            absorbed.insert(i);
            fused.insert(last, (i, res, act));
        }
        let mut b = Builder {
            g: &g,
            opts,
            batchy: &batchy,
            shapes,
            slots: Vec::new(),
            steps: Vec::new(),
            plain: HashMap::new(),
            blocked: HashMap::new(),
        };
        let input = b.slot(&g.input, Layout::Plain);
        for (i, n) in g.nodes.iter().enumerate() {
            if let Some((c, res, act)) = fused.get(&i) {
                b.conv(&g.nodes[*c], res.as_deref(), *act, &n.outputs[0])?;
            } else if !absorbed.contains(&i) {
                b.node(n)?;
            }
        }
        let outputs = wanted
            .iter()
            .map(|w| match original.params.get(w) {
                Some(p) => Ok(Arg::Param(p.clone())),
                None => {
                    let probe = Node {
                        name: "output".into(),
                        op: Op::Identity,
                        inputs: vec![w.clone()],
                        outputs: vec![w.clone()],
                    };
                    b.plain(&probe, w).map(Arg::Slot)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let (slots, steps) = (b.slots, b.steps);
        let kept: HashSet<usize> = outputs
            .iter()
            .filter_map(|o| match o {
                Arg::Slot(s) => Some(*s),
                Arg::Param(_) => None,
            })
            .collect();
        let mut last = vec![None; slots.len()];
        for (i, s) in steps.iter().enumerate() {
            for r in s.reads() {
                last[r] = Some(i);
            }
        }
        let mut free_after = vec![Vec::new(); steps.len()];
        for (s, l) in last.iter().enumerate() {
            if let Some(l) = l
                && !kept.contains(&s)
            {
                free_after[*l].push(s);
            }
        }
        Ok(Plan {
            input,
            input_shape: g.input_shape.clone(),
            outputs,
            slots,
            steps,
            free_after,
            buffers: Default::default(),
        })
    }

    /// How many convolutions (and sparse linear layers) run on the fast kernels, and how many
    /// steps fall back to the reference executor's ops (for reports and tests).
    pub fn summary(&self) -> (usize, usize) {
        let fast = self
            .steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::Conv { .. }
                        | Step::Depthwise { .. }
                        | Step::SparseConv { .. }
                        | Step::SparseLinear { .. }
                )
            })
            .count();
        let reference = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Ref { .. }))
            .count();
        (fast, reference)
    }

    /// How many layers run on the sparse kernels (see [`Options`]).
    pub fn sparse_layers(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::SparseConv { .. } | Step::SparseLinear { .. }))
            .count()
    }

    /// Runs the plan on `input` (`[N, ...]` matching the graph's input apart from `N`).
    pub fn run(&self, input: &Tensor) -> Result<Vec<Tensor>> {
        exec::check_input(input, &self.input_shape)?;
        let mut vals: Vec<Option<Tensor>> = vec![None; self.slots.len()];
        let mut pool = self
            .buffers
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for (i, step) in self.steps.iter().enumerate() {
            let y = self.step(step, input, &mut vals, &mut pool, &self.free_after[i])?;
            let ys = match step {
                Step::Conv { y, .. }
                | Step::Depthwise { y, .. }
                | Step::SparseConv { y, .. }
                | Step::SparseLinear { y, .. }
                | Step::ToBlocked { y, .. }
                | Step::ToPlain { y, .. }
                | Step::Elementwise { y, .. }
                | Step::Pool { y, .. }
                | Step::Mean { y, .. }
                | Step::Ref { y, .. } => *y,
            };
            vals[ys] = Some(y);
            for &s in &self.free_after[i] {
                if let Some(t) = vals[s].take() {
                    pool.put(t.data);
                }
            }
        }
        let outs = (0..self.outputs.len())
            .map(|k| match &self.outputs[k] {
                Arg::Slot(s) if *s == self.input => input.clone(),
                // moved out, unless a later output is the same value
                Arg::Slot(s)
                    if self.outputs[k + 1..]
                        .iter()
                        .any(|o| matches!(o, Arg::Slot(t) if t == s)) =>
                {
                    vals[*s].clone().unwrap_or_else(|| Tensor::zeros(vec![0]))
                }
                Arg::Slot(s) => vals[*s].take().unwrap_or_else(|| Tensor::zeros(vec![0])),
                Arg::Param(p) => p.clone(),
            })
            .collect();
        for t in vals.into_iter().flatten() {
            pool.put(t.data);
        }
        // buffers the reference ops allocated join the pool: keep it at one per value
        if pool.free.len() > self.slots.len() {
            pool.free.sort_by_key(|v| std::cmp::Reverse(v.0.capacity()));
            pool.free.truncate(self.slots.len());
        }
        pool.out.clear();
        if let Ok(mut p) = self.buffers.lock() {
            *p = pool;
        }
        Ok(outs)
    }

    fn shape(&self, s: usize, n: usize) -> Vec<usize> {
        let mut v = self.slots[s].shape.clone();
        v[0] = n;
        v
    }

    fn step(
        &self,
        step: &Step,
        input: &Tensor,
        vals: &mut [Option<Tensor>],
        pool: &mut Pool,
        freed: &[usize],
    ) -> Result<Tensor> {
        let n = input.shape[0];
        // the input is read where it lies (never copied, never consumed)
        let inp = self.input;
        fn get<'a>(
            input: &'a Tensor,
            inp: usize,
            vals: &'a [Option<Tensor>],
            s: usize,
        ) -> &'a Tensor {
            if s == inp {
                return input;
            }
            vals[s]
                .as_ref()
                .expect("the plan computes every slot before reading it")
        }
        Ok(match step {
            Step::Conv {
                x,
                res,
                act,
                k,
                pad,
                y,
                flat,
            } => {
                let layout = self.slots[*x].layout;
                let padded = padded(get(input, inp, vals, *x), layout, *pad, pool);
                let xd = padded.as_deref().unwrap_or(&get(input, inp, vals, *x).data);
                let [_, c, h, w] = get(input, inp, vals, *x).shape[..] else {
                    unreachable!("convolution inputs are 4-D")
                };
                let (h, w) = (h + pad[0] + pad[2], w + pad[1] + pad[3]);
                let xs = match layout {
                    Layout::Plain => Strides::plain(c, h, w),
                    Layout::Blocked => Strides::blocked(c, h, w),
                };
                let mut out = pool.take(n * k.out_len());
                let res = res.map(|r| get(input, inp, vals, r).data.as_slice());
                if *flat && k.flat(xs, n) {
                    // short rows: all images' pixels as one map of full tiles
                    let (xl, yl) = k.flat_scratch(n);
                    let (mut xin, mut yout) = (pool.take(xl), pool.take(yl));
                    k.run_flat(xd, n, res, *act, &mut out, &mut xin, &mut yout);
                    pool.put(xin);
                    pool.put(yout);
                } else {
                    k.run(xd, xs, n, res, *act, &mut out);
                }
                if let Some(p) = padded {
                    pool.put(p);
                }
                raw(self.shape(*y, n), out)
            }
            Step::Depthwise {
                x,
                res,
                act,
                k,
                pad,
                y,
            } => {
                let padded = padded(get(input, inp, vals, *x), Layout::Blocked, *pad, pool);
                let xd = padded.as_deref().unwrap_or(&get(input, inp, vals, *x).data);
                let mut out = pool.take(n * k.out_len());
                k.run(
                    xd,
                    n,
                    res.map(|r| get(input, inp, vals, r).data.as_slice()),
                    *act,
                    &mut out,
                );
                if let Some(p) = padded {
                    pool.put(p);
                }
                raw(self.shape(*y, n), out)
            }
            Step::SparseConv {
                x,
                res,
                act,
                k,
                pad,
                y,
            } => {
                let xt = get(input, inp, vals, *x);
                let [_, c, h, w] = xt.shape[..] else {
                    unreachable!("convolution inputs are 4-D")
                };
                // always a padded copy: the kernel reads up to SLACK floats past the images
                let mut xp = pool.take(n * k.in_len() + sparse::SparseConv::SLACK);
                blocked::pad(&xt.data, n * c, h, w, 1, *pad, &mut xp);
                let mut out = pool.take(n * k.out_len());
                k.run(
                    &xp,
                    n,
                    res.map(|r| get(input, inp, vals, r).data.as_slice()),
                    *act,
                    &mut out,
                );
                pool.put(xp);
                raw(self.shape(*y, n), out)
            }
            Step::SparseLinear { node, args, .. } if n < sparse::SMALL_BATCH => {
                let ins: Vec<&Tensor> = args
                    .iter()
                    .map(|a| match a {
                        Arg::Slot(s) => get(input, inp, vals, *s),
                        Arg::Param(p) => p,
                    })
                    .collect();
                exec::eval(node, &ins)?
            }
            Step::SparseLinear { x, k, y, .. } => {
                let xt = get(input, inp, vals, *x);
                let mut out = pool.take(n * k.outputs());
                let mut scratch = pool.take(k.scratch_len(n));
                k.run(&xt.data, n, &mut out, &mut scratch);
                pool.put(scratch);
                raw(self.shape(*y, n), out)
            }
            Step::ToBlocked { x, y } => {
                let shape = self.shape(*y, n);
                let mut out = pool.take(blocked::len(&shape));
                blocked::to_blocked(&get(input, inp, vals, *x).data, &shape, &mut out);
                raw(shape, out)
            }
            Step::ToPlain { x, y } => {
                let shape = self.shape(*y, n);
                let mut out = pool.take(shape.iter().product());
                blocked::to_plain(&get(input, inp, vals, *x).data, &shape, &mut out);
                raw(shape, out)
            }
            Step::Elementwise { node, x, other, y } => {
                // the first input's buffer is updated when no later step reads it
                let mut t = if freed.contains(x) && *x != inp && Some(*x) != *other {
                    vals[*x].take().expect("computed before read")
                } else {
                    let src = get(input, inp, vals, *x);
                    let mut d = pool.take(src.data.len());
                    d.copy_from_slice(&src.data);
                    raw(src.shape.clone(), d)
                };
                let others: Vec<&Tensor> =
                    other.iter().map(|o| get(input, inp, vals, *o)).collect();
                if !exec::in_place(node, &mut t, &others) {
                    return Err(node_err(node, "the fast executor cannot run it in place"));
                }
                t.shape = self.shape(*y, n);
                t
            }
            Step::Pool { x, y, w, avg } => {
                let shape = self.shape(*y, n);
                let mut out = pool.take(blocked::len(&shape));
                let xt = get(input, inp, vals, *x);
                blocked::pool(
                    &xt.data,
                    &xt.shape,
                    &mut out,
                    [shape[2], shape[3]],
                    *w,
                    *avg,
                );
                raw(shape, out)
            }
            Step::Mean { x, y } => {
                let shape = self.shape(*y, n);
                let mut out = pool.take(shape.iter().product());
                let xt = get(input, inp, vals, *x);
                blocked::global_mean(&xt.data, &xt.shape, &mut out);
                raw(shape, out)
            }
            Step::Ref { node, args, .. } => {
                let ins: Vec<&Tensor> = args
                    .iter()
                    .map(|a| match a {
                        Arg::Slot(s) => get(input, inp, vals, *s),
                        Arg::Param(p) => p,
                    })
                    .collect();
                exec::eval(node, &ins)?
            }
        })
    }
}

/// A zero-padded copy of the 4-D `x` (`None` without padding).
fn padded(x: &Tensor, layout: Layout, pad: [usize; 4], pool: &mut Pool) -> Option<Vec<f32>> {
    if pad == [0; 4] {
        return None;
    }
    let [n, c, h, w] = x.shape[..] else {
        unreachable!("convolution inputs are 4-D")
    };
    let (planes, e) = match layout {
        Layout::Plain => (n * c, 1),
        Layout::Blocked => (n * c.div_ceil(simd::L), simd::L),
    };
    let mut out = pool.take(planes * (h + pad[0] + pad[2]) * (w + pad[1] + pad[3]) * e);
    blocked::pad(&x.data, planes, h, w, e, pad, &mut out);
    Some(out)
}

/// A tensor whose data may be blocked (its length then differs from the shape's product).
fn raw(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
    Tensor { shape, data }
}

/// Buffers of freed values, reused for later ones (and by later runs of the plan).
#[derive(Debug, Default)]
struct Pool {
    /// Each buffer with how many of its leading elements hold initialized values (at least
    /// its length: a shorter reuse truncates it, and a longer one may grow it back without
    /// writing zeros first).
    free: Vec<(Vec<f32>, usize)>,
    /// The initialized extent and capacity of the buffers handed out, by address.
    out: HashMap<usize, (usize, usize)>,
}

impl Pool {
    fn put(&mut self, v: Vec<f32>) {
        if v.capacity() == 0 {
            return;
        }
        // a buffer this pool handed out in this run (same address and capacity) keeps its
        // initialized extent; any other counts only its length
        let init = match self.out.remove(&(v.as_ptr() as usize)) {
            Some((init, cap)) if cap == v.capacity() => init.max(v.len()),
            _ => v.len(),
        };
        self.free.push((v, init));
    }

    /// A buffer of `len` from the smallest free buffer that holds it. Its contents are
    /// arbitrary (left from an earlier value): for outputs the kernels write in full.
    #[allow(unsafe_code)]
    fn take(&mut self, len: usize) -> Vec<f32> {
        let best = (0..self.free.len())
            .filter(|&i| self.free[i].0.capacity() >= len)
            .min_by_key(|&i| self.free[i].0.capacity());
        let (v, init) = match best {
            Some(i) => {
                let (mut v, init) = self.free.swap_remove(i);
                if init >= len {
                    // SAFETY: `len <= init <= capacity`, and the first `init` elements were
                    // written (plain `f32`s, never dropped or moved out): growing the length
                    // back over them exposes only initialized values. Truncation never
                    // de-initializes memory.
                    unsafe { v.set_len(len) };
                } else {
                    // SAFETY: as above, up to `init`; beyond it `resize` writes zeros
                    unsafe { v.set_len(init) };
                    v.resize(len, 0.0);
                }
                (v, init.max(len))
            }
            None => (vec![0.0; len], len),
        };
        self.out.insert(v.as_ptr() as usize, (init, v.capacity()));
        v
    }
}
