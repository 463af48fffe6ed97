//! A compression plan for a network's convolution and linear layers, its mixed genome, and the
//! real evaluation: the built-in LeNet (conv1, conv2: the conv layers; fc1, fc2: the linear
//! layers) or any network of `[model]` (every convolution and linear weight tensor of
//! `net.layers`, in order).
//!
//! The genome follows the paper's (Ferreira et al. 2023: pruning mode and amount for linear and
//! for conv layers, what to prune, quantization), with per-layer amounts and per-layer weight
//! precision added as the issue asks. With `L` layers (4 for LeNet):
//!
//! | part | genes |
//! | --- | --- |
//! | reals (2 + L), in `[0, max_amount]` | conv amount (global), linear amount (global), the amount of each layer (per layer) |
//! | ints (4 + L) | conv mode, linear mode (0 none, 1 global, 2 per layer); target (0 weights, 1 biases, 2 both); dynamic int8 linear layers (0/1); the precision of each layer (0 f32, 1 int8, 2 int4) |
//!
//! Pruning is L1 unstructured, without fine-tuning, as the paper's: "global" removes the
//! smallest-magnitude fraction of all the type's targeted tensors together (PyTorch's
//! `global_unstructured`), "per layer" each tensor by its layer's amount (`l1_unstructured`).
//! Quantization then applies per layer (symmetric per-channel, [`evoprune_nn::quant`]); with the
//! dynamic flag the linear layers run PyTorch-style dynamic int8 instead.
//!
//! On a `[model]` network ([`Genes::graph`]) the target gene is fixed to weights (its masks
//! cover convolution and linear weights, not biases) and the dynamic gene is fixed off (a plain
//! float ONNX file cannot carry dynamic activation quantization): both have the integer bounds
//! `[0, 0]`, and a plan asking for either is refused naming the gene. The plan becomes
//! [`Masks`] (`entries`: the pruned weights; `bits`: 8 or 4 per quantized tensor) and is scored
//! on the realized network.

use crate::{CompressError, Result};
use evoprune::{BitString, IntBounds, IntVector, MixedBounds, MixedGenome, RealBounds, RealVector};
use evoprune_data::digits28::Part;
use evoprune_graph::Graph;
use evoprune_graph::net::{Masks, Net as GraphNet};
use evoprune_nn::lenet::{Dims, Net, T, count_errors};
use evoprune_nn::quant::{Precision, dynamic_int8_weights, fake_quantize, weight_bytes};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;

/// The layers: name, weight tensor, bias tensor, output channels, linear?
pub const LAYERS: [(&str, T, T, usize, bool); 4] = [
    ("conv1", T::W1, T::B1, 20, false),
    ("conv2", T::W2, T::B2, 50, false),
    ("fc1", T::F1, T::Fb1, 500, true),
    ("fc2", T::F2, T::Fb2, 10, true),
];

/// How a layer type is pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Not pruned.
    None,
    /// One amount over all the type's tensors together.
    Global,
    /// Each layer by its own amount.
    PerLayer,
}

/// Which tensors are pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Weights only.
    Weights,
    /// Biases only.
    Biases,
    /// Both.
    Both,
}

/// The shape of a network's genome: how many layers, and which of the LeNet-only genes are
/// free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Genes {
    /// Convolution and linear layers: one amount and one precision gene each.
    pub layers: usize,
    /// The target gene may ask for biases (bounds `[0, 2]`; else `[0, 0]`: weights).
    pub biases: bool,
    /// The dynamic int8 gene is free (bounds `[0, 1]`; else `[0, 0]`: off).
    pub dynamic: bool,
}

impl Genes {
    /// The built-in LeNet's: 4 layers, every gene free (6 reals, 8 ints).
    pub const LENET: Genes = Genes {
        layers: 4,
        biases: true,
        dynamic: true,
    };

    /// A `[model]` network's with `layers` convolution and linear weight tensors: weights only,
    /// no dynamic quantization.
    pub fn graph(layers: usize) -> Genes {
        Genes {
            layers,
            biases: false,
            dynamic: false,
        }
    }

    /// The genome that changes nothing (no pruning, f32 everywhere).
    pub fn dense(&self) -> MixedGenome {
        MixedGenome {
            reals: RealVector(vec![0.0; 2 + self.layers]),
            ints: IntVector(vec![0; 4 + self.layers]),
            bits: BitString::zeros(0),
        }
    }
}

