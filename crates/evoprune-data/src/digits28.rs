//! 28x28 grey digit images (MNIST from IDX files, or generated ones for tests and quick looks),
//! split into training, validation (carved from the training set, stratified) and test parts:
//! the data section shared by the LeNet pruning methods.

use crate::{DataError, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the images come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// MNIST IDX files in `data.path` (train and t10k, raw or .gz).
    Mnist,
    /// Generated 28x28 "digits" (a bright square at a class-specific place on noise): for tests
    /// and a quick look without files.
    Synthetic,
}

/// Data and its split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The source.
    pub source: Source,
    /// MNIST folder (relative to the config file).
    pub path: Option<PathBuf>,
    /// Validation images carved (stratified) from the training set: fitness is measured on them.
    pub val: usize,
    /// Use at most this many training images (0 = all).
    pub train_limit: usize,
    /// Use at most this many test images (0 = all); the test set is only used for the report.
    pub test_limit: usize,
    /// Images per class of the synthetic source (train + validation; the test set gets a third).
    pub synthetic_per_class: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: Source::Mnist,
            path: Some(PathBuf::from("../../shared/data/mnist")),
            val: 5000,
            train_limit: 0,
            test_limit: 0,
            synthetic_per_class: 60,
        }
    }
}

impl DataConfig {
    /// The section's file paths, for making them relative to the config file's folder.
    pub fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.path.iter_mut()
    }

    /// Check the values; an error names the key (`data.val`, ...) and what is wrong.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.source == Source::Mnist && self.path.is_none() {
            return Err(("data.path", "required for source \"mnist\"".into()));
        }
        if self.val == 0 {
            return Err(("data.val", "must be at least 1".into()));
        }
        // 100,000 per class is 1M images, 3 GB of f32: anything above is a typo, not a dataset
        if self.source == Source::Synthetic && !(2..=100_000).contains(&self.synthetic_per_class) {
            return Err((
                "data.synthetic_per_class",
                format!("must be in [2, 100000], got {}", self.synthetic_per_class),
            ));
        }
        Ok(())
    }
}

/// Images and labels of one split (`n x 784`, values in [0, 1]).
#[derive(Clone, Debug, Default)]
pub struct Part {
    /// Images.
    pub x: Vec<f32>,
    /// Labels 0-9.
    pub y: Vec<u32>,
}

impl Part {
    /// Images.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// No images.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// The first `n` samples (all when `n` is 0 or larger).
    pub fn take(&self, n: usize) -> Part {
        let n = if n == 0 {
            self.len()
        } else {
            n.min(self.len())
        };
        Part {
            x: self.x[..n * 784].to_vec(),
            y: self.y[..n].to_vec(),
        }
    }
}

/// The three splits.
#[derive(Clone, Debug)]
pub struct Data {
    /// Training images (baseline training and retraining).
    pub train: Part,
    /// Validation images (fitness).
    pub val: Part,
    /// Test images (final report only).
    pub test: Part,
    /// A description of the data for the report.
    pub description: String,
}

/// Ten synthetic 28x28 "digits": class k is a bright 6x6 square at a class-specific place on
/// uniform noise, shifted by up to 2 pixels.
pub fn synthetic_digits(n: usize, seed: u64) -> Part {
    use rand::SeedableRng;
    let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = vec![0.0f32; n * 784];
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let k = i % 10;
        let (oy, ox) = (
            2 + (k / 5) * 12 + r.random_range(0..3),
            2 + (k % 5) * 4 + r.random_range(0..3),
        );
        for v in &mut x[i * 784..(i + 1) * 784] {
            *v = 0.3 * r.random::<f32>();
        }
        for dy in 0..6 {
            for dx in 0..6 {
                let p = &mut x[i * 784 + (oy + dy).min(27) * 28 + (ox + dx).min(27)];
                *p = (*p + 0.7).min(1.0);
            }
        }
        y.push(k as u32);
    }
    Part { x, y }
}

/// Load and split the data of `cfg`.
pub fn prepare(d: &DataConfig, seed: u64) -> Result<Data> {
    let (train_all, test, what) = match d.source {
        Source::Mnist => {
            let dir = d.path.as_ref().ok_or_else(|| {
                DataError::invalid("data.path", "the mnist source needs a folder")
            })?;
            let (tr, te) = crate::idx::mnist(dir)?;
            for (ds, which) in [(&tr, "training"), (&te, "test")] {
                if ds.shape() != [1, 28, 28] {
                    return Err(DataError::invalid(
                        "data.path",
                        format!(
                            "{}: the {which} images are {:?}, these methods take 28x28 digits",
                            dir.display(),
                            ds.shape()
                        ),
                    ));
                }
            }
            let part = |ds: &crate::Dataset| Part {
                x: ds.features().to_vec(),
                y: ds.labels().to_vec(),
            };
            (part(&tr), part(&te), format!("MNIST ({})", dir.display()))
        }
        Source::Synthetic => (
            synthetic_digits(10 * d.synthetic_per_class, seed),
            synthetic_digits((10 * d.synthetic_per_class).div_ceil(3), seed ^ 0xfeed),
            "synthetic square-position digits".to_string(),
        ),
    };
    if d.val >= train_all.len() {
        return Err(DataError::invalid(
            "data.val",
            format!(
                "{} validation images leave none of the {} for training",
                d.val,
                train_all.len()
            ),
        ));
    }
    let f = d.val as f64 / train_all.len() as f64;
    let split = crate::split::stratified(&train_all.y, [1.0 - f, f, 0.0], seed)?;
    let pick = |idx: &[usize]| Part {
        x: idx
            .iter()
            .flat_map(|&i| train_all.x[i * 784..(i + 1) * 784].iter().copied())
            .collect(),
        y: idx.iter().map(|&i| train_all.y[i]).collect(),
    };
    let train = pick(&split.train).take(d.train_limit);
    let val = pick(&split.val);
    let test = test.take(d.test_limit);
    Ok(Data {
        description: format!(
            "{what}: {} training, {} validation (carved from the training set, stratified), {} test images",
            train.len(),
            val.len(),
            test.len()
        ),
        train,
        val,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_files_of_another_image_size_are_an_error_naming_the_size() {
        let t = tempfile::tempdir().unwrap();
        for (stem, n) in [("train", 20u32), ("t10k", 10)] {
            let im = crate::idx::encode_u8(&[n, 16, 16], &vec![7u8; (n * 256) as usize]);
            let lb =
                crate::idx::encode_u8(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
            std::fs::write(t.path().join(format!("{stem}-images-idx3-ubyte")), im).unwrap();
            std::fs::write(t.path().join(format!("{stem}-labels-idx1-ubyte")), lb).unwrap();
        }
        let cfg = DataConfig {
            path: Some(t.path().to_path_buf()),
            val: 5,
            ..Default::default()
        };
        let e = prepare(&cfg, 1)
            .expect_err("16x16 images are refused")
            .to_string();
        assert!(e.contains("data.path") && e.contains("[1, 16, 16]"), "{e}");
    }

    #[test]
    fn a_synthetic_size_beyond_memory_is_a_config_error() {
        let cfg = DataConfig {
            source: Source::Synthetic,
            synthetic_per_class: 10_000_000,
            ..Default::default()
        };
        assert_eq!(cfg.check().unwrap_err().0, "data.synthetic_per_class");
    }
}
