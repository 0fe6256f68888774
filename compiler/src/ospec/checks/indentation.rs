//! A document that lost its indentation (pasted from a rendered web page, say) still parses:
//! into one flat mapping whose keys belong to nested sections. Instead of dozens of
//! unknown-key errors, it gets one diagnostic that says what happened.

use std::collections::BTreeSet;

use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::{Node, Value};

/// At least this many misplaced keys…
const MIN_MISPLACED: usize = 4;
/// …making up at least this fraction (in percent) of the top-level keys.
const MIN_MISPLACED_PERCENT: usize = 25;

/// The property names a profile knows at the root and at any deeper level.
pub struct KnownKeys<'a> {
    pub root: &'a BTreeSet<String>,
    pub nested: &'a BTreeSet<String>,
}

/// One diagnostic if `root` looks like a flattened document, else `None`.
pub fn lost_indentation(root: &Node, known: &KnownKeys) -> Option<Diagnostic> {
    let entries = root.as_map()?;
    let misplaced: Vec<_> = entries
        .iter()
        .filter(|e| {
            let key = e.key_text();
            !key.starts_with("x-") && !known.root.contains(&key) && known.nested.contains(&key)
        })
        .collect();
    if misplaced.len() < MIN_MISPLACED || misplaced.len() * 100 < entries.len() * MIN_MISPLACED_PERCENT {
        return None;
    }
    // The first empty section is where nesting was lost: its children follow it at the top.
    let anchor = entries.iter().find(|e| e.value.value == Value::Null && known.root.contains(&e.key_text()));
    let span = anchor.map_or(misplaced[0].key.span, |e| e.key.span);
    let examples: Vec<String> = misplaced.iter().take(4).map(|e| format!("`{}`", e.key_text())).collect();
    let mut diagnostic = Diagnostic::error(
        "OSP212",
        span,
        format!(
            "this document seems to have lost its indentation: {} of its {} top-level keys belong inside sections ({}, …)",
            misplaced.len(),
            entries.len(),
            examples.join(", ")
        ),
    );
    if let Some(anchor) = anchor {
        diagnostic = diagnostic.with_label(
            anchor.key.span,
            format!("`{}` is empty: its children follow it at the top level", anchor.key_text()),
        );
    }
    for entry in misplaced.iter().take(3) {
        diagnostic =
            diagnostic.with_label(entry.key.span, format!("`{}` is a key of a nested section", entry.key_text()));
    }
    Some(
        diagnostic
            .with_note("YAML nests by indentation; without it every key lands at the top level, and the schema errors that would follow are not shown")
            .with_help("restore the indentation (copy the document from its source rather than from a rendered page), then check again"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;
    use crate::syntax::yaml::{Entry, Style};

    fn scalar(value: Value) -> Node {
        Node { span: Span::default(), value, style: Style::Plain, tag: None }
    }

    fn map(keys: &[(&str, Value)]) -> Node {
        let entries = keys
            .iter()
            .map(|(k, v)| Entry { key: scalar(Value::String(k.to_string())), value: scalar(v.clone()) })
            .collect();
        scalar(Value::Map(entries))
    }

    #[test]
    fn flags_flattened_documents_only() {
        let root: BTreeSet<String> = ["id", "services", "acceptance"].map(String::from).into();
        let nested: BTreeSet<String> =
            ["runtime", "ports", "endpoint", "steps", "dependencies"].map(String::from).into();
        let known = KnownKeys { root: &root, nested: &nested };
        let flat = map(&[
            ("id", Value::String("x".into())),
            ("services", Value::Null),
            ("runtime", Value::String("node".into())),
            ("ports", Value::Null),
            ("dependencies", Value::Null),
            ("endpoint", Value::String("/h".into())),
        ]);
        let diagnostic = lost_indentation(&flat, &known).expect("flattened");
        assert!(diagnostic.message.contains("4 of its 6"));
        let typo = map(&[("id", Value::String("x".into())), ("runtime", Value::Null), ("services", Value::Null)]);
        assert!(lost_indentation(&typo, &known).is_none());
    }
}
