//! Trained weights on disk and the cached baseline every pruning method starts from.
//!
//! - [`read_tensors`]: named tensors from safetensors or a PyTorch `.pth`, each one's presence,
//!   size and finiteness checked, errors naming the file and the tensor.
//! - [`Net::load`] / [`Net::save`] (LeNet) and [`DenseNet::load`] / [`DenseNet::save`] in
//!   PyTorch names and layouts.
//! - [`BaselineConfig`] and [`load_or_train`]: the configured weights, or a network trained once
//!   and cached under a key of the training data, the solver, the seed and the recipe.

use crate::dense::DenseNet;
use crate::lenet::{Backprop, LeNet, Net, SolverConfig, solve};
use crate::{NnError, Result};
use evoprune_data::DataError;
use evoprune_data::digits28::Part;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn bad(path: &Path, reason: String) -> NnError {
    NnError::Data(DataError::Format {
        path: path.to_path_buf(),
        reason,
    })
}

/// The tensors `wanted` (name, element count) of the weights file at `path` (safetensors, or a
/// PyTorch checkpoint `.pth` / `.pt`), in the order asked.
pub fn read_tensors(path: &Path, wanted: &[(String, usize)]) -> Result<Vec<Vec<f32>>> {
    let mut named = evoprune_data::tensors::read_all(path)?;
    wanted
        .iter()
        .map(|(name, len)| {
            let t = named
                .remove(name)
                .ok_or_else(|| bad(path, format!("no tensor `{name}`")))?;
            if t.data.len() != *len {
                return Err(bad(
                    path,
                    format!("`{name}` has {} values, expected {len}", t.data.len()),
                ));
            }
            if t.data.iter().any(|v| !v.is_finite()) {
                return Err(bad(path, format!("`{name}` holds NaN or infinite values")));
            }
            Ok(t.data)
        })
        .collect()
}

fn write(
    path: &Path,
    t: &[(String, Vec<usize>, &[f32])],
    meta: HashMap<String, String>,
) -> Result<()> {
    let views: Vec<(&str, &[usize], &[f32])> = t
        .iter()
        .map(|(k, s, v)| (k.as_str(), s.as_slice(), *v))
        .collect();
    Ok(evoprune_data::tensors::write(path, &views, meta)?)
}

impl Net {
    /// A full-width LeNet from a weights file (`conv1.weight` ... `fc2.bias`).
    pub fn load(path: &Path) -> Result<Net> {
        let shapes = crate::lenet::lenet_shapes();
        let wanted: Vec<(String, usize)> = shapes
            .iter()
            .map(|(k, s)| (k.to_string(), s.iter().product()))
            .collect();
        let tensors = shapes
            .iter()
            .map(|(k, _)| k.to_string())
            .zip(read_tensors(path, &wanted)?)
            .collect();
        Net::from_lenet(&LeNet { tensors })
    }

    /// Write the weights (PyTorch names and layouts, F32) atomically, with `meta`.
    pub fn save(&self, path: &Path, meta: HashMap<String, String>) -> Result<()> {
        let t = self.tensors();
        let t: Vec<(String, Vec<usize>, &[f32])> = t
            .iter()
            .map(|(k, s, v)| (k.to_string(), s.clone(), v.as_slice()))
            .collect();
        write(path, &t, meta)
    }
}

impl DenseNet {
    /// A network of widths `sizes` from a weights file (`fc1.weight`, `fc1.bias`, ...).
    pub fn load(path: &Path, sizes: &[usize]) -> Result<DenseNet> {
        let shape = crate::dense::DenseShape::new(sizes)?;
        let mut wanted = Vec::new();
        for l in 0..shape.layers() {
            wanted.push((format!("fc{}.weight", l + 1), sizes[l] * sizes[l + 1]));
            wanted.push((format!("fc{}.bias", l + 1), sizes[l + 1]));
        }
        DenseNet::from_params(sizes, read_tensors(path, &wanted)?.concat())
    }

    /// Write the weights (PyTorch names, F32) atomically, with `meta`.
    pub fn save(&self, path: &Path, meta: HashMap<String, String>) -> Result<()> {
        write(path, &self.tensors(), meta)
    }
}

/// The pre-trained network a pruning method starts from (the `[baseline]` config section).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Trained weights (safetensors or PyTorch .pth, PyTorch names); when absent a network is
    /// trained with `solver` and cached.
    pub weights: Option<PathBuf>,
    /// Folder of the trained-baseline cache (key: model + data + solver + seed).
    pub cache_dir: PathBuf,
    /// How the baseline is trained (Caffe's solver: 10,000 iterations of 64 = 10.7 epochs).
    pub solver: SolverConfig,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            weights: None,
            cache_dir: PathBuf::from("../.evoprune-cache"),
            solver: SolverConfig {
                epochs: 10.7,
                ..SolverConfig::default()
            },
        }
    }
}

