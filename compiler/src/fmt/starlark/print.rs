//! Writes the layout tree in the canonical layout: `indent_width` spaces per block, spaces
//! around binary operators, `=` and after commas and colons, none inside brackets; a bracket
//! group that does not fit on its line (or holds a comment, or was written with a trailing
//! comma) is broken one element per line with a trailing comma; two blank lines around
//! top-level `def`s, at most one elsewhere; `load()` symbols sorted.

use super::lex::Kind;
use super::tree::{Element, Group, Item, Line, Node};
use crate::fmt::Options;

/// Words after which `-`, `+`, `*` and `**` are unary, and before which `(` takes a space.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "if", "else", "elif", "for", "while", "def", "return", "lambda", "pass", "break",
    "continue",
];

/// Operators a broken parenthesised expression is split before.
const CHAIN_OPERATORS: &[&str] = &["and", "or", "+"];

/// Statements that open a block.
const COMPOUND: &[&str] = &["def", "if", "elif", "else", "for", "while"];

pub(super) struct Printer<'o> {
    out: String,
    options: &'o Options,
}

/// Formats the items of a file.
pub(super) fn print(items: &[Item], options: &Options, capacity: usize) -> String {
    let mut printer = Printer { out: String::with_capacity(capacity + capacity / 8), options };
    printer.items(items, 0, true);
    if !printer.out.is_empty() && !printer.out.ends_with('\n') {
        printer.out.push('\n');
    }
    printer.out
}

fn is_def(item: &Item) -> bool {
    matches!(item, Item::Stmt { line, .. } if first_word(line) == Some("def"))
}

fn first_word<'a>(line: &Line<'a>) -> Option<&'a str> {
    match line.nodes.first() {
        Some(Node::Tok(t)) if t.kind == Kind::Name => Some(t.text),
        _ => None,
    }
}

fn blank_before(item: &Item) -> usize {
    match item {
        Item::Comment { blank_before, .. } => *blank_before,
        Item::Stmt { line, .. } => line.blank_before,
    }
}

/// Whether item `i` starts a `def` with the comments directly above it.
fn starts_def(items: &[Item], i: usize) -> bool {
    let mut j = i;
    loop {
        if is_def(&items[j]) {
            return true;
        }
        if !matches!(items[j], Item::Comment { .. }) || j + 1 >= items.len() || blank_before(&items[j + 1]) > 0 {
            return false;
        }
        j += 1;
    }
}

