//! The input layer: every file the analysis reads is a salsa input, so each query depends on
//! exactly the files it read and a change re-runs only what read the changed file.
//!
//! A file's content is set by the driver (the files `ospecc check` was given, the editor's
//! open documents) or, the first time the analysis asks for a file nobody set, read through
//! the injected [`FileSystem`] and kept. [`TrackedFs`] is the [`FileSystem`] the analysis
//! sees: confinement first (untracked, as it is a question about the path), then the input.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::ThreadId;

use super::Db;
use crate::vfs::{too_large, Confinement, FileSystem, Outside};

/// A file's content as the analysis reads it: its bytes, or why it cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileContent {
    Bytes(Arc<[u8]>),
    /// Bytes known to be UTF-8 text, shared with whoever else keeps the text (`check`'s
    /// report): one copy of each file.
    Text(Arc<str>),
    Failed(FileError),
}

impl FileContent {
    /// The content `fs` gives for `path`, read up to `max_bytes`.
    pub fn read(fs: &dyn FileSystem, path: &Path, max_bytes: u64) -> FileContent {
        match fs.read_bytes(path, max_bytes) {
            Ok(bytes) => FileContent::Bytes(bytes.into()),
            Err(error) => FileContent::Failed(FileError::of(&error)),
        }
    }

    /// The bytes, refusing more than `max_bytes` as the file systems do.
    pub fn bytes(&self, max_bytes: u64) -> io::Result<&[u8]> {
        match self {
            FileContent::Bytes(bytes) if bytes.len() as u64 > max_bytes => Err(too_large(max_bytes)),
            FileContent::Bytes(bytes) => Ok(bytes),
            FileContent::Text(text) if text.len() as u64 > max_bytes => Err(too_large(max_bytes)),
            FileContent::Text(text) => Ok(text.as_bytes()),
            // A file refused as too large for the store is too large for any reader too.
            FileContent::Failed(error) if error.kind == io::ErrorKind::FileTooLarge => Err(too_large(max_bytes)),
            FileContent::Failed(error) => Err(error.to_io()),
        }
    }
}

/// A read error kept as data (an input must be comparable), rebuilt into the same
/// `io::Error` each time it is read: same kind, same text, same confinement refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    kind: io::ErrorKind,
    message: String,
    outside: Option<Outside>,
}

impl FileError {
    pub fn of(error: &io::Error) -> FileError {
        FileError { kind: error.kind(), message: error.to_string(), outside: crate::vfs::outside(error).cloned() }
    }

    pub fn to_io(&self) -> io::Error {
        match &self.outside {
            Some(outside) => io::Error::new(self.kind, outside.clone()),
            None => io::Error::new(self.kind, self.message.clone()),
        }
    }
}

/// One file's content (read, or set by the driver).
#[salsa::input(debug)]
pub struct SourceFile {
    #[returns(ref)]
    pub path: PathBuf,
    #[returns(ref)]
    pub content: FileContent,
    /// Whether an editor holds it (its content changes by keystrokes): a topology's bodies
    /// are then checked one `def` at a time, so that a keystroke re-checks one body; a file
    /// read once is checked whole (reading each `def` again would cost more than it saves).
    #[returns(copy)]
    #[default]
    pub edited: bool,
}

/// Whether a path exists (a file or a directory): what the checks of referenced files ask.
#[salsa::input(debug)]
pub struct PathProbe {
    #[returns(ref)]
    pub path: PathBuf,
    #[returns(copy)]
    pub exists: bool,
}

/// The file system the analysis sees inside a query: reads and existence tests go through
/// the database's inputs (so they are dependencies of the query), confinement through
/// `confinement`.
pub struct TrackedFs<'a> {
    db: &'a dyn Db,
    confinement: Option<&'a Confinement>,
    /// The thread the query runs on: the only one that may touch the database.
    thread: ThreadId,
}

// SAFETY: the database handle is used only on the thread that created this value
// (`TrackedFs::db` checks it); other threads (the second analysis thread of a large file's
// checks, which never reads files) get an error instead, so the handle is never shared.
unsafe impl Sync for TrackedFs<'_> {}

impl<'a> TrackedFs<'a> {
    pub fn new(db: &'a dyn Db, confinement: Option<&'a Confinement>) -> TrackedFs<'a> {
        TrackedFs { db, confinement, thread: std::thread::current().id() }
    }

    fn db(&self) -> io::Result<&'a dyn Db> {
        if std::thread::current().id() == self.thread {
            Ok(self.db)
        } else {
            Err(io::Error::new(io::ErrorKind::Unsupported, "files are read on the analysis thread only"))
        }
    }
}

impl FileSystem for TrackedFs<'_> {
    fn exists(&self, path: &Path) -> bool {
        let Ok(db) = self.db() else { return false };
        self.confine(path).is_ok() && db.probe(path).exists(db)
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let bytes = self.read_bytes(path, max_bytes)?;
        String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        let db = self.db()?;
        self.confine(path).map_err(Outside::into_io)?;
        db.source(path).content(db).bytes(max_bytes).map(<[u8]>::to_vec)
    }

    fn confine(&self, path: &Path) -> Result<(), Outside> {
        match self.confinement {
            Some(confinement) => confinement.check(path).map(|_| ()),
            None => Ok(()),
        }
    }
}
