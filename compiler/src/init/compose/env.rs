//! `environment:` values, with the other services they name turned into address references:
//! `postgres://app@db:5432/app` becomes `"postgres://app@" + db.pg.addr + "/app"`, so the
//! runtime can point each consumer at its dependency (or at the proxy in between).
//!
//! A reference is made where a value names another service's host (its name, `hostname`,
//! `container_name` or a network alias) as a whole word, followed by one of its interfaces'
//! ports, or where a URL's authority names it without a port and the scheme's port is one
//! of them, or where the whole value is the host name (`.host`).

use crate::span::Span;
use crate::syntax::yaml::{Node, Value};

use super::super::{protocols, EnvVar, Part, Service};
use super::values::{interpolate, scalar, Reader};
use super::Raw;

/// Reads every service's environment into `services` (same order as `raws`).
pub fn resolve(raws: &[Raw], services: &mut [Service], reader: &mut Reader) {
    let hosts: Vec<(String, usize)> = {
        let mut hosts: Vec<(String, usize)> =
            raws.iter().enumerate().flat_map(|(i, r)| r.hosts.iter().map(move |h| (h.clone(), i))).collect();
        // Longest first: `api-gateway` is tried before `api`.
        hosts.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        hosts
    };
    for (i, raw) in raws.iter().enumerate() {
        let variables = variables(raw.node, reader);
        let mut env = Vec::new();
        for (name, value, _span) in variables {
            let parts = references(&value, &hosts, services, i);
            env.push(EnvVar { name, parts });
        }
        env.sort_by(|a, b| a.name.cmp(&b.name));
        env.dedup_by(|b, a| a.name == b.name);
        services[i].env = env;
    }
}

/// `(name, value, span)` of each variable with a value (list `K=V` or mapping form).
fn variables(service: &Node, reader: &mut Reader) -> Vec<(String, String, Span)> {
    let Some(environment) = service.field("environment") else { return Vec::new() };
    let mut out = Vec::new();
    match &environment.value {
        Value::Map(entries) => {
            for entry in entries {
                let name = entry.key_text();
                match scalar(&entry.value, reader.text) {
                    Some(value) => {
                        let value = interpolate(&value, entry.value.span, reader);
                        out.push((name, value, entry.value.span));
                    }
                    None => no_value(&name, entry.key.span, reader),
                }
            }
        }
        Value::Seq(items) => {
            for item in items {
                let Some(text) = scalar(item, reader.text) else {
                    reader.warning("INI003", item.span, "an `environment` item is `NAME=value`; this one is ignored");
                    continue;
                };
                match text.split_once('=') {
                    Some((name, value)) => {
                        let value = interpolate(value, item.span, reader);
                        out.push((name.to_owned(), value, item.span));
                    }
                    None => no_value(&text, item.span, reader),
                }
            }
        }
        Value::Null => {}
        _ => reader.warning("INI003", environment.span, "`environment` should be a mapping or a list; it is ignored"),
    }
    out
}

