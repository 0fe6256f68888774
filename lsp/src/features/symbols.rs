//! `textDocument/documentSymbol`: the ide outline as nested document symbols.

use ospecc_compiler::ide::{self, SymbolKind as Kind};
use tower_lsp_server::ls_types::{DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, SymbolKind};

use super::Snapshot;
use crate::state::Shared;
use ospecc_compiler::db::Database;

pub fn symbols(shared: &Shared, params: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    let found = snapshot.whole_file(shared, Database::symbols, ide::symbols);
    Some(DocumentSymbolResponse::Nested(found.iter().map(|s| convert(&snapshot, s)).collect()))
}

fn convert(snapshot: &Snapshot, symbol: &ide::Symbol) -> DocumentSymbol {
    #[allow(deprecated)] // `deprecated` is a required field of the struct, superseded by `tags`.
    DocumentSymbol {
        name: if symbol.name.is_empty() { "\"\"".into() } else { symbol.name.clone() },
        detail: symbol.detail.clone(),
        kind: kind(symbol.kind),
        tags: None,
        deprecated: None,
        range: snapshot.range(symbol.span),
        selection_range: snapshot.range(symbol.selection),
        children: Some(symbol.children.iter().map(|c| convert(snapshot, c)).collect()),
    }
}

/// The LSP kind of an outline entry (shared with `workspace_symbols`).
pub(super) fn kind(kind: Kind) -> SymbolKind {
    match kind {
        Kind::Object => SymbolKind::OBJECT,
        Kind::Property => SymbolKind::PROPERTY,
        Kind::Array => SymbolKind::ARRAY,
        Kind::Entity => SymbolKind::CLASS,
        Kind::Function => SymbolKind::FUNCTION,
        Kind::Variable => SymbolKind::VARIABLE,
        Kind::Module => SymbolKind::MODULE,
        Kind::Test => SymbolKind::EVENT,
    }
}
