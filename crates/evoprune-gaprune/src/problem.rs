//! The genome (one bit per conv filter and per FC connection), the prune-only mutation, the
//! data, and the evaluation of a candidate: error on the validation images, remaining FLOPs and
//! remaining parameters, measured on the physically compacted network.

use crate::subject::{Subject, Weights};
use crate::{GapruneError, Result};
use evoprune::{BitString, Evaluation, EvoRng, Mutation, ObjectiveSpec, Problem, Sampling};
pub use evoprune_data::digits28::{Data, Part, synthetic_digits};
use evoprune_nn::lenet::{C1, C2, FC1_IN, H, LeNetMask, Net, OUT, count_errors};
use rand::Rng;
use std::sync::Arc;

/// Bits of the genome: 20 conv1 filters, 50 conv2 filters, 400,000 FC1 and 5,000 FC2 connections.
pub const GENOME_LEN: usize = C1 + C2 + H * FC1_IN + OUT * H;
const O_C2: usize = C1;
const O_F1: usize = C1 + C2;
/// LeNet's filter genes (conv1 then conv2); the rest are connection genes.
pub const FILTER_BITS: usize = O_F1;
const O_F2: usize = O_F1 + H * FC1_IN;
/// Parameters of the unpruned LeNet.
pub const FULL_PARAMS: usize = 431_080;
/// Multiply-accumulates per image of the unpruned LeNet.
pub const FULL_MACS: usize = 2_293_000;

/// The mask a genome encodes.
pub fn decode(g: &BitString) -> LeNetMask {
    let b = g.to_bools();
    LeNetMask {
        conv1: b[..O_C2].to_vec(),
        conv2: b[O_C2..O_F1].to_vec(),
        fc1: b[O_F1..O_F2].to_vec(),
        fc2: b[O_F2..].to_vec(),
    }
}

/// The genome of a mask.
pub fn encode(m: &LeNetMask) -> BitString {
    let mut b = Vec::with_capacity(GENOME_LEN);
    b.extend_from_slice(&m.conv1);
    b.extend_from_slice(&m.conv2);
    b.extend_from_slice(&m.fc1);
    b.extend_from_slice(&m.fc2);
    BitString::from_bools(&b)
}

/// Clear the FC1 bits of the inputs of dead conv2 filters, so a genome's bits are exactly its
/// living connections (the phenotype does not change).
pub fn canonicalize(g: &mut BitString) {
    let dead: Vec<usize> = (0..C2).filter(|&c| !g.get(O_C2 + c)).collect();
    for c in dead {
        for o in 0..H {
            for q in 0..16 {
                g.set(O_F1 + o * FC1_IN + c * 16 + q, false);
            }
        }
    }
}

/// The paper's prune-only mutation: every living conv filter (or coupled-channel group)
/// dies with probability `conv` (Pmc; on LeNet a dead conv1 filter also removes conv2's input
/// channel, a dead conv2 filter its 16 FC1 inputs), every living FC connection with
/// probability `fc` (Pmf). Nothing is regrown. With `rates`, filter gene `i` dies with
/// probability `conv * rates[i]` (at most 1) instead: importance-biased pruning, not the paper's.
#[derive(Clone, Debug)]
pub struct PruneMutation {
    /// Pmc.
    pub conv: f64,
    /// Pmf.
    pub fc: f64,
    /// The network: its first `filter_bits()` genes are filters, the others connections.
    pub subject: Subject,
    /// Relative death rate of each filter gene ([`importance_rates`]); `None`: uniform.
    pub rates: Option<Arc<Vec<f64>>>,
}

/// Relative death rates of the filter genes from their importance (higher: carries more),
/// for the genes alive in `reference`: ranked by importance (ties by index), the gene at rank
/// quantile `q` (0: least important) gets `3 (1 - q)^2`, so the rates average 1 over the living
/// genes (the mutation removes as many as uniform Pmc does), the least important dies 3x as
/// often and the top quarter at most 0.19x. Dead genes get 1 (they cannot die again).
pub fn importance_rates(importance: &[f64], reference: &BitString) -> Vec<f64> {
    let mut living: Vec<usize> = (0..importance.len())
        .filter(|&i| reference.get(i))
        .collect();
    living.sort_by(|&a, &b| importance[a].total_cmp(&importance[b]).then(a.cmp(&b)));
    let mut rates = vec![1.0; importance.len()];
    let l = living.len() as f64;
    for (r, &i) in living.iter().enumerate() {
        let q = (r as f64 + 0.5) / l;
        rates[i] = 3.0 * (1.0 - q) * (1.0 - q);
    }
    rates
}

impl PruneMutation {
    /// The paper's mutation on LeNet.
    pub fn lenet(conv: f64, fc: f64) -> Self {
        PruneMutation {
            conv,
            fc,
            subject: Subject::Lenet,
            rates: None,
        }
    }
}

