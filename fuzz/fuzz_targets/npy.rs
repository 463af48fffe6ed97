//! NumPy `.npy` arrays.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_file("input.npy", data, |p| {
        if let Ok(a) = evoprune_data::numpy::read_npy(p) {
            let _ = evoprune_data::numpy::dataset(p, a.clone(), a);
        }
    });
});
