//! Candidate evaluation on a cluster (the Python package's Ray pool), for any method whose
//! stages a worker can rebuild.
//!
//! The driver's engine hands a [`Cluster`] the serialized genomes of one engine stage (named by
//! its checkpoint folder); on each worker, [`Method::serve`](crate::Method::serve) rebuilds
//! that stage's problem once (data, cached features, baseline weights from the run folder) and
//! evaluates genomes with [`serve_batch`]. The results, checkpoints and journal are the same as
//! on local threads: the engine sees the outcomes in the order it asked for them.

use evoprune::{Genome, Outcome, Problem, Remote};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Evaluates serialized genomes of a stage on remote workers.
pub trait Cluster: Send + Sync + std::fmt::Debug {
    /// Number of workers (the engine sends waves of this many times the batch hint).
    fn workers(&self) -> usize;
    /// Evaluate `genomes` (postcard-encoded) of the engine stage whose checkpoint folder is
    /// `stage`; one outcome per genome, in order. An error is a failure of the cluster itself.
    fn evaluate(&self, stage: &Path, genomes: Vec<Vec<u8>>) -> Result<Vec<Outcome>, String>;
}

/// A stage's problem as a worker serves it.
pub trait Serve: Send + Sync {
    /// Evaluate postcard-encoded genomes; one outcome per genome, in order.
    fn evaluate(&self, genomes: &[Vec<u8>]) -> Vec<Outcome>;
}

/// The engine's [`Remote`] for one stage of a run on a [`Cluster`].
pub struct StageRemote {
    cluster: Arc<dyn Cluster>,
    stage: PathBuf,
}

impl StageRemote {
    /// Evaluate the stage whose checkpoint folder is `stage` on `cluster`.
    pub fn new(cluster: Arc<dyn Cluster>, stage: PathBuf) -> Self {
        StageRemote { cluster, stage }
    }
}

impl<G: Genome> Remote<G> for StageRemote {
    fn parallelism(&self) -> usize {
        self.cluster.workers().max(1)
    }
    fn evaluate(&self, genomes: &[&G]) -> Result<Vec<Outcome>, String> {
        let bytes = genomes
            .iter()
            .map(|g| postcard::to_stdvec(g).map_err(|e| format!("cannot encode a genome: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        self.cluster.evaluate(&self.stage, bytes)
    }
}

/// Evaluate postcard-encoded genomes on `problem` (a worker's side of [`StageRemote`]): a genome
/// that does not decode, or a failed evaluation, is that candidate's `Err` outcome with the
/// whole error chain.
pub fn serve_batch<P: Problem>(problem: &P, genomes: &[Vec<u8>]) -> Vec<Outcome> {
    let decoded: Vec<Result<P::Genome, String>> = genomes
        .iter()
        .map(|b| {
            postcard::from_bytes::<P::Genome>(b).map_err(|e| format!("cannot decode a genome: {e}"))
        })
        .collect();
    let ok: Vec<&P::Genome> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
    let mut results = problem.evaluate_batch(&ok).into_iter();
    decoded
        .iter()
        .map(|d| match d {
            Err(e) => Err(e.clone()),
            Ok(_) => match results.next() {
                Some(Ok(e)) => Ok(e),
                Some(Err(e)) => Err(evoprune::error_chain(&e)),
                None => Err("the problem returned too few results".into()),
            },
        })
        .collect()
}

/// The run folder a stage's checkpoint folder belongs to: the nearest folder above it that
/// holds the run's config.
pub fn run_root(stage: &Path) -> crate::Result<PathBuf> {
    stage
        .ancestors()
        .find(|d| d.join(crate::CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            crate::RunError::invalid(
                "stage",
                format!(
                    "{}: not inside a run folder (no {} above it); workers need the run folder \
                     on a shared file system",
                    stage.display(),
                    crate::CONFIG_FILE
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoprune::test_utils::OneMax;
    use evoprune::{Executor, MaxGenerations, Nsga2, Nsga2Config};
    use std::sync::Mutex;

    /// A cluster in this process: serves OneMax, and counts the waves it gets.
    #[derive(Debug)]
    struct Local(OneMax, Mutex<Vec<usize>>);
    impl Cluster for Local {
        fn workers(&self) -> usize {
            3
        }
        fn evaluate(&self, _: &Path, genomes: Vec<Vec<u8>>) -> Result<Vec<Outcome>, String> {
            self.1.lock().unwrap().push(genomes.len());
            Ok(serve_batch(&self.0, &genomes))
        }
    }

    #[test]
    fn a_run_on_a_cluster_equals_the_run_on_threads() {
        let algo = || {
            Nsga2::binary(
                Nsga2Config {
                    pop_size: 10,
                    ..Default::default()
                },
                16,
            )
            .unwrap()
        };
        let local = Executor::new(OneMax::new(16, 7), algo())
            .seed(4)
            .threads(2)
            .termination(MaxGenerations(6))
            .run()
            .unwrap();
        let cluster = Arc::new(Local(OneMax::new(16, 7), Mutex::new(Vec::new())));
        let remote = Arc::new(StageRemote::new(cluster.clone(), "stage".into()));
        let far = Executor::new(OneMax::new(16, 7), algo())
            .seed(4)
            .remote(remote)
            .termination(MaxGenerations(6))
            .run()
            .unwrap();
        assert_eq!(far.state.population, local.state.population);
        assert!(
            far.state.stats.failures > 0,
            "failed candidates travel as failures"
        );
        // waves of at most workers x batch hint, every evaluation sent once
        let waves = cluster.1.lock().unwrap();
        let most = 3 * OneMax::new(16, 7).batch_hint().max(1);
        assert!(waves.iter().all(|&w| w <= most), "{waves:?}");
        assert_eq!(
            waves.iter().sum::<usize>() as u64,
            far.state.stats.evaluations
        );
        let bad = serve_batch(&OneMax::new(4, 0), &[vec![0xff; 3]]);
        assert!(bad[0].as_ref().unwrap_err().contains("decode"), "{bad:?}");
    }
}