impl Mutation<BitString> for PruneMutation {
    fn mutate(&self, g: &mut BitString, rng: &mut EvoRng) {
        let filters = self.subject.filter_bits();
        let alive: Vec<usize> = g.iter_ones().collect();
        for i in alive {
            let p = match &self.rates {
                _ if i >= filters => self.fc,
                Some(r) => (self.conv * r[i]).min(1.0),
                None => self.conv,
            };
            if rng.random::<f64>() < p {
                g.set(i, false);
            }
        }
        self.subject.canonicalize(g);
    }
}

/// An initial population: `keep` (unchanged, first, when given) then mutants of `parent`
/// (the paper's lines 1-3 and 15-18), or a fixed list of genomes (carried over between
/// NSGA-II cycles).
#[derive(Clone, Debug)]
pub enum Seeding {
    /// `[parent if keep_parent] + mutants of parent`.
    Mutants {
        /// The genome to mutate.
        parent: BitString,
        /// Whether the parent itself is member 0.
        keep_parent: bool,
        /// The mutation.
        mutation: PruneMutation,
    },
    /// Exactly these genomes (cycled if fewer than asked).
    Given(Vec<BitString>),
}

impl Sampling<BitString> for Seeding {
    fn sample(&self, n: usize, rng: &mut EvoRng) -> Vec<BitString> {
        match self {
            Seeding::Mutants {
                parent,
                keep_parent,
                mutation,
            } => {
                let mut out = Vec::with_capacity(n);
                if *keep_parent {
                    out.push(parent.clone());
                }
                while out.len() < n {
                    let mut g = parent.clone();
                    mutation.mutate(&mut g, rng);
                    out.push(g);
                }
                out
            }
            Seeding::Given(v) => v.iter().cycle().take(n).cloned().collect(),
        }
    }
}

/// Load and split the data of `cfg`, the images fitted to the network's input.
pub fn prepare(cfg: &crate::config::Config, subject: &Subject) -> Result<Data> {
    let mut data = evoprune_data::digits28::prepare(&cfg.data, cfg.seed)?;
    if let Subject::Graph(n) = subject {
        if n.classes < 10 {
            return Err(GapruneError::invalid(
                "model",
                format!("the network has {} classes; the digits need 10", n.classes),
            ));
        }
        for p in [&mut data.train, &mut data.val, &mut data.test] {
            p.x = n.fit(&p.x, p.len(), [1, 28, 28])?;
        }
    }
    Ok(data)
}

/// Error, remaining-FLOPs fraction and remaining-parameter fraction of a mask (`c` and `1 - s`
/// of the paper), the error measured with `net`'s weights on `part`, after compaction.
pub fn measure(net: &Net, mask: &LeNetMask, part: &Part) -> Result<[f64; 3]> {
    let c = net.compact(mask)?;
    let z = c.net.logits(&part.x)?;
    let e = count_errors(&z, &part.y) as f64 / part.len() as f64;
    Ok([
        e,
        mask.macs() as f64 / FULL_MACS as f64,
        mask.param_count() as f64 / FULL_PARAMS as f64,
    ])
}

/// What candidates are scored on: validation images, and the training images on which a
/// network's batch-norm statistics are re-estimated first (`search.recalibrate`).
#[derive(Clone, Debug, Default)]
pub struct Scoring {
    /// The fitness images.
    pub val: Part,
    /// Recalibration images (empty: the statistics are used as they are, the paper).
    pub calib: Part,
    /// Recalibration batch size.
    pub batch: usize,
}

impl Scoring {
    /// Scoring on `val` alone.
    pub fn plain(val: Part) -> Self {
        Scoring {
            val,
            ..Scoring::default()
        }
    }
}

/// The search problem for one weight set: minimise (validation error, remaining FLOPs,
/// 1 - sparsity).
pub struct Pruning {
    subject: Subject,
    weights: Arc<Weights>,
    val: Arc<Scoring>,
    specs: Vec<ObjectiveSpec>,
}

impl Pruning {
    /// Candidates of `subject` are scored with `weights` as `val` says.
    pub fn new(subject: Subject, weights: Arc<Weights>, val: Arc<Scoring>) -> Self {
        Pruning {
            subject,
            weights,
            val,
            specs: vec![
                ObjectiveSpec::minimize("error"),
                ObjectiveSpec::minimize("flops"),
                ObjectiveSpec::minimize("params"),
            ],
        }
    }
}

impl Problem for Pruning {
    type Genome = BitString;
    type Error = GapruneError;

    fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    fn name(&self) -> &str {
        match self.subject {
            Subject::Lenet => "lenet-ga-pruning",
            Subject::Graph(_) => "ga-pruning",
        }
    }

    fn batch_hint(&self) -> usize {
        2
    }

