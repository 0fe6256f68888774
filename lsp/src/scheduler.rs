//! The scheduler: the one task that analyses files and publishes their diagnostics.
//!
//! Events (edits, closes, disk changes, indexing) arrive on a queue; the edits themselves are
//! already in the analysis database (set as they were applied, which cancelled analyses of the
//! older revision). After the first event of a burst it waits the debounce, takes everything
//! queued meanwhile, analyses the changed files first, then re-asks the database for every
//! other file it has analysed: salsa answers from memos for those that read nothing that
//! changed, and the ones whose diagnostics did change (a spec naming an edited topology, a
//! file whose missing reference was created) are republished. Files are analysed on the
//! blocking pool; when new events are queued between two files, the rest of the plan is merged
//! with them rather than finished on stale text, and an analysis cancelled by a newer edit is
//! retried on the new revision.
//!
//! An open topology without errors also shows its fault-coverage gaps as hints. Computing them
//! lowers the whole file to a plan, which costs more than its checks; so an edit publishes the
//! diagnostics with the last computed gaps re-anchored on the new text, and the gaps are
//! computed again once the document has been quiet for [`HINTS_AFTER`].
//!
//! Invariants: only this task publishes, so publications for one file never race; an open
//! document's diagnostics carry the version they were computed for, and are dropped when the
//! document moved on meanwhile (the newer version is already queued); a file that is neither
//! open nor in the workspace has its diagnostics cleared.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ospecc_compiler::diagnostics::Diagnostic;
use ospecc_compiler::syntax::text::decode;
use ospecc_compiler::Language;
use ropey::Rope;
use tokio::sync::mpsc::UnboundedReceiver;
use tower_lsp_server::ls_types::{self as lsp, FileChangeType, MessageType, NumberOrString, Uri};
use tower_lsp_server::{Bounded, NotCancellable, OngoingProgress};

use crate::analysis_thread::AnalysisThread;
use crate::coverage::Computed;
use crate::diagnostics::{analyse, to_lsp};
use crate::state::{Session, Shared};
use crate::workspace::{uri_of, Index, OverlayFs};
use ospecc_compiler::db::FileContent;

/// Work for the scheduler.
#[derive(Debug)]
pub enum Event {
    /// An open document's text changed (opened or edited).
    Changed(PathBuf),
    /// A document was closed: its text reverts to the disk's.
    Closed(PathBuf),
    /// Files changed on disk (from watched-file notifications).
    Disk(Vec<(PathBuf, FileChangeType)>),
    /// Workspace folders were added or removed (at start: all of them were added): the
    /// folders are discovered again and every spec in them analysed, with progress.
    Folders { added: Vec<PathBuf>, removed: Vec<PathBuf> },
}

/// How long an open topology stays unedited before its coverage gaps are computed again.
const HINTS_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// The token of the indexing progress.
const INDEX_TOKEN: &str = "ospecc/index";

pub struct Scheduler {
    shared: Arc<Shared>,
    events: UnboundedReceiver<Event>,
    index: Index,
    /// Every file analysed and not cleared since, with the diagnostics last published for it:
    /// after a change, each is asked again and republished when its diagnostics changed.
    analysed: HashMap<PathBuf, Vec<Diagnostic>>,
    /// Files whose last publication was not empty (closed ones are cleared only then).
    published: HashSet<PathBuf>,
    /// Files told about the size cap (told once until they shrink below it).
    too_large: HashSet<PathBuf>,
    /// Config problems already shown (each once).
    config_errors: HashSet<String>,
    /// The coverage gaps last computed for each open topology.
    coverage: HashMap<PathBuf, Computed>,
    /// Open topologies whose gaps are to be computed again for a version, and when.
    hints_due: HashMap<PathBuf, (Option<i32>, tokio::time::Instant)>,
    /// Where files are analysed.
    analysis: AnalysisThread,
}

/// What woke the scheduler when it had nothing to do.
enum Wake {
    Event(Option<Event>),
    HintsDue,
}

/// What the planning of a burst of events found to do.
#[derive(Default)]
struct Plan {
    /// Files that changed (analysed first).
    targets: BTreeSet<PathBuf>,
    /// Every other analysed file is asked again once the targets are done.
    revalidate: bool,
    index: bool,
}

