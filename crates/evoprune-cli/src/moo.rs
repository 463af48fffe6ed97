//! `evoprune moo`: an algorithm on a standard test problem.

use crate::{front_csv, progress};
use anyhow::{Context, Result, bail};
use evoprune::{
    Algorithm, BitFlip, Ctaea, CtaeaConfig, Executor, FileCheckpoint, MaxEvaluations,
    MaxGenerations, Microbial, Nsga2, Nsga2Config, PolynomialMutation, Problem, RealBounds,
    RealVector, TerminationReason, UniformBits, UniformCrossover, UniformReal, WeightedGa,
    WeightedGaConfig,
    pareto::{das_dennis_at_least, hypervolume},
};
use evoprune_problems::{Cdtlz, Dtlz, Knapsack, Zdt};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemName {
    Zdt1,
    Zdt2,
    Zdt3,
    Zdt4,
    Zdt6,
    Dtlz1,
    Dtlz2,
    /// DTLZ1 with a linear constraint (Jain & Deb 2014).
    C1Dtlz1,
    /// DTLZ2 with its front cut into feasible patches (Jain & Deb 2014).
    C2Dtlz2,
    Knapsack,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlgorithmName {
    /// NSGA-II, generational (pymoo defaults).
    Nsga2,
    /// NSGA-II, steady state (`--offspring` per step, default 2).
    Nsga2Steady,
    /// Elitist GA on a weighted sum (`--weights`), top-K selection, microbial crossover.
    WeightedGa,
    /// C-TAEA (pymoo defaults): the population is the fewest Das-Dennis directions that reach
    /// `--pop-size` (91 for 3 objectives and 91; 105 for 3 and 100).
    Ctaea,
}

/// Arguments of `evoprune moo`.
#[derive(clap::Args, Debug)]
pub struct MooArgs {
    /// Test problem.
    #[arg(long, value_enum, default_value = "zdt1")]
    problem: ProblemName,
    /// Algorithm.
    #[arg(long, value_enum, default_value = "nsga2")]
    algorithm: AlgorithmName,
    /// Population size.
    #[arg(long, default_value_t = 100)]
    pop_size: usize,
    /// Generation (step) budget; 250 when no budget is given.
    #[arg(long)]
    generations: Option<u64>,
    /// Evaluation budget.
    #[arg(long)]
    evaluations: Option<u64>,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the final front (CSV).
    #[arg(long, default_value = "front.csv")]
    out: PathBuf,
    /// Objectives (DTLZ: default 3; knapsack: default 2).
    #[arg(long)]
    n_obj: Option<usize>,
    /// Variables (default: the problem's customary size).
    #[arg(long)]
    n_var: Option<usize>,
    /// Knapsack items.
    #[arg(long, default_value_t = 250)]
    n_items: usize,
    /// Offspring per step for nsga2-steady.
    #[arg(long, default_value_t = 2)]
    offspring: usize,
    /// Objective weights for weighted-ga (default: equal).
    #[arg(long, value_delimiter = ',')]
    weights: Vec<f64>,
    /// Hypervolume reference point (default 1.1 per objective; 0 for knapsack).
    #[arg(long = "ref", value_name = "R1,R2,...")]
    reference: Option<String>,
    /// Threads for evaluation (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write checkpoints (and the evaluation journal) into this directory.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Checkpoint every K generations.
    #[arg(long, default_value_t = 10, value_name = "K")]
    checkpoint_every: u64,
    /// Continue the run checkpointed in DIR (its settings come from DIR/run.json).
    #[arg(long, value_name = "DIR", conflicts_with = "checkpoint_dir")]
    resume: Option<PathBuf>,
}

/// Everything that defines the search; saved as `run.json` beside the checkpoints and used as
/// the checkpoint fingerprint, so a resume cannot silently change the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Spec {
    problem: ProblemName,
    algorithm: AlgorithmName,
    pop_size: usize,
    generations: Option<u64>,
    evaluations: Option<u64>,
    seed: u64,
    n_obj: Option<usize>,
    n_var: Option<usize>,
    n_items: usize,
    offspring: usize,
    weights: Vec<f64>,
    reference: Vec<f64>,
}

const SPEC_FILE: &str = "run.json";

struct Opts {
    out: PathBuf,
    threads: usize,
    checkpoint: Option<(PathBuf, u64)>,
    resume: bool,
}

