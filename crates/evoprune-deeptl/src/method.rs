//! MO-EvoPruneDeepTL as a registered [`Method`](evoprune_run::Method).

use crate::{Config, DeeptlError, Summary};
use evoprune_run::{Driver, Finished, MethodSpec, Overrides};
use std::path::Path;

/// MO-EvoPruneDeepTL (`method = "mo-evoprune-deeptl"`, the default method: a config without a
/// `method` key, or no config at all, runs it).
pub struct Deeptl;

impl MethodSpec for Deeptl {
    type Config = Config;
    type Output = Summary;
    type Error = DeeptlError;
    const KEY: &'static str = crate::config::METHOD;
    const ABOUT: &'static str =
        "MO-EvoPruneDeepTL: NSGA-II over the features entering the dense head of a frozen backbone";
    const EXPORT_FILE: &'static str = "head.safetensors";

    fn builtin() -> Option<Config> {
        Some(Config::builtin())
    }
    fn name(cfg: &Config) -> &str {
        &cfg.name
    }
    fn apply(cfg: &mut Config, o: &Overrides) -> evoprune_run::Result<()> {
        if let Some(s) = o.seed {
            cfg.seed = s;
        }
        if let Some(e) = o.evaluations {
            cfg.search.evaluations = e;
        }
        Ok(())
    }
    fn run(cfg: &Config, dir: &Path, d: Driver) -> Result<Summary, DeeptlError> {
        crate::run(cfg, dir, d)
    }
    fn resume(dir: &Path, d: Driver) -> Result<Summary, DeeptlError> {
        crate::resume(dir, d)
    }
    fn export(
        dir: &Path,
        member: usize,
        out: &Path,
        rep: &mut dyn evoprune_run::Reporter,
    ) -> Result<Vec<String>, DeeptlError> {
        let e = crate::export::export(dir, member, out, rep)?;
        let mut lines = vec![format!(
            "wrote {} and {}",
            e.weights.display(),
            e.card.display()
        )];
        if let Some(o) = &e.onnx {
            lines.push(format!(
                "wrote {} (end-to-end ONNX model: samples in, logits out; see \"onnx\" in the card)",
                o.display()
            ));
        }
        Ok(lines)
    }
    const DISTRIBUTED: bool = true;
    fn serve(stage: &Path) -> Result<Box<dyn evoprune_run::remote::Serve>, DeeptlError> {
        Ok(Box::new(Worker::open(stage)?))
    }
    fn interrupted(e: &DeeptlError) -> bool {
        matches!(e, DeeptlError::Interrupted { .. })
    }
    fn finished(s: &Summary) -> Finished {
        let mut lines = s.notes.clone();
        lines.push(format!(
            "\n{} evaluations in {:.1} s; final front of {} members (validation drove the search; test shown):",
            s.front.evaluations,
            s.front.search_seconds,
            s.front.members.len()
        ));
        let key: Vec<String> = s
            .key_features
            .iter()
            .map(|(j, c)| format!("{j} ({c})"))
            .collect();
        Finished {
            dir: s.dir.clone(),
            lines,
            tables: vec![
                (String::new(), s.table.clone()),
                ("ensembles (test):".into(), s.ensemble_table.clone()),
            ],
            footer: vec![format!(
                "most frequently active features (members): {}",
                key.join(", ")
            )],
        }
    }
}

/// A cluster worker's side of a run: the run's config and prepared data (features extracted or
/// read from the run's cache once), evaluating the heads of the masks it is sent.
pub struct Worker {
    cfg: Config,
    data: crate::data::Prepared,
}

impl Worker {
    /// The worker of the search whose checkpoint folder is `stage` (inside the run folder).
    pub fn open(stage: &Path) -> Result<Self, DeeptlError> {
        use evoprune_run::MethodConfig;
        let root = evoprune_run::remote::run_root(stage)?;
        let path = root.join(evoprune_run::CONFIG_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| evoprune_run::RunError::io(&path, e))?;
        let cfg = Config::parse(&text, &path)?;
        let data = crate::data::prepare(&cfg, &mut evoprune_run::Silent)?;
        Ok(Worker { cfg, data })
    }
}

impl evoprune_run::remote::Serve for Worker {
    fn evaluate(&self, genomes: &[Vec<u8>]) -> Vec<evoprune::Outcome> {
        let problem = crate::problem::HeadPruning::new(&self.cfg, &self.data);
        evoprune_run::remote::serve_batch(&problem, genomes)
    }
}
