//! Building a [`Graph`] layer by layer, PyTorch-style: each layer is named after its module
//! path, owns the parameters `<name>.weight`, `<name>.bias` (and batch norm's
//! `running_mean` / `running_var`), and each node's output shape is checked as it is added.

use crate::ir::{Graph, Node, Op, Pads, Tensor};
use crate::{GraphError, Result, shape};
use std::collections::{BTreeMap, HashMap};

/// A convolution's geometry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvSpec {
    /// Output channels.
    pub out: usize,
    /// Square kernel size.
    pub k: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// `[top, left, bottom, right]`.
    pub pads: Pads,
    /// Groups (the input channels for a depthwise convolution).
    pub groups: usize,
    /// Whether the convolution has a bias.
    pub bias: bool,
}

/// A `k`x`k` convolution, stride `stride`, PyTorch's usual padding `(k - 1) / 2` on every side,
/// no bias, dense.
pub(crate) fn conv(out: usize, k: usize, stride: usize) -> ConvSpec {
    let p = (k - 1) / 2;
    ConvSpec {
        out,
        k,
        stride,
        pads: [p; 4],
        groups: 1,
        bias: false,
    }
}

impl ConvSpec {
    /// With a bias.
    pub fn bias(self) -> Self {
        ConvSpec { bias: true, ..self }
    }

    /// With `groups` groups.
    pub fn groups(self, groups: usize) -> Self {
        ConvSpec { groups, ..self }
    }

    /// With explicit padding.
    pub fn pads(self, pads: Pads) -> Self {
        ConvSpec { pads, ..self }
    }
}

/// A graph under construction, with every value's shape (batch of one) and the seed of the
/// freshly initialised weights.
pub(crate) struct Builder {
    g: Graph,
    shapes: HashMap<String, Vec<usize>>,
    seed: u64,
}

/// The input value's name.
pub(crate) const INPUT: &str = "input";

impl Builder {
    /// An empty network named `name` reading one `[1, C, H, W]` input.
    pub fn new(name: &str, input: [usize; 3], seed: u64) -> Self {
        let input_shape = vec![1, input[0], input[1], input[2]];
        let mut shapes = HashMap::new();
        shapes.insert(INPUT.to_string(), input_shape.clone());
        Builder {
            g: Graph {
                name: name.into(),
                input: INPUT.into(),
                input_shape,
                outputs: Vec::new(),
                nodes: Vec::new(),
                params: BTreeMap::new(),
            },
            shapes,
            seed,
        }
    }

    /// The shape of value `v` for a batch of one.
    pub fn shape(&self, v: &str) -> &[usize] {
        &self.shapes[v]
    }

