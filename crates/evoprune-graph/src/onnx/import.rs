//! ONNX import: protobuf parsed by rust-protobuf, tensors checked before any allocation, shape
//! arithmetic folded, attributes passed as constant inputs folded into the ops.

use super::proto::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, tensor_proto::DataType,
};
use crate::ir::{Dim, Graph, Node, Op, Tensor};
use crate::{GraphError, Result};
use protobuf::Message;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The op types [`load`] accepts (plus Constant and the shape arithmetic it folds away:
/// Shape, Gather, Cast, ConstantOfShape, Range-free Concat/Unsqueeze/Squeeze/Slice/Reshape on
/// constants, Equal, Where).
pub const SUPPORTED: &[&str] = &[
    "Conv",
    "BatchNormalization",
    "Relu",
    "Clip",
    "Sigmoid",
    "HardSwish",
    "HardSigmoid",
    "Mul",
    "Add",
    "Sub",
    "Div",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Flatten",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Slice",
    "Pad",
    "Gemm",
    "MatMul",
    "Concat",
    "Identity",
    "Dropout",
    "Softmax",
];

/// The largest tensor accepted (elements): 2^31, 8 GiB of f32.
const MAX_ELEMENTS: u64 = 1 << 31;

/// The largest constant built at import (ConstantOfShape, folded arithmetic): 2^26 elements.
const MAX_CONSTANT: usize = 1 << 26;

/// Read the ONNX model at `path` (external data files are looked up beside it).
pub fn load(path: &Path) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|e| GraphError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_bytes(&bytes, &path.display().to_string(), Some(&dir))
}

/// Read an ONNX model from memory; `file` names it in errors; `dir` is where external data
/// lives (`None`: external data is an error).
pub fn load_bytes(bytes: &[u8], file: &str, dir: Option<&Path>) -> Result<Graph> {
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| GraphError::Format {
        file: file.into(),
        reason: format!("not an ONNX model: {e}"),
    })?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| GraphError::Format {
            file: file.into(),
            reason: "no opset for the default ONNX domain".into(),
        })?;
    if opset < 11 {
        return Err(GraphError::Format {
            file: file.into(),
            reason: format!("opset {opset} is older than 11; re-export with opset 13 or later"),
        });
    }
    let g = model.graph.as_ref().ok_or_else(|| GraphError::Format {
        file: file.into(),
        reason: "the model has no graph".into(),
    })?;
    let mut imp = Importer {
        file: file.into(),
        dir: dir.map(Path::to_path_buf),
        opset,
        consts: HashMap::new(),
        params: BTreeMap::new(),
        shapes: HashMap::new(),
        batch_axis: HashMap::new(),
        nodes: Vec::new(),
        renames: HashMap::new(),
    };
    imp.graph(g)
}

/// A constant known at import: numbers, or shape entries where one may be the batch size.
#[derive(Clone, Debug)]
struct Const {
    shape: Vec<usize>,
    vals: Vals,
}

#[derive(Clone, Debug)]
enum Vals {
    F(Vec<f32>),
    /// Integers; `None` entries stand for the batch size.
    I(Vec<Option<i64>>),
}

struct Importer {
    file: String,
    dir: Option<PathBuf>,
    opset: i64,
    consts: HashMap<String, Const>,
    params: BTreeMap<String, Tensor>,
    shapes: HashMap<String, Vec<usize>>,
    /// The axis holding the batch, per computed value.
    batch_axis: HashMap<String, Option<usize>>,
    nodes: Vec<Node>,
    /// Values that are another value under a new name (Identity, Dropout).
    renames: HashMap<String, String>,
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

impl Importer {
    fn node_err(&self, n: &NodeProto, reason: impl Into<String>) -> GraphError {
        GraphError::Node {
            file: self.file.clone(),
            node: n.name.clone(),
            op_type: n.op_type.clone(),
            reason: reason.into(),
        }
    }

    fn tensor_err(&self, t: &str, reason: impl Into<String>) -> GraphError {
        GraphError::Tensor {
            file: self.file.clone(),
            tensor: t.into(),
            reason: reason.into(),
        }
    }

    fn graph(&mut self, g: &GraphProto) -> Result<Graph> {
        for t in &g.initializer {
            let c = self.tensor(t)?;
            self.consts.insert(t.name.clone(), c);
        }
        let inputs: Vec<_> = g
            .input
            .iter()
            .filter(|i| !self.consts.contains_key(&i.name))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(GraphError::Format {
                file: self.file.clone(),
                reason: format!(
                    "evoprune takes networks with one input; this one has {}",
                    inputs.len()
                ),
            });
        };
        let input_shape = self.input_shape(input)?;
        self.shapes.insert(input.name.clone(), input_shape.clone());
        self.batch_axis.insert(input.name.clone(), Some(0));
        for (k, n) in g.node.iter().enumerate() {
            let mut n = n.clone();
            if n.name.is_empty() {
                n.name = format!("{}_{k}", n.op_type);
            }
            for i in n.input.iter_mut() {
                if let Some(r) = self.renames.get(i) {
                    *i = r.clone();
                }
            }
            self.node(&n)?;
        }
        let outputs: Vec<String> = g
            .output
            .iter()
            .map(|o| self.renames.get(&o.name).cloned().unwrap_or(o.name.clone()))
            .collect();
        if outputs.is_empty() {
            return Err(GraphError::Format {
                file: self.file.clone(),
                reason: "the graph has no outputs".into(),
            });
        }
        for o in &outputs {
            if !self.shapes.contains_key(o) {
                return Err(GraphError::Format {
                    file: self.file.clone(),
                    reason: format!("output \"{o}\" is a constant or never computed"),
                });
            }
        }
        let used: std::collections::HashSet<&String> =
            self.nodes.iter().flat_map(|n| n.inputs.iter()).collect();
        let params = std::mem::take(&mut self.params)
            .into_iter()
            .filter(|(k, _)| used.contains(k))
            .collect();
        let graph = Graph {
            name: g.name.clone(),
            input: input.name.clone(),
            input_shape,
            outputs,
            nodes: std::mem::take(&mut self.nodes),
            params,
        };
        crate::shape::infer(&graph, 1).map_err(|e| self.relabel(e))?;
        Ok(graph)
    }

