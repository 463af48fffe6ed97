//! Standard multi-objective test problems for evoprune's tests and benchmarks.
//!
//! | problem | genome | objectives |
//! | --- | --- | --- |
//! | [`Zdt`] (1, 2, 3, 4, 6) | reals | 2 (Zitzler, Deb & Thiele 2000) |
//! | [`Dtlz`] (1, 2) | reals | any M >= 2 (Deb, Thiele, Laumanns & Zitzler 2002) |
//! | [`Cdtlz`] (C1-DTLZ1, C2-DTLZ2) | reals | any M >= 2, one constraint (Jain & Deb 2014) |
//! | [`Knapsack`] | bits | M profits to maximise, M capacity constraints (Zitzler & Thiele 1999) |
//!
//! ```
//! use evoprune::Problem;
//! use evoprune_problems::Zdt;
//! let zdt1 = Zdt::zdt1();
//! let x = evoprune::RealVector(vec![0.0; 30]);
//! assert_eq!(zdt1.evaluate(&x).unwrap().objectives, vec![0.0, 1.0]);
//! ```

mod cdtlz;
mod dtlz;
mod knapsack;
mod zdt;

pub use cdtlz::Cdtlz;
pub use dtlz::Dtlz;
pub use knapsack::Knapsack;
pub use zdt::Zdt;
