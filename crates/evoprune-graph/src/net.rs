//! A classifier to prune, as every method sees it: the [`Graph`], its coupled-channel groups,
//! its prunable weight tensors, and what a candidate's masks make of it.
//!
//! A candidate is a [`Masks`]: groups kept or removed (structured), single weights kept or
//! zeroed (unstructured), and bits per weight tensor (quantization). [`Net::realize`] turns a
//! network and masks into the physically smaller network that is scored and exported;
//! [`Net::stats`] counts its parameters and MACs exactly; [`Net::fine_tune`] trains with the
//! masks held fixed; [`Net::export`] writes ONNX and safetensors.

use crate::groups::{self, Analysis};
use crate::ir::{Graph, Op, Tensor};
use crate::stats::{self, Stats};
use crate::{GraphError, Result, fast, model, onnx, shape, weights};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One prunable weight tensor: the weight of a convolution or linear layer.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightLayer {
    /// The parameter's name (PyTorch's, when the model came from PyTorch).
    pub name: String,
    /// The node reading it.
    pub node: String,
    /// A linear layer (Gemm, MatMul), else a convolution.
    pub linear: bool,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Multiply-accumulates each entry does for one input (output pixels of a convolution).
    pub uses: usize,
    /// Output channels: the axis quantization scales are taken along (0, or 1 for a weight
    /// stored `[in, out]`).
    pub out_axis: usize,
}

impl WeightLayer {
    /// Entries.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a candidate does to the network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Masks {
    /// One flag per group of [`Net::analysis`] (`false`: removed); `None`: no structured
    /// pruning.
    pub keep: Option<Vec<bool>>,
    /// 0/1 per entry of a weight tensor, by parameter name (unstructured pruning).
    pub entries: HashMap<String, Vec<f32>>,
    /// Bits per weight of quantized tensors (8 or 4; symmetric, per output channel), by name.
    pub bits: HashMap<String, u32>,
}

/// A classifier graph ready for pruning.
#[derive(Clone, Debug)]
pub struct Net {
    /// The network as loaded (batch norms kept, so fine-tuning sees them).
    pub graph: Graph,
    /// Its coupled-channel groups.
    pub analysis: Analysis,
    /// Its convolution and linear weights, in node order.
    pub layers: Vec<WeightLayer>,
    /// Classes (the output's width).
    pub classes: usize,
    /// Counts of the unpruned network.
    pub dense: Stats,
}

/// Images scored per executor call (bounds the activations' memory).
const CHUNK: usize = 128;

impl Net {
    /// Analyse `graph`, which must have one output of shape `[N, classes]`.
    pub fn new(graph: Graph) -> Result<Net> {
        if graph.outputs.len() != 1 {
            return Err(GraphError::invalid(
                "network",
                format!(
                    "a classifier has one output, this one has {}",
                    graph.outputs.len()
                ),
            ));
        }
        let shapes = shape::infer(&graph, 1)?;
        let out = &shapes[&graph.outputs[0]];
        let classes = match out[..] {
            [1, k] if k >= 2 => k,
            _ => {
                return Err(GraphError::invalid(
                    "network",
                    format!(
                        "the output \"{}\" has shape {out:?} for one input; a classifier's is [1, classes]",
                        graph.outputs[0]
                    ),
                ));
            }
        };
        let dense = stats::stats(&graph)?;
        let mut layers = Vec::new();
        for (n, l) in graph.nodes.iter().zip(&dense.layers) {
            let Some(w) = n
                .inputs
                .get(1)
                .and_then(|w| graph.params.get(w).map(|t| (w, t)))
            else {
                continue;
            };
            let (linear, out_axis) = match &n.op {
                Op::Conv { .. } => (false, 0),
                Op::Gemm { trans_b, .. } => (true, if *trans_b { 0 } else { 1 }),
                Op::MatMul if w.1.shape.len() == 2 => (true, 1),
                _ => continue,
            };
            if layers.iter().any(|x: &WeightLayer| &x.name == w.0) || w.1.is_empty() {
                continue;
            }
            layers.push(WeightLayer {
                name: w.0.clone(),
                node: n.name.clone(),
                linear,
                shape: w.1.shape.clone(),
                uses: l.macs / w.1.len(),
                out_axis,
            });
        }
        let analysis = groups::analyze(&graph)?;
        Ok(Net {
            graph,
            analysis,
            layers,
            classes,
            dense,
        })
    }

    /// Values per input image.
    pub fn input_len(&self) -> usize {
        self.graph.input_shape[1..].iter().product()
    }

    /// Fit `n` images of shape `from` (`[C, H, W]`) to the network's input (see
    /// [`model::fit_images`]); a network with a flat input takes images of as many values.
    pub fn fit(&self, x: &[f32], n: usize, from: [usize; 3]) -> Result<Vec<f32>> {
        match self.graph.input_shape[..] {
            [_, c, h, w] => model::fit_images(x, n, from, [c, h, w]),
            _ if from.iter().product::<usize>() == self.input_len() => Ok(x.to_vec()),
            _ => Err(GraphError::invalid(
                "images",
                format!(
                    "images of {from:?} do not fit the network's input {:?}",
                    self.graph.input_shape
                ),
            )),
        }
    }

