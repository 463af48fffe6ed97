//! Multi-objective 0/1 knapsack (Zitzler & Thiele 1999, doi:10.1109/4235.797969).

use evoprune::{BitString, Evaluation, ObjectiveSpec, Problem};
use rand::{Rng, SeedableRng};

/// `m` knapsacks and `n` items; item `j` has profit `p[i][j]` and weight `w[i][j]` in knapsack
/// `i`, both uniform integers in `[10, 100]`, and capacity `c[i] = sum_j w[i][j] / 2`.
/// Objectives: maximise each knapsack's profit. Constraints: `sum_j w[i][j] x_j - c[i] <= 0`
/// (handled by constrained domination instead of the original greedy repair).
#[derive(Clone, Debug)]
pub struct Knapsack {
    profits: Vec<Vec<f64>>,
    weights: Vec<Vec<f64>>,
    capacity: Vec<f64>,
    specs: Vec<ObjectiveSpec>,
}

impl Knapsack {
    /// A random instance with `n_items` items and `m` knapsacks, generated from `seed`.
    pub fn random(n_items: usize, m: usize, seed: u64) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut draw = || {
            (0..m)
                .map(|_| {
                    (0..n_items)
                        .map(|_| f64::from(rng.random_range(10u32..=100)))
                        .collect()
                })
                .collect::<Vec<Vec<f64>>>()
        };
        let profits = draw();
        let weights = draw();
        let capacity = weights
            .iter()
            .map(|w| w.iter().sum::<f64>() / 2.0)
            .collect();
        Knapsack {
            profits,
            weights,
            capacity,
            specs: (1..=m)
                .map(|i| ObjectiveSpec::maximize(format!("profit{i}")))
                .collect(),
        }
    }
    /// Number of items (genome length).
    pub fn n_items(&self) -> usize {
        self.profits[0].len()
    }
    /// Total profit of every item in knapsack `i` (an upper bound on objective `i`).
    pub fn max_profit(&self, i: usize) -> f64 {
        self.profits[i].iter().sum()
    }
}

impl Problem for Knapsack {
    type Genome = BitString;
    type Error = std::convert::Infallible;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn n_constraints(&self) -> usize {
        self.capacity.len()
    }

    fn name(&self) -> &str {
        "knapsack"
    }

    fn evaluate(&self, x: &BitString) -> Result<Evaluation, Self::Error> {
        let sum = |v: &[f64]| x.iter_ones().map(|j| v[j]).sum::<f64>();
        let f = self.profits.iter().map(|p| sum(p)).collect();
        let g = self
            .weights
            .iter()
            .zip(&self.capacity)
            .map(|(w, c)| sum(w) - c)
            .collect();
        Ok(Evaluation::with_constraints(f, g))
    }
}
