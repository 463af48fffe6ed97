//! Reference directions for decomposition-based algorithms (C-TAEA, NSGA-III, MOEA/D).

/// Das and Dennis's simplex lattice (Das & Dennis 1998, doi:10.1137/S1052623496307510): every
/// vector of `m` non-negative multiples of `1 / p` summing to 1, `C(m + p - 1, p)` of them, in
/// lexicographic order. `p = 0` gives the centre alone. pymoo's `das-dennis` gives the same set.
///
/// Hand-written: no maintained crate generates it, and it is a dozen lines.
pub fn das_dennis(m: usize, p: usize) -> Vec<Vec<f64>> {
    if m == 0 {
        return Vec::new();
    }
    if p == 0 {
        return vec![vec![1.0 / m as f64; m]];
    }
    let mut out = Vec::new();
    let mut point = Vec::with_capacity(m);
    fill(m, p, p, &mut point, &mut out);
    out
}

fn fill(m: usize, p: usize, left: usize, point: &mut Vec<usize>, out: &mut Vec<Vec<f64>>) {
    if point.len() + 1 == m {
        point.push(left);
        out.push(point.iter().map(|&k| k as f64 / p as f64).collect());
        point.pop();
        return;
    }
    for k in 0..=left {
        point.push(k);
        fill(m, p, left - k, point, out);
        point.pop();
    }
}

/// The Das-Dennis lattice in `m` dimensions with the fewest partitions that gives at least `n`
/// directions (a population of about `n`).
pub fn das_dennis_at_least(m: usize, n: usize) -> Vec<Vec<f64>> {
    let mut p = 1;
    loop {
        // C(m + p - 1, p) grows with p; m >= 1 and n is finite, so this ends
        let d = das_dennis(m, p);
        if d.len() >= n || m <= 1 {
            return d;
        }
        p += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lattice_sizes_sums_and_order() {
        // C(3 + 12 - 1, 12) = 91, the customary 3-objective population
        let d = das_dennis(3, 12);
        assert_eq!(d.len(), 91);
        assert!(
            d.iter()
                .all(|v| (v.iter().sum::<f64>() - 1.0).abs() < 1e-12)
        );
        assert_eq!(d[0], vec![0.0, 0.0, 1.0]);
        assert_eq!(d[90], vec![1.0, 0.0, 0.0]);
        assert_eq!(das_dennis(2, 4).len(), 5);
        assert_eq!(das_dennis(5, 4).len(), 70);
        assert_eq!(das_dennis(3, 0), vec![vec![1.0 / 3.0; 3]]);
        assert_eq!(das_dennis_at_least(2, 30).len(), 30);
        assert_eq!(das_dennis_at_least(3, 30).len(), 36);
    }
}
