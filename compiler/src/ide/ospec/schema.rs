//! Reading the compiled schema (the validator's own model) for editor features: which
//! subschemas apply at a path, their properties, docs, types, enums, defaults and constraints.
//!
//! A path may be covered by several subschemas (`$ref`, `allOf`, and the alternatives of
//! `anyOf`/`oneOf`, which completion offers together): every question here takes the set.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::context::Segment;
use crate::ospec::schema::model::{Additional, Compiled, Id, Items, Schema, Types};

/// The subschemas applying at one place.
pub struct At<'c> {
    pub compiled: &'c Compiled,
    pub ids: Vec<Id>,
}

/// A property offered at a place.
pub struct Property {
    pub name: String,
    pub schema: Vec<Id>,
    pub required: bool,
}

/// Expansion stops here: the schema's `$ref` graph is small, this only guards cycles.
const MAX_EXPANDED: usize = 256;

impl<'c> At<'c> {
    pub fn root(compiled: &'c Compiled) -> At<'c> {
        At { compiled, ids: vec![compiled.root] }
    }

    /// The subschemas at `path` from the root.
    pub fn path(compiled: &'c Compiled, path: &[Segment]) -> At<'c> {
        path.iter().fold(At::root(compiled), |at, segment| at.child(segment))
    }

    /// Every node the set stands for: each id with its `$ref`, `allOf`, `anyOf`, `oneOf`.
    pub fn expanded(&self) -> Vec<&'c Schema> {
        let mut seen: Vec<Id> = Vec::new();
        let mut queue = self.ids.clone();
        while let Some(id) = queue.pop() {
            if seen.contains(&id) || seen.len() >= MAX_EXPANDED {
                continue;
            }
            seen.push(id);
            let node = self.compiled.node(id);
            queue.extend(node.one_of.iter().chain(&node.any_of).chain(&node.all_of).rev());
            queue.extend(node.reference);
        }
        seen.into_iter().map(|id| self.compiled.node(id)).collect()
    }

    /// The subschemas of one step down.
    pub fn child(&self, segment: &Segment) -> At<'c> {
        let mut ids = Vec::new();
        for node in self.expanded() {
            match segment {
                Segment::Key(key) => ids.extend(property_schema(node, key)),
                Segment::Item => match &node.items {
                    Items::Each(id) => ids.push(*id),
                    Items::Tuple(list) => ids.extend(list),
                    Items::Any => {}
                },
            }
        }
        At { compiled: self.compiled, ids }
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The declared properties (aliases left out: completion offers the canonical key), with
    /// whether any applicable subschema requires them.
    pub fn properties(&self) -> Vec<Property> {
        let nodes = self.expanded();
        let mut found: BTreeMap<String, Property> = BTreeMap::new();
        for node in &nodes {
            for (name, id) in &node.properties {
                if self.compiled.node(*id).alias_of.is_some() {
                    continue;
                }
                let entry = found.entry(name.to_string()).or_insert_with(|| Property {
                    name: name.to_string(),
                    schema: Vec::new(),
                    required: false,
                });
                entry.schema.push(*id);
            }
        }
        for node in &nodes {
            for name in &node.required {
                if let Some(property) = found.get_mut(&**name) {
                    property.required = true;
                }
            }
        }
        found.into_values().collect()
    }

    /// The types allowed (the union over the set).
    pub fn types(&self) -> Types {
        self.expanded().iter().fold(Types::default(), |acc, node| acc.union(node.types))
    }

    /// Whether the place holds a mapping with known keys (or any mapping).
    pub fn is_object(&self) -> bool {
        let nodes = self.expanded();
        nodes.iter().any(|n| !n.properties.is_empty())
            || (nodes.iter().any(|n| n.types.admits(Types::OBJECT)) && !self.types().admits(Types::STRING))
    }

    /// The first description (a property's own text before its `$ref` target's).
    pub fn description(&self) -> Option<&'c str> {
        self.expanded().into_iter().find_map(|n| n.description.as_deref())
    }

