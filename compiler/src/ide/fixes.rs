//! Quick fixes: the fixes the compiler's diagnostics already carry (did-you-mean keys and
//! values, missing keys, …), offered for the diagnostics that touch a range.

use crate::diagnostics::Diagnostic;
use crate::span::Span;

use super::TextEdit;

/// One quick fix for one diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeAction {
    pub title: String,
    /// The index of the diagnostic (in the list given) it fixes.
    pub diagnostic: usize,
    pub edits: Vec<TextEdit>,
    /// The diagnostic's only fix: safe to apply without asking (`isPreferred`).
    pub preferred: bool,
}

/// The fixes of every diagnostic whose span meets `range`.
pub fn code_actions(diagnostics: &[Diagnostic], range: Span) -> Vec<CodeAction> {
    let meets = |span: Span| span.start <= range.end && range.start <= span.end;
    diagnostics
        .iter()
        .enumerate()
        .filter(|(_, d)| meets(d.span))
        .flat_map(|(i, d)| {
            let preferred = d.fixes.len() == 1;
            d.fixes.iter().map(move |fix| CodeAction {
                title: fix.title.clone(),
                diagnostic: i,
                edits: fix.edits.iter().map(|e| TextEdit { span: e.span, new_text: e.new_text.clone() }).collect(),
                preferred,
            })
        })
        .collect()
}