impl BaselineConfig {
    /// The section's file paths, for making them relative to the config file's folder.
    pub fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.weights
            .iter_mut()
            .chain(std::iter::once(&mut self.cache_dir))
    }

    /// The cache file of the network `model` trained on `train` with this solver and `seed`
    /// (`recipe` names the initialisation and training code: change it when they change).
    pub fn cache_path(&self, model: &str, recipe: &str, train: &Part, seed: u64) -> PathBuf {
        let mut h = Sha256::new();
        for v in &train.x {
            h.update(v.to_le_bytes());
        }
        for y in &train.y {
            h.update(y.to_le_bytes());
        }
        // TOML, as the run folder stores it (keys already cached stay valid)
        h.update(
            toml::to_string_pretty(&self.solver)
                .expect("plain struct")
                .as_bytes(),
        );
        h.update(seed.to_le_bytes());
        h.update(recipe.as_bytes());
        let key: String = h
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.cache_dir.join(format!("{model}-{key}.safetensors"))
    }
}

/// Where a baseline came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The configured weights file.
    File(PathBuf),
    /// The cache, trained by an earlier run.
    Cache(PathBuf),
    /// Trained now and cached here.
    Trained(PathBuf),
    /// The cache entry was damaged (the reason): trained again and the entry replaced.
    Replaced(PathBuf, String),
}

impl Origin {
    /// One line for the run's log.
    pub fn describe(&self, what: &str) -> String {
        match self {
            Origin::File(p) => format!("{what} from {}", p.display()),
            Origin::Cache(p) => format!("{what} from the cache: {}", p.display()),
            Origin::Trained(p) => format!("{what} trained and cached: {}", p.display()),
            Origin::Replaced(p, why) => format!(
                "warning: the cached {what} was damaged ({why}); trained again and cached: {}",
                p.display()
            ),
        }
    }
}

/// The recipe of the trained LeNet (Glorot init, Caffe solver): part of its cache key. Change
/// it when the initialisation or the training changes, so no stale network is served.
pub const LENET_RECIPE: &str = "lenet-caffe-glorot-v1";
/// The same for the dense networks.
pub const DENSE_RECIPE: &str = "dense-caffe-glorot-v1";

/// The pre-trained LeNet of the `[baseline]` section: its weights file, or a LeNet trained on
/// `train` with its solver (Glorot init from `seed`) and cached. `progress(done, total)` gets
/// `(0, total)` when training starts, then every 20 batches.
pub fn lenet_baseline(
    cfg: &BaselineConfig,
    seed: u64,
    train: &Part,
    progress: impl FnMut(u64, u64),
) -> Result<(Net, Origin)> {
    let cache = cfg.cache_path("lenet", LENET_RECIPE, train, seed);
    load_or_train(
        cfg,
        &cache,
        Net::load,
        |s| {
            let mut net = Net::from_lenet(&LeNet::random(seed))?;
            fit(&net.dims, &mut net.params, seed, train, s, progress)?;
            Ok(net)
        },
        |n, p| n.save(p, HashMap::new()),
    )
}

/// The same for a dense network of widths `sizes` (e.g. LeNet-300-100).
pub fn dense_baseline(
    cfg: &BaselineConfig,
    seed: u64,
    sizes: &[usize],
    train: &Part,
    progress: impl FnMut(u64, u64),
) -> Result<(DenseNet, Origin)> {
    let name = format!(
        "dense{}",
        sizes.iter().map(|s| format!("-{s}")).collect::<String>()
    );
    let cache = cfg.cache_path(&name, DENSE_RECIPE, train, seed);
    load_or_train(
        cfg,
        &cache,
        |p| DenseNet::load(p, sizes),
        |s| {
            let mut net = DenseNet::random(sizes, seed)?;
            fit(&net.shape(), &mut net.params, seed, train, s, progress)?;
            Ok(net)
        },
        |n, p| n.save(p, HashMap::new()),
    )
}

/// Train `params` of `model` on `train` with solver `s` reseeded with `seed`.
fn fit<M: Backprop>(
    model: &M,
    params: &mut [f32],
    seed: u64,
    train: &Part,
    s: &SolverConfig,
    mut progress: impl FnMut(u64, u64),
) -> Result<()> {
    let total = (s.epochs * train.len().div_ceil(s.batch.max(1)) as f64).round() as u64;
    progress(0, total);
    let s = SolverConfig { seed, ..s.clone() };
    solve(model, params, None, &train.x, &train.y, &s, |i, _| {
        if i % 20 == 0 {
            progress(i as u64, total)
        }
    })?;
    Ok(())
}

