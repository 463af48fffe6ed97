//! Small problems for doctests, unit tests and examples.

use crate::genome::{BitString, RealBounds, RealVector};
use crate::{Evaluation, ObjectiveSpec, Problem};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Schaffer's problem N.1: `f1 = x²`, `f2 = (x - 2)²`, `x in [-10, 10]`; Pareto set `[0, 2]`.
#[derive(Debug)]
pub struct Schaffer {
    specs: Vec<ObjectiveSpec>,
}

impl Schaffer {
    /// The problem.
    pub fn new() -> Self {
        Schaffer {
            specs: vec![ObjectiveSpec::minimize("f1"), ObjectiveSpec::minimize("f2")],
        }
    }
    /// `[-10, 10]`.
    pub fn bounds(&self) -> RealBounds {
        RealBounds::uniform(1, -10.0, 10.0).expect("valid bounds")
    }
}

impl Default for Schaffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Problem for Schaffer {
    type Genome = RealVector;
    type Error = std::convert::Infallible;
    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }
    fn name(&self) -> &str {
        "schaffer"
    }
    fn evaluate(&self, x: &RealVector) -> Result<Evaluation, Self::Error> {
        Ok(Evaluation::new(vec![
            x[0] * x[0],
            (x[0] - 2.0) * (x[0] - 2.0),
        ]))
    }
}

/// Why [`OneMax`] fails an evaluation.
#[derive(Debug, thiserror::Error)]
#[error("simulated training divergence (loss is NaN)")]
pub struct Diverged;

/// Bi-objective OneMax/ZeroMax on bits: maximise ones, maximise zeros (every genome is
/// Pareto-optimal, the front has `len + 1` points). Genomes whose ones count is a multiple of
/// `fail_every` fail, to exercise failure handling. Counts evaluations.
#[derive(Debug)]
pub struct OneMax {
    /// Genome length.
    pub len: usize,
    /// Fail genomes whose ones count is a positive multiple of this (0 = never).
    pub fail_every: usize,
    specs: Vec<ObjectiveSpec>,
    /// Number of `evaluate` calls.
    pub calls: AtomicUsize,
}

impl OneMax {
    /// OneMax over `len` bits.
    pub fn new(len: usize, fail_every: usize) -> Self {
        OneMax {
            len,
            fail_every,
            specs: vec![
                ObjectiveSpec::maximize("ones"),
                ObjectiveSpec::maximize("zeros"),
            ],
            calls: AtomicUsize::new(0),
        }
    }
}

impl Problem for OneMax {
    type Genome = BitString;
    type Error = Diverged;
    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }
    fn name(&self) -> &str {
        "onemax"
    }
    fn evaluate(&self, g: &BitString) -> Result<Evaluation, Diverged> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let ones = g.count_ones();
        if self.fail_every > 0 && ones > 0 && ones.is_multiple_of(self.fail_every) {
            return Err(Diverged);
        }
        Ok(Evaluation::new(vec![ones as f64, (g.len() - ones) as f64]))
    }
}
