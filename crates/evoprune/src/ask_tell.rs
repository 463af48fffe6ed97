//! Ask and tell: an [`Algorithm`] whose candidates are evaluated elsewhere (a Python loop, a
//! Ray cluster), handed out with an id and told back in any order.
//!
//! Two modes:
//! - [`Mode::Generational`]: a whole generation is asked, and the algorithm sees it only once
//!   every member is told, in the order it was asked. The front is therefore bit-identical to
//!   the [`Executor`](crate::Executor)'s on the same seed, whatever the number of workers and
//!   the order results come back in.
//! - [`Mode::Asynchronous`]: steady state. A new candidate is bred from the population as it is
//!   whenever one is asked (a worker is free), and each result enters the population as soon as
//!   it is told. The run depends on the order of asks and tells; a checkpoint directory
//!   ([`AskTell::checkpoint`]) journals that order, so a resume replays it exactly and ends
//!   where an uninterrupted run with the same order would.
//!
//! Candidates already evaluated (the cache) or in flight are never handed out twice.

use crate::algorithm::Algorithm;
use crate::checkpoint::{FileCheckpoint, Journal};
use crate::genome::Genome;
use crate::pareto::Archive;
use crate::problem::{ObjectiveSpec, Outcome};
use crate::state::EvalCache;
use crate::{Error, Individual, Result, State};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How an [`AskTell`] session hands out candidates and takes results back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Whole generations; deterministic for any number of workers and any tell order.
    Generational,
    /// Steady state: one candidate per ask, each result taken in when told.
    Asynchronous,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "generational" => Ok(Mode::Generational),
            "asynchronous" | "async" => Ok(Mode::Asynchronous),
            other => Err(Error::config(
                "mode",
                format!("'{other}': expected 'generational' or 'asynchronous'"),
            )),
        }
    }
}

/// The generation in flight (generational mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "G: Genome")]
struct Batch<G: Genome> {
    genomes: Vec<G>,
    outcomes: Vec<Option<Outcome>>,
    /// For each genome: the earlier member it repeats (computed once).
    copy_of: Vec<Option<usize>>,
    /// Members still to hand out, in order.
    queue: VecDeque<usize>,
}

/// Everything an [`AskTell`] session remembers: the run state plus what is in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "G: Genome")]
pub struct Session<G: Genome> {
    /// The run state (population, RNG, counters, cache, archive).
    pub state: State<G>,
    mode: Mode,
    next_id: u64,
    /// Handed out and not told yet: id -> (genome, member of the batch in generational mode).
    pending: BTreeMap<u64, (G, usize)>,
    batch: Option<Batch<G>>,
    /// Asynchronous mode: initial candidates not handed out yet (`None` before sampling).
    initial: Option<VecDeque<G>>,
    /// Consecutive generations (or asks) that found nothing new to evaluate.
    stalled: u64,
}

/// One journal record of an asynchronous session.
#[derive(Serialize, Deserialize)]
#[serde(bound = "G: Genome")]
enum Record<G: Genome> {
    Ask(u64, G),
    Tell(u64, Outcome),
}

const SESSION_FILE: &str = "session.ckpt";
const EVENTS_FILE: &str = "events.journal";

/// An ask/tell session of algorithm `A` over genome `G` (see the module docs).
///
/// ```
/// use evoprune::{AskTell, Evaluation, Mode, Nsga2, Nsga2Config, ObjectiveSpec, RealBounds};
/// let bounds = RealBounds::new(vec![0.0], vec![2.0]).unwrap();
/// let algo = Nsga2::real(Nsga2Config { pop_size: 10, ..Default::default() }, bounds).unwrap();
/// let specs = vec![ObjectiveSpec::minimize("f1"), ObjectiveSpec::minimize("f2")];
/// let mut s = AskTell::new(algo, specs, 0, Mode::Generational, 1).unwrap();
/// for _ in 0..5 {
///     let asked = s.ask(usize::MAX).unwrap();
///     for (id, x) in asked.into_iter().rev() {
///         let f = vec![x[0] * x[0], (x[0] - 2.0).powi(2)];
///         s.tell(id, Ok(Evaluation::new(f))).unwrap();
///     }
/// }
/// assert_eq!(s.state().stats.generation, 4);
/// ```
pub struct AskTell<G: Genome, A> {
    algorithm: A,
    specs: Vec<ObjectiveSpec>,
    n_constraints: usize,
    session: Session<G>,
    hv_reference: Option<Vec<f64>>,
    stall_limit: u64,
    checkpoint: Option<(FileCheckpoint, Journal)>,
    /// Replaying a journal: do not record again.
    replaying: bool,
}

