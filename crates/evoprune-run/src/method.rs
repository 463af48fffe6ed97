//! What every method's config shares: strict TOML with paths relative to the config file,
//! validation that names the key, and the run folder that stores it.
//!
//! A run executes the config as stored in its folder, exactly what a resume reads back: an unset
//! optional key (e.g. `data.path` of generated data) would otherwise come back as its default
//! on resume and change the checkpoint's fingerprint.

use crate::{Result, RunDir};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// A method's TOML config. Implement the two required methods; the rest is shared.
pub trait MethodConfig: Serialize + DeserializeOwned {
    /// The config's file paths, made relative to the config file's folder by [`Self::load`].
    fn paths_mut(&mut self) -> Vec<&mut PathBuf>;

    /// Check every value; errors name the key.
    fn validate(&self) -> Result<()>;

    /// Read a config file (unknown keys are errors), resolve its paths, validate.
    fn load(path: &Path) -> Result<Self> {
        let mut c: Self = crate::config::load(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in c.paths_mut() {
            *p = crate::config::resolve(base, p);
        }
        c.validate()?;
        Ok(c)
    }

    /// Parse config text (paths stay as written), validate.
    fn parse(text: &str, origin: &Path) -> Result<Self> {
        let c: Self = crate::config::parse(text, origin)?;
        c.validate()?;
        Ok(c)
    }

    /// As TOML (what the run folder stores, and the checkpoints' fingerprint).
    fn to_toml(&self) -> Result<String> {
        crate::config::to_string(self)
    }

    /// The config stored in the run folder `rd`.
    fn stored(rd: &RunDir) -> Result<Self> {
        Self::parse(&rd.config_text()?, &rd.path(crate::CONFIG_FILE))
    }
}

/// Start a run of `cfg` in the new folder `dir`: the folder and the config as stored there.
pub fn start<C: MethodConfig>(cfg: &C, dir: &Path) -> Result<(C, RunDir)> {
    let rd = RunDir::create(dir, &cfg.to_toml()?)?;
    Ok((C::stored(&rd)?, rd))
}

/// Reopen the run folder `dir` (to resume or re-finalise it): the folder and its config.
pub fn reopen<C: MethodConfig>(dir: &Path) -> Result<(C, RunDir)> {
    let rd = RunDir::open_locked(dir)?;
    Ok((C::stored(&rd)?, rd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunError;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Toy {
        n: u32,
        file: Option<PathBuf>,
    }

    impl MethodConfig for Toy {
        fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
            self.file.iter_mut().collect()
        }
        fn validate(&self) -> Result<()> {
            if self.n == 0 {
                return Err(RunError::invalid("n", "must be at least 1"));
            }
            Ok(())
        }
    }

    #[test]
    fn load_resolves_paths_and_validates_and_the_run_folder_stores_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("cfg");
        std::fs::create_dir(&sub).unwrap();
        let f = sub.join("toy.toml");
        std::fs::write(&f, "n = 2\nfile = \"data/x.bin\"\n").unwrap();
        let c = Toy::load(&f).unwrap();
        assert_eq!(c.file.as_deref(), Some(sub.join("data/x.bin").as_path()));
        std::fs::write(&f, "n = 0\n").unwrap();
        let e = Toy::load(&f).unwrap_err().to_string();
        assert!(e.contains("n") && e.contains("at least 1"), "{e}");
        std::fs::write(&f, "n = 1\nm = 3\n").unwrap();
        let e = Toy::load(&f).unwrap_err().to_string();
        assert!(e.contains("toy.toml") && e.contains("unknown field"), "{e}");

        let run = dir.path().join("run");
        let toy = Toy { n: 3, file: None };
        let (stored, rd) = start(&toy, &run).unwrap();
        assert_eq!(stored, toy);
        assert_eq!(rd.root(), run.as_path());
        assert!(start(&toy, &run).is_err(), "a used folder is refused");
        assert!(
            reopen::<Toy>(&run).is_err(),
            "and locked while the run works in it"
        );
        drop(rd);
        let (again, _) = reopen::<Toy>(&run).unwrap();
        assert_eq!(again, toy);
        assert!(reopen::<Toy>(&sub).is_err());
    }
}
