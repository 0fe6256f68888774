//! One file checked with nothing kept: a fresh database per call, for callers that have no
//! database of their own (tests, tools, the fuzzing targets). The queries are the same as
//! `ospecc check`'s and the server's; only the driver differs.

use std::path::Path;
use std::sync::Arc;

use super::{Database, FileContent, Request};
use crate::diagnostics::Diagnostic;
use crate::ospec::CheckOptions;
use crate::syntax::Language;
use crate::topology::{self, Limits};
use crate::vfs::FileSystem;

/// One file to check on its own, for callers with no database of their own (tests, tools):
/// its text and the file system around it.
pub struct FileInput<'a> {
    /// The file's absolute path: references, `topology:` and `load()` resolve against it.
    pub path: &'a Path,
    pub text: &'a str,
    pub language: Language,
    pub fs: Arc<dyn FileSystem + Send + Sync>,
    /// The workspace root `load()`s are confined to.
    pub root: &'a Path,
    pub options: &'a CheckOptions,
}

/// Every diagnostic of one file, from a fresh database: what [`Database::check`] answers
/// (the same queries; nothing is kept).
pub fn check_file(input: &FileInput) -> Vec<Diagnostic> {
    let mut db = Database::new(Arc::clone(&input.fs), topology::MAX_READ_BYTES);
    db.set_content(input.path, FileContent::Bytes(Arc::from(input.text.as_bytes())), false);
    db.check(&Request {
        path: input.path.to_path_buf(),
        written: input.path.to_path_buf(),
        language: input.language,
        root: input.root.to_path_buf(),
        options: input.options.clone(),
        limits: Limits::default(),
        confinement: None,
    })
}

/// Untrusted bytes checked as a file named `name` with nothing around it (no other file
/// exists): the fuzzing entry point of both front ends (`fuzz/`, `tests/fuzz_corpus.rs`), which
/// must return diagnostics for any input and never panic.
pub fn check_untrusted(name: &str, bytes: &[u8], language: Language) -> Vec<Diagnostic> {
    let root = Path::new("/fuzz");
    let path = root.join(name);
    let mut db = Database::new(Arc::new(crate::vfs::MemoryFs::default()), topology::MAX_READ_BYTES);
    db.set_content(&path, FileContent::Bytes(Arc::from(bytes)), false);
    db.check(&Request {
        written: path.clone(),
        path,
        language,
        root: root.to_path_buf(),
        options: CheckOptions::default(),
        limits: Limits::default(),
        confinement: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::MemoryFs;

    fn check(path: &str, text: &str, language: Language, fs: &MemoryFs) -> Vec<Diagnostic> {
        let options = CheckOptions::default();
        let fs = Arc::new(fs.clone());
        let input = FileInput { path: Path::new(path), text, language, fs, root: Path::new("/w"), options: &options };
        check_file(&input)
    }

    #[test]
    fn binary_text_stops_at_decoding() {
        let found = check("/w/a.ospec.yml", "name: \0", Language::OSpec, &MemoryFs::default());
        assert_eq!(found.iter().map(|d| d.code).collect::<Vec<_>>(), ["OSP002"]);
    }

    #[test]
    fn a_missing_topology_is_a_cross_file_finding() {
        let text = "ospec_version: \"1.0\"\nname: x\ntopology: gone.star\n";
        let found = check("/w/a.ospec.yml", text, Language::OSpec, &MemoryFs::default());
        assert!(found.iter().any(|d| d.code == "XSP001"), "{found:#?}");
        assert!(!found.iter().any(|d| d.code == "OSP207"), "XSP001 supersedes OSP207: {found:#?}");
    }

    #[test]
    fn untrusted_bytes_are_checked_alone() {
        let found = check_untrusted("t.star", b"load(\"other.star\", \"x\")\n", Language::Topology);
        assert!(found.iter().any(|d| d.code.starts_with("TOP")), "the load finds nothing: {found:#?}");
        let found = check_untrusted("s.ospec.yml", b"\xff\xfe", Language::OSpec);
        assert_eq!(found.iter().map(|d| d.code).collect::<Vec<_>>(), ["OSP003"]);
    }

    #[test]
    fn topology_files_are_evaluated() {
        let found = check("/w/t.star", "service(\n", Language::Topology, &MemoryFs::default());
        assert!(found.iter().any(|d| d.code.starts_with("TOP")), "{found:#?}");
    }
}
