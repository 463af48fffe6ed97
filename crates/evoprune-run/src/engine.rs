//! Engine runs built one way for every method: seed, threads, fingerprint, checkpoint folder,
//! stop flag, and "resume when a run has started in that folder", decided by the engine's own
//! [`FileCheckpoint::started`] (no method reads the engine's files).

use evoprune::{Algorithm, Executor, FileCheckpoint, Problem};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The settings of one checkpointed engine run of a method's stage.
#[derive(Clone, Debug)]
pub struct EngineStage {
    /// Checkpoint folder of this run (under the run folder's `checkpoint/`).
    pub dir: PathBuf,
    /// The run's seed (from [`crate::seeds`]).
    pub seed: u64,
    /// Evaluation threads (results do not depend on it).
    pub threads: usize,
    /// The configuration the run belongs to: a resume under another one is refused.
    pub fingerprint: String,
    /// Set to stop after the current generation, with a checkpoint.
    pub stop: Arc<AtomicBool>,
    /// Checkpoint every this many generations (at least 1).
    pub every: u64,
    /// Evaluate on this cluster (its workers rebuild the stage from [`EngineStage::dir`]).
    pub remote: Option<Arc<dyn crate::remote::Cluster>>,
}

impl EngineStage {
    /// True when this stage's engine run has started before (it will resume).
    pub fn started(&self) -> bool {
        FileCheckpoint::new(&self.dir, self.every).started()
    }

    /// An executor of `algorithm` on `problem` with these settings, resuming when a run has
    /// started in [`EngineStage::dir`]. Terminations, observers, cache and archive are the
    /// caller's to add.
    pub fn executor<P: Problem, A: Algorithm<P::Genome>>(
        &self,
        problem: P,
        algorithm: A,
    ) -> Executor<P, A> {
        let ck = FileCheckpoint::new(&self.dir, self.every);
        let resume = ck.started();
        let ex = Executor::new(problem, algorithm)
            .seed(self.seed)
            .threads(self.threads)
            .fingerprint(self.fingerprint.clone())
            .checkpoint(ck)
            .resume(resume)
            .stop_flag(self.stop.clone());
        match &self.remote {
            Some(c) => ex.remote(Arc::new(crate::remote::StageRemote::new(
                c.clone(),
                self.dir.clone(),
            ))),
            None => ex,
        }
    }
}
