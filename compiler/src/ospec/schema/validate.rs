//! The walker: validates a spanned YAML tree against a compiled schema and records raw issues.
//!
//! Why a walker over our own tree and not the `jsonschema` crate: diagnostics need exact spans
//! (the key for an unknown key, the value for a wrong type, the parent key for a missing one),
//! did-you-mean candidates from the schema node that rejected a key, per-profile severities
//! and codes carried by the schema itself (`x-ospecc-*`), and `oneOf`/`anyOf` failures reduced
//! to the best-matching branch. A generic validator reports JSON pointers and keyword noise,
//! and would need a second pass to map them back to spans.
//!
//! Valid input costs no allocation: the instance path is a stack of borrowed segments, and
//! messages are built only for issues that survive (see `report`).

use std::collections::HashMap;

use serde_json::Value as Json;

use super::format::Format;
use super::model::{Additional, Bound, Compiled, Id, Items, Schema, Types};
use crate::diagnostics::Severity;
use crate::span::Span;
use crate::syntax::yaml::{Entry, Node, Value};

/// Deeper than any OSpec schema goes; guards recursive `$ref`s against hostile nesting.
const MAX_DEPTH: usize = 256;
/// Above this many items, `uniqueItems` hashes instead of comparing pairs.
const PAIRWISE_UNIQUE_LIMIT: usize = 128;

/// One step of an instance path.
#[derive(Clone, Copy, Debug)]
pub enum Seg<'n> {
    /// A mapping key (the key node, so non-string keys keep their text).
    Key(&'n Node),
    Index(usize),
}

/// What failed.
#[derive(Clone, Debug)]
pub enum Kind<'s, 'n> {
    UnknownKey {
        entry: &'n Entry,
        siblings: &'n [Entry],
        known: Vec<&'s str>,
    },
    Missing {
        names: Vec<&'s str>,
    },
    Type {
        expected: Types,
    },
    Enum {
        allowed: &'s [Json],
    },
    Const {
        expected: &'s Json,
    },
    Pattern,
    MinLength {
        limit: usize,
        actual: usize,
    },
    MaxLength {
        limit: usize,
        actual: usize,
    },
    Minimum(Bound),
    Maximum(Bound),
    MultipleOf(f64),
    MinItems {
        limit: usize,
        actual: usize,
    },
    MaxItems {
        limit: usize,
        actual: usize,
    },
    Duplicate {
        first: &'n Node,
    },
    MinProperties {
        limit: usize,
        actual: usize,
    },
    MaxProperties {
        limit: usize,
        actual: usize,
    },
    Format(Format),
    /// The `false` schema, or a failed `not`.
    Rejected,
    /// `contains` found no matching item.
    Contains,
    /// `oneOf`: more than one alternative matches (the indices of the matching branches).
    Ambiguous {
        branches: &'s [Id],
        matched: Vec<usize>,
    },
    Alias {
        entry: &'n Entry,
        canonical: &'s str,
    },
}

/// One failure, with everything needed to report it later.
#[derive(Clone, Debug)]
pub struct Issue<'s, 'n> {
    pub kind: Kind<'s, 'n>,
    /// The subschema whose keyword failed (for titles, help and expected-value text).
    pub schema: &'s Schema,
    pub node: &'n Node,
    pub path: Vec<Seg<'n>>,
    /// Where a missing key is reported: the parent's key (or the first key of an item).
    pub anchor: Span,
    pub severity: Severity,
    pub code: Option<&'static str>,
    pub help: Option<&'s str>,
    /// For issues lifted out of a `oneOf`/`anyOf` branch: the path of the value the
    /// alternatives were about (what other validators report as the failing location).
    pub combinator_path: Option<Vec<Seg<'n>>>,
}

impl Issue<'_, '_> {
    fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Settings inherited down the walk from `x-ospecc-*` annotations.
#[derive(Clone, Copy, Debug)]
struct Ctx<'s> {
    severity: Severity,
    unknown: Severity,
    code: Option<&'static str>,
    help: Option<&'s str>,
    anchor: Span,
    depth: usize,
}

