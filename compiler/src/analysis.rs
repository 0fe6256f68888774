//! One file's complete diagnostics, given its text and a file system: what `ospecc check`
//! reports for it, as one function the CLI's pipeline and the language server can share.
//!
//! The order of the stages is the contract: decode (binary text), then for OSpec files the
//! file's own checks merged with the cross-file checks (`ext` only, policy applied to both),
//! and for topology files the topology checks with policy. The CLI's `check_bytes` runs the
//! same stages (it also rewrites cross-file label paths for display, which is presentation).

use std::path::Path;

use crate::crossfile::{self, CrossInput};
use crate::diagnostics::Diagnostic;
use crate::ospec::{self, CheckInput, CheckOptions};
use crate::syntax::text::decode;
use crate::topology::{self, Limits, TopologyInput};
use crate::vfs::FileSystem;
use ospecc_schema::Profile;

pub use crate::syntax::Language;

/// One file to check.
pub struct FileInput<'a> {
    /// The file's absolute path: references, `topology:` and `load()` resolve against it.
    pub path: &'a Path,
    pub text: &'a str,
    pub language: Language,
    pub fs: &'a dyn FileSystem,
    /// The workspace root `load()`s are confined to.
    pub root: &'a Path,
    pub options: &'a CheckOptions,
}

/// Every diagnostic of one file, policy applied, sorted. Cross-file labels name other files by
/// the absolute path they were read from.
pub fn check_file(input: &FileInput) -> Vec<Diagnostic> {
    // Text that came in as a string is valid UTF-8, but a NUL still makes it "binary".
    if let Err(diagnostic) = decode(input.text.as_bytes()) {
        return input.options.policy.apply(vec![diagnostic]);
    }
    match input.language {
        Language::OSpec => {
            let own =
                ospec::check(&CheckInput { path: input.path, text: input.text, fs: input.fs, options: input.options });
            crossfile::merge(own, input.options.policy.apply(cross_file(input)))
        }
        Language::Topology => {
            let topology = TopologyInput {
                path: input.path,
                text: input.text,
                fs: input.fs,
                root: input.root,
                limits: Limits::default(),
            };
            input.options.policy.apply(topology::check(&topology))
        }
    }
}

/// The cross-file findings (`ext` only: in `core`, `topology:` is an unknown key).
fn cross_file(input: &FileInput) -> Vec<Diagnostic> {
    if input.options.profile != Profile::Ext {
        return Vec::new();
    }
    crossfile::check(&CrossInput {
        path: input.path,
        text: input.text,
        fs: input.fs,
        root: input.root,
        limits: Limits::default(),
    })
}

/// Untrusted bytes checked as a file named `name` with nothing around it (no other file
/// exists): the fuzzing entry point of both front ends (`fuzz/`, `tests/fuzz_corpus.rs`), which
/// must return diagnostics for any input and never panic.
pub fn check_untrusted(name: &str, bytes: &[u8], language: Language) -> Vec<Diagnostic> {
    let text = match decode(bytes) {
        Ok(text) => text,
        Err(diagnostic) => return vec![diagnostic],
    };
    let root = Path::new("/fuzz");
    let path = root.join(name);
    let fs = crate::vfs::MemoryFs::default();
    let options = CheckOptions::default();
    check_file(&FileInput { path: &path, text, language, fs: &fs, root, options: &options })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::MemoryFs;

    fn check(path: &str, text: &str, language: Language, fs: &MemoryFs) -> Vec<Diagnostic> {
        let options = CheckOptions::default();
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
    fn topology_files_are_evaluated() {
        let found = check("/w/t.star", "service(\n", Language::Topology, &MemoryFs::default());
        assert!(found.iter().any(|d| d.code.starts_with("TOP")), "{found:#?}");
    }
}