/// Runs `work`, or answers `None` when a newer edit cancelled it (`salsa::Cancelled`): the
/// caller retries on the new revision, or drops a request whose document moved on.
pub fn salsa_retry<T>(work: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(value) => Some(value),
        Err(payload) if ospecc_compiler::db::is_cancellation(payload.as_ref()) => None,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Where the coverage hints of an analysed file came from.
enum Hints {
    /// It shows none (not an open topology, or it has errors).
    None,
    /// Computed for this version (it had none computed before).
    Computed(Computed),
    /// Re-anchored from the last computation.
    Reused,
}

/// What analysing one file came to.
enum Outcome {
    Done {
        published: Vec<lsp::Diagnostic>,
        found: Vec<Diagnostic>,
        config_error: Option<String>,
        hints: Hints,
    },
    /// A newer edit cancelled it: analyse again on the new revision.
    Cancelled,
    /// It panicked (logged): nothing is published.
    Failed,
}

impl Scheduler {
    pub fn new(shared: Arc<Shared>, events: UnboundedReceiver<Event>) -> Scheduler {
        Scheduler {
            shared,
            events,
            index: Index::default(),
            analysed: HashMap::new(),
            published: HashSet::new(),
            too_large: HashSet::new(),
            config_errors: HashSet::new(),
            coverage: HashMap::new(),
            hints_due: HashMap::new(),
            analysis: AnalysisThread::start("analysis"),
        }
    }

    /// Runs until the server exits (the queue closes).
    pub async fn run(mut self) {
        let mut plan = Plan::default();
        loop {
            if plan.targets.is_empty() && !plan.index && !plan.revalidate {
                let event = match self.next_hints() {
                    Some(due) => tokio::select! {
                        event = self.events.recv() => Wake::Event(event),
                        () = tokio::time::sleep_until(due) => Wake::HintsDue,
                    },
                    None => Wake::Event(self.events.recv().await),
                };
                let event = match event {
                    Wake::Event(Some(event)) => event,
                    Wake::Event(None) => return,
                    Wake::HintsDue => {
                        self.refresh_hints().await;
                        continue;
                    }
                };
                self.plan(event, &mut plan);
                let debounce = self.session().settings.debounce;
                if !debounce.is_zero() {
                    tokio::time::sleep(debounce).await;
                }
            }
            self.drain(&mut plan);
            if std::mem::take(&mut plan.index) {
                self.index(&mut plan).await;
            }
            while let Some(target) = plan.targets.pop_first() {
                if !self.check(&target).await {
                    plan.targets.insert(target);
                }
                if !self.events.is_empty() {
                    break;
                }
            }
            if plan.targets.is_empty() && self.events.is_empty() && std::mem::take(&mut plan.revalidate) {
                plan.targets.extend(self.changed_elsewhere().await);
                if plan.targets.is_empty() && !self.events.is_empty() {
                    plan.revalidate = true;
                }
            }
        }
    }

    /// When the earliest coverage computation is due.
    fn next_hints(&self) -> Option<tokio::time::Instant> {
        self.hints_due.values().map(|(_, due)| *due).min()
    }

    /// Computes the coverage gaps of the open topologies that have been quiet long enough,
    /// and republishes those whose gaps changed. Stops early when an event arrives.
    async fn refresh_hints(&mut self) {
        let now = tokio::time::Instant::now();
        let due: Vec<(PathBuf, Option<i32>)> =
            self.hints_due.iter().filter(|(_, (_, at))| *at <= now).map(|(p, (v, _))| (p.clone(), *v)).collect();
        for (path, version) in due {
            if !self.events.is_empty() {
                return;
            }
            self.hints_due.remove(&path);
            let Some(document) = self.shared.documents().get(&path).cloned() else { continue };
            if Some(document.version) != version {
                continue; // Its newer version's analysis asks again.
            }
            let Some(computed) = self.compute_coverage(&path, version).await else {
                continue;
            };
            let changed = self.coverage.get(&path).is_none_or(|old| !old.same_gaps(&computed));
            self.coverage.insert(path.clone(), computed);
            if changed && !self.is_stale(&path, version) && self.check(&path).await {
                // That publication placed the gaps just computed: nothing is due for it.
                self.hints_due.remove(&path);
            }
        }
    }

    /// The coverage of an open topology's text, on the blocking pool (`None`, logged, if it
    /// panicked).
    async fn compute_coverage(&self, path: &Path, version: Option<i32>) -> Option<Computed> {
        let shared = Arc::clone(&self.shared);
        let path_buf = path.to_path_buf();
        let work = move || crate::coverage::compute(&shared, &path_buf, version);
        match tokio::task::spawn_blocking(move || std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))).await {
            Ok(Ok(computed)) => Some(computed),
            Ok(Err(panic)) => {
                let message = crate::panic::message(panic.as_ref());
                let text = format!("internal error while computing the coverage of {}: {message}", path.display());
                self.shared.client.log_message(MessageType::ERROR, text).await;
                None
            }
            Err(_) => None,
        }
    }

    /// Keeps what the analysis of `path` (at `version`) did with its coverage hints: a fresh
    /// computation is kept; re-anchored ones are computed again once the document is quiet.
    fn note_hints(&mut self, path: &Path, version: Option<i32>, hints: Hints) {
        match hints {
            Hints::None => {
                self.hints_due.remove(path);
                if version.is_none() {
                    self.coverage.remove(path);
                }
            }
            Hints::Computed(computed) => {
                self.hints_due.remove(path);
                self.coverage.insert(path.to_path_buf(), computed);
            }
            // Computed again even for the same version: a file it loads may have changed.
            Hints::Reused => {
                self.hints_due.insert(path.to_path_buf(), (version, tokio::time::Instant::now() + HINTS_AFTER));
            }
        }
    }

    /// The analysed files whose diagnostics are no longer those published, asked of the
    /// database in one pass on one analysis thread (most answers are memos). `None` of them
    /// when a newer edit cancelled the pass (the plan asks again).
    async fn changed_elsewhere(&self) -> Vec<PathBuf> {
        let shared = Arc::clone(&self.shared);
        let known: Vec<(PathBuf, Vec<Diagnostic>)> =
            self.analysed.iter().map(|(path, found)| (path.clone(), found.clone())).collect();
        let work = move || {
            let db = shared.analysis_db();
            salsa_retry(|| {
                known
                    .into_iter()
                    .filter(|(path, before)| {
                        let language = shared
                            .host
                            .language_of(&path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
                            .unwrap_or(Language::OSpec);
                        analyse(&*shared.host, &db, path, language).diagnostics != *before
                    })
                    .map(|(path, _)| path)
                    .collect::<Vec<PathBuf>>()
            })
            .unwrap_or_default()
        };
        self.analysis.run(work).await.unwrap_or_default()
    }

    fn session(&self) -> Session {
        self.shared.session().cloned().unwrap_or_default()
    }

    /// Takes every queued event into the plan.
    fn drain(&mut self, plan: &mut Plan) {
        while let Ok(event) = self.events.try_recv() {
            self.plan(event, plan);
        }
    }

    /// What one event asks to analyse.
    fn plan(&mut self, event: Event, plan: &mut Plan) {
        match event {
            Event::Changed(path) | Event::Closed(path) => self.touch(&path, plan),
            Event::Disk(changes) => {
                for (path, kind) in changes {
                    self.disk_change(&path, kind, plan);
                }
                self.publish_files();
            }
            Event::Folders { added, removed } => {
                self.index.roots.retain(|r| !removed.contains(r));
                self.index.roots.extend(added);
                let stale: Vec<PathBuf> = self.index.files.iter().filter(|f| !self.index.covers(f)).cloned().collect();
                // Published only when files went: before the first discovery an empty set
                // would hide the files a request could still discover itself.
                if !stale.is_empty() {
                    for file in stale {
                        self.index.files.remove(&file);
                        plan.targets.insert(file);
                    }
                    self.publish_files();
                }
                plan.index = true;
            }
        }
    }

    /// Hands the current file set to the requests (path completion reads it from there).
    fn publish_files(&self) {
        let files: Vec<PathBuf> = self.index.files.iter().cloned().collect();
        self.shared.files().replace(files);
    }

    /// `path` changed: it is analysed, then every other file is asked whether it changed too.
    fn touch(&self, path: &Path, plan: &mut Plan) {
        plan.targets.insert(path.to_path_buf());
        plan.revalidate = true;
    }

    fn disk_change(&mut self, path: &Path, kind: FileChangeType, plan: &mut Plan) {
        if path.file_name().is_some_and(|n| n == "ospecc.toml") {
            // The policy of every file below it may have changed.
            plan.targets
                .extend(self.index.files.iter().filter(|f| f.starts_with(path.parent().unwrap_or(path))).cloned());
            plan.targets.extend(self.shared.documents().paths());
            return;
        }
        let is_spec = self.language_of(path).is_some() && self.index.covers(path);
        // The database reads the disk again unless an open document stands for the file.
        if self.shared.documents().get(path).is_none() {
            self.shared.refresh_from_disk(path);
        }
        if kind == FileChangeType::DELETED {
            self.index.files.remove(path);
        } else if is_spec {
            self.index.files.insert(path.to_path_buf());
        }
        self.touch(path, plan);
    }

    fn language_of(&self, path: &Path) -> Option<Language> {
        self.shared.host.language_of(&path.file_name()?.to_string_lossy())
    }

    /// Discovers every root's specs and analyses them, reporting progress; edits that arrive
    /// meanwhile are served between two files.
    async fn index(&mut self, plan: &mut Plan) {
        let started = Instant::now();
        let host = Arc::clone(&self.shared.host);
        let roots = self.index.roots.clone();
        let found = tokio::task::spawn_blocking(move || roots.iter().flat_map(|r| host.discover(r)).collect())
            .await
            .unwrap_or_else(|_| Vec::<PathBuf>::new());
        let files: Vec<PathBuf> = found.into_iter().filter(|f| self.index.covers(f)).collect();
        self.index.files.extend(files.iter().cloned());
        self.publish_files();
        let progress = self.begin_progress(files.len()).await;
        for (done, file) in files.iter().enumerate() {
            plan.targets.remove(file);
            if !self.check(file).await {
                plan.targets.insert(file.clone());
            }
            if let Some(progress) = &progress {
                let percentage = u32::try_from((done + 1) * 100 / files.len().max(1)).unwrap_or(100);
                progress.report_with_message(format!("{}/{}", done + 1, files.len()), percentage).await;
            }
            if !self.events.is_empty() {
                self.serve_edits(plan).await;
            }
        }
        let summary = format!("indexed {} spec files in {} ms", files.len(), started.elapsed().as_millis());
        if let Some(progress) = progress {
            progress.finish_with_message(summary.clone()).await;
        }
        self.shared.client.log_message(MessageType::INFO, summary).await;
    }

    /// Analyses what the queued events ask for, now (used in the middle of indexing).
    async fn serve_edits(&mut self, plan: &mut Plan) {
        self.drain(plan);
        while let Some(target) = plan.targets.pop_first() {
            if !self.check(&target).await {
                // Cancelled by an edit queued meanwhile: served with the next burst.
                plan.targets.insert(target);
                break;
            }
        }
    }

    async fn begin_progress(&self, total: usize) -> Option<OngoingProgress<Bounded, NotCancellable>> {
        if !self.session().progress || total == 0 {
            return None;
        }
        let token = NumberOrString::String(INDEX_TOKEN.to_string());
        self.shared.client.create_work_done_progress(token.clone()).await.ok()?;
        let progress = self.shared.client.progress(token, "ospecc: indexing").with_percentage(0);
        Some(progress.with_message(format!("0/{total}")).begin().await)
    }

    /// Analyses one file (its open text, else the disk's) and publishes the result; false when
    /// a newer edit cancelled the analysis (it is to be done again).
    async fn check(&mut self, path: &Path) -> bool {
        if self.shared.is_shut_down() {
            return true;
        }
        let Some(source) = self.source(path) else {
            self.clear(path).await;
            return true;
        };
        let settings = self.session().settings;
        if source.text.len() > settings.max_file_bytes {
            self.skip_large(path, &source, settings.max_file_bytes).await;
            return true;
        }
        self.too_large.remove(path);
        let version = source.version;
        let uri = source.uri.clone();
        let (published, found, config_error) = match self.analyse(path, source).await {
            Outcome::Done { published, found, config_error, hints } => {
                self.note_hints(path, version, hints);
                (published, found, config_error)
            }
            Outcome::Cancelled => return false,
            Outcome::Failed => return true,
        };
        if let Some(message) = config_error.filter(|m| self.config_errors.insert(m.clone())) {
            self.shared.client.show_message(MessageType::ERROR, format!("ospecc.toml: {message}")).await;
        }
        if self.is_stale(path, version) {
            return true;
        }
        self.analysed.insert(path.to_path_buf(), found);
        self.publish(path, uri, published, version).await;
        true
    }

    /// The text to analyse: the open document's, else the disk's for a workspace file (read
    /// again and handed to the database, which keeps the old revision if it did not change).
    fn source(&mut self, path: &Path) -> Option<Source> {
        let open = self.shared.documents().get(path).cloned();
        if let Some(document) = open {
            let language = self.language_of(path).unwrap_or_else(|| language_by_id(&document.language_id));
            let text = document.rope.to_string();
            return Some(Source {
                text,
                rope: document.rope,
                uri: document.uri,
                version: Some(document.version),
                language,
                undecodable: None,
            });
        }
        if !self.index.files.contains(path) {
            return None;
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(_) => {
                if self.index.files.remove(path) {
                    self.publish_files();
                }
                return None;
            }
        };
        let settings = self.session().settings;
        if bytes.len() <= settings.max_file_bytes {
            self.shared.load_from_disk(path, FileContent::Bytes(Arc::from(bytes.as_slice())));
        }
        let language = self.language_of(path).unwrap_or(Language::OSpec);
        Some(Source::from_disk(bytes, uri_of(path)?, language))
    }

    /// Runs the analysis on the blocking pool; a panic in it is logged and publishes nothing.
    async fn analyse(&self, path: &Path, source: Source) -> Outcome {
        let shared = Arc::clone(&self.shared);
        let encoding = self.session().encoding;
        let path_buf = path.to_path_buf();
        let last_coverage = self.coverage.get(path).cloned();
        let work = move || {
            let (found, config_error, request) = match source.undecodable {
                Some(diagnostic) => (policy_only(&shared, &path_buf, diagnostic), None, None),
                None => {
                    let db = shared.analysis_db();
                    let analysis = salsa_retry(|| analyse(&*shared.host, &db, &path_buf, source.language))?;
                    (analysis.diagnostics, analysis.config_error, Some(analysis.request))
                }
            };
            let fs = OverlayFs::new(&shared.documents);
            let mut published = to_lsp(&found, &source.uri, &source.rope, encoding, &fs);
            // An open topology without errors also shows its fault-coverage gaps; every open
            // file shows the results of the tests last run from the editor on its text.
            let clean = !found.iter().any(|d| d.severity == ospecc_compiler::Severity::Error);
            let request =
                request.filter(|_| source.version.is_some() && source.language == Language::Topology && clean);
            let hints = if let Some(request) = request {
                let (computed, hints) = match last_coverage {
                    Some(last) => (last, Hints::Reused),
                    None => {
                        let computed = crate::coverage::compute(&shared, &path_buf, source.version);
                        (computed.clone(), Hints::Computed(computed))
                    }
                };
                // Where the services are: the analysis's skeleton knows (no second reading of the text).
                let db = shared.analysis_db();
                let declared = salsa_retry(|| db.declared_services(&request))?;
                published.extend(crate::coverage::hints(&computed, &declared, &source.rope, encoding));
                hints
            } else {
                Hints::None
            };
            published.extend(shared.runs.diagnostics(&path_buf, source.version));
            Some(Outcome::Done { published, found, config_error, hints })
        };
        match self.analysis.run(work).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => Outcome::Cancelled,
            Err(panic) => {
                let message = crate::panic::message(panic.as_ref());
                let text = format!("internal error while checking {}: {message}", path.display());
                self.shared.client.log_message(MessageType::ERROR, text).await;
                Outcome::Failed
            }
        }
    }

    /// Whether an open document moved on (or closed) since `version` was read.
    fn is_stale(&self, path: &Path, version: Option<i32>) -> bool {
        let now = self.shared.documents().get(path).map(|d| d.version);
        now != version
    }

    async fn skip_large(&mut self, path: &Path, source: &Source, cap: usize) {
        if self.too_large.insert(path.to_path_buf()) {
            let message = format!(
                "{} is {} bytes, over the {} byte limit: it is not analysed (no diagnostics) until it is smaller",
                path.display(),
                source.text.len(),
                cap
            );
            self.shared.client.show_message(MessageType::WARNING, message).await;
        }
        self.analysed.remove(path);
        self.publish(path, source.uri.clone(), Vec::new(), source.version).await;
    }

    /// Clears the diagnostics of a file that is no longer analysed.
    async fn clear(&mut self, path: &Path) {
        self.analysed.remove(path);
        self.coverage.remove(path);
        self.hints_due.remove(path);
        if self.published.contains(path) {
            if let Some(uri) = uri_of(path) {
                self.publish(path, uri, Vec::new(), None).await;
            }
        }
    }

    async fn publish(&mut self, path: &Path, uri: Uri, diagnostics: Vec<lsp::Diagnostic>, version: Option<i32>) {
        if self.shared.is_shut_down() {
            return;
        }
        let is_open = version.is_some();
        if diagnostics.is_empty() && !is_open && !self.published.contains(path) {
            return; // Nothing was shown for this closed file: nothing to clear.
        }
        if diagnostics.is_empty() {
            self.published.remove(path);
        } else {
            self.published.insert(path.to_path_buf());
        }
        self.shared.client.publish_diagnostics(uri, diagnostics, version).await;
    }
}

