//! The block structure of a YAML text, read from saphyr's events, as layout decisions per
//! line: the new indentation of every line that starts a key, a `-` or a node of its own, the
//! shift of every line inside a multi-line scalar or flow collection (which moves with the
//! block that holds it, so its meaning stays), and the gaps to normalise (`key  :   v`).
//!
//! Block collections nest by `width` spaces; a collection that starts on its parent's `- `
//! line (`- a: 1`, `- - x`) sits two columns after the dash. Anything else that shares a line
//! with its parent in a way this table does not cover (a collection as an explicit key, a
//! collection after properties on a `-` line) is [`Unsupported`]: the file is left as written.

use std::panic::{catch_unwind, AssertUnwindSafe};

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::lines::{line_of, Line, Rule};
use crate::fmt::Unsupported;
use crate::span::Span;

/// The layout decisions for one text.
pub(super) struct Layout {
    pub rules: Vec<Rule>,
    /// `(start, end, replacement)` on structural lines, sorted by start.
    pub gaps: Vec<(usize, usize, &'static str)>,
    /// Lines whose trailing blanks belong to a scalar that continues on the next line.
    pub keep_trailing: Vec<bool>,
    /// For each line that starts with `#`: the block collections open there, `(old, new)`
    /// columns, outermost first.
    pub open_at_comment: Vec<Option<Vec<(usize, usize)>>>,
}

#[derive(Clone, Copy, Debug)]
struct Key {
    end: usize,
    line: usize,
    /// The space before `:` stays: after an alias or a key that is only properties, `:`
    /// would become part of the name.
    keep_space: bool,
}

#[derive(Debug)]
struct Frame {
    map: bool,
    flow: bool,
    /// Column of the keys or dashes, before and after.
    old: usize,
    new: usize,
    start_line: usize,
    /// End of the last child.
    last_end: usize,
    /// A mapping whose next node is a value.
    expecting_value: bool,
    pending_key: Option<Key>,
    /// Where a flow collection's bracket is.
    bracket: usize,
}

/// What a node is to its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Root,
    Key,
    Value,
    Item,
}

struct Walker<'t> {
    text: &'t str,
    bytes: &'t [u8],
    lines: &'t [Line],
    width: usize,
    chars: CharOffsets<'t>,
    stack: Vec<Frame>,
    layout: Layout,
    /// Lines starting with `#`, in order, and how many have their context recorded.
    hash_lines: Vec<usize>,
    next_hash: usize,
    last_event_end: usize,
}

/// Reads the structure of `text` (already known to parse without errors).
pub(super) fn layout(text: &str, lines: &[Line], width: usize) -> Result<Layout, Unsupported> {
    let bytes = text.as_bytes();
    let hash_lines = (0..lines.len()).filter(|&i| bytes.get(lines[i].first()) == Some(&b'#')).collect();
    let mut walker = Walker {
        text,
        bytes,
        lines,
        width,
        chars: CharOffsets::new(text),
        stack: Vec::new(),
        layout: Layout {
            rules: vec![Rule::Open; lines.len()],
            gaps: Vec::new(),
            keep_trailing: vec![false; lines.len()],
            open_at_comment: vec![None; lines.len()],
        },
        hash_lines,
        next_hash: 0,
        last_event_end: 0,
    };
    let run = catch_unwind(AssertUnwindSafe(|| walker.walk()));
    match run {
        Ok(Ok(())) => {
            walker.layout.gaps.sort_unstable();
            Ok(walker.layout)
        }
        Ok(Err(unsupported)) => Err(unsupported),
        Err(_) => Err(Unsupported { span: Span::at(0), what: "the YAML parser failed on this text".into() }),
    }
}

