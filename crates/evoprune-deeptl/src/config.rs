//! The run config (TOML). Every section and key has a default; unknown keys are errors.
//! Defaults follow the paper (REFERENCE-NOTES section 1) except where noted.

use evoprune_run::{MethodConfig, Result, RunError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `method` key of this method's configs.
pub const METHOD: &str = "mo-evoprune-deeptl";

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The method, `"mo-evoprune-deeptl"` (optional here: it is the default method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Name of the run (the default run folder is `runs/<name>`).
    pub name: String,
    /// Seed of the split, the noise, the search and the head training.
    pub seed: u64,
    /// In-distribution data.
    pub data: DataConfig,
    /// Out-of-distribution samples.
    pub ood: OodConfig,
    /// Frozen backbone.
    pub features: FeaturesConfig,
    /// Dense head.
    pub head: HeadSection,
    /// Training of each candidate's head.
    pub train: TrainSection,
    /// The evolutionary search.
    pub search: SearchConfig,
    /// Ensembles from the final front.
    pub ensembles: EnsembleConfig,
    /// Explanations (key features, heat maps).
    pub explain: ExplainConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            method: None,
            name: "digits".into(),
            seed: 1,
            data: DataConfig::default(),
            ood: OodConfig::default(),
            features: FeaturesConfig::default(),
            head: HeadSection::default(),
            train: TrainSection::default(),
            search: SearchConfig::default(),
            ensembles: EnsembleConfig::default(),
            explain: ExplainConfig::default(),
        }
    }
}

/// Where the in-distribution samples come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The UCI digits embedded in the binary (8x8 images, values 0-16, scaled to [0, 1]).
    Digits,
    /// MNIST IDX files (train and t10k, raw or .gz) in `path`, pooled before splitting.
    Mnist,
    /// A CSV file: one row per sample, the feature values then the integer label.
    Csv,
    /// A NumPy .npz file with arrays named `x_key` and `y_key`.
    Npz,
    /// A safetensors file with tensors named `x_key` and `y_key`.
    Safetensors,
}

/// In-distribution data and its split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The source kind.
    pub source: Source,
    /// File or folder of the source (relative paths are relative to the config file).
    pub path: Option<PathBuf>,
    /// Name of the feature array (npz / safetensors).
    pub x_key: String,
    /// Name of the label array (npz / safetensors).
    pub y_key: String,
    /// Classes used as in-distribution (all classes when empty).
    pub ind_classes: Vec<u32>,
    /// Train / validation / test fractions of the in-distribution samples.
    pub split: [f64; 3],
    /// At most this many samples per split (train, validation, test), stratified; 0 = all.
    pub limit: [usize; 3],
    /// Multiply every input value by this (the digits source already scales 0-16 to [0, 1]).
    pub scale: f32,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: Source::Digits,
            path: None,
            x_key: "x".into(),
            y_key: "y".into(),
            ind_classes: vec![0, 1, 2, 3, 4],
            split: [0.6, 0.2, 0.2],
            limit: [0, 0, 0],
            scale: 1.0,
        }
    }
}

/// Synthetic noise, as in the ODIN paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Noise {
    /// N(0.5, 1) clamped to [0, 1], of the input's shape.
    Gaussian,
    /// U[0, 1) of the input's shape.
    Uniform,
}

/// Other datasets used as OoD (the paper's protocol: a different dataset, not only held-out
/// classes of the same one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OodDataset {
    /// The UCI optical digits (embedded, 8x8), resized bilinearly to the input's height and
    /// width, every channel the same, values mapped onto the in-distribution value range.
    Digits,
}

impl OodDataset {
    /// Its name in reports and `front.csv` columns.
    pub fn name(self) -> &'static str {
        match self {
            OodDataset::Digits => "digits",
        }
    }
}

