//! Cross-file checks (`XSP…`): an OSpec that names a topology file with `topology:` is
//! checked against it: services, ports and dependencies must agree.
//!
//! Two entry points, both free of direct IO so the LSP can reuse them:
//! - [`check`] takes the spec's text and a [`FileSystem`]; it finds `topology:` in each
//!   document, reads the topology through the file system and evaluates it;
//! - [`check_against`] takes one parsed document and an already [`Evaluated`] topology (the
//!   LSP keeps both in memory).
//!
//! Findings point at the spec (the primary span); labels name the topology file by the name
//! its evaluation gave it (the path it was read from), so a caller may rewrite that path for
//! display.

mod model;
mod rules;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::diagnostics::{self, Diagnostic, Label, Severity};
use crate::span::Span;
use crate::syntax::yaml::{self, Node};
use crate::topology::{self, Evaluated, Limits, TopologyInput};
use crate::vfs::{describe_io, FileSystem};

/// One OSpec file to check against the topology it names.
pub struct CrossInput<'a> {
    /// The spec's path: `topology:` is resolved relative to its directory.
    pub path: &'a Path,
    pub text: &'a str,
    pub fs: &'a dyn FileSystem,
    /// The workspace root the topology's `load()`s are confined to (the topology file's own
    /// directory is used when the file lies outside it).
    pub root: &'a Path,
    pub limits: Limits,
}

/// How the topology a spec names is evaluated: here ([`evaluate_here`]), or by a caller that
/// memoises evaluations (the database shares one per topology among the specs naming it).
pub type Evaluator<'a> = &'a dyn Fn(&TopologyInput) -> Arc<Evaluated>;

/// Evaluates the topology in place (on an analysis thread of its own).
pub fn evaluate_here(input: &TopologyInput) -> Arc<Evaluated> {
    Arc::new(topology::evaluate(input))
}

/// Every cross-file diagnostic of one OSpec file (each YAML document on its own), sorted.
pub fn check(input: &CrossInput) -> Vec<Diagnostic> {
    // Most specs name no topology: skip the parse for them.
    if !input.text.contains("topology") {
        return Vec::new();
    }
    check_parsed(input, &yaml::parse(input.text), &evaluate_here)
}

/// [`check`] over the spec's YAML already parsed, evaluating topologies with `evaluate`.
pub fn check_parsed(input: &CrossInput, parsed: &yaml::Parsed, evaluate: Evaluator) -> Vec<Diagnostic> {
    if !input.text.contains("topology") {
        return Vec::new();
    }
    let mut out: Vec<Diagnostic> = parsed
        .documents
        .iter()
        .filter_map(|d| d.root.as_ref())
        .flat_map(|root| check_document_with(root, input, evaluate))
        .collect();
    diagnostics::sort(&mut out);
    out
}

/// The cross-file diagnostics of one document: reads and evaluates the topology it names.
pub fn check_document(spec: &Node, input: &CrossInput) -> Vec<Diagnostic> {
    check_document_with(spec, input, &evaluate_here)
}

fn check_document_with(spec: &Node, input: &CrossInput, evaluate: Evaluator) -> Vec<Diagnostic> {
    // A missing, empty or non-string `topology:` is the schema's finding, not ours.
    let Some(reference) = spec.field("topology") else { return Vec::new() };
    let Some(value) = reference.as_str().filter(|v| !v.trim().is_empty()) else { return Vec::new() };
    let path = resolve(input.path, value.trim());
    let text = match input.fs.read_to_string(&path, input.limits.max_file_bytes as u64) {
        Ok(text) => text,
        Err(error) => return vec![unreadable(reference.span, value, &describe_io(&error))],
    };
    let root = if path.starts_with(input.root) { input.root } else { path.parent().unwrap_or(input.root) };
    let evaluated = evaluate(&TopologyInput { path: &path, text: &text, fs: input.fs, root, limits: input.limits });
    if let Some(broken) = unusable(&evaluated, reference.span, value) {
        return vec![broken];
    }
    check_against(spec, input.text, &evaluated)
}

/// Findings of other checks that a cross-file finding at the same span explains (a missing
/// topology file is also a missing referenced file): a table, as more pairs may come.
const SUPERSEDES: &[(&str, &[&str])] = &[("XSP001", &["OSP207"])];

/// The spec's own diagnostics and its cross-file ones as one sorted list, without findings a
/// cross-file one supersedes.
pub fn merge(mut own: Vec<Diagnostic>, cross: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let superseded = |d: &Diagnostic| {
        cross.iter().any(|x| {
            x.span == d.span && SUPERSEDES.iter().any(|(code, hidden)| *code == x.code && hidden.contains(&d.code))
        })
    };
    own.retain(|d| !superseded(d));
    own.extend(cross);
    diagnostics::sort(&mut own);
    own
}

/// The checks of one parsed document (of the spec `text`) against an evaluated topology:
/// pure, for callers that hold both already.
pub fn check_against(spec: &Node, text: &str, topology: &Evaluated) -> Vec<Diagnostic> {
    let model = model::Topology::of(topology);
    let mut out = Vec::new();
    rules::run(spec, text, &model, &mut out);
    out
}

/// `topology:` resolved against the spec's directory, lexically normalised (`a/../b` → `b`),
/// so labels and `load()` confinement see one spelling of the path.
fn resolve(spec: &Path, value: &str) -> PathBuf {
    let joined = spec.parent().unwrap_or(Path::new("")).join(value);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            // `..` after a normal component cancels it; otherwise (leading `..`) it stays.
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// XSP001: the topology file cannot be read.
fn unreadable(span: Span, value: &str, reason: &str) -> Diagnostic {
    let help = if value.ends_with(".star") {
        "the path is relative to this spec's directory; fix it or create the topology file"
    } else {
        "`topology:` names a Faultbox topology file (`*.star`), relative to this spec's directory"
    };
    Diagnostic::error("XSP001", span, format!("cannot read the topology file `{value}`: {reason}")).with_help(help)
}

/// XSP002: the topology has errors (or did not finish evaluating), so its model would be
/// partial and every comparison a guess; the first error is shown as a label.
fn unusable(evaluated: &Evaluated, span: Span, value: &str) -> Option<Diagnostic> {
    let errors: Vec<&Diagnostic> = evaluated.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    if errors.is_empty() && evaluated.complete {
        return None;
    }
    let mut diagnostic = Diagnostic::error(
        "XSP002",
        span,
        format!("the topology file `{value}` has errors, so this spec was not checked against it"),
    )
    .with_help("fix the topology file first; `ospecc check` on it shows every error");
    if let Some(first) = errors.first() {
        diagnostic.labels.push(Label {
            span: first.span,
            message: format!("{}: {}", first.code, first.message),
            file: Some(evaluated.root.clone()),
        });
    }
    if errors.len() > 1 {
        diagnostic = diagnostic.with_note(format!("{} errors in the topology file", errors.len()));
    }
    Some(diagnostic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_paths_resolve_against_the_spec_directory() {
        assert_eq!(resolve(Path::new("/ws/specs/a.ospec.yml"), "../topo/x.star"), PathBuf::from("/ws/topo/x.star"));
        assert_eq!(resolve(Path::new("a.ospec.yml"), "./x.star"), PathBuf::from("x.star"));
        assert_eq!(resolve(Path::new("a.ospec.yml"), "../x.star"), PathBuf::from("../x.star"));
        assert_eq!(resolve(Path::new("/ws/a.ospec.yml"), "/abs/x.star"), PathBuf::from("/abs/x.star"));
    }
}
