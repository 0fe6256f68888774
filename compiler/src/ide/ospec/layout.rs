//! What each line of a YAML document belongs to, read forward from its start, and the
//! tokens of flow collections.
//!
//! The cursor's backward walk (`context`) reads block structure from keys and indentation.
//! Three things break that reading: the body of a block scalar (`key: |` then text that may
//! itself look like `a: b`), and the lines a flow collection or a quoted scalar runs on after
//! the line that opened it. One forward pass marks those lines, so the walk reads only block
//! lines, and the cursor inside a flow collection is placed by its brackets instead.
//! Tolerance: an opener never closed does not swallow the rest of the document; it ends at the
//! first line indented no deeper than its own line (YAML wants continuation lines deeper).

use super::context::{colon_of, Segment, Slot};
use crate::span::Span;

/// What a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Block structure: keys, `- ` items, values on the key's line.
    Block,
    /// The body of a block scalar whose key (or `- `) is at column `parent`.
    Scalar { parent: usize },
    /// Inside a flow collection whose outermost bracket is at byte `open` of an earlier line.
    Flow { open: usize },
    /// Inside a quoted scalar opened on an earlier line.
    Quoted,
}

/// What a line leaves open for the lines after it.
#[derive(Clone, Copy, Debug)]
enum Open {
    Nothing,
    Scalar { parent: usize },
    Flow { open: usize, indent: usize, depth: usize },
    Quoted { indent: usize, quote: u8 },
}

/// The role of every line (`lines` as `context::lines` splits them).
pub(super) fn roles(text: &str, lines: &[(usize, &str)]) -> Vec<Role> {
    let mut out = Vec::with_capacity(lines.len());
    let mut open = Open::Nothing;
    for &(start, line) in lines {
        let (role, next) = step(text, open, start, line);
        out.push(role);
        open = next;
    }
    out
}

fn step(text: &str, open: Open, start: usize, line: &str) -> (Role, Open) {
    let first = line.bytes().position(|b| b != b' ').unwrap_or(line.len());
    let blank = line.trim().is_empty();
    let goes_on = |indent: usize| blank || first > indent || line[first..].starts_with([']', '}', '"', '\'']);
    match open {
        Open::Scalar { parent } if blank || first > parent => return (Role::Scalar { parent }, open),
        Open::Flow { open: at, indent, depth } if goes_on(indent) => {
            let next = match flow_depth(text, start, start + line.len(), depth) {
                Some(depth) => Open::Flow { open: at, indent, depth },
                None => Open::Nothing,
            };
            return (Role::Flow { open: at }, next);
        }
        Open::Quoted { indent, quote } if goes_on(indent) => {
            let closed = quote_end(line.as_bytes(), 0, line.len(), quote).is_some();
            return (Role::Quoted, if closed { Open::Nothing } else { open });
        }
        _ => {}
    }
    (Role::Block, opens(text, start, line))
}

/// What a block line opens with its value: a block scalar, a flow collection or a quoted
/// scalar that its own line does not close.
fn opens(text: &str, start: usize, line: &str) -> Open {
    // Most lines open nothing; only these characters can start what would.
    if !line.bytes().any(|b| matches!(b, b'|' | b'>' | b'[' | b'{' | b'"' | b'\'')) {
        return Open::Nothing;
    }
    let place = value_place(line);
    let rest = &line[place.value..];
    match rest.as_bytes().first() {
        Some(b'|' | b'>') if is_scalar_header(rest) => Open::Scalar { parent: place.parent },
        Some(b'[' | b'{') => match flow_depth(text, start + place.value, start + line.len(), 0) {
            Some(depth) => Open::Flow { open: start + place.value, indent: place.first, depth },
            None => Open::Nothing,
        },
        Some(&quote @ (b'"' | b'\'')) if quote_end(line.as_bytes(), place.value + 1, line.len(), quote).is_none() => {
            Open::Quoted { indent: place.first, quote }
        }
        _ => Open::Nothing,
    }
}

/// Where a block line's value is.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    /// The column of the first non-space character.
    pub first: usize,
    /// The column of the key, else of the last `- `: a block scalar's body is deeper.
    pub parent: usize,
    /// The column where the value starts: after `key:` and its spaces, else after the dashes;
    /// node properties (`&anchor`, `!tag`) skipped. The line's length when there is none.
    pub value: usize,
}

