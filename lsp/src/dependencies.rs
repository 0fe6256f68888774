//! Which files' diagnostics depend on which paths, so a change to one file republishes every
//! file it affects, open or not (a topology edit republishes the specs whose `topology:`
//! names it; a created file clears the "missing file" findings that referenced it).
//!
//! The dependencies of a file are the paths its last analysis asked the file system about,
//! recorded by `OverlayFs`. A recorded path that is a directory (an existence test) also
//! depends on everything below it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Dependencies {
    of: HashMap<PathBuf, BTreeSet<PathBuf>>,
}

impl Dependencies {
    /// Replaces what `file` depends on with its latest analysis's accesses.
    pub fn record(&mut self, file: &Path, accessed: BTreeSet<PathBuf>) {
        let accessed: BTreeSet<PathBuf> = accessed.into_iter().filter(|p| p != file).collect();
        if accessed.is_empty() {
            self.of.remove(file);
        } else {
            self.of.insert(file.to_path_buf(), accessed);
        }
    }

    /// Forgets a file that is no longer analysed.
    pub fn forget(&mut self, file: &Path) {
        self.of.remove(file);
    }

    /// Every file whose diagnostics may change when `changed` changes, sorted.
    pub fn dependents_of(&self, changed: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self
            .of
            .iter()
            .filter(|(_, paths)| paths.iter().any(|p| changed.starts_with(p)))
            .map(|(file, _)| file.clone())
            .collect();
        found.sort();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> BTreeSet<PathBuf> {
        paths.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn dependents_follow_recorded_accesses() {
        let mut deps = Dependencies::default();
        deps.record(Path::new("/w/a.ospec.yml"), set(&["/w/t.star", "/w/lib/common.star", "/w/a.ospec.yml"]));
        deps.record(Path::new("/w/b.ospec.yml"), set(&["/w/docs"]));
        assert_eq!(deps.dependents_of(Path::new("/w/lib/common.star")), vec![PathBuf::from("/w/a.ospec.yml")]);
        assert_eq!(deps.dependents_of(Path::new("/w/docs/new.md")), vec![PathBuf::from("/w/b.ospec.yml")]);
        assert!(deps.dependents_of(Path::new("/w/a.ospec.yml")).is_empty(), "no file depends on itself");
        deps.record(Path::new("/w/a.ospec.yml"), BTreeSet::new());
        assert!(deps.dependents_of(Path::new("/w/t.star")).is_empty());
        deps.forget(Path::new("/w/b.ospec.yml"));
        assert!(deps.dependents_of(Path::new("/w/docs/new.md")).is_empty());
    }
}
