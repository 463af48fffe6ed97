//! Checkpoints: versioned, checksummed, written atomically; plus a crash journal of evaluations.
//!
//! A checkpoint directory holds:
//! - `state.ckpt`: the last [`Snapshot`], replaced atomically (temp file, fsync, rename, fsync
//!   of the directory), so a crash during a write never corrupts the last good checkpoint;
//! - `evaluations.journal`: every evaluation outcome computed since that checkpoint, appended
//!   as length-prefixed, CRC-checked records. After a crash (even `kill -9`) the resumed run
//!   replays the generations since the checkpoint with the restored RNG and takes these outcomes
//!   from the journal instead of recomputing them: no finished evaluation is lost, and the run
//!   ends exactly as an uninterrupted one would. A torn last record is ignored.
//!
//! File layout of `state.ckpt`: magic `EVOPRUNE`, format version (u32 LE), payload length
//! (u64 LE), CRC-32 of the payload (u32 LE), payload (postcard-encoded [`Snapshot`]).

use crate::genome::Genome;
use crate::problem::Outcome;
use crate::{Error, Result, State};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Version of the checkpoint format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"EVOPRUNE";
const STATE_FILE: &str = "state.ckpt";
const JOURNAL_FILE: &str = "evaluations.journal";
/// Identity of the run that owns the directory (algorithm, problem, fingerprint).
const IDENTITY_FILE: &str = "run.id";

/// What a checkpoint stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "G: Genome")]
pub struct Snapshot<G: Genome> {
    /// Name of the algorithm that wrote it.
    pub algorithm: String,
    /// Name of the problem.
    pub problem: String,
    /// Caller-defined description of the configuration; a resume with a different one is refused.
    pub fingerprint: String,
    /// The run state.
    pub state: State<G>,
}

/// Checkpoints in a directory, written every `every` generations (and at the end).
#[derive(Clone, Debug)]
pub struct FileCheckpoint {
    dir: PathBuf,
    every: u64,
}