/// A decoded genome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Conv and linear pruning modes.
    pub modes: [Mode; 2],
    /// Global amounts (conv, linear).
    pub global: [f64; 2],
    /// Per-layer amounts (LeNet: conv1, conv2, fc1, fc2; a network: `net.layers`' order).
    pub per_layer: Vec<f64>,
    /// What is pruned.
    pub target: Target,
    /// Dynamic int8 linear layers.
    pub dynamic: bool,
    /// Weight precision per layer (the linear layers' is ignored when `dynamic`).
    pub precision: Vec<Precision>,
}

/// The genome's bounds for `genes`, amounts in `[0, max_amount]`.
pub fn bounds(max_amount: f64, genes: Genes) -> Result<MixedBounds> {
    if genes.layers == 0 {
        return Err(CompressError::invalid(
            "model",
            "the network has no convolution or linear weights to compress",
        ));
    }
    let mut upper = vec![
        2,
        2,
        if genes.biases { 2 } else { 0 },
        i64::from(genes.dynamic),
    ];
    upper.extend(std::iter::repeat_n(2, genes.layers));
    Ok(MixedBounds {
        reals: RealBounds::uniform(2 + genes.layers, 0.0, max_amount)?,
        ints: IntBounds::new(vec![0; upper.len()], upper)?,
        n_bits: 0,
    })
}

fn precision(v: i64) -> Precision {
    match v {
        1 => Precision::Int8,
        2 => Precision::Int4,
        _ => Precision::F32,
    }
}

/// Decode a genome of `2 + L` reals and `4 + L` ints (any `L >= 1`; [`Plan::check`] matches it
/// to a network).
pub fn decode(g: &MixedGenome) -> Result<Plan> {
    let (r, i) = (&g.reals.0, &g.ints.0);
    if r.len() < 3 || i.len() != r.len() + 2 || r.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(CompressError::invalid(
            "genome",
            format!(
                "{} reals in [0, 1] and {} ints; a plan of L >= 1 layers needs 2 + L and 4 + L",
                r.len(),
                i.len()
            ),
        ));
    }
    let mode = |v: i64| match v {
        1 => Mode::Global,
        2 => Mode::PerLayer,
        _ => Mode::None,
    };
    Ok(Plan {
        modes: [mode(i[0]), mode(i[1])],
        global: [r[0], r[1]],
        per_layer: r[2..].to_vec(),
        target: match i[2] {
            1 => Target::Biases,
            2 => Target::Both,
            _ => Target::Weights,
        },
        dynamic: i[3] == 1,
        precision: i[4..].iter().map(|&v| precision(v)).collect(),
    })
}

/// Zero the `amount` fraction of smallest magnitudes among the `ranges` of `p`, together
/// (ties by position).
fn prune_together(p: &mut [f32], ranges: &[Range<usize>], amount: f64) {
    let mut idx: Vec<usize> = ranges.iter().flat_map(|r| r.clone()).collect();
    let k = ((amount * idx.len() as f64).round() as usize).min(idx.len());
    if k == 0 {
        return;
    }
    idx.sort_by(|&a, &b| p[a].abs().total_cmp(&p[b].abs()).then(a.cmp(&b)));
    for &i in &idx[..k] {
        p[i] = 0.0;
    }
}

impl Plan {
    /// Check that the plan fits `genes`: one amount and one precision per layer, and no gene
    /// the network cannot take (errors name the gene: `target`, `dynamic`).
    pub fn check(&self, genes: Genes) -> Result<()> {
        if self.per_layer.len() != genes.layers || self.precision.len() != genes.layers {
            return Err(CompressError::invalid(
                "genome",
                format!(
                    "a plan for {} layers; the network has {}",
                    self.per_layer.len(),
                    genes.layers
                ),
            ));
        }
        if !genes.biases && self.target != Target::Weights {
            return Err(CompressError::invalid(
                "target",
                "a [model] network prunes weights only: its masks cover convolution and linear \
                 weights, not biases (the gene is fixed to 0, weights)",
            ));
        }
        if !genes.dynamic && self.dynamic {
            return Err(CompressError::invalid(
                "dynamic",
                "dynamic int8 activations cannot be exported as a plain float ONNX network; the \
                 gene is fixed off for [model] networks",
            ));
        }
        Ok(())
    }

