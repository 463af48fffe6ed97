//! The prunable networks: one flat parameter vector, the prunable weight tensors in it (biases
//! are never pruned), mask-aware parameter and MAC counts, scoring, fine-tuning with fixed masks,
//! gradients (for Taylor importance) and weights I/O.
//!
//! A candidate is a keep-mask over the *weights* (all prunable tensors concatenated in layer
//! order: "weight index" `k`); [`Model::param_of`] maps it to the flat parameter index.

use crate::config::ModelKind;
use crate::{HierError, Result};
use evoprune_data::digits28::Part;
use evoprune_nn::dense::{DenseNet, DenseShape, LENET_300_100};
use evoprune_nn::lenet::{Dims, LeNet, Net, SolverConfig, T, count_errors};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

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

/// A prunable network with its trained parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Which network.
    pub kind: ModelKind,
    /// The parameters (PyTorch-compatible flat layout of the network).
    pub params: Vec<f32>,
    layers: Vec<Layer>,
    weight_param: Vec<u32>,
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
        Ok(Model {
            kind,
            params,
            layers,
            weight_param,
        })
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

    /// All parameters, biases included.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// The flat parameter index of weight `k`.
    #[inline]
    pub fn param_of(&self, k: usize) -> usize {
        self.weight_param[k] as usize
    }

    /// Dense multiply-accumulates per image.
    pub fn dense_macs(&self) -> usize {
        self.layers.iter().map(|l| l.weights.len() * l.uses).sum()
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
        Ok(match self.kind {
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
        Ok(match self.kind {
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
        Ok(count_errors(&self.logits(p, &part.x)?, &part.y) as f64 / part.len().max(1) as f64)
    }

    /// The same on the current rayon pool.
    pub fn error_par(&self, p: &[f32], part: &Part) -> Result<f64> {
        Ok(count_errors(&self.logits_par(p, &part.x)?, &part.y) as f64 / part.len().max(1) as f64)
    }

    /// Train parameters `p` (masked weights zero) with `keep` fixed; returns the new ones.
    pub fn train(
        &self,
        p: Vec<f32>,
        mask: Option<&[f32]>,
        part: &Part,
        solver: &SolverConfig,
        progress: impl FnMut(usize, usize),
    ) -> Result<Vec<f32>> {
        Ok(match self.kind {
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
        Ok(match self.kind {
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
        match self.kind {
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
        let weights: usize = self.n_weights();
        let biases = self.n_params() - weights;
        let params = biases + kept.iter().sum::<usize>();
        let macs = self.layers.iter().zip(&kept).map(|(l, k)| l.uses * k).sum();
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
        let keep = |k: usize| k % 2 == 0;
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
            assert_eq!(&Model::load(model.kind, &path).unwrap(), model);
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
}