impl FileCheckpoint {
    /// Checkpoint into `dir` every `every` generations (`every >= 1`).
    pub fn new(dir: impl Into<PathBuf>, every: u64) -> Self {
        FileCheckpoint {
            dir: dir.into(),
            every: every.max(1),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the state file.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// True when a run has started in this directory (its identity or a checkpoint is there):
    /// such a run is to be resumed, not started again. Callers ask this instead of looking
    /// for the engine's files themselves.
    pub fn started(&self) -> bool {
        self.dir.join(IDENTITY_FILE).is_file() || self.state_path().is_file()
    }

    /// True when a checkpoint is due after generation `generation`.
    pub fn due(&self, generation: u64) -> bool {
        generation.is_multiple_of(self.every)
    }

    fn err(&self, path: &Path, reason: impl Into<String>) -> Error {
        Error::Checkpoint {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Write `snap` atomically.
    pub fn save<G: Genome>(&self, snap: &Snapshot<G>) -> Result<()> {
        self.save_file(STATE_FILE, snap)
    }

    /// Write `value` atomically to `file` in the directory, framed as `state.ckpt` is
    /// (magic, version, length, CRC-32, postcard payload).
    pub fn save_file<T: Serialize>(&self, file: &str, value: &T) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let payload = postcard::to_stdvec(value)
            .map_err(|e| self.err(&self.dir, format!("cannot encode state: {e}")))?;
        let final_path = self.dir.join(file);
        let tmp = self.dir.join(format!("{file}.tmp"));
        {
            let mut f = File::create(&tmp).map_err(Self::io(&tmp))?;
            let mut head = Vec::with_capacity(24);
            head.extend_from_slice(MAGIC);
            head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            head.extend_from_slice(&(payload.len() as u64).to_le_bytes());
            head.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            f.write_all(&head).map_err(Self::io(&tmp))?;
            f.write_all(&payload).map_err(Self::io(&tmp))?;
            f.sync_all().map_err(Self::io(&tmp))?;
        }
        fs::rename(&tmp, &final_path).map_err(Self::io(&final_path))?;
        // make the rename itself durable
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The last checkpoint, or `None` when the directory holds none.
    pub fn load<G: Genome>(&self) -> Result<Option<Snapshot<G>>> {
        self.load_file(STATE_FILE)
    }

    /// What [`FileCheckpoint::save_file`] wrote to `file`, or `None` when there is no such file.
    pub fn load_file<T: serde::de::DeserializeOwned>(&self, file: &str) -> Result<Option<T>> {
        let path = self.dir.join(file);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(self.err(&path, "not an evoprune checkpoint (bad magic)"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(self.err(
                &path,
                format!("format version {version}, this build reads version {FORMAT_VERSION}"),
            ));
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
        let payload = &bytes[24..];
        if payload.len() != len {
            return Err(self.err(
                &path,
                format!(
                    "truncated: {} payload bytes, header says {len}",
                    payload.len()
                ),
            ));
        }
        if crc32fast::hash(payload) != crc {
            return Err(self.err(&path, "checksum mismatch (corrupt file)"));
        }
        postcard::from_bytes(payload)
            .map(Some)
            .map_err(|e| self.err(&path, format!("cannot decode state: {e}")))
    }

    /// The outcomes recorded in the journal (intact records only).
    pub fn read_journal<G: Genome>(&self) -> Result<Vec<(G, Outcome)>> {
        self.read_records(JOURNAL_FILE)
    }

    /// The intact records of the journal `file` (a torn or corrupt tail ends the list).
    pub fn read_records<T: serde::de::DeserializeOwned>(&self, file: &str) -> Result<Vec<T>> {
        let path = self.dir.join(file);
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes).map_err(Self::io(&path))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Io { path, source: e }),
        }
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 8 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
            let Some(rec) = bytes.get(pos + 8..pos + 8 + len) else {
                break;
            }; // torn tail
            if crc32fast::hash(rec) != crc {
                break;
            }
            match postcard::from_bytes::<T>(rec) {
                Ok(r) => out.push(r),
                Err(_) => break,
            }
            pos += 8 + len;
        }
        Ok(out)
    }

    /// Open the journal for appending; `truncate` starts it empty.
    /// Record which run owns this directory (written when a run starts, before any
    /// evaluation), so a crash before the first checkpoint can still resume from the journal.
    pub(crate) fn write_identity(&self, id: &str) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.dir.join(IDENTITY_FILE);
        let tmp = self.dir.join(format!("{IDENTITY_FILE}.tmp"));
        fs::write(&tmp, id).map_err(Self::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(Self::io(&path))
    }

    /// The identity written by [`write_identity`](Self::write_identity), if any.
    pub(crate) fn read_identity(&self) -> Result<Option<String>> {
        let path = self.dir.join(IDENTITY_FILE);
        match fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    pub(crate) fn open_journal(&self, truncate: bool) -> Result<Journal> {
        self.open_records(JOURNAL_FILE, truncate)
    }

    /// Open the journal `file` for appending records; `truncate` starts it empty.
    pub fn open_records(&self, file: &str, truncate: bool) -> Result<Journal> {
        fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.dir.join(file);
        // Append mode: every write lands at the current end, also after `reset` shrinks the file
        // (a plain write handle would keep its old offset and leave a zero-filled hole).
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        if truncate {
            f.set_len(0).map_err(Self::io(&path))?;
        }
        Ok(Journal {
            w: BufWriter::new(f),
            path,
        })
    }
}

/// Append-only record of evaluation outcomes (see the module docs), or of any records
/// ([`FileCheckpoint::open_records`]): length-prefixed, CRC-checked, postcard-encoded.
pub struct Journal {
    w: BufWriter<File>,
    path: PathBuf,
}

impl Journal {
    pub(crate) fn append<G: Genome>(&mut self, g: &G, o: &Outcome) -> Result<()> {
        self.record(&(g, o))
    }

    /// Append one record (buffered until [`Journal::flush`]).
    pub fn record<T: Serialize>(&mut self, value: &T) -> Result<()> {
        let rec = postcard::to_stdvec(value).map_err(|e| Error::Checkpoint {
            path: self.path.clone(),
            reason: format!("cannot encode evaluation: {e}"),
        })?;
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        self.w
            .write_all(&(rec.len() as u32).to_le_bytes())
            .map_err(io)?;
        self.w
            .write_all(&crc32fast::hash(&rec).to_le_bytes())
            .map_err(io)?;
        self.w.write_all(&rec).map_err(io)
    }

    /// Hand buffered records to the OS (they then survive a kill of this process).
    pub fn flush(&mut self) -> Result<()> {
        self.w.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Empty the journal (after a checkpoint made its records redundant).
    pub fn reset(&mut self) -> Result<()> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        self.w.flush().map_err(io)?;
        let f = self.w.get_mut();
        f.set_len(0).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BitString, Evaluation};

    fn snap() -> Snapshot<BitString> {
        let mut state = State::new(7);
        state.stats.generation = 3;
        Snapshot {
            algorithm: "nsga2".into(),
            problem: "p".into(),
            fingerprint: "cfg".into(),
            state,
        }
    }

    #[test]
    fn save_load_round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCheckpoint::new(dir.path(), 1);
        assert!(c.load::<BitString>().unwrap().is_none());
        c.save(&snap()).unwrap();
        assert_eq!(c.load::<BitString>().unwrap().unwrap(), snap());
        // flip one payload byte
        let mut bytes = fs::read(c.state_path()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(c.state_path(), &bytes).unwrap();
        let e = c.load::<BitString>().unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        fs::write(c.state_path(), b"EVOPRUNE\x09\x00\x00\x00").unwrap();
        assert!(c.load::<BitString>().is_err());
        fs::write(c.state_path(), b"junk").unwrap();
        assert!(
            c.load::<BitString>()
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
    }

    #[test]
    fn a_stale_temp_file_does_not_hide_the_last_good_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCheckpoint::new(dir.path(), 1);
        c.save(&snap()).unwrap();
        // a crash mid-write leaves a partial temp file behind
        fs::write(dir.path().join("state.ckpt.tmp"), b"EVOPRUNE partial").unwrap();
        assert_eq!(c.load::<BitString>().unwrap().unwrap(), snap());
    }

    #[test]
    fn journal_reset_then_append_keeps_records_readable() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCheckpoint::new(dir.path(), 1);
        let mut j = c.open_journal(true).unwrap();
        for i in 0..5 {
            j.append(
                &BitString::from_ones(10, [i]),
                &Ok(Evaluation::new(vec![i as f64])),
            )
            .unwrap();
        }
        j.flush().unwrap();
        j.reset().unwrap();
        j.append(&BitString::zeros(10), &Ok(Evaluation::new(vec![9.0])))
            .unwrap();
        j.flush().unwrap();
        let recs = c.read_journal::<BitString>().unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1.as_ref().unwrap().objectives, vec![9.0]);
    }

    #[test]
    fn journal_survives_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let c = FileCheckpoint::new(dir.path(), 1);
        let mut j = c.open_journal(true).unwrap();
        let g = BitString::from_ones(10, [1, 2]);
        j.append(&g, &Ok(Evaluation::new(vec![1.0, 2.0]))).unwrap();
        j.append(&BitString::zeros(10), &Err("nan loss".to_string()))
            .unwrap();
        j.flush().unwrap();
        drop(j);
        // simulate a kill in the middle of a third record
        let p = dir.path().join(JOURNAL_FILE);
        let mut bytes = fs::read(&p).unwrap();
        bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2]);
        fs::write(&p, bytes).unwrap();
        let recs = c.read_journal::<BitString>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].0, g);
        assert_eq!(recs[1].1, Err("nan loss".to_string()));
    }
}
