//! OSpec names for references and rename, followed into every file that shares them: a
//! service is one name in the specs that name a topology (`topology:`) and in that topology's
//! `service("NAME", …)` declaration and `depends_on` strings (in the topology file or a module
//! it `load()`s), so it is found from either side; a task, phase or environment lives in its
//! spec alone (the format has no references between specs).
//!
//! Other files are read only through the [`FileContext`]'s file system and workspace list.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::context::Segment;
use super::entities::{resolve, Entities};
use super::schema::At;
use crate::ide::topology::index::Index;
use crate::ide::topology::lex::{self, Kind};
use crate::ide::{FileContext, Location, MAX_RELATED_FILE_BYTES};
use crate::ospec::schema::compiled;
use crate::span::Span;
use crate::syntax::yaml::{self, Value};
use ospecc_schema::topology::builtins;

/// A named entity the cursor is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    /// `service`, `task`, `phase`, `environment` (the checks' [`GRAPHS`] names).
    ///
    /// [`GRAPHS`]: crate::ospec::checks::graph::GRAPHS
    pub what: &'static str,
    pub name: String,
    origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    /// Written in the asking spec, which names this topology file (if any).
    Spec { topology: Option<PathBuf> },
    /// Declared by `service("NAME", …)` in the asking topology file (`true`), or named by a
    /// `depends_on` string there (`false`).
    Topology { declared_here: bool },
}

/// One place the entity is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub location: Location,
    /// A definition (a `services:` key, a task's `id`, the topology's `service("NAME")`).
    pub declaration: bool,
}

/// The most topology files one `load()` closure is followed into.
const MAX_MODULES: usize = 256;

/// The argument whose strings may name services in a topology (`depends_on = ["db"]`).
const DEPENDS_ON: &str = "depends_on";

/// Where a new name's form is written in the schema, per entity (the path from the root; `""`
/// is a sequence item); the others are mapping keys the schema does not constrain, which take
/// [`KEY_FORM`].
const SCHEMA_FORMS: &[(&str, &[&str])] = &[("task", &["tasks", "", "id"])];

/// The form of a service, phase or environment name: what a step's `service:` prefix reads.
const KEY_FORM: &str = "letters, digits, `_` and `-`, not starting with `-`";

/// The entity at `offset` in a spec, and the span of its name there; an error says why there
/// is none (which a rename shows).
pub fn in_spec(file: &FileContext, offset: usize) -> Result<(Named, Span), String> {
    let entities = Entities::cached(file.text);
    if entities.topology.as_ref().is_some_and(|(_, s)| s.start <= offset && offset <= s.end) {
        return Err("`topology:` names a file: rename the file, then this path".into());
    }
    let Some((what, name, span)) = entities.at(offset) else {
        return Err("there is no service, task, phase or environment name here to rename".into());
    };
    let topology =
        (what == "service").then(|| entities.topology.as_ref().map(|(value, _)| resolve(file.path, value))).flatten();
    Ok((Named { what, name: name.to_string(), origin: Origin::Spec { topology } }, span))
}

/// The service whose name string holds `offset` in a topology file: its `service("NAME", …)`
/// or a `depends_on` string naming it.
pub fn in_topology(file: &FileContext, offset: usize) -> Option<(Named, Span)> {
    let index = Index::new(file.text);
    let holds = |span: &Span| span.start <= offset && offset <= span.end;
    let declared = index.services(file.text).into_iter().map(|s| (s.name, s.name_span, true));
    let used = depends_on_strings(&index, file.text).into_iter().map(|(name, span)| (name, span, false));
    let (name, span, declared_here) = declared.chain(used).find(|(name, span, _)| holds(span) && !name.is_empty())?;
    Some((Named { what: "service", name, origin: Origin::Topology { declared_here } }, span))
}

/// The entity at `offset` in either language (a topology file: a service's name string only).
pub fn named_at(file: &FileContext, offset: usize) -> Result<(Named, Span), String> {
    match file.language {
        crate::syntax::Language::OSpec => in_spec(file, offset),
        crate::syntax::Language::Topology => {
            in_topology(file, offset).ok_or_else(|| "there is no service name here to rename".to_string())
        }
    }
}

/// Every place `named` is written, in every file that shares it, sorted.
pub fn occurrences(file: &FileContext, named: &Named) -> Vec<Occurrence> {
    let mut files = Files::new(file);
    let scope = files.scope(named);
    files.occurrences(&scope, named)
}

