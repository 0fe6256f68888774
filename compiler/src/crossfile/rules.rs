//! The cross-file rules: every service the spec names exists in the topology (XSP003), the
//! spec's port mappings agree with the topology's interfaces and `ports=` (XSP004), and the
//! dependency edges agree both ways (XSP005: in the spec only, XSP006: in the topology only).

use super::model::{Service, Topology};
use crate::diagnostics::{Diagnostic, Label};
use crate::ospec::checks::acceptance_blocks;
use crate::ospec::steps;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::yaml::{Entry, Node, Value};

/// Protocol suffixes a port mapping may carry (`"8080:80/tcp"`).
const PORT_PROTOCOLS: &[&str] = &["tcp", "udp", "sctp"];

pub fn run(spec: &Node, text: &str, topology: &Topology, out: &mut Vec<Diagnostic>) {
    for reference in references(spec, text) {
        if !topology.services.contains_key(reference.name) {
            out.push(unknown_service(&reference, topology));
        }
    }
    let services = spec.field("services").and_then(Node::as_map).unwrap_or_default();
    for entry in services {
        let Some(name) = entry.key.as_str() else { continue };
        let Some(declared) = topology.services.get(name) else { continue };
        check_ports(name, &entry.value, declared, out);
        check_spec_dependencies(name, &entry.value, declared, topology, out);
        check_topology_dependencies(name, entry, declared, out);
    }
}

/// A place where the spec names a service.
struct Reference<'a> {
    name: &'a str,
    span: Span,
    role: &'static str,
    /// Whether `span` covers a whole scalar (a fix then writes a quoted name) or a part of a
    /// step string (the fix writes the bare name).
    whole: bool,
}

/// Every service name in `services`, `service_health`, `integration_tests` (flow, step
/// object and `service:` step prefix), in the order written. When the spec declares
/// `services`, only their keys are compared: the other references resolve against those keys
/// (OSP205 reports the ones that do not), so checking them again would say the same twice.
fn references<'a>(spec: &'a Node, text: &str) -> Vec<Reference<'a>> {
    let services = spec.field("services").and_then(Node::as_map).unwrap_or_default();
    if !services.is_empty() {
        return services.iter().filter_map(|e| named(&e.key, "this service")).collect();
    }
    let mut found = Vec::new();
    for acceptance in acceptance_blocks(spec) {
        for check in sequence(acceptance, "service_health") {
            found.extend(check.field("service").and_then(|s| named(s, "this health check")));
        }
        for flow in sequence(acceptance, "integration_tests") {
            found.extend(flow.field("service").and_then(|s| named(s, "this flow")));
            for step in sequence(flow, "steps") {
                match &step.value {
                    Value::String(written) => found.extend(step_prefix(step, written, text)),
                    Value::Map(_) => found.extend(step.field("service").and_then(|s| named(s, "this step"))),
                    _ => {}
                }
            }
        }
    }
    found
}

fn sequence<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    node.field(key).and_then(Node::as_seq).unwrap_or_default()
}

fn named<'a>(node: &'a Node, role: &'static str) -> Option<Reference<'a>> {
    node.as_str().map(|name| Reference { name, span: node.span, role, whole: true })
}

/// The `service:` prefix of a step string (`GET auth:/health → 200`).
fn step_prefix<'a>(node: &Node, written: &'a str, text: &str) -> Option<Reference<'a>> {
    let step = steps::parse(written).ok()?;
    let (name, (start, end)) = (step.service?, step.service_range?);
    // The prefix can be located only when the source holds the string verbatim.
    let source = text.get(node.span.start..node.span.end).unwrap_or_default();
    let (span, whole) = match source.find(written) {
        Some(at) => (Span::new(node.span.start + at + start, node.span.start + at + end), false),
        None => (node.span, true),
    };
    Some(Reference { name, span, role: "this step", whole })
}

