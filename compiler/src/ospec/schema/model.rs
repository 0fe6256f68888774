//! The compiled schema: a draft-07 JSON Schema turned once into an arena of typed nodes, with
//! `$ref`s resolved to indices and patterns compiled, so validation does no lookups by string
//! and no regex compilation.
//!
//! ospecc-specific behaviour lives in the schema as annotation keywords (ignored by other
//! tools), read here:
//!
//! - `x-ospecc-severity`: `"warning"` or `"error"` for failures of this subschema and below;
//! - `x-ospecc-unknown-keys`: the severity of unknown keys in this object and below;
//! - `x-ospecc-code`: the diagnostic code for this subschema's own failures (e.g. `OSP120`);
//! - `x-ospecc-alias-of`: on a property, the canonical key it is an alias of (a warning);
//! - `x-ospecc-expected`: what a value should look like, in words (used for `pattern`);
//! - `x-ospecc-help`: extra help shown with this subschema's failures.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value as Json};

use super::format::Format;
use super::regex::Pattern;
use crate::diagnostics::{codes, Severity};

/// Index of a node in [`Compiled::nodes`].
pub type Id = u32;

/// JSON types as a bit set (`integer` is its own bit; `number` implies it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Types(u8);

impl Types {
    pub const NULL: Types = Types(1);
    pub const BOOLEAN: Types = Types(2);
    pub const INTEGER: Types = Types(4);
    pub const NUMBER: Types = Types(8);
    pub const STRING: Types = Types(16);
    pub const ARRAY: Types = Types(32);
    pub const OBJECT: Types = Types(64);

    const NAMES: [(&'static str, Types); 7] = [
        ("null", Types::NULL),
        ("boolean", Types::BOOLEAN),
        ("integer", Types::INTEGER),
        ("number", Types::NUMBER),
        ("string", Types::STRING),
        ("array", Types::ARRAY),
        ("object", Types::OBJECT),
    ];

    pub fn from_name(name: &str) -> Option<Types> {
        Types::NAMES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: Types) -> Types {
        Types(self.0 | other.0)
    }

    /// Whether a value of JSON type `actual` (as [`Types::from_name`] names it) is allowed.
    pub fn admits(self, actual: Types) -> bool {
        self.0 & actual.0 != 0 || (actual == Types::INTEGER && self.0 & Types::NUMBER.0 != 0)
    }

    /// The type names in the set, in a stable order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Types::NAMES.into_iter().filter(move |(_, t)| self.0 & t.0 != 0).map(|(n, _)| n)
    }
}

/// What `additionalProperties` allows.
#[derive(Clone, Copy, Debug, Default)]
pub enum Additional {
    #[default]
    Any,
    Forbidden,
    Schema(Id),
}

/// `items`: one schema for every item, or a tuple of positional schemas.
#[derive(Clone, Debug, Default)]
pub enum Items {
    #[default]
    Any,
    Each(Id),
    Tuple(Vec<Id>),
}

/// A numeric bound; `exclusive` for `exclusiveMinimum`/`exclusiveMaximum`.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub limit: f64,
    pub exclusive: bool,
}

/// One compiled (sub)schema. Absent keywords are `None`/empty and cost nothing to check.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// The `false` schema (nothing is valid); `true` compiles to an empty node.
    pub reject_all: bool,
    pub reference: Option<Id>,
    pub types: Types,
    pub properties: Vec<(Box<str>, Id)>,
    pub pattern_properties: Vec<(Pattern, Id)>,
    pub additional: Additional,
    pub property_names: Option<Id>,
    pub required: Vec<Box<str>>,
    pub min_properties: Option<usize>,
    pub max_properties: Option<usize>,
    pub enumeration: Option<Vec<Json>>,
    /// Per-value docs of `enum`, by position (`enumDescriptions`, or VS Code's
    /// `markdownEnumDescriptions`, which wins): an annotation, so malformed entries are ignored.
    pub enum_docs: Vec<Option<Box<str>>>,
    pub constant: Option<Json>,
    pub pattern: Option<Pattern>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub format: Option<Format>,
    pub minimum: Option<Bound>,
    pub maximum: Option<Bound>,
    pub multiple_of: Option<f64>,
    pub items: Items,
    pub additional_items: Additional,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
    pub unique_items: bool,
    pub contains: Option<Id>,
    pub all_of: Vec<Id>,
    pub any_of: Vec<Id>,
    pub one_of: Vec<Id>,
    pub not: Option<Id>,
    pub title: Option<Box<str>>,
    pub description: Option<Box<str>>,
    /// `default` and `examples`: annotations only (hover and completion show them).
    pub default: Option<Json>,
    pub examples: Vec<Json>,
    pub severity: Option<Severity>,
    pub unknown_keys: Option<Severity>,
    pub code: Option<&'static str>,
    pub alias_of: Option<Box<str>>,
    pub expected: Option<Box<str>>,
    pub help: Option<Box<str>>,
}

