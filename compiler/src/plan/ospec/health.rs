//! Health waits (ospec-format.md §5.3): `acceptance.service_health`, `services.<svc>.health`,
//! and the Kubernetes-style probes of `health_checks`, `monitoring.health_checks`,
//! `deployment.health_checks` and `monitoring.health_check_url`. They become `WaitHealthy`
//! probes of the `health` stage, ordered by their target's place in the dependency order
//! (so `auth_service` is waited for before the services that need it), then as written.

use ospecc_schema::plan::acceptance::{Check, ExpectStatus, Probe};

use super::context::Lowering;
use super::request::{self, INITIAL_DELAY_KEYS, INTERVAL_KEYS, TIMEOUT_KEYS};
use super::targets::UrlSource;
use crate::syntax::yaml::{Node, Value};

/// How long to wait for health when the spec does not say.
const DEFAULT_WAIT_MS: u64 = 60_000;
const DEFAULT_INTERVAL_MS: u64 = 1_000;
/// The path probed when a health check names none.
const DEFAULT_PATH: &str = "/health";
/// Keys that hold the path or URL of a health check, in order of preference.
const PATH_KEYS: &[&str] = &["endpoint", "path", "http_endpoint", "url"];
/// Keys of the expected status.
const STATUS_KEYS: &[&str] = &["expected_status", "status"];
/// Keys of a probe's retry count (the Kubernetes failure threshold).
const RETRY_KEYS: &[&str] = &["retries", "retry_attempts", "failure_threshold"];
/// Where Kubernetes-style probes are written, as (path from the root, YAML path).
const PROBE_GROUPS: &[(&[&str], &str)] = &[
    (&["health_checks"], "health_checks"),
    (&["monitoring", "health_checks"], "monitoring.health_checks"),
    (&["deployment", "health_checks"], "deployment.health_checks"),
];
/// Keys of a service's own health probe.
const SERVICE_PROBE_KEYS: &[&str] = &["health", "health_check"];

/// One health check found in the spec, before lowering.
struct Wait<'n> {
    node: &'n Node,
    service: Option<String>,
    /// Group defaults (`health_checks: {interval_seconds, endpoints: [...]}`).
    defaults: Option<&'n Node>,
    /// `service_health` gives the whole wait as its timeout; Kubernetes-style probes give the
    /// timeout of one request, and the wait follows from their retries.
    whole_wait: bool,
}

/// The `health` stage's probes, in dependency order of their targets.
pub(crate) fn lower(cx: &mut Lowering, acceptance: &Node) -> Vec<Probe> {
    let root = cx.root;
    let mut waits: Vec<Wait> = Vec::new();
    for item in acceptance.field("service_health").and_then(Node::as_seq).unwrap_or_default() {
        waits.push(Wait { node: item, service: service_of(item), defaults: None, whole_wait: true });
    }
    for service in root.field("services").and_then(Node::as_map).unwrap_or_default() {
        for node in SERVICE_PROBE_KEYS.iter().filter_map(|k| service.value.field(k)) {
            waits.push(Wait { node, service: Some(service.key_text()), defaults: None, whole_wait: false });
        }
    }
    for (keys, _) in PROBE_GROUPS {
        if let Some(group) = keys.iter().try_fold(root, |node, key| node.field(key)) {
            collect_group(group, &mut waits);
        }
    }
    let mut probes: Vec<(usize, Probe)> = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for wait in &waits {
        if let Some((rank, probe)) = lower_wait(cx, wait, &mut seen) {
            probes.push((rank, probe));
        }
    }
    if let Some(probe) = health_check_url(cx, &mut seen) {
        probes.push(probe);
    }
    // Stable: within one target, the order written.
    probes.sort_by_key(|(rank, _)| *rank);
    probes.into_iter().map(|(_, p)| p).collect()
}

fn service_of(node: &Node) -> Option<String> {
    node.field("service").and_then(Node::as_str).map(str::to_owned)
}

/// A probe, a list of probes, or `{endpoints: [...], <defaults>}`.
fn collect_group<'n>(group: &'n Node, waits: &mut Vec<Wait<'n>>) {
    match &group.value {
        Value::Seq(items) => waits.extend(items.iter().map(|node| probe_wait(node, None))),
        Value::Map(_) => match group.field("endpoints").and_then(Node::as_seq) {
            Some(items) => waits.extend(items.iter().map(|node| probe_wait(node, Some(group)))),
            None => waits.push(probe_wait(group, None)),
        },
        _ => {}
    }
}

fn probe_wait<'n>(node: &'n Node, defaults: Option<&'n Node>) -> Wait<'n> {
    Wait { node, service: service_of(node), defaults, whole_wait: false }
}