pub fn run(a: MooArgs) -> Result<()> {
    let (spec, opts) = resolve(a)?;
    match spec.problem {
        ProblemName::Zdt1
        | ProblemName::Zdt2
        | ProblemName::Zdt3
        | ProblemName::Zdt4
        | ProblemName::Zdt6 => {
            let variant = match spec.problem {
                ProblemName::Zdt1 => 1,
                ProblemName::Zdt2 => 2,
                ProblemName::Zdt3 => 3,
                ProblemName::Zdt4 => 4,
                _ => 6,
            };
            let n = spec.n_var.unwrap_or(if variant >= 4 { 10 } else { 30 });
            if n < 2 {
                bail!("--n-var: ZDT needs at least 2 variables");
            }
            let p = Zdt::new(variant, n);
            let b = p.bounds();
            real(p, b, &spec, &opts)
        }
        ProblemName::Dtlz1 | ProblemName::Dtlz2 | ProblemName::C1Dtlz1 | ProblemName::C2Dtlz2 => {
            let m = spec.n_obj.unwrap_or(3);
            let variant = if matches!(spec.problem, ProblemName::Dtlz1 | ProblemName::C1Dtlz1) {
                1
            } else {
                2
            };
            if m < 2 {
                bail!("--n-obj: DTLZ needs at least 2 objectives, got {m}");
            }
            let n = spec
                .n_var
                .unwrap_or(m - 1 + if variant == 1 { 5 } else { 10 });
            if n < m {
                bail!("--n-obj/--n-var: DTLZ needs at least 2 objectives and n-var >= n-obj");
            }
            match spec.problem {
                ProblemName::C1Dtlz1 => {
                    let p = Cdtlz::c1_dtlz1(m, n);
                    let b = p.bounds();
                    real(p, b, &spec, &opts)
                }
                ProblemName::C2Dtlz2 => {
                    let p = Cdtlz::c2_dtlz2(m, n);
                    let b = p.bounds();
                    real(p, b, &spec, &opts)
                }
                _ => {
                    let p = Dtlz::new(variant, m, n);
                    let b = p.bounds();
                    real(p, b, &spec, &opts)
                }
            }
        }
        ProblemName::Knapsack => {
            let m = spec.n_obj.unwrap_or(2);
            if m < 1 || spec.n_items < 1 {
                bail!("--n-obj/--n-items: the knapsack needs at least one knapsack and one item");
            }
            let p = Knapsack::random(spec.n_items, m, spec.seed);
            let len = p.n_items();
            match spec.algorithm {
                AlgorithmName::Nsga2 => {
                    execute(p, Nsga2::binary(nsga2_config(&spec), len)?, &spec, &opts)
                }
                AlgorithmName::Nsga2Steady => {
                    execute(p, Nsga2::binary(steady_config(&spec), len)?, &spec, &opts)
                }
                AlgorithmName::WeightedGa => {
                    let ga = WeightedGa::new(
                        weighted_config(&spec, m),
                        UniformBits::new(len),
                        Microbial::default(),
                        BitFlip::default(),
                    )?;
                    execute(p, ga, &spec, &opts)
                }
                AlgorithmName::Ctaea => {
                    let dirs = das_dennis_at_least(m, spec.pop_size);
                    let algo = Ctaea::new(
                        CtaeaConfig::default(),
                        dirs,
                        UniformBits::new(len),
                        UniformCrossover::default(),
                        BitFlip::default(),
                    )?;
                    execute(p, algo, &spec, &opts)
                }
            }
        }
    }
}

fn nsga2_config(s: &Spec) -> Nsga2Config {
    Nsga2Config {
        pop_size: s.pop_size,
        ..Default::default()
    }
}

fn steady_config(s: &Spec) -> Nsga2Config {
    Nsga2Config {
        pop_size: s.pop_size,
        n_offspring: Some(s.offspring),
        ..Default::default()
    }
}

fn weighted_config(s: &Spec, m: usize) -> WeightedGaConfig {
    let weights = if s.weights.is_empty() {
        vec![1.0 / m as f64; m]
    } else {
        s.weights.clone()
    };
    WeightedGaConfig {
        pop_size: s.pop_size,
        top_k: 5.min(s.pop_size),
        weights,
        ..Default::default()
    }
}

fn real<P: Problem<Genome = RealVector>>(
    p: P,
    b: RealBounds,
    spec: &Spec,
    opts: &Opts,
) -> Result<()> {
    let m = p.objectives().len();
    match spec.algorithm {
        AlgorithmName::Nsga2 => execute(p, Nsga2::real(nsga2_config(spec), b)?, spec, opts),
        AlgorithmName::Nsga2Steady => execute(p, Nsga2::real(steady_config(spec), b)?, spec, opts),
        AlgorithmName::WeightedGa => {
            let ga = WeightedGa::new(
                weighted_config(spec, m),
                UniformReal { bounds: b.clone() },
                Microbial::default(),
                PolynomialMutation::new(b),
            )?;
            execute(p, ga, spec, opts)
        }
        AlgorithmName::Ctaea => {
            let dirs = das_dennis_at_least(m, spec.pop_size);
            execute(p, Ctaea::real(CtaeaConfig::default(), dirs, b)?, spec, opts)
        }
    }
}