impl<G: Genome, A: Algorithm<G>> AskTell<G, A> {
    /// A session of `algorithm` on a problem with objectives `specs` and `n_constraints`
    /// inequality constraints, seeded with `seed`. The cache is on.
    pub fn new(
        algorithm: A,
        specs: Vec<ObjectiveSpec>,
        n_constraints: usize,
        mode: Mode,
        seed: u64,
    ) -> Result<Self> {
        if specs.is_empty() {
            return Err(Error::config("objectives", "need at least one objective"));
        }
        algorithm.check(&specs)?;
        if mode == Mode::Asynchronous {
            // offspring_one is the algorithm's own answer; ask it once on a scratch state
            let mut scratch = State::new(seed);
            if algorithm.offspring_one(&mut scratch).is_none() {
                return Err(Error::config(
                    "mode",
                    format!(
                        "{} is generational only; use mode 'generational'",
                        algorithm.name()
                    ),
                ));
            }
        }
        let mut state = State::new(seed);
        state.cache = Some(EvalCache::default());
        Ok(AskTell {
            algorithm,
            specs,
            n_constraints,
            session: Session {
                state,
                mode,
                next_id: 0,
                pending: BTreeMap::new(),
                batch: None,
                initial: None,
                stalled: 0,
            },
            hv_reference: None,
            stall_limit: crate::DEFAULT_STALL_LIMIT,
            checkpoint: None,
            replaying: false,
        })
    }

    /// Keep an archive of every feasible non-dominated result (off by default).
    pub fn archive(mut self, on: bool) -> Self {
        self.session.state.archive = on.then(Archive::new);
        self
    }

    /// Cache results by genome and never hand out a genome evaluated before (on by default).
    pub fn cache(mut self, on: bool) -> Self {
        self.session.state.cache = on.then(EvalCache::default);
        self
    }

    /// Record the hypervolume of the feasible first front after every generation.
    pub fn hv_reference(mut self, reference: Vec<f64>) -> Result<Self> {
        if reference.len() != self.specs.len() {
            return Err(Error::config(
                "hv_reference",
                format!(
                    "{} values for {} objectives",
                    reference.len(),
                    self.specs.len()
                ),
            ));
        }
        self.hv_reference = Some(reference);
        Ok(self)
    }

    /// Persist the session in `dir`: a snapshot every `every` generations (asynchronous mode:
    /// every `every * pop_size` tells) and a journal of every ask and tell in between. When
    /// `dir` holds a session already, it is restored first, its journal replayed, and the
    /// candidates that were in flight are handed out again by [`AskTell::pending`].
    pub fn checkpoint(mut self, dir: impl Into<std::path::PathBuf>, every: u64) -> Result<Self> {
        let ck = FileCheckpoint::new(dir, every);
        let restored: Option<Session<G>> = ck.load_file(SESSION_FILE)?;
        let records: Vec<Record<G>> = if restored.is_some() {
            ck.read_records(EVENTS_FILE)?
        } else {
            Vec::new()
        };
        if let Some(s) = restored {
            if s.mode != self.session.mode {
                return Err(Error::Checkpoint {
                    path: ck.dir().join(SESSION_FILE),
                    reason: format!(
                        "written by a {:?} session, this one is {:?}",
                        s.mode, self.session.mode
                    ),
                });
            }
            self.session = s;
        }
        self.replaying = true;
        let replayed = self.replay(records, &ck);
        self.replaying = false;
        replayed?;
        // the replayed records are in the new snapshot: start the journal afresh
        ck.save_file(SESSION_FILE, &self.session)?;
        let journal = ck.open_records(EVENTS_FILE, true)?;
        self.checkpoint = Some((ck, journal));
        Ok(self)
    }

    fn replay(&mut self, records: Vec<Record<G>>, ck: &FileCheckpoint) -> Result<()> {
        let bad = |reason: String| Error::Checkpoint {
            path: ck.dir().join(EVENTS_FILE),
            reason,
        };
        for r in records {
            match r {
                Record::Ask(id, g) => {
                    let got = self.ask(1)?;
                    match got.first() {
                        Some((i, h)) if *i == id && *h == g => {}
                        _ => {
                            return Err(bad(format!(
                                "ask {id} does not replay to the same candidate (another run's journal?)"
                            )));
                        }
                    }
                }
                Record::Tell(id, o) => self.tell(id, o).map_err(|e| bad(e.to_string()))?,
            }
        }
        Ok(())
    }