/// Reads a block line's key and value columns without allocating (the line pass runs over
/// every line).
pub(super) fn value_place(line: &str) -> Place {
    let bytes = line.as_bytes();
    let first = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    let (mut at, mut parent) = (first, first);
    while bytes.get(at) == Some(&b'-') && matches!(bytes.get(at + 1), None | Some(b' ')) {
        parent = at;
        at += 1;
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
    }
    let colon = match bytes.get(at) {
        Some(&quote @ (b'"' | b'\'')) => quote_end(bytes, at + 1, bytes.len(), quote).and_then(|end| {
            let colon = end + bytes[end..].iter().take_while(|&&b| b == b' ').count();
            (bytes.get(colon) == Some(&b':') && ends_plain(bytes, colon + 1)).then_some(colon)
        }),
        Some(b'[' | b'{' | b'#') | None => None,
        Some(_) => colon_of(&line[at..]).map(|c| at + c),
    };
    if let Some(colon) = colon {
        parent = at;
        at = colon + 1;
    }
    loop {
        while matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if !matches!(bytes.get(at), Some(b'&' | b'!')) {
            return Place { first, parent, value: at.min(line.len()) };
        }
        while bytes.get(at).is_some_and(|b| !matches!(b, b' ' | b'\t')) {
            at += 1;
        }
    }
}

/// `|`, `>`, with optional indentation and chomping indicators, then only a comment.
fn is_scalar_header(rest: &str) -> bool {
    let indicators = rest[1..].bytes().take_while(|b| matches!(b, b'1'..=b'9' | b'+' | b'-')).count();
    let tail = &rest[1 + indicators..];
    indicators <= 2 && (tail.trim().is_empty() || tail.starts_with([' ', '\t']) && tail.trim_start().starts_with('#'))
}

/// The bracket depth after `text[from..to]`, starting at `depth`; `None` once it is back to 0.
fn flow_depth(text: &str, from: usize, to: usize, mut depth: usize) -> Option<usize> {
    for token in tokens(text, from, to) {
        match token.kind {
            Kind::Open { .. } => depth += 1,
            Kind::Close if depth <= 1 => return None,
            Kind::Close => depth -= 1,
            _ => {}
        }
    }
    (depth > 0).then_some(depth)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Open {
        map: bool,
    },
    Close,
    Comma,
    Colon,
    /// A plain or quoted scalar (`closed` is false for a quote that runs to the end).
    Scalar {
        quoted: bool,
        closed: bool,
    },
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    span: Span,
}

/// The flow tokens of `text[from..to]` (comments skipped; a scalar's span is trimmed).
fn tokens(text: &str, from: usize, to: usize) -> Tokens<'_> {
    Tokens { bytes: &text.as_bytes()[..to.min(text.len())], i: from }
}

/// An iterator over flow tokens (no allocation: the line pass runs over every line).
struct Tokens<'t> {
    bytes: &'t [u8],
    i: usize,
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let bytes = self.bytes;
        let mut i = self.i;
        let token = next_token(bytes, &mut i);
        self.i = i;
        token
    }
}

