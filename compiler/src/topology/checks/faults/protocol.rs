//! Protocol rules against the interface they are applied to (reference §8.1 item 11, §8.3
//! items 24–26): the target kinds of `fault()` and `fault_assumption(rules=)`, whether the
//! interface's protocol has a proxy that implements the rule's action and consults its
//! matchers, whether `fault(ref, ...)` has a rule at all, and whether `source=` reaches it.

use ospecc_schema::topology::{builtins, catalog, Protocol, Targets};

use super::{
    already_reported, interface_name, layer, list_item, record_span, service_name, site_of, syscall_keywords, Layer,
};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::attrs;
use crate::topology::checks::{Call, Model};
use crate::topology::values::{Arg, Recorded};

/// Matcher keywords that are aliases of a proxy rule field.
const MATCHER_ALIASES: &[(&str, &str)] = &[("op", "method"), ("collection", "key"), ("subject", "topic")];

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    // A protocol rule's findings are reported once, at the rule, for its first use in the
    // file: they are cross findings, made where every call is at hand; the rest are the call's.
    let calls: Box<dyn Iterator<Item = &Call>> =
        if model.part.cross() { Box::new(model.every_call().iter()) } else { Box::new(model.calls()) };
    for call in calls {
        if model.has_splat(call) {
            continue;
        }
        let emit = Emit { call: model.part.owns(call.record.span), rules: model.part.cross() };
        if emit.call {
            clients(model, call, out);
        }
        if call.is(builtins::FAULT) {
            fault(model, call, emit, out);
        } else if call.is(builtins::FAULT_ASSUMPTION) {
            assumption_rules(model, call, emit, out);
        }
    }
}

/// Which findings about one call are made (see [`Part`](super::super::Part)).
#[derive(Clone, Copy)]
struct Emit {
    /// The call's own.
    call: bool,
    /// Its protocol rules' (reported once for the file).
    rules: bool,
}

/// A `client` value.
fn client(arg: &Arg) -> Option<&Recorded> {
    arg.record().filter(|r| r.ty == "client").map(|r| &**r)
}

/// TOP203: a `client` passed where a service or interface is faulted.
fn clients(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    let Some(builtin) = call.builtin() else { return };
    let mut found: Vec<(&Recorded, Span)> = Vec::new();
    match &builtin.targets {
        // Every positional argument is a target or a rule (never a client).
        Some(Targets::Positional) => {
            for (i, arg) in call.record.positional.iter().enumerate() {
                if let Some(r) = client(arg) {
                    found.push((r, model.positional_span(call, i)));
                }
            }
        }
        Some(Targets::FirstList) => {
            if let Some(Arg::List(items)) = call.record.positional.first() {
                let list = model.positional_span(call, 0);
                for (i, item) in items.iter().enumerate() {
                    if let Some(r) = client(item) {
                        found.push((r, list_item(model, list, i)));
                    }
                }
            }
        }
        Some(Targets::Keyword(keyword)) => {
            if let Some(r) = call.record.named(keyword).and_then(client) {
                found.push((r, model.value_span(call, keyword)));
            }
        }
        None => {}
    }
    for (client, at) in found {
        if already_reported(out, at) {
            continue;
        }
        let name = client.name().unwrap_or("?");
        let target = client.named("target").or_else(|| client.positional.get(1)).and_then(Arg::record);
        let help = match target {
            Some(t) if t.ty == "interface_ref" => format!(
                "fault what the client calls: the interface `{}` (or its service `{}`)",
                interface_name(t),
                attrs::parts(t).map_or("?", |(s, _)| service_name(s))
            ),
            _ => "fault the service or interface the client calls".into(),
        };
        out.push(
            Diagnostic::error("TOP203", at, format!("client `{name}` is not a fault target"))
                .with_help(help)
                .with_note("a client is the test driver's typed caller; it has no process or proxy to fault"),
        );
    }
}