    /// The run state.
    pub fn state(&self) -> &State<G> {
        &self.session.state
    }

    /// The whole session (state and what is in flight), e.g. to save it.
    pub fn session(&self) -> &Session<G> {
        &self.session
    }

    /// Continue from a saved session (same algorithm, objectives and mode).
    pub fn restore(&mut self, session: Session<G>) -> Result<()> {
        if session.mode != self.session.mode {
            return Err(Error::config(
                "mode",
                format!(
                    "the saved session is {:?}, this one {:?}",
                    session.mode, self.session.mode
                ),
            ));
        }
        self.session = session;
        Ok(())
    }

    /// The objectives.
    pub fn objectives(&self) -> &[ObjectiveSpec] {
        &self.specs
    }

    /// The algorithm.
    pub fn algorithm(&self) -> &A {
        &self.algorithm
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.session.mode
    }

    /// Candidates handed out and not told yet, by id (after a restore: evaluate these again).
    pub fn pending(&self) -> Vec<(u64, G)> {
        self.session
            .pending
            .iter()
            .map(|(id, (g, _))| (*id, g.clone()))
            .collect()
    }

    /// True when no new candidate can be found: `stall_limit` generations in a row (100)
    /// bred nothing that was not evaluated before.
    pub fn exhausted(&self) -> bool {
        self.session.stalled >= self.stall_limit
    }

    /// Up to `n` new candidates, each with the id to tell its result under. Generational mode
    /// hands out the rest of the current generation and returns fewer (even none) while its
    /// members are out: tell them first. Asynchronous mode always returns `n` unless the search
    /// space is exhausted.
    pub fn ask(&mut self, n: usize) -> Result<Vec<(u64, G)>> {
        let out = match self.session.mode {
            Mode::Generational => self.ask_generational(n)?,
            Mode::Asynchronous => self.ask_async(n)?,
        };
        if !self.replaying
            && let Some((_, j)) = self.checkpoint.as_mut()
        {
            for (id, g) in &out {
                j.record(&Record::Ask(*id, g.clone()))?;
            }
            j.flush()?;
        }
        Ok(out)
    }

    fn ask_generational(&mut self, n: usize) -> Result<Vec<(u64, G)>> {
        let mut out = Vec::new();
        while out.len() < n {
            if self.session.batch.is_none() {
                if self.exhausted() {
                    break;
                }
                self.open_batch();
                if self
                    .session
                    .batch
                    .as_ref()
                    .is_some_and(|b| b.queue.is_empty())
                {
                    // every member was known: the generation completes at once
                    self.close_batch_if_done()?;
                    continue;
                }
            }
            let s = &mut self.session;
            let b = s.batch.as_mut().expect("a batch is open");
            let Some(i) = b.queue.pop_front() else { break };
            let id = s.next_id;
            s.next_id += 1;
            s.pending.insert(id, (b.genomes[i].clone(), i));
            out.push((id, b.genomes[i].clone()));
        }
        Ok(out)
    }

    /// Breed the next generation (the initial population first) and serve what the cache knows.
    fn open_batch(&mut self) {
        let s = &mut self.session;
        let genomes = if s.state.population.is_empty() {
            self.algorithm.sample(&mut s.state)
        } else {
            self.algorithm.offspring(&mut s.state)
        };
        let n = genomes.len();
        let mut outcomes = vec![None; n];
        let mut copy_of = vec![None; n];
        let mut queue = VecDeque::new();
        let mut first: rustc_hash::FxHashMap<&G, usize> = Default::default();
        for (i, g) in genomes.iter().enumerate() {
            if let Some(o) = s.state.cache.as_ref().and_then(|c| c.get(g)) {
                outcomes[i] = Some(o.clone());
                s.state.stats.cache_hits += 1;
            } else if s.state.cache.is_some()
                && let Some(&j) = first.get(g)
            {
                copy_of[i] = Some(j);
                s.state.stats.cache_hits += 1;
            } else {
                if s.state.cache.is_some() {
                    first.insert(g, i);
                }
                queue.push_back(i);
            }
        }
        drop(first);
        s.stalled = if queue.is_empty() { s.stalled + 1 } else { 0 };
        s.batch = Some(Batch {
            genomes,
            outcomes,
            copy_of,
            queue,
        });
    }

