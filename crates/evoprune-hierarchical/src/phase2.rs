//! Phase 2, fine and binary: one bit per weight that survives the heavy anchor.
//!
//! - **Importance-aware sampling** between the heavy anchor (all bits set) and the light anchor
//!   (its survivors among the heavy one's): individual `i` gets an interpolation `t`, each layer
//!   a target keep fraction `rho = 1 + t (rho_light - 1)`, and each surviving weight of the layer
//!   is kept with probability `u^(1/rho - 1)`, where `u` in `(0, 1]` is its importance rank
//!   within the layer. The expected keep fraction is `rho`, and the keep probability rises with
//!   importance. Both anchors are members of the initial population.
//! - **Importance-aware adaptive mutation**: a kept weight is pruned with probability
//!   `2 r (1 - u)`, a pruned one restored with probability `2 r u`. The rate `r` adapts to the
//!   population every generation: half the median distance (Hamming, per bit) from a member to
//!   its nearest other member, within configured bounds, so steps shrink as the front converges.
//! - **Incremental evaluation** (dense networks, whose first layer reads the images directly):
//!   the first layer's pre-activations of every population member are kept; a child's are the
//!   nearest member's plus `dw * x_i` for each first-layer weight that differs, instead of a full
//!   matrix product. The members' activations are always computed in full, so a child's result
//!   depends only on the population, never on evaluation order, threads or a resume.
//!
//! The rate and the members' activations are updated by [`Adapt`], an engine observer, at each
//! generation (and at a resume): both are functions of the population alone.

use crate::config::{Cost, ModelKind};
use crate::model::Model;
use crate::phase1::cost_values;
use crate::{HierError, Result};
use evoprune::{
    BitString, Evaluation, Event, EvoRng, Mutation, ObjectiveSpec, Observer, Problem, Sampling,
    State,
};
use evoprune_data::digits28::Part;
use evoprune_nn::dense::{DenseShape, first_layer_t, logits_from_first_t};
use evoprune_nn::lenet::count_errors;
use rand::Rng;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The genome's space: which weights it covers, their layers and importance ranks.
#[derive(Clone, Debug)]
pub struct Space {
    /// Weight index of each bit (ascending, so layers are contiguous).
    pub weights: Vec<u32>,
    /// Bit range of each prunable layer.
    pub layer_bits: Vec<std::ops::Range<usize>>,
    /// Importance rank of each bit within its layer, in `(0, 1]` (1 = most important).
    pub rank: Vec<f32>,
}

impl Space {
    /// The survivors of `heavy` (a keep-mask over `model`'s weights), ranked by `importance`
    /// (one value per weight of the model; ties by position).
    pub fn new(model: &Model, heavy: &BitString, importance: &[f32]) -> Result<Space> {
        if heavy.len() != model.n_weights() || importance.len() != model.n_weights() {
            return Err(HierError::invalid(
                "phase-2 space",
                format!(
                    "anchor of {} bits and {} importances for {} weights",
                    heavy.len(),
                    importance.len(),
                    model.n_weights()
                ),
            ));
        }
        let weights: Vec<u32> = heavy.iter_ones().map(|k| k as u32).collect();
        let mut layer_bits = Vec::new();
        let mut rank = vec![0.0f32; weights.len()];
        let mut at = 0;
        for l in model.layers() {
            let start = at;
            while at < weights.len() && l.weights.contains(&(weights[at] as usize)) {
                at += 1;
            }
            let mut idx: Vec<usize> = (start..at).collect();
            idx.sort_by(|&a, &b| {
                importance[weights[a] as usize]
                    .total_cmp(&importance[weights[b] as usize])
                    .then(a.cmp(&b))
            });
            let n = idx.len() as f32;
            for (r, &j) in idx.iter().enumerate() {
                rank[j] = (r + 1) as f32 / n;
            }
            layer_bits.push(start..at);
        }
        Ok(Space {
            weights,
            layer_bits,
            rank,
        })
    }

    /// Bits.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// No surviving weight.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// The keep-mask over all weights of a genome.
    pub fn keep_mask(&self, g: &BitString, n_weights: usize) -> BitString {
        BitString::from_ones(n_weights, g.iter_ones().map(|j| self.weights[j] as usize))
    }