impl<'s> Ctx<'s> {
    fn enter(mut self, schema: &'s Schema) -> Ctx<'s> {
        if let Some(s) = schema.severity {
            self.severity = s;
            self.unknown = s;
        }
        if let Some(s) = schema.unknown_keys {
            self.unknown = s;
        }
        self.code = schema.code.or(self.code);
        self.help = schema.help.as_deref().or(self.help);
        self
    }

    fn child(self, anchor: Span) -> Ctx<'s> {
        Ctx { anchor, depth: self.depth + 1, ..self }
    }
}

/// Validates `root` against `compiled`; `anchor` is where a missing root key is reported.
pub fn walk<'s, 'n>(compiled: &'s Compiled, root: &'n Node, anchor: Span) -> Vec<Issue<'s, 'n>> {
    let mut walker = Walker { compiled, path: Vec::new(), issues: Vec::new() };
    let ctx = Ctx { severity: Severity::Error, unknown: Severity::Error, code: None, help: None, anchor, depth: 0 };
    walker.walk(compiled.root, root, ctx);
    walker.issues
}

struct Walker<'s, 'n> {
    compiled: &'s Compiled,
    path: Vec<Seg<'n>>,
    issues: Vec<Issue<'s, 'n>>,
}

/// The JSON Schema type of a node (`integer` for whole floats).
fn node_type(node: &Node) -> Types {
    match &node.value {
        Value::Null => Types::NULL,
        Value::Bool(_) => Types::BOOLEAN,
        Value::Int(_) => Types::INTEGER,
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => Types::INTEGER,
        Value::Float(_) => Types::NUMBER,
        Value::String(_) => Types::STRING,
        Value::Seq(_) => Types::ARRAY,
        Value::Map(_) => Types::OBJECT,
    }
}

/// Where a missing key of a sequence item is reported: its first key, else the item.
fn item_anchor(item: &Node) -> Span {
    item.as_map().and_then(|entries| entries.first()).map_or(item.span, |e| e.key.span)
}

impl<'s, 'n> Walker<'s, 'n> {
    fn push(&mut self, kind: Kind<'s, 'n>, schema: &'s Schema, node: &'n Node, ctx: Ctx<'s>) {
        self.push_with(kind, schema, node, ctx, ctx.severity);
    }

    fn push_with(&mut self, kind: Kind<'s, 'n>, schema: &'s Schema, node: &'n Node, ctx: Ctx<'s>, severity: Severity) {
        self.issues.push(Issue {
            kind,
            schema,
            node,
            path: self.path.clone(),
            anchor: ctx.anchor,
            severity,
            code: ctx.code,
            help: ctx.help,
            combinator_path: None,
        });
    }

    fn walk(&mut self, id: Id, node: &'n Node, ctx: Ctx<'s>) {
        let schema = self.compiled.node(id);
        if ctx.depth > MAX_DEPTH {
            return;
        }
        let ctx = ctx.enter(schema);
        if schema.reject_all {
            self.push(Kind::Rejected, schema, node, ctx);
            return;
        }
        if let Some(target) = schema.reference {
            self.walk(target, node, Ctx { depth: ctx.depth + 1, ..ctx });
        }
        let actual = node_type(node);
        if !schema.types.is_empty() && !schema.types.admits(actual) {
            self.push(Kind::Type { expected: schema.types }, schema, node, ctx);
            return;
        }
        match &node.value {
            Value::String(text) => self.string(schema, node, text, ctx),
            Value::Int(i) => self.number(schema, node, *i as f64, ctx),
            Value::Float(f) => self.number(schema, node, *f, ctx),
            Value::Map(entries) => self.object(schema, node, entries, ctx),
            Value::Seq(items) => self.array(schema, node, items, ctx),
            Value::Null | Value::Bool(_) => {}
        }
        self.values(schema, node, ctx);
        self.combinators(schema, node, ctx);
    }

