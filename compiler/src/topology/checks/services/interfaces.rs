//! Interfaces and ports (reference §8.2 items 14, 15 and 20): interface names within a
//! service, protocols without step methods, mock-capable protocols of mocks, port ranges, and
//! host ports two launched services would both bind.

use crate::topology::hash::HashMap;
use std::sync::Arc;

use ospecc_schema::topology::{builtins, catalog};

use super::{interfaces, kind, listing, port, port_mappings, protocol, Cx, Kind};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use crate::topology::values::Recorded;

/// The attribute an interface named like it would shadow (reference §2.1).
const SHADOWED: &str = "name";

const PORTS: std::ops::RangeInclusive<i64> = 1..=65535;

pub(super) fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for service in cx.services() {
        names(cx, service, out);
        if kind(service) == Kind::Mock {
            mock(cx, service, out);
        }
        mapping_ranges(cx, service, out);
    }
    for iface in cx.root_calls(builtins::INTERFACE) {
        port_range(cx, iface, out);
        stepless(cx, iface, out);
    }
    host_ports(cx, out);
}

fn names(cx: &Cx, service: &Recorded, out: &mut Vec<Diagnostic>) {
    let own = service.name().unwrap_or("?");
    let mut first: HashMap<&str, &Arc<Recorded>> = HashMap::default();
    for iface in interfaces(service) {
        let Some(name) = iface.name() else { continue };
        let at = cx.arg(iface, 0, "name");
        if name == SHADOWED {
            if let Some(at) = at {
                out.push(
                    Diagnostic::warning("TOP116", at, format!("interface `name` of `{own}` hides the service's `.name`"))
                        .with_help("`svc.name` then returns the interface instead of the service's name string; rename the interface"),
                );
            }
        }
        match first.get(name) {
            None => {
                first.insert(name, iface);
            }
            Some(earlier) => {
                let Some(at) = at else { continue };
                let mut d = Diagnostic::error("TOP115", at, format!("service `{own}` declares interface `{name}` twice"))
                    .with_help("interface names are attributes of the service (`svc.iface`) and key its proxies: give each interface its own name");
                if let Some(label) = cx.arg(earlier, 0, "name") {
                    d = d.with_label(label, "first declared here");
                }
                out.push(d);
            }
        }
    }
}

/// A protocol Faultbox can proxy but not step (amqp, memcached): informational.
fn stepless(cx: &Cx, iface: &Recorded, out: &mut Vec<Diagnostic>) {
    let Some(proto) = protocol(iface) else { return };
    let Some(entry) = catalog().protocol(proto) else { return };
    if !entry.methods.is_empty() {
        return;
    }
    let Some(at) = cx.arg(iface, 1, "protocol") else { return };
    out.push(
        Diagnostic::new(
            "TOP117",
            Severity::Note,
            at,
            format!("protocol `{proto}` has no step methods: tests cannot call methods on interface `{}`", iface.name().unwrap_or("?")),
        )
        .with_help(format!("`{proto}` can still be faulted through its proxy (`error()`, `delay()`, `drop()`); drive it through the service that uses it, and prefer `tcp()` or `ready()` (which falls back to a TCP probe) for its healthcheck")),
    );
}

fn port_range(cx: &Cx, iface: &Recorded, out: &mut Vec<Diagnostic>) {
    let Some(p) = port(iface) else { return };
    if PORTS.contains(&p) {
        return;
    }
    let Some(at) = cx.arg(iface, 2, "port") else { return };
    out.push(out_of_range(at, p, &format!("interface `{}`", iface.name().unwrap_or("?"))));
}

fn mapping_ranges(cx: &Cx, service: &Recorded, out: &mut Vec<Diagnostic>) {
    let mappings = port_mappings(service);
    let Some(at) = cx.value(service, "ports") else { return };
    let spans = cx.literals.entries(at, mappings.len());
    let own = format!("`ports=` of `{}`", service.name().unwrap_or("?"));
    for ((container, host), (key, value)) in mappings.into_iter().zip(spans) {
        for (p, span) in [(container, key), (host, value)] {
            if let Some(p) = p.filter(|p| !PORTS.contains(p)) {
                out.push(out_of_range(span, p, &own));
            }
        }
    }
}