    /// The genome of a keep-mask (its bits on the space's weights).
    pub fn genome_of(&self, keep: &BitString) -> BitString {
        BitString::from_ones(
            self.len(),
            (0..self.len()).filter(|&j| keep.get(self.weights[j] as usize)),
        )
    }

    /// Kept weights per layer of a genome.
    pub fn kept(&self, g: &BitString) -> Vec<usize> {
        let mut kept = vec![0; self.layer_bits.len()];
        let mut l = 0;
        for j in g.iter_ones() {
            while !self.layer_bits[l].contains(&j) {
                l += 1;
            }
            kept[l] += 1;
        }
        kept
    }
}

/// Importance of every weight of `model`: `|w|`, or `|w * dL/dw|` with the mean loss gradient
/// `grad` (first-order Taylor).
pub fn importance(model: &Model, grad: Option<&[f32]>) -> Vec<f32> {
    (0..model.n_weights())
        .map(|k| {
            let i = model.param_of(k);
            match grad {
                None => model.params[i].abs(),
                Some(g) => (model.params[i] * g[i]).abs(),
            }
        })
        .collect()
}

/// The initial population: the heavy anchor, the light anchor, then importance-aware samples
/// with interpolations `t` stratified over `(0, 1)`.
#[derive(Clone, Debug)]
pub struct ImportanceSampling {
    /// The space.
    pub space: Arc<Space>,
    /// The light anchor as a genome.
    pub light: BitString,
}

impl ImportanceSampling {
    fn light_fraction(&self) -> Vec<f64> {
        let kept = self.space.kept(&self.light);
        self.space
            .layer_bits
            .iter()
            .zip(kept)
            .map(|(r, k)| {
                if r.is_empty() {
                    1.0
                } else {
                    k as f64 / r.len() as f64
                }
            })
            .collect()
    }
}

impl Sampling<BitString> for ImportanceSampling {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<BitString> {
        let s = &self.space;
        let light = self.light_fraction();
        let mut out = vec![BitString::ones(s.len()), self.light.clone()];
        let rest = n.saturating_sub(2);
        for i in 0..rest {
            let t = (i as f64 + rng.random::<f64>()) / rest as f64;
            let mut g = BitString::zeros(s.len());
            for (r, &lf) in s.layer_bits.iter().zip(&light) {
                let rho = (1.0 + t * (lf - 1.0)).clamp(1e-6, 1.0);
                let gamma = (1.0 / rho - 1.0) as f32;
                for j in r.clone() {
                    if rng.random::<f32>() < s.rank[j].powf(gamma) {
                        g.set(j, true);
                    }
                }
            }
            out.push(g);
        }
        out.truncate(n);
        out
    }
}

/// The adaptive per-bit rate, shared by the mutation and the observer.
#[derive(Debug)]
pub struct Rate(AtomicU64);

impl Rate {
    /// A rate starting at `r`.
    pub fn new(r: f64) -> Arc<Rate> {
        Arc::new(Rate(AtomicU64::new(r.to_bits())))
    }
    /// The current rate.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    fn set(&self, r: f64) {
        self.0.store(r.to_bits(), Ordering::Relaxed)
    }
}

/// Importance-aware mutation (see the module notes).
#[derive(Clone, Debug)]
pub struct ImportanceMutation {
    /// The space.
    pub space: Arc<Space>,
    /// The adaptive rate.
    pub rate: Arc<Rate>,
}

impl Mutation<BitString> for ImportanceMutation {
    fn mutate(&self, g: &mut BitString, rng: &mut EvoRng) {
        let r = self.rate.get() as f32;
        for j in 0..self.space.len() {
            let u = self.space.rank[j];
            let p = if g.get(j) {
                2.0 * r * (1.0 - u)
            } else {
                2.0 * r * u
            };
            if rng.random::<f32>() < p {
                g.flip(j);
            }
        }
    }
}

/// The first-layer pre-activations of the population (dense networks only).
pub struct Incremental {
    shape: DenseShape,
    /// Validation images transposed (`784 x n`).
    xt: Vec<f32>,
    n: usize,
    bases: RwLock<Vec<(BitString, Arc<Vec<f32>>)>>,
    /// Above this many differing first-layer weights a child is computed in full.
    max_flips: usize,
}

