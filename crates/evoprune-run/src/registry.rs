//! One interface for every method: the command line (and the Python package) run, resume and
//! export any method through [`Method`], found by its config's `method` key in a registry.
//!
//! A method crate implements the typed [`MethodSpec`] (its config, result and error types,
//! how to run, resume and export, what to print); [`Registered`] turns it into the object-safe
//! [`Method`] that a registry (`&[&dyn Method]`) holds. Runs get a [`Driver`] (progress
//! reporter, stop flag, thread override) and end as [`Finished`] (what to print) or [`Stopped`]
//! (interrupted with everything checkpointed, or failed).

use crate::{Driver, MethodConfig, RunDir, Table};
use std::path::{Path, PathBuf};

/// Command-line overrides of a config.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--evaluations`.
    pub evaluations: Option<u64>,
}

impl Overrides {
    /// Apply `--seed` to `seed`; `--evaluations` is refused with `budget`, the keys that
    /// budget a method run in generations.
    pub fn seed_only(&self, seed: &mut u64, budget: &str) -> crate::Result<()> {
        if let Some(s) = self.seed {
            *seed = s;
        }
        match self.evaluations {
            Some(_) => Err(crate::RunError::invalid(
                "--evaluations",
                format!("this method budgets generations ({budget})"),
            )),
            None => Ok(()),
        }
    }
}

/// What a finished run shows: lines, then titled tables, then where everything is.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The run folder.
    pub dir: PathBuf,
    /// Lines printed before the tables (data, stop reason, headline figures).
    pub lines: Vec<String>,
    /// Result tables, each with a title (empty: none).
    pub tables: Vec<(String, Table)>,
    /// Lines printed after the tables.
    pub footer: Vec<String>,
}

impl Finished {
    /// A headline above one result table.
    pub fn headline(dir: &Path, headline: String, table: &Table) -> Self {
        Finished {
            dir: dir.to_path_buf(),
            lines: vec![headline],
            tables: vec![(String::new(), table.clone())],
            footer: Vec::new(),
        }
    }
}

/// Why a run, resume or export did not finish.
#[derive(Debug)]
pub enum Stopped {
    /// Stopped on request (Ctrl-C) with everything finished checkpointed: resumable.
    Interrupted(String),
    /// An error; its message names the file, field or node at fault.
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Interrupted(m) => f.write_str(m),
            Stopped::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Stopped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Stopped::Interrupted(_) => None,
            Stopped::Failed(e) => e.source(),
        }
    }
}

impl From<crate::RunError> for Stopped {
    fn from(e: crate::RunError) -> Self {
        Stopped::Failed(Box::new(e))
    }
}

/// A method, as a method crate describes it (typed); wrap it in [`Registered`] for a registry.
pub trait MethodSpec: 'static {
    /// The config.
    type Config: MethodConfig;
    /// What a finished run returns.
    type Output;
    /// The method's error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The `method` key of its configs.
    const KEY: &'static str;
    /// One line on what it does.
    const ABOUT: &'static str;
    /// Name of the exported file when the user gives none.
    const EXPORT_FILE: &'static str;

    /// The config used when the user gives none (only the default method has one).
    fn builtin() -> Option<Self::Config> {
        None
    }
    /// The run's name (the default folder is `runs/<name>`).
    fn name(cfg: &Self::Config) -> &str;
    /// Apply the command line's overrides, or say why one does not apply.
    fn apply(cfg: &mut Self::Config, o: &Overrides) -> crate::Result<()>;
    /// Start a run of `cfg` in the new folder `dir`.
    fn run(cfg: &Self::Config, dir: &Path, d: Driver) -> Result<Self::Output, Self::Error>;
    /// Continue (or re-finalise) the run in `dir`.
    fn resume(dir: &Path, d: Driver) -> Result<Self::Output, Self::Error>;
    /// Write member `member` of the finished run in `dir` to `out` (progress to `rep`); what
    /// was written.
    fn export(
        dir: &Path,
        member: usize,
        out: &Path,
        rep: &mut dyn crate::Reporter,
    ) -> Result<Vec<String>, Self::Error>;
    /// True for a Ctrl-C stop with everything checkpointed.
    fn interrupted(e: &Self::Error) -> bool;
    /// True when a cluster's workers can evaluate this method's candidates ([`Self::serve`]).
    const DISTRIBUTED: bool = false;
    /// A worker's evaluator of the engine stage whose checkpoint folder is `stage` (inside a
    /// run folder the worker can read): data, features and weights loaded once.
    fn serve(stage: &Path) -> Result<Box<dyn crate::remote::Serve>, Self::Error> {
        let _ = stage;
        unreachable!("serve is only called when DISTRIBUTED is true")
    }
    /// What to print of a finished run.
    fn finished(out: &Self::Output) -> Finished;
    /// The baseline stage of `cfg` on its own (`evoprune baseline`): its network trained, or
    /// read from the shared cache, and scored on the test split; lines saying what it
    /// measured. `None`: this config has no trained network baseline.
    fn baseline(
        cfg: &Self::Config,
        rep: &mut dyn crate::Reporter,
    ) -> Result<Option<Vec<String>>, Self::Error> {
        let _ = (cfg, rep);
        Ok(None)
    }
}

