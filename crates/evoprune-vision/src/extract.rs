//! Feature extraction with a content-addressed cache.
//!
//! Features are cached as safetensors under a SHA-256 key of the backbone's weight file, the
//! dataset's values and labels, and a description of the preprocessing, so a second run is
//! instant and a changed input is never served stale features.

use crate::{Compute, EfficientNetLite0, Result, VisionError, preprocess};
use evoprune_data::Dataset;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How images become backbone inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessing {
    /// Square input size fed to the backbone.
    pub input_size: usize,
    /// Images per forward pass.
    pub batch: usize,
    /// Where the backbone runs (a GPU's features differ from the CPU's in the last bits, so
    /// the device is part of the cache key unless it is the CPU).
    pub compute: Compute,
}

impl Preprocessing {
    fn describe(&self) -> String {
        let mut d = format!(
            "grey-or-rgb->imagenet-normalised, bilinear resize to {0}x{0}",
            self.input_size
        );
        if self.compute != Compute::Cpu {
            d.push_str(&format!(", computed on {}", self.compute));
        }
        d
    }
}

/// Hex SHA-256 over the weights file, the dataset and the preprocessing description.
pub fn cache_key(weights: &Path, data: &Dataset, prep: &Preprocessing) -> Result<String> {
    let mut h = Sha256::new();
    h.update(std::fs::read(weights).map_err(|e| VisionError::Weights {
        path: weights.to_path_buf(),
        reason: e.to_string(),
    })?);
    h.update(format!("{:?}|{}|", data.shape(), data.len()).as_bytes());
    for v in data.features() {
        h.update(v.to_le_bytes());
    }
    for l in data.labels() {
        h.update(l.to_le_bytes());
    }
    h.update(prep.describe().as_bytes());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// One sample as a normalised `3 x size x size` input: grey `[1, h, w]` images are resized and
/// replicated, RGB `[3, h, w]` images in [0, 1] are resized per channel.
pub fn to_input(row: &[f32], shape: &[usize], size: usize) -> Result<Vec<f32>> {
    match shape {
        [1, h, w] | [h, w] => preprocess::grey_to_imagenet(row, *h, *w, size),
        [3, h, w] => {
            let n = h * w;
            let mut out = Vec::with_capacity(3 * size * size);
            for c in 0..3 {
                let g = preprocess::grey_to_imagenet(&row[c * n..(c + 1) * n], *h, *w, size)?;
                // grey_to_imagenet normalised with every channel's statistics; keep channel c
                out.extend_from_slice(&g[c * size * size..(c + 1) * size * size]);
            }
            Ok(out)
        }
        s => Err(VisionError::Shape(format!(
            "images must be [1, h, w], [h, w] or [3, h, w], got {s:?}"
        ))),
    }
}

/// Pooled features (`n x 1280`) of every sample, in batches; `progress(done, total)` is called
/// after each group of batches.
///
/// burn's flex backend runs one forward pass on about one core, so on the CPU the batches are
/// spread over the current rayon pool, one per thread at a time. The batches are the same
/// whatever the thread count, so the features are too. On a GPU device they run one after the
/// other (the device parallelises within a batch).
pub fn extract(
    model: &EfficientNetLite0,
    data: &Dataset,
    prep: &Preprocessing,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<f32>> {
    use rayon::prelude::*;
    let s = prep.input_size;
    if s < 32 || prep.batch == 0 {
        return Err(VisionError::Shape(format!(
            "input size must be >= 32 and batch >= 1, got {s} and {}",
            prep.batch
        )));
    }
    let n = data.len();
    let batches: Vec<(usize, usize)> = (0..n)
        .step_by(prep.batch)
        .map(|a| (a, (a + prep.batch).min(n)))
        .collect();
    let mut out = Vec::with_capacity(n * 1280);
    let at_once = if *model.device() == burn::tensor::Device::flex() {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    for group in batches.chunks(at_once) {
        let feats: Vec<Result<Vec<f32>>> = group
            .par_iter()
            .map(|&(a, b)| {
                let mut batch = Vec::with_capacity((b - a) * 3 * s * s);
                for i in a..b {
                    batch.extend(to_input(data.row(i), data.shape(), s)?);
                }
                model.features_of(&batch, b - a, s, s)
            })
            .collect();
        for f in feats {
            out.extend(f?);
        }
        progress(group.last().map_or(n, |g| g.1), n);
    }
    Ok(out)
}

/// Where [`cached`] features came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Read from the cache.
    Hit,
    /// Extracted now and cached.
    Miss,
    /// The cache entry was damaged (the reason): extracted again and the entry replaced.
    Replaced(String),
}

/// Features of `data` from the cache in `cache_dir`, computing and storing them on a miss (or
/// when the entry is damaged). Returns the features (`n x 1280`) and where they came from.
pub fn cached(
    cache_dir: &Path,
    weights: &Path,
    model: &EfficientNetLite0,
    data: &Dataset,
    prep: &Preprocessing,
    progress: impl FnMut(usize, usize),
) -> Result<(Vec<f32>, CacheUse)> {
    if prep.compute.device()? != *model.device() {
        return Err(VisionError::Unsupported(format!(
            "the backbone was loaded on another device than {}",
            prep.compute
        )));
    }
    let key = cache_key(weights, data, prep)?;
    let file: PathBuf = cache_dir.join(format!("efficientnet-lite0-{}.safetensors", &key[..32]));
    let mut found = CacheUse::Miss;
    if file.exists() {
        // a damaged entry (a truncated copy, a disk error mid-write of an older version) is
        // recomputed, not a hard error: the cache only ever saves time
        match evoprune_data::tensors::read(&file, "features") {
            Ok(a) if a.shape == [data.len(), 1280] => return Ok((a.data, CacheUse::Hit)),
            Ok(a) => {
                found = CacheUse::Replaced(format!(
                    "{}: features of shape {:?}, expected [{}, 1280]",
                    file.display(),
                    a.shape,
                    data.len()
                ))
            }
            Err(e @ evoprune_data::DataError::Io { .. }) => return Err(e.into()),
            Err(e) => found = CacheUse::Replaced(e.to_string()),
        }
    }
    let f = extract(model, data, prep, progress)?;
    std::fs::create_dir_all(cache_dir).map_err(|e| VisionError::Weights {
        path: cache_dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let meta = HashMap::from([
        ("key".to_string(), key),
        ("preprocessing".to_string(), prep.describe()),
    ]);
    let labels: Vec<f32> = data.labels().iter().map(|&l| l as f32).collect();
    evoprune_data::tensors::write(
        &file,
        &[
            ("features", &[data.len(), 1280], &f),
            ("labels", &[data.len()], &labels),
        ],
        meta,
    )?;
    Ok((f, found))
}
