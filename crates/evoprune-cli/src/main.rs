//! `evoprune`: the command line. A thin adapter: it parses arguments, builds library objects,
//! renders progress and writes files; all the logic lives in the library crates.

mod deeptl;
mod front_csv;
mod gaprune;
mod hv;
mod moo;
mod progress;

use clap::{Parser, Subcommand};
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
    /// Run a method from a TOML config: MO-EvoPruneDeepTL, or GA pruning of LeNet when the
    /// config says `method = "ga-prune"` (no config: the built-in MO-EvoPruneDeepTL digits run).
    Run(deeptl::RunArgs),
    /// Continue an interrupted run from its folder.
    Resume(deeptl::ResumeArgs),
    /// Write a front member's pruned head (safetensors + JSON).
    Export(deeptl::ExportArgs),
    /// Run a multi-objective algorithm on a standard test problem and write its final front.
    Moo(moo::MooArgs),
    /// Print the exact hypervolume of a front stored as CSV.
    Hv(hv::HvArgs),
}

/// Whether the run folder holds a GA-pruning run (its saved config names the method).
fn run_method(dir: &std::path::Path) -> bool {
    matches!(
        gaprune::method_of(&dir.join(evoprune_run::CONFIG_FILE)),
        Ok(Some(m)) if m == evoprune_gaprune::config::METHOD
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => match &a.config {
            Some(p) => match gaprune::method_of(p) {
                Ok(Some(m)) if m == evoprune_gaprune::config::METHOD => gaprune::run(a),
                Ok(_) => deeptl::run(a),
                Err(e) => Err(e),
            },
            None => deeptl::run(a),
        },
        Command::Resume(a) => match run_method(&a.run_dir) {
            true => gaprune::resume(a),
            false => deeptl::resume(a),
        },
        Command::Export(a) => match run_method(&a.run_dir) {
            true => gaprune::export(a),
            false => deeptl::export(a),
        },
        Command::Moo(a) => moo::run(a).map(|()| None),
        Command::Hv(a) => hv::run(a).map(|()| None),
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
