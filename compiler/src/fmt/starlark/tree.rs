//! The layout tree of a topology file: statements in blocks, each statement a sequence of
//! tokens and bracket groups, each group a list of comma-separated elements. Comments are
//! kept where they can be laid out with certainty — own lines between statements or
//! elements, the end of a statement's line, after an element's comma, after an opening
//! bracket; anywhere else the file is [`Unsupported`].

use super::lex::{Kind, Token};
use crate::fmt::Unsupported;
use crate::span::Span;

/// Deepest bracket nesting laid out (the printer recurses per level).
const MAX_DEPTH: usize = 200;

#[derive(Debug)]
pub(super) enum Node<'t> {
    Tok(Token<'t>),
    Group(Group<'t>),
}

#[derive(Debug, Default)]
pub(super) struct Element<'t> {
    pub leading: Vec<&'t str>,
    pub nodes: Vec<Node<'t>>,
    pub trailing: Option<&'t str>,
    /// Line of the element's last token.
    pub end_line: usize,
}

#[derive(Debug)]
pub(super) struct Group<'t> {
    pub open: &'t str,
    pub close: &'t str,
    pub elements: Vec<Element<'t>>,
    /// A comment on the line of the opening bracket.
    pub open_comment: Option<&'t str>,
    /// Own-line comments after the last element.
    pub tail: Vec<&'t str>,
    /// The source has a comma after the last element.
    pub trailing_comma: bool,
}

/// One logical line of code.
#[derive(Debug)]
pub(super) struct Line<'t> {
    pub nodes: Vec<Node<'t>>,
    pub comment: Option<&'t str>,
    pub indent: usize,
    pub blank_before: usize,
}

#[derive(Debug)]
pub(super) enum Item<'t> {
    Comment { text: &'t str, blank_before: usize },
    Stmt { line: Line<'t>, body: Vec<Item<'t>> },
}

/// A comment line or a code line, before blocks are formed.
enum Entry<'t> {
    Comment { text: &'t str, col: usize, blank_before: usize },
    Code(Line<'t>),
}

/// Builds the statement tree of a token list.
pub(super) fn parse<'t>(tokens: &[Token<'t>], text: &str) -> Result<Vec<Item<'t>>, Unsupported> {
    let mut entries = Vec::new();
    let mut pos = 0;
    let mut last_line_end = None::<usize>;
    while pos < tokens.len() {
        let token = tokens[pos];
        let blank_before = blank_lines(text, last_line_end, token.start);
        match token.kind {
            Kind::Newline => pos += 1,
            Kind::Comment if token.first_on_line => {
                entries.push(Entry::Comment { text: token.text, col: token.col, blank_before });
                last_line_end = Some(token.start + token.text.len());
                pos += 1;
            }
            _ => {
                let line = parse_line(tokens, &mut pos, blank_before)?;
                last_line_end = Some(tokens[pos.saturating_sub(1)].start);
                entries.push(Entry::Code(line));
            }
        }
    }
    let mut entries: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    Ok(block(&mut entries, &mut 0, 0, None))
}

/// Blank lines between the end of the previous line and `start`.
fn blank_lines(text: &str, previous_end: Option<usize>, start: usize) -> usize {
    let Some(end) = previous_end else { return 0 };
    let between = text.get(end..start).unwrap_or_default();
    between.bytes().filter(|&b| b == b'\n').count().saturating_sub(1)
}

fn code_indent(entry: &Option<Entry>) -> Option<usize> {
    match entry {
        Some(Entry::Code(line)) => Some(line.indent),
        _ => None,
    }
}

/// The items of the block whose lines start at column `indent`, under a header at column
/// `parent` (`None`: the file). Comments before a line go with it; comments after a block's
/// last line stay in the block while they are indented like it.
fn block<'t>(
    entries: &mut [Option<Entry<'t>>],
    pos: &mut usize,
    indent: usize,
    parent: Option<usize>,
) -> Vec<Item<'t>> {
    let mut items = Vec::new();
    while *pos < entries.len() {
        let next_code = (*pos..entries.len()).find(|&i| code_indent(&entries[i]).is_some());
        let stays = next_code
            .and_then(|i| code_indent(&entries[i]))
            .is_some_and(|c| parent.is_none_or(|p| c > p) && c >= indent);
        if !stays {
            while let Some(Some(Entry::Comment { col, .. })) = entries.get(*pos) {
                if parent.is_some() && *col < indent {
                    break;
                }
                if let Some(Entry::Comment { text, blank_before, .. }) = entries[*pos].take() {
                    items.push(Item::Comment { text, blank_before });
                }
                *pos += 1;
            }
            return items;
        }
        let Some(code_at) = next_code else { return items };
        while *pos < code_at {
            if let Some(Entry::Comment { text, blank_before, .. }) = entries[*pos].take() {
                items.push(Item::Comment { text, blank_before });
            }
            *pos += 1;
        }
        let Some(Entry::Code(line)) = entries[*pos].take() else { return items };
        *pos += 1;
        let body_indent = (*pos..entries.len()).find_map(|i| code_indent(&entries[i]));
        let body = match body_indent {
            Some(body_indent) if ends_with_colon(&line) && body_indent > line.indent => {
                block(entries, pos, body_indent, Some(line.indent))
            }
            _ => Vec::new(),
        };
        items.push(Item::Stmt { line, body });
    }
    items
}

