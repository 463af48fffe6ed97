//! Errors of the surrogate-assisted compression pipeline.

/// What can stop a run. Every variant names the file, key or stage at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompressError {
    /// Config, run folder, table or plot.
    #[error(transparent)]
    Run(#[from] evoprune_run::RunError),
    /// Reading data or weights.
    #[error(transparent)]
    Data(#[from] evoprune_data::DataError),
    /// Building, training or scoring a network.
    #[error(transparent)]
    Nn(#[from] evoprune_nn::NnError),
    /// Loading, analysing, scoring, fine-tuning or exporting a `[model]` network.
    #[error(transparent)]
    Graph(#[from] evoprune_graph::GraphError),
    /// The search engine (checkpoints included).
    #[error(transparent)]
    Engine(#[from] evoprune::Error),
    /// Fitting or using a surrogate.
    #[error(transparent)]
    Surrogate(#[from] evoprune_surrogate::SurrogateError),
    /// Inconsistent data, weights or settings found while running.
    #[error("{what}: {reason}")]
    Invalid {
        /// The setting, file or data at fault.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The search was interrupted (Ctrl-C); the checkpoint holds every finished generation.
    #[error("interrupted in {phase}; continue with `evoprune resume {}`", run_dir.display())]
    Interrupted {
        /// The phase that was running.
        phase: String,
        /// The run folder.
        run_dir: std::path::PathBuf,
    },
}

impl CompressError {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        CompressError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = CompressError> = std::result::Result<T, E>;
