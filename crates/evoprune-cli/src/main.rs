//! `evoprune`: the command line. A thin adapter: it parses arguments, builds library objects,
//! renders progress and writes files; all the search logic lives in the `evoprune` crate.

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
    /// Run a multi-objective algorithm on a standard test problem and write its final front.
    Moo(moo::MooArgs),
    /// Print the exact hypervolume of a front stored as CSV.
    Hv(hv::HvArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Moo(a) => moo::run(a),
        Command::Hv(a) => hv::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
