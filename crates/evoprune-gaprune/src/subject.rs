//! What is pruned: the built-in Caffe LeNet (the paper's network, on its hand-written fast
//! path) or any network of `[model]` (an ONNX file or a zoo architecture).
//!
//! On a network the genome is one bit per coupled-channel group (the paper's filter genes: a
//! group is every filter that must go together, across residual additions, depthwise
//! convolutions and concatenations) followed by one bit per connection of every linear layer
//! (the paper's connection genes). Both kinds are scored on the physically smaller network.

use crate::problem::{FULL_MACS, FULL_PARAMS, GENOME_LEN, Part, Scoring, canonicalize, decode};
use crate::search::{retrain, retrain_keeping_others};
use crate::{GapruneError, Result};
use evoprune::BitString;
use evoprune_graph::Graph;
use evoprune_graph::net::{Masks, Net as GraphNet};
use evoprune_nn::lenet::{Net, SolverConfig, count_errors};
use evoprune_run::Reporter;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The network the run prunes.
#[derive(Clone, Debug)]
pub enum Subject {
    /// The built-in LeNet (no `[model]`).
    Lenet,
    /// A network of `[model]`.
    Graph(Arc<GraphNet>),
}

/// Its weights.
#[derive(Clone, Debug)]
pub enum Weights {
    /// LeNet's.
    Lenet(Net),
    /// A network's (full size, this subject's layout).
    Graph(Graph),
}

/// The SGD steps of a retraining with `solver` on `n` samples, as its stage counts them.
pub fn retrain_steps(solver: &SolverConfig, n: usize) -> u64 {
    (solver.epochs * n.div_ceil(solver.batch.max(1)) as f64) as u64
}

impl Subject {
    /// Bits of a genome.
    pub fn genome_len(&self) -> usize {
        match self {
            Subject::Lenet => GENOME_LEN,
            Subject::Graph(n) => n.analysis.groups.len() + linear_len(n),
        }
    }

    /// The first bits are filter (group) genes, the rest connection genes.
    pub fn filter_bits(&self) -> usize {
        match self {
            Subject::Lenet => crate::problem::FILTER_BITS,
            Subject::Graph(n) => n.analysis.groups.len(),
        }
    }

    /// The unpruned genome.
    pub fn full(&self) -> BitString {
        BitString::from_bools(&vec![true; self.genome_len()])
    }

    /// Clear genes that cannot matter (LeNet: FC1 connections of dead conv2 filters).
    pub fn canonicalize(&self, g: &mut BitString) {
        if let Subject::Lenet = self {
            canonicalize(g)
        }
    }

    /// A short name for the report.
    pub fn describe(&self) -> String {
        match self {
            Subject::Lenet => "LeNet".into(),
            Subject::Graph(n) => format!(
                "\"{}\" ({} groups, {} connections)",
                n.graph.name,
                n.analysis.groups.len(),
                linear_len(n)
            ),
        }
    }

    fn check_len(&self, g: &BitString) -> Result<()> {
        if g.len() != self.genome_len() {
            return Err(GapruneError::invalid(
                "genome",
                format!("{} bits, the network needs {}", g.len(), self.genome_len()),
            ));
        }
        Ok(())
    }

    /// The masks a genome encodes on a network.
    pub fn masks(net: &GraphNet, g: &BitString) -> Masks {
        let b = g.to_bools();
        let k = net.analysis.groups.len();
        let mut entries = HashMap::new();
        let mut at = k;
        for l in net.layers.iter().filter(|l| l.linear) {
            let m: Vec<f32> = b[at..at + l.len()]
                .iter()
                .map(|&x| x as u8 as f32)
                .collect();
            at += l.len();
            if m.contains(&0.0) {
                entries.insert(l.name.clone(), m);
            }
        }
        Masks {
            keep: Some(b[..k].to_vec()),
            entries,
            bits: HashMap::new(),
        }
    }

    /// Validation error, remaining MACs fraction and remaining parameter fraction of genome `g`
    /// with weights `w` on `scoring.val`, a network's batch norms first re-estimated on
    /// `scoring.calib` when it holds images. On a network, a genome that removes every channel
    /// of some tensor scores the worst possible `[1, 1, 1]` (it is no network).
    pub fn measure(&self, w: &Weights, g: &BitString, scoring: &Scoring) -> Result<[f64; 3]> {
        self.check_len(g)?;
        let part = &scoring.val;
        match (self, w) {
            (Subject::Lenet, Weights::Lenet(net)) => crate::problem::measure(net, &decode(g), part),
            (Subject::Graph(n), Weights::Graph(weights)) => {
                let m = Self::masks(n, g);
                // the statistics re-estimated first, so the network is realized once
                let recalibrated = if scoring.calib.len() >= 2 {
                    let mut w = weights.clone();
                    n.recalibrate(&mut w, &m, &scoring.calib.x, scoring.batch)?;
                    Some(w)
                } else {
                    None
                };
                let Some(small) =
                    realize_or_none(n, recalibrated.as_ref().unwrap_or(weights), &m, 1)?
                else {
                    return Ok([1.0, 1.0, 1.0]);
                };
                let s = n.stats(&m)?;
                let acc = n.accuracy(&small, &part.x, &part.y)?;
                Ok([
                    1.0 - acc,
                    s.macs as f64 / n.dense.macs.max(1) as f64,
                    s.params as f64 / n.dense.params.max(1) as f64,
                ])
            }
            _ => Err(mismatch()),
        }
    }

