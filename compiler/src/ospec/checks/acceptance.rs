//! Acceptance blocks that assert nothing, and endpoint criteria that can never pass.

use super::acceptance_blocks;
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::{Node, Value};

pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    if let Some(entry) = root.get("acceptance") {
        // An empty mapping is the schema's `minProperties` finding; this is about hollow content.
        let hollow =
            entry.value.as_map().is_some_and(|c| !c.is_empty() && !c.iter().any(|c| asserts_something(&c.value)));
        if hollow {
            out.push(
                Diagnostic::warning("OSP213", entry.key.span, "`acceptance` has no non-empty criterion, so it verifies nothing")
                    .with_help("add at least one endpoint, flow, test or threshold; `performance: {}` and empty lists assert nothing"),
            );
        }
    }
    for acceptance in acceptance_blocks(root) {
        for endpoint in acceptance.field("http_endpoints").and_then(Node::as_seq).unwrap_or_default() {
            check_unsatisfiable_body(endpoint, out);
        }
    }
}

fn asserts_something(node: &Node) -> bool {
    match &node.value {
        Value::Null => false,
        Value::Seq(items) => !items.is_empty(),
        Value::Map(entries) => entries.iter().any(|e| asserts_something(&e.value)),
        _ => true,
    }
}

/// `response_contains` can never pass on a response that has no body (204, 304, HEAD).
fn check_unsatisfiable_body(endpoint: &Node, out: &mut Vec<Diagnostic>) {
    let Some(contains) = endpoint.get("response_contains") else { return };
    if contains.value.as_seq().is_some_and(|s| s.is_empty()) {
        return;
    }
    let method = endpoint.field("method").and_then(Node::as_str);
    let status = endpoint.field("status").and_then(|s| match s.value {
        Value::Int(i) => Some(i),
        _ => None,
    });
    let reason = match (method, status) {
        (Some("HEAD"), _) => "a HEAD response has no body",
        (_, Some(204)) => "a 204 No Content response has no body",
        (_, Some(304)) => "a 304 Not Modified response has no body",
        _ => return,
    };
    out.push(
        Diagnostic::warning("OSP214", contains.key.span, format!("`response_contains` can never pass: {reason}"))
            .with_help("remove `response_contains`, or expect a status/method that returns a body"),
    );
}
