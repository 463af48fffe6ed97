//! Metrics: accuracy, per-class accuracy, confusion matrix, ODIN scores, exact AUROC.
//!
//! Logits are row-major `n x c` slices. Inconsistent sizes (no classes, a length that is not a
//! multiple of `c`, one label per row missing, a label `>= c`) are a [`NnError::Shape`].

use crate::{NnError, Result};

/// Rows of a row-major matrix of `len` values and `cols` columns, or a shape error naming `what`.
pub(crate) fn rows_of(len: usize, cols: usize, what: &str) -> Result<usize> {
    if cols == 0 {
        return Err(NnError::Shape(format!("{what} with 0 columns")));
    }
    if !len.is_multiple_of(cols) {
        return Err(NnError::Shape(format!(
            "{what} of {len} values is not a whole number of rows of {cols}"
        )));
    }
    Ok(len / cols)
}

fn check_labels(rows: usize, labels: &[u32], c: usize) -> Result<()> {
    if rows != labels.len() {
        return Err(NnError::Shape(format!(
            "{rows} rows of logits for {} labels",
            labels.len()
        )));
    }
    if let Some(l) = labels.iter().find(|&&l| l as usize >= c) {
        return Err(NnError::Shape(format!("label {l} with {c} classes")));
    }
    Ok(())
}

/// Index of the largest logit of each row (first on ties).
pub fn argmax_rows(logits: &[f32], c: usize) -> Result<Vec<u32>> {
    rows_of(logits.len(), c, "logits")?;
    Ok(logits
        .chunks_exact(c)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
                    if v > b.1 { (i, v) } else { b }
                })
                .0 as u32
        })
        .collect())
}

/// Fraction of rows whose argmax equals the label (0 for no rows).
pub fn accuracy(logits: &[f32], labels: &[u32], c: usize) -> Result<f64> {
    let pred = argmax_rows(logits, c)?;
    check_labels(pred.len(), labels, c)?;
    if labels.is_empty() {
        return Ok(0.0);
    }
    Ok(pred.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64)
}

/// `m[true][predicted]` counts.
pub fn confusion_matrix(logits: &[f32], labels: &[u32], c: usize) -> Result<Vec<Vec<usize>>> {
    let pred = argmax_rows(logits, c)?;
    check_labels(pred.len(), labels, c)?;
    let mut m = vec![vec![0; c]; c];
    for (p, &l) in pred.iter().zip(labels) {
        m[l as usize][*p as usize] += 1;
    }
    Ok(m)
}

/// Accuracy of each class (NaN for a class with no samples).
pub fn per_class_accuracy(logits: &[f32], labels: &[u32], c: usize) -> Result<Vec<f64>> {
    Ok(confusion_matrix(logits, labels, c)?
        .iter()
        .enumerate()
        .map(|(k, row)| {
            let n: usize = row.iter().sum();
            if n == 0 {
                f64::NAN
            } else {
                row[k] as f64 / n as f64
            }
        })
        .collect())
}

/// ODIN's in-distribution score of each row: `max softmax(logits / T)` (Liang et al. 2018,
/// arXiv:1706.02690). `T = 1000` is the paper's and MO-EvoPruneDeepTL's setting; the input
/// perturbation part needs gradients through the backbone and is applied by the caller.
pub fn odin_scores(logits: &[f32], c: usize, temperature: f32) -> Result<Vec<f32>> {
    rows_of(logits.len(), c, "logits")?;
    Ok(logits
        .chunks_exact(c)
        .map(|r| {
            // stable: max softmax = 1 / sum_j exp((z_j - z_max) / T)
            let zmax = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let s: f64 = r
                .iter()
                .map(|&z| (f64::from(z - zmax) / f64::from(temperature)).exp())
                .sum();
            (1.0 / s) as f32
        })
        .collect())
}

