//! The editor features: each request's document text is fetched (open documents override the
//! disk), handed to the compiler's IO-free `ide` layer with byte offsets, and its plain
//! results converted to LSP types in the negotiated position encoding.
//!
//! One module per request family: `completion`, `hover`, `navigation` (definition,
//! references), `symbols`, `actions` (quick fixes from the diagnostics' fixes), `signature`,
//! `tokens` (semantic tokens). Documents over the size cap get no features (the scheduler
//! has already told the user why).

pub mod actions;
pub mod completion;
pub mod hover;
pub mod navigation;
pub mod signature;
pub mod symbols;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_compiler::analysis::Language;
use ospecc_compiler::ide::{self, FileContext};
use ospecc_compiler::span::Span;
use ospecc_compiler::vfs::FileSystem;
use ropey::Rope;
use tower_lsp_server::ls_types::{Location, Position, Range, Uri};

use crate::encoding::{offset_of, range_of, PositionEncoding};
use crate::state::Shared;
use crate::workspace::{path_of, uri_of, OverlayFs};

/// How long a discovered list of workspace files is reused (it only feeds path completion).
const FILES_TTL: Duration = Duration::from_secs(5);

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

    /// Runs `f` with the ide layer's view of this document.
    pub fn with_context<T>(&self, shared: &Shared, f: impl FnOnce(&FileContext) -> T) -> T {
        let fs = OverlayFs::new(&shared.documents);
        let files = workspace_files(shared);
        let profile = shared.host.options(&self.path).map(|o| o.profile).unwrap_or_default();
        let context = FileContext {
            path: &self.path,
            text: &self.text,
            language: self.language,
            fs: &fs,
            workspace_files: &files,
            profile,
        };
        f(&context)
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

/// The spec files of the workspace folders (discovered at most every [`FILES_TTL`]), with
/// the open documents that exist on disk.
fn workspace_files(shared: &Shared) -> Arc<Vec<PathBuf>> {
    let mut cache = shared.files_cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, files)) = cache.as_ref() {
        if at.elapsed() < FILES_TTL {
            return Arc::clone(files);
        }
    }
    let roots = shared.session().map(|s| s.roots.clone()).unwrap_or_default();
    let mut files: Vec<PathBuf> = roots.iter().flat_map(|r| shared.host.discover(r)).collect();
    // Open documents not yet saved are left out: a path completion names files on disk.
    let open: Vec<PathBuf> = shared.documents().paths();
    files.extend(open.into_iter().filter(|p| p.is_file()));
    files.sort();
    files.dedup();
    let files = Arc::new(files);
    *cache = Some((Instant::now(), Arc::clone(&files)));
    files
}