    /// When every member of the generation is known, hand it to the algorithm in asked order.
    fn close_batch_if_done(&mut self) -> Result<()> {
        let done = self.session.batch.as_ref().is_some_and(|b| {
            b.queue.is_empty()
                && b.outcomes
                    .iter()
                    .zip(&b.copy_of)
                    .all(|(o, c)| o.is_some() || c.is_some())
        });
        if !done {
            return Ok(());
        }
        let b = self.session.batch.take().expect("checked above");
        let mut outcomes = b.outcomes;
        for (i, c) in b.copy_of.iter().enumerate() {
            if let Some(j) = c {
                outcomes[i] = outcomes[*j].clone();
            }
        }
        let initial = self.session.state.population.is_empty();
        let mut evaluated = Vec::with_capacity(b.genomes.len());
        for (g, o) in b.genomes.into_iter().zip(outcomes) {
            let o = o.expect("every member has an outcome");
            evaluated.push(self.individual(g, o)?);
        }
        let s = &mut self.session;
        self.algorithm.tell(&mut s.state, evaluated);
        if !initial {
            s.state.stats.generation += 1;
        }
        self.record_hv();
        self.maybe_snapshot()
    }

    fn individual(&mut self, g: G, o: Outcome) -> Result<Individual<G>> {
        let ind = Individual::from_outcome(g, o, &self.specs, self.n_constraints)?;
        if let Some(a) = self.session.state.archive.as_mut()
            && ind.is_feasible()
        {
            a.offer(&ind.f, ind.genome.clone());
        }
        Ok(ind)
    }

    fn ask_async(&mut self, n: usize) -> Result<Vec<(u64, G)>> {
        let mut out = Vec::new();
        let mut misses = 0;
        while out.len() < n && !self.exhausted() {
            let s = &mut self.session;
            if s.initial.is_none() {
                s.initial = Some(self.algorithm.sample(&mut s.state).into());
            }
            let g = match s.initial.as_mut().and_then(|q| q.pop_front()) {
                Some(g) => g,
                None => self
                    .algorithm
                    .offspring_one(&mut s.state)
                    .ok_or_else(|| Error::config("mode", "the algorithm is generational only"))?,
            };
            let known = s.state.cache.as_ref().is_some_and(|c| c.get(&g).is_some());
            let in_flight = s.pending.values().any(|(p, _)| *p == g);
            if known || in_flight {
                s.state.stats.cache_hits += 1;
                misses += 1;
                // a stretch of known candidates as long as a generation counts as one stall
                if misses % self.algorithm.pop_size().max(1) == 0 {
                    s.stalled += 1;
                }
                continue;
            }
            s.stalled = 0;
            let id = s.next_id;
            s.next_id += 1;
            s.pending.insert(id, (g.clone(), 0));
            out.push((id, g));
        }
        Ok(out)
    }

    /// The result of candidate `id`: its evaluation, or why it failed (the candidate becomes
    /// infeasible and the run goes on). Unknown or repeated ids are errors.
    pub fn tell(&mut self, id: u64, outcome: Outcome) -> Result<()> {
        let Some((g, member)) = self.session.pending.remove(&id) else {
            return Err(Error::config(
                "id",
                format!("{id} is not a candidate in flight (told twice, or never asked)"),
            ));
        };
        if let Ok(e) = &outcome
            && (e.objectives.len() != self.specs.len() || e.constraints.len() != self.n_constraints)
        {
            self.session.pending.insert(id, (g, member));
            return Err(Error::Problem(format!(
                "candidate {id}: {} objectives and {} constraints, expected {} and {}",
                e.objectives.len(),
                e.constraints.len(),
                self.specs.len(),
                self.n_constraints
            )));
        }
        if !self.replaying
            && let Some((_, j)) = self.checkpoint.as_mut()
        {
            j.record(&Record::<G>::Tell(id, outcome.clone()))?;
            j.flush()?;
        }
        let st = &mut self.session.state;
        st.stats.evaluations += 1;
        st.stats.failures += u64::from(outcome.is_err());
        if let Some(c) = st.cache.as_mut() {
            c.insert(g.clone(), outcome.clone());
        }
        match self.session.mode {
            Mode::Generational => {
                let b = self
                    .session
                    .batch
                    .as_mut()
                    .expect("a pending generational candidate has its batch");
                b.outcomes[member] = Some(outcome);
                self.close_batch_if_done()
            }
            Mode::Asynchronous => {
                let ind = self.individual(g, outcome)?;
                let s = &mut self.session;
                let grown = s.state.population.len() >= self.algorithm.pop_size();
                self.algorithm.tell(&mut s.state, vec![ind]);
                if grown {
                    s.state.stats.generation += 1;
                }
                self.record_hv();
                self.maybe_snapshot()
            }
        }
    }