    /// Check that `m`'s masks and bits name this network's convolution and linear weights,
    /// each mask with one entry per weight.
    fn check(&self, m: &Masks) -> Result<()> {
        for k in m.entries.keys().chain(m.bits.keys()) {
            let Some(l) = self.layers.iter().find(|l| &l.name == k) else {
                return Err(GraphError::invalid(
                    "masks",
                    format!("\"{k}\" is not a convolution or linear weight of the network"),
                ));
            };
            if let Some(e) = m.entries.get(k)
                && e.len() != l.len()
            {
                return Err(GraphError::invalid(
                    format!("mask of \"{k}\""),
                    format!("{} entries for {}", e.len(), l.len()),
                ));
            }
        }
        Ok(())
    }

    /// The full-size network computing what `m` leaves: pruned entries zeroed, quantized
    /// tensors quantized and dequantized, removed groups' channels zeroed where they are read.
    pub fn masked(&self, g: &Graph, m: &Masks) -> Result<Graph> {
        self.check(m)?;
        let mut g = g.clone();
        for l in &self.layers {
            let t = g.params.get_mut(&l.name).expect("layer parameter");
            if let Some(e) = m.entries.get(&l.name) {
                t.data.iter_mut().zip(e).for_each(|(w, k)| *w *= k);
            }
            if let Some(&b) = m.bits.get(&l.name) {
                t.data = quantize(t, l.out_axis, b)
                    .map_err(|r| GraphError::invalid(format!("bits of \"{}\"", l.name), r))?;
            }
        }
        match &m.keep {
            Some(keep) => self.analysis.masked(&g, keep),
            None => Ok(g),
        }
    }

    /// The physically smaller network of `g` (this network's weights, possibly fine-tuned)
    /// under `m`: [`Net::masked`] with the removed groups cut out.
    pub fn realize(&self, g: &Graph, m: &Masks) -> Result<Graph> {
        self.realize_rounded(g, m, 1)
    }

    /// [`Net::realize`] keeping a multiple of `multiple` channels in every image-like tensor a
    /// removal shrinks ([`Analysis::rounded`]): the same function, with the extra channels zero
    /// where they are read, in shapes that blocked kernels (onnxruntime's NCHWc) accept.
    pub fn realize_rounded(&self, g: &Graph, m: &Masks, multiple: usize) -> Result<Graph> {
        let masked = self.masked(g, m)?;
        match &m.keep {
            Some(keep) if keep.iter().any(|k| !k) => {
                let wide = self.analysis.rounded(keep, multiple)?;
                self.analysis.compact(&masked, &wide)
            }
            _ => Ok(masked),
        }
    }

    /// Parameter and MAC counts of [`Net::realize_rounded`]'s network: the channels taken
    /// back count as computed (their weights are stored and multiplied, zeros or not).
    pub fn rounded_stats(&self, m: &Masks, multiple: usize) -> Result<Stats> {
        let wide = match &m.keep {
            Some(keep) => Some(self.analysis.rounded(keep, multiple)?),
            None => None,
        };
        self.stats(&Masks {
            keep: wide,
            ..m.clone()
        })
    }

    /// Exact parameter and MAC counts of the realized network (pruned entries neither stored
    /// nor multiplied).
    pub fn stats(&self, m: &Masks) -> Result<Stats> {
        self.check(m)?;
        let removes = m.keep.as_ref().is_some_and(|k| k.iter().any(|k| !k));
        if !removes && m.entries.is_empty() {
            return Ok(self.dense.clone());
        }
        // the masks cut exactly as the weights: compact a copy whose weights are the masks
        let mut ones = self.graph.clone();
        for l in &self.layers {
            let t = ones.params.get_mut(&l.name).expect("layer parameter");
            match m.entries.get(&l.name) {
                Some(e) => t.data.clone_from(e),
                None => t.data.fill(1.0),
            }
        }
        let (g, cut) = match &m.keep {
            Some(keep) if removes => (
                self.analysis.compact(&self.graph, keep)?,
                self.analysis.compact(&ones, keep)?,
            ),
            _ => (self.graph.clone(), ones),
        };
        if m.entries.is_empty() {
            return stats::stats(&g);
        }
        let masks: HashMap<String, Vec<f32>> = self
            .layers
            .iter()
            .filter(|l| m.entries.contains_key(&l.name))
            .map(|l| (l.name.clone(), cut.params[&l.name].data.clone()))
            .collect();
        stats::sparse_stats(&g, &masks)
    }

