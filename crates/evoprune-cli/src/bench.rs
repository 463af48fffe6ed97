//! `evoprune bench`: inference or training throughput of a network on this machine.

use anyhow::Result;
use evoprune_graph::train::{self, BatchNorm, Engine, FineTune};
use evoprune_graph::{Tensor, exec, fast};
use serde::Serialize;
use std::time::Instant;

/// Arguments of `evoprune bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The network: an ONNX file or a zoo architecture (as for `evoprune inspect`).
    #[command(flatten)]
    model: crate::inspect::ModelArgs,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed forward passes (after the warm-up passes); the median is reported.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Untimed passes first (buffers allocated, caches and allocator warm).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The executor: `fast` (the compiled plan every method uses; with `--train`, the
    /// native trainer), `reference` (the op-by-op executor the tests check against) or `burn`
    /// (the graph on burn's flex backend; with `--train`, its autodiff).
    #[arg(long, value_enum, default_value_t = Executor::Fast)]
    executor: Executor,
    /// Time training steps instead of inference: forward in training mode (batch
    /// statistics), cross-entropy, backward and an SGD update with momentum, as PyTorch's
    /// `model.train()` loop does.
    #[arg(long)]
    train: bool,
    /// Print JSON (keys `images_per_second`, `seconds_per_batch`, `batch`, `threads`, `input`).
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Executor {
    Fast,
    Reference,
    Burn,
}

#[derive(Serialize)]
struct Measured {
    model: String,
    executor: &'static str,
    mode: &'static str,
    input: Vec<usize>,
    batch: usize,
    threads: usize,
    repeats: usize,
    seconds_per_batch: f64,
    images_per_second: f64,
}

pub fn run(a: BenchArgs) -> Result<()> {
    if a.batch == 0 || a.repeats == 0 {
        anyhow::bail!("--batch and --repeats must be at least 1");
    }
    let g = a.model.network()?;
    let mut shape = g.input_shape.clone();
    shape[0] = a.batch;
    let n: usize = shape.iter().product();
    let x = Tensor::new(
        shape,
        (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect(),
    );
    let threads = if a.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        a.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    if a.train {
        return run_train(&a, g, x, threads, &pool);
    }
    let mut times = Vec::with_capacity(a.repeats);
    // compiled once, like an onnxruntime session; the reference executor has nothing to compile
    let plan = match a.executor {
        Executor::Fast => Some(fast::Plan::new(&g)?),
        _ => None,
    };
    // burn: the parameters moved to the device once, like the plan's packing
    let burn = match a.executor {
        Executor::Burn => Some(train::BurnInference::new(&g)?),
        _ => None,
    };
    let once = || -> Result<()> {
        match (&plan, &burn) {
            (Some(p), _) => {
                p.run(&x)?;
            }
            (None, Some(b)) => {
                b.run(&x)?;
            }
            (None, None) => {
                exec::run(&g, &x)?;
            }
        }
        Ok(())
    };
    pool.install(|| -> Result<()> {
        for _ in 0..a.warmup.max(1) {
            once()?;
        }
        for _ in 0..a.repeats {
            let t = Instant::now();
            once()?;
            times.push(t.elapsed().as_secs_f64());
        }
        Ok(())
    })?;
    let executor = match a.executor {
        Executor::Fast => "evoprune fast executor (direct blocked kernels)",
        Executor::Burn => "burn (flex)",
        Executor::Reference => "evoprune reference executor (im2col + gemm)",
    };
    report(&a, &g, threads, times, executor)
}

/// Time `a.repeats` training steps (after `a.warmup`) on the batch `x`.
fn run_train(
    a: &BenchArgs,
    mut g: evoprune_graph::Graph,
    x: Tensor,
    threads: usize,
    pool: &rayon::ThreadPool,
) -> Result<()> {
    let (engine, executor) = match a.executor {
        Executor::Fast => (Engine::Native, "evoprune native trainer (im2col + gemm)"),
        Executor::Burn => (Engine::Burn, "burn autodiff (flex)"),
        Executor::Reference => anyhow::bail!("--train runs on --executor fast or burn"),
    };
    let classes = evoprune_graph::shape::infer(&g, 1)?
        .get(&g.outputs[0])
        .and_then(|s| s.get(1).copied())
        .unwrap_or(1);
    let y: Vec<u32> = (0..a.batch).map(|i| (i % classes) as u32).collect();
    // one step per epoch (the batch is the whole data); the trainer and its buffers persist
    // across epochs, so each epoch's time is one step's
    let cfg = FineTune {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        epochs: (a.warmup.max(1) + a.repeats) as f64,
        batch: a.batch,
        seed: 0,
        batch_norm: BatchNorm::Batch,
    };
    let mut stamps = Vec::with_capacity(a.warmup.max(1) + a.repeats + 1);
    pool.install(|| -> Result<()> {
        stamps.push(Instant::now());
        train::fine_tune_with(
            engine,
            &mut g,
            &x.data,
            &y,
            &Default::default(),
            &cfg,
            |p| {
                if p.epoch_loss.is_some() {
                    stamps.push(Instant::now())
                }
            },
        )?;
        Ok(())
    })?;
    let times: Vec<f64> = stamps
        .windows(2)
        .skip(a.warmup.max(1))
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    report(a, &g, threads, times, executor)
}

fn report(
    a: &BenchArgs,
    g: &evoprune_graph::Graph,
    threads: usize,
    mut times: Vec<f64>,
    executor: &'static str,
) -> Result<()> {
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let m = Measured {
        model: a.model.model.display().to_string(),
        executor,
        mode: if a.train {
            "training step"
        } else {
            "inference"
        },
        input: g.input_shape[1..].to_vec(),
        batch: a.batch,
        threads,
        repeats: a.repeats,
        seconds_per_batch: median,
        images_per_second: a.batch as f64 / median,
    };
    if a.json {
        crate::inspect::emit(&serde_json::to_string_pretty(&m)?)
    } else {
        crate::inspect::emit(&format!(
            "{} ({}): {:.1} images/s (batch {}, input {:?}, {} threads, median of {} passes: {:.4} s)",
            m.model,
            m.mode,
            m.images_per_second,
            m.batch,
            m.input,
            m.threads,
            m.repeats,
            m.seconds_per_batch
        ))
    }
}
