//! Flows (ospec-format.md §5.1): `integration_tests[]` become `Flow` probes, their steps
//! parsed with the step grammar (`POST auth:/login → 200`) or read from step objects
//! (`{method, path, service, expect_status, headers, body, capture}`). Steps share a session;
//! a step that cannot run (a prose step, an ambiguous service, no body, an unbound `{param}`)
//! is skipped with its reason, and so is every step after it, since later steps depend on the
//! state earlier ones create. `ux_flows`/`user_flows` whose every step is an HTTP step become
//! flows too; the others are manual items.

use ospecc_schema::plan::acceptance::{Check, ExpectStatus, FlowStep, HttpRequest, Probe};

use super::context::Lowering;
use super::request::{self, DEFAULT_TIMEOUT_MS, TIMEOUT_KEYS};
use crate::ospec::steps;
use crate::syntax::yaml::{Node, Value};

/// Keys of a step object's expected status.
const STATUS_KEYS: &[&str] = &["expect_status", "status"];
/// Groups of user flows: executable only when every step is an HTTP step.
const USER_FLOW_GROUPS: &[&str] = &["ux_flows", "user_flows"];

/// A step, read.
enum Step {
    Http(HttpStep),
    /// A step no runtime can perform, with why.
    Manual(String),
}

struct HttpStep {
    method: String,
    service: Option<String>,
    path: String,
    expect: ExpectStatus,
    headers: Vec<(String, String)>,
    body: Option<(String, bool)>,
    capture: Vec<(String, String)>,
    timeout_ms: u64,
}

/// The probes of the `flows` stage.
pub(crate) fn lower(cx: &mut Lowering, acceptance: &Node) -> Vec<Probe> {
    let mut probes = Vec::new();
    let flows = acceptance.field("integration_tests").and_then(Node::as_seq).unwrap_or_default();
    for (index, flow) in flows.iter().enumerate() {
        let fallback = format!("acceptance.integration_tests[{index}]");
        if flow.as_map().is_none() {
            cx.unverifiable(flow.span, &fallback, "not a flow object (`{name, steps}`)");
            continue;
        }
        probes.push(lower_flow(cx, flow, index, &fallback));
    }
    for group in USER_FLOW_GROUPS {
        for (index, flow) in acceptance.field(group).and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
            let fallback = format!("acceptance.{group}[{index}]");
            match manual_reason(cx, flow) {
                Some(reason) => cx.unverifiable(flow.span, &fallback, reason),
                None => probes.push(lower_flow(cx, flow, index, &fallback)),
            }
        }
    }
    probes
}

/// Why a user flow is a manual item (`None` when every step is an HTTP step).
fn manual_reason(cx: &mut Lowering, flow: &Node) -> Option<String> {
    let steps = flow.field("steps").and_then(Node::as_seq).unwrap_or_default();
    if steps.is_empty() {
        return Some("a user flow with no steps: a manual check".to_owned());
    }
    steps.iter().enumerate().find_map(|(i, node)| match read_step(cx, node) {
        (_, Step::Http(_)) => None,
        (text, Step::Manual(_)) => Some(format!("a manual user flow (step {} `{text}` is not an HTTP step)", i + 1)),
    })
}

fn lower_flow(cx: &mut Lowering, flow: &Node, index: usize, fallback: &str) -> Probe {
    let name = flow.field("name").and_then(Node::scalar_text).unwrap_or_else(|| index.to_string());
    let default_service = flow.field("service").and_then(Node::as_str);
    let nodes = flow.field("steps").and_then(Node::as_seq).unwrap_or_default();
    let mut steps = Vec::with_capacity(nodes.len());
    // Once a step cannot run, the ones after it cannot either (they rely on its effects).
    let mut blocked: Option<String> = None;
    let mut captured: Vec<String> = Vec::new();
    let mut warned = false;
    for (i, node) in nodes.iter().enumerate() {
        let number = i + 1;
        let (text, step) = read_step(cx, node);
        let flow_step = match step {
            Step::Manual(reason) => {
                cx.unverifiable(node.span, &format!("{fallback}.steps[{i}]"), reason.clone());
                blocked.get_or_insert(format!("after manual step {number}"));
                FlowStep { text, request: None, capture: Vec::new(), skip: Some(reason) }
            }
            Step::Http(HttpStep { method, service, path, expect, headers, body, capture, timeout_ms }) => {
                let service = service.as_deref().or(default_service);
                let located = cx.targets.locate(service, &path);
                if !warned && blocked.is_none() {
                    warned = located.skip.is_some();
                    cx.warn_ambiguous(node.span, "this flow step", located.skip.as_deref());
                }
                let skip = blocked
                    .clone()
                    .or(located.skip)
                    .or_else(|| request::needs_body(&method, body.is_some()))
                    .or_else(|| request::unbound_param(&path, &captured));
                if skip.is_some() {
                    blocked.get_or_insert(format!("after skipped step {number}"));
                }
                captured.extend(capture.iter().map(|(name, _)| name.clone()));
                let parts = RequestParts { method, expect, headers, body, timeout_ms };
                let request = http_request(parts, located.target, located.url);
                FlowStep { text, request: Some(request), capture, skip }
            }
        };
        steps.push(flow_step);
    }
    let skip = match steps.first() {
        None => Some("no steps".to_owned()),
        Some(first) if steps.iter().all(|s| s.skip.is_some()) => {
            Some(format!("no step can run (step 1: {})", first.skip.as_deref().unwrap_or_default()))
        }
        Some(_) => None,
    };
    cx.probe(format!("flow.{name}"), flow.span, Check::Flow { name, steps }, skip)
}