fn fault(model: &Model, call: &Call, emit: Emit, out: &mut Vec<Diagnostic>) {
    let Some(target) = call.record.positional.first().and_then(Arg::record) else { return };
    let rules = call.record.positional.get(1..).unwrap_or_default();
    match target.ty.as_str() {
        "service" if !rules.is_empty() && emit.call => {
            out.push(
                Diagnostic::error(
                    "TOP205",
                    model.positional_span(call, 1),
                    format!(
                        "rules passed to `fault()` on service `{}`, which is not an interface",
                        service_name(target)
                    ),
                )
                .with_help(interface_hint(target)),
            );
        }
        "interface_ref" => {
            interface_form(model, call, target, rules, emit, out);
        }
        "fault_assumption" if emit.call => {
            ignored(model, call, "`fault(assumption, run=...)` applies the assumption as declared", out);
        }
        _ => {}
    }
}

/// `fault(svc.iface, rule..., run=..., source=...)`.
fn interface_form(
    model: &Model,
    call: &Call,
    iface_ref: &Recorded,
    rules: &[Arg],
    emit: Emit,
    out: &mut Vec<Diagnostic>,
) {
    if rules.is_empty() && emit.call {
        out.push(
            Diagnostic::error(
                "TOP211",
                model.callee_span(call),
                format!("`fault({}, ...)` has no rule", interface_name(iface_ref)),
            )
            .with_help("pass at least one protocol or packet rule before `run=`: `fault(svc.iface, error(status=503), run=...)`")
            .with_note("Faultbox fails the test when it reaches this call"),
        );
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = model.positional_span(call, i + 1);
        applied_rule(model, rule, iface_ref, at, emit, out);
    }
    if !emit.call {
        return;
    }
    ignored(model, call, "syscall faults need the service form: `fault(svc, write=deny(\"EIO\"), run=...)`", out);
    if let Some(source) = call.record.named("source").and_then(Arg::record) {
        reaches(model, call, source, iface_ref, out);
    }
}

/// TOP213: syscall keywords given to a form of `fault()` that ignores them.
fn ignored(model: &Model, call: &Call, why: &str, out: &mut Vec<Diagnostic>) {
    let form = if call.record.positional.first().and_then(Arg::record).is_some_and(|r| r.ty == "fault_assumption") {
        "an assumption"
    } else {
        "an interface"
    };
    let mut extra: Vec<String> = syscall_keywords(call).map(|(k, _)| k.clone()).collect();
    if form == "an assumption" {
        extra.extend(["source"].iter().filter(|k| call.record.named(k).is_some()).map(|k| (*k).to_owned()));
    }
    for key in extra {
        out.push(
            Diagnostic::warning(
                "TOP213",
                model.keyword_span(call, &key),
                format!("`{key}=` is ignored by `fault()` on {form}"),
            )
            .with_help(why.to_owned()),
        );
    }
    if form == "an assumption" && call.record.positional.len() > 1 {
        out.push(
            Diagnostic::warning(
                "TOP213",
                model.positional_span(call, 1),
                "rules are ignored by `fault()` on an assumption",
            )
            .with_help("put the rules into the assumption: `fault_assumption(..., rules=[...])`"),
        );
    }
}

fn interface_hint(service: &Recorded) -> String {
    let name = service_name(service);
    let ifaces: Vec<String> =
        attrs::interfaces(service).filter_map(|i| i.name()).map(|i| format!("`{name}.{i}`")).collect();
    if ifaces.is_empty() {
        format!("protocol and packet rules act on an interface, and `{name}` declares none")
    } else {
        format!("protocol and packet rules act on an interface: use {}", ifaces.join(" or "))
    }
}

