//! `evoprune hv`.

use crate::front_csv;
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `evoprune hv`.
#[derive(clap::Args, Debug)]
pub struct HvArgs {
    /// Reference point, one value per objective (minimisation), e.g. `1.1,1.1`.
    #[arg(long = "ref", value_name = "R1,R2,...")]
    reference: String,
    /// The front: CSV with an optional header, one row per solution.
    front: PathBuf,
}

pub fn run(a: HvArgs) -> Result<()> {
    let r = front_csv::parse_point(&a.reference)?;
    let pts = front_csv::read(&a.front, r.len())?;
    println!("{}", evoprune::pareto::hypervolume(&pts, &r));
    Ok(())
}
