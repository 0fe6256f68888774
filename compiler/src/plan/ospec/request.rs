//! Reading the parts of an HTTP request an OSpec writes down (status expectations, durations,
//! headers, bodies, credentials, path parameters), shared by endpoint probes, flows and health
//! waits. Shapes the schema rejects become a skip reason here, never a panic.

use std::collections::BTreeMap;

use ospecc_schema::plan::acceptance::ExpectStatus;

use crate::ospec::steps::{self, METHODS};
use crate::syntax::yaml::{Node, Value};

/// Client timeout of one request when the spec gives none (ospec-format.md §5.2).
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The variable holding a bearer token when an endpoint says `auth_required: true`.
pub(crate) const AUTH_VARIABLE: &str = "OSPECC_AUTH_TOKEN";

/// Methods that send a body: without one the request cannot be made meaningfully.
const BODY_METHODS: &[&str] = &["POST", "PUT", "PATCH"];

/// Duration keys as (key, factor to milliseconds), by meaning; the first one set wins.
pub(crate) const TIMEOUT_KEYS: &[(&str, u64)] = &[("timeout_ms", 1), ("timeout_seconds", 1000)];
pub(crate) const INTERVAL_KEYS: &[(&str, u64)] = &[("interval_ms", 1), ("interval_seconds", 1000)];
pub(crate) const INITIAL_DELAY_KEYS: &[(&str, u64)] = &[("initial_delay_ms", 1), ("initial_delay_seconds", 1000)];

/// Authorization header formats by `auth_required.scheme`.
const AUTH_SCHEMES: &[(&str, &str, &str)] =
    &[("bearer", "Authorization", "Bearer "), ("basic", "Authorization", "Basic "), ("cookie", "Cookie", "")];

/// The method of an object (`GET` when absent).
pub(crate) fn method(object: &Node) -> Result<String, String> {
    match object.field("method") {
        None => Ok("GET".to_owned()),
        Some(node) => match node.as_str() {
            Some(m) if METHODS.contains(&m) => Ok(m.to_owned()),
            Some(m) if METHODS.iter().any(|known| known.eq_ignore_ascii_case(m)) => Ok(m.to_ascii_uppercase()),
            _ => Err(format!("`{}` is not an HTTP method", text_of(node))),
        },
    }
}

/// The expected status under the first of `keys` that is set, `default` when none is.
pub(crate) fn status(object: &Node, keys: &[&str], default: u16) -> Result<ExpectStatus, String> {
    match keys.iter().find_map(|k| object.field(k)) {
        None => Ok(ExpectStatus::Codes { codes: vec![default] }),
        Some(node) => expect(node),
    }
}

