//! The paper's two-step loop, shared by the GA and NSGA-II modes: `retrain_every` generations of
//! evolution on fixed weights (one engine run, checkpointed every generation), then the elite's
//! weights are retrained with its mask fixed and the next cycle starts from it. After each cycle
//! the weights and the cycle state are written to the run folder, so an interrupted run loses
//! at most the generation in flight.

use crate::config::{Config, Mode, MutationBias, SearchConfig};
use crate::problem::{Part, PruneMutation, Pruning, Scoring, Seeding, importance_rates};
use crate::subject::{Subject, Weights};
use crate::{GapruneError, Result};
use evoprune::{
    BitString, Executor, Individual, MaxGenerations, Microbial, Nsga2, Nsga2Config, RunResult,
    TerminationReason, WeightedGa, WeightedGaConfig,
};
use evoprune_nn::lenet::{LeNetMask, Net, train};
use evoprune_run::engine::EngineStage;
use evoprune_run::seeds::{self, Purpose};
use evoprune_run::{MethodConfig, Reporter, RunDir};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// One retraining cycle, as recorded in `history.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    /// Cycle number (0-based).
    pub cycle: u64,
    /// Generations done at its end.
    pub generation: u64,
    /// The elite's (validation error, FLOPs fraction, parameter fraction) before retraining.
    pub before: [f64; 3],
    /// The same after retraining.
    pub after: [f64; 3],
    /// Weighted fitness before retraining.
    pub fitness_before: f64,
    /// Weighted fitness after retraining.
    pub fitness_after: f64,
    /// Evaluations of the cycle.
    pub evaluations: u64,
    /// Seconds of evolution.
    pub search_seconds: f64,
    /// Seconds of retraining.
    pub retrain_seconds: f64,
}

/// `checkpoint/cycles.json`: where the loop stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// The next cycle to run.
    pub cycle: u64,
    /// Generations done.
    pub generation: u64,
    /// Genomes (hex) the next cycle starts from: the elite (GA) or the whole population
    /// (NSGA-II).
    pub population: Vec<String>,
    /// The elite of the last cycle (hex).
    pub elite: String,
    /// Finished cycles.
    pub history: Vec<CycleRecord>,
    /// File (in `checkpoint/`) of the current weights.
    pub weights: String,
    /// Why the loop ended, once it has.
    pub stopped: Option<String>,
}

/// What the loop hands to the report.
pub struct Outcome {
    /// The final state.
    pub state: LoopState,
    /// The final weights (retrained on the elite's mask).
    pub net: Weights,
    /// The final population's genomes with their validation objectives under `net`'s
    /// predecessor weights (as the last cycle saw them).
    pub population: Vec<Individual<BitString>>,
}

/// Weighted fitness of (error, FLOPs, params) with `l`.
pub fn fitness(f: &[f64], l: &[f64; 3]) -> f64 {
    f.iter().zip(l).map(|(a, b)| a * b).sum()
}

fn elite_of(pop: &[Individual<BitString>], cfg: &Config) -> usize {
    let l = &cfg.search.lambdas;
    let mut best = 0;
    for (i, ind) in pop.iter().enumerate() {
        let take = match cfg.search.mode {
            // the engine's weighted fitness (the first of equals, as its own order)
            Mode::Ga => ind.fitness < pop[best].fitness,
            // the first front's member with the best weighted fitness
            Mode::Nsga2 => {
                (ind.rank, fitness(&ind.f, l)) < (pop[best].rank, fitness(&pop[best].f, l))
            }
        };
        if ind.is_feasible() && (take || !pop[best].is_feasible()) {
            best = i;
        }
    }
    best
}

/// Retrain the elite's weights on its mask, keeping every other weight as it was: in NSGA-II
/// mode the population holds members denser than the elite, and they must still find their
/// own weights in the shared network (a plain [`retrain`] zeroes everything outside the elite's
/// mask, so those members paid FLOPs and parameters for dead weights). Weights the elite keeps
/// take their retrained values; the others keep their previous ones.
pub fn retrain_keeping_others(
    net: &Net,
    mask: &LeNetMask,
    train_part: &Part,
    solver: &evoprune_nn::lenet::SolverConfig,
    rep: &mut dyn Reporter,
) -> Result<Net> {
    let trained = retrain(net, mask, train_part, solver, rep)?;
    let keep = Net::mask_vector(mask)?;
    let mut out = net.clone();
    for ((o, t), k) in out.params.iter_mut().zip(&trained.params).zip(&keep) {
        if *k != 0.0 {
            *o = *t;
        }
    }
    Ok(out)
}