/// Out-of-distribution samples for the validation and test AUROC. The OoD set of a split is
/// made of up to three sources: held-out classes, other datasets and noise, in the shares
/// `1 - dataset_fraction - noise_fraction`, `dataset_fraction` and `noise_fraction` (the shares
/// of absent sources go to the others). Test AUROC is reported for each source on its own and
/// for all together; the search uses all together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OodConfig {
    /// Classes of the same source used as OoD (disjoint from `data.ind_classes`).
    pub classes: Vec<u32>,
    /// Other datasets used as OoD (left out of the saved config when empty, so the fingerprint
    /// of a run folder written before they existed still matches).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<OodDataset>,
    /// Fraction of the OoD set taken from `datasets` (split evenly among them).
    #[serde(skip_serializing_if = "is_zero")]
    pub dataset_fraction: f64,
    /// Noise kinds added to the OoD set.
    pub noise: Vec<Noise>,
    /// Fraction of the OoD set that is noise (split evenly among `noise`).
    pub noise_fraction: f64,
    /// OoD samples per in-distribution sample in the validation and test splits (the paper: 1).
    pub ratio: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl OodConfig {
    /// The shares of held-out classes, other datasets and noise in each OoD set (summing to 1,
    /// or all 0 when there is no source).
    pub fn shares(&self) -> [f64; 3] {
        let ds = if self.datasets.is_empty() {
            0.0
        } else {
            self.dataset_fraction
        };
        let noise = if self.noise.is_empty() {
            0.0
        } else {
            self.noise_fraction
        };
        let cls = if self.classes.is_empty() {
            0.0
        } else {
            (1.0 - ds - noise).max(0.0)
        };
        let total = cls + ds + noise;
        if total <= 0.0 {
            return [0.0; 3];
        }
        [cls / total, ds / total, noise / total]
    }
}

impl Default for OodConfig {
    fn default() -> Self {
        OodConfig {
            classes: vec![5, 6, 7, 8, 9],
            datasets: Vec::new(),
            dataset_fraction: 0.0,
            noise: vec![Noise::Gaussian, Noise::Uniform],
            noise_fraction: 0.2,
            ratio: 1.0,
        }
    }
}

/// Frozen backbones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backbone {
    /// No backbone: the raw input values are the features.
    None,
    /// EfficientNet-Lite0 with ImageNet weights (1280 pooled features).
    EfficientnetLite0,
    /// Any network from an ONNX file (`features.weights`), cut at `features.cut` (default: the
    /// value entering its last linear layer); it takes ImageNet-normalised RGB images of its
    /// own (square) input size.
    Onnx,
}

/// The frozen backbone and its cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Which backbone.
    pub backbone: Backbone,
    /// The backbone's safetensors weights (EfficientNet-Lite0) or ONNX file (`onnx`).
    pub weights: Option<PathBuf>,
    /// `onnx` backbones: the value whose entries are the features (default: the input of the
    /// network's last Gemm/MatMul, i.e. the features entering its dense head). Also accepted
    /// as `output` (the name issue 15 gave it).
    #[serde(alias = "output")]
    pub cut: Option<String>,
    /// Square input size fed to the backbone (a multiple of 32).
    pub input_size: usize,
    /// Images per forward pass.
    pub batch: usize,
    /// Where extracted features are cached (relative to the config file).
    pub cache_dir: PathBuf,
    /// Where the backbone runs: `"cpu"` (default), or with a GPU build `"wgpu"`, `"wgpu:N"`,
    /// `"wgpu:cpu"` (`--features wgpu`), `"cuda"`, `"cuda:N"` (`--features cuda`).
    pub device: String,
}

impl FeaturesConfig {
    /// The parsed `device`.
    pub fn compute(
        &self,
    ) -> std::result::Result<evoprune_vision::Compute, evoprune_vision::VisionError> {
        self.device.parse()
    }
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            backbone: Backbone::None,
            weights: None,
            cut: None,
            input_size: 96,
            batch: 32,
            cache_dir: PathBuf::from(".evoprune-cache"),
            device: "cpu".into(),
        }
    }
}

/// The dense head: masked input -> hidden layers (ReLU) -> classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadSection {
    /// Hidden widths (the paper: one layer of 512).
    pub hidden: Vec<usize>,
    /// Bias on hidden layers (the paper: none).
    pub hidden_bias: bool,
    /// Bias on the output layer.
    pub output_bias: bool,
}

impl Default for HeadSection {
    fn default() -> Self {
        HeadSection {
            hidden: vec![512],
            hidden_bias: false,
            output_bias: true,
        }
    }
}

/// Optimisers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// SGD with momentum / Nesterov / decay (Keras semantics).
    Sgd,
    /// Adam.
    Adam,
}

