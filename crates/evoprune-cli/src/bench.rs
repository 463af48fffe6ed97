//! `evoprune bench`: inference throughput of a network on this machine.

use anyhow::Result;
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
    /// The executor: `fast` (the compiled plan every method uses) or `reference` (the
    /// op-by-op executor the tests check against).
    #[arg(long, value_enum, default_value_t = Executor::Fast)]
    executor: Executor,
    /// Print JSON (keys `images_per_second`, `seconds_per_batch`, `batch`, `threads`, `input`).
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Executor {
    Fast,
    Reference,
}

#[derive(Serialize)]
struct Measured {
    model: String,
    executor: &'static str,
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
    let mut times = Vec::with_capacity(a.repeats);
    // compiled once, like an onnxruntime session; the reference executor has nothing to compile
    let plan = match a.executor {
        Executor::Fast => Some(fast::Plan::new(&g)?),
        Executor::Reference => None,
    };
    let once = || match &plan {
        Some(p) => p.run(&x),
        None => exec::run(&g, &x),
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
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let m = Measured {
        model: a.model.model.display().to_string(),
        executor: match a.executor {
            Executor::Fast => "evoprune fast executor (direct blocked kernels)",
            Executor::Reference => "evoprune reference executor (im2col + gemm)",
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
            "{}: {:.1} images/s (batch {}, input {:?}, {} threads, median of {} passes: {:.4} s)",
            m.model,
            m.images_per_second,
            m.batch,
            m.input,
            m.threads,
            m.repeats,
            m.seconds_per_batch
        ))
    }
}