/// Retrain `net` on `mask` (filters physically removed; pruned connections stay zero).
pub fn retrain(
    net: &Net,
    mask: &LeNetMask,
    train_part: &Part,
    solver: &evoprune_nn::lenet::SolverConfig,
    rep: &mut dyn Reporter,
) -> Result<Net> {
    let mut c = net.compact_filters(mask)?;
    let m = c.mask.clone();
    train(
        &mut c.net,
        Some(&m),
        &train_part.x,
        &train_part.y,
        solver,
        |i, _| {
            if i % 20 == 0 {
                rep.progress(i as u64)
            }
        },
    )?;
    let mut out = net.masked(mask)?;
    out.scatter(&c)?;
    Ok(out)
}

/// A cycle's engine run: `gens` generations, no cache (the weights change between cycles),
/// the generations it has done sent to `generations` as they end.
fn cycle_executor<'p, A: evoprune::Algorithm<<&'p Pruning as evoprune::Problem>::Genome>>(
    stage: &EngineStage,
    problem: &'p Pruning,
    algo: A,
    gens: u64,
    generations: std::sync::mpsc::Sender<u64>,
) -> Executor<&'p Pruning, A> {
    stage
        .executor(problem, algo)
        .cache(false)
        .termination(MaxGenerations(gens))
        .observer(
            move |_: &evoprune::Event, s: &evoprune::State<BitString>, _: f64| {
                // a send fails only when the receiving thread has ended
                let _ = generations.send(s.stats.generation);
            },
        )
}

fn cycle_dir(rd: &RunDir, k: u64) -> std::path::PathBuf {
    rd.checkpoint_dir().join(format!("cycle-{k:04}"))
}

/// Run (or continue) the loop on `subject`. `base` are the pre-trained weights.
#[allow(clippy::too_many_arguments)]
pub fn run_loop(
    cfg: &Config,
    rd: &RunDir,
    subject: &Subject,
    base: &Weights,
    train_part: &Part,
    val: Arc<Scoring>,
    threads: usize,
    stop: Arc<AtomicBool>,
    rep: &mut dyn Reporter,
) -> Result<Outcome> {
    let ck = rd.checkpoint_dir();
    std::fs::create_dir_all(&ck).map_err(|e| evoprune_run::RunError::io(&ck, e))?;
    let cycles = Cycles {
        cfg,
        rd,
        train_part,
        val,
        threads,
        stop,
        state_path: ck.join("cycles.json"),
        ck,
        full: subject.full(),
        mutation: PruneMutation {
            conv: cfg.search.conv_mutation,
            fc: cfg.search.fc_mutation,
            subject: subject.clone(),
            rates: None,
        },
        subject: subject.clone(),
    };
    let mut st = cycles.open_state(base)?;
    let s = &cfg.search;
    rep.stage(
        &format!(
            "{} search ({} generations max, retrain every {})",
            mode_name(s.mode),
            s.max_generations,
            s.retrain_every
        ),
        Some(s.max_generations),
    );
    rep.progress(st.generation);
    let mut last_pop: Vec<Individual<BitString>> = Vec::new();
    while st.stopped.is_none() {
        last_pop = cycles.cycle(&mut st, rep)?;
        if st.stopped.is_none() {
            rep.stage(
                &format!("{} search", mode_name(s.mode)),
                Some(s.max_generations),
            );
            rep.progress(st.generation);
        }
    }
    let net = cycles.subject.load(&cycles.ck.join(&st.weights))?;
    if last_pop.is_empty() {
        // finished before (a re-finalisation): the saved population, re-scored under the final
        // weights
        last_pop = cycles.rescore(&st, &net)?;
    }
    Ok(Outcome {
        state: st,
        net,
        population: last_pop,
    })
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Ga => "GA",
        Mode::Nsga2 => "NSGA-II",
    }
}

