//! `textDocument/completion`: the ide layer's items, each with a text edit over the word it
//! replaces (so a half-typed word is replaced, not appended to), snippets marked as such and
//! re-indented by the client to the cursor's line.

use ospecc_compiler::ide::{self, CompletionKind};
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionList, CompletionParams, CompletionResponse, CompletionTextEdit,
    Documentation, InsertTextFormat, InsertTextMode, MarkupContent, MarkupKind, TextEdit,
};

use super::Snapshot;
use crate::state::Shared;

/// The characters after which clients ask for completion unprompted.
pub const TRIGGERS: &[&str] = &[".", "\"", ":", " ", "-", "/", "(", ",", "["];

pub fn completion(shared: &Shared, params: CompletionParams) -> Option<CompletionResponse> {
    let position = params.text_document_position;
    let snapshot = Snapshot::take(shared, &position.text_document.uri)?;
    let offset = snapshot.offset(position.position);
    let found = snapshot.with_files(shared, |file| ide::completion_list(file, offset));
    let items = found.items.iter().map(|item| convert(&snapshot, item)).collect();
    // A narrowed or capped list must be asked for again as the prefix grows (clients
    // otherwise filter the first answer and never see the names left out).
    Some(match found.incomplete {
        true => CompletionResponse::List(CompletionList { is_incomplete: true, items }),
        false => CompletionResponse::Array(items),
    })
}

fn convert(snapshot: &Snapshot, item: &ide::CompletionItem) -> CompletionItem {
    let new_text = item.insert_text.clone().unwrap_or_else(|| item.label.clone());
    let edit = TextEdit { range: snapshot.range(item.replace), new_text };
    CompletionItem {
        label: item.label.clone(),
        kind: Some(kind(item.kind)),
        detail: item.detail.clone(),
        documentation: item
            .documentation
            .clone()
            .map(|value| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })),
        sort_text: item.sort_text.clone(),
        filter_text: Some(item.label.clone()),
        insert_text_format: Some(if item.is_snippet {
            InsertTextFormat::SNIPPET
        } else {
            InsertTextFormat::PLAIN_TEXT
        }),
        insert_text_mode: item.is_snippet.then_some(InsertTextMode::ADJUST_INDENTATION),
        text_edit: Some(CompletionTextEdit::Edit(edit)),
        ..CompletionItem::default()
    }
}

/// The editor icon of each kind.
fn kind(kind: CompletionKind) -> CompletionItemKind {
    match kind {
        CompletionKind::Property => CompletionItemKind::PROPERTY,
        CompletionKind::Value => CompletionItemKind::VALUE,
        CompletionKind::EnumMember => CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Keyword => CompletionItemKind::KEYWORD,
        CompletionKind::Reference => CompletionItemKind::REFERENCE,
        CompletionKind::Function => CompletionItemKind::FUNCTION,
        CompletionKind::Parameter => CompletionItemKind::VARIABLE,
        CompletionKind::Method => CompletionItemKind::METHOD,
        CompletionKind::Field => CompletionItemKind::FIELD,
        CompletionKind::Module => CompletionItemKind::MODULE,
        CompletionKind::Constant => CompletionItemKind::CONSTANT,
        CompletionKind::Variable => CompletionItemKind::VARIABLE,
        CompletionKind::File => CompletionItemKind::FILE,
    }
}
