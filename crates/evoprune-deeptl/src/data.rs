//! Data preparation: in-distribution splits, OoD sets, and features through the frozen backbone.

use crate::config::{Backbone, Config, Noise, OodDataset, Source};
use crate::{DeeptlError, Result};
use evoprune_data::{Dataset, noise, split};
use evoprune_run::Reporter;
use evoprune_vision::extract::{self, Preprocessing};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Feature rows of one split with their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    /// `n x d` features, row-major.
    pub x: Vec<f32>,
    /// Labels `0..n_classes` (empty for OoD parts).
    pub y: Vec<u32>,
    /// Samples.
    pub n: usize,
}

/// One source's samples within an OoD set.
#[derive(Clone, Debug, PartialEq)]
pub struct OodPart {
    /// The source's name.
    pub name: String,
    /// Its samples' positions in the set.
    pub range: std::ops::Range<usize>,
}

/// Everything a search needs, as features.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Features per sample (the genome length).
    pub d: usize,
    /// In-distribution classes.
    pub n_classes: usize,
    /// The original label of each class.
    pub class_labels: Vec<u32>,
    /// Training split.
    pub train: Part,
    /// Validation split (search objectives).
    pub val: Part,
    /// Test split (final scores only).
    pub test: Part,
    /// OoD samples scored against the validation split.
    pub ood_val: Part,
    /// OoD samples scored against the test split.
    pub ood_test: Part,
    /// Where each OoD test sample comes from: one contiguous range of `ood_test` per source
    /// (`classes 5-9`, `digits`, `noise`), in order.
    pub ood_test_sources: Vec<OodPart>,
    /// Raw inputs of the first test samples (for heat maps).
    pub test_inputs: Dataset,
    /// One line per fact worth reporting (sizes, sources, cache hits).
    pub notes: Vec<String>,
}

/// The samples of the data source; times `data.scale` when `scaled`.
fn load_source(cfg: &Config, scaled: bool) -> Result<Dataset> {
    let d = &cfg.data;
    let path = || d.path.clone().expect("validated: path present");
    let ds = match d.source {
        Source::Digits => evoprune_data::digits::load().map_values(|v| v / 16.0)?,
        Source::Mnist => {
            let (train, test) = evoprune_data::idx::mnist(&path())?;
            Dataset::concat(&[&train, &test])?
        }
        Source::Csv => evoprune_data::csv::read_labelled(&path())?,
        Source::Npz => evoprune_data::numpy::read_npz_dataset(&path(), &d.x_key, &d.y_key)?,
        Source::Safetensors => evoprune_data::tensors::read_dataset(&path(), &d.x_key, &d.y_key)?,
    };
    if scaled && d.scale != 1.0 {
        let s = d.scale;
        Ok(ds.map_values(move |v| v * s)?)
    } else {
        Ok(ds)
    }
}

/// Take at most `limit` of `idx` (0 = all), keeping class proportions: indices are ordered
/// round-robin over classes first, so any prefix is (nearly) stratified.
fn limit_stratified(idx: Vec<usize>, labels: &[u32], limit: usize) -> Vec<usize> {
    if limit == 0 || idx.len() <= limit {
        return idx;
    }
    let n_classes = idx
        .iter()
        .map(|&i| labels[i] as usize + 1)
        .max()
        .unwrap_or(0);
    let mut per: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for i in idx {
        per[labels[i] as usize].push(i);
    }
    let mut out = Vec::with_capacity(limit);
    let mut k = 0;
    while out.len() < limit {
        for p in &per {
            if k < p.len() && out.len() < limit {
                out.push(p[k]);
            }
        }
        k += 1;
    }
    out.sort_unstable();
    out
}

