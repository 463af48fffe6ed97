//! The run config (TOML). Every key has a default (the paper's where it gives one); unknown keys
//! are errors naming the key.

use evoprune_nn::lenet::SolverConfig;
use evoprune_run::{MethodConfig, Result, RunError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `method` key of this method's configs.
pub const METHOD: &str = "ga-prune";

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Must be `"ga-prune"`.
    pub method: String,
    /// Name of the run (default folder `runs/<name>`).
    pub name: String,
    /// Seed of the split, the search and every training.
    pub seed: u64,
    /// The network to prune (an ONNX file or a zoo architecture); absent: the paper's Caffe
    /// LeNet, trained as `[baseline]` says. On a network the filter genes are its
    /// coupled-channel groups and the connection genes its linear layers' weights;
    /// `[retrain]` and `[finetune]` train it with SGD at a constant rate (a fractional `epochs`
    /// ends with a partial pass: 0.25 is a quarter of the training images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<evoprune_graph::model::ModelConfig>,
    /// Data.
    pub data: DataConfig,
    /// The pre-trained LeNet.
    pub baseline: BaselineConfig,
    /// The search.
    pub search: SearchConfig,
    /// Retraining of the elite every `search.retrain_every` generations (masks fixed).
    pub retrain: SolverConfig,
    /// Final retraining of the result (GA: the elite; NSGA-II: every front member).
    pub finetune: SolverConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            method: METHOD.into(),
            name: "lenet-ga".into(),
            seed: 1,
            model: None,
            data: DataConfig::default(),
            baseline: BaselineConfig::default(),
            search: SearchConfig::default(),
            // one epoch of the training schedule per cycle (at 1/10 of the rate the error crept
            // up from cycle to cycle: 2.8%, 3.5%, 4.5% after 5, 10, 15 generations)
            retrain: SolverConfig {
                epochs: 1.0,
                ..SolverConfig::default()
            },
            // the paper's final train(elite): the whole baseline schedule, masks fixed
            finetune: SolverConfig {
                epochs: 10.7,
                ..SolverConfig::default()
            },
        }
    }
}

pub use evoprune_data::digits28::{DataConfig, Source};
pub use evoprune_nn::store::BaselineConfig;

/// Which search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The paper's GA on `lambda1 * e + lambda2 * c + lambda3 * (1 - s)`.
    Ga,
    /// NSGA-II over (e, c, 1 - s), returning a front.
    Nsga2,
}

/// Which filter genes the mutation prefers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MutationBias {
    /// Every living filter gene dies with probability Pmc (the paper).
    #[default]
    Uniform,
    /// Networks of `[model]`: at the start of each cycle the groups alive in the elite are
    /// ranked by importance under the cycle's weights (batch-norm scales, else filter norms,
    /// relative to their layer), and the least important die more often (3x Pmc down to
    /// nearly 0; the same number die on average). Not in the paper.
    Importance,
}

/// Why `mutation_bias = "importance"` cannot apply to the built-in LeNet.
pub(crate) const IMPORTANCE_NEEDS_MODEL: &str =
    "\"importance\" ranks the groups of a network of [model]; the built-in LeNet has none";

impl MutationBias {
    fn is_uniform(&self) -> bool {
        *self == MutationBias::Uniform
    }
}

