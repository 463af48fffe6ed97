//! NumPy `.npz` archives holding `x` and `y`.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_file("input.npz", data, |p| {
        let _ = evoprune_data::numpy::read_npz_dataset(p, "x", "y");
    });
});
