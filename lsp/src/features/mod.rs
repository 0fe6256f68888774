//! The editor features: each request's document text is fetched (open documents override the
//! disk), handed to the compiler's IO-free `ide` layer with byte offsets, and its plain
//! results converted to LSP types in the negotiated position encoding.
//!
//! One module per request family: `completion`, `hover`, `navigation` (definition,
//! references), `symbols`, `folding`, `formatting`, `workspace_symbols`, `actions` (quick fixes from the
//! diagnostics' fixes), `signature`, `tokens` (semantic tokens), `lenses` (Run code lenses), `run` (the commands
//! that run tests and list them). Documents over the size cap get no features (the scheduler
//! has already told the user why).

pub mod actions;
pub mod completion;
pub mod folding;
pub mod formatting;
pub mod hover;
pub mod lenses;
pub mod navigation;
pub mod run;
pub mod signature;
pub mod symbols;
pub mod tokens;
pub mod workspace_symbols;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ospecc_compiler::db::{Database, DocumentKey};
use ospecc_compiler::ide::{self, FileContext};
use ospecc_compiler::span::Span;
use ospecc_compiler::vfs::FileSystem;
use ospecc_compiler::Language;
use ropey::Rope;
use tower_lsp_server::ls_types::{Location, Position, Range, Uri};

use crate::encoding::{offset_of, range_of, PositionEncoding};
use crate::scheduler::salsa_retry;
use crate::state::{Shared, WorkspaceFiles};
use crate::workspace::{path_of, uri_of, OverlayFs};

/// How old the file list may get, for a client that sends no watched-file events, before
/// a completion request starts a rediscovery in the background (it keeps the list it has).
const FILES_REFRESH: Duration = Duration::from_secs(5);

/// One document's text as a request sees it.
pub struct Snapshot {
    pub uri: Uri,
    pub path: PathBuf,
    pub text: String,
    pub rope: Rope,
    pub language: Language,
    pub encoding: PositionEncoding,
}