/// Why the loop stops after the cycles of `history` (`generation` generations done), if it does:
/// the generation budget, or no improvement of the elite's fitness over `patience` cycles.
fn stopping_reason(history: &[CycleRecord], generation: u64, s: &SearchConfig) -> Option<String> {
    let h = history;
    if generation >= s.max_generations {
        return Some(format!("generation budget ({})", s.max_generations));
    }
    if s.patience > 0 && h.len() > s.patience {
        let old = h[h.len() - 1 - s.patience].fitness_after;
        let new = h[h.len() - 1].fitness_after;
        if old - new < s.tolerance {
            return Some(format!(
                "converged: elite fitness improved by {:.2e} < {} over {} cycles",
                old - new,
                s.tolerance,
                s.patience
            ));
        }
    }
    None
}

/// The loop's fixed settings, shared by its steps.
struct Cycles<'a> {
    cfg: &'a Config,
    rd: &'a RunDir,
    train_part: &'a Part,
    val: Arc<Scoring>,
    threads: usize,
    stop: Arc<AtomicBool>,
    /// `checkpoint/`.
    ck: PathBuf,
    /// `checkpoint/cycles.json`.
    state_path: PathBuf,
    /// The unpruned genome (cycle 0 starts from its mutants).
    full: BitString,
    mutation: PruneMutation,
    /// The network pruned.
    subject: Subject,
}

