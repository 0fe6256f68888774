//! The topology builtin catalog, as data: every builtin of the Faultbox dialect with its
//! parameters, return type, docs and where it may be called; the value types and their
//! attributes; the step methods per protocol; the vocabularies (errno names, syscall keys,
//! enums). `topology/catalog.json` is the source; checking, completion, hover, the generated
//! `docs/topology-builtins.md` and (later) execution all bind calls through these types.

use std::sync::LazyLock;

use serde::Deserialize;

/// The whole catalog.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub builtins: Vec<Builtin>,
    /// Value types (`service`, `interface_ref`, `response`, `event`, …) and their attributes.
    pub types: Vec<ValueType>,
    /// Protocols with their step methods.
    pub protocols: Vec<Protocol>,
    /// Closed vocabularies by name (`errno`, `syscall`, `syscall_family`, `duration_unit`, …).
    pub vocabularies: Vec<Vocabulary>,
}

/// One builtin function (or a namespaced one such as `match.prefix` / `observe.stdout`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builtin {
    pub name: String,
    pub params: Vec<Param>,
    /// The name of a `types` entry, or a simple type (`str`, `int`, `bool`, `None`, `list`, `dict`).
    pub returns: String,
    pub doc: String,
    pub context: CallContext,
    /// `C` core or `A` advanced (reference tier).
    #[serde(default)]
    pub tier: String,
}

/// Where a builtin may be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallContext {
    /// At module top level (registration: `service`, `fault_matrix`, …).
    TopLevel,
    /// Inside a test, scenario, expectation or monitor body.
    TestBody,
    /// Either.
    Anywhere,
}

/// One parameter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// A type expression: `str`, `int`, `float`, `bool`, `None`, `callable`, `duration`
    /// (a duration string), a `types` name, `list[T]`, `dict[K,V]`, alternatives with `|`.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub required: bool,
    /// The default as Starlark source text, when there is one.
    #[serde(default)]
    pub default: Option<String>,
    /// A vocabulary the value must belong to (a `vocabularies` name), if any.
    #[serde(default)]
    pub vocabulary: Option<String>,
    #[serde(default)]
    pub doc: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    Positional,
    PositionalOrKeyword,
    KeywordOnly,
    /// `*args`.
    Variadic,
    /// `**kwargs`: any keyword accepted.
    KeywordVariadic,
}

/// A value type and its attributes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueType {
    pub name: String,
    pub doc: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub doc: String,
}

/// A protocol an interface may speak, with its step methods (called as `svc.iface.method(...)`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    pub name: String,
    pub doc: String,
    pub methods: Vec<Method>,
    /// Whether `mock_service` can serve it.
    #[serde(default)]
    pub mock_capable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub params: Vec<Param>,
    pub returns: String,
    #[serde(default)]
    pub doc: String,
}

/// A closed set of values (case-sensitive unless `case_insensitive`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub name: String,
    pub doc: String,
    pub values: Vec<VocabularyValue>,
    #[serde(default)]
    pub case_insensitive: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabularyValue {
    pub value: String,
    #[serde(default)]
    pub doc: String,
    /// For families (`syscall_family`): the members it expands to.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The catalog's JSON text (for `ospecc schema export` and tools).
pub const CATALOG_JSON: &str = include_str!("../topology/catalog.json");

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    // The embedded catalog is tested to parse (`tests` below): failing here is a build defect.
    serde_json::from_str(CATALOG_JSON).unwrap_or_else(|e| panic!("schema/topology/catalog.json is invalid: {e}"))
});

/// The catalog (parsed on first use).
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

impl Catalog {
    pub fn builtin(&self, name: &str) -> Option<&Builtin> {
        self.builtins.iter().find(|b| b.name == name)
    }

    pub fn value_type(&self, name: &str) -> Option<&ValueType> {
        self.types.iter().find(|t| t.name == name)
    }

    pub fn protocol(&self, name: &str) -> Option<&Protocol> {
        self.protocols.iter().find(|p| p.name == name)
    }

    pub fn vocabulary(&self, name: &str) -> Option<&Vocabulary> {
        self.vocabularies.iter().find(|v| v.name == name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_catalog_parses_and_names_are_unique() {
        let catalog = super::catalog();
        let mut names: Vec<&str> = catalog.builtins.iter().map(|b| b.name.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate builtin names");
        assert!(catalog.builtin("service").is_some());
    }
}
