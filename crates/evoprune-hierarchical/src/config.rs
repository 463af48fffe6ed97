//! The run config (TOML). Every key has a default; unknown keys are errors naming the key.

pub use evoprune_data::digits28::{DataConfig, Source};
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
    /// The network.
    pub model: ModelKind,
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
            model: ModelKind::Lenet300100,
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
}

impl Default for Phase1Config {
    fn default() -> Self {
        Phase1Config {
            pop_size: 40,
            generations: 30,
            crossover_prob: 0.9,
            max_prune: 0.995,
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
    /// The solver (masks fixed).
    pub solver: SolverConfig,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            max_members: 12,
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
        self.data
            .paths_mut()
            .chain(self.baseline.paths_mut())
            .collect()
    }

    fn validate(&self) -> Result<()> {
        evoprune_run::config::check_method(&self.method, METHOD)?;
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
        model,
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
}
