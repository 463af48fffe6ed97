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

/// A frozen network that turns normalised `3 x h x w` images into feature vectors: the
/// built-in EfficientNet-Lite0, or any network evoprune can run (MO-EvoPruneDeepTL's ONNX
/// backbones, cut at a named value).
pub trait Backbone: Sync {
    /// The cache file's prefix (`efficientnet-lite0`).
    fn cache_name(&self) -> &str;
    /// Anything besides the weights file that changes the features (the cut point), hashed
    /// into the cache key; empty for the built-in backbones.
    fn cache_extra(&self) -> String {
        String::new()
    }
    /// Features per image.
    fn dim(&self) -> usize;
    /// Features `[n, dim]` of `n` images `[n, 3, h, w]` (row-major).
    fn features_of(&self, x: &[f32], n: usize, h: usize, w: usize) -> Result<Vec<f32>>;
    /// How many batches run at once on the rayon pool (each forward pass on about one core:
    /// as many as there are threads; a device that parallelises within a batch: one).
    fn batches_at_once(&self) -> usize {
        rayon::current_num_threads().max(1)
    }
    /// Whether the backbone can run where `prep` says.
    fn check_device(&self, _prep: &Preprocessing) -> Result<()> {
        Ok(())
    }
}

impl Backbone for EfficientNetLite0 {
    fn cache_name(&self) -> &str {
        "efficientnet-lite0"
    }
    fn dim(&self) -> usize {
        1280
    }
    fn features_of(&self, x: &[f32], n: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        EfficientNetLite0::features_of(self, x, n, h, w)
    }
    fn batches_at_once(&self) -> usize {
        if *self.device() == burn::tensor::Device::flex() {
            rayon::current_num_threads().max(1)
        } else {
            1
        }
    }
    fn check_device(&self, prep: &Preprocessing) -> Result<()> {
        if prep.compute.device()? != *self.device() {
            return Err(VisionError::Unsupported(format!(
                "the backbone was loaded on another device than {}",
                prep.compute
            )));
        }
        Ok(())
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
/// replicated, RGB `[3, h, w]` images in [0, 1] are resized per channel; a flat sample whose
/// length is a square (the UCI digits' 64 values) is a square grey image.
pub fn to_input(row: &[f32], shape: &[usize], size: usize) -> Result<Vec<f32>> {
    if let [d] = shape {
        let s = d.isqrt();
        if s * s == *d && s > 1 {
            return preprocess::grey_to_imagenet(row, s, s, size);
        }
    }
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

/// Features (`n x dim`) of every sample, in batches; `progress(done, total)` is called after
/// each group of batches.
///
/// burn's flex backend runs one forward pass on about one core, so on the CPU the batches are
/// spread over the current rayon pool, one per thread at a time. The batches are the same
/// whatever the thread count, so the features are too. On a GPU device they run one after the
/// other (the device parallelises within a batch).
pub fn extract(
    model: &dyn Backbone,
    data: &Dataset,
    prep: &Preprocessing,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<f32>> {
    use rayon::prelude::*;
    let s = prep.input_size;
    if s < 8 || prep.batch == 0 {
        return Err(VisionError::Shape(format!(
            "input size must be >= 8 and batch >= 1, got {s} and {}",
            prep.batch
        )));
    }
    let n = data.len();
    let batches: Vec<(usize, usize)> = (0..n)
        .step_by(prep.batch)
        .map(|a| (a, (a + prep.batch).min(n)))
        .collect();
    let mut out = Vec::with_capacity(n * model.dim());
    let at_once = model.batches_at_once();
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
/// when the entry is damaged). Returns the features (`n x dim`) and where they came from.
pub fn cached(
    cache_dir: &Path,
    weights: &Path,
    model: &dyn Backbone,
    data: &Dataset,
    prep: &Preprocessing,
    progress: impl FnMut(usize, usize),
) -> Result<(Vec<f32>, CacheUse)> {
    model.check_device(prep)?;
    let mut key = cache_key(weights, data, prep)?;
    let extra = model.cache_extra();
    if !extra.is_empty() {
        let mut h = Sha256::new();
        h.update(key.as_bytes());
        h.update(extra.as_bytes());
        key = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    }
    let dim = model.dim();
    let file: PathBuf =
        cache_dir.join(format!("{}-{}.safetensors", model.cache_name(), &key[..32]));
    let mut found = CacheUse::Miss;
    if file.exists() {
        // a damaged entry (a truncated copy, a disk error mid-write of an older version) is
        // recomputed, not a hard error: the cache only ever saves time
        match evoprune_data::tensors::read(&file, "features") {
            Ok(a) if a.shape == [data.len(), dim] => return Ok((a.data, CacheUse::Hit)),
            Ok(a) => {
                found = CacheUse::Replaced(format!(
                    "{}: features of shape {:?}, expected [{}, {dim}]",
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
            ("features", &[data.len(), dim], &f),
            ("labels", &[data.len()], &labels),
        ],
        meta,
    )?;
    Ok((f, found))
}
