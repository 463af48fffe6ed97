//! Stage results stored under a run's `checkpoint/` folder.
//!
//! A finished stage (a phase, a seed, a fine-tuned member, a retraining cycle) is written as
//! JSON atomically ([`write_atomic`](crate::write_atomic): a unique temporary, synced, renamed),
//! and read back on resume. Only a missing file means "not done yet": any other I/O error (a
//! permission, a disk error) and any content that does not parse are errors naming the file,
//! because starting the stage again would silently throw finished work away.

use crate::{Result, RunError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// The stage result stored in `path`, or `None` when the stage has not finished yet.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RunError::io(path, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        RunError::invalid(
            path.display().to_string(),
            format!("stored stage result does not parse ({e}); the file is damaged"),
        )
    })
}

/// Store a finished stage's result in `path`, atomically.
pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| RunError::invalid(path.display().to_string(), e.to_string()))?;
    crate::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_not_done_and_damage_or_io_errors_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("checkpoint/phase1.json");
        assert_eq!(read::<Vec<u32>>(&p).unwrap(), None);
        write(&p, &vec![1u32, 2, 3]).unwrap();
        assert_eq!(read::<Vec<u32>>(&p).unwrap(), Some(vec![1, 2, 3]));
        std::fs::write(&p, b"[1, 2").unwrap();
        let e = read::<Vec<u32>>(&p).unwrap_err().to_string();
        assert!(e.contains("phase1.json") && e.contains("damaged"), "{e}");
        // a folder where the file should be: an I/O error, not "start the stage again"
        let d = t.path().join("dir.json");
        std::fs::create_dir(&d).unwrap();
        assert!(read::<Vec<u32>>(&d).is_err());
    }
}
