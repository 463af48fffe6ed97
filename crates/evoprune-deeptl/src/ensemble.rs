//! Ensembles from the front (the paper's percentile windows) and the ensemble arithmetic.

use serde::{Deserialize, Serialize};

/// numpy's default (linear) percentile of `values` at `p` in `[0, 100]`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let r = p / 100.0 * (v.len() - 1) as f64;
    let (lo, hi) = (r.floor() as usize, r.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (r - lo as f64)
}

/// Indices of the members whose `values` lie in the percentile window `[lo, hi]` of `values`.
pub fn window_members(values: &[f64], window: [f64; 2]) -> Vec<usize> {
    let (a, b) = (percentile(values, window[0]), percentile(values, window[1]));
    (0..values.len())
        .filter(|&i| values[i] >= a && values[i] <= b)
        .collect()
}

/// Majority vote of `predictions` (one vector per member, same length). A tie goes to the vote
/// of the first member (callers order members best first), else to the smallest class.
pub fn majority_vote(predictions: &[&[u32]], n_classes: usize) -> Vec<u32> {
    let n = predictions.first().map_or(0, |p| p.len());
    let mut counts = vec![0usize; n_classes];
    (0..n)
        .map(|s| {
            counts.iter_mut().for_each(|c| *c = 0);
            for p in predictions {
                counts[p[s] as usize] += 1;
            }
            let top = *counts.iter().max().expect("classes");
            let first = predictions[0][s];
            if counts[first as usize] == top {
                first
            } else {
                counts.iter().position(|&c| c == top).expect("a max") as u32
            }
        })
        .collect()
}

/// Element-wise mean of score vectors (the ensemble's ODIN score).
pub fn mean_scores(scores: &[&[f32]]) -> Vec<f32> {
    let n = scores.first().map_or(0, |s| s.len());
    (0..n)
        .map(|i| scores.iter().map(|s| s[i]).sum::<f32>() / scores.len() as f32)
        .collect()
}

/// One window's ensemble on the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleRow {
    /// `accuracy` or `auroc`: which validation metric the window is over.
    pub criterion: String,
    /// The percentile window.
    pub window: [f64; 2],
    /// Front members in the window (indices into the front).
    pub members: Vec<usize>,
    /// Majority-vote test accuracy.
    pub accuracy: f64,
    /// Test AUROC of the members' mean ODIN score.
    pub auroc: f64,
    /// The best single member's test accuracy (accuracy windows) or AUROC (AUROC windows).
    pub best_member_accuracy: f64,
    /// The best single member's test AUROC.
    pub best_member_auroc: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4, 10], [0, 50, 55, 90, 100])
        let v = [10.0, 2.0, 1.0, 4.0, 3.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert!((percentile(&v, 55.0) - 3.2).abs() < 1e-12);
        assert!((percentile(&v, 90.0) - 7.6).abs() < 1e-12);
        assert_eq!(percentile(&v, 100.0), 10.0);
        assert_eq!(window_members(&v, [50.0, 90.0]), vec![3, 4]);
    }

    #[test]
    fn votes_and_ties() {
        let a = [0u32, 1, 2, 2];
        let b = [1u32, 1, 0, 1];
        let c = [1u32, 0, 0, 2];
        assert_eq!(majority_vote(&[&a, &b, &c], 3), vec![1, 1, 0, 2]);
        // two members disagree everywhere: the first member wins
        assert_eq!(majority_vote(&[&a, &b], 3), a.to_vec());
        assert_eq!(mean_scores(&[&[1.0, 2.0], &[3.0, 4.0]]), vec![2.0, 3.0]);
    }
}
