//! A fast path for the YAML that spec files actually contain, exactly equivalent to the slow path.
//!
//! saphyr (driven by `recover` into `build`) is the reference: it handles all of YAML 1.2 and
//! error recovery, but its event stream costs most of a bulk check's time. This module parses
//! the common subset in one pass over the bytes, without events: block mappings and sequences
//! (compact `- key: value` included), plain scalars (continuation lines included), one-line
//! quoted scalars, `|`/`>` block scalars (without indentation indicators), one-line flow collections,
//! comments, blank lines and a leading `---`, with `\n` or `\r\n` line breaks.
//!
//! It returns `Some` only when its documents are exactly what the slow path would build for the
//! same text with no diagnostics: same values (resolved by `scalar`, keys finished by `keys`),
//! styles and spans, including saphyr's span quirks that `build` passes on (a flow collection
//! followed by blanks or a comment ends at its last child; a block collection at the end of a
//! text whose last byte is `]` or `}` extends to the end). Anything else (anchors, aliases,
//! tags, `?` keys, multi-line quoted scalars and flow collections, directives, several
//! documents, tabs, a lone `\r`, duplicate or `<<` keys, unusual characters, or any construct
//! whose meaning is not certain) returns `None`, and the caller falls back to the slow path. A wrong `Some` is a
//! correctness bug; a `None` only costs speed. `tests/yaml_fast_equivalence.rs` holds the two
//! paths to each other over the YAML test suite, the fixtures, generated specs and mutations.

use super::build::MAX_DEPTH;
use super::keys::finish_mapping;
use super::scalar::resolve_plain;
use super::tree::{Document, Entry, Node, Style, Value};
use crate::span::Span;

/// Nesting allowed on the fast path: far below the slow path's limit, so depth diagnostics
/// are never involved, and shallow enough for the recursion of flow collections to be harmless
/// on any thread's stack. Spec files nest fewer than 10 levels.
const MAX_FAST_DEPTH: usize = MAX_DEPTH / 4;

/// Longest implicit key accepted: YAML limits implicit keys to 1024 characters, and bytes are
/// never fewer than characters, so staying below this keeps clear of that rule.
const MAX_KEY_BYTES: usize = 1000;

/// Parses `text` if it is inside the fast subset; `None` means "use the slow path".
pub(super) fn parse(text: &str) -> Option<Vec<Document>> {
    if !printable(text) {
        return None;
    }
    let mut parser = Parser::new(text);
    parser.run()?;
    parser.finish()
}

/// Whether every character is one the fast path knows the meaning of: printable ASCII, line
/// feeds and `\r\n`, and non-ASCII characters other than C1 controls (NEL among them), the
/// Unicode line and paragraph separators, the byte order mark and the non-characters
/// U+FFFE/U+FFFF. Tabs and a `\r` on its own are left to the slow path (the rules for tabs in
/// indentation and separation are subtle; a lone `\r` is a line break of its own).
fn printable(text: &str) -> bool {
    // Whole chunks without an early exit, so the common check compiles to vector instructions.
    let ascii_ok = |chunk: &[u8]| chunk.iter().fold(true, |ok, &b| ok & ((b' '..0x7f).contains(&b) | (b == b'\n')));
    if text.as_bytes().chunks(64).all(ascii_ok) {
        return true;
    }
    let bytes = text.as_bytes();
    text.char_indices().all(|(at, c)| match c {
        ' '..='~' | '\n' => true,
        '\r' => bytes.get(at + 1) == Some(&b'\n'),
        '\0'..='\u{9f}' => false,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    })
}

/// A block collection being built.
struct Frame {
    seq: bool,
    /// Column of the `-` or of the keys.
    indent: usize,
    start: usize,
    /// End of the furthest child so far (the builder's `frame.end`).
    end: usize,
    /// Where this frame's children start in `Parser::items` or `Parser::entries`.
    base: usize,
    /// A mapping key waiting for its value.
    key: Option<Node>,
    /// Set while the last `-` or `key:` has no value on its line: where saphyr puts the empty
    /// scalar if no more-indented line supplies one (the `:` of a key; the end of a `-` token).
    null_at: Option<usize>,
    /// A sequence at the same column as its parent mapping's keys (`key:\n- item`).
    indentless: bool,
}

