//! How syscall fault scopes combine (reference §8.3 item 31, §1.4 "Scope semantics"): a second
//! `fault()`/`fault_start()` on a service replaces its active rules and leaving any scope
//! clears them all, so nested or overlapping scopes on one service do not merge;
//! `fault_scenario(faults=[a, b])` applies `b` over `a` per service; a `fault_start` is left
//! for teardown when its body never stops it.

use std::sync::Arc;

use ospecc_schema::topology::{builtins, ScopeForm, ScopeKind, Targets};

use super::{assumption_list, list_item, service_name, Functions};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use crate::topology::checks::{Call, Model};
use crate::topology::values::{Arg, Recorded};

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    // Indexed only for a file with scopes (most have none, and a big file's index costs).
    let functions = std::cell::OnceCell::new();
    let functions = || functions.get_or_init(|| Functions::new(model));
    // A scope's run function may be any def of the file: nesting is a cross finding.
    if model.part.cross() {
        for call in model.every_call().iter().filter(|c| fault_scope(c) == Some(ScopeForm::Run)) {
            nested(model, functions(), call, out);
        }
    }
    for call in model.calls() {
        if fault_scope(call) == Some(ScopeForm::Start) {
            overlapping(model, functions(), call, out);
        }
        if call.is(builtins::FAULT_SCENARIO) {
            scenario(model, call, out);
        }
    }
}

/// The form of a syscall fault scope (catalog `scope` of kind `fault`), if the call opens or
/// closes one: the scopes that install (or clear) a service's dynamic syscall rules.
fn fault_scope(call: &Call) -> Option<ScopeForm> {
    call.builtin()?.scope.filter(|s| s.kind == ScopeKind::Fault).map(|s| s.form)
}

/// The names of the services a scope call installs rules on (service forms only).
fn scoped_services(call: &Call) -> Vec<&str> {
    if !matches!(fault_scope(call), Some(ScopeForm::Run | ScopeForm::Start)) {
        return Vec::new();
    }
    let list = call.builtin().is_some_and(|b| b.targets == Some(Targets::FirstList));
    let first = call.record.positional.first().or_else(|| call.record.named("services"));
    match first {
        Some(Arg::Record(r)) if r.ty == "service" => vec![service_name(r)],
        Some(Arg::List(items)) if list => {
            items.iter().filter_map(Arg::record).filter(|r| r.ty == "service").map(|r| service_name(r)).collect()
        }
        _ => Vec::new(),
    }
}

/// The function a `run=` argument runs: a `def` by name, or the lambda written there.
fn run_function(model: &Model, functions: &Functions, call: &Call) -> Option<usize> {
    match call.record.named("run")? {
        Arg::Function(name) if name == "lambda" => {
            let at = model.value_span(call, "run");
            functions.list.iter().position(|(_, s, _)| *s == at)
        }
        Arg::Function(name) => functions.resolve(name, call.record.span),
        _ => None,
    }
}

/// TOP221: a scope whose `run=` body opens another scope on the same service.
fn nested(model: &Model, functions: &Functions, outer: &Call, out: &mut Vec<Diagnostic>) {
    let services = scoped_services(outer);
    if services.is_empty() {
        return;
    }
    let Some(body) = run_function(model, functions, outer) else { return };
    for inner in functions.calls_in(model, body) {
        let Some(service) = scoped_services(inner).into_iter().find(|s| services.contains(s)) else { continue };
        out.push(replaced(model, inner, outer, service, "inside the `run=` of"));
    }
}

/// TOP221 for `fault_start` followed by another scope on the service before `fault_stop`, and
/// TOP223 for a `fault_start` its body never stops.
fn overlapping(model: &Model, functions: &Functions, start: &Call, out: &mut Vec<Diagnostic>) {
    let Some(&service) = scoped_services(start).first() else { return };
    let Some(body) = functions.enclosing(start.record.span) else { return };
    let mut later: Vec<&Call> =
        functions.calls_in(model, body).filter(|c| c.record.span.start > start.record.span.start).collect();
    later.sort_by_key(|c| c.record.span.start);
    for call in later {
        if fault_scope(call) == Some(ScopeForm::Stop) && stopped(call) == Some(service) {
            return;
        }
        if scoped_services(call).contains(&service) {
            out.push(replaced(model, call, start, service, "while active is the scope of"));
            return;
        }
    }
    out.push(
        Diagnostic::new(
            "TOP223",
            Severity::Note,
            model.callee_span(start),
            format!("`fault_start({service}, ...)` is not stopped in `{}`", functions.list[body].0),
        )
        .with_help(format!(
            "add `fault_stop({service})` where the faults should end; otherwise they last until the test ends"
        )),
    );
}

fn stopped(call: &Call) -> Option<&str> {
    call.record.positional.first().and_then(Arg::record).filter(|r| r.ty == "service").map(|r| service_name(r))
}

fn replaced(model: &Model, inner: &Call, outer: &Call, service: &str, relation: &str) -> Diagnostic {
    let at = model.positional_span(inner, 0);
    Diagnostic::warning(
        "TOP221",
        at,
        format!(
            "`{}` on `{service}` {relation} `{}` on the same service: its rules replace the outer ones instead of adding to them",
            inner.display_name(),
            outer.display_name()
        ),
    )
    .with_label(model.callee_span(outer), "outer fault scope")
    .with_help(format!(
        "put every syscall fault for `{service}` in one scope (`fault({service}, write=..., read=..., run=...)`); when the inner scope ends, `{service}` runs unfaulted for the rest of the outer one"
    ))
}

/// The services an assumption holds syscall rules for (its own target and its children's).
fn syscall_services(assumption: &Arc<Recorded>, depth: usize, into: &mut Vec<String>) {
    if depth > 16 {
        return;
    }
    let params = ospecc_schema::topology::catalog()
        .builtin(builtins::FAULT_ASSUMPTION)
        .map(|b| b.params.as_slice())
        .unwrap_or_default();
    let has_syscall = assumption.named.iter().any(|(k, _)| !params.iter().any(|p| p.name == *k));
    if has_syscall {
        if let Some(service) = assumption.named("target").and_then(|t| super::service_of(t)) {
            into.push(service_name(service).to_owned());
        }
    }
    if let Some(children) = assumption.named("faults") {
        for child in assumption_list(children).into_iter().flatten() {
            syscall_services(child, depth + 1, into);
        }
    }
}

/// TOP222: `fault_scenario(faults=[a, b])` where `a` and `b` fault one service's syscalls.
fn scenario(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    let Some(Arg::List(_)) = call.record.named("faults") else { return };
    let Some(list) = call.record.named("faults") else { return };
    let items = assumption_list(list);
    let list_span = model.value_span(call, "faults");
    let mut seen: Vec<(String, &str, Span)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(assumption) = item else { continue };
        let mut services = Vec::new();
        syscall_services(assumption, 0, &mut services);
        services.dedup();
        let at = list_item(model, list_span, i);
        let name = assumption.name().unwrap_or("?");
        if let Some((service, earlier, earlier_at)) = seen.iter().find(|(s, ..)| services.contains(s)) {
            out.push(
                Diagnostic::warning(
                    "TOP222",
                    at,
                    format!("`{name}` replaces the syscall faults `{earlier}` puts on `{service}`: only `{name}`'s apply"),
                )
                .with_label(*earlier_at, format!("`{earlier}` also faults `{service}`"))
                .with_help(format!(
                    "compose them into one assumption, which merges their rules: `fault_assumption(\"both\", faults=[{earlier}, {name}])`"
                )),
            );
        }
        seen.extend(services.into_iter().map(|s| (s, name, at)));
    }
}
