// Shared by the targets: the parsers read files, so each input is written to a per-process
// temporary file first (the file name's extension chooses the format where it matters).

pub fn with_file(name: &str, data: &[u8], f: impl FnOnce(&std::path::Path)) {
    let dir = std::env::temp_dir().join(format!("evoprune-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let p = dir.join(name);
    std::fs::write(&p, data).expect("temporary file");
    f(&p);
}