    /// How much each filter gene carries under `w` ([`GraphNet::group_importance`]), for
    /// `search.mutation_bias = "importance"`; networks of `[model]` only.
    pub fn importance(&self, w: &Weights) -> Result<Vec<f64>> {
        match (self, w) {
            (Subject::Graph(n), Weights::Graph(g)) => Ok(n.group_importance(g)?),
            (Subject::Lenet, Weights::Lenet(_)) => Err(GapruneError::invalid(
                "search.mutation_bias",
                crate::config::IMPORTANCE_NEEDS_MODEL,
            )),
            _ => Err(mismatch()),
        }
    }

    /// Remaining MACs of genome `g` (orders the final members).
    pub fn macs(&self, g: &BitString) -> usize {
        match self {
            Subject::Lenet => decode(g).macs(),
            Subject::Graph(n) => n.stats(&Self::masks(n, g)).map_or(usize::MAX, |s| s.macs),
        }
    }

    /// Retrain `w` on genome `g`'s masks (fixed). `keep_others`: weights outside the mask keep
    /// their previous values (NSGA-II: other members still use them).
    pub fn retrain(
        &self,
        w: &Weights,
        g: &BitString,
        part: &Part,
        solver: &SolverConfig,
        keep_others: bool,
        rep: &mut dyn Reporter,
    ) -> Result<Weights> {
        match (self, w) {
            (Subject::Lenet, Weights::Lenet(net)) => {
                let mask = decode(g);
                Ok(Weights::Lenet(if keep_others {
                    retrain_keeping_others(net, &mask, part, solver, rep)?
                } else {
                    retrain(net, &mask, part, solver, rep)?
                }))
            }
            (Subject::Graph(n), Weights::Graph(old)) => {
                let m = Self::masks(n, g);
                let mut new = old.clone();
                if solver.epochs > 0.0 {
                    let cfg = evoprune_graph::train::FineTune {
                        lr: solver.lr,
                        momentum: solver.momentum,
                        weight_decay: solver.weight_decay,
                        epochs: solver.epochs,
                        batch: solver.batch,
                        seed: solver.seed,
                        batch_norm: evoprune_graph::train::BatchNorm::Batch,
                    };
                    // the stage counts `retrain_steps` (as the LeNet solver reports them); the
                    // graph trainer's count of a partial pass may differ by one
                    let total = retrain_steps(solver, part.len());
                    n.fine_tune(&mut new, &m, &part.x, &part.y, &cfg, |p| {
                        rep.progress(p.step.min(total))
                    })?;
                }
                if keep_others {
                    for (k, mask) in n.training_masks(&m)? {
                        let (o, t) = (&old.params[&k], new.params.get_mut(&k).expect("param"));
                        for ((t, o), keep) in t.data.iter_mut().zip(&o.data).zip(&mask) {
                            if *keep == 0.0 {
                                *t = *o;
                            }
                        }
                    }
                }
                Ok(Weights::Graph(new))
            }
            _ => Err(mismatch()),
        }
    }

    /// Save `w` to `path` (safetensors).
    pub fn save(&self, w: &Weights, path: &Path) -> Result<()> {
        match w {
            Weights::Lenet(net) => net.save(path, Default::default())?,
            Weights::Graph(g) => {
                evoprune_graph::weights::save_safetensors(
                    g,
                    path,
                    &HashMap::new(),
                    &HashMap::new(),
                    &Default::default(),
                )?;
            }
        }
        Ok(())
    }

    /// Load weights saved by [`Subject::save`].
    pub fn load(&self, path: &Path) -> Result<Weights> {
        Ok(match self {
            Subject::Lenet => Weights::Lenet(Net::load(path)?),
            Subject::Graph(n) => {
                let mut g = n.graph.clone();
                evoprune_graph::zoo::load_weights(&mut g, path)?;
                Weights::Graph(g)
            }
        })
    }

    /// Error of the unpruned weights on `part`.
    pub fn error(&self, w: &Weights, part: &Part) -> Result<f64> {
        Ok(match (self, w) {
            (Subject::Lenet, Weights::Lenet(net)) => {
                count_errors(&net.logits_par(&part.x)?, &part.y) as f64 / part.len() as f64
            }
            (Subject::Graph(n), Weights::Graph(g)) => 1.0 - n.accuracy(g, &part.x, &part.y)?,
            _ => return Err(mismatch()),
        })
    }

    /// Dense parameters and MACs of the unpruned network.
    pub fn dense(&self) -> (usize, usize) {
        match self {
            Subject::Lenet => (FULL_PARAMS, FULL_MACS),
            Subject::Graph(n) => (n.dense.params, n.dense.macs),
        }
    }
}

/// Connections of the network's linear layers.
fn linear_len(n: &GraphNet) -> usize {
    n.layers.iter().filter(|l| l.linear).map(|l| l.len()).sum()
}

/// The realized network (channel counts rounded up to a multiple of `round_channels`, see
/// [`GraphNet::realize_rounded`]), or `None` when the masks remove every channel of some tensor.
pub fn realize_or_none(
    n: &GraphNet,
    w: &Graph,
    m: &Masks,
    round_channels: usize,
) -> Result<Option<Graph>> {
    match n.realize_rounded(w, m, round_channels) {
        Ok(g) => Ok(Some(g)),
        Err(evoprune_graph::GraphError::Invalid { what, reason })
            if what == "mask" && reason.starts_with("removes every channel") =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn mismatch() -> GapruneError {
    GapruneError::invalid("weights", "do not belong to the pruned network")
}
