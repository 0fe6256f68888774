//! `textDocument/definition` and `textDocument/references`: ide locations (possibly in other
//! files, whose text is read to place them) as LSP locations.

use ospecc_compiler::ide;
use tower_lsp_server::ls_types::{GotoDefinitionParams, GotoDefinitionResponse, Location, ReferenceParams};

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
    let found = snapshot.with_context(shared, |file| ide::references(file, offset, include));
    Some(found.iter().filter_map(|l| snapshot.location(shared, l)).collect())
}
