//! # evoprune-surrogate
//!
//! Cheap learned models of expensive objectives and constraints, for surrogate-assisted search
//! (Ferreira et al. 2023 choose, per objective and constraint, among k-NN, random forests and
//! gradient-boosted trees by 5-fold cross-validation). Pure Rust crates that build in seconds:
//!
//! | [`Kind`] | crate | settings |
//! | --- | --- | --- |
//! | `Knn` | `smartcore` 0.4 `KNNRegressor` | k = min(5, n - 1), distance-weighted, inputs scaled to [0, 1] |
//! | `RandomForest` | `smartcore` 0.4 `RandomForestRegressor` | 100 trees, seeded |
//! | `GradientBoosting` | `gbdt` 0.1 (mesalock-linux, an XGBoost-style GBRT) | 100 rounds of depth-3 trees, shrinkage 0.1, squared error |
//!
//! [`select`] cross-validates each kind on the same seeded folds and fits the one with the
//! lowest mean absolute error on all the data.
//!
//! ```
//! use evoprune_surrogate::{Kind, select};
//! let x: Vec<Vec<f64>> = (0..60).map(|i| vec![i as f64 / 60.0, (i % 7) as f64]).collect();
//! let y: Vec<f64> = x.iter().map(|r| 3.0 * r[0] + 0.1 * r[1]).collect();
//! let (model, scores) = select(&[Kind::Knn, Kind::RandomForest, Kind::GradientBoosting], &x, &y, 5, 1).unwrap();
//! assert_eq!(scores.len(), 3);
//! let p = model.predict(&[vec![0.5, 3.0]]).unwrap();
//! assert!((p[0] - 1.8).abs() < 0.3);
//! ```

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::KNNWeightFunction;
use smartcore::neighbors::knn_regressor::{KNNRegressor, KNNRegressorParameters};

/// What can go wrong fitting or using a surrogate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SurrogateError {
    /// Inconsistent or unusable training data.
    #[error("surrogate data: {0}")]
    Data(String),
    /// The underlying learner failed.
    #[error("{kind:?} surrogate: {reason}")]
    Fit {
        /// The learner.
        kind: Kind,
        /// Its message.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = SurrogateError> = std::result::Result<T, E>;

/// A regressor family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// k-nearest neighbours.
    Knn,
    /// Random forest.
    RandomForest,
    /// Gradient-boosted regression trees.
    GradientBoosting,
}

/// All kinds, in the order [`select`] reports them by default.
pub const ALL: [Kind; 3] = [Kind::Knn, Kind::RandomForest, Kind::GradientBoosting];

type Mat = DenseMatrix<f64>;

enum Inner {
    Knn(KNNRegressor<f64, f64, Mat, Vec<f64>, Euclidian<f64>>),
    Forest(RandomForestRegressor<f64, f64, Mat, Vec<f64>>),
    Boost(Box<gbdt::gradient_boost::GBDT>),
    /// All targets equal: the learners need variation, the answer is known.
    Constant(f64),
}

/// A fitted surrogate.
pub struct Model {
    kind: Kind,
    inner: Inner,
    /// Per-feature (min, max) of the training inputs, for k-NN's scaling.
    range: Vec<(f64, f64)>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("kind", &self.kind).finish()
    }
}

fn check(x: &[Vec<f64>], y: &[f64]) -> Result<usize> {
    if x.len() != y.len() {
        return Err(SurrogateError::Data(format!(
            "{} inputs for {} targets",
            x.len(),
            y.len()
        )));
    }
    if x.len() < 2 {
        return Err(SurrogateError::Data(format!(
            "need at least 2 samples, got {}",
            x.len()
        )));
    }
    let d = x[0].len();
    if d == 0 || x.iter().any(|r| r.len() != d) {
        return Err(SurrogateError::Data(
            "every input needs the same non-zero number of features".into(),
        ));
    }
    if x.iter().flatten().chain(y).any(|v| !v.is_finite()) {
        return Err(SurrogateError::Data("non-finite input or target".into()));
    }
    Ok(d)
}

fn scale(x: &[Vec<f64>], range: &[(f64, f64)]) -> Vec<Vec<f64>> {
    x.iter()
        .map(|r| {
            r.iter()
                .zip(range)
                .map(|(v, (lo, hi))| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 })
                .collect()
        })
        .collect()
}

fn matrix(x: &[Vec<f64>], kind: Kind) -> Result<Mat> {
    DenseMatrix::from_2d_vec(&x.to_vec()).map_err(|e| SurrogateError::Fit {
        kind,
        reason: e.to_string(),
    })
}

