//! saphyr events to the spanned tree.
//!
//! The builder is a push-down automaton over an explicit stack (no recursion), so input depth
//! cannot overflow the thread's stack; past [`MAX_DEPTH`] a collection is replaced by `null`
//! with one error, which also keeps the recursive `Drop`, `Clone` and `to_json` of the tree
//! safe. Spans arrive as character indices and leave as byte ranges; saphyr's scalar spans are
//! tightened to the scalar itself (closing quote, block scalar header, no trailing blanks).

use std::borrow::Cow;

use saphyr_parser::{Event, ScalarStyle, Span as EventSpan, Tag};

use super::anchors::{AliasError, Anchors, Metrics};
use super::errors::TOO_DEEP;
use super::keys::finish_mapping;
use super::offsets::Offsets;
use super::scalar::{self, TagKind};
use super::tree::{Document, Entry, Node, Style, Value};
use crate::diagnostics::Diagnostic;
use crate::span::Span;

/// Deepest nesting of collections accepted (OSpec documents use fewer than 10).
pub const MAX_DEPTH: usize = 512;

const ALIAS: &str = "OSP014";
const TAG_MISMATCH: &str = "OSP017";

enum Items {
    Seq(Vec<Node>),
    /// Entries so far, and a key waiting for its value.
    Map(Vec<Entry>, Option<Node>),
}

/// A collection being built.
struct Frame {
    items: Items,
    start: usize,
    end: usize,
    anchor: usize,
    tag: Option<Tag>,
    children: Metrics,
    /// A `[...]` or `{...}` collection (its start event ends at the bracket).
    flow: bool,
}

/// Turns one stream's events into documents.
pub(super) struct Builder<'t> {
    text: &'t str,
    offsets: Offsets<'t>,
    stack: Vec<Frame>,
    root: Option<Node>,
    doc_start: usize,
    documents: Vec<Document>,
    diagnostics: Vec<Diagnostic>,
    anchors: Anchors,
    /// Size of the source read so far (the alias budget grows with it).
    source: Metrics,
    /// While > 0, the builder is inside a collection beyond `MAX_DEPTH`, ignoring events.
    skipping: usize,
    skip_start: usize,
    depth_reported: bool,
    alias_budget_reported: bool,
    /// Byte end of the previous event: block scalar headers are searched from here.
    last_end: usize,
}