    /// Zero the pruned entries of `p`, whose layer `k` has the targeted tensors `tensors(k)`
    /// and is linear when `linear[k]` (conv type first, then linear; global: the type's tensors
    /// together, per layer: each tensor by its layer's amount).
    fn prune(&self, p: &mut [f32], linear: &[bool], tensors: impl Fn(usize) -> Vec<Range<usize>>) {
        for ty in 0..2 {
            let layers: Vec<usize> = (0..linear.len())
                .filter(|&k| linear[k] == (ty == 1))
                .collect();
            match self.modes[ty] {
                Mode::None => {}
                Mode::Global => {
                    let all: Vec<_> = layers.iter().flat_map(|&k| tensors(k)).collect();
                    prune_together(p, &all, self.global[ty]);
                }
                Mode::PerLayer => {
                    for &k in &layers {
                        for r in tensors(k) {
                            prune_together(p, &[r], self.per_layer[k]);
                        }
                    }
                }
            }
        }
    }

    /// The pruned (and statically quantized) LeNet.
    pub fn apply(&self, net: &Net) -> Result<Net> {
        if net.dims != Dims::FULL {
            return Err(CompressError::invalid(
                "network",
                "plans apply to the full LeNet",
            ));
        }
        self.check(Genes::LENET)?;
        let l = net.dims.layout();
        let mut p = net.params.clone();
        let linear = LAYERS.map(|x| x.4);
        self.prune(&mut p, &linear, |layer| {
            let (_, w, b, _, _) = LAYERS[layer];
            match self.target {
                Target::Weights => vec![l.range(w)],
                Target::Biases => vec![l.range(b)],
                Target::Both => vec![l.range(w), l.range(b)],
            }
        });
        for (k, (_, w, _, rows, linear)) in LAYERS.iter().enumerate() {
            if *linear && self.dynamic {
                continue;
            }
            let r = l.range(*w);
            let cols = r.len() / rows;
            let q = fake_quantize(&p[r.clone()], *rows, cols, self.precision[k])?;
            p[r].copy_from_slice(&q);
        }
        Ok(Net {
            dims: net.dims,
            params: p,
        })
    }

    /// Non-zero parameters of the compressed LeNet (after rounding, as deployed) and its
    /// storage in bytes.
    pub fn footprint(&self, compressed: &Net) -> (usize, usize) {
        let l = compressed.dims.layout();
        let mut nonzero = 0;
        let mut bytes = 0;
        for (k, (_, w, b, rows, linear)) in LAYERS.iter().enumerate() {
            let r = l.range(*w);
            let cols = r.len() / rows;
            let (nz, prec) = if *linear && self.dynamic {
                let d = dynamic_int8_weights(&compressed.params[r.clone()]);
                (d.iter().filter(|v| **v != 0.0).count(), Precision::Int8)
            } else {
                let nz = compressed.params[r].iter().filter(|v| **v != 0.0).count();
                (nz, self.precision[k])
            };
            let mut wb = weight_bytes(*rows, cols, nz, prec);
            if *linear && self.dynamic {
                // one per-tensor scale instead of one per row
                wb = wb - 4 * rows + 4;
            }
            let br = l.range(*b);
            nonzero += nz
                + compressed.params[br.clone()]
                    .iter()
                    .filter(|v| **v != 0.0)
                    .count();
            bytes += wb + 4 * br.len();
        }
        (nonzero, bytes)
    }

    /// The plan as masks of the `[model]` network `net` with weights `weights` (full size, the
    /// network's layout): the pruned entries of every pruned layer (magnitudes of `weights`),
    /// and 8 or 4 bits per quantized layer.
    pub fn masks(&self, net: &GraphNet, weights: &Graph) -> Result<Masks> {
        self.check(Genes::graph(net.layers.len()))?;
        let mut offsets = Vec::with_capacity(net.layers.len());
        let mut flat = Vec::new();
        for l in &net.layers {
            let t = weights.params.get(&l.name).filter(|t| t.len() == l.len());
            let t = t.ok_or_else(|| {
                CompressError::invalid(
                    format!("weights \"{}\"", l.name),
                    "missing or of another size than the network's layer",
                )
            })?;
            offsets.push(flat.len()..flat.len() + t.len());
            flat.extend_from_slice(&t.data);
        }
        let before = flat.clone();
        let linear: Vec<bool> = net.layers.iter().map(|l| l.linear).collect();
        self.prune(&mut flat, &linear, |k| vec![offsets[k].clone()]);
        let mut entries = HashMap::new();
        let mut bits = HashMap::new();
        for (k, l) in net.layers.iter().enumerate() {
            let r = offsets[k].clone();
            if flat[r.clone()] != before[r.clone()] {
                let m = flat[r]
                    .iter()
                    .map(|v| f32::from(u8::from(*v != 0.0)))
                    .collect();
                entries.insert(l.name.clone(), m);
            }
            match self.precision[k] {
                Precision::Int8 => bits.insert(l.name.clone(), 8),
                Precision::Int4 => bits.insert(l.name.clone(), 4),
                Precision::F32 => None,
            };
        }
        Ok(Masks {
            keep: None,
            entries,
            bits,
        })
    }

