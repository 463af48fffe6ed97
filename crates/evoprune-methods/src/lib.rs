//! Every method evoprune knows, in one registry for the command line and the Python package:
//! a config's `method` key (or a run folder's stored config) finds its [`Method`].

use evoprune_run::{Method, Registered, RunError, registry};
use std::path::Path;

static DEEPTL: Registered<evoprune_deeptl::Deeptl> = Registered::new();
static GA: Registered<evoprune_gaprune::GaPrune> = Registered::new();
static HIER: Registered<evoprune_hierarchical::Hierarchical> = Registered::new();
static SURR: Registered<evoprune_compress::Compress> = Registered::new();

/// Every method; the first (MO-EvoPruneDeepTL) is the default.
pub fn all() -> [&'static dyn Method; 4] {
    [&DEEPTL, &GA, &HIER, &SURR]
}

/// The method of a config file (its `method` key; none, or no file: the default method).
pub fn of_config(path: Option<&Path>) -> evoprune_run::Result<&'static dyn Method> {
    let key = match path {
        Some(p) => registry::method_of(p)?,
        None => None,
    };
    let all = all();
    Ok(match key {
        Some(k) => registry::find(&all, &k)?,
        None => all[0],
    })
}

/// The method of a run folder (the `method` key of its stored config).
pub fn of_run(dir: &Path) -> evoprune_run::Result<&'static dyn Method> {
    let cfg = dir.join(evoprune_run::CONFIG_FILE);
    if !cfg.is_file() {
        return Err(RunError::invalid(
            "run_dir",
            format!(
                "{}: not a run folder (no {})",
                dir.display(),
                evoprune_run::CONFIG_FILE
            ),
        ));
    }
    of_config(Some(&cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_config_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let m = of_config(Some(&p)).unwrap();
                if let Err(e) = m.check(&p) {
                    panic!("{}: {e}", p.display());
                }
                n += 1;
            }
        }
        assert!(n >= 10, "only {n} configs in {}", dir.display());
    }

    #[test]
    fn configs_and_run_folders_find_their_method() {
        let t = std::env::temp_dir().join(format!("evoprune-methods-{}", std::process::id()));
        std::fs::create_dir_all(&t).unwrap();
        assert_eq!(of_config(None).unwrap().key(), all()[0].key());
        let c = t.join(evoprune_run::CONFIG_FILE);
        std::fs::write(&c, format!("method = \"{}\"\n", all()[2].key())).unwrap();
        assert_eq!(of_config(Some(&c)).unwrap().key(), all()[2].key());
        assert_eq!(of_run(&t).unwrap().key(), all()[2].key());
        std::fs::write(&c, "method = \"nope\"\n").unwrap();
        assert!(
            of_run(&t)
                .err()
                .unwrap()
                .to_string()
                .contains("unknown method")
        );
        let e = of_run(&t.join("missing")).err().unwrap().to_string();
        assert!(e.contains("not a run folder"), "{e}");
        assert!(all()[0].distributed() && !all()[1].distributed());
        std::fs::remove_dir_all(&t).unwrap();
    }
}