/// The object-safe face of a method.
pub trait Method: Sync {
    /// The `method` key of its configs.
    fn key(&self) -> &'static str;
    /// One line on what it does.
    fn about(&self) -> &'static str;
    /// Load `config` (or the built-in one), apply `o`, run in `out` (default: a fresh
    /// `runs/<name>` folder, announced through the driver's reporter).
    fn run(
        &self,
        config: Option<&Path>,
        o: &Overrides,
        out: Option<&Path>,
        d: Driver,
    ) -> Result<Finished, Stopped>;
    /// Continue (or re-finalise) the run in `dir`.
    fn resume(&self, dir: &Path, d: Driver) -> Result<Finished, Stopped>;
    /// Load and validate `config` without running anything.
    fn check(&self, config: &Path) -> Result<(), Stopped>;
    /// Load `config`, apply `o` and run its baseline stage alone ([`MethodSpec::baseline`]);
    /// lines saying what was measured.
    fn baseline(
        &self,
        config: &Path,
        o: &Overrides,
        rep: &mut dyn crate::Reporter,
    ) -> Result<Vec<String>, Stopped> {
        let _ = (config, o, rep);
        Err(crate::RunError::invalid(
            "method",
            format!("method {} has no baseline stage", self.key()),
        )
        .into())
    }
    /// True when a cluster's workers can evaluate its candidates.
    fn distributed(&self) -> bool;
    /// A worker's evaluator of the engine stage whose checkpoint folder is `stage`.
    fn serve(&self, stage: &Path) -> Result<Box<dyn crate::remote::Serve>, Stopped>;
    /// Export member `member` of the finished run in `dir` (to the method's default file when
    /// `out` is `None`; progress to `rep`); lines saying what was written.
    fn export(
        &self,
        dir: &Path,
        member: usize,
        out: Option<&Path>,
        rep: &mut dyn crate::Reporter,
    ) -> Result<Vec<String>, Stopped>;
}

/// A [`MethodSpec`] as a [`Method`].
pub struct Registered<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Registered<T> {
    /// The method `T`.
    pub const fn new() -> Self {
        Registered(std::marker::PhantomData)
    }
}

impl<T> Default for Registered<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A cluster is refused, before anything starts, by a method whose workers cannot evaluate.
fn check_remote<T: MethodSpec>(d: &Driver) -> Result<(), Stopped> {
    if d.remote.is_some() && !T::DISTRIBUTED {
        return Err(crate::RunError::invalid(
            "ray",
            format!(
                "method {} evaluates on this machine only (its stages are not rebuilt on \
                 workers); run it without a cluster",
                T::KEY
            ),
        )
        .into());
    }
    Ok(())
}

fn stopped<T: MethodSpec>(e: T::Error) -> Stopped {
    if T::interrupted(&e) {
        Stopped::Interrupted(e.to_string())
    } else {
        Stopped::Failed(Box::new(e))
    }
}

