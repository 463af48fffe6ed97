//! Durable, atomic file writes shared by every crate that writes results or caches.
//!
//! A file is written to a uniquely named temporary sibling (so two processes filling the same
//! cache entry at once never write into one another's bytes), synced to disk, renamed over the
//! final name, and the folder is synced so the rename itself survives a power loss. A reader
//! therefore sees either the old file, no file, or the whole new file, never a part of one.

use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically and durably, creating missing parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill` writing into the temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p,
        None => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `.partial` in the name: a leftover from a killed process is recognisably not an output
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".partial");
    // tempfile creates 0600 files; results and caches are meant to be shared like any file
    // `std::fs::write` creates (0644 under the usual umask)
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = b.tempfile_in(parent)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(parent);
    Ok(())
}

/// Remove the temporaries (`.NAME.XXXXXX.partial`) that processes killed mid-write left in
/// `dir` and its subfolders. Only call it on a folder no other process writes to (a locked run
/// folder).
pub fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        match e.file_type() {
            Ok(t) if t.is_dir() => remove_leftovers(&p),
            Ok(t) if t.is_file() && name.starts_with('.') && name.ends_with(".partial") => {
                let _ = std::fs::remove_file(&p);
            }
            _ => {}
        }
    }
}

/// Sync a folder so a rename inside it is durable. Best effort: some file systems refuse to
/// open or sync folders, and the data itself is already synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/c.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second, longer");
        let left: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("c.bin")]);
    }

    #[test]
    fn concurrent_writers_of_one_file_never_mix_their_bytes() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("cache.bin");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1 << 16]).collect();
        std::thread::scope(|s| {
            for c in &contents {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(p, c).unwrap();
                        let got = std::fs::read(p).unwrap();
                        // whatever writer won, the file is one writer's whole content
                        assert!(got.len() == 1 << 16 && got.iter().all(|&b| b == got[0]));
                    }
                });
            }
        });
    }

    #[test]
    fn files_are_readable_by_others_and_leftovers_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.txt");
        write_atomic(&p, b"x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o044, 0o044, "{mode:o}");
        }
        std::fs::create_dir(t.path().join("sub")).unwrap();
        std::fs::write(t.path().join("sub/.b.bin.Xy12ab.partial"), b"half").unwrap();
        std::fs::write(t.path().join(".c.json.Zz99zz.partial"), b"half").unwrap();
        remove_leftovers(t.path());
        let mut left: Vec<String> = walk(t.path());
        left.sort();
        assert_eq!(left, vec!["a.txt".to_string(), "sub".to_string()]);
    }

    fn walk(d: &Path) -> Vec<String> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            v.push(e.file_name().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                v.extend(walk(&e.path()));
            }
        }
        v
    }

    #[test]
    fn a_failing_fill_leaves_the_old_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