impl Files<'_> {
    fn occurrences(&mut self, scope: &Scope, named: &Named) -> Vec<Occurrence> {
        let mut found = Vec::new();
        for spec in &scope.specs {
            found.extend(self.spec_occurrences(spec, named));
        }
        for topology in &scope.topologies {
            found.extend(self.topology_occurrences(topology, &named.name));
        }
        found.sort_by(|a, b| a.location.cmp(&b.location));
        found.dedup_by(|a, b| a.location == b.location);
        found
    }
}

/// The places to replace with `new_name` to rename the entity at `offset`, or why not: the
/// new name must have the entity's form and be free in every file the rename edits, and a
/// service the spec's topology declares other than by a literal name cannot follow.
pub fn rename(file: &FileContext, offset: usize, new_name: &str) -> Result<Vec<Location>, String> {
    let (named, _) = named_at(file, offset)?;
    check_form(file, named.what, new_name)?;
    if new_name == named.name {
        return Ok(Vec::new());
    }
    let mut files = Files::new(file);
    let scope = files.scope(&named);
    if let Some(reason) = &scope.unfollowable {
        return Err(reason.clone());
    }
    for spec in &scope.specs {
        let Some(entities) = files.spec(spec) else { continue };
        if entities.names(named.what).any(|d| d.name == new_name) {
            return Err(format!("`{new_name}` is already a {} in {}", named.what, spec.display()));
        }
        if named.what == "service" && entities.unplaced_services.contains(&named.name) {
            return Err(format!(
                "a step in {} names `{}` in a string written with escapes or folded lines, which a rename \
                 cannot edit in place: write that step plainly first",
                spec.display(),
                named.name
            ));
        }
    }
    for topology in &scope.topologies {
        if let Some(taken) = files.topology_taken(topology, new_name) {
            return Err(taken);
        }
    }
    Ok(files.occurrences(&scope, &named).into_iter().map(|o| o.location).collect())
}

/// Refuses a new name that does not have the entity's form, or that YAML would not read back
/// as a string where it is written plain (`true`, `12`).
fn check_form(file: &FileContext, what: &str, new_name: &str) -> Result<(), String> {
    if let Some((_, path)) = SCHEMA_FORMS.iter().find(|(w, _)| *w == what) {
        let segments: Vec<Segment> =
            path.iter().map(|k| if k.is_empty() { Segment::Item } else { Segment::Key((*k).to_string()) }).collect();
        let at = At::path(compiled(file.profile), &segments);
        if let Some(pattern) =
            at.expanded().into_iter().filter_map(|s| s.pattern.as_ref()).find(|p| !p.is_match(new_name))
        {
            return Err(format!("`{new_name}` is not a valid {what} id: it must match `{}`", pattern.source));
        }
    } else if new_name.is_empty()
        || new_name.starts_with('-')
        || !new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("`{new_name}` is not a valid {what} name: it must be {KEY_FORM}"));
    }
    let reads_back = yaml::parse(new_name)
        .documents
        .first()
        .and_then(|d| d.root.as_ref())
        .is_some_and(|root| matches!(&root.value, Value::String(s) if s == new_name));
    if !reads_back {
        return Err(format!("`{new_name}` is not a valid {what} name: YAML reads it as a value, not a name"));
    }
    Ok(())
}

/// The files an entity is written in.
#[derive(Default)]
struct Scope {
    specs: Vec<PathBuf>,
    topologies: Vec<PathBuf>,
    /// Why a rename could not follow the name everywhere it must change.
    unfollowable: Option<String>,
}

/// The files read for one answer, each read (and indexed) once.
struct Files<'a> {
    file: &'a FileContext<'a>,
    texts: HashMap<PathBuf, Option<Arc<str>>>,
    indexes: HashMap<PathBuf, Option<Arc<Index>>>,
    entities: HashMap<PathBuf, Option<Arc<Entities>>>,
    closures: HashMap<PathBuf, Arc<BTreeSet<PathBuf>>>,
}

