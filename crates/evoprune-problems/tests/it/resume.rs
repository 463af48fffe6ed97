//! Checkpoint / resume: a resumed run ends exactly as an uninterrupted one.

use evoprune::{
    BitFlip, BitString, DensitySpread, Event, Executor, FileCheckpoint, Individual, MaxEvaluations,
    MaxGenerations, Nsga2, Nsga2Config, Observer, Result, State, UniformCrossover,
};
use evoprune_problems::{Knapsack, Zdt};

fn population_key<G: Clone>(pop: &[Individual<G>]) -> Vec<(G, Vec<u64>, usize)> {
    pop.iter()
        .map(|i| {
            (
                i.genome.clone(),
                i.f.iter().map(|x| x.to_bits()).collect(),
                i.rank,
            )
        })
        .collect()
}

fn zdt_algo()
-> Nsga2<evoprune::RealVector, evoprune::UniformReal, evoprune::Sbx, evoprune::PolynomialMutation> {
    Nsga2::real(
        Nsga2Config {
            pop_size: 40,
            ..Default::default()
        },
        Zdt::zdt1().bounds(),
    )
    .unwrap()
}

#[test]
fn resume_equals_an_uninterrupted_run() {
    let straight = Executor::new(Zdt::zdt1(), zdt_algo())
        .seed(9)
        .termination(MaxGenerations(30))
        .run()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    // first leg stops at generation 12 (checkpoint every 5 plus the final one)
    let leg1 = Executor::new(Zdt::zdt1(), zdt_algo())
        .seed(9)
        .termination(MaxGenerations(12))
        .checkpoint(FileCheckpoint::new(dir.path(), 5))
        .run()
        .unwrap();
    assert_eq!(leg1.state.stats.generation, 12);
    // second leg: the seed given here must not matter, the RNG comes from the checkpoint
    let leg2 = Executor::new(Zdt::zdt1(), zdt_algo())
        .seed(12345)
        .termination(MaxGenerations(30))
        .checkpoint(FileCheckpoint::new(dir.path(), 5))
        .resume(true)
        .observer(move |e: &Event, _: &State<evoprune::RealVector>, _: f64| {
            if let Event::Started { resumed } = e {
                assert!(
                    *resumed,
                    "the second leg continues, it does not re-initialise"
                );
            }
        })
        .run()
        .unwrap();
    assert_eq!(
        population_key(&leg2.state.population),
        population_key(&straight.state.population)
    );
    assert_eq!(
        leg2.state.stats.evaluations,
        straight.state.stats.evaluations
    );
    assert_eq!(leg2.state.rng, straight.state.rng);
}

/// Simulates `kill -9` right after generation `at`: the observer fails the run, so the last
/// checkpoint is older and the journal holds the evaluations since.
struct Crash {
    at: u64,
}
impl<G: evoprune::Genome> Observer<G> for Crash {
    fn notify(&mut self, e: &Event, s: &State<G>, _: f64) -> Result<()> {
        if *e == Event::Generation && s.stats.generation == self.at {
            return Err(evoprune::Error::Observer("simulated crash".into()));
        }
        Ok(())
    }
}

/// Counts real calls to the problem.
struct Counting<P>(P, std::sync::atomic::AtomicUsize);
impl<P: evoprune::Problem> evoprune::Problem for Counting<P> {
    type Genome = P::Genome;
    type Error = P::Error;
    fn objectives(&self) -> &[evoprune::ObjectiveSpec] {
        self.0.objectives()
    }
    fn n_constraints(&self) -> usize {
        self.0.n_constraints()
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    fn evaluate(&self, g: &P::Genome) -> std::result::Result<evoprune::Evaluation, P::Error> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.evaluate(g)
    }
}

fn steady() -> Nsga2<BitString, DensitySpread, UniformCrossover, BitFlip> {
    // MO-EvoPruneDeepTL's setting: population 30, 2 offspring per step
    Nsga2::new(
        Nsga2Config::steady_state(30, 2),
        DensitySpread::new(120),
        UniformCrossover::default(),
        BitFlip::default(),
    )
    .unwrap()
}

#[test]
fn a_crash_between_checkpoints_loses_no_evaluation_and_changes_nothing() {
    let ks = || Knapsack::random(120, 2, 3);
    let straight = Executor::new(ks(), steady())
        .seed(4)
        .termination(MaxEvaluations(200))
        .run()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = Counting(ks(), Default::default());
    let crashed = Executor::new(first, steady())
        .seed(4)
        .termination(MaxEvaluations(200))
        .checkpoint(FileCheckpoint::new(dir.path(), 10))
        .observer(Crash { at: 47 })
        .run();
    assert!(crashed.is_err());
    // 30 initial + 47 steps of 2, minus duplicates served by the cache
    let second = Counting(ks(), Default::default());
    let resumed = Executor::new(&second, steady())
        .seed(4)
        .termination(MaxEvaluations(200))
        .checkpoint(FileCheckpoint::new(dir.path(), 10))
        .resume(true)
        .run()
        .unwrap();
    assert_eq!(
        population_key(&resumed.state.population),
        population_key(&straight.state.population)
    );
    assert_eq!(
        resumed.state.stats.evaluations,
        straight.state.stats.evaluations
    );
    // generations 41..47 were evaluated before the crash and replayed from the journal
    let recomputed = second.1.load(std::sync::atomic::Ordering::SeqCst) as u64;
    let after_checkpoint_40 = straight.state.stats.evaluations - evaluations_at(&ks, 40);
    assert!(
        recomputed < after_checkpoint_40,
        "{recomputed} calls after resume, {after_checkpoint_40} evaluations since the checkpoint"
    );
    assert_eq!(
        recomputed,
        straight.state.stats.evaluations - evaluations_at(&ks, 47)
    );
}

