//! Pareto dominance and Deb's constrained dominance.

use std::cmp::Ordering;

/// How two objective vectors relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dominance {
    /// The first dominates the second.
    Dominates,
    /// The second dominates the first.
    Dominated,
    /// Neither dominates (including equal vectors).
    Indifferent,
}

/// Compare `a` and `b` (minimisation).
#[inline]
pub fn compare(a: &[f64], b: &[f64]) -> Dominance {
    debug_assert_eq!(a.len(), b.len());
    let (mut better, mut worse) = (false, false);
    for (x, y) in a.iter().zip(b) {
        match x.partial_cmp(y) {
            Some(Ordering::Less) => better = true,
            Some(Ordering::Greater) => worse = true,
            _ => {}
        }
        if better && worse {
            return Dominance::Indifferent;
        }
    }
    match (better, worse) {
        (true, false) => Dominance::Dominates,
        (false, true) => Dominance::Dominated,
        _ => Dominance::Indifferent,
    }
}

/// True when `a` Pareto-dominates `b`: no worse in every objective, better in one (minimisation).
#[inline]
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    compare(a, b) == Dominance::Dominates
}

/// Deb's constrained domination: a feasible solution (`cv == 0`) dominates an infeasible one; of
/// two infeasible ones, the smaller violation dominates; of two feasible ones, Pareto dominance.
#[inline]
pub fn constrained_dominates(fa: &[f64], cva: f64, fb: &[f64], cvb: f64) -> bool {
    match (cva <= 0.0, cvb <= 0.0) {
        (true, true) => dominates(fa, fb),
        (true, false) => true,
        (false, true) => false,
        (false, false) => cva < cvb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vecs() -> impl Strategy<Value = Vec<Vec<f64>>> {
        // small integer grid makes ties and equal vectors likely
        (1usize..5).prop_flat_map(|m| {
            proptest::collection::vec(
                proptest::collection::vec((0i32..4).prop_map(f64::from), m),
                3,
            )
        })
    }

    proptest! {
        #[test]
        fn domination_is_a_strict_partial_order(v in vecs()) {
            let (a, b, c) = (&v[0], &v[1], &v[2]);
            prop_assert!(!dominates(a, a), "irreflexive");
            if dominates(a, b) { prop_assert!(!dominates(b, a), "asymmetric"); }
            if dominates(a, b) && dominates(b, c) { prop_assert!(dominates(a, c), "transitive"); }
            let expect = match (dominates(a, b), dominates(b, a)) {
                (true, _) => Dominance::Dominates, (_, true) => Dominance::Dominated, _ => Dominance::Indifferent };
            prop_assert_eq!(compare(a, b), expect);
        }

        #[test]
        fn constrained_domination_is_a_strict_partial_order(v in vecs(), cvs in proptest::collection::vec((0i32..3).prop_map(f64::from), 3)) {
            let d = |i: usize, j: usize| constrained_dominates(&v[i], cvs[i], &v[j], cvs[j]);
            prop_assert!(!d(0, 0));
            if d(0, 1) { prop_assert!(!d(1, 0)); }
            if d(0, 1) && d(1, 2) { prop_assert!(d(0, 2)); }
        }
    }

    #[test]
    fn hand_cases() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 3.0]));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 3.0], &[2.0, 2.0]));
        assert!(constrained_dominates(&[9.0], 0.0, &[0.0], 0.1));
        assert!(constrained_dominates(&[9.0], 0.1, &[0.0], 0.2));
    }
}
