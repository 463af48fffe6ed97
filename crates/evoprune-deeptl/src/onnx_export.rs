//! The end-to-end ONNX model of an exported member whose backbone is an ONNX network: the
//! preprocessing the run applies to each sample, the backbone truncated at the cut, the
//! selection of the active features (Slice + Concat) and the compact head (Gemm + Relu).

use crate::backbone::GraphBackbone;
use crate::{DeeptlError, Result};
use evoprune_graph::{Dim, Graph, Node, Op, Tensor, shape};
use evoprune_nn::Mlp;
use evoprune_vision::preprocess::{IMAGENET_MEAN, IMAGENET_STD};
use std::collections::HashSet;

/// A built end-to-end model.
pub(crate) struct EndToEnd {
    /// The graph: input = one sample as the data source gives it, output = logits.
    pub graph: Graph,
    /// The preprocessing inside the graph, in words.
    pub preprocessing: String,
}

/// The runs of consecutive indices of `active` (ascending) as `[start, end)` pairs.
pub(crate) fn runs(active: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &j in active {
        match out.last_mut() {
            Some(r) if r.1 == j => r.1 = j + 1,
            _ => out.push((j, j + 1)),
        }
    }
    out
}

/// The `[n, size]` matrix `R` with `x R` = each row of `x` (`n` values) resized bilinearly to
/// `size` values, with the pixel-centre alignment and edge clamping of
/// [`evoprune_vision::preprocess::grey_to_imagenet`].
pub(crate) fn resize_matrix(n: usize, size: usize) -> Vec<f32> {
    let mut r = vec![0.0f32; n * size];
    let s = n as f32 / size as f32;
    for o in 0..size {
        let f = ((o as f32 + 0.5) * s - 0.5).clamp(0.0, (n - 1) as f32);
        let (i0, t) = (f.floor() as usize, f - f.floor());
        let i1 = (i0 + 1).min(n - 1);
        r[i0 * size + o] += 1.0 - t;
        r[i1 * size + o] += t;
    }
    r
}

/// Fresh names that collide with none of the backbone's.
struct Names(HashSet<String>);

impl Names {
    fn of(g: &Graph) -> Self {
        let mut used: HashSet<String> = g.params.keys().cloned().collect();
        used.insert(g.input.clone());
        for n in &g.nodes {
            used.insert(n.name.clone());
            used.extend(n.outputs.iter().cloned());
            used.extend(n.inputs.iter().cloned());
        }
        Names(used)
    }

    fn fresh(&mut self, base: &str) -> String {
        let mut name = format!("deeptl/{base}");
        let mut k = 1;
        while self.0.contains(&name) {
            name = format!("deeptl/{base}_{k}");
            k += 1;
        }
        self.0.insert(name.clone());
        name
    }
}

/// Nodes and parameters appended in order.
struct Builder {
    names: Names,
    nodes: Vec<Node>,
    params: Vec<(String, Tensor)>,
}

impl Builder {
    /// Add `op` over `inputs`; its output is `out` or a fresh name. Returns the output.
    fn node(&mut self, base: &str, op: Op, inputs: Vec<String>, out: Option<&str>) -> String {
        let name = self.names.fresh(base);
        let out = out.map_or_else(|| name.clone(), str::to_string);
        self.nodes.push(Node {
            name,
            op,
            inputs,
            outputs: vec![out.clone()],
        });
        out
    }

    fn param(&mut self, base: &str, shape: Vec<usize>, data: Vec<f32>) -> String {
        let name = self.names.fresh(base);
        self.params.push((name.clone(), Tensor::new(shape, data)));
        name
    }
}

