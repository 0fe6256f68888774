//! `textDocument/definition`, `textDocument/references`, `textDocument/prepareRename` and
//! `textDocument/rename`: ide locations (possibly in other files, whose text is read to place
//! them) as LSP locations and edits. References and rename follow a topology name into the
//! workspace files that `load()` it, and an OSpec service into the topology that declares it
//! and every spec naming that topology (tasks, phases and environments stay in their spec); a
//! rename the result of which would not check is refused with the reason (a request error the
//! editor shows).

use std::collections::HashMap;

use ospecc_compiler::ide;
use tower_lsp_server::jsonrpc::{Error, ErrorCode};
use tower_lsp_server::ls_types::{
    GotoDefinitionParams, GotoDefinitionResponse, Location, PrepareRenameResponse, ReferenceParams, RenameParams,
    TextDocumentPositionParams, TextEdit, Uri, WorkspaceEdit,
};

use super::Snapshot;
use crate::state::Shared;

pub fn definition(shared: &Shared, params: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let position = params.text_document_position_params;
    let snapshot = Snapshot::take(shared, &position.text_document.uri)?;
    let offset = snapshot.offset(position.position);
    let found = snapshot.with_context(shared, |file| ide::definition(file, offset));
    let locations: Vec<Location> = found.iter().filter_map(|l| snapshot.location(shared, l)).collect();
    (!locations.is_empty()).then_some(GotoDefinitionResponse::Array(locations))
}

pub fn references(shared: &Shared, params: ReferenceParams) -> Option<Vec<Location>> {
    let position = params.text_document_position;
    let snapshot = Snapshot::take(shared, &position.text_document.uri)?;
    let offset = snapshot.offset(position.position);
    let include = params.context.include_declaration;
    let found = snapshot.with_files(shared, |file| ide::references(file, offset, include));
    Some(found.iter().filter_map(|l| snapshot.location(shared, l)).collect())
}

/// LSP's code for a request that is valid but cannot be carried out (here: a refused rename).
const REQUEST_FAILED: i64 = -32803;

fn refused(reason: String) -> Error {
    Error { code: ErrorCode::ServerError(REQUEST_FAILED), message: reason.into(), data: None }
}

pub fn prepare_rename(
    shared: &Shared,
    params: TextDocumentPositionParams,
) -> Result<Option<PrepareRenameResponse>, Error> {
    let Some(snapshot) = Snapshot::take(shared, &params.text_document.uri) else { return Ok(None) };
    let offset = snapshot.offset(params.position);
    let span = snapshot.with_files(shared, |file| ide::prepare_rename(file, offset)).map_err(refused)?;
    Ok(Some(PrepareRenameResponse::Range(snapshot.range(span))))
}

pub fn rename(shared: &Shared, params: RenameParams) -> Result<Option<WorkspaceEdit>, Error> {
    let position = params.text_document_position;
    let Some(snapshot) = Snapshot::take(shared, &position.text_document.uri) else { return Ok(None) };
    let offset = snapshot.offset(position.position);
    let new_name = params.new_name;
    let found = snapshot.with_files(shared, |file| ide::rename(file, offset, &new_name)).map_err(refused)?;
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for location in found.iter().filter_map(|l| snapshot.location(shared, l)) {
        changes.entry(location.uri).or_default().push(TextEdit { range: location.range, new_text: new_name.clone() });
    }
    Ok(Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }))
}
