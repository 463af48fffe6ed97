//! # evoprune-data
//!
//! Datasets as dense `f32` matrices with integer labels, and the loaders, splits and synthetic
//! out-of-distribution sets the compression methods need. No deep-learning dependency.
//!
//! | item | what |
//! | --- | --- |
//! | [`Dataset`] | `n` samples of a fixed shape, row-major `f32`, labels `0..n_classes` |
//! | [`digits`] | the UCI optical digits (1,797 samples of 8x8), embedded in the binary |
//! | [`idx`] | MNIST's IDX format, raw or gzip |
//! | [`csv`] | feature columns then a label column (the UCI digits layout) |
//! | [`numpy`] | `.npy` matrices and `.npz` archives |
//! | [`tensors`] | safetensors files |
//! | [`split`] | stratified train/validation/test splits, class subsets |
//! | [`fsio`] | atomic, durable file writes (unique temporaries, synced, renamed) |
//! | [`noise`] | Gaussian and uniform noise of a dataset's shape (ODIN's synthetic OoD sets) |
//!
//! Every loader validates what it reads and returns a [`DataError`] naming the file and what is
//! wrong; none panics on bad input.
//!
//! ```
//! let digits = evoprune_data::digits::load();
//! assert_eq!((digits.len(), digits.dim(), digits.n_classes()), (1797, 64, 10));
//! let ind = digits.with_classes(&[0, 1, 2, 3, 4]);
//! let split = evoprune_data::split::stratified(ind.labels(), [0.6, 0.2, 0.2], 1).unwrap();
//! assert_eq!(split.train.len() + split.val.len() + split.test.len(), ind.len());
//! ```

pub mod csv;
mod dataset;
pub mod digits;
pub mod digits28;
mod error;
pub mod fsio;
pub mod idx;
pub mod noise;
pub mod numpy;
pub mod split;
pub mod tensors;

pub use dataset::Dataset;
pub use error::{DataError, Result};

/// Read a file, transparently gunzipping it when it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gz(path: &std::path::Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    gunzip_if_needed(path, raw)
}

/// Largest inflated size of a gzipped data file (MNIST's largest file inflates to 47 MB): a
/// small file that inflates without bound is refused instead of exhausting memory.
const MAX_INFLATED: u64 = 256 << 20;

pub(crate) fn gunzip_if_needed(path: &std::path::Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("corrupt gzip stream: {e}")))?;
        if out.len() as u64 > MAX_INFLATED {
            return Err(DataError::format(
                path,
                format!("inflates to more than {} MiB", MAX_INFLATED >> 20),
            ));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}