    pub fn title(&self) -> Option<&'c str> {
        self.expanded().into_iter().find_map(|n| n.title.as_deref())
    }

    pub fn default(&self) -> Option<&'c Json> {
        self.expanded().into_iter().find_map(|n| n.default.as_ref())
    }

    pub fn examples(&self) -> Vec<&'c Json> {
        self.expanded().into_iter().flat_map(|n| n.examples.iter()).collect()
    }

    /// The allowed values with their docs: `enum`s (documented by `enumDescriptions`), and
    /// `const`s of alternatives (the other common way: `oneOf: [{const: a, description: …}]`).
    pub fn values(&self) -> Vec<(Json, Option<&'c str>)> {
        let mut out: Vec<(Json, Option<&'c str>)> = Vec::new();
        for node in self.expanded() {
            let listed = node
                .enumeration
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, v)| (v.clone(), node.enum_docs.get(i).and_then(|d| d.as_deref())));
            let constant = node.constant.iter().map(|v| (v.clone(), node.description.as_deref()));
            for (value, doc) in listed.chain(constant) {
                match out.iter_mut().find(|(v, _)| *v == value) {
                    Some(existing) => existing.1 = existing.1.or(doc),
                    None => out.push((value, doc)),
                }
            }
        }
        out
    }

    /// The constraints, in words (for hover).
    pub fn constraints(&self) -> Vec<String> {
        let mut out = Vec::new();
        for node in self.expanded() {
            out.extend(node.expected.as_deref().map(|e| format!("expected: {e}")));
            if node.expected.is_none() {
                out.extend(node.pattern.as_ref().map(|p| format!("pattern: `{}`", p.source)));
            }
            out.extend(node.format.map(|f| format!("format: {}", f.describe())));
            out.extend(node.min_length.map(|n| format!("at least {n} characters")));
            out.extend(node.max_length.map(|n| format!("at most {n} characters")));
            out.extend(node.minimum.map(|b| format!("{} {}", if b.exclusive { ">" } else { "≥" }, b.limit)));
            out.extend(node.maximum.map(|b| format!("{} {}", if b.exclusive { "<" } else { "≤" }, b.limit)));
            out.extend(node.min_items.map(|n| format!("at least {n} items")));
            out.extend(node.max_items.map(|n| format!("at most {n} items")));
            if node.unique_items {
                out.push("items are unique".into());
            }
        }
        out.dedup();
        out
    }
}

/// The schema a mapping node gives key `key`: declared, else a matching pattern, else
/// `additionalProperties`.
fn property_schema(node: &Schema, key: &str) -> Option<Id> {
    node.declared(key).or_else(|| node.pattern_properties.iter().find(|(p, _)| p.is_match(key)).map(|(_, id)| *id)).or(
        match node.additional {
            Additional::Schema(id) => Some(id),
            _ => None,
        },
    )
}

/// A JSON value as YAML text (strings bare when plain YAML would read them back as strings).
pub fn yaml_text(value: &Json) -> String {
    match value {
        Json::String(s) if plain_is_string(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `s` written plain reads back as the same string (not a number, bool, null, or
/// something with YAML syntax in it).
fn plain_is_string(s: &str) -> bool {
    let special =
        matches!(s, "" | "~" | "null" | "Null" | "NULL" | "true" | "false" | "True" | "False" | "TRUE" | "FALSE");
    let numeric = s.parse::<f64>().is_ok() || s.starts_with(|c: char| c.is_ascii_digit() || ".-+".contains(c));
    let syntax = s.starts_with(|c: char| "!&*{}[]|>'\"%@`#,?:-".contains(c)) || s.contains(": ") || s.contains(" #");
    !(special || numeric || syntax || s.ends_with(' ') || s.starts_with(' '))
}

/// The type names of a set, for display (`string | integer`).
pub fn type_names(types: Types) -> String {
    types.names().collect::<Vec<_>>().join(" | ")
}
