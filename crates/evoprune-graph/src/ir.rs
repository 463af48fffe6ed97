//! The representation: a DAG of ops over named values, with parameters by name.
//!
//! Values are tensors of `f32` in NCHW layout whose first axis is the batch: shapes are stored
//! for a batch of one and the executor runs any batch size. Parameters (weights, biases, batch
//! norm statistics) keep their ONNX initializer names, which are PyTorch's parameter names
//! when the model was exported from PyTorch. Attributes that ONNX passes as constant inputs
//! (a Reshape's target shape, Slice bounds, Pad widths, Clip bounds, axes) are folded into the
//! op at import, so every node input is either a parameter or a value computed by another node.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A dense `f32` tensor, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    /// The shape.
    pub shape: Vec<usize>,
    /// The elements, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor; `data.len()` must equal the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![0.0; n],
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// One entry of a Reshape's target shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dim {
    /// The batch size at run time.
    Batch,
    /// A fixed size; ONNX's 0 (copy the input's) and -1 (infer) keep their meaning.
    Fixed(i64),
}

/// Padding of a pooling or convolution window: `[top, left, bottom, right]`.
pub type Pads = [usize; 4];

/// An operation. Inputs are listed on the [`Node`]; attributes are here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// 2-D convolution; inputs `[x, weight (O, I/groups, kh, kw), bias?]`.
    Conv {
        /// Kernel height and width.
        kernel: [usize; 2],
        /// Strides (height, width).
        strides: [usize; 2],
        /// Padding `[top, left, bottom, right]`.
        pads: Pads,
        /// Dilations (height, width).
        dilations: [usize; 2],
        /// Groups (1: dense; input channels: depthwise).
        groups: usize,
    },
    /// Batch normalisation in inference mode; inputs `[x, scale, bias, mean, var]`.
    BatchNorm {
        /// Added to the variance.
        epsilon: f32,
    },
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)` (ReLU6 is `Clip(0, 6)`).
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x * relu6(x + 3) / 6`.
    HardSwish,
    /// `max(0, min(1, alpha x + beta))`.
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// Element-wise product with NumPy broadcasting.
    Mul,
    /// Element-wise sum with NumPy broadcasting.
    Add,
    /// Element-wise difference with NumPy broadcasting.
    Sub,
    /// Element-wise quotient with NumPy broadcasting.
    Div,
    /// Max pooling over 2-D windows.
    MaxPool {
        /// Window height and width.
        kernel: [usize; 2],
        /// Strides.
        strides: [usize; 2],
        /// Padding (padded cells never win).
        pads: Pads,
        /// Round the output size up.
        ceil_mode: bool,
    },
    /// Average pooling over 2-D windows.
    AveragePool {
        /// Window height and width.
        kernel: [usize; 2],
        /// Strides.
        strides: [usize; 2],
        /// Padding.
        pads: Pads,
        /// Round the output size up.
        ceil_mode: bool,
        /// Count padded cells in the divisor.
        count_include_pad: bool,
    },
    /// Mean over the spatial axes, keeping them as 1x1.
    GlobalAveragePool,
    /// Mean over `axes` (negative axes count from the end).
    ReduceMean {
        /// The axes.
        axes: Vec<i64>,
        /// Keep reduced axes as size 1.
        keepdims: bool,
    },
    /// Collapse to 2-D at `axis`.
    Flatten {
        /// The first axis of the second dimension.
        axis: i64,
    },
    /// Reshape to a target shape.
    Reshape {
        /// The target shape.
        shape: Vec<Dim>,
    },
    /// Permute axes.
    Transpose {
        /// The permutation.
        perm: Vec<usize>,
    },
    /// Remove size-1 axes (all of them when `axes` is empty).
    Squeeze {
        /// The axes.
        axes: Vec<i64>,
    },
    /// Insert size-1 axes.
    Unsqueeze {
        /// The axes, in the output's numbering.
        axes: Vec<i64>,
    },
    /// A strided slice.
    Slice {
        /// Start per sliced axis.
        starts: Vec<i64>,
        /// End per sliced axis (exclusive; clamped).
        ends: Vec<i64>,
        /// The sliced axes.
        axes: Vec<i64>,
        /// Step per sliced axis.
        steps: Vec<i64>,
    },
    /// Constant padding; `pads` is ONNX's `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`.
    Pad {
        /// Pad widths per axis, begins then ends.
        pads: Vec<i64>,
        /// The fill value.
        value: f32,
    },
    /// `alpha * A' * B' + beta * C`; inputs `[A, B, C?]`.
    Gemm {
        /// Scale of the product.
        alpha: f32,
        /// Scale of C.
        beta: f32,
        /// Transpose A.
        trans_a: bool,
        /// Transpose B.
        trans_b: bool,
    },
    /// Matrix product with NumPy broadcasting of leading axes.
    MatMul,
    /// Join along an axis.
    Concat {
        /// The axis.
        axis: i64,
    },
    /// The input unchanged (also Dropout in inference).
    Identity,
    /// Softmax along an axis.
    Softmax {
        /// The axis.
        axis: i64,
    },
}

impl Op {
    /// The ONNX op type this op is written as.
    pub fn op_type(&self) -> &'static str {
        match self {
            Op::Conv { .. } => "Conv",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::Relu => "Relu",
            Op::Clip { .. } => "Clip",
            Op::Sigmoid => "Sigmoid",
            Op::HardSwish => "HardSwish",
            Op::HardSigmoid { .. } => "HardSigmoid",
            Op::Mul => "Mul",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Div => "Div",
            Op::MaxPool { .. } => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::ReduceMean { .. } => "ReduceMean",
            Op::Flatten { .. } => "Flatten",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Squeeze { .. } => "Squeeze",
            Op::Unsqueeze { .. } => "Unsqueeze",
            Op::Slice { .. } => "Slice",
            Op::Pad { .. } => "Pad",
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::Concat { .. } => "Concat",
            Op::Identity => "Identity",
            Op::Softmax { .. } => "Softmax",
        }
    }
}

/// A node: an op applied to named inputs, producing named outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The node's name (unique in the graph).
    pub name: String,
    /// The op.
    pub op: Op,
    /// Input value or parameter names.
    pub inputs: Vec<String>,
    /// Output value names (one per node).
    pub outputs: Vec<String>,
}

/// A network: one input, nodes in topological order, named parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The network's name.
    pub name: String,
    /// The input's name.
    pub input: String,
    /// The input's shape for a batch of one (`[1, C, H, W]` or `[1, F]`).
    pub input_shape: Vec<usize>,
    /// The output names.
    pub outputs: Vec<String>,
    /// The nodes, each after the nodes it reads from.
    pub nodes: Vec<Node>,
    /// Parameters by name.
    pub params: BTreeMap<String, Tensor>,
}

impl Graph {
    /// The node producing `value`, if any.
    pub fn producer(&self, value: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.outputs.iter().any(|o| o == value))
    }

    /// The nodes reading `value`.
    pub fn consumers(&self, value: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].inputs.iter().any(|x| x == value))
            .collect()
    }

    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&Tensor> {
        self.params.get(name)
    }
}
