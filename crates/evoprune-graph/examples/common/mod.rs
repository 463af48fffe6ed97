//! What the speed examples share: the thread pool from the first argument and the timing of
//! a plan. (A directory module, so cargo does not take it for an example of its own.)
use evoprune_graph::{Tensor, fast};
use std::time::Instant;

/// A rayon pool of the thread count given as the first argument (`default` without one).
pub fn pool_from_args(default: usize) -> rayon::ThreadPool {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}

/// Images per second of `plan` on `x`: the median of 9 runs after 3 warm-up runs.
pub fn images_per_second(plan: &fast::Plan, x: &Tensor) -> f64 {
    for _ in 0..3 {
        plan.run(x).expect("run");
    }
    let mut t: Vec<f64> = (0..9)
        .map(|_| {
            let s = Instant::now();
            plan.run(x).expect("run");
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    x.shape[0] as f64 / t[4]
}