/// A setting of the probe, else of its group.
fn setting<'n>(wait: &Wait<'n>, key: &str) -> Option<&'n Node> {
    wait.node.field(key).or_else(|| wait.defaults.and_then(|d| d.field(key)))
}

fn duration(wait: &Wait, keys: &[(&str, u64)]) -> Option<u64> {
    request::duration_ms(wait.node, keys).or_else(|| wait.defaults.and_then(|d| request::duration_ms(d, keys)))
}

fn lower_wait(cx: &mut Lowering, wait: &Wait, seen: &mut Vec<(String, String)>) -> Option<(usize, Probe)> {
    if matches!(setting(wait, "enabled").map(|n| &n.value), Some(Value::Bool(false))) {
        return None;
    }
    wait.node.as_map()?;
    let service = wait.service.as_deref();
    let written = PATH_KEYS.iter().find_map(|k| wait.node.field(k));
    let (target, url, mut skip) = match written {
        Some(node) => match node.as_str() {
            Some(text) if !text.starts_with('/') => {
                let (url, skip) = cx.targets.expand_url(&UrlSource {
                    text: text.to_owned(),
                    span: node.span,
                    source: "health check url".to_owned(),
                });
                (cx.targets.owner(service), url, skip)
            }
            Some(path) => located(cx, service, path),
            None => {
                (String::new(), String::new(), Some(format!("health path `{}` is not text", request::text_of(node))))
            }
        },
        None => located(cx, service, DEFAULT_PATH),
    };
    if seen.iter().any(|(t, u)| *t == target && *u == url) {
        return None;
    }
    seen.push((target.clone(), url.clone()));
    let expect = request::status(wait.node, STATUS_KEYS, 200).unwrap_or_else(|reason| {
        skip.get_or_insert(reason);
        ExpectStatus::Codes { codes: vec![200] }
    });
    let interval_ms = duration(wait, INTERVAL_KEYS).unwrap_or(DEFAULT_INTERVAL_MS).max(1);
    let initial_delay_ms = duration(wait, INITIAL_DELAY_KEYS).unwrap_or(0);
    let timeout_ms = wait_deadline(wait, interval_ms, initial_delay_ms);
    let rank = cx.targets.rank(&target);
    let id = format!("health.{}", if target.is_empty() { service.unwrap_or("unknown") } else { &target });
    let check = Check::WaitHealthy { target, url, expect, timeout_ms, interval_ms, initial_delay_ms };
    Some((rank, cx.probe(id, wait.node.span, check, skip)))
}

fn located(cx: &mut Lowering, service: Option<&str>, path: &str) -> (String, String, Option<String>) {
    let located = cx.targets.locate(service, path);
    (located.target, located.url, located.skip)
}

/// The overall deadline: `service_health`'s timeout is the whole wait; a Kubernetes-style
/// probe with retries waits `initial delay + retries × interval`; otherwise a minute.
fn wait_deadline(wait: &Wait, interval_ms: u64, initial_delay_ms: u64) -> u64 {
    if wait.whole_wait {
        return duration(wait, TIMEOUT_KEYS).unwrap_or(DEFAULT_WAIT_MS);
    }
    let retries = RETRY_KEYS.iter().find_map(|k| setting(wait, k)).and_then(request::count);
    let waiting = match retries {
        Some(retries) => interval_ms.saturating_mul(u64::from(retries.max(1))),
        None => DEFAULT_WAIT_MS,
    };
    initial_delay_ms.saturating_add(waiting)
}

/// `monitoring.health_check_url`: a wait on the URL itself, unless a probe already covers it.
fn health_check_url(cx: &mut Lowering, seen: &mut Vec<(String, String)>) -> Option<(usize, Probe)> {
    let node = cx.root.field("monitoring")?.field("health_check_url")?;
    let text = node.as_str()?;
    let source = UrlSource { text: text.to_owned(), span: node.span, source: "monitoring.health_check_url".into() };
    let (url, skip) = cx.targets.expand_url(&source);
    let target = cx.targets.owner(None);
    if seen.iter().any(|(t, u)| *t == target && *u == url) {
        return None;
    }
    seen.push((target.clone(), url.clone()));
    let rank = cx.targets.rank(&target);
    let check = Check::WaitHealthy {
        target: target.clone(),
        url,
        expect: ExpectStatus::Codes { codes: vec![200] },
        timeout_ms: DEFAULT_WAIT_MS,
        interval_ms: DEFAULT_INTERVAL_MS,
        initial_delay_ms: 0,
    };
    Some((rank, cx.probe(format!("health.{target}"), node.span, check, skip)))
}
