//! The user's side: objectives, constraints and evaluation.

use crate::genome::Genome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether an objective is to be minimised or maximised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Smaller is better.
    Minimize,
    /// Larger is better. The engine works on `-value` internally.
    Maximize,
}

/// A named objective with its direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSpec {
    /// Name, used in reports and CSV headers (e.g. `error`, `active_fraction`).
    pub name: String,
    /// Minimise or maximise.
    pub direction: Direction,
}

impl ObjectiveSpec {
    /// An objective to minimise.
    pub fn minimize(name: impl Into<String>) -> Self {
        ObjectiveSpec {
            name: name.into(),
            direction: Direction::Minimize,
        }
    }
    /// An objective to maximise.
    pub fn maximize(name: impl Into<String>) -> Self {
        ObjectiveSpec {
            name: name.into(),
            direction: Direction::Maximize,
        }
    }
    /// The value in minimisation form (`value` or `-value`).
    #[inline]
    pub fn to_min(&self, value: f64) -> f64 {
        match self.direction {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }
}

/// The result of evaluating one genome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// One value per objective, in the problem's own direction (as reported, not negated).
    pub objectives: Vec<f64>,
    /// One value per inequality constraint, satisfied when `<= 0` (pymoo's convention).
    pub constraints: Vec<f64>,
    /// Free-form named measurements kept with the result (e.g. `epochs`, `active_count`).
    pub extras: BTreeMap<String, f64>,
}

impl Evaluation {
    /// An unconstrained evaluation.
    pub fn new(objectives: Vec<f64>) -> Self {
        Evaluation {
            objectives,
            constraints: Vec::new(),
            extras: BTreeMap::new(),
        }
    }
    /// An evaluation with constraint values (`<= 0` means satisfied).
    pub fn with_constraints(objectives: Vec<f64>, constraints: Vec<f64>) -> Self {
        Evaluation {
            objectives,
            constraints,
            extras: BTreeMap::new(),
        }
    }
    /// Attach a named measurement.
    pub fn extra(mut self, key: impl Into<String>, value: f64) -> Self {
        self.extras.insert(key.into(), value);
        self
    }
    /// Total constraint violation: `sum(max(0, g_j))`.
    pub fn violation(&self) -> f64 {
        self.constraints.iter().map(|g| g.max(0.0)).sum()
    }
}

/// The outcome of an evaluation as the engine stores it: a value, or the failure's message
/// (a failed candidate is infeasible; the run goes on).
pub type Outcome = Result<Evaluation, String>;

/// An optimisation problem.
///
/// ```
/// use evoprune::{Evaluation, ObjectiveSpec, Problem, RealVector};
/// struct Schaffer { specs: Vec<ObjectiveSpec> }
/// impl Problem for Schaffer {
///     type Genome = RealVector;
///     type Error = std::convert::Infallible;
///     fn objectives(&self) -> &[ObjectiveSpec] { &self.specs }
///     fn evaluate(&self, x: &RealVector) -> Result<Evaluation, Self::Error> {
///         Ok(Evaluation::new(vec![x[0] * x[0], (x[0] - 2.0).powi(2)]))
///     }
/// }
/// let p = Schaffer { specs: vec![ObjectiveSpec::minimize("f1"), ObjectiveSpec::minimize("f2")] };
/// assert_eq!(p.evaluate(&RealVector(vec![1.0])).unwrap().objectives, vec![1.0, 1.0]);
/// ```
pub trait Problem: Sync {
    /// The genome this problem evaluates.
    type Genome: Genome;
    /// Why an evaluation can fail (e.g. a NaN training loss). A failure makes that candidate
    /// infeasible; the run goes on.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The objectives, in the order `evaluate` returns them.
    fn objectives(&self) -> &[ObjectiveSpec];

    /// Number of inequality constraints `evaluate` returns (default none).
    fn n_constraints(&self) -> usize {
        0
    }

    /// A short name for reports and checkpoints.
    fn name(&self) -> &str {
        "problem"
    }

    /// Evaluate one genome.
    fn evaluate(&self, genome: &Self::Genome) -> Result<Evaluation, Self::Error>;

    /// How many genomes one thread should evaluate between two writes of the crash journal
    /// (default 64, which keeps cheap problems fast). Problems whose evaluations take seconds
    /// return 1, so an interruption loses at most one evaluation in flight per thread.
    fn batch_hint(&self) -> usize {
        64
    }

    /// Evaluate many genomes at once, returning one result per genome in order.
    ///
    /// The default evaluates them one by one. Override it when a batch is cheaper than its
    /// parts (training many masked networks in one pass, on threads or a GPU).
    fn evaluate_batch(&self, genomes: &[&Self::Genome]) -> Vec<Result<Evaluation, Self::Error>> {
        genomes.iter().map(|g| self.evaluate(g)).collect()
    }
}

/// A borrowed problem is a problem, so a caller can keep (and inspect) it after a run.
impl<P: Problem + ?Sized> Problem for &P {
    type Genome = P::Genome;
    type Error = P::Error;
    fn objectives(&self) -> &[ObjectiveSpec] {
        (**self).objectives()
    }
    fn n_constraints(&self) -> usize {
        (**self).n_constraints()
    }
    fn name(&self) -> &str {
        (**self).name()
    }
    fn evaluate(&self, genome: &Self::Genome) -> Result<Evaluation, Self::Error> {
        (**self).evaluate(genome)
    }
    fn batch_hint(&self) -> usize {
        (**self).batch_hint()
    }
    fn evaluate_batch(&self, genomes: &[&Self::Genome]) -> Vec<Result<Evaluation, Self::Error>> {
        (**self).evaluate_batch(genomes)
    }
}
