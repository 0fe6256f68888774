//! The analysis as one incremental database (salsa), shared by `ospecc check` and the
//! language server: the same queries produce every file's diagnostics for both.
//!
//! Inputs are file contents ([`SourceFile`], [`PathProbe`]: set by the driver, or read through
//! the injected file system the first time the analysis asks) and the configuration, which
//! enters as part of the interned query keys ([`Target`]: options, limits, confinement).
//! Queries are memoised; those whose results compare (diagnostics) stop propagation when an
//! input changed but their result did not. See `queries` for the graph.
//!
//! Everything here is IO-free except through the injected [`FileSystem`]; a query never
//! spawns threads with the database: the driver runs each request on an analysis thread
//! ([`topology::on_analysis_stack`]) with its own database handle.

mod files;
mod ide;
mod once;
mod plans;
mod queries;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use salsa::{Durability, Setter};

pub use files::{FileContent, FileError, PathProbe, SourceFile, TrackedFs};
pub use ide::DocumentKey;
pub use once::{check_file, check_untrusted, FileInput};
pub use plans::PlanRequest;
pub use queries::{check_target, Target};

use crate::diagnostics::Diagnostic;
use crate::ospec::CheckOptions;
use crate::syntax::Language;
use crate::topology::{self, Limits};
use crate::vfs::{Confinement, FileSystem};

/// The queries' view of the database: where a path's input is.
#[salsa::db]
pub trait Db: salsa::Database {
    /// The input holding `path`'s content (read through the injected file system the first
    /// time it is asked for).
    fn source(&self, path: &Path) -> SourceFile;

    /// The input saying whether `path` exists.
    fn probe(&self, path: &Path) -> PathProbe;
}

/// The salsa events a database records when it was made with [`Database::logging`]: the
/// debug names of the queries executed (not those validated or reused), in order.
#[derive(Clone, Debug, Default)]
pub struct EventLog(Arc<Mutex<Vec<String>>>);

impl EventLog {
    /// The executed queries so far, emptying the log.
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut log| std::mem::take(&mut *log)).unwrap_or_default()
    }
}

/// The database: salsa's storage, the inputs by path, and the file system it reads from.
#[salsa::db]
#[derive(Clone)]
pub struct Database {
    storage: salsa::Storage<Self>,
    files: Arc<Mutex<HashMap<PathBuf, SourceFile>>>,
    probes: Arc<Mutex<HashMap<PathBuf, PathProbe>>>,
    disk: Arc<dyn FileSystem + Send + Sync>,
    /// Files the analysis reads are kept up to this size (larger ones are kept as too large).
    max_read_bytes: u64,
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn source(&self, path: &Path) -> SourceFile {
        if let Some(file) = lock(&self.files).get(path) {
            return *file;
        }
        // Read without holding the lock: other threads go on with their own files.
        let content = FileContent::read(self.disk.as_ref(), path, self.max_read_bytes);
        let mut files = lock(&self.files);
        *files.entry(path.to_path_buf()).or_insert_with(|| {
            SourceFile::builder(path.to_path_buf(), content).content_durability(Durability::HIGH).new(self)
        })
    }

