//! Any network as MO-EvoPruneDeepTL's frozen backbone: an ONNX model cut at a named value.

use crate::{DeeptlError, Result};
use evoprune_graph::{Graph, Op, Tensor, fast, fold, onnx, shape, zoo};
use evoprune_vision::VisionError;
use std::path::Path;

/// An imported network (batch norms folded) and the value its features are read from.
pub struct GraphBackbone {
    /// The features' cache prefix: `onnx`, or `efficientnet-lite0` for the zoo's.
    name: &'static str,
    graph: Graph,
    /// The graph compiled for the fast executor, computing the cut.
    plan: fast::Plan,
    cut: String,
    dim: usize,
    size: usize,
}

impl GraphBackbone {
    /// Load the ONNX model at `path`; `cut` names the feature value (`None`: the input of the
    /// last Gemm/MatMul). The model must take `[N, 3, S, S]` images.
    pub fn load(path: &Path, cut: Option<&str>) -> Result<Self> {
        let graph = fold::fold_batch_norms(&onnx::load(path)?);
        Self::new("onnx", graph, &path.display().to_string(), cut)
    }

    /// The zoo's EfficientNet-Lite0 with the weights at `weights` (PyTorch's names, as
    /// evoprune-vision's), at `size` x `size` px, cut at its 1280 pooled features: the
    /// built-in backbone on the fast executor (within 1e-5 of evoprune-vision's burn model and
    /// of PyTorch, tested in evoprune-graph's zoo tests).
    pub fn efficientnet_lite0(weights: &Path, size: usize) -> Result<Self> {
        let mut g = zoo::build("efficientnet-lite0", 1000, [3, size, size], 0)?;
        zoo::load_weights(&mut g, weights)?;
        let graph = fold::fold_batch_norms(&g);
        Self::new(
            "efficientnet-lite0",
            graph,
            &weights.display().to_string(),
            Some(zoo::POOLED),
        )
    }

    fn new(name: &'static str, graph: Graph, file: &str, cut: Option<&str>) -> Result<Self> {
        let file = file.to_string();
        let [_, 3, h, w] = graph.input_shape[..] else {
            return Err(DeeptlError::invalid(
                "features.weights",
                format!(
                    "{file}: input of shape {:?}; [N, 3, S, S] images expected",
                    graph.input_shape
                ),
            ));
        };
        if h != w || !(8..=4096).contains(&h) {
            return Err(DeeptlError::invalid(
                "features.weights",
                format!("{file}: input {h}x{w}; a square input of 8 to 4096 px expected"),
            ));
        }
        let cut = match cut {
            Some(c) => c.to_string(),
            None => graph
                .nodes
                .iter()
                .rev()
                .find(|n| matches!(n.op, Op::Gemm { .. } | Op::MatMul))
                .map(|n| n.inputs[0].clone())
                .ok_or_else(|| {
                    DeeptlError::invalid(
                        "features.cut",
                        format!("{file} has no Gemm/MatMul layer: name the feature value"),
                    )
                })?,
        };
        let shapes = shape::infer(&graph, 1)?;
        let s = shapes.get(&cut).ok_or_else(|| {
            let mut names: Vec<&String> = graph.nodes.iter().map(|n| &n.outputs[0]).collect();
            names.truncate(12);
            DeeptlError::invalid(
                "features.cut",
                format!("{file} computes no value \"{cut}\" (values: {names:?}, ...)"),
            )
        })?;
        // the features of one sample must be that sample's: the cut keeps the batch first
        let two = shape::infer(&graph, 2)?;
        if s.len() < 2 || two.get(&cut).is_none_or(|t| t[0] != 2 || t[1..] != s[1..]) {
            return Err(DeeptlError::invalid(
                "features.cut",
                format!("\"{cut}\" in {file} does not keep one row per sample (shape {s:?})"),
            ));
        }
        let dim = s[1..].iter().product();
        let plan = fast::Plan::with_outputs(&graph, std::slice::from_ref(&cut))?;
        Ok(GraphBackbone {
            name,
            graph,
            plan,
            cut,
            dim,
            size: h,
        })
    }

    /// The square input size.
    pub fn input_size(&self) -> usize {
        self.size
    }

    /// The feature value's name.
    pub fn cut(&self) -> &str {
        &self.cut
    }

    /// The network as the features are computed (batch norms folded), truncated to the nodes
    /// the cut value depends on, with only their parameters; its one output is the cut value.
    pub fn truncated(&self) -> Graph {
        let g = &self.graph;
        let mut needed: std::collections::HashSet<&str> = [self.cut.as_str()].into();
        let mut keep = vec![false; g.nodes.len()];
        for (i, n) in g.nodes.iter().enumerate().rev() {
            if n.outputs.iter().any(|o| needed.contains(o.as_str())) {
                keep[i] = true;
                needed.extend(n.inputs.iter().map(String::as_str));
            }
        }
        let nodes: Vec<_> = g
            .nodes
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(n, _)| n.clone())
            .collect();
        let params = g
            .params
            .iter()
            .filter(|(k, _)| nodes.iter().any(|n| n.inputs.contains(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Graph {
            name: g.name.clone(),
            input: g.input.clone(),
            input_shape: g.input_shape.clone(),
            outputs: vec![self.cut.clone()],
            nodes,
            params,
        }
    }
}

impl evoprune_vision::extract::Backbone for GraphBackbone {
    fn cache_name(&self) -> &str {
        self.name
    }
    fn cache_extra(&self) -> String {
        // the executor is part of the key: features from evoprune-vision's burn model (an
        // empty extra) are not taken for these, which differ in the last bits
        format!("cut={}|executor=fast", self.cut)
    }
    fn batches_at_once(&self) -> usize {
        // the fast executor spreads one batch over the whole pool
        1
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn features_of(
        &self,
        x: &[f32],
        n: usize,
        h: usize,
        w: usize,
    ) -> evoprune_vision::Result<Vec<f32>> {
        let t = Tensor::new(vec![n, 3, h, w], x.to_vec());
        let mut y = self
            .plan
            .run(&t)
            .map_err(|e| VisionError::Unsupported(e.to_string()))?;
        let f = y.remove(0).data;
        if f.len() != n * self.dim {
            return Err(VisionError::Shape(format!(
                "{} features for {n} samples of {}",
                f.len(),
                self.dim
            )));
        }
        Ok(f)
    }
}
