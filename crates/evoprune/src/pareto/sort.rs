//! Non-dominated sorting.

use super::dominance::{Dominance, compare};

/// Split `points` into fronts of indices: front 0 is non-dominated, front k is non-dominated once
/// fronts `0..k` are removed. Indices within a front are ascending.
///
/// Two objectives use an O(N log N) sweep (Jensen 2003); more use Deb's fast non-dominated sort,
/// O(M N²) (Deb et al. 2002, doi:10.1109/4235.996017).
pub fn non_dominated_sort<P: AsRef<[f64]>>(points: &[P]) -> Vec<Vec<usize>> {
    let idx: Vec<usize> = (0..points.len()).collect();
    sort_subset(points, &idx)
}

/// Fronts under Deb's constrained domination: the feasible points (`cv <= 0`) sorted by Pareto
/// dominance come first, then the infeasible ones grouped by increasing violation (equal
/// violations share a front).
pub fn constrained_sort<P: AsRef<[f64]>>(points: &[P], cv: &[f64]) -> Vec<Vec<usize>> {
    assert_eq!(points.len(), cv.len());
    let feasible: Vec<usize> = (0..points.len()).filter(|&i| cv[i] <= 0.0).collect();
    let mut fronts = if feasible.len() == points.len() {
        non_dominated_sort(points)
    } else {
        sort_subset(points, &feasible)
    };
    let mut infeasible: Vec<usize> = (0..points.len()).filter(|&i| !(cv[i] <= 0.0)).collect();
    infeasible.sort_by(|&a, &b| cv[a].total_cmp(&cv[b]).then(a.cmp(&b)));
    let mut k = 0;
    while k < infeasible.len() {
        let mut front = vec![infeasible[k]];
        k += 1;
        while k < infeasible.len() && cv[infeasible[k]] == cv[front[0]] {
            front.push(infeasible[k]);
            k += 1;
        }
        front.sort_unstable();
        fronts.push(front);
    }
    fronts
}

fn sort_subset<P: AsRef<[f64]>>(points: &[P], idx: &[usize]) -> Vec<Vec<usize>> {
    if idx.is_empty() {
        return Vec::new();
    }
    let m = points[idx[0]].as_ref().len();
    let mut fronts = if m == 2 {
        sort_2d(points, idx)
    } else {
        sort_fast(points, idx)
    };
    for f in &mut fronts {
        f.sort_unstable();
    }
    fronts
}

