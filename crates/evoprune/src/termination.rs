//! When to stop.

use crate::state::Stats;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TerminationReason {
    /// The generation budget is spent.
    MaxGenerations,
    /// The evaluation budget is spent.
    MaxEvaluations,
    /// The wall-time budget is spent.
    MaxTime,
    /// The hypervolume stopped improving.
    HvStagnation,
    /// The caller asked the run to stop (Ctrl-C); it can be resumed.
    Interrupted,
    /// Generation after generation produced no genome that had not been evaluated already (the
    /// search space holds fewer distinct genomes than the budget, or the search has collapsed
    /// onto what it has seen); see [`Executor::stall_limit`](crate::Executor::stall_limit).
    SearchSpaceExhausted {
        /// Distinct genomes evaluated by then.
        distinct: u64,
    },
}

impl std::fmt::Display for TerminationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TerminationReason::MaxGenerations => "generation budget reached",
            TerminationReason::MaxEvaluations => "evaluation budget reached",
            TerminationReason::MaxTime => "time budget reached",
            TerminationReason::HvStagnation => "hypervolume stagnated",
            TerminationReason::Interrupted => "interrupted",
            TerminationReason::SearchSpaceExhausted { distinct } => {
                return write!(
                    f,
                    "search space exhausted: {distinct} distinct genomes evaluated"
                );
            }
        })
    }
}

/// A stopping rule. `progress` in `[0, 1]` also drives progress bars; the run stops at 1.
pub trait Termination: Send + Sync {
    /// How far the run is towards this rule, clamped to `[0, 1]`.
    fn progress(&self, stats: &Stats) -> f64;
    /// The reason reported when this rule stops the run.
    fn reason(&self) -> TerminationReason;
    /// True when the run must stop.
    fn is_met(&self, stats: &Stats) -> bool {
        self.progress(stats) >= 1.0
    }
}

fn ratio(done: f64, budget: f64) -> f64 {
    if budget <= 0.0 {
        1.0
    } else {
        (done / budget).clamp(0.0, 1.0)
    }
}

/// Stop after this many generations (steps).
#[derive(Clone, Copy, Debug)]
pub struct MaxGenerations(pub u64);

impl Termination for MaxGenerations {
    fn progress(&self, s: &Stats) -> f64 {
        ratio(s.generation as f64, self.0 as f64)
    }
    fn reason(&self) -> TerminationReason {
        TerminationReason::MaxGenerations
    }
}

/// Stop once this many evaluations are charged (checked between generations, so the last
/// generation may overshoot by less than one offspring batch).
#[derive(Clone, Copy, Debug)]
pub struct MaxEvaluations(pub u64);

impl Termination for MaxEvaluations {
    fn progress(&self, s: &Stats) -> f64 {
        ratio(s.evaluations as f64, self.0 as f64)
    }
    fn reason(&self) -> TerminationReason {
        TerminationReason::MaxEvaluations
    }
}

/// Stop after this much wall time (summed over resumes). Not reproducible by nature.
#[derive(Clone, Copy, Debug)]
pub struct MaxTime(pub Duration);

impl Termination for MaxTime {
    fn progress(&self, s: &Stats) -> f64 {
        ratio(s.elapsed_secs, self.0.as_secs_f64())
    }
    fn reason(&self) -> TerminationReason {
        TerminationReason::MaxTime
    }
}

/// Stop when the hypervolume gained over the last `window` generations is at most `tol`.
/// Needs a hypervolume reference point on the executor.
#[derive(Clone, Copy, Debug)]
pub struct HvStagnation {
    /// Generations to look back.
    pub window: usize,
    /// Largest gain that still counts as stagnation.
    pub tol: f64,
}

impl Termination for HvStagnation {
    fn progress(&self, s: &Stats) -> f64 {
        let h = &s.hv_history;
        if self.window == 0 {
            return 1.0;
        }
        // count trailing generations without an improvement above tol over the window
        let last = match h.last() {
            Some(r) => r.hypervolume,
            None => return 0.0,
        };
        let mut still = 0usize;
        for r in h.iter().rev().skip(1) {
            if last - r.hypervolume > self.tol {
                break;
            }
            still += 1;
            if still >= self.window {
                break;
            }
        }
        ratio(still as f64, self.window as f64)
    }
    fn reason(&self) -> TerminationReason {
        TerminationReason::HvStagnation
    }
}

/// Stop when any rule is met; progress is the largest of theirs.
#[derive(Default)]
pub struct AnyOf(pub Vec<Box<dyn Termination>>);

impl AnyOf {
    /// The first rule that is met, if any.
    pub fn met(&self, s: &Stats) -> Option<TerminationReason> {
        self.0.iter().find(|t| t.is_met(s)).map(|t| t.reason())
    }
}

impl Termination for AnyOf {
    fn progress(&self, s: &Stats) -> f64 {
        self.0.iter().map(|t| t.progress(s)).fold(0.0, f64::max)
    }
    fn reason(&self) -> TerminationReason {
        self.0
            .first()
            .map(|t| t.reason())
            .unwrap_or(TerminationReason::MaxGenerations)
    }
    fn is_met(&self, s: &Stats) -> bool {
        self.met(s).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::HvRecord;

    #[test]
    fn progress_is_clamped_and_any_of_reports_the_met_rule() {
        let s = Stats {
            generation: 5,
            evaluations: 600,
            ..Default::default()
        };
        assert_eq!(MaxGenerations(10).progress(&s), 0.5);
        assert_eq!(MaxEvaluations(500).progress(&s), 1.0);
        let t = AnyOf(vec![
            Box::new(MaxGenerations(10)),
            Box::new(MaxEvaluations(500)),
        ]);
        assert_eq!(t.met(&s), Some(TerminationReason::MaxEvaluations));
        assert_eq!(t.progress(&s), 1.0);
    }

    #[test]
    fn hv_stagnation_counts_flat_generations() {
        let rec = |g, hv| HvRecord {
            generation: g,
            evaluations: g * 10,
            hypervolume: hv,
        };
        let t = HvStagnation {
            window: 3,
            tol: 1e-6,
        };
        let mut s = Stats {
            hv_history: vec![rec(0, 0.1), rec(1, 0.2), rec(2, 0.3)],
            ..Default::default()
        };
        assert_eq!(t.progress(&s), 0.0);
        s.hv_history.extend([rec(3, 0.3), rec(4, 0.3)]);
        assert!((t.progress(&s) - 2.0 / 3.0).abs() < 1e-12);
        s.hv_history.push(rec(5, 0.3));
        assert!(t.is_met(&s));
    }
}
