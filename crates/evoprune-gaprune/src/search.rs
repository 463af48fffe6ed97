//! The paper's two-step loop, shared by the GA and NSGA-II modes: `retrain_every` generations of
//! evolution on fixed weights (one engine run, checkpointed every generation), then the elite's
//! weights are retrained with its mask fixed and the next cycle starts from it. After each cycle
//! the weights and the cycle state are written to the run folder, so an interrupted run loses
//! at most the generation in flight.

use crate::config::{Config, Mode};
use crate::problem::{LenetPruning, Part, PruneMutation, Seeding, decode, encode, measure};
use crate::{GapruneError, Result};
use evoprune::{
    BitString, Executor, Individual, MaxGenerations, Microbial, Nsga2, Nsga2Config,
    TerminationReason, WeightedGa, WeightedGaConfig,
};
use evoprune_nn::lenet::{LeNetMask, Net, train};
use evoprune_run::engine::EngineStage;
use evoprune_run::seeds::{self, Purpose};
use evoprune_run::{MethodConfig, Reporter, RunDir};
use serde::{Deserialize, Serialize};
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
    pub net: Net,
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

/// A cycle's engine run: `gens` generations, no cache (the weights change between cycles).
fn cycle_executor<'p, A: evoprune::Algorithm<&'p LenetPruning>>(
    stage: &EngineStage,
    problem: &'p LenetPruning,
    algo: A,
    gens: u64,
) -> Executor<&'p LenetPruning, A> {
    stage
        .executor(problem, algo)
        .cache(false)
        .termination(MaxGenerations(gens))
}

fn cycle_dir(rd: &RunDir, k: u64) -> std::path::PathBuf {
    rd.checkpoint_dir().join(format!("cycle-{k:04}"))
}

