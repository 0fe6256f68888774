//! `textDocument/formatting` and `textDocument/rangeFormatting`: the compiler's formatter
//! (what `ospecc fmt` writes, with the file's `ospecc.toml` `[fmt]` layout) as line edits.
//! The client's `tabSize`/`insertSpaces` are not used: the project's layout is the one
//! canonical layout, whoever formats. A document with syntax errors, or a layout the
//! formatter leaves as written, gets no edits (its diagnostics say why).

use ospecc_compiler::fmt;
use tower_lsp_server::ls_types::{DocumentFormattingParams, DocumentRangeFormattingParams, TextEdit};

use super::Snapshot;
use crate::state::Shared;

pub fn formatting(shared: &Shared, params: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    let options = shared.host.fmt_options(&snapshot.path);
    let formatted = fmt::format(snapshot.language, &snapshot.text, &options).text?;
    Some(convert(&snapshot, &fmt::line_edits(&snapshot.text, &formatted)))
}

pub fn range_formatting(shared: &Shared, params: DocumentRangeFormattingParams) -> Option<Vec<TextEdit>> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    let options = shared.host.fmt_options(&snapshot.path);
    let range = snapshot.span(params.range);
    let (edits, _) = fmt::format_range(snapshot.language, &snapshot.text, range, &options);
    Some(convert(&snapshot, &edits))
}

fn convert(snapshot: &Snapshot, edits: &[fmt::TextEdit]) -> Vec<TextEdit> {
    edits.iter().map(|e| TextEdit { range: snapshot.range(e.range), new_text: e.new_text.clone() }).collect()
}
