//! IDX files (MNIST), raw or gzipped: one file alone, and an image file with a label file
//! (the input's first two bytes give the image file's length, the rest is the label file).
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_file("input-idx3-ubyte", data, |p| {
        let _ = evoprune_data::idx::read(p);
    });
    if data.len() < 2 {
        return;
    }
    let cut = (usize::from(u16::from_le_bytes([data[0], data[1]])) + 2).min(data.len());
    common::with_file("images-idx3-ubyte", &data[2..cut], |images| {
        common::with_file("labels-idx1-ubyte", &data[cut..], |labels| {
            if let Ok(d) = evoprune_data::idx::read_images_labels(images, labels) {
                let _ = d.class_counts();
            }
        });
    });
});