fn out_of_range(at: Span, p: i64, what: &str) -> Diagnostic {
    Diagnostic::error("TOP118", at, format!("port {p} of {what} is outside 1..65535"))
        .with_help("use a TCP/UDP port number between 1 and 65535; nothing can listen on this one")
}

fn mock(cx: &Cx, service: &Recorded, out: &mut Vec<Diagnostic>) {
    let own = service.name().unwrap_or("?");
    let declared = interfaces(service);
    if declared.is_empty() {
        if let Some(at) = cx.name_span(service) {
            out.push(Diagnostic::error("TOP104", at, format!("mock service `{own}` declares no interface")).with_help(
                "pass at least one `interface(name, protocol, port)` after the name: the mock serves on its interfaces",
            ));
        }
        return;
    }
    let capable: Vec<&str> = catalog().protocols.iter().filter(|p| p.mock_capable).map(|p| p.name.as_str()).collect();
    for iface in declared {
        let Some(proto) = protocol(iface) else { continue };
        // An unknown protocol is the vocabulary check's finding.
        if capable.contains(&proto) || catalog().protocol(proto).is_none() {
            continue;
        }
        let Some(at) = cx.arg(iface, 1, "protocol") else { continue };
        out.push(
            Diagnostic::error("TOP121", at, format!("mock service `{own}` cannot serve protocol `{proto}`")).with_help(
                format!(
                    "mocks exist for {}; run a real `{proto}` server with `service(..., image=...)` instead",
                    listing(&capable)
                ),
            ),
        );
    }
}

/// Host ports bound by two launched services: binaries and mocks listen on their declared
/// ports, containers on the host side of `ports=` (other container ports are random).
fn host_ports(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<i64, (&str, Option<Span>)> = HashMap::default();
    for service in cx.services() {
        let Some(own) = service.name() else { continue };
        for (p, at) in bound(cx, service) {
            match first.get(&p) {
                None => {
                    first.insert(p, (own, at));
                }
                Some(&(other, earlier)) => {
                    let Some(at) = at else { continue };
                    let mut d = Diagnostic::error(
                        "TOP119",
                        at,
                        format!("`{own}` binds host port {p}, which `{other}` binds too"),
                    )
                    .with_help("two launched services cannot listen on one host port: the second fails to start. Change one port (for a container, its `ports=` host side)");
                    if let Some(label) = earlier {
                        d = d.with_label(label, format!("`{other}` binds it here"));
                    }
                    out.push(d);
                }
            }
        }
    }
}

/// The host ports a service binds, each once, with where it is declared.
fn bound(cx: &Cx, service: &Recorded) -> Vec<(i64, Option<Span>)> {
    let mut ports: Vec<(i64, Option<Span>)> = Vec::new();
    match kind(service) {
        Kind::Binary | Kind::Mock => {
            for iface in interfaces(service) {
                if let Some(p) = port(iface) {
                    ports.push((p, cx.arg(iface, 2, "port")));
                }
            }
        }
        Kind::Container => {
            let mappings = port_mappings(service);
            let spans: Vec<Option<Span>> = match cx.value(service, "ports") {
                Some(at) => cx.literals.entries(at, mappings.len()).into_iter().map(|(_, v)| Some(v)).collect(),
                None => vec![None; mappings.len()],
            };
            for ((_, host), at) in mappings.into_iter().zip(spans) {
                if let Some(p) = host {
                    ports.push((p, at));
                }
            }
        }
        Kind::Remote | Kind::Unknown => {}
    }
    let mut seen = Vec::new();
    ports.retain(|(p, _)| {
        PORTS.contains(p) && !seen.contains(p) && {
            seen.push(*p);
            true
        }
    });
    ports
}