    fn string(&mut self, schema: &'s Schema, node: &'n Node, text: &str, ctx: Ctx<'s>) {
        if let Some(pattern) = &schema.pattern {
            if !pattern.is_match(text) {
                self.push(Kind::Pattern, schema, node, ctx);
            }
        }
        // Lengths count code points, as ajv does; the byte length bounds the count from above.
        if let Some(limit) = schema.min_length {
            if text.len() < limit || text.chars().count() < limit {
                self.push(Kind::MinLength { limit, actual: text.chars().count() }, schema, node, ctx);
            }
        }
        if let Some(limit) = schema.max_length {
            if text.len() > limit && text.chars().count() > limit {
                self.push(Kind::MaxLength { limit, actual: text.chars().count() }, schema, node, ctx);
            }
        }
        if let Some(format) = schema.format {
            if !format.is_valid(text) {
                self.push(Kind::Format(format), schema, node, ctx);
            }
        }
    }

    fn number(&mut self, schema: &'s Schema, node: &'n Node, value: f64, ctx: Ctx<'s>) {
        if let Some(bound) = schema.minimum {
            if value < bound.limit || (bound.exclusive && value == bound.limit) {
                self.push(Kind::Minimum(bound), schema, node, ctx);
            }
        }
        if let Some(bound) = schema.maximum {
            if value > bound.limit || (bound.exclusive && value == bound.limit) {
                self.push(Kind::Maximum(bound), schema, node, ctx);
            }
        }
        if let Some(divisor) = schema.multiple_of {
            if (value / divisor).fract() != 0.0 {
                self.push(Kind::MultipleOf(divisor), schema, node, ctx);
            }
        }
    }

    fn object(&mut self, schema: &'s Schema, node: &'n Node, entries: &'n [Entry], ctx: Ctx<'s>) {
        if !schema.required.is_empty() {
            let names: Vec<&'s str> =
                schema.required.iter().map(|n| &**n).filter(|name| !entries.iter().any(|e| key_is(e, name))).collect();
            if !names.is_empty() {
                self.push(Kind::Missing { names }, schema, node, ctx);
            }
        }
        let actual = entries.len();
        if let Some(limit) = schema.min_properties.filter(|&l| actual < l) {
            self.push(Kind::MinProperties { limit, actual }, schema, node, ctx);
        }
        if let Some(limit) = schema.max_properties.filter(|&l| actual > l) {
            self.push(Kind::MaxProperties { limit, actual }, schema, node, ctx);
        }
        for entry in entries {
            self.path.push(Seg::Key(&entry.key));
            self.entry(schema, entries, entry, ctx);
            self.path.pop();
        }
    }

    fn entry(&mut self, schema: &'s Schema, siblings: &'n [Entry], entry: &'n Entry, ctx: Ctx<'s>) {
        let owned;
        let key: &str = match entry.key.as_str() {
            Some(key) => key,
            None => {
                owned = entry.key_text();
                &owned
            }
        };
        let child = ctx.child(entry.key.span);
        let mut matched = false;
        if let Some(id) = schema.declared(key) {
            matched = true;
            if let Some(canonical) = self.compiled.node(id).alias_of.as_deref() {
                let kind = Kind::Alias { entry, canonical };
                self.push_with(kind, schema, &entry.key, ctx, Severity::Warning);
            }
            self.walk(id, &entry.value, child);
        }
        for (pattern, id) in &schema.pattern_properties {
            if pattern.is_match(key) {
                matched = true;
                self.walk(*id, &entry.value, child);
            }
        }
        if !matched {
            match schema.additional {
                Additional::Any => {}
                Additional::Schema(id) => self.walk(id, &entry.value, child),
                Additional::Forbidden => {
                    let kind = Kind::UnknownKey { entry, siblings, known: schema.declared_names().collect() };
                    self.push_with(kind, schema, &entry.key, ctx, ctx.unknown);
                }
            }
        }
        if let Some(id) = schema.property_names {
            self.walk(id, &entry.key, child);
        }
    }

