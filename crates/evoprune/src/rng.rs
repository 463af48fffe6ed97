//! The engine's random number generator.
//!
//! One concrete, serialisable generator is used everywhere so that its full state can be saved
//! in a checkpoint and a resumed run continues the very same random stream.

use rand::SeedableRng;

/// The random number generator of every run: xoshiro256++ (fast, 256-bit state, serialisable).
pub type EvoRng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator seeded from a `u64` (expanded with SplitMix64, as `rand` does).
pub fn rng_from_seed(seed: u64) -> EvoRng {
    EvoRng::seed_from_u64(seed)
}
