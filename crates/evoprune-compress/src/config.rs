//! The run config (TOML). Every key has a default (the paper's where it gives one); unknown keys
//! are errors naming the key.

pub use evoprune_data::digits28::{DataConfig, Source};
pub use evoprune_graph::model::{ModelConfig, TrainConfig};
pub use evoprune_nn::store::BaselineConfig;
use evoprune_run::{MethodConfig, Result, RunError};
use evoprune_surrogate::Kind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `method` key of this method's configs.
pub const METHOD: &str = "surrogate-compress";

/// A whole run: both searches on every seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Must be `"surrogate-compress"`.
    pub method: String,
    /// Name of the run (default folder `runs/<name>`).
    pub name: String,
    /// Seed of the data split and the baseline training.
    pub seed: u64,
    /// One surrogate run and one real-problem run per seed.
    pub seeds: Vec<u64>,
    /// Data (MNIST or synthetic 28x28 digits).
    pub data: DataConfig,
    /// The pre-trained LeNet (without `[model]`).
    pub baseline: BaselineConfig,
    /// The network to compress instead of the built-in LeNet: an ONNX file or a zoo
    /// architecture, optionally fine-tuned on the training data first (`[model.train]`).
    ///
    /// Its genome has one pruning amount and one precision gene per convolution and linear
    /// weight tensor; pruning is unstructured by magnitude (weights only: the `target` gene is
    /// fixed to weights, as a network's masks cover convolution and linear weights, not
    /// biases); quantization is static per tensor (int8 / int4, per output channel). The
    /// `dynamic` gene (PyTorch's dynamic int8 activations in linear layers) is fixed off: a plain
    /// float ONNX file cannot carry it. Members of the first seed's surrogate front are
    /// written to `models/member-K.onnx` + `.safetensors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfig>,
    /// The compression problem.
    pub problem: ProblemConfig,
    /// The surrogate-assisted search.
    pub surrogate: SurrogateConfig,
    /// The comparison: the same constrained NSGA-II on the real problem.
    pub real: RealConfig,
    /// Evaluation threads (0 = all cores).
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            method: METHOD.into(),
            name: "lenet-surrogate".into(),
            seed: 1,
            seeds: vec![1, 2, 3, 4, 5],
            data: DataConfig::default(),
            baseline: BaselineConfig::default(),
            model: None,
            problem: ProblemConfig::default(),
            surrogate: SurrogateConfig::default(),
            real: RealConfig::default(),
            threads: 0,
        }
    }
}

/// The compression problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProblemConfig {
    /// The constraint: validation accuracy at least this.
    pub accuracy_floor: f64,
    /// The constraint relative to the dense network instead of `accuracy_floor`: validation
    /// accuracy at least the dense network's minus this (a fraction: 0.01 is one point). For a
    /// network whose own accuracy is not known when the config is written (a baseline trained
    /// by the run); the resolved floor is in the report and `result.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_drop: Option<f64>,
    /// Largest pruning amount a gene may ask for.
    pub max_amount: f64,
    /// Minimise the storage in bytes too (a third objective).
    pub size_objective: bool,
    /// Score plans on the first this-many validation images (0 = all).
    pub fitness_subset: usize,
}

impl ProblemConfig {
    /// The accuracy floor for a dense network of validation accuracy `dense_val`.
    pub fn floor(&self, dense_val: f64) -> f64 {
        self.max_drop
            .map_or(self.accuracy_floor, |d| (dense_val - d).max(0.0))
    }
}

impl Default for ProblemConfig {
    fn default() -> Self {
        ProblemConfig {
            accuracy_floor: 0.98,
            max_drop: None,
            max_amount: 0.99,
            size_objective: false,
            fitness_subset: 0,
        }
    }
}

/// The surrogate-assisted loop (the paper's settings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurrogateConfig {
    /// Real evaluations of the initial design.
    pub initial: usize,
    /// Real evaluations per iteration.
    pub per_iteration: usize,
    /// Total real evaluations.
    pub budget: usize,
    /// Regressor families to choose from, per target, by cross-validation.
    pub kinds: Vec<Kind>,
    /// Folds of the cross-validation.
    pub folds: usize,
    /// The optimiser run on the surrogates: `ctaea` (the paper's) or `nsga2` (constrained
    /// NSGA-II, Deb's constrained domination).
    pub optimiser: Optimiser,
    /// Population of the search on the surrogates (C-TAEA: the fewest Das-Dennis directions
    /// that reach it, e.g. 100 with 2 objectives, 105 with 3).
    pub pop_size: usize,
    /// Its generations.
    pub generations: u64,
    /// Use the exact value of objectives that need no inference (non-zero fraction, bytes)
    /// during the surrogate search; their surrogates are still fitted and cross-validated.
    pub exact_cheap: bool,
}

impl Default for SurrogateConfig {
    fn default() -> Self {
        SurrogateConfig {
            initial: 50,
            per_iteration: 2,
            budget: 100,
            kinds: evoprune_surrogate::ALL.to_vec(),
            folds: 5,
            optimiser: Optimiser::Ctaea,
            pop_size: 100,
            generations: 100,
            exact_cheap: true,
        }
    }
}

/// The optimiser of the search on the surrogates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimiser {
    /// C-TAEA (Li et al. 2019), as the paper.
    Ctaea,
    /// Constrained NSGA-II.
    Nsga2,
}