    fn array(&mut self, schema: &'s Schema, node: &'n Node, items: &'n [Node], ctx: Ctx<'s>) {
        let actual = items.len();
        if let Some(limit) = schema.min_items.filter(|&l| actual < l) {
            self.push(Kind::MinItems { limit, actual }, schema, node, ctx);
        }
        if let Some(limit) = schema.max_items.filter(|&l| actual > l) {
            self.push(Kind::MaxItems { limit, actual }, schema, node, ctx);
        }
        for (index, item) in items.iter().enumerate() {
            let id = match &schema.items {
                Items::Any => None,
                Items::Each(id) => Some(*id),
                Items::Tuple(ids) => match ids.get(index) {
                    Some(id) => Some(*id),
                    None => match schema.additional_items {
                        Additional::Any => None,
                        Additional::Schema(id) => Some(id),
                        Additional::Forbidden => {
                            self.path.push(Seg::Index(index));
                            self.push(Kind::Rejected, schema, item, ctx);
                            self.path.pop();
                            None
                        }
                    },
                },
            };
            if let Some(id) = id {
                self.path.push(Seg::Index(index));
                self.walk(id, item, ctx.child(item_anchor(item)));
                self.path.pop();
            }
        }
        if schema.unique_items {
            if let Some((first, second)) = first_duplicate(items) {
                self.path.push(Seg::Index(second));
                self.push(Kind::Duplicate { first: &items[first] }, schema, &items[second], ctx);
                self.path.pop();
            }
        }
        if let Some(id) = schema.contains {
            let found = items.iter().any(|item| self.passes(id, item, ctx));
            if !found {
                self.push(Kind::Contains, schema, node, ctx);
            }
        }
    }

    fn values(&mut self, schema: &'s Schema, node: &'n Node, ctx: Ctx<'s>) {
        if let Some(allowed) = &schema.enumeration {
            if !allowed.iter().any(|v| equals_json(node, v)) {
                self.push(Kind::Enum { allowed }, schema, node, ctx);
            }
        }
        if let Some(expected) = &schema.constant {
            if !equals_json(node, expected) {
                self.push(Kind::Const { expected }, schema, node, ctx);
            }
        }
    }

    fn combinators(&mut self, schema: &'s Schema, node: &'n Node, ctx: Ctx<'s>) {
        let inner = Ctx { depth: ctx.depth + 1, ..ctx };
        for id in &schema.all_of {
            self.walk(*id, node, inner);
        }
        if !schema.any_of.is_empty() {
            self.alternatives(schema, &schema.any_of, false, node, inner);
        }
        if !schema.one_of.is_empty() {
            self.alternatives(schema, &schema.one_of, true, node, inner);
        }
        if let Some(id) = schema.not {
            if self.passes(id, node, inner) {
                self.push(Kind::Rejected, schema, node, ctx);
            }
        }
    }

    /// Whether `node` satisfies subschema `id` without errors (the trial leaves no issues).
    fn passes(&mut self, id: Id, node: &'n Node, ctx: Ctx<'s>) -> bool {
        let start = self.issues.len();
        self.walk(id, node, ctx);
        let ok = !self.issues[start..].iter().any(Issue::is_error);
        self.issues.truncate(start);
        ok
    }

    /// `anyOf` (`exclusive = false`) and `oneOf`: a branch "matches" when it has no errors
    /// (warnings of a matching branch are kept). With no match, the best branch's issues are
    /// reported; with several matches under `oneOf`, one `Ambiguous` issue.
    fn alternatives(&mut self, schema: &'s Schema, branches: &'s [Id], exclusive: bool, node: &'n Node, ctx: Ctx<'s>) {
        let start = self.issues.len();
        // Not preallocated: a valid value usually matches the first branch of an `anyOf`.
        let mut results: Vec<Vec<Issue<'s, 'n>>> = Vec::new();
        for &id in branches {
            self.walk(id, node, ctx);
            let issues = self.issues.split_off(start);
            let clean = issues.is_empty();
            results.push(issues);
            if clean && !exclusive {
                return;
            }
        }
        let matched: Vec<usize> =
            results.iter().enumerate().filter(|(_, r)| !r.iter().any(Issue::is_error)).map(|(i, _)| i).collect();
        if exclusive && matched.len() > 1 {
            self.push(Kind::Ambiguous { branches, matched }, schema, node, ctx);
            return;
        }
        if let Some(&only) = matched.first() {
            let issues = std::mem::take(&mut results[only]);
            self.lift(issues);
            return;
        }
        let depth = self.path.len();
        if let Some(expected) = only_type_mismatches(&results, depth) {
            self.push(Kind::Type { expected }, schema, node, ctx);
            return;
        }
        let best = (0..results.len()).min_by_key(|&i| branch_score(&results[i], depth)).unwrap_or(0);
        let issues = std::mem::take(&mut results[best]);
        self.lift(issues);
    }

