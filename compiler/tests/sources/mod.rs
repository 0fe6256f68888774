//! The compiler's own Rust sources, for the tests that read them (layering, builtin names).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `path` (or `path` itself), appended to `out`.
pub fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else { return };
    for entry in entries.flatten() {
        rust_files(&entry.path(), out);
    }
}
