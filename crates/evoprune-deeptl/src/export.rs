//! Export a front member's physically pruned head: safetensors with the compact weights and the
//! active feature indices, plus a JSON file telling how to apply it. When the backbone is an
//! ONNX network, also one end-to-end ONNX model: samples in, logits out.

use crate::data::prepare;
use crate::pipeline::FrontFile;
use crate::problem::HeadPruning;
use crate::{DeeptlError, Result};
use evoprune::BitString;
use evoprune_graph::Tensor;
use evoprune_run::MethodConfig;
use evoprune_run::{Reporter, RunDir};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The JSON written beside the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadCard {
    /// Format tag.
    pub format: String,
    /// How to apply the head.
    pub usage: String,
    /// Features the backbone produces (the mask length).
    pub input_features: usize,
    /// Active feature indices (also the `active_indices` tensor).
    pub active_indices: Vec<usize>,
    /// Layer widths from the active inputs to the classes.
    pub widths: Vec<usize>,
    /// Tensor names in order of application.
    pub tensors: Vec<String>,
    /// The original class label of each output.
    pub classes: Vec<u32>,
    /// Backbone and preprocessing that produce the features.
    pub backbone: String,
    /// The member's test accuracy and AUROC, as recorded in front.json and re-measured here.
    pub test_accuracy: f64,
    /// Test AUROC.
    pub test_auroc: f64,
    /// Parameters of the compact head.
    pub params: usize,
    /// The run folder and member.
    pub source: String,
    /// The end-to-end ONNX model written beside the head (ONNX backbones only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnx: Option<OnnxCard>,
}

/// How to use the end-to-end ONNX model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnnxCard {
    /// The file name (beside the card).
    pub file: String,
    /// The input's name.
    pub input: String,
    /// The input's shape, `N` first (any batch size).
    pub input_shape: Vec<String>,
    /// The output's name.
    pub output: String,
    /// What to feed, what is done inside, what comes out.
    pub usage: String,
    /// Its test accuracy, measured on the model as written (equal to `test_accuracy`).
    pub test_accuracy: f64,
}

/// The files an export wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// The head's weights (safetensors).
    pub weights: PathBuf,
    /// The JSON card.
    pub card: PathBuf,
    /// The end-to-end ONNX model (ONNX backbones only).
    pub onnx: Option<PathBuf>,
}

/// Rebuild member `k` of the finished run in `dir` (same data, same seed: the same head as during
/// the run, checked against the recorded test accuracy) and write it to `out` (safetensors) and
/// `out` with extension `.json`. When the run's backbone is an ONNX network, also write
/// `out` with extension `.onnx`: the whole classifier (see [`OnnxCard`]), written only after
/// it is reloaded and scores the recorded test accuracy on the test samples.
pub fn export(dir: &Path, k: usize, out: &Path, reporter: &mut dyn Reporter) -> Result<Exported> {
    if out.extension().is_some_and(|e| e == "json" || e == "onnx") {
        return Err(DeeptlError::invalid(
            out.display().to_string(),
            "the head is written here and its card and ONNX model beside it (extensions .json, .onnx): choose another extension, e.g. .safetensors",
        ));
    }
    let rd = RunDir::open(dir)?;
    if !rd.is_complete() {
        return Err(DeeptlError::invalid(
            dir.display().to_string(),
            "the run has not finished; finish it with `evoprune resume` first",
        ));
    }
    let cfg = crate::Config::stored(&rd)?;
    let (front, member, mask) = read_member(&rd, k)?;
    let data = prepare(&cfg, reporter)?;
    if mask.len() != data.d {
        return Err(DeeptlError::invalid(
            rd.path("front.json").display().to_string(),
            format!(
                "member {k} has a mask of {} bits for {} features",
                mask.len(),
                data.d
            ),
        ));
    }
    let problem = HeadPruning::new(&cfg, &data);
    reporter.stage(&format!("training member {k}"), None);
    let t = problem.train(&mask)?;
    let s = problem.score(&t, &data.test, &data.ood_test)?;
    if (s.accuracy - member.test_accuracy).abs() > 1e-9 {
        return Err(DeeptlError::invalid(
            "export",
            format!(
                "the rebuilt head scores {:.6} on test but front.json records {:.6}: the data or code changed since the run",
                s.accuracy, member.test_accuracy
            ),
        ));
    }
    let (names, tensors, widths) = head_tensors(&t);
    let n_layers = t.mlp.layers.len();
    let onnx_path = out.with_extension("onnx");
    let end_to_end = match cfg.features.backbone {
        crate::config::Backbone::Onnx => {
            reporter.stage(&format!("end-to-end ONNX model of member {k}"), None);
            Some(end_to_end(
                &cfg, &data, &t, k, &onnx_path, s.accuracy, &front,
            )?)
        }
        _ => None,
    };
    let card = HeadCard {
        format: "evoprune-head/1".into(),
        usage: format!(
            "x_active = features[:, active_indices]; h = x_active; for i in 0..{n_layers}: h = h @ layer{{i}}.weight (+ layer{{i}}.bias if present), then ReLU except after the last layer; logits = h; probabilities = softmax(logits). Weights are stored [inputs, outputs], row-major."
        ),
        input_features: data.d,
        active_indices: t.active.clone(),
        widths,
        tensors: names,
        classes: front.classes.clone(),
        backbone: match cfg.features.backbone {
            crate::config::Backbone::None => "none (raw input values, after data.scale)".into(),
            crate::config::Backbone::Onnx => format!(
                "{} cut at {} (batch norms folded, output flattened per sample); samples resized bilinearly to its input size, grey repeated as RGB, ImageNet normalisation (the .onnx beside this card does all of it)",
                cfg.features
                    .weights
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
                cfg.features
                    .cut
                    .as_deref()
                    .unwrap_or("the input of its last linear layer")
            ),
            crate::config::Backbone::EfficientnetLite0 => format!(
                "efficientnet-lite0 pooled features, {0}x{0} input, ImageNet normalisation",
                cfg.features.input_size
            ),
        },
        test_accuracy: s.accuracy,
        test_auroc: s.auroc,
        params: t.mlp.param_count(),
        source: format!("{} member {k}", dir.display()),
        onnx: end_to_end.as_ref().map(|e| e.1.clone()),
    };
    let (weights, card) = write_head(out, &card, &tensors)?;
    let onnx = match end_to_end {
        Some((bytes, _)) => {
            evoprune_graph::onnx::write_atomic(&onnx_path, &bytes)?;
            Some(onnx_path)
        }
        None => None,
    };
    Ok(Exported {
        weights,
        card,
        onnx,
    })
}