/// Training of every candidate head. The paper: SGD lr 1e-3, decay 1e-6, momentum 0.9, Nesterov,
/// batch 32, up to 600 epochs, early stopping on the training loss (patience 10, min_delta 1e-5,
/// restore best).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f32,
    /// SGD momentum.
    pub momentum: f32,
    /// SGD Nesterov momentum.
    pub nesterov: bool,
    /// Keras learning-rate decay per step: `lr / (1 + decay * step)`.
    pub decay: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epoch budget.
    pub max_epochs: usize,
    /// Stop when the training loss has not improved for `patience` epochs (0 = never stop early).
    pub patience: usize,
    /// Smallest loss decrease that counts as an improvement.
    pub min_delta: f32,
    /// Restore the weights of the best epoch when training stops early (Keras
    /// `restore_best_weights`, as the paper's code: a run that uses all its epochs keeps the last).
    pub restore_best: bool,
    /// With `restore_best`, restore them after a full run too (evoprune before issue 14).
    pub restore_always: bool,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            optimizer: OptimizerKind::Sgd,
            lr: 1e-3,
            momentum: 0.9,
            nesterov: true,
            decay: 1e-6,
            weight_decay: 0.0,
            batch_size: 32,
            max_epochs: 600,
            patience: 10,
            min_delta: 1e-5,
            restore_best: true,
            restore_always: false,
        }
    }
}

/// The objectives the search may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectiveKind {
    /// 1 - validation accuracy.
    Error,
    /// Fraction of active features.
    Active,
    /// 1 - AUROC of ODIN scores, InD validation vs OoD.
    Auroc,
}

impl ObjectiveKind {
    /// Column name of the minimised objective.
    pub fn name(self) -> &'static str {
        match self {
            ObjectiveKind::Error => "error",
            ObjectiveKind::Active => "active_fraction",
            ObjectiveKind::Auroc => "one_minus_auroc",
        }
    }
}

/// Initial population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitKind {
    /// round(p L) random ones with p ~ U(0, 1) per individual (the paper).
    DensitySpread,
    /// Every bit 1 with probability 1/2.
    Uniform,
    /// Half of the individuals as `density-spread`, half with a log-uniform density in
    /// `[1/L, 1]`, so a single run's front reaches below 1% active features (the paper's
    /// fronts reach 0.1-0.3% only when 10 runs are merged).
    DensitySpreadLog,
}

/// NSGA-II settings (the paper: population 30, steady state with 2 offspring, 200 evaluations,
/// uniform crossover with probability 1, bit-flip 1/L, density-spread initialisation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Objectives (any two or all three).
    pub objectives: Vec<ObjectiveKind>,
    /// Population size.
    pub pop_size: usize,
    /// Offspring per step.
    pub offspring: usize,
    /// Evaluation budget.
    pub evaluations: u64,
    /// Crossover probability.
    pub crossover_prob: f64,
    /// Per-gene swap probability of the uniform crossover.
    pub swap_prob: f64,
    /// Per-bit flip probability; 0 means 1/L.
    pub mutation_rate: f64,
    /// Initial population.
    pub init: InitKind,
    /// ODIN temperature.
    pub odin_temperature: f32,
    /// ODIN input perturbation: each head input moves by this along the sign of the gradient
    /// that raises its own score (0 = none, as in the paper). Applied to the cached features
    /// entering the head, since the backbone is frozen.
    pub odin_epsilon: f32,
    /// Threads evaluating candidates (0 = all cores). The front does not depend on it.
    pub threads: usize,
    /// Checkpoint every this many steps.
    pub checkpoint_every: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            objectives: vec![
                ObjectiveKind::Error,
                ObjectiveKind::Active,
                ObjectiveKind::Auroc,
            ],
            pop_size: 30,
            offspring: 2,
            evaluations: 200,
            crossover_prob: 1.0,
            swap_prob: 0.5,
            mutation_rate: 0.0,
            init: InitKind::DensitySpread,
            odin_temperature: 1000.0,
            odin_epsilon: 0.0,
            threads: 0,
            checkpoint_every: 1,
        }
    }
}

/// Percentile windows of the front's validation accuracy (and, separately, AUROC).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleConfig {
    /// Windows `[lo, hi]` in percent (the paper: (50,60), (55,65), ..., (85,95)).
    pub windows: Vec<[f64; 2]>,
}