    /// Logits (`[n, classes]`, row-major) of `g` on `x` (`n` inputs of [`Net::input_len`]
    /// values), in chunks on the current rayon pool, on the fast executor ([`fast::Plan`]).
    pub fn logits(&self, g: &Graph, x: &[f32]) -> Result<Vec<f32>> {
        let per = self.input_len();
        if per == 0 || !x.len().is_multiple_of(per) {
            return Err(GraphError::invalid(
                "inputs",
                format!("{} values are not whole inputs of {per}", x.len()),
            ));
        }
        let mut out = Vec::with_capacity(x.len() / per * self.classes);
        // compiled once (weights packed, batch norms folded) for all the chunks
        let plan = fast::Plan::new(g)?;
        for chunk in x.chunks(per * CHUNK) {
            let mut shape = g.input_shape.clone();
            shape[0] = chunk.len() / per;
            let y = plan.run(&Tensor::new(shape, chunk.to_vec()))?;
            let y = &y[0];
            if y.len() != chunk.len() / per * self.classes {
                return Err(GraphError::invalid(
                    "network",
                    format!("output of shape {:?} is not [n, {}]", y.shape, self.classes),
                ));
            }
            out.extend_from_slice(&y.data);
        }
        Ok(out)
    }

    /// Fraction of `x`'s inputs whose largest logit under `g` is their label in `y` (ties go
    /// to the first class, as `argmax` in NumPy and PyTorch).
    pub fn accuracy(&self, g: &Graph, x: &[f32], y: &[u32]) -> Result<f64> {
        let l = self.logits(g, x)?;
        if l.len() != y.len() * self.classes {
            return Err(GraphError::invalid(
                "labels",
                format!("{} labels for {} inputs", y.len(), l.len() / self.classes),
            ));
        }
        Ok(correct(&l, y, self.classes) as f64 / y.len().max(1) as f64)
    }

    /// The 0/1 masks fine-tuning holds fixed for `m`: its pruned entries, and the weights
    /// that read a removed group's channels.
    pub fn training_masks(&self, m: &Masks) -> Result<HashMap<String, Vec<f32>>> {
        self.check(m)?;
        let mut ones = self.graph.clone();
        for l in &self.layers {
            let t = ones.params.get_mut(&l.name).expect("layer parameter");
            t.data.fill(1.0);
        }
        let structural = match &m.keep {
            Some(keep) => self.analysis.masked(&ones, keep)?,
            None => ones,
        };
        let mut out = HashMap::new();
        for l in &self.layers {
            let mut v = structural.params[&l.name].data.clone();
            if let Some(e) = m.entries.get(&l.name) {
                v.iter_mut().zip(e).for_each(|(a, b)| *a *= b);
            }
            if v.contains(&0.0) {
                out.insert(l.name.clone(), v);
            }
        }
        Ok(out)
    }

    /// How much each group of [`Net::analysis`] carries under the weights `g` (full size, this
    /// network's layout), comparable across layers: the mean over the group's batch-normalised
    /// channels of `|scale|` over its batch norm's mean `|scale|` (network slimming's
    /// criterion); for a group without a batch norm (one folded into its convolutions, as
    /// PyTorch's ONNX export does), the mean over its sources of the output channel's L2 norm
    /// over that layer's mean channel norm. About 1 is a layer's typical channel, 0 a dead one.
    pub fn group_importance(&self, g: &Graph) -> Result<Vec<f64>> {
        /// Values over their mean (zeros when the mean is 0).
        fn relative(v: Vec<f64>) -> Vec<f64> {
            let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
            v.into_iter()
                .map(|x| if mean > 0.0 { x / mean } else { 0.0 })
                .collect()
        }
        let param = |name: &str| {
            g.params.get(name).ok_or_else(|| {
                GraphError::invalid(
                    "weights",
                    format!("lack \"{name}\" of the network \"{}\"", self.graph.name),
                )
            })
        };
        let mut scales: HashMap<&str, Vec<f64>> = HashMap::new();
        for n in &g.nodes {
            if let (Op::BatchNorm { .. }, Some(s), Some(out)) =
                (&n.op, n.inputs.get(1), n.outputs.first())
                && let Some(t) = g.params.get(s)
            {
                scales.insert(
                    out.as_str(),
                    relative(t.data.iter().map(|v| v.abs() as f64).collect()),
                );
            }
        }
        let mut norms: HashMap<&str, Vec<f64>> = HashMap::new();
        for l in &self.layers {
            let t = param(&l.name)?;
            let outs = l.shape[l.out_axis];
            let mut sq = vec![0.0f64; outs];
            for (i, v) in t.data.iter().enumerate() {
                // out axis 0: rows of len / outs entries; out axis 1 ([in, out]): columns
                let o = if l.out_axis == 0 {
                    i / (t.data.len() / outs).max(1)
                } else {
                    i % outs
                };
                sq[o] += (*v as f64) * (*v as f64);
            }
            norms.insert(
                l.node.as_str(),
                relative(sq.into_iter().map(f64::sqrt).collect()),
            );
        }
        let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        Ok(self
            .analysis
            .groups
            .iter()
            .map(|grp| {
                let bn = grp
                    .channels
                    .iter()
                    .filter_map(|(v, c)| scales.get(v.as_str()).and_then(|s| s.get(*c)))
                    .copied()
                    .collect();
                let src = || {
                    grp.sources
                        .iter()
                        .filter_map(|(n, c)| norms.get(n.as_str()).and_then(|s| s.get(*c)))
                        .copied()
                        .collect()
                };
                mean(bn).or_else(|| mean(src())).unwrap_or(1.0)
            })
            .collect())
    }