/// A file's text for one analysis.
struct Source {
    text: String,
    rope: Rope,
    uri: Uri,
    /// The open document's version; `None` for a file read from disk.
    version: Option<i32>,
    language: Language,
    /// The decoding finding of a file on disk that is not UTF-8 text.
    undecodable: Option<Diagnostic>,
}

impl Source {
    fn from_disk(bytes: Vec<u8>, uri: Uri, language: Language) -> Source {
        match String::from_utf8(bytes) {
            Ok(text) => Source { rope: Rope::from_str(&text), text, uri, version: None, language, undecodable: None },
            Err(error) => {
                let bytes = error.into_bytes();
                let diagnostic = decode(&bytes).err();
                // As `ospecc check` does: show what decodes, so the range still points somewhere.
                let end = diagnostic.as_ref().map_or(0, |d| d.span.start.min(bytes.len()));
                let text = ospecc_compiler::syntax::text::offset_preserving_prefix(&bytes, end);
                Source { rope: Rope::from_str(&text), text, uri, version: None, language, undecodable: diagnostic }
            }
        }
    }
}

/// The language of an open document whose name does not say: by the client's language id.
fn language_by_id(language_id: &str) -> Language {
    match language_id {
        "starlark" | "star" | "bazel" | "python" => Language::Topology,
        _ => Language::OSpec,
    }
}

/// The policy of `path`'s config applied to a lone finding (an undecodable file).
fn policy_only(shared: &Shared, path: &Path, diagnostic: Diagnostic) -> Vec<Diagnostic> {
    let options = shared.host.options(path).unwrap_or_default();
    options.policy.apply(vec![diagnostic])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_ids_pick_the_checker() {
        assert_eq!(language_by_id("starlark"), Language::Topology);
        assert_eq!(language_by_id("yaml"), Language::OSpec);
    }

    #[test]
    fn undecodable_disk_files_keep_their_finding() {
        let uri: Uri = "file:///w/a.ospec.yml".parse().unwrap();
        let source = Source::from_disk(b"name: \xff\n".to_vec(), uri, Language::OSpec);
        assert_eq!(source.undecodable.map(|d| d.code), Some("OSP003"));
        assert_eq!(source.text, "name: ");
    }
}
