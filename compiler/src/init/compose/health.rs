//! Compose healthchecks as `healthcheck=`: a probe URL on localhost becomes `http(...)`, a
//! protocol's own readiness command (`pg_isready`, `redis-cli ping`, ...) becomes `ready()`,
//! a port check becomes `tcp(...)`; anything else waits the protocol's way, keeping the
//! original command as a comment. The wait lasts what Compose would wait before calling the
//! service unhealthy (`start_period + retries × interval`).

use std::sync::LazyLock;

use regex::Regex;

use crate::syntax::yaml::{Node, Value};

use super::super::{default_health, protocols, Health, Healthcheck, Interface};
use super::values::{duration_ms, duration_text, scalar, Reader};

/// Commands that check a protocol the way `ready()` does.
const READINESS_COMMANDS: &[&str] = &[
    "pg_isready",
    "redis-cli",
    "valkey-cli",
    "mysqladmin",
    "mariadb-admin",
    "mongosh",
    "mongo ",
    "cqlsh",
    "clickhouse-client",
    "kafka-topics",
    "kafka-broker-api-versions",
    "rpk cluster",
    "nats-server",
];

/// Compose's defaults: a check every 30 s, three failures make a service unhealthy.
const DEFAULT_INTERVAL_MS: u64 = 30_000;
const DEFAULT_RETRIES: u64 = 3;
/// A container may take a while to come up; when Compose says nothing, wait this long.
pub const CONTAINER_WAIT_MS: u64 = 60_000;

// Constant patterns (the tests compile them); `None` would only mean fewer translated checks.
static LOCAL_URL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d{1,5}))?(/[^\s'\x22|;&]*)?").ok()
});

static PORT_CHECK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?:nc\s+(?:-\w+\s+)*(?:localhost|127\.0\.0\.1)\s+(\d{1,5}))|/dev/tcp/(?:localhost|127\.0\.0\.1)/(\d{1,5})",
    )
    .ok()
});

/// The healthcheck of a service with these interfaces; `comments` gets what is not carried.
pub fn read(
    service: &Node,
    interfaces: &[Interface],
    reader: &mut Reader,
    comments: &mut Vec<String>,
) -> Option<Healthcheck> {
    let compose = service.field("healthcheck");
    let (command, timeout) = match compose {
        Some(node) if node.as_map().is_some() => {
            if node.field("disable").is_some_and(|d| d.value == Value::Bool(true)) {
                return None;
            }
            (test_command(node, reader)?, Some(wait_ms(node, reader.text)))
        }
        Some(node) => {
            reader.warning("INI003", node.span, "`healthcheck` should be a mapping; it is ignored");
            (None, None)
        }
        None => (None, None),
    };
    let first = interfaces.first()?;
    let alone = interfaces.len() == 1;
    let timeout = Some(duration_text(timeout.unwrap_or(CONTAINER_WAIT_MS)));
    let Some(command) = command else {
        return Some(Healthcheck { kind: default_health(first, alone), timeout, original: None });
    };
    if let Some(kind) = translate(&command, interfaces) {
        return Some(Healthcheck { kind, timeout, original: None });
    }
    if interfaces.is_empty() {
        comments.push(format!("compose healthcheck `{command}` has no port to check here"));
        return None;
    }
    Some(Healthcheck { kind: default_health(first, alone), timeout, original: Some(command) })
}

/// `healthcheck.test` as one command line: `None` inside when there is none to run
/// (`test` absent), `None` outside when the check is switched off (`["NONE"]`).
fn test_command(node: &Node, reader: &mut Reader) -> Option<Option<String>> {
    let Some(test) = node.field("test") else { return Some(None) };
    let words: Vec<String> = match &test.value {
        Value::Seq(items) => items.iter().filter_map(|i| scalar(i, reader.text)).collect(),
        Value::String(text) => return Some(Some(text.clone())),
        _ => {
            reader.warning("INI003", test.span, "`healthcheck.test` should be a string or a list; it is ignored");
            return Some(None);
        }
    };
    match words.first().map(String::as_str) {
        Some("NONE") => None,
        Some("CMD") | Some("CMD-SHELL") => Some(Some(words[1..].join(" "))),
        _ => Some(Some(words.join(" "))),
    }
}

/// How long Compose waits before it calls the service unhealthy.
fn wait_ms(node: &Node, text: &str) -> u64 {
    let duration = |key: &str| node.field(key).and_then(|n| scalar(n, text)).and_then(|t| duration_ms(&t));
    let interval = duration("interval").unwrap_or(DEFAULT_INTERVAL_MS);
    let start = duration("start_period").unwrap_or(0);
    let retries = node.field("retries").and_then(|n| scalar(n, text)).and_then(|t| t.parse::<u64>().ok());
    let total = start.saturating_add(interval.saturating_mul(retries.unwrap_or(DEFAULT_RETRIES).max(1)));
    total.clamp(1000, 600_000)
}

/// The check a command line amounts to, when it is one of the kinds `init` knows.
fn translate(command: &str, interfaces: &[Interface]) -> Option<Health> {
    if let Some(url) = LOCAL_URL.as_ref().and_then(|r| r.captures(command)) {
        let port = url.get(1).map_or(Some(80), |p| p.as_str().parse::<u16>().ok())?;
        let path = url.get(2).map_or("/", |p| p.as_str());
        if interfaces.iter().any(|i| i.port == port) {
            return Some(Health::Http { port, path: path.to_owned() });
        }
    }
    if let Some(found) = PORT_CHECK.as_ref().and_then(|r| r.captures(command)) {
        let port = found.get(1).or(found.get(2)).and_then(|p| p.as_str().parse::<u16>().ok())?;
        if interfaces.iter().any(|i| i.port == port) {
            return Some(Health::Tcp { port });
        }
    }
    let readiness = READINESS_COMMANDS.iter().any(|c| command.contains(c));
    let first = interfaces.first()?;
    match (readiness, interfaces.len()) {
        (true, 1) if protocols::has_ready(&first.protocol) => Some(Health::Ready),
        (true, _) => {
            let known = interfaces.iter().find(|i| protocols::has_ready(&i.protocol)).unwrap_or(first);
            Some(Health::Tcp { port: known.port })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(protocol: &str, port: u16) -> Interface {
        Interface { name: protocol.into(), protocol: protocol.into(), port, public: true }
    }

    #[test]
    fn commands_translate() {
        let web = [iface("http", 8000)];
        assert_eq!(
            translate("curl -fsS http://localhost:8000/healthz || exit 1", &web),
            Some(Health::Http { port: 8000, path: "/healthz".into() })
        );
        assert_eq!(translate("wget -qO- http://127.0.0.1:9999/", &web), None);
        assert_eq!(translate("pg_isready -U app", &[iface("postgres", 5432)]), Some(Health::Ready));
        assert_eq!(
            translate("redis-cli ping", &[iface("redis", 6379), iface("http", 8001)]),
            Some(Health::Tcp { port: 6379 })
        );
        assert_eq!(translate("nc -z localhost 8000", &web), Some(Health::Tcp { port: 8000 }));
        assert_eq!(translate("bash -c '</dev/tcp/localhost/8000'", &web), Some(Health::Tcp { port: 8000 }));
        assert_eq!(translate("/bin/check.sh", &web), None);
        assert!(LOCAL_URL.as_ref().unwrap().is_match("http://[::1]/"));
        assert!(PORT_CHECK.is_some());
    }
}