/// What starts at a position in block context.
enum Start {
    Key(Node, usize),
    Scalar(Node, usize),
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    frames: Vec<Frame>,
    /// Items of every open sequence (block and flow), each frame's from its `base` on.
    items: Vec<Node>,
    /// Entries of every open mapping, likewise.
    entries: Vec<Entry>,
    root: Option<Node>,
    doc_start: Option<usize>,
    /// Start and end (its `\r\n` or `\n`, or the text's end) of the current line, and where
    /// the next line starts.
    line_start: usize,
    line_end: usize,
    next_line: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Parser<'t> {
        Parser {
            text,
            bytes: text.as_bytes(),
            // Sized for a typical spec file, so the stacks rarely grow.
            frames: Vec::with_capacity(16),
            items: Vec::with_capacity(32),
            entries: Vec::with_capacity(64),
            root: None,
            doc_start: None,
            line_start: 0,
            line_end: 0,
            next_line: 0,
        }
    }

    /// The byte at `at` on the current line, or 0 (never in accepted text) past its end.
    #[inline]
    fn at(&self, at: usize) -> u8 {
        if at < self.line_end {
            self.bytes[at]
        } else {
            0
        }
    }

    /// Where the content of the line starting at `from` ends (before its `\r\n` or `\n`, or
    /// at the end of the text), and where the next line starts.
    fn line_bounds(&self, from: usize) -> (usize, usize) {
        let newline = self.find_newline(from);
        let end = if newline > from && self.bytes[newline - 1] == b'\r' { newline - 1 } else { newline };
        (end, newline + 1)
    }

    /// The first `\n` at or after `from`, or the end of the text.
    fn find_newline(&self, from: usize) -> usize {
        let rest = self.bytes.get(from..).unwrap_or_default();
        // Eight bytes at a time: a zero byte in `word ^ 0x0a0a..` marks a `\n` (the classic
        // has-zero-byte test; its lowest set bit is exact, which is the one used).
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let mut chunks = rest.chunks_exact(8);
        let mut offset = 0;
        for chunk in chunks.by_ref() {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b'\n'));
            let found = x.wrapping_sub(ONES) & !x & HIGHS;
            if found != 0 {
                return from + offset + (found.trailing_zeros() / 8) as usize;
            }
            offset += 8;
        }
        chunks.remainder().iter().position(|&b| b == b'\n').map_or(self.bytes.len(), |p| from + offset + p)
    }

    /// The first position at or after `from` on the current line that is not a space.
    #[inline]
    fn skip_spaces(&self, from: usize) -> usize {
        let mut at = from;
        while at < self.line_end && self.bytes[at] == b' ' {
            at += 1;
        }
        at
    }

    fn run(&mut self) -> Option<()> {
        let len = self.bytes.len();
        let mut pos = 0;
        while pos < len {
            self.line_start = pos;
            (self.line_end, self.next_line) = self.line_bounds(pos);
            let content = self.skip_spaces(pos);
            if content == self.line_end || self.bytes[content] == b'#' {
                pos = self.next_line;
                continue;
            }
            let indent = content - pos;
            if indent == 0 && (self.bytes[pos..].starts_with(b"---") || self.bytes[pos..].starts_with(b"...")) {
                self.document_start(pos)?;
                pos = self.next_line;
                continue;
            }
            pos = self.line(content, indent)?;
        }
        while !self.frames.is_empty() {
            self.close(true)?;
        }
        Some(())
    }

    fn finish(self) -> Option<Vec<Document>> {
        let Some(start) = self.doc_start else {
            // Only comments and blank lines: saphyr reports no document at all.
            return self.root.is_none().then(Vec::new);
        };
        let end = self.root.as_ref().map_or(0, |r| r.span.end).max(self.bytes.len());
        Some(vec![Document { root: self.root, span: Span::new(start, end) }])
    }

    /// A `---` line: accepted only as the first thing in the text, alone or with a comment.
    fn document_start(&mut self, pos: usize) -> Option<()> {
        if self.doc_start.is_some() || !self.bytes[pos..].starts_with(b"---") {
            return None;
        }
        let after = pos + 3;
        let rest = self.skip_spaces(after);
        let alone = after == self.line_end || rest == self.line_end || (rest > after && self.bytes[rest] == b'#');
        if !alone {
            return None;
        }
        self.doc_start = Some(pos);
        Some(())
    }

    /// One content line whose first non-space byte is at `content`; returns where the next
    /// line starts (after a block scalar, past its content lines).
    fn line(&mut self, content: usize, indent: usize) -> Option<usize> {
        while self.frames.last().is_some_and(|top| top.indent > indent) {
            self.close(false)?;
        }
        let dash = self.is_dash(content);
        let Some(top) = self.frames.last() else {
            if self.root.is_some() {
                return None;
            }
            self.doc_start.get_or_insert(content);
            return self.node(content, false);
        };
        if top.indent < indent {
            // Only a `-` or `key:` still waiting for its value may have a deeper line.
            top.null_at?;
            return self.node(content, false);
        }
        if top.seq {
            if dash {
                self.flush()?;
                return self.seq_entry(content);
            }
            if !top.indentless {
                return None;
            }
            // `key:\n- a\nnext:` the indentless sequence ends at the next key of its mapping.
            self.close(false)?;
            return self.key_line(content);
        }
        let awaiting = top.null_at.is_some();
        if dash {
            if !awaiting {
                return None;
            }
            let start = self.dash_token_end(content);
            self.open(true, indent, start, true)?;
            return self.seq_entry(content);
        }
        self.flush()?;
        self.key_line(content)
    }

    /// Whether a `-` block entry indicator is at `at`.
    #[inline]
    fn is_dash(&self, at: usize) -> bool {
        self.at(at) == b'-' && (at + 1 == self.line_end || self.at(at + 1) == b' ')
    }

    /// Where saphyr's `-` token ends: it swallows the blanks after it, and a comment.
    fn dash_token_end(&self, dash: usize) -> usize {
        let after = self.skip_spaces(dash + 1);
        if after < self.line_end && self.bytes[after] == b'#' {
            self.line_end
        } else {
            after
        }
    }

    /// A node starting at `at`: a block collection opened there, or a complete value.
    fn node(&mut self, at: usize, block_scalar_allowed: bool) -> Option<usize> {
        let column = at - self.line_start;
        if self.is_dash(at) {
            self.open(true, column, at, false)?;
            return self.seq_entry(at);
        }
        match self.bytes[at] {
            b'[' | b'{' => {
                let (node, end) = self.flow(at, self.frames.len() + 1)?;
                self.push(node);
                self.rest_of_line(end)
            }
            b'|' | b'>' if block_scalar_allowed => self.block_scalar(at),
            _ => match self.key_or_scalar(at)? {
                Start::Key(key, colon) => {
                    self.open(false, column, at, false)?;
                    self.push(key);
                    self.value_after_colon(colon)
                }
                Start::Scalar(mut node, mut end) => {
                    // A root scalar on several lines is left to saphyr.
                    if node.style == Style::Plain && !self.frames.is_empty() && self.skip_spaces(end) == self.line_end {
                        node = self.continue_plain(node)?;
                        end = node.span.end;
                    }
                    self.push(node);
                    self.rest_of_line(end)
                }
            },
        }
    }

    /// `- ...` in the sequence on top of the stack.
    fn seq_entry(&mut self, dash: usize) -> Option<usize> {
        let after = self.skip_spaces(dash + 1);
        if after == self.line_end || self.bytes[after] == b'#' {
            let null_at = self.dash_token_end(dash);
            self.frames.last_mut()?.null_at = Some(null_at);
            return Some(self.next_line);
        }
        self.node(after, true)
    }

    /// A `key: ...` line in the mapping on top of the stack.
    fn key_line(&mut self, at: usize) -> Option<usize> {
        match self.key_or_scalar(at)? {
            Start::Key(key, colon) => {
                self.push(key);
                self.value_after_colon(colon)
            }
            Start::Scalar(..) => None,
        }
    }

    /// The value of a key whose `:` is at `colon`, on the same line or (if none) later.
    fn value_after_colon(&mut self, colon: usize) -> Option<usize> {
        let at = self.skip_spaces(colon + 1);
        if at == self.line_end || self.bytes[at] == b'#' {
            self.frames.last_mut()?.null_at = Some(colon);
            return Some(self.next_line);
        }
        match self.bytes[at] {
            b'[' | b'{' => {
                let (node, end) = self.flow(at, self.frames.len() + 1)?;
                self.push(node);
                self.rest_of_line(end)
            }
            b'|' | b'>' => self.block_scalar(at),
            b'"' | b'\'' => {
                let (node, end) = self.quoted(at)?;
                self.push(node);
                self.rest_of_line(end)
            }
            _ => {
                if !self.plain_start(at) {
                    return None;
                }
                let (stop, colon) = self.scan_plain_block(at);
                if colon {
                    return None;
                }
                let end = self.trim_spaces(at, stop);
                let mut node = self.plain(at, end)?;
                if stop == self.line_end {
                    node = self.continue_plain(node)?;
                }
                let end = node.span.end;
                self.push(node);
                self.rest_of_line(end)
            }
        }
    }

    /// A block plain scalar whose first line ended with `node` (no comment after it) takes in
    /// the following lines indented deeper than its collection, as saphyr does: each line
    /// break becomes a space, or `\n` per empty line when there are empty lines. A continuation
    /// line must hold plain text (no indicator first, no `: `); one that ends in a comment is the
    /// last. On return the current line is the last one taken.
    fn continue_plain(&mut self, node: Node) -> Option<Node> {
        let parent = self.frames.last()?.indent;
        let source = self.text;
        let first = source.get(node.span.start..node.span.end)?;
        let mut joined: Option<String> = None;
        let mut end = node.span.end;
        let mut empty_lines = 0;
        let mut pos = self.next_line;
        loop {
            let mut content = pos;
            while self.bytes.get(content) == Some(&b' ') {
                content += 1;
            }
            match self.bytes.get(content) {
                None => break,
                Some(b'\n') => {
                    empty_lines += 1;
                    pos = content + 1;
                    continue;
                }
                // Accepted text has `\r` only in `\r\n`.
                Some(b'\r') => {
                    empty_lines += 1;
                    pos = content + 2;
                    continue;
                }
                // A comment line ends the scalar; a deeper line after it is an error the main
                // loop leaves to saphyr.
                Some(b'#') => break,
                Some(_) if content - pos <= parent => break,
                Some(_) => {}
            }
            (self.line_start, self.line_end, self.next_line) = {
                let (line_end, next_line) = self.line_bounds(pos);
                (pos, line_end, next_line)
            };
            if !self.plain_start(content) {
                return None;
            }
            let (stop, colon) = self.scan_plain_block(content);
            if colon {
                return None;
            }
            let line_text_end = self.trim_spaces(content, stop);
            let text = joined.get_or_insert_with(|| first.to_owned());
            match empty_lines {
                0 => text.push(' '),
                n => text.extend(std::iter::repeat_n('\n', n)),
            }
            text.push_str(source.get(content..line_text_end)?);
            end = line_text_end;
            empty_lines = 0;
            pos = self.next_line;
            if stop < self.line_end {
                break;
            }
        }
        let Some(text) = joined else { return Some(node) };
        let value = resolve_plain(&text).unwrap_or(Value::String(text));
        Some(Node { span: Span::new(node.span.start, end), value, style: Style::Plain, tag: None })
    }

    /// After a node ending at `end`: only blanks and a comment may follow on the line.
    fn rest_of_line(&self, end: usize) -> Option<usize> {
        let at = self.skip_spaces(end);
        if at == self.line_end || (at > end && self.bytes[at] == b'#') {
            Some(self.next_line)
        } else {
            None
        }
    }

    /// A key (`x:`, `"x":`) or else a scalar starting at `at`, in block context.
    fn key_or_scalar(&self, at: usize) -> Option<Start> {
        let (node, end) = match self.bytes[at] {
            b'"' | b'\'' => self.quoted(at)?,
            _ => {
                if !self.plain_start(at) {
                    return None;
                }
                let (stop, colon) = self.scan_plain_block(at);
                let end = self.trim_spaces(at, stop);
                let node = self.plain(at, end)?;
                if !colon {
                    return Some(Start::Scalar(node, end));
                }
                // `<<` merges are the slow path's business.
                if node.as_str() == Some("<<") || end - at > MAX_KEY_BYTES {
                    return None;
                }
                return Some(Start::Key(node, stop));
            }
        };
        let colon = self.skip_spaces(end);
        if self.at(colon) == b':' && (colon + 1 == self.line_end || self.at(colon + 1) == b' ') {
            if end - at > MAX_KEY_BYTES {
                return None;
            }
            return Some(Start::Key(node, colon));
        }
        Some(Start::Scalar(node, end))
    }

    /// Whether a plain scalar may start at `at` (no indicator the fast path leaves alone).
    #[inline]
    fn plain_start(&self, at: usize) -> bool {
        match self.at(at) {
            // `-1`, `-x`; but not `- `, `--`, `-#`, which mean other things or need care.
            b'-' => {
                let next = self.at(at + 1);
                at + 1 < self.line_end && (next.is_ascii_alphanumeric() || next == b'.')
            }
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"'
            | b'%' | b'@' | b'`' | b' ' | 0 => false,
            _ => true,
        }
    }

    /// Scans a block plain scalar from `at` to where it stops on this line: a `: `/`:` at the
    /// end of the line (then it was a key: `true`), a ` #` comment, or the end of the line.
    fn scan_plain_block(&self, at: usize) -> (usize, bool) {
        let mut i = at;
        while i < self.line_end {
            match self.bytes[i] {
                b':' if i + 1 == self.line_end || self.bytes[i + 1] == b' ' => return (i, true),
                b'#' if i > at && self.bytes[i - 1] == b' ' => return (i, false),
                _ => i += 1,
            }
        }
        (i, false)
    }

    /// `end` moved back over spaces, not before `start`.
    #[inline]
    fn trim_spaces(&self, start: usize, end: usize) -> usize {
        let mut end = end;
        while end > start && self.bytes[end - 1] == b' ' {
            end -= 1;
        }
        end
    }

    /// A plain scalar spanning `start..end`, resolved by the core schema.
    fn plain(&self, start: usize, end: usize) -> Option<Node> {
        let text = self.text.get(start..end)?;
        let value = resolve_plain(text).unwrap_or_else(|| Value::String(text.to_owned()));
        Some(Node { span: Span::new(start, end), value, style: Style::Plain, tag: None })
    }

    /// A quoted scalar closed on this line; the node and the position after its closing quote.
    fn quoted(&self, open: usize) -> Option<(Node, usize)> {
        let quote = self.bytes[open];
        let mut i = open + 1;
        let mut escaped = false;
        let close = loop {
            if i >= self.line_end {
                return None;
            }
            match self.bytes[i] {
                b'\\' if quote == b'"' => {
                    escaped = true;
                    i += 2;
                }
                b'\'' if quote == b'\'' && self.at(i + 1) == b'\'' => {
                    escaped = true;
                    i += 2;
                }
                b if b == quote => break i,
                _ => i += 1,
            }
        };
        let raw = self.text.get(open + 1..close)?;
        let value = match (escaped, quote) {
            (false, _) => raw.to_owned(),
            (true, b'"') => unescape(raw)?,
            (true, _) => raw.replace("''", "'"),
        };
        let style = if quote == b'"' { Style::DoubleQuoted } else { Style::SingleQuoted };
        let node = Node { span: Span::new(open, close + 1), value: Value::String(value), style, tag: None };
        Some((node, close + 1))
    }

    /// A `|` or `>` block scalar whose header is at `header` (the value of a key or a `-`), with
    /// any chomping indicator but no indentation indicator, and no more-indented lines when
    /// folded. Every line it takes must end in a line break (saphyr differs from the spec on a
    /// last line without one). Returns where the first line after it starts.
    fn block_scalar(&mut self, header: usize) -> Option<usize> {
        let parent_indent = self.frames.last()?.indent;
        let folded = self.bytes[header] == b'>';
        let mut after = header + 1;
        let chomping = self.at(after);
        let (strip, keep) = (chomping == b'-', chomping == b'+');
        if strip || keep {
            after += 1;
        }
        let rest = self.skip_spaces(after);
        if rest < self.line_end && (rest == after || self.bytes[rest] != b'#') {
            return None;
        }
        let len = self.bytes.len();
        let mut pos = self.next_line;
        let mut indent = None;
        let mut value = String::new();
        let mut empty_lines = 0;
        // The most spaces on an empty line before the first content line: more than the
        // content's indentation is an error.
        let mut leading_spaces = 0;
        // End of the last content line as it stands, and without its trailing blanks (the span).
        let mut last = None;
        while pos < len {
            let (end, next) = self.line_bounds(pos);
            let spaces = self.bytes[pos..end].iter().take_while(|&&b| b == b' ').count();
            if pos + spaces == end {
                // An empty line. One with more spaces than the indentation holds content.
                if end >= len || indent.is_some_and(|n| spaces > n) {
                    return None;
                }
                leading_spaces = leading_spaces.max(spaces);
                empty_lines += 1;
                pos = next;
                continue;
            }
            let n = match indent {
                Some(n) => n,
                // The first content line sets the indentation.
                None if spaces <= parent_indent || leading_spaces > spaces => return None,
                None => *indent.insert(spaces),
            };
            if spaces < n {
                break;
            }
            let line = self.text.get(pos + n..end)?;
            if folded && line.starts_with(' ') {
                return None;
            }
            match (last.is_some(), folded, empty_lines) {
                // Empty lines before the first content line are line breaks of the content.
                (false, _, n) => value.extend(std::iter::repeat_n('\n', n)),
                // Folding turns a lone line break into a space; a break followed by empty
                // lines is dropped and each empty line gives one `\n`. Literal keeps them all.
                (true, true, 0) => value.push(' '),
                (true, true, n) => value.extend(std::iter::repeat_n('\n', n)),
                (true, false, n) => value.extend(std::iter::repeat_n('\n', n + 1)),
            }
            value.push_str(line);
            empty_lines = 0;
            last = Some((end, self.trim_spaces(pos + n, end)));
            pos = next;
        }
        let (last_end, span_end) = last?;
        if last_end >= len {
            return None;
        }
        // Chomping: `-` drops the final line break, `+` keeps it and the empty lines after it.
        if !strip {
            value.push('\n');
        }
        if keep {
            value.extend(std::iter::repeat_n('\n', empty_lines));
        }
        let style = if folded { Style::Folded } else { Style::Literal };
        self.push(Node { span: Span::new(header, span_end), value: Value::String(value), style, tag: None });
        Some(pos)
    }

    /// A one-line flow node at `at`; the node and the position just after it.
    fn flow(&mut self, at: usize, depth: usize) -> Option<(Node, usize)> {
        match self.bytes[at] {
            b'[' | b'{' if depth >= MAX_FAST_DEPTH => None,
            b'[' => self.flow_seq(at, depth),
            b'{' => self.flow_map(at, depth),
            b'"' | b'\'' => self.quoted(at),
            _ => self.plain_flow(at),
        }
    }

    /// A plain scalar inside a flow collection: it ends before `,`, `]` or `}` (or `: `).
    fn plain_flow(&self, at: usize) -> Option<(Node, usize)> {
        if !self.plain_start(at) {
            return None;
        }
        let mut i = at;
        loop {
            match self.at(i) {
                // The line (and so the flow collection) ended: multi-line flow is not ours.
                0 => return None,
                b',' | b']' | b'}' => break,
                b'[' | b'{' => return None,
                b':' if self.at(i + 1) == b' ' => break,
                b':' => return None,
                b'#' if i > at && self.bytes[i - 1] == b' ' => return None,
                // saphyr rejects a word starting with `-` and a flow indicator inside a flow
                // plain scalar (`[a -]`).
                b'-' if i > at
                    && self.bytes[i - 1] == b' '
                    && matches!(self.at(i + 1), b',' | b'[' | b']' | b'{' | b'}') =>
                {
                    return None
                }
                _ => i += 1,
            }
        }
        let end = self.trim_spaces(at, i);
        Some((self.plain(at, end)?, end))
    }

    fn flow_seq(&mut self, open: usize, depth: usize) -> Option<(Node, usize)> {
        let base = self.items.len();
        let mut end = open;
        let mut at = self.skip_spaces(open + 1);
        loop {
            match self.at(at) {
                b']' => break,
                0 | b',' => return None,
                _ => {}
            }
            let (node, after) = self.flow(at, depth + 1)?;
            end = end.max(node.span.end);
            self.items.push(node);
            at = self.skip_spaces(after);
            match self.at(at) {
                b',' => at = self.skip_spaces(at + 1),
                b']' => break,
                _ => return None,
            }
        }
        let (span_end, after) = self.flow_end(at, end)?;
        let items = tail(&mut self.items, base);
        Some((
            Node { span: Span::new(open, span_end), value: Value::Seq(items), style: Style::Collection, tag: None },
            after,
        ))
    }

    fn flow_map(&mut self, open: usize, depth: usize) -> Option<(Node, usize)> {
        let base = self.entries.len();
        let mut end = open;
        let mut at = self.skip_spaces(open + 1);
        let mut trailing_comma = false;
        loop {
            let (key, after) = match self.at(at) {
                b'}' => break,
                b'"' | b'\'' => self.quoted(at)?,
                _ => self.plain_flow(at)?,
            };
            if key.as_str() == Some("<<") && key.style == Style::Plain {
                return None;
            }
            end = end.max(key.span.end);
            let colon = self.skip_spaces(after);
            if self.at(colon) != b':' || self.at(colon + 1) != b' ' {
                return None;
            }
            at = self.skip_spaces(colon + 1);
            if matches!(self.at(at), b',' | b'}' | 0) {
                return None;
            }
            let (value, after) = self.flow(at, depth + 1)?;
            end = end.max(value.span.end);
            self.entries.push(Entry { key, value });
            at = self.skip_spaces(after);
            match self.at(at) {
                b',' => {
                    at = self.skip_spaces(at + 1);
                    trailing_comma = true;
                }
                b'}' => {
                    trailing_comma = false;
                    break;
                }
                _ => return None,
            }
        }
        let (mut span_end, after) = self.flow_end(at, end)?;
        if trailing_comma {
            // After `, }` saphyr's end event carries the comma's token (`,` and the blanks
            // after it), which never ends in a bracket: the span ends at the last child.
            span_end = end;
        }
        let mut diagnostics = Vec::new();
        let entries = finish_mapping(tail(&mut self.entries, base), &mut diagnostics);
        if !diagnostics.is_empty() {
            return None;
        }
        Some((
            Node { span: Span::new(open, span_end), value: Value::Map(entries), style: Style::Collection, tag: None },
            after,
        ))
    }

    /// The span end of a flow collection whose closing bracket is at `close` and whose last
    /// child ends at `children_end`, and the position after the bracket. saphyr's end token
    /// runs on over blanks and a comment; `build` takes it only when its last byte is a
    /// bracket, else the last child's end (see the module comment).
    fn flow_end(&self, close: usize, children_end: usize) -> Option<(usize, usize)> {
        let after = close + 1;
        let mut token_end = self.skip_spaces(after);
        if token_end < self.line_end && self.bytes[token_end] == b'#' {
            if token_end == after {
                return None;
            }
            token_end = self.line_end;
        }
        let end =
            if matches!(self.bytes[token_end - 1], b']' | b'}') { token_end.max(children_end) } else { children_end };
        Some((end, after))
    }

    /// Opens a block collection; the one below it (if any) now has its value under way.
    fn open(&mut self, seq: bool, indent: usize, start: usize, indentless: bool) -> Option<()> {
        if self.frames.len() + 1 >= MAX_FAST_DEPTH {
            return None;
        }
        if let Some(top) = self.frames.last_mut() {
            top.null_at = None;
        }
        let base = if seq { self.items.len() } else { self.entries.len() };
        self.frames.push(Frame { seq, indent, start, end: start, base, key: None, null_at: None, indentless });
        Some(())
    }

    /// Gives the top frame's `-` or `key:` that got no value its empty scalar.
    fn flush(&mut self) -> Option<()> {
        if let Some(at) = self.frames.last_mut()?.null_at.take() {
            self.push(Node { span: Span::at(at), value: Value::Null, style: Style::Plain, tag: None });
        }
        Some(())
    }

    /// Closes the top block collection, at the end of the text when `eof`.
    fn close(&mut self, eof: bool) -> Option<()> {
        self.flush()?;
        let frame = self.frames.pop()?;
        if frame.key.is_some() {
            return None;
        }
        let len = self.bytes.len();
        // At the end, saphyr's end event is at the end of the text; `build` extends the span
        // to it when the byte before is a bracket (as for a flow collection's end).
        let end = if eof && matches!(self.bytes.last(), Some(b']' | b'}')) { len.max(frame.end) } else { frame.end };
        let value = if frame.seq {
            Value::Seq(tail(&mut self.items, frame.base))
        } else {
            let mut diagnostics = Vec::new();
            let entries = finish_mapping(tail(&mut self.entries, frame.base), &mut diagnostics);
            if !diagnostics.is_empty() {
                return None;
            }
            Value::Map(entries)
        };
        self.push(Node { span: Span::new(frame.start, end), value, style: Style::Collection, tag: None });
        Some(())
    }

    /// Adds a finished node to the top block collection (as `build` does), or makes it the root.
    fn push(&mut self, node: Node) {
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(node);
            return;
        };
        frame.end = frame.end.max(node.span.end);
        frame.null_at = None;
        if frame.seq {
            self.items.push(node);
        } else if let Some(key) = frame.key.take() {
            self.entries.push(Entry { key, value: node });
        } else {
            frame.key = Some(node);
        }
    }
}

/// The children of a closing collection, `stack[base..]`, moved out with one bulk copy
/// (`drain().collect()` moves them one by one, measurably slower). When they are the whole
/// stack (the outermost open collection of their kind), the stack's buffer itself is handed
/// over and the stack gets a fresh one of the same capacity.
fn tail<T>(stack: &mut Vec<T>, base: usize) -> Vec<T> {
    stack.split_off(base)
}

/// The value of a one-line double-quoted scalar's content; `None` on an escape it does not know.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next()? {
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            _ => return None,
        };
        out.push(decoded);
    }
    Some(out)
}

/// The character of the next `digits` hex digits (`None` for a surrogate or beyond Unicode).
fn hex(chars: &mut std::str::Chars<'_>, digits: usize) -> Option<char> {
    let mut code = 0u32;
    for _ in 0..digits {
        code = code * 16 + chars.next()?.to_digit(16)?;
    }
    char::from_u32(code)
}
