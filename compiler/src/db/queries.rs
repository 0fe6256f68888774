//! The queries, from file contents to one file's diagnostics:
//!
//! ```text
//! check_target ─┬─ decoded (text or OSP002/OSP003)
//!               ├─ OSpec:    ospec_diagnostics (own + cross-file) ─ topology_model ─ loaded_module…
//!               └─ topology: topology_diagnostics ─┬─ topology_skeleton (the file's tree, the span map)
//!                                                   └─ topology_evaluation ─ skeleton_text ─ topology_skeleton
//!                                                        └─ loaded_module (per load()ed file) ─ module_imports
//! ```
//!
//! A topology file is evaluated as its skeleton (`topology::skeleton`: the bodies of the defs
//! that cannot run at load stubbed out), whose text compares: an edit inside such a body
//! changes the skeleton's span map but not its text, so the evaluation is not run again; the
//! checks read the file's own tree and the evaluation with its spans mapped back.
//!
//! Diagnostics compare, so an unchanged result stops propagation (early cutoff). Evaluated
//! modules do not (`no_eq`): what reads them re-runs when they are recomputed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ospecc_schema::{stdlib, Profile};
use starlark::syntax::ast::StmtP;

use super::files::TrackedFs;
use super::{Db, Request, SourceFile};
use crate::crossfile::{self, CrossInput};
use crate::diagnostics::Diagnostic;
use crate::ospec::{self, CheckInput, CheckOptions};
use crate::span::Span;
use crate::syntax::text::decode;
use crate::syntax::yaml;
use crate::syntax::Language;
use crate::topology::skeleton::{Skeleton, SpanMap};
use crate::topology::syntax::{span, Syntax};
use crate::topology::{self, Addresses, Evaluated, Limits, LoadedModule, ModuleLoader, TopologyInput};
use crate::vfs::Confinement;

/// One file to check, interned: the configuration is part of the key, so a changed
/// `ospecc.toml` (other options) makes another key, and the old one's results stay valid
/// for whoever still asks with it.
#[salsa::interned(debug)]
pub struct Target<'db> {
    #[returns(ref)]
    pub path: PathBuf,
    #[returns(ref)]
    pub written: PathBuf,
    #[returns(copy)]
    pub language: Language,
    #[returns(ref)]
    pub root: PathBuf,
    #[returns(ref)]
    pub options: CheckOptions,
    #[returns(copy)]
    pub limits: Limits,
    #[returns(ref)]
    pub confinement: Option<Confinement>,
}

impl<'db> Target<'db> {
    pub fn of(db: &'db dyn Db, request: &Request) -> Target<'db> {
        Target::new(
            db,
            request.path.clone(),
            request.written.clone(),
            request.language,
            request.root.clone(),
            request.options.clone(),
            request.limits,
            request.confinement.clone(),
        )
    }
}

/// Whether a file has text, or why it has none (the text itself stays in the input: a copy
/// of every file would cost more than validating it again where it is read, `text_of`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    Text,
    /// Binary or not UTF-8: the finding.
    Undecodable(Diagnostic),
    /// The file cannot be read (the driver reports it; the analysis has nothing to say).
    Unreadable,
}

#[salsa::tracked(returns(ref))]
pub fn decoded(db: &dyn Db, file: SourceFile) -> Decoded {
    match file.content(db).bytes(u64::MAX) {
        Ok(bytes) => match decode(bytes) {
            Ok(_) => Decoded::Text,
            Err(diagnostic) => Decoded::Undecodable(diagnostic),
        },
        Err(_) => Decoded::Unreadable,
    }
}

/// Every diagnostic of one file, policy applied, sorted. Not a query itself: the queries it
/// dispatches to are, and a memo here would keep every file's diagnostics twice.
pub fn check_target<'db>(db: &'db dyn Db, target: Target<'db>) -> Vec<Diagnostic> {
    let file = db.source(target.path(db));
    match decoded(db, file) {
        Decoded::Text => match target.language(db) {
            Language::OSpec => ospec_diagnostics(db, target).clone(),
            Language::Topology => topology_diagnostics(db, target).clone(),
        },
        Decoded::Undecodable(diagnostic) => target.options(db).policy.apply(vec![diagnostic.clone()]),
        Decoded::Unreadable => Vec::new(),
    }
}

