//! Compose `ports:` (short `[IP:][HOST:]CONTAINER[/PROTO]` with ranges, and long
//! `{target, published, protocol}` syntax) and `expose:`, as container ports.

use crate::span::Span;
use crate::syntax::yaml::{Node, Value};

use super::values::{interpolate, scalar, Reader};

/// A range longer than this is not a set of interfaces anyone wants written out.
const MAX_RANGE: u16 = 16;

/// One container port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub container: u16,
    pub udp: bool,
    /// Listed under `ports:` (reachable from the host), not only `expose:`d.
    pub published: bool,
    /// The host port it is published on, when written.
    pub host: Option<u16>,
    pub span: Span,
}

/// The container ports of a service: `ports:` first, then `expose:`.
pub fn read(service: &Node, reader: &mut Reader) -> Vec<Port> {
    let mut found = Vec::new();
    for (key, published) in [("ports", true), ("expose", false)] {
        let Some(list) = service.field(key) else { continue };
        let Some(items) = list.as_seq() else {
            reader.warning("INI003", list.span, format!("`{key}` should be a list; it is ignored"));
            continue;
        };
        for item in items {
            match entry(item, published, reader) {
                Ok(ports) => found.extend(ports),
                Err(why) => reader.warning("INI003", item.span, format!("this port is ignored: {why}")),
            }
        }
    }
    found
}

fn entry(item: &Node, published: bool, reader: &mut Reader) -> Result<Vec<Port>, String> {
    match &item.value {
        Value::Map(_) => {
            let target = item.field("target").ok_or("the long syntax needs `target`")?;
            let text = scalar(target, reader.text).ok_or("`target` should be a port number")?;
            let port = number(&text)?;
            let udp = item.field("protocol").and_then(|p| scalar(p, reader.text)).is_some_and(|p| p == "udp");
            let host = item.field("published").and_then(|p| scalar(p, reader.text)).and_then(|p| number(&p).ok());
            Ok(vec![Port { container: port, udp, published, host: host.filter(|_| published), span: item.span }])
        }
        _ => {
            let text = scalar(item, reader.text).ok_or("a port is a number or a string such as \"8080:80\"")?;
            let text = interpolate(&text, item.span, reader);
            short(&text, published, item.span)
        }
    }
}

/// `[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]`.
fn short(text: &str, published: bool, span: Span) -> Result<Vec<Port>, String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, protocol)) => (spec, protocol),
        None => (text, "tcp"),
    };
    let udp = match protocol {
        "tcp" => false,
        "udp" => true,
        other => return Err(format!("protocol `{other}` is neither tcp nor udp")),
    };
    // The container part is after the last colon, the host port before it (an IPv6 host
    // address is bracketed).
    let (host, container) = match spec.rsplit_once(':') {
        Some((host, container)) => (Some(host.rsplit_once(':').map_or(host, |(_, h)| h)), container),
        None => (None, spec),
    };
    let (start, end) = range(container)?;
    let host_start = match host.filter(|h| !h.is_empty()) {
        Some(host) => Some(range(host)?.0),
        None => None,
    };
    if end < start {
        return Err(format!("the range {start}-{end} is empty"));
    }
    if end - start >= MAX_RANGE {
        return Err(format!("the range {start}-{end} has more than {MAX_RANGE} ports; list the ones that matter"));
    }
    let host_of = |container: u16| host_start.map(|h| h.saturating_add(container - start)).filter(|_| published);
    Ok((start..=end).map(|container| Port { container, udp, published, host: host_of(container), span }).collect())
}

/// `PORT` or `START-END`.
fn range(text: &str) -> Result<(u16, u16), String> {
    match text.split_once('-') {
        Some((a, b)) => Ok((number(a)?, number(b)?)),
        None => {
            let port = number(text)?;
            Ok((port, port))
        }
    }
}

fn number(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("`{text}` is not a port (1 to 65535)")),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn containers(text: &str) -> Result<Vec<(u16, bool)>, String> {
        short(text, true, Span::at(0)).map(|ports| ports.iter().map(|p| (p.container, p.udp)).collect())
    }

    fn hosts(text: &str) -> Vec<Option<u16>> {
        short(text, true, Span::at(0)).unwrap().iter().map(|p| p.host).collect()
    }

    #[test]
    fn short_syntax() {
        assert_eq!(containers("8080"), Ok(vec![(8080, false)]));
        assert_eq!(containers("8080:80"), Ok(vec![(80, false)]));
        assert_eq!(containers("127.0.0.1:5432:5432"), Ok(vec![(5432, false)]));
        assert_eq!(containers("[::1]:53:53/udp"), Ok(vec![(53, true)]));
        assert_eq!(containers("9090-9091:8080-8081"), Ok(vec![(8080, false), (8081, false)]));
        assert!(containers("80/sctp").is_err());
        assert!(containers("0").is_err());
        assert!(containers("1-1000").unwrap_err().contains("more than"));
        assert!(containers("abc").is_err());
        assert_eq!(hosts("8080"), [None]);
        assert_eq!(hosts("18080:8080"), [Some(18080)]);
        assert_eq!(hosts("127.0.0.1:15432:5432"), [Some(15432)]);
        assert_eq!(hosts("127.0.0.1::5432"), [None]);
        assert_eq!(hosts("9090-9091:8080-8081"), [Some(9090), Some(9091)]);
    }
}
