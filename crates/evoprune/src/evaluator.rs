//! Evaluation: caching, batching, threads, and journal replay after a crash.

use crate::checkpoint::Journal;
use crate::problem::{Outcome, Problem};
use crate::{Error, Individual, Result, State};
use rustc_hash::FxHashMap;

/// Evaluates genomes outside this process (the workers of a cluster). Results come back in
/// input order; a candidate's own failure is an `Err` outcome, a failure of the transport (no
/// worker left, a lost connection) is the call's error and stops the run with its journal intact.
pub trait Remote<G>: Send + Sync {
    /// How many candidates it evaluates at once: the evaluator sends waves of this many times
    /// the problem's batch hint, and journals each wave as it comes back.
    fn parallelism(&self) -> usize;
    /// Evaluate `genomes` on the problem this remote was made for.
    fn evaluate(&self, genomes: &[&G]) -> std::result::Result<Vec<Outcome>, String>;
}

/// Wraps a [`Problem`]: serves repeated genomes from the cache, hands the rest to
/// `evaluate_batch` (split across threads when asked), charges evaluations, updates the archive
/// and appends every new outcome to the crash journal. Results always come back in input order,
/// so runs are identical whatever the number of threads.
pub struct Evaluator<'p, P: Problem> {
    problem: &'p P,
    threads: usize,
    #[cfg(feature = "parallel")]
    pool: Option<rayon::ThreadPool>,
    replay: FxHashMap<P::Genome, Outcome>,
    journal: Option<Journal>,
    remote: Option<std::sync::Arc<dyn Remote<P::Genome>>>,
}

impl<'p, P: Problem> Evaluator<'p, P> {
    /// An evaluator for `problem` on `threads` threads (1: the calling thread only).
    pub fn new(problem: &'p P, threads: usize) -> Result<Self> {
        if threads == 0 {
            return Err(Error::config("threads", "must be at least 1"));
        }
        #[cfg(feature = "parallel")]
        let pool = if threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| Error::config("threads", e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Evaluator {
            problem,
            threads,
            #[cfg(feature = "parallel")]
            pool,
            replay: FxHashMap::default(),
            journal: None,
            remote: None,
        })
    }

    /// Evaluate on `remote` instead of this process's threads.
    pub fn set_remote(&mut self, remote: std::sync::Arc<dyn Remote<P::Genome>>) {
        self.remote = Some(remote);
    }