/// The text of a file `decoded` found to be text (empty otherwise).
fn text_of<'db>(db: &'db dyn Db, target: Target<'db>) -> &'db str {
    let file = db.source(target.path(db));
    match (decoded(db, file), file.content(db).bytes(u64::MAX)) {
        (Decoded::Text, Ok(bytes)) => std::str::from_utf8(bytes).unwrap_or_default(),
        _ => "",
    }
}

/// An OSpec file's diagnostics, policy applied: its own checks (schema and semantic) and
/// the cross-file ones (`ext` only: in `core`, `topology:` is an unknown key), over one parse
/// of its YAML. The tree is not memoised: on 2,000 specs, keeping every tree cost more (memory
/// and page faults) than the one parse per changed file it would save; the topology a spec
/// names is (`topology_model`).
#[salsa::tracked(returns(ref))]
pub fn ospec_diagnostics<'db>(db: &'db dyn Db, target: Target<'db>) -> Vec<Diagnostic> {
    let text = text_of(db, target);
    let parsed = yaml::parse(text);
    let options = target.options(db);
    let confinement = target.confinement(db).as_ref();
    let fs = TrackedFs::new(db, confinement);
    let own = ospec::check_parsed(&CheckInput { path: target.written(db), text, fs: &fs, options }, &parsed);
    if options.profile != Profile::Ext {
        return own;
    }
    let input = CrossInput { path: target.path(db), text, fs: &fs, root: target.root(db), limits: target.limits(db) };
    let evaluate = |topology: &TopologyInput| -> Arc<Evaluated> {
        let key = Evaluation::new(
            db,
            topology.path.to_path_buf(),
            topology.root.to_path_buf(),
            topology.limits,
            confinement.cloned(),
        );
        Arc::clone(topology_model(db, key))
    };
    crossfile::merge(own, options.policy.apply(crossfile::check_parsed(&input, &parsed, &evaluate)))
}

/// A topology file evaluated for the specs that name it.
#[salsa::interned(debug)]
pub struct Evaluation<'db> {
    #[returns(ref)]
    path: PathBuf,
    #[returns(ref)]
    root: PathBuf,
    #[returns(copy)]
    limits: Limits,
    #[returns(ref)]
    confinement: Option<Confinement>,
}

/// The evaluated model of a topology file (no checks), shared by every spec naming it.
#[salsa::tracked(returns(ref), no_eq, lru = 64)]
pub fn topology_model<'db>(db: &'db dyn Db, key: Evaluation<'db>) -> Arc<Evaluated> {
    let (path, root, limits) = (key.path(db), key.root(db), key.limits(db));
    let confinement = key.confinement(db).as_ref();
    let fs = TrackedFs::new(db, confinement);
    // The spec's check read the same input in this revision: it reads the same text.
    let text = crate::vfs::FileSystem::read_to_string(&fs, path, limits.max_file_bytes as u64).unwrap_or_default();
    let loader = DbLoader::new(db, path, root, limits, confinement, Addresses::Values);
    let input = TopologyInput { path, text: &text, fs: &fs, root, limits };
    Arc::new(topology::evaluate_with(&input, Addresses::Values, Some(&loader)))
}

/// A topology file's skeleton: the text evaluated, the map of its offsets back to the file's,
/// the file's own tree.
#[salsa::tracked(returns(ref), no_eq)]
pub fn topology_skeleton<'db>(db: &'db dyn Db, target: Target<'db>) -> Arc<Skeleton> {
    let text = text_of(db, target);
    Arc::new(Skeleton::of(&target.path(db).display().to_string(), text, &target.limits(db)))
}

/// What the evaluation of a topology file reads of its skeleton. It compares: an edit that
/// leaves it unchanged stops here (early cutoff), and the evaluation is reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkeletonText {
    pub text: String,
    /// Whether it differs from the file's text (then the evaluation's tree is not kept: the
    /// checks read the file's).
    pub stubbed: bool,
}

