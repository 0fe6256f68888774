//! The injected file system: the analysis asks it questions instead of doing IO itself.
//!
//! The CLI passes the real disk; tests and the LSP pass in-memory trees. Only the questions
//! checks need are here (today: does a referenced file exist).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub trait FileSystem: Sync {
    /// Whether `path` names an existing file or directory.
    fn exists(&self, path: &Path) -> bool;
}

/// The real disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// An in-memory set of paths, for tests and for stdin input (where nothing exists).
#[derive(Clone, Debug, Default)]
pub struct MemoryFs {
    paths: BTreeSet<PathBuf>,
}

impl MemoryFs {
    pub fn new<I: IntoIterator<Item = P>, P: Into<PathBuf>>(paths: I) -> MemoryFs {
        MemoryFs { paths: paths.into_iter().map(Into::into).collect() }
    }
}

impl FileSystem for MemoryFs {
    fn exists(&self, path: &Path) -> bool {
        self.paths.contains(path) || self.paths.iter().any(|p| p.starts_with(path))
    }
}
