//! Healthchecks (reference §8.2 items 16 and 21): `ready()` needs a default interface to
//! probe; a `tcp()`/`http()`/`kafka_ready()` address on this machine should be a port the
//! service declares (a copy-pasted port polls nothing until the timeout); and a bare TCP probe
//! of a protocol whose `ready()` speaks the protocol reports ready too early.

use ospecc_schema::topology::{builtins, catalog, Healthcheck};

use super::{interfaces, kind, listing, port, port_mappings, protocol, Cx, Kind};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::values::{Arg, Recorded};

/// Host names that mean "this machine" (the service's own published ports).
const LOCAL_HOSTS: &[&str] = &["localhost", "127.0.0.1", "0.0.0.0", "[::1]", ""];

pub(super) fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for service in cx.root_services() {
        let Some(Arg::Record(check)) = service.named("healthcheck") else { continue };
        let Some(at) = cx.value(service, "healthcheck") else { continue };
        // What the healthcheck probes (catalog `healthcheck`).
        match catalog().builtin(&check.builtin).and_then(|b| b.healthcheck) {
            Some(Healthcheck::DefaultInterface) => ready(service, at, out),
            Some(Healthcheck::Address) if kind(service) != Kind::Remote => addressed(cx, service, check, out),
            _ => {}
        }
    }
}

/// The interface `ready()` probes: the only one, or the one named `default`.
fn default_interface(service: &Recorded) -> Option<&Recorded> {
    match interfaces(service).as_slice() {
        [only] => Some(only),
        many => many.iter().find(|i| i.name() == Some("default")).map(|i| &***i),
    }
}

fn ready(service: &Recorded, at: Span, out: &mut Vec<Diagnostic>) {
    let declared = interfaces(service);
    if default_interface(service).is_some() || (declared.is_empty() && kind(service) == Kind::Remote) {
        return;
    }
    let own = service.name().unwrap_or("?");
    let names: Vec<&str> = declared.iter().filter_map(|i| i.name()).collect();
    let why = if names.is_empty() {
        format!("`{own}` declares no interface")
    } else {
        format!("`{own}` declares {} and none is named `default`", listing(&names))
    };
    out.push(
        Diagnostic::error("TOP120", at, format!("`ready()` has no interface to probe: {why}"))
            .with_help("name the interface to probe `default`, or use `tcp(\"localhost:PORT\")` / `http(\"localhost:PORT/health\")` with an explicit address"),
    );
}

/// `host:port` of a healthcheck address (`tcp://`, `http://` and path stripped).
fn host_port(address: &str) -> Option<(&str, i64)> {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let authority = rest.split(['/', '?']).next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

fn addressed(cx: &Cx, service: &Recorded, check: &Recorded, out: &mut Vec<Diagnostic>) {
    let Some(address) = check.positional.first().and_then(Arg::as_str) else { return };
    let Some((host, p)) = host_port(address) else { return };
    if !LOCAL_HOSTS.contains(&host) {
        return;
    }
    let Some(at) = cx.positional(check, 0) else { return };
    let declared: Vec<i64> = interfaces(service).iter().filter_map(|i| port(i)).collect();
    let mapped = port_mappings(service).into_iter().flat_map(|(c, h)| [c, h]).flatten();
    let known: Vec<i64> = declared.iter().copied().chain(mapped).collect();
    if known.is_empty() {
        return;
    }
    if !known.contains(&p) {
        out.push(undeclared(cx, service, check, address, p, &declared, at));
        return;
    }
    if check.builtin == builtins::TCP {
        weak_probe(cx, service, check, p, out);
    }
}

fn undeclared(
    cx: &Cx,
    service: &Recorded,
    check: &Recorded,
    address: &str,
    p: i64,
    declared: &[i64],
    at: Span,
) -> Diagnostic {
    let own = service.name().unwrap_or("?");
    let ports: Vec<String> = declared.iter().map(i64::to_string).collect();
    let d = Diagnostic::warning(
        "TOP122",
        at,
        format!("`{}` healthcheck of `{own}` polls port {p}, which `{own}` does not declare", check.builtin),
    );
    match declared {
        [only] if cx.literals.is_str(at) => {
            let fixed = address.replacen(&format!(":{p}"), &format!(":{only}"), 1);
            d.with_help(format!("`{own}` listens on port {only}; a port copied from another service is polled until the healthcheck times out"))
                .with_replacement(format!("poll port {only}"), at, format!("{fixed:?}"))
        }
        _ => d.with_help(format!(
            "`{own}` declares port{} {}; poll one of them (or declare the interface this port belongs to)",
            if ports.len() == 1 { "" } else { "s" },
            listing(&ports)
        )),
    }
}

/// `tcp()` on the interface `ready()` would probe with its protocol.
fn weak_probe(cx: &Cx, service: &Recorded, check: &Recorded, p: i64, out: &mut Vec<Diagnostic>) {
    let Some(iface) = default_interface(service).filter(|i| port(i) == Some(p)) else { return };
    let Some(proto) = protocol(iface) else { return };
    // Protocols whose `ready()` runs a protocol-level probe (reference §1.2, catalog
    // `ready_probe`), so a TCP connect is a weaker readiness signal: the port opens before
    // the server answers queries.
    let Some(probe) = catalog().protocol(proto).and_then(|p| p.ready_probe.as_deref()) else { return };
    let Some(at) = cx.value(service, "healthcheck") else { return };
    let own = service.name().unwrap_or("?");
    let replacement = match check.named("timeout") {
        None => Some("ready()".to_owned()),
        Some(Arg::Str(t)) => Some(format!("ready(timeout={t:?})")),
        Some(_) => None,
    };
    let d = Diagnostic::warning(
        "TOP123",
        at,
        format!("`tcp()` only waits for `{own}`'s port to open; `ready()` would check {probe} over `{proto}`"),
    )
    .with_help(format!("use `ready()`: a `{proto}` server accepts connections before it answers, so tests can start against a server that is still initialising"));
    out.push(match replacement {
        Some(text) => d.with_replacement("use `ready()`", at, text),
        None => d,
    });
}
