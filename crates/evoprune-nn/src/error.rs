//! Errors of the neural crate.

/// What can go wrong building, training or scoring a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// The training loss became NaN or infinite (the candidate is infeasible; the search goes on).
    #[error("training diverged: loss is {loss} at epoch {epoch}, batch {batch}")]
    NonFinite {
        /// Epoch (0-based).
        epoch: usize,
        /// Batch within the epoch.
        batch: usize,
        /// The offending loss value.
        loss: f32,
    },
    /// A weights file could not be read or is not the network asked for (names the file).
    #[error(transparent)]
    Data(#[from] evoprune_data::DataError),
    /// Inputs of inconsistent sizes.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A setting is out of range.
    #[error("invalid {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias of the neural crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;