    /// Fine-tune `g` (full size, this network's layout) on `x`, `y` with `m`'s pruning held
    /// fixed (quantization is applied afterwards, by [`Net::realize`]). Returns each epoch's
    /// mean loss.
    #[cfg(feature = "train")]
    pub fn fine_tune(
        &self,
        g: &mut Graph,
        m: &Masks,
        x: &[f32],
        y: &[u32],
        cfg: &crate::train::FineTune,
        progress: impl FnMut(crate::train::Progress),
    ) -> Result<Vec<f32>> {
        let masks = self.training_masks(m)?;
        crate::train::fine_tune(g, x, y, &masks, cfg, progress)
    }

    /// Re-estimate the running statistics of every batch norm of `g` (full size, this
    /// network's layout) under `m`'s pruning from the inputs `x`: forward passes in batches of
    /// `batch` with each batch norm on its batch's statistics (as in training), the running
    /// mean set to the mean of the batch means and the running variance to the pooled
    /// (unbiased) variance. No weight changes. A pruned network's old statistics describe
    /// channels that no longer receive what they did; with fresh ones its accuracy before any
    /// retraining is much closer to what retraining reaches ("adaptive batch norm", Li et al.
    /// 2020, EagleEye), so a search ranks candidates better. A last chunk of a single input is
    /// left out; fewer than 2 inputs in all are an error. Quantization (`m.bits`) is not
    /// applied while the statistics are gathered.
    #[cfg(feature = "train")]
    pub fn recalibrate(&self, g: &mut Graph, m: &Masks, x: &[f32], batch: usize) -> Result<()> {
        let per = self.input_len();
        let n = x.len() / per.max(1);
        if per == 0 || n * per != x.len() || batch < 2 {
            return Err(GraphError::invalid(
                "recalibration",
                format!(
                    "{} values are not whole inputs of {per}, or batch {batch} < 2",
                    x.len()
                ),
            ));
        }
        let masks = self.training_masks(m)?;
        let mut trainer = crate::backprop::Trainer::new(g)?;
        // per batch norm: sums of batch means, of (biased) variances plus squared means
        let mut acc: BTreeMap<(String, String), (Vec<f64>, Vec<f64>, usize)> = BTreeMap::new();
        for chunk in x.chunks(batch * per) {
            let k = chunk.len() / per;
            if k < 2 {
                continue;
            }
            for s in trainer.batch_statistics(g, chunk, k, &masks)? {
                let e = acc
                    .entry((s.mean_param, s.var_param))
                    .or_insert_with(|| (vec![0.0; s.mean.len()], vec![0.0; s.mean.len()], 0));
                for (c, (&mu, &v)) in s.mean.iter().zip(&s.var).enumerate() {
                    e.0[c] += mu as f64 * s.count as f64;
                    e.1[c] += (v as f64 + mu as f64 * mu as f64) * s.count as f64;
                }
                e.2 += s.count;
            }
        }
        if n < 2 {
            return Err(GraphError::invalid(
                "recalibration",
                format!("{n} input(s): at least 2 are needed for batch statistics"),
            ));
        }
        for ((mean_p, var_p), (sum, sq, count)) in acc {
            let nn = count.max(1) as f64;
            let mean: Vec<f32> = sum.iter().map(|s| (s / nn) as f32).collect();
            let var: Vec<f32> = sum
                .iter()
                .zip(&sq)
                .map(|(s, q)| {
                    let mu = s / nn;
                    ((q / nn - mu * mu).max(0.0) * nn / (nn - 1.0).max(1.0)) as f32
                })
                .collect();
            for (p, v) in [(mean_p, mean), (var_p, var)] {
                let t = g
                    .params
                    .get_mut(&p)
                    .ok_or_else(|| GraphError::invalid(format!("parameter \"{p}\""), "missing"))?;
                if t.data.len() != v.len() {
                    return Err(GraphError::invalid(
                        format!("parameter \"{p}\""),
                        format!("{} entries for {} channels", t.data.len(), v.len()),
                    ));
                }
                t.data = v;
            }
        }
        Ok(())
    }

