//! Fault coverage in the editor: the dependency edges no test faults become hints on the
//! declaration of the service they lead to (`ospecc plan --coverage`'s gaps), and a quick fix
//! on such a hint inserts the stubs `--suggest` prints for that service.

use std::collections::HashMap;
use std::path::Path;

use ospecc_compiler::coverage::{self, suggest, Coverage};
use ropey::Rope;
use serde_json::json;
use tower_lsp_server::ls_types::{
    self as lsp, CodeAction, CodeActionKind, CodeActionOrCommand, TextEdit, Uri, WorkspaceEdit,
};

use crate::encoding::{range_of, PositionEncoding};
use crate::plans::{plan_of, root_file};
use crate::state::Shared;

/// The `source` of coverage hints (the check's own diagnostics are `ospecc`).
pub const SOURCE: &str = "ospecc-coverage";

/// A document's fault coverage as last computed, and the version it was computed for. Between
/// two computations (each lowers the whole file to a plan, too slow for every keystroke) the
/// hints are re-anchored on the newer text from it: a gap names a service, not a position.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    pub version: Option<i32>,
    coverage: Option<(Coverage, String)>,
}

/// Lowers the document at `path` to its plan and computes its coverage (none when it has no
/// plan, or is not the plan's root).
pub fn compute(shared: &Shared, path: &Path, version: Option<i32>) -> Computed {
    let coverage = plan_of(shared, path).map(|plan| (coverage::coverage(&plan), root_file(&plan).to_owned()));
    Computed { version, coverage }
}

impl Computed {
    /// Whether the gaps are the same as `other`'s (whatever versions they were computed for).
    pub fn same_gaps(&self, other: &Computed) -> bool {
        self.coverage == other.coverage
    }
}

/// The hints of one topology document, placed on the services it declares (`rope`'s offsets).
pub fn hints(
    computed: &Computed,
    declared: &[ospecc_compiler::ide::DeclaredService],
    rope: &Rope,
    encoding: PositionEncoding,
) -> Vec<lsp::Diagnostic> {
    let Some((coverage, file)) = &computed.coverage else { return Vec::new() };
    coverage::hints(coverage, declared)
        .into_iter()
        .map(|hint| lsp::Diagnostic {
            range: range_of(rope, hint.span.start, hint.span.end, encoding),
            severity: Some(lsp::DiagnosticSeverity::HINT),
            source: Some(SOURCE.to_owned()),
            message: hint.message,
            data: Some(json!({ "service": hint.service, "file": file })),
            ..lsp::Diagnostic::default()
        })
        .collect()
}

/// Quick fixes for the coverage hints among `diagnostics` (those the client sent with the
/// request): each inserts the fault assumptions and the matrix for its service's gaps.
pub fn actions(
    shared: &Shared,
    uri: &Uri,
    path: &Path,
    text: &str,
    rope: &Rope,
    encoding: PositionEncoding,
    diagnostics: &[lsp::Diagnostic],
) -> Vec<CodeActionOrCommand> {
    let hinted: Vec<&lsp::Diagnostic> = diagnostics.iter().filter(|d| d.source.as_deref() == Some(SOURCE)).collect();
    if hinted.is_empty() {
        return Vec::new();
    }
    let Some(plan) = plan_of(shared, path) else { return Vec::new() };
    let coverage = coverage::coverage(&plan);
    let mut actions = Vec::new();
    for diagnostic in hinted {
        let Some(service) = diagnostic.data.as_ref().and_then(|d| d["service"].as_str()) else { continue };
        let suggestions = suggest::suggest(&coverage, &plan, text, Some(service));
        if suggestions.is_empty() {
            continue;
        }
        let edits: Vec<TextEdit> = suggest::edits(&suggestions, text)
            .into_iter()
            .map(|e| TextEdit { range: range_of(rope, e.span.start, e.span.end, encoding), new_text: e.new_text })
            .collect();
        let edges: Vec<String> = suggestions.targets.iter().flat_map(|t| t.edges.clone()).collect();
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("Add fault tests for {}", edges.join(", ")),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![diagnostic.clone()]),
            edit: Some(WorkspaceEdit {
                changes: Some(HashMap::from([(uri.clone(), edits)])),
                ..WorkspaceEdit::default()
            }),
            ..CodeAction::default()
        }));
    }
    actions
}
