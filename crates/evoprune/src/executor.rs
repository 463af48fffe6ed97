//! Running an algorithm on a problem: termination, observers, checkpoints, resume.

use crate::algorithm::Algorithm;
use crate::checkpoint::{FileCheckpoint, Snapshot};
use crate::genome::Genome;
use crate::observer::{Event, Observer};
use crate::pareto::Archive;
use crate::state::EvalCache;
use crate::termination::{AnyOf, MaxGenerations, Termination, TerminationReason};
use crate::{Error, Evaluator, Individual, Problem, Result, State};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The result of a run.
#[derive(Debug)]
pub struct RunResult<G: Genome> {
    /// Final state (population, counters, archive, history).
    pub state: State<G>,
    /// Why the run stopped.
    pub reason: TerminationReason,
}

impl<G: Genome> RunResult<G> {
    /// Feasible members of the final first front.
    pub fn front(&self) -> Vec<&Individual<G>> {
        self.state.front()
    }
}

/// Runs an [`Algorithm`] on a [`Problem`].
///
/// ```
/// use evoprune::test_utils::Schaffer;
/// use evoprune::{Executor, MaxGenerations, Nsga2, Nsga2Config};
/// let problem = Schaffer::new();
/// let algo = Nsga2::real(Nsga2Config { pop_size: 20, ..Default::default() }, problem.bounds()).unwrap();
/// let res = Executor::new(problem, algo).seed(1).termination(MaxGenerations(20)).run().unwrap();
/// assert!(res.front().len() > 10);
/// ```
pub struct Executor<P: Problem, A> {
    problem: P,
    algorithm: A,
    seed: u64,
    termination: AnyOf,
    observers: Vec<Box<dyn Observer<P::Genome>>>,
    checkpoint: Option<FileCheckpoint>,
    resume: bool,
    threads: usize,
    cache: bool,
    archive: bool,
    hv_reference: Option<Vec<f64>>,
    fingerprint: String,
    stop: Option<Arc<AtomicBool>>,
    stall_limit: u64,
    remote: Option<Arc<dyn crate::Remote<P::Genome>>>,
}

/// Default of [`Executor::stall_limit`].
pub const DEFAULT_STALL_LIMIT: u64 = 100;

impl<P: Problem, A: Algorithm<P::Genome>> Executor<P, A> {
    /// A run of `algorithm` on `problem` (seed 0, one thread, cache on, 100 generations unless a
    /// termination is given).
    pub fn new(problem: P, algorithm: A) -> Self {
        Executor {
            problem,
            algorithm,
            seed: 0,
            termination: AnyOf::default(),
            observers: Vec::new(),
            checkpoint: None,
            resume: false,
            threads: 1,
            cache: true,
            archive: false,
            hv_reference: None,
            fingerprint: String::new(),
            stop: None,
            stall_limit: DEFAULT_STALL_LIMIT,
            remote: None,
        }
    }

    /// Evaluate on `remote` (a cluster's workers) instead of this process's threads. The
    /// results, checkpoints and journal are the same as with local threads.
    pub fn remote(mut self, remote: Arc<dyn crate::Remote<P::Genome>>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// Stop with [`TerminationReason::SearchSpaceExhausted`] after this many consecutive
    /// generations that evaluated no new genome (default [`DEFAULT_STALL_LIMIT`]; at least 1).
    /// Without it, a budget larger than the number of distinct genomes would never be reached.
    pub fn stall_limit(mut self, generations: u64) -> Self {
        self.stall_limit = generations.max(1);
        self
    }

    /// The RNG seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Add a stopping rule (the run stops when any is met).
    pub fn termination(mut self, t: impl Termination + 'static) -> Self {
        self.termination.0.push(Box::new(t));
        self
    }

    /// Add an observer.
    pub fn observer(mut self, o: impl Observer<P::Genome> + 'static) -> Self {
        self.observers.push(Box::new(o));
        self
    }

    /// Write checkpoints (and the evaluation journal).
    pub fn checkpoint(mut self, c: FileCheckpoint) -> Self {
        self.checkpoint = Some(c);
        self
    }

    /// Continue from the checkpoint instead of initialising (requires [`Executor::checkpoint`]).
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Evaluate batches on `n` threads. The result does not depend on `n`.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Cache outcomes by genome (default on).
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = on;
        self
    }

    /// Keep an archive of every feasible non-dominated solution seen (default off).
    pub fn archive(mut self, on: bool) -> Self {
        self.archive = on;
        self
    }