/// The real-problem comparison: steady-state constrained NSGA-II with the same initial design
/// size and the same evaluations per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealConfig {
    /// Run it.
    pub enabled: bool,
}

impl Default for RealConfig {
    fn default() -> Self {
        RealConfig { enabled: true }
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
            .chain(self.model.iter_mut().flat_map(|m| m.paths_mut()))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        evoprune_run::config::check_method(&self.method, METHOD)?;
        self.data.check().map_err(|(k, r)| bad(k, r))?;
        if let Some(m) = &self.model {
            m.check().map_err(|(k, r)| bad(&format!("model.{k}"), r))?;
        }
        if self.seeds.is_empty() {
            return Err(bad("seeds", "name at least one seed"));
        }
        let p = &self.problem;
        if !(0.0..=1.0).contains(&p.accuracy_floor) {
            return Err(bad(
                "problem.accuracy_floor",
                format!("must be in [0, 1], got {}", p.accuracy_floor),
            ));
        }
        if let Some(d) = p.max_drop {
            if !(0.0..=1.0).contains(&d) {
                return Err(bad(
                    "problem.max_drop",
                    format!("must be in [0, 1], got {d}"),
                ));
            }
            if p.accuracy_floor != ProblemConfig::default().accuracy_floor {
                return Err(bad(
                    "problem.max_drop",
                    "set either accuracy_floor or max_drop, not both",
                ));
            }
        }
        if !(p.max_amount > 0.0 && p.max_amount <= 1.0) {
            return Err(bad(
                "problem.max_amount",
                format!("must be in (0, 1], got {}", p.max_amount),
            ));
        }
        let s = &self.surrogate;
        if s.initial < s.folds.max(4) {
            return Err(bad(
                "surrogate.initial",
                format!(
                    "must be at least 4 and at least the folds ({}), got {}",
                    s.folds, s.initial
                ),
            ));
        }
        if s.per_iteration == 0 {
            return Err(bad("surrogate.per_iteration", "must be at least 1"));
        }
        if s.budget < s.initial {
            return Err(bad(
                "surrogate.budget",
                format!("must be at least initial ({}), got {}", s.initial, s.budget),
            ));
        }
        if s.kinds.is_empty() {
            return Err(bad("surrogate.kinds", "name at least one regressor"));
        }
        if s.folds < 2 {
            return Err(bad("surrogate.folds", "must be at least 2"));
        }
        if s.pop_size < 4 || s.pop_size % 2 == 1 {
            return Err(bad("surrogate.pop_size", "must be even and at least 4"));
        }
        if s.generations == 0 {
            return Err(bad("surrogate.generations", "must be at least 1"));
        }
        self.baseline
            .solver
            .validate()
            .map_err(|e| bad("baseline.solver", e.to_string()))?;
        Ok(())
    }
}

/// The built-in quick config: synthetic digits, a small budget (tests and a first look).
pub fn synthetic() -> Config {
    let mut c = Config {
        name: "surrogate-synthetic".into(),
        seeds: vec![1, 2],
        ..Config::default()
    };
    c.data.source = Source::Synthetic;
    c.data.path = None;
    c.data.val = 100;
    c.baseline.solver.epochs = 6.0;
    c.problem.accuracy_floor = 0.6;
    c.surrogate.initial = 10;
    c.surrogate.budget = 16;
    c.surrogate.pop_size = 12;
    c.surrogate.generations = 5;
    c.surrogate.folds = 3;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn defaults_are_the_papers_and_errors_name_the_key() {
        let c = Config::default();
        assert_eq!(
            (
                c.surrogate.initial,
                c.surrogate.per_iteration,
                c.surrogate.budget,
                c.surrogate.folds
            ),
            (50, 2, 100, 5)
        );
        assert_eq!(c.surrogate.kinds.len(), 3);
        let text = c.to_toml().unwrap();
        assert!(
            !text.contains("[model"),
            "no [model]: the LeNet config as before"
        );
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), c);
        let mut m = c.clone();
        m.model = Some(ModelConfig {
            arch: Some("resnet20".into()),
            input: Some([1, 16, 16]),
            ..ModelConfig::default()
        });
        let text = m.to_toml().unwrap();
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), m);
        // a floor relative to the dense network
        let mut r = c.clone();
        r.problem.max_drop = Some(0.01);
        let text = r.to_toml().unwrap();
        assert!(text.contains("max_drop"));
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), r);
        assert!((r.problem.floor(0.9731) - 0.9631).abs() < 1e-12);
        assert_eq!(c.problem.floor(0.9731), 0.98);
        let head = "method = \"surrogate-compress\"\n";
        for (body, key) in [
            (
                "[problem]\naccuracy_floor = 1.5\n",
                "problem.accuracy_floor",
            ),
            ("[problem]\nmax_drop = -0.01\n", "problem.max_drop"),
            (
                "[problem]\naccuracy_floor = 0.9\nmax_drop = 0.01\n",
                "not both",
            ),
            ("[surrogate]\nbudget = 10\n", "surrogate.budget"),
            ("[surrogate]\nkinds = []\n", "surrogate.kinds"),
            ("[surrogate]\nkinds = [\"svm\"]\n", "svm"),
            ("seeds = []\n", "seeds"),
            ("[surrogate]\npopsize = 4\n", "popsize"),
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
            ("[model]\narch = \"resnet20\"\nbogus = 1\n", "bogus"),
        ] {
            let e = Config::parse(&format!("{head}{body}"), Path::new("a.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{body}: {e}");
        }
    }
}