#[salsa::tracked(returns(ref))]
pub fn skeleton_text<'db>(db: &'db dyn Db, target: Target<'db>) -> SkeletonText {
    let skeleton = topology_skeleton(db, target);
    SkeletonText { text: skeleton.text.clone(), stubbed: skeleton.syntax.is_some() }
}

/// The evaluation of a topology file's skeleton and the load-time part of its checks, both
/// in the skeleton's offsets: an edit inside a stubbed body changes neither.
#[derive(Debug)]
pub struct LoadTime {
    pub evaluated: Evaluated,
    pub findings: Vec<Diagnostic>,
    /// What a `def` read alone cannot see of its module.
    pub scope: topology::bodies::ModuleScope,
}

#[salsa::tracked(returns(ref), no_eq)]
pub fn topology_evaluation<'db>(db: &'db dyn Db, target: Target<'db>) -> Arc<LoadTime> {
    let (path, root, limits) = (target.path(db), target.root(db), target.limits(db));
    let skeleton = skeleton_text(db, target);
    let confinement = target.confinement(db).as_ref();
    let fs = TrackedFs::new(db, confinement);
    let loader = DbLoader::new(db, path, root, limits, confinement, Addresses::Values);
    let input = TopologyInput { path, text: &skeleton.text, fs: &fs, root, limits };
    let mut evaluated = topology::evaluate_with(&input, Addresses::Values, Some(&loader));
    let findings = topology::check_load_time(&evaluated, &input);
    let scope = match &evaluated.syntax {
        Some(syntax) => topology::bodies::ModuleScope::new(&syntax.tree, &evaluated.globals),
        None => topology::bodies::ModuleScope::default(),
    };
    if skeleton.stubbed {
        // One tree per file is kept: the skeleton query's, which is the file's.
        evaluated.syntax = None;
    }
    Arc::new(LoadTime { evaluated, findings, scope })
}

/// How far [`moved_evaluation`] moves the load-time values: past every offset of a `def`
/// read alone, so that a finding's spans tell which of the two they are in.
const MOVED: usize = usize::MAX / 2;

/// The load-time evaluation, its spans moved by [`MOVED`] (what a `def` read alone is
/// checked against).
#[salsa::tracked(returns(ref), no_eq)]
fn moved_evaluation<'db>(db: &'db dyn Db, target: Target<'db>) -> Arc<Evaluated> {
    let load = topology_evaluation(db, target);
    Arc::new(SpanMap::moved_by(MOVED).evaluated(&load.evaluated, &skeleton_text(db, target).text))
}

/// A stubbed top-level `def` of a topology file, by its text.
#[salsa::interned(debug)]
pub struct StubbedDef<'db> {
    target: Target<'db>,
    #[returns(ref)]
    text: String,
}

/// The call checks of one stubbed `def`'s body, read alone and memoised by its text: an edit
/// inside one body re-checks that body only. Spans are the def's own offsets, or a load-time
/// value's moved by [`MOVED`]. `None` when the `def` does not parse alone.
#[salsa::tracked(returns(ref))]
fn stubbed_def_findings<'db>(db: &'db dyn Db, def: StubbedDef<'db>) -> Option<Vec<Diagnostic>> {
    let target = *def.target(db);
    let (path, root, limits) = (target.path(db), target.root(db), target.limits(db));
    let load = topology_evaluation(db, target);
    let moved = moved_evaluation(db, target);
    let fs = TrackedFs::new(db, target.confinement(db).as_ref());
    let input = TopologyInput { path, text: def.text(db), fs: &fs, root, limits };
    topology::check_stubbed_def(moved, &load.scope, def.text(db), &input)
}

/// The top-level `def`s whose bodies the skeleton stubbed: each statement's span and its
/// body's (file offsets).
fn stubbed_defs(syntax: &Syntax, bodies: &[Span]) -> Vec<(Span, Span)> {
    let StmtP::Statements(top) = &syntax.tree.node else { return Vec::new() };
    top.iter()
        .filter(|stmt| matches!(stmt.node, StmtP::Def(_)))
        .filter_map(|stmt| {
            let def = span(stmt.span);
            let i = bodies.partition_point(|b| b.start < def.start);
            bodies.get(i).filter(|b| b.end <= def.end).map(|body| (def, *body))
        })
        .collect()
}