impl Default for EnsembleConfig {
    fn default() -> Self {
        EnsembleConfig {
            windows: (0..8)
                .map(|i| [50.0 + 5.0 * i as f64, 60.0 + 5.0 * i as f64])
                .collect(),
        }
    }
}

/// Explanations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExplainConfig {
    /// How many of the most frequently active features to list.
    pub top_k: usize,
    /// Heat maps (image backbones): for this many of the top features...
    pub heatmap_features: usize,
    /// ...over this many test images.
    pub heatmap_images: usize,
    /// Input size for the heat maps (larger gives finer maps; a multiple of 32).
    pub heatmap_size: usize,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        ExplainConfig {
            top_k: 10,
            heatmap_features: 3,
            heatmap_images: 4,
            heatmap_size: 224,
        }
    }
}

/// Remove `.` and resolve `..` lexically (`/a/b/../c` -> `/a/c`), so reports show plain paths.
fn bad(field: &str, reason: impl Into<String>) -> RunError {
    RunError::invalid(field, reason)
}

/// `configs/digits.toml`, embedded: the run of `evoprune run` without a file.
const BUILTIN: &str = include_str!("../../../configs/digits.toml");

impl Config {
    /// The built-in default run (`configs/digits.toml`, embedded in the binary): UCI digits 0-4
    /// as in-distribution, 5-9 plus noise as OoD, raw pixels as features.
    pub fn builtin() -> Config {
        Config::parse(BUILTIN, Path::new("<built-in configs/digits.toml>"))
            .expect("the embedded default config is valid")
    }
}

impl MethodConfig for Config {
    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.data
            .path
            .iter_mut()
            .chain(self.features.weights.iter_mut())
            .chain(std::iter::once(&mut self.features.cache_dir))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        if let Some(m) = &self.method
            && m != METHOD
        {
            return Err(bad(
                "method",
                format!("this config is for \"{METHOD}\", got \"{m}\""),
            ));
        }
        self.check_data()?;
        self.check_ood()?;
        self.check_features()?;
        self.check_train()?;
        self.check_search()?;
        Ok(())
    }
}

impl Config {
    /// The `[data]` section.
    fn check_data(&self) -> Result<()> {
        let d = &self.data;
        if d.source != Source::Digits && d.path.is_none() {
            return Err(bad(
                "data.path",
                format!("required for source {:?}", d.source),
            ));
        }
        let sum: f64 = d.split.iter().sum();
        if d.split.iter().any(|f| !(*f > 0.0)) || (sum - 1.0).abs() > 1e-6 {
            return Err(bad(
                "data.split",
                format!("three positive fractions summing to 1, got {:?}", d.split),
            ));
        }
        if !(d.scale.is_finite() && d.scale > 0.0) {
            return Err(bad(
                "data.scale",
                format!("must be positive, got {}", d.scale),
            ));
        }
        Ok(())
    }