/// Exact area under the ROC curve for separating `positive` scores (higher = more positive)
/// from `negative` ones, ties counted as one half (the Mann-Whitney statistic with mid-ranks;
/// equals scikit-learn's `roc_auc_score`). `None` when either set is empty or a score is NaN.
pub fn auroc(positive: &[f32], negative: &[f32]) -> Option<f64> {
    if positive.is_empty()
        || negative.is_empty()
        || positive.iter().chain(negative).any(|v| v.is_nan())
    {
        return None;
    }
    let mut all: Vec<(f32, bool)> = positive
        .iter()
        .map(|&s| (s, true))
        .chain(negative.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // sum of mid-ranks (1-based) of the positives
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + 1 + j) as f64 / 2.0; // average of ranks i+1..=j
        rank_sum += mid * all[i..j].iter().filter(|e| e.1).count() as f64;
        i = j;
    }
    let (np, nn) = (positive.len() as f64, negative.len() as f64);
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_cases() {
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]), Some(1.0));
        assert_eq!(auroc(&[1.0], &[2.0]), Some(0.0));
        assert_eq!(auroc(&[1.0, 1.0], &[1.0]), Some(0.5));
        assert_eq!(auroc(&[], &[1.0]), None);
        let logits = [2.0, 1.0, 0.0, 3.0, 5.0, 5.0];
        assert_eq!(argmax_rows(&logits, 2).unwrap(), vec![0, 1, 0]);
        assert_eq!(accuracy(&logits, &[0, 1, 1], 2).unwrap(), 2.0 / 3.0);
        assert_eq!(
            confusion_matrix(&logits, &[0, 1, 1], 2).unwrap(),
            vec![vec![1, 0], vec![1, 1]]
        );
        let pc = per_class_accuracy(&logits, &[0, 1, 1], 2).unwrap();
        assert_eq!(pc, vec![1.0, 0.5]);
    }

    #[test]
    fn inconsistent_shapes_are_errors_not_panics() {
        let logits = [2.0, 1.0, 0.0, 3.0, 5.0, 5.0];
        let shape = |r: Result<f64>| match r {
            Err(NnError::Shape(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(shape(accuracy(&logits, &[0, 1], 2)).contains("3 rows of logits for 2 labels"));
        assert!(shape(accuracy(&logits, &[0, 1, 2], 2)).contains("label 2 with 2 classes"));
        assert!(shape(accuracy(&logits, &[0, 1, 1], 0)).contains("0 columns"));
        assert!(shape(accuracy(&logits, &[0, 1], 4)).contains("whole number of rows"));
        assert!(confusion_matrix(&logits, &[0, 9, 1], 2).is_err());
        assert!(per_class_accuracy(&logits, &[0], 2).is_err());
        assert!(odin_scores(&logits, 0, 1.0).is_err());
        assert!(argmax_rows(&logits, 4).is_err());
    }

    #[test]
    fn odin_temperature_flattens_but_keeps_order() {
        let logits = [10.0, 0.0, 0.0, 2.0, 0.0, 0.0];
        let t1 = odin_scores(&logits, 3, 1.0).unwrap();
        let t1000 = odin_scores(&logits, 3, 1000.0).unwrap();
        assert!(t1[0] > 0.99 && t1[1] < t1[0]);
        assert!(t1000[0] > t1000[1] && t1000[0] < 0.34 && t1000[1] > 1.0 / 3.0);
        // stable for huge logits
        assert!(odin_scores(&[1e30, -1e30], 2, 1.0).unwrap()[0].is_finite());
    }

    proptest! {
        #[test]
        fn auroc_equals_pairwise_definition(pos in proptest::collection::vec(0i32..8, 1..40), neg in proptest::collection::vec(0i32..8, 1..40)) {
            let p: Vec<f32> = pos.iter().map(|&v| v as f32).collect();
            let n: Vec<f32> = neg.iter().map(|&v| v as f32).collect();
            let pairs: f64 = p.iter().map(|a| n.iter().map(|b| if a > b { 1.0 } else if a == b { 0.5 } else { 0.0 }).sum::<f64>()).sum();
            let want = pairs / (p.len() * n.len()) as f64;
            prop_assert!((auroc(&p, &n).unwrap() - want).abs() < 1e-12);
        }
    }
}