    /// Errors from shared code say "graph"; name the file instead.
    fn relabel(&self, e: GraphError) -> GraphError {
        match e {
            GraphError::Node {
                node,
                op_type,
                reason,
                ..
            } => GraphError::Node {
                file: self.file.clone(),
                node,
                op_type,
                reason,
            },
            e => e,
        }
    }

    fn input_shape(&self, i: &super::proto::onnx::ValueInfoProto) -> Result<Vec<usize>> {
        let err = |r: String| GraphError::Format {
            file: self.file.clone(),
            reason: format!("input \"{}\": {r}", i.name),
        };
        let t = i
            .type_
            .as_ref()
            .and_then(|t| match &t.value {
                Some(super::proto::onnx::type_proto::Value::TensorType(tt)) => Some(tt),
                _ => None,
            })
            .ok_or_else(|| err("not a tensor".into()))?;
        if t.elem_type != DataType::FLOAT as i32 {
            return Err(err(format!(
                "element type {} (float32 expected)",
                t.elem_type
            )));
        }
        let dims = &t.shape.as_ref().ok_or_else(|| err("no shape".into()))?.dim;
        let mut s = Vec::with_capacity(dims.len());
        for (k, d) in dims.iter().enumerate() {
            match d.value {
                Some(super::proto::onnx::tensor_shape_proto::dimension::Value::DimValue(v))
                    if v > 0 && v < 1 << 20 =>
                {
                    s.push(if k == 0 { 1 } else { v as usize })
                }
                _ if k == 0 => s.push(1),
                _ => {
                    return Err(err(format!(
                        "dimension {k} is not a fixed size; export with a static input shape (only the batch may be dynamic)"
                    )));
                }
            }
        }
        if s.len() < 2 {
            return Err(err(format!(
                "rank {} (batch plus at least one axis expected)",
                s.len()
            )));
        }
        if s.iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .is_none_or(|n| n > crate::shape::MAX_ELEMENTS)
        {
            return Err(err(format!(
                "shape {s:?} is too large (over 2^31 elements)"
            )));
        }
        Ok(s)
    }

