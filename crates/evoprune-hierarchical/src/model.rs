//! The prunable networks: one flat parameter vector, the prunable weight tensors in it (biases
//! are never pruned), mask-aware parameter and MAC counts, scoring, fine-tuning with fixed masks,
//! gradients (for Taylor importance) and weights I/O.
//!
//! A candidate is a keep-mask over the *weights* (all prunable tensors concatenated in layer
//! order: "weight index" `k`); [`Model::param_of`] maps it to the flat parameter index.
//!
//! Two kinds of network sit behind the same interface ([`Arch`]): the hand-written LeNets, and
//! any network given by a `[model]` section ([`GraphNet`]: an `evoprune_graph` classifier whose
//! parameters are laid out flat in name order, every convolution and linear weight prunable).

use crate::config::ModelKind;
use crate::{HierError, Result};
use evoprune_data::digits28::Part;
use evoprune_graph::Graph;
use evoprune_graph::net::{Masks, Net as GNet, correct};
use evoprune_graph::train::FineTune;
use evoprune_nn::dense::{DenseNet, DenseShape, LENET_300_100};
use evoprune_nn::lenet::{Dims, LeNet, Net, SolverConfig, T, count_errors};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// One prunable weight tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// PyTorch name of the tensor (`fc1.weight`, `conv2.weight`, ...).
    pub name: String,
    /// Its range in the flat parameter vector.
    pub params: Range<usize>,
    /// Its range in the weight index space.
    pub weights: Range<usize>,
    /// Multiply-accumulates each weight does per image (output positions of a conv kernel; 1
    /// for a dense weight).
    pub uses: usize,
}

/// Which network a [`Model`] is.
#[derive(Clone, Debug)]
pub enum Arch {
    /// A hand-written LeNet.
    Builtin(ModelKind),
    /// A network given by a `[model]` section.
    Graph(Arc<GraphNet>),
}

/// A `[model]` network: the classifier and where each of its parameters lies in the flat
/// vector (all parameters, batch-norm statistics included, concatenated in name order).
#[derive(Debug)]
pub struct GraphNet {
    /// The classifier (its graph holds the structure; weights come from the flat vector).
    pub net: GNet,
    /// Name, shape and flat range of every parameter, in name order.
    slots: Vec<(String, Vec<usize>, Range<usize>)>,
}

impl GraphNet {
    /// The network's graph with parameters `p` (flat layout).
    pub fn graph_of(&self, p: &[f32]) -> Graph {
        let mut g = self.net.graph.clone();
        for (name, _, r) in &self.slots {
            if let Some(t) = g.params.get_mut(name) {
                t.data.copy_from_slice(&p[r.clone()]);
            }
        }
        g
    }

    /// The flat parameters of `g` (this network's layout).
    pub fn flatten(&self, g: &Graph) -> Vec<f32> {
        let mut p = Vec::with_capacity(self.slots.last().map_or(0, |s| s.2.end));
        for (name, _, _) in &self.slots {
            p.extend_from_slice(&g.params[name].data);
        }
        p
    }
}

/// A prunable network with its trained parameters.
#[derive(Clone, Debug)]
pub struct Model {
    /// Which network.
    pub arch: Arch,
    /// The parameters (PyTorch-compatible flat layout of the network).
    pub params: Vec<f32>,
    layers: Vec<Layer>,
    weight_param: Vec<u32>,
    /// Parameters and MACs outside the prunable weights (biases, batch-norm scales, products
    /// of two activations), counted as they are in every candidate.
    fixed: [usize; 2],
}

impl PartialEq for Model {
    fn eq(&self, o: &Model) -> bool {
        let arch = match (&self.arch, &o.arch) {
            (Arch::Builtin(a), Arch::Builtin(b)) => a == b,
            (Arch::Graph(a), Arch::Graph(b)) => Arc::ptr_eq(a, b) || a.net.graph == b.net.graph,
            _ => false,
        };
        arch && self.params == o.params && self.layers == o.layers && self.fixed == o.fixed
    }
}