impl<T: MethodSpec> Method for Registered<T> {
    fn key(&self) -> &'static str {
        T::KEY
    }
    fn about(&self) -> &'static str {
        T::ABOUT
    }
    fn run(
        &self,
        config: Option<&Path>,
        o: &Overrides,
        out: Option<&Path>,
        mut d: Driver,
    ) -> Result<Finished, Stopped> {
        let mut cfg = match config {
            Some(p) => T::Config::load(p)?,
            None => T::builtin().ok_or_else(|| {
                crate::RunError::invalid("config", format!("method {} needs a config file", T::KEY))
            })?,
        };
        T::apply(&mut cfg, o)?;
        cfg.validate()?;
        check_remote::<T>(&d)?;
        let dir = match out {
            Some(d) => d.to_path_buf(),
            None => {
                let base = PathBuf::from("runs").join(T::name(&cfg));
                if RunDir::is_unfinished(&base) {
                    d.reporter.note(&format!(
                        "{0} holds an unfinished run of this name (`evoprune resume {0}` \
                         continues it); this one starts afresh",
                        base.display()
                    ));
                }
                RunDir::fresh_path(&base)
            }
        };
        d.reporter.note(&format!("run folder: {}", dir.display()));
        T::run(&cfg, &dir, d)
            .map(|r| T::finished(&r))
            .map_err(stopped::<T>)
    }
    fn resume(&self, dir: &Path, d: Driver) -> Result<Finished, Stopped> {
        check_remote::<T>(&d)?;
        T::resume(dir, d)
            .map(|r| T::finished(&r))
            .map_err(stopped::<T>)
    }
    fn check(&self, config: &Path) -> Result<(), Stopped> {
        T::Config::load(config)?.validate()?;
        Ok(())
    }
    fn baseline(
        &self,
        config: &Path,
        o: &Overrides,
        rep: &mut dyn crate::Reporter,
    ) -> Result<Vec<String>, Stopped> {
        let mut cfg = T::Config::load(config)?;
        T::apply(&mut cfg, o)?;
        cfg.validate()?;
        T::baseline(&cfg, rep)
            .map_err(stopped::<T>)?
            .ok_or_else(|| {
                crate::RunError::invalid(
                    "model",
                    format!(
                        "{}: `evoprune baseline` trains the network of a [model] section with \
                     [model.train] epochs > 0; this {} config has none (its built-in \
                     network's baseline is trained by `evoprune run`)",
                        config.display(),
                        T::KEY
                    ),
                )
                .into()
            })
    }
    fn distributed(&self) -> bool {
        T::DISTRIBUTED
    }
    fn serve(&self, stage: &Path) -> Result<Box<dyn crate::remote::Serve>, Stopped> {
        if !T::DISTRIBUTED {
            return Err(crate::RunError::invalid(
                "stage",
                format!("method {} evaluates on the driver's machine only", T::KEY),
            )
            .into());
        }
        T::serve(stage).map_err(stopped::<T>)
    }
    fn export(
        &self,
        dir: &Path,
        member: usize,
        out: Option<&Path>,
        rep: &mut dyn crate::Reporter,
    ) -> Result<Vec<String>, Stopped> {
        let out = out.map_or_else(|| PathBuf::from(T::EXPORT_FILE), Path::to_path_buf);
        T::export(dir, member, &out, rep).map_err(stopped::<T>)
    }
}

/// The method of `key` in `methods`, or an error listing the known keys.
pub fn find<'a>(methods: &[&'a dyn Method], key: &str) -> crate::Result<&'a dyn Method> {
    methods
        .iter()
        .copied()
        .find(|m| m.key() == key)
        .ok_or_else(|| {
            let known: Vec<&str> = methods.iter().map(|m| m.key()).collect();
            crate::RunError::invalid(
                "method",
                format!("unknown method \"{key}\"; known: {}", known.join(", ")),
            )
        })
}

/// The `method` key of the config file `path` (`None` when absent). A file that is not valid
/// TOML gives `None` too: the method's own parser then reports it with line and key.
pub fn method_of(path: &Path) -> crate::Result<Option<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::RunError::io(path, e))?;
    let Ok(t) = toml::from_str::<toml::Table>(&text) else {
        return Ok(None);
    };
    Ok(t.get("method").and_then(|v| v.as_str()).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    impl Method for A {
        fn key(&self) -> &'static str {
            "a-method"
        }
        fn about(&self) -> &'static str {
            "a"
        }
        fn run(
            &self,
            _: Option<&Path>,
            _: &Overrides,
            _: Option<&Path>,
            _: Driver,
        ) -> Result<Finished, Stopped> {
            Err(Stopped::Interrupted("no".into()))
        }
        fn resume(&self, _: &Path, _: Driver) -> Result<Finished, Stopped> {
            Err(Stopped::Interrupted("no".into()))
        }
        fn check(&self, _: &Path) -> Result<(), Stopped> {
            Ok(())
        }
        fn distributed(&self) -> bool {
            false
        }
        fn serve(&self, _: &Path) -> Result<Box<dyn crate::remote::Serve>, Stopped> {
            Err(Stopped::Interrupted("no".into()))
        }
        fn export(
            &self,
            _: &Path,
            _: usize,
            _: Option<&Path>,
            _: &mut dyn crate::Reporter,
        ) -> Result<Vec<String>, Stopped> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn an_unknown_method_is_an_error_listing_the_known_ones() {
        let methods: [&dyn Method; 1] = [&A];
        assert_eq!(find(&methods, "a-method").unwrap().key(), "a-method");
        let e = find(&methods, "prune-all").err().unwrap().to_string();
        assert!(
            e.contains("\"prune-all\"") && e.contains("known: a-method"),
            "{e}"
        );
    }

    #[test]
    fn the_method_key_is_read_from_the_config() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c.toml");
        std::fs::write(&p, "method = \"ga-prune\"\nseed = 1\n").unwrap();
        assert_eq!(method_of(&p).unwrap().as_deref(), Some("ga-prune"));
        std::fs::write(&p, "seed = 1\n").unwrap();
        assert_eq!(method_of(&p).unwrap(), None);
        std::fs::write(&p, "seed = \n").unwrap();
        assert_eq!(method_of(&p).unwrap(), None);
        assert!(method_of(&t.path().join("missing.toml")).is_err());
    }
}