impl Incremental {
    fn new(val: &Part) -> Incremental {
        let n = val.len();
        let mut xt = vec![0.0f32; 784 * n];
        for i in 0..n {
            for k in 0..784 {
                xt[k * n + i] = val.x[i * 784 + k];
            }
        }
        Incremental {
            shape: DenseShape::new(&[784, 300, 100, 10]).expect("valid"),
            xt,
            n,
            bases: RwLock::new(Vec::new()),
            // an axpy of n per differing weight against a 784 x 300 x n product: the product
            // runs ~10x more flops per second, so deltas pay below ~1/10 of 235,200 weights
            max_flips: 20_000,
        }
    }
}

/// The phase-2 problem: bits over the survivors in, (validation error, costs...) out.
pub struct Survivors {
    model: Arc<Model>,
    val: Arc<Part>,
    space: Arc<Space>,
    costs: Vec<Cost>,
    specs: Vec<ObjectiveSpec>,
    inc: Option<Arc<Incremental>>,
    /// The parameters with every weight pruned (biases kept).
    empty: Vec<f32>,
    /// Children evaluated incrementally / in full (for the report).
    pub counters: Arc<[AtomicU64; 2]>,
}

impl Survivors {
    /// The problem over `space`; `incremental` applies to dense networks.
    pub fn new(
        model: Arc<Model>,
        val: Arc<Part>,
        space: Arc<Space>,
        costs: &[Cost],
        incremental: bool,
    ) -> Self {
        let inc = (incremental && model.kind() == Some(ModelKind::Lenet300100))
            .then(|| Arc::new(Incremental::new(&val)));
        Survivors {
            empty: model.masked_params(|_| false),
            model,
            val,
            space,
            costs: costs.to_vec(),
            specs: crate::phase1::specs(costs),
            inc,
            counters: Arc::new([AtomicU64::new(0), AtomicU64::new(0)]),
        }
    }

    /// The masked parameters of a genome.
    fn params_of(&self, g: &BitString) -> Vec<f32> {
        let mut p = self.empty.clone();
        for j in g.iter_ones() {
            let i = self.model.param_of(self.space.weights[j] as usize);
            p[i] = self.model.params[i];
        }
        p
    }

    /// Full evaluation of a genome's first-layer pre-activations (transposed).
    fn full_z(&self, inc: &Incremental, g: &BitString) -> Result<Vec<f32>> {
        Ok(first_layer_t(
            &inc.shape,
            &self.params_of(g),
            &inc.xt,
            inc.n,
        )?)
    }

    /// Validation error of a genome: incrementally from the nearest population member when
    /// it pays, otherwise in full.
    fn error(&self, g: &BitString) -> Result<f64> {
        let p = self.params_of(g);
        if let Some(inc) = &self.inc {
            let r1 = self.space.layer_bits[0].clone();
            let bases = inc.bases.read().expect("not poisoned");
            let best = bases
                .iter()
                .enumerate()
                .map(|(b, (bg, _))| (hamming_range(g, bg, r1.clone()), b))
                .min();
            if let Some((d, b)) = best
                && d <= inc.max_flips
            {
                let (bg, bz) = &bases[b];
                let mut z = bz.as_ref().clone();
                for_each_diff(g, bg, r1, |j, now| {
                    let i = self.model.param_of(self.space.weights[j] as usize);
                    let (o, k) = (i / 784, i % 784);
                    let dw = if now {
                        self.model.params[i]
                    } else {
                        -self.model.params[i]
                    };
                    let row = &mut z[o * inc.n..(o + 1) * inc.n];
                    let col = &inc.xt[k * inc.n..(k + 1) * inc.n];
                    row.iter_mut().zip(col).for_each(|(a, x)| *a += dw * x);
                });
                drop(bases);
                self.counters[0].fetch_add(1, Ordering::Relaxed);
                let logits = logits_from_first_t(&inc.shape, &p, z, inc.n)?;
                return Ok(count_errors(&logits, &self.val.y) as f64 / self.val.len() as f64);
            }
            drop(bases);
            self.counters[1].fetch_add(1, Ordering::Relaxed);
            let z = self.full_z(inc, g)?;
            let logits = logits_from_first_t(&inc.shape, &p, z, inc.n)?;
            return Ok(count_errors(&logits, &self.val.y) as f64 / self.val.len() as f64);
        }
        self.counters[1].fetch_add(1, Ordering::Relaxed);
        self.model.error(&p, &self.val)
    }

