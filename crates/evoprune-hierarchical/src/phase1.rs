//! Phase 1, coarse and continuous: one magnitude threshold per prunable layer.
//!
//! Gene `x_l` in `[0, max_prune]` sets layer `l`'s threshold to the `x_l`-quantile of its
//! weight magnitudes: every weight of the layer below it is pruned. This is the magnitude
//! threshold itself, on a scale where each gene spans the layer's sparsity range uniformly (raw
//! thresholds would crowd the population into the few values where a layer collapses); ties in
//! magnitude are broken by position, so a gene prunes exactly `floor(x_l * n_l)` weights.

use crate::config::Cost;
use crate::model::Model;
use crate::{HierError, Result};
use evoprune::{BitString, Evaluation, ObjectiveSpec, Problem, RealVector};
use evoprune_data::digits28::Part;
use std::sync::Arc;

/// Objective specs: the validation error, then each cost.
pub fn specs(costs: &[Cost]) -> Vec<ObjectiveSpec> {
    let mut s = vec![ObjectiveSpec::minimize("error")];
    for c in costs {
        s.push(ObjectiveSpec::minimize(match c {
            Cost::Params => "params",
            Cost::Flops => "flops",
        }));
    }
    s
}

/// The cost values of kept-weight counts `kept` (fractions of the dense model).
pub fn cost_values(model: &Model, kept: Vec<usize>, costs: &[Cost]) -> Vec<f64> {
    let c = model.counts(kept);
    costs
        .iter()
        .map(|k| match k {
            Cost::Params => c.params as f64 / model.n_params() as f64,
            Cost::Flops => c.macs as f64 / model.dense_macs() as f64,
        })
        .collect()
}

/// The phase-1 problem: thresholds in, (validation error, costs...) out.
pub struct Thresholds {
    model: Arc<Model>,
    val: Arc<Part>,
    /// Per layer, weight indices by increasing magnitude (ties by index).
    order: Vec<Vec<u32>>,
    costs: Vec<Cost>,
    specs: Vec<ObjectiveSpec>,
}

impl Thresholds {
    /// Candidates are scored with `model`'s weights on `val`.
    pub fn new(model: Arc<Model>, val: Arc<Part>, costs: &[Cost]) -> Self {
        let order = model
            .layers()
            .iter()
            .map(|l| {
                let mut idx: Vec<u32> = l.weights.clone().map(|k| k as u32).collect();
                idx.sort_by(|&a, &b| {
                    let wa = model.params[model.param_of(a as usize)].abs();
                    let wb = model.params[model.param_of(b as usize)].abs();
                    wa.total_cmp(&wb).then(a.cmp(&b))
                });
                idx
            })
            .collect();
        Thresholds {
            model,
            val,
            order,
            costs: costs.to_vec(),
            specs: specs(costs),
        }
    }

    /// Genes (one per layer).
    pub fn n_genes(&self) -> usize {
        self.order.len()
    }

    /// The keep-mask of thresholds `x` (one bit per weight).
    pub fn keep_mask(&self, x: &[f64]) -> Result<BitString> {
        if x.len() != self.order.len() || x.iter().any(|v| !(0.0..=1.0).contains(v)) {
            return Err(HierError::invalid(
                "phase-1 genome",
                format!(
                    "{x:?}: needs {} values in [0, 1], one per layer",
                    self.order.len()
                ),
            ));
        }
        let mut keep = BitString::ones(self.model.n_weights());
        for (o, &f) in self.order.iter().zip(x) {
            let k = ((f * o.len() as f64).floor() as usize).min(o.len());
            for &w in &o[..k] {
                keep.set(w as usize, false);
            }
        }
        Ok(keep)
    }

    /// The magnitude threshold each gene stands for (the smallest kept `|w|` of each layer;
    /// infinity when a layer is pruned entirely), for reports.
    pub fn thresholds(&self, x: &[f64]) -> Vec<f64> {
        self.order
            .iter()
            .zip(x)
            .map(|(o, &f)| {
                let k = ((f * o.len() as f64).floor() as usize).min(o.len());
                o.get(k).map_or(f64::INFINITY, |&w| {
                    f64::from(self.model.params[self.model.param_of(w as usize)].abs())
                })
            })
            .collect()
    }
}

/// Score a keep-mask: (error on `val`, costs...).
pub fn score(model: &Model, keep: &BitString, val: &Part, costs: &[Cost]) -> Result<Vec<f64>> {
    let p = model.masked_params(|k| keep.get(k));
    let e = model.error(&p, val)?;
    let kept = model
        .layers()
        .iter()
        .map(|l| l.weights.clone().filter(|&k| keep.get(k)).count())
        .collect();
    let mut out = vec![e];
    out.extend(cost_values(model, kept, costs));
    Ok(out)
}

impl Problem for Thresholds {
    type Genome = RealVector;
    type Error = HierError;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn name(&self) -> &str {
        "hierarchical-phase1"
    }

    fn batch_hint(&self) -> usize {
        4
    }

    fn evaluate(&self, x: &RealVector) -> Result<Evaluation> {
        let keep = self.keep_mask(&x.0)?;
        Ok(Evaluation::new(score(
            &self.model,
            &keep,
            &self.val,
            &self.costs,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelKind;
    use evoprune_data::digits28::synthetic_digits;

    #[test]
    fn a_threshold_prunes_the_smallest_weights_of_its_layer() {
        let m = Arc::new(Model::random(ModelKind::Lenet300100, 2));
        let val = Arc::new(synthetic_digits(30, 1));
        let p = Thresholds::new(m.clone(), val, &[Cost::Params, Cost::Flops]);
        assert_eq!(p.n_genes(), 3);
        let keep = p.keep_mask(&[0.5, 0.0, 1.0]).unwrap();
        let l = m.layers();
        let kept: Vec<usize> = l
            .iter()
            .map(|l| l.weights.clone().filter(|&k| keep.get(k)).count())
            .collect();
        assert_eq!(kept, vec![235_200 / 2, 30_000, 0]);
        // every pruned fc1 weight is smaller than every kept one
        let mag = |k: usize| m.params[m.param_of(k)].abs();
        let max_pruned = l[0]
            .weights
            .clone()
            .filter(|&k| !keep.get(k))
            .map(mag)
            .fold(0.0f32, f32::max);
        let min_kept = l[0]
            .weights
            .clone()
            .filter(|&k| keep.get(k))
            .map(mag)
            .fold(f32::INFINITY, f32::min);
        assert!(max_pruned <= min_kept);
        assert_eq!(p.thresholds(&[0.5, 0.0, 1.0])[0], f64::from(min_kept));
        let e = p.evaluate(&RealVector(vec![0.5, 0.0, 1.0])).unwrap();
        let params = (235_200 / 2 + 30_000 + 410) as f64 / 266_610.0;
        assert!((e.objectives[1] - params).abs() < 1e-12);
        assert!((e.objectives[2] - (235_200 / 2 + 30_000) as f64 / 266_200.0).abs() < 1e-12);
        // the last layer pruned entirely: every logit is its bias (zero), class 0 everywhere
        assert!((e.objectives[0] - 0.9).abs() < 1e-9);
        assert!(p.evaluate(&RealVector(vec![0.5, 0.0])).is_err());
    }
}