/// A step's request, before its target is known.
struct RequestParts {
    method: String,
    expect: ExpectStatus,
    headers: Vec<(String, String)>,
    body: Option<(String, bool)>,
    timeout_ms: u64,
}

fn http_request(parts: RequestParts, target: String, url: String) -> HttpRequest {
    let mut headers = parts.headers;
    let body = parts.body.map(|(text, json)| {
        if json && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        text
    });
    HttpRequest {
        target,
        method: parts.method,
        url,
        expect: parts.expect,
        contains: Vec::new(),
        headers,
        body,
        json_schema: None,
        max_latency_ms: None,
        timeout_ms: parts.timeout_ms,
    }
}

/// A step as text for people, and what it asks for.
fn read_step(cx: &mut Lowering, node: &Node) -> (String, Step) {
    match &node.value {
        Value::String(text) => (text.clone(), string_step(text)),
        Value::Map(_) => object_step(cx, node),
        _ => {
            let text = request::text_of(node);
            (text.clone(), Step::Manual(format!("not a step (`{text}`)")))
        }
    }
}

fn string_step(text: &str) -> Step {
    match steps::parse(text) {
        Ok(step) => Step::Http(HttpStep {
            method: step.method.to_owned(),
            service: step.service.map(str::to_owned),
            path: step.path.to_owned(),
            expect: request::from_step(&step.expect),
            headers: Vec::new(),
            body: None,
            capture: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }),
        Err(not_a_step) => Step::Manual(format!("manual step: {}", not_a_step.reason)),
    }
}

/// `{method, path, ...}` is an HTTP step; `{action, ...}` (and anything else) is manual.
fn object_step(cx: &mut Lowering, node: &Node) -> (String, Step) {
    if let Some(action) = node.field("action").and_then(Node::scalar_text) {
        return (action.clone(), Step::Manual(format!("manual step: the action `{action}`")));
    }
    let Some(path) = node.field("path").and_then(Node::as_str) else {
        return ("(step object)".to_owned(), Step::Manual("a step object with no `path`".to_owned()));
    };
    let service = node.field("service").and_then(Node::as_str).map(str::to_owned);
    let target = match &service {
        Some(service) => format!("{service}:{path}"),
        None => path.to_owned(),
    };
    let parts = request::method(node).and_then(|method| Ok((method, request::status(node, STATUS_KEYS, 200)?)));
    let (method, expect) = match parts {
        Ok(parts) => parts,
        Err(reason) => return (target, Step::Manual(format!("invalid step: {reason}"))),
    };
    let text = format!("{method} {target} → {}", expect_text(&expect));
    if !path.starts_with('/') {
        return (text, Step::Manual(format!("invalid step: path `{path}` does not start with `/`")));
    }
    let body = match request::body(node, &mut |file| cx.bundle_file(file).map(|(_, text)| text)) {
        Ok(body) => body,
        Err(reason) => return (text, Step::Manual(format!("invalid step: {reason}"))),
    };
    let capture = node.field("capture").and_then(Node::as_map).unwrap_or_default();
    let step = HttpStep {
        method,
        service,
        path: path.to_owned(),
        expect,
        headers: request::headers(node),
        body,
        capture: capture.iter().filter_map(|e| Some((e.key_text(), e.value.scalar_text()?))).collect(),
        timeout_ms: request::duration_ms(node, TIMEOUT_KEYS).unwrap_or(DEFAULT_TIMEOUT_MS),
    };
    (text, Step::Http(step))
}

/// `201`, `200|204`, `2xx`: as a step string writes it.
fn expect_text(expect: &ExpectStatus) -> String {
    match expect {
        ExpectStatus::Codes { codes } => codes.iter().map(u16::to_string).collect::<Vec<_>>().join("|"),
        ExpectStatus::Class { class } => format!("{class}xx"),
    }
}