fn evaluations_at(ks: &dyn Fn() -> Knapsack, generation: u64) -> u64 {
    Executor::new(ks(), steady())
        .seed(4)
        .termination(MaxGenerations(generation))
        .run()
        .unwrap()
        .state
        .stats
        .evaluations
}

#[test]
fn resume_is_refused_for_another_configuration_or_without_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    Executor::new(Zdt::zdt1(), zdt_algo())
        .fingerprint("pop=40")
        .termination(MaxGenerations(2))
        .checkpoint(FileCheckpoint::new(dir.path(), 1))
        .run()
        .unwrap();
    let e = Executor::new(Zdt::zdt1(), zdt_algo())
        .fingerprint("pop=50")
        .checkpoint(FileCheckpoint::new(dir.path(), 1))
        .resume(true)
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("pop=40"), "{e}");
    let e = Executor::new(Zdt::zdt2(), zdt_algo())
        .fingerprint("pop=40")
        .checkpoint(FileCheckpoint::new(dir.path(), 1))
        .resume(true)
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("zdt1"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = Executor::new(Zdt::zdt1(), zdt_algo())
        .checkpoint(FileCheckpoint::new(empty.path(), 1))
        .resume(true)
        .run()
        .unwrap_err();
    assert!(matches!(e, evoprune::Error::NoCheckpoint(_)));
}

#[test]
fn state_survives_a_serialisation_round_trip() {
    let r = Executor::new(Knapsack::random(50, 2, 1), steady_small())
        .seed(2)
        .archive(true)
        .hv_reference(vec![0.0, 0.0])
        .termination(MaxGenerations(5))
        .run()
        .unwrap();
    let bytes = postcard_round_trip(&r.state);
    assert_eq!(bytes, r.state);
}

fn steady_small() -> Nsga2<BitString, DensitySpread, UniformCrossover, BitFlip> {
    Nsga2::new(
        Nsga2Config {
            pop_size: 20,
            ..Default::default()
        },
        DensitySpread::new(50),
        UniformCrossover::default(),
        BitFlip::default(),
    )
    .unwrap()
}

fn postcard_round_trip(s: &State<BitString>) -> State<BitString> {
    let dir = tempfile::tempdir().unwrap();
    let c = FileCheckpoint::new(dir.path(), 1);
    c.save(&evoprune::Snapshot {
        algorithm: "a".into(),
        problem: "p".into(),
        fingerprint: String::new(),
        state: s.clone(),
    })
    .unwrap();
    c.load::<BitString>().unwrap().unwrap().state
}

/// An expensive-problem stand-in: journals every evaluation (`batch_hint` 1) and dies (panics,
/// like a killed process mid-batch) on call number `die_at`.
struct DiesAt<P>(P, std::sync::atomic::AtomicUsize, usize);
impl<P: evoprune::Problem> evoprune::Problem for DiesAt<P> {
    type Genome = P::Genome;
    type Error = P::Error;
    fn objectives(&self) -> &[evoprune::ObjectiveSpec] {
        self.0.objectives()
    }
    fn n_constraints(&self) -> usize {
        self.0.n_constraints()
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    fn batch_hint(&self) -> usize {
        1
    }
    fn evaluate(&self, g: &P::Genome) -> std::result::Result<evoprune::Evaluation, P::Error> {
        let n = self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        assert!(n != self.2, "simulated crash in evaluation {n}");
        self.0.evaluate(g)
    }
}

#[test]
fn a_crash_inside_the_initial_population_keeps_the_finished_evaluations() {
    let ks = || Knapsack::random(120, 2, 3);
    let straight = Executor::new(ks(), steady())
        .seed(4)
        .termination(MaxEvaluations(60))
        .run()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dying = DiesAt(ks(), Default::default(), 18);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Executor::new(&dying, steady())
            .seed(4)
            .termination(MaxEvaluations(60))
            .checkpoint(FileCheckpoint::new(dir.path(), 10))
            .run()
    }));
    assert!(crashed.is_err());
    // no checkpoint yet (the initial population never finished), but 17 evaluations journaled
    let again = DiesAt(ks(), Default::default(), 0);
    let resumed = Executor::new(&again, steady())
        .seed(4)
        .termination(MaxEvaluations(60))
        .checkpoint(FileCheckpoint::new(dir.path(), 10))
        .resume(true)
        .run()
        .unwrap();
    assert_eq!(
        population_key(&resumed.state.population),
        population_key(&straight.state.population)
    );
    let recomputed = again.1.load(std::sync::atomic::Ordering::SeqCst) as u64;
    assert_eq!(recomputed, straight.state.stats.evaluations - 17);
}