impl Printer<'_> {
    fn items(&mut self, items: &[Item], indent: usize, top: bool) {
        for (i, item) in items.iter().enumerate() {
            let mut blanks = if i == 0 { 0 } else { blank_before(item).min(1) };
            if top
                && i > 0
                && (is_def(&items[i - 1])
                    || (blank_before(item) > 0 || !matches!(items[i - 1], Item::Comment { .. }))
                        && starts_def(items, i))
            {
                blanks = 2;
            }
            for _ in 0..blanks {
                self.out.push('\n');
            }
            match item {
                Item::Comment { text, .. } => {
                    self.spaces(indent);
                    self.out.push_str(text);
                    self.out.push('\n');
                }
                Item::Stmt { line, body } => {
                    self.statement(line, indent);
                    self.items(body, indent + self.options.indent_width, false);
                }
            }
        }
    }

    fn spaces(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |p| p + 1)
    }

    /// One logical line: `;`-separated statements on their own lines, a compound header's
    /// inline body below it, the comment at the end of the last.
    fn statement(&mut self, line: &Line, indent: usize) {
        let header_end = first_word(line).filter(|w| COMPOUND.contains(w)).and_then(|_| header_colon(&line.nodes));
        let (header, rest) = match header_end {
            Some(colon) if colon + 1 < line.nodes.len() => (Some(&line.nodes[..=colon]), &line.nodes[colon + 1..]),
            _ => (None, &line.nodes[..]),
        };
        let mut parts: Vec<&[Node]> = rest.split(|n| is_tok(n, ";")).filter(|p| !p.is_empty()).collect();
        let mut body_indent = indent;
        if let Some(header) = header {
            self.spaces(indent);
            self.nodes(header, indent, 0, false);
            self.out.push('\n');
            body_indent = indent + self.options.indent_width;
        }
        let sorted;
        if self.options.sort_loads && first_word(line) == Some("load") && parts.len() == 1 {
            sorted = sorted_load(parts[0]);
            if let Some(nodes) = &sorted {
                parts = vec![nodes.as_slice()];
            }
        }
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            self.spaces(body_indent);
            self.nodes(part, body_indent, 0, false);
            if i == last {
                if let Some(comment) = line.comment {
                    self.out.push_str("  ");
                    self.out.push_str(comment);
                }
            }
            self.out.push('\n');
        }
        if parts.is_empty() {
            if let Some(comment) = line.comment {
                // A header alone with its comment: the comment follows the header's colon.
                self.out.pop();
                self.out.push_str("  ");
                self.out.push_str(comment);
                self.out.push('\n');
            }
        }
    }

    /// Writes `nodes` on the current line; `rest` is the width that must follow them there.
    fn nodes(&mut self, nodes: &[Node], line_indent: usize, rest: usize, subscript: bool) {
        for (i, node) in nodes.iter().enumerate() {
            if i > 0 && space_between(nodes, i, subscript) {
                self.out.push(' ');
            }
            match node {
                Node::Tok(t) => self.out.push_str(t.text),
                Node::Group(g) => {
                    let (after, last) = width_after(nodes, i);
                    self.group(g, line_indent, after + rest, is_callee(nodes, i), last);
                }
            }
        }
    }

    /// A group that does not fit is broken only when it ends its line (`last`): breaking a
    /// group in the middle of an expression moves little and reads badly, so such a line
    /// stays long.
    /// A parenthesised expression that is broken: one operand of its `and`/`or`/`+` chain
    /// per line, the operator first.
    fn chain(&mut self, nodes: &[Node], indent: usize) {
        let mut start = 0;
        for i in 0..=nodes.len() {
            let splits = i < nodes.len()
                && i > 0
                && matches!(&nodes[i], Node::Tok(t) if CHAIN_OPERATORS.contains(&t.text))
                && !is_unary(nodes, i);
            if i == nodes.len() || splits {
                if start > 0 {
                    self.out.push('\n');
                    self.spaces(indent);
                }
                self.nodes(&nodes[start..i], indent, 0, false);
                start = i;
            }
        }
    }

    fn group(&mut self, group: &Group, line_indent: usize, after: usize, callee: bool, last: bool) {
        let subscript = callee && group.open == "[";
        let width = self.column() + after;
        let limit = self.options.line_width.saturating_sub(width);
        let flat = !must_break(group, callee) && (!last || flat_width_group(group, limit) <= limit);
        if flat {
            self.flat(group, callee, subscript);
        } else {
            self.broken(group, line_indent, callee, subscript);
        }
    }

    fn flat(&mut self, group: &Group, callee: bool, subscript: bool) {
        self.out.push_str(group.open);
        for (i, element) in group.elements.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.nodes(&element.nodes, 0, 0, subscript);
        }
        if group.trailing_comma && needs_comma_when_flat(group, callee, subscript) {
            self.out.push(',');
        }
        self.out.push_str(group.close);
    }

    fn broken(&mut self, group: &Group, line_indent: usize, callee: bool, subscript: bool) {
        let inner = line_indent + self.options.indent_width;
        self.out.push_str(group.open);
        if let Some(comment) = group.open_comment {
            self.out.push_str("  ");
            self.out.push_str(comment);
        }
        self.out.push('\n');
        let comma_last = trailing_comma_when_broken(group, callee, subscript);
        let last = group.elements.len().saturating_sub(1);
        for (i, element) in group.elements.iter().enumerate() {
            for comment in &element.leading {
                self.spaces(inner);
                self.out.push_str(comment);
                self.out.push('\n');
            }
            self.spaces(inner);
            if group.open == "(" && !callee && group.elements.len() == 1 && !group.trailing_comma {
                self.chain(&element.nodes, inner);
            } else {
                self.nodes(&element.nodes, inner, 1, subscript);
            }
            if i < last || comma_last {
                self.out.push(',');
            }
            if let Some(comment) = element.trailing {
                self.out.push_str("  ");
                self.out.push_str(comment);
            }
            self.out.push('\n');
        }
        for comment in &group.tail {
            self.spaces(inner);
            self.out.push_str(comment);
            self.out.push('\n');
        }
        self.spaces(line_indent);
        self.out.push_str(group.close);
    }
}