    /// Non-zero parameters and storage in bytes of `realized`, the network `net` realized under
    /// this plan's masks: each weight tensor as [`weight_bytes`] counts it (its precision, CSR
    /// or dense, whichever is smaller, from its non-zero entries after rounding), every other
    /// learned parameter (biases, batch-norm scales and shifts) stored in 32 bits and counted.
    pub fn graph_footprint(&self, net: &GraphNet, realized: &Graph) -> Result<(usize, usize)> {
        self.check(Genes::graph(net.layers.len()))?;
        let learned = evoprune_graph::stats::stats(realized)?.params;
        let (mut nonzero, mut bytes, mut weights) = (0, 0, 0);
        for (k, l) in net.layers.iter().enumerate() {
            let t = &realized.params[&l.name];
            let rows = t.shape.get(l.out_axis).copied().unwrap_or(1).max(1);
            let nz = t.data.iter().filter(|v| **v != 0.0).count();
            nonzero += nz;
            bytes += weight_bytes(rows, t.len() / rows, nz, self.precision[k]);
            weights += t.len();
        }
        let other = learned.saturating_sub(weights);
        Ok((nonzero + other, bytes + 4 * other))
    }
}

/// What a plan scores.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Accuracy on the scored images.
    pub accuracy: f64,
    /// Non-zero parameters / all parameters.
    pub nonzero: f64,
    /// Storage in bytes.
    pub bytes: f64,
}

/// Score `plan` on `part` with LeNet `net`'s trained weights (one thread).
pub fn score(net: &Net, plan: &Plan, part: &Part) -> Result<Scores> {
    let c = plan.apply(net)?;
    let z = if plan.dynamic {
        c.logits_dynamic_int8(&part.x)?
    } else {
        c.logits(&part.x)?
    };
    let acc = 1.0 - count_errors(&z, &part.y) as f64 / part.len().max(1) as f64;
    let (nz, bytes) = plan.footprint(&c);
    Ok(Scores {
        accuracy: acc,
        nonzero: nz as f64 / net.params.len() as f64,
        bytes: bytes as f64,
    })
}

