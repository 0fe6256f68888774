//! The spanned YAML value tree every OSpec stage reads.
//!
//! Values are already resolved: YAML 1.2 core schema scalars, aliases expanded, `<<` merges
//! applied. Every node keeps the byte span of the text it came from (for an alias, the alias's
//! own span), so a diagnostic can point at the exact key or value.

use crate::span::Span;

/// One YAML document of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// `None` for an empty document (a stream of only comments, or `---` with nothing after).
    pub root: Option<Node>,
    pub span: Span,
}

/// A resolved value with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    /// How the scalar was written; `Plain` for collections.
    pub style: Style,
    /// An explicit tag as written (`!!str`, `!custom`), if any.
    pub tag: Option<String>,
}

/// How a scalar was written in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
    /// Block or flow collection.
    Collection,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// Floats, and integers outside `i64`.
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping, in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Entry {
    /// The key as text: strings as they are, other scalars as written in canonical form.
    pub fn key_text(&self) -> String {
        self.key.scalar_text().unwrap_or_default()
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entry for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        // Only non-string keys (rare) need their canonical text built to compare.
        self.as_map()?.iter().find(|e| match e.key.as_str() {
            Some(text) => text == key,
            None => e.key_text() == key,
        })
    }

    /// The value for `key` in a mapping.
    pub fn field(&self, key: &str) -> Option<&Node> {
        self.get(key).map(|e| &e.value)
    }

    /// A scalar's text in canonical form (`null`, `true`, `12`, `1.5`, or the string itself).
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::String(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }

    /// The JSON type name of this value (`integer` for whole floats, as JSON Schema counts).
    pub fn json_type(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "object",
        }
    }

    /// Lowers to JSON (non-string keys become their canonical text; NaN and infinities
    /// become `null`, as JSON has no such numbers).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|e| (e.key_text(), e.value.to_json())).collect()),
        }
    }
}

fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
    } else {
        f.to_string()
    }
}
