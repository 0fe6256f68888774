//! What the spec states that no probe of the plan checks (ospec-format.md §5.4–§5.5): every
//! `acceptance` section the other lowerings do not turn into probes (checklists, descriptive
//! sections, test files, build outputs, WebSockets), the root `acceptance_tests` checklist,
//! and `monitoring.metrics` thresholds. Each becomes an `Unverifiable` item with the reason,
//! so the plan shows what a run will not verify instead of silently dropping it.

use super::context::Lowering;
use crate::syntax::yaml::Node;

/// Acceptance sections lowered into probes elsewhere.
const PROBED: &[&str] = &[
    "http_endpoints",
    "service_health",
    "integration_tests",
    "ux_flows",
    "user_flows",
    "commands",
    "performance",
    "inference_performance",
];

/// Why a section is not probed, by key; [`DESCRIPTIVE`] for the rest.
const REASONS: &[(&str, &str)] = &[
    ("tests", "test files run under the project's own test runner, which the plan does not include"),
    ("real_time", "WebSocket handshakes are not probed"),
    ("build_outputs", "needs the built artifacts (file checks are not part of the plan)"),
    ("type_definitions", "needs the built artifacts (file checks are not part of the plan)"),
    ("documentation", "documentation is checked by people (file checks are not part of the plan)"),
    ("package_json", "file checks are not part of the plan"),
    ("input_validation", "needs a request body per rule, which the spec does not give"),
];
const DESCRIPTIVE: &str = "descriptive: checked by people, not by a probe";

pub(crate) fn lower(cx: &mut Lowering, acceptance: &Node) {
    for entry in acceptance.as_map().unwrap_or_default() {
        let key = entry.key_text();
        if key.starts_with("x-") || PROBED.contains(&key.as_str()) {
            continue;
        }
        let reason = REASONS.iter().find(|(k, _)| *k == key).map_or(DESCRIPTIVE, |(_, r)| r);
        cx.unverifiable(entry.value.span, &format!("acceptance.{key}"), reason);
    }
    let root = cx.root;
    if let Some(checklist) = root.field("acceptance_tests") {
        cx.unverifiable(checklist.span, "acceptance_tests", "a manual checklist");
    }
    let metrics = root.field("monitoring").and_then(|m| m.field("metrics")).and_then(Node::as_seq).unwrap_or_default();
    for (index, metric) in metrics.iter().enumerate() {
        if metric.field("threshold").is_some() {
            let fallback = format!("monitoring.metrics[{index}]");
            cx.unverifiable(metric.span, &fallback, "needs a metrics source (monitored in operation, not probed)");
        }
    }
}
