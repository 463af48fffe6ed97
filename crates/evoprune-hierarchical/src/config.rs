//! The run config (TOML). Every key has a default; unknown keys are errors naming the key.

pub use evoprune_data::digits28::{DataConfig, Source};
pub use evoprune_graph::model::ModelConfig;
use evoprune_nn::lenet::SolverConfig;
pub use evoprune_nn::store::BaselineConfig;
use evoprune_run::{MethodConfig, Result, RunError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `method` key of this method's configs.
pub const METHOD: &str = "hierarchical-prune";

/// Which network is pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// LeNet-300-100: 784-300-100-10 MLP with biases (266,610 parameters).
    #[serde(rename = "lenet-300-100")]
    Lenet300100,
    /// The Caffe LeNet: conv 20@5x5, pool, conv 50@5x5, pool, FC 500, FC 10 (431,080).
    Lenet,
}

/// The network a run prunes: a built-in LeNet (`model = "lenet"`, the configs of old), or any
/// network given by a `[model]` section (an ONNX file or a zoo architecture; see
/// [`ModelConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChoice {
    /// `model = "lenet"` / `"lenet-300-100"`: the hand-written networks, their cached baselines
    /// and LeNet-300-100's incremental evaluation.
    Builtin(ModelKind),
    /// `[model]`: every convolution and linear weight of the network is pruned.
    Network(ModelConfig),
}

impl ModelChoice {
    /// The `[model]` section, for a network given by one.
    pub fn network(&self) -> Option<&ModelConfig> {
        match self {
            ModelChoice::Network(m) => Some(m),
            ModelChoice::Builtin(_) => None,
        }
    }

    /// Short description for reports (`Lenet300100`, `resnet20 (random weights)`).
    pub fn describe(&self) -> String {
        match self {
            ModelChoice::Builtin(k) => format!("{k:?}"),
            ModelChoice::Network(m) => m.describe(),
        }
    }
}

impl Serialize for ModelChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            ModelChoice::Builtin(k) => k.serialize(s),
            ModelChoice::Network(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ModelChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Choice;
        impl<'de> serde::de::Visitor<'de> for Choice {
            type Value = ModelChoice;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "\"lenet-300-100\", \"lenet\" or a [model] table (onnx = ..., or arch = ...)",
                )
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<ModelChoice, E> {
                ModelKind::deserialize(serde::de::value::StrDeserializer::<E>::new(v))
                    .map(ModelChoice::Builtin)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<ModelChoice, A::Error> {
                ModelConfig::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(ModelChoice::Network)
            }
        }
        d.deserialize_any(Choice)
    }
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Must be `"hierarchical-prune"`.
    pub method: String,
    /// Name of the run (default folder `runs/<name>`).
    pub name: String,
    /// Seed of the split, both searches and every training.
    pub seed: u64,
    /// The network: `model = "lenet"` / `"lenet-300-100"`, or a `[model]` section.
    pub model: ModelChoice,
    /// Data (MNIST or synthetic 28x28 digits).
    pub data: DataConfig,
    /// The pre-trained network.
    pub baseline: BaselineConfig,
    /// Settings shared by both phases.
    pub search: SearchConfig,
    /// Phase 1: thresholds.
    pub phase1: Phase1Config,
    /// Phase 2: bits over the survivors.
    pub phase2: Phase2Config,
    /// Fine-tuning of the final front (masks fixed).
    pub finetune: FinetuneConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            method: METHOD.into(),
            name: "lenet300-hierarchical".into(),
            seed: 1,
            model: ModelChoice::Builtin(ModelKind::Lenet300100),
            data: DataConfig::default(),
            baseline: BaselineConfig::default(),
            search: SearchConfig::default(),
            phase1: Phase1Config::default(),
            phase2: Phase2Config::default(),
            finetune: FinetuneConfig::default(),
        }
    }
}

/// An objective besides the validation error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cost {
    /// Remaining parameters / all parameters (biases are never pruned).
    Params,
    /// Remaining multiply-accumulates / dense ones.
    Flops,
}

/// Settings of both phases.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// The objectives besides the validation error (`["params"]`, `["flops"]` or both).
    pub costs: Vec<Cost>,
    /// Score candidates on the first this-many validation images (0 = all).
    pub fitness_subset: usize,
    /// Evaluation threads (0 = all cores).
    pub threads: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            costs: vec![Cost::Params],
            fitness_subset: 0,
            threads: 0,
        }
    }
}

