//! Errors of the MO-EvoPruneDeepTL pipeline.

/// What can stop a run. Every variant names the file, key or stage at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeeptlError {
    /// Config, run folder, table or plot.
    #[error(transparent)]
    Run(#[from] evoprune_run::RunError),
    /// Reading data.
    #[error(transparent)]
    Data(#[from] evoprune_data::DataError),
    /// The backbone or feature extraction.
    #[error(transparent)]
    Vision(#[from] evoprune_vision::VisionError),
    /// An ONNX backbone (import, shapes, execution).
    #[error(transparent)]
    Graph(#[from] evoprune_graph::GraphError),
    /// Building or training a head.
    #[error(transparent)]
    Nn(#[from] evoprune_nn::NnError),
    /// The search engine (checkpoints included).
    #[error(transparent)]
    Engine(#[from] evoprune::Error),
    /// Inconsistent data or settings found while running.
    #[error("{what}: {reason}")]
    Invalid {
        /// The setting or data at fault.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The search was interrupted (Ctrl-C); the checkpoint holds every finished evaluation.
    #[error("interrupted after {evaluations} evaluations; continue with `evoprune resume {}`", run_dir.display())]
    Interrupted {
        /// Evaluations finished and checkpointed.
        evaluations: u64,
        /// The run folder.
        run_dir: std::path::PathBuf,
    },
}

impl DeeptlError {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        DeeptlError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DeeptlError> = std::result::Result<T, E>;
