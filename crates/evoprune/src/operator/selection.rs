//! Mating selection.

use super::Selection;
use crate::genome::GenomeDistance;
use crate::{EvoRng, Individual};
use rand::Rng;
use rand::seq::SliceRandom;

/// How a binary tournament decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TournamentRule {
    /// pymoo's NSGA-II default: smaller constraint violation if either is infeasible, else Pareto
    /// dominance, else larger crowding distance, else a coin flip.
    #[default]
    DominanceAndCrowding,
    /// Deb's crowded comparison: lower rank, else larger crowding distance, else a coin flip.
    RankAndCrowding,
}

fn tournament_winner<G>(
    pop: &[Individual<G>],
    a: usize,
    b: usize,
    rule: TournamentRule,
) -> Option<usize> {
    let (x, y) = (&pop[a], &pop[b]);
    match rule {
        TournamentRule::DominanceAndCrowding => {
            if x.cv > 0.0 || y.cv > 0.0 {
                return match x.cv.total_cmp(&y.cv) {
                    std::cmp::Ordering::Less => Some(a),
                    std::cmp::Ordering::Greater => Some(b),
                    std::cmp::Ordering::Equal => None,
                };
            }
            match crate::pareto::compare(&x.f, &y.f) {
                crate::pareto::Dominance::Dominates => return Some(a),
                crate::pareto::Dominance::Dominated => return Some(b),
                crate::pareto::Dominance::Indifferent => {}
            }
        }
        TournamentRule::RankAndCrowding => {
            if x.rank != y.rank {
                return Some(if x.rank < y.rank { a } else { b });
            }
        }
    }
    if x.crowding != y.crowding {
        return Some(if x.crowding > y.crowding { a } else { b });
    }
    None
}

/// A stream of population indices drawn from successive random permutations, so every member
/// takes part in tournaments equally often (as pymoo's `TournamentSelection` does).
struct PermutationStream {
    perm: Vec<usize>,
    pos: usize,
}

impl PermutationStream {
    fn new(n: usize) -> Self {
        PermutationStream {
            perm: (0..n).collect(),
            pos: n,
        }
    }
    fn next(&mut self, rng: &mut EvoRng) -> usize {
        if self.pos == self.perm.len() {
            self.perm.shuffle(rng);
            self.pos = 0;
        }
        self.pos += 1;
        self.perm[self.pos - 1]
    }
}

fn tournament<G>(
    pop: &[Individual<G>],
    s: &mut PermutationStream,
    rule: TournamentRule,
    rng: &mut EvoRng,
) -> usize {
    let (a, b) = (s.next(rng), s.next(rng));
    tournament_winner(pop, a, b, rule).unwrap_or_else(|| if rng.random::<bool>() { a } else { b })
}

/// NSGA-II's mating selection: binary tournaments decided by a [`TournamentRule`] (default:
/// pymoo's domination-then-crowding; [`BinaryTournament::rank_and_crowding`] for Deb's crowded
/// comparison). Survival must have set `rank` and `crowding`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryTournament {
    /// How each tournament is decided.
    pub rule: TournamentRule,
}

impl BinaryTournament {
    /// Deb's crowded-comparison tournament (rank, then crowding).
    pub fn rank_and_crowding() -> Self {
        BinaryTournament {
            rule: TournamentRule::RankAndCrowding,
        }
    }
}

impl<G> Selection<G> for BinaryTournament {
    fn select(
        &self,
        pop: &[Individual<G>],
        n_pairs: usize,
        rng: &mut EvoRng,
    ) -> Vec<(usize, usize)> {
        assert!(!pop.is_empty(), "selection from an empty population");
        let mut s = PermutationStream::new(pop.len());
        (0..n_pairs)
            .map(|_| {
                (
                    tournament(pop, &mut s, self.rule, rng),
                    tournament(pop, &mut s, self.rule, rng),
                )
            })
            .collect()
    }
}

/// Negative assortative mating (Fernandes et al. 2001): the first parent wins a binary
/// tournament; the second is, among `candidates` tournament winners, the one farthest from the
/// first in genome space. Promotes diversity.
#[derive(Clone, Debug)]
pub struct NegativeAssortativeMating {
    /// How many candidate mates to compare (default 3).
    pub candidates: usize,
}

impl Default for NegativeAssortativeMating {
    fn default() -> Self {
        NegativeAssortativeMating { candidates: 3 }
    }
}

impl<G: GenomeDistance + Send + Sync> Selection<G> for NegativeAssortativeMating {
    fn select(
        &self,
        pop: &[Individual<G>],
        n_pairs: usize,
        rng: &mut EvoRng,
    ) -> Vec<(usize, usize)> {
        assert!(!pop.is_empty(), "selection from an empty population");
        let mut s = PermutationStream::new(pop.len());
        (0..n_pairs)
            .map(|_| {
                let a = tournament(pop, &mut s, TournamentRule::default(), rng);
                let mut best = (f64::NEG_INFINITY, a);
                for _ in 0..self.candidates.max(1) {
                    let c = tournament(pop, &mut s, TournamentRule::default(), rng);
                    let d = pop[a].genome.distance(&pop[c].genome);
                    if d > best.0 {
                        best = (d, c);
                    }
                }
                (a, best.1)
            })
            .collect()
    }
}

/// Truncation selection for scalarised fitness (Yang et al. 2019): each pair is two distinct
/// members drawn uniformly from the `k` best, the better one first (the microbial winner).
/// "Best" orders feasible before infeasible, then by violation, then by `fitness`.
#[derive(Clone, Debug)]
pub struct TopK {
    /// How many of the best take part.
    pub k: usize,
}

impl TopK {
    /// Indices of `pop` from best to worst by (violation, fitness, index).
    pub fn order<G>(pop: &[Individual<G>]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..pop.len()).collect();
        idx.sort_by(|&a, &b| {
            pop[a]
                .cv
                .total_cmp(&pop[b].cv)
                .then(pop[a].fitness.total_cmp(&pop[b].fitness))
                .then(a.cmp(&b))
        });
        idx
    }
}

impl<G> Selection<G> for TopK {
    fn select(
        &self,
        pop: &[Individual<G>],
        n_pairs: usize,
        rng: &mut EvoRng,
    ) -> Vec<(usize, usize)> {
        assert!(!pop.is_empty(), "selection from an empty population");
        let order = Self::order(pop);
        let k = self.k.clamp(1, pop.len());
        (0..n_pairs)
            .map(|_| {
                if k == 1 {
                    return (order[0], order[0]);
                }
                let i = rng.random_range(0..k);
                let mut j = rng.random_range(0..k - 1);
                if j >= i {
                    j += 1;
                }
                // positions in `order` are ranks: the smaller one is the winner
                (order[i.min(j)], order[i.max(j)])
            })
            .collect()
    }
}
