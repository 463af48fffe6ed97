//! The engine's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
///
/// A failed *candidate evaluation* is not an error: it makes that candidate infeasible and the
/// run goes on (see [`crate::Outcome`]). These errors stop a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {field}: {reason}")]
    Config {
        /// The offending field (e.g. `pop_size`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The problem returned something the engine cannot use (wrong number of objectives, ...).
    #[error("problem contract violated: {0}")]
    Problem(String),
    /// Reading or writing a checkpoint failed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A resume was requested but the directory holds no checkpoint.
    #[error("no checkpoint found in {0}")]
    NoCheckpoint(PathBuf),
    /// An observer asked the run to stop with an error.
    #[error("observer: {0}")]
    Observer(String),
}

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            field,
            reason: reason.into(),
        }
    }
}