    /// Replace the incremental bases by `pop` (reusing the activations of members already
    /// there, computing the others in full on the current rayon pool).
    pub fn set_bases(&self, pop: &[&BitString]) -> Result<()> {
        let Some(inc) = &self.inc else {
            return Ok(());
        };
        let old: HashMap<BitString, Arc<Vec<f32>>> = inc
            .bases
            .read()
            .expect("not poisoned")
            .iter()
            .cloned()
            .collect();
        let mut uniq: Vec<&BitString> = pop.to_vec();
        uniq.sort_by_key(|g| g.to_hex());
        uniq.dedup();
        let new: Vec<(BitString, Arc<Vec<f32>>)> = uniq
            .par_iter()
            .map(|g| {
                let z = match old.get(*g) {
                    Some(z) => z.clone(),
                    None => Arc::new(self.full_z(inc, g)?),
                };
                Ok(((*g).clone(), z))
            })
            .collect::<Result<_>>()?;
        *inc.bases.write().expect("not poisoned") = new;
        Ok(())
    }

    /// Whether incremental evaluation is on.
    pub fn is_incremental(&self) -> bool {
        self.inc.is_some()
    }
}

/// Differing bits of `a` and `b` within `r`.
fn hamming_range(a: &BitString, b: &BitString, r: std::ops::Range<usize>) -> usize {
    let (wa, wb) = (a.words(), b.words());
    if r.is_empty() {
        return 0;
    }
    let (w0, w1) = (r.start / 64, (r.end - 1) / 64);
    let mut d = 0;
    for w in w0..=w1 {
        let mut x = wa[w] ^ wb[w];
        if w == w0 {
            x &= u64::MAX << (r.start % 64);
        }
        if w == w1 && !r.end.is_multiple_of(64) {
            x &= u64::MAX >> (64 - r.end % 64);
        }
        d += x.count_ones() as usize;
    }
    d
}

/// Call `f(bit, value_in_a)` for each bit in `r` where `a` and `b` differ.
fn for_each_diff(
    a: &BitString,
    b: &BitString,
    r: std::ops::Range<usize>,
    mut f: impl FnMut(usize, bool),
) {
    let (wa, wb) = (a.words(), b.words());
    if r.is_empty() {
        return;
    }
    let (w0, w1) = (r.start / 64, (r.end - 1) / 64);
    for w in w0..=w1 {
        let mut x = wa[w] ^ wb[w];
        if w == w0 {
            x &= u64::MAX << (r.start % 64);
        }
        if w == w1 && !r.end.is_multiple_of(64) {
            x &= u64::MAX >> (64 - r.end % 64);
        }
        while x != 0 {
            let t = x.trailing_zeros() as usize;
            let j = w * 64 + t;
            f(j, wa[w] >> t & 1 == 1);
            x &= x - 1;
        }
    }
}

impl Problem for Survivors {
    type Genome = BitString;
    type Error = HierError;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn name(&self) -> &str {
        "hierarchical-phase2"
    }

    fn batch_hint(&self) -> usize {
        4
    }

    fn evaluate(&self, g: &BitString) -> Result<Evaluation> {
        if g.len() != self.space.len() {
            return Err(HierError::invalid(
                "phase-2 genome",
                format!("{} bits, the space has {}", g.len(), self.space.len()),
            ));
        }
        let e = self.error(g)?;
        let mut f = vec![e];
        f.extend(cost_values(&self.model, self.space.kept(g), &self.costs));
        Ok(Evaluation::new(f))
    }
}

/// The engine observer that adapts the mutation rate and refreshes the incremental bases from
/// the population at every generation and at a resume.
pub struct Adapt {
    /// The problem (its bases).
    pub problem: Arc<Survivors>,
    /// The rate to adapt.
    pub rate: Arc<Rate>,
    /// Rate bounds (per bit).
    pub bounds: (f64, f64),
}

