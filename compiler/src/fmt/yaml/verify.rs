//! The check every formatted YAML text passes before it is offered: it parses without
//! errors, every document lowers to the same value tree (values, scalar styles and tags;
//! spans aside), and the text has the same characters but whitespace, in the same order
//! (so every comment, anchor, alias, tag and indicator is still there).
//!
//! A stream of several documents is parsed one document at a time: the parser's fast path
//! takes a single document, and YAML documents share nothing (but directives, anchors and
//! aliases, which such a stream must not have to be split). Its trees are not kept: a large
//! stream's trees take many times its size, and only a text that changes is compared, one
//! document of each text at a time.

use crate::diagnostics::{Diagnostic, Severity};
use crate::syntax::yaml::{self, Document, Node, Value};

use super::structure::is_document_marker;

/// Parses both texts and compares them.
pub(in crate::fmt) fn verify(original: &str, formatted: &str) -> Result<(), String> {
    let parsed = parse(original).map_err(|_| "the original does not parse".to_string())?;
    verify_against(&parsed, original, formatted)
}

/// The original's parse, as far as the check needs it.
pub(super) enum Parsed {
    /// Its documents.
    Documents(Vec<Document>),
    /// A stream of documents, each of which parsed without diagnostics alone; parsed again
    /// one at a time when the check needs them.
    Stream,
}

/// Parses `text`: its errors, or what the check of a formatted text needs.
pub(super) fn parse(text: &str) -> Result<Parsed, Vec<Diagnostic>> {
    if let Some(bounds) = stream_bounds(text) {
        if bounds.windows(2).all(|pair| parse_alone(&text[pair[0]..pair[1]]).is_some()) {
            return Ok(Parsed::Stream);
        }
    }
    parse_whole(text).map(Parsed::Documents)
}

/// The documents of `text`, or its errors.
fn parse_documents(text: &str) -> Result<Vec<Document>, Vec<Diagnostic>> {
    match one_by_one(text) {
        Some(documents) => Ok(documents),
        None => parse_whole(text),
    }
}

fn parse_whole(text: &str) -> Result<Vec<Document>, Vec<Diagnostic>> {
    let parsed = yaml::parse(text);
    let errors: Vec<Diagnostic> = parsed.diagnostics.into_iter().filter(|d| d.severity == Severity::Error).collect();
    if errors.is_empty() {
        Ok(parsed.documents)
    } else {
        Err(errors)
    }
}

/// Where a stream of several documents splits into documents parsed alone: its start, every
/// `---` line and its end (`None`: one document, or a stream with directives, anchors or
/// aliases — `&` or `*` anywhere).
fn stream_bounds(text: &str) -> Option<Vec<usize>> {
    let bytes = text.as_bytes();
    let line_at = |at: usize| &bytes[at..bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| at + p)];
    let mut bounds = vec![0];
    bounds.extend(text.match_indices("\n---").map(|(at, _)| at + 1).filter(|&at| is_document_marker(line_at(at))));
    let markers = bounds.len() - 1 + usize::from(is_document_marker(line_at(0)));
    // `contains` on bytes is memchr.
    let shared = text.starts_with('%') || text.contains("\n%") || bytes.contains(&b'&') || bytes.contains(&b'*');
    if markers < 2 || shared {
        return None;
    }
    bounds.push(text.len());
    Some(bounds)
}

/// One part of a stream parsed alone (`None`: a diagnostic, or an empty document, which has
/// no root alone but is a null one in a stream before another `---`).
fn parse_alone(part: &str) -> Option<Vec<Document>> {
    let parsed = yaml::parse(part);
    (parsed.diagnostics.is_empty() && parsed.documents.iter().all(|d| d.root.is_some())).then_some(parsed.documents)
}

/// The documents of a stream of several, each parsed alone (`None`: see [`stream_bounds`],
/// [`parse_alone`]).
pub(super) fn one_by_one(text: &str) -> Option<Vec<Document>> {
    let bounds = stream_bounds(text)?;
    let mut documents = Vec::new();
    for pair in bounds.windows(2) {
        documents.extend(parse_alone(&text[pair[0]..pair[1]])?);
    }
    Some(documents)
}

/// Compares `formatted` with the original text and its parse.
pub(super) fn verify_against(parsed: &Parsed, original: &str, formatted: &str) -> Result<(), String> {
    if !same_non_blank(original, formatted) {
        return Err("the formatted text differs in more than whitespace".into());
    }
    if let Parsed::Stream = parsed {
        if let Some(outcome) = same_stream(original, formatted) {
            return outcome;
        }
    }
    let owned;
    let documents = match parsed {
        Parsed::Documents(documents) => documents,
        Parsed::Stream => {
            owned = parse_documents(original).map_err(|_| "the original does not parse".to_string())?;
            &owned
        }
    };
    let after = parse_documents(formatted).map_err(|errors| match errors.first() {
        Some(error) => format!("the formatted text does not parse: {} at byte {}", error.message, error.span.start),
        None => "the formatted text does not parse".to_string(),
    })?;
    if after.len() != documents.len() {
        return Err(format!("{} documents became {}", documents.len(), after.len()));
    }
    same_documents(documents, &after, 0)
}

/// Two streams compared one part at a time, holding the trees of one document of each
/// (`None`: the formatted text does not split into as many parts that parse alone; the
/// caller compares the whole texts).
fn same_stream(original: &str, formatted: &str) -> Option<Result<(), String>> {
    let (old, new) = (stream_bounds(original)?, stream_bounds(formatted)?);
    if old.len() != new.len() {
        return None;
    }
    let mut seen = 0;
    for (a, b) in old.windows(2).zip(new.windows(2)) {
        let before = parse_alone(&original[a[0]..a[1]])?;
        let after = parse_alone(&formatted[b[0]..b[1]])?;
        if before.len() != after.len() {
            return None;
        }
        if let Err(error) = same_documents(&before, &after, seen) {
            return Some(Err(error));
        }
        seen += before.len();
    }
    Some(Ok(()))
}

/// The same value trees, document by document (`first`: the number of the first, less one).
fn same_documents(before: &[Document], after: &[Document], first: usize) -> Result<(), String> {
    for (index, (before, after)) in before.iter().zip(after).enumerate() {
        let same = match (&before.root, &after.root) {
            (None, None) => true,
            (Some(a), Some(b)) => same_node(a, b),
            _ => false,
        };
        if !same {
            return Err(format!("document {} has a different value tree after formatting", first + index + 1));
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
