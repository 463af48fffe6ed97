//! ONNX export (opset 17): every parameter as a float initializer under its own name, the
//! batch axis of the input and outputs dynamic, folded attributes written back as the
//! constant inputs ONNX expects.

use super::proto::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension::Value,
    type_proto,
};
use crate::ir::{Dim, Graph, Node, Op};
use crate::{GraphError, Result};
use protobuf::{EnumOrUnknown, Message, MessageField};
use std::path::Path;

/// The opset written.
pub const OPSET: i64 = 17;

/// Write `g` as an ONNX model at `path` (atomically: a temporary beside it, then a rename).
pub fn save(g: &Graph, path: &Path) -> Result<()> {
    write_atomic(path, &to_bytes(g)?)
}

/// Write `bytes` to `path` through a synced temporary beside it and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |e| GraphError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut tmp = tempfile_in(dir).map_err(io)?;
    use std::io::Write;
    tmp.1.write_all(bytes).map_err(io)?;
    tmp.1.sync_all().map_err(io)?;
    std::fs::rename(&tmp.0, path).map_err(io)
}

fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    for k in 0..1000u32 {
        let p = dir.join(format!(".evoprune-{}-{k}.onnx.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary name"))
}

fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let mut x = Dimension::new();
            x.value = Some(if i == 0 {
                Value::DimParam("batch".into())
            } else {
                Value::DimValue(d as i64)
            });
            x
        })
        .collect();
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = DataType::FLOAT as i32;
    tt.shape = MessageField::some(TensorShapeProto {
        dim,
        ..Default::default()
    });
    let mut t = TypeProto::new();
    t.value = Some(type_proto::Value::TensorType(tt));
    ValueInfoProto {
        name: name.into(),
        type_: MessageField::some(t),
        ..Default::default()
    }
}

fn float_tensor(name: &str, shape: &[usize], data: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.dims = shape.iter().map(|&d| d as i64).collect();
    t.data_type = DataType::FLOAT as i32;
    t.raw_data = data
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<u8>>();
    t
}

fn int_tensor(name: &str, data: &[i64]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.dims = vec![data.len() as i64];
    t.data_type = DataType::INT64 as i32;
    t.raw_data = data
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<u8>>();
    t
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: EnumOrUnknown::new(AttributeType::INTS),
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: EnumOrUnknown::new(AttributeType::INT),
        i: v,
        ..Default::default()
    }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: EnumOrUnknown::new(AttributeType::FLOAT),
        f: v,
        ..Default::default()
    }
}