impl Walker<'_> {
    fn walk(&mut self) -> Result<(), Unsupported> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| {
                let at = self.chars.byte(e.marker().index());
                Unsupported { span: Span::at(at), what: format!("the YAML parser stopped here: {}", e.info()) }
            })?;
            let (s, e) = (self.chars.byte(span.start.index()), self.chars.byte(span.end.index()));
            self.note_comments_before(s);
            match event {
                Event::Scalar(value, style, anchor, tag) => {
                    let no_text = value.is_empty() && style == ScalarStyle::Plain;
                    let empty = no_text && anchor == 0 && tag.is_none() && s == e;
                    self.scalar(style, s, e, no_text, empty)?;
                }
                Event::Alias(_) => self.leaf(s, e)?,
                Event::SequenceStart(..) => self.open(false, s, e)?,
                Event::MappingStart(..) => self.open(true, s, e)?,
                Event::SequenceEnd | Event::MappingEnd => self.close(s)?,
                Event::DocumentStart(_) | Event::DocumentEnd => {
                    self.stack.clear();
                    continue;
                }
                Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
            }
            self.last_event_end = self.last_event_end.max(e);
        }
        self.note_comments_before(usize::MAX);
        Ok(())
    }

    /// Records the open block collections for every `#` line before `offset`.
    fn note_comments_before(&mut self, offset: usize) {
        while let Some(&line) = self.hash_lines.get(self.next_hash) {
            if self.lines[line].start >= offset {
                break;
            }
            let open = self.stack.iter().filter(|f| !f.flow).map(|f| (f.old, f.new)).collect();
            self.layout.open_at_comment[line] = Some(open);
            self.next_hash += 1;
        }
    }

    fn in_flow(&self) -> bool {
        self.stack.iter().any(|f| f.flow)
    }

    fn line(&self, offset: usize) -> usize {
        line_of(self.lines, offset)
    }

    fn col(&self, offset: usize) -> usize {
        offset - self.lines[self.line(offset)].start
    }

    fn first_on_line(&self, offset: usize) -> bool {
        self.lines[self.line(offset)].first() == offset
    }

    fn role(&self) -> Role {
        match self.stack.last() {
            None => Role::Root,
            Some(f) if !f.map => Role::Item,
            Some(f) if f.expecting_value => Role::Value,
            Some(_) => Role::Key,
        }
    }

    /// The shift of lines inside a node whose parent is the innermost block collection.
    fn owner_delta(&self) -> isize {
        self.stack.iter().rev().find(|f| !f.flow).map_or(0, |f| f.new as isize - f.old as isize)
    }

    fn owner_old(&self) -> Option<usize> {
        self.stack.iter().rev().find(|f| !f.flow).map(|f| f.old)
    }

    fn decide(&mut self, line: usize, rule: Rule) {
        if self.layout.rules[line] == Rule::Open {
            self.layout.rules[line] = rule;
        }
    }

    fn unsupported(&self, at: usize, what: &str) -> Unsupported {
        let line = &self.lines[self.line(at)];
        Unsupported { span: Span::new(line.first(), line.end), what: what.to_string() }
    }

    /// A node starts at `s` (its properties included): its line, its gaps.
    fn node_starts(&mut self, s: usize) {
        match self.role() {
            Role::Root => {
                if self.first_on_line(s) {
                    let indent = self.lines[self.line(s)].indent;
                    self.decide(self.line(s), Rule::Indent(indent));
                }
            }
            Role::Key => {}
            Role::Value => {
                self.value_gaps(Some(s));
                if self.first_on_line(s) {
                    let new = self.parent_new() + self.width;
                    self.decide(self.line(s), Rule::Indent(new));
                }
            }
            Role::Item => {
                if self.first_on_line(s) {
                    let new = self.parent_new() + self.width;
                    self.decide(self.line(s), Rule::Indent(new));
                } else if let Some(dash) = self.dash_before(s) {
                    self.layout.gaps.push((dash + 1, s, " "));
                }
            }
        }
    }

    fn parent_new(&self) -> usize {
        self.stack.last().map_or(0, |f| f.new)
    }

    /// The parent sequence's `-` on the line of `s`, when only spaces separate them.
    fn dash_before(&self, s: usize) -> Option<usize> {
        let parent = self.stack.last()?;
        let dash = self.lines[self.line(s)].start + parent.old;
        let ok =
            dash < s && self.bytes[dash] == b'-' && self.bytes[dash + 1..s].iter().all(|&b| b == b' ') && dash + 1 < s;
        ok.then_some(dash)
    }

    /// `key  :   value` → `key: value` (`value_start`: `None` for an empty value).
    fn value_gaps(&mut self, value_start: Option<usize>) {
        let Some(key) = self.stack.last_mut().and_then(|f| f.pending_key.take()) else { return };
        let line_end = self.lines[key.line].end;
        let after_key = self.bytes[key.end..line_end].iter().take_while(|&&b| b == b' ').count();
        let colon = key.end + after_key;
        if self.bytes.get(colon) != Some(&b':') {
            return;
        }
        if !key.keep_space && after_key > 0 {
            self.layout.gaps.push((key.end, colon, ""));
        }
        let Some(s) = value_start else { return };
        let same_line = s > colon + 1 && s <= line_end;
        if same_line && self.bytes[colon + 1..s].iter().all(|&b| b == b' ') {
            self.layout.gaps.push((colon + 1, s, " "));
        }
    }

    /// A node has ended at `end`: the parent's bookkeeping.
    fn child_done(&mut self, end: usize, key: Option<Key>) {
        let Some(parent) = self.stack.last_mut() else { return };
        parent.last_end = parent.last_end.max(end);
        if parent.map {
            if parent.expecting_value {
                parent.pending_key = None;
            } else {
                parent.pending_key = key;
            }
            parent.expecting_value = !parent.expecting_value;
        }
    }

    fn leaf(&mut self, s: usize, e: usize) -> Result<(), Unsupported> {
        if self.in_flow() {
            self.child_done(e, None);
            return Ok(());
        }
        let role = self.role();
        self.node_starts(s);
        let key = (role == Role::Key).then(|| Key { end: e, line: self.line(e), keep_space: true });
        self.child_done(e, key);
        Ok(())
    }

    fn scalar(
        &mut self,
        style: ScalarStyle,
        s: usize,
        e: usize,
        no_text: bool,
        empty: bool,
    ) -> Result<(), Unsupported> {
        if self.in_flow() {
            self.child_done(e, None);
            return Ok(());
        }
        let role = self.role();
        if empty {
            if role == Role::Value {
                self.value_gaps(None);
            } else if role != Role::Item && role != Role::Root {
                return Err(self.unsupported(s, "an empty key"));
            }
            self.child_done(s, None);
            return Ok(());
        }
        let end = match style {
            ScalarStyle::Literal | ScalarStyle::Folded => self.block_scalar(s, e)?,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                self.node_starts(s);
                let end = quoted_end(self.bytes, s, e);
                self.continuation(s, end, false);
                end
            }
            ScalarStyle::Plain => {
                self.node_starts(s);
                let end = trim_end(self.bytes, s, e);
                self.continuation(s, end, true);
                end
            }
        };
        let key = (role == Role::Key).then(|| Key { end, line: self.line(end), keep_space: no_text });
        self.child_done(end, key);
        Ok(())
    }

    /// The lines after the first of a plain or quoted scalar (`s..end`) move with its block.
    fn continuation(&mut self, s: usize, end: usize, plain: bool) {
        let (first, last) = (self.line(s), self.line(end.saturating_sub(1).max(s)));
        if first == last {
            return;
        }
        let delta = self.owner_delta();
        for line in first + 1..=last {
            self.decide(line, Rule::Shift { delta, strip: plain, block: None });
        }
        if !plain {
            for keep in &mut self.layout.keep_trailing[first..last] {
                *keep = true;
            }
        }
    }

    /// A `|` or `>` scalar: its body lines (with the blank lines it keeps) move with its
    /// block. Returns the end of its last body line.
    fn block_scalar(&mut self, s: usize, e: usize) -> Result<usize, Unsupported> {
        let from = self.last_event_end.min(s);
        let Some(header) = block_header(self.bytes, from, e) else {
            return Err(self.unsupported(s, "a block scalar whose header was not found"));
        };
        // The scalar starts at its properties or its header, not at its body.
        self.node_starts(s.min(header));
        let header_line = self.line(header);
        let header_text = &self.bytes[header..self.lines[header_line].end];
        let keep = header_text.iter().take_while(|&&b| b != b'#').any(|&b| b == b'+');
        let owner = self.owner_old();
        let mut body = Vec::new();
        for line in header_line + 1..self.lines.len() {
            let l = self.lines[line];
            if l.is_blank(self.bytes) {
                body.push(line);
                continue;
            }
            let ends = owner.is_some_and(|n| l.indent <= n) || is_document_marker(&self.bytes[l.start..l.end]);
            if ends {
                break;
            }
            body.push(line);
        }
        if !keep {
            // Trailing blank lines are not content, unless indented past the parent (then
            // they may hold the body's spaces).
            let floor = owner.unwrap_or(0);
            while body.last().is_some_and(|&l| self.lines[l].is_blank(self.bytes) && self.lines[l].indent <= floor) {
                body.pop();
            }
        }
        // Without an indentation indicator the body's indentation is free: it goes one level
        // below its parent. With one, it stays relative to the parent.
        let explicit = header_text.iter().take_while(|&&b| b != b'#').any(u8::is_ascii_digit);
        let first_content = body.iter().map(|&l| self.lines[l]).find(|l| !l.is_blank(self.bytes));
        let delta = match (owner, first_content, self.stack.iter().rev().find(|f| !f.flow)) {
            (Some(_), Some(first), Some(parent)) if !explicit => {
                (parent.new + self.width) as isize - first.indent as isize
            }
            _ => self.owner_delta(),
        };
        let block = Some(owner.unwrap_or(0));
        for &line in &body {
            self.decide(line, Rule::Shift { delta, strip: false, block });
        }
        let end = body.last().map_or(trim_end(self.bytes, s, e), |&l| self.lines[l].end);
        Ok(end.max(s))
    }

    fn open(&mut self, map: bool, s: usize, e: usize) -> Result<(), Unsupported> {
        // Properties never hold a bracket, so one before the event's end opens a flow collection.
        let flow = self.bytes[s.min(e)..e].iter().any(|&b| b == b'[' || b == b'{');
        if flow || self.in_flow() {
            if !self.in_flow() {
                self.node_starts(s);
            }
            self.stack.push(Frame {
                map,
                flow: true,
                old: 0,
                new: 0,
                start_line: 0,
                last_end: e,
                expecting_value: false,
                pending_key: None,
                bracket: s + self.bytes[s..e].iter().position(|&b| b == b'[' || b == b'{').unwrap_or(0),
            });
            return Ok(());
        }
        let pos = if map { self.key_position(e) } else { self.dash_position(e) }
            .ok_or_else(|| self.unsupported(s, "a block collection this formatter could not place"))?;
        let role = self.role();
        let first = self.first_on_line(pos);
        let new = match role {
            Role::Root if first => 0,
            Role::Value if first => {
                self.value_gaps(Some(s));
                self.parent_new() + self.width
            }
            Role::Item if first => {
                // `-` alone on its line, the collection below it.
                if s < pos && !self.first_on_line(s) {
                    if let Some(dash) = self.dash_before(s) {
                        self.layout.gaps.push((dash + 1, s, " "));
                    }
                }
                self.parent_new() + self.width
            }
            Role::Item if s == pos && self.dash_before(pos).is_some() => {
                if let Some(dash) = self.dash_before(pos) {
                    self.layout.gaps.push((dash + 1, pos, " "));
                }
                self.parent_new() + 2
            }
            _ => return Err(self.unsupported(pos, "a block collection on the line of its key or properties")),
        };
        // Properties alone on the line above the collection go where it goes.
        if s < pos && self.first_on_line(s) && self.line(s) < self.line(pos) {
            self.decide(self.line(s), Rule::Indent(new));
        }
        let old = self.col(pos);
        let start_line = self.line(pos);
        self.stack.push(Frame {
            map,
            flow: false,
            old,
            new,
            start_line,
            last_end: pos,
            expecting_value: false,
            pending_key: None,
            bracket: 0,
        });
        Ok(())
    }

    /// A collection ends (`s`: a flow collection's closing bracket).
    fn close(&mut self, s: usize) -> Result<(), Unsupported> {
        let Some(frame) = self.stack.pop() else { return Ok(()) };
        if frame.flow {
            if !self.in_flow() {
                let first = self.line(frame.bracket);
                let last = self.line(self.closing_bracket(s).max(frame.bracket));
                let delta = self.owner_delta();
                for line in first + 1..=last {
                    self.decide(line, Rule::Shift { delta, strip: false, block: None });
                }
                if last > first {
                    self.layout.keep_trailing[first] = true;
                }
            }
            self.child_done(s + 1, None);
            return Ok(());
        }
        // The keys (or dashes) of this collection: every undecided line in its range that
        // starts at its column.
        let last = self.line(frame.last_end.saturating_sub(1).max(self.lines[frame.start_line].start));
        for line in frame.start_line..=last {
            let l = self.lines[line];
            let starts_here = l.indent == frame.old && !l.is_blank(self.bytes) && self.bytes[l.first()] != b'#';
            let is_dash = self.bytes[l.first()..l.end].first() == Some(&b'-');
            if starts_here && (frame.map || is_dash) {
                if frame.map && is_explicit_indicator(&self.bytes[l.first()..l.end]) {
                    return Err(self.unsupported(l.first(), "an explicit key (`? key`) or value (`: value`) line"));
                }
                self.decide(line, Rule::Indent(frame.new));
            }
        }
        self.child_done(frame.last_end, None);
        Ok(())
    }

    /// The `]` or `}` that closes a flow collection whose end event starts at `s`.
    fn closing_bracket(&self, s: usize) -> usize {
        let mut at = s;
        while let Some(&b) = self.bytes.get(at) {
            match b {
                b']' | b'}' => return at,
                b'#' => at += self.bytes[at..].iter().position(|&b| b == b'\n').unwrap_or(1),
                _ => at += 1,
            }
        }
        s
    }

    /// The first key of a block mapping whose start event ends at `e`.
    fn key_position(&self, e: usize) -> Option<usize> {
        let skip = self.bytes.get(e..)?.iter().take_while(|&&b| b == b' ').count();
        (e + skip < self.bytes.len()).then_some(e + skip)
    }

    /// The first `-` of a block sequence whose start event ends at `e`: there, or (a
    /// sequence at its key's column) just before, where `e` is its first item.
    fn dash_position(&self, e: usize) -> Option<usize> {
        if self.bytes.get(e) == Some(&b'-') {
            return Some(e);
        }
        let spaces = self.bytes.get(..e)?.iter().rev().take_while(|&&b| b == b' ').count();
        let dash = e.checked_sub(spaces + 1)?;
        (self.bytes[dash] == b'-').then_some(dash)
    }
}