/// XSP003, with the closest topology service as a fix.
fn unknown_service(reference: &Reference, topology: &Topology) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "XSP003",
        reference.span,
        format!("{} names service `{}`, which the topology does not declare", reference.role, reference.name),
    );
    match did_you_mean(reference.name, topology.names()) {
        Some(close) => {
            let replacement = if reference.whole { format!("\"{close}\"") } else { close.to_owned() };
            diagnostic.with_help(format!("did you mean `{close}`?")).with_replacement(
                format!("replace with `{close}`"),
                reference.span,
                replacement,
            )
        }
        None if topology.services.is_empty() => {
            diagnostic.with_help("the topology declares no services; declare it there with `service(...)`")
        }
        None => diagnostic.with_help(format!(
            "the topology declares: {}; declare it there with `service(...)` or name one of those",
            topology.names().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A label at the topology's `service(...)` call.
fn at_declaration(diagnostic: Diagnostic, name: &str, service: &Service, what: &str) -> Diagnostic {
    let mut diagnostic = diagnostic;
    diagnostic.labels.push(Label {
        span: service.span,
        message: format!("`{name}` {what}"),
        file: Some(service.file.clone()),
    });
    diagnostic
}

/// `(host, container)` of a ports item: `3001` (both), `"3001:3000"`, `"3001:3000/tcp"`,
/// `"127.0.0.1:3001:3000"`. `None` for what OSP204 or the schema reports.
fn port_pair(item: &Node) -> Option<(i64, i64)> {
    let number = |text: &str| text.parse::<i64>().ok().filter(|n| (1..=65535).contains(n));
    match &item.value {
        Value::Int(n) => number(&n.to_string()).map(|n| (n, n)),
        Value::String(s) => {
            let mapping = match s.split_once('/') {
                Some((mapping, protocol)) if PORT_PROTOCOLS.contains(&protocol) => mapping,
                _ => s,
            };
            match mapping.split(':').collect::<Vec<_>>().as_slice() {
                [single] => number(single).map(|n| (n, n)),
                [host, container] | [_, host, container] => Some((number(host)?, number(container)?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// XSP004: each mapping `H:C` of the spec must be one the topology makes. With `ports=` the
/// topology publishes exactly its mappings; without, only the container side is known (the
/// interfaces' ports), so only `C` is compared.
fn check_ports(name: &str, service: &Node, declared: &Service, out: &mut Vec<Diagnostic>) {
    let Some(items) = service.field("ports").and_then(Node::as_seq) else { return };
    for item in items {
        let Some((host, container)) = port_pair(item) else { continue };
        if let Some(problem) = port_problem(host, container, declared) {
            let diagnostic = Diagnostic::error(
                "XSP004",
                item.span,
                format!("port of `{name}` disagrees with the topology: {problem}"),
            )
            .with_help(
                "make the spec's `HOST:CONTAINER` and the topology's interface port and `ports=` name the same ports",
            );
            out.push(at_declaration(diagnostic, name, declared, "is declared here"));
        }
    }
}

fn port_problem(host: i64, container: i64, declared: &Service) -> Option<String> {
    if let Some(published) = &declared.published {
        return match published.iter().find(|(h, _)| *h == host) {
            Some(&(_, c)) if c == container => None,
            Some(&(_, c)) => Some(format!("host port {host} maps to container port {c} there, not {container}")),
            None => Some(format!("host port {host} is not in its `ports=` ({})", pairs(published))),
        };
    }
    let ports = declared.interface_ports.as_ref()?;
    if ports.contains(&container) {
        return None;
    }
    Some(match ports.as_slice() {
        [] => format!("container port {container}, but it declares no interface"),
        _ => format!("container port {container} is not the port of any of its interfaces ({})", list(ports)),
    })
}

fn pairs(published: &[(i64, i64)]) -> String {
    published.iter().map(|(h, c)| format!("{h}: {c}")).collect::<Vec<_>>().join(", ")
}

fn list(ports: &[i64]) -> String {
    ports.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// XSP005: an edge `name → dependency` of the spec that the topology's `depends_on` lacks.
/// Dependencies the topology does not declare at all are XSP003's finding (at their key).
fn check_spec_dependencies(
    name: &str,
    service: &Node,
    declared: &Service,
    topology: &Topology,
    out: &mut Vec<Diagnostic>,
) {
    let Some(topology_edges) = &declared.depends_on else { return };
    for dependency in service.field("dependencies").and_then(Node::as_seq).unwrap_or_default() {
        let Some(target) = dependency.as_str() else { continue };
        if topology_edges.iter().any(|t| t == target) || !topology.services.contains_key(target) {
            continue;
        }
        let diagnostic = Diagnostic::error(
            "XSP005",
            dependency.span,
            format!("`{name}` depends on `{target}` here, but not in the topology's `depends_on`"),
        )
        .with_help(format!(
            "add `{target}` to `depends_on` of `{name}` in the topology, or remove it here; the two start orders must agree"
        ));
        out.push(at_declaration(diagnostic, name, declared, "is declared here without that dependency"));
    }
}

/// XSP006: an edge of the topology's `depends_on` that the spec's `dependencies` lacks;
/// located at the spec's `dependencies` (or the service's key when it has none).
fn check_topology_dependencies(name: &str, entry: &Entry, declared: &Service, out: &mut Vec<Diagnostic>) {
    let Some(topology_edges) = &declared.depends_on else { return };
    let listed = entry.value.field("dependencies");
    let spec_edges: Vec<&str> =
        listed.and_then(Node::as_seq).unwrap_or_default().iter().filter_map(Node::as_str).collect();
    let span = entry.value.get("dependencies").map_or(entry.key.span, |e| e.key.span);
    for target in topology_edges.iter().filter(|t| !spec_edges.contains(&t.as_str())) {
        let diagnostic = Diagnostic::error(
            "XSP006",
            span,
            format!("the topology makes `{name}` depend on `{target}`, but this spec does not list it"),
        )
        .with_help(format!(
            "add `{target}` to `services.{name}.dependencies`, or remove it from `depends_on` in the topology"
        ));
        out.push(at_declaration(diagnostic, name, declared, &format!("depends on `{target}` here")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(value: Value) -> Node {
        Node { span: Span::at(0), value, style: crate::syntax::yaml::Style::Plain, tag: None }
    }

    #[test]
    fn port_items_parse_like_the_ospec_checks() {
        assert_eq!(port_pair(&scalar(Value::Int(8080))), Some((8080, 8080)));
        assert_eq!(port_pair(&scalar(Value::String("3001:3000".into()))), Some((3001, 3000)));
        assert_eq!(port_pair(&scalar(Value::String("3001:3000/udp".into()))), Some((3001, 3000)));
        assert_eq!(port_pair(&scalar(Value::String("127.0.0.1:3001:3000".into()))), Some((3001, 3000)));
        assert_eq!(port_pair(&scalar(Value::String("x:3000".into()))), None);
        assert_eq!(port_pair(&scalar(Value::Int(70000))), None);
    }
}
