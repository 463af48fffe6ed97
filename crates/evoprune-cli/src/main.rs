//! `evoprune`: the command line. A thin adapter: it parses arguments, builds library objects,
//! renders progress and writes files; all the logic lives in the library crates.

mod compress;
mod deeptl;
mod front_csv;
mod gaprune;
mod hierarchical;
mod hv;
mod moo;
mod progress;
mod staged;

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
    /// Run a method from a TOML config: MO-EvoPruneDeepTL, GA pruning of LeNet
    /// (`method = "ga-prune"`) or hierarchical importance-guided pruning
    /// (`method = "hierarchical-prune"`) or surrogate-assisted constrained compression
    /// (`method = "surrogate-compress"`); no config: the built-in MO-EvoPruneDeepTL digits run.
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

/// The method a run folder's saved config names (`None`: MO-EvoPruneDeepTL).
fn run_method(dir: &std::path::Path) -> Option<String> {
    staged::method_of(&dir.join(evoprune_run::CONFIG_FILE))
        .ok()
        .flatten()
}

const GA: &str = evoprune_gaprune::config::METHOD;
const HIER: &str = evoprune_hierarchical::config::METHOD;
const SURR: &str = evoprune_compress::config::METHOD;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => match &a.config {
            Some(p) => match staged::method_of(p) {
                Ok(Some(m)) if m == GA => staged::run::<gaprune::GaPrune>(a),
                Ok(Some(m)) if m == HIER => staged::run::<hierarchical::Hierarchical>(a),
                Ok(Some(m)) if m == SURR => staged::run::<compress::Compress>(a),
                Ok(_) => deeptl::run(a),
                Err(e) => Err(e),
            },
            None => deeptl::run(a),
        },
        Command::Resume(a) => match run_method(&a.run_dir).as_deref() {
            Some(GA) => staged::resume::<gaprune::GaPrune>(a),
            Some(HIER) => staged::resume::<hierarchical::Hierarchical>(a),
            Some(SURR) => staged::resume::<compress::Compress>(a),
            _ => deeptl::resume(a),
        },
        Command::Export(a) => match run_method(&a.run_dir).as_deref() {
            Some(GA) => staged::export::<gaprune::GaPrune>(a),
            Some(HIER) => staged::export::<hierarchical::Hierarchical>(a),
            Some(SURR) => staged::export::<compress::Compress>(a),
            _ => deeptl::export(a),
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
