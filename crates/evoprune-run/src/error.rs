//! Errors of the run machinery.

use std::path::PathBuf;

/// A failure that names what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A config file is malformed, has an unknown key or a bad value.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A value is out of its allowed range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The key or argument, e.g. `search.pop_size`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A run folder is not in the state an operation needs.
    #[error("{}: {reason}", path.display())]
    RunDir {
        /// The run folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A chart could not be drawn.
    #[error("{}: cannot draw: {reason}", path.display())]
    Plot {
        /// The output file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
}

impl RunError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RunError::Io {
            path: path.into(),
            source,
        }
    }

    /// An out-of-range value of `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RunError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Result of this crate.
pub type Result<T, E = RunError> = std::result::Result<T, E>;