    /// Append node `name` applying `op` to `inputs`; its output value is also called `name`.
    pub fn node(&mut self, name: &str, op: Op, inputs: &[&str]) -> Result<String> {
        if self.shapes.contains_key(name) || self.g.params.contains_key(name) {
            return Err(GraphError::invalid(
                "zoo",
                format!("value \"{name}\" defined twice"),
            ));
        }
        let node = Node {
            name: name.into(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![name.into()],
        };
        let ins: Vec<&[usize]> = inputs
            .iter()
            .map(|i| {
                self.shapes
                    .get(*i)
                    .or_else(|| self.g.params.get(*i).map(|t| &t.shape))
                    .map(Vec::as_slice)
                    .ok_or_else(|| GraphError::invalid("zoo", format!("no value \"{i}\"")))
            })
            .collect::<Result<_>>()?;
        let s = shape::out_shape(&node, &ins)?;
        self.shapes.insert(name.into(), s);
        self.g.nodes.push(node);
        Ok(name.into())
    }

    /// Add parameter `name`.
    fn param(&mut self, name: String, t: Tensor) -> String {
        self.g.params.insert(name.clone(), t);
        name
    }

    /// A Kaiming-normal weight of `shape` with fan-in `fan_in`, named `name`.
    fn kaiming(&mut self, name: String, shape: Vec<usize>, fan_in: usize) -> String {
        let std = (2.0 / fan_in.max(1) as f64).sqrt();
        let data = super::normal(self.seed, &name, shape.iter().product(), std);
        self.param(name, Tensor::new(shape, data))
    }

    /// Convolution `name` (`<name>.weight`, `<name>.bias`) of `x`.
    pub fn conv(&mut self, name: &str, x: &str, c: ConvSpec) -> Result<String> {
        let cin = self.shape(x)[1];
        if c.groups == 0 || !cin.is_multiple_of(c.groups) || !c.out.is_multiple_of(c.groups) {
            return Err(GraphError::invalid(
                name,
                format!("{cin} -> {} channels in {} groups", c.out, c.groups),
            ));
        }
        let fan_in = cin / c.groups * c.k * c.k;
        let w = self.kaiming(
            format!("{name}.weight"),
            vec![c.out, cin / c.groups, c.k, c.k],
            fan_in,
        );
        let mut ins = vec![x.to_string(), w];
        if c.bias {
            ins.push(self.param(format!("{name}.bias"), Tensor::zeros(vec![c.out])));
        }
        let op = Op::Conv {
            kernel: [c.k; 2],
            strides: [c.stride; 2],
            pads: c.pads,
            dilations: [1, 1],
            groups: c.groups,
        };
        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
        self.node(name, op, &ins)
    }

    /// Batch normalisation `name` of `x`: weight 1, bias 0, running mean 0, variance 1.
    pub fn bn(&mut self, name: &str, x: &str, epsilon: f32) -> Result<String> {
        let c = self.shape(x)[1];
        let w = self.param(format!("{name}.weight"), Tensor::new(vec![c], vec![1.0; c]));
        let b = self.param(format!("{name}.bias"), Tensor::zeros(vec![c]));
        let m = self.param(format!("{name}.running_mean"), Tensor::zeros(vec![c]));
        let v = self.param(
            format!("{name}.running_var"),
            Tensor::new(vec![c], vec![1.0; c]),
        );
        self.node(name, Op::BatchNorm { epsilon }, &[x, &w, &b, &m, &v])
    }

    /// `relu(x)`, a node named `<x>.relu`.
    pub fn relu(&mut self, x: &str) -> Result<String> {
        self.node(&format!("{x}.relu"), Op::Relu, &[x])
    }

    /// `relu6(x)` as `Clip(0, 6)`, a node named `<x>.relu6`.
    pub fn relu6(&mut self, x: &str) -> Result<String> {
        let op = Op::Clip { min: 0.0, max: 6.0 };
        self.node(&format!("{x}.relu6"), op, &[x])
    }

    /// Linear layer `name` (`<name>.weight [out, in]`, `<name>.bias`) of a `[N, in]` value.
    pub fn linear(&mut self, name: &str, x: &str, out: usize) -> Result<String> {
        let fan_in = self.shape(x)[1];
        let w = self.kaiming(format!("{name}.weight"), vec![out, fan_in], fan_in);
        let b = self.param(format!("{name}.bias"), Tensor::zeros(vec![out]));
        let op = Op::Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: true,
        };
        self.node(name, op, &[x, &w, &b])
    }

    /// `torch.flatten(x, 1)` as node `name`.
    pub fn flatten(&mut self, name: &str, x: &str) -> Result<String> {
        self.node(name, Op::Flatten { axis: 1 }, &[x])
    }

    /// Max pooling of `x` with a square window, node `name`.
    pub fn max_pool(
        &mut self,
        name: &str,
        x: &str,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Result<String> {
        let op = Op::MaxPool {
            kernel: [k; 2],
            strides: [stride; 2],
            pads: [pad; 4],
            ceil_mode: false,
        };
        self.node(name, op, &[x])
    }

    /// Global average pooling of `x` (node `avgpool`) flattened to `[N, C]`: the value
    /// [`super::POOLED`].
    pub fn global_pool(&mut self, x: &str) -> Result<String> {
        let p = self.node("avgpool", Op::GlobalAveragePool, &[x])?;
        self.flatten(super::POOLED, &p)
    }

    /// The finished graph, whose one output is `logits` (the value `out`, renamed).
    pub fn finish(mut self, out: &str) -> Graph {
        for n in &mut self.g.nodes {
            for v in n.outputs.iter_mut().chain(n.inputs.iter_mut()) {
                if v == out {
                    *v = super::LOGITS.into();
                }
            }
        }
        self.g.outputs = vec![super::LOGITS.into()];
        self.g
    }
}