fn is_tok(node: &Node, text: &str) -> bool {
    matches!(node, Node::Tok(t) if t.text == text)
}

/// The `:` that ends a compound statement's header (a `lambda`'s colon is its own).
fn header_colon(nodes: &[Node]) -> Option<usize> {
    let mut lambdas = 0;
    for (i, node) in nodes.iter().enumerate() {
        if is_tok(node, "lambda") {
            lambdas += 1;
        } else if is_tok(node, ":") {
            if lambdas == 0 {
                return Some(i);
            }
            lambdas -= 1;
        }
    }
    None
}

/// The group at `i` follows something it applies to: a call, a subscript, parameters.
fn is_callee(nodes: &[Node], i: usize) -> bool {
    match i.checked_sub(1).map(|p| &nodes[p]) {
        Some(Node::Tok(t)) => match t.kind {
            Kind::Name => !KEYWORDS.contains(&t.text),
            Kind::Str => true,
            _ => false,
        },
        Some(Node::Group(_)) => true,
        None => false,
    }
}

/// Whether a token at `i` is a unary operator (or a `*args` star).
fn is_unary(nodes: &[Node], i: usize) -> bool {
    let Node::Tok(t) = &nodes[i] else { return false };
    if !matches!(t.text, "-" | "+" | "~" | "*" | "**") {
        return false;
    }
    match i.checked_sub(1).map(|p| &nodes[p]) {
        None => true,
        Some(Node::Tok(p)) => p.kind == Kind::Op || (p.kind == Kind::Name && KEYWORDS.contains(&p.text)),
        Some(Node::Group(_)) => false,
    }
}

/// Whether a space goes between node `i - 1` and node `i`.
fn space_between(nodes: &[Node], i: usize, subscript: bool) -> bool {
    let (prev, next) = (&nodes[i - 1], &nodes[i]);
    if is_unary(nodes, i - 1) {
        return false;
    }
    if is_tok(prev, ".") || is_tok(next, ".") || is_tok(next, ":") {
        return false;
    }
    if is_tok(prev, ":") {
        return !subscript;
    }
    if let Node::Group(g) = next {
        return !(is_callee(nodes, i) && (g.open == "(" || g.open == "["));
    }
    true
}

/// Most characters that may follow a group that is broken for its length.
const SHORT_TAIL: usize = 2;

/// The width of what follows node `i` on its line (up to the opening bracket of a group that
/// breaks anyway), and whether node `i` ends the line: no group and only a short tail after it.
fn width_after(nodes: &[Node], i: usize) -> (usize, bool) {
    let mut width = 0;
    let mut last = true;
    for (j, node) in nodes.iter().enumerate().skip(i + 1) {
        width += usize::from(space_between(nodes, j, false));
        match node {
            Node::Group(g) if must_break(g, is_callee(nodes, j)) => return (width + g.open.len(), false),
            Node::Group(g) => {
                width += flat_width_group(g, usize::MAX / 4);
                last = false;
            }
            Node::Tok(t) => width += flat_width(&Node::Tok(*t), usize::MAX / 4),
        }
    }
    (width, last && width <= SHORT_TAIL)
}

/// A `(x,)` tuple or a subscript written with a trailing comma keeps it on one line.
fn needs_comma_when_flat(group: &Group, callee: bool, subscript: bool) -> bool {
    subscript || (group.open == "(" && !callee && group.elements.len() == 1)
}

/// Whether a broken group ends with a comma (never after `*args`/`**kwargs`, in a
/// comprehension, a subscript, or a parenthesised expression, where it would change the
/// meaning or not parse).
fn trailing_comma_when_broken(group: &Group, callee: bool, subscript: bool) -> bool {
    if group.trailing_comma {
        return true;
    }
    if subscript || (group.open == "(" && !callee && group.elements.len() == 1) {
        return false;
    }
    let comprehension = group.elements.iter().any(|e| e.nodes.iter().any(|n| is_tok(n, "for")));
    let starred =
        group.elements.last().and_then(|e| e.nodes.first()).is_some_and(|n| is_tok(n, "*") || is_tok(n, "**"));
    !comprehension && !starred && !group.elements.is_empty()
}

