//! Coupled channels, found automatically, and structured pruning by groups.
//!
//! Every channel of every computed value (axis 1; the feature axis of `[N, F]` values) is an
//! element. Ops that pass channels through (activations, batch norm, pooling, depthwise
//! convolutions, element-wise arithmetic, concatenation with offsets, channel padding, flatten
//! into a linear layer, ...) tie their output elements to their inputs' in a union-find; a
//! convolution or linear layer starts fresh elements (its output channels: the *sources*).
//! A connected set of elements holding at least one source and nothing fixed (the network's
//! input and outputs, channels seen by an op that cannot follow a removal) is a [`Group`]:
//! the channels that must be removed together. Removing a group deletes the producers' output
//! channels, the batch-norm and bias entries, the consumers' input slices, and shrinks every
//! value it crosses; [`Analysis::compact`] builds that physically smaller network and
//! [`Analysis::masked`] the same function at full size (consumer inputs zeroed), the
//! reference the compacted one must match.

use crate::ir::{Dim, Graph, Op, Tensor};
use crate::{GraphError, Result, shape};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One set of channels that are removed together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// Index in [`Analysis::groups`].
    pub index: usize,
    /// The producing layers' output channels: `(node name, channel)`.
    pub sources: Vec<(String, usize)>,
    /// Every value channel in the group: `(value name, channel)`.
    pub channels: Vec<(String, usize)>,
}

/// How each node relates channels, decided once by [`analyze`].
#[derive(Clone, Debug)]
enum Rule {
    /// Output channels are new (a convolution or linear layer reading `input`).
    Source,
    /// Output channel c is input channel c (all value inputs).
    Same,
    /// Depthwise convolution (one filter per channel).
    Depthwise,
    /// Concatenation along channels.
    Concat,
    /// Channel padding by `(begin, end)`.
    Pad(usize, usize),
    /// Flatten `[N, C, spatial...]` into `[N, C * spatial]`: feature f is channel f / spatial.
    Flatten(usize),
    /// Channels cannot follow a removal: everything fixed.
    Fixed,
}

/// The coupled-channel analysis of a graph.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The prunable groups.
    pub groups: Vec<Group>,
    /// Channels per value (axis 1), for the values that have a channel axis.
    channels: HashMap<String, usize>,
    /// First element id of each value.
    base: HashMap<String, usize>,
    /// Group of each element (`None`: not prunable).
    elem_group: Vec<Option<usize>>,
    rules: Vec<Rule>,
    /// Rank of each value.
    ranks: HashMap<String, usize>,
}

/// The most value channels [`analyze`] takes (ResNet-50 at 224 px has about 70,000).
const MAX_CHANNELS: usize = 1 << 24;

struct Dsu {
    parent: Vec<usize>,
}

