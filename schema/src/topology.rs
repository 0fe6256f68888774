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
    /// The section of the reference it belongs to (`topology`, `syscall faults`, …); used to
    /// group the generated docs and completion lists.
    #[serde(default)]
    pub group: String,
    pub params: Vec<Param>,
    /// The name of a `types` entry, or a simple type (`str`, `int`, `bool`, `None`, `list`, `dict`).
    pub returns: String,
    pub doc: String,
    pub context: CallContext,
    /// `C` core or `A` advanced (reference tier); `-` for removed builtins.
    #[serde(default)]
    pub tier: String,
    /// Longer explanations for the reference (call forms, pitfalls), one paragraph each.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Set when the name is known but calling it always fails in Faultbox (a removed builtin,
    /// or an event source with no Starlark constructor): the explanation, with the replacement.
    /// Kept in the catalog so a checker can say why instead of "undefined name".
    #[serde(default)]
    pub removed: Option<String>,
    /// Faultbox accepts keywords this builtin does not have and drops them silently (it reads
    /// only the names it knows): an unknown keyword is then a warning (the call does not do
    /// what it says, but it runs), not an error.
    #[serde(default)]
    pub ignores_unknown_keywords: bool,
    /// For builtins that fault or observe services or interfaces: where their targets are.
    #[serde(default)]
    pub targets: Option<Targets>,
    /// For builtins that take syscall faults as keywords (`fault(svc, write=deny("EIO"))`):
    /// which keys they accept.
    #[serde(default)]
    pub syscall_keys: Option<SyscallKeys>,
    /// For builtins that open or close a fault, trace or partition scope while a test runs.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Faultbox runs it on the gVisor packet gateway: it needs `determinism(runtime="gvisor")`.
    #[serde(default)]
    pub gateway: bool,
    /// It needs packet-level injection (a netstack), which `ospecc run` does not do: a test
    /// that calls it is reported `not run`. (Partitions run on the gateway in Faultbox but as
    /// proxy blackholes here, so they are `gateway` without being `packet_level`.)
    #[serde(default)]
    pub packet_level: bool,
    /// For protocol rules: the `proxy_action` the rule installs on an interface's proxy.
    #[serde(default)]
    pub proxy_action: Option<String>,
    /// A top-level call of it registers a test or monitor that the file's readers list (the
    /// editor's outline).
    #[serde(default)]
    pub registers: bool,
    /// A call counts as an assertion of the test that makes it (Faultbox counts these for
    /// `TEST_NO_ASSERTIONS`).
    #[serde(default)]
    pub asserts: bool,
    /// For healthchecks: what they probe.
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    /// Its value is computed by a native implementation (`compiler/src/topology/native/`),
    /// not only recorded.
    #[serde(default)]
    pub native: bool,
}

/// Where a builtin's fault or observation targets are.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// Its positional arguments: the first is the service or interface (`partition` takes
    /// two services); a `fault()` rule after it is no target but is never a client either.
    Positional,
    /// Each item of its first parameter, a list (`fault_all([a, b], ...)`).
    FirstList,
    /// The keyword parameter named here (`fault_assumption(target=...)`).
    Keyword(String),
}

/// Which syscall-fault keys a builtin accepts (reference §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyscallKeys {
    /// Only the short list of the `syscall_faultable` vocabulary (`fault()`).
    Faultable,
    /// Every interceptable syscall (`syscall`) and family (`syscall_family`).
    Interceptable,
}

/// A scope a builtin opens or closes in a running test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub kind: ScopeKind,
    pub form: ScopeForm,
}

/// What a scope installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// Syscall faults on services (and protocol or packet rules on an interface).
    Fault,
    /// Syscall tracing: events without faults, on a layer of its own.
    Trace,
    /// A network partition between two services.
    Partition,
}

/// How a scope is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeForm {
    /// For the duration of its `run=` callable.
    Run,
    /// From this call until the matching stop (or the end of the test).
    Start,
    /// Ends what a start began.
    Stop,
}

