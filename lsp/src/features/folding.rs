//! `textDocument/foldingRange`: the ide layer's whole-line folds. Only lines are sent (no
//! start or end character), which every client accepts, `lineFoldingOnly` or not.

use ospecc_compiler::ide::{self, FoldKind};
use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind, FoldingRangeParams};

use super::Snapshot;
use crate::state::Shared;
use ospecc_compiler::db::Database;

pub fn folding_ranges(shared: &Shared, params: FoldingRangeParams) -> Option<Vec<FoldingRange>> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    let found = snapshot.whole_file(shared, Database::folding, ide::folding_ranges);
    Some(found.iter().filter_map(convert).collect())
}

fn convert(fold: &ide::Fold) -> Option<FoldingRange> {
    Some(FoldingRange {
        start_line: u32::try_from(fold.start_line).ok()?,
        start_character: None,
        end_line: u32::try_from(fold.end_line).ok()?,
        end_character: None,
        kind: fold.kind.map(kind),
        collapsed_text: None,
    })
}

fn kind(kind: FoldKind) -> FoldingRangeKind {
    match kind {
        FoldKind::Comment => FoldingRangeKind::Comment,
        FoldKind::Region => FoldingRangeKind::Region,
        FoldKind::Imports => FoldingRangeKind::Imports,
    }
}