fn layers_of(kind: ModelKind) -> Vec<(String, Range<usize>, usize)> {
    match kind {
        ModelKind::Lenet300100 => {
            let s = DenseShape::new(&LENET_300_100).expect("valid");
            (0..3)
                .map(|l| (format!("fc{}.weight", l + 1), s.weight_range(l), 1))
                .collect()
        }
        ModelKind::Lenet => {
            let l = Dims::FULL.layout();
            vec![
                ("conv1.weight".into(), l.range(T::W1), 576),
                ("conv2.weight".into(), l.range(T::W2), 64),
                ("fc1.weight".into(), l.range(T::F1), 1),
                ("fc2.weight".into(), l.range(T::F2), 1),
            ]
        }
    }
}

impl Model {
    /// Wrap trained parameters (checked against the network's size).
    pub fn new(kind: ModelKind, params: Vec<f32>) -> Result<Model> {
        let total = n_params(kind);
        if params.len() != total {
            return Err(HierError::invalid(
                "parameters",
                format!("{} values, {kind:?} has {total}", params.len()),
            ));
        }
        let mut layers = Vec::new();
        let mut weight_param = Vec::new();
        for (name, r, uses) in layers_of(kind) {
            let start = weight_param.len();
            weight_param.extend(r.clone().map(|i| i as u32));
            layers.push(Layer {
                name,
                params: r,
                weights: start..weight_param.len(),
                uses,
            });
        }
        let fixed = [params.len() - weight_param.len(), 0];
        Ok(Model {
            arch: Arch::Builtin(kind),
            params,
            layers,
            weight_param,
            fixed,
        })
    }

    /// A `[model]` network with its own weights: one prunable layer per entry of
    /// `net.layers` (every convolution and linear weight).
    pub fn from_net(net: GNet) -> Result<Model> {
        if net.layers.is_empty() {
            return Err(HierError::invalid(
                "model",
                "the network has no convolution or linear weight to prune",
            ));
        }
        let mut slots = Vec::with_capacity(net.graph.params.len());
        let mut params = Vec::new();
        for (name, t) in &net.graph.params {
            let start = params.len();
            params.extend_from_slice(&t.data);
            slots.push((name.clone(), t.shape.clone(), start..params.len()));
        }
        let mut layers = Vec::new();
        let mut weight_param = Vec::new();
        for l in &net.layers {
            let r = slots
                .iter()
                .find(|s| s.0 == l.name)
                .map(|s| s.2.clone())
                .filter(|r| r.len() == l.len())
                .ok_or_else(|| {
                    HierError::invalid(
                        "model",
                        format!("weight \"{}\" is not a parameter of its size", l.name),
                    )
                })?;
            if r.end > u32::MAX as usize {
                return Err(HierError::invalid(
                    "model",
                    format!("{} parameters; at most 2^32 are supported", params.len()),
                ));
            }
            let start = weight_param.len();
            weight_param.extend(r.clone().map(|i| i as u32));
            layers.push(Layer {
                name: l.name.clone(),
                params: r,
                weights: start..weight_param.len(),
                uses: l.uses,
            });
        }
        let w_macs: usize = layers.iter().map(|l| l.weights.len() * l.uses).sum();
        let fixed = [
            net.dense.params.saturating_sub(weight_param.len()),
            net.dense.macs.saturating_sub(w_macs),
        ];
        Ok(Model {
            arch: Arch::Graph(Arc::new(GraphNet { net, slots })),
            params,
            layers,
            weight_param,
            fixed,
        })
    }

    /// The same network with parameters `params` (checked against its size).
    pub fn with_params(&self, params: Vec<f32>) -> Result<Model> {
        if params.len() != self.params.len() {
            return Err(HierError::invalid(
                "parameters",
                format!(
                    "{} values, the network has {}",
                    params.len(),
                    self.params.len()
                ),
            ));
        }
        Ok(Model {
            params,
            ..self.clone()
        })
    }

    /// The built-in network, if it is one.
    pub fn kind(&self) -> Option<ModelKind> {
        match self.arch {
            Arch::Builtin(k) => Some(k),
            Arch::Graph(_) => None,
        }
    }

