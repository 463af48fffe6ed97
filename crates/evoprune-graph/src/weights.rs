//! A network's parameters written as safetensors under their PyTorch names and (compacted)
//! shapes, with what pruning and quantization did to them recorded beside the weights.

use crate::ir::Graph;
use crate::{GraphError, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What was done to one parameter tensor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorRecord {
    /// Its shape in the file.
    pub shape: Vec<usize>,
    /// Entries that are not pruned (all of them without an unstructured mask).
    pub nonzero: usize,
    /// Bits per weight after quantization (32: not quantized).
    pub bits: u32,
}

/// Write `g`'s parameters to `path` (atomically) as safetensors with PyTorch's names and the
/// graph's shapes. `masks` (0/1 per entry, by name) zero pruned weights; `bits` records the
/// quantization each tensor went through (the values written are the dequantized ones). The
/// file's metadata holds one key, `evoprune`, whose JSON value maps every tensor to its
/// [`TensorRecord`]; `extra` adds entries to it (the method, the front member, ...).
pub fn save_safetensors(
    g: &Graph,
    path: &Path,
    masks: &HashMap<String, Vec<f32>>,
    bits: &HashMap<String, u32>,
    extra: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, TensorRecord>> {
    let mut data: BTreeMap<&String, Vec<u8>> = BTreeMap::new();
    let mut records = BTreeMap::new();
    for (k, t) in &g.params {
        let mut v = t.data.clone();
        if let Some(m) = masks.get(k) {
            if m.len() != v.len() {
                return Err(GraphError::invalid(
                    format!("mask of \"{k}\""),
                    format!("{} entries for {}", m.len(), v.len()),
                ));
            }
            v.iter_mut().zip(m).for_each(|(w, m)| *w *= m);
        }
        records.insert(
            k.clone(),
            TensorRecord {
                shape: t.shape.clone(),
                nonzero: v.iter().filter(|w| **w != 0.0).count(),
                bits: bits.get(k).copied().unwrap_or(32),
            },
        );
        data.insert(k, v.iter().flat_map(|x| x.to_le_bytes()).collect());
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(k, bytes)| {
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                g.params[*k].shape.clone(),
                bytes,
            )
            .map(|v| ((*k).clone(), v))
            .map_err(|e| GraphError::invalid(format!("tensor \"{k}\""), e.to_string()))
        })
        .collect::<Result<_>>()?;
    #[derive(Serialize)]
    struct Meta<'a> {
        tensors: &'a BTreeMap<String, TensorRecord>,
        #[serde(flatten)]
        extra: &'a BTreeMap<String, String>,
    }
    let meta = serde_json::to_string(&Meta {
        tensors: &records,
        extra,
    })
    .map_err(|e| GraphError::invalid("metadata", e.to_string()))?;
    // one metadata key: the file's bytes do not depend on a hash map's order
    let bytes =
        safetensors::serialize(views, Some(HashMap::from([("evoprune".to_string(), meta)])))
            .map_err(|e| GraphError::invalid(path.display().to_string(), e.to_string()))?;
    crate::onnx::write_atomic(path, &bytes)?;
    Ok(records)
}
