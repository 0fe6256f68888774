//! Syscall faults (reference §8.3 items 23, 24 and 30): the keys of `fault`, `fault_start`,
//! `fault_all` and `fault_assumption` name syscalls Faultbox can intercept (and, for `fault()`,
//! its shorter faultable list), their values are syscall faults, and the faulted service has a
//! seccomp filter to install them in. The syscall lists of `op(syscalls=)` and
//! `trace(syscalls=)` name interceptable syscalls too.

use super::{
    already_reported, in_vocabulary, keyword_name_span, layer, list_item, noun, service_name, service_of,
    syscall_keywords, vocabulary_values, Layer,
};
use ospecc_schema::topology::{builtins, SyscallKeys, Targets};

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::topology::checks::{Call, Model};
use crate::topology::values::{Arg, Recorded};

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    for call in model.calls() {
        if model.has_splat(call) {
            continue;
        }
        let Some(builtin) = call.builtin() else { continue };
        if let (Some(keys), Some(targets)) = (builtin.syscall_keys, &builtin.targets) {
            syscall_site(model, call, targets, keys == SyscallKeys::Faultable, out);
        }
        // `op(syscalls=)`, `trace(syscalls=)`: lists of syscall names.
        for param in builtin.params.iter().filter(|p| p.vocabulary.as_deref() == Some(SYSCALL_KEY)) {
            syscall_list(model, call, &param.name, out);
        }
    }
}

/// The vocabulary of parameters that list syscalls (and families) by name.
const SYSCALL_KEY: &str = "syscall_key";

/// A target value and the span that wrote it.
struct Target<'a> {
    value: &'a Arg,
    at: Span,
}

/// The targets of a call whose builtin's targets are `where_` (catalog `targets`): the
/// service or interface of the first positional, each item of the first (list) parameter, or
/// a keyword's value.
fn targets<'a>(model: &Model, call: &'a Call, where_: &Targets) -> Vec<Target<'a>> {
    match where_ {
        Targets::Positional => call
            .record
            .positional
            .first()
            .map(|value| Target { value, at: model.positional_span(call, 0) })
            .into_iter()
            .collect(),
        Targets::FirstList => {
            let keyword = call.params().first().map_or("", |p| p.name.as_str());
            let (list, at) = match call.record.positional.first() {
                Some(list) => (list, model.positional_span(call, 0)),
                None => match call.record.named(keyword) {
                    Some(list) => (list, model.value_span(call, keyword)),
                    None => return Vec::new(),
                },
            };
            match list {
                Arg::List(items) | Arg::Tuple(items) => {
                    items.iter().enumerate().map(|(i, value)| Target { value, at: list_item(model, at, i) }).collect()
                }
                _ => Vec::new(),
            }
        }
        Targets::Keyword(name) => call
            .record
            .named(name)
            .map(|value| Target { value, at: model.value_span(call, name) })
            .into_iter()
            .collect(),
    }
}

fn syscall_site(model: &Model, call: &Call, where_: &Targets, strict: bool, out: &mut Vec<Diagnostic>) {
    let keys: Vec<&(String, Arg)> = syscall_keywords(call).collect();
    if keys.is_empty() {
        return;
    }
    let targets = targets(model, call, where_);
    // `fault(ref, ...)`, `fault(assumption, ...)` and client targets are reported by the
    // target checks; the keys mean nothing there.
    let other_form = |t: &Target| {
        t.value.record().is_some_and(|r| r.ty != "service" && (call.is(builtins::FAULT) || r.ty == "client"))
    };
    if targets.iter().any(other_form) {
        return;
    }
    for (key, value) in &keys {
        value_layer(model, call, key, value, out);
    }
    if targets.is_empty() && call.is(builtins::FAULT_ASSUMPTION) {
        out.push(no_target(model, call, &keys[0].0));
        return;
    }
    let services: Vec<(&Recorded, Span)> =
        targets.iter().filter_map(|t| service_of(t.value).map(|s| (s, t.at))).collect();
    // Keys resolve against every target's ops: only when all targets are known.
    if !services.is_empty() && services.len() == targets.len() {
        for (key, _) in &keys {
            key_name(model, call, key, strict, &services, out);
        }
    }
    for (service, at) in &services {
        if let Some(d) = unfaultable_service(call, service, *at) {
            out.push(d);
        }
    }
}

/// A syscall keyword's value must be a syscall fault.
fn value_layer(model: &Model, call: &Call, key: &str, value: &Arg, out: &mut Vec<Diagnostic>) {
    let Some(found) = layer(value) else { return };
    if found == Layer::Syscall {
        return;
    }
    let at = model.value_span(call, key);
    if already_reported(out, at) {
        return;
    }
    let help = match (found, value.record().map(|r| r.builtin.as_str())) {
        (Layer::Proxy, Some("delay")) => format!("give the duration positionally for a syscall delay: `{key}=delay(\"500ms\")`"),
        (Layer::Proxy, _) => "protocol rules go on an interface: `fault(svc.iface, rule, run=...)` or `fault_assumption(target=svc.iface, rules=[...])`".into(),
        _ => "packet rules go on an interface: `fault(svc.iface, rule, run=...)` or `fault_assumption(target=svc.iface, rules=[...])`".into(),
    };
    out.push(
        Diagnostic::error(
            "TOP202",
            at,
            format!("syscall keyword `{key}` is given {}, not a syscall fault", noun(found)),
        )
        .with_help(help),
    );
}

/// The ops a service declares, or `None` when they are not statically known.
fn ops(service: &Recorded) -> Option<Vec<&str>> {
    match service.named("ops") {
        None | Some(Arg::None) => Some(Vec::new()),
        Some(Arg::Dict(entries)) => entries.iter().map(|(k, _)| k.as_str()).collect(),
        _ => None,
    }
}

