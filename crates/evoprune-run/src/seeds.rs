//! Every seed a method derives from its configured seed, in one place, one named stream per
//! purpose.
//!
//! A stream is `(purpose, index)`: the index tells apart the members of a family (a seed's
//! surrogate iterations, GA pruning's cycles). Streams first used before this module keep their
//! original derivation, so that published results stay reproducible; they are listed with it.
//! The one exception is the surrogate search's, whose old derivation collided (below): its
//! results were re-measured.
//! New streams are SplitMix64 mixes of the seed, the purpose's tag and the index, which never
//! collide across purposes or indices (the old `seed * 1000 + iteration` did past 1,000
//! iterations: seed 1's iteration 1000 was seed 2's iteration 0).

/// What a derived seed is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// The engine run of GA pruning's retraining cycle `index` (legacy: `seed + k * 0x9e3779b9`).
    GaCycle,
    /// Hierarchical pruning's phase-2 engine run (legacy: `seed ^ 0x5eed0002`).
    Phase2,
    /// MO-EvoPruneDeepTL's shuffle of the out-of-distribution classes (legacy: `seed ^ 0x00d`).
    OodShuffle,
    /// MO-EvoPruneDeepTL's noise images, kind `j` of split `which`, `index = which * 7 + j`
    /// (legacy: `seed * 31 + index`).
    OodNoise,
    /// The engine run on the surrogates at iteration `index` of a surrogate loop.
    SurrogateSearch,
    /// The cross-validation folds of target `index % 256` at iteration `index / 256` of a
    /// surrogate loop (legacy: `seed ^ (iteration << 8) ^ target`).
    SurrogateFolds,
    /// The sample order of fine-tuning number `index` of a network of `[model]` (0: the
    /// fine-tuning before the search; members: 1 + their index).
    NetworkTraining,
}

/// The seed of `purpose`'s stream number `index`, derived from the run's `seed`.
pub fn derive(seed: u64, purpose: Purpose, index: u64) -> u64 {
    match purpose {
        Purpose::GaCycle => seed.wrapping_add(index.wrapping_mul(0x9e37_79b9)),
        Purpose::Phase2 => seed ^ 0x5eed_0002,
        // stream 0 (the held-out classes) keeps its legacy seed; other OoD datasets get their own
        Purpose::OodShuffle if index == 0 => seed ^ 0x00d,
        Purpose::OodShuffle => mix(seed, 0x00d5_0ff1_e000_0000, index),
        Purpose::OodNoise => seed.wrapping_mul(31).wrapping_add(index),
        Purpose::SurrogateFolds => seed ^ index,
        Purpose::SurrogateSearch => mix(seed, 0x5a77_0a7e_5ea7_c400, index),
        Purpose::NetworkTraining => mix(seed, 0x7a1e_d0e7_0000_0001, index),
    }
}

/// SplitMix64 finaliser over the seed, a purpose tag and an index.
fn mix(seed: u64, tag: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(tag)
        .wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for _ in 0..2 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
    }
    z
}

/// The thread count of a run: a command-line override (`--threads`, 0 = none), else the
/// config's (0 = all the machine's cores).
pub fn threads(override_: usize, configured: usize) -> usize {
    match (override_, configured) {
        (0, 0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        (0, t) => t,
        (t, _) => t,
    }
}

/// A rayon pool of `threads` threads, the one way every method builds its pool.
pub fn pool(threads: usize) -> crate::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| crate::RunError::invalid("threads", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_streams_never_collide_across_seeds_and_iterations() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..20u64 {
            for it in 0..2000u64 {
                assert!(seen.insert(derive(seed, Purpose::SurrogateSearch, it)));
            }
        }
    }

    #[test]
    fn legacy_streams_keep_their_values() {
        assert_eq!(derive(7, Purpose::Phase2, 0), 7 ^ 0x5eed_0002);
        assert_eq!(derive(7, Purpose::OodShuffle, 0), 7 ^ 0x00d);
        assert_eq!(derive(7, Purpose::OodNoise, 2 * 7 + 1), 7 * 31 + 15);
        assert_eq!(derive(7, Purpose::GaCycle, 3), 7 + 3 * 0x9e37_79b9);
        assert_eq!(
            derive(7, Purpose::SurrogateFolds, (2 << 8) ^ 1),
            7 ^ (2 << 8) ^ 1
        );
    }

    #[test]
    fn thread_policy() {
        assert_eq!(threads(3, 2), 3);
        assert_eq!(threads(0, 2), 2);
        assert!(threads(0, 0) >= 1);
        assert_eq!(pool(2).unwrap().current_num_threads(), 2);
    }
}
