//! Where the cursor is in a YAML document, read from the text's lines and indentation alone.
//!
//! Completion runs on text that does not parse (a key half typed, a colon missing), so the
//! spanned tree cannot be asked. Block YAML (what specs are written in) nests by indentation
//! and `- ` markers, which a backward scan over lines recovers: the chain of parent keys and
//! sequence items down to the cursor, the sibling keys already present, and whether the
//! cursor is on a key or a value. Lines that are not block structure (a block scalar's body,
//! the inside of a flow collection or quoted scalar opened above) are told apart first
//! (`layout`); inside a flow collection (`retry: {max_|`, `kinds: [a, |`) the cursor is placed
//! by its brackets, below the place of the collection itself.

use super::layout::{self, Role};
use crate::span::Span;

/// One step of a path from the document root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    /// An item of a sequence (which one does not matter to the schema).
    Item,
}

/// What the cursor is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A key of the mapping at the path (or, when that is not a mapping, a scalar written on
    /// its own line: `- value`, or a value on the line after its key).
    Key,
    /// The value of the last key of the path, on the key's line (or an item of a flow
    /// sequence, or a value in a flow mapping).
    Value,
    /// Inside text: a block scalar's body or a quoted scalar's later lines. Nothing completes.
    Text,
}

/// The cursor's place in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// For [`Slot::Key`], the mapping the key belongs to; for [`Slot::Value`], the value.
    pub path: Vec<Segment>,
    pub slot: Slot,
    /// The half-typed word the completion replaces (quotes excluded).
    pub word: Span,
    /// The text of `word` up to the cursor.
    pub prefix: String,
    /// Keys already in the mapping (the cursor's own line excluded).
    pub siblings: Vec<String>,
    /// Whether the cursor line starts a sequence item (`- |`).
    pub after_dash: bool,
    /// Whether the cursor is inside a flow collection (a key is then written `key: value`
    /// on the spot, never as a block).
    pub flow: bool,
}

/// One line split into YAML's block structure.
#[derive(Debug, Default)]
struct Line {
    /// Column of the first non-space character.
    first: usize,
    /// Columns of the `- ` markers at the start.
    dashes: Vec<usize>,
    /// The key (`name:` with a space, or the line's end, after it) and its column.
    key: Option<(String, usize)>,
    /// Column where the content after the dashes starts.
    content: usize,
    blank: bool,
}

fn parse_line(text: &str) -> Line {
    let bytes = text.as_bytes();
    let first = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    if first == bytes.len() || bytes[first] == b'#' {
        return Line { first, blank: true, ..Line::default() };
    }
    let mut at = first;
    let mut dashes = Vec::new();
    while bytes.get(at) == Some(&b'-') && matches!(bytes.get(at + 1), None | Some(b' ')) {
        dashes.push(at);
        at += 1;
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
    }
    let key = key_at(&text[at..]).map(|k| (k, at));
    Line { first, dashes, key, content: at, blank: false }
}

/// The mapping key at the start of `rest`: `key:` followed by a space, a comment or the end.
pub(crate) fn key_at(rest: &str) -> Option<String> {
    let (body, after) = if let Some(quote @ ('"' | '\'')) = rest.chars().next() {
        let close = rest[1..].find(quote)? + 1;
        (&rest[1..close], &rest[close + 1..])
    } else {
        let colon = colon_of(rest)?;
        (rest[..colon].trim_end(), &rest[colon..])
    };
    let after = after.trim_start_matches(' ');
    let tail = after.strip_prefix(':')?;
    let ok = tail.is_empty() || tail.starts_with(' ') || tail.starts_with('\t') || tail.starts_with('\r');
    (ok && !body.is_empty() && !body.starts_with(['[', '{', '#'])).then(|| body.to_string())
}

/// The first `:` that ends a plain key (followed by a space or the end).
pub(super) fn colon_of(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ' | b'\t' | b'\r')))
}

