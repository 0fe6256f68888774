//! How a service is launched (reference §8.1 item 8, which Faultbox enforces at load): exactly
//! one of a binary (positional or `binary=`), `image=`, `build=` or `remote=`; the rules of
//! remote services; and a note that container services need a container engine.

use ospecc_schema::topology::builtins;
use std::sync::Arc;

use super::{interfaces, kind, listing, Cx, Kind};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::topology::values::{Arg, Recorded};

/// The keywords that name a source (a positional string after the name is a binary too).
const SOURCES: &[&str] = &["binary", "image", "build", "remote"];

/// Keywords Faultbox rejects on a remote service, with why.
const REMOTE_FORBIDDEN: &[(&str, &str)] = &[
    ("seed", "nothing is started, so there is no fresh start to seed"),
    ("reset", "a remote service is not restarted or reset between tests"),
    ("reuse", "a remote service is always kept: it is not Faultbox's to stop"),
    ("volumes", "nothing is mounted: no container is created"),
    ("ports", "no ports are published: no container is created"),
    ("args", "no process is launched"),
    ("seccomp", "no process is launched, so no syscall filter can be installed"),
    ("observe", "its output streams are not Faultbox's to read"),
    ("ops", "syscall faults cannot reach a process Faultbox did not launch"),
];

pub(super) fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for service in cx.root_services().filter(|s| s.builtin == builtins::SERVICE) {
        exclusive(cx, service, out);
        if kind(service) == Kind::Remote {
            remote(cx, service, out);
        } else {
            reuse(cx, service, out);
        }
    }
    containers(cx, out);
}

/// Each source the service declares: its keyword and where it is.
fn sources(cx: &Cx, service: &Recorded) -> Vec<(&'static str, Span)> {
    let fallback = cx.callee(service).unwrap_or(service.span);
    let mut found = Vec::new();
    for (index, arg) in service.positional.iter().enumerate().skip(1) {
        if matches!(arg, Arg::Str(_)) {
            found.push(("binary", cx.positional(service, index).unwrap_or(fallback)));
        }
    }
    for source in SOURCES {
        if service.named(source).is_some_and(|a| *a != Arg::None) {
            found.push((*source, cx.keyword(service, source).unwrap_or(fallback)));
        }
    }
    found.sort_by_key(|(_, span)| *span);
    found
}

fn exclusive(cx: &Cx, service: &Recorded, out: &mut Vec<Diagnostic>) {
    let name = service.name().unwrap_or("?");
    let found = sources(cx, service);
    let Some(((first_kind, first_span), rest)) = found.split_first() else {
        let Some(at) = cx.name_span(service) else { return };
        out.push(
            Diagnostic::error("TOP100", at, format!("service `{name}` has no binary, `image=`, `build=` or `remote=`"))
                .with_help("say how to run it: a binary path (`service(\"api\", \"./bin/api\", ...)` or `binary=`), `image=\"repo:tag\"`, `build=\"./dir\"`, or `remote=\"host:port\"`"),
        );
        return;
    };
    for (source_kind, span) in rest {
        out.push(
            Diagnostic::error(
                "TOP101",
                *span,
                format!("service `{name}` declares a second source: `{source_kind}` after `{first_kind}`"),
            )
            .with_label(*first_span, format!("`{first_kind}` given here"))
            .with_help("a service runs from exactly one of a binary, `image=`, `build=` or `remote=`; keep one and declare the other as its own service"),
        );
    }
}