impl Snapshot {
    /// The document at `uri` (open, else read from disk), unless it is over the size cap.
    pub fn take(shared: &Shared, uri: &Uri) -> Option<Snapshot> {
        let session = shared.session()?.clone();
        let path = path_of(uri);
        let open = shared.documents().get(&path).map(|d| (d.rope.clone(), d.language_id.clone()));
        let (rope, language_id) = match open {
            Some(found) => found,
            None => {
                let max = session.settings.max_file_bytes as u64;
                let text = OverlayFs::new(&shared.documents).read_to_string(&path, max).ok()?;
                (Rope::from_str(&text), String::new())
            }
        };
        if rope.len_bytes() > session.settings.max_file_bytes {
            return None;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let language = shared.host.language_of(&name).unwrap_or_else(|| language_by_id(&language_id));
        let text = rope.to_string();
        Some(Snapshot { uri: uri.clone(), path, text, rope, language, encoding: session.encoding })
    }

    pub fn offset(&self, position: Position) -> usize {
        offset_of(&self.rope, position, self.encoding)
    }

    pub fn range(&self, span: Span) -> Range {
        range_of(&self.rope, span.start, span.end, self.encoding)
    }

    pub fn span(&self, range: Range) -> Span {
        Span::new(self.offset(range.start), self.offset(range.end))
    }

    /// Runs `f` with the ide layer's view of this document. The workspace file list is left
    /// empty: only path completion reads it ([`Snapshot::with_files`]).
    pub fn with_context<T>(&self, shared: &Shared, f: impl FnOnce(&FileContext) -> T) -> T {
        self.context(shared, &[], f)
    }

    /// [`Snapshot::with_context`] with the workspace's spec files, for completion.
    pub fn with_files<T>(&self, shared: &Shared, f: impl FnOnce(&FileContext) -> T) -> T {
        let files = workspace_files(shared);
        self.context(shared, &files, f)
    }

    fn context<T>(&self, shared: &Shared, files: &[PathBuf], f: impl FnOnce(&FileContext) -> T) -> T {
        let fs = OverlayFs::confined(&shared.documents, shared.host.confinement(&self.path));
        let profile = shared.host.options(&self.path).map(|o| o.profile).unwrap_or_default();
        let context = FileContext {
            path: &self.path,
            text: &self.text,
            language: self.language,
            fs: &fs,
            workspace_files: files,
            profile,
        };
        f(&context)
    }

    /// A whole-file feature (outline, folds, tokens): the database's memo when it holds this
    /// snapshot's text, else (another revision, or cancelled by an edit) computed here.
    pub fn whole_file<T: Clone>(
        &self,
        shared: &Shared,
        memo: impl FnOnce(&Database, &DocumentKey, &str) -> Option<Vec<T>>,
        direct: impl FnOnce(&FileContext) -> Vec<T>,
    ) -> Vec<T> {
        let profile = shared.host.options(&self.path).map(|o| o.profile).unwrap_or_default();
        let key = DocumentKey { path: self.path.clone(), language: self.language, profile };
        let db = shared.analysis_db();
        match salsa_retry(|| memo(&db, &key, &self.text)).flatten() {
            Some(found) => found,
            None => self.with_context(shared, direct),
        }
    }

    /// An ide location as an LSP location (another file's text is read to place the range).
    pub fn location(&self, shared: &Shared, location: &ide::Location) -> Option<Location> {
        match &location.path {
            None => Some(Location::new(self.uri.clone(), self.range(location.span))),
            Some(path) => {
                let uri = uri_of(path)?;
                let max = ide::MAX_RELATED_FILE_BYTES;
                let text = OverlayFs::new(&shared.documents).read_to_string(path, max).unwrap_or_default();
                let rope = Rope::from_str(&text);
                Some(Location::new(uri, range_of(&rope, location.span.start, location.span.end, self.encoding)))
            }
        }
    }
}

/// The language of a document whose file name does not say, by the client's language id.
fn language_by_id(language_id: &str) -> Language {
    match language_id {
        "starlark" | "star" | "bazel" | "python" => Language::Topology,
        _ => Language::OSpec,
    }
}

/// The spec files of the workspace folders, with the open documents that exist on disk.
///
/// The list comes from the scheduler, which keeps it current from its indexing and the file
/// events (`state::WorkspaceFiles`), so no request walks the workspace. Only a completion
/// asked before the first indexing published anything discovers the folders itself. A client
/// that sends no watched-file events cannot tell us about files created by other programs:
/// for it, an old list triggers a rediscovery in the background, and this request (like
/// every other) is answered from the list at hand.
fn workspace_files(shared: &Shared) -> Arc<Vec<PathBuf>> {
    let session = shared.session().cloned().unwrap_or_default();
    let (list, stale) = {
        let mut files = shared.files();
        let stale =
            !session.watch_files && !files.refreshing && files.updated.is_some_and(|at| at.elapsed() >= FILES_REFRESH);
        if stale {
            files.refreshing = true;
        }
        (files.list.clone(), stale.then_some(files.generation))
    };
    if let Some(generation) = stale {
        refresh_in_background(shared, session.roots.clone(), generation);
    }
    let list = match list {
        Some(list) => list,
        None => {
            let mut found: Vec<PathBuf> = session.roots.iter().flat_map(|r| shared.host.discover(r)).collect();
            found.sort();
            found.dedup();
            let mut cached = shared.files();
            // The scheduler may have published meanwhile: its list is the one kept.
            if cached.list.is_none() {
                cached.replace(found.clone());
            }
            Arc::new(found)
        }
    };
    // Open documents not yet saved are left out: a path completion names files on disk.
    let open: Vec<PathBuf> = shared.documents().paths();
    let extra: Vec<PathBuf> = open.into_iter().filter(|p| list.binary_search(p).is_err() && p.is_file()).collect();
    if extra.is_empty() {
        return list; // The common case: no copy of the list.
    }
    let mut files = list.as_ref().clone();
    files.extend(extra);
    files.sort();
    files.dedup();
    Arc::new(files)
}

/// Rediscovers the workspace folders on the blocking pool and replaces the list, unless it
/// was replaced meanwhile (at `generation` when asked).
fn refresh_in_background(shared: &Shared, roots: Vec<PathBuf>, generation: u64) {
    let host = Arc::clone(&shared.host);
    let files = Arc::clone(&shared.files);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        shared.files().refreshing = false;
        return;
    };
    runtime.spawn_blocking(move || {
        let mut found: Vec<PathBuf> = roots.iter().flat_map(|r| host.discover(r)).collect();
        found.sort();
        found.dedup();
        let mut files = WorkspaceFiles::lock(&files);
        if files.generation == generation {
            files.replace(found);
        }
        files.refreshing = false;
    });
}
