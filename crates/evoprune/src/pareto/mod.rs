//! Pareto tools: dominance, non-dominated sorting, crowding distance, hypervolume, archive.
//!
//! All functions work on objective vectors in minimisation form.
//!
//! | item | what |
//! | --- | --- |
//! | [`dominates`], [`constrained_dominates`] | Pareto and Deb's constrained domination |
//! | [`non_dominated_sort`], [`constrained_sort`] | fronts (O(N log N) for 2 objectives) |
//! | [`crowding_distance`] | NSGA-II crowding distance of one front |
//! | [`hypervolume`] | exact hypervolume, any number of objectives |
//! | [`Archive`] | every non-dominated solution seen |
//! | [`das_dennis`] | reference directions on the unit simplex |
//! | [`spread`] | `k` members spread evenly over a sorted front |
//!
//! ```
//! use evoprune::pareto::{hypervolume, non_dominated_sort};
//! let pts = vec![vec![0.0, 1.0], vec![1.0, 0.0], vec![1.0, 1.0]];
//! assert_eq!(non_dominated_sort(&pts), vec![vec![0, 1], vec![2]]);
//! assert_eq!(hypervolume(&pts, &[2.0, 2.0]), 3.0);
//! ```

mod archive;
mod crowding;
mod dominance;
mod hypervolume;
mod reference;
mod sort;

pub use archive::Archive;
pub use crowding::crowding_distance;
pub use dominance::{Dominance, compare, constrained_dominates, dominates};
pub use hypervolume::hypervolume;
pub use reference::{das_dennis, das_dennis_at_least};
pub use sort::{constrained_sort, non_dominated_sort, spread};