/// The lines of `text` with their start offsets (line breaks excluded; `\r\n` and `\r` end lines).
pub(crate) fn lines(text: &str) -> Vec<(usize, &str)> {
    if !text.contains('\r') {
        // The common case, found with `memchr` (`str::match_indices` on a byte).
        let mut out = Vec::with_capacity(text.len() / 24 + 1);
        let mut start = 0;
        for (i, _) in text.match_indices('\n') {
            out.push((start, &text[start..i]));
            start = i + 1;
        }
        out.push((start, &text[start..]));
        return out;
    }
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push((start, &text[start..i]));
                start = i + 1;
            }
            b'\r' => {
                out.push((start, &text[start..i]));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push((start, &text[start..]));
    out
}

/// The index of the line holding `offset`.
pub(crate) fn line_index(lines: &[(usize, &str)], offset: usize) -> usize {
    lines.partition_point(|(start, _)| *start <= offset).saturating_sub(1)
}

/// The cursor's place at `offset`.
pub fn cursor(text: &str, offset: usize) -> Cursor {
    let lines = lines(text);
    let roles = layout::roles(text, &lines);
    let index = line_index(&lines, offset);
    let (start, line) = lines[index];
    let column = (offset - start).min(line.len());
    match roles[index] {
        Role::Quoted => return in_text(offset),
        // A blank line of a scalar's body is still a key's place left of the body's indentation.
        Role::Scalar { parent } if !line.trim().is_empty() || column > parent => return in_text(offset),
        // Past the collection's close on its last line there is nothing to complete.
        Role::Flow { open } => return in_flow(text, &lines, &roles, open, offset).unwrap_or_else(|| in_text(offset)),
        _ => {}
    }
    let value = layout::value_place(line).value;
    if value < column && line[value..].starts_with(['[', '{']) {
        if let Some(found) = in_flow(text, &lines, &roles, start + value, offset) {
            return found;
        }
    }
    in_block(text, &lines, &roles, index, offset)
}

/// Inside text: no place to complete.
fn in_text(offset: usize) -> Cursor {
    Cursor {
        path: Vec::new(),
        slot: Slot::Text,
        word: Span::new(offset, offset),
        prefix: String::new(),
        siblings: Vec::new(),
        after_dash: false,
        flow: false,
    }
}

/// Inside the flow collection opening at byte `open`: the collection's own place (read as a
/// block value) and the place inside it; `None` when it closes before the cursor.
fn in_flow(text: &str, lines: &[(usize, &str)], roles: &[Role], open: usize, offset: usize) -> Option<Cursor> {
    let open_line = line_index(lines, open);
    let last =
        (open_line + 1..lines.len()).take_while(|&i| roles[i] == Role::Flow { open }).last().unwrap_or(open_line);
    let end = lines[last].0 + lines[last].1.len();
    let place = layout::flow_place(text, open, offset, end)?;
    let mut path = in_block(text, lines, roles, open_line, open).path;
    path.extend(place.path);
    let (start, line) = lines[line_index(lines, offset)];
    let word_end = (start + word_end_in(line, (offset - start).min(line.len()))).max(place.word_start);
    Some(Cursor {
        path,
        slot: place.slot,
        word: Span::new(place.word_start, word_end),
        prefix: text[place.word_start..offset.max(place.word_start)].to_string(),
        siblings: place.siblings,
        after_dash: false,
        flow: true,
    })
}

/// The cursor's place in block structure, on line `index`.
fn in_block(text: &str, lines: &[(usize, &str)], roles: &[Role], index: usize, offset: usize) -> Cursor {
    let (start, line) = lines[index];
    let column = (offset - start).min(line.len());
    let before = &line[..column];
    let here = parse_line(before);
    let mut path = Vec::new();
    let mut siblings = Vec::new();
    let (slot, word, prefix, entry);
    match (&here.key, here.blank) {
        (Some((key, _)), false) => {
            // `key: val|`: the value of `key`.
            let word_start = start + value_start(before);
            let word_end = start + word_end_in(line, column);
            entry = here.key.as_ref().map_or(here.content, |(_, c)| *c);
            slot = Slot::Value;
            word = Span::new(word_start, word_end.max(word_start));
            prefix = text[word_start..offset.max(word_start)].to_string();
            path.push(Segment::Key(key.clone()));
        }
        _ => {
            entry = if here.blank { column } else { here.content };
            let word_start = if here.blank { offset } else { start + here.content };
            let word_start = skip_quote(text, word_start, offset);
            let word_end = (start + word_end_in(line, column)).max(word_start);
            slot = Slot::Key;
            word = Span::new(word_start, word_end);
            prefix = text[word_start..offset.max(word_start)].to_string();
        }
    }
    let mut ancestry = Vec::new();
    let after_dash = !here.dashes.is_empty();
    let mut state = if after_dash {
        ancestry.extend(here.dashes.iter().map(|_| Segment::Item));
        State { col: here.dashes[0], seq: true, collecting: false }
    } else {
        State { col: entry, seq: false, collecting: true }
    };
    walk_up(block_lines(lines, roles, 0..index).rev(), &mut state, &mut ancestry, &mut siblings);
    siblings.extend(keys_below(block_lines(lines, roles, index + 1..lines.len()), entry));
    ancestry.reverse();
    ancestry.extend(path);
    Cursor { path: ancestry, slot, word, prefix, siblings, after_dash, flow: false }
}

