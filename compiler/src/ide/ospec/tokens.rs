//! OSpec semantic tokens: what the schema knows that a YAML grammar cannot. Keys the schema
//! declares are properties (unknown ones are marked deprecated, which editors strike
//! through); values of a closed set are enum members; entity references are variables and
//! entity definitions are declarations.

use super::context::Segment;
use super::entities::Entities;
use super::schema::At;
use crate::ide::{SemanticToken, TokenKind, TokenModifier};
use crate::ospec::schema::compiled;
use crate::span::Span;
use crate::syntax::yaml::{self, Node, Value};
use ospecc_schema::Profile;

pub fn tokens(text: &str, profile: Profile) -> Vec<SemanticToken> {
    let parsed = yaml::parse(text);
    let schema = compiled(profile);
    let mut out = Vec::new();
    for root in parsed.documents.iter().filter_map(|d| d.root.as_ref()) {
        walk(root, &At::root(schema), text, &mut out, 0);
    }
    let entities = Entities::cached(text);
    let declaration = TokenModifier::Declaration.bit();
    out.extend(entities.definitions.iter().map(|d| token(d.span, TokenKind::Variable, declaration)));
    out.extend(entities.references.iter().map(|r| token(r.span, TokenKind::Variable, 0)));
    out.retain(|t| !t.span.is_empty() && !text[t.span.start..t.span.end].contains(['\n', '\r']));
    out.sort_by_key(|t| (t.span.start, std::cmp::Reverse(t.span.end)));
    // Entity tokens replace the key/value tokens at the same place; nothing may overlap.
    let mut kept: Vec<SemanticToken> = Vec::with_capacity(out.len());
    for t in out {
        match kept.last_mut() {
            Some(last) if last.span == t.span => *last = t,
            Some(last) if t.span.start < last.span.end => {}
            _ => kept.push(t),
        }
    }
    kept
}

fn token(span: Span, kind: TokenKind, modifiers: u32) -> SemanticToken {
    SemanticToken { span, kind, modifiers }
}

fn walk(node: &Node, at: &At, text: &str, out: &mut Vec<SemanticToken>, depth: usize) {
    if depth > yaml::MAX_DEPTH {
        return;
    }
    match &node.value {
        Value::Map(entries) => {
            let declared: Vec<String> = at.properties().into_iter().map(|p| p.name).collect();
            for entry in entries {
                let key = entry.key_text();
                let child = at.child(&Segment::Key(key.clone()));
                let unknown = !declared.contains(&key) && child.is_empty() && !at.is_empty();
                let modifiers = if unknown { TokenModifier::Deprecated.bit() } else { 0 };
                out.push(token(entry.key.span, TokenKind::Property, modifiers));
                walk(&entry.value, &child, text, out, depth + 1);
            }
        }
        Value::Seq(items) => {
            let child = at.child(&Segment::Item);
            for item in items {
                walk(item, &child, text, out, depth + 1);
            }
        }
        Value::Bool(_) | Value::Null => out.push(token(node.span, TokenKind::Keyword, 0)),
        Value::Int(_) | Value::Float(_) => out.push(token(node.span, TokenKind::Number, 0)),
        Value::String(s) => {
            let closed = at.values().iter().any(|(v, _)| v.as_str() == Some(s.as_str()));
            if closed {
                out.push(token(super::entities::inner(node, text), TokenKind::EnumMember, 0));
            }
        }
    }
}