fn no_value(name: &str, span: Span, reader: &mut Reader) {
    reader.warning(
        "INI003",
        span,
        format!("`{name}` has no value (Compose takes it from the shell); it is left out of the spec"),
    );
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A value split into text and references to other services' interfaces.
pub fn references(value: &str, hosts: &[(String, usize)], services: &[Service], own: usize) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut at = 0;
    while at < value.len() {
        let starts_word = value[..at].chars().next_back().is_none_or(|c| !is_host_char(c));
        let found = if starts_word { reference_at(value, at, hosts, services, own) } else { None };
        match found {
            Some((part, consumed)) => {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(part);
                at += consumed;
            }
            None => {
                let c = value[at..].chars().next().unwrap_or(' ');
                text.push(c);
                at += c.len_utf8();
            }
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

/// The reference starting at byte `at`, with the bytes it replaces.
fn reference_at(
    value: &str,
    at: usize,
    hosts: &[(String, usize)],
    services: &[Service],
    own: usize,
) -> Option<(Part, usize)> {
    let rest = &value[at..];
    for (host, index) in hosts.iter().filter(|(_, i)| *i != own) {
        let Some(after) = rest.strip_prefix(host.as_str()) else { continue };
        let next = after.chars().next();
        if next.is_some_and(|c| is_host_char(c) && c != '.')
            || (next == Some('.') && after[1..].starts_with(is_host_char))
        {
            continue;
        }
        let service = &services[*index];
        if let Some(port_text) = after.strip_prefix(':') {
            let digits: &str = &port_text[..port_text.find(|c: char| !c.is_ascii_digit()).unwrap_or(port_text.len())];
            let port: Option<u16> = digits.parse().ok();
            let interface = service.interfaces.iter().find(|i| Some(i.port) == port)?;
            let part =
                Part::Ref { service: service.name.clone(), interface: interface.name.clone(), attribute: "addr" };
            return Some((part, host.len() + 1 + digits.len()));
        }
        if let Some(scheme) = url_scheme(&value[..at]) {
            let implied = protocols::scheme_port(scheme);
            let interface = service.interfaces.iter().find(|i| Some(i.port) == implied)?;
            let part =
                Part::Ref { service: service.name.clone(), interface: interface.name.clone(), attribute: "addr" };
            return Some((part, host.len()));
        }
        if at == 0 && after.is_empty() {
            let interface = service.interfaces.first()?;
            let part =
                Part::Ref { service: service.name.clone(), interface: interface.name.clone(), attribute: "host" };
            return Some((part, host.len()));
        }
    }
    None
}

/// The scheme of a URL whose authority starts where `before` ends (`redis://` or
/// `postgres://user:pass@`), if it does.
fn url_scheme(before: &str) -> Option<&str> {
    let authority_start = before.rfind("://")?;
    let userinfo = &before[authority_start + 3..];
    if !(userinfo.is_empty() || (userinfo.ends_with('@') && !userinfo.contains('/'))) {
        return None;
    }
    let scheme_start = before[..authority_start]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .map_or(0, |i| i + 1);
    let scheme = &before[scheme_start..authority_start];
    // `postgresql+asyncpg://` speaks postgresql.
    Some(scheme.split('+').next().unwrap_or(scheme))
}

#[cfg(test)]
mod tests {
    use super::super::super::Interface;
    use super::*;

    fn services() -> Vec<Service> {
        let iface = |name: &str, protocol: &str, port| Interface {
            name: name.into(),
            protocol: protocol.into(),
            port,
            public: false,
        };
        vec![
            Service { name: "db".into(), interfaces: vec![iface("pg", "postgres", 5432)], ..Service::default() },
            Service { name: "cache".into(), interfaces: vec![iface("redis", "redis", 6379)], ..Service::default() },
            Service { name: "api".into(), interfaces: vec![iface("http", "http", 80)], ..Service::default() },
            Service { name: "api-gw".into(), interfaces: vec![iface("http", "http", 8080)], ..Service::default() },
        ]
    }

    fn hosts() -> Vec<(String, usize)> {
        vec![("api-gw".into(), 3), ("cache".into(), 1), ("db".into(), 0), ("api".into(), 2)]
    }

    fn render(value: &str) -> String {
        references(value, &hosts(), &services(), 99)
            .iter()
            .map(|p| match p {
                Part::Text(t) => format!("{t:?}"),
                Part::Ref { service, interface, attribute } => format!("{service}.{interface}.{attribute}"),
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }

    #[test]
    fn host_and_port_become_address_references() {
        assert_eq!(render("postgres://app:pw@db:5432/app"), "\"postgres://app:pw@\" + db.pg.addr + \"/app\"");
        assert_eq!(render("cache:6379"), "cache.redis.addr");
        assert_eq!(render("redis://cache"), "\"redis://\" + cache.redis.addr");
        assert_eq!(render("http://api/v1"), "\"http://\" + api.http.addr + \"/v1\"");
        assert_eq!(render("http://api-gw:8080"), "\"http://\" + api-gw.http.addr");
        assert_eq!(render("db"), "db.pg.host");
    }

    #[test]
    fn words_that_only_contain_a_host_stay_text() {
        assert_eq!(render("dbname"), "\"dbname\"");
        assert_eq!(render("mydb:5432"), "\"mydb:5432\"");
        assert_eq!(render("db.example.com:5432"), "\"db.example.com:5432\"");
        assert_eq!(render("db:9999"), "\"db:9999\"");
        assert_eq!(render("the db is up"), "\"the db is up\"");
        assert_eq!(render("http://api-gw/"), "\"http://api-gw/\"");
        assert_eq!(render(""), "\"\"");
        assert_eq!(render("db."), "db.pg.host".replace("db.pg.host", "\"db.\""));
    }

    #[test]
    fn a_service_never_references_itself() {
        let parts = references("db:5432", &hosts(), &services(), 0);
        assert_eq!(parts, [Part::Text("db:5432".into())]);
    }
}
