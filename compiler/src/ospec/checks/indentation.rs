//! A document that lost its indentation (pasted from a rendered web page, say) still parses:
//! into one flat mapping whose keys belong to nested sections. Instead of dozens of
//! unknown-key errors, it gets one diagnostic that says what happened.

use std::collections::BTreeSet;

use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::{Entry, Node, Value};

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
///
/// Two signals, either enough: many top-level keys that the schema knows only as nested keys;
/// or many unknown top-level keys together with a known section left empty right before one
/// of them (its children landed at the top level). Descriptive sections are open, so their
/// children are unknown to the schema, and the second signal catches those.
pub fn lost_indentation(root: &Node, known: &KnownKeys) -> Option<Diagnostic> {
    let entries = root.as_map()?;
    let is_unknown = |e: &Entry| {
        let key = e.key_text();
        !key.starts_with("x-") && !known.root.contains(&key)
    };
    let unknown: Vec<&Entry> = entries.iter().filter(|e| is_unknown(e)).collect();
    let misplaced = unknown.iter().filter(|e| known.nested.contains(&e.key_text())).count();
    let emptied: Vec<&Entry> = entries
        .windows(2)
        .filter(|pair| pair[0].value.value == Value::Null && !is_unknown(&pair[0]) && is_unknown(&pair[1]))
        .map(|pair| &pair[0])
        .collect();
    let many = |n: usize| n >= MIN_MISPLACED && n * 100 >= entries.len() * MIN_MISPLACED_PERCENT;
    if !(many(misplaced) || (!emptied.is_empty() && many(unknown.len()))) {
        return None;
    }
    let span = emptied.first().map_or(unknown[0].key.span, |e| e.key.span);
    let examples: Vec<String> = unknown.iter().take(4).map(|e| format!("`{}`", e.key_text())).collect();
    let mut diagnostic = Diagnostic::error(
        "OSP212",
        span,
        format!(
            "this document seems to have lost its indentation: {} of its {} top-level keys belong inside sections ({}, …)",
            unknown.len(),
            entries.len(),
            examples.join(", ")
        ),
    );
    if !emptied.is_empty() {
        let names: Vec<String> = emptied.iter().take(5).map(|e| format!("`{}`", e.key_text())).collect();
        let note = match names.len() {
            1 => format!("{} is empty: its children follow it at the top level", names[0]),
            _ => format!("{} are empty: their children follow them at the top level", names.join(", ")),
        };
        diagnostic = diagnostic.with_note(note);
    }
    for entry in unknown.iter().take(3) {
        diagnostic = diagnostic.with_label(entry.key.span, format!("`{}` is not a top-level key", entry.key_text()));
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
    use crate::syntax::yaml::Style;

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