impl Dsu {
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

fn is_weight_param(g: &Graph, name: Option<&String>) -> bool {
    name.is_some_and(|n| g.params.contains_key(n))
}

/// The rule of node `k`.
fn rule(g: &Graph, k: usize, shapes: &HashMap<String, Vec<usize>>) -> Rule {
    let n = &g.nodes[k];
    let xs = &shapes[&n.inputs[0]];
    let ys = &shapes[&n.outputs[0]];
    let input_is_value = !g.params.contains_key(&n.inputs[0]);
    // a parameter read by another node too would be sliced for one and not the other
    let shared = n.inputs.iter().any(|i| {
        g.params.get(i).is_some_and(|t| t.len() > 1)
            && g.nodes.iter().filter(|m| m.inputs.contains(i)).count() > 1
    });
    if shared
        || (!input_is_value
            && !matches!(
                n.op,
                Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Concat { .. }
            ))
    {
        return Rule::Fixed;
    }
    match &n.op {
        Op::Conv { groups, .. } if input_is_value && is_weight_param(g, n.inputs.get(1)) => {
            let cin = xs[1];
            if *groups == 1 {
                Rule::Source
            } else if *groups == cin && ys[1] == cin {
                Rule::Depthwise
            } else {
                Rule::Fixed
            }
        }
        Op::Gemm { trans_a: false, .. } | Op::MatMul
            if input_is_value
                && xs.len() == 2
                && is_weight_param(g, n.inputs.get(1))
                && n.inputs.get(2).is_none_or(|c| g.params.contains_key(c)) =>
        {
            Rule::Source
        }
        Op::BatchNorm { .. }
        | Op::Relu
        | Op::Clip { .. }
        | Op::Sigmoid
        | Op::HardSwish
        | Op::HardSigmoid { .. }
        | Op::Identity
        | Op::MaxPool { .. }
        | Op::AveragePool { .. }
        | Op::GlobalAveragePool
            if xs.len() >= 2 =>
        {
            Rule::Same
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div if ys.len() >= 2 => Rule::Same,
        Op::ReduceMean { axes, keepdims } => {
            let r = xs.len() as i64;
            let ax: Vec<i64> = axes
                .iter()
                .map(|&a| if a < 0 { a + r } else { a })
                .collect();
            if !axes.is_empty()
                && !ax.contains(&0)
                && !ax.contains(&1)
                && (*keepdims || ax.iter().all(|&a| a >= 2))
                && ys.len() >= 2
                && ys[1] == xs[1]
            {
                Rule::Same
            } else {
                Rule::Fixed
            }
        }
        Op::Concat { axis } => {
            let a = if *axis < 0 {
                axis + xs.len() as i64
            } else {
                *axis
            };
            if a == 1 {
                Rule::Concat
            } else if a >= 2 {
                Rule::Same
            } else {
                Rule::Fixed
            }
        }
        Op::Pad { pads, .. } => {
            let r = xs.len();
            if r < 2 || pads[0] != 0 || pads[r] != 0 || pads.iter().any(|&p| p < 0) {
                Rule::Fixed
            } else {
                Rule::Pad(pads[1] as usize, pads[1 + r] as usize)
            }
        }
        Op::Slice { axes, .. } => {
            let r = xs.len() as i64;
            if r < 2 || axes.iter().any(|&a| (if a < 0 { a + r } else { a }) < 2) {
                Rule::Fixed
            } else {
                Rule::Same
            }
        }
        Op::Softmax { axis } => {
            let a = if *axis < 0 {
                axis + xs.len() as i64
            } else {
                *axis
            };
            if a >= 2 { Rule::Same } else { Rule::Fixed }
        }
        Op::Flatten { axis: 0 } => Rule::Fixed,
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Squeeze { .. } | Op::Unsqueeze { .. } => {
            if xs.len() >= 2 && ys.len() >= 2 && xs[..2] == ys[..2] {
                Rule::Same
            } else if xs.len() >= 3
                && ys.len() == 2
                && ys[0] == xs[0]
                && ys[1] == xs[1..].iter().product::<usize>()
            {
                Rule::Flatten(xs[2..].iter().product())
            } else {
                Rule::Fixed
            }
        }
        _ => Rule::Fixed,
    }
}

/// Find the coupled-channel groups of `g`.
pub fn analyze(g: &Graph) -> Result<Analysis> {
    let shapes = shape::infer(g, 1)?;
    let mut channels = HashMap::new();
    let mut base = HashMap::new();
    let mut total = 0;
    let values = std::iter::once(&g.input).chain(g.nodes.iter().map(|n| &n.outputs[0]));
    for v in values {
        let s = &shapes[v];
        let c = if s.len() >= 2 { s[1] } else { 0 };
        channels.insert(v.clone(), c);
        base.insert(v.clone(), total);
        total += c;
        if total > MAX_CHANNELS {
            return Err(GraphError::invalid(
                "channel analysis",
                format!(
                    "more than {MAX_CHANNELS} channels in all; the network is too large to analyse"
                ),
            ));
        }
    }
    let mut dsu = Dsu {
        parent: (0..total).collect(),
    };
    let mut fixed = vec![false; total];
    let mut source = vec![false; total];
    let el = |v: &String, c: usize| base[v] + c;
    let fix_value = |fixed: &mut Vec<bool>, v: &String| {
        if let (Some(&b), Some(&c)) = (base.get(v), channels.get(v)) {
            fixed[b..b + c].iter_mut().for_each(|f| *f = true);
        }
    };
    let mut rules = Vec::with_capacity(g.nodes.len());
    for (k, n) in g.nodes.iter().enumerate() {
        let r = rule(g, k, &shapes);
        let y = &n.outputs[0];
        let cy = channels[y];
        let value_inputs: Vec<&String> =
            n.inputs.iter().filter(|i| base.contains_key(*i)).collect();
        match &r {
            Rule::Source => (0..cy).for_each(|c| source[el(y, c)] = true),
            Rule::Same | Rule::Depthwise => {
                let broadcasting = matches!(n.op, Op::Add | Op::Sub | Op::Mul | Op::Div);
                for x in &value_inputs {
                    let xs = &shapes[*x];
                    let ry = shapes[y].len();
                    // the operand's axis aligned with the output's channel axis: axis 1 for
                    // ops that keep axes, NumPy's right alignment for broadcasting ones
                    let j = if broadcasting {
                        1 + xs.len() as isize - ry as isize
                    } else {
                        1
                    };
                    if j == 1 && xs.len() >= 2 && channels[*x] == cy {
                        (0..cy).for_each(|c| dsu.union(el(y, c), el(x, c)));
                    } else if j >= 0 && (j as usize) < xs.len() && xs[j as usize] == 1 {
                        // broadcast along channels (a per-sample scalar): no coupling
                    } else {
                        fix_value(&mut fixed, x);
                        fix_value(&mut fixed, y);
                    }
                }
            }
            Rule::Concat => {
                // operands in order: a constant operand's channels stay, at their own offset
                let mut off = 0;
                for x in &n.inputs {
                    let cx = shapes[x].get(1).copied().unwrap_or(0);
                    if base.contains_key(x) {
                        (0..cx).for_each(|c| dsu.union(el(y, off + c), el(x, c)));
                    } else {
                        (off..(off + cx).min(cy)).for_each(|c| fixed[el(y, c)] = true);
                    }
                    off += cx;
                }
            }
            Rule::Pad(b, _) => {
                let x = value_inputs[0];
                (0..channels[x]).for_each(|c| dsu.union(el(y, b + c), el(x, c)));
            }
            Rule::Flatten(per) => {
                let x = value_inputs[0];
                (0..cy).for_each(|f| dsu.union(el(y, f), el(x, f / per)));
            }
            Rule::Fixed => {
                for x in &value_inputs {
                    fix_value(&mut fixed, x);
                }
                fix_value(&mut fixed, y);
            }
        }
        rules.push(r);
    }
    fix_value(&mut fixed, &g.input);
    for o in &g.outputs {
        fix_value(&mut fixed, o);
    }
    // roots that hold a source and nothing fixed become groups, numbered in element order
    let mut root_fixed = vec![false; total];
    let mut root_source = vec![false; total];
    for e in 0..total {
        let r = dsu.find(e);
        root_fixed[r] |= fixed[e];
        root_source[r] |= source[e];
    }
    let mut group_of_root: HashMap<usize, usize> = HashMap::new();
    let mut elem_group = vec![None; total];
    for e in 0..total {
        let r = dsu.find(e);
        if root_source[r] && !root_fixed[r] {
            let next = group_of_root.len();
            elem_group[e] = Some(*group_of_root.entry(r).or_insert(next));
        }
    }
    let mut groups: Vec<Group> = (0..group_of_root.len())
        .map(|index| Group {
            index,
            sources: vec![],
            channels: vec![],
        })
        .collect();
    let mut by_base: Vec<(&String, usize)> = base.iter().map(|(v, &b)| (v, b)).collect();
    by_base.sort_by_key(|x| x.1);
    for (v, b) in by_base {
        for c in 0..channels[v] {
            if let Some(gi) = elem_group[b + c] {
                groups[gi].channels.push((v.clone(), c));
            }
        }
    }
    for (k, n) in g.nodes.iter().enumerate() {
        if matches!(rules[k], Rule::Source) {
            let y = &n.outputs[0];
            for c in 0..channels[y] {
                if let Some(gi) = elem_group[el(y, c)] {
                    groups[gi].sources.push((n.name.clone(), c));
                }
            }
        }
    }
    let ranks = shapes.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    Ok(Analysis {
        groups,
        channels,
        base,
        elem_group,
        rules,
        ranks,
    })
}

impl Analysis {
    /// The channels of each value that a removal of the groups with `keep[i] == false` leaves.
    fn kept(&self, keep: &[bool]) -> Result<HashMap<String, Vec<usize>>> {
        if keep.len() != self.groups.len() {
            return Err(GraphError::invalid(
                "mask",
                format!("{} bits for {} groups", keep.len(), self.groups.len()),
            ));
        }
        let mut out = HashMap::new();
        for (v, &c) in &self.channels {
            let b = self.base[v];
            let k: Vec<usize> = (0..c)
                .filter(|&ch| self.elem_group[b + ch].is_none_or(|gi| keep[gi]))
                .collect();
            if c > 0 && k.is_empty() {
                return Err(GraphError::invalid(
                    "mask",
                    format!("removes every channel of \"{v}\""),
                ));
            }
            out.insert(v.clone(), k);
        }
        Ok(out)
    }

    /// `keep` with removed groups taken back until every image-like value (rank 3 or more)
    /// that a removal shrinks keeps a multiple of `multiple` channels, or all of them; `0` and
    /// `1` change nothing. Groups are taken back in index order, lowest first.
    ///
    /// [`Analysis::compact`] of [`Analysis::masked`] under the widened flags computes the same
    /// function as the compaction under `keep` (the channels taken back are zero wherever they
    /// are read), but with channel counts that blocked layouts accept: onnxruntime's NCHWc
    /// kernels (blocks of 8 channels on AVX2, 16 on AVX-512) fall back to much slower ones
    /// for any other count.
    pub fn rounded(&self, keep: &[bool], multiple: usize) -> Result<Vec<bool>> {
        if keep.len() != self.groups.len() {
            return Err(GraphError::invalid(
                "mask",
                format!("{} bits for {} groups", keep.len(), self.groups.len()),
            ));
        }
        let mut wide = keep.to_vec();
        if multiple <= 1 {
            return Ok(wide);
        }
        // the values to round, in element order (deterministic), with their groups' channels
        let mut values: Vec<(usize, usize)> = self
            .channels
            .iter()
            .filter(|(v, c)| **c > 0 && self.ranks.get(*v).is_some_and(|&r| r >= 3))
            .map(|(v, &c)| (self.base[v], c))
            .collect();
        values.sort_unstable();
        // each pass only adds groups, and a value's count is bounded by its channels: this
        // ends after at most one pass per group
        let mut changed = true;
        while changed {
            changed = false;
            for &(b, c) in &values {
                let alive = |w: &[bool]| {
                    (0..c)
                        .filter(|&ch| self.elem_group[b + ch].is_none_or(|gi| w[gi]))
                        .count()
                };
                let mut k = alive(&wide);
                while k < c && !k.is_multiple_of(multiple) {
                    let Some(gi) = (0..c)
                        .filter_map(|ch| self.elem_group[b + ch])
                        .filter(|&gi| !wide[gi])
                        .min()
                    else {
                        break;
                    };
                    wide[gi] = true;
                    changed = true;
                    k = alive(&wide);
                }
            }
        }
        Ok(wide)
    }

    /// The network with the removed groups' channels zeroed where they are read (convolution,
    /// linear and depthwise weights): the same function as [`Analysis::compact`], full size.
    pub fn masked(&self, g: &Graph, keep: &[bool]) -> Result<Graph> {
        let kept = self.kept(keep)?;
        let mut g = g.clone();
        for (k, n) in g.nodes.clone().iter().enumerate() {
            let x = &n.inputs[0];
            let Some(kx) = kept.get(x) else { continue };
            let cx = self.channels[x];
            if kx.len() == cx {
                continue;
            }
            let dead: Vec<usize> = (0..cx).filter(|c| kx.binary_search(c).is_err()).collect();
            let Some(w) = n.inputs.get(1).and_then(|w| g.params.get_mut(w)) else {
                continue;
            };
            match (&self.rules[k], &n.op) {
                (Rule::Source, Op::Conv { .. }) => {
                    let (o, i) = (w.shape[0], w.shape[1]);
                    let per = w.len() / (o * i).max(1);
                    for oc in 0..o {
                        for &c in &dead {
                            w.data[(oc * i + c) * per..(oc * i + c + 1) * per].fill(0.0);
                        }
                    }
                }
                (Rule::Depthwise, _) => {
                    let per = w.len() / w.shape[0].max(1);
                    for &c in &dead {
                        w.data[c * per..(c + 1) * per].fill(0.0);
                    }
                    // the bias of a dead channel would leak into its (dead) output; harmless
                }
                (Rule::Source, Op::Gemm { trans_b, .. }) => {
                    let (r, c) = (w.shape[0], w.shape[1]);
                    for &d in &dead {
                        if *trans_b {
                            (0..r).for_each(|o| w.data[o * c + d] = 0.0);
                        } else {
                            w.data[d * c..(d + 1) * c].fill(0.0);
                        }
                    }
                }
                (Rule::Source, Op::MatMul) => {
                    let c = w.shape[1];
                    for &d in &dead {
                        w.data[d * c..(d + 1) * c].fill(0.0);
                    }
                }
                _ => {}
            }
        }
        Ok(g)
    }

    /// The physically smaller network without the removed groups (`keep[i] == false`).
    pub fn compact(&self, g: &Graph, keep: &[bool]) -> Result<Graph> {
        let kept = self.kept(keep)?;
        let mut out = g.clone();
        let mut sliced: BTreeMap<String, Tensor> = BTreeMap::new();
        let mut slice_param = |name: &String, t: Tensor, out: &mut Graph| -> Result<()> {
            if let Some(prev) = sliced.get(name) {
                if *prev != t {
                    return Err(GraphError::invalid(
                        format!("parameter \"{name}\""),
                        "shared by layers that keep different channels",
                    ));
                }
                return Ok(());
            }
            sliced.insert(name.clone(), t.clone());
            out.params.insert(name.clone(), t);
            Ok(())
        };
        for (k, n) in g.nodes.iter().enumerate() {
            let y = &n.outputs[0];
            let ky = &kept[y];
            let kx = kept.get(&n.inputs[0]);
            let param = |i: usize| {
                n.inputs
                    .get(i)
                    .and_then(|p| g.params.get(p).map(|t| (p, t)))
            };
            match (&self.rules[k], &n.op) {
                (Rule::Source, Op::Conv { .. }) => {
                    let (p, w) = param(1).ok_or_else(|| GraphError::invalid(&n.name, "weight"))?;
                    let kx = kx.ok_or_else(|| GraphError::invalid(&n.name, "input"))?;
                    slice_param(p, take(&take(w, 0, ky), 1, kx), &mut out)?;
                    if let Some((p, b)) = param(2) {
                        slice_param(p, take(b, 0, ky), &mut out)?;
                    }
                }
                (Rule::Depthwise, Op::Conv { .. }) => {
                    let (p, w) = param(1).ok_or_else(|| GraphError::invalid(&n.name, "weight"))?;
                    slice_param(p, take(w, 0, ky), &mut out)?;
                    if let Some((p, b)) = param(2) {
                        slice_param(p, take(b, 0, ky), &mut out)?;
                    }
                    if let Op::Conv { groups, .. } = &mut out.nodes[k].op {
                        *groups = ky.len();
                    }
                }
                (Rule::Source, Op::Gemm { trans_b, .. }) => {
                    let kx = kx.ok_or_else(|| GraphError::invalid(&n.name, "input"))?;
                    let (p, w) = param(1).ok_or_else(|| GraphError::invalid(&n.name, "weight"))?;
                    let (ao, ai) = if *trans_b { (0, 1) } else { (1, 0) };
                    slice_param(p, take(&take(w, ao, ky), ai, kx), &mut out)?;
                    if let Some((p, c)) = param(2) {
                        let last = c.shape.len().saturating_sub(1);
                        if c.shape.last() == Some(&self.channels[y]) {
                            slice_param(p, take(c, last, ky), &mut out)?;
                        }
                    }
                }
                (Rule::Source, Op::MatMul) => {
                    let kx = kx.ok_or_else(|| GraphError::invalid(&n.name, "input"))?;
                    let (p, w) = param(1).ok_or_else(|| GraphError::invalid(&n.name, "weight"))?;
                    slice_param(p, take(&take(w, 1, ky), 0, kx), &mut out)?;
                }
                (Rule::Same, _) => {
                    // parameters laid along the channel axis (batch norm, per-channel scales)
                    let ry = self.ranks[y];
                    for p in n
                        .inputs
                        .iter()
                        .skip(1)
                        .chain((!matches!(n.op, Op::BatchNorm { .. })).then_some(&n.inputs[0]))
                    {
                        let Some(t) = g.params.get(p) else { continue };
                        let axis = match n.op {
                            Op::BatchNorm { .. } => Some(0),
                            _ => (t.shape.len() + 1).checked_sub(ry),
                        };
                        if let Some(a) = axis
                            && t.shape.get(a) == Some(&self.channels[y])
                            && self.channels[y] > 1
                        {
                            slice_param(p, take(t, a, ky), &mut out)?;
                        }
                    }
                    if let Op::Reshape { shape } = &mut out.nodes[k].op
                        && let Some(Dim::Fixed(v)) = shape.get_mut(1)
                        && *v > 0
                    {
                        *v = ky.len() as i64;
                    }
                }
                (Rule::Pad(b, e), Op::Pad { .. }) => {
                    let cy = self.channels[y];
                    let nb = ky.iter().filter(|&&c| c < *b).count();
                    let ne = ky.iter().filter(|&&c| c >= cy - e).count();
                    let r = self.ranks[y];
                    if let Op::Pad { pads, .. } = &mut out.nodes[k].op {
                        pads[1] = nb as i64;
                        pads[1 + r] = ne as i64;
                    }
                }
                (Rule::Flatten(_), _) => {
                    if let Op::Reshape { shape } = &mut out.nodes[k].op {
                        *shape = vec![Dim::Batch, Dim::Fixed(-1)];
                    }
                }
                _ => {}
            }
        }
        shape::infer(&out, 1)?;
        Ok(out)
    }
}

/// `t` restricted to the indices `keep` along `axis`.
fn take(t: &Tensor, axis: usize, keep: &[usize]) -> Tensor {
    if axis >= t.shape.len() || keep.len() == t.shape[axis] {
        return t.clone();
    }
    let outer: usize = t.shape[..axis].iter().product();
    let inner: usize = t.shape[axis + 1..].iter().product();
    let n = t.shape[axis];
    let mut data = Vec::with_capacity(outer * keep.len() * inner);
    for o in 0..outer {
        for &k in keep {
            let s = (o * n + k) * inner;
            data.extend_from_slice(&t.data[s..s + inner]);
        }
    }
    let mut shape = t.shape.clone();
    shape[axis] = keep.len();
    Tensor::new(shape, data)
}