/// The end-to-end ONNX model of member `k` (head `t`): built, serialised, reloaded from the
/// bytes, run on the test samples and checked to score `accuracy`. Returns the bytes to write
/// and the card's entry.
fn end_to_end(
    cfg: &crate::Config,
    data: &crate::data::Prepared,
    t: &crate::problem::Trained,
    k: usize,
    path: &Path,
    accuracy: f64,
    front: &FrontFile,
) -> Result<(Vec<u8>, OnnxCard)> {
    let weights = cfg.features.weights.as_ref().ok_or_else(|| {
        DeeptlError::invalid("features.weights", "an ONNX backbone needs its model file")
    })?;
    let backbone = crate::backbone::GraphBackbone::load(weights, cfg.features.cut.as_deref())?;
    let test = crate::data::test_samples(cfg)?;
    if test.labels() != data.test.y.as_slice() {
        return Err(DeeptlError::invalid(
            "export",
            "the test samples do not match the test split's features (labels differ)",
        ));
    }
    let e2e = crate::onnx_export::build(
        &backbone,
        test.shape(),
        cfg.data.scale,
        &t.active,
        &t.mlp,
        &format!("{}-member-{k}", cfg.name),
    )?;
    let bytes = evoprune_graph::onnx::to_bytes(&e2e.graph)?;
    let file = path.display().to_string();
    let g = evoprune_graph::onnx::load_bytes(&bytes, &file, None)?;
    let c = data.n_classes;
    let batch = cfg.features.batch.max(1);
    let mut logits = Vec::with_capacity(test.len() * c);
    for a in (0..test.len()).step_by(batch) {
        let e = (a + batch).min(test.len());
        let mut shape = vec![e - a];
        shape.extend_from_slice(test.shape());
        let d: usize = test.shape().iter().product();
        let x = Tensor::new(shape, test.features()[a * d..e * d].to_vec());
        let y = evoprune_graph::exec::run(&g, &x)?.remove(0);
        if y.shape != [e - a, c] {
            return Err(DeeptlError::invalid(
                file,
                format!("logits of shape {:?}, [{}, {c}] expected", y.shape, e - a),
            ));
        }
        logits.extend(y.data);
    }
    let got = evoprune_nn::metrics::accuracy(&logits, test.labels(), c)?;
    if (got - accuracy).abs() > 1e-9 {
        return Err(DeeptlError::invalid(
            file,
            format!(
                "the end-to-end ONNX model scores {got:.6} on the {} test samples but member {k} records {accuracy:.6}: not written",
                test.len()
            ),
        ));
    }
    let mut input_shape = vec!["N".to_string()];
    input_shape.extend(test.shape().iter().map(usize::to_string));
    let labels: Vec<String> = front
        .classes
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{i} -> {l}"))
        .collect();
    let usage = format!(
        "Feed `{input}`: float32 samples of shape {input_shape:?}, each as the run's data source gives it ({source}), before data.scale. Inside: each sample {pre}; then the backbone up to \"{cut}\" (batch norms folded), its output flattened per sample, the {n} active features (active_indices) taken with Slice along axis 1 ({runs} run(s) of consecutive indices, joined with Concat when more than one), then the compact head (Gemm, ReLU between layers). Output `{output}`: logits [N, {c}]; predicted class = argmax; output index i is the original label classes[i] ({map}); softmax(logits) gives probabilities.",
        input = e2e.graph.input,
        source = source_values(cfg),
        pre = e2e.preprocessing,
        cut = backbone.cut(),
        n = t.active.len(),
        runs = crate::onnx_export::runs(&t.active).len(),
        output = e2e.graph.outputs[0],
        map = labels.join(", "),
    );
    let card = OnnxCard {
        file: path
            .file_name()
            .map_or(file.clone(), |f| f.to_string_lossy().into_owned()),
        input: e2e.graph.input.clone(),
        input_shape,
        output: e2e.graph.outputs[0].clone(),
        usage,
        test_accuracy: got,
    };
    Ok((bytes, card))
}

