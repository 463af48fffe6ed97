//! Inference-time rewrites: batch normalisation folded into the convolution before it.

use crate::ir::{Graph, Op, Tensor};

/// `g` with every BatchNormalization that directly follows a convolution (whose output
/// nothing else reads) folded into that convolution's weights and bias. The bias is named
/// after the weight (`conv1.weight` gets `conv1.bias`), as PyTorch would name it.
pub fn fold_batch_norms(g: &Graph) -> Graph {
    let mut g = g.clone();
    let mut k = 0;
    while k < g.nodes.len() {
        let Op::BatchNorm { epsilon } = g.nodes[k].op else {
            k += 1;
            continue;
        };
        let bn = g.nodes[k].clone();
        let x = &bn.inputs[0];
        let Some(c) = g.producer(x) else {
            k += 1;
            continue;
        };
        let stats: Option<Vec<&Tensor>> = bn.inputs[1..].iter().map(|p| g.params.get(p)).collect();
        let conv = &g.nodes[c];
        let foldable = matches!(conv.op, Op::Conv { .. })
            && g.consumers(x).len() == 1
            && !g.outputs.contains(x)
            && g.params.contains_key(&conv.inputs[1])
            // a bias that is computed, or read by another node, must not change under it
            && conv.inputs.get(2).is_none_or(|b| {
                g.params.contains_key(b) && g.nodes.iter().filter(|n| n.inputs.contains(b)).count() == 1
            })
            && stats.is_some();
        if !foldable {
            k += 1;
            continue;
        }
        let stats: Vec<Tensor> = stats.unwrap_or_default().into_iter().cloned().collect();
        let (scale, shift, mean, var) = (
            &stats[0].data,
            &stats[1].data,
            &stats[2].data,
            &stats[3].data,
        );
        let wname = conv.inputs[1].clone();
        let mut w = g.params[&wname].clone();
        let cout = w.shape[0];
        let per = w.len() / cout.max(1);
        let old_bias = conv
            .inputs
            .get(2)
            .and_then(|b| g.params.get(b))
            .map(|t| t.data.clone());
        let mut bias = vec![0.0f32; cout];
        for o in 0..cout {
            let a = scale[o] / (var[o] + epsilon).sqrt();
            w.data[o * per..(o + 1) * per]
                .iter_mut()
                .for_each(|v| *v *= a);
            let b0 = old_bias.as_ref().map_or(0.0, |b| b[o]);
            bias[o] = (b0 - mean[o]) * a + shift[o];
        }
        let bname = match conv.inputs.get(2) {
            Some(b) => b.clone(),
            None => {
                let stem = wname.strip_suffix(".weight").unwrap_or(&wname);
                let mut name = format!("{stem}.bias");
                while g.params.contains_key(&name) {
                    name.push('_');
                }
                name
            }
        };
        // a weight shared with another node must not change under it
        let shared = g.nodes.iter().filter(|n| n.inputs.contains(&wname)).count() > 1;
        if shared {
            k += 1;
            continue;
        }
        g.params.insert(wname, w);
        g.params
            .insert(bname.clone(), Tensor::new(vec![cout], bias));
        let conv = &mut g.nodes[c];
        conv.inputs.truncate(2);
        conv.inputs.push(bname);
        conv.outputs = bn.outputs.clone();
        g.nodes.remove(k);
        for p in &bn.inputs[1..] {
            if !g.nodes.iter().any(|n| n.inputs.contains(p)) {
                g.params.remove(p);
            }
        }
    }
    g
}
