//! The run folder.

use crate::{Result, RunError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The resolved config of a run, relative to its folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Written last, when every output is in place.
pub const COMPLETE_FILE: &str = "COMPLETE";
/// Locked (and naming its holder) while a process works in the folder.
pub const LOCK_FILE: &str = ".lock";

/// A run folder: `config.toml` (the resolved config), `checkpoint/` (engine state and the
/// evaluation journal), outputs, and `COMPLETE` once every output is written.
///
/// Outputs are written atomically (temp file + rename), so a crash never leaves a half-written
/// file under its final name, and `COMPLETE` is removed before outputs are (re)written, so an
/// interrupted run never looks finished.
///
/// A folder is locked while a process works in it ([`RunDir::create`], [`RunDir::open_locked`]):
/// a second `run` or `resume` of the same folder is refused with the holder's process id. The
/// lock is an OS file lock on `.lock`, released when the last clone of the `RunDir` is dropped
/// or the process dies (also by `kill -9`), so a crashed run never leaves a stale lock.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
    lock: Option<std::sync::Arc<std::fs::File>>,
}

impl RunDir {
    /// Start a new run in `path`, which must not exist or be empty, saving `config_toml`.
    pub fn create(path: &Path, config_toml: &str) -> Result<Self> {
        if path.exists() {
            let mut it = std::fs::read_dir(path).map_err(|e| RunError::io(path, e))?;
            if it.next().is_some() {
                // a run starting in it right now: say who holds it
                if path.join(LOCK_FILE).is_file() {
                    drop(lock(path)?);
                }
                return Err(RunError::RunDir {
                    path: path.to_path_buf(),
                    reason: "already exists and is not empty; continue it with `evoprune resume`, \
                             or choose another folder"
                        .into(),
                });
            }
        }
        std::fs::create_dir_all(path).map_err(|e| RunError::io(path, e))?;
        let dir = RunDir {
            root: path.to_path_buf(),
            lock: Some(std::sync::Arc::new(lock(path)?)),
        };
        dir.write(CONFIG_FILE, config_toml.as_bytes())?;
        Ok(dir)
    }

    /// [`RunDir::open`] and lock the folder for this process (to resume or re-finalise it):
    /// an error naming the holder when another process works in it.
    pub fn open_locked(path: &Path) -> Result<Self> {
        let mut dir = Self::open(path)?;
        dir.lock = Some(std::sync::Arc::new(lock(path)?));
        Ok(dir)
    }

    /// Open an existing run folder (it must hold `config.toml`).
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join(CONFIG_FILE).is_file() {
            return Err(RunError::RunDir {
                path: path.to_path_buf(),
                reason: format!("not a run folder (no {CONFIG_FILE})"),
            });
        }
        Ok(RunDir {
            root: path.to_path_buf(),
            lock: None,
        })
    }

    /// Open the finished run in `path` and read its `result.json` (for export): an error when
    /// the run is not finished.
    pub fn open_finished<R: serde::de::DeserializeOwned>(path: &Path) -> Result<(Self, R)> {
        let rd = Self::open(path)?;
        if !rd.is_complete() {
            return Err(RunError::invalid(
                path.display().to_string(),
                "the run is not finished (run `evoprune resume` first)",
            ));
        }
        let file = rd.path("result.json");
        let text = std::fs::read_to_string(&file).map_err(|e| RunError::io(&file, e))?;
        let r = serde_json::from_str(&text)
            .map_err(|e| RunError::invalid("result.json", e.to_string()))?;
        Ok((rd, r))
    }

    /// Whether `dir` holds a run that was started and never finished (its config stored, no
    /// `COMPLETE`): `evoprune resume` continues it, where a new run would start afresh.
    pub fn is_unfinished(dir: &Path) -> bool {
        dir.join(CONFIG_FILE).is_file() && !dir.join(COMPLETE_FILE).is_file()
    }

    /// The first of `base`, `base-2`, `base-3`, ... that does not exist yet.
    pub fn fresh_path(base: &Path) -> PathBuf {
        if !base.exists() {
            return base.to_path_buf();
        }
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        (2..)
            .map(|i| base.with_file_name(format!("{name}-{i}")))
            .find(|p| !p.exists())
            .expect("an unused name")
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The resolved config's text.
    pub fn config_text(&self) -> Result<String> {
        let p = self.path(CONFIG_FILE);
        std::fs::read_to_string(&p).map_err(|e| RunError::io(p, e))
    }

    /// Where the engine keeps its checkpoint and evaluation journal.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path("checkpoint")
    }

    /// True when every output of the run has been written.
    pub fn is_complete(&self) -> bool {
        self.path(COMPLETE_FILE).is_file()
    }

    /// Declare the run unfinished (before (re)writing outputs).
    pub fn mark_incomplete(&self) -> Result<()> {
        let p = self.path(COMPLETE_FILE);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RunError::io(p, e)),
        }
    }

    /// Declare every output written.
    pub fn mark_complete(&self, summary: &str) -> Result<()> {
        self.write(COMPLETE_FILE, summary.as_bytes()).map(|_| ())
    }

    /// Write `bytes` to `rel` atomically, creating parent folders. Returns the full path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path(rel);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Write `value` as pretty JSON to `rel`, atomically.
    pub fn write_json<T: Serialize>(&self, rel: &str, value: &T) -> Result<PathBuf> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| RunError::invalid(rel, e.to_string()))?;
        self.write(rel, text.as_bytes())
    }

    /// Ensure `rel` exists as a folder and return it.
    pub fn subdir(&self, rel: &str) -> Result<PathBuf> {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).map_err(|e| RunError::io(&p, e))?;
        Ok(p)
    }
}

