//! Topology and reference checks (reference §8.1 items 8–9, §8.2 items 12–16 and 20–22): how
//! each service is launched, TLS material, names, `depends_on`, interfaces and ports,
//! healthchecks, and the start-order edges that `env` addresses imply.
//!
//! They read the services recorded at load (every file: a `load()`ed helper may declare
//! services the root refers to by name) but report only at spans in the root file, the one
//! the diagnostics belong to.

mod deps;
mod health;
mod interfaces;
pub(super) mod literal;
mod names;
mod sources;
mod tls;

use ospecc_schema::topology::builtins;
use std::sync::Arc;

use super::Model;
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::attrs;
use crate::topology::syntax::CallSite;
use crate::topology::values::{Arg, Recorded};
use literal::Literals;

/// Load-time checks: they read the services the file declared.
pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let Some(syntax) = model.syntax.filter(|_| model.part.load_time()) else { return };
    let cx = Cx { model, literals: Literals::index(&syntax.tree) };
    sources::check(&cx, out);
    tls::check(&cx, out);
    names::check(&cx, out);
    deps::check(&cx, out);
    interfaces::check(&cx, out);
    health::check(&cx, out);
}

/// What the checks of this module share: the model and the root file's literals.
pub(super) struct Cx<'m, 'a> {
    model: &'m Model<'a>,
    literals: Literals,
}

/// How a service runs (reference §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Binary,
    Container,
    Remote,
    Mock,
    /// No source declared (reported by `sources`).
    Unknown,
}

impl Cx<'_, '_> {
    /// Every declared service (`service`, `mock_service`, stdlib mock constructors), any file.
    fn services(&self) -> impl Iterator<Item = &Arc<Recorded>> {
        self.model.evaluated.services()
    }

    /// Services declared by a call in the root file.
    fn root_services(&self) -> impl Iterator<Item = &Arc<Recorded>> {
        self.services().filter(|s| self.in_root(s))
    }

    /// Recorded calls of `builtin` in the root file.
    fn root_calls<'s>(&'s self, builtin: &'s str) -> impl Iterator<Item = &'s Arc<Recorded>> + 's {
        self.model.evaluated.calls_of(builtin).filter(|r| self.in_root(r))
    }

    fn in_root(&self, record: &Recorded) -> bool {
        record.file == self.model.evaluated.root
    }

    /// Whether every call of the file ran (name look-ups are unsound on a partial model).
    fn complete(&self) -> bool {
        self.model.evaluated.complete
    }

    /// The call site of a record made in the root file.
    fn site(&self, record: &Recorded) -> Option<&CallSite> {
        if !self.in_root(record) {
            return None;
        }
        self.model.syntax?.call(record.span)
    }

    /// The callee of a root-file call (`service` in `service(...)`).
    fn callee(&self, record: &Recorded) -> Option<Span> {
        self.site(record).map(|s| s.callee)
    }

    /// Positional argument `index` (unknown behind a `*args` splat, which shifts positions).
    fn positional(&self, record: &Recorded, index: usize) -> Option<Span> {
        let site = self.site(record)?;
        if site.splat {
            return None;
        }
        site.positional.get(index).copied()
    }

    /// `name=value` of a root-file call.
    fn keyword(&self, record: &Recorded, name: &str) -> Option<Span> {
        self.site(record)?.keyword(name)
    }

    /// The value of keyword `name`.
    fn value(&self, record: &Recorded, name: &str) -> Option<Span> {
        self.site(record)?.keyword_value(name)
    }

    /// An argument given by position `index` or by keyword `name`.
    fn arg(&self, record: &Recorded, index: usize, name: &str) -> Option<Span> {
        self.value(record, name).or_else(|| self.positional(record, index))
    }

    /// Where to report about a service (or other named call) as a whole: its name argument,
    /// else its callee.
    fn name_span(&self, record: &Recorded) -> Option<Span> {
        self.positional(record, 0).or_else(|| self.callee(record))
    }
}

/// How `service` runs.
pub(super) fn kind(service: &Recorded) -> Kind {
    if service.builtin == builtins::MOCK_SERVICE || service.builtin != builtins::SERVICE {
        return Kind::Mock;
    }
    let given = |name: &str| service.named(name).is_some_and(|a| *a != Arg::None);
    if given("remote") {
        Kind::Remote
    } else if given("image") || given("build") {
        Kind::Container
    } else if given("binary") || service.positional.iter().skip(1).any(|a| matches!(a, Arg::Str(_))) {
        Kind::Binary
    } else {
        Kind::Unknown
    }
}

/// A service's interfaces.
pub(super) fn interfaces(service: &Recorded) -> Vec<&Arc<Recorded>> {
    attrs::interfaces(service).collect()
}

/// An interface's declared port, when it is a literal int.
pub(super) fn port(iface: &Recorded) -> Option<i64> {
    match attrs::interface_arg(iface, 2, "port") {
        Some(Arg::Int(p)) => Some(*p),
        _ => None,
    }
}

/// An interface's protocol string.
pub(super) fn protocol(iface: &Recorded) -> Option<&str> {
    attrs::interface_arg(iface, 1, "protocol").and_then(Arg::as_str)
}

/// The `ports=` mapping of a service: (container port, host port) pairs of ints.
pub(super) fn port_mappings(service: &Recorded) -> Vec<(Option<i64>, Option<i64>)> {
    let int = |a: &Arg| match a {
        Arg::Int(i) => Some(*i),
        _ => None,
    };
    match service.named("ports") {
        Some(Arg::Dict(entries)) => entries.iter().map(|(k, v)| (int(k), int(v))).collect(),
        _ => Vec::new(),
    }
}

/// The names a service's `depends_on` lists (services by value or by name).
pub(super) fn dependencies(service: &Recorded) -> Vec<Option<String>> {
    match service.named("depends_on") {
        Some(Arg::List(items)) => items.iter().map(dependency_name).collect(),
        _ => Vec::new(),
    }
}

fn dependency_name(item: &Arg) -> Option<String> {
    match item {
        Arg::Str(s) => Some(s.clone()),
        Arg::Record(r) if r.ty == "service" => r.name().map(str::to_owned),
        _ => None,
    }
}

/// "`a`, `b` and `c`".
pub(in crate::topology::checks) fn listing<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
