//! The state every part of the acceptance lowering shares: where nodes came from (origins and
//! YAML paths), unique probe ids, the targets probes are sent to, the unverifiable items found
//! so far and the diagnostics of lowering.

use std::collections::BTreeMap;
use std::path::Path;

use ospecc_schema::plan::acceptance::{Check, Probe, Unverifiable};
use ospecc_schema::plan::Origin;

use super::targets::{Targets, AMBIGUOUS};
use crate::diagnostics::Diagnostic;
use crate::plan::{Bundle, PlanOptions};
use crate::span::Span;
use crate::syntax::yaml::{Node, Value};
use crate::vfs::FileSystem;

/// One OSpec file being lowered.
pub(crate) struct Lowering<'a> {
    pub options: &'a PlanOptions,
    pub path: &'a Path,
    pub fs: &'a dyn FileSystem,
    /// The document as written (for YAML paths); lowering reads the merged acceptance.
    pub root: &'a Node,
    pub bundle: &'a mut Bundle,
    pub targets: Targets,
    pub diagnostics: Vec<Diagnostic>,
    pub unverifiable: Vec<Unverifiable>,
    /// The analysis name of the OSpec file (what `Bundle::origin` knows it by).
    file: String,
    /// How many times each id base was handed out.
    ids: BTreeMap<String, u32>,
}

impl<'a> Lowering<'a> {
    pub fn new(
        options: &'a PlanOptions,
        path: &'a Path,
        fs: &'a dyn FileSystem,
        root: &'a Node,
        bundle: &'a mut Bundle,
        targets: Targets,
    ) -> Lowering<'a> {
        Lowering {
            options,
            path,
            fs,
            root,
            bundle,
            targets,
            diagnostics: Vec::new(),
            unverifiable: Vec::new(),
            file: path.display().to_string(),
            ids: BTreeMap::new(),
        }
    }

    pub fn origin(&self, span: Span) -> Origin {
        self.bundle.origin(&self.file, span)
    }

    /// `base`, or `base#2`, `base#3`, ... when it was handed out before: ids stay unique and
    /// the first one keeps the readable form.
    pub fn unique_id(&mut self, base: String) -> String {
        let count = self.ids.entry(base.clone()).or_insert(0);
        *count += 1;
        match *count {
            1 => base,
            n => format!("{base}#{n}"),
        }
    }

    /// A probe at `node`, with a unique id made from `id`.
    pub fn probe(&mut self, id: String, span: Span, check: Check, skip: Option<String>) -> Probe {
        let id = self.unique_id(id);
        Probe { id, origin: self.origin(span), check, skip }
    }

    /// Records a stated outcome no probe verifies; `fallback` is its YAML path when the node
    /// is not in the document as written (it came from a merge).
    pub fn unverifiable(&mut self, span: Span, fallback: &str, reason: impl Into<String>) {
        let path = yaml_path(self.root, span).unwrap_or_else(|| fallback.to_owned());
        let item = Unverifiable { path, origin: self.origin(span), reason: reason.into() };
        self.unverifiable.push(item);
    }

    /// Warns that a probe (an endpoint, a flow step) is skipped for naming no service among
    /// several, when `skip` says so.
    pub fn warn_ambiguous(&mut self, span: Span, what: &str, skip: Option<&str>) {
        if !skip.is_some_and(|s| s.starts_with(AMBIGUOUS)) {
            return;
        }
        let services = self.targets.service_names().join(", ");
        self.diagnostics.push(
            Diagnostic::warning("PLN104", span, format!("{what} names no service, so it is skipped"))
                .with_help(format!("add `service:` (one of {services}), or give one base URL for all (`environments.<env>.url` with --env, or --base-url)")),
        );
    }

    /// Reads a file named relative to the spec's directory into the bundle; its bundle path,
    /// and its text.
    pub fn bundle_file(&mut self, relative: &str) -> Option<(String, String)> {
        let full = self.path.parent().unwrap_or(Path::new("")).join(relative);
        let text = self.fs.read_to_string(&full, self.options.limits.max_file_bytes as u64).ok()?;
        let name = self.bundle.add(&full.display().to_string(), &text);
        Some((name, text))
    }
}

/// The path of the node whose span is `span`, by depth-first search from `root`.
pub(crate) fn yaml_path(root: &Node, span: Span) -> Option<String> {
    let mut path = Vec::new();
    find(root, span, &mut path).then(|| render_path(&path))
}

enum Segment {
    Key(String),
    Index(usize),
}

fn find(node: &Node, span: Span, path: &mut Vec<Segment>) -> bool {
    if node.span == span && !path.is_empty() {
        return true;
    }
    // A child lies inside its parent's span, so whole subtrees elsewhere are passed over.
    if span.start < node.span.start || span.end > node.span.end {
        return false;
    }
    match &node.value {
        Value::Map(entries) => entries.iter().any(|entry| {
            path.push(Segment::Key(entry.key_text()));
            let found = find(&entry.value, span, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Seq(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(Segment::Index(i));
            let found = find(item, span, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) if out.is_empty() => out.push_str(key),
            Segment::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml;

    #[test]
    fn paths_of_nodes() {
        let text = "acceptance:\n  http_endpoints:\n    - path: /a\n    - path: /b\n";
        let parsed = yaml::parse(text);
        let root = parsed.documents[0].root.as_ref().unwrap();
        let endpoints = root.field("acceptance").unwrap().field("http_endpoints").unwrap();
        let second = &endpoints.as_seq().unwrap()[1];
        assert_eq!(yaml_path(root, second.span).as_deref(), Some("acceptance.http_endpoints[1]"));
        let path = second.field("path").unwrap();
        assert_eq!(yaml_path(root, path.span).as_deref(), Some("acceptance.http_endpoints[1].path"));
        assert_eq!(yaml_path(root, Span::new(1000, 1001)), None);
    }
}