/// The values the data source gives, in words.
fn source_values(cfg: &crate::Config) -> &'static str {
    match cfg.data.source {
        crate::config::Source::Digits => "the UCI digits' 0-16 counts divided by 16, in [0, 1]",
        crate::config::Source::Mnist => "pixels divided by 255, in [0, 1]",
        crate::config::Source::Csv => "the CSV file's values",
        crate::config::Source::Npz | crate::config::Source::Safetensors => {
            "the file's stored values"
        }
    }
}

/// Member `k` of the finished run's `front.json`, with its mask.
fn read_member(rd: &RunDir, k: usize) -> Result<(FrontFile, crate::Member, BitString)> {
    let fpath = rd.path("front.json");
    let text = std::fs::read_to_string(&fpath)
        .map_err(|e| DeeptlError::invalid(fpath.display().to_string(), e.to_string()))?;
    let front: FrontFile = serde_json::from_str(&text)
        .map_err(|e| DeeptlError::invalid(fpath.display().to_string(), e.to_string()))?;
    let member = front.members.get(k).cloned().ok_or_else(|| {
        DeeptlError::invalid(
            "--member",
            format!(
                "the front has {} members (0..{})",
                front.members.len(),
                front.members.len()
            ),
        )
    })?;
    let mask = BitString::from_hex(&member.mask).map_err(|e| {
        DeeptlError::invalid(fpath.display().to_string(), format!("member {k}: {e}"))
    })?;
    Ok((front, member, mask))
}

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

/// The compact head's tensors (`layerI.weight` [in, out], `layerI.bias`, `active_indices`),
/// their names and the layer widths.
fn head_tensors(t: &crate::problem::Trained) -> (Vec<String>, Tensors, Vec<usize>) {
    let mut names = Vec::new();
    let mut tensors: Tensors = Vec::new();
    let mut widths = vec![t.active.len()];
    for (i, l) in t.mlp.layers.iter().enumerate() {
        widths.push(l.n_out);
        names.push(format!("layer{i}.weight"));
        tensors.push((
            format!("layer{i}.weight"),
            vec![l.n_in, l.n_out],
            l.w.clone(),
        ));
        if let Some(b) = &l.b {
            names.push(format!("layer{i}.bias"));
            tensors.push((format!("layer{i}.bias"), vec![l.n_out], b.clone()));
        }
    }
    let idx: Vec<f32> = t.active.iter().map(|&j| j as f32).collect();
    tensors.push(("active_indices".into(), vec![idx.len()], idx));
    (names, tensors, widths)
}

/// Write the safetensors file (the card in its metadata) and the card beside it as JSON.
fn write_head(out: &Path, card: &HeadCard, tensors: &Tensors) -> Result<(PathBuf, PathBuf)> {
    let json = serde_json::to_string_pretty(card)
        .map_err(|e| DeeptlError::invalid("export", e.to_string()))?;
    let meta = HashMap::from([("evoprune".to_string(), json.clone())]);
    let views: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))
        .collect();
    evoprune_data::tensors::write(out, &views, meta)?;
    let jpath = out.with_extension("json");
    evoprune_run::write_atomic(&jpath, json.as_bytes())?;
    Ok((out.to_path_buf(), jpath))
}