/// `fault_assumption(target=..., rules=[...])`.
fn assumption_rules(model: &Model, call: &Call, emit: Emit, out: &mut Vec<Diagnostic>) {
    let Some(Arg::List(rules)) = call.record.named("rules") else { return };
    if rules.is_empty() {
        return;
    }
    let list = model.value_span(call, "rules");
    match call.record.named("target") {
        Some(Arg::Record(t)) if t.ty == "interface_ref" => {
            for (i, rule) in rules.iter().enumerate() {
                applied_rule(model, rule, t, list_item(model, list, i), emit, out);
            }
        }
        _ if !emit.call => {}
        Some(Arg::Record(t)) if t.ty == "service" => out.push(
            Diagnostic::error(
                "TOP205",
                model.keyword_span(call, "rules"),
                format!("`rules=` needs an interface target, but `target` is the service `{}`", service_name(t)),
            )
            .with_label(model.value_span(call, "target"), "a service")
            .with_help(interface_hint(t)),
        ),
        None | Some(Arg::None) => out.push(
            Diagnostic::error("TOP205", model.keyword_span(call, "rules"), "`rules=` needs `target=` an interface")
                .with_help("add `target=svc.iface`: the rules run in that interface's proxy"),
        ),
        _ => {}
    }
}

/// One rule applied to an interface: its layer, then (protocol rules) the proxy's support.
fn applied_rule(model: &Model, rule: &Arg, iface_ref: &Recorded, usage: Span, emit: Emit, out: &mut Vec<Diagnostic>) {
    let Some(found) = layer(rule) else { return };
    let Some(record) = rule.record() else { return };
    match found {
        Layer::Syscall if emit.call => {
            if !already_reported(out, usage) {
                out.push(
                    Diagnostic::error(
                        "TOP202",
                        usage,
                        format!("a syscall fault is used as a rule on interface `{}`", interface_name(iface_ref)),
                    )
                    .with_help(
                        "syscall faults are keywords on the service: `fault(svc, write=deny(\"EIO\"), run=...)` or `fault_assumption(target=svc, write=...)`; for a delayed response use `delay(delay=\"500ms\")`",
                    ),
                );
            }
        }
        Layer::Proxy if emit.rules => proxy_rule(model, record, iface_ref, usage, out),
        Layer::Syscall | Layer::Proxy | Layer::Packet => {}
    }
}

