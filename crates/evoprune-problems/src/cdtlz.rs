//! Constrained DTLZ problems C1-DTLZ1 and C2-DTLZ2 (Jain & Deb 2014,
//! doi:10.1109/TEVC.2013.2281534), as pymoo defines them; the C-TAEA paper's first benchmarks.

use crate::Dtlz;
use evoprune::{Evaluation, ObjectiveSpec, Problem, RealBounds, RealVector};

/// C1-DTLZ1 (a linear constraint that keeps only a band next to the front, so the search must
/// cross an infeasible region) or C2-DTLZ2 (the front cut into feasible patches: the corners
/// and the centre of the sphere within radius `r`).
#[derive(Clone, Debug)]
pub struct Cdtlz {
    base: Dtlz,
    kind: u8,
    r: f64,
    name: String,
}

impl Cdtlz {
    /// C1-DTLZ1 with `m` objectives and `n_var` variables: DTLZ1 subject to
    /// `f_m / 0.6 + sum_{i<m} f_i / 0.5 <= 1`.
    pub fn c1_dtlz1(m: usize, n_var: usize) -> Self {
        Cdtlz {
            base: Dtlz::new(1, m, n_var),
            kind: 1,
            r: 0.0,
            name: "c1-dtlz1".into(),
        }
    }

    /// C2-DTLZ2 with `m` objectives and `n_var` variables, and pymoo's radius (0.2 for two
    /// objectives, 0.4 for three, else 0.5).
    pub fn c2_dtlz2(m: usize, n_var: usize) -> Self {
        let r = match m {
            2 => 0.2,
            3 => 0.4,
            _ => 0.5,
        };
        Cdtlz {
            base: Dtlz::new(2, m, n_var),
            kind: 2,
            r,
            name: "c2-dtlz2".into(),
        }
    }

    /// `[0, 1]^n`.
    pub fn bounds(&self) -> RealBounds {
        self.base.bounds()
    }

    /// The constraint value of objectives `f` (`<= 0` is feasible).
    pub fn constraint(&self, f: &[f64]) -> f64 {
        let m = f.len();
        if self.kind == 1 {
            let rest: f64 = f[..m - 1].iter().map(|v| v / 0.5).sum();
            -(1.0 - f[m - 1] / 0.6 - rest)
        } else {
            let r2 = self.r * self.r;
            let sq: f64 = f.iter().map(|v| v * v).sum();
            let corners = (0..m)
                .map(|i| (f[i] - 1.0).powi(2) + (sq - f[i] * f[i]) - r2)
                .fold(f64::INFINITY, f64::min);
            let a = 1.0 / (m as f64).sqrt();
            let centre: f64 = f.iter().map(|v| (v - a).powi(2)).sum::<f64>() - r2;
            corners.min(centre)
        }
    }
}

impl Problem for Cdtlz {
    type Genome = RealVector;
    type Error = std::convert::Infallible;

    fn objectives(&self) -> &[ObjectiveSpec] {
        self.base.objectives()
    }

    fn n_constraints(&self) -> usize {
        1
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, x: &RealVector) -> Result<Evaluation, Self::Error> {
        let f = self.base.evaluate(x)?.objectives;
        let g = self.constraint(&f);
        Ok(Evaluation::with_constraints(f, vec![g]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_match_pymoo_values() {
        // values from pymoo 0.6 (constraint_c1_linear, constraint_c2 with r = 0.4)
        let c1 = Cdtlz::c1_dtlz1(3, 7);
        assert!((c1.constraint(&[0.1, 0.1, 0.3]) - (-(1.0 - 0.5 - 0.4))).abs() < 1e-12);
        let c2 = Cdtlz::c2_dtlz2(3, 12);
        let a = 1.0 / 3f64.sqrt();
        // the centre of the sphere's front is feasible, a point between the patches is not
        assert!(c2.constraint(&[a, a, a]) < 0.0);
        assert!(c2.constraint(&[0.0, 0.6, 0.8]) > 0.0);
        assert!(c2.constraint(&[1.0, 0.0, 0.0]) < 0.0);
        let x = RealVector(vec![0.5; 12]);
        let e = c2.evaluate(&x).unwrap();
        assert_eq!(e.constraints.len(), 1);
        assert_eq!(c2.n_constraints(), 1);
    }
}
