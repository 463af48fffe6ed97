//! Evaluated members of a population.

use crate::problem::{Evaluation, ObjectiveSpec, Outcome};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// An evaluated genome with its minimisation-form objectives and the bookkeeping survival needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Individual<G> {
    /// The genome.
    pub genome: G,
    /// The evaluation as the problem reported it, or the failure message.
    pub outcome: Outcome,
    /// Objectives in minimisation form (maximised ones negated); `+inf` for a failed evaluation.
    pub f: Vec<f64>,
    /// Total constraint violation (`0` when feasible, `+inf` for a failed evaluation).
    pub cv: f64,
    /// Non-domination rank (0 = first front), set by survival.
    pub rank: usize,
    /// Crowding distance within its front, set by survival.
    pub crowding: f64,
    /// Scalar fitness for scalarising algorithms (weighted sum); `0` when unused.
    pub fitness: f64,
}

impl<G> Individual<G> {
    /// Build an individual from an outcome, checking the problem's contract.
    pub fn from_outcome(
        genome: G,
        outcome: Outcome,
        specs: &[ObjectiveSpec],
        n_constraints: usize,
    ) -> Result<Self> {
        let outcome = match outcome {
            Ok(e) => validate(e, specs, n_constraints)?,
            Err(msg) => Err(msg),
        };
        let (f, cv) = match &outcome {
            Ok(e) => (
                specs
                    .iter()
                    .zip(&e.objectives)
                    .map(|(s, v)| s.to_min(*v))
                    .collect(),
                e.violation(),
            ),
            Err(_) => (vec![f64::INFINITY; specs.len()], f64::INFINITY),
        };
        Ok(Individual {
            genome,
            outcome,
            f,
            cv,
            rank: usize::MAX,
            crowding: 0.0,
            fitness: 0.0,
        })
    }

    /// True when the evaluation succeeded and every constraint holds.
    pub fn is_feasible(&self) -> bool {
        self.outcome.is_ok() && self.cv <= 0.0
    }

    /// The evaluation, if it succeeded.
    pub fn evaluation(&self) -> Option<&Evaluation> {
        self.outcome.as_ref().ok()
    }
}

/// Check lengths; turn non-finite values into a failure (a NaN objective is a failed candidate).
fn validate(e: Evaluation, specs: &[ObjectiveSpec], n_constraints: usize) -> Result<Outcome> {
    if e.objectives.len() != specs.len() {
        return Err(Error::Problem(format!(
            "evaluate returned {} objectives, expected {}",
            e.objectives.len(),
            specs.len()
        )));
    }
    if e.constraints.len() != n_constraints {
        return Err(Error::Problem(format!(
            "evaluate returned {} constraints, expected {n_constraints}",
            e.constraints.len()
        )));
    }
    for (s, v) in specs.iter().zip(&e.objectives) {
        if !v.is_finite() {
            return Ok(Err(format!("objective '{}' is {v}", s.name)));
        }
    }
    for (j, v) in e.constraints.iter().enumerate() {
        if v.is_nan() {
            return Ok(Err(format!("constraint {j} is NaN")));
        }
    }
    Ok(Ok(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximised_objectives_are_negated_and_failures_are_infeasible() {
        let specs = [
            ObjectiveSpec::minimize("err"),
            ObjectiveSpec::maximize("auroc"),
        ];
        let i =
            Individual::from_outcome((), Ok(Evaluation::new(vec![0.1, 0.9])), &specs, 0).unwrap();
        assert_eq!(i.f, vec![0.1, -0.9]);
        assert!(i.is_feasible());
        let nan = Individual::from_outcome((), Ok(Evaluation::new(vec![f64::NAN, 0.9])), &specs, 0)
            .unwrap();
        assert!(!nan.is_feasible());
        assert!(nan.outcome.unwrap_err().contains("'err'"));
        let fail = Individual::from_outcome((), Err("loss is NaN".into()), &specs, 0).unwrap();
        assert_eq!(fail.cv, f64::INFINITY);
        assert!(Individual::from_outcome((), Ok(Evaluation::new(vec![0.1])), &specs, 0).is_err());
    }

    #[test]
    fn violation_sums_positive_parts() {
        let specs = [ObjectiveSpec::minimize("f")];
        let i = Individual::from_outcome(
            (),
            Ok(Evaluation::with_constraints(
                vec![1.0],
                vec![-1.0, 2.0, 0.5],
            )),
            &specs,
            3,
        )
        .unwrap();
        assert_eq!(i.cv, 2.5);
        assert!(!i.is_feasible());
    }
}
