//! Errors of the data crate.

use std::path::{Path, PathBuf};

/// What can go wrong reading or preparing data. Every variant names the file (or the setting).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not what its format requires.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offending position where known.
        reason: String,
    },
    /// A parameter is out of range (split fractions, class lists, shapes).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The parameter.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn format(path: &Path, reason: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        DataError::Invalid {
            what,
            reason: reason.into(),
        }
    }
}

/// Result alias of the data crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
