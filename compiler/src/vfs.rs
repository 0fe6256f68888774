//! The injected file system: the analysis asks it questions instead of doing IO itself.
//!
//! The CLI passes the real disk; tests and the LSP pass in-memory trees. Only the questions
//! checks need are here: does a referenced file exist, and (for topology `load()` and
//! `load_file`) what a file holds.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

pub trait FileSystem: Sync {
    /// Whether `path` names an existing file or directory.
    fn exists(&self, path: &Path) -> bool;

    /// The UTF-8 text of the regular file at `path`, refusing files over `max_bytes` (so a
    /// topology file cannot make the checker read a device or a huge file). Errors keep their
    /// `io::ErrorKind`: `NotFound`, `InvalidData` (not UTF-8), `FileTooLarge`.
    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let _ = (path, max_bytes);
        Err(io::Error::new(io::ErrorKind::Unsupported, "this file system cannot read files"))
    }

    /// The bytes of the regular file at `path` (binary data a call names, such as a protobuf
    /// descriptor set), with the limits of [`FileSystem::read_to_string`]. A file system that
    /// only reads text answers `InvalidData` for a binary file.
    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        self.read_to_string(path, max_bytes).map(String::into_bytes)
    }
}

/// The real disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let bytes = self.read_bytes(path, max_bytes)?;
        String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        // A FIFO or device could block forever or never end: only regular files are read.
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        if meta.len() > max_bytes {
            return Err(too_large(max_bytes));
        }
        std::fs::read(path)
    }
}

fn too_large(max_bytes: u64) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {max_bytes} bytes"))
}

/// An in-memory set of paths, for tests and for stdin input (where nothing exists).
#[derive(Clone, Debug, Default)]
pub struct MemoryFs {
    paths: BTreeSet<PathBuf>,
    contents: BTreeMap<PathBuf, String>,
    /// Files added as bytes (binary data files).
    binary: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    pub fn new<I: IntoIterator<Item = P>, P: Into<PathBuf>>(paths: I) -> MemoryFs {
        MemoryFs { paths: paths.into_iter().map(Into::into).collect(), ..MemoryFs::default() }
    }

    /// Adds a file with its text (it then also exists).
    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemoryFs {
        let path = path.into();
        self.paths.insert(path.clone());
        self.contents.insert(path, text.into());
        self
    }

    /// Adds a file with its bytes (it then also exists; as text it is read only if UTF-8).
    pub fn with_bytes(mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> MemoryFs {
        let path = path.into();
        self.paths.insert(path.clone());
        self.binary.insert(path, bytes.into());
        self
    }
}

impl FileSystem for MemoryFs {
    fn exists(&self, path: &Path) -> bool {
        self.paths.contains(path) || self.paths.iter().any(|p| p.starts_with(path))
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        match self.contents.get(path) {
            Some(text) if text.len() as u64 > max_bytes => Err(too_large(max_bytes)),
            Some(text) => Ok(text.clone()),
            None => String::from_utf8(self.read_bytes(path, max_bytes)?)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
        }
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        let bytes = match (self.binary.get(path), self.contents.get(path)) {
            (Some(bytes), _) => bytes.as_slice(),
            (None, Some(text)) => text.as_bytes(),
            (None, None) => return Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
        };
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(max_bytes));
        }
        Ok(bytes.to_vec())
    }
}

/// An IO error in words a user recognises (without the "(os error 2)" suffix); shared by the
/// CLI (unreadable paths) and the analysis (`load()`, `load_file`).
pub fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = error.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_lowercase()
        }
    }
}
