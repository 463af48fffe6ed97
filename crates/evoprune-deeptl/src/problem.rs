//! The search problem: a bit per feature entering the dense head.

use crate::config::{Config, ObjectiveKind, OptimizerKind};
use crate::data::{Part, Prepared};
use evoprune::{BitString, Evaluation, ObjectiveSpec, Problem};
use evoprune_nn::{
    EarlyStopping, HeadConfig, Mlp, NnError, Optimizer, TrainConfig, TrainReport, gather_columns,
    metrics, train_masked_head,
};

/// How one trained head does on one split.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Accuracy on the split.
    pub accuracy: f64,
    /// AUROC of ODIN scores, split (positive) vs OoD (negative).
    pub auroc: f64,
    /// Predicted class of each split sample.
    pub predictions: Vec<u32>,
    /// ODIN score of each split sample, then of each OoD sample.
    pub odin_ind: Vec<f32>,
    /// ODIN score of each OoD sample.
    pub odin_ood: Vec<f32>,
}

/// A trained head and what it cost.
#[derive(Clone, Debug)]
pub struct Trained {
    /// The compact head (its first layer has one row per active feature).
    pub mlp: Mlp,
    /// The active feature indices, ascending.
    pub active: Vec<usize>,
    /// Training history.
    pub report: TrainReport,
}

/// MO-EvoPruneDeepTL's problem: train the masked head on the training split and score it on
/// validation. Objectives (all minimised, in config order): `1 - accuracy`, active fraction,
/// `1 - AUROC`. Training uses a fixed seed, so a mask always gets the same head.
pub struct HeadPruning<'a> {
    data: &'a Prepared,
    head: HeadConfig,
    train: TrainConfig,
    objectives: Vec<ObjectiveKind>,
    specs: Vec<ObjectiveSpec>,
    temperature: f32,
    epsilon: f32,
}

/// The head architecture of `cfg`.
pub fn head_config(cfg: &Config) -> HeadConfig {
    HeadConfig {
        hidden: cfg.head.hidden.clone(),
        hidden_bias: cfg.head.hidden_bias,
        output_bias: cfg.head.output_bias,
    }
}

/// The training settings of `cfg`.
pub fn train_config(cfg: &Config) -> TrainConfig {
    let t = &cfg.train;
    TrainConfig {
        optimizer: match t.optimizer {
            OptimizerKind::Sgd => Optimizer::Sgd {
                lr: t.lr,
                momentum: t.momentum,
                nesterov: t.nesterov,
                weight_decay: t.weight_decay,
                decay: t.decay,
            },
            OptimizerKind::Adam => Optimizer::Adam {
                lr: t.lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
                weight_decay: t.weight_decay,
            },
        },
        batch_size: t.batch_size,
        max_epochs: t.max_epochs,
        early_stopping: (t.patience > 0).then_some(EarlyStopping {
            patience: t.patience,
            min_delta: t.min_delta,
            restore_best: t.restore_best,
            restore_always: t.restore_always,
        }),
        seed: cfg.seed,
    }
}

impl<'a> HeadPruning<'a> {
    /// The problem of `cfg` over `data`.
    pub fn new(cfg: &Config, data: &'a Prepared) -> Self {
        let specs = cfg
            .search
            .objectives
            .iter()
            .map(|o| ObjectiveSpec::minimize(o.name()))
            .collect();
        HeadPruning {
            data,
            head: head_config(cfg),
            train: train_config(cfg),
            objectives: cfg.search.objectives.clone(),
            specs,
            temperature: cfg.search.odin_temperature,
            epsilon: cfg.search.odin_epsilon,
        }
    }

    /// The prepared data.
    pub fn data(&self) -> &Prepared {
        self.data
    }

    /// Train the head of `mask` on the training split.
    pub fn train(&self, mask: &BitString) -> Result<Trained, NnError> {
        let d = self.data;
        let active: Vec<usize> = mask.iter_ones().collect();
        let (mlp, report) = train_masked_head(
            &d.train.x,
            d.d,
            &active,
            &d.train.y,
            d.n_classes,
            &self.head,
            &self.train,
        )?;
        Ok(Trained {
            mlp,
            active,
            report,
        })
    }

    /// Score a trained head on a split against OoD samples.
    pub fn score(&self, t: &Trained, part: &Part, ood: &Part) -> Result<Scores, NnError> {
        let c = self.data.n_classes;
        let xi = gather_columns(&part.x, self.data.d, &t.active)?;
        let xo = gather_columns(&ood.x, self.data.d, &t.active)?;
        let li = t.mlp.logits(&xi)?;
        let odin_ind = t
            .mlp
            .odin_scores_perturbed(&xi, self.temperature, self.epsilon)?;
        let odin_ood = t
            .mlp
            .odin_scores_perturbed(&xo, self.temperature, self.epsilon)?;
        Ok(Scores {
            accuracy: metrics::accuracy(&li, &part.y, c)?,
            // NaN scores (a diverged head) give no AUROC: count it as chance.
            auroc: metrics::auroc(&odin_ind, &odin_ood).unwrap_or(0.5),
            predictions: metrics::argmax_rows(&li, c)?,
            odin_ind,
            odin_ood,
        })
    }

    /// The objective vector of scores (in config order).
    pub fn objective_values(&self, s: &Scores, active: usize) -> Vec<f64> {
        self.objectives
            .iter()
            .map(|o| match o {
                ObjectiveKind::Error => 1.0 - s.accuracy,
                ObjectiveKind::Active => active as f64 / self.data.d as f64,
                ObjectiveKind::Auroc => 1.0 - s.auroc,
            })
            .collect()
    }
}

impl Problem for HeadPruning<'_> {
    type Genome = BitString;
    type Error = NnError;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn name(&self) -> &str {
        "mo-evoprunedeeptl"
    }

    /// Each evaluation trains a network (milliseconds to seconds): journal every one.
    fn batch_hint(&self) -> usize {
        1
    }

    fn evaluate(&self, mask: &BitString) -> Result<Evaluation, NnError> {
        if mask.len() != self.data.d {
            return Err(NnError::Shape(format!(
                "mask of {} bits for {} features",
                mask.len(),
                self.data.d
            )));
        }
        let t = self.train(mask)?;
        let s = self.score(&t, &self.data.val, &self.data.ood_val)?;
        Ok(Evaluation::new(self.objective_values(&s, t.active.len()))
            .extra("accuracy", s.accuracy)
            .extra("auroc", s.auroc)
            .extra("active", t.active.len() as f64)
            .extra("epochs", t.report.epochs as f64))
    }
}