/// The token at or after `*i`, advancing `*i` past it.
fn next_token(bytes: &[u8], i: &mut usize) -> Option<Token> {
    while *i < bytes.len() {
        let start = *i;
        let kind = match bytes[start] {
            b' ' | b'\t' | b'\r' | b'\n' => {
                *i += 1;
                continue;
            }
            b'#' if start == 0 || matches!(bytes[start - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                *i += bytes[*i..].iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(bytes.len() - *i);
                continue;
            }
            b @ (b'{' | b'[') => {
                *i += 1;
                Kind::Open { map: b == b'{' }
            }
            b'}' | b']' => {
                *i += 1;
                Kind::Close
            }
            b',' => {
                *i += 1;
                Kind::Comma
            }
            b':' if ends_plain(bytes, start + 1) => {
                *i += 1;
                Kind::Colon
            }
            quote @ (b'"' | b'\'') => match quote_end(bytes, start + 1, bytes.len(), quote) {
                Some(end) => {
                    *i = end;
                    Kind::Scalar { quoted: true, closed: true }
                }
                None => {
                    *i = bytes[*i..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(bytes.len(), |p| start + p);
                    Kind::Scalar { quoted: true, closed: false }
                }
            },
            _ => {
                *i = plain_end(bytes, start);
                Kind::Scalar { quoted: false, closed: true }
            }
        };
        return Some(Token { kind, span: Span::new(start, *i) });
    }
    None
}

/// Whether a `:` whose next byte is at `at` ends a key (followed by a space, an indicator or
/// the end).
fn ends_plain(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_none_or(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'))
}

/// The end of a plain scalar in a flow collection (trailing spaces excluded).
fn plain_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b',' | b'[' | b']' | b'{' | b'}' | b'\n' | b'\r' => break,
            b':' if ends_plain(bytes, i + 1) => break,
            b'#' if i > start && matches!(bytes[i - 1], b' ' | b'\t') => break,
            _ => i += 1,
        }
    }
    while i > start && matches!(bytes[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    i
}

/// The end (after the closing quote) of a quoted scalar whose content starts at `at`, within
/// one line; `None` when it does not close there.
fn quote_end(bytes: &[u8], mut at: usize, to: usize, quote: u8) -> Option<usize> {
    let to = to.min(bytes.len());
    while at < to {
        match bytes[at] {
            b'\n' | b'\r' => return None,
            b'\\' if quote == b'"' => at += 2,
            b if b == quote && quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') && at + 1 < to => at += 2,
            b if b == quote => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// The cursor's place inside a flow collection, below the collection's own place.
#[derive(Debug)]
pub(super) struct FlowPlace {
    pub path: Vec<Segment>,
    pub slot: Slot,
    /// Where the word being typed starts (after its opening quote).
    pub word_start: usize,
    /// The keys of the mapping the cursor is a key of (the word being typed excluded).
    pub siblings: Vec<String>,
}

/// One open collection while reading a flow to the cursor.
#[derive(Debug, Default)]
struct Frame {
    map: bool,
    /// The key whose value comes next (after its `:`).
    key: Option<String>,
    /// The current entry is past its `:`.
    value: bool,
    keys: Vec<String>,
    /// The last scalar of the current entry (a key once a `:` follows).
    last: Option<String>,
}

/// Reads the flow collection opening at byte `open` up to `offset`; `None` when it closes
/// before the cursor. `end` bounds the collection's text (its last line's end).
pub(super) fn flow_place(text: &str, open: usize, offset: usize, end: usize) -> Option<FlowPlace> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut word_start = offset;
    for token in tokens(text, open, offset) {
        let at_cursor = token.span.end == offset;
        match token.kind {
            Kind::Open { map } => frames.push(Frame { map, ..Frame::default() }),
            Kind::Close => {
                frames.pop();
                frames.last_mut()?.last = None;
            }
            Kind::Comma => {
                let top = frames.last_mut()?;
                (top.key, top.value, top.last) = (None, false, None);
            }
            Kind::Colon => {
                let top = frames.last_mut()?;
                if top.map && !top.value {
                    top.key = top.last.take();
                    top.keys.extend(top.key.clone());
                    top.value = true;
                }
            }
            Kind::Scalar { quoted, closed } if at_cursor && !(quoted && closed) => {
                word_start = token.span.start + usize::from(quoted);
            }
            Kind::Scalar { quoted, .. } => {
                let (start, close) = if quoted { (token.span.start + 1, 1) } else { (token.span.start, 0) };
                let end = token.span.end.saturating_sub(close).max(start);
                frames.last_mut()?.last = text.get(start..end).map(str::to_string);
            }
        }
    }
    let (top, outer) = frames.split_last()?;
    let mut path: Vec<Segment> = outer
        .iter()
        .map(|f| if f.map { Segment::Key(f.key.clone().unwrap_or_default()) } else { Segment::Item })
        .collect();
    let slot = match (top.map, top.value) {
        (true, false) => Slot::Key,
        (true, true) => {
            path.push(Segment::Key(top.key.clone().unwrap_or_default()));
            Slot::Value
        }
        (false, _) => {
            path.push(Segment::Item);
            Slot::Value
        }
    };
    let mut siblings = Vec::new();
    if slot == Slot::Key {
        siblings = top.keys.clone();
        let after = word_end(text, offset);
        siblings.extend(keys_until_close(text, after, end));
    }
    Some(FlowPlace { path, slot, word_start, siblings })
}

/// The end of the word at `offset` (where the keys after the cursor start).
fn word_end(text: &str, offset: usize) -> usize {
    let rest = text.get(offset..).unwrap_or_default();
    offset + rest.find([' ', '\t', '\n', '\r', '"', '\'', ',', ']', '}', ':', '#']).unwrap_or(rest.len())
}

/// The keys of the mapping the cursor is in, after the cursor, up to its closing brace.
fn keys_until_close(text: &str, from: usize, end: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut last: Option<Span> = None;
    let mut skip_entry = true; // The rest of the cursor's own entry (`: value`) is not a key.
    for token in tokens(text, from, end) {
        match token.kind {
            Kind::Open { .. } => depth += 1,
            Kind::Close if depth == 0 => break,
            Kind::Close => depth -= 1,
            Kind::Comma if depth == 0 => {
                skip_entry = false;
                last = None;
            }
            Kind::Colon if depth == 0 && !skip_entry => {
                if let Some(span) = last.take() {
                    let quoted = text[span.start..].starts_with(['"', '\'']);
                    let inner = if quoted { Span::new(span.start + 1, span.end.saturating_sub(1)) } else { span };
                    keys.extend(text.get(inner.start..inner.end.max(inner.start)).map(str::to_string));
                }
                skip_entry = true;
            }
            Kind::Scalar { .. } if depth == 0 => last = Some(token.span),
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::super::context::lines;
    use super::*;

    fn roles_of(text: &str) -> Vec<Role> {
        roles(text, &lines(text))
    }

    #[test]
    fn block_scalar_bodies_end_at_a_line_no_deeper_than_their_key() {
        let text = "a: |\n  x: 1\n\n  y\nb: >-\n    z\nc: 1\n";
        let got = roles_of(text);
        let scalar = Role::Scalar { parent: 0 };
        assert_eq!(got[..7], [Role::Block, scalar, scalar, scalar, Role::Block, scalar, Role::Block]);
        let got = roles_of("s:\n  - |\n    t\n  - k: |+ # c\n      u\n  - v\n");
        assert_eq!(got[2], Role::Scalar { parent: 2 });
        assert_eq!(got[4], Role::Scalar { parent: 4 });
        assert_eq!(got[5], Role::Block);
        // Not a header: a plain scalar that starts with `|`-like text is impossible, but a
        // value after the indicator is not a header.
        assert_eq!(roles_of("a: |x\n  b: 1\n")[1], Role::Block);
    }

    #[test]
    fn flows_and_quotes_run_until_closed_or_abandoned() {
        let text = "a: {x: 1,\n  y: [2,\n    3]}\nb: 1\n";
        let got = roles_of(text);
        assert_eq!(got, [Role::Block, Role::Flow { open: 3 }, Role::Flow { open: 3 }, Role::Block, Role::Block]);
        // A bracket never closed ends where the indentation says the block goes on.
        let got = roles_of("a: [1,\nb: 2\n");
        assert_eq!(got[1], Role::Block);
        let got = roles_of("a: \"one\n  two\"\nb: 'c''d'\n");
        assert_eq!(got[..3], [Role::Block, Role::Quoted, Role::Block]);
        // Brackets inside quotes and comments do not count.
        assert_eq!(roles_of("a: [\"]\", x] # [\nb: 1\n")[1], Role::Block);
    }

    #[test]
    fn flow_places() {
        let place = |marked: &str| {
            let offset = marked.find('|').unwrap();
            let text = marked.replacen('|', "", 1);
            let open = text.find(['[', '{']).unwrap();
            flow_place(&text, open, offset, text.len())
        };
        let got = place("{name: x, re|, id: 2}").unwrap();
        assert_eq!((got.slot, got.path, got.siblings), (Slot::Key, vec![], vec!["name".into(), "id".into()]));
        let got = place("{retry: {max: 1, backoff: [a, {k: |").unwrap();
        let keys = |names: &[&str]| names.iter().map(|n| Segment::Key(n.to_string())).collect::<Vec<_>>();
        let mut want = keys(&["retry", "backoff"]);
        want.extend([Segment::Item, Segment::Key("k".into())]);
        assert_eq!((got.slot, got.path), (Slot::Value, want));
        let got = place("[a, \"b|").unwrap();
        assert_eq!((got.slot, got.path, got.word_start), (Slot::Value, vec![Segment::Item], 5));
        assert!(place("[a, b] |").is_none());
    }
}