/// A status expectation: `200`, `[200, 204]`, `"2xx"` or `"200|204"`.
pub(crate) fn expect(node: &Node) -> Result<ExpectStatus, String> {
    let bad = || format!("`{}` is not an HTTP status (100–599, a list of them, or a class like `2xx`)", text_of(node));
    match &node.value {
        Value::Int(code) => code_of(*code).map(|c| ExpectStatus::Codes { codes: vec![c] }).ok_or_else(bad),
        Value::Seq(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item.value {
                Value::Int(code) => code_of(code).ok_or_else(bad),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|codes| ExpectStatus::Codes { codes }),
        Value::String(text) => parse_status_text(text).ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn code_of(code: i64) -> Option<u16> {
    u16::try_from(code).ok().filter(|c| (100..=599).contains(c))
}

/// `2xx`, `200`, `200|204`, with the step grammar's rules (one grammar for both).
fn parse_status_text(text: &str) -> Option<ExpectStatus> {
    let step = format!("GET / → {}", text.trim());
    steps::parse(&step).ok().map(|parsed| from_step(&parsed.expect))
}

/// The IR form of a step's expectation.
pub(crate) fn from_step(expect: &steps::Expect) -> ExpectStatus {
    match expect {
        steps::Expect::Codes(codes) => ExpectStatus::Codes { codes: codes.clone() },
        steps::Expect::Class(class) => ExpectStatus::Class { class: *class },
    }
}

/// A duration in milliseconds under the first of `keys` that holds a non-negative number.
pub(crate) fn duration_ms(object: &Node, keys: &[(&str, u64)]) -> Option<u64> {
    keys.iter().find_map(|&(key, factor)| number(object.field(key)?).map(|n| (n * factor as f64).round() as u64))
}

/// A non-negative finite number.
pub(crate) fn number(node: &Node) -> Option<f64> {
    let n = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// A count (`retries: 3`).
pub(crate) fn count(node: &Node) -> Option<u32> {
    match node.value {
        Value::Int(i) => u32::try_from(i).ok(),
        _ => None,
    }
}

/// Strings of a string or a list of strings (other items are left out: the schema reports them).
pub(crate) fn strings(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
        _ => Vec::new(),
    }
}

/// `headers:` as (name, value) pairs in the order written; values stay as written, so
/// `${VAR}` references reach the runtime unexpanded.
pub(crate) fn headers(object: &Node) -> Vec<(String, String)> {
    let entries = object.field("headers").and_then(Node::as_map).unwrap_or_default();
    entries.iter().filter_map(|e| Some((e.key_text(), e.value.scalar_text()?))).collect()
}

/// The body to send: `body` (a mapping or list is sent as JSON) or the text of `body_file`
/// (read through `read`). `Err` when the body file cannot be read.
pub(crate) fn body(
    object: &Node,
    read: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Option<(String, bool)>, String> {
    if let Some(node) = object.field("body") {
        return Ok(Some(match &node.value {
            Value::Map(_) | Value::Seq(_) => (node.to_json().to_string(), true),
            Value::Null => return Ok(None),
            _ => (node.scalar_text().unwrap_or_default(), false),
        }));
    }
    match object.field("body_file").and_then(Node::as_str) {
        Some(file) => {
            read(file).map(|text| Some((text, false))).ok_or_else(|| format!("body file `{file}` cannot be read"))
        }
        None => Ok(None),
    }
}

/// Why a request of `method` with no body cannot run, if it cannot.
pub(crate) fn needs_body(method: &str, has_body: bool) -> Option<String> {
    (BODY_METHODS.contains(&method) && !has_body).then(|| format!("needs body ({method} with no `body`)"))
}

/// The first `{param}` of `path` not in `bound`.
pub(crate) fn unbound_param(path: &str, bound: &[String]) -> Option<String> {
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = after[..close].trim_matches(|c| c == '{' || c == '}');
        if !bound.iter().any(|b| b == name) {
            return Some(format!("unbound path parameter `{{{name}}}`"));
        }
        rest = &after[close + 1..];
    }
    None
}

/// The credential header `auth_required` asks for, as a `${VAR}` reference (never the value),
/// or why the probe is skipped. `Ok(None)` when no credential is required.
pub(crate) fn auth(object: &Node, environment: &BTreeMap<String, String>) -> Result<Option<(String, String)>, String> {
    let Some(node) = object.field("auth_required") else { return Ok(None) };
    let (scheme, variable) = match &node.value {
        Value::Bool(false) | Value::Null => return Ok(None),
        Value::Bool(true) => ("bearer", AUTH_VARIABLE),
        Value::Map(_) => (
            node.field("scheme").and_then(Node::as_str).unwrap_or("bearer"),
            node.field("secret").and_then(Node::as_str).unwrap_or(AUTH_VARIABLE),
        ),
        _ => return Err(format!("needs auth (`auth_required: {}` is not understood)", text_of(node))),
    };
    let Some(&(_, header, prefix)) = AUTH_SCHEMES.iter().find(|(name, _, _)| *name == scheme) else {
        return Err(format!("needs auth (scheme `{scheme}` is not bearer, basic or cookie)"));
    };
    if !environment.contains_key(variable) {
        return Err(format!("needs auth (set {variable} to send credentials)"));
    }
    Ok(Some((header.to_owned(), format!("{prefix}${{{variable}}}"))))
}

/// A short rendering of a scalar (or the type of a collection) for messages.
pub(crate) fn text_of(node: &Node) -> String {
    node.scalar_text().unwrap_or_else(|| node.json_type().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml;

    fn node(text: &str) -> Node {
        yaml::parse(text).documents.into_iter().next().and_then(|d| d.root).unwrap()
    }

    #[test]
    fn statuses() {
        assert_eq!(expect(&node("200")), Ok(ExpectStatus::Codes { codes: vec![200] }));
        assert_eq!(expect(&node("[200, 204]")), Ok(ExpectStatus::Codes { codes: vec![200, 204] }));
        assert_eq!(expect(&node("2xx")), Ok(ExpectStatus::Class { class: 2 }));
        assert_eq!(expect(&node("200|404")), Ok(ExpectStatus::Codes { codes: vec![200, 404] }));
        assert!(expect(&node("ok")).unwrap_err().contains("`ok`"));
        assert!(expect(&node("999")).is_err());
        assert!(expect(&node("[]")).is_err());
        assert!(expect(&node("{a: 1}")).is_err());
        assert_eq!(status(&node("x: 1"), &["status"], 200), Ok(ExpectStatus::Codes { codes: vec![200] }));
    }

    #[test]
    fn durations_and_methods() {
        let object = node("timeout_seconds: 5\ninterval_ms: 250\nmethod: post");
        assert_eq!(duration_ms(&object, TIMEOUT_KEYS), Some(5000));
        assert_eq!(duration_ms(&object, INTERVAL_KEYS), Some(250));
        assert_eq!(duration_ms(&object, INITIAL_DELAY_KEYS), None);
        assert_eq!(method(&object), Ok("POST".to_owned()));
        assert!(method(&node("method: FETCH")).is_err());
        assert_eq!(duration_ms(&node("timeout_ms: -1"), TIMEOUT_KEYS), None);
    }

    #[test]
    fn params_and_bodies() {
        assert_eq!(unbound_param("/products/{id}/reviews", &[]).as_deref(), Some("unbound path parameter `{id}`"));
        assert_eq!(unbound_param("/products/{id}", &["id".to_owned()]), None);
        assert_eq!(unbound_param("/x/{{slug}}", &[]).as_deref(), Some("unbound path parameter `{slug}`"));
        assert_eq!(unbound_param("/plain", &[]), None);
        assert!(needs_body("POST", false).is_some());
        assert!(needs_body("GET", false).is_none());
        let mut no_files = |_: &str| None;
        assert_eq!(body(&node("body: {a: 1}"), &mut no_files), Ok(Some((r#"{"a":1}"#.to_owned(), true))));
        assert!(body(&node("body_file: x.json"), &mut no_files).is_err());
        assert_eq!(body(&node("x: 1"), &mut no_files), Ok(None));
    }

    #[test]
    fn credentials_stay_references() {
        let mut environment = BTreeMap::new();
        assert_eq!(auth(&node("auth_required: false"), &environment), Ok(None));
        assert!(auth(&node("auth_required: true"), &environment).unwrap_err().contains("OSPECC_AUTH_TOKEN"));
        environment.insert("OSPECC_AUTH_TOKEN".to_owned(), "s3cret".to_owned());
        let header = auth(&node("auth_required: true"), &environment).unwrap().unwrap();
        assert_eq!(header, ("Authorization".to_owned(), "Bearer ${OSPECC_AUTH_TOKEN}".to_owned()));
        let object = node("auth_required: {scheme: basic, secret: API_TOKEN}");
        assert!(auth(&object, &environment).unwrap_err().contains("API_TOKEN"));
        environment.insert("API_TOKEN".to_owned(), "x".to_owned());
        assert_eq!(auth(&object, &environment).unwrap().unwrap().1, "Basic ${API_TOKEN}");
    }
}