impl<'t> Builder<'t> {
    pub(super) fn new(text: &'t str) -> Builder<'t> {
        Builder {
            text,
            offsets: Offsets::new(text),
            stack: Vec::new(),
            root: None,
            doc_start: 0,
            documents: Vec::new(),
            diagnostics: Vec::new(),
            anchors: Anchors::default(),
            source: Metrics::default(),
            skipping: 0,
            skip_start: 0,
            depth_reported: false,
            alias_budget_reported: false,
            last_end: 0,
        }
    }

    /// Byte offset of a saphyr character index.
    pub(super) fn byte(&self, char_index: usize) -> usize {
        self.offsets.byte(char_index)
    }

    /// Byte end of the last event taken.
    pub(super) fn last_end(&self) -> usize {
        self.last_end
    }

    pub(super) fn event(&mut self, event: Event<'_>, span: EventSpan) {
        let (start, end) = (self.byte(span.start.index()), self.byte(span.end.index()));
        match event {
            Event::DocumentStart(_) => {
                self.doc_start = start;
                self.root = None;
            }
            Event::DocumentEnd => {
                let explicit_end = self.text.get(start..end) == Some("...");
                self.finish_document(if explicit_end { end } else { start });
            }
            Event::Scalar(value, style, anchor, tag) => self.scalar(value, style, anchor, tag, start, end),
            Event::SequenceStart(anchor, tag) => self.open(Items::Seq(Vec::new()), anchor, tag, start, end),
            Event::MappingStart(anchor, tag) => self.open(Items::Map(Vec::new(), None), anchor, tag, start, end),
            Event::SequenceEnd | Event::MappingEnd => self.close(end),
            Event::Alias(id) => self.alias(id, Span::new(start, end)),
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        self.last_end = self.last_end.max(end);
    }

    /// Where the outermost open flow collection starts: after an error inside it, an unclosed
    /// bracket is the likeliest culprit.
    pub(super) fn open_flow_start(&self) -> Option<usize> {
        self.stack.iter().find(|f| f.flow).map(|f| f.start)
    }

    /// Ends the stream after a syntax error at `offset`: open collections are closed where
    /// they stand, so everything before the error is kept.
    pub(super) fn abort(&mut self, offset: usize) {
        self.skipping = 0;
        while !self.stack.is_empty() {
            self.close(offset);
        }
        if self.root.is_some() || self.documents.is_empty() {
            self.finish_document(offset);
        }
    }

    pub(super) fn finish(self) -> (Vec<Document>, Vec<Diagnostic>) {
        (self.documents, self.diagnostics)
    }

    fn finish_document(&mut self, end: usize) {
        // A document with no content (`---` then nothing) is an empty plain scalar to saphyr.
        let root = self.root.take().filter(|r| !(r.span.is_empty() && r.tag.is_none() && r.value == Value::Null));
        let end = root.as_ref().map_or(end, |r| r.span.end.max(end)).max(self.doc_start);
        self.documents.push(Document { root, span: Span::new(self.doc_start, end) });
    }

    fn scalar(
        &mut self,
        value: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<Cow<'_, Tag>>,
        start: usize,
        end: usize,
    ) {
        if self.skipping > 0 {
            return;
        }
        let span = self.scalar_span(style, start, end);
        let metrics = Metrics::scalar(value.len());
        self.source.add_child(metrics);
        let node = self.resolve(value, style, tag.as_deref(), span);
        if anchor != 0 {
            self.anchors.define(anchor, &node, metrics, self.source);
        }
        self.push(node, metrics);
    }

    fn resolve(&mut self, text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Node {
        let resolved = match tag.map(scalar::tag_kind) {
            None if style == ScalarStyle::Plain => scalar::resolve_plain(&text),
            Some(TagKind::Core(suffix)) => match scalar::resolve_core(suffix, &text) {
                Ok(value) => value,
                Err(expected) => {
                    self.diagnostics.push(tag_mismatch(span, suffix, expected));
                    None
                }
            },
            _ => None,
        };
        let value = resolved.unwrap_or_else(|| Value::String(text.into_owned()));
        Node { span, value, style: scalar::style(style), tag: tag.map(scalar::tag_text) }
    }

    fn open(&mut self, items: Items, anchor: usize, tag: Option<Cow<'_, Tag>>, start: usize, end: usize) {
        if self.skipping > 0 {
            self.skipping += 1;
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.skipping = 1;
            self.skip_start = start;
            return;
        }
        let tag = tag.map(Cow::into_owned);
        let flow = end > start && matches!(self.text.as_bytes()[end - 1], b'[' | b'{');
        self.stack.push(Frame { items, start, end: start, anchor, tag, children: Metrics::default(), flow });
    }

    fn close(&mut self, end: usize) {
        if self.skipping > 0 {
            self.skipping -= 1;
            if self.skipping == 0 {
                self.too_deep(Span::new(self.skip_start, end));
            }
            return;
        }
        let Some(frame) = self.stack.pop() else { return };
        // Flow collections end at their bracket; block ones at their last child, not at the
        // next token (which may be lines of comments away).
        let end = if self.text.as_bytes().get(end.wrapping_sub(1)).is_some_and(|b| matches!(b, b']' | b'}')) {
            end.max(frame.end)
        } else {
            frame.end
        };
        let span = Span::new(frame.start, end);
        let metrics = Metrics::collection(frame.children);
        self.source.nodes += 1;
        let value = match frame.items {
            Items::Seq(items) => Value::Seq(items),
            Items::Map(mut entries, pending) => {
                if let Some(key) = pending {
                    let value = null_node(key.span.end);
                    entries.push(Entry { key, value });
                }
                Value::Map(finish_mapping(entries, &mut self.diagnostics))
            }
        };
        let tag = frame.tag.as_ref();
        if let Some(TagKind::Core(suffix)) = tag.map(scalar::tag_kind) {
            let (fits, expected) = match suffix {
                "map" => (matches!(value, Value::Map(_)), "mapping"),
                "seq" => (matches!(value, Value::Seq(_)), "sequence"),
                _ => (!scalar::is_scalar_tag(suffix), "scalar"),
            };
            if !fits {
                self.diagnostics.push(tag_mismatch(span, suffix, expected));
            }
        }
        let node = Node { span, value, style: Style::Collection, tag: tag.map(scalar::tag_text) };
        if frame.anchor != 0 {
            self.anchors.define(frame.anchor, &node, metrics, self.source);
        }
        self.push(node, metrics);
    }

    fn alias(&mut self, id: usize, span: Span) {
        if self.skipping > 0 {
            return;
        }
        let (node, metrics) = match self.anchors.expand(id, span, self.source) {
            Ok((node, metrics)) if self.stack.len() + metrics.height > MAX_DEPTH => {
                drop(node);
                self.too_deep(span);
                return;
            }
            Ok(copy) => copy,
            Err(error) => {
                self.alias_error(error, span);
                (null_node(span.start), Metrics::scalar(0))
            }
        };
        self.push(node, metrics);
    }

    fn alias_error(&mut self, error: AliasError, span: Span) {
        let diagnostic = match error {
            AliasError::Recursive => Diagnostic::error(ALIAS, span, "this alias refers to the node that contains it")
                .with_note("a recursive structure cannot be expanded; the alias is read as null")
                .with_help("anchor a node that does not contain the alias"),
            AliasError::Budget if self.alias_budget_reported => return,
            AliasError::Budget => {
                self.alias_budget_reported = true;
                Diagnostic::error(ALIAS, span, "aliases expand to too much data (an alias bomb?)")
                    .with_note("expansion stopped here; this and later over-budget aliases are read as null")
                    .with_help("reuse smaller anchors, or write the data out instead of nesting aliases")
            }
        };
        self.diagnostics.push(diagnostic);
    }

    fn too_deep(&mut self, span: Span) {
        if !self.depth_reported {
            self.depth_reported = true;
            self.diagnostics.push(
                Diagnostic::error(TOO_DEEP, span, format!("nesting deeper than {MAX_DEPTH} levels"))
                    .with_note("this collection is read as null")
                    .with_help("flatten the structure; spec files never need this much nesting"),
            );
        }
        self.push(null_node(span.start), Metrics::scalar(0));
    }

    /// Adds a finished node to the open collection, or makes it the document's root.
    fn push(&mut self, node: Node, metrics: Metrics) {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        frame.end = frame.end.max(node.span.end);
        frame.children.add_child(metrics);
        match &mut frame.items {
            Items::Seq(items) => items.push(node),
            Items::Map(_, pending @ None) => *pending = Some(node),
            Items::Map(entries, pending @ Some(_)) => {
                if let Some(key) = pending.take() {
                    entries.push(Entry { key, value: node });
                }
            }
        }
    }

    /// Tightens saphyr's span of a scalar to the scalar's own text.
    fn scalar_span(&self, style: ScalarStyle, start: usize, end: usize) -> Span {
        let bytes = self.text.as_bytes();
        match style {
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Span::new(start, quoted_end(bytes, start, end)),
            ScalarStyle::Literal | ScalarStyle::Folded => {
                let header = block_header(bytes, self.last_end.min(start), start).unwrap_or(start);
                Span::new(header, trim_end(bytes, header, end))
            }
            ScalarStyle::Plain => Span::new(start, trim_end(bytes, start, end)),
        }
    }
}

fn null_node(at: usize) -> Node {
    Node { span: Span::at(at), value: Value::Null, style: Style::Plain, tag: None }
}

fn tag_mismatch(span: Span, suffix: &str, expected: &str) -> Diagnostic {
    Diagnostic::error(TAG_MISMATCH, span, format!("the tag `!!{suffix}` does not fit this value"))
        .with_note(format!("`!!{suffix}` requires a {expected} here; the value is kept as written"))
        .with_help(format!("remove the tag, or write a {expected}"))
}

/// The end of a quoted scalar starting at or after `start`: just past its closing quote.
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

/// The `|` or `>` of a block scalar whose content starts at `content`, searched from `from`
/// (the end of the previous event), skipping comments.
fn block_header(bytes: &[u8], from: usize, content: usize) -> Option<usize> {
    let mut at = from;
    while at < content {
        match bytes[at] {
            b'|' | b'>' => return Some(at),
            b'#' if at == 0 || bytes[at - 1].is_ascii_whitespace() => {
                at += bytes[at..content].iter().position(|&b| b == b'\n').unwrap_or(content - at);
            }
            _ => at += 1,
        }
    }
    None
}

/// `end` moved back over trailing blanks and line breaks, not before `start`.
fn trim_end(bytes: &[u8], start: usize, end: usize) -> usize {
    let trailing = bytes[start..end].iter().rev().take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')).count();
    end - trailing
}