impl Schema {
    /// The schema declared in `properties` for `name`.
    pub fn declared(&self, name: &str) -> Option<Id> {
        self.properties.binary_search_by(|(n, _)| (**n).cmp(name)).ok().map(|i| self.properties[i].1)
    }

    pub fn declared_names(&self) -> impl Iterator<Item = &str> {
        self.properties.iter().map(|(n, _)| &**n)
    }
}

/// Property names a profile knows: at the root, and anywhere deeper.
#[derive(Clone, Debug, Default)]
pub struct PropertyNames {
    pub root: BTreeSet<String>,
    pub nested: BTreeSet<String>,
}

/// A whole compiled schema document.
#[derive(Debug)]
pub struct Compiled {
    pub nodes: Vec<Schema>,
    pub root: Id,
    pub names: PropertyNames,
}

impl Compiled {
    pub fn node(&self, id: Id) -> &Schema {
        &self.nodes[id as usize]
    }

    /// Compiles a draft-07 schema document.
    pub fn compile(text: &str) -> Result<Compiled, String> {
        let document: Json = serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
        let mut compiler = Compiler { document: &document, nodes: Vec::new(), by_pointer: HashMap::new() };
        let root = compiler.compile_pointer("")?;
        let mut compiled = Compiled { nodes: compiler.nodes, root, names: PropertyNames::default() };
        compiled.names = collect_names(&compiled);
        Ok(compiled)
    }
}

struct Compiler<'d> {
    document: &'d Json,
    nodes: Vec<Schema>,
    /// Subschemas compiled by JSON pointer, so `$ref` cycles and shared definitions compile once.
    by_pointer: HashMap<String, Id>,
}

/// A keyword handler: reads `value` into `schema`, compiling subschemas through `compiler`.
type Keyword = fn(&mut Compiler, &mut Schema, &Json, &str) -> Result<(), String>;