/// Phase 1: NSGA-II over one threshold per layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Phase1Config {
    /// Population.
    pub pop_size: usize,
    /// Generations.
    pub generations: u64,
    /// SBX crossover probability.
    pub crossover_prob: f64,
    /// Largest fraction of a layer's weights a threshold may prune (the gene's upper bound).
    pub max_prune: f64,
    /// The initial thresholds: `"uniform"` (the paper: each gene uniform in
    /// `[0, max_prune]`) or `"spread"` (each member draws a level and its genes spread below
    /// it, so the population runs from nearly dense to heavily pruned networks; deep networks,
    /// whose uniform members all prune every layer by about half, need it).
    pub init: Phase1Init,
}

/// Phase 1's initial population (see [`Phase1Config::init`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase1Init {
    /// Uniform in the box.
    #[default]
    Uniform,
    /// Spread over levels ([`evoprune::SpreadReal`]).
    Spread,
}

impl Default for Phase1Config {
    fn default() -> Self {
        Phase1Config {
            pop_size: 40,
            generations: 30,
            crossover_prob: 0.9,
            max_prune: 0.995,
            init: Phase1Init::Uniform,
        }
    }
}

/// How weight importance is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Importance {
    /// `|w|`.
    Magnitude,
    /// First-order Taylor saliency `|w * dL/dw|` on training images (Molchanov et al. 2017).
    Taylor,
}

/// Phase 2: binary NSGA-II over the surviving weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Phase2Config {
    /// Population.
    pub pop_size: usize,
    /// Generations.
    pub generations: u64,
    /// Uniform crossover probability.
    pub crossover_prob: f64,
    /// The heavy anchor (whose survivors are the genome): the sparsest phase-1 front member
    /// whose validation error is at most the baseline's plus this.
    pub heavy_tolerance: f64,
    /// The light anchor: the sparsest member within this error increase.
    pub light_tolerance: f64,
    /// Importance measure of sampling and mutation.
    pub importance: Importance,
    /// Training images the Taylor importance averages over.
    pub taylor_images: usize,
    /// Bounds of the adaptive per-bit mutation rate, as multiples of `1 / genome length`.
    pub mutation_min: f64,
    /// Upper bound of the same.
    pub mutation_max: f64,
    /// Incremental evaluation (LeNet-300-100): a child's first-layer activations are updated
    /// from the nearest population member's by the weights that differ.
    pub incremental: bool,
}

impl Default for Phase2Config {
    fn default() -> Self {
        Phase2Config {
            pop_size: 40,
            generations: 60,
            crossover_prob: 0.9,
            heavy_tolerance: 0.002,
            light_tolerance: 0.03,
            importance: Importance::Magnitude,
            taylor_images: 2000,
            mutation_min: 1.0,
            mutation_max: 200.0,
            incremental: true,
        }
    }
}

/// Fine-tuning of the final front.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneConfig {
    /// At most this many members, spread evenly over the front by parameters (0 = no
    /// fine-tuning; members are then scored as pruned).
    pub max_members: usize,
    /// Instead of the spread: for each fraction here, the densest front member whose first
    /// cost (kept parameters, or FLOPs) is at most that fraction (the sparsest member where
    /// none is), e.g. `[0.48]` for a member with at least 52% fewer parameters. Each in
    /// (0, 1]. `max_members = 0` still turns fine-tuning off.
    pub near: Vec<f64>,
    /// The solver (masks fixed).
    pub solver: SolverConfig,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            max_members: 12,
            near: Vec::new(),
            solver: SolverConfig {
                epochs: 3.0,
                lr: 0.005,
                ..SolverConfig::default()
            },
        }
    }
}

fn bad(field: &str, reason: impl Into<String>) -> RunError {
    RunError::invalid(field, reason)
}

impl MethodConfig for Config {
    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        let model: Vec<&mut PathBuf> = match &mut self.model {
            ModelChoice::Network(m) => m.paths_mut().collect(),
            ModelChoice::Builtin(_) => Vec::new(),
        };
        self.data
            .paths_mut()
            .chain(self.baseline.paths_mut())
            .chain(model)
            .collect()
    }

    fn validate(&self) -> Result<()> {
        evoprune_run::config::check_method(&self.method, METHOD)?;
        self.check_model()?;
        self.data.check().map_err(|(k, r)| bad(k, r))?;
        check_costs(&self.search.costs)?;
        self.check_searches()?;
        self.phase2.check()?;
        for (k, c) in [
            ("baseline.solver", &self.baseline.solver),
            ("finetune.solver", &self.finetune.solver),
        ] {
            c.validate().map_err(|e| bad(k, e.to_string()))?;
        }
        Ok(())
    }
}