/// What a healthcheck probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Healthcheck {
    /// The address given as its first argument.
    Address,
    /// The service's default interface, with its protocol's own probe.
    DefaultInterface,
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
    /// A type expression: a [`SIMPLE_TYPES`] name or a `types` name, `list[T]`, `dict[K,V]`,
    /// `tuple[A,B]`, alternatives with `|`. For variadic parameters, the type of each element.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub required: bool,
    /// The default as Starlark source text, when there is one.
    #[serde(default)]
    pub default: Option<String>,
    /// A vocabulary string values must belong to (a `vocabularies` name), if any. For a list or
    /// tuple parameter it applies to the string elements; non-string alternatives of the type
    /// (an `int` probability) are not constrained by it.
    #[serde(default)]
    pub vocabulary: Option<String>,
    #[serde(default)]
    pub doc: String,
    /// Keywords written for this parameter that Faultbox drops silently (kafka `publish(value=)`
    /// for `data=`); the diagnostic on them offers the rename.
    #[serde(default)]
    pub ignored_aliases: Vec<String>,
    /// For integers: the inclusive range Faultbox accepts.
    #[serde(default)]
    pub range: Option<Range>,
    /// For durations: what a zero or negative value means, when it is wrong.
    #[serde(default)]
    pub sign: Option<Sign>,
    /// For callables: how many positional arguments Faultbox calls it with.
    #[serde(default)]
    pub callback: Option<Callback>,
}

/// An inclusive integer range; no `max` means unbounded above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: i64,
    #[serde(default)]
    pub max: Option<i64>,
}

/// How wrong a zero or negative duration is, and why.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sign {
    /// The finding for zero; none when zero is fine.
    #[serde(default)]
    pub zero: Option<Level>,
    /// The finding for a negative value; none when that is fine.
    #[serde(default)]
    pub negative: Option<Level>,
    pub why: String,
}

/// The severity of a finding the catalog prescribes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Warning,
    Error,
}

/// A callable parameter's call: the number of positional arguments, and what they are.
/// For a list parameter it applies to each item, for a dict to each value, for `*args` to
/// each argument.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    pub arity: usize,
    pub why: String,
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
    /// For fault values: the layer they act on.
    #[serde(default)]
    pub fault_layer: Option<FaultLayer>,
}

/// The layer a fault value acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLayer {
    /// A seccomp rule: the value of a syscall keyword.
    Syscall,
    /// An L7 rule for an interface's proxy.
    Proxy,
    /// A packet rule for the gVisor gateway.
    Packet,
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
    /// Whether `ospecc run` serves a `mock_service` interface of it in-process (a row of the
    /// runtime's mock `PROTOCOLS` table; the runtime's tests hold the two to each other).
    #[serde(default)]
    pub mock_served: bool,
    /// Whether `ospecc run` has a client for its step methods (`svc.iface.method(...)`).
    #[serde(default)]
    pub steps_run: bool,
    /// Whether Faultbox has a proxy for it (a valid target of protocol rules).
    #[serde(default)]
    pub proxy: bool,
    /// Whether the proxy terminates TLS.
    #[serde(default)]
    pub tls_proxy: bool,
    /// What `ready()` sends to an interface of this protocol, when it is more than a TCP
    /// connect (a bare `tcp()` probe of it reports ready too early).
    #[serde(default)]
    pub ready_probe: Option<String>,
    /// The `proxy_matcher` fields the proxy consults; any other matcher does not narrow a rule.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// The `proxy_action`s the proxy implements; other actions are accepted and do nothing.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Faultbox's step methods of this protocol drop keywords they do not read (plugins read a
    /// `map[string]any`): an unknown keyword is a warning, not an error.
    #[serde(default)]
    pub ignores_unknown_keywords: bool,
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

/// A set of accepted strings: the listed `values` (case-sensitive unless `case_insensitive`),
/// or, for open syntaxes such as durations, any string matching `pattern`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub name: String,
    pub doc: String,
    pub values: Vec<VocabularyValue>,
    #[serde(default)]
    pub case_insensitive: bool,
    /// An ECMA/Rust-compatible regex a value may match instead of being listed.
    #[serde(default)]
    pub pattern: Option<String>,
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

/// Type names that need no `types` entry. `duration` is a string in the `duration` vocabulary,
/// `any` accepts every value, `None` is Starlark's None.
pub const SIMPLE_TYPES: &[&str] =
    &["str", "int", "float", "bool", "None", "callable", "any", "list", "dict", "tuple", "duration"];

