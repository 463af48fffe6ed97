//! Export a front member's physically pruned head: safetensors with the compact weights and the
//! active feature indices, plus a JSON file telling how to apply it.

use crate::data::prepare;
use crate::pipeline::FrontFile;
use crate::problem::HeadPruning;
use crate::{DeeptlError, Result};
use evoprune::BitString;
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
}

/// Rebuild member `k` of the finished run in `dir` (same data, same seed: the same head as during
/// the run, checked against the recorded test accuracy) and write it to `out` (safetensors) and
/// `out` with extension `.json`. Returns both paths.
pub fn export(
    dir: &Path,
    k: usize,
    out: &Path,
    reporter: &mut dyn Reporter,
) -> Result<(PathBuf, PathBuf)> {
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
                "{} cut at {}, ImageNet normalisation",
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
    };
    write_head(out, &card, &tensors)
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