    /// The cache key of this network fine-tuned as `train` says on `x`, `y` with sample order
    /// `seed`: a hash of the graph (ops and every parameter's values), the training config,
    /// the data, the seed and [`TRAIN_RECIPE`].
    pub fn baseline_key(
        &self,
        train: &model::TrainConfig,
        x: &[f32],
        y: &[u32],
        seed: u64,
    ) -> String {
        use sha2::{Digest, Sha256};
        /// Values in blocks: one `update` per value would cost more than the hash.
        fn floats(h: &mut Sha256, v: &[f32]) {
            let mut buf = Vec::with_capacity(4 * 4096);
            for c in v.chunks(4096) {
                buf.clear();
                c.iter()
                    .for_each(|f| buf.extend_from_slice(&f.to_le_bytes()));
                h.update(&buf);
            }
        }
        let g = &self.graph;
        let mut h = Sha256::new();
        h.update(TRAIN_RECIPE.as_bytes());
        let structure = (&g.input, &g.input_shape, &g.outputs, &g.nodes);
        h.update(serde_json::to_vec(&structure).expect("plain data"));
        for (name, t) in &g.params {
            h.update(serde_json::to_vec(&(name, &t.shape)).expect("plain data"));
            floats(&mut h, &t.data);
        }
        h.update(serde_json::to_vec(train).expect("plain data"));
        h.update((x.len() as u64).to_le_bytes());
        floats(&mut h, x);
        y.iter().for_each(|v| h.update(v.to_le_bytes()));
        h.update(seed.to_le_bytes());
        h.finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The cache file of [`Net::baseline_key`] in `cache_dir`
    /// (`baselines/<network name>-<key>.safetensors`).
    pub fn baseline_cache_path(
        &self,
        cache_dir: &Path,
        train: &model::TrainConfig,
        x: &[f32],
        y: &[u32],
        seed: u64,
    ) -> std::path::PathBuf {
        let name: String = self
            .graph
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = if name.is_empty() {
            "network".into()
        } else {
            name
        };
        cache_dir.join("baselines").join(format!(
            "{name}-{}.safetensors",
            self.baseline_key(train, x, y, seed)
        ))
    }

    /// The weights a search starts from, the baseline stage every method shares: the network
    /// as loaded when `train.epochs == 0`; else the weights an earlier run of the stage stored
    /// at `stored` (a resumed run does not train again); else the entry of the shared cache in
    /// `cache_dir` ([`Net::baseline_cache_path`]: the same network, training, data and seed,
    /// trained by any method's run or by `evoprune baseline`); else the network fine-tuned on
    /// `x`, `y` with every weight free (sample order from `seed`) and written to the cache.
    /// Whatever is not as loaded is also written to `stored` (when given), so the run folder
    /// holds its own baseline. Files are written atomically (safetensors by name, the training
    /// time and last loss in the metadata). A cache entry that cannot be read is trained again
    /// and replaced, and the result says so.
    #[cfg(feature = "train")]
    #[allow(clippy::too_many_arguments)]
    pub fn baseline(
        &self,
        train: &model::TrainConfig,
        x: &[f32],
        y: &[u32],
        seed: u64,
        stored: Option<&Path>,
        cache_dir: Option<&Path>,
        progress: impl FnMut(crate::train::Progress),
    ) -> Result<(Graph, Baseline)> {
        if train.epochs == 0 {
            return Ok((self.graph.clone(), Baseline::AsLoaded));
        }
        let mut g = self.graph.clone();
        if let Some(s) = stored.filter(|s| s.is_file()) {
            crate::zoo::load_weights(&mut g, s)?;
            return Ok((g, Baseline::Stored(Trained::read(s))));
        }
        let cached = cache_dir.map(|d| self.baseline_cache_path(d, train, x, y, seed));
        let mut replaced = None;
        if let Some(c) = cached.as_ref().filter(|c| c.is_file()) {
            match crate::zoo::load_weights(&mut g, c) {
                Ok(()) => {
                    if let Some(s) = stored {
                        copy_atomic(c, s)?;
                    }
                    return Ok((g, Baseline::Cached(c.clone(), Trained::read(c))));
                }
                Err(e) => {
                    replaced = Some(e.to_string());
                    g = self.graph.clone();
                }
            }
        }
        // the training checkpoints after every epoch beside the file it will write, and an
        // interrupted one goes on from there (a checkpoint that cannot be read is ignored)
        let first = cached.as_deref().or(stored);
        let partial = first.map(|p| p.with_extension("partial.safetensors"));
        let (mut from, mut before) = (crate::train::Epochs::default(), 0.0);
        if let Some(pp) = partial.as_deref().filter(|p| p.is_file())
            && let Ok((pg, st, secs)) = read_partial(&self.graph, pp)
            && st.losses.len() < train.epochs
        {
            (g, from, before) = (pg, st, secs);
        }
        let resumed = from.losses.len();
        let start = std::time::Instant::now();
        let masks = self.training_masks(&Masks::default())?;
        let done = crate::train::fine_tune_from(
            crate::train::Engine::Auto,
            &mut g,
            x,
            y,
            &masks,
            &train.fine_tune(seed),
            from,
            |g, st| match &partial {
                Some(pp) if st.losses.len() < train.epochs => {
                    write_partial(g, st, before + start.elapsed().as_secs_f64(), pp)
                }
                _ => Ok(()),
            },
            progress,
        )?;
        let done = Trained {
            epochs: done.losses.len(),
            loss: done.losses.last().copied().unwrap_or(f32::NAN),
            seconds: Some(before + start.elapsed().as_secs_f64()),
            resumed,
        };
        let mut meta = BTreeMap::new();
        meta.insert("baseline_epochs".to_string(), done.epochs.to_string());
        meta.insert("baseline_loss".to_string(), done.loss.to_string());
        meta.insert("baseline_resumed_epochs".to_string(), resumed.to_string());
        if let Some(s) = done.seconds {
            meta.insert("baseline_train_seconds".to_string(), s.to_string());
        }
        if let Some(p) = first {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|source| GraphError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            weights::save_safetensors(&g, p, &HashMap::new(), &HashMap::new(), &meta)?;
            if let Some(s) = stored.filter(|s| *s != p) {
                copy_atomic(p, s)?;
            }
        }
        if let Some(pp) = partial.filter(|p| p.is_file()) {
            std::fs::remove_file(&pp).map_err(|source| GraphError::Io { path: pp, source })?;
        }
        Ok((
            g,
            Baseline::Trained {
                run: done,
                cached,
                replaced,
            },
        ))
    }

    /// Write the realized network of `g` under `m` as ONNX (`onnx_path`) and as safetensors
    /// with PyTorch names and the new shapes (`weights_path`, pruned entries zero, bits and
    /// non-zero counts recorded with `extra`). Both files are written atomically. With
    /// `round_channels` above 1 the files hold [`Net::realize_rounded`]'s network.
    pub fn export(
        &self,
        g: &Graph,
        m: &Masks,
        round_channels: usize,
        onnx_path: &Path,
        weights_path: &Path,
        extra: &BTreeMap<String, String>,
    ) -> Result<Exported> {
        let small = self.realize_rounded(g, m, round_channels)?;
        self.write_realized(&small, m, round_channels, onnx_path, weights_path, extra)
    }

    /// [`Net::export`] of a network already realized: `small` must be
    /// `self.realize_rounded(_, m, round_channels)` (for a caller that scored it first).
    pub fn write_realized(
        &self,
        small: &Graph,
        m: &Masks,
        round_channels: usize,
        onnx_path: &Path,
        weights_path: &Path,
        extra: &BTreeMap<String, String>,
    ) -> Result<Exported> {
        onnx::save(small, onnx_path)?;
        let tensors =
            weights::save_safetensors(small, weights_path, &HashMap::new(), &m.bits, extra)?;
        let stats = self.stats(m)?;
        let file = self.rounded_stats(m, round_channels)?;
        Ok(Exported {
            params: stats.params,
            macs: stats.macs,
            file_params: file.params,
            file_macs: file.macs,
            tensors,
        })
    }
}

/// The recipe of [`Net::baseline`]'s training (SGD on the native trainer or burn): part of
/// the cache key. Change it when the training code changes what it computes, so that no stale
/// baseline is served.
pub const TRAIN_RECIPE: &str = "graph-sgd-v1";

/// Where [`Net::baseline`]'s weights came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Baseline {
    /// The network as loaded (no fine-tuning asked).
    AsLoaded,
    /// Stored by an earlier run of the stage in the run folder.
    Stored(Trained),
    /// Read from the shared cache (the file).
    Cached(std::path::PathBuf, Trained),
    /// Fine-tuned now.
    Trained {
        /// How.
        run: Trained,
        /// The cache entry written.
        cached: Option<std::path::PathBuf>,
        /// Why the cache entry there could not be read, when it was replaced.
        replaced: Option<String>,
    },
}

