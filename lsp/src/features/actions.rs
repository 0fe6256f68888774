//! `textDocument/codeAction`: quick fixes from the fixes the compiler's diagnostics carry.
//! The document is analysed as the diagnostics were (same host options, same file system),
//! so the fixes match the diagnostics the editor shows.

use std::collections::HashMap;

use ospecc_compiler::ide;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse, TextEdit, WorkspaceEdit,
};

use super::Snapshot;
use crate::diagnostics::{analyse, to_lsp};
use crate::scheduler::salsa_retry;
use crate::state::Shared;
use crate::workspace::OverlayFs;

pub fn code_actions(shared: &Shared, params: CodeActionParams) -> Option<CodeActionResponse> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    let wanted = params.context.only.as_ref();
    if wanted.is_some_and(|kinds| !kinds.iter().any(|k| k.as_str().starts_with(CodeActionKind::QUICKFIX.as_str()))) {
        return Some(Vec::new());
    }
    let range = snapshot.span(params.range);
    // The database holds the document's text as of the last edit applied, which is the
    // snapshot's (edits are applied in wire order before this request runs).
    let db = shared.analysis_db();
    let analysis = match salsa_retry(|| analyse(shared.host.as_ref(), &db, &snapshot.path, snapshot.language)) {
        Some(analysis) => analysis,
        None => return Some(Vec::new()),
    };
    drop(db);
    let actions = ide::code_actions(&analysis.diagnostics, range);
    let fs = OverlayFs::new(&shared.documents);
    let coverage = crate::coverage::actions(
        shared,
        &snapshot.uri,
        &snapshot.path,
        &snapshot.text,
        &snapshot.rope,
        snapshot.encoding,
        &params.context.diagnostics,
    );
    let response = actions
        .iter()
        .map(|action| {
            let diagnostic = &analysis.diagnostics[action.diagnostic];
            let lsp_diagnostics =
                to_lsp(std::slice::from_ref(diagnostic), &snapshot.uri, &snapshot.rope, snapshot.encoding, &fs);
            let edits = action
                .edits
                .iter()
                .map(|e| TextEdit { range: snapshot.range(e.span), new_text: e.new_text.clone() })
                .collect();
            let changes = HashMap::from([(snapshot.uri.clone(), edits)]);
            CodeActionOrCommand::CodeAction(CodeAction {
                title: action.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(lsp_diagnostics),
                edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
                is_preferred: Some(action.preferred),
                ..CodeAction::default()
            })
        })
        .chain(coverage)
        .collect();
    Some(response)
}
