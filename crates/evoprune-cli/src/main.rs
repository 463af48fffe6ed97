//! `evoprune`: the command line. A thin adapter: it parses arguments, builds library objects,
//! renders progress and writes files; all the logic lives in the library crates.

mod deeptl;
mod front_csv;
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
    /// Run MO-EvoPruneDeepTL from a TOML config (no config: the built-in digits run).
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => deeptl::run(a),
        Command::Resume(a) => deeptl::resume(a),
        Command::Export(a) => deeptl::export(a),
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
