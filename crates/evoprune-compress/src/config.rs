//! The run config (TOML). Every key has a default (the paper's where it gives one); unknown keys
//! are errors naming the key.

use evoprune_data::digits28::{DataConfig, Source};
use evoprune_nn::lenet::SolverConfig;
use evoprune_run::{Result, RunError};
use evoprune_surrogate::Kind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// The pre-trained LeNet.
    pub baseline: BaselineConfig,
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
            problem: ProblemConfig::default(),
            surrogate: SurrogateConfig::default(),
            real: RealConfig::default(),
            threads: 0,
        }
    }
}

/// The pre-trained network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Trained LeNet weights (safetensors or .pth, PyTorch names); when absent one is trained
    /// with `solver` and cached.
    pub weights: Option<PathBuf>,
    /// Folder of the trained-baseline cache (key: data + solver + seed).
    pub cache_dir: PathBuf,
    /// How the baseline is trained.
    pub solver: SolverConfig,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            weights: None,
            cache_dir: PathBuf::from("../.evoprune-cache"),
            solver: SolverConfig {
                epochs: 10.7,
                ..SolverConfig::default()
            },
        }
    }
}

/// The compression problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProblemConfig {
    /// The constraint: validation accuracy at least this.
    pub accuracy_floor: f64,
    /// Largest pruning amount a gene may ask for.
    pub max_amount: f64,
    /// Minimise the storage in bytes too (a third objective).
    pub size_objective: bool,
    /// Score plans on the first this-many validation images (0 = all).
    pub fitness_subset: usize,
}

impl Default for ProblemConfig {
    fn default() -> Self {
        ProblemConfig {
            accuracy_floor: 0.98,
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
    /// Population of the search on the surrogates.
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
            pop_size: 100,
            generations: 100,
            exact_cheap: true,
        }
    }
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

impl Config {
    /// Parse a config file; relative paths become relative to the file's folder.
    pub fn load(path: &Path) -> Result<Config> {
        let mut c: Config = evoprune_run::config::load(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(p) = c.data.path.as_mut() {
            *p = evoprune_run::config::resolve(base, p);
        }
        if let Some(p) = c.baseline.weights.as_mut() {
            *p = evoprune_run::config::resolve(base, p);
        }
        c.baseline.cache_dir = evoprune_run::config::resolve(base, &c.baseline.cache_dir);
        c.validate()?;
        Ok(c)
    }

    /// Parse config text (paths stay as written).
    pub fn parse(text: &str, origin: &Path) -> Result<Config> {
        let c: Config = evoprune_run::config::parse(text, origin)?;
        c.validate()?;
        Ok(c)
    }

    /// As TOML (what the run folder stores).
    pub fn to_toml(&self) -> Result<String> {
        evoprune_run::config::to_string(self)
    }

    /// Check every value; errors name the key.
    pub fn validate(&self) -> Result<()> {
        if self.method != METHOD {
            return Err(bad(
                "method",
                format!("this config is for \"{METHOD}\", got \"{}\"", self.method),
            ));
        }
        if self.data.source == Source::Mnist && self.data.path.is_none() {
            return Err(bad("data.path", "required for source \"mnist\""));
        }
        if self.data.val == 0 {
            return Err(bad("data.val", "must be at least 1"));
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
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), c);
        let head = "method = \"surrogate-compress\"\n";
        for (body, key) in [
            (
                "[problem]\naccuracy_floor = 1.5\n",
                "problem.accuracy_floor",
            ),
            ("[surrogate]\nbudget = 10\n", "surrogate.budget"),
            ("[surrogate]\nkinds = []\n", "surrogate.kinds"),
            ("[surrogate]\nkinds = [\"svm\"]\n", "svm"),
            ("seeds = []\n", "seeds"),
            ("[surrogate]\npopsize = 4\n", "popsize"),
        ] {
            let e = Config::parse(&format!("{head}{body}"), Path::new("a.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{body}: {e}");
        }
    }
}