/// A fine-tuning's record (as stored in the weights file's metadata; `NaN`/`None` when an
/// older file does not say).
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// Epochs run.
    pub epochs: usize,
    /// The last epoch's mean training loss.
    pub loss: f32,
    /// Wall time of the training, in seconds (an interrupted one's epochs included).
    pub seconds: Option<f64>,
    /// Epochs read from an interrupted training's checkpoint (0: trained from the start).
    pub resumed: usize,
}

impl Trained {
    /// The record in the metadata of the baseline file `path`.
    fn read(path: &Path) -> Trained {
        // the entries of the `evoprune` key ([`weights::save_safetensors`]'s `extra`)
        let meta: Option<serde_json::Value> = std::fs::read(path).ok().and_then(|b| {
            let (_, m) = safetensors::SafeTensors::read_metadata(&b).ok()?;
            serde_json::from_str(m.metadata().as_ref()?.get("evoprune")?).ok()
        });
        let get = |k: &str| {
            meta.as_ref()
                .and_then(|m| m.get(k)?.as_str().map(str::to_string))
        };
        Trained {
            epochs: get("baseline_epochs")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            loss: get("baseline_loss")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f32::NAN),
            seconds: get("baseline_train_seconds").and_then(|v| v.parse().ok()),
            resumed: get("baseline_resumed_epochs")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        }
    }

    fn describe(&self) -> String {
        let time = self
            .seconds
            .map_or_else(String::new, |s| format!(", {s:.0} s of training"));
        let resumed = match self.resumed {
            0 => String::new(),
            k => format!(", resumed after epoch {k}"),
        };
        format!(
            "training loss {:.4} after {} epochs{time}{resumed}",
            self.loss, self.epochs
        )
    }
}

/// Prefix of the momentum buffers' tensors in a training checkpoint.
#[cfg(feature = "train")]
const VELOCITY: &str = "__velocity__.";

