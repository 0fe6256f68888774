//! The named things of an OSpec document and every reference to them, from the spanned tree:
//! tasks, services, phases and environments with the keys through which they reference each
//! other (the checks' own [`GRAPHS`] table), `service:` fields, `service:/path` in step
//! strings, and the topology file `topology:` names with the services declared in it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::ide::topology::index::Index;
use crate::ide::{FileContext, MAX_RELATED_FILE_BYTES};
use crate::ospec::checks::graph::{Shape, GRAPHS};
use crate::ospec::steps;
use crate::span::Span;
use crate::syntax::yaml::{self, Node, Style, Value};

/// A definition: `services: {api: …}` defines service `api` at the key.
#[derive(Clone, Debug)]
pub struct Definition {
    pub what: &'static str,
    pub name: String,
    pub span: Span,
}

/// A use of a name.
#[derive(Clone, Debug)]
pub struct Reference {
    pub what: &'static str,
    pub name: String,
    pub span: Span,
}

/// What one document defines and references.
#[derive(Debug, Default)]
pub struct Entities {
    pub definitions: Vec<Definition>,
    pub references: Vec<Reference>,
    /// `topology:`'s value and its span.
    pub topology: Option<(String, Span)>,
    /// Services named in step strings whose source is not the string verbatim (escapes, folded
    /// lines): the name is there but cannot be placed, so a rename could not edit it.
    pub unplaced_services: Vec<String>,
}

impl Entities {
    pub fn of(text: &str) -> Entities {
        let parsed = yaml::parse(text);
        let mut entities = Entities::default();
        for root in parsed.documents.iter().filter_map(|d| d.root.as_ref()) {
            entities.collect(root, text);
        }
        entities
    }

    /// The entities of `text`, reused while the text is unchanged: hover, definition and
    /// references on one document ask for the same text many times between two edits, and
    /// parsing a 5,000-line spec costs milliseconds. The few most recent texts are kept
    /// (several documents may be in use); a hit is decided by comparing the whole text,
    /// which is far cheaper than the parse (no hash collisions to reason about).
    pub fn cached(text: &str) -> Arc<Entities> {
        /// How many documents' entities are kept.
        const KEPT: usize = 4;
        static RECENT: Mutex<Vec<(String, Arc<Entities>)>> = Mutex::new(Vec::new());
        // A panic elsewhere while the lock was held leaves only a stale list behind: still usable.
        let lock = || RECENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        {
            let mut recent = lock();
            if let Some(i) = recent.iter().position(|(t, _)| t == text) {
                let hit = recent.remove(i);
                let entities = Arc::clone(&hit.1);
                recent.insert(0, hit);
                return entities;
            }
        }
        // Parsed without the lock held, so concurrent requests do not queue behind a parse.
        let entities = Arc::new(Entities::of(text));
        let mut recent = lock();
        recent.insert(0, (text.to_string(), Arc::clone(&entities)));
        recent.truncate(KEPT);
        entities
    }

    pub fn names(&self, what: &str) -> impl Iterator<Item = &Definition> {
        let what = what.to_string();
        self.definitions.iter().filter(move |d| d.what == what)
    }

    /// The definition or reference whose span holds `offset`.
    pub fn at(&self, offset: usize) -> Option<(&'static str, &str, Span)> {
        let defs = self.definitions.iter().map(|d| (d.what, d.name.as_str(), d.span));
        let refs = self.references.iter().map(|r| (r.what, r.name.as_str(), r.span));
        defs.chain(refs).find(|(_, _, span)| span.start <= offset && offset <= span.end)
    }

    fn collect(&mut self, root: &Node, text: &str) {
        if let Some(entry) = root.get("topology") {
            if let Some(value) = entry.value.as_str() {
                self.topology = Some((value.trim().to_string(), inner(&entry.value, text)));
            }
        }
        for graph in GRAPHS {
            let Some(collection) = root.field(graph.root_key) else { continue };
            let members: Vec<(&Node, &Node)> = match (&graph.shape, &collection.value) {
                (Shape::Seq { id_key }, Value::Seq(items)) => {
                    items.iter().filter_map(|item| Some((item.field(id_key)?, item))).collect()
                }
                (Shape::Map, Value::Map(entries)) => entries.iter().map(|e| (&e.key, &e.value)).collect(),
                _ => Vec::new(),
            };
            for (name, node) in members {
                let Some(text_name) = name.as_str() else { continue };
                self.definitions.push(Definition {
                    what: graph.what,
                    name: text_name.to_string(),
                    span: inner(name, text),
                });
                for key in graph.ref_keys {
                    self.references_in(node.field(key), graph.what, text);
                }
            }
        }
        self.service_fields(root, text, 0);
    }

    fn references_in(&mut self, node: Option<&Node>, what: &'static str, text: &str) {
        let items: Vec<&Node> = match node.map(|n| &n.value) {
            Some(Value::String(_)) => node.into_iter().collect(),
            Some(Value::Seq(items)) => items.iter().collect(),
            _ => Vec::new(),
        };
        for item in items {
            if let Some(name) = item.as_str() {
                self.references.push(Reference { what, name: name.to_string(), span: inner(item, text) });
            }
        }
    }

    /// `service: NAME` anywhere, and `service:` in step strings (`GET api:/x → 200`).
    fn service_fields(&mut self, node: &Node, text: &str, depth: usize) {
        if depth > yaml::MAX_DEPTH {
            return;
        }
        match &node.value {
            Value::Map(entries) => {
                for entry in entries {
                    if entry.key.as_str() == Some("service") {
                        self.references_in(Some(&entry.value), "service", text);
                    } else {
                        self.service_fields(&entry.value, text, depth + 1);
                    }
                }
            }
            Value::Seq(items) => {
                for item in items {
                    self.step_reference(item, text);
                    self.service_fields(item, text, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn step_reference(&mut self, item: &Node, text: &str) {
        let Some(step) = item.as_str() else { return };
        let Ok(parsed) = steps::parse(step) else { return };
        let (Some(name), Some((start, end))) = (parsed.service, parsed.service_range) else { return };
        let written = text.get(item.span.start..item.span.end).unwrap_or_default();
        // Only when the source holds the step verbatim can the name be located in it.
        match written.find(step) {
            Some(at) => {
                let base = item.span.start + at;
                self.references.push(Reference {
                    what: "service",
                    name: name.to_string(),
                    span: Span::new(base + start, base + end),
                });
            }
            None => self.unplaced_services.push(name.to_string()),
        }
    }
}

/// A scalar's span without its quotes.
pub fn inner(node: &Node, text: &str) -> Span {
    let quoted = matches!(node.style, Style::SingleQuoted | Style::DoubleQuoted);
    let written = text.get(node.span.start..node.span.end).unwrap_or_default();
    if quoted && written.len() >= 2 {
        Span::new(node.span.start + 1, node.span.end - 1)
    } else {
        node.span
    }
}

/// The topology a spec names: its path and text (read through the file system), indexed.
pub struct Topology {
    pub path: PathBuf,
    pub text: String,
    pub index: Index,
}

impl Topology {
    pub fn load(file: &FileContext, value: &str) -> Option<Topology> {
        let path = resolve(file.path, value);
        let text = file.fs.read_to_string(&path, MAX_RELATED_FILE_BYTES).ok()?;
        let index = Index::new(&text);
        Some(Topology { path, text, index })
    }
}

/// A path written in a file, relative to the file's directory.
pub fn resolve(from: &Path, written: &str) -> PathBuf {
    let dir = from.parent().unwrap_or(Path::new(""));
    let mut out = PathBuf::new();
    for component in dir.join(written).components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