/// Score `plan` on `part` (images fitted to the network's input) with the `[model]` network
/// `net` and its weights `weights`: accuracy of the realized network, its non-zero fraction of
/// the dense network's learned parameters, and its bytes ([`Plan::graph_footprint`]).
pub fn score_graph(net: &GraphNet, weights: &Graph, plan: &Plan, part: &Part) -> Result<Scores> {
    let m = plan.masks(net, weights)?;
    let small = net.realize(weights, &m)?;
    let accuracy = net.accuracy(&small, &part.x, &part.y)?;
    let (nz, bytes) = plan.graph_footprint(net, &small)?;
    Ok(Scores {
        accuracy,
        nonzero: nz as f64 / net.dense.params.max(1) as f64,
        bytes: bytes as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune_graph::model::ModelConfig;
    use evoprune_nn::lenet::LeNet;

    fn genome(reals: [f64; 6], ints: [i64; 8]) -> MixedGenome {
        MixedGenome {
            reals: RealVector(reals.to_vec()),
            ints: IntVector(ints.to_vec()),
            bits: evoprune::BitString::zeros(0),
        }
    }

    #[test]
    fn decode_and_prune_exact_amounts() {
        let net = Net::from_lenet(&LeNet::random(2)).unwrap();
        let l = Dims::FULL.layout();
        // nothing: the network is unchanged, storage is 4 bytes per parameter
        let none = decode(&genome([0.0; 6], [0; 8])).unwrap();
        let c = none.apply(&net).unwrap();
        assert_eq!(c, net);
        assert_eq!(none.footprint(&c), (431_080 - 70 - 510, 4 * 431_080));
        // (random init: zero biases are not counted as non-zero)
        // per-layer fc1 at 0.5, weights only: exactly half of fc1's weights, the smallest
        let p = decode(&genome(
            [0.0, 0.0, 0.0, 0.0, 0.5, 0.0],
            [0, 2, 0, 0, 0, 0, 0, 0],
        ))
        .unwrap();
        assert_eq!(p.modes, [Mode::None, Mode::PerLayer]);
        let c = p.apply(&net).unwrap();
        let f1 = &c.params[l.range(T::F1)];
        assert_eq!(f1.iter().filter(|v| **v == 0.0).count(), 200_000);
        let max_pruned = net.params[l.range(T::F1)]
            .iter()
            .zip(f1)
            .filter(|(_, b)| **b == 0.0)
            .map(|(a, _)| a.abs())
            .fold(0.0f32, f32::max);
        let min_kept = f1
            .iter()
            .filter(|v| **v != 0.0)
            .map(|v| v.abs())
            .fold(f32::MAX, f32::min);
        assert!(max_pruned <= min_kept);
        // fc2 untouched
        assert_eq!(&c.params[l.range(T::F2)], &net.params[l.range(T::F2)]);
        // global linear pruning at 0.3 over fc1 + fc2 weights together
        let g = decode(&genome(
            [0.0, 0.3, 0.0, 0.0, 0.0, 0.0],
            [0, 1, 0, 0, 0, 0, 0, 0],
        ))
        .unwrap();
        let c = g.apply(&net).unwrap();
        let zeros = |t: T| c.params[l.range(t)].iter().filter(|v| **v == 0.0).count();
        assert_eq!(
            zeros(T::F1) + zeros(T::F2),
            (0.3f64 * 405_000.0).round() as usize
        );
        // int8 everywhere: a quarter of the weight bytes, plus scales
        let q = decode(&genome([0.0; 6], [0, 0, 0, 0, 1, 1, 1, 1])).unwrap();
        let c = q.apply(&net).unwrap();
        let (_, bytes) = q.footprint(&c);
        assert_eq!(bytes, 430_500 + 4 * 580 + 4 * (20 + 50 + 500 + 10));
        assert!(decode(&genome([0.0; 6], [0; 8])).is_ok());
        let mut bad = genome([0.0; 6], [0; 8]);
        bad.reals.0.pop();
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn scores_follow_the_plan() {
        let net = Net::from_lenet(&LeNet::random(3)).unwrap();
        let part = evoprune_data::digits28::synthetic_digits(40, 1);
        let dense = score(&net, &decode(&genome([0.0; 6], [0; 8])).unwrap(), &part).unwrap();
        let z = net.logits(&part.x).unwrap();
        assert_eq!(
            dense.accuracy,
            1.0 - count_errors(&z, &part.y) as f64 / 40.0
        );
        let heavy = decode(&genome(
            [0.9, 0.9, 0.0, 0.0, 0.0, 0.0],
            [1, 1, 2, 1, 2, 2, 2, 2],
        ))
        .unwrap();
        let s = score(&net, &heavy, &part).unwrap();
        assert!(s.nonzero < 0.12, "{}", s.nonzero);
        assert!(s.bytes < 0.2 * dense.bytes);
    }

    #[test]
    fn bounds_keep_lenets_genome_and_size_a_networks_by_its_layers() {
        let b = bounds(0.9, Genes::LENET).unwrap();
        assert_eq!(b.reals.len(), 6);
        assert_eq!(b.ints.upper(), &[2, 2, 2, 1, 2, 2, 2, 2]);
        let b = bounds(0.9, Genes::graph(20)).unwrap();
        assert_eq!(b.reals.len(), 22);
        assert_eq!(b.reals.upper()[21], 0.9);
        let mut up = vec![2, 2, 0, 0];
        up.extend([2; 20]);
        assert_eq!(b.ints.upper(), up.as_slice());
        assert!(b.ints.lower().iter().all(|v| *v == 0));
        let e = bounds(0.9, Genes::graph(0)).unwrap_err().to_string();
        assert!(e.contains("model"), "{e}");
        assert_eq!(Genes::graph(3).dense().reals.len(), 5);
        assert_eq!(Genes::graph(3).dense().ints.len(), 7);
    }

    #[test]
    fn decode_takes_any_number_of_layers_and_check_names_the_gene() {
        let g = MixedGenome {
            reals: RealVector(vec![0.1, 0.2, 0.3, 0.4, 0.5]),
            ints: IntVector(vec![2, 1, 0, 0, 0, 1, 2]),
            bits: BitString::zeros(0),
        };
        let p = decode(&g).unwrap();
        assert_eq!(p.modes, [Mode::PerLayer, Mode::Global]);
        assert_eq!(p.global, [0.1, 0.2]);
        assert_eq!(p.per_layer, vec![0.3, 0.4, 0.5]);
        assert_eq!(
            p.precision,
            vec![Precision::F32, Precision::Int8, Precision::Int4]
        );
        assert!(p.check(Genes::graph(3)).is_ok());
        assert!(p.check(Genes::graph(4)).is_err());
        assert!(p.check(Genes::LENET).is_err());
        // the JSON of a plan is a list per layer (as LeNet's arrays were)
        let j = serde_json::to_string(&p).unwrap();
        assert!(j.contains("\"per_layer\":[0.3,0.4,0.5]"), "{j}");
        assert_eq!(serde_json::from_str::<Plan>(&j).unwrap(), p);
        let biases = Plan {
            target: Target::Both,
            ..p.clone()
        };
        let e = biases.check(Genes::graph(3)).unwrap_err().to_string();
        assert!(e.starts_with("target:"), "{e}");
        assert!(
            biases
                .check(Genes {
                    biases: true,
                    ..Genes::graph(3)
                })
                .is_ok()
        );
        let dynamic = Plan { dynamic: true, ..p };
        let e = dynamic.check(Genes::graph(3)).unwrap_err().to_string();
        assert!(e.starts_with("dynamic:"), "{e}");
        // ints must be reals + 2, at least one layer
        for (r, i) in [(5, 6), (5, 8), (2, 4)] {
            let g = MixedGenome {
                reals: RealVector(vec![0.0; r]),
                ints: IntVector(vec![0; i]),
                bits: BitString::zeros(0),
            };
            assert!(decode(&g).is_err(), "{r} {i}");
        }
    }

    fn resnet20() -> GraphNet {
        let m = ModelConfig {
            arch: Some("resnet20".into()),
            input: Some([1, 8, 8]),
            ..ModelConfig::default()
        };
        GraphNet::new(m.load(4).unwrap()).unwrap()
    }

    fn graph_plan(net: &GraphNet, reals: &[(usize, f64)], ints: &[(usize, i64)]) -> Plan {
        let mut g = Genes::graph(net.layers.len()).dense();
        for &(k, v) in reals {
            g.reals.0[k] = v;
        }
        for &(k, v) in ints {
            g.ints.0[k] = v;
        }
        let p = decode(&g).unwrap();
        p.check(Genes::graph(net.layers.len())).unwrap();
        p
    }

    fn zeros(v: &[f32]) -> usize {
        v.iter().filter(|x| **x == 0.0).count()
    }

    #[test]
    fn graph_masks_prune_exact_amounts_by_magnitude_and_set_bits() {
        let net = resnet20();
        let w = &net.graph;
        let n = net.layers.len();
        assert_eq!(n, 20);
        assert!(
            net.layers
                .iter()
                .all(|l| zeros(&w.params[&l.name].data) == 0)
        );
        // nothing: no masks
        let m = graph_plan(&net, &[], &[]).masks(&net, w).unwrap();
        assert_eq!(m, Masks::default());
        // per layer: conv layer 3 at 0.5, exactly the smallest half; precision int8 on 3,
        // int4 on the classifier
        let p = graph_plan(
            &net,
            &[(2 + 3, 0.5), (2, 0.9)],
            &[(0, 2), (4 + 3, 1), (4 + n - 1, 2)],
        );
        let m = p.masks(&net, w).unwrap();
        let l3 = &net.layers[3];
        assert_eq!(m.entries.len(), 2, "layers 0 (amount 0.9) and 3");
        let mask = &m.entries[&l3.name];
        assert_eq!(zeros(mask), (0.5 * l3.len() as f64).round() as usize);
        let orig = &w.params[&l3.name].data;
        let max_pruned = orig
            .iter()
            .zip(mask)
            .filter(|(_, k)| **k == 0.0)
            .map(|(a, _)| a.abs())
            .fold(0.0f32, f32::max);
        let min_kept = orig
            .iter()
            .zip(mask)
            .filter(|(_, k)| **k == 1.0)
            .map(|(a, _)| a.abs())
            .fold(f32::MAX, f32::min);
        assert!(max_pruned <= min_kept);
        assert_eq!(
            m.bits,
            HashMap::from([(l3.name.clone(), 8), (net.layers[n - 1].name.clone(), 4)])
        );
        // global conv at 0.3: the smallest 30% of every convolution's weights together, the
        // classifier untouched
        let p = graph_plan(&net, &[(0, 0.3)], &[(0, 1)]);
        let m = p.masks(&net, w).unwrap();
        let conv: usize = net
            .layers
            .iter()
            .filter(|l| !l.linear)
            .map(|l| l.len())
            .sum();
        let pruned: usize = m.entries.values().map(|e| zeros(e)).sum();
        assert_eq!(pruned, (0.3 * conv as f64).round() as usize);
        assert!(!m.entries.contains_key(&net.layers[n - 1].name));
        assert!(m.entries.len() > 1);
        // global linear: the classifier alone, as per layer would
        let g = graph_plan(&net, &[(1, 0.4)], &[(1, 1)])
            .masks(&net, w)
            .unwrap();
        let l = graph_plan(&net, &[(2 + n - 1, 0.4)], &[(1, 2)])
            .masks(&net, w)
            .unwrap();
        assert_eq!(g, l);
        // weights that do not fit the network are refused, naming the tensor
        let mut bad = w.clone();
        bad.params.remove(&l3.name);
        let e = p.masks(&net, &bad).unwrap_err().to_string();
        assert!(e.contains(&l3.name), "{e}");
    }

    #[test]
    fn graph_footprint_counts_each_tensor_at_its_bits_and_the_rest_at_32() {
        let net = resnet20();
        let w = &net.graph;
        let n = net.layers.len();
        let weights: usize = net.layers.iter().map(|l| l.len()).sum();
        let other = net.dense.params - weights;
        assert!(
            other > 0,
            "batch-norm scales and shifts, the classifier's bias"
        );
        let part = Part {
            x: vec![0.5; 6 * 64],
            y: vec![0, 1, 2, 3, 4, 5],
        };
        // dense: every parameter, 4 bytes each
        let dense = graph_plan(&net, &[], &[]);
        let s = score_graph(&net, w, &dense, &part).unwrap();
        assert_eq!(s.nonzero, 1.0);
        assert_eq!(s.bytes, 4.0 * net.dense.params as f64);
        let z = net.logits(w, &part.x).unwrap();
        let acc = evoprune_graph::net::correct(&z, &part.y, 10) as f64 / 6.0;
        assert_eq!(s.accuracy, acc);
        // int8 everywhere: a byte per weight (dense is smaller than CSR) plus a scale per
        // output channel
        let q = graph_plan(&net, &[], &((4..4 + n).map(|k| (k, 1)).collect::<Vec<_>>()));
        let small = net.realize(w, &q.masks(&net, w).unwrap()).unwrap();
        let (nz, bytes) = q.graph_footprint(&net, &small).unwrap();
        let rows: usize = net.layers.iter().map(|l| l.shape[l.out_axis]).sum();
        assert_eq!(bytes, weights + 4 * rows + 4 * other);
        let rounded: usize = net
            .layers
            .iter()
            .map(|l| zeros(&small.params[&l.name].data))
            .sum();
        assert_eq!(nz, net.dense.params - rounded);
        // 95% pruned per layer in f32: CSR (value + 2-byte index, row pointers) wins
        let mut reals: Vec<(usize, f64)> = (2..2 + n).map(|k| (k, 0.95)).collect();
        reals.push((0, 0.0));
        let sparse = graph_plan(&net, &reals, &[(0, 2), (1, 2)]);
        let m = sparse.masks(&net, w).unwrap();
        let small = net.realize(w, &m).unwrap();
        let (nz, bytes) = sparse.graph_footprint(&net, &small).unwrap();
        let mut want = 4 * other;
        let mut kept = 0;
        for l in &net.layers {
            let k = l.len() - zeros(&m.entries[&l.name]);
            kept += k;
            let rows = l.shape[l.out_axis];
            want += weight_bytes(rows, l.len() / rows, k, Precision::F32);
        }
        assert_eq!((nz, bytes), (kept + other, want));
        assert!(bytes < 4 * net.dense.params / 5);
        assert_eq!(net.stats(&m).unwrap().params, kept + other);
    }
}