/// Every keyword the validator interprets. Unlisted keywords are annotations and ignored.
const KEYWORDS: &[(&str, Keyword)] = &[
    ("$ref", |c, s, v, _| {
        let target = v.as_str().ok_or("$ref must be a string")?;
        let pointer = target.strip_prefix('#').ok_or_else(|| format!("only local $ref is supported: {target}"))?;
        s.reference = Some(c.compile_pointer(pointer)?);
        Ok(())
    }),
    ("type", |_, s, v, _| {
        let names: Vec<&Json> = match v {
            Json::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for name in names {
            let name = name.as_str().ok_or("type names must be strings")?;
            s.types = s.types.union(Types::from_name(name).ok_or_else(|| format!("unknown type {name}"))?);
        }
        Ok(())
    }),
    ("properties", |c, s, v, at| {
        for (name, sub) in object(v, "properties")? {
            s.properties.push((name.as_str().into(), c.compile_at(sub, &child(at, "properties", name))?));
        }
        s.properties.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(())
    }),
    ("patternProperties", |c, s, v, at| {
        for (pattern, sub) in object(v, "patternProperties")? {
            let id = c.compile_at(sub, &child(at, "patternProperties", pattern))?;
            s.pattern_properties.push((Pattern::new(pattern)?, id));
        }
        Ok(())
    }),
    ("additionalProperties", |c, s, v, at| {
        s.additional = c.additional(v, &format!("{at}/additionalProperties"))?;
        Ok(())
    }),
    ("propertyNames", |c, s, v, at| {
        s.property_names = Some(c.compile_at(v, &format!("{at}/propertyNames"))?);
        Ok(())
    }),
    ("required", |_, s, v, _| {
        s.required = strings(v, "required")?.into_iter().map(Into::into).collect();
        Ok(())
    }),
    ("minProperties", |_, s, v, _| set(&mut s.min_properties, count(v, "minProperties")?)),
    ("maxProperties", |_, s, v, _| set(&mut s.max_properties, count(v, "maxProperties")?)),
    ("enum", |_, s, v, _| {
        s.enumeration = Some(v.as_array().ok_or("enum must be an array")?.clone());
        Ok(())
    }),
    ("enumDescriptions", |_, s, v, _| {
        if s.enum_docs.is_empty() {
            s.enum_docs = annotations(v);
        }
        Ok(())
    }),
    ("markdownEnumDescriptions", |_, s, v, _| {
        s.enum_docs = annotations(v);
        Ok(())
    }),
    ("const", |_, s, v, _| {
        s.constant = Some(v.clone());
        Ok(())
    }),
    ("pattern", |_, s, v, _| {
        s.pattern = Some(Pattern::new(v.as_str().ok_or("pattern must be a string")?)?);
        Ok(())
    }),
    ("minLength", |_, s, v, _| set(&mut s.min_length, count(v, "minLength")?)),
    ("maxLength", |_, s, v, _| set(&mut s.max_length, count(v, "maxLength")?)),
    ("format", |_, s, v, _| {
        s.format = Format::from_name(v.as_str().ok_or("format must be a string")?);
        Ok(())
    }),
    ("minimum", |_, s, v, _| bound(&mut s.minimum, v, false)),
    ("maximum", |_, s, v, _| bound(&mut s.maximum, v, false)),
    ("exclusiveMinimum", |_, s, v, _| bound(&mut s.minimum, v, true)),
    ("exclusiveMaximum", |_, s, v, _| bound(&mut s.maximum, v, true)),
    ("multipleOf", |_, s, v, _| {
        s.multiple_of = Some(v.as_f64().filter(|m| *m > 0.0).ok_or("multipleOf must be a positive number")?);
        Ok(())
    }),
    ("items", |c, s, v, at| {
        s.items = match v {
            Json::Array(items) => Items::Tuple(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, sub)| c.compile_at(sub, &format!("{at}/items/{i}")))
                    .collect::<Result<_, _>>()?,
            ),
            single => Items::Each(c.compile_at(single, &format!("{at}/items"))?),
        };
        Ok(())
    }),
    ("additionalItems", |c, s, v, at| {
        s.additional_items = c.additional(v, &format!("{at}/additionalItems"))?;
        Ok(())
    }),
    ("minItems", |_, s, v, _| set(&mut s.min_items, count(v, "minItems")?)),
    ("maxItems", |_, s, v, _| set(&mut s.max_items, count(v, "maxItems")?)),
    ("uniqueItems", |_, s, v, _| {
        s.unique_items = v.as_bool().ok_or("uniqueItems must be a boolean")?;
        Ok(())
    }),
    ("contains", |c, s, v, at| {
        s.contains = Some(c.compile_at(v, &format!("{at}/contains"))?);
        Ok(())
    }),
    ("allOf", |c, s, v, at| {
        s.all_of = c.list(v, at, "allOf")?;
        Ok(())
    }),
    ("anyOf", |c, s, v, at| {
        s.any_of = c.list(v, at, "anyOf")?;
        Ok(())
    }),
    ("oneOf", |c, s, v, at| {
        s.one_of = c.list(v, at, "oneOf")?;
        Ok(())
    }),
    ("not", |c, s, v, at| {
        s.not = Some(c.compile_at(v, &format!("{at}/not"))?);
        Ok(())
    }),
    ("title", |_, s, v, _| {
        s.title = v.as_str().map(Into::into);
        Ok(())
    }),
    ("description", |_, s, v, _| {
        s.description = v.as_str().map(Into::into);
        Ok(())
    }),
    ("default", |_, s, v, _| {
        s.default = Some(v.clone());
        Ok(())
    }),
    ("examples", |_, s, v, _| {
        s.examples = v.as_array().cloned().unwrap_or_default();
        Ok(())
    }),
    ("x-ospecc-severity", |_, s, v, _| {
        s.severity = Some(severity(v)?);
        Ok(())
    }),
    ("x-ospecc-unknown-keys", |_, s, v, _| {
        s.unknown_keys = Some(severity(v)?);
        Ok(())
    }),
    ("x-ospecc-code", |_, s, v, _| {
        let code = v.as_str().ok_or("x-ospecc-code must be a string")?;
        s.code = Some(codes::lookup(code).ok_or_else(|| format!("x-ospecc-code {code} is not documented"))?.code);
        Ok(())
    }),
    ("x-ospecc-alias-of", |_, s, v, _| {
        s.alias_of = Some(v.as_str().ok_or("x-ospecc-alias-of must be a string")?.into());
        Ok(())
    }),
    ("x-ospecc-expected", |_, s, v, _| {
        s.expected = Some(v.as_str().ok_or("x-ospecc-expected must be a string")?.into());
        Ok(())
    }),
    ("x-ospecc-help", |_, s, v, _| {
        s.help = Some(v.as_str().ok_or("x-ospecc-help must be a string")?.into());
        Ok(())
    }),
];