impl<'a> Files<'a> {
    fn new(file: &'a FileContext<'a>) -> Files<'a> {
        Files {
            file,
            texts: HashMap::new(),
            indexes: HashMap::new(),
            entities: HashMap::new(),
            closures: HashMap::new(),
        }
    }

    /// A file's text: the asking file's own (maybe unsaved) text, else read through `fs`.
    fn text(&mut self, path: &Path) -> Option<Arc<str>> {
        if path == self.file.path {
            return Some(Arc::from(self.file.text));
        }
        let fs = self.file.fs;
        self.texts
            .entry(path.to_path_buf())
            .or_insert_with(|| fs.read_to_string(path, MAX_RELATED_FILE_BYTES).ok().map(Arc::from))
            .clone()
    }

    fn index(&mut self, path: &Path) -> Option<Arc<Index>> {
        if let Some(known) = self.indexes.get(path) {
            return known.clone();
        }
        let index = self.text(path).map(|text| Arc::new(Index::new(&text)));
        self.indexes.insert(path.to_path_buf(), index.clone());
        index
    }

    fn spec(&mut self, path: &Path) -> Option<Arc<Entities>> {
        if path == self.file.path {
            return Some(Entities::cached(self.file.text));
        }
        if let Some(known) = self.entities.get(path) {
            return known.clone();
        }
        let entities = self.text(path).map(|text| Arc::new(Entities::of(&text)));
        self.entities.insert(path.to_path_buf(), entities.clone());
        entities
    }

    /// A topology file and every workspace module it `load()`s, transitively.
    fn closure(&mut self, root: &Path) -> Arc<BTreeSet<PathBuf>> {
        if let Some(known) = self.closures.get(root) {
            return Arc::clone(known);
        }
        let mut seen = BTreeSet::new();
        let mut queue = vec![root.to_path_buf()];
        while let Some(path) = queue.pop() {
            if seen.len() >= MAX_MODULES || !seen.insert(path.clone()) {
                continue;
            }
            let Some(index) = self.index(&path) else { continue };
            queue.extend(index.loads.iter().filter(|l| !l.path.starts_with('@')).map(|l| resolve(&path, &l.path)));
        }
        let closure = Arc::new(seen);
        self.closures.insert(root.to_path_buf(), Arc::clone(&closure));
        closure
    }

    /// The workspace files of one language, the asking file among them when it is one.
    fn workspace(&self, topology: bool) -> Vec<PathBuf> {
        let is_topology = |p: &Path| p.extension().is_some_and(|e| e == "star");
        let mut out: Vec<PathBuf> =
            self.file.workspace_files.iter().filter(|p| is_topology(p) == topology).cloned().collect();
        if is_topology(self.file.path) == topology {
            out.push(self.file.path.to_path_buf());
        }
        out.sort();
        out.dedup();
        out
    }

    /// The topology a spec names, resolved, when the spec may mention `name` at all.
    fn spec_topology(&mut self, spec: &Path, name: &str) -> Option<PathBuf> {
        let text = self.text(spec)?;
        if !text.contains("topology") || !text.contains(name) {
            return None;
        }
        let entities = self.spec(spec)?;
        entities.topology.as_ref().map(|(value, _)| resolve(spec, value))
    }

    fn scope(&mut self, named: &Named) -> Scope {
        match (&named.origin, named.what) {
            (Origin::Spec { topology: Some(topology) }, "service") => self.service_scope(topology, &named.name),
            (Origin::Spec { .. }, _) => Scope { specs: vec![self.file.path.to_path_buf()], ..Scope::default() },
            (Origin::Topology { declared_here: true }, _) => {
                self.declared_scope(&[self.file.path.to_path_buf()], &named.name)
            }
            (Origin::Topology { declared_here: false }, _) => self.used_scope(&named.name),
        }
    }

    /// A service named by a `depends_on` string of the asking topology file: declared there or
    /// in a module it loads.
    fn used_scope(&mut self, name: &str) -> Scope {
        let here = self.file.path.to_path_buf();
        let closure = self.closure(&here);
        let declaring: Vec<PathBuf> = closure.iter().filter(|p| self.declares(p, name)).cloned().collect();
        if !declaring.is_empty() {
            return self.declared_scope(&declaring, name);
        }
        let unfollowable = Some(format!(
            "no `service(\"{name}\", …)` in this file or the modules it loads declares `{name}`, so its uses \
             elsewhere cannot be found"
        ));
        Scope { specs: Vec::new(), topologies: vec![here], unfollowable }
    }

    /// A service named by a spec whose topology is `topology`: its declarations there decide.
    fn service_scope(&mut self, topology: &Path, name: &str) -> Scope {
        let closure = self.closure(topology);
        let declaring: Vec<PathBuf> = closure.iter().filter(|p| self.declares(p, name)).cloned().collect();
        if !declaring.is_empty() {
            return self.declared_scope(&declaring, name);
        }
        // Not declared there by name: the specs naming the same topology still share it.
        let specs: Vec<PathBuf> = self
            .workspace(false)
            .into_iter()
            .filter(|s| self.spec_topology(s, name).as_deref() == Some(topology))
            .collect();
        let unfollowable = self.text(topology).is_some().then(|| {
            format!(
                "service `{name}` is not declared by a `service(\"{name}\", …)` (or a stdlib mock's \
                 `server(\"{name}\", …)`) in {} or the modules it loads, so the topology could not follow the rename",
                topology.display()
            )
        });
        Scope { specs, topologies: Vec::new(), unfollowable }
    }

    /// A service declared in `declaring`: every topology file whose closure holds one of them
    /// (its `depends_on` strings name it) and every spec naming such a topology.
    fn declared_scope(&mut self, declaring: &[PathBuf], name: &str) -> Scope {
        let mut candidates = self.workspace(true);
        candidates.extend(declaring.iter().cloned());
        candidates.sort();
        candidates.dedup();
        let topologies: Vec<PathBuf> = candidates
            .into_iter()
            .filter(|t| {
                let closure = self.closure(t);
                declaring.iter().any(|d| closure.contains(d))
            })
            .collect();
        let specs: Vec<PathBuf> = self
            .workspace(false)
            .into_iter()
            .filter(|s| {
                let Some(topology) = self.spec_topology(s, name) else { return false };
                let closure = self.closure(&topology);
                declaring.iter().any(|d| closure.contains(d))
            })
            .collect();
        Scope { specs, topologies, unfollowable: None }
    }

    fn declares(&mut self, path: &Path, name: &str) -> bool {
        let (Some(text), Some(index)) = (self.text(path), self.index(path)) else { return false };
        index.services(&text).iter().any(|s| s.name == name)
    }

    fn location(&self, path: &Path, span: Span) -> Location {
        Location { path: (path != self.file.path).then(|| path.to_path_buf()), span }
    }

    fn spec_occurrences(&mut self, spec: &Path, named: &Named) -> Vec<Occurrence> {
        let Some(entities) = self.spec(spec) else { return Vec::new() };
        let definitions = entities.names(named.what).filter(|d| d.name == named.name).map(|d| (d.span, true));
        let references = entities
            .references
            .iter()
            .filter(|r| r.what == named.what && r.name == named.name)
            .map(|r| (r.span, false));
        definitions
            .chain(references)
            .map(|(span, declaration)| Occurrence { location: self.location(spec, span), declaration })
            .collect()
    }

    /// The service's `service("NAME", …)` (or stdlib mock `server("NAME", …)`) name strings and
    /// the `depends_on` strings naming it.
    fn topology_occurrences(&mut self, path: &Path, name: &str) -> Vec<Occurrence> {
        let (Some(text), Some(index)) = (self.text(path), self.index(path)) else { return Vec::new() };
        let declarations = index.services(&text).into_iter().filter(|s| s.name == name).map(|s| (s.name_span, true));
        let uses = depends_on_strings(&index, &text).into_iter().filter(|(n, _)| n == name).map(|(_, s)| (s, false));
        declarations
            .chain(uses)
            .map(|(span, declaration)| Occurrence { location: self.location(path, span), declaration })
            .collect()
    }

    /// Why `new_name` is taken in a topology file: a service or a client has it.
    fn topology_taken(&mut self, path: &Path, new_name: &str) -> Option<String> {
        let (text, index) = (self.text(path)?, self.index(path)?);
        if index.services(&text).iter().any(|s| s.name == new_name) {
            return Some(format!("`{new_name}` is already a service in {}", path.display()));
        }
        let client = (0..index.calls.len())
            .filter(|&c| index.calls[c].callee == builtins::CLIENT)
            .any(|c| index.positional_string(&text, c, 0).is_some_and(|(n, _)| n == new_name));
        client.then(|| {
            format!(
                "`{new_name}` is a client in {}: Faultbox needs clients and services to have distinct names",
                path.display()
            )
        })
    }
}

/// Every string written in a `depends_on = […]` argument: its value and content span.
fn depends_on_strings(index: &Index, text: &str) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for call in &index.calls {
        for arg in call.args.iter().filter(|a| a.name.as_ref().is_some_and(|(n, _)| n == DEPENDS_ON)) {
            let tokens = index.tokens.get(arg.start..arg.end).unwrap_or_default();
            for token in tokens.iter().filter(|t| t.kind == Kind::Str) {
                out.push((lex::string_value(text, *token).to_string(), lex::string_content(text, *token)));
            }
        }
    }
    out
}