/// The type names a type expression mentions (`dict[str,list[service|str]]` gives `dict`, `str`,
/// `list`, `service`, `str`), in order of appearance.
pub fn type_names(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(['|', '[', ']', ',']).map(str::trim).filter(|name| !name.is_empty())
}

pub mod builtins;
mod reference;
pub use reference::reference_markdown;

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
    use std::collections::HashSet;

    use super::{catalog, type_names, Param, ParamKind, SIMPLE_TYPES};

    fn assert_unique<'a>(what: &str, names: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for name in names {
            assert!(seen.insert(name), "duplicate {what}: {name}");
        }
    }

    /// Every (owner, param) pair of builtins and step methods.
    fn all_params() -> Vec<(String, &'static [Param])> {
        let catalog = catalog();
        let mut out: Vec<(String, &'static [Param])> =
            catalog.builtins.iter().map(|b| (b.name.clone(), b.params.as_slice())).collect();
        for protocol in &catalog.protocols {
            for method in &protocol.methods {
                out.push((format!("{}.{}", protocol.name, method.name), method.params.as_slice()));
            }
        }
        out
    }

    #[test]
    fn the_embedded_catalog_parses_and_names_are_unique() {
        let catalog = catalog();
        assert_unique("builtin", catalog.builtins.iter().map(|b| b.name.as_str()));
        assert_unique("type", catalog.types.iter().map(|t| t.name.as_str()));
        assert_unique("protocol", catalog.protocols.iter().map(|p| p.name.as_str()));
        assert_unique("vocabulary", catalog.vocabularies.iter().map(|v| v.name.as_str()));
        for ty in &catalog.types {
            assert_unique(&format!("attribute of {}", ty.name), ty.attributes.iter().map(|a| a.name.as_str()));
        }
        for protocol in &catalog.protocols {
            assert_unique(&format!("method of {}", protocol.name), protocol.methods.iter().map(|m| m.name.as_str()));
        }
        for vocabulary in &catalog.vocabularies {
            assert_unique(&format!("value of {}", vocabulary.name), vocabulary.values.iter().map(|v| v.value.as_str()));
        }
        for (owner, params) in all_params() {
            assert_unique(&format!("parameter of {owner}"), params.iter().map(|p| p.name.as_str()));
        }
        // No type may shadow a simple type: `str` must mean one thing.
        for ty in &catalog.types {
            assert!(!SIMPLE_TYPES.contains(&ty.name.as_str()), "type {} shadows a simple type", ty.name);
        }
    }

    #[test]
    fn every_type_name_is_known() {
        let catalog = catalog();
        let known = |name: &str| SIMPLE_TYPES.contains(&name) || catalog.value_type(name).is_some();
        let check = |owner: &str, expr: &str| {
            assert!(!expr.is_empty(), "{owner}: empty type");
            for name in type_names(expr) {
                assert!(known(name), "{owner}: unknown type `{name}` in `{expr}`");
            }
        };
        for builtin in &catalog.builtins {
            check(&builtin.name, &builtin.returns);
        }
        for (owner, params) in all_params() {
            for param in params {
                check(&format!("{owner}({})", param.name), &param.ty);
            }
        }
        for protocol in &catalog.protocols {
            for method in &protocol.methods {
                check(&format!("{}.{}", protocol.name, method.name), &method.returns);
            }
        }
        for ty in &catalog.types {
            for attribute in &ty.attributes {
                check(&format!("{}.{}", ty.name, attribute.name), &attribute.ty);
            }
        }
    }

    #[test]
    fn every_vocabulary_reference_exists_and_vocabularies_are_usable() {
        let catalog = catalog();
        for (owner, params) in all_params() {
            for param in params {
                if let Some(vocabulary) = &param.vocabulary {
                    assert!(
                        catalog.vocabulary(vocabulary).is_some(),
                        "{owner}({}): unknown vocabulary {vocabulary}",
                        param.name
                    );
                }
            }
        }
        for vocabulary in &catalog.vocabularies {
            assert!(
                !vocabulary.values.is_empty() || vocabulary.pattern.is_some(),
                "vocabulary {} accepts nothing",
                vocabulary.name
            );
        }
        // Family members are interceptable syscalls; protocol capabilities use known names.
        let syscalls: HashSet<&str> =
            catalog.vocabulary("syscall").unwrap().values.iter().map(|v| v.value.as_str()).collect();
        for family in &catalog.vocabulary("syscall_family").unwrap().values {
            assert!(!family.members.is_empty(), "family {} has no members", family.value);
            for member in &family.members {
                assert!(syscalls.contains(member.as_str()), "family {}: unknown syscall {member}", family.value);
            }
        }
        for faultable in &catalog.vocabulary("syscall_faultable").unwrap().values {
            assert!(syscalls.contains(faultable.value.as_str()), "faultable {} is not interceptable", faultable.value);
        }
        let in_vocabulary = |vocabulary: &str, value: &str| {
            catalog.vocabulary(vocabulary).unwrap().values.iter().any(|v| v.value == value)
        };
        for protocol in &catalog.protocols {
            for matcher in &protocol.matchers {
                assert!(in_vocabulary("proxy_matcher", matcher), "{}: matcher {matcher}", protocol.name);
            }
            for action in &protocol.actions {
                assert!(in_vocabulary("proxy_action", action), "{}: action {action}", protocol.name);
            }
            assert!(protocol.proxy || protocol.actions.is_empty(), "{}: actions without a proxy", protocol.name);
        }
    }

    #[test]
    fn protocols_and_the_protocol_vocabulary_agree() {
        let catalog = catalog();
        let vocabulary: Vec<&str> =
            catalog.vocabulary("protocol").unwrap().values.iter().map(|v| v.value.as_str()).collect();
        let protocols: Vec<&str> = catalog.protocols.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(vocabulary, protocols, "the protocol vocabulary and `protocols` differ");
    }

    #[test]
    fn parameters_are_in_a_callable_order() {
        for (owner, params) in all_params() {
            let rank = |kind: ParamKind| match kind {
                ParamKind::Positional => 0,
                ParamKind::PositionalOrKeyword => 1,
                ParamKind::Variadic => 2,
                ParamKind::KeywordOnly => 3,
                ParamKind::KeywordVariadic => 4,
            };
            let ranks: Vec<u8> = params.iter().map(|p| rank(p.kind)).collect();
            assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{owner}: parameter kinds out of order");
            assert!(ranks.iter().filter(|&&r| r == 2).count() <= 1, "{owner}: two *args");
            assert!(ranks.iter().filter(|&&r| r == 4).count() <= 1, "{owner}: two **kwargs");
            // Required positional parameters come before optional ones, as in any call syntax.
            let mut optional_seen = false;
            for param in
                params.iter().filter(|p| matches!(p.kind, ParamKind::Positional | ParamKind::PositionalOrKeyword))
            {
                assert!(!(param.required && optional_seen), "{owner}: required {} after an optional one", param.name);
                optional_seen |= !param.required;
            }
            for param in params {
                let star = matches!(param.kind, ParamKind::Variadic | ParamKind::KeywordVariadic);
                assert!(!(star && (param.required || param.default.is_some())), "{owner}: *{} required", param.name);
                assert!(
                    !(param.required && param.default.is_some()),
                    "{owner}: {} required with a default",
                    param.name
                );
            }
        }
    }

    #[test]
    fn every_builtin_is_documented_and_placed() {
        for builtin in &catalog().builtins {
            assert!(!builtin.doc.is_empty(), "{}: no doc", builtin.name);
            assert!(!builtin.group.is_empty(), "{}: no group", builtin.name);
            assert!(matches!(builtin.tier.as_str(), "C" | "A" | "-"), "{}: tier {}", builtin.name, builtin.tier);
            assert_eq!(builtin.tier == "-", builtin.removed.is_some(), "{}: tier - iff removed", builtin.name);
        }
    }

    #[test]
    fn the_seed_and_reference_forms_are_both_accepted() {
        let catalog = catalog();
        // monitor(fn, service="api") and monitor("name", on=..., check=...).
        let monitor = catalog.builtin("monitor").unwrap();
        assert!(monitor.params[0].ty.contains("str") && monitor.params[0].ty.contains("callable"));
        for name in ["on", "service", "check", "update", "state_init"] {
            assert!(monitor.params.iter().any(|p| p.name == name && !p.required), "monitor lacks optional {name}");
        }
        // fault_assumption(faults=[a, b]) without a target.
        let assumption = catalog.builtin("fault_assumption").unwrap();
        assert!(assumption.params.iter().any(|p| p.name == "faults" && p.ty == "list[fault_assumption]"));
        assert!(assumption.params.iter().any(|p| p.name == "target" && !p.required));
        for name in ["default_expect", "overrides", "exclude"] {
            assert!(catalog.builtin("fault_matrix").unwrap().params.iter().any(|p| p.name == name));
        }
    }

    /// The per-builtin facts are consistent with the signatures they describe, so code that
    /// reads them can rely on what they point at.
    #[test]
    fn builtin_facts_fit_their_builtins() {
        use super::{ScopeForm, ScopeKind, Targets};
        let catalog = catalog();
        let in_vocabulary = |vocabulary: &str, value: &str| {
            catalog.vocabulary(vocabulary).unwrap().values.iter().any(|v| v.value == value)
        };
        for b in &catalog.builtins {
            let param = |name: &str| b.params.iter().find(|p| p.name == name);
            match &b.targets {
                Some(Targets::Positional) => assert!(
                    b.params.first().is_some_and(|p| p.kind == ParamKind::Positional),
                    "{}: positional targets without a positional parameter",
                    b.name
                ),
                Some(Targets::FirstList) => {
                    assert!(b.params.first().is_some_and(|p| p.ty.starts_with("list[")), "{}: no first list", b.name)
                }
                Some(Targets::Keyword(name)) => {
                    assert!(param(name).is_some_and(|p| p.kind == ParamKind::KeywordOnly), "{}: no {name}=", b.name)
                }
                None => {}
            }
            if b.syscall_keys.is_some() {
                assert!(b.targets.is_some(), "{}: syscall keys without targets", b.name);
                assert!(b.params.iter().any(|p| p.kind == ParamKind::KeywordVariadic), "{}: no **keys", b.name);
            }
            if let Some(scope) = b.scope {
                assert!(b.targets.is_some(), "{}: a scope without targets", b.name);
                let takes_run = param("run").is_some();
                assert_eq!(takes_run, scope.form == ScopeForm::Run, "{}: run= iff a run scope", b.name);
                if scope.kind == ScopeKind::Partition {
                    assert!(b.gateway, "{}: Faultbox partitions on the gateway", b.name);
                }
            }
            assert!(!b.packet_level || b.gateway, "{}: packet-level but not on the gateway", b.name);
            if let Some(action) = &b.proxy_action {
                assert!(in_vocabulary("proxy_action", action), "{}: proxy action {action}", b.name);
                assert!(b.returns.split('|').any(|t| t == "proxy_fault"), "{}: not a protocol rule", b.name);
            }
            if b.healthcheck.is_some() {
                assert_eq!(b.returns, "healthcheck", "{}", b.name);
                assert!(param("timeout").is_some_and(|p| p.default.is_some()), "{}: no default timeout", b.name);
            }
            assert!(!b.native || b.removed.is_none(), "{}: a removed builtin cannot be native", b.name);
            for p in &b.params {
                let owner = format!("{}({})", b.name, p.name);
                if let Some(range) = p.range {
                    assert!(p.ty == "int", "{owner}: a range on a non-int");
                    assert!(range.max.is_none_or(|max| range.min <= max), "{owner}: empty range");
                }
                if let Some(sign) = &p.sign {
                    assert_eq!(p.vocabulary.as_deref(), Some("duration"), "{owner}: a sign rule on a non-duration");
                    assert!(sign.zero.is_some() || sign.negative.is_some(), "{owner}: a sign rule that finds nothing");
                }
                if p.callback.is_some() {
                    assert!(type_names(&p.ty).any(|t| t == "callable"), "{owner}: a callback on a non-callable");
                }
            }
        }
        let layered: Vec<&str> =
            catalog.types.iter().filter(|t| t.fault_layer.is_some()).map(|t| t.name.as_str()).collect();
        assert_eq!(layered, ["fault", "proxy_fault", "packet_fault"]);
        for protocol in catalog.protocols.iter().filter(|p| p.tls_proxy) {
            assert!(protocol.proxy, "{}: a TLS proxy without a proxy", protocol.name);
        }
    }

    #[test]
    fn type_names_splits_expressions() {
        let names: Vec<&str> = type_names("dict[str, list[service|str]]").collect();
        assert_eq!(names, ["dict", "str", "list", "service", "str"]);
    }
}
