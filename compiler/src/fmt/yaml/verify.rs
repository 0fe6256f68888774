//! The check every formatted YAML text passes before it is offered: it parses without
//! errors, every document lowers to the same value tree (values, scalar styles and tags;
//! spans aside), and the text has the same characters but whitespace, in the same order
//! (so every comment, anchor, alias, tag and indicator is still there).

use crate::diagnostics::Severity;
use crate::syntax::yaml::{self, Document, Node, Value};

/// Parses both texts and compares them.
pub(in crate::fmt) fn verify(original: &str, formatted: &str) -> Result<(), String> {
    verify_against(&yaml::parse(original).documents, original, formatted)
}

/// Compares `formatted` with the original text and its already parsed documents.
pub(super) fn verify_against(documents: &[Document], original: &str, formatted: &str) -> Result<(), String> {
    if !same_non_blank(original, formatted) {
        return Err("the formatted text differs in more than whitespace".into());
    }
    let parsed = yaml::parse(formatted);
    if let Some(error) = parsed.diagnostics.iter().find(|d| d.severity == Severity::Error) {
        return Err(format!("the formatted text does not parse: {} at byte {}", error.message, error.span.start));
    }
    if parsed.documents.len() != documents.len() {
        return Err(format!("{} documents became {}", documents.len(), parsed.documents.len()));
    }
    for (index, (before, after)) in documents.iter().zip(&parsed.documents).enumerate() {
        let same = match (&before.root, &after.root) {
            (None, None) => true,
            (Some(a), Some(b)) => same_node(a, b),
            _ => false,
        };
        if !same {
            return Err(format!("document {} has a different value tree after formatting", index + 1));
        }
    }
    Ok(())
}

/// The two texts have the same characters once YAML's whitespace is left out.
fn same_non_blank(a: &str, b: &str) -> bool {
    let significant = |c: &u8| !matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    a.bytes().filter(significant).eq(b.bytes().filter(significant))
}

/// Equal values, styles and tags, spans aside. An explicit stack: depth is bounded by the
/// parser, but not by this function's frame size.
fn same_node(a: &Node, b: &Node) -> bool {
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        if a.style != b.style || a.tag != b.tag {
            return false;
        }
        match (&a.value, &b.value) {
            (Value::Seq(x), Value::Seq(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                stack.extend(x.iter().zip(y));
            }
            (Value::Map(x), Value::Map(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                for (p, q) in x.iter().zip(y) {
                    stack.push((&p.key, &q.key));
                    stack.push((&p.value, &q.value));
                }
            }
            (Value::Float(x), Value::Float(y)) => {
                if x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan()) {
                    return false;
                }
            }
            (x, y) => {
                if x != y {
                    return false;
                }
            }
        }
    }
    true
}
