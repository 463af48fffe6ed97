//! Labelled CSV (feature columns, then the label).
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_file("input.csv", data, |p| {
        if let Ok(d) = evoprune_data::csv::read_labelled(p) {
            let _ = d.class_counts();
        }
    });
});
