//! The check every formatted YAML text passes before it is offered: it parses without
//! errors, every document lowers to the same value tree (values, scalar styles and tags;
//! spans aside), and the text has the same characters but whitespace, in the same order
//! (so every comment, anchor, alias, tag and indicator is still there).
//!
//! A stream of several documents is parsed one document at a time: the parser's fast path
//! takes a single document, and YAML documents share nothing (but directives, anchors and
//! aliases, which such a stream must not have to be split).

use crate::diagnostics::{Diagnostic, Severity};
use crate::syntax::yaml::{self, Document, Node, Value};

use super::structure::is_document_marker;

/// Parses both texts and compares them.
pub(in crate::fmt) fn verify(original: &str, formatted: &str) -> Result<(), String> {
    let documents = parse_documents(original).map_err(|_| "the original does not parse".to_string())?;
    verify_against(&documents, original, formatted)
}

/// The documents of `text`, or its errors.
pub(super) fn parse_documents(text: &str) -> Result<Vec<Document>, Vec<Diagnostic>> {
    if let Some(documents) = one_by_one(text) {
        return Ok(documents);
    }
    let parsed = yaml::parse(text);
    let errors: Vec<Diagnostic> = parsed.diagnostics.into_iter().filter(|d| d.severity == Severity::Error).collect();
    if errors.is_empty() {
        Ok(parsed.documents)
    } else {
        Err(errors)
    }
}

/// A stream of several documents, each parsed alone (`None`: one document, a stream with
/// directives, anchors or aliases — `&` or `*` anywhere —, an empty document, or a document
/// with a diagnostic).
pub(super) fn one_by_one(text: &str) -> Option<Vec<Document>> {
    let bytes = text.as_bytes();
    let mut starts = Vec::new();
    let mut line = 0;
    while line < bytes.len() {
        let end = bytes[line..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| line + p);
        match bytes[line] {
            b'%' => return None,
            b'-' if is_document_marker(&bytes[line..end]) => starts.push(line),
            _ => {}
        }
        line = end + 1;
    }
    if starts.len() < 2 || bytes.iter().any(|&b| b == b'&' || b == b'*') {
        return None;
    }
    let bounds: Vec<usize> = std::iter::once(0).chain(starts).chain(std::iter::once(text.len())).collect();
    let mut documents = Vec::new();
    for pair in bounds.windows(2) {
        let parsed = yaml::parse(&text[pair[0]..pair[1]]);
        // An empty document alone has no root; in a stream before another `---`, a null one.
        if !parsed.diagnostics.is_empty() || parsed.documents.iter().any(|d| d.root.is_none()) {
            return None;
        }
        documents.extend(parsed.documents);
    }
    Some(documents)
}

/// Compares `formatted` with the original text and its already parsed documents.
pub(super) fn verify_against(documents: &[Document], original: &str, formatted: &str) -> Result<(), String> {
    if !same_non_blank(original, formatted) {
        return Err("the formatted text differs in more than whitespace".into());
    }
    let after = parse_documents(formatted).map_err(|errors| match errors.first() {
        Some(error) => format!("the formatted text does not parse: {} at byte {}", error.message, error.span.start),
        None => "the formatted text does not parse".to_string(),
    })?;
    if after.len() != documents.len() {
        return Err(format!("{} documents became {}", documents.len(), after.len()));
    }
    for (index, (before, after)) in documents.iter().zip(&after).enumerate() {
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
pub(super) fn same_node(a: &Node, b: &Node) -> bool {
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