    /// The `[model]` network, if it is one.
    pub fn graph_net(&self) -> Option<&Arc<GraphNet>> {
        match &self.arch {
            Arch::Graph(g) => Some(g),
            Arch::Builtin(_) => None,
        }
    }

    /// Values per input image (784 for the LeNets).
    pub fn input_len(&self) -> usize {
        match &self.arch {
            Arch::Builtin(_) => 784,
            Arch::Graph(g) => g.net.input_len(),
        }
    }

    /// The first `n` samples of `part` (all when `n` is 0 or larger), images of
    /// [`Model::input_len`] values.
    pub fn take(&self, part: &Part, n: usize) -> Part {
        let n = if n == 0 {
            part.len()
        } else {
            n.min(part.len())
        };
        let per = self.input_len();
        Part {
            x: part.x[..n * per].to_vec(),
            y: part.y[..n].to_vec(),
        }
    }

    /// The unstructured masks of a keep predicate over the weights (no group removed), as
    /// `evoprune_graph` takes them.
    pub fn masks(&self, keep: impl Fn(usize) -> bool) -> Masks {
        let entries = self
            .layers
            .iter()
            .map(|l| {
                let m = l.weights.clone().map(|k| keep(k) as u8 as f32).collect();
                (l.name.clone(), m)
            })
            .collect();
        Masks {
            keep: None,
            entries,
            bits: HashMap::new(),
        }
    }