/// The texts of the block lines in `range` (a scalar's body, a flow's or a quote's inner
/// lines are not structure).
fn block_lines<'t>(
    lines: &'t [(usize, &'t str)],
    roles: &'t [Role],
    range: std::ops::Range<usize>,
) -> impl DoubleEndedIterator<Item = &'t str> + 't {
    range.filter(|&i| roles[i] == Role::Block).map(|i| lines[i].1)
}

/// The column of the key we are a sibling of (or of our sequence's dashes), while walking up.
struct State {
    col: usize,
    /// We are an item of a sequence whose dashes are at `col`.
    seq: bool,
    /// Keys at `col` are still siblings (we have not left the mapping).
    collecting: bool,
}

/// Walks the lines above the cursor, pushing the ancestry innermost first.
fn walk_up<'t>(
    above: impl Iterator<Item = &'t str>,
    state: &mut State,
    ancestry: &mut Vec<Segment>,
    siblings: &mut Vec<String>,
) {
    for text in above {
        if is_document_marker(text) {
            break;
        }
        let line = parse_line(text);
        if line.blank || line.first > state.col {
            continue;
        }
        if state.seq {
            seq_line(&line, state, ancestry);
        } else {
            map_line(&line, state, ancestry, siblings);
        }
        if state.col == 0 && !state.seq && !state.collecting {
            break;
        }
    }
}

/// A line at or left of our column while we are a key of a mapping at `state.col`.
fn map_line(line: &Line, state: &mut State, ancestry: &mut Vec<Segment>, siblings: &mut Vec<String>) {
    let key_col = line.key.as_ref().map(|(_, c)| *c);
    if line.first == state.col && line.dashes.is_empty() {
        if let (Some((key, _)), true) = (&line.key, state.collecting) {
            siblings.push(key.clone());
        }
        return;
    }
    if !line.dashes.is_empty() && line.content == state.col {
        // `- first: x` starts the item whose mapping we are in.
        if let (Some((key, _)), true) = (&line.key, state.collecting) {
            siblings.push(key.clone());
        }
        enter_items(line, state, ancestry);
        return;
    }
    if let Some((key, col)) = line.key.as_ref().filter(|_| key_col.is_some_and(|c| c < state.col)) {
        ancestry.push(Segment::Key(key.clone()));
        state.collecting = false;
        if line.dashes.is_empty() {
            state.col = *col;
        } else {
            enter_items(line, state, ancestry);
        }
    }
}

/// A line at or left of our dash column while we are an item of a sequence.
fn seq_line(line: &Line, state: &mut State, ancestry: &mut Vec<Segment>) {
    let outer: Vec<usize> = line.dashes.iter().copied().filter(|&d| d < state.col).collect();
    if let Some((key, col)) = &line.key {
        // The sequence's key: above it (`key:` then `  - a`) or at its column (`key:` then `- a`).
        if *col <= state.col && !line.dashes.contains(&state.col) {
            ancestry.push(Segment::Key(key.clone()));
            state.seq = false;
            state.col = *col;
            if !line.dashes.is_empty() {
                enter_items(line, state, ancestry);
            }
            return;
        }
    }
    if !outer.is_empty() && line.dashes.contains(&state.col) {
        // `- - a`: our sequence is itself an item.
        ancestry.extend(outer.iter().map(|_| Segment::Item));
        state.col = outer[0];
    }
}