fn proxy_rule(model: &Model, rule: &Recorded, iface_ref: &Recorded, usage: Span, out: &mut Vec<Diagnostic>) {
    let Some(protocol_name) = attrs::protocol_of(iface_ref) else { return };
    let at = record_span(model, rule, usage);
    let iface = interface_name(iface_ref);
    let protocol = match catalog().protocol(protocol_name) {
        Some(p) if p.proxy => p,
        _ => {
            push_once(
                out,
                Diagnostic::error(
                    "TOP208",
                    at,
                    format!("interface `{iface}` speaks `{protocol_name}`, which has no Faultbox proxy"),
                )
                .with_help(format!(
                    "protocol rules need one of: {}",
                    catalog()
                        .protocols
                        .iter()
                        .filter(|p| p.proxy)
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_note("Faultbox fails the test when the rule is applied"),
                usage,
                at,
            );
            return;
        }
    };
    action(rule, protocol, &iface, at, usage, out);
    matchers(model, rule, protocol, &iface, at, usage, out);
}

fn action(rule: &Recorded, protocol: &Protocol, iface: &str, at: Span, usage: Span, out: &mut Vec<Diagnostic>) {
    // The proxy action the rule installs (catalog `proxy_action`, reference §1.5).
    let Some(action) = catalog().builtin(&rule.builtin).and_then(|b| b.proxy_action.as_deref()) else { return };
    if protocol.actions.iter().any(|a| a == action) {
        return;
    }
    let builtin = &rule.builtin;
    let supported: Vec<String> = protocol
        .actions
        .iter()
        .filter_map(|a| catalog().builtins.iter().find(|b| b.proxy_action.as_ref() == Some(a)))
        .map(|b| format!("`{}()`", b.name))
        .collect();
    push_once(
        out,
        Diagnostic::warning(
            "TOP209",
            at,
            format!(
                "the `{}` proxy does not implement `{builtin}()`; this rule on `{iface}` does nothing",
                protocol.name
            ),
        )
        .with_help(format!("on `{}` use {}", protocol.name, supported.join(", "))),
        usage,
        at,
    );
}

#[allow(clippy::too_many_arguments)]
fn matchers(
    model: &Model,
    rule: &Recorded,
    protocol: &Protocol,
    iface: &str,
    at: Span,
    usage: Span,
    out: &mut Vec<Diagnostic>,
) {
    for (keyword, value) in &rule.named {
        // An absent, empty or `*` matcher matches everything anyway (stdlib recipes default
        // to `path="*"`), so ignoring it changes nothing.
        if matches!(value, Arg::None) || value.as_str().is_some_and(|v| v.is_empty() || v == "*") {
            continue;
        }
        let field = MATCHER_ALIASES.iter().find(|(k, _)| k == keyword).map_or(keyword.as_str(), |(_, f)| f);
        if !super::in_vocabulary("proxy_matcher", field) || protocol.matchers.iter().any(|m| m == field) {
            continue;
        }
        let span = site_of(model, rule).and_then(|s| s.keyword(keyword)).unwrap_or(at);
        let consulted = if protocol.matchers.is_empty() {
            format!("the `{}` proxy consults no matcher", protocol.name)
        } else {
            format!(
                "the `{}` proxy matches on {}",
                protocol.name,
                protocol.matchers.iter().map(|m| format!("`{m}=`")).collect::<Vec<_>>().join(", ")
            )
        };
        push_once(
            out,
            Diagnostic::warning(
                "TOP210",
                span,
                format!(
                    "`{keyword}=` is ignored by the `{}` proxy: this rule matches every request on `{iface}`",
                    protocol.name
                ),
            )
            .with_help(consulted),
            usage,
            span,
        );
    }
}

/// Pushes `d` unless the same finding is there already (a rule value applied twice); a rule
/// defined away from where it is applied gets a label at the use.
fn push_once(out: &mut Vec<Diagnostic>, d: Diagnostic, usage: Span, at: Span) {
    if out.iter().any(|o| o.code == d.code && o.span == d.span && o.message == d.message) {
        return;
    }
    out.push(if usage != at && !(at.start >= usage.start && at.end <= usage.end) {
        d.with_label(usage, "applied here")
    } else {
        d
    });
}

/// TOP212: `source=` names a service with no edge to the faulted interface's service.
fn reaches(model: &Model, call: &Call, source: &Recorded, iface_ref: &Recorded, out: &mut Vec<Diagnostic>) {
    let Some((target, iface)) = attrs::parts(iface_ref) else { return };
    if source.ty != "service" {
        return;
    }
    let target_name = service_name(target);
    match edge(source, target, iface) {
        Some(false) => {}
        _ => return,
    }
    out.push(
        Diagnostic::warning(
            "TOP212",
            model.value_span(call, "source"),
            format!(
                "`source={}` does not reach `{}`: it neither depends on `{target_name}` nor has its address in `env`",
                service_name(source),
                interface_name(iface_ref)
            ),
        )
        .with_help(format!(
            "name the service that calls `{target_name}` as the source, or add `depends_on=[{target_name}]` and the address to its `env`"
        )),
    );
}

/// Whether `source` has an edge to `target` (depends_on or an address in env); `None` when
/// its depends_on or env is not statically known.
fn edge(source: &Recorded, target: &Recorded, iface: &Recorded) -> Option<bool> {
    let name = service_name(target);
    let depends = match source.named("depends_on") {
        None | Some(Arg::None) => false,
        Some(Arg::List(items)) => {
            let mut found = false;
            for item in items {
                match item {
                    Arg::Str(s) => found |= s == name,
                    Arg::Record(r) => found |= r.name() == Some(name),
                    _ => return None,
                }
            }
            found
        }
        _ => return None,
    };
    if depends {
        return Some(true);
    }
    let port = match attrs::interface_arg(iface, 2, "port") {
        Some(Arg::Int(p)) => *p,
        _ => return None,
    };
    let needles = [format!("{name}:{port}"), format!("localhost:{port}"), format!("_{name}__")];
    match source.named("env") {
        None | Some(Arg::None) => Some(false),
        Some(Arg::Dict(entries)) => {
            let mut found = false;
            for (_, value) in entries {
                match value {
                    Arg::Str(s) => found |= needles.iter().any(|n| s.contains(n.as_str())),
                    _ => return None,
                }
            }
            Some(found)
        }
        _ => None,
    }
}