    /// Keeps a branch's issues, remembering the value the alternatives were about.
    fn lift(&mut self, issues: Vec<Issue<'s, 'n>>) {
        for mut issue in issues {
            if issue.combinator_path.is_none() {
                issue.combinator_path = Some(self.path.clone());
            }
            self.issues.push(issue);
        }
    }
}

/// How well a failing branch fits (lower is better): a branch whose type fits the value beats
/// one that rejects it outright; then fewer errors; then fewer issues.
fn branch_score(issues: &[Issue], depth: usize) -> (bool, usize, usize) {
    let type_mismatch = issues.iter().any(|i| matches!(i.kind, Kind::Type { .. }) && i.path.len() == depth);
    (type_mismatch, issues.iter().filter(|i| i.is_error()).count(), issues.len())
}

/// When every branch rejected the value only for its type: the union of the expected types.
fn only_type_mismatches(results: &[Vec<Issue>], depth: usize) -> Option<Types> {
    let mut expected = Types::default();
    for issues in results {
        match issues.as_slice() {
            [Issue { kind: Kind::Type { expected: t }, path, .. }] if path.len() == depth => {
                expected = expected.union(*t)
            }
            _ => return None,
        }
    }
    Some(expected)
}

fn key_is(entry: &Entry, name: &str) -> bool {
    match entry.key.as_str() {
        Some(key) => key == name,
        None => entry.key_text() == name,
    }
}

/// The first pair `(i, j)`, `i < j`, of equal items.
fn first_duplicate(items: &[Node]) -> Option<(usize, usize)> {
    if items.len() <= PAIRWISE_UNIQUE_LIMIT {
        return (1..items.len()).find_map(|j| (0..j).find(|&i| equals(&items[i], &items[j])).map(|i| (i, j)));
    }
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    for (j, item) in items.iter().enumerate() {
        if let Some(&i) = seen.get(&canonical(item)) {
            return Some((i, j));
        }
        seen.insert(canonical(item), j);
    }
    None
}

/// A text equal for exactly the items JSON Schema calls equal (numbers by value, maps by
/// content regardless of order).
fn canonical(node: &Node) -> String {
    match &node.value {
        Value::Int(i) => format!("n{}", *i as f64),
        Value::Float(f) => format!("n{f}"),
        Value::Map(entries) => {
            let mut parts: Vec<String> =
                entries.iter().map(|e| format!("{:?}:{}", e.key_text(), canonical(&e.value))).collect();
            parts.sort();
            format!("{{{}}}", parts.join(","))
        }
        Value::Seq(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        Value::String(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// JSON Schema equality of two nodes.
pub fn equals(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equals(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|e| y.iter().any(|f| e.key_text() == f.key_text() && equals(&e.value, &f.value)))
        }
        (x, y) => matches!((number(x), number(y)), (Some(p), Some(q)) if p == q),
    }
}

/// JSON Schema equality of a node and a JSON value (for `enum` and `const`).
pub fn equals_json(node: &Node, json: &Json) -> bool {
    match (&node.value, json) {
        (Value::String(s), Json::String(j)) => s == j,
        (Value::Null, Json::Null) => true,
        (Value::Bool(b), Json::Bool(j)) => b == j,
        (Value::Int(i), Json::Number(n)) => n.as_i64().map_or_else(|| n.as_f64() == Some(*i as f64), |j| j == *i),
        (Value::Float(f), Json::Number(n)) => n.as_f64() == Some(*f),
        (Value::Seq(items), Json::Array(js)) => {
            items.len() == js.len() && items.iter().zip(js).all(|(a, b)| equals_json(a, b))
        }
        (Value::Map(entries), Json::Object(map)) => {
            entries.len() == map.len()
                && entries.iter().all(|e| map.get(&e.key_text()).is_some_and(|v| equals_json(&e.value, v)))
        }
        _ => false,
    }
}
