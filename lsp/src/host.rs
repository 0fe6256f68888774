//! The host's policy, injected by the binary: which file names are specs, which files a
//! workspace folder holds, the check options of a file (its `ospecc.toml`), and the root its
//! `load()`s are confined to.
//!
//! The binary implements this with the very functions `ospecc check` uses (discovery,
//! config resolution), so the server and the CLI cannot drift apart on policy. [`BasicHost`]
//! is a self-contained stand-in for tests and embedders without a config.

use std::path::{Path, PathBuf};

use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::vfs::Confinement;
use ospecc_compiler::Language;

/// What the server asks the binary.
pub trait Host: Send + Sync + 'static {
    /// The language of a file name, when discovery picks such names up.
    fn language_of(&self, file_name: &str) -> Option<Language>;

    /// Every spec file (OSpec or topology) under `root`, as `ospecc check ROOT` would find them.
    fn discover(&self, root: &Path) -> Vec<PathBuf>;

    /// The check options in force for `file` (from its nearest `ospecc.toml`), or why the
    /// config could not be used.
    fn options(&self, file: &Path) -> Result<CheckOptions, String>;

    /// The workspace root that `file`'s `load()`s are confined to.
    fn workspace_root(&self, file: &Path) -> PathBuf;

    /// Where the analysis of `file` may read (after symbolic links are resolved): its
    /// workspace root, plus whatever the host's configuration allows outside it.
    fn confinement(&self, file: &Path) -> Confinement {
        Confinement::new([self.workspace_root(file)])
    }

    /// The `ospecc` binary that runs tests for the editor (`ospecc run --test`); `None`: the
    /// server cannot run tests.
    fn executable(&self) -> Option<PathBuf> {
        None
    }

    /// The layout `ospecc fmt` writes for `file` (its `ospecc.toml` `[fmt]`).
    fn fmt_options(&self, _file: &Path) -> ospecc_compiler::fmt::Options {
        ospecc_compiler::fmt::Options::default()
    }
}

/// Default options, no config files, the standard file names, and a plain directory walk.
#[derive(Clone, Copy, Debug, Default)]
pub struct BasicHost;

/// The file names `ospecc check` picks up in directories.
const OSPEC_SUFFIXES: &[&str] = &[".ospec.yml", ".ospec.yaml", ".ospec"];

impl Host for BasicHost {
    fn language_of(&self, name: &str) -> Option<Language> {
        let suffixed = |s: &str| name.len() > s.len() && name.ends_with(s);
        if OSPEC_SUFFIXES.iter().any(|s| suffixed(s)) || matches!(name, "outcome.yml" | "outcome.yaml") {
            Some(Language::OSpec)
        } else if suffixed(".star") {
            Some(Language::Topology)
        } else {
            None
        }
    }

    fn discover(&self, root: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        walk(self, root, &mut found, 0);
        found.sort();
        found
    }

    fn options(&self, _file: &Path) -> Result<CheckOptions, String> {
        Ok(CheckOptions::default())
    }

    fn workspace_root(&self, file: &Path) -> PathBuf {
        file.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Deep enough for any real tree; a symlink loop stops here instead of recursing forever.
const MAX_WALK_DEPTH: usize = 32;

fn walk(host: &BasicHost, dir: &Path, found: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() && !name.starts_with('.') && depth < MAX_WALK_DEPTH {
            walk(host, &path, found, depth + 1);
        } else if kind.is_file() && host.language_of(&name).is_some() {
            found.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_languages() {
        let host = BasicHost;
        assert_eq!(host.language_of("a.ospec.yml"), Some(Language::OSpec));
        assert_eq!(host.language_of("outcome.yaml"), Some(Language::OSpec));
        assert_eq!(host.language_of("x.star"), Some(Language::Topology));
        assert_eq!(host.language_of(".star"), None);
        assert_eq!(host.language_of("a.yml"), None);
    }
}