/// A span of a `def`'s findings (see [`stubbed_def_findings`]) in the file's offsets.
fn from_def(at: Span, def_start: usize, map: &SpanMap) -> Span {
    if at.start >= MOVED {
        map.span(Span::new(at.start - MOVED, at.end - MOVED))
    } else {
        Span::new(at.start + def_start, at.end + def_start)
    }
}

/// A topology file's diagnostics (evaluation and static checks), policy applied: the
/// evaluation of its skeleton and the load-time findings taken back to the file's offsets,
/// with the checks of the stubbed bodies and the cross checks over the file's tree.
#[salsa::tracked(returns(ref))]
pub fn topology_diagnostics<'db>(db: &'db dyn Db, target: Target<'db>) -> Vec<Diagnostic> {
    let (path, root, limits) = (target.path(db), target.root(db), target.limits(db));
    let skeleton = topology_skeleton(db, target);
    let load = topology_evaluation(db, target);
    let text = text_of(db, target);
    let confinement = target.confinement(db).as_ref();
    let fs = TrackedFs::new(db, confinement);
    let input = TopologyInput { path, text, fs: &fs, root, limits };
    let found = match &skeleton.syntax {
        Some(syntax) => {
            let mapped = skeleton.map.evaluated(&load.evaluated, text);
            let mut found: Vec<Diagnostic> = load.findings.iter().map(|d| skeleton.map.diagnostic(d)).collect();
            // In an edited file each stubbed body's call checks come from its own query; the
            // other bodies (all of them in a file read once, or a `def` that does not parse
            // alone) are checked here, with the file's tree.
            let bodies = skeleton.map.bodies();
            let mut own = Vec::new();
            if db.source(path).edited(db) {
                for (def, body) in stubbed_defs(syntax, &bodies) {
                    let Some(def_text) = text.get(def.start..def.end) else { continue };
                    let Some(findings) = stubbed_def_findings(db, StubbedDef::new(db, target, def_text.to_owned()))
                    else {
                        continue;
                    };
                    found.extend(
                        findings.iter().map(|d| d.with_spans_mapped(|at| from_def(at, def.start, &skeleton.map))),
                    );
                    own.push(body);
                }
            }
            let here: Vec<Span> = bodies.into_iter().filter(|b| !own.contains(b)).collect();
            let found = topology::check_bodies(&mapped, Some(syntax), &input, &here, found);
            topology::drop_later(mapped);
            found
        }
        None => {
            let evaluated = &load.evaluated;
            topology::check_bodies(evaluated, evaluated.syntax.as_ref(), &input, &[], load.findings.iter().cloned())
        }
    };
    target.options(db).policy.apply(found)
}

/// The services a topology file's skeleton declares (skeleton offsets). The skeleton's text
/// compares, so an edit inside a stubbed body reuses them.
#[salsa::tracked(returns(ref))]
fn skeleton_services<'db>(db: &'db dyn Db, target: Target<'db>) -> Vec<crate::ide::DeclaredService> {
    crate::ide::declared_services(&skeleton_text(db, target).text)
}

/// The services a topology file declares, where their names are written (file offsets): the
/// skeleton's, taken back to the file; the file's own when a stubbed body may declare one.
pub fn declared_services<'db>(db: &'db dyn Db, target: Target<'db>) -> Vec<crate::ide::DeclaredService> {
    let skeleton = topology_skeleton(db, target);
    let text = text_of(db, target);
    let bodies = skeleton.map.bodies();
    if bodies.iter().any(|b| text.get(b.start..b.end).is_none_or(crate::ide::may_declare_services)) {
        return crate::ide::declared_services(text);
    }
    skeleton_services(db, target).iter().map(|(name, at)| (name.clone(), skeleton.map.span(*at))).collect()
}