    fn probe(&self, path: &Path) -> PathProbe {
        if let Some(probe) = lock(&self.probes).get(path) {
            return *probe;
        }
        let exists = self.disk.exists(path);
        let mut probes = lock(&self.probes);
        *probes.entry(path.to_path_buf()).or_insert_with(|| {
            PathProbe::builder(path.to_path_buf(), exists).exists_durability(Durability::HIGH).new(self)
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One file to check, with everything that decides its diagnostics besides file contents.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// The file's absolute path.
    pub path: PathBuf,
    /// The path as the user wrote it: OSpec findings name the spec's directory by it.
    pub written: PathBuf,
    pub language: Language,
    /// The workspace root its topology `load()`s are confined to.
    pub root: PathBuf,
    pub options: CheckOptions,
    pub limits: Limits,
    /// Where reads may reach (`None`: anywhere the file system answers).
    pub confinement: Option<Confinement>,
}

impl Database {
    /// A database reading the files nobody sets from `disk`, keeping them up to
    /// `max_read_bytes` (the largest any reader asks for).
    pub fn new(disk: Arc<dyn FileSystem + Send + Sync>, max_read_bytes: u64) -> Database {
        Database {
            storage: salsa::Storage::default(),
            files: Arc::default(),
            probes: Arc::default(),
            disk,
            max_read_bytes,
        }
    }

    /// [`Database::new`], recording the queries it executes (for tests and measurements).
    pub fn logging(disk: Arc<dyn FileSystem + Send + Sync>, max_read_bytes: u64) -> (Database, EventLog) {
        let log = EventLog::default();
        let sink = log.clone();
        let callback = move |event: salsa::Event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind {
                if let Ok(mut log) = sink.0.lock() {
                    log.push(format!("{database_key:?}"));
                }
            }
        };
        let storage = salsa::Storage::new(Some(Box::new(callback)));
        (Database { storage, ..Database::new(disk, max_read_bytes) }, log)
    }

    /// Sets `path`'s content (a file the driver read, or an editor's text). `volatile` content
    /// (an open document) changes often; the rest rarely, which lets salsa skip re-validating
    /// what depends only on it.
    pub fn set_content(&mut self, path: &Path, content: FileContent, volatile: bool) {
        let durability = if volatile { Durability::LOW } else { Durability::HIGH };
        let known = lock(&self.files).get(path).copied();
        match known {
            Some(file) => {
                if *file.content(self) != content {
                    file.set_content(self).with_durability(durability).to(content);
                }
                if file.edited(self) != volatile {
                    file.set_edited(self).with_durability(durability).to(volatile);
                }
            }
            None => {
                let file = SourceFile::builder(path.to_path_buf(), content)
                    .content_durability(durability)
                    .edited(volatile)
                    .edited_durability(durability)
                    .new(self);
                lock(&self.files).insert(path.to_path_buf(), file);
            }
        }
        self.mark_existing(path, durability);
    }

    /// Gives the content of a file no query has read yet, as read from the disk: what a
    /// driver checking many files does from its workers (each with its own handle), so the
    /// inputs are made in parallel. A file the database already holds keeps its content (the
    /// disk's is changed with [`Database::refresh`]).
    pub fn provide(&self, path: &Path, content: FileContent) {
        if lock(&self.files).contains_key(path) {
            return;
        }
        let mut files = lock(&self.files);
        files.entry(path.to_path_buf()).or_insert_with(|| {
            SourceFile::builder(path.to_path_buf(), content).content_durability(Durability::HIGH).new(self)
        });
    }

    /// Sets `path` and every directory above it as existing (an open document exists even
    /// before it is saved).
    fn mark_existing(&mut self, path: &Path, durability: Durability) {
        let known: Vec<PathProbe> =
            lock(&self.probes).iter().filter(|(p, _)| path.starts_with(p)).map(|(_, probe)| *probe).collect();
        for probe in known {
            if !probe.exists(self) {
                probe.set_exists(self).with_durability(durability).to(true);
            }
        }
    }

    /// Reads `path` again from the file system (it changed on disk, or an editor closed it),
    /// and the existence of every known path at or below it.
    pub fn refresh(&mut self, path: &Path) {
        let known = lock(&self.files).get(path).copied();
        if let Some(file) = known {
            let content = FileContent::read(self.disk.as_ref(), path, self.max_read_bytes);
            if *file.content(self) != content {
                file.set_content(self).with_durability(Durability::HIGH).to(content);
            }
            if file.edited(self) {
                file.set_edited(self).with_durability(Durability::HIGH).to(false);
            }
        }
        let probes: Vec<PathProbe> = lock(&self.probes)
            .iter()
            .filter(|(p, _)| p.starts_with(path) || path.starts_with(p))
            .map(|(_, probe)| *probe)
            .collect();
        for probe in probes {
            let exists = self.disk.exists(probe.path(self));
            if probe.exists(self) != exists {
                probe.set_exists(self).with_durability(Durability::HIGH).to(exists);
            }
        }
    }

    /// The content of `path` as the analysis sees it.
    pub fn content(&self, path: &Path) -> FileContent {
        self.source(path).content(self).clone()
    }

    /// Every diagnostic of the file `request` names, policy applied, sorted: what
    /// `ospecc check` reports for it. Runs on an analysis thread (this one when it is one,
    /// else a new one). A newer revision cancels it by unwinding with [`salsa::Cancelled`].
    pub fn check(&self, request: &Request) -> Vec<Diagnostic> {
        self.on_analysis_thread(request, check_target)
    }

    /// The services the topology file `request` names declares, where their names are
    /// written: what its coverage hints are placed on. Cancelled as [`Database::check`] is.
    pub fn declared_services(&self, request: &Request) -> Vec<crate::ide::DeclaredService> {
        self.on_analysis_thread(request, queries::declared_services)
    }

    /// Runs `query` for `request`'s target on an analysis thread (this one when it is one,
    /// else a new one).
    fn on_analysis_thread<T: Send>(
        &self,
        request: &Request,
        query: impl for<'db> Fn(&'db dyn Db, Target<'db>) -> T + Send,
    ) -> T {
        // A handle is not shared across threads: another thread needs its own (a clone costs
        // an allocation of salsa's per-handle state, which a bulk check would pay per file).
        if topology::is_analysis_thread() {
            return query(self, Target::of(self, request));
        }
        let db = self.clone();
        topology::on_analysis_stack(move || query(&db, Target::of(&db, request)))
    }
}

/// Whether a panic payload is salsa's cancellation (a newer revision is being made).
pub fn is_cancellation(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<salsa::Cancelled>()
}

#[cfg(test)]
mod tests;