/// Fit a surrogate of `kind` to inputs `x` (one row per sample) and targets `y`.
pub fn fit(kind: Kind, x: &[Vec<f64>], y: &[f64], seed: u64) -> Result<Model> {
    let d = check(x, y)?;
    let range: Vec<(f64, f64)> = (0..d)
        .map(|j| {
            x.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                    (lo.min(r[j]), hi.max(r[j]))
                })
        })
        .collect();
    let fail = |e: String| SurrogateError::Fit { kind, reason: e };
    if y.iter().all(|v| *v == y[0]) {
        return Ok(Model {
            kind,
            inner: Inner::Constant(y[0]),
            range,
        });
    }
    let inner = match kind {
        Kind::Knn => {
            let k = 5.min(x.len() - 1).max(1);
            let params = KNNRegressorParameters::default()
                .with_k(k)
                .with_weight(KNNWeightFunction::Distance);
            Inner::Knn(
                KNNRegressor::fit(&matrix(&scale(x, &range), kind)?, &y.to_vec(), params)
                    .map_err(|e| fail(e.to_string()))?,
            )
        }
        Kind::RandomForest => {
            let params = RandomForestRegressorParameters {
                n_trees: 100,
                seed,
                ..Default::default()
            };
            Inner::Forest(
                RandomForestRegressor::fit(&matrix(x, kind)?, &y.to_vec(), params)
                    .map_err(|e| fail(e.to_string()))?,
            )
        }
        Kind::GradientBoosting => {
            let mut cfg = gbdt::config::Config::new();
            cfg.set_feature_size(d);
            cfg.set_max_depth(3);
            cfg.set_iterations(100);
            cfg.set_shrinkage(0.1);
            cfg.set_loss("SquaredError");
            cfg.set_min_leaf_size(1);
            // sampling ratios stay 1: the fit is deterministic
            let mut data: gbdt::decision_tree::DataVec = x
                .iter()
                .zip(y)
                .map(|(r, &t)| {
                    gbdt::decision_tree::Data::new_training_data(
                        r.iter().map(|&v| v as f32).collect(),
                        1.0,
                        t as f32,
                        None,
                    )
                })
                .collect();
            let mut m = gbdt::gradient_boost::GBDT::new(&cfg);
            m.fit(&mut data);
            Inner::Boost(Box::new(m))
        }
    };
    Ok(Model { kind, inner, range })
}

impl Model {
    /// The learner.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Predictions for inputs `x`.
    pub fn predict(&self, x: &[Vec<f64>]) -> Result<Vec<f64>> {
        if x.is_empty() {
            return Ok(Vec::new());
        }
        if x.iter().any(|r| r.len() != self.range.len()) {
            return Err(SurrogateError::Data(format!(
                "inputs need {} features",
                self.range.len()
            )));
        }
        let fail = |e: String| SurrogateError::Fit {
            kind: self.kind,
            reason: e,
        };
        match &self.inner {
            Inner::Constant(c) => Ok(vec![*c; x.len()]),
            Inner::Knn(m) => m
                .predict(&matrix(&scale(x, &self.range), self.kind)?)
                .map_err(|e| fail(e.to_string())),
            Inner::Forest(m) => m
                .predict(&matrix(x, self.kind)?)
                .map_err(|e| fail(e.to_string())),
            Inner::Boost(m) => {
                let data: gbdt::decision_tree::DataVec = x
                    .iter()
                    .map(|r| {
                        gbdt::decision_tree::Data::new_test_data(
                            r.iter().map(|&v| v as f32).collect(),
                            None,
                        )
                    })
                    .collect();
                Ok(m.predict(&data).into_iter().map(f64::from).collect())
            }
        }
    }
}

/// The `k` folds of `n` samples, shuffled with `seed` (each sample in exactly one fold).
pub fn folds(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed));
    let k = k.clamp(1, n.max(1));
    (0..k)
        .map(|f| idx.iter().skip(f).step_by(k).copied().collect())
        .collect()
}

/// Cross-validated error of `kind`: mean absolute error over `k` seeded folds (each sample
/// predicted by a model not trained on it).
pub fn cross_validate(kind: Kind, x: &[Vec<f64>], y: &[f64], k: usize, seed: u64) -> Result<f64> {
    check(x, y)?;
    if k < 2 || k > x.len() {
        return Err(SurrogateError::Data(format!(
            "{k}-fold cross-validation of {} samples",
            x.len()
        )));
    }
    let mut err = 0.0;
    for test in folds(x.len(), k, seed) {
        let in_test = |i: &usize| test.contains(i);
        let train: Vec<usize> = (0..x.len()).filter(|i| !in_test(i)).collect();
        let xt: Vec<Vec<f64>> = train.iter().map(|&i| x[i].clone()).collect();
        let yt: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let m = fit(kind, &xt, &yt, seed)?;
        let xv: Vec<Vec<f64>> = test.iter().map(|&i| x[i].clone()).collect();
        let p = m.predict(&xv)?;
        err += test
            .iter()
            .zip(p)
            .map(|(&i, v)| (v - y[i]).abs())
            .sum::<f64>();
    }
    Ok(err / x.len() as f64)
}