/// Jensen's sweep for two objectives: sort by (f1, f2); each point joins the first front whose
/// last member does not dominate it (binary search: front tails have increasing f2).
fn sort_2d<P: AsRef<[f64]>>(points: &[P], idx: &[usize]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = idx.to_vec();
    let key = |i: usize| {
        let p = points[i].as_ref();
        (p[0], p[1])
    };
    order.sort_by(|&a, &b| {
        let (a0, a1) = key(a);
        let (b0, b1) = key(b);
        a0.total_cmp(&b0).then(a1.total_cmp(&b1))
    });
    let mut fronts: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        let p = points[i].as_ref();
        // first front whose tail does not dominate p
        let (mut lo, mut hi) = (0, fronts.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let tail = points[*fronts[mid].last().expect("fronts are never empty")].as_ref();
            if compare(tail, p) == Dominance::Dominates {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == fronts.len() {
            fronts.push(vec![i]);
        } else {
            fronts[lo].push(i);
        }
    }
    fronts
}

/// Deb's fast non-dominated sort.
fn sort_fast<P: AsRef<[f64]>>(points: &[P], idx: &[usize]) -> Vec<Vec<usize>> {
    let n = idx.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for a in 0..n {
        for b in a + 1..n {
            match compare(points[idx[a]].as_ref(), points[idx[b]].as_ref()) {
                Dominance::Dominates => {
                    dominates_list[a].push(b);
                    dominated_by_count[b] += 1;
                }
                Dominance::Dominated => {
                    dominates_list[b].push(a);
                    dominated_by_count[a] += 1;
                }
                Dominance::Indifferent => {}
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&a| dominated_by_count[a] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &a in &current {
            for &b in &dominates_list[a] {
                dominated_by_count[b] -= 1;
                if dominated_by_count[b] == 0 {
                    next.push(b);
                }
            }
        }
        fronts.push(current.iter().map(|&a| idx[a]).collect());
        current = next;
    }
    fronts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pareto::dominates;
    use proptest::prelude::*;

    fn points(m: usize) -> impl Strategy<Value = Vec<Vec<f64>>> {
        proptest::collection::vec(
            proptest::collection::vec((0i32..6).prop_map(f64::from), m),
            0..40,
        )
    }

    /// Definition-level reference: peel off the non-dominated set repeatedly.
    fn naive(p: &[Vec<f64>]) -> Vec<Vec<usize>> {
        let mut left: Vec<usize> = (0..p.len()).collect();
        let mut fronts = Vec::new();
        while !left.is_empty() {
            let front: Vec<usize> = left
                .iter()
                .copied()
                .filter(|&i| !left.iter().any(|&j| dominates(&p[j], &p[i])))
                .collect();
            left.retain(|i| !front.contains(i));
            fronts.push(front);
        }
        fronts
    }

    fn check_partition(p: &[Vec<f64>], fronts: &[Vec<usize>]) -> Result<(), TestCaseError> {
        let mut all: Vec<usize> = fronts.iter().flatten().copied().collect();
        all.sort_unstable();
        prop_assert_eq!(
            all,
            (0..p.len()).collect::<Vec<_>>(),
            "fronts partition the population"
        );
        if let Some(f0) = fronts.first() {
            for &a in f0 {
                for &b in f0 {
                    prop_assert!(
                        !dominates(&p[a], &p[b]),
                        "front 0 is mutually non-dominated"
                    );
                }
            }
        }
        for (k, f) in fronts.iter().enumerate().skip(1) {
            for &b in f {
                prop_assert!(
                    fronts[k - 1].iter().any(|&a| dominates(&p[a], &p[b])),
                    "each member of front k is dominated by front k-1"
                );
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn sorts_match_the_definition(p in (1usize..5).prop_flat_map(points)) {
            let fronts = non_dominated_sort(&p);
            check_partition(&p, &fronts)?;
            prop_assert_eq!(fronts, naive(&p));
        }

        #[test]
        fn two_objective_sweep_matches_fast_sort(p in points(2)) {
            let idx: Vec<usize> = (0..p.len()).collect();
            let mut a = sort_2d(&p, &idx);
            let mut b = sort_fast(&p, &idx);
            for f in a.iter_mut().chain(b.iter_mut()) { f.sort_unstable(); }
            prop_assert_eq!(a, b);
        }

        #[test]
        fn constrained_fronts_put_feasible_first(p in points(3), cvs in proptest::collection::vec((0i32..3).prop_map(f64::from), 40)) {
            let cv = &cvs[..p.len()];
            let fronts = constrained_sort(&p, cv);
            let mut all: Vec<usize> = fronts.iter().flatten().copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..p.len()).collect::<Vec<_>>());
            let first_infeasible = fronts.iter().position(|f| cv[f[0]] > 0.0).unwrap_or(fronts.len());
            for (k, f) in fronts.iter().enumerate() {
                for &i in f { prop_assert_eq!(cv[i] > 0.0, k >= first_infeasible); }
            }
        }
    }

    #[test]
    fn reference_fronts() {
        // Deb 2002-style hand example
        let p = vec![
            vec![1.0, 5.0],
            vec![2.0, 3.0],
            vec![4.0, 1.0],
            vec![3.0, 4.0],
            vec![4.0, 3.0],
            vec![5.0, 5.0],
            vec![2.0, 3.0],
        ];
        assert_eq!(
            non_dominated_sort(&p),
            vec![vec![0, 1, 2, 6], vec![3, 4], vec![5]]
        );
        let p3: Vec<Vec<f64>> = p.iter().map(|v| vec![v[0], v[1], 0.0]).collect();
        assert_eq!(non_dominated_sort(&p3), non_dominated_sort(&p));
    }
}

/// `k` indices spread evenly (by rank) over `n` sorted members: the first and the last, and
/// the rest at equal steps between (rounded, duplicates dropped); all of them when `k >= n`.
/// Used to pick the members of a long front that get expensive finishing (fine-tuning).
///
/// ```
/// use evoprune::pareto::spread;
/// assert_eq!(spread(10, 4), vec![0, 3, 6, 9]);
/// assert_eq!(spread(3, 5), vec![0, 1, 2]);
/// assert!(spread(3, 0).is_empty());
/// ```
pub fn spread(n: usize, k: usize) -> Vec<usize> {
    if k == 0 || n == 0 {
        return Vec::new();
    }
    if k >= n {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..k)
        .map(|i| ((i as f64 * (n - 1) as f64 / (k - 1).max(1) as f64).round()) as usize)
        .collect();
    v.dedup();
    v
}