/// The configured weights, else the cache file `cache` when it exists, else `train` with the
/// configured solver, then `save` to `cache` (atomically, so an interrupted training leaves no
/// file behind).
fn load_or_train<T>(
    cfg: &BaselineConfig,
    cache: &Path,
    load: impl Fn(&Path) -> Result<T>,
    train: impl FnOnce(&SolverConfig) -> Result<T>,
    save: impl FnOnce(&T, &Path) -> Result<()>,
) -> Result<(T, Origin)> {
    if let Some(p) = &cfg.weights {
        return Ok((load(p)?, Origin::File(p.clone())));
    }
    let mut damaged = None;
    if cache.exists() {
        // a damaged entry is trained again, not a hard error (an unreadable one still is)
        match load(cache) {
            Ok(net) => return Ok((net, Origin::Cache(cache.to_path_buf()))),
            Err(e @ NnError::Data(DataError::Io { .. })) => return Err(e),
            Err(e) => damaged = Some(e.to_string()),
        }
    }
    let net = train(&cfg.solver)?;
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            NnError::Data(DataError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
        })?;
    }
    save(&net, cache)?;
    let origin = match damaged {
        Some(why) => Origin::Replaced(cache.to_path_buf(), why),
        None => Origin::Trained(cache.to_path_buf()),
    };
    Ok((net, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet_round_trips_and_bad_files_name_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.safetensors");
        let net = Net::from_lenet(&LeNet::random(2)).unwrap();
        net.save(&p, HashMap::new()).unwrap();
        assert_eq!(Net::load(&p).unwrap(), net);
        // truncated
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = Net::load(&p).unwrap_err().to_string();
        assert!(e.contains("w.safetensors"), "{e}");
        // a dense net is not a LeNet
        let d = DenseNet::random(&[784, 30, 10], 1).unwrap();
        d.save(&p, HashMap::new()).unwrap();
        let e = Net::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("w.safetensors") && e.contains("conv1.weight"),
            "{e}"
        );
        // wrong widths name the tensor and the sizes
        let e = DenseNet::load(&p, &[784, 300, 10]).unwrap_err().to_string();
        assert!(e.contains("fc1.weight") && e.contains("23520"), "{e}");
        assert_eq!(DenseNet::load(&p, &[784, 30, 10]).unwrap(), d);
    }

    #[test]
    fn non_finite_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nan.safetensors");
        let mut d = DenseNet::random(&[4, 3, 2], 1).unwrap();
        d.params[5] = f32::NAN;
        d.save(&p, HashMap::new()).unwrap();
        let e = DenseNet::load(&p, &[4, 3, 2]).unwrap_err().to_string();
        assert!(e.contains("fc1.weight") && e.contains("NaN"), "{e}");
    }

    #[test]
    fn baseline_is_trained_once_then_cached_under_a_key_of_its_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BaselineConfig {
            cache_dir: dir.path().join("cache"),
            solver: SolverConfig {
                epochs: 1.0,
                batch: 10,
                ..SolverConfig::default()
            },
            ..BaselineConfig::default()
        };
        let part = evoprune_data::digits28::synthetic_digits(40, 1);
        let sizes = [784, 8, 10];
        let mut calls = Vec::new();
        let (a, o) = dense_baseline(&cfg, 7, &sizes, &part, |d, t| calls.push((d, t))).unwrap();
        let cache = cfg.cache_path("dense-784-8-10", DENSE_RECIPE, &part, 7);
        assert_eq!(o, Origin::Trained(cache.clone()));
        assert_eq!(calls, [(0, 4)]);
        assert_ne!(a, DenseNet::random(&sizes, 7).unwrap(), "trained");
        let (b, o) = dense_baseline(&cfg, 7, &sizes, &part, |_, _| panic!("no training")).unwrap();
        assert_eq!((o, b), (Origin::Cache(cache.clone()), a.clone()));
        // every input changes the key
        let other = [
            cfg.cache_path("dense-784-8-10", "v2", &part, 7),
            cfg.cache_path("dense-784-8-10", DENSE_RECIPE, &part, 8),
            cfg.cache_path("dense-784-8-10", DENSE_RECIPE, &part.take(39), 7),
            cfg.cache_path("lenet", DENSE_RECIPE, &part, 7),
            BaselineConfig {
                solver: SolverConfig {
                    lr: 0.02,
                    ..cfg.solver.clone()
                },
                ..cfg.clone()
            }
            .cache_path("dense-784-8-10", DENSE_RECIPE, &part, 7),
        ];
        for o in &other {
            assert_ne!(o, &cache);
        }
        // configured weights win over the cache; a file of another network is an error
        let w = BaselineConfig {
            weights: Some(cache.clone()),
            cache_dir: dir.path().join("elsewhere"),
            ..cfg.clone()
        };
        let (c, o) = dense_baseline(&w, 9, &sizes, &part, |_, _| panic!()).unwrap();
        assert_eq!((o, c), (Origin::File(cache.clone()), a));
        let e = lenet_baseline(&w, 9, &part, |_, _| panic!())
            .unwrap_err()
            .to_string();
        assert!(e.contains("conv1.weight"), "{e}");
        assert!(!dir.path().join("elsewhere").exists());
    }
}