impl Adapt {
    /// The rate for population `pop`: half the median nearest-neighbour distance per bit.
    pub fn rate_for(pop: &[&BitString], bounds: (f64, f64)) -> f64 {
        let len = pop.first().map_or(1, |g| g.len()).max(1);
        let mut nn: Vec<usize> = pop
            .iter()
            .enumerate()
            .map(|(i, a)| {
                pop.iter()
                    .enumerate()
                    .filter(|(j, b)| *j != i && *b != a)
                    .map(|(_, b)| a.hamming(b))
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        nn.sort_unstable();
        let med = nn.get(nn.len() / 2).copied().unwrap_or(0);
        // max then min, not clamp: crossed bounds (a tiny surviving space) must not panic
        (0.5 * med as f64 / len as f64).max(bounds.0).min(bounds.1)
    }
}

impl Observer<BitString> for Adapt {
    fn notify(&mut self, event: &Event, state: &State<BitString>, _: f64) -> evoprune::Result<()> {
        if matches!(event, Event::Generation | Event::Started { resumed: true })
            && !state.population.is_empty()
        {
            let pop: Vec<&BitString> = state.population.iter().map(|i| &i.genome).collect();
            self.rate.set(Adapt::rate_for(&pop, self.bounds));
            self.problem
                .set_bases(&pop)
                .map_err(|e| evoprune::Error::Problem(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune::rng_from_seed;
    use evoprune_data::digits28::synthetic_digits;

    fn setup(kind: ModelKind) -> (Arc<Model>, Arc<Part>, Arc<Space>, BitString) {
        let m = Arc::new(Model::random(kind, 3));
        let val = Arc::new(synthetic_digits(40, 2));
        let imp = importance(&m, None);
        // heavy: the upper 60% by magnitude of each layer; light: the upper 20%
        let p1 = crate::phase1::Thresholds::new(m.clone(), val.clone(), &[Cost::Params]);
        let x = vec![0.4; m.layers().len()];
        let heavy = p1.keep_mask(&x).unwrap();
        let light = p1.keep_mask(&vec![0.8; x.len()]).unwrap();
        let s = Arc::new(Space::new(&m, &heavy, &imp).unwrap());
        let lg = s.genome_of(&light);
        (m, val, s, lg)
    }

    #[test]
    fn sampling_spans_the_anchors_and_prefers_important_weights() {
        let (m, _, s, light) = setup(ModelKind::Lenet300100);
        assert_eq!(s.len(), (0.6f64 * 235_200.0).ceil() as usize + 18_000 + 600);
        let samp = ImportanceSampling {
            space: s.clone(),
            light: light.clone(),
        };
        let pop = samp.sample(12, &mut rng_from_seed(1));
        assert_eq!(pop[0], BitString::ones(s.len()));
        assert_eq!(pop[1], light);
        // densities spread between the anchors' (1 and 1/3 of the survivors)
        let d: Vec<f64> = pop[2..].iter().map(|g| g.density()).collect();
        assert!(d.iter().all(|&x| x > 0.3 && x < 1.0), "{d:?}");
        assert!(d[0] > 0.9 && d[9] < 0.45, "{d:?}");
        // within a sample, kept weights are more important on average than pruned ones
        let g = &pop[6];
        let r0 = s.layer_bits[0].clone();
        let mean = |keep: bool| {
            let v: Vec<f32> = r0
                .clone()
                .filter(|&j| g.get(j) == keep)
                .map(|j| s.rank[j])
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(mean(true) > mean(false) + 0.1);
        // the keep-mask maps back to model weights
        let keep = s.keep_mask(g, m.n_weights());
        assert_eq!(s.genome_of(&keep), *g);
    }

    #[test]
    fn mutation_prunes_unimportant_and_restores_important_weights() {
        let (_, _, s, _) = setup(ModelKind::Lenet300100);
        let rate = Rate::new(0.01);
        let m = ImportanceMutation {
            space: s.clone(),
            rate: rate.clone(),
        };
        let mut rng = rng_from_seed(2);
        let full = BitString::ones(s.len());
        let mut g = full.clone();
        m.mutate(&mut g, &mut rng);
        let pruned: Vec<usize> = (0..s.len()).filter(|&j| !g.get(j)).collect();
        let expect = 0.01 * s.len() as f64;
        assert!((pruned.len() as f64 - expect).abs() < 0.15 * expect);
        let mean_rank = pruned.iter().map(|&j| s.rank[j]).sum::<f32>() / pruned.len() as f32;
        assert!(mean_rank < 0.4, "{mean_rank}");
        let mut z = BitString::zeros(s.len());
        m.mutate(&mut z, &mut rng);
        let restored: Vec<usize> = z.iter_ones().collect();
        let mean_rank = restored.iter().map(|&j| s.rank[j]).sum::<f32>() / restored.len() as f32;
        assert!(mean_rank > 0.6, "{mean_rank}");
        // the rate follows the population's spread, within bounds
        let a = BitString::ones(100);
        let mut b = a.clone();
        (0..10).for_each(|j| b.set(j, false));
        assert!((Adapt::rate_for(&[&a, &b], (0.0, 1.0)) - 0.05).abs() < 1e-12);
        assert_eq!(Adapt::rate_for(&[&a, &b], (0.0, 0.01)), 0.01);
        // crossed bounds (mutation_min / len above the cap on a tiny space): the cap, no panic
        assert_eq!(Adapt::rate_for(&[&a, &b], (0.6, 0.5)), 0.5);
    }

    #[test]
    fn incremental_evaluation_equals_full_evaluation_up_to_rounding() {
        let (m, val, s, light) = setup(ModelKind::Lenet300100);
        let inc = Survivors::new(m.clone(), val.clone(), s.clone(), &[Cost::Params], true);
        let full = Survivors::new(m.clone(), val.clone(), s.clone(), &[Cost::Params], false);
        assert!(inc.is_incremental() && !full.is_incremental());
        let samp = ImportanceSampling {
            space: s.clone(),
            light,
        };
        let pop = samp.sample(6, &mut rng_from_seed(5));
        let refs: Vec<&BitString> = pop.iter().collect();
        inc.set_bases(&refs).unwrap();
        let mutation = ImportanceMutation {
            space: s.clone(),
            rate: Rate::new(0.002),
        };
        let mut rng = rng_from_seed(9);
        for p in &pop {
            let mut c = p.clone();
            mutation.mutate(&mut c, &mut rng);
            let a = inc.evaluate(&c).unwrap();
            let b = full.evaluate(&c).unwrap();
            assert_eq!(a.objectives[1], b.objectives[1]);
            // at most one of 40 images may flip on a near-tie
            assert!((a.objectives[0] - b.objectives[0]).abs() <= 1.0 / 40.0 + 1e-12);
        }
        assert_eq!(inc.counters[0].load(Ordering::Relaxed), 6);
        // the logits themselves agree closely: compare a child's tail forward
        let mut c = pop[3].clone();
        mutation.mutate(&mut c, &mut rng);
        let p = inc.params_of(&c);
        let direct = m.logits(&p, &val.x).unwrap();
        let i = inc.inc.as_ref().unwrap();
        let z = inc.full_z(i, &c).unwrap();
        let mut zn = vec![0.0; 300 * val.len()];
        for o in 0..300 {
            for k in 0..val.len() {
                zn[k * 300 + o] = z[o * val.len() + k];
            }
        }
        let tail = evoprune_nn::dense::logits_from_first(&i.shape, &p, &zn).unwrap();
        for (a, b) in tail.iter().zip(&direct) {
            assert!((a - b).abs() < 1e-3, "{a} {b}");
        }
    }

    #[test]
    fn lenet_space_and_problem() {
        let (m, val, s, _) = setup(ModelKind::Lenet);
        assert_eq!(s.layer_bits.len(), 4);
        let p = Survivors::new(m.clone(), val.clone(), s.clone(), &[Cost::Flops], true);
        assert!(!p.is_incremental());
        let all = BitString::ones(s.len());
        let e = p.evaluate(&all).unwrap();
        let keep = s.keep_mask(&all, m.n_weights());
        let want = crate::phase1::score(&m, &keep, &val, &[Cost::Flops]).unwrap();
        assert_eq!(e.objectives, want);
        assert!(p.evaluate(&BitString::ones(3)).is_err());
    }
}
