//! PyTorch checkpoints (`.pth`: zip, legacy or tar), read wherever named tensors are loaded.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_file("input.pth", data, |p| {
        let _ = evoprune_data::tensors::read_all(p);
    });
});