fn ends_with_colon(line: &Line) -> bool {
    matches!(line.nodes.last(), Some(Node::Tok(t)) if t.text == ":")
}

/// One logical line from `pos` through its newline.
fn parse_line<'t>(tokens: &[Token<'t>], pos: &mut usize, blank_before: usize) -> Result<Line<'t>, Unsupported> {
    let indent = tokens[*pos].col;
    let mut nodes = Vec::new();
    let mut comment = None;
    while let Some(&token) = tokens.get(*pos) {
        match token.kind {
            Kind::Newline => {
                *pos += 1;
                break;
            }
            Kind::Comment => {
                comment = Some(token.text);
                *pos += 1;
            }
            Kind::Open => nodes.push(Node::Group(parse_group(tokens, pos, 1)?)),
            _ => {
                nodes.push(Node::Tok(token));
                *pos += 1;
            }
        }
    }
    Ok(Line { nodes, comment, indent, blank_before })
}

fn unsupported(token: &Token, what: &str) -> Unsupported {
    Unsupported { span: Span::new(token.start, token.start + token.text.len()), what: what.to_string() }
}

/// A bracket group whose opening bracket is at `pos`.
fn parse_group<'t>(tokens: &[Token<'t>], pos: &mut usize, depth: usize) -> Result<Group<'t>, Unsupported> {
    let open = tokens[*pos];
    if depth > MAX_DEPTH {
        return Err(unsupported(&open, "brackets nested deeper than the formatter lays out"));
    }
    *pos += 1;
    let mut group = Group {
        open: open.text,
        close: "",
        elements: Vec::new(),
        open_comment: None,
        tail: Vec::new(),
        trailing_comma: false,
    };
    let mut current = Element::default();
    let mut comma_line = None;
    while let Some(&token) = tokens.get(*pos) {
        match token.kind {
            Kind::Close => {
                *pos += 1;
                group.close = token.text;
                if !current.nodes.is_empty() {
                    group.elements.push(current);
                } else {
                    group.trailing_comma = !group.elements.is_empty();
                    group.tail.extend(current.leading);
                }
                return Ok(group);
            }
            Kind::Comma => {
                if current.nodes.is_empty() {
                    return Err(unsupported(&token, "a comma without an element before it"));
                }
                comma_line = Some(token.line);
                group.elements.push(std::mem::take(&mut current));
                *pos += 1;
            }
            Kind::Comment => {
                attach_comment(&mut group, &mut current, &token, open.line, comma_line, next_kind(tokens, *pos))?;
                *pos += 1;
            }
            Kind::Open => {
                let inner = parse_group(tokens, pos, depth + 1)?;
                current.end_line = tokens[pos.saturating_sub(1)].line;
                current.nodes.push(Node::Group(inner));
            }
            Kind::Newline => *pos += 1,
            _ => {
                current.end_line = token.line + token.text.matches('\n').count();
                current.nodes.push(Node::Tok(token));
                *pos += 1;
            }
        }
    }
    Err(unsupported(&open, "an unclosed bracket"))
}

/// The kind of the next token that is not a comment.
fn next_kind(tokens: &[Token], pos: usize) -> Option<Kind> {
    tokens[pos + 1..].iter().find(|t| t.kind != Kind::Comment).map(|t| t.kind)
}

/// Places a comment inside a group, or refuses.
fn attach_comment<'t>(
    group: &mut Group<'t>,
    current: &mut Element<'t>,
    token: &Token<'t>,
    open_line: usize,
    comma_line: Option<usize>,
    next: Option<Kind>,
) -> Result<(), Unsupported> {
    let nothing_yet = group.elements.is_empty() && current.nodes.is_empty() && current.leading.is_empty();
    if !token.first_on_line && token.line == open_line && nothing_yet && group.open_comment.is_none() {
        group.open_comment = Some(token.text);
        return Ok(());
    }
    if current.nodes.is_empty() {
        let after_comma = comma_line == Some(token.line) && current.leading.is_empty();
        match group.elements.last_mut() {
            Some(last) if !token.first_on_line && after_comma && last.trailing.is_none() => {
                last.trailing = Some(token.text);
            }
            _ if token.first_on_line => current.leading.push(token.text),
            _ => return Err(unsupported(token, "a comment the formatter cannot place")),
        }
        return Ok(());
    }
    // After an element, before the closing bracket (no comma).
    if next == Some(Kind::Close) {
        if !token.first_on_line && current.trailing.is_none() && current.end_line == token.line {
            current.trailing = Some(token.text);
            return Ok(());
        }
        if token.first_on_line {
            group.tail.push(token.text);
            return Ok(());
        }
    }
    Err(unsupported(token, "a comment inside an expression"))
}
