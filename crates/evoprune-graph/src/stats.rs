//! Parameters and multiply-accumulates, the size and compute objectives.

use crate::ir::{Graph, Op};
use crate::{Result, shape};
use serde::Serialize;

/// One layer's share.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// The node's name.
    pub name: String,
    /// The op type.
    pub op: String,
    /// The output shape for one input.
    pub output: Vec<usize>,
    /// Learned parameters of the node (batch-norm running statistics excluded).
    pub params: usize,
    /// Multiply-accumulates for one input (convolutions and matrix products).
    pub macs: usize,
}

/// Per-layer and total counts of `g` for one input.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// The layers in order.
    pub layers: Vec<Layer>,
    /// Learned parameters (as PyTorch counts them: batch-norm scale and shift, not its
    /// running statistics).
    pub params: usize,
    /// Multiply-accumulates of the convolutions and matrix products for one input.
    pub macs: usize,
}

/// Count `g`'s parameters and MACs.
pub fn stats(g: &Graph) -> Result<Stats> {
    let shapes = shape::infer(g, 1)?;
    let mut layers = Vec::new();
    for n in &g.nodes {
        let out = shapes[&n.outputs[0]].clone();
        let learned: &[usize] = match n.op {
            Op::BatchNorm { .. } => &[1, 2],
            _ => &[1, 2, 3, 4],
        };
        let params = learned
            .iter()
            .filter_map(|&k| n.inputs.get(k))
            .filter_map(|i| g.params.get(i))
            .map(|t| t.len())
            .sum::<usize>();
        let macs = match &n.op {
            Op::Conv { kernel, groups, .. } => {
                let cin = shapes[&n.inputs[0]][1];
                out.iter().product::<usize>() * (cin / groups) * kernel[0] * kernel[1]
            }
            Op::Gemm { trans_a, .. } => {
                let a = &shapes[&n.inputs[0]];
                let k = if *trans_a { a[0] } else { a[1] };
                out.iter().product::<usize>() * k
            }
            Op::MatMul => {
                let a = &shapes[&n.inputs[0]];
                out.iter().product::<usize>() * a[a.len() - 1]
            }
            _ => 0,
        };
        layers.push(Layer {
            name: n.name.clone(),
            op: n.op.op_type().into(),
            output: out,
            params,
            macs,
        });
    }
    // a parameter read by several nodes counts once
    let mut seen = std::collections::HashSet::new();
    let mut params = 0;
    for n in &g.nodes {
        let skip: &[usize] = match n.op {
            Op::BatchNorm { .. } => &[3, 4],
            _ => &[],
        };
        for (k, i) in n.inputs.iter().enumerate() {
            if !skip.contains(&k)
                && let Some(t) = g.params.get(i)
                && seen.insert(i.clone())
            {
                params += t.len();
            }
        }
    }
    let macs = layers.iter().map(|l| l.macs).sum();
    Ok(Stats {
        layers,
        params,
        macs,
    })
}

/// Parameters and MACs of `g` under unstructured masks (0/1 per weight entry, by parameter
/// name): a pruned weight is neither stored nor multiplied. A convolution weight entry costs
/// one MAC per output pixel, a linear weight entry one per output row, so the dense counts of
/// [`stats`] are the all-ones case.
pub fn sparse_stats(
    g: &Graph,
    masks: &std::collections::HashMap<String, Vec<f32>>,
) -> Result<Stats> {
    let dense = stats(g)?;
    let shapes = shape::infer(g, 1)?;
    for (k, m) in masks {
        match g.params.get(k) {
            Some(t) if t.len() == m.len() => {}
            _ => {
                return Err(crate::GraphError::invalid(
                    format!("mask of \"{k}\""),
                    "does not match a parameter of the network",
                ));
            }
        }
    }
    let kept = |name: &String| -> Option<usize> {
        masks
            .get(name)
            .map(|m| m.iter().filter(|v| **v != 0.0).count())
    };
    let mut layers = dense.layers.clone();
    for (l, n) in layers.iter_mut().zip(&g.nodes) {
        let Some(w) = n.inputs.get(1) else { continue };
        let Some(k) = kept(w) else { continue };
        let full = g.params.get(w).map_or(0, |t| t.len());
        l.params = l.params - full + k;
        let out = &shapes[&n.outputs[0]];
        l.macs = match n.op {
            Op::Conv { .. } => k * out[2..].iter().product::<usize>(),
            Op::Gemm { .. } | Op::MatMul => k * out[..out.len() - 1].iter().product::<usize>(),
            _ => l.macs,
        };
    }
    let removed: usize = masks
        .values()
        .map(|m| m.len() - m.iter().filter(|v| **v != 0.0).count())
        .sum();
    Ok(Stats {
        macs: layers.iter().map(|l| l.macs).sum(),
        layers,
        params: dense.params - removed,
    })
}