/// A comment inside, a trailing comma as written (Black's "magic trailing comma"), or a
/// nested group that must break.
fn must_break(group: &Group, callee: bool) -> bool {
    let subscript = callee && group.open == "[";
    if group.open_comment.is_some() || !group.tail.is_empty() {
        return true;
    }
    if group.trailing_comma && !needs_comma_when_flat(group, callee, subscript) {
        return true;
    }
    group.elements.iter().any(|e| {
        !e.leading.is_empty()
            || e.trailing.is_some()
            || e.nodes
                .iter()
                .enumerate()
                .any(|(i, n)| matches!(n, Node::Group(g) if must_break(g, is_callee(&e.nodes, i))))
    })
}

/// Width on one line, counting at most a little past `limit`.
fn flat_width(node: &Node, limit: usize) -> usize {
    match node {
        Node::Tok(t) => t.text.find('\n').unwrap_or(t.text.len()),
        Node::Group(g) => flat_width_group(g, limit),
    }
}

fn flat_width_group(group: &Group, limit: usize) -> usize {
    let mut width = group.open.len() + group.close.len() + 1;
    for (i, element) in group.elements.iter().enumerate() {
        if i > 0 {
            width += 2;
        }
        width += element_width(element, limit.saturating_sub(width));
        if width > limit {
            return width;
        }
    }
    width
}

fn element_width(element: &Element, limit: usize) -> usize {
    let mut width = 0;
    for (i, node) in element.nodes.iter().enumerate() {
        if i > 0 && space_between(&element.nodes, i, false) {
            width += 1;
        }
        width += flat_width(node, limit.saturating_sub(width));
        if width > limit {
            break;
        }
    }
    width
}

/// A `load("module", ...)` line's symbols in order of their local names (`None`: nothing to
/// sort, or comments that would have to move with them).
fn sorted_load<'a, 't>(nodes: &'a [Node<'t>]) -> Option<Vec<Node<'t>>> {
    let [Node::Tok(load), Node::Group(group)] = nodes else { return None };
    let has_comments = group.open_comment.is_some()
        || !group.tail.is_empty()
        || group.elements.iter().any(|e| !e.leading.is_empty() || e.trailing.is_some());
    if has_comments || group.elements.len() < 3 {
        return None;
    }
    let key = |e: &Element<'t>| -> String {
        match e.nodes.first() {
            Some(Node::Tok(t)) if t.kind == Kind::Str => t.text.trim_matches(|c| c == '"' || c == '\'').to_string(),
            Some(Node::Tok(t)) => t.text.to_string(),
            _ => String::new(),
        }
    };
    let mut order: Vec<usize> = (1..group.elements.len()).collect();
    order.sort_by_key(|&i| key(&group.elements[i]));
    if order.windows(2).all(|w| w[0] < w[1]) {
        return None;
    }
    let elements = std::iter::once(0).chain(order).map(|i| copy_element(&group.elements[i])).collect();
    let sorted = Group {
        open: group.open,
        close: group.close,
        elements,
        open_comment: None,
        tail: Vec::new(),
        trailing_comma: group.trailing_comma,
    };
    Some(vec![Node::Tok(*load), Node::Group(sorted)])
}

fn copy_element<'t>(element: &Element<'t>) -> Element<'t> {
    Element {
        leading: Vec::new(),
        nodes: element.nodes.iter().map(copy_node).collect(),
        trailing: None,
        ..Element::default()
    }
}

fn copy_node<'t>(node: &Node<'t>) -> Node<'t> {
    match node {
        Node::Tok(t) => Node::Tok(*t),
        Node::Group(g) => Node::Group(Group {
            open: g.open,
            close: g.close,
            elements: g.elements.iter().map(copy_element).collect(),
            open_comment: g.open_comment,
            tail: g.tail.clone(),
            trailing_comma: g.trailing_comma,
        }),
    }
}