fn u2i(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// The node's attributes and extra constant inputs (name, tensor).
fn attrs(
    n: &Node,
    prefix: &str,
    extra: &mut Vec<TensorProto>,
    out_shape: &[usize],
) -> Result<(Vec<AttributeProto>, Vec<String>)> {
    let mut c = |suffix: &str, v: &[i64]| {
        let name = format!("{prefix}::{suffix}");
        extra.push(int_tensor(&name, v));
        name
    };
    Ok(match &n.op {
        Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            groups,
        } => (
            vec![
                ints("kernel_shape", &u2i(kernel)),
                ints("strides", &u2i(strides)),
                ints("pads", &u2i(pads)),
                ints("dilations", &u2i(dilations)),
                int("group", *groups as i64),
            ],
            vec![],
        ),
        Op::BatchNorm { epsilon } => (vec![float("epsilon", *epsilon)], vec![]),
        Op::Clip { min, max } => {
            let mut names = Vec::new();
            for (s, v) in [("min", min), ("max", max)] {
                let name = format!("{prefix}::{s}");
                let mut t = float_tensor(&name, &[], &[*v]);
                t.dims.clear();
                extra.push(t);
                names.push(name);
            }
            (vec![], names)
        }
        Op::HardSigmoid { alpha, beta } => {
            (vec![float("alpha", *alpha), float("beta", *beta)], vec![])
        }
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        } => (
            vec![
                ints("kernel_shape", &u2i(kernel)),
                ints("strides", &u2i(strides)),
                ints("pads", &u2i(pads)),
                int("ceil_mode", *ceil_mode as i64),
            ],
            vec![],
        ),
        Op::AveragePool {
            kernel,
            strides,
            pads,
            ceil_mode,
            count_include_pad,
        } => (
            vec![
                ints("kernel_shape", &u2i(kernel)),
                ints("strides", &u2i(strides)),
                ints("pads", &u2i(pads)),
                int("ceil_mode", *ceil_mode as i64),
                int("count_include_pad", *count_include_pad as i64),
            ],
            vec![],
        ),
        Op::ReduceMean { axes, keepdims } => {
            let mut a = vec![int("keepdims", *keepdims as i64)];
            if !axes.is_empty() {
                a.push(ints("axes", axes));
            }
            (a, vec![])
        }
        Op::Flatten { axis } => (vec![int("axis", *axis)], vec![]),
        // the batch first and every other axis known: write [-1, d1, d2, ...], the form
        // converters back to PyTorch (onnx2torch) read; ONNX's 0 ("copy this axis") is not
        Op::Reshape { shape }
            if shape.first() == Some(&Dim::Batch)
                && !shape[1..].contains(&Dim::Batch)
                && out_shape.len() == shape.len() =>
        {
            let v: Vec<i64> = std::iter::once(-1)
                .chain(out_shape[1..].iter().map(|&d| d as i64))
                .collect();
            (vec![], vec![c("shape", &v)])
        }
        Op::Reshape { shape } => {
            let batches = shape.iter().filter(|d| **d == Dim::Batch).count();
            let has_infer = shape.contains(&Dim::Fixed(-1));
            let v: Vec<i64> = shape
                .iter()
                .enumerate()
                .map(|(i, d)| match d {
                    Dim::Batch if i == 0 => Ok(0),
                    Dim::Batch if batches == 1 && !has_infer => Ok(-1),
                    Dim::Batch => Err(GraphError::invalid(
                        format!("node {}", n.name),
                        "a batch axis that is not first cannot be written to ONNX",
                    )),
                    Dim::Fixed(v) => Ok(*v),
                })
                .collect::<Result<_>>()?;
            (vec![], vec![c("shape", &v)])
        }
        Op::Transpose { perm } => (vec![ints("perm", &u2i(perm))], vec![]),
        Op::Squeeze { axes } if axes.is_empty() => (vec![], vec![]),
        Op::Squeeze { axes } | Op::Unsqueeze { axes } => (vec![], vec![c("axes", axes)]),
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => (
            vec![],
            vec![
                c("starts", starts),
                c("ends", ends),
                c("axes", axes),
                c("steps", steps),
            ],
        ),
        Op::Pad { pads, value } => {
            let p = c("pads", pads);
            let name = format!("{prefix}::value");
            let mut t = float_tensor(&name, &[], &[*value]);
            t.dims.clear();
            extra.push(t);
            (vec![int_attr_mode()], vec![p, name])
        }
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => (
            vec![
                float("alpha", *alpha),
                float("beta", *beta),
                int("transA", *trans_a as i64),
                int("transB", *trans_b as i64),
            ],
            vec![],
        ),
        Op::Concat { axis } => (vec![int("axis", *axis)], vec![]),
        Op::Softmax { axis } => (vec![int("axis", *axis)], vec![]),
        _ => (vec![], vec![]),
    })
}

fn int_attr_mode() -> AttributeProto {
    AttributeProto {
        name: "mode".into(),
        type_: EnumOrUnknown::new(AttributeType::STRING),
        s: b"constant".to_vec(),
        ..Default::default()
    }
}

/// `g` as the bytes of an ONNX model.
pub fn to_bytes(g: &Graph) -> Result<Vec<u8>> {
    let shapes = crate::shape::infer(g, 1)?;
    let mut graph = GraphProto::new();
    graph.name = if g.name.is_empty() {
        "evoprune".into()
    } else {
        g.name.clone()
    };
    graph.input.push(value_info(&g.input, &g.input_shape));
    for o in &g.outputs {
        graph.output.push(value_info(o, &shapes[o]));
    }
    for (k, t) in &g.params {
        graph.initializer.push(float_tensor(k, &t.shape, &t.data));
    }
    let mut extra = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        // constant inputs are named after the node and its position: node names need not be
        // unique in ONNX, and the names must not meet a parameter's or a value's
        let out_shape = shapes.get(&n.outputs[0]).map_or(&[][..], |s| s.as_slice());
        let (mut attribute, more) = attrs(
            n,
            &format!("evoprune::{i}::{}", n.name),
            &mut extra,
            out_shape,
        )?;
        // attributes at their ONNX default of 0 are left out, as PyTorch's exporter does: in
        // this (proto3) encoding a 0 carries no value field, and converters that look for one
        // (onnx2torch) misread it (transA = 0 read as true)
        attribute.retain(|a| {
            !(a.i == 0
                && ["transA", "transB", "ceil_mode", "count_include_pad"]
                    .contains(&a.name.as_str()))
        });
        let mut input = n.inputs.clone();
        input.extend(more);
        graph.node.push(NodeProto {
            name: n.name.clone(),
            op_type: n.op.op_type().into(),
            input,
            output: n.outputs.clone(),
            attribute,
            ..Default::default()
        });
    }
    graph.initializer.extend(extra);
    let mut model = ModelProto::new();
    model.ir_version = 8;
    model.producer_name = "evoprune".into();
    model.producer_version = env!("CARGO_PKG_VERSION").into();
    model.opset_import.push(OperatorSetIdProto {
        domain: String::new(),
        version: OPSET,
        ..Default::default()
    });
    model.graph = MessageField::some(graph);
    model
        .write_to_bytes()
        .map_err(|e| GraphError::invalid("ONNX export", e.to_string()))
}