fn resolve(a: MooArgs) -> Result<(Spec, Opts)> {
    if let Some(dir) = &a.resume {
        let path = dir.join(SPEC_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot resume: {} is missing or unreadable", path.display())
        })?;
        let spec: Spec = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid run description", path.display()))?;
        let opts = Opts {
            out: a.out,
            threads: a.threads,
            checkpoint: Some((dir.clone(), a.checkpoint_every)),
            resume: true,
        };
        return Ok((spec, opts));
    }
    if a.pop_size < 2 {
        bail!("--pop-size: must be at least 2, got {}", a.pop_size);
    }
    if a.threads == 0 {
        bail!("--threads: must be at least 1");
    }
    let m = match a.problem {
        ProblemName::Dtlz1 | ProblemName::Dtlz2 | ProblemName::C1Dtlz1 | ProblemName::C2Dtlz2 => {
            a.n_obj.unwrap_or(3)
        }
        ProblemName::Knapsack => a.n_obj.unwrap_or(2),
        _ => {
            if a.n_obj.is_some_and(|m| m != 2) {
                bail!("--n-obj: ZDT problems have exactly 2 objectives");
            }
            2
        }
    };
    let reference = match &a.reference {
        Some(r) => front_csv::parse_point(r)?,
        None if a.problem == ProblemName::Knapsack => vec![0.0; m],
        None => vec![1.1; m],
    };
    if reference.len() != m {
        bail!("--ref: {} values for {m} objectives", reference.len());
    }
    if a.algorithm == AlgorithmName::WeightedGa && !a.weights.is_empty() && a.weights.len() != m {
        bail!("--weights: {} weights for {m} objectives", a.weights.len());
    }
    let generations = if a.generations.is_none() && a.evaluations.is_none() {
        Some(250)
    } else {
        a.generations
    };
    let spec = Spec {
        problem: a.problem,
        algorithm: a.algorithm,
        pop_size: a.pop_size,
        generations,
        evaluations: a.evaluations,
        seed: a.seed,
        n_obj: a.n_obj,
        n_var: a.n_var,
        n_items: a.n_items,
        offspring: a.offspring,
        weights: a.weights,
        reference,
    };
    let checkpoint = a.checkpoint_dir.map(|d| (d, a.checkpoint_every));
    if let Some((dir, _)) = &checkpoint {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(SPEC_FILE);
        std::fs::write(&path, serde_json::to_string_pretty(&spec)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok((
        spec,
        Opts {
            out: a.out,
            threads: a.threads,
            checkpoint,
            resume: false,
        },
    ))
}

fn execute<P: Problem, A: Algorithm<P::Genome>>(
    problem: P,
    algo: A,
    spec: &Spec,
    opts: &Opts,
) -> Result<()> {
    let name = problem.name().to_string();
    let m = problem.objectives().len();
    let algo_name = algo.name().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C stops after the current generation, with a checkpoint when one is configured.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let mut exec = Executor::new(problem, algo)
        .seed(spec.seed)
        .threads(opts.threads)
        // Test problems cost nanoseconds per evaluation: caching them costs more than it saves.
        .cache(false)
        .hv_reference(spec.reference.clone())
        .fingerprint(serde_json::to_string(spec)?)
        .stop_flag(stop)
        .observer(progress::Bar::new(std::io::stdout().is_terminal()));
    if let Some(g) = spec.generations {
        exec = exec.termination(MaxGenerations(g));
    }
    if let Some(e) = spec.evaluations {
        exec = exec.termination(MaxEvaluations(e));
    }
    if let Some((dir, every)) = &opts.checkpoint {
        exec = exec
            .checkpoint(FileCheckpoint::new(dir, *every))
            .resume(opts.resume);
    }
    let res = exec.run()?;
    let s = &res.state.stats;
    if res.reason == TerminationReason::Interrupted {
        let how = match &opts.checkpoint {
            Some((dir, _)) => format!("resume with: evoprune moo --resume {}", dir.display()),
            None => "no checkpoint directory was given, so it cannot be resumed".into(),
        };
        bail!(
            "interrupted at generation {} ({} evaluations); no front written; {how}",
            s.generation,
            s.evaluations
        );
    }
    let mut rows: Vec<Vec<f64>> = res.front().iter().map(|i| i.f.clone()).collect();
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    rows.dedup();
    write_front(&opts.out, &rows, m)?;
    let hv = hypervolume(&rows, &spec.reference);
    println!(
        "problem {name} ({m} objectives), algorithm {algo_name}, seed {}",
        spec.seed
    );
    println!(
        "{} generations, {} evaluations ({} cached, {} failed) in {:.3} s; stopped: {}",
        s.generation, s.evaluations, s.cache_hits, s.failures, s.elapsed_secs, res.reason
    );
    println!("front: {} solutions -> {}", rows.len(), opts.out.display());
    println!(
        "hypervolume (reference {}):",
        spec.reference
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    println!("{hv}");
    Ok(())
}

fn write_front(path: &Path, rows: &[Vec<f64>], m: usize) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    front_csv::write(path, rows, m)
}