    /// The wrapped problem.
    pub fn problem(&self) -> &'p P {
        self.problem
    }

    pub(crate) fn set_journal(&mut self, journal: Journal, replay: Vec<(P::Genome, Outcome)>) {
        self.replay = replay.into_iter().collect();
        self.journal = Some(journal);
    }

    /// Outcomes recovered from the journal and not used yet.
    pub(crate) fn pending_replay(&self) -> impl Iterator<Item = (&P::Genome, &Outcome)> {
        self.replay.iter()
    }

    pub(crate) fn journal_mut(&mut self) -> Option<&mut Journal> {
        self.journal.as_mut()
    }

    /// Evaluate `genomes`, charging `state.stats` and filling `state.cache` and `state.archive`.
    pub fn evaluate(
        &mut self,
        genomes: Vec<P::Genome>,
        state: &mut State<P::Genome>,
    ) -> Result<Vec<Individual<P::Genome>>> {
        let n = genomes.len();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        let mut todo: Vec<usize> = Vec::new();
        // with a cache, a genome repeated within the batch is computed once
        let mut first_of: FxHashMap<&P::Genome, usize> = FxHashMap::default();
        let mut copies: Vec<(usize, usize)> = Vec::new();
        for (i, g) in genomes.iter().enumerate() {
            if let Some(o) = state.cache.as_ref().and_then(|c| c.get(g)) {
                outcomes[i] = Some(o.clone());
                state.stats.cache_hits += 1;
            } else if state.cache.is_some()
                && let Some(&j) = first_of.get(g)
            {
                copies.push((i, j));
                state.stats.cache_hits += 1;
            } else {
                if state.cache.is_some() {
                    first_of.insert(g, i);
                }
                if let Some(o) = self.replay.remove(g) {
                    // computed before a crash: charge it, do not recompute it
                    state.stats.evaluations += 1;
                    state.stats.failures += u64::from(o.is_err());
                    outcomes[i] = Some(o);
                } else {
                    todo.push(i);
                }
            }
        }
        drop(first_of);

        // Evaluate in waves of `threads x batch_hint` genomes, journaling each wave as it
        // completes: a crash loses at most the wave in flight.
        let workers = self
            .remote
            .as_ref()
            .map_or(self.threads, |r| r.parallelism());
        let wave = workers
            .max(1)
            .saturating_mul(self.problem.batch_hint().max(1));
        for part in todo.chunks(wave) {
            let refs: Vec<&P::Genome> = part.iter().map(|&i| &genomes[i]).collect();
            let computed = self.compute(&refs)?;
            for (&i, o) in part.iter().zip(computed) {
                state.stats.evaluations += 1;
                state.stats.failures += u64::from(o.is_err());
                if let Some(j) = self.journal.as_mut() {
                    j.append(&genomes[i], &o)?;
                }
                outcomes[i] = Some(o);
            }
            if let Some(j) = self.journal.as_mut() {
                j.flush()?;
            }
        }
        for (i, j) in copies {
            outcomes[i] = outcomes[j].clone();
        }

        let specs = self.problem.objectives();
        let nc = self.problem.n_constraints();
        let mut out = Vec::with_capacity(n);
        for (g, o) in genomes.into_iter().zip(outcomes) {
            let o = o.expect("every genome has an outcome");
            if let Some(c) = state.cache.as_mut()
                && c.get(&g).is_none()
            {
                c.insert(g.clone(), o.clone());
            }
            let ind = Individual::from_outcome(g, o, specs, nc)?;
            if let Some(a) = state.archive.as_mut()
                && ind.is_feasible()
            {
                a.offer(&ind.f, ind.genome.clone());
            }
            out.push(ind);
        }
        Ok(out)
    }

    fn compute(&self, genomes: &[&P::Genome]) -> Result<Vec<Outcome>> {
        if genomes.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(r) = &self.remote {
            let out = r
                .evaluate(genomes)
                .map_err(|e| Error::Problem(format!("remote evaluation: {e}")))?;
            if out.len() != genomes.len() {
                return Err(Error::Problem(format!(
                    "remote evaluation returned {} results for {} genomes",
                    out.len(),
                    genomes.len()
                )));
            }
            return Ok(out);
        }
        let results: Vec<std::result::Result<crate::Evaluation, P::Error>> = {
            #[cfg(feature = "parallel")]
            {
                match &self.pool {
                    Some(pool) if genomes.len() > 1 => {
                        use rayon::prelude::*;
                        let chunk = genomes.len().div_ceil(self.threads);
                        let parts: Vec<Vec<_>> = pool.install(|| {
                            genomes
                                .par_chunks(chunk)
                                .map(|c| self.checked_batch(c))
                                .collect::<Result<_>>()
                        })?;
                        parts.into_iter().flatten().collect()
                    }
                    _ => self.checked_batch(genomes)?,
                }
            }
            #[cfg(not(feature = "parallel"))]
            {
                self.checked_batch(genomes)?
            }
        };
        Ok(results
            .into_iter()
            .map(|r| r.map_err(|e| error_chain(&e)))
            .collect())
    }

    fn checked_batch(
        &self,
        genomes: &[&P::Genome],
    ) -> Result<Vec<std::result::Result<crate::Evaluation, P::Error>>> {
        let r = self.problem.evaluate_batch(genomes);
        if r.len() != genomes.len() {
            return Err(Error::Problem(format!(
                "evaluate_batch returned {} results for {} genomes",
                r.len(),
                genomes.len()
            )));
        }
        Ok(r)
    }
}

/// `error: cause: cause` — the whole chain in one line, as stored for a failed candidate.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
