//! TOML configs: strict parsing (unknown keys are errors) with messages that name the file, the
//! key and the line, and canonical serialisation of the resolved config.

use crate::{Result, RunError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Parse `text` (read from `origin`) into `T`. Declare `T` with `#[serde(deny_unknown_fields)]`
/// so a misspelt key is an error rather than silently ignored.
pub fn parse<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T> {
    toml::from_str(text).map_err(|e| RunError::Config {
        path: origin.to_path_buf(),
        reason: describe(&e, text),
    })
}

/// Read and parse the TOML file at `path`.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
    parse(&text, path)
}

/// The config as TOML (the form saved in a run folder and used as its fingerprint).
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    toml::to_string_pretty(value).map_err(|e| RunError::invalid("config", e.to_string()))
}

/// The `method` key must name the method whose config this is.
pub fn check_method(got: &str, want: &str) -> Result<()> {
    if got != want {
        return Err(RunError::invalid(
            "method",
            format!("this config is for \"{want}\", got \"{got}\""),
        ));
    }
    Ok(())
}

/// One line: "line L, column C: message (at `key = ...`)".
fn describe(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            let src = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line}, column {col}: {msg} (in `{src}`)")
        }
        None => msg,
    }
}

/// `path` made relative to `base` (a config file's folder) when it is relative, lexically
/// normalised (`a/../b` -> `b`), absolute when the working directory is known.
pub fn resolve(base: &Path, path: &Path) -> std::path::PathBuf {
    use std::path::{Component, PathBuf};
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let mut out = PathBuf::new();
    for c in base.join(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        size: usize,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        search: Inner,
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "name = \"a\"\n[search]\nsize = 3\npop_sise = 4\n";
        let e = parse::<Outer>(text, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml: line 4"), "{e}");
        assert!(e.contains("pop_sise"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let text = "name = \"a\"\n[search]\nsize = -3\n";
        let e = parse::<Outer>(text, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("size"), "{e}");
    }

    #[test]
    fn round_trip() {
        let v = Outer {
            name: "n".into(),
            search: Inner { size: 2 },
        };
        let s = to_string(&v).unwrap();
        assert_eq!(parse::<Outer>(&s, Path::new("r")).unwrap(), v);
    }
}
