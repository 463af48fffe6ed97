//! `evoprune inspect`: a network's layers, prunable groups, parameters and MACs.

use anyhow::Result;
use evoprune_graph::{groups, onnx, stats, zoo};
use evoprune_run::Table;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which network: an ONNX file, or a zoo architecture with its options.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// The network: an ONNX file (as `torch.onnx.export` or a Keras converter writes it), or a
    /// zoo architecture (`resnet56`, `vgg16-bn`, `mobilenet-v2`, ...; see the error for all).
    pub model: PathBuf,
    /// Zoo architectures: weights by PyTorch name (safetensors); default: seeded random ones.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Zoo architectures: the input as C,H,W (default: 3,32,32 for CIFAR networks, 3,224,224
    /// for ImageNet ones, 1,28,28 for the LeNets).
    #[arg(long, value_name = "C,H,W")]
    input: Option<String>,
    /// Zoo architectures: classes (default 10, or 1000 for ImageNet networks).
    #[arg(long)]
    classes: Option<usize>,
}

/// Arguments of `evoprune inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Print JSON (keys `params`, `macs`, `layers`, `groups`) instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write the network as ONNX to this file (a zoo architecture to run in onnxruntime
    /// or PyTorch; the batch axis dynamic).
    #[arg(long, value_name = "FILE")]
    onnx: Option<PathBuf>,
}

impl ModelArgs {
    /// The network: an ONNX file, or a zoo architecture built (and loaded) as asked.
    pub fn network(&self) -> Result<evoprune_graph::Graph> {
        network(self)
    }
}

fn network(a: &ModelArgs) -> Result<evoprune_graph::Graph> {
    let name = a.model.to_string_lossy();
    let is_file = a.model.exists() || name.ends_with(".onnx");
    if is_file {
        if a.weights.is_some() || a.input.is_some() || a.classes.is_some() {
            anyhow::bail!(
                "--weights, --input and --classes are for zoo architectures, not ONNX files"
            );
        }
        return Ok(onnx::load(&a.model)?);
    }
    let imagenet =
        ["resnet18", "resnet50", "mobilenet-v2", "efficientnet-lite0"].contains(&name.as_ref());
    let input = match &a.input {
        Some(s) => {
            let v: Vec<usize> = s
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("--input: C,H,W expected, got {s:?}"))?;
            let [c, h, w] = v[..] else {
                anyhow::bail!("--input: C,H,W expected, got {s:?}");
            };
            [c, h, w]
        }
        None if name.starts_with("lenet") => [1, 28, 28],
        None if imagenet => [3, 224, 224],
        None => [3, 32, 32],
    };
    let classes = a.classes.unwrap_or(if imagenet { 1000 } else { 10 });
    let mut g = zoo::build(&name, classes, input, 0)?;
    if let Some(w) = &a.weights {
        zoo::load_weights(&mut g, w)?;
    }
    Ok(g)
}

#[derive(Serialize)]
struct GroupRow {
    index: usize,
    /// Value channels removed with the group.
    channels: usize,
    /// `(layer, output channel)` of each producing layer.
    sources: Vec<(String, usize)>,
}

#[derive(Serialize)]
struct Inspection {
    model: String,
    input: Vec<usize>,
    params: usize,
    macs: usize,
    layers: Vec<stats::Layer>,
    groups: Vec<GroupRow>,
}

/// Print `text` to stdout; a reader that went away (`| head`) ends the output quietly.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

pub fn run(a: InspectArgs) -> Result<()> {
    let g = network(&a.model)?;
    if let Some(path) = &a.onnx {
        onnx::save(&g, path)?;
    }
    let s = stats::stats(&g)?;
    let an = groups::analyze(&g)?;
    let rows: Vec<GroupRow> = an
        .groups
        .iter()
        .map(|gr| GroupRow {
            index: gr.index,
            channels: gr.channels.len(),
            sources: gr.sources.clone(),
        })
        .collect();
    if a.json {
        let i = Inspection {
            model: a.model.model.display().to_string(),
            input: g.input_shape.clone(),
            params: s.params,
            macs: s.macs,
            layers: s.layers,
            groups: rows,
        };
        return emit(&serde_json::to_string_pretty(&i)?);
    }
    let mut t = Table::new(["layer", "op", "output", "params", "MACs"]);
    for l in s.layers.iter().filter(|l| l.params > 0 || l.macs > 0) {
        t.push([
            l.name.clone(),
            l.op.clone(),
            format!("{:?}", l.output),
            l.params.to_string(),
            l.macs.to_string(),
        ]);
    }
    emit(&t.to_text())?;
    // groups per producing layer set: how many channels of which layers go together
    let mut by_layers: BTreeMap<Vec<String>, (usize, usize)> = BTreeMap::new();
    for gr in &an.groups {
        let mut layers: Vec<String> = gr.sources.iter().map(|s| s.0.clone()).collect();
        layers.sort();
        layers.dedup();
        let e = by_layers.entry(layers).or_insert((0, 0));
        e.0 += 1;
        e.1 += gr.channels.len();
    }
    let mut gt = Table::new(["groups", "channels each", "layers pruned together"]);
    for (layers, (n, ch)) in &by_layers {
        gt.push([
            n.to_string(),
            format!("{:.1}", *ch as f64 / *n as f64),
            layers.join(", "),
        ]);
    }
    emit(&gt.to_text())?;
    emit(&format!(
        "{}: input {:?}, {} parameters, {} MACs per input, {} prunable channel groups",
        a.model.model.display(),
        g.input_shape,
        s.params,
        s.macs,
        an.groups.len()
    ))
}