    /// The `[ood]` section.
    fn check_ood(&self) -> Result<()> {
        let o = &self.ood;
        if let Some(c) = o.classes.iter().find(|c| self.data.ind_classes.contains(c)) {
            return Err(bad(
                "ood.classes",
                format!("class {c} is also in data.ind_classes"),
            ));
        }
        for (key, v) in [
            ("ood.noise_fraction", o.noise_fraction),
            ("ood.dataset_fraction", o.dataset_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(key, format!("must lie in [0, 1], got {v}")));
            }
        }
        if o.noise.is_empty() && o.noise_fraction > 0.0 && !o.classes.is_empty() {
            return Err(bad(
                "ood.noise",
                "noise_fraction > 0 needs at least one noise kind",
            ));
        }
        if let Some(d) = o
            .datasets
            .iter()
            .enumerate()
            .find_map(|(i, d)| o.datasets[..i].contains(d).then_some(d))
        {
            return Err(bad(
                "ood.datasets",
                format!("\"{}\" is listed twice", d.name()),
            ));
        }
        if o.datasets.is_empty() && o.dataset_fraction > 0.0 {
            return Err(bad(
                "ood.datasets",
                "dataset_fraction > 0 needs at least one dataset",
            ));
        }
        if !o.datasets.is_empty() && o.dataset_fraction == 0.0 {
            return Err(bad(
                "ood.dataset_fraction",
                "must be > 0 when ood.datasets is given",
            ));
        }
        if !o.classes.is_empty() && o.noise_fraction + o.dataset_fraction > 1.0 {
            return Err(bad(
                "ood.noise_fraction",
                format!(
                    "noise_fraction + dataset_fraction must be at most 1, got {}",
                    o.noise_fraction + o.dataset_fraction
                ),
            ));
        }
        if o.shares() == [0.0; 3] {
            return Err(bad(
                "ood",
                "no OoD samples: give ood.classes, ood.datasets or ood.noise",
            ));
        }
        if !(o.ratio > 0.0 && o.ratio <= 10.0) {
            return Err(bad(
                "ood.ratio",
                format!("must lie in (0, 10], got {}", o.ratio),
            ));
        }
        Ok(())
    }

    /// The `[features]` section.
    fn check_features(&self) -> Result<()> {
        let f = &self.features;
        if f.backbone != Backbone::None && f.weights.is_none() {
            return Err(bad(
                "features.weights",
                "required for the efficientnet-lite0 and onnx backbones",
            ));
        }
        if f.cut.is_some() && f.backbone != Backbone::Onnx {
            return Err(bad("features.cut", "only for backbone = \"onnx\""));
        }
        for (k, v) in [
            ("features.input_size", f.input_size),
            ("explain.heatmap_size", self.explain.heatmap_size),
        ] {
            if v < 32 || v % 32 != 0 {
                return Err(bad(
                    k,
                    format!("must be a positive multiple of 32, got {v}"),
                ));
            }
        }
        if f.batch == 0 {
            return Err(bad("features.batch", "must be at least 1"));
        }
        let c = f
            .compute()
            .map_err(|e| bad("features.device", e.to_string()))?;
        if !c.built() {
            return Err(bad(
                "features.device",
                format!(
                    "\"{c}\" needs evoprune built with `--features {}`",
                    c.feature().unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// The `[head]` and `[train]` sections.
    fn check_train(&self) -> Result<()> {
        if self.head.hidden.contains(&0) {
            return Err(bad("head.hidden", "widths must be positive"));
        }
        let t = &self.train;
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(bad("train.lr", format!("must be positive, got {}", t.lr)));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return Err(bad(
                "train.momentum",
                format!("must lie in [0, 1), got {}", t.momentum),
            ));
        }
        for (k, v) in [
            ("train.decay", t.decay),
            ("train.weight_decay", t.weight_decay),
            ("train.min_delta", t.min_delta),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(k, format!("must be >= 0, got {v}")));
            }
        }
        if t.batch_size == 0 || t.max_epochs == 0 {
            return Err(bad(
                "train.batch_size / train.max_epochs",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The `[search]` and `[ensembles]` sections.
    fn check_search(&self) -> Result<()> {
        let s = &self.search;
        let mut objs = s.objectives.clone();
        objs.sort();
        objs.dedup();
        if objs.len() != s.objectives.len() || !(2..=3).contains(&objs.len()) {
            return Err(bad(
                "search.objectives",
                format!(
                    "two or three distinct of error, active, auroc; got {:?}",
                    s.objectives
                ),
            ));
        }
        if s.pop_size < 4 {
            return Err(bad(
                "search.pop_size",
                format!("must be at least 4, got {}", s.pop_size),
            ));
        }
        if s.offspring == 0 {
            return Err(bad("search.offspring", "must be at least 1"));
        }
        if s.evaluations < s.pop_size as u64 {
            return Err(bad(
                "search.evaluations",
                format!(
                    "must be at least search.pop_size ({}), got {}",
                    s.pop_size, s.evaluations
                ),
            ));
        }
        for (k, v) in [
            ("search.crossover_prob", s.crossover_prob),
            ("search.swap_prob", s.swap_prob),
            ("search.mutation_rate", s.mutation_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(k, format!("must lie in [0, 1], got {v}")));
            }
        }
        if !(s.odin_temperature.is_finite() && s.odin_temperature > 0.0) {
            return Err(bad("search.odin_temperature", "must be positive"));
        }
        if !(s.odin_epsilon.is_finite() && s.odin_epsilon >= 0.0) {
            return Err(bad(
                "search.odin_epsilon",
                format!("must be >= 0, got {}", s.odin_epsilon),
            ));
        }
        if s.checkpoint_every == 0 {
            return Err(bad("search.checkpoint_every", "must be at least 1"));
        }
        for w in &self.ensembles.windows {
            if !(0.0 <= w[0] && w[0] < w[1] && w[1] <= 100.0) {
                return Err(bad(
                    "ensembles.windows",
                    format!("need 0 <= lo < hi <= 100, got {w:?}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_is_also_called_output() {
        let text = "[features]\nbackbone = \"onnx\"\nweights = \"m.onnx\"\noutput = \"pooled\"\n";
        let c = Config::parse(text, std::path::Path::new("c.toml")).unwrap();
        assert_eq!(c.features.cut.as_deref(), Some("pooled"));
    }

    #[test]
    fn defaults_follow_the_paper_and_round_trip() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(
            (c.search.pop_size, c.search.offspring, c.search.evaluations),
            (30, 2, 200)
        );
        assert_eq!(c.ensembles.windows.first(), Some(&[50.0, 60.0]));
        assert_eq!(c.ensembles.windows.last(), Some(&[85.0, 95.0]));
        let back = Config::parse(&c.to_toml().unwrap(), Path::new("c.toml")).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn relative_paths_are_resolved_against_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cfgs = dir.path().join("configs");
        std::fs::create_dir(&cfgs).unwrap();
        let f = cfgs.join("c.toml");
        std::fs::write(
            &f,
            "[data]\nsource = \"mnist\"\npath = \"../data/./mnist\"\n[features]\ncache_dir = \"/abs/cache\"\n",
        )
        .unwrap();
        let c = Config::load(&f).unwrap();
        assert_eq!(c.data.path.unwrap(), dir.path().join("data/mnist"));
        assert_eq!(c.features.cache_dir, PathBuf::from("/abs/cache"));
    }

    #[test]
    fn builtin_is_the_digits_run() {
        let c = Config::builtin();
        assert_eq!(c.name, "digits");
        assert_eq!(c.data.source, Source::Digits);
        assert_eq!(c.features.backbone, Backbone::None);
        assert_eq!(c.search.evaluations, 200);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("[search]\npop_size = 2\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("search.pop_size"), "{e}");
        let e = Config::parse("[search]\npopsize = 20\n", Path::new("c.toml")).unwrap_err();
        assert!(
            e.to_string().contains("popsize") && e.to_string().contains("line 2"),
            "{e}"
        );
        for (toml, key) in [
            ("[ood]\ndatasets = [\"digits\"]\n", "ood.dataset_fraction"),
            ("[ood]\ndataset_fraction = 0.2\n", "ood.datasets"),
            (
                "[ood]\ndatasets = [\"digits\"]\ndataset_fraction = 1.5\n",
                "ood.dataset_fraction",
            ),
            (
                "[ood]\ndatasets = [\"digits\"]\ndataset_fraction = 0.9\nnoise_fraction = 0.2\n",
                "ood.noise_fraction",
            ),
            (
                "[ood]\ndatasets = [\"cifar\"]\ndataset_fraction = 0.2\n",
                "c.toml: line 2",
            ),
        ] {
            let e = Config::parse(toml, Path::new("c.toml")).unwrap_err();
            assert!(e.to_string().starts_with(key), "{toml}: {e}");
        }
        let c = Config::parse(
            "[ood]\nclasses = []\nnoise = []\ndatasets = [\"digits\"]\ndataset_fraction = 0.1\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.ood.shares(), [0.0, 1.0, 0.0]);
        assert_eq!(Config::default().ood.shares(), [0.8, 0.0, 0.2]);
        let e = Config::parse("[ood]\nclasses = [1]\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("ood.classes"), "{e}");
        let e =
            Config::parse("[search]\nobjectives = [\"error\"]\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("search.objectives"), "{e}");
        let e = Config::parse("[train]\nlr = nan\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("train.lr"), "{e}");
        let e =
            Config::parse("[features]\nbackbone = \"resnet\"\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("backbone"), "{e}");
        let e = Config::parse("[features]\ndevice = \"tpu\"\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("features.device"), "{e}");
        let gpu = Config::parse("[features]\ndevice = \"wgpu\"\n", Path::new("c.toml"));
        if cfg!(feature = "wgpu") {
            assert_eq!(gpu.unwrap().features.device, "wgpu");
        } else {
            let e = gpu.unwrap_err().to_string();
            assert!(
                e.contains("features.device") && e.contains("--features wgpu"),
                "{e}"
            );
        }
    }
}