/// `?` or `:` as an indicator at the start of a line's content.
fn is_explicit_indicator(content: &[u8]) -> bool {
    matches!(content.first(), Some(b'?' | b':')) && content.get(1).is_none_or(|b| matches!(b, b' ' | b'\t'))
}

/// `---` or `...` at the start of a line, alone or before a space.
pub(super) fn is_document_marker(line: &[u8]) -> bool {
    (line.starts_with(b"---") || line.starts_with(b"...")) && line.get(3).is_none_or(|b| matches!(b, b' ' | b'\t'))
}

/// Just past the closing quote of a quoted scalar starting at or after `start`.
fn quoted_end(bytes: &[u8], start: usize, end: usize) -> usize {
    let Some(open) = bytes[start..end].iter().position(|&b| b == b'\'' || b == b'"').map(|p| start + p) else {
        return end;
    };
    let quote = bytes[open];
    let mut at = open + 1;
    while at < end {
        match bytes[at] {
            b'\\' if quote == b'"' => at += 2,
            b'\'' if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') => at += 2,
            b if b == quote => return at + 1,
            _ => at += 1,
        }
    }
    end
}

/// The `|` or `>` of a block scalar, searched from `from` (the end of the previous event) up
/// to `end`, skipping comments and the scalar's properties (an anchor may contain `|`).
fn block_header(bytes: &[u8], from: usize, end: usize) -> Option<usize> {
    let end = end.min(bytes.len());
    let mut at = from;
    while at < end {
        let token_start = at == 0 || bytes[at - 1].is_ascii_whitespace();
        match bytes[at] {
            b'|' | b'>' if token_start => return Some(at),
            b'"' | b'\'' if token_start => at = quoted_end(bytes, at, end).max(at + 1),
            b'#' if token_start => {
                at += bytes[at..end].iter().position(|&b| b == b'\n').unwrap_or(end - at);
            }
            b'&' | b'!' if token_start => {
                at += bytes[at..end].iter().position(|b| b.is_ascii_whitespace()).unwrap_or(end - at);
            }
            _ => at += 1,
        }
    }
    None
}