    /// Fine-tune parameters `p` of a `[model]` network on `part` with `masks` held fixed
    /// (burn autodiff SGD); returns the new parameters. `progress(step, steps)` after every SGD
    /// step.
    pub fn fine_tune_graph(
        &self,
        p: &[f32],
        masks: &Masks,
        part: &Part,
        cfg: &FineTune,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<f32>> {
        let g = self.graph_net().ok_or_else(|| {
            HierError::invalid("fine-tuning", "the built-in LeNets train with their solver")
        })?;
        let mut graph = g.graph_of(p);
        if cfg.epochs > 0.0 {
            g.net
                .fine_tune(&mut graph, masks, &part.x, &part.y, cfg, |p| {
                    progress(p.step as usize, p.steps as usize)
                })?;
        }
        Ok(g.flatten(&graph))
    }

    /// A randomly initialised network (Glorot uniform, zero biases).
    pub fn random(kind: ModelKind, seed: u64) -> Model {
        let p = match kind {
            ModelKind::Lenet300100 => DenseNet::lenet_300_100(seed).params,
            ModelKind::Lenet => {
                Net::from_lenet(&LeNet::random(seed))
                    .expect("valid shapes")
                    .params
            }
        };
        Model::new(kind, p).expect("sizes match")
    }

    /// The prunable tensors, in weight-index order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Prunable weights (the length of a keep-mask).
    pub fn n_weights(&self) -> usize {
        self.weight_param.len()
    }

    /// All counted parameters, biases included (a `[model]` network's batch-norm running
    /// statistics are not learned and not counted, as in PyTorch).
    pub fn n_params(&self) -> usize {
        self.fixed[0] + self.n_weights()
    }

    /// The flat parameter index of weight `k`.
    #[inline]
    pub fn param_of(&self, k: usize) -> usize {
        self.weight_param[k] as usize
    }

    /// Dense multiply-accumulates per image.
    pub fn dense_macs(&self) -> usize {
        self.fixed[1]
            + self
                .layers
                .iter()
                .map(|l| l.weights.len() * l.uses)
                .sum::<usize>()
    }

    /// The parameters with the weights not in `keep` (one flag per weight) set to zero.
    pub fn masked_params(&self, keep: impl Fn(usize) -> bool) -> Vec<f32> {
        let mut p = self.params.clone();
        for (k, &i) in self.weight_param.iter().enumerate() {
            if !keep(k) {
                p[i as usize] = 0.0;
            }
        }
        p
    }

    /// The multiplier mask of a keep-mask (1 for biases), as the solver takes it.
    pub fn mask_vector(&self, keep: impl Fn(usize) -> bool) -> Vec<f32> {
        let mut m = vec![1.0f32; self.params.len()];
        for (k, &i) in self.weight_param.iter().enumerate() {
            if !keep(k) {
                m[i as usize] = 0.0;
            }
        }
        m
    }

    /// Logits of `x` (`n x 784`) under parameters `p`, one thread.
    pub fn logits(&self, p: &[f32], x: &[f32]) -> Result<Vec<f32>> {
        let kind = match &self.arch {
            Arch::Builtin(k) => *k,
            Arch::Graph(g) => return Ok(g.net.logits(&g.graph_of(p), x)?),
        };
        Ok(match kind {
            ModelKind::Lenet300100 => evoprune_nn::dense::logits_of(&dense_shape(), p, x)?,
            ModelKind::Lenet => Net {
                dims: Dims::FULL,
                params: p.to_vec(),
            }
            .logits(x)?,
        })
    }

    /// The same on the current rayon pool (identical values).
    pub fn logits_par(&self, p: &[f32], x: &[f32]) -> Result<Vec<f32>> {
        let kind = match &self.arch {
            Arch::Builtin(k) => *k,
            // the executor runs the images of a batch on the current pool
            Arch::Graph(_) => return self.logits(p, x),
        };
        Ok(match kind {
            ModelKind::Lenet300100 => {
                DenseNet::from_params(&LENET_300_100, p.to_vec())?.logits_par(x)?
            }
            ModelKind::Lenet => Net {
                dims: Dims::FULL,
                params: p.to_vec(),
            }
            .logits_par(x)?,
        })
    }

    /// Error rate of parameters `p` on `part` (one thread).
    pub fn error(&self, p: &[f32], part: &Part) -> Result<f64> {
        let l = self.logits(p, &part.x)?;
        Ok(self.wrong(&l, &part.y) as f64 / part.len().max(1) as f64)
    }

    /// The same on the current rayon pool.
    pub fn error_par(&self, p: &[f32], part: &Part) -> Result<f64> {
        let l = self.logits_par(p, &part.x)?;
        Ok(self.wrong(&l, &part.y) as f64 / part.len().max(1) as f64)
    }

    /// Misclassified rows of `logits`.
    fn wrong(&self, logits: &[f32], y: &[u32]) -> usize {
        match &self.arch {
            Arch::Builtin(_) => count_errors(logits, y),
            Arch::Graph(g) => y.len() - correct(logits, y, g.net.classes),
        }
    }

    /// Train parameters `p` (masked weights zero) with `keep` fixed; returns the new ones.
    ///
    /// A `[model]` network trains with burn autodiff SGD on `solver`'s whole `epochs`, `lr`,
    /// `momentum`, `weight_decay`, `batch` and `seed` (Caffe's learning-rate policy, bias
    /// multiplier and shards are the LeNets'), batch-norm statistics frozen.
    pub fn train(
        &self,
        p: Vec<f32>,
        mask: Option<&[f32]>,
        part: &Part,
        solver: &SolverConfig,
        progress: impl FnMut(usize, usize),
    ) -> Result<Vec<f32>> {
        let kind = match &self.arch {
            Arch::Builtin(k) => *k,
            Arch::Graph(_) => {
                let masks = match mask {
                    Some(m) => self.masks(|k| m[self.param_of(k)] != 0.0),
                    None => Masks::default(),
                };
                let cfg = FineTune {
                    lr: solver.lr,
                    momentum: solver.momentum,
                    weight_decay: solver.weight_decay,
                    epochs: solver.epochs.max(0.0),
                    batch: solver.batch,
                    seed: solver.seed,
                    batch_norm: evoprune_graph::train::BatchNorm::Batch,
                };
                return self.fine_tune_graph(&p, &masks, part, &cfg, progress);
            }
        };
        Ok(match kind {
            ModelKind::Lenet300100 => {
                let mut n = DenseNet::from_params(&LENET_300_100, p)?;
                evoprune_nn::dense::train_dense(&mut n, mask, &part.x, &part.y, solver, progress)?;
                n.params
            }
            ModelKind::Lenet => {
                let mut n = Net {
                    dims: Dims::FULL,
                    params: p,
                };
                evoprune_nn::lenet::train(&mut n, mask, &part.x, &part.y, solver, progress)?;
                n.params
            }
        })
    }

    /// Mean loss gradient of the trained parameters over `part`.
    pub fn gradient(&self, part: &Part) -> Result<Vec<f32>> {
        let kind = match &self.arch {
            Arch::Builtin(k) => *k,
            Arch::Graph(g) => {
                let graph = g.graph_of(&self.params);
                let grads =
                    evoprune_graph::train::gradients(&graph, &part.x, &part.y, &HashMap::new())?;
                let mut out = vec![0.0f32; self.params.len()];
                for (name, _, r) in &g.slots {
                    if let Some(v) = grads.get(name) {
                        out[r.clone()].copy_from_slice(v);
                    }
                }
                return Ok(out);
            }
        };
        Ok(match kind {
            ModelKind::Lenet300100 => {
                DenseNet::from_params(&LENET_300_100, self.params.clone())?
                    .loss_gradient(&part.x, &part.y)?
                    .1
            }
            ModelKind::Lenet => {
                Net {
                    dims: Dims::FULL,
                    params: self.params.clone(),
                }
                .loss_gradient(&part.x, &part.y)?
                .1
            }
        })
    }

    /// Named tensors (PyTorch names and shapes) of parameters `p`.
    pub fn tensors(&self, p: &[f32]) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let kind = match &self.arch {
            Arch::Builtin(k) => *k,
            Arch::Graph(g) => {
                return g
                    .slots
                    .iter()
                    .map(|(n, s, r)| (n.clone(), s.clone(), p[r.clone()].to_vec()))
                    .collect();
            }
        };
        match kind {
            ModelKind::Lenet300100 => {
                let n = DenseNet::from_params(&LENET_300_100, p.to_vec()).expect("sized");
                n.tensors()
                    .into_iter()
                    .map(|(k, s, v)| (k, s, v.to_vec()))
                    .collect()
            }
            ModelKind::Lenet => Net {
                dims: Dims::FULL,
                params: p.to_vec(),
            }
            .tensors()
            .into_iter()
            .map(|(k, s, v)| (k.to_string(), s, v))
            .collect(),
        }
    }

