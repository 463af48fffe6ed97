//! safetensors weights and datasets.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_file("input.safetensors", data, |p| {
        let _ = evoprune_data::tensors::read_all(p);
        let _ = evoprune_data::tensors::read_dataset(p, "x", "y");
    });
});