/// The evolutionary search (defaults: the paper's settings, REFERENCE-NOTES section 4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// GA or NSGA-II.
    pub mode: Mode,
    /// Fitness weights (lambda1, lambda2, lambda3) of error, remaining FLOPs, 1 - sparsity;
    /// in NSGA-II mode they pick the member whose weights are retrained.
    pub lambdas: [f64; 3],
    /// Population size N.
    pub pop_size: usize,
    /// Parents come from the K best (GA).
    pub top_k: usize,
    /// Crossover probability Pc (microbial crossover).
    pub crossover_prob: f64,
    /// Probability of pruning each living conv filter in a mutation (Pmc).
    pub conv_mutation: f64,
    /// Probability of pruning each living FC connection in a mutation (Pmf).
    pub fc_mutation: f64,
    /// Which filter genes the mutation prefers (absent from a saved config when uniform, so
    /// the runs of earlier versions resume).
    #[serde(skip_serializing_if = "MutationBias::is_uniform")]
    pub mutation_bias: MutationBias,
    /// Retrain the elite every T generations (T).
    pub retrain_every: u64,
    /// Generation budget.
    pub max_generations: u64,
    /// Stop when the elite's fitness after retraining improved by less than this ...
    pub tolerance: f64,
    /// ... over this many retraining cycles (0 = never: run the whole budget).
    pub patience: usize,
    /// Validation images used for the fitness (0 = all of `data.val`).
    pub fitness_subset: usize,
    /// Networks of `[model]`: before a candidate is scored, re-estimate its batch norms'
    /// running statistics on this many training images (forward passes in batches of
    /// `retrain.batch`, no weight change; "adaptive batch norm"). 0: score with the statistics
    /// as they are (the paper). Pruned channels change what later layers receive, and stale
    /// statistics can cost an unretrained candidate tens of points that a few batches win back.
    pub recalibrate: usize,
    /// NSGA-II: at most this many members of the final front are finished (retrained as
    /// `[finetune]` says, compacted, scored, timed), spread evenly over it by MACs, the
    /// sparsest and the densest among them (0 = every member).
    pub front_members: usize,
    /// Threads evaluating candidates (0 = all cores). Results do not depend on it.
    pub threads: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            mode: Mode::Ga,
            lambdas: [0.5, 0.0, 0.5],
            pop_size: 30,
            top_k: 5,
            crossover_prob: 0.6,
            conv_mutation: 0.1,
            fc_mutation: 0.15,
            mutation_bias: MutationBias::Uniform,
            retrain_every: 5,
            max_generations: 150,
            tolerance: 1e-3,
            patience: 4,
            fitness_subset: 0,
            recalibrate: 0,
            front_members: 0,
            threads: 0,
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
            .chain(self.model.iter_mut().flat_map(|m| m.paths_mut()))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        evoprune_run::config::check_method(&self.method, METHOD)?;
        self.data.check().map_err(|(k, r)| bad(k, r))?;
        if let Some(m) = &self.model {
            m.check().map_err(|(k, r)| bad(&format!("model.{k}"), r))?;
        }
        let s = &self.search;
        if s.lambdas.iter().any(|l| !(l.is_finite() && *l >= 0.0))
            || (s.lambdas.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(bad(
                "search.lambdas",
                format!("three weights in [0, 1] summing to 1, got {:?}", s.lambdas),
            ));
        }
        if s.pop_size < 2 {
            return Err(bad("search.pop_size", "must be at least 2"));
        }
        if s.top_k == 0 || s.top_k > s.pop_size {
            return Err(bad("search.top_k", "must be in [1, pop_size]"));
        }
        for (k, v) in [
            ("search.crossover_prob", s.crossover_prob),
            ("search.conv_mutation", s.conv_mutation),
            ("search.fc_mutation", s.fc_mutation),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(k, format!("must be in [0, 1], got {v}")));
            }
        }
        if s.retrain_every == 0 {
            return Err(bad("search.retrain_every", "must be at least 1"));
        }
        if s.max_generations == 0 {
            return Err(bad("search.max_generations", "must be at least 1"));
        }
        if s.recalibrate > 0 && self.model.is_none() {
            return Err(bad(
                "search.recalibrate",
                "re-estimates batch norms of a network of [model]; the built-in LeNet has none",
            ));
        }
        if s.mutation_bias == MutationBias::Importance && self.model.is_none() {
            return Err(bad("search.mutation_bias", IMPORTANCE_NEEDS_MODEL));
        }
        if s.recalibrate == 1 || s.recalibrate > 1_000_000 {
            return Err(bad(
                "search.recalibrate",
                "0 (off) or 2 to 1000000 images (batch statistics need 2)",
            ));
        }
        if s.recalibrate > 0 && self.retrain.batch < 2 {
            return Err(bad(
                "retrain.batch",
                "must be at least 2 to re-estimate batch statistics (search.recalibrate)",
            ));
        }
        if !(s.tolerance.is_finite() && s.tolerance >= 0.0) {
            return Err(bad("search.tolerance", "must be finite and >= 0"));
        }
        for (k, c) in [
            ("baseline.solver", &self.baseline.solver),
            ("retrain", &self.retrain),
            ("finetune", &self.finetune),
        ] {
            c.validate().map_err(|e| bad(k, e.to_string()))?;
        }
        Ok(())
    }
}

/// The built-in quick config: synthetic data, a small budget (tests and a first look).
pub fn synthetic() -> Config {
    let mut c = Config {
        name: "lenet-ga-synthetic".into(),
        ..Config::default()
    };
    c.data.source = Source::Synthetic;
    c.data.path = None;
    c.data.val = 100;
    c.baseline.solver.epochs = 10.0;
    c.search.lambdas = [0.8, 0.1, 0.1];
    c.search.max_generations = 10;
    c.search.pop_size = 8;
    c.retrain.epochs = 1.0;
    c.finetune.epochs = 1.0;
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
            (c.search.pop_size, c.search.top_k, c.search.retrain_every),
            (30, 5, 5)
        );
        assert_eq!(
            (
                c.search.crossover_prob,
                c.search.conv_mutation,
                c.search.fc_mutation
            ),
            (0.6, 0.1, 0.15)
        );
        let text = c.to_toml().unwrap();
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), c);
        let e = Config::parse(
            "method = \"ga-prune\"\n[search]\nlambdas = [0.5, 0.5, 0.5]\n",
            Path::new("a.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("search.lambdas"), "{e}");
        let e = Config::parse(
            "method = \"ga-prune\"\n[search]\npopsize = 3\n",
            Path::new("a.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("popsize") && e.contains("a.toml"), "{e}");
        let e = Config::parse(
            "method = \"ga-prune\"\n[retrain]\nbatch = 0\n",
            Path::new("a.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("retrain") && e.contains("batch"), "{e}");
        let err = |bias: &str| {
            let text = format!("method = \"ga-prune\"\n[search]\nmutation_bias = \"{bias}\"\n");
            Config::parse(&text, Path::new("a.toml"))
                .unwrap_err()
                .to_string()
        };
        let e = err("importance");
        assert!(
            e.contains("search.mutation_bias") && e.contains("LeNet"),
            "{e}"
        );
        let e = err("magnitude");
        assert!(
            e.contains("mutation_bias") && e.contains("importance"),
            "{e}"
        );
        // the default is left out of a saved config (earlier runs' fingerprints hold)
        assert!(!text.contains("mutation_bias"), "{text}");
        let imp = Config::parse(
            "method = \"ga-prune\"\n[model]\narch = \"resnet20\"\n[search]\nmutation_bias = \"importance\"\n",
            Path::new("a.toml"),
        )
        .unwrap();
        assert_eq!(imp.search.mutation_bias, MutationBias::Importance);
        let text = imp.to_toml().unwrap();
        assert!(text.contains("mutation_bias = \"importance\""), "{text}");
        assert_eq!(Config::parse(&text, Path::new("x.toml")).unwrap(), imp);
        let e = Config::parse("method = \"other\"\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("method"), "{e}");
    }
}