    /// Safetensors bytes of parameters `p` with `meta`.
    pub fn to_safetensors(&self, p: &[f32], meta: &HashMap<String, String>) -> Result<Vec<u8>> {
        let t = self.tensors(p);
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = t
            .into_iter()
            .map(|(k, s, v)| (k, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views: Vec<(String, TensorView<'_>)> = bytes
            .iter()
            .map(|(k, s, b)| {
                TensorView::new(Dtype::F32, s.clone(), b)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| HierError::invalid(k.clone(), e.to_string()))
            })
            .collect::<Result<_>>()?;
        safetensors::serialize(views, Some(meta.clone()))
            .map_err(|e| HierError::invalid("safetensors", e.to_string()))
    }

    /// Read trained weights (safetensors or PyTorch .pth) by PyTorch name; every tensor's
    /// presence, size and finiteness is checked, naming the file and tensor.
    pub fn load(kind: ModelKind, path: &Path) -> Result<Model> {
        let params = match kind {
            ModelKind::Lenet300100 => DenseNet::load(path, &LENET_300_100)?.params,
            ModelKind::Lenet => Net::load(path)?.params,
        };
        Model::new(kind, params)
    }

    /// The same network with the parameters stored in `path` by [`Model::to_safetensors`]
    /// (every tensor by name, its shape and values checked, naming the file and tensor).
    pub fn read_params(&self, path: &Path) -> Result<Model> {
        if let Some(kind) = self.kind() {
            return Model::load(kind, path);
        }
        let bad = |what: String| HierError::invalid(path.display().to_string(), what);
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut p = Vec::with_capacity(self.params.len());
        for (name, shape, v) in self.tensors(&self.params) {
            let t = st
                .tensor(&name)
                .map_err(|e| bad(format!("tensor \"{name}\": {e}")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
                return Err(bad(format!(
                    "tensor \"{name}\" is {:?} {:?}, expected F32 {shape:?}",
                    t.dtype(),
                    t.shape()
                )));
            }
            let data = t.data();
            debug_assert_eq!(data.len(), 4 * v.len());
            for c in data.chunks_exact(4) {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if !x.is_finite() {
                    return Err(bad(format!("tensor \"{name}\" holds {x}")));
                }
                p.push(x);
            }
        }
        self.with_params(p)
    }
}

fn dense_shape() -> DenseShape {
    DenseShape::new(&LENET_300_100).expect("valid")
}

/// Parameters of the dense network of `kind`.
pub fn n_params(kind: ModelKind) -> usize {
    match kind {
        ModelKind::Lenet300100 => 266_610,
        ModelKind::Lenet => 431_080,
    }
}

/// Kept weights per layer, kept parameters (biases always) and MACs of a keep-mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    /// Kept weights of each prunable tensor.
    pub kept: Vec<usize>,
    /// Kept parameters (weights + every bias).
    pub params: usize,
    /// Multiply-accumulates per image.
    pub macs: usize,
}

impl Model {
    /// Exact counts of a keep-mask given as kept weights per layer.
    pub fn counts(&self, kept: Vec<usize>) -> Counts {
        let params = self.fixed[0] + kept.iter().sum::<usize>();
        let macs = self.fixed[1]
            + self
                .layers
                .iter()
                .zip(&kept)
                .map(|(l, k)| l.uses * k)
                .sum::<usize>();
        Counts { kept, params, macs }
    }

    /// Counts of a keep predicate.
    pub fn counts_of(&self, keep: impl Fn(usize) -> bool) -> Counts {
        let kept = self
            .layers
            .iter()
            .map(|l| l.weights.clone().filter(|&k| keep(k)).count())
            .collect();
        self.counts(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_counts_and_io_of_both_models() {
        let m = Model::random(ModelKind::Lenet300100, 1);
        assert_eq!(m.n_params(), 266_610);
        assert_eq!(m.n_weights(), 266_200);
        assert_eq!(m.dense_macs(), 266_200);
        assert_eq!(m.layers()[1].params, 235_500..265_500);
        assert_eq!(m.param_of(235_200), 235_500);
        // hand-computed: keep 10 weights of fc1, 5 of fc3
        let c = m.counts(vec![10, 0, 5]);
        assert_eq!((c.params, c.macs), (410 + 15, 15));
        let l = Model::random(ModelKind::Lenet, 1);
        assert_eq!(l.n_weights(), 500 + 25_000 + 400_000 + 5_000);
        assert_eq!(l.dense_macs(), 2_293_000);
        // one conv1 weight = 576 MACs, one conv2 weight = 64
        let c = l.counts(vec![1, 1, 0, 0]);
        assert_eq!((c.params, c.macs), (580 + 2, 640));
        let keep = |k: usize| k.is_multiple_of(2);
        let c = l.counts_of(keep);
        assert_eq!(c.kept, vec![250, 12_500, 200_000, 2_500]);
        let p = l.masked_params(keep);
        assert_eq!(p[l.param_of(1)], 0.0);
        assert_eq!(p[l.param_of(2)], l.params[l.param_of(2)]);
        // save and load through safetensors
        let dir = tempfile::tempdir().unwrap();
        for model in [&m, &l] {
            let path = dir.path().join("w.safetensors");
            let bytes = model
                .to_safetensors(&model.params, &HashMap::new())
                .unwrap();
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(&Model::load(model.kind().unwrap(), &path).unwrap(), model);
            assert!(&model.read_params(&path).unwrap() == model);
        }
        // the wrong model for the file names the tensor
        let e = Model::load(ModelKind::Lenet300100, &dir.path().join("w.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fc1.weight") && e.contains("w.safetensors"),
            "{e}"
        );
    }

    fn resnet20() -> Model {
        let m = evoprune_graph::model::ModelConfig {
            arch: Some("resnet20".into()),
            input: Some([1, 8, 8]),
            ..Default::default()
        };
        Model::from_net(GNet::new(m.load(4).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn a_graph_network_prunes_every_conv_and_linear_weight_and_counts_as_the_graph_does() {
        let m = resnet20();
        let g = m.graph_net().unwrap().clone();
        assert_eq!(m.kind(), None);
        // one prunable layer per weight tensor of the network, in its order
        assert_eq!(m.layers().len(), g.net.layers.len());
        assert_eq!(m.layers().len(), 20);
        for (a, b) in m.layers().iter().zip(&g.net.layers) {
            assert_eq!(
                (&a.name, a.weights.len(), a.uses),
                (&b.name, b.len(), b.uses)
            );
            let t = &g.net.graph.params[&a.name];
            assert_eq!(&m.params[a.params.clone()], t.data.as_slice());
        }
        assert_eq!(m.n_params(), g.net.dense.params);
        assert_eq!(m.dense_macs(), g.net.dense.macs);
        assert_eq!(m.input_len(), 64);
        // the flat vector maps back to the graph
        assert_eq!(g.graph_of(&m.params), g.net.graph);
        assert_eq!(g.flatten(&g.net.graph), m.params);
        // a keep-mask decodes to entry masks counted exactly as the realized network is
        let keep = |k: usize| !k.is_multiple_of(3) && k % 7 != 1;
        let masks = m.masks(keep);
        assert!(masks.keep.is_none() && masks.bits.is_empty());
        assert_eq!(masks.entries.len(), 20);
        let l = &m.layers()[2];
        let e = &masks.entries[&l.name];
        for (j, k) in l.weights.clone().enumerate() {
            assert_eq!(e[j] == 1.0, keep(k));
        }
        let c = m.counts_of(keep);
        let s = g.net.stats(&masks).unwrap();
        assert_eq!((c.params, c.macs), (s.params, s.macs));
        // the masked flat parameters compute the masked network
        let x: Vec<f32> = (0..3 * 64)
            .map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0)
            .collect();
        let masked = g.net.masked(&g.net.graph, &masks).unwrap();
        assert_eq!(
            m.logits(&m.masked_params(keep), &x).unwrap(),
            g.net.logits(&masked, &x).unwrap()
        );
        // the same for the training mask: fine-tuning keeps pruned weights at zero
        let part = Part {
            x: x.clone(),
            y: vec![1, 2, 3],
        };
        let solver = SolverConfig {
            epochs: 1.0,
            batch: 2,
            lr: 0.01,
            ..SolverConfig::default()
        };
        let mask = m.mask_vector(keep);
        let tuned = m
            .train(
                m.masked_params(keep),
                Some(&mask),
                &part,
                &solver,
                |_, _| {},
            )
            .unwrap();
        assert_ne!(tuned, m.masked_params(keep));
        for k in 0..m.n_weights() {
            if !keep(k) {
                assert_eq!(tuned[m.param_of(k)], 0.0);
            }
        }
        // gradients: one per parameter, zero for the frozen batch-norm statistics
        let grad = m.gradient(&part).unwrap();
        assert_eq!(grad.len(), m.params.len());
        assert!(grad[l.params.clone()].iter().any(|v| *v != 0.0));
        // parameters stored and read back by name
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.safetensors");
        let t = m.with_params(tuned.clone()).unwrap();
        std::fs::write(&path, t.to_safetensors(&t.params, &HashMap::new()).unwrap()).unwrap();
        assert_eq!(m.read_params(&path).unwrap().params, tuned);
        let other = Model::random(ModelKind::Lenet300100, 1);
        let e = other.read_params(&path).unwrap_err().to_string();
        assert!(
            e.contains("fc1.weight") && e.contains("b.safetensors"),
            "{e}"
        );
        assert!(m.with_params(vec![0.0; 3]).is_err());
    }
}