    /// Decode an initializer or Constant tensor, checking sizes before allocating.
    fn tensor(&self, t: &TensorProto) -> Result<Const> {
        let name = if t.name.is_empty() {
            "(constant)"
        } else {
            &t.name
        };
        let mut n: u64 = 1;
        let mut shape = Vec::with_capacity(t.dims.len());
        for &d in &t.dims {
            if d < 0 {
                return Err(self.tensor_err(name, format!("negative dimension {d}")));
            }
            n = n
                .checked_mul(d as u64)
                .filter(|&n| n <= MAX_ELEMENTS)
                .ok_or_else(|| {
                    self.tensor_err(
                        name,
                        format!("shape {:?} is too large (over 2^31 elements)", t.dims),
                    )
                })?;
            shape.push(d as usize);
        }
        let n = n as usize;
        let external = t.data_location.value() == 1 || !t.external_data.is_empty();
        let raw: Option<Vec<u8>> = if external {
            Some(self.external(t, name)?)
        } else if !t.raw_data.is_empty() {
            Some(t.raw_data.to_vec())
        } else {
            None
        };
        let dt = t.data_type;
        let width = match dt {
            x if x == DataType::FLOAT as i32 || x == DataType::INT32 as i32 => 4,
            x if x == DataType::INT64 as i32 || x == DataType::DOUBLE as i32 => 8,
            x if x == DataType::FLOAT16 as i32 => 2,
            x if x == DataType::BOOL as i32
                || x == DataType::UINT8 as i32
                || x == DataType::INT8 as i32 =>
            {
                1
            }
            _ => return Err(self.tensor_err(name, format!("data type {dt} is not supported"))),
        };
        if let Some(r) = &raw
            && r.len() != n * width
        {
            return Err(self.tensor_err(
                name,
                format!(
                    "{} bytes of data for {n} elements of {width} bytes",
                    r.len()
                ),
            ));
        }
        let count = |len: usize| -> Result<()> {
            if len != n {
                return Err(self.tensor_err(name, format!("{len} values for shape {shape:?}")));
            }
            Ok(())
        };
        let vals = match (dt, raw) {
            (x, Some(r)) if x == DataType::FLOAT as i32 => Vals::F(
                r.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            (x, Some(r)) if x == DataType::FLOAT16 as i32 => Vals::F(
                r.chunks_exact(2)
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            ),
            (x, Some(r)) if x == DataType::DOUBLE as i32 => Vals::F(
                r.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
            ),
            (x, Some(r)) if x == DataType::INT64 as i32 => Vals::I(
                r.chunks_exact(8)
                    .map(|c| Some(i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))))
                    .collect(),
            ),
            (x, Some(r)) if x == DataType::INT32 as i32 => Vals::I(
                r.chunks_exact(4)
                    .map(|c| Some(i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64))
                    .collect(),
            ),
            (x, Some(r)) if x == DataType::UINT8 as i32 || x == DataType::BOOL as i32 => {
                Vals::I(r.iter().map(|&b| Some(b as i64)).collect())
            }
            (_, Some(r)) => Vals::I(r.iter().map(|&b| Some(b as i8 as i64)).take(n).collect()),
            (x, None) if x == DataType::FLOAT as i32 => {
                count(t.float_data.len())?;
                Vals::F(t.float_data.clone())
            }
            (x, None) if x == DataType::DOUBLE as i32 => {
                count(t.double_data.len())?;
                Vals::F(t.double_data.iter().map(|&v| v as f32).collect())
            }
            (x, None) if x == DataType::INT64 as i32 => {
                count(t.int64_data.len())?;
                Vals::I(t.int64_data.iter().map(|&v| Some(v)).collect())
            }
            (x, None) if x == DataType::FLOAT16 as i32 => {
                count(t.int32_data.len())?;
                Vals::F(t.int32_data.iter().map(|&v| f16_to_f32(v as u16)).collect())
            }
            (_, None) => {
                count(t.int32_data.len())?;
                Vals::I(t.int32_data.iter().map(|&v| Some(v as i64)).collect())
            }
        };
        Ok(Const { shape, vals })
    }

    /// The bytes of an externally stored tensor, read after its location, offset and length
    /// are checked against the file.
    fn external(&self, t: &TensorProto, name: &str) -> Result<Vec<u8>> {
        let get = |k: &str| {
            t.external_data
                .iter()
                .find(|e| e.key == k)
                .map(|e| e.value.as_str())
        };
        let loc = get("location")
            .ok_or_else(|| self.tensor_err(name, "external data without a location"))?;
        let rel = Path::new(loc);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(self.tensor_err(
                name,
                format!("external data location {loc:?} leaves the model's folder"),
            ));
        }
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| self.tensor_err(name, "external data needs the model's folder"))?;
        let path = dir.join(rel);
        let parse = |k: &str| -> Result<Option<u64>> {
            get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| self.tensor_err(name, format!("external {k} {v:?}")))
                })
                .transpose()
        };
        let offset = parse("offset")?.unwrap_or(0);
        let io = |e| GraphError::Io {
            path: path.clone(),
            source: e,
        };
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&path).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        let length = parse("length")?.unwrap_or(size.saturating_sub(offset));
        if offset.checked_add(length).is_none_or(|e| e > size) || length > MAX_ELEMENTS * 8 {
            return Err(self.tensor_err(
                name,
                format!("external data {loc}: offset {offset} + length {length} past the file's {size} bytes"),
            ));
        }
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut buf = vec![0u8; length as usize];
        f.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    }

    fn ints(&self, n: &NodeProto, input: usize, what: &str) -> Result<Option<Vec<Option<i64>>>> {
        let Some(name) = n.input.get(input).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        match self.consts.get(name) {
            Some(Const {
                vals: Vals::I(v), ..
            }) => Ok(Some(v.clone())),
            Some(Const {
                vals: Vals::F(v), ..
            }) => Ok(Some(v.iter().map(|&x| Some(x as i64)).collect())),
            None => Err(self.node_err(
                n,
                format!("{what} must be a constant (input \"{name}\" is computed at run time)"),
            )),
        }
    }

    fn known_ints(&self, n: &NodeProto, input: usize, what: &str) -> Result<Option<Vec<i64>>> {
        self.ints(n, input, what)?
            .map(|v| {
                v.into_iter()
                    .map(|x| {
                        x.ok_or_else(|| {
                            self.node_err(n, format!("{what} depends on the batch size"))
                        })
                    })
                    .collect()
            })
            .transpose()
    }

    fn float_scalar(&self, n: &NodeProto, input: usize) -> Result<Option<f32>> {
        let Some(name) = n.input.get(input).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        match self.consts.get(name) {
            Some(Const {
                vals: Vals::F(v), ..
            }) if v.len() == 1 => Ok(Some(v[0])),
            Some(Const {
                vals: Vals::I(v), ..
            }) if v.len() == 1 => v[0].map(|x| Some(x as f32)).ok_or_else(|| {
                self.node_err(n, format!("input \"{name}\" depends on the batch size"))
            }),
            _ => Err(self.node_err(n, format!("input \"{name}\" must be a constant scalar"))),
        }
    }

    fn attr_ints(&self, n: &NodeProto, name: &str) -> Option<Vec<i64>> {
        attr(n, name).map(|a| a.ints.clone())
    }

    fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
        attr(n, name).map_or(default, |a| a.i)
    }

    fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
        attr(n, name).map_or(default, |a| a.f)
    }

    fn node(&mut self, n: &NodeProto) -> Result<()> {
        if n.output.is_empty() {
            return Err(self.node_err(n, "no outputs"));
        }
        let out = &n.output[0];
        if out.is_empty()
            || self.consts.contains_key(out)
            || self.shapes.contains_key(out)
            || self.renames.contains_key(out)
        {
            return Err(self.node_err(
                n,
                format!("output \"{out}\" is already defined (an ONNX value is assigned once)"),
            ));
        }
        if n.op_type == "Constant" {
            let c = self.constant(n)?;
            self.consts.insert(n.output[0].clone(), c);
            return Ok(());
        }
        let all_const = n
            .input
            .iter()
            .all(|i| i.is_empty() || self.consts.contains_key(i));
        if all_const && let Some(c) = self.fold(n)? {
            self.consts.insert(n.output[0].clone(), c);
            return Ok(());
        }
        match n.op_type.as_str() {
            "Shape" => return self.shape_of(n),
            "Identity" | "Dropout" => {
                let src = n.input.first().cloned().unwrap_or_default();
                self.renames.insert(n.output[0].clone(), src);
                return Ok(());
            }
            _ => {}
        }
        let op = self.op(n)?;
        self.emit(n, op)
    }

    /// Add a node computing `op` over `n`'s run-time and parameter inputs.
    fn emit(&mut self, n: &NodeProto, op: Op) -> Result<()> {
        let data_inputs: usize = match &op {
            Op::Conv { .. } | Op::Gemm { .. } => 3,
            Op::BatchNorm { .. } => 5,
            Op::Mul | Op::Add | Op::Sub | Op::Div | Op::MatMul => 2,
            Op::Concat { .. } => n.input.len(),
            _ => 1,
        };
        let mut inputs = Vec::new();
        for name in n.input.iter().take(data_inputs) {
            if name.is_empty() {
                continue;
            }
            if !self.shapes.contains_key(name) {
                let c = self.consts.get(name).ok_or_else(|| {
                    self.node_err(
                        n,
                        format!("input \"{name}\" is not computed before this node"),
                    )
                })?;
                let data = match &c.vals {
                    Vals::F(v) => v.clone(),
                    Vals::I(v) => v
                        .iter()
                        .map(|x| x.map(|x| x as f32))
                        .collect::<Option<Vec<f32>>>()
                        .ok_or_else(|| {
                            self.node_err(n, format!("input \"{name}\" depends on the batch size"))
                        })?,
                };
                self.params
                    .insert(name.clone(), Tensor::new(c.shape.clone(), data));
            }
            inputs.push(name.clone());
        }
        let node = Node {
            name: n.name.clone(),
            op,
            inputs,
            outputs: vec![n.output[0].clone()],
        };
        let ins: Vec<&[usize]> = node
            .inputs
            .iter()
            .map(|i| {
                self.shapes
                    .get(i)
                    .map(Vec::as_slice)
                    .or_else(|| self.params.get(i).map(|t| t.shape.as_slice()))
                    .unwrap_or(&[])
            })
            .collect();
        let s = crate::shape::out_shape(&node, &ins).map_err(|e| self.relabel(e))?;
        let b = self.out_batch_axis(&node);
        self.shapes.insert(node.outputs[0].clone(), s);
        self.batch_axis.insert(node.outputs[0].clone(), b);
        self.nodes.push(node);
        Ok(())
    }

    fn out_batch_axis(&self, node: &Node) -> Option<usize> {
        let b = node
            .inputs
            .first()
            .and_then(|i| self.batch_axis.get(i).copied().flatten());
        match &node.op {
            Op::Transpose { perm } => b.and_then(|b| perm.iter().position(|&p| p == b)),
            Op::Reshape { shape } => shape.iter().position(|d| *d == Dim::Batch),
            Op::Flatten { axis } if *axis != 0 => b.map(|_| 0),
            Op::Flatten { .. } => None,
            _ => b,
        }
    }

    fn constant(&self, n: &NodeProto) -> Result<Const> {
        if let Some(a) = attr(n, "value") {
            let t =
                a.t.as_ref()
                    .ok_or_else(|| self.node_err(n, "value without a tensor"))?;
            return self.tensor(t);
        }
        if let Some(a) = attr(n, "value_float") {
            return Ok(Const {
                shape: vec![],
                vals: Vals::F(vec![a.f]),
            });
        }
        if let Some(a) = attr(n, "value_floats") {
            return Ok(Const {
                shape: vec![a.floats.len()],
                vals: Vals::F(a.floats.clone()),
            });
        }
        if let Some(a) = attr(n, "value_int") {
            return Ok(Const {
                shape: vec![],
                vals: Vals::I(vec![Some(a.i)]),
            });
        }
        if let Some(a) = attr(n, "value_ints") {
            return Ok(Const {
                shape: vec![a.ints.len()],
                vals: Vals::I(a.ints.iter().map(|&v| Some(v)).collect()),
            });
        }
        Err(self.node_err(n, "Constant without a supported value attribute"))
    }

    /// `Shape` of a run-time value: its static shape, the batch axis symbolic.
    fn shape_of(&mut self, n: &NodeProto) -> Result<()> {
        let x = n.input.first().cloned().unwrap_or_default();
        let s = self.shapes.get(&x).ok_or_else(|| {
            self.node_err(n, format!("input \"{x}\" is not computed before this node"))
        })?;
        let b = self.batch_axis.get(&x).copied().flatten();
        let mut v: Vec<Option<i64>> = s
            .iter()
            .enumerate()
            .map(|(i, &d)| if Some(i) == b { None } else { Some(d as i64) })
            .collect();
        let r = v.len() as i64;
        let clampi = |a: i64| (if a < 0 { a + r } else { a }).clamp(0, r) as usize;
        let start = clampi(Self::attr_i(n, "start", 0));
        let end = clampi(Self::attr_i(n, "end", r));
        v = v[start..end.max(start)].to_vec();
        self.consts.insert(
            n.output[0].clone(),
            Const {
                shape: vec![v.len()],
                vals: Vals::I(v),
            },
        );
        Ok(())
    }

    /// Evaluate a node whose inputs are all constants (shape arithmetic, folded weights).
    fn fold(&self, n: &NodeProto) -> Result<Option<Const>> {
        let get = |k: usize| n.input.get(k).and_then(|i| self.consts.get(i));
        let Some(x) = get(0) else {
            return Ok(None);
        };
        let ints = |c: &Const| -> Option<Vec<Option<i64>>> {
            match &c.vals {
                Vals::I(v) => Some(v.clone()),
                Vals::F(_) => None,
            }
        };
        let out = match n.op_type.as_str() {
            "Cast" => {
                let to = Self::attr_i(n, "to", 1);
                let vals = match (&x.vals, to) {
                    (Vals::F(v), t)
                        if t != DataType::FLOAT as i32 as i64
                            && t != DataType::DOUBLE as i32 as i64
                            && t != DataType::FLOAT16 as i32 as i64 =>
                    {
                        Vals::I(v.iter().map(|&f| Some(f as i64)).collect())
                    }
                    (Vals::I(v), t)
                        if t == DataType::FLOAT as i32 as i64
                            || t == DataType::DOUBLE as i32 as i64 =>
                    {
                        match v
                            .iter()
                            .map(|f| f.map(|f| f as f32))
                            .collect::<Option<Vec<f32>>>()
                        {
                            Some(f) => Vals::F(f),
                            None => {
                                return Err(self.node_err(
                                    n,
                                    "a value computed from the batch size is used as data; export with a fixed batch or without this arithmetic",
                                ));
                            }
                        }
                    }
                    (v, _) => v.clone(),
                };
                Const {
                    shape: x.shape.clone(),
                    vals,
                }
            }
            "Gather" => {
                let (Some(v), Some(idx)) = (ints(x), get(1).and_then(ints)) else {
                    return Ok(None);
                };
                if x.shape.len() != 1 || Self::attr_i(n, "axis", 0) != 0 {
                    return Ok(None);
                }
                let len = v.len() as i64;
                let mut out = Vec::new();
                for i in &idx {
                    let i = i.ok_or_else(|| self.node_err(n, "index depends on the batch size"))?;
                    let j = if i < 0 { i + len } else { i };
                    out.push(
                        *v.get(j as usize)
                            .filter(|_| j >= 0)
                            .ok_or_else(|| self.node_err(n, format!("index {i} out of range")))?,
                    );
                }
                let shape = get(1).map(|c| c.shape.clone()).unwrap_or_default();
                Const {
                    shape,
                    vals: Vals::I(out),
                }
            }
            "Unsqueeze" | "Squeeze" => {
                // shape-only change of a constant
                let axes = match self.attr_ints(n, "axes") {
                    Some(a) => a,
                    None => match get(1).and_then(ints) {
                        Some(a) => a.into_iter().map(|v| v.unwrap_or(0)).collect(),
                        None => vec![],
                    },
                };
                let mut shape = x.shape.clone();
                if n.op_type == "Unsqueeze" {
                    let r = (shape.len() + axes.len()) as i64;
                    let mut ax: Vec<usize> = axes
                        .iter()
                        .map(|&a| (if a < 0 { a + r } else { a }) as usize)
                        .collect();
                    ax.sort_unstable();
                    for a in ax {
                        if a > shape.len() {
                            return Err(self.node_err(n, "axis out of range"));
                        }
                        shape.insert(a, 1);
                    }
                } else {
                    let r = shape.len() as i64;
                    let ax: Vec<usize> = axes
                        .iter()
                        .map(|&a| (if a < 0 { a + r } else { a }) as usize)
                        .collect();
                    shape = shape
                        .iter()
                        .enumerate()
                        .filter(|(i, d)| !(**d == 1 && (ax.is_empty() || ax.contains(i))))
                        .map(|(_, d)| *d)
                        .collect();
                }
                Const {
                    shape,
                    vals: x.vals.clone(),
                }
            }
            "Concat" => {
                let mut out = Vec::new();
                let mut fl = Vec::new();
                for i in &n.input {
                    let c = self
                        .consts
                        .get(i)
                        .ok_or_else(|| self.node_err(n, "constant missing"))?;
                    if c.shape.len() > 1 {
                        return self.fold_float(n);
                    }
                    match &c.vals {
                        Vals::I(v) => out.extend(v.iter().copied()),
                        Vals::F(v) => fl.extend(v.iter().copied()),
                    }
                }
                if !fl.is_empty() && !out.is_empty() {
                    return self.fold_float(n);
                }
                if fl.is_empty() {
                    Const {
                        shape: vec![out.len()],
                        vals: Vals::I(out),
                    }
                } else {
                    Const {
                        shape: vec![fl.len()],
                        vals: Vals::F(fl),
                    }
                }
            }
            "ConstantOfShape" => {
                let Some(dims) = ints(x) else { return Ok(None) };
                let dims: Vec<usize> = dims
                    .into_iter()
                    .map(|d| d.filter(|&d| (0..1 << 20).contains(&d)).map(|d| d as usize))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        self.node_err(n, "shape depends on the batch size or is out of range")
                    })?;
                let total = dims
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
                    .filter(|&t| t <= MAX_CONSTANT)
                    .ok_or_else(|| self.node_err(n, "constant too large (over 2^26 elements)"))?;
                let v = match attr(n, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => self.tensor(t)?,
                    None => Const {
                        shape: vec![1],
                        vals: Vals::F(vec![0.0]),
                    },
                };
                let vals = match v.vals {
                    Vals::F(f) => Vals::F(vec![f.first().copied().unwrap_or(0.0); total]),
                    Vals::I(i) => Vals::I(vec![i.first().copied().flatten(); total]),
                };
                Const { shape: dims, vals }
            }
            "Mul" | "Add" | "Sub" | "Div" | "Equal" | "Where" | "Reshape" | "Slice" => {
                return self.fold_arith(n);
            }
            "Identity" | "Dropout" => x.clone(),
            "Shape" => {
                let v: Vec<Option<i64>> = x.shape.iter().map(|&d| Some(d as i64)).collect();
                Const {
                    shape: vec![v.len()],
                    vals: Vals::I(v),
                }
            }
            _ => {
                // an op on constant inputs (weights or pads computed at export): run it
                if SUPPORTED.contains(&n.op_type.as_str()) {
                    return self.fold_float(n);
                }
                return Ok(None);
            }
        };
        Ok(Some(out))
    }

    /// Element-wise integer arithmetic (and Reshape/Slice of 1-D constants) on shape values.
    fn fold_arith(&self, n: &NodeProto) -> Result<Option<Const>> {
        let get = |k: usize| n.input.get(k).and_then(|i| self.consts.get(i));
        let x = get(0).ok_or_else(|| self.node_err(n, "constant missing"))?;
        if let (Vals::F(_), "Mul" | "Add" | "Sub" | "Div") = (&x.vals, n.op_type.as_str()) {
            return self.fold_float(n);
        }
        match n.op_type.as_str() {
            "Reshape" => {
                let Some(t) = self.known_ints(n, 1, "shape")? else {
                    return Ok(None);
                };
                let total: usize = x.shape.iter().product();
                let node = Node {
                    name: n.name.clone(),
                    op: Op::Reshape {
                        shape: t.into_iter().map(Dim::Fixed).collect(),
                    },
                    inputs: vec![],
                    outputs: vec![],
                };
                let shape = crate::shape::reshape_target(
                    &node,
                    &x.shape,
                    match &node.op {
                        Op::Reshape { shape } => shape,
                        _ => unreachable!(),
                    },
                )
                .map_err(|e| self.relabel(e))?;
                debug_assert_eq!(shape.iter().product::<usize>(), total);
                return Ok(Some(Const {
                    shape,
                    vals: x.vals.clone(),
                }));
            }
            "Slice" => {
                let Vals::I(v) = &x.vals else {
                    return self.fold_float(n);
                };
                if x.shape.len() != 1 {
                    return self.fold_float(n);
                }
                let st = self.known_ints(n, 1, "starts")?.unwrap_or_default();
                let en = self.known_ints(n, 2, "ends")?.unwrap_or_default();
                let stp = self.known_ints(n, 4, "steps")?.unwrap_or(vec![1]);
                let (Some(&s), Some(&e)) = (st.first(), en.first()) else {
                    return Ok(None);
                };
                let step = stp.first().copied().unwrap_or(1);
                if step == 0 {
                    return Err(self.node_err(n, "step 0"));
                }
                let (b, stp, c) = crate::shape::slice_range(s, e, step, v.len());
                let out: Vec<Option<i64>> =
                    (0..c).map(|k| v[(b + k as i64 * stp) as usize]).collect();
                return Ok(Some(Const {
                    shape: vec![out.len()],
                    vals: Vals::I(out),
                }));
            }
            _ => {}
        }
        let (
            Vals::I(a),
            Some(Const {
                vals: Vals::I(b),
                shape: bs,
            }),
        ) = (&x.vals, get(1))
        else {
            return Ok(None);
        };
        if a.is_empty() || b.is_empty() {
            return Ok(None);
        }
        let len = a.len().max(b.len());
        let at = |v: &Vec<Option<i64>>, i: usize| {
            if v.len() == 1 {
                v[0]
            } else {
                v.get(i).copied().flatten()
            }
        };
        if !(a.len() == b.len() || a.len() == 1 || b.len() == 1) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            let (p, q) = (at(a, i), at(b, i));
            out.push(match (n.op_type.as_str(), p, q) {
                (_, None, _) | (_, _, None) => {
                    // arithmetic on the batch size: keep it symbolic only for x*1, x+0, x/1
                    match (n.op_type.as_str(), p, q) {
                        ("Mul" | "Div", None, Some(1)) | ("Add" | "Sub", None, Some(0)) => None,
                        ("Mul", Some(1), None) | ("Add", Some(0), None) => None,
                        _ => return Err(self.node_err(n, "arithmetic on the batch size is not supported; export with a fixed batch or dynamic batch only")),
                    }
                }
                ("Mul", Some(p), Some(q)) => Some(p.wrapping_mul(q)),
                ("Add", Some(p), Some(q)) => Some(p.wrapping_add(q)),
                ("Sub", Some(p), Some(q)) => Some(p.wrapping_sub(q)),
                // integer division truncates toward zero (onnxruntime's C++ semantics)
                ("Div", Some(p), Some(q)) => match p.checked_div(q) {
                    Some(v) => Some(v),
                    None => return Ok(None),
                },
                ("Equal", Some(p), Some(q)) => Some(i64::from(p == q)),
                _ => return Ok(None),
            });
        }
        if n.op_type == "Where" {
            return Ok(None);
        }
        let shape = if a.len() >= b.len() {
            x.shape.clone()
        } else {
            bs.clone()
        };
        Ok(Some(Const {
            shape,
            vals: Vals::I(out),
        }))
    }

    /// Run an op on constant inputs with the executor. Integer constants go through `f32`
    /// (exact below 2^24; larger ones, or ones holding the batch size, are not folded).
    fn fold_float(&self, n: &NodeProto) -> Result<Option<Const>> {
        let op = self.op(n)?;
        let take = match op {
            Op::Conv { .. } | Op::Gemm { .. } => 3,
            Op::BatchNorm { .. } => 5,
            Op::Mul | Op::Add | Op::Sub | Op::Div | Op::MatMul => 2,
            Op::Concat { .. } => n.input.len(),
            _ => 1,
        };
        let mut tensors = Vec::new();
        let mut int_input = false;
        for i in n.input.iter().take(take) {
            if i.is_empty() {
                continue;
            }
            let c = &self.consts[i];
            let data = match &c.vals {
                Vals::F(v) => v.clone(),
                Vals::I(v) => {
                    int_input |= tensors.is_empty();
                    let exact = |x: &Option<i64>| x.filter(|x| x.abs() < 1 << 24);
                    match v
                        .iter()
                        .map(|x| exact(x).map(|x| x as f32))
                        .collect::<Option<Vec<f32>>>()
                    {
                        Some(f) => f,
                        None => return Ok(None),
                    }
                }
            };
            tensors.push(Tensor::new(c.shape.clone(), data));
        }
        let node = Node {
            name: n.name.clone(),
            op,
            inputs: vec![],
            outputs: vec![],
        };
        let refs: Vec<&Tensor> = tensors.iter().collect();
        if refs.is_empty() {
            return Ok(None);
        }
        let y = crate::exec::eval(&node, &refs).map_err(|e| self.relabel(e))?;
        let vals = if int_input {
            Vals::I(y.data.iter().map(|&v| Some(v as i64)).collect())
        } else {
            Vals::F(y.data)
        };
        Ok(Some(Const {
            shape: y.shape,
            vals,
        }))
    }

    fn pair(&self, n: &NodeProto, name: &str, default: usize) -> Result<[usize; 2]> {
        match self.attr_ints(n, name) {
            None => Ok([default; 2]),
            Some(v) if v.len() == 2 && v.iter().all(|&x| (1..1 << 16).contains(&x)) => {
                Ok([v[0] as usize, v[1] as usize])
            }
            Some(v) => Err(self.node_err(
                n,
                format!("{name} {v:?}: two positive values expected (2-D only)"),
            )),
        }
    }

    /// Explicit pads from `pads` or `auto_pad`, for input `x` (NCHW).
    fn pads(
        &self,
        n: &NodeProto,
        kernel: [usize; 2],
        strides: [usize; 2],
        dil: [usize; 2],
    ) -> Result<[usize; 4]> {
        let auto = attr(n, "auto_pad")
            .map(|a| String::from_utf8_lossy(&a.s).to_string())
            .unwrap_or_default();
        match auto.as_str() {
            "" | "NOTSET" => match self.attr_ints(n, "pads") {
                None => Ok([0; 4]),
                Some(p) if p.len() == 4 && p.iter().all(|&x| (0..1 << 16).contains(&x)) => {
                    Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize])
                }
                Some(p) => {
                    Err(self.node_err(n, format!("pads {p:?}: four non-negative values expected")))
                }
            },
            "VALID" => Ok([0; 4]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let x = n
                    .input
                    .first()
                    .and_then(|i| self.shapes.get(i))
                    .ok_or_else(|| self.node_err(n, "auto_pad needs the input's shape"))?;
                if x.len() != 4 {
                    return Err(self.node_err(n, "auto_pad on a non-NCHW input"));
                }
                let mut p = [0usize; 4];
                for a in 0..2 {
                    let size = x[2 + a];
                    let out = size.div_ceil(strides[a]);
                    let need = ((out - 1) * strides[a] + dil[a] * (kernel[a] - 1) + 1)
                        .saturating_sub(size);
                    let (lo, hi) = if auto == "SAME_UPPER" {
                        (need / 2, need - need / 2)
                    } else {
                        (need - need / 2, need / 2)
                    };
                    p[a] = lo;
                    p[a + 2] = hi;
                }
                Ok(p)
            }
            other => Err(self.node_err(n, format!("auto_pad {other:?}"))),
        }
    }

    /// The op of a run-time node, its constant inputs folded into attributes.
    fn op(&self, n: &NodeProto) -> Result<Op> {
        Ok(match n.op_type.as_str() {
            "Conv" => {
                let w = n
                    .input
                    .get(1)
                    .and_then(|w| {
                        self.consts
                            .get(w)
                            .map(|c| c.shape.clone())
                            .or_else(|| self.shapes.get(w).cloned())
                    })
                    .ok_or_else(|| self.node_err(n, "weight missing"))?;
                if w.len() != 4 {
                    return Err(self.node_err(
                        n,
                        format!("weight of shape {w:?}: only 2-D convolutions are supported"),
                    ));
                }
                let kernel = match self.attr_ints(n, "kernel_shape") {
                    Some(_) => self.pair(n, "kernel_shape", 1)?,
                    None => [w[2], w[3]],
                };
                let strides = self.pair(n, "strides", 1)?;
                let dilations = self.pair(n, "dilations", 1)?;
                let g = Self::attr_i(n, "group", 1);
                if !(1..1 << 20).contains(&g) {
                    return Err(self.node_err(n, format!("group {g}")));
                }
                Op::Conv {
                    kernel,
                    strides,
                    pads: self.pads(n, kernel, strides, dilations)?,
                    dilations,
                    groups: g as usize,
                }
            }
            "BatchNormalization" => {
                if Self::attr_i(n, "training_mode", 0) != 0 {
                    return Err(self.node_err(n, "training mode; export the model in eval mode"));
                }
                Op::BatchNorm {
                    epsilon: Self::attr_f(n, "epsilon", 1e-5),
                }
            }
            "Relu" => Op::Relu,
            "Clip" => {
                let (lo, hi) = if self.opset >= 11 && n.input.len() > 1 {
                    (self.float_scalar(n, 1)?, self.float_scalar(n, 2)?)
                } else {
                    (attr(n, "min").map(|a| a.f), attr(n, "max").map(|a| a.f))
                };
                Op::Clip {
                    min: lo.unwrap_or(f32::NEG_INFINITY),
                    max: hi.unwrap_or(f32::INFINITY),
                }
            }
            "Sigmoid" => Op::Sigmoid,
            "HardSwish" => Op::HardSwish,
            "HardSigmoid" => Op::HardSigmoid {
                alpha: Self::attr_f(n, "alpha", 0.2),
                beta: Self::attr_f(n, "beta", 0.5),
            },
            "Mul" => Op::Mul,
            "Add" => Op::Add,
            "Sub" => Op::Sub,
            "Div" => Op::Div,
            "MaxPool" | "AveragePool" => {
                if self.attr_ints(n, "kernel_shape").is_none() {
                    return Err(self.node_err(n, "no kernel_shape"));
                }
                let kernel = self.pair(n, "kernel_shape", 0)?;
                let strides = self.pair(n, "strides", 1)?;
                let dil = self.pair(n, "dilations", 1)?;
                if dil != [1, 1] {
                    return Err(self.node_err(n, "dilated pooling is not supported"));
                }
                if n.output.len() > 1 && n.output[1..].iter().any(|o| !o.is_empty()) {
                    return Err(self.node_err(n, "the indices output of MaxPool is not supported"));
                }
                let pads = self.pads(n, kernel, strides, dil)?;
                let ceil_mode = Self::attr_i(n, "ceil_mode", 0) != 0;
                if n.op_type == "MaxPool" {
                    Op::MaxPool {
                        kernel,
                        strides,
                        pads,
                        ceil_mode,
                    }
                } else {
                    Op::AveragePool {
                        kernel,
                        strides,
                        pads,
                        ceil_mode,
                        count_include_pad: Self::attr_i(n, "count_include_pad", 0) != 0,
                    }
                }
            }
            "GlobalAveragePool" => Op::GlobalAveragePool,
            "ReduceMean" => {
                let axes = match self.attr_ints(n, "axes") {
                    Some(a) => a,
                    None => self.known_ints(n, 1, "axes")?.unwrap_or_default(),
                };
                if axes.is_empty() && Self::attr_i(n, "noop_with_empty_axes", 0) != 0 {
                    return Ok(Op::Identity);
                }
                Op::ReduceMean {
                    axes,
                    keepdims: Self::attr_i(n, "keepdims", 1) != 0,
                }
            }
            "Flatten" => Op::Flatten {
                axis: Self::attr_i(n, "axis", 1),
            },
            "Reshape" => {
                let t = self
                    .ints(n, 1, "the target shape")?
                    .ok_or_else(|| self.node_err(n, "no target shape"))?;
                let x = n.input.first().and_then(|i| self.shapes.get(i));
                let xb = n
                    .input
                    .first()
                    .and_then(|i| self.batch_axis.get(i).copied().flatten());
                let shape = t
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        None => Dim::Batch,
                        // a batch fixed at export time (the input's first axis): keep it the batch
                        Some(v)
                            if i == 0
                                && xb == Some(0)
                                && x.and_then(|x| x.first()).is_some_and(|&d| d as i64 == *v)
                                && *v == 1 =>
                        {
                            Dim::Batch
                        }
                        Some(v) => Dim::Fixed(*v),
                    })
                    .collect();
                if t.contains(&None) && xb != Some(0) {
                    return Err(self.node_err(
                        n,
                        "the target shape takes the batch size, but the batch is not the input's first axis",
                    ));
                }
                if Self::attr_i(n, "allowzero", 0) != 0 && t.contains(&Some(0)) {
                    return Err(self.node_err(
                        n,
                        "allowzero=1 with a 0 in the target shape is not supported",
                    ));
                }
                Op::Reshape { shape }
            }
            "Transpose" => {
                let r = n
                    .input
                    .first()
                    .and_then(|i| self.shapes.get(i))
                    .map_or(0, Vec::len);
                let perm = match self.attr_ints(n, "perm") {
                    Some(p) => p
                        .iter()
                        .map(|&v| usize::try_from(v).map_err(|_| self.node_err(n, "negative perm")))
                        .collect::<Result<_>>()?,
                    None => (0..r).rev().collect(),
                };
                Op::Transpose { perm }
            }
            "Squeeze" | "Unsqueeze" => {
                let axes = match self.attr_ints(n, "axes") {
                    Some(a) => a,
                    None => self.known_ints(n, 1, "axes")?.unwrap_or_default(),
                };
                if n.op_type == "Squeeze" {
                    Op::Squeeze { axes }
                } else {
                    Op::Unsqueeze { axes }
                }
            }
            "Slice" => {
                let starts = self
                    .known_ints(n, 1, "starts")?
                    .ok_or_else(|| self.node_err(n, "no starts"))?;
                let ends = self
                    .known_ints(n, 2, "ends")?
                    .ok_or_else(|| self.node_err(n, "no ends"))?;
                let axes = self
                    .known_ints(n, 3, "axes")?
                    .unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = self
                    .known_ints(n, 4, "steps")?
                    .unwrap_or_else(|| vec![1; starts.len()]);
                if ends.len() != starts.len()
                    || axes.len() != starts.len()
                    || steps.len() != starts.len()
                {
                    return Err(self.node_err(n, "starts, ends, axes and steps differ in length"));
                }
                Op::Slice {
                    starts,
                    ends,
                    axes,
                    steps,
                }
            }
            "Pad" => {
                let mode = attr(n, "mode")
                    .map(|a| String::from_utf8_lossy(&a.s).to_string())
                    .unwrap_or("constant".into());
                if mode != "constant" {
                    return Err(self.node_err(
                        n,
                        format!("mode {mode:?} (only constant padding is supported)"),
                    ));
                }
                let mut pads = self
                    .known_ints(n, 1, "pads")?
                    .ok_or_else(|| self.node_err(n, "no pads"))?;
                let value = self.float_scalar(n, 2)?.unwrap_or(0.0);
                if let Some(axes) = self.known_ints(n, 3, "axes")? {
                    let r = n
                        .input
                        .first()
                        .and_then(|i| self.shapes.get(i))
                        .map_or(0, Vec::len);
                    let mut full = vec![0i64; 2 * r];
                    for (k, &a) in axes.iter().enumerate() {
                        let a = if a < 0 { a + r as i64 } else { a } as usize;
                        if a >= r || pads.len() != 2 * axes.len() {
                            return Err(self.node_err(n, "pads and axes do not match"));
                        }
                        full[a] = pads[k];
                        full[a + r] = pads[k + axes.len()];
                    }
                    pads = full;
                }
                Op::Pad { pads, value }
            }
            "Gemm" => Op::Gemm {
                alpha: Self::attr_f(n, "alpha", 1.0),
                beta: Self::attr_f(n, "beta", 1.0),
                trans_a: Self::attr_i(n, "transA", 0) != 0,
                trans_b: Self::attr_i(n, "transB", 0) != 0,
            },
            "MatMul" => Op::MatMul,
            "Concat" => Op::Concat {
                axis: Self::attr_i(n, "axis", 0),
            },
            "Softmax" if self.opset < 13 => {
                // before opset 13: the input is seen as 2-D [prod(..axis), prod(axis..)]; the
                // same as a softmax over `axis` only when `axis` is the last non-unit axis
                let axis = Self::attr_i(n, "axis", 1);
                let x = n
                    .input
                    .first()
                    .and_then(|i| self.shapes.get(i))
                    .ok_or_else(|| self.node_err(n, "input shape unknown"))?;
                let a = crate::shape::norm_axis(
                    &Node {
                        name: n.name.clone(),
                        op: Op::Identity,
                        inputs: vec![],
                        outputs: vec![],
                    },
                    axis,
                    x.len(),
                )
                .map_err(|e| self.relabel(e))?;
                if x[a + 1..].iter().product::<usize>() != 1 {
                    return Err(self.node_err(n, "a softmax over several axes (opset < 13) is not supported; export with opset 13 or later"));
                }
                Op::Softmax { axis: a as i64 }
            }
            "Softmax" => Op::Softmax {
                axis: Self::attr_i(n, "axis", -1),
            },
            other => {
                return Err(GraphError::Unsupported {
                    file: self.file.clone(),
                    node: n.name.clone(),
                    op_type: other.into(),
                    supported: SUPPORTED.join(", "),
                });
            }
        })
    }
}

/// IEEE half to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let s = ((h >> 15) & 1) as u32;
    let e = ((h >> 10) & 0x1f) as u32;
    let m = (h & 0x3ff) as u32;
    let bits = match (e, m) {
        (0, 0) => s << 31,
        (0, m) => {
            // subnormal: normalise
            let mut e = 127 - 15 + 1;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            (s << 31) | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, m) => (s << 31) | (0xff << 23) | (m << 13),
        (e, m) => (s << 31) | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}
