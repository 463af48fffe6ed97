//! Crowding distance (Deb et al. 2002).

/// Crowding distance of each point of one front (same order as `front`).
///
/// For each objective the points are sorted, the two extremes get `+inf`, and inner points add
/// the normalised gap between their neighbours. Fronts of one or two points are all `+inf`.
/// An objective with zero range adds nothing, to the extremes neither (as pymoo, whose
/// normalisation turns it into 0): a constant objective has no extremes, and giving `+inf` to
/// whichever points happened to sort first and last would protect them for no reason. An
/// objective with a non-finite range (a failed evaluation's `+inf`) only marks its extremes. As in pymoo, a point whose
/// objective vector repeats an earlier one gets 0 and is left out of its neighbours' gaps, so
/// duplicates in objective space do not crowd out distinct solutions.
pub fn crowding_distance<P: AsRef<[f64]>>(points: &[P], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    // first occurrences of each objective vector, in front order
    let mut lex: Vec<usize> = (0..n).collect();
    let cmp = |a: &usize, b: &usize| {
        let (x, y) = (points[front[*a]].as_ref(), points[front[*b]].as_ref());
        x.iter()
            .zip(y)
            .map(|(p, q)| p.total_cmp(q))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(b))
    };
    lex.sort_by(cmp);
    let mut unique: Vec<usize> = Vec::with_capacity(n);
    for w in 0..n {
        let same = w > 0 && points[front[lex[w]]].as_ref() == points[front[lex[w - 1]]].as_ref();
        if !same {
            unique.push(lex[w]);
        }
    }
    if unique.len() == n {
        return distinct_crowding(points, front);
    }
    unique.sort_unstable();
    let sub: Vec<usize> = unique.iter().map(|&k| front[k]).collect();
    let sub_d = distinct_crowding(points, &sub);
    let mut d = vec![0.0; n];
    for (k, v) in unique.into_iter().zip(sub_d) {
        d[k] = v;
    }
    d
}

fn distinct_crowding<P: AsRef<[f64]>>(points: &[P], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    let mut d = vec![0.0; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = points[front[0]].as_ref().len();
    let mut order: Vec<usize> = (0..n).collect();
    for k in 0..m {
        let v = |i: usize| points[front[i]].as_ref()[k];
        order.sort_by(|&a, &b| v(a).total_cmp(&v(b)).then(a.cmp(&b)));
        let (lo, hi) = (v(order[0]), v(order[n - 1]));
        let range = hi - lo;
        if range == 0.0 {
            continue;
        }
        d[order[0]] = f64::INFINITY;
        d[order[n - 1]] = f64::INFINITY;
        if !(range.is_finite() && range > 0.0) {
            continue;
        }
        for w in 1..n - 1 {
            let gap = (v(order[w + 1]) - v(order[w - 1])) / range;
            d[order[w]] += gap;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_values() {
        // pymoo-style check by hand: points on a line
        let p = vec![
            vec![0.0, 4.0],
            vec![1.0, 3.0],
            vec![3.0, 1.0],
            vec![4.0, 0.0],
        ];
        let d = crowding_distance(&p, &[0, 1, 2, 3]);
        assert_eq!(d[0], f64::INFINITY);
        assert_eq!(d[3], f64::INFINITY);
        assert!((d[1] - (3.0 / 4.0 + 3.0 / 4.0)).abs() < 1e-12);
        assert!((d[2] - (3.0 / 4.0 + 3.0 / 4.0)).abs() < 1e-12);
    }

    #[test]
    fn a_constant_objective_marks_no_extremes() {
        // pymoo: calc_crowding_distance(np.array([[0,5],[1,5],[2,5],[4,5]])) = [inf, .25, .375, inf]
        // (it divides by the number of objectives; we do not, so 0.5 and 0.75 here). The front
        // lists point 1 first, so a constant objective sorted by position would mark it +inf.
        let p = vec![
            vec![0.0, 5.0],
            vec![1.0, 5.0],
            vec![2.0, 5.0],
            vec![4.0, 5.0],
        ];
        let d = crowding_distance(&p, &[1, 0, 2, 3]);
        assert_eq!(d, vec![0.5, f64::INFINITY, 0.75, f64::INFINITY]);
        // the constant objective listed first changes nothing
        let q: Vec<Vec<f64>> = p.iter().map(|v| vec![v[1], v[0]]).collect();
        assert_eq!(crowding_distance(&q, &[1, 0, 2, 3]), d);
    }

    proptest! {
        #[test]
        fn boundary_crowding_is_infinite(p in proptest::collection::vec(proptest::collection::vec(-10.0f64..10.0, 2..4), 1..30)) {
            let m = p[0].len();
            let p: Vec<Vec<f64>> = p.into_iter().filter(|v| v.len() == m).collect();
            let front: Vec<usize> = (0..p.len()).collect();
            let d = crowding_distance(&p, &front);
            for k in 0..m {
                let min = p.iter().map(|v| v[k]).fold(f64::INFINITY, f64::min);
                let max = p.iter().map(|v| v[k]).fold(f64::NEG_INFINITY, f64::max);
                if min == max {
                    continue; // a constant objective has no extremes
                }
                // some point holding the min (and the max) of every varying objective is infinite
                prop_assert!(front.iter().any(|&i| p[i][k] == min && d[i].is_infinite()));
                prop_assert!(front.iter().any(|&i| p[i][k] == max && d[i].is_infinite()));
            }
            prop_assert!(d.iter().all(|x| *x >= 0.0));
        }

        #[test]
        fn duplicates_get_zero_and_do_not_change_the_others(p in proptest::collection::vec(proptest::collection::vec(-10.0f64..10.0, 2), 3..20), dup in 0usize..20) {
            let front: Vec<usize> = (0..p.len()).collect();
            let base = crowding_distance(&p, &front);
            let mut q = p.clone();
            q.push(p[dup % p.len()].clone());
            let d = crowding_distance(&q, &(0..q.len()).collect::<Vec<_>>());
            prop_assert_eq!(d[q.len() - 1], 0.0);
            prop_assert_eq!(&d[..p.len()], &base[..]);
        }
    }
}