    /// Record the hypervolume of the first front after every generation against `reference`
    /// (minimisation form). Needed by [`HvStagnation`](crate::HvStagnation).
    pub fn hv_reference(mut self, reference: Vec<f64>) -> Self {
        self.hv_reference = Some(reference);
        self
    }

    /// A description of the configuration stored in checkpoints; resuming under a different
    /// fingerprint is refused.
    pub fn fingerprint(mut self, f: impl Into<String>) -> Self {
        self.fingerprint = f.into();
        self
    }

    /// A flag that, once set (e.g. by a Ctrl-C handler), stops the run after the current
    /// generation with a checkpoint; the run can then be resumed.
    pub fn stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Run to termination (or until the stop flag is set).
    pub fn run(self) -> Result<RunResult<P::Genome>> {
        let Executor {
            problem,
            algorithm,
            seed,
            termination,
            observers,
            checkpoint,
            resume,
            threads,
            cache,
            archive,
            hv_reference,
            fingerprint,
            stop,
            stall_limit,
            remote,
        } = self;
        let mut run = Run {
            algorithm,
            termination,
            observers,
            checkpoint,
            hv_reference,
            fingerprint,
            stop,
            stall_limit,
        };
        if run.termination.0.is_empty() {
            run.termination.0.push(Box::new(MaxGenerations(100)));
        }
        if let Some(r) = &run.hv_reference
            && r.len() != problem.objectives().len()
        {
            return Err(Error::config(
                "hv_reference",
                format!(
                    "{} values for {} objectives",
                    r.len(),
                    problem.objectives().len()
                ),
            ));
        }
        run.algorithm.check(problem.objectives())?;
        let mut ev = Evaluator::new(&problem, threads)?;
        if let Some(r) = remote {
            ev.set_remote(r);
        }
        let fresh = || {
            let mut s = State::new(seed);
            s.cache = cache.then(EvalCache::default);
            s.archive = archive.then(Archive::new);
            s
        };
        let (state, resumed) = if resume {
            match run.restore(&mut ev, problem.name())? {
                Some(s) => (s, true),
                // crashed before the first checkpoint: start again, replaying the journal
                None => (fresh(), false),
            }
        } else {
            if let Some(c) = &run.checkpoint {
                c.write_identity(&run.identity(problem.name()))?;
                ev.set_journal(c.open_journal(true)?, Vec::new());
            }
            (fresh(), false)
        };
        run.drive(&mut ev, state, resumed)
    }
}

/// Everything of an [`Executor`] but the problem, which the evaluator borrows during the run.
struct Run<P: Problem, A> {
    algorithm: A,
    termination: AnyOf,
    observers: Vec<Box<dyn Observer<P::Genome>>>,
    checkpoint: Option<FileCheckpoint>,
    hv_reference: Option<Vec<f64>>,
    fingerprint: String,
    stop: Option<Arc<AtomicBool>>,
    stall_limit: u64,
}

impl<P: Problem, A: Algorithm<P::Genome>> Run<P, A> {
    fn identity(&self, problem_name: &str) -> String {
        format!(
            "algorithm: {}\nproblem: {problem_name}\nfingerprint: {}\n",
            self.algorithm.name(),
            self.fingerprint
        )
    }

    /// The checkpointed state, or `None` when the run crashed before its first checkpoint but
    /// its journal belongs to this run (then the journal is set up for replay).
    fn restore(
        &self,
        ev: &mut Evaluator<'_, P>,
        problem_name: &str,
    ) -> Result<Option<State<P::Genome>>> {
        let c = self.checkpoint.as_ref().ok_or(Error::config(
            "resume",
            "resuming needs a checkpoint directory",
        ))?;
        let Some(snap) = c.load::<P::Genome>()? else {
            if c.read_identity()?.as_deref() == Some(self.identity(problem_name).as_str()) {
                let replay = c.read_journal::<P::Genome>()?;
                ev.set_journal(c.open_journal(false)?, replay);
                return Ok(None);
            }
            return Err(Error::NoCheckpoint(c.dir().to_path_buf()));
        };
        let mismatch = |what: &str, theirs: &str, ours: &str| Error::Checkpoint {
            path: c.state_path(),
            reason: format!("written by {what} '{theirs}', this run is '{ours}'"),
        };
        if snap.algorithm != self.algorithm.name() {
            return Err(mismatch(
                "algorithm",
                &snap.algorithm,
                self.algorithm.name(),
            ));
        }
        if snap.problem != problem_name {
            return Err(mismatch("problem", &snap.problem, problem_name));
        }
        if snap.fingerprint != self.fingerprint {
            return Err(mismatch(
                "configuration",
                &snap.fingerprint,
                &self.fingerprint,
            ));
        }
        let replay = c.read_journal::<P::Genome>()?;
        ev.set_journal(c.open_journal(false)?, replay);
        Ok(Some(snap.state))
    }