/// Cross-validate every kind of `kinds` on the same folds, then fit the best (lowest error;
/// ties go to the earlier kind) on all the data. Returns it with each kind's error.
pub fn select(
    kinds: &[Kind],
    x: &[Vec<f64>],
    y: &[f64],
    k: usize,
    seed: u64,
) -> Result<(Model, Vec<(Kind, f64)>)> {
    if kinds.is_empty() {
        return Err(SurrogateError::Data(
            "no surrogate kind to choose from".into(),
        ));
    }
    let scores: Vec<(Kind, f64)> = kinds
        .iter()
        .map(|&kd| Ok((kd, cross_validate(kd, x, y, k, seed)?)))
        .collect::<Result<_>>()?;
    let best = scores
        .iter()
        .fold(scores[0], |b, s| if s.1 < b.1 { *s } else { b });
    Ok((fit(best.0, x, y, seed)?, scores))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, f: impl Fn(f64, f64) -> f64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let x: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                vec![
                    (i * 37 % n) as f64 / n as f64,
                    (i * 91 % n) as f64 / n as f64,
                ]
            })
            .collect();
        let y = x.iter().map(|r| f(r[0], r[1])).collect();
        (x, y)
    }

    #[test]
    fn every_kind_learns_a_smooth_function() {
        let (x, y) = data(120, |a, b| (3.0 * a).sin() + b * b);
        let (xt, yt) = data(37, |a, b| (3.0 * a).sin() + b * b);
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let base = yt.iter().map(|v| (v - mean).abs()).sum::<f64>() / yt.len() as f64;
        for kind in ALL {
            let m = fit(kind, &x, &y, 1).unwrap();
            assert_eq!(m.kind(), kind);
            let p = m.predict(&xt).unwrap();
            let mae = p.iter().zip(&yt).map(|(a, b)| (a - b).abs()).sum::<f64>() / yt.len() as f64;
            // far better than predicting the mean
            assert!(mae < 0.35 * base, "{kind:?}: {mae} vs {base}");
            // deterministic for a seed
            assert_eq!(fit(kind, &x, &y, 1).unwrap().predict(&xt).unwrap(), p);
        }
    }

    #[test]
    fn folds_partition_and_selection_prefers_the_fitting_model() {
        let f = folds(23, 5, 3);
        let mut all: Vec<usize> = f.concat();
        all.sort_unstable();
        assert_eq!(all, (0..23).collect::<Vec<_>>());
        assert!(f.iter().all(|g| g.len() == 4 || g.len() == 5));
        // a step function of one feature: trees fit it exactly, k-NN blurs the edge
        let (x, y) = data(100, |a, _| if a < 0.5 { 0.0 } else { 1.0 });
        let (m, scores) = select(&ALL, &x, &y, 5, 1).unwrap();
        assert_eq!(scores.len(), 3);
        let knn = scores[0].1;
        assert!(m.kind() != Kind::Knn, "{scores:?}");
        assert!(scores.iter().any(|s| s.1 < knn));
        // constant targets are predicted exactly
        let c = fit(Kind::Knn, &x, &vec![2.5; 100], 0).unwrap();
        assert_eq!(c.predict(&[vec![0.3, 0.3]]).unwrap(), vec![2.5]);
    }

    #[test]
    fn bad_data_is_an_error() {
        let (x, y) = data(10, |a, b| a + b);
        assert!(fit(Kind::Knn, &x, &y[..9], 0).is_err());
        assert!(fit(Kind::Knn, &x[..1], &y[..1], 0).is_err());
        let mut bad = y.clone();
        bad[3] = f64::NAN;
        assert!(fit(Kind::RandomForest, &x, &bad, 0).is_err());
        assert!(cross_validate(Kind::Knn, &x, &y, 1, 0).is_err());
        assert!(cross_validate(Kind::Knn, &x, &y, 11, 0).is_err());
        let m = fit(Kind::GradientBoosting, &x, &y, 0).unwrap();
        assert!(m.predict(&[vec![1.0]]).is_err());
        assert!(select(&[], &x, &y, 5, 0).is_err());
    }
}