/// `end` moved back over trailing blanks and line breaks, not before `start`.
fn trim_end(bytes: &[u8], start: usize, end: usize) -> usize {
    let end = end.min(bytes.len());
    let trailing = bytes[start.min(end)..end].iter().rev().take_while(|b| matches!(b, b' ' | b'\t' | b'\n')).count();
    end - trailing
}

/// saphyr's character indices as byte offsets. Events arrive in text order, so a cursor
/// walks forward from the last answer; a step back restarts from the nearest checkpoint (one
/// every [`CHECKPOINT`] characters). A table of every character's offset would cost eight
/// bytes per character, and for a large file its page faults alone cost more than the parse.
struct CharOffsets<'t> {
    bytes: &'t [u8],
    ascii: bool,
    /// Byte offset of every `CHECKPOINT`th character.
    checkpoints: Vec<usize>,
    /// The last answer: (character index, byte offset).
    cursor: std::cell::Cell<(usize, usize)>,
}

const CHECKPOINT: usize = 1024;

impl<'t> CharOffsets<'t> {
    fn new(text: &'t str) -> CharOffsets<'t> {
        let ascii = text.is_ascii();
        let checkpoints =
            if ascii { Vec::new() } else { text.char_indices().step_by(CHECKPOINT).map(|(b, _)| b).collect() };
        CharOffsets { bytes: text.as_bytes(), ascii, checkpoints, cursor: std::cell::Cell::new((0, 0)) }
    }

    fn byte(&self, index: usize) -> usize {
        let len = self.bytes.len();
        if self.ascii {
            return index.min(len);
        }
        let (mut char_at, mut byte_at) = self.cursor.get();
        if index < char_at {
            let mark = (index / CHECKPOINT).min(self.checkpoints.len().saturating_sub(1));
            (char_at, byte_at) = (mark * CHECKPOINT, self.checkpoints.get(mark).copied().unwrap_or(0));
        }
        while char_at < index && byte_at < len {
            byte_at += 1;
            // Continuation bytes (0b10xxxxxx) belong to the character before.
            while byte_at < len && self.bytes[byte_at] & 0xc0 == 0x80 {
                byte_at += 1;
            }
            char_at += 1;
        }
        self.cursor.set((char_at, byte_at));
        byte_at
    }
}

#[cfg(test)]
mod tests {
    use super::CharOffsets;

    #[test]
    fn character_indices_map_to_byte_offsets_in_any_order() {
        let text: String = (0..5000).map(|i| if i % 3 == 0 { "é→x" } else { "ab" }).collect();
        let table: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        let offsets = CharOffsets::new(&text);
        for index in [0, 1, 7, 4000, 3999, 1023, 1024, 1025, 9000, 2, table.len() - 1, table.len(), table.len() + 5] {
            let expected = table.get(index).copied().unwrap_or(text.len());
            assert_eq!(offsets.byte(index), expected, "character {index}");
        }
    }
}