/// The end-to-end graph of a head `mlp` over the features `active` (ascending) of `backbone`,
/// taking samples of shape `sample` (one sample, as the data source gives them: before
/// `data.scale`, which is applied inside as `scale`).
pub(crate) fn build(
    backbone: &GraphBackbone,
    sample: &[usize],
    scale: f32,
    active: &[usize],
    mlp: &Mlp,
    name: &str,
) -> Result<EndToEnd> {
    let bb = backbone.truncated();
    let size = backbone.input_size();
    // the image each sample is, as evoprune_vision::extract::to_input reads it
    let (c, h, w, reshape) = match *sample {
        [d] if d.isqrt() * d.isqrt() == d && d > 1 => (1, d.isqrt(), d.isqrt(), true),
        [1, h, w] => (1, h, w, false),
        [h, w] => (1, h, w, true),
        [3, h, w] => (3, h, w, false),
        _ => {
            return Err(DeeptlError::invalid(
                "export",
                format!("samples of shape {sample:?} are no images an ONNX backbone can take"),
            ));
        }
    };
    if h == 0 || w == 0 {
        return Err(DeeptlError::invalid(
            "export",
            format!("samples of shape {sample:?} are empty"),
        ));
    }
    let mut b = Builder {
        names: Names::of(&bb),
        nodes: Vec::new(),
        params: Vec::new(),
    };
    let input = b.names.fresh("samples");
    let mut steps = Vec::new();
    let mut x = input.clone();
    if reshape {
        let shape = [c, h, w].map(|v| Dim::Fixed(v as i64));
        let mut target = vec![Dim::Batch];
        target.extend(shape);
        x = b.node("image", Op::Reshape { shape: target }, vec![x], None);
        steps.push(format!("read as a [{c}, {h}, {w}] image"));
    }
    if scale != 1.0 {
        let s = b.param("scale", vec![1], vec![scale]);
        x = b.node("scaled", Op::Mul, vec![x, s], None);
        steps.push(format!("multiplied by data.scale = {scale}"));
    }
    if w != size {
        let r = b.param("resize_w", vec![w, size], resize_matrix(w, size));
        x = b.node("resized_w", Op::MatMul, vec![x, r], None);
    }
    if h != size {
        let perm = vec![0, 1, 3, 2];
        x = b.node("hw_t", Op::Transpose { perm: perm.clone() }, vec![x], None);
        let r = b.param("resize_h", vec![h, size], resize_matrix(h, size));
        x = b.node("resized_h", Op::MatMul, vec![x, r], None);
        x = b.node("resized", Op::Transpose { perm }, vec![x], None);
    }
    if (h, w) != (size, size) {
        steps.push(format!(
            "resized bilinearly (half-pixel centres, edges clamped, no antialiasing) to {size}x{size} (as a MatMul per axis)"
        ));
    }
    if c == 1 {
        x = b.node(
            "rgb",
            Op::Concat { axis: 1 },
            vec![x.clone(), x.clone(), x],
            None,
        );
        steps.push("the grey channel repeated as R, G and B".into());
    }
    let mean = b.param("imagenet_mean", vec![3, 1, 1], IMAGENET_MEAN.to_vec());
    let std = b.param("imagenet_std", vec![3, 1, 1], IMAGENET_STD.to_vec());
    x = b.node("centred", Op::Sub, vec![x, mean], None);
    b.node("normalised", Op::Div, vec![x, std], Some(&bb.input));
    steps.push(format!(
        "normalised per channel as (x - {IMAGENET_MEAN:?}) / {IMAGENET_STD:?} (ImageNet)"
    ));

    // the backbone, unchanged, reading the normalised image under its own input name
    let cut_shape = shape::infer(&bb, 1)?
        .remove(backbone.cut())
        .ok_or_else(|| DeeptlError::invalid("features.cut", "the cut value is not computed"))?;
    let dim: usize = cut_shape[1..].iter().product();
    let mut feats = backbone.cut().to_string();
    let mut b2 = Builder {
        names: b.names,
        nodes: Vec::new(),
        params: Vec::new(),
    };
    if cut_shape.len() > 2 {
        feats = b2.node("features", Op::Flatten { axis: 1 }, vec![feats], None);
    }
    if active.is_empty() || active.iter().any(|&j| j >= dim) || !active.is_sorted() {
        return Err(DeeptlError::invalid(
            "export",
            format!("active features {active:?} do not fit the backbone's {dim} features"),
        ));
    }
    let pieces: Vec<String> = runs(active)
        .into_iter()
        .map(|(a, e)| {
            b2.node(
                &format!("active_{a}_{e}"),
                Op::Slice {
                    starts: vec![a as i64],
                    ends: vec![e as i64],
                    axes: vec![1],
                    steps: vec![1],
                },
                vec![feats.clone()],
                None,
            )
        })
        .collect();
    let mut hdn = if pieces.len() == 1 {
        pieces.into_iter().next().expect("one piece")
    } else {
        b2.node("active", Op::Concat { axis: 1 }, pieces, None)
    };
    let n_layers = mlp.layers.len();
    for (i, l) in mlp.layers.iter().enumerate() {
        let mut inputs = vec![
            hdn,
            b2.param(
                &format!("layer{i}.weight"),
                vec![l.n_in, l.n_out],
                l.w.clone(),
            ),
        ];
        if let Some(bias) = &l.b {
            inputs.push(b2.param(&format!("layer{i}.bias"), vec![l.n_out], bias.clone()));
        }
        let gemm = Op::Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: false,
        };
        let last = i + 1 == n_layers;
        let base = if last {
            "logits".to_string()
        } else {
            format!("layer{i}")
        };
        hdn = b2.node(&base, gemm, inputs, None);
        if !last {
            hdn = b2.node(&format!("layer{i}.relu"), Op::Relu, vec![hdn], None);
        }
    }
    let mut nodes = b.nodes;
    nodes.extend(bb.nodes);
    nodes.extend(b2.nodes);
    let mut params = bb.params;
    params.extend(b.params);
    params.extend(b2.params);
    let mut input_shape = vec![1];
    input_shape.extend_from_slice(sample);
    let graph = Graph {
        name: name.to_string(),
        input,
        input_shape,
        outputs: vec![hdn.clone()],
        nodes,
        params,
    };
    let shapes = shape::infer(&graph, 2)?;
    if shapes.get(&hdn) != Some(&vec![2, mlp.n_classes()]) {
        return Err(DeeptlError::invalid(
            "export",
            format!(
                "the end-to-end model computes logits of shape {:?}, [N, {}] expected",
                shapes.get(&hdn),
                mlp.n_classes()
            ),
        ));
    }
    Ok(EndToEnd {
        graph,
        preprocessing: steps.join(", then "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_gaps() {
        assert_eq!(runs(&[0, 1, 2, 5, 7, 8]), vec![(0, 3), (5, 6), (7, 9)]);
        assert_eq!(runs(&[4]), vec![(4, 5)]);
        assert!(runs(&[]).is_empty());
    }

    /// The separable resize equals the backbone path's bilinear resize.
    #[test]
    fn resize_matrices_match_the_preprocessing() {
        let (h, w, s) = (5, 7, 12);
        let img: Vec<f32> = (0..h * w).map(|i| ((i * 37) % 11) as f32 / 10.0).collect();
        let want = evoprune_vision::preprocess::grey_to_imagenet(&img, h, w, s).unwrap();
        let (rh, rw) = (resize_matrix(h, s), resize_matrix(w, s));
        for oy in 0..s {
            for ox in 0..s {
                let mut v = 0.0;
                for y in 0..h {
                    for x in 0..w {
                        v += rh[y * s + oy] * img[y * w + x] * rw[x * s + ox];
                    }
                }
                let got = (v - IMAGENET_MEAN[0]) / IMAGENET_STD[0];
                assert!((got - want[oy * s + ox]).abs() < 1e-5, "{got} vs {want:?}");
            }
        }
        // same size: the identity
        let r = resize_matrix(4, 4);
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(r[i * 4 + j], f32::from(u8::from(i == j)));
            }
        }
    }
}
