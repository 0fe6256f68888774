//! Rendering environment values: address references become concrete addresses.
//!
//! This is the one place that decides what a consumer sees for `svc.iface.addr` and friends:
//! the proxy edge `(consumer, service, interface)` when the run made one, else the target's
//! direct address (`localhost:PORT`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ospecc_schema::plan::topology::{EnvPart, Launch};
use ospecc_schema::plan::Service;

/// The proxy edges of one lifecycle: `(consumer, service, interface)` → the proxy's address,
/// with the upstream it fronts (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Edges(Arc<BTreeMap<(String, String, String), Edge>>);

/// One edge's two ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub proxy: SocketAddr,
    pub upstream: SocketAddr,
}

impl Edges {
    pub fn new(edges: BTreeMap<(String, String, String), Edge>) -> Edges {
        Edges(Arc::new(edges))
    }

    /// The proxy `consumer` reaches `service.interface` through, if any.
    pub fn get(&self, consumer: &str, service: &str, interface: &str) -> Option<Edge> {
        self.0.get(&(consumer.to_owned(), service.to_owned(), interface.to_owned())).copied()
    }

    /// The upstream a proxy address fronts (for connect rules scoped to a destination).
    pub fn upstream_of(&self, proxy: SocketAddr) -> Option<SocketAddr> {
        self.0.values().find(|e| e.proxy.port() == proxy.port() && e.proxy.ip() == proxy.ip()).map(|e| e.upstream)
    }

    /// [`render`] as `consumer` sees it: references with an edge point at the edge's proxy.
    pub fn render(&self, consumer: &str, parts: &[EnvPart], services: &[Service]) -> String {
        if self.0.is_empty() {
            return render(parts, services);
        }
        parts
            .iter()
            .map(|part| match part {
                EnvPart::Address { service, interface, attribute } => match self.get(consumer, service, interface) {
                    Some(edge) => address_attribute(attribute, &edge.proxy.ip().to_string(), edge.proxy.port()),
                    None => render(std::slice::from_ref(part), services),
                },
                EnvPart::Text { text } => text.clone(),
            })
            .collect()
    }
}

/// Renders an env value: text as is, `host`/`proxy_host` → the host, `port`/`proxy_port` → the
/// port, every other attribute (`addr`, `internal_addr`, `proxy_addr`, ...) → `HOST:PORT`.
/// The host is `localhost` (binaries, mocks), or the address's host for a `remote=` service.
/// An unknown service or interface, or an interface without a static port, renders port `0`.
pub fn render(parts: &[EnvPart], services: &[Service]) -> String {
    parts
        .iter()
        .map(|part| match part {
            EnvPart::Text { text } => text.clone(),
            EnvPart::Address { service, interface, attribute } => {
                let (host, port) = target(services, service, interface);
                address_attribute(attribute, &host, port)
            }
        })
        .collect()
}

/// One attribute of an address: `host`, `port`, or `HOST:PORT` for the rest.
fn address_attribute(attribute: &str, host: &str, port: u16) -> String {
    match attribute {
        "host" | "proxy_host" => host.to_owned(),
        "port" | "proxy_port" => port.to_string(),
        _ => format!("{}:{port}", bracket(host)),
    }
}

/// The host and port a reference to `service.interface` points at.
fn target(services: &[Service], service: &str, interface: &str) -> (String, u16) {
    let Some(svc) = services.iter().find(|s| s.name == service) else { return ("localhost".into(), 0) };
    let declared = svc.interfaces.iter().find(|i| i.name == interface).and_then(|i| i.port);
    if let Launch::Remote { address } = &svc.launch {
        if let Some((host, port)) = split_host_port(address) {
            return (host, port.or(declared).unwrap_or(0));
        }
    }
    ("localhost".into(), declared.unwrap_or(0))
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `host` and optional port of an address written as `HOST:PORT`, `scheme://HOST:PORT/path`,
/// `[::1]:PORT`, `:PORT` (localhost) or `HOST`.
pub(crate) fn split_host_port(address: &str) -> Option<(String, Option<u16>)> {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let rest = rest.split(['/', '?', '#']).next().unwrap_or("");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    if rest.is_empty() {
        return None;
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_owned(), port));
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let host = if host.is_empty() { "localhost" } else { host };
            Some((host.to_owned(), port.parse().ok()))
        }
        Some(_) => Some((rest.to_owned(), None)), // a bare IPv6 address
        None => Some((rest.to_owned(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ospecc_schema::plan::topology::Interface;
    use ospecc_schema::plan::Origin;

    fn service(name: &str, launch: Launch, port: Option<u16>) -> Service {
        Service {
            name: name.into(),
            origin: Origin { file: "t.star".into(), line: 1, column: 1 },
            launch,
            interfaces: vec![Interface { name: "main".into(), protocol: "http".into(), port, spec: None, tls: false }],
            env: vec![],
            ports: vec![],
            volumes: vec![],
            healthcheck: None,
            depends_on: vec![],
            observe: vec![],
            ops: vec![],
            seccomp: true,
            intercept: vec![],
            intercept_unknown: vec![],
            reuse: false,
            seed: None,
            reset: None,
        }
    }

    fn addr(service: &str, attribute: &str) -> EnvPart {
        EnvPart::Address { service: service.into(), interface: "main".into(), attribute: attribute.into() }
    }

    #[test]
    fn renders_direct_addresses() {
        let services = vec![
            service("db", Launch::Binary { path: "./db".into(), args: vec![] }, Some(5432)),
            service("ext", Launch::Remote { address: "tcp://example.org:9000".into() }, None),
        ];
        let parts = vec![
            EnvPart::Text { text: "postgres://".into() },
            addr("db", "internal_addr"),
            EnvPart::Text { text: "/app h=".into() },
            addr("db", "host"),
            EnvPart::Text { text: " p=".into() },
            addr("db", "port"),
            EnvPart::Text { text: " x=".into() },
            addr("ext", "addr"),
            EnvPart::Text { text: " y=".into() },
            addr("nope", "addr"),
        ];
        assert_eq!(
            render(&parts, &services),
            "postgres://localhost:5432/app h=localhost p=5432 x=example.org:9000 y=localhost:0"
        );
    }

    #[test]
    fn splits_addresses() {
        assert_eq!(split_host_port("localhost:80"), Some(("localhost".into(), Some(80))));
        assert_eq!(split_host_port(":80"), Some(("localhost".into(), Some(80))));
        assert_eq!(split_host_port("http://u:p@h:81/x"), Some(("h".into(), Some(81))));
        assert_eq!(split_host_port("[::1]:82"), Some(("::1".into(), Some(82))));
        assert_eq!(split_host_port("h"), Some(("h".into(), None)));
        assert_eq!(split_host_port(""), None);
    }
}
