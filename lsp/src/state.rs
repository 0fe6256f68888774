//! The state every part of the server shares: the client handle, the host, the open
//! documents, the session negotiated at `initialize`, and the queue into the scheduler.
//!
//! Locking rule: the documents' mutex is held only for short, synchronous work (an edit, a
//! snapshot, a lookup), never across an `.await`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use ospecc_compiler::db::{Database, FileContent};
use ospecc_compiler::vfs::RealFs;
use tokio::sync::mpsc::UnboundedSender;
use tower_lsp_server::Client;

use crate::config::Settings;
use crate::documents::Documents;
use crate::encoding::PositionEncoding;
use crate::host::Host;
use crate::scheduler::Event;

/// Files the analysis reads through the database (loaded modules, data files, topologies a
/// spec names) are kept up to this size, the largest any reader asks for.
const MAX_DISK_READ_BYTES: u64 = ospecc_compiler::topology::MAX_READ_BYTES;

/// What `initialize` settled for the whole session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub encoding: PositionEncoding,
    pub settings: Settings,
    pub roots: Vec<PathBuf>,
    /// The client accepts `window/workDoneProgress/create`.
    pub progress: bool,
    /// The client lets the server register file watchers.
    pub watch_files: bool,
}

/// The spec files of the workspace folders as path completion names them.
///
/// The scheduler owns the authoritative set (its discovery at indexing, kept current from
/// watched-file events and workspace-folder changes) and publishes a copy here each time it
/// changes, so a request only clones an `Arc` and never walks the disk. `None` until the
/// first discovery has been published.
#[derive(Debug, Default)]
pub struct WorkspaceFiles {
    pub list: Option<Arc<Vec<PathBuf>>>,
    /// When `list` was last replaced (a client without file watchers gets a background
    /// rediscovery once it is old, see `features::workspace_files`).
    pub updated: Option<std::time::Instant>,
    /// A background rediscovery is running (at most one at a time).
    pub refreshing: bool,
    /// Counts replacements: a background rediscovery started at one generation does not
    /// overwrite a newer list the scheduler published while it walked the disk.
    pub generation: u64,
}

impl WorkspaceFiles {
    pub fn lock(files: &Mutex<WorkspaceFiles>) -> MutexGuard<'_, WorkspaceFiles> {
        files.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn replace(&mut self, files: Vec<PathBuf>) {
        self.list = Some(Arc::new(files));
        self.updated = Some(std::time::Instant::now());
        self.generation += 1;
    }
}

pub struct Shared {
    pub client: Client,
    pub host: Arc<dyn Host>,
    pub documents: Mutex<Documents>,
    /// The analysis database: its inputs follow the open documents (set as each edit is
    /// applied) and the disk (refreshed on watched-file events). Analyses take their own
    /// handle ([`Shared::analysis_db`]) and never hold this lock while they run, so an edit
    /// can always take it, cancel them and move to a new revision.
    db: Mutex<Database>,
    /// The workspace's spec files, for path completion (see [`WorkspaceFiles`]).
    pub files: Arc<Mutex<WorkspaceFiles>>,
    /// Results of tests run from the editor, published with their files' diagnostics.
    pub runs: crate::runs::Results,
    session: OnceLock<Session>,
    events: UnboundedSender<Event>,
    shut_down: AtomicBool,
}

impl Shared {
    pub fn new(client: Client, host: Arc<dyn Host>, events: UnboundedSender<Event>) -> Shared {
        Shared {
            client,
            host,
            documents: Mutex::new(Documents::default()),
            db: Mutex::new(Database::new(Arc::new(RealFs), MAX_DISK_READ_BYTES)),
            files: Arc::new(Mutex::new(WorkspaceFiles::default())),
            runs: crate::runs::Results::default(),
            session: OnceLock::new(),
            events,
            shut_down: AtomicBool::new(false),
        }
    }

    /// The documents, even after a panic elsewhere poisoned the lock: every edit leaves the
    /// map consistent, so the data is still good.
    pub fn documents(&self) -> MutexGuard<'_, Documents> {
        self.documents.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A handle on the analysis database for one analysis (run it off the async threads; a
    /// newer edit cancels it with `salsa::Cancelled`). Never take a second one while holding
    /// one: an edit waits for every handle to be dropped.
    pub fn analysis_db(&self) -> Database {
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Sets the database's content of `path` to its open document's text (after an open or
    /// an edit, in wire order): analyses of the older revision are cancelled. The caller holds
    /// the documents' lock, so no analysis reads a document's version whose text the database
    /// does not have yet. (No holder of a database handle waits for that lock.)
    pub fn sync_document(&self, documents: &Documents, path: &Path) {
        let text = documents.get(path).map(|d| d.rope.to_string());
        if let Some(text) = text {
            let content = FileContent::Bytes(Arc::from(text.into_bytes()));
            self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).set_content(path, content, true);
        }
    }

    /// Reads `path` from the disk again (a closed document, a watched-file change).
    pub fn refresh_from_disk(&self, path: &Path) {
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).refresh(path);
    }

    /// Sets the database's content of a closed `path` to what the disk holds now.
    pub fn load_from_disk(&self, path: &Path, content: FileContent) {
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).set_content(path, content, false);
    }

    /// The workspace file list (usable after a panic elsewhere: every update replaces it whole).
    pub fn files(&self) -> MutexGuard<'_, WorkspaceFiles> {
        WorkspaceFiles::lock(&self.files)
    }

    /// The session, once `initialize` has run.
    pub fn session(&self) -> Option<&Session> {
        self.session.get()
    }

    /// Fixes the session (only the first `initialize` counts).
    pub fn begin(&self, session: Session) {
        let _ = self.session.set(session);
    }

    /// Queues work for the scheduler (dropped silently once it has stopped, at exit).
    pub fn send(&self, event: Event) {
        let _ = self.events.send(event);
    }

    pub fn shut_down(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Logs to the client's output channel without waiting (callable from synchronous code).
    pub fn log(&self, kind: tower_lsp_server::ls_types::MessageType, message: String) {
        let client = self.client.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { client.log_message(kind, message).await });
        }
    }
}
