//! An archive of every non-dominated solution seen.

use super::dominance::{Dominance, compare};
use serde::{Deserialize, Serialize};

/// Keeps every feasible, mutually non-dominated solution ever offered to it (duplicates in
/// objective space are kept once). Insertion is O(archive size).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Archive<T> {
    entries: Vec<(Vec<f64>, T)>,
}

impl<T> Archive<T> {
    /// An empty archive.
    pub fn new() -> Self {
        Archive {
            entries: Vec::new(),
        }
    }

    /// Offer a solution with objectives `f` (minimisation form). Returns true when it entered the
    /// archive (it was not dominated by, nor equal to, a member); members it dominates leave.
    pub fn offer(&mut self, f: &[f64], item: T) -> bool {
        for (g, _) in &self.entries {
            match compare(g, f) {
                Dominance::Dominates => return false,
                Dominance::Indifferent if g.as_slice() == f => return false,
                _ => {}
            }
        }
        self.entries
            .retain(|(g, _)| compare(f, g) != Dominance::Dominates);
        self.entries.push((f.to_vec(), item));
        true
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Members as (objectives, item), in order of entry.
    pub fn iter(&self) -> impl Iterator<Item = (&[f64], &T)> {
        self.entries.iter().map(|(f, t)| (f.as_slice(), t))
    }

    /// Objective vectors of the members.
    pub fn objectives(&self) -> Vec<&[f64]> {
        self.entries.iter().map(|(f, _)| f.as_slice()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pareto::dominates;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn archive_equals_the_non_dominated_set_of_all_offers(pts in proptest::collection::vec(proptest::collection::vec((0i32..5).prop_map(f64::from), 2), 0..40)) {
            let mut a = Archive::new();
            for (i, p) in pts.iter().enumerate() { a.offer(p, i); }
            let mut want: Vec<Vec<f64>> = pts.iter().filter(|p| !pts.iter().any(|q| dominates(q, p))).cloned().collect();
            want.sort_by(|x, y| x.partial_cmp(y).unwrap());
            want.dedup();
            let mut got: Vec<Vec<f64>> = a.objectives().into_iter().map(|f| f.to_vec()).collect();
            got.sort_by(|x, y| x.partial_cmp(y).unwrap());
            prop_assert_eq!(got, want);
        }
    }
}