/// Enters the sequence item(s) a line's dashes open.
fn enter_items(line: &Line, state: &mut State, ancestry: &mut Vec<Segment>) {
    ancestry.extend(line.dashes.iter().map(|_| Segment::Item));
    state.col = line.dashes[0];
    state.seq = true;
    state.collecting = false;
}

/// The keys at column `col` below the cursor, until the mapping ends.
fn keys_below<'t>(below: impl Iterator<Item = &'t str>, col: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for text in below {
        if is_document_marker(text) {
            break;
        }
        let line = parse_line(text);
        if line.blank || line.first > col {
            continue;
        }
        if line.first < col || !line.dashes.is_empty() {
            break;
        }
        keys.extend(line.key.map(|(k, _)| k));
    }
    keys
}

fn is_document_marker(line: &str) -> bool {
    (line.starts_with("---") || line.starts_with("...")) && line[3..].trim().is_empty()
}

/// Where the value being typed starts on a `key: value` line (after an opening quote).
fn value_start(before: &str) -> usize {
    let Some(colon) = colon_of(before.trim_start_matches([' ', '-'])) else { return before.len() };
    let colon = colon + (before.len() - before.trim_start_matches([' ', '-']).len());
    let mut at = colon + 1;
    while before.as_bytes().get(at) == Some(&b' ') {
        at += 1;
    }
    skip_quote_in(before, at.min(before.len()))
}

fn skip_quote_in(text: &str, at: usize) -> usize {
    if matches!(text.as_bytes().get(at), Some(b'"' | b'\'')) {
        at + 1
    } else {
        at
    }
}

fn skip_quote(text: &str, at: usize, limit: usize) -> usize {
    if at < limit {
        skip_quote_in(text, at)
    } else {
        at
    }
}

/// The end of the word the cursor is in: up to a space, quote, comma, bracket or colon.
fn word_end_in(line: &str, column: usize) -> usize {
    let rest = &line[column..];
    column + rest.find([' ', '"', '\'', ',', ']', '}', ':', '#']).unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Cursor {
        let offset = text.find('|').unwrap();
        let text = text.replace('|', "");
        cursor(&text, offset)
    }

    fn keys(path: &[Segment]) -> Vec<String> {
        path.iter().map(|s| if let Segment::Key(k) = s { k.clone() } else { "-".into() }).collect()
    }

    #[test]
    fn root_keys_in_an_empty_file_and_on_a_half_typed_line() {
        let c = at("|");
        assert_eq!((c.path.len(), &c.slot, c.prefix.as_str()), (0, &Slot::Key, ""));
        let c = at("name: x\nout|\nid: y\n");
        assert_eq!((c.path.len(), c.prefix.as_str()), (0, "out"));
        assert_eq!(c.siblings, ["name", "id"]);
    }

    #[test]
    fn nested_mappings_and_sequence_items() {
        let c = at("services:\n  api:\n    ports: []\n    |\n");
        assert_eq!(keys(&c.path), ["services", "api"]);
        assert_eq!(c.siblings, ["ports"]);
        let c = at("tasks:\n  - id: a\n    title: x\n  - id: b\n    dep|\n");
        assert_eq!(keys(&c.path), ["tasks", "-"]);
        assert_eq!(c.siblings, ["id"]);
        let c = at("tasks:\n- id: a\n  dependencies: [x, |]\n");
        assert_eq!(
            (keys(&c.path), c.slot),
            (vec!["tasks".into(), "-".into(), "dependencies".into(), "-".into()], Slot::Value)
        );
        let c = at("tasks:\n  - id: a\n    dependencies:\n      - |\n");
        assert_eq!(keys(&c.path), ["tasks", "-", "dependencies", "-"]);
        assert!(c.after_dash);
    }

    #[test]
    fn values_on_the_key_line() {
        let c = at("outcome_type: \"we|b\"\n");
        assert_eq!((keys(&c.path), c.slot, c.prefix.as_str()), (vec!["outcome_type".into()], Slot::Value, "we"));
        let c = at("a:\r\n  b: |\r\n");
        assert_eq!(keys(&c.path), ["a", "b"]);
    }
}