impl Compiler<'_> {
    /// Compiles the subschema at a JSON pointer into the document, once.
    fn compile_pointer(&mut self, pointer: &str) -> Result<Id, String> {
        if let Some(&id) = self.by_pointer.get(pointer) {
            return Ok(id);
        }
        let document = self.document;
        let value = document.pointer(pointer).ok_or_else(|| format!("$ref target #{pointer} does not exist"))?;
        self.compile_at(value, pointer)
    }

    /// Compiles `value`, found at `pointer`. The id is reserved first so recursive `$ref`s
    /// resolve to it.
    fn compile_at(&mut self, value: &Json, pointer: &str) -> Result<Id, String> {
        if let Some(&id) = self.by_pointer.get(pointer) {
            return Ok(id);
        }
        let id = Id::try_from(self.nodes.len()).map_err(|_| "schema too large")?;
        self.nodes.push(Schema::default());
        self.by_pointer.insert(pointer.to_string(), id);
        let mut schema = Schema::default();
        match value {
            Json::Bool(accept) => schema.reject_all = !accept,
            Json::Object(keywords) => {
                for (keyword, handler) in KEYWORDS {
                    if let Some(v) = keywords.get(*keyword) {
                        handler(self, &mut schema, v, pointer).map_err(|e| format!("#{pointer}/{keyword}: {e}"))?;
                    }
                }
            }
            _ => return Err(format!("#{pointer}: a schema must be an object or a boolean")),
        }
        self.nodes[id as usize] = schema;
        Ok(id)
    }

    fn additional(&mut self, value: &Json, pointer: &str) -> Result<Additional, String> {
        Ok(match value {
            Json::Bool(true) => Additional::Any,
            Json::Bool(false) => Additional::Forbidden,
            schema => Additional::Schema(self.compile_at(schema, pointer)?),
        })
    }

    fn list(&mut self, value: &Json, at: &str, keyword: &str) -> Result<Vec<Id>, String> {
        let items = value.as_array().ok_or_else(|| format!("{keyword} must be an array"))?;
        items.iter().enumerate().map(|(i, sub)| self.compile_at(sub, &format!("{at}/{keyword}/{i}"))).collect()
    }
}

fn object<'v>(value: &'v Json, keyword: &str) -> Result<&'v Map<String, Json>, String> {
    value.as_object().ok_or_else(|| format!("{keyword} must be an object"))
}

fn strings<'v>(value: &'v Json, keyword: &str) -> Result<Vec<&'v str>, String> {
    let items = value.as_array().ok_or_else(|| format!("{keyword} must be an array"))?;
    items.iter().map(|v| v.as_str().ok_or_else(|| format!("{keyword} items must be strings"))).collect()
}

/// An array of optional strings (anything else in it counts as absent).
fn annotations(value: &Json) -> Vec<Option<Box<str>>> {
    value.as_array().map(|items| items.iter().map(|v| v.as_str().map(Into::into)).collect()).unwrap_or_default()
}

fn count(value: &Json, keyword: &str) -> Result<usize, String> {
    value.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| format!("{keyword} must be a count"))
}

fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), String> {
    *slot = Some(value);
    Ok(())
}

/// Draft-07 bounds; an exclusive bound wins over an inclusive one at the same limit.
fn bound(slot: &mut Option<Bound>, value: &Json, exclusive: bool) -> Result<(), String> {
    let limit = value.as_f64().ok_or("bounds must be numbers")?;
    let tighter = match slot {
        Some(old) => old.limit != limit || exclusive,
        None => true,
    };
    if tighter {
        *slot = Some(Bound { limit, exclusive });
    }
    Ok(())
}

fn severity(value: &Json) -> Result<Severity, String> {
    match value.as_str() {
        Some("warning") => Ok(Severity::Warning),
        Some("error") => Ok(Severity::Error),
        _ => Err("severity must be \"warning\" or \"error\"".to_string()),
    }
}

/// `"{at}/{keyword}/{name}"` with `name` escaped as a JSON pointer token.
fn child(at: &str, keyword: &str, name: &str) -> String {
    format!("{at}/{keyword}/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// Root names (declared at the root, through `$ref`/`allOf`) and names declared anywhere else.
fn collect_names(compiled: &Compiled) -> PropertyNames {
    let mut root_nodes = vec![compiled.root];
    let mut i = 0;
    while let Some(&id) = root_nodes.get(i) {
        let node = compiled.node(id);
        root_nodes.extend(node.reference.iter().chain(&node.all_of).chain(&node.any_of).chain(&node.one_of));
        i += 1;
    }
    let mut names = PropertyNames::default();
    for (id, node) in compiled.nodes.iter().enumerate() {
        let target = if root_nodes.contains(&(id as Id)) { &mut names.root } else { &mut names.nested };
        target.extend(node.declared_names().map(str::to_string));
    }
    names
}