/// Run (or continue) the loop. `base` are the pre-trained weights.
#[allow(clippy::too_many_arguments)]
pub fn run_loop(
    cfg: &Config,
    rd: &RunDir,
    base: &Net,
    train_part: &Part,
    val: Arc<Part>,
    threads: usize,
    stop: Arc<AtomicBool>,
    rep: &mut dyn Reporter,
) -> Result<Outcome> {
    let ck = rd.checkpoint_dir();
    std::fs::create_dir_all(&ck).map_err(|e| evoprune_run::RunError::io(&ck, e))?;
    let state_path = ck.join("cycles.json");
    let full = encode(&LeNetMask::full());
    let mut st: LoopState = if let Some(st) = evoprune_run::stage::read(&state_path)? {
        st
    } else {
        base.save(&ck.join("weights-0000.safetensors"), Default::default())?;
        LoopState {
            cycle: 0,
            generation: 0,
            population: vec![full.to_hex()],
            elite: full.to_hex(),
            history: Vec::new(),
            weights: "weights-0000.safetensors".into(),
            stopped: None,
        }
    };
    let parse = |h: &str| {
        BitString::from_hex(h)
            .map_err(|e| GapruneError::invalid(state_path.display().to_string(), e))
    };
    let s = &cfg.search;
    let mutation = PruneMutation {
        conv: s.conv_mutation,
        fc: s.fc_mutation,
    };
    let mut last_pop: Vec<Individual<BitString>> = Vec::new();
    rep.stage(
        &format!(
            "{} search ({} generations max, retrain every {})",
            match s.mode {
                Mode::Ga => "GA",
                Mode::Nsga2 => "NSGA-II",
            },
            s.max_generations,
            s.retrain_every
        ),
        Some(s.max_generations),
    );
    rep.progress(st.generation);
    while st.stopped.is_none() {
        let k = st.cycle;
        let net = Arc::new(Net::load(&ck.join(&st.weights))?);
        let problem = LenetPruning::new(net.clone(), val.clone());
        let seeds: Vec<BitString> = st
            .population
            .iter()
            .map(|h| parse(h))
            .collect::<Result<_>>()?;
        let sampling = match (k, s.mode) {
            (0, _) => Seeding::Mutants {
                parent: full.clone(),
                keep_parent: false,
                mutation: mutation.clone(),
            },
            (_, Mode::Ga) => Seeding::Mutants {
                parent: seeds[0].clone(),
                keep_parent: true,
                mutation: mutation.clone(),
            },
            (_, Mode::Nsga2) => Seeding::Given(seeds),
        };
        let gens = s.retrain_every.min(s.max_generations - st.generation);
        let dir = cycle_dir(rd, k);
        let t = Instant::now();
        // one engine run per cycle, checkpointed every generation in its own folder
        let stage = EngineStage {
            dir: dir.clone(),
            seed: seeds::derive(cfg.seed, Purpose::GaCycle, k),
            threads,
            fingerprint: format!("{}\ncycle {k}", cfg.to_toml()?),
            stop: stop.clone(),
            every: 1,
        };

        let exec_state = match s.mode {
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
                cycle_executor(&stage, &problem, algo, gens).run()?
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
                cycle_executor(&stage, &problem, algo, gens).run()?
            }
        };
        if exec_state.reason == TerminationReason::Interrupted {
            return Err(GapruneError::Interrupted {
                generation: st.generation,
                run_dir: rd.root().to_path_buf(),
            });
        }
        let search_seconds = t.elapsed().as_secs_f64();
        let pop = exec_state.state.population;
        let e = elite_of(&pop, cfg);
        let elite = pop[e].genome.clone();
        let before = [pop[e].f[0], pop[e].f[1], pop[e].f[2]];
        let mask = decode(&elite);
        rep.stage(
            &format!("retraining the elite (cycle {k})"),
            Some((cfg.retrain.epochs * train_part.len().div_ceil(cfg.retrain.batch) as f64) as u64),
        );
        let t = Instant::now();
        let new_net = match s.mode {
            // the population is the elite's mutants: no member uses a weight outside its mask
            Mode::Ga => retrain(&net, &mask, train_part, &cfg.retrain, rep)?,
            Mode::Nsga2 => retrain_keeping_others(&net, &mask, train_part, &cfg.retrain, rep)?,
        };
        let retrain_seconds = t.elapsed().as_secs_f64();
        let after = measure(&new_net, &mask, &val)?;
        st.generation += gens;
        st.history.push(CycleRecord {
            cycle: k,
            generation: st.generation,
            before,
            after,
            fitness_before: fitness(&before, &s.lambdas),
            fitness_after: fitness(&after, &s.lambdas),
            evaluations: exec_state.state.stats.evaluations,
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
        let h = &st.history;
        if st.generation >= s.max_generations {
            st.stopped = Some(format!("generation budget ({})", s.max_generations));
        } else if s.patience > 0 && h.len() > s.patience {
            let old = h[h.len() - 1 - s.patience].fitness_after;
            let new = h[h.len() - 1].fitness_after;
            if old - new < s.tolerance {
                st.stopped = Some(format!(
                    "converged: elite fitness improved by {:.2e} < {} over {} cycles",
                    old - new,
                    s.tolerance,
                    s.patience
                ));
            }
        }
        let old_weights = st.weights.clone();
        st.weights = format!("weights-{:04}.safetensors", st.cycle);
        new_net.save(&ck.join(&st.weights), Default::default())?;
        let json = serde_json::to_vec_pretty(&st).expect("serialisable");
        evoprune_run::write_atomic(&state_path, &json)?;
        let _ = std::fs::remove_file(ck.join(old_weights));
        let _ = std::fs::remove_dir_all(&dir);
        last_pop = pop;
        if st.stopped.is_none() {
            rep.stage(
                &format!(
                    "{} search",
                    match s.mode {
                        Mode::Ga => "GA",
                        Mode::Nsga2 => "NSGA-II",
                    }
                ),
                Some(s.max_generations),
            );
            rep.progress(st.generation);
        }
    }
    let net = Net::load(&ck.join(&st.weights))?;
    if last_pop.is_empty() {
        // finished before (a re-finalisation): the saved population, re-scored under the final
        // weights
        let specs = [
            evoprune::ObjectiveSpec::minimize("error"),
            evoprune::ObjectiveSpec::minimize("flops"),
            evoprune::ObjectiveSpec::minimize("params"),
        ];
        last_pop = st
            .population
            .iter()
            .map(|h| {
                let g = parse(h)?;
                let f = measure(&net, &decode(&g), &val)?;
                Ok(Individual::from_outcome(
                    g,
                    Ok(evoprune::Evaluation::new(f.to_vec())),
                    &specs,
                    0,
                )?)
            })
            .collect::<Result<_>>()?;
        evoprune::RankAndCrowding::assign(&mut last_pop);
    }
    Ok(Outcome {
        state: st,
        net,
        population: last_pop,
    })
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
