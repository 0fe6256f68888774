//! `textDocument/hover`: the ide layer's markdown over the range it is about.

use ospecc_compiler::ide;
use tower_lsp_server::ls_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use super::Snapshot;
use crate::state::Shared;

pub fn hover(shared: &Shared, params: HoverParams) -> Option<Hover> {
    let position = params.text_document_position_params;
    let snapshot = Snapshot::take(shared, &position.text_document.uri)?;
    let offset = snapshot.offset(position.position);
    let found = snapshot.with_context(shared, |file| ide::hover(file, offset))?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: found.markdown }),
        range: Some(snapshot.range(found.span)),
    })
}
