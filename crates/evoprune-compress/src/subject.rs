//! What a run compresses: the built-in LeNet (trained once and cached, the paper's network) or
//! any network of `[model]` (an ONNX file or a zoo architecture, optionally fine-tuned on the
//! run's training data first, a cached stage of the run).

use crate::config::Config;
use crate::plan::{Genes, Plan, Scores, bounds, decode, score, score_graph};
use crate::{CompressError, Result};
use evoprune::{MixedBounds, MixedGenome};
use evoprune_data::digits28::{Data, Part};
use evoprune_graph::Graph;
use evoprune_graph::model::ModelConfig;
use evoprune_graph::net::{Masks, Net as GraphNet};
use evoprune_nn::lenet::Net;
use evoprune_run::{Reporter, RunDir};

/// The images of the digits data: 28x28, one channel.
const DIGITS: [usize; 3] = [1, 28, 28];

/// The network a run compresses, with its (trained) weights.
// one value per run, shared in an `Arc`: the variants' sizes do not matter
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Subject {
    /// The built-in LeNet (no `[model]`).
    Lenet(Net),
    /// A network of `[model]`.
    Graph {
        /// The network (its layers, counts and groups).
        net: GraphNet,
        /// Its weights (fine-tuned when `[model.train]` asks), full size.
        weights: Graph,
    },
}

impl Subject {
    /// The shape of its genome.
    pub fn genes(&self) -> Genes {
        match self {
            Subject::Lenet(_) => Genes::LENET,
            Subject::Graph { net, .. } => Genes::graph(net.layers.len()),
        }
    }

    /// Its genome's bounds, amounts in `[0, max_amount]`.
    pub fn bounds(&self, max_amount: f64) -> Result<MixedBounds> {
        bounds(max_amount, self.genes())
    }

    /// Decode `g` and check it fits this network.
    pub fn plan(&self, g: &MixedGenome) -> Result<Plan> {
        let p = decode(g)?;
        p.check(self.genes())?;
        Ok(p)
    }

    /// The plan that changes nothing.
    pub fn dense_plan(&self) -> Result<Plan> {
        self.plan(&self.genes().dense())
    }

    /// Score `plan` on `part` (fitted with [`Subject::fit`]).
    pub fn score(&self, plan: &Plan, part: &Part) -> Result<Scores> {
        match self {
            Subject::Lenet(net) => score(net, plan, part),
            Subject::Graph { net, weights } => score_graph(net, weights, plan, part),
        }
    }

    /// The dense network's storage in bytes: 4 per parameter (LeNet: every parameter; a
    /// network: every learned one, batch-norm running statistics excluded).
    pub fn dense_bytes(&self) -> f64 {
        match self {
            Subject::Lenet(net) => 4.0 * net.params.len() as f64,
            Subject::Graph { net, .. } => 4.0 * net.dense.params as f64,
        }
    }

    /// The problem's name.
    pub fn problem_name(&self) -> &'static str {
        match self {
            Subject::Lenet(_) => "lenet-compression",
            Subject::Graph { .. } => "network-compression",
        }
    }

    /// `part`'s images fitted to the network's input (LeNet: as they are).
    pub fn fit(&self, part: &Part) -> Result<Part> {
        match self {
            Subject::Lenet(_) => Ok(part.clone()),
            Subject::Graph { net, .. } => fit(net, part),
        }
    }

    /// The masks of `plan` on a `[model]` network (`None` for LeNet).
    pub fn masks(&self, plan: &Plan) -> Result<Option<Masks>> {
        match self {
            Subject::Lenet(_) => Ok(None),
            Subject::Graph { net, weights } => plan.masks(net, weights).map(Some),
        }
    }
}

/// `part`'s images fitted to `net`'s input.
pub(crate) fn fit(net: &GraphNet, part: &Part) -> Result<Part> {
    Ok(Part {
        x: net.fit(&part.x, part.len(), DIGITS)?,
        y: part.y.clone(),
    })
}

/// The pre-trained LeNet: the configured file, or the cached result of training one (the same
/// cache as GA pruning's: the two methods share a trained baseline).
pub fn lenet(cfg: &Config, data: &Data, rep: &mut dyn Reporter) -> Result<Net> {
    let (net, origin) = evoprune_nn::store::lenet_baseline(
        &cfg.baseline,
        cfg.seed,
        &data.train,
        evoprune_run::training(rep, "training the baseline LeNet".into()),
    )?;
    rep.note(&origin.describe("baseline LeNet"));
    Ok(net)
}

/// The `[model]` network loaded (`model.load(seed)`) and analysed; an error naming `model` when
/// it cannot be compressed here (fewer than 10 classes for the digits' labels, no convolution
/// or linear weights).
pub fn network(model: &ModelConfig, seed: u64) -> Result<GraphNet> {
    let net = GraphNet::new(model.load(seed)?)?;
    if net.classes < 10 {
        return Err(CompressError::invalid(
            "model",
            format!(
                "{} has {} classes; the digits data has labels 0-9 (10 classes needed)",
                model.describe(),
                net.classes
            ),
        ));
    }
    if net.layers.is_empty() {
        return Err(CompressError::invalid(
            "model",
            format!(
                "{} has no convolution or linear weights to compress",
                model.describe()
            ),
        ));
    }
    Ok(net)
}

/// `checkpoint/baseline.safetensors`: the fine-tuned weights of a `[model]` network.
const BASELINE_FILE: &str = "baseline.safetensors";

/// The `[model]` network and its weights: as loaded, or fine-tuned on the training data (every
/// mask off) when `model.train.epochs > 0`, once: the fine-tuned weights are a cached stage of
/// the run (`checkpoint/baseline.safetensors`), so a resume does not fine-tune again.
pub fn graph(
    model: &ModelConfig,
    seed: u64,
    data: &Data,
    rd: &RunDir,
    cache_dir: &std::path::Path,
    rep: &mut dyn Reporter,
) -> Result<Subject> {
    let net = network(model, seed)?;
    let (training, mut progress) =
        evoprune_run::baseline_stage(rep, seed, &model.describe(), model.train.epochs);
    let train = fit(&net, &data.train)?;
    let (weights, origin) = net.baseline(
        &model.train,
        &train.x,
        &train.y,
        training,
        Some(&rd.checkpoint_dir().join(BASELINE_FILE)),
        Some(cache_dir),
        move |p| progress(p.step, p.steps),
    )?;
    rep.note(&origin.describe(&model.describe()));
    rep.note(&format!(
        "network {}: {} convolution and linear layers ({} weights), {} learned parameters",
        model.describe(),
        net.layers.len(),
        net.layers.iter().map(|l| l.len()).sum::<usize>(),
        net.dense.params
    ));
    Ok(Subject::Graph { net, weights })
}

/// The subject of `cfg`'s run: the `[model]` network, or the built-in LeNet.
pub fn load(cfg: &Config, data: &Data, rd: &RunDir, rep: &mut dyn Reporter) -> Result<Subject> {
    match &cfg.model {
        Some(m) => graph(m, cfg.seed, data, rd, &cfg.baseline.cache_dir, rep),
        None => Ok(Subject::Lenet(lenet(cfg, data, rep)?)),
    }
}