impl Cycles<'_> {
    /// The stored loop state, or a new one starting from `base` (saved as the first weights).
    fn open_state(&self, base: &Weights) -> Result<LoopState> {
        if let Some(st) = evoprune_run::stage::read(&self.state_path)? {
            return Ok(st);
        }
        self.subject
            .save(base, &self.ck.join("weights-0000.safetensors"))?;
        Ok(LoopState {
            cycle: 0,
            generation: 0,
            population: vec![self.full.to_hex()],
            elite: self.full.to_hex(),
            history: Vec::new(),
            weights: "weights-0000.safetensors".into(),
            stopped: None,
        })
    }

    /// A genome stored (hex) in the loop state.
    fn parse(&self, hex: &str) -> Result<BitString> {
        BitString::from_hex(hex)
            .map_err(|e| GapruneError::invalid(self.state_path.display().to_string(), e))
    }

    /// One cycle: evolution on fixed weights, then the elite's retraining; the state advanced
    /// and stored with the new weights. Returns the cycle's final population.
    fn cycle(
        &self,
        st: &mut LoopState,
        rep: &mut dyn Reporter,
    ) -> Result<Vec<Individual<BitString>>> {
        let s = &self.cfg.search;
        let k = st.cycle;
        let net = Arc::new(self.subject.load(&self.ck.join(&st.weights))?);
        let gens = s.retrain_every.min(s.max_generations - st.generation);
        let t = Instant::now();
        // the engine's observer must be 'static: it sends the generations done to a thread
        // that owns the reporter while the cycle evolves (it ends when the run drops the sender)
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let done_before = st.generation;
        let run = std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut last = None;
                for g in rx {
                    if last != Some(g) {
                        rep.progress(done_before + g);
                        last = Some(g);
                    }
                }
            });
            self.evolve(st, &net, gens, tx)
        })?;
        if run.reason == TerminationReason::Interrupted {
            return Err(GapruneError::Interrupted {
                generation: st.generation,
                run_dir: self.rd.root().to_path_buf(),
            });
        }
        let search_seconds = t.elapsed().as_secs_f64();
        let pop = run.state.population;
        let e = elite_of(&pop, self.cfg);
        let elite = pop[e].genome.clone();
        let before = [pop[e].f[0], pop[e].f[1], pop[e].f[2]];
        let (new_net, retrain_seconds) = self.retrain_elite(k, &net, &elite, rep)?;
        let after = self.subject.measure(&new_net, &elite, &self.val)?;
        st.generation += gens;
        st.history.push(CycleRecord {
            cycle: k,
            generation: st.generation,
            before,
            after,
            fitness_before: fitness(&before, &s.lambdas),
            fitness_after: fitness(&after, &s.lambdas),
            evaluations: run.state.stats.evaluations,
            search_seconds,
            retrain_seconds,
        });
        rep.note(&format!(
            "generation {:>4}: elite error {:.2}% -> {:.2}% after retraining, FLOPs {:.2}%, params {:.2}%, fitness {:.5}",
            st.generation,
            100.0 * before[0],
            100.0 * after[0],
            100.0 * after[1],
            100.0 * after[2],
            fitness(&after, &s.lambdas)
        ));
        st.population = match s.mode {
            Mode::Ga => vec![elite.to_hex()],
            Mode::Nsga2 => pop.iter().map(|i| i.genome.to_hex()).collect(),
        };
        st.elite = elite.to_hex();
        st.cycle += 1;
        st.stopped = stopping_reason(&st.history, st.generation, s);
        self.save(st, &new_net, k)?;
        Ok(pop)
    }

    /// The cycle's engine run: `gens` generations on `net`, checkpointed every generation in
    /// its own folder (resumed when it has started).
    fn evolve(
        &self,
        st: &LoopState,
        net: &Arc<Weights>,
        gens: u64,
        generations: std::sync::mpsc::Sender<u64>,
    ) -> Result<RunResult<BitString>> {
        let (cfg, s, k) = (self.cfg, &self.cfg.search, st.cycle);
        let problem = Pruning::new(self.subject.clone(), net.clone(), self.val.clone());
        let mutation = self.cycle_mutation(st, net)?;
        let sampling = self.seeding(st, &mutation)?;
        let stage = EngineStage {
            dir: cycle_dir(self.rd, k),
            seed: seeds::derive(cfg.seed, Purpose::GaCycle, k),
            threads: self.threads,
            fingerprint: format!("{}\ncycle {k}", cfg.to_toml()?),
            stop: self.stop.clone(),
            every: 1,
            remote: None,
        };
        Ok(match s.mode {
            Mode::Ga => {
                let algo = WeightedGa::new(
                    WeightedGaConfig {
                        pop_size: s.pop_size,
                        top_k: s.top_k,
                        crossover_prob: s.crossover_prob,
                        weights: s.lambdas.to_vec(),
                    },
                    sampling,
                    Microbial::default(),
                    mutation.clone(),
                )?;
                cycle_executor(&stage, &problem, algo, gens, generations).run()?
            }
            Mode::Nsga2 => {
                let algo = Nsga2::new(
                    Nsga2Config {
                        pop_size: s.pop_size,
                        crossover_prob: s.crossover_prob,
                        ..Default::default()
                    },
                    sampling,
                    Microbial::default(),
                    mutation.clone(),
                )?;
                cycle_executor(&stage, &problem, algo, gens, generations).run()?
            }
        })
    }

    /// The cycle's mutation: the configured one, its filter genes' rates biased by their
    /// importance under the cycle's weights `net` among the groups alive in the elite when
    /// `search.mutation_bias = "importance"` (computed from the stored weights, so a resumed
    /// cycle gets the same rates).
    fn cycle_mutation(&self, st: &LoopState, net: &Weights) -> Result<PruneMutation> {
        if self.cfg.search.mutation_bias == MutationBias::Uniform {
            return Ok(self.mutation.clone());
        }
        let importance = self.subject.importance(net)?;
        let elite = self.parse(&st.elite)?;
        Ok(PruneMutation {
            rates: Some(Arc::new(importance_rates(&importance, &elite))),
            ..self.mutation.clone()
        })
    }

    /// The first population of the cycle: mutants of the unpruned network (cycle 0), the
    /// elite and its mutants (GA), or the previous cycle's population (NSGA-II).
    fn seeding(&self, st: &LoopState, mutation: &PruneMutation) -> Result<Seeding> {
        let seeds: Vec<BitString> = st
            .population
            .iter()
            .map(|h| self.parse(h))
            .collect::<Result<_>>()?;
        Ok(match (st.cycle, self.cfg.search.mode) {
            (0, _) => Seeding::Mutants {
                parent: self.full.clone(),
                keep_parent: false,
                mutation: mutation.clone(),
            },
            (_, Mode::Ga) => Seeding::Mutants {
                parent: seeds[0].clone(),
                keep_parent: true,
                mutation: mutation.clone(),
            },
            (_, Mode::Nsga2) => Seeding::Given(seeds),
        })
    }

    /// Retrain the weights on the elite's genome. Returns the new weights and the seconds taken.
    fn retrain_elite(
        &self,
        k: u64,
        net: &Weights,
        elite: &BitString,
        rep: &mut dyn Reporter,
    ) -> Result<(Weights, f64)> {
        let (cfg, part) = (self.cfg, self.train_part);
        rep.stage(
            &format!("retraining the elite (cycle {k})"),
            Some(crate::subject::retrain_steps(&cfg.retrain, part.len())),
        );
        let t = Instant::now();
        // GA: the population is the elite's mutants, no member uses a weight outside its
        // mask; NSGA-II: denser members keep their weights
        let keep_others = cfg.search.mode == Mode::Nsga2;
        let new_net = self
            .subject
            .retrain(net, elite, part, &cfg.retrain, keep_others, rep)?;
        Ok((new_net, t.elapsed().as_secs_f64()))
    }

    /// Store the state advanced past cycle `k` with its new weights, then drop the previous
    /// weights and the cycle's engine checkpoint.
    fn save(&self, st: &mut LoopState, new_net: &Weights, k: u64) -> Result<()> {
        let new_weights = format!("weights-{:04}.safetensors", st.cycle);
        let old_weights = std::mem::replace(&mut st.weights, new_weights);
        self.subject.save(new_net, &self.ck.join(&st.weights))?;
        let json = serde_json::to_vec_pretty(st).map_err(|e| {
            GapruneError::invalid(self.state_path.display().to_string(), e.to_string())
        })?;
        evoprune_run::write_atomic(&self.state_path, &json)?;
        let _ = std::fs::remove_file(self.ck.join(old_weights));
        let _ = std::fs::remove_dir_all(cycle_dir(self.rd, k));
        Ok(())
    }

    /// The stored population scored under `net` (a finished loop run again to re-finalise).
    fn rescore(&self, st: &LoopState, net: &Weights) -> Result<Vec<Individual<BitString>>> {
        let specs = [
            evoprune::ObjectiveSpec::minimize("error"),
            evoprune::ObjectiveSpec::minimize("flops"),
            evoprune::ObjectiveSpec::minimize("params"),
        ];
        let mut pop = st
            .population
            .iter()
            .map(|h| {
                let g = self.parse(h)?;
                let f = self.subject.measure(net, &g, &self.val)?;
                Ok(Individual::from_outcome(
                    g,
                    Ok(evoprune::Evaluation::new(f.to_vec())),
                    &specs,
                    0,
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        evoprune::RankAndCrowding::assign(&mut pop);
        Ok(pop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune_nn::lenet::{LeNet, SolverConfig};

    /// A denser member than the elite keeps its own weights through the elite's retraining;
    /// the elite's weights are the retrained ones, as a plain retraining gives them.
    #[test]
    fn retraining_the_elite_keeps_the_weights_other_members_use() {
        let net = Net::from_lenet(&LeNet::random(3)).unwrap();
        let mut elite = LeNetMask::full();
        elite.conv1[..10].fill(false);
        elite.fc2[..2500].fill(false);
        let part = crate::problem::synthetic_digits(40, 1);
        let solver = SolverConfig {
            epochs: 1.0,
            batch: 20,
            ..Default::default()
        };
        let mut silent = evoprune_run::Silent;
        let plain = retrain(&net, &elite, &part, &solver, &mut silent).unwrap();
        let kept = retrain_keeping_others(&net, &elite, &part, &solver, &mut silent).unwrap();
        let keep = Net::mask_vector(&elite).unwrap();
        let (mut inside, mut outside) = (0, 0);
        for i in 0..net.params.len() {
            if keep[i] != 0.0 {
                assert_eq!(kept.params[i], plain.params[i]);
                inside += usize::from(kept.params[i] != net.params[i]);
            } else {
                assert_eq!(
                    kept.params[i], net.params[i],
                    "weight {i} outside the elite"
                );
                assert_eq!(plain.params[i], 0.0);
                outside += usize::from(net.params[i] != 0.0);
            }
        }
        assert!(
            inside > 1000 && outside > 1000,
            "{inside} retrained, {outside} kept"
        );
        // the full network under the kept weights is not the elite's network
        let x = &part.x[..784 * 4];
        assert_ne!(kept.logits(x).unwrap(), plain.logits(x).unwrap());
    }
}
