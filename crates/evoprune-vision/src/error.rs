//! Errors of the vision crate.

use std::path::PathBuf;

/// What can go wrong loading a backbone or an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisionError {
    /// Reading weights failed.
    #[error(transparent)]
    Data(#[from] evoprune_data::DataError),
    /// A weight is missing or has the wrong shape.
    #[error("{path}: {reason}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An image could not be decoded.
    #[error("{path}: {reason}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A device this build cannot use, or an unknown device name.
    #[error("{0}")]
    Unsupported(String),
    /// Input of the wrong shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
}

/// Result alias of the vision crate.
pub type Result<T, E = VisionError> = std::result::Result<T, E>;