    fn evaluate(&self, g: &BitString) -> Result<Evaluation> {
        let [e, c, p] = self.subject.measure(&self.weights, g, &self.val)?;
        Ok(Evaluation::new(vec![e, c, p]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune::rng_from_seed;
    use evoprune_nn::lenet::LeNet;

    #[test]
    fn genome_round_trips_and_mutation_only_prunes_at_the_given_rates() {
        let full = encode(&LeNetMask::full());
        assert_eq!(full.len(), GENOME_LEN);
        assert_eq!(decode(&full), LeNetMask::full());
        let m = PruneMutation::lenet(0.1, 0.15);
        let mut rng = rng_from_seed(3);
        let mut g = full.clone();
        m.mutate(&mut g, &mut rng);
        // prune-only: every surviving bit was set before
        assert!(g.iter_ones().all(|i| full.get(i)));
        let mask = decode(&g);
        let dead2 = mask.conv2.iter().filter(|b| !**b).count();
        // FC2 connections die at ~15% (5000 trials: 750 +- 4 sigma)
        let fc2_dead = mask.fc2.iter().filter(|b| !**b).count();
        assert!((650..850).contains(&fc2_dead), "{fc2_dead}");
        // canonical: the inputs of dead conv2 filters are cleared, so the genome equals the
        // phenotype
        for c in (0..C2).filter(|&c| !mask.conv2[c]) {
            assert!((0..H).all(|o| !mask.fc1[o * FC1_IN + c * 16]));
        }
        let alive_fc1 = mask.fc1.iter().filter(|b| **b).count();
        let expect = (50 - dead2) as f64 * 16.0 * 500.0 * 0.85;
        assert!((alive_fc1 as f64 - expect).abs() < 0.02 * expect);
        // a second mutation only acts on what is still alive
        let mut g2 = g.clone();
        m.mutate(&mut g2, &mut rng);
        assert!(g2.iter_ones().all(|i| g.get(i)));
    }

    #[test]
    fn importance_biased_mutation_prunes_the_least_important_first() {
        // LeNet's 70 filter genes ranked by index, gene 3 dead
        let mut reference = encode(&LeNetMask::full());
        reference.set(3, false);
        let importance: Vec<f64> = (0..FILTER_BITS).map(|i| i as f64).collect();
        let rates = importance_rates(&importance, &reference);
        let living: Vec<usize> = (0..FILTER_BITS).filter(|&i| i != 3).collect();
        let mean = living.iter().map(|&i| rates[i]).sum::<f64>() / living.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        assert_eq!(rates[3], 1.0);
        // ranked: the least important living gene the highest rate, falling with importance
        assert!(living.windows(2).all(|w| rates[w[0]] > rates[w[1]]));
        assert!(
            rates[0] > 2.9 && rates[FILTER_BITS - 1] < 0.001,
            "{rates:?}"
        );
        // the mutation follows the rates: over many mutants, the least important fifth dies
        // far more often than the most important fifth, and as often overall as uniform Pmc
        let m = PruneMutation {
            rates: Some(Arc::new(rates)),
            ..PruneMutation::lenet(0.1, 0.0)
        };
        let mut rng = rng_from_seed(7);
        let mut deaths = vec![0usize; FILTER_BITS];
        let trials = 2000;
        for _ in 0..trials {
            let mut g = reference.clone();
            m.mutate(&mut g, &mut rng);
            for (i, d) in deaths.iter_mut().enumerate() {
                *d += usize::from(reference.get(i) && !g.get(i));
            }
        }
        let fifth = FILTER_BITS / 5;
        let low: usize = deaths[..fifth].iter().sum();
        let high: usize = deaths[FILTER_BITS - fifth..].iter().sum();
        assert!(low > 20 * high.max(1), "{low} vs {high}");
        let total = deaths.iter().sum::<usize>() as f64 / trials as f64;
        let uniform = 0.1 * living.len() as f64;
        assert!(
            (total - uniform).abs() < 0.1 * uniform,
            "{total} vs {uniform}"
        );
        assert_eq!(deaths[3], 0);
    }

    #[test]
    fn evaluation_is_error_flops_and_params_of_the_mask() {
        let net = Arc::new(Net::from_lenet(&LeNet::random(1)).unwrap());
        let val = Arc::new(synthetic_digits(20, 1));
        let w = Arc::new(Weights::Lenet((*net).clone()));
        let p = Pruning::new(Subject::Lenet, w, Arc::new(Scoring::plain((*val).clone())));
        let full = p.evaluate(&encode(&LeNetMask::full())).unwrap();
        assert_eq!(&full.objectives[1..], &[1.0, 1.0]);
        let mut m = LeNetMask::full();
        (0..10).for_each(|f| m.conv1[f] = false);
        let e = p.evaluate(&encode(&m)).unwrap();
        assert!((e.objectives[1] - m.macs() as f64 / FULL_MACS as f64).abs() < 1e-12);
        assert!(e.objectives[1] < 0.7);
        // the error is the masked network's
        let z = net.masked(&m).unwrap().logits(&val.x).unwrap();
        assert_eq!(e.objectives[0], count_errors(&z, &val.y) as f64 / 20.0);
        assert!(p.evaluate(&BitString::ones(5)).is_err());
    }
}