fn remote(cx: &Cx, service: &Recorded, out: &mut Vec<Diagnostic>) {
    let name = service.name().unwrap_or("?");
    let at = cx.keyword(service, "remote").or_else(|| cx.name_span(service)).unwrap_or(service.span);
    if service.named("healthcheck").is_none_or(|h| *h == Arg::None) {
        out.push(
            Diagnostic::error("TOP102", at, format!("remote service `{name}` has no `healthcheck=`"))
                .with_help("add `healthcheck=tcp(\"host:port\")` (or `http(...)`): Faultbox checks that a remote service is reachable before each test"),
        );
    }
    for (keyword, why) in REMOTE_FORBIDDEN {
        if service.named(keyword).is_none() {
            continue;
        }
        let span = cx.keyword(service, keyword).unwrap_or(at);
        out.push(
            Diagnostic::error("TOP103", span, format!("remote service `{name}` cannot take `{keyword}=`"))
                .with_help(format!("remove `{keyword}=`: {why}")),
        );
    }
    let declared = interfaces(service);
    if declared.is_empty() {
        out.push(
            Diagnostic::error("TOP104", at, format!("remote service `{name}` declares no interface"))
                .with_help("add at least one `interface(name, protocol, port)`: a remote service is reached (and faulted) only through its interfaces"),
        );
    }
    if let Some(Arg::Record(remotes)) = service.named("remote") {
        remote_keys(cx, service, remotes, &declared, out);
    }
}

/// `reuse=True` keeps the service running across tests; without `seed=`/`reset=` nothing
/// restores its state in between (Faultbox only logs a warning at load).
fn reuse(cx: &Cx, service: &Recorded, out: &mut Vec<Diagnostic>) {
    if service.named("reuse") != Some(&Arg::Bool(true))
        || service.named("seed").is_some()
        || service.named("reset").is_some()
    {
        return;
    }
    let Some(at) = cx.keyword(service, "reuse") else { return };
    out.push(
        Diagnostic::warning(
            "TOP126",
            at,
            format!("`{}` is reused across tests but has no `reset=` or `seed=`", service.name().unwrap_or("?")),
        )
        .with_help("add `reset=` (a function that restores the state before each later test), or drop `reuse=True`; otherwise one test's writes are visible to the next"),
    );
}

/// `remotes({...})` keys name declared interfaces.
fn remote_keys(
    cx: &Cx,
    service: &Recorded,
    remotes: &Arc<Recorded>,
    declared: &[&Arc<Recorded>],
    out: &mut Vec<Diagnostic>,
) {
    let Some(Arg::Dict(entries)) = remotes.positional.first() else { return };
    let names: Vec<&str> = declared.iter().filter_map(|i| i.name()).collect();
    let Some(dict) = cx.positional(remotes, 0).or_else(|| cx.value(service, "remote")) else { return };
    let spans = cx.literals.entries(dict, entries.len());
    for ((key, _), (key_span, _)) in entries.iter().zip(spans) {
        let Some(key) = key.as_str() else { continue };
        if names.contains(&key) {
            continue;
        }
        let d = Diagnostic::error(
            "TOP105",
            key_span,
            format!("`remotes()` names `{key}`, which is not an interface of `{}`", service.name().unwrap_or("?")),
        );
        out.push(match did_you_mean(key, names.iter().copied()) {
            Some(best) if cx.literals.is_str(key_span) => d
                .with_help(format!("did you mean `{best}`?"))
                .with_replacement(format!("rename to `{best}`"), key_span, format!("{best:?}")),
            _ => d.with_help(if names.is_empty() {
                "declare the interface on the service first".to_owned()
            } else {
                format!("the keys of `remotes()` are interface names: {}", listing(&names))
            }),
        });
    }
}

/// One note for the file: container services need Docker or Podman when tests run.
fn containers(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let containers: Vec<(&Arc<Recorded>, Span)> = cx
        .root_services()
        .filter(|s| s.builtin == builtins::SERVICE && kind(s) == Kind::Container)
        .filter_map(|s| {
            let keyword = if s.named("image").is_some() { "image" } else { "build" };
            Some((s, cx.keyword(s, keyword)?))
        })
        .collect();
    let Some(((_, first), rest)) = containers.split_first() else { return };
    let names: Vec<&str> = containers.iter().filter_map(|(s, _)| s.name()).collect();
    let mut d = Diagnostic::new(
        "TOP125",
        Severity::Note,
        *first,
        format!(
            "{} {} from a container image: running the tests needs a container engine",
            listing(&names),
            if names.len() == 1 { "runs" } else { "run" }
        ),
    )
    .with_help("have Docker (or Podman with its Docker-compatible socket) running where `faultbox test` runs; `faultbox check` does not need it");
    for (_, span) in rest {
        d = d.with_label(*span, "also a container");
    }
    out.push(d);
}
