//! The run machinery every evoprune method shares.
//!
//! - [`RunDir`]: the run folder (resolved config, checkpoints, outputs written atomically, a
//!   completion marker written last, so an interrupted run never looks finished);
//! - [`config`]: TOML configs whose errors name the file, the key and the line;
//! - [`MethodConfig`], [`start`], [`reopen`]: a method's config loaded with its paths resolved,
//!   validated, stored in the run folder and read back from it on resume;
//! - [`Method`], [`MethodSpec`], [`registry`]: one interface to run, resume and export any
//!   method, found by its config's `method` key;
//! - [`Table`]: one table rendered as aligned text (terminal), Markdown, HTML and CSV;
//! - [`plot`]: SVG scatter and line charts (front scatter with the baseline, hypervolume curve);
//! - [`Outputs`]: a run's files (JSON, CSV, charts, report) declared once and written by one
//!   function, which checks the declaration first;
//! - [`Report`]: a Markdown + HTML report that ties tables and figures together;
//! - [`remote`]: candidate evaluation on a cluster's workers ([`remote::Cluster`]);
//! - [`engine`]: checkpointed engine runs built one way (seed, threads, fingerprint, folder, stop);
//! - [`seeds`]: every derived seed as a named stream, and the thread-pool policy;
//! - [`stage`]: finished stages' results under `checkpoint/`, read back on resume;
//! - [`Reporter`]: how long pipeline stages report progress without printing (the CLI renders).
//!
//! No function here prints.

pub mod config;
pub mod engine;
mod error;
mod method;
pub mod outputs;
pub mod plot;
pub mod registry;
pub mod remote;
mod report;
mod rundir;
pub mod seeds;
pub mod stage;
mod table;

pub use error::{Result, RunError};
pub use method::{MethodConfig, reopen, start};
pub use outputs::{Output, Outputs};
pub use registry::{Finished, Method, MethodSpec, Overrides, Registered, Stopped};
pub use report::{Block, Report};
pub use rundir::{COMPLETE_FILE, CONFIG_FILE, LOCK_FILE, RunDir, member, write_atomic};
pub use table::{Column, Table};

/// How a staged method's run is driven (GA pruning, hierarchical pruning): the reporter of its
/// stages, the stop flag (set it to stop after the current generation, with a checkpoint) and
/// a thread-count override (0 = keep the config's).
pub struct Driver {
    /// Receives stage progress and notes.
    pub reporter: Box<dyn Reporter>,
    /// Set to stop after the current generation (with a checkpoint).
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Override of the config's thread count (0 = keep).
    pub threads: usize,
    /// Evaluate candidates on this cluster instead of local threads (methods that can:
    /// [`Method::distributed`]).
    pub remote: Option<std::sync::Arc<dyn remote::Cluster>>,
}

/// What a finished run returns: its folder, its result and the result as a table.
#[derive(Clone, Debug)]
pub struct Summary<R> {
    /// The run folder.
    pub dir: std::path::PathBuf,
    /// The result (what `result.json` holds).
    pub result: R,
    /// The result as a table for a terminal.
    pub table: Table,
}

/// Receives progress of a run's stages (feature extraction, baseline training, final scoring).
/// The search itself reports through the engine's `Observer`.
pub trait Reporter: Send {
    /// A new stage begins; `total` is its amount of work when known.
    fn stage(&mut self, name: &str, total: Option<u64>);
    /// `done` units of the current stage are finished.
    fn progress(&mut self, done: u64);
    /// A one-line remark worth showing to the user.
    fn note(&mut self, message: &str);
    /// A detail of the current stage shown beside its progress (best values so far).
    fn detail(&mut self, _message: &str) {}
}

/// Progress of a training on `rep` in steps, `(done, total)`: the stage `name` opens at the
/// first report, when the number of steps is known (a training that never steps, such as a
/// baseline read from the cache, opens none).
pub fn training<'a>(rep: &'a mut dyn Reporter, name: String) -> impl FnMut(u64, u64) + 'a {
    let mut open = false;
    move |done, total| {
        if !open {
            rep.stage(&name, Some(total));
            open = true;
        }
        rep.progress(done)
    }
}

/// The fine-tuning of the `[model]` network `network` for `epochs` epochs before a search: the
/// seed of its sample order for a run seeded `seed` (the one seed every method's run and
/// `evoprune baseline` use, so that they share one cached baseline), and its progress on `rep`
/// ([`training`]).
pub fn baseline_stage<'a>(
    rep: &'a mut dyn Reporter,
    seed: u64,
    network: &str,
    epochs: usize,
) -> (u64, impl FnMut(u64, u64) + 'a) {
    (
        seeds::derive(seed, seeds::Purpose::NetworkTraining, 0),
        training(rep, format!("fine-tuning {network} ({epochs} epochs)")),
    )
}

/// A reporter that discards everything (library use and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn stage(&mut self, _: &str, _: Option<u64>) {}
    fn progress(&mut self, _: u64) {}
    fn note(&mut self, _: &str) {}
}