/// At least one cost, each at most once.
fn check_costs(costs: &[Cost]) -> Result<()> {
    if costs.is_empty() {
        return Err(bad(
            "search.costs",
            "name at least one of \"params\", \"flops\"",
        ));
    }
    if (1..costs.len()).any(|i| costs[..i].contains(&costs[i])) {
        return Err(bad("search.costs", "each cost at most once"));
    }
    Ok(())
}

impl Config {
    /// The `[model]` section, and the settings that only apply to one kind of network.
    fn check_model(&self) -> Result<()> {
        let ModelChoice::Network(m) = &self.model else {
            return Ok(());
        };
        m.check().map_err(|(k, r)| bad(&format!("model.{k}"), r))?;
        if self.baseline.weights.is_some() {
            return Err(bad(
                "baseline.weights",
                "is for the built-in LeNets; a [model] section brings its own weights \
                 (model.weights or the ONNX file) and model.train fine-tunes them",
            ));
        }
        let e = self.finetune.solver.epochs;
        if !(e.is_finite() && (0.0..=10_000.0).contains(&e)) {
            return Err(bad(
                "finetune.solver.epochs",
                format!("a [model] network fine-tunes at most 10000 epochs, got {e}"),
            ));
        }
        Ok(())
    }

    /// The NSGA-II settings of both phases, and phase 1's threshold bound.
    fn check_searches(&self) -> Result<()> {
        for (k, n) in [
            ("phase1.pop_size", self.phase1.pop_size),
            ("phase2.pop_size", self.phase2.pop_size),
        ] {
            if n < 4 || n % 2 == 1 {
                return Err(bad(k, format!("must be even and at least 4, got {n}")));
            }
        }
        for (k, g) in [
            ("phase1.generations", self.phase1.generations),
            ("phase2.generations", self.phase2.generations),
        ] {
            if g == 0 {
                return Err(bad(k, "must be at least 1"));
            }
        }
        for (k, v) in [
            ("phase1.crossover_prob", self.phase1.crossover_prob),
            ("phase2.crossover_prob", self.phase2.crossover_prob),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(k, format!("must be in [0, 1], got {v}")));
            }
        }
        if let Some(f) = self
            .finetune
            .near
            .iter()
            .find(|f| !(f.is_finite() && **f > 0.0 && **f <= 1.0))
        {
            return Err(bad(
                "finetune.near",
                format!("fractions in (0, 1], got {f}"),
            ));
        }
        if !(self.phase1.max_prune > 0.0 && self.phase1.max_prune <= 1.0) {
            return Err(bad(
                "phase1.max_prune",
                format!("must be in (0, 1], got {}", self.phase1.max_prune),
            ));
        }
        Ok(())
    }
}

impl Phase2Config {
    /// The anchors' tolerances, the mutation-rate bounds and the Taylor images.
    fn check(&self) -> Result<()> {
        let p = self;
        for (k, v) in [
            ("phase2.heavy_tolerance", p.heavy_tolerance),
            ("phase2.light_tolerance", p.light_tolerance),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(k, format!("must be in [0, 1], got {v}")));
            }
        }
        if p.light_tolerance < p.heavy_tolerance {
            return Err(bad(
                "phase2.light_tolerance",
                format!(
                    "must be at least heavy_tolerance ({}), got {}",
                    p.heavy_tolerance, p.light_tolerance
                ),
            ));
        }
        if !(p.mutation_min.is_finite()
            && p.mutation_min > 0.0
            && p.mutation_max.is_finite()
            && p.mutation_max >= p.mutation_min)
        {
            return Err(bad(
                "phase2.mutation_min",
                format!(
                    "need 0 < mutation_min <= mutation_max, got {} and {}",
                    p.mutation_min, p.mutation_max
                ),
            ));
        }
        if p.importance == Importance::Taylor && p.taylor_images == 0 {
            return Err(bad("phase2.taylor_images", "must be at least 1"));
        }
        Ok(())
    }
}

