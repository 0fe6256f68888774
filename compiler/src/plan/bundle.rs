//! The plan's source bundle: every file a plan was built from, named relative to the root
//! file's directory, with its text and SHA-256, and the line index that turns spans into
//! [`Origin`]s for those names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ospecc_schema::plan::{Origin, SourceFile};
use sha2::{Digest, Sha256};

use crate::span::{LineIndex, Span};
use crate::vfs::relative_name;

/// The files of a plan, keyed by the name the analysis uses for them.
pub struct Bundle {
    /// The root file's directory: bundle paths are relative to it.
    base: PathBuf,
    root_name: String,
    files: BTreeMap<String, Entry>,
    /// Analysis name (an absolute path, the path as given, `@faultbox/...`) → bundle path.
    names: BTreeMap<String, String>,
    /// Diagnostics of files other than the root (an OSpec's topology), by file.
    findings: Vec<FileFindings>,
}

/// The diagnostics of one file other than the root, with its text (for rendering them).
#[derive(Debug, Clone)]
pub struct FileFindings {
    pub path: std::path::PathBuf,
    pub text: String,
    pub diagnostics: Vec<crate::diagnostics::Diagnostic>,
}

struct Entry {
    text: String,
    index: LineIndex,
}

impl Bundle {
    /// A bundle holding the root file.
    pub fn new(root: &Path, text: &str) -> Bundle {
        let base = root.parent().map(Path::to_path_buf).unwrap_or_default();
        let root_name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut bundle = Bundle {
            base,
            root_name: root_name.clone(),
            files: BTreeMap::new(),
            names: BTreeMap::new(),
            findings: Vec::new(),
        };
        bundle.add(&root.display().to_string(), text);
        bundle
    }

    /// The root file's bundle path.
    pub fn root_name(&self) -> &str {
        &self.root_name
    }

    /// Adds a file under the name the analysis knows it by; returns its bundle path.
    pub fn add(&mut self, name: &str, text: &str) -> String {
        if let Some(path) = self.names.get(name) {
            return path.clone();
        }
        let path = self.bundle_path(name);
        self.names.insert(name.to_owned(), path.clone());
        self.files.entry(path.clone()).or_insert_with(|| Entry { text: text.to_owned(), index: LineIndex::new(text) });
        path
    }

    /// The bundle path of a file the analysis names `name` (added or not).
    pub fn path_of(&self, name: &str) -> String {
        self.names.get(name).cloned().unwrap_or_else(|| self.bundle_path(name))
    }

    /// Where `span` of the file named `name` is, for people.
    pub fn origin(&self, name: &str, span: Span) -> Origin {
        let file = self.path_of(name);
        let (line, column) = match self.files.get(&file) {
            Some(entry) => {
                let at = entry.index.line_col(&entry.text, span.start);
                (at.line as u32, at.column as u32)
            }
            None => (0, 0),
        };
        Origin { file, line, column }
    }

    /// Records the diagnostics of a file other than the root.
    pub fn report(&mut self, path: &Path, text: &str, diagnostics: Vec<crate::diagnostics::Diagnostic>) {
        if !diagnostics.is_empty() {
            self.findings.push(FileFindings { path: path.to_path_buf(), text: text.to_owned(), diagnostics });
        }
    }

    /// The diagnostics of files other than the root.
    pub fn findings(&self) -> &[FileFindings] {
        &self.findings
    }

    /// The files, sorted by bundle path.
    pub fn into_sources(self) -> Vec<SourceFile> {
        self.files
            .into_iter()
            .map(|(path, entry)| SourceFile { path, sha256: sha256_hex(&entry.text), text: entry.text })
            .collect()
    }

    fn bundle_path(&self, name: &str) -> String {
        relative_name(&self.base, name)
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_root_directory() {
        let mut bundle = Bundle::new(Path::new("/ws/specs/a.star"), "x = 1\n");
        assert_eq!(bundle.root_name(), "a.star");
        assert_eq!(bundle.add("/ws/specs/lib/b.star", ""), "lib/b.star");
        assert_eq!(bundle.add("/ws/common/c.star", ""), "../common/c.star");
        assert_eq!(bundle.add("@faultbox/recipes/postgres.star", ""), "@faultbox/recipes/postgres.star");
        assert_eq!(bundle.add("/ws/specs/../specs/topo/./d.star", ""), "topo/d.star");
    }

    #[test]
    fn origins_are_one_based() {
        let bundle = Bundle::new(Path::new("a.star"), "x = 1\ny = 2\n");
        let origin = bundle.origin("a.star", Span::new(8, 9));
        assert_eq!((origin.file.as_str(), origin.line, origin.column), ("a.star", 2, 3));
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
