//! The ZDT suite (Zitzler, Deb & Thiele 2000, doi:10.1162/106365600568202).

use evoprune::{Evaluation, ObjectiveSpec, Problem, RealBounds, RealVector};
use std::f64::consts::PI;

/// One of ZDT1, ZDT2, ZDT3, ZDT4, ZDT6 (two objectives, minimised).
#[derive(Clone, Debug)]
pub struct Zdt {
    variant: u8,
    n_var: usize,
    name: String,
    specs: Vec<ObjectiveSpec>,
}

impl Zdt {
    /// ZDT `variant` (1, 2, 3, 4 or 6) with `n_var` variables.
    ///
    /// # Panics
    /// On an unknown variant or `n_var < 2`.
    pub fn new(variant: u8, n_var: usize) -> Self {
        assert!(
            matches!(variant, 1 | 2 | 3 | 4 | 6),
            "ZDT{variant} does not exist"
        );
        assert!(n_var >= 2, "ZDT needs at least 2 variables");
        Zdt {
            variant,
            n_var,
            name: format!("zdt{variant}"),
            specs: vec![ObjectiveSpec::minimize("f1"), ObjectiveSpec::minimize("f2")],
        }
    }
    /// ZDT1, 30 variables.
    pub fn zdt1() -> Self {
        Self::new(1, 30)
    }
    /// ZDT2, 30 variables.
    pub fn zdt2() -> Self {
        Self::new(2, 30)
    }
    /// ZDT3, 30 variables.
    pub fn zdt3() -> Self {
        Self::new(3, 30)
    }
    /// ZDT4, 10 variables.
    pub fn zdt4() -> Self {
        Self::new(4, 10)
    }
    /// ZDT6, 10 variables.
    pub fn zdt6() -> Self {
        Self::new(6, 10)
    }

    /// Box bounds: `[0,1]^n`, except ZDT4's `x2..xn in [-5, 5]`.
    pub fn bounds(&self) -> RealBounds {
        let mut lo = vec![0.0; self.n_var];
        let mut hi = vec![1.0; self.n_var];
        if self.variant == 4 {
            for i in 1..self.n_var {
                lo[i] = -5.0;
                hi[i] = 5.0;
            }
        }
        RealBounds::new(lo, hi).expect("valid bounds")
    }

    /// `n` points of the true Pareto front.
    pub fn pareto_front(&self, n: usize) -> Vec<[f64; 2]> {
        let n = n.max(2);
        let xs = (0..n).map(|i| i as f64 / (n - 1) as f64);
        match self.variant {
            1 | 4 => xs.map(|f1| [f1, 1.0 - f1.sqrt()]).collect(),
            2 => xs.map(|f1| [f1, 1.0 - f1 * f1]).collect(),
            6 => {
                let min_f1 = 0.280_775_318_1;
                xs.map(|t| {
                    let f1 = min_f1 + t * (1.0 - min_f1);
                    [f1, 1.0 - f1 * f1]
                })
                .collect()
            }
            _ => {
                // ZDT3: disconnected; keep the non-dominated part of the g = 1 curve
                let pts: Vec<[f64; 2]> = (0..n * 20)
                    .map(|i| i as f64 / (n * 20 - 1) as f64 * 0.8518)
                    .map(|f1| [f1, 1.0 - f1.sqrt() - f1 * (10.0 * PI * f1).sin()])
                    .collect();
                pts.iter()
                    .copied()
                    .filter(|p| !pts.iter().any(|q| q[0] <= p[0] && q[1] <= p[1] && q != p))
                    .collect()
            }
        }
    }
}

impl Problem for Zdt {
    type Genome = RealVector;
    type Error = std::convert::Infallible;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, x: &RealVector) -> Result<Evaluation, Self::Error> {
        let n = x.len() as f64;
        let rest = &x[1..];
        let (f1, f2) = match self.variant {
            1..=3 => {
                let f1 = x[0];
                let g = 1.0 + 9.0 * rest.iter().sum::<f64>() / (n - 1.0);
                let r = f1 / g;
                let h = match self.variant {
                    1 => 1.0 - r.sqrt(),
                    2 => 1.0 - r * r,
                    _ => 1.0 - r.sqrt() - r * (10.0 * PI * f1).sin(),
                };
                (f1, g * h)
            }
            4 => {
                let f1 = x[0];
                let g = 1.0
                    + 10.0 * (n - 1.0)
                    + rest
                        .iter()
                        .map(|v| v * v - 10.0 * (4.0 * PI * v).cos())
                        .sum::<f64>();
                (f1, g * (1.0 - (f1 / g).sqrt()))
            }
            _ => {
                let f1 = 1.0 - (-4.0 * x[0]).exp() * (6.0 * PI * x[0]).sin().powi(6);
                let g = 1.0 + 9.0 * (rest.iter().sum::<f64>() / (n - 1.0)).powf(0.25);
                (f1, g * (1.0 - (f1 / g).powi(2)))
            }
        };
        Ok(Evaluation::new(vec![f1, f2]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_solutions_land_on_the_front() {
        for z in [
            Zdt::zdt1(),
            Zdt::zdt2(),
            Zdt::zdt3(),
            Zdt::zdt4(),
            Zdt::zdt6(),
        ] {
            for x0 in [0.0, 0.25, 0.5, 1.0] {
                let mut x = vec![0.0; z.bounds().len()];
                x[0] = x0;
                let f = z.evaluate(&RealVector(x)).unwrap().objectives;
                let want = match z.variant {
                    1 | 4 => 1.0 - x0.sqrt(),
                    2 => 1.0 - x0 * x0,
                    3 => 1.0 - x0.sqrt() - x0 * (10.0 * PI * x0).sin(),
                    _ => 1.0 - f[0] * f[0],
                };
                assert!((f[1] - want).abs() < 1e-12, "{} at {x0}: {f:?}", z.name);
            }
        }
    }

    #[test]
    fn worst_case_values() {
        // ZDT1 with all ones: g = 10, f2 = 10 * (1 - sqrt(0.1))
        let f = Zdt::zdt1()
            .evaluate(&RealVector(vec![1.0; 30]))
            .unwrap()
            .objectives;
        assert!((f[1] - 10.0 * (1.0 - 0.1f64.sqrt())).abs() < 1e-12);
    }
}