/// A loaded module as one importer's run would evaluate it: the importing spec's directory
/// (`load_file` reads below it), the workspace root, the bounds, confinement and address
/// mode decide its evaluation besides the files it reads.
#[salsa::interned(debug)]
pub struct ModuleKey<'db> {
    #[returns(ref)]
    key: String,
    #[returns(ref)]
    spec_dir: PathBuf,
    #[returns(ref)]
    root: PathBuf,
    #[returns(copy)]
    limits: Limits,
    #[returns(ref)]
    confinement: Option<Confinement>,
    #[returns(copy)]
    addresses: Addresses,
}

/// A module's name and directory from its key: a stdlib id names itself and has none; a
/// file's key is its normalised path.
fn name_and_dir(key: &str) -> (&str, Option<&Path>) {
    if key.starts_with('@') {
        (key, None)
    } else {
        (key, Path::new(key).parent())
    }
}

/// The module's text: the embedded stdlib's, or the file's (through the inputs).
fn module_text(db: &dyn Db, module: ModuleKey<'_>, fs: &TrackedFs) -> Option<String> {
    let key = module.key(db);
    if key.starts_with('@') {
        return stdlib::module(key).map(str::to_owned);
    }
    crate::vfs::FileSystem::read_to_string(fs, Path::new(key), topology::MAX_READ_BYTES).ok()
}

/// The keys of the modules a module loads.
#[salsa::tracked(returns(ref))]
pub fn module_imports<'db>(db: &'db dyn Db, module: ModuleKey<'db>) -> Arc<[String]> {
    let fs = TrackedFs::new(db, module.confinement(db).as_ref());
    let Some(text) = module_text(db, module, &fs) else { return Arc::from(Vec::new()) };
    let (name, dir) = name_and_dir(module.key(db));
    Arc::from(topology::imports_of(name, dir, &text, &module.limits(db)))
}

/// One loaded module, evaluated once for all its importers with the same key.
#[salsa::tracked(returns(ref), no_eq)]
pub fn loaded_module<'db>(db: &'db dyn Db, module: ModuleKey<'db>) -> Arc<LoadedModule> {
    let confinement = module.confinement(db).as_ref();
    let fs = TrackedFs::new(db, confinement);
    let key = module.key(db);
    let (name, dir) = name_and_dir(key);
    let (spec_dir, root, limits) = (module.spec_dir(db), module.root(db), module.limits(db));
    let loader = DbLoader {
        db,
        spec_dir: spec_dir.clone(),
        root: root.clone(),
        limits,
        confinement: confinement.cloned(),
        addresses: module.addresses(db),
    };
    // The importer read this text in the same revision; a module without text evaluates as
    // an empty one would not, so it is read the same way here.
    let text = module_text(db, module, &fs).unwrap_or_default();
    let request = topology::ModuleRequest { key, name, dir, text, spec_dir, root, limits, fs: &fs };
    Arc::new(topology::evaluate_module(&request, &loader))
}

/// The [`ModuleLoader`] of one evaluation: loaded modules come from [`loaded_module`].
struct DbLoader<'a> {
    db: &'a dyn Db,
    spec_dir: PathBuf,
    root: PathBuf,
    limits: Limits,
    confinement: Option<Confinement>,
    addresses: Addresses,
}

impl<'a> DbLoader<'a> {
    fn new(
        db: &'a dyn Db,
        spec: &Path,
        root: &Path,
        limits: Limits,
        confinement: Option<&Confinement>,
        addresses: Addresses,
    ) -> DbLoader<'a> {
        DbLoader {
            db,
            spec_dir: spec.parent().map(Path::to_path_buf).unwrap_or_default(),
            root: root.to_path_buf(),
            limits,
            confinement: confinement.cloned(),
            addresses,
        }
    }

    fn key(&self, key: &str) -> ModuleKey<'a> {
        ModuleKey::new(
            self.db,
            key.to_owned(),
            self.spec_dir.clone(),
            self.root.clone(),
            self.limits,
            self.confinement.clone(),
            self.addresses,
        )
    }
}

impl ModuleLoader for DbLoader<'_> {
    fn imports(&self, key: &str) -> Arc<[String]> {
        Arc::clone(module_imports(self.db, self.key(key)))
    }

    fn module(&self, key: &str) -> Arc<LoadedModule> {
        Arc::clone(loaded_module(self.db, self.key(key)))
    }
}