/// Lock `dir/.lock` for this process and record the holder in it.
fn lock(dir: &Path) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let p = dir.join(LOCK_FILE);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&p)
        .map_err(|e| RunError::io(&p, e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(RunError::RunDir {
                path: dir.to_path_buf(),
                reason: format!(
                    "another evoprune process is working in this folder ({}); wait for it \
                     to finish or stop it first",
                    if holder.is_empty() {
                        "holder unknown"
                    } else {
                        holder
                    }
                ),
            });
        }
        // a file system without locks (some network mounts): work unlocked rather than not at all
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            return Ok(f);
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(RunError::io(&p, e)),
    }
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let who = format!("pid {}, locked at unix time {since}\n", std::process::id());
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(who.as_bytes()))
        .map_err(|e| RunError::io(&p, e))?;
    // ours alone now: what a killed process left half-written can go
    evoprune_data::fsio::remove_leftovers(dir);
    Ok(f)
}

/// Item `k` of `items` (the `--member` of an export), or an error giving the range of `what`.
pub fn member<'a, T>(items: &'a [T], k: usize, what: &str) -> Result<&'a T> {
    items.get(k).ok_or_else(|| {
        RunError::invalid("--member", format!("{what} has members 0..{}", items.len()))
    })
}

/// Write `bytes` to `path` atomically and durably ([`evoprune_data::fsio::write_atomic`]: a
/// uniquely named temporary sibling, synced, then renamed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    evoprune_data::fsio::write_atomic(path, bytes).map_err(|e| RunError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuses_a_used_folder_and_open_needs_a_config() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("run");
        let d = RunDir::create(&p, "seed = 1\n").unwrap();
        assert_eq!(d.config_text().unwrap(), "seed = 1\n");
        drop(d); // released: the folder is refused for being used, not for being locked
        let e = RunDir::create(&p, "x").unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        assert!(RunDir::open(t.path()).is_err());
        assert!(RunDir::open(&p).is_ok());
        assert_eq!(RunDir::fresh_path(&p), t.path().join("run-2"));
        assert!(RunDir::is_unfinished(&p));
        std::fs::write(p.join(COMPLETE_FILE), "done").unwrap();
        assert!(!RunDir::is_unfinished(&p));
        assert!(!RunDir::is_unfinished(&t.path().join("run-2")));
    }

    #[test]
    fn a_folder_in_use_is_refused_naming_its_holder_until_released() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("run");
        let first = RunDir::create(&p, "seed = 1\n").unwrap();
        let held = first.clone();
        drop(first); // a clone keeps the lock
        let e = RunDir::open_locked(&p).unwrap_err().to_string();
        let pid = format!("pid {}", std::process::id());
        assert!(
            e.contains("another evoprune process") && e.contains(&pid),
            "{e}"
        );
        let e = RunDir::create(&p, "x").unwrap_err().to_string();
        assert!(e.contains(&pid), "{e}");
        // reading a finished run (export) does not need the lock
        assert!(RunDir::open(&p).is_ok());
        drop(held);
        let again = RunDir::open_locked(&p).unwrap();
        assert_eq!(again.config_text().unwrap(), "seed = 1\n");
    }

    #[test]
    fn completion_marker() {
        let t = tempfile::tempdir().unwrap();
        let d = RunDir::create(&t.path().join("r"), "").unwrap();
        assert!(!d.is_complete());
        d.write("a/b.txt", b"x").unwrap();
        d.mark_complete("done").unwrap();
        assert!(d.is_complete());
        d.mark_incomplete().unwrap();
        assert!(!d.is_complete());
        assert!(!d.path("a/b.txt.partial").exists());
    }
}