/// Write the training checkpoint `path` (atomically): `g`'s parameters, the momentum buffers
/// of `st` under [`VELOCITY`]-prefixed names, its losses and the `seconds` of training so far.
#[cfg(feature = "train")]
fn write_partial(g: &Graph, st: &crate::train::Epochs, seconds: f64, path: &Path) -> Result<()> {
    let mut h = g.clone();
    for (k, v) in &st.velocity {
        let shape = g
            .params
            .get(k)
            .map_or_else(|| vec![v.len()], |t| t.shape.clone());
        h.params
            .insert(format!("{VELOCITY}{k}"), Tensor::new(shape, v.clone()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| GraphError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let losses = serde_json::to_string(&st.losses).expect("plain data");
    let meta = BTreeMap::from([
        ("partial_losses".to_string(), losses),
        ("partial_seconds".to_string(), seconds.to_string()),
    ]);
    weights::save_safetensors(&h, path, &HashMap::new(), &HashMap::new(), &meta)?;
    Ok(())
}

/// Read a checkpoint of [`write_partial`] for a training of `base`: the parameters, the
/// state and the seconds of training so far.
#[cfg(feature = "train")]
fn read_partial(base: &Graph, path: &Path) -> Result<(Graph, crate::train::Epochs, f64)> {
    let file = path.display().to_string();
    let bad = |reason: String| GraphError::Format {
        file: file.clone(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut g = base.clone();
    crate::zoo::assign_safetensors(&mut g, &file, &st, &[])?;
    let mut velocity = HashMap::new();
    for (name, v) in st.tensors() {
        if let Some(k) = name.strip_prefix(VELOCITY) {
            if v.dtype() != safetensors::Dtype::F32 || !base.params.contains_key(k) {
                return Err(bad(format!(
                    "momentum buffer {name:?} is not one of the network's"
                )));
            }
            let data: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            velocity.insert(k.to_string(), data);
        }
    }
    let (_, m) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let meta: serde_json::Value = m
        .metadata()
        .as_ref()
        .and_then(|m| serde_json::from_str(m.get("evoprune")?).ok())
        .ok_or_else(|| bad("no evoprune metadata".into()))?;
    let get = |k: &str| meta.get(k).and_then(|v| v.as_str());
    let losses: Vec<f32> = get("partial_losses")
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(|| bad("no partial_losses".into()))?;
    let seconds = get("partial_seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok((g, crate::train::Epochs { losses, velocity }, seconds))
}

/// Copy `from` to `to` through a temporary file beside `to` (never a half-written `to`).
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GraphError::Io { path, source }
    };
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = to.with_extension("partial");
    std::fs::copy(from, &tmp).map_err(io(&tmp))?;
    std::fs::rename(&tmp, to).map_err(io(to))
}

impl Baseline {
    /// A sentence for the run's notes about the network `what`.
    pub fn describe(&self, what: &str) -> String {
        match self {
            Baseline::AsLoaded => format!("network {what} used as trained"),
            Baseline::Stored(t) => format!(
                "network {what}: fine-tuned weights read from the run folder ({})",
                t.describe()
            ),
            Baseline::Cached(p, t) => format!(
                "network {what}: fine-tuned weights read from the cache, {} ({})",
                p.display(),
                t.describe()
            ),
            Baseline::Trained {
                run,
                cached,
                replaced,
            } => {
                let mut s = format!("network {what} fine-tuned: {}", run.describe());
                if let Some(c) = cached {
                    s.push_str(&format!("; cached: {}", c.display()));
                }
                if let Some(why) = replaced {
                    s.push_str(&format!(
                        " (warning: the cache entry there could not be read and was replaced: {why})"
                    ));
                }
                s
            }
        }
    }

    /// The training's record (`None`: as loaded).
    pub fn trained(&self) -> Option<&Trained> {
        match self {
            Baseline::AsLoaded => None,
            Baseline::Stored(t) | Baseline::Cached(_, t) | Baseline::Trained { run: t, .. } => {
                Some(t)
            }
        }
    }
}

/// What [`baseline_report`] measured: the `[model]` network's baseline on its own.
#[derive(Clone, Debug)]
pub struct BaselineReport {
    /// The network (as `[model]` describes it).
    pub network: String,
    /// The data's description.
    pub data: String,
    /// Training images.
    pub train_images: usize,
    /// Test images scored.
    pub test_images: usize,
    /// Learned parameters of the network.
    pub params: usize,
    /// Its MACs for one input.
    pub macs: usize,
    /// Test accuracy of the baseline.
    pub test_accuracy: f64,
    /// Where the weights came from (trained now, or the cache).
    pub origin: Baseline,
    /// The cache entry.
    pub cache: std::path::PathBuf,
}

impl BaselineReport {
    /// Lines for the command line.
    pub fn lines(&self) -> Vec<String> {
        let t = self.origin.trained();
        let time = t
            .and_then(|t| t.seconds)
            .map_or_else(|| "not recorded".to_string(), |s| format!("{s:.1} s"));
        vec![
            format!("network: {}", self.network),
            format!("data: {}", self.data),
            format!("parameters: {}; MACs per image: {}", self.params, self.macs),
            self.origin.describe(&self.network),
            format!(
                "test accuracy: {:.2}% ({} test images); trained on {} images in {} epochs; training time {time}",
                100.0 * self.test_accuracy,
                self.test_images,
                self.train_images,
                t.map_or(0, |t| t.epochs)
            ),
            format!("cached weights: {}", self.cache.display()),
        ]
    }
}

/// The baseline stage of a `[model]` run on its own (`evoprune baseline`): the data of
/// `data` split with `seed`, the network of `model` (random weights from `seed` where it has
/// none) fine-tuned on the training split as `model.train` says, with sample order `training_seed` (the seed a run of the
/// same config uses), or read from the cache in `cache_dir` when any run trained it, then
/// scored on the test split on the fast executor. The images are fitted to the network's
/// input first, as the methods do, so a run of the same config finds this entry.
#[cfg(feature = "train")]
pub fn baseline_report(
    model: &model::ModelConfig,
    data: &evoprune_data::digits28::DataConfig,
    cache_dir: &Path,
    seed: u64,
    training_seed: u64,
    progress: impl FnMut(crate::train::Progress),
) -> Result<BaselineReport> {
    if model.train.epochs == 0 {
        return Err(GraphError::invalid(
            "model.train.epochs",
            "is 0: the network is used as loaded, there is no baseline to train",
        ));
    }
    let data = evoprune_data::digits28::prepare(data, seed)?;
    let net = Net::new(model.load(seed)?)?;
    if net.classes < 10 {
        return Err(GraphError::invalid(
            "model",
            format!(
                "{} has {} classes; the digits need 10",
                model.describe(),
                net.classes
            ),
        ));
    }
    let train = net.fit(&data.train.x, data.train.len(), [1, 28, 28])?;
    let test = net.fit(&data.test.x, data.test.len(), [1, 28, 28])?;
    let (g, origin) = net.baseline(
        &model.train,
        &train,
        &data.train.y,
        training_seed,
        None,
        Some(cache_dir),
        progress,
    )?;
    let cache = match &origin {
        Baseline::Cached(p, _) => p.clone(),
        Baseline::Trained {
            cached: Some(p), ..
        } => p.clone(),
        _ => unreachable!("epochs > 0 and a cache folder: trained or read from the cache"),
    };
    let st = stats::stats(&g)?;
    Ok(BaselineReport {
        network: model.describe(),
        data: format!(
            "{}; images fitted to the network's input {:?}",
            data.description,
            &g.input_shape[1..]
        ),
        train_images: data.train.len(),
        test_images: data.test.len(),
        params: st.params,
        macs: st.macs,
        test_accuracy: net.accuracy(&g, &test, &data.test.y)?,
        origin,
        cache,
    })
}

/// What [`Net::export`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// Parameters of the exported network (pruned entries not counted).
    pub params: usize,
    /// Its MACs for one input.
    pub macs: usize,
    /// Parameters the files hold: `params` plus the channels `round_channels` took back.
    pub file_params: usize,
    /// MACs the files compute for one input (`macs` plus the channels taken back).
    pub file_macs: usize,
    /// Each tensor's record in the safetensors metadata.
    pub tensors: BTreeMap<String, weights::TensorRecord>,
}

/// Rows of `logits` (`[n, classes]`) whose first largest entry is the label.
pub fn correct(logits: &[f32], y: &[u32], classes: usize) -> usize {
    logits
        .chunks(classes)
        .zip(y)
        .filter(|(row, label)| {
            let mut best = 0;
            for (k, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = k;
                }
            }
            best == **label as usize
        })
        .count()
}

/// `t` quantized to `bits` (8 or 4) symmetrically per output channel along `axis`, and
/// dequantized (zeros stay zero).
fn quantize(t: &Tensor, axis: usize, bits: u32) -> std::result::Result<Vec<f32>, String> {
    use evoprune_nn::quant::{Precision, fake_quantize};
    let p = match bits {
        32 => return Ok(t.data.clone()),
        8 => Precision::Int8,
        4 => Precision::Int4,
        b => return Err(format!("{b} bits; 8, 4 or 32 are supported")),
    };
    let rows = t.shape[axis];
    let cols = t.len() / rows.max(1);
    if axis == 0 {
        return fake_quantize(&t.data, rows, cols, p).map_err(|e| e.to_string());
    }
    // a weight stored [in, out]: quantize its transpose
    let (r, c) = (t.shape[0], t.shape[1]);
    let mut tr = vec![0.0f32; t.len()];
    for i in 0..r {
        for j in 0..c {
            tr[j * r + i] = t.data[i * c + j];
        }
    }
    let q = fake_quantize(&tr, c, r, p).map_err(|e| e.to_string())?;
    let mut out = vec![0.0f32; t.len()];
    for i in 0..r {
        for j in 0..c {
            out[i * c + j] = q[j * r + i];
        }
    }
    Ok(out)
}