/// Prepare the data of `cfg`: load, split, build OoD sets, extract (or cache) features.
pub fn prepare(cfg: &Config, reporter: &mut dyn Reporter) -> Result<Prepared> {
    let all = load_source(cfg, true)?;
    let mut notes = Vec::new();
    let ind_classes = resolve_classes(cfg, &all)?;
    let ind = all.with_classes(&ind_classes);
    let [train, val, test] = split_ind(cfg, &ind, ind_classes.len())?;
    notes.push(format!(
        "in-distribution classes {ind_classes:?}: {} train, {} validation, {} test samples of shape {:?}",
        train.len(),
        val.len(),
        test.len(),
        ind.shape()
    ));
    let mut ood = OodSource::new(cfg, &all, &ind)?;
    let (ood_val, _) = ood.part(val.len(), 1)?;
    let (ood_test, ood_test_sources) = ood.part(test.len(), 2)?;
    notes.push(format!(
        "OoD: {} validation and {} test samples ({})",
        ood_val.len(),
        ood_test.len(),
        ood_test_sources
            .iter()
            .map(|p| format!("{} {}", p.range.len(), p.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let n_show = test.len().min(16);
    let test_inputs = test.subset(&(0..n_show).collect::<Vec<_>>());
    let sets = [
        ("train", &train),
        ("validation", &val),
        ("test", &test),
        ("OoD validation", &ood_val),
        ("OoD test", &ood_test),
    ];
    let [train, val, test, mut ood_val, mut ood_test] =
        featurize_all(cfg, sets, reporter, &mut notes)?;
    ood_val.y.clear();
    ood_test.y.clear();
    Ok(Prepared {
        d: train.x.len() / train.n.max(1),
        n_classes: ind_classes.len(),
        class_labels: ind_classes,
        train,
        val,
        test,
        ood_val,
        ood_test,
        ood_test_sources,
        test_inputs,
        notes,
    })
}

/// The test split's samples as the data source gives them, before `data.scale` (labels
/// `0..n_classes` in the order of `data.ind_classes`): the inputs an end-to-end export takes.
/// The split does not depend on the values, so these are the samples of [`prepare`]'s test
/// split, in the same order.
pub fn test_samples(cfg: &Config) -> Result<Dataset> {
    let all = load_source(cfg, false)?;
    let ind_classes = resolve_classes(cfg, &all)?;
    let ind = all.with_classes(&ind_classes);
    let [_, _, test] = split_ind(cfg, &ind, ind_classes.len())?;
    Ok(test)
}

/// The in-distribution classes: the config's, or every label present that is not OoD; each
/// configured class must have samples.
fn resolve_classes(cfg: &Config, all: &Dataset) -> Result<Vec<u32>> {
    let mut present: Vec<u32> = all.labels().to_vec();
    present.sort_unstable();
    present.dedup();
    let ind_classes: Vec<u32> = if cfg.data.ind_classes.is_empty() {
        present
            .iter()
            .copied()
            .filter(|c| !cfg.ood.classes.contains(c))
            .collect()
    } else {
        cfg.data.ind_classes.clone()
    };
    for (key, list) in [
        ("data.ind_classes", &ind_classes),
        ("ood.classes", &cfg.ood.classes),
    ] {
        if let Some(c) = list.iter().find(|c| !present.contains(c)) {
            return Err(DeeptlError::invalid(
                key,
                format!("class {c} has no samples (labels present: {present:?})"),
            ));
        }
    }
    if ind_classes.len() < 2 {
        return Err(DeeptlError::invalid(
            "data.ind_classes",
            "need at least 2 classes",
        ));
    }
    Ok(ind_classes)
}

/// Stratified train / validation / test splits of the in-distribution data, cut to the
/// config's limits; each must hold at least one sample per class.
fn split_ind(cfg: &Config, ind: &Dataset, n_classes: usize) -> Result<[Dataset; 3]> {
    let sp = split::stratified(ind.labels(), cfg.data.split, cfg.seed)?;
    let [lt, lv, ls] = cfg.data.limit;
    let train = ind.subset(&limit_stratified(sp.train, ind.labels(), lt));
    let val = ind.subset(&limit_stratified(sp.val, ind.labels(), lv));
    let test = ind.subset(&limit_stratified(sp.test, ind.labels(), ls));
    for (name, p) in [("train", &train), ("validation", &val), ("test", &test)] {
        if p.len() < n_classes {
            return Err(DeeptlError::invalid(
                "data.split",
                format!("the {name} split has only {} samples", p.len()),
            ));
        }
    }
    Ok([train, val, test])
}

/// Out-of-distribution samples: held-out classes and other datasets (each shuffled once and
/// handed out without overlap, so validation and test get disjoint samples) plus noise over the
/// inputs' value range.
struct OodSource<'a> {
    cfg: &'a Config,
    /// The held-out classes, then one pool per other dataset: name, the config key that sets
    /// its share, the samples and how many of them were handed out.
    pools: Vec<(String, &'static str, Dataset, usize)>,
    range: (f32, f32),
    shape: Vec<usize>,
}

/// A name for a list of classes: `classes 5-9` when consecutive, else `classes 1,3,7`.
fn classes_name(c: &[u32]) -> String {
    let consecutive = c.windows(2).all(|w| w[1] == w[0] + 1);
    match (c.first(), c.last()) {
        (Some(a), Some(b)) if consecutive && c.len() > 1 => format!("classes {a}-{b}"),
        _ => format!(
            "classes {}",
            c.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn shuffled(d: Dataset, cfg: &Config, stream: u64) -> Dataset {
    let mut idx: Vec<usize> = (0..d.len()).collect();
    idx.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(
        evoprune_run::seeds::derive(cfg.seed, evoprune_run::seeds::Purpose::OodShuffle, stream),
    ));
    d.subset(&idx)
}

/// `ds` (single-channel square images, values in [0, 1]) as images of `shape` (`[C, H, W]` or
/// `[H, W]`): resized bilinearly, the channel repeated, values mapped onto `range`.
fn as_images(ds: &Dataset, side: usize, shape: &[usize], range: (f32, f32)) -> Result<Dataset> {
    let Some((c, h, w)) = crate::explain::image_dims(shape) else {
        return Err(DeeptlError::invalid(
            "ood.datasets",
            format!(
                "other datasets need image inputs ([C, H, W] with C = 1 or 3, or [H, W]), not shape {shape:?}"
            ),
        ));
    };
    let (lo, hi) = range;
    let mut x = Vec::with_capacity(ds.len() * c * h * w);
    for i in 0..ds.len() {
        let img = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(
            side as u32,
            side as u32,
            ds.row(i).to_vec(),
        )
        .expect("side x side values");
        let big = image::imageops::resize(
            &img,
            w as u32,
            h as u32,
            image::imageops::FilterType::Triangle,
        );
        for _ in 0..c {
            x.extend(
                big.as_raw()
                    .iter()
                    .map(|v| lo + v.clamp(0.0, 1.0) * (hi - lo)),
            );
        }
    }
    Ok(Dataset::new(
        x,
        shape.to_vec(),
        ds.labels().to_vec(),
        ds.n_classes(),
    )?)
}

impl<'a> OodSource<'a> {
    fn new(cfg: &'a Config, all: &Dataset, ind: &Dataset) -> Result<Self> {
        let range = ind
            .features()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let shape = ind.shape().to_vec();
        let mut pools = Vec::new();
        if !cfg.ood.classes.is_empty() {
            let d = all.with_classes(&cfg.ood.classes);
            let name = classes_name(&cfg.ood.classes);
            pools.push((name, "ood.classes", shuffled(d, cfg, 0), 0));
        }
        for (k, &ds) in cfg.ood.datasets.iter().enumerate() {
            let d = match ds {
                OodDataset::Digits => {
                    let raw = evoprune_data::digits::load().map_values(|v| v / 16.0)?;
                    as_images(&raw, 8, &shape, range)?
                }
            };
            let name = ds.name().to_string();
            let pool = shuffled(d, cfg, 1 + k as u64);
            pools.push((name, "ood.dataset_fraction", pool, 0));
        }
        Ok(OodSource {
            cfg,
            pools,
            range,
            shape,
        })
    }

    /// The OoD set for an in-distribution split of `n_ind` samples, with the range of each
    /// source in it; `which` (1 validation, 2 test) picks the noise streams.
    fn part(&mut self, n_ind: usize, which: u64) -> Result<(Dataset, Vec<OodPart>)> {
        let ood = &self.cfg.ood;
        let n = ((n_ind as f64) * ood.ratio).round().max(1.0) as usize;
        // noise first, then the datasets, the classes take the rest (the order the counts were
        // rounded in before other datasets existed, so those runs are unchanged)
        let [_, ds, noise] = ood.shares();
        let mut n_noise = ((n as f64) * noise).round() as usize;
        let mut n_ds = (((n as f64) * ds).round() as usize).min(n - n_noise);
        let mut n_cls = n - n_noise - n_ds;
        if ood.classes.is_empty() {
            if ood.datasets.is_empty() {
                n_noise += n_cls;
            } else {
                n_ds += n_cls;
            }
            n_cls = 0;
        }
        // what each pool gives: the classes n_cls, the datasets n_ds split evenly
        let n_sets = ood.datasets.len().max(1);
        let mut wants = Vec::new();
        if !ood.classes.is_empty() {
            wants.push(n_cls);
        }
        for j in 0..ood.datasets.len() {
            wants.push(n_ds / n_sets + usize::from(j < n_ds % n_sets));
        }
        let mut parts = Vec::new();
        let mut names = Vec::new();
        for ((name, key, pool, used), want) in self.pools.iter_mut().zip(wants) {
            if *used + want > pool.len() {
                return Err(DeeptlError::invalid(
                    *key,
                    format!(
                        "{} OoD samples of {name} available, {} needed; lower ood.ratio or the share",
                        pool.len(),
                        *used + want
                    ),
                ));
            }
            let idx: Vec<usize> = (*used..*used + want).collect();
            *used += want;
            parts.push(pool.subset(&idx));
            names.push(name.clone());
        }
        let noise = self.noise(n_noise, which)?;
        if !noise.is_empty() {
            parts.push(Dataset::concat(&noise.iter().collect::<Vec<_>>())?);
            names.push("noise".to_string());
        }
        let mut sources = Vec::new();
        let mut at = 0;
        for (p, name) in parts.iter().zip(names) {
            if !p.is_empty() {
                sources.push(OodPart {
                    name,
                    range: at..at + p.len(),
                });
                at += p.len();
            }
        }
        let refs: Vec<&Dataset> = parts.iter().filter(|p| !p.is_empty()).collect();
        Ok((Dataset::concat(&refs)?, sources))
    }

    /// `n` noise samples split evenly over the configured kinds.
    fn noise(&self, n: usize, which: u64) -> Result<Vec<Dataset>> {
        let kinds = &self.cfg.ood.noise;
        let (lo, hi) = self.range;
        let range = (lo, hi.max(lo + f32::EPSILON));
        let k = kinds.len().max(1);
        let mut out = Vec::new();
        for (j, kind) in kinds.iter().enumerate() {
            let m = n / k + usize::from(j < n % k);
            let seed = evoprune_run::seeds::derive(
                self.cfg.seed,
                evoprune_run::seeds::Purpose::OodNoise,
                which * 7 + j as u64,
            );
            out.push(match kind {
                Noise::Gaussian => {
                    noise::gaussian(m, &self.shape, (lo + hi) / 2.0, hi - lo, range, seed)?
                }
                Noise::Uniform => noise::uniform(m, &self.shape, range, seed)?,
            });
        }
        Ok(out)
    }
}

/// The features of each set (through the backbone, or the raw inputs), checked finite.
fn featurize_all(
    cfg: &Config,
    sets: [(&str, &Dataset); 5],
    reporter: &mut dyn Reporter,
    notes: &mut Vec<String>,
) -> Result<[Part; 5]> {
    let featurize = features_fn(cfg, notes)?;
    let mut parts = Vec::new();
    for (name, ds) in sets {
        let x = featurize(name, ds, reporter, notes)?;
        let d = x.len() / ds.len().max(1);
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(DeeptlError::invalid(
                "features",
                format!("non-finite value at sample {}, feature {}", i / d, i % d),
            ));
        }
        parts.push(Part {
            n: ds.len(),
            y: ds.labels().to_vec(),
            x,
        });
    }
    parts
        .try_into()
        .map_err(|_| DeeptlError::invalid("features", "five feature sets expected"))
}

type Featurize =
    Box<dyn Fn(&str, &Dataset, &mut dyn Reporter, &mut Vec<String>) -> Result<Vec<f32>>>;

fn features_fn(cfg: &Config, notes: &mut Vec<String>) -> Result<Featurize> {
    match cfg.features.backbone {
        Backbone::None => {
            notes.push("features: the raw input values (no backbone)".into());
            Ok(Box::new(|_, ds, _, _| Ok(ds.features().to_vec())))
        }
        Backbone::EfficientnetLite0 if cfg.features.compute()? == evoprune_vision::Compute::Cpu => {
            // on the CPU: the zoo's EfficientNet-Lite0 on the fast executor (4x burn flex)
            let weights = cfg.features.weights.clone().expect("validated");
            let model = crate::backbone::GraphBackbone::efficientnet_lite0(
                &weights,
                cfg.features.input_size,
            )?;
            let prep = Preprocessing {
                input_size: cfg.features.input_size,
                batch: cfg.features.batch,
                compute: evoprune_vision::Compute::Cpu,
            };
            notes.push(format!(
                "features: EfficientNet-Lite0 ({}) at {}x{} px on the fast CPU executor, 1280 pooled features, cache {}",
                weights.display(),
                prep.input_size,
                prep.input_size,
                cfg.features.cache_dir.display()
            ));
            Ok(cached_features(cfg, weights, Box::new(model), prep))
        }
        Backbone::EfficientnetLite0 => {
            let weights = cfg.features.weights.clone().expect("validated");
            let compute = cfg.features.compute()?;
            let model = evoprune_vision::EfficientNetLite0::load(&weights, &compute.open()?)?;
            let prep = Preprocessing {
                input_size: cfg.features.input_size,
                batch: cfg.features.batch,
                compute,
            };
            notes.push(format!(
                "features: EfficientNet-Lite0 ({}) at {}x{} px on {}, 1280 pooled features, cache {}",
                weights.display(),
                prep.input_size,
                prep.input_size,
                prep.compute,
                cfg.features.cache_dir.display()
            ));
            Ok(cached_features(cfg, weights, Box::new(model), prep))
        }
        Backbone::Onnx => {
            let weights = cfg.features.weights.clone().expect("validated");
            let model =
                crate::backbone::GraphBackbone::load(&weights, cfg.features.cut.as_deref())?;
            let prep = Preprocessing {
                input_size: model.input_size(),
                batch: cfg.features.batch,
                compute: evoprune_vision::Compute::Cpu,
            };
            notes.push(format!(
                "features: {} cut at \"{}\" ({} features) at {}x{} px on the CPU, cache {}",
                weights.display(),
                model.cut(),
                evoprune_vision::extract::Backbone::dim(&model),
                prep.input_size,
                prep.input_size,
                cfg.features.cache_dir.display()
            ));
            Ok(cached_features(cfg, weights, Box::new(model), prep))
        }
    }
}

/// Features through `model`, from the cache or extracted (and cached), with progress.
fn cached_features(
    cfg: &Config,
    weights: std::path::PathBuf,
    model: Box<dyn extract::Backbone>,
    prep: Preprocessing,
) -> Featurize {
    let cache = cfg.features.cache_dir.clone();
    Box::new(move |name, ds, rep, notes| {
        rep.stage(&format!("features: {name}"), Some(ds.len() as u64));
        let t = std::time::Instant::now();
        let (f, used) = extract::cached(&cache, &weights, model.as_ref(), ds, &prep, |done, _| {
            rep.progress(done as u64)
        })?;
        let secs = t.elapsed().as_secs_f64();
        if let extract::CacheUse::Replaced(why) = &used {
            rep.note(&format!(
                "warning: damaged feature cache entry replaced ({why})"
            ));
        }
        notes.push(if used == extract::CacheUse::Hit {
            format!(
                "features of {name} ({} images) read from the cache",
                ds.len()
            )
        } else {
            format!(
                "features of {name}: {} images extracted in {secs:.1} s ({:.1} images/s)",
                ds.len(),
                ds.len() as f64 / secs.max(1e-9)
            )
        });
        Ok(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune_run::Silent;

    #[test]
    fn default_digits_split_and_ood() {
        let p = prepare(&Config::default(), &mut Silent).unwrap();
        assert_eq!((p.d, p.n_classes), (64, 5));
        assert_eq!(p.train.n + p.val.n + p.test.n, 901);
        assert_eq!(p.ood_val.n, p.val.n);
        assert_eq!(p.ood_test.n, p.test.n);
        assert!(p.train.x.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(p.train.y.iter().all(|&y| y < 5));
        // the two OoD sets share no digit sample: compare rows
        let rows = |q: &Part| -> Vec<Vec<u32>> {
            q.x.chunks(64)
                .map(|r| r.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let a = rows(&p.ood_val);
        assert!(rows(&p.ood_test).iter().all(|r| !a.contains(r)));
    }

    /// The embedded digits as `[1, 16, 16]` images (each pixel doubled), in a safetensors file.
    fn digit_images(dir: &std::path::Path) -> Config {
        let d = evoprune_data::digits::load();
        let mut x = Vec::with_capacity(d.len() * 256);
        for i in 0..d.len() {
            let r = d.row(i);
            for y in 0..16 {
                for xx in 0..16 {
                    x.push(r[(y / 2) * 8 + xx / 2] / 16.0);
                }
            }
        }
        let y: Vec<f32> = d.labels().iter().map(|&l| l as f32).collect();
        let path = dir.join("d.safetensors");
        evoprune_data::tensors::write(
            &path,
            &[("x", &[d.len(), 1, 16, 16], &x), ("y", &[d.len()], &y)],
            Default::default(),
        )
        .unwrap();
        let mut c = Config::default();
        c.data.source = Source::Safetensors;
        c.data.path = Some(path);
        c
    }

    #[test]
    fn other_datasets_join_the_ood_sets_and_each_source_has_its_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = digit_images(dir.path());
        c.ood.datasets = vec![OodDataset::Digits];
        c.ood.dataset_fraction = 0.3;
        c.ood.noise_fraction = 0.2;
        let p = prepare(&c, &mut Silent).unwrap();
        assert_eq!(p.d, 256);
        let names: Vec<&str> = p.ood_test_sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["classes 5-9", "digits", "noise"]);
        let n = p.ood_test.n as f64;
        let len = |k: usize| p.ood_test_sources[k].range.len() as f64;
        assert_eq!(p.ood_test_sources[2].range.end, p.ood_test.n);
        assert!((len(1) / n - 0.3).abs() < 0.01 && (len(2) / n - 0.2).abs() < 0.01);
        for w in p.ood_test_sources.windows(2) {
            assert_eq!(w[0].range.end, w[1].range.start);
        }
        // the digits part: resized images inside the in-distribution range, and none of them in
        // the validation OoD set as well
        let digits = &p.ood_test.x
            [p.ood_test_sources[1].range.start * 256..p.ood_test_sources[1].range.end * 256];
        assert!(digits.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(digits.iter().any(|&v| v > 0.5));
        let rows = |x: &[f32]| -> Vec<Vec<u32>> {
            x.chunks(256)
                .map(|r| r.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let val = rows(&p.ood_val.x);
        assert!(rows(digits).iter().all(|r| !val.contains(r)));
    }

    #[test]
    fn other_datasets_need_image_inputs_and_enough_samples() {
        let mut c = Config::default();
        c.ood.datasets = vec![OodDataset::Digits];
        c.ood.dataset_fraction = 0.5;
        let e = prepare(&c, &mut Silent).unwrap_err().to_string();
        assert!(
            e.starts_with("ood.datasets: other datasets need image inputs"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut c = digit_images(dir.path());
        c.ood.datasets = vec![OodDataset::Digits];
        c.ood.dataset_fraction = 1.0;
        c.ood.noise_fraction = 0.0;
        c.ood.ratio = 10.0;
        let e = prepare(&c, &mut Silent).unwrap_err().to_string();
        assert!(
            e.starts_with("ood.dataset_fraction: 1797 OoD samples of digits available"),
            "{e}"
        );
    }

    #[test]
    fn limits_keep_classes_balanced() {
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
        let got = limit_stratified((0..10).collect(), &labels, 6);
        assert_eq!(got, vec![0, 1, 4, 5, 8, 9]);
    }

    #[test]
    fn unknown_classes_are_named() {
        let mut c = Config::default();
        c.ood.classes = vec![5, 11];
        let e = prepare(&c, &mut Silent).unwrap_err().to_string();
        assert!(e.starts_with("ood.classes: class 11"), "{e}");
    }
}
