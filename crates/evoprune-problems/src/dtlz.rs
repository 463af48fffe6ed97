//! DTLZ1 and DTLZ2 (Deb, Thiele, Laumanns & Zitzler 2002, doi:10.1109/CEC.2002.1007032).

use evoprune::{Evaluation, ObjectiveSpec, Problem, RealBounds, RealVector};
use std::f64::consts::PI;

/// DTLZ1 or DTLZ2 with any number of objectives `m >= 2` and `n = m - 1 + k` variables.
#[derive(Clone, Debug)]
pub struct Dtlz {
    variant: u8,
    m: usize,
    n_var: usize,
    name: String,
    specs: Vec<ObjectiveSpec>,
}

impl Dtlz {
    /// DTLZ `variant` (1 or 2) with `m` objectives and `n_var` variables.
    ///
    /// # Panics
    /// On an unknown variant, `m < 2` or `n_var < m`.
    pub fn new(variant: u8, m: usize, n_var: usize) -> Self {
        assert!(matches!(variant, 1 | 2), "DTLZ{variant} is not implemented");
        assert!(
            m >= 2 && n_var >= m,
            "DTLZ needs m >= 2 objectives and n_var >= m"
        );
        Dtlz {
            variant,
            m,
            n_var,
            name: format!("dtlz{variant}"),
            specs: (1..=m)
                .map(|i| ObjectiveSpec::minimize(format!("f{i}")))
                .collect(),
        }
    }
    /// DTLZ1 with the customary k = 5: `n = m + 4`.
    pub fn dtlz1(m: usize) -> Self {
        Self::new(1, m, m + 4)
    }
    /// DTLZ2 with the customary k = 10: `n = m + 9`.
    pub fn dtlz2(m: usize) -> Self {
        Self::new(2, m, m + 9)
    }
    /// `[0, 1]^n`.
    pub fn bounds(&self) -> RealBounds {
        RealBounds::uniform(self.n_var, 0.0, 1.0).expect("valid bounds")
    }
    /// Number of objectives.
    pub fn n_obj(&self) -> usize {
        self.m
    }
}

impl Problem for Dtlz {
    type Genome = RealVector;
    type Error = std::convert::Infallible;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, x: &RealVector) -> Result<Evaluation, Self::Error> {
        let m = self.m;
        let (pos, dist) = x.split_at(m - 1);
        let mut f = vec![0.0; m];
        if self.variant == 1 {
            let k = dist.len() as f64;
            let g = 100.0
                * (k + dist
                    .iter()
                    .map(|v| (v - 0.5).powi(2) - (20.0 * PI * (v - 0.5)).cos())
                    .sum::<f64>());
            for (i, fi) in f.iter_mut().enumerate() {
                let mut v = 0.5 * (1.0 + g);
                v *= pos[..m - 1 - i].iter().product::<f64>();
                if i > 0 {
                    v *= 1.0 - pos[m - 1 - i];
                }
                *fi = v;
            }
        } else {
            let g: f64 = dist.iter().map(|v| (v - 0.5).powi(2)).sum();
            for (i, fi) in f.iter_mut().enumerate() {
                let mut v = 1.0 + g;
                v *= pos[..m - 1 - i]
                    .iter()
                    .map(|t| (t * PI / 2.0).cos())
                    .product::<f64>();
                if i > 0 {
                    v *= (pos[m - 1 - i] * PI / 2.0).sin();
                }
                *fi = v;
            }
        }
        Ok(Evaluation::new(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn optimal_points_lie_on_the_true_fronts(m in 2usize..6, pos in proptest::collection::vec(0.0f64..1.0, 5)) {
            let mut x = vec![0.5; m + 9];
            x[..m - 1].copy_from_slice(&pos[..m - 1]);
            let f = Dtlz::dtlz2(m).evaluate(&RealVector(x.clone())).unwrap().objectives;
            prop_assert!((f.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-9, "DTLZ2 front is the unit sphere");
            let f = Dtlz::dtlz1(m).evaluate(&RealVector(x[..m + 4].to_vec())).unwrap().objectives;
            prop_assert!((f.iter().sum::<f64>() - 0.5).abs() < 1e-9, "DTLZ1 front is the simplex sum = 0.5");
        }
    }
}