fn key_name(
    model: &Model,
    call: &Call,
    key: &str,
    strict: bool,
    services: &[(&Recorded, Span)],
    out: &mut Vec<Diagnostic>,
) {
    let mut op_names: Vec<&str> = Vec::new();
    for (service, _) in services {
        match ops(service) {
            None => return,
            Some(names) if names.contains(&key) => return,
            Some(names) => op_names.extend(names),
        }
    }
    let at = keyword_name_span(model, call, key);
    let interceptable = in_vocabulary("syscall", key) || in_vocabulary("syscall_family", key);
    if strict && in_vocabulary("syscall_faultable", key) || !strict && interceptable {
        return;
    }
    if strict && interceptable {
        out.push(not_faultable(key, at, services));
        return;
    }
    let mut candidates = vocabulary_values(if strict { "syscall_faultable" } else { "syscall" });
    if !strict {
        candidates.extend(vocabulary_values("syscall_family"));
    }
    candidates.extend(op_names);
    let message = format!("unknown syscall fault key `{key}` in `{}`", call.display_name());
    out.push(unknown_syscall(key, at, candidates, message));
}

/// TOP200 with a did-you-mean over `candidates`.
fn unknown_syscall(name: &str, at: Span, candidates: Vec<&str>, message: String) -> Diagnostic {
    let d = Diagnostic::error("TOP200", at, message);
    match did_you_mean(name, candidates.iter().copied()) {
        Some(best) => {
            d.with_help(format!("did you mean `{best}`?")).with_replacement(format!("replace with `{best}`"), at, best)
        }
        None => {
            d.with_help("use an interceptable syscall or family name (reference §3.3), or an `ops` key of the service")
        }
    }
}

fn not_faultable(key: &str, at: Span, services: &[(&Recorded, Span)]) -> Diagnostic {
    let family = ospecc_schema::topology::catalog()
        .vocabulary("syscall_family")
        .and_then(|v| v.values.iter().find(|f| f.value == key))
        .and_then(|f| f.members.iter().find(|m| in_vocabulary("syscall_faultable", m)));
    let target = services.first().map_or("svc", |(s, _)| service_name(s));
    let d = Diagnostic::error("TOP201", at, format!("`fault()` does not accept the syscall key `{key}`")).with_note(
        format!("`fault(svc, KEY=...)` accepts only: {}", vocabulary_values("syscall_faultable").join(", ")),
    );
    match family {
        Some(member) => d
            .with_help(format!("use `{member}`, or declare the fault with `fault_assumption(\"...\", target={target}, {key}=...)`"))
            .with_replacement(format!("replace with `{member}`"), at, member),
        None => d.with_help(format!(
            "declare an op for it (`service(..., ops={{\"{key}\": op(syscalls=[\"{key}\"])}})`) or use `fault_assumption(target={target}, {key}=...)`"
        )),
    }
}

fn no_target(model: &Model, call: &Call, first_key: &str) -> Diagnostic {
    Diagnostic::error(
        "TOP204",
        keyword_name_span(model, call, first_key),
        format!("syscall fault `{first_key}` in a `fault_assumption` without `target=`"),
    )
    .with_label(model.callee_span(call), "no `target=` here")
    .with_help("add `target=<service>` (or an interface of it): syscall faults run in one service's process")
}

/// Services that cannot take syscall faults: remote ones (an error) and ones without a seccomp
/// filter (a silent no-op at run time).
fn unfaultable_service(call: &Call, service: &Recorded, at: Span) -> Option<Diagnostic> {
    let name = service_name(service);
    if service.named("remote").is_some_and(|r| *r != Arg::None) {
        return Some(
            Diagnostic::error("TOP207", at, format!("syscall faults on remote service `{name}`"))
                .with_help("a remote service runs elsewhere; fault its interfaces with protocol rules instead: `fault(svc.iface, error(...), run=...)`"),
        );
    }
    let why = if service.builtin == builtins::MOCK_SERVICE {
        "is a `mock_service` (served in-process, no seccomp filter)"
    } else if service.named("seccomp") == Some(&Arg::Bool(false)) {
        "is declared with `seccomp=False`"
    } else {
        return None;
    };
    Some(
        Diagnostic::warning(
            "TOP206",
            at,
            format!("syscall faults on `{name}` are skipped: it {why}"),
        )
        .with_help(format!(
            "Faultbox emits `fault_skipped_no_seccomp` and runs `{}` unfaulted; fault a launched service, or use protocol rules on `{name}`'s interfaces",
            call.display_name()
        )),
    )
}

/// `op(syscalls=[...])` and `trace(syscalls=[...])` name interceptable syscalls.
fn syscall_list(model: &Model, call: &Call, keyword: &str, out: &mut Vec<Diagnostic>) {
    let Some(Arg::List(items)) = call.record.named(keyword) else { return };
    let list = model.value_span(call, keyword);
    let mut candidates = vocabulary_values("syscall");
    candidates.extend(vocabulary_values("syscall_family"));
    for (i, item) in items.iter().enumerate() {
        let Some(name) = item.as_str() else { continue };
        if in_vocabulary("syscall", name) || in_vocabulary("syscall_family", name) {
            continue;
        }
        let at = list_item(model, list, i);
        if already_reported(out, at) {
            continue;
        }
        let message =
            format!("`{name}` in `{}({keyword}=)` is not a syscall Faultbox can intercept", call.display_name());
        out.push(unknown_syscall(name, at, candidates.clone(), message));
    }
}
