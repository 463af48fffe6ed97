//! Errors of the GA-pruning pipeline.

/// What can stop a run. Every variant names the file, key or stage at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GapruneError {
    /// Config, run folder, table or plot.
    #[error(transparent)]
    Run(#[from] evoprune_run::RunError),
    /// Reading data.
    #[error(transparent)]
    Data(#[from] evoprune_data::DataError),
    /// Building, training or scoring LeNet.
    #[error(transparent)]
    Nn(#[from] evoprune_nn::NnError),
    /// Loading, scoring, training or exporting a network of `[model]`.
    #[error(transparent)]
    Graph(#[from] evoprune_graph::GraphError),
    /// The search engine (checkpoints included).
    #[error(transparent)]
    Engine(#[from] evoprune::Error),
    /// Inconsistent data or settings found while running.
    #[error("{what}: {reason}")]
    Invalid {
        /// The setting, file or data at fault.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The search was interrupted (Ctrl-C); the checkpoint holds every finished generation.
    #[error("interrupted at generation {generation}; continue with `evoprune resume {}`", run_dir.display())]
    Interrupted {
        /// Generations of finished cycles.
        generation: u64,
        /// The run folder.
        run_dir: std::path::PathBuf,
    },
}

impl GapruneError {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        GapruneError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = GapruneError> = std::result::Result<T, E>;