    fn record_hv(&mut self) {
        if let Some(r) = &self.hv_reference {
            self.session.state.record_hv(r);
        }
    }

    fn maybe_snapshot(&mut self) -> Result<()> {
        if self.replaying {
            return Ok(());
        }
        let stats = &self.session.state.stats;
        let Some((ck, j)) = self.checkpoint.as_mut() else {
            return Ok(());
        };
        let due = match self.session.mode {
            Mode::Generational => ck.due(stats.generation),
            Mode::Asynchronous => {
                let pop = self.algorithm.pop_size().max(1) as u64;
                stats.evaluations.is_multiple_of(pop) && ck.due(stats.evaluations / pop)
            }
        };
        if due {
            ck.save_file(SESSION_FILE, &self.session)?;
            j.reset()?;
        }
        Ok(())
    }

    /// Write a snapshot now (when a checkpoint directory is set).
    pub fn save(&mut self) -> Result<()> {
        if let Some((ck, j)) = self.checkpoint.as_mut() {
            ck.save_file(SESSION_FILE, &self.session)?;
            j.reset()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::{OneMax, Schaffer};
    use crate::{BitString, Executor, MaxGenerations, Nsga2, Nsga2Config, Problem, RealVector};
    use rand::seq::SliceRandom;

    fn nsga(pop: usize, offspring: Option<usize>) -> Nsga2Config {
        Nsga2Config {
            pop_size: pop,
            n_offspring: offspring,
            ..Default::default()
        }
    }

    /// Drive a generational session on `p`, `gens` generations, asking in chunks of `chunk`
    /// and telling each chunk back in a shuffled order.
    fn drive<P: Problem, A: Algorithm<P::Genome>>(
        s: &mut AskTell<P::Genome, A>,
        p: &P,
        gens: u64,
        chunk: usize,
        order_seed: u64,
    ) {
        let mut order = crate::rng_from_seed(order_seed);
        while s.state().stats.generation < gens || s.state().population.is_empty() {
            let mut asked = s.ask(chunk).unwrap();
            assert!(!asked.is_empty(), "a generational session always has work");
            asked.shuffle(&mut order);
            for (id, g) in asked {
                s.tell(id, p.evaluate(&g).map_err(|e| e.to_string()))
                    .unwrap();
            }
        }
    }

    #[test]
    fn generational_ask_tell_equals_the_executor_for_any_chunk_and_tell_order() {
        let p = Schaffer::new();
        let cfg = nsga(20, None);
        let reference = Executor::new(
            Schaffer::new(),
            Nsga2::real(cfg.clone(), p.bounds()).unwrap(),
        )
        .seed(5)
        .termination(MaxGenerations(15))
        .run()
        .unwrap()
        .state;
        for (chunk, order) in [(usize::MAX, 1), (3, 2), (1, 3)] {
            let algo = Nsga2::real(cfg.clone(), p.bounds()).unwrap();
            let mut s =
                AskTell::new(algo, p.objectives().to_vec(), 0, Mode::Generational, 5).unwrap();
            drive(&mut s, &p, 15, chunk, order);
            let st = s.state();
            assert_eq!(st.population, reference.population, "chunk {chunk}");
            assert_eq!(st.rng, reference.rng);
            assert_eq!(st.stats.evaluations, reference.stats.evaluations);
        }
    }

    #[test]
    fn asynchronous_resume_replays_the_journal_to_the_same_population() {
        let p = OneMax::new(24, 0);
        let specs = p.objectives().to_vec();
        let mk = || Nsga2::binary(nsga(8, None), 24).unwrap();
        // a fixed interleaving: 4 workers, results back in a seeded random order
        let run = |s: &mut AskTell<BitString, _>,
                   steps: usize,
                   inflight: &mut Vec<(u64, BitString)>,
                   rng: &mut crate::EvoRng| {
            for _ in 0..steps {
                let need = 4 - inflight.len();
                inflight.extend(s.ask(need).unwrap());
                inflight.shuffle(rng);
                let (id, g) = inflight.pop().unwrap();
                s.tell(id, p.evaluate(&g).map_err(|e| e.to_string()))
                    .unwrap();
            }
        };
        let mut straight = AskTell::new(mk(), specs.clone(), 0, Mode::Asynchronous, 9).unwrap();
        let (mut fl, mut order) = (Vec::new(), crate::rng_from_seed(1));
        run(&mut straight, 60, &mut fl, &mut order);

        let dir = tempfile::tempdir().unwrap();
        let mut first = AskTell::new(mk(), specs.clone(), 0, Mode::Asynchronous, 9)
            .unwrap()
            .checkpoint(dir.path(), 1)
            .unwrap();
        let (mut fl2, mut order2) = (Vec::new(), crate::rng_from_seed(1));
        run(&mut first, 37, &mut fl2, &mut order2);
        drop(first); // killed: 37 tells, some snapshots, a journal, candidates in flight
        let mut resumed = AskTell::new(mk(), specs.clone(), 0, Mode::Asynchronous, 9)
            .unwrap()
            .checkpoint(dir.path(), 1)
            .unwrap();
        let mut again = resumed.pending();
        again.sort_by_key(|(id, _)| *id);
        let mut was = fl2.clone();
        was.sort_by_key(|(id, _)| *id);
        assert_eq!(again, was, "the candidates in flight come back");
        run(&mut resumed, 23, &mut fl2, &mut order2);
        assert_eq!(resumed.state().population, straight.state().population);
        assert_eq!(resumed.state().stats, straight.state().stats);
        assert_eq!(resumed.state().rng, straight.state().rng);
        // the population is full and improving
        assert_eq!(resumed.state().population.len(), 8);
        assert!(resumed.state().stats.generation > 0);
    }

    #[test]
    fn asynchronous_mode_never_hands_out_a_candidate_twice() {
        let p = OneMax::new(4, 0); // 16 genomes in all
        let algo = Nsga2::binary(nsga(4, None), 4).unwrap();
        let mut s = AskTell::new(algo, p.objectives().to_vec(), 0, Mode::Asynchronous, 3).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            let asked = s.ask(2).unwrap();
            if asked.is_empty() {
                break;
            }
            for (id, g) in asked {
                assert!(seen.insert(g.clone()), "{g:?} handed out twice");
                s.tell(id, p.evaluate(&g).map_err(|e| e.to_string()))
                    .unwrap();
            }
        }
        assert!(seen.len() <= 16);
        assert!(s.exhausted() || seen.len() == 16);
    }

    #[test]
    fn bad_tells_are_refused_and_change_nothing() {
        let p = Schaffer::new();
        let algo = Nsga2::real(nsga(4, None), p.bounds()).unwrap();
        let mut s = AskTell::new(algo, p.objectives().to_vec(), 0, Mode::Generational, 1).unwrap();
        let asked: Vec<(u64, RealVector)> = s.ask(2).unwrap();
        let e = s
            .tell(99, Ok(crate::Evaluation::new(vec![0.0, 0.0])))
            .unwrap_err();
        assert!(e.to_string().contains("99"), "{e}");
        let e = s
            .tell(asked[0].0, Ok(crate::Evaluation::new(vec![0.0])))
            .unwrap_err();
        assert!(e.to_string().contains("1 objectives"), "{e}");
        assert_eq!(s.pending().len(), 2);
        s.tell(asked[0].0, Err("diverged".into())).unwrap();
        assert!(
            s.tell(asked[0].0, Err("again".into())).is_err(),
            "told twice"
        );
        assert_eq!(s.state().stats.failures, 1);
        let algo = crate::WeightedGa::new(
            crate::WeightedGaConfig {
                weights: vec![1.0, 1.0],
                ..Default::default()
            },
            crate::UniformReal { bounds: p.bounds() },
            crate::Sbx::new(p.bounds()),
            crate::PolynomialMutation::new(p.bounds()),
        )
        .unwrap();
        let e = AskTell::new(algo, p.objectives().to_vec(), 0, Mode::Asynchronous, 1)
            .err()
            .unwrap();
        assert!(e.to_string().contains("generational only"), "{e}");
    }
}