    fn drive(
        mut self,
        ev: &mut Evaluator<'_, P>,
        mut state: State<P::Genome>,
        resumed: bool,
    ) -> Result<RunResult<P::Genome>> {
        let clock = Instant::now();
        let base_elapsed = state.stats.elapsed_secs;
        self.emit(&Event::Started { resumed }, &state)?;
        if !resumed {
            let genomes = self.algorithm.sample(&mut state);
            let pop = ev.evaluate(genomes, &mut state)?;
            self.algorithm.tell(&mut state, pop);
            state.stats.elapsed_secs = base_elapsed + clock.elapsed().as_secs_f64();
            self.record(&mut state);
            self.emit(&Event::Generation, &state)?;
            self.emit(&Event::NewFront, &state)?;
            self.save(ev, &state)?;
        }
        let reason = loop {
            if let Some(r) = self.termination.met(&state.stats) {
                break r;
            }
            if state.stalled_generations() >= self.stall_limit {
                let distinct = state
                    .cache
                    .as_ref()
                    .map_or(state.stats.evaluations, |c| c.len() as u64);
                break TerminationReason::SearchSpaceExhausted { distinct };
            }
            if self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
                break TerminationReason::Interrupted;
            }
            // front comparison only matters to observers
            let before = if self.observers.is_empty() {
                Vec::new()
            } else {
                front_key(&state)
            };
            let evaluated_before = state.stats.evaluations;
            let kids = self.algorithm.offspring(&mut state);
            let kids = ev.evaluate(kids, &mut state)?;
            self.algorithm.tell(&mut state, kids);
            state.stats.generation += 1;
            let stalled = if state.stats.evaluations == evaluated_before {
                state.stalled_generations() + 1
            } else {
                0
            };
            if stalled > 0 || state.aux.contains_key(crate::state::STALLED_GENERATIONS) {
                // absent until the first stall, so runs that never stall keep their old state
                state.aux.insert(
                    crate::state::STALLED_GENERATIONS.into(),
                    vec![stalled as f64],
                );
            }
            state.stats.elapsed_secs = base_elapsed + clock.elapsed().as_secs_f64();
            self.record(&mut state);
            self.emit(&Event::Generation, &state)?;
            if !self.observers.is_empty() && front_key(&state) != before {
                self.emit(&Event::NewFront, &state)?;
            }
            if self
                .checkpoint
                .as_ref()
                .is_some_and(|c| c.due(state.stats.generation))
            {
                self.save(ev, &state)?;
            }
        };
        self.save(ev, &state)?;
        self.emit(&Event::Finished(reason), &state)?;
        Ok(RunResult { state, reason })
    }

    fn save(&mut self, ev: &mut Evaluator<'_, P>, state: &State<P::Genome>) -> Result<()> {
        let Some(c) = &self.checkpoint else {
            return Ok(());
        };
        let snap = Snapshot {
            algorithm: self.algorithm.name().to_string(),
            problem: ev.problem().name().to_string(),
            fingerprint: self.fingerprint.clone(),
            state: state.clone(),
        };
        c.save(&snap)?;
        // The journal's records are now in the checkpoint: start it afresh, keeping outcomes
        // recovered from an earlier crash that have not been replayed yet.
        let pending: Vec<(P::Genome, crate::Outcome)> = ev
            .pending_replay()
            .map(|(g, o)| (g.clone(), o.clone()))
            .collect();
        if let Some(j) = ev.journal_mut() {
            j.reset()?;
            for (g, o) in &pending {
                j.append(g, o)?;
            }
            j.flush()?;
        }
        self.emit(&Event::Checkpointed, state)
    }

    fn emit(&mut self, e: &Event, state: &State<P::Genome>) -> Result<()> {
        let progress = self.termination.progress(&state.stats);
        for o in &mut self.observers {
            o.notify(e, state, progress)?;
        }
        Ok(())
    }

    fn record(&self, state: &mut State<P::Genome>) {
        if let Some(r) = &self.hv_reference {
            state.record_hv(r);
        }
    }
}

fn front_key<G: Genome>(s: &State<G>) -> Vec<Vec<u64>> {
    let mut k: Vec<Vec<u64>> = s
        .front()
        .iter()
        .map(|i| i.f.iter().map(|x| x.to_bits()).collect())
        .collect();
    k.sort_unstable();
    k
}