/// The built-in quick config: synthetic digits, a small budget (tests and a first look).
pub fn synthetic(model: ModelKind) -> Config {
    let mut c = Config {
        name: "hierarchical-synthetic".into(),
        model: ModelChoice::Builtin(model),
        ..Config::default()
    };
    c.data.source = Source::Synthetic;
    c.data.path = None;
    c.data.val = 100;
    c.baseline.solver.epochs = 8.0;
    c.phase1.pop_size = 8;
    c.phase1.generations = 3;
    c.phase2.pop_size = 8;
    c.phase2.generations = 3;
    c.phase2.light_tolerance = 0.2;
    c.finetune.max_members = 2;
    c.finetune.solver.epochs = 1.0;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn round_trips_and_errors_name_the_key() {
        let c = Config::default();
        let text = c.to_toml().unwrap();
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), c);
        let head = "method = \"hierarchical-prune\"\n";
        for (body, key) in [
            (
                "[phase2]\nheavy_tolerance = 0.1\nlight_tolerance = 0.05\n",
                "phase2.light_tolerance",
            ),
            ("[phase1]\npop_size = 5\n", "phase1.pop_size"),
            ("[phase1]\nmax_prune = 1.5\n", "phase1.max_prune"),
            ("[finetune]\nnear = [0.5, 0.0]\n", "finetune.near"),
            ("[search]\ncosts = []\n", "search.costs"),
            (
                "[search]\ncosts = [\"params\", \"params\"]\n",
                "search.costs",
            ),
            (
                "[search]\ncosts = [\"params\", \"flops\", \"params\"]\n",
                "search.costs",
            ),
            ("[finetune.solver]\nbatch = 0\n", "finetune.solver"),
            ("[phase2]\npopsize = 4\n", "popsize"),
            ("model = \"resnet\"\n", "model"),
        ] {
            let e = Config::parse(&format!("{head}{body}"), Path::new("a.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{body}: {e}");
        }
        let e = Config::parse("method = \"ga-prune\"\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("method"), "{e}");
    }

    #[test]
    fn model_is_a_builtin_name_or_a_section_and_round_trips_through_the_run_folder() {
        let head = "method = \"hierarchical-prune\"\n";
        // the built-in names parse and serialise as before
        let c = Config::parse(&format!("{head}model = \"lenet\"\n"), Path::new("a.toml")).unwrap();
        assert_eq!(c.model, ModelChoice::Builtin(ModelKind::Lenet));
        let text = c.to_toml().unwrap();
        assert!(text.contains("model = \"lenet\""), "{text}");
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), c);
        // a [model] section with its fine-tuning
        let body = "[model]\narch = \"resnet20\"\ninput = [1, 16, 16]\n[model.train]\nepochs = 2\nlr = 0.05\n";
        let c = Config::parse(&format!("{head}{body}"), Path::new("a.toml")).unwrap();
        let m = c.model.network().expect("a [model] section");
        assert_eq!(m.arch.as_deref(), Some("resnet20"));
        assert_eq!(m.input, Some([1, 16, 16]));
        assert_eq!((m.train.epochs, m.train.lr), (2, 0.05));
        // the run folder stores the config as TOML and reads it back on resume
        let dir = tempfile::tempdir().unwrap();
        let (stored, rd) = evoprune_run::start(&c, &dir.path().join("run")).unwrap();
        assert_eq!(stored, c);
        drop(rd);
        let (again, _) = evoprune_run::reopen::<Config>(&dir.path().join("run")).unwrap();
        assert_eq!(again, c);
        // paths resolve against the config's folder
        let f = dir.path().join("c.toml");
        std::fs::write(&f, format!("{head}[model]\nonnx = \"nets/r.onnx\"\n")).unwrap();
        let c = Config::load(&f).unwrap();
        assert_eq!(
            c.model.network().unwrap().onnx.as_deref(),
            Some(dir.path().join("nets/r.onnx").as_path())
        );
        // errors name the key under [model]
        for (body, key) in [
            ("[model]\narch = \"resnet20\"\nbogus = 1\n", "bogus"),
            (
                "[model]\narch = \"resnet20\"\n[model.train]\nepoch = 1\n",
                "epoch",
            ),
            ("[model]\narch = \"resnet21\"\n", "model.arch"),
            ("[model]\n", "model.onnx"),
            (
                "[model]\narch = \"resnet20\"\ninput = [1, 0, 8]\n",
                "model.input",
            ),
            (
                "[model]\narch = \"resnet20\"\n[model.train]\nlr = -1.0\n",
                "model.train.lr",
            ),
            (
                "[model]\nonnx = \"a.onnx\"\nclasses = 10\n",
                "model.classes",
            ),
            ("model = 3\n", "model"),
            (
                "[model]\narch = \"resnet20\"\n[baseline]\nweights = \"w.safetensors\"\n",
                "baseline.weights",
            ),
            (
                "[model]\narch = \"resnet20\"\n[finetune.solver]\nepochs = 20000.0\n",
                "finetune.solver.epochs",
            ),
        ] {
            let e = Config::parse(&format!("{head}{body}"), Path::new("a.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{body}: {e}");
        }
    }
}
