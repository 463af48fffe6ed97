//! `evoprune`: the command line. A thin adapter: it parses arguments, builds library objects,
//! renders progress and writes files; all the logic lives in the library crates.

mod bench;
mod front_csv;
mod hv;
mod inspect;
mod methods;
mod moo;
mod progress;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed blocks for reuse: the executor's large activations cost page faults
/// under glibc's allocator, which returns them to the kernel (see the workspace Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Multi-objective evolutionary compression of neural networks.
#[derive(Parser, Debug)]
#[command(name = "evoprune", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a method from a TOML config: MO-EvoPruneDeepTL (no `method` key, or
    /// `method = "mo-evoprune-deeptl"`), GA pruning of LeNet (`method = "ga-prune"`),
    /// hierarchical importance-guided pruning (`method = "hierarchical-prune"`) or
    /// surrogate-assisted constrained compression (`method = "surrogate-compress"`); no config:
    /// the built-in MO-EvoPruneDeepTL digits run.
    Run(methods::RunArgs),
    /// Continue an interrupted run from its folder.
    Resume(methods::ResumeArgs),
    /// Train a config's `[model]` network as its runs would (or read it from the shared
    /// baseline cache), and print its test accuracy and training time.
    Baseline(methods::BaselineArgs),
    /// Write a front member's pruned network (safetensors, with a description).
    Export(methods::ExportArgs),
    /// Run a multi-objective algorithm on a standard test problem and write its final front.
    Moo(moo::MooArgs),
    /// Print the exact hypervolume of a front stored as CSV.
    Hv(hv::HvArgs),
    /// Show a network's layers, prunable channel groups, parameters and MACs.
    Inspect(inspect::InspectArgs),
    /// Measure a network's inference throughput on this machine.
    Bench(bench::BenchArgs),
}

/// Transparent huge pages off for this process. With them, an executor's activations land on
/// 2 MiB pages or not depending on the moment's memory fragmentation, and a run of the same
/// network is either at full speed or up to 45% slower (ResNet-20 at batch 32: 2,650-2,850
/// images/s or 1,500-2,000, process to process); without them every run is at 2,640-2,710.
/// Larger networks are as fast either way (measured for VGG-16, MobileNetV2, ResNet-50).
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: prctl(PR_SET_THP_DISABLE) only sets a flag on this process's memory map; it
    // reads no pointers. Its result is ignored: without it runs are only less steady.
    unsafe {
        // prctl is variadic and reads its arguments as unsigned longs
        let (one, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, one, zero, zero, zero);
    }
}

/// Keep freed memory in the allocator. glibc returns large blocks to the kernel when they are
/// freed (by `munmap` above the mmap threshold, by trimming the heap above the trim threshold),
/// so a buffer allocated again, such as the `gemm` crate's packing buffers on every call, costs
/// fresh zeroed pages each time: 14% of a ResNet-56 training step (perf). Fixed thresholds
/// (32 MiB, glibc's largest mmap threshold; 1 GiB of free heap before trimming) keep those
/// blocks; the process's peak memory is unchanged.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets allocator tunables; it reads no pointers. Its result is
    // ignored: without it runs are only slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => methods::run(a),
        Command::Resume(a) => methods::resume(a),
        Command::Baseline(a) => methods::baseline(a),
        Command::Export(a) => methods::export(a),
        Command::Moo(a) => moo::run(a).map(|()| None),
        Command::Hv(a) => hv::run(a).map(|()| None),
        Command::Inspect(a) => inspect::run(a).map(|()| None),
        Command::Bench(a) => bench::run(a).map(|()| None),
    };
    match result {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(code)) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
