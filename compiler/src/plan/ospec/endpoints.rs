//! `http_endpoints[]` → one `Http` probe each (ospec-format.md §5.2): method (GET when
//! omitted), status (a code, a list or a class), `response_contains`, headers, a body,
//! `response_schema` (the file joins the bundle) and `response_time_ms` as the probe's own
//! latency bound. Requests that cannot be made statically are skipped with the reason: an
//! ambiguous or unknown service, missing credentials, a POST/PUT/PATCH without a body, an
//! unbound `{param}`. The endpoints also feed the latency and throughput probes.

use ospecc_schema::plan::acceptance::{Check, ExpectStatus, HttpRequest, Probe};

use super::context::Lowering;
use super::request::{self, DEFAULT_TIMEOUT_MS, TIMEOUT_KEYS};
use crate::syntax::yaml::Node;

/// Keys of the expected status (`expected_status` is an alias).
const STATUS_KEYS: &[&str] = &["status", "expected_status"];
/// The per-endpoint latency bound.
const LATENCY_KEYS: &[(&str, u64)] = &[("response_time_ms", 1), ("max_response_time_ms", 1)];

/// An endpoint as the performance probes see it.
pub(crate) struct Endpoint {
    pub method: String,
    /// `GET./products` or `GET.api:/products`, for probe ids.
    pub label: String,
    pub target: String,
    pub url: String,
    /// Headers the request needs (credentials as `${VAR}` references).
    pub headers: Vec<(String, String)>,
    pub skip: Option<String>,
}

/// The probes of the `endpoints` stage, and the endpoints for the performance probes.
pub(crate) fn lower(cx: &mut Lowering, acceptance: &Node) -> (Vec<Probe>, Vec<Endpoint>) {
    let mut probes = Vec::new();
    let mut endpoints = Vec::new();
    for (index, item) in
        acceptance.field("http_endpoints").and_then(Node::as_seq).unwrap_or_default().iter().enumerate()
    {
        if item.as_map().is_none() {
            let fallback = format!("acceptance.http_endpoints[{index}]");
            cx.unverifiable(item.span, &fallback, "not an endpoint object (`{path, method, status}`)");
            continue;
        }
        let (probe, endpoint) = lower_endpoint(cx, item);
        probes.push(probe);
        endpoints.push(endpoint);
    }
    (probes, endpoints)
}

fn lower_endpoint(cx: &mut Lowering, item: &Node) -> (Probe, Endpoint) {
    let mut skip: Option<String> = None;
    let mut note = |reason: String| {
        skip.get_or_insert(reason);
    };
    let path = match item.field("path").map(|p| (p, p.as_str())) {
        Some((_, Some(path))) if path.starts_with('/') => path.to_owned(),
        Some((node, _)) => {
            note(format!("path `{}` does not start with `/`", request::text_of(node)));
            request::text_of(node)
        }
        None => {
            note("no `path`".to_owned());
            String::new()
        }
    };
    let method = request::method(item).unwrap_or_else(|reason| {
        note(reason);
        "GET".to_owned()
    });
    let service = item.field("service").and_then(Node::as_str);
    let located = cx.targets.locate(service, &path);
    if let Some(reason) = located.skip {
        note(reason);
    }
    let expect = request::status(item, STATUS_KEYS, 200).unwrap_or_else(|reason| {
        note(reason);
        ExpectStatus::Codes { codes: vec![200] }
    });
    let mut headers = request::headers(item);
    match request::auth(item, &cx.options.environment) {
        Ok(Some(header)) => headers.push(header),
        Ok(None) => {}
        Err(reason) => note(reason),
    }
    let body = request::body(item, &mut |file| cx.bundle_file(file).map(|(_, text)| text)).unwrap_or_else(|reason| {
        note(reason);
        None
    });
    if let Some(reason) = request::needs_body(&method, body.is_some()) {
        note(reason);
    }
    if let Some(reason) = request::unbound_param(&path, &[]) {
        note(reason);
    }
    let json_schema = match item.field("response_schema").and_then(Node::as_str) {
        Some(file) => match cx.bundle_file(file) {
            Some((name, _)) => Some(name),
            None => {
                note(format!("response schema `{file}` cannot be read"));
                None
            }
        },
        None => None,
    };
    let contains = request::strings(item.field("response_contains"));
    let body = body.map(|(text, json)| {
        let has_type = headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if json && !has_type {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        text
    });
    let label = match service {
        Some(service) => format!("{method}.{service}:{path}"),
        None => format!("{method}.{path}"),
    };
    let request = HttpRequest {
        target: located.target.clone(),
        method: method.clone(),
        url: located.url.clone(),
        expect,
        contains,
        headers: headers.clone(),
        body,
        json_schema,
        max_latency_ms: request::duration_ms(item, LATENCY_KEYS),
        timeout_ms: request::duration_ms(item, TIMEOUT_KEYS).unwrap_or(DEFAULT_TIMEOUT_MS),
    };
    let at = item.field("path").map_or(item.span, |p| p.span);
    cx.warn_ambiguous(at, "this endpoint", skip.as_deref());
    let probe = cx.probe(format!("endpoint.{label}"), item.span, Check::Http(request), skip.clone());
    let endpoint = Endpoint { method, label, target: located.target, url: located.url, headers, skip };
    (probe, endpoint)
}
