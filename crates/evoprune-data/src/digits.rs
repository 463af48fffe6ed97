//! The UCI optical-recognition digits (1,797 samples of 8x8, values 0-16, 10 classes),
//! embedded in the binary so the default run needs no files. Source: scikit-learn's copy,
//! CC BY 4.0 (Alpaydin & Kaynak).

use crate::Dataset;
use std::path::Path;

const DIGITS_CSV_GZ: &[u8] = include_bytes!("../assets/digits.csv.gz");

/// The embedded digits, features as given (0..16), shape `[64]`.
pub fn load() -> Dataset {
    let path = Path::new("<embedded digits.csv.gz>");
    let bytes =
        crate::gunzip_if_needed(path, DIGITS_CSV_GZ.to_vec()).expect("embedded digits decompress");
    crate::csv::parse_labelled(path, &bytes).expect("embedded digits parse")
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_digits_are_complete() {
        let d = super::load();
        assert_eq!((d.len(), d.dim(), d.n_classes()), (1797, 64, 10));
        assert!(d.features().iter().all(|v| (0.0..=16.0).contains(v)));
        assert!(d.class_counts().iter().all(|&c| (170..=190).contains(&c)));
    }
}
