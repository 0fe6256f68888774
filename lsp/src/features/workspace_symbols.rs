//! `workspace/symbol`: the entities of every spec file of the workspace (open documents over
//! the disk), matched case-insensitively against the query (equal, prefix, substring, then
//! subsequence), best first, at most [`MAX_RESULTS`].
//!
//! Each file's entities come from the ide layer's outline ([`ide::entity_symbols`]) and are
//! kept, with their ranges already in the session's position encoding, until the file
//! changes: a file on disk by its modification time and length (one `stat` per request), an
//! open document by its text's hash. A file over the related-file size cap is skipped.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ospecc_compiler::ide::{self, FileContext, NamedSymbol};
use ospecc_compiler::vfs::RealFs;
use ospecc_compiler::Language;
use ropey::Rope;
use tower_lsp_server::ls_types::{Location, Range, SymbolInformation, WorkspaceSymbolParams, WorkspaceSymbolResponse};

use super::{language_by_id, symbols, workspace_files};
use crate::encoding::{range_of, PositionEncoding};
use crate::state::Shared;
use crate::workspace::{uri_of, OverlayFs};

/// The most symbols one answer carries (an empty query lists the workspace up to this).
pub const MAX_RESULTS: usize = 500;

/// What a file's cached entities were computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stamp {
    Disk(SystemTime, u64),
    Open(u64, usize),
}

type Entities = Arc<Vec<(NamedSymbol, Range)>>;

/// Per file: the stamp and the entities with their ranges. One server serves one session,
/// so one process-wide cache (pruned to the workspace's files on each request) suffices.
static CACHE: Mutex<Option<HashMap<PathBuf, (Stamp, Entities)>>> = Mutex::new(None);

pub fn workspace_symbols(shared: &Shared, params: WorkspaceSymbolParams) -> Option<WorkspaceSymbolResponse> {
    let session = shared.session()?.clone();
    let cap = (session.settings.max_file_bytes as u64).min(ide::MAX_RELATED_FILE_BYTES);
    let mut paths: Vec<PathBuf> = workspace_files(shared).as_ref().clone();
    // Open documents count even when not saved yet (or outside the folders' discovery).
    paths.extend(shared.documents().paths().into_iter().filter(|p| is_spec(shared, p)));
    paths.sort();
    paths.dedup();
    let files: Vec<(PathBuf, Entities)> =
        paths.into_iter().filter_map(|p| entities(shared, &p, cap, session.encoding).map(|e| (p, e))).collect();
    prune(&files);
    let mut hits: Vec<(u8, &NamedSymbol, &Range, &Path)> = files
        .iter()
        .flat_map(|(path, found)| found.iter().map(move |(symbol, range)| (symbol, range, path.as_path())))
        .filter_map(|(symbol, range, path)| Some((ide::match_rank(&params.query, &symbol.name)?, symbol, range, path)))
        .collect();
    hits.sort_by(|a, b| (a.0, &a.1.name, a.3, a.2.start).cmp(&(b.0, &b.1.name, b.3, b.2.start)));
    hits.truncate(MAX_RESULTS);
    Some(WorkspaceSymbolResponse::Flat(hits.into_iter().filter_map(|(_, s, r, p)| convert(s, *r, p)).collect()))
}

fn is_spec(shared: &Shared, path: &Path) -> bool {
    path.file_name().is_some_and(|n| shared.host.language_of(&n.to_string_lossy()).is_some())
}

/// The file's entities, from the cache while its stamp is unchanged.
fn entities(shared: &Shared, path: &Path, cap: u64, encoding: PositionEncoding) -> Option<Entities> {
    let open = shared.documents().get(path).map(|d| (d.rope.to_string(), d.language_id.clone()));
    let (stamp, text, language_id) = match open {
        Some((text, language_id)) => {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut hasher);
            (Stamp::Open(hasher.finish(), text.len()), Some(text), language_id)
        }
        None => {
            let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
            (Stamp::Disk(meta.modified().ok()?, meta.len()), None, String::new())
        }
    };
    if let Some((cached, found)) = lock().as_ref().and_then(|c| c.get(path)) {
        if *cached == stamp {
            return Some(Arc::clone(found));
        }
    }
    let text = match text {
        Some(text) => text,
        None => ospecc_compiler::vfs::FileSystem::read_to_string(&RealFs, path, cap).ok()?,
    };
    if text.len() as u64 > cap {
        return None;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let language = shared.host.language_of(&name).unwrap_or_else(|| language_by_id(&language_id));
    let found = Arc::new(compute(shared, path, &text, language, encoding));
    lock().get_or_insert_with(HashMap::new).insert(path.to_path_buf(), (stamp, Arc::clone(&found)));
    Some(found)
}

fn compute(
    shared: &Shared,
    path: &Path,
    text: &str,
    language: Language,
    encoding: PositionEncoding,
) -> Vec<(NamedSymbol, Range)> {
    let fs = OverlayFs::new(&shared.documents);
    let profile = shared.host.options(path).map(|o| o.profile).unwrap_or_default();
    let file = FileContext { path, text, language, fs: &fs, workspace_files: &[], profile };
    let found = ide::entity_symbols(&file);
    if found.is_empty() {
        return Vec::new();
    }
    let rope = Rope::from_str(text);
    found
        .into_iter()
        .map(|symbol| {
            let range = range_of(&rope, symbol.span.start, symbol.span.end, encoding);
            (symbol, range)
        })
        .collect()
}

/// Forgets files no longer in the workspace (deleted, closed and never saved).
fn prune(files: &[(PathBuf, Entities)]) {
    if let Some(cache) = lock().as_mut() {
        let kept: std::collections::HashSet<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
        cache.retain(|path, _| kept.contains(path.as_path()));
    }
}

/// The cache (usable after a panic elsewhere: entries are replaced whole).
fn lock() -> std::sync::MutexGuard<'static, Option<HashMap<PathBuf, (Stamp, Entities)>>> {
    CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn convert(symbol: &NamedSymbol, range: Range, path: &Path) -> Option<SymbolInformation> {
    #[allow(deprecated)] // `deprecated` is a required field of the struct, superseded by `tags`.
    Some(SymbolInformation {
        name: symbol.name.clone(),
        kind: symbols::kind(symbol.kind),
        tags: None,
        deprecated: None,
        location: Location::new(uri_of(path)?, range),
        container_name: symbol.container.clone(),
    })
}
