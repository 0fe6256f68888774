//! `services`: port syntax and uniqueness, and every place that names a service
//! (`service_health[].service`, a flow's `service:`, a step's `service:` prefix).

use std::collections::HashMap;

use super::{acceptance_blocks, Context};
use crate::diagnostics::Diagnostic;
use crate::ospec::steps;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::yaml::{Node, Value};

pub fn check(root: &Node, ctx: &Context, out: &mut Vec<Diagnostic>) {
    let services = root.field("services").and_then(Node::as_map).unwrap_or_default();
    check_ports(services, out);
    let names: Vec<&str> = services.iter().filter_map(|e| e.key.as_str()).collect();
    let resolver = Resolver { names, topology_declared: root.field("topology").is_some(), ctx };
    for acceptance in acceptance_blocks(root) {
        check_service_health(acceptance, &resolver, out);
        check_flows(acceptance, &resolver, out);
    }
}

/// The host port of a ports item (`None` for a type the schema reports), parsed from `3001`, `"3001:3000"`, `"3001:3000/tcp"`
/// or `"127.0.0.1:3001:3000"`. Plan lowering uses it too, for the URL probes are sent to.
pub(crate) fn host_port(item: &Node) -> Result<Option<u16>, String> {
    match &item.value {
        Value::Int(n) => port_number(&n.to_string()).map(Some),
        Value::String(s) => {
            let mapping =
                s.split_once('/').map_or(
                    s.as_str(),
                    |(m, proto)| {
                        if matches!(proto, "tcp" | "udp" | "sctp") {
                            m
                        } else {
                            s
                        }
                    },
                );
            let parts: Vec<&str> = mapping.split(':').collect();
            match parts.as_slice() {
                [single] => port_number(single).map(Some),
                [host, container] | [_, host, container] => {
                    port_number(container)?;
                    port_number(host).map(Some)
                }
                _ => Err(format!("`{s}` is not a port mapping")),
            }
        }
        // Other types are the schema's finding (it knows how the value was written).
        _ => Ok(None),
    }
}

fn port_number(text: &str) -> Result<u16, String> {
    match text.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        Ok(n) => Err(format!("port {n} is outside 1–65535")),
        Err(_) => Err(format!("`{text}` is not a port number")),
    }
}

fn check_ports(services: &[crate::syntax::yaml::Entry], out: &mut Vec<Diagnostic>) {
    let mut used: HashMap<u16, (&str, Span)> = HashMap::new();
    for service in services {
        let Some(name) = service.key.as_str() else { continue };
        let Some(ports) = service.value.field("ports").and_then(Node::as_seq) else { continue };
        for item in ports {
            match host_port(item) {
                Ok(None) => {}
                Ok(Some(port)) => {
                    if let Some(&(first, first_span)) = used.get(&port) {
                        out.push(
                            Diagnostic::error(
                                "OSP203",
                                item.span,
                                format!("host port {port} is already used by service `{first}`"),
                            )
                            .with_label(first_span, format!("`{first}` publishes {port} here"))
                            .with_help(
                                "each service needs its own host port; change the HOST part of `HOST:CONTAINER`",
                            ),
                        );
                    } else {
                        used.insert(port, (name, item.span));
                    }
                }
                Err(reason) => out.push(
                    Diagnostic::error("OSP204", item.span, format!("invalid port for service `{name}`: {reason}"))
                        .with_help("write a port as `8080` or as `\"HOST:CONTAINER\"`, e.g. `\"3001:3000\"`"),
                ),
            }
        }
    }
}

/// Resolves service names for the checks below.
struct Resolver<'a> {
    names: Vec<&'a str>,
    topology_declared: bool,
    ctx: &'a Context<'a>,
}

impl Resolver<'_> {
    /// A diagnostic when `name` is not a service, unless services live in a topology file
    /// (those are checked against it by the cross-file checks).
    fn unknown(&self, name: &str, span: Span, role: &str) -> Option<Diagnostic> {
        if self.names.contains(&name) || (self.names.is_empty() && self.topology_declared) {
            return None;
        }
        let diagnostic =
            Diagnostic::error("OSP205", span, format!("{role} names service `{name}`, which is not declared"));
        Some(match did_you_mean(name, self.names.iter().copied()) {
            Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")).with_replacement(
                format!("replace with `{close}`"),
                span,
                format!("\"{close}\""),
            ),
            None if self.names.is_empty() => diagnostic
                .with_help("declare it under `services:`, or name the topology file that declares it with `topology:`"),
            None => diagnostic.with_help(format!("declared services: {}", self.names.join(", "))),
        })
    }

    /// Checks the `service:` field of an object (a health check, a flow, a step object).
    fn check_service_field(&self, object: &Node, role: &str, out: &mut Vec<Diagnostic>) {
        if let Some(service) = object.field("service") {
            if let Some(name) = service.as_str() {
                out.extend(self.unknown(name, service.span, role));
            }
        }
    }
}

fn check_service_health(acceptance: &Node, resolver: &Resolver, out: &mut Vec<Diagnostic>) {
    let Some(items) = acceptance.field("service_health").and_then(Node::as_seq) else { return };
    for item in items {
        resolver.check_service_field(item, "this health check", out);
    }
}

fn check_flows(acceptance: &Node, resolver: &Resolver, out: &mut Vec<Diagnostic>) {
    let Some(flows) = acceptance.field("integration_tests").and_then(Node::as_seq) else { return };
    for flow in flows {
        resolver.check_service_field(flow, "this flow", out);
        let Some(steps) = flow.field("steps").and_then(Node::as_seq) else { continue };
        for step in steps {
            match &step.value {
                Value::String(text) => check_step_string(text, step, resolver, out),
                Value::Map(_) => resolver.check_service_field(step, "this step", out),
                _ => {}
            }
        }
    }
}

fn check_step_string(text: &str, node: &Node, resolver: &Resolver, out: &mut Vec<Diagnostic>) {
    match steps::parse(text) {
        Ok(step) => {
            if let (Some(name), Some((start, end))) = (step.service, step.service_range) {
                let span = inner_span(node, resolver.ctx.text, text, start, end);
                out.extend(resolver.unknown(name, span, "this step"));
            }
        }
        Err(not_a_step) => out.push(
            Diagnostic::warning(
                "OSP206",
                node.span,
                format!("this step is not `METHOD /path → STATUS`: {}; it will be a manual, unverifiable item", not_a_step.reason),
            )
            .with_help("write executable steps as e.g. `POST /auth/login → 200` (optionally `service:/path`); prose steps are listed as manual checks"),
        ),
    }
}

/// The span of `text[start..end]` inside the scalar node, when the source holds the text
/// verbatim (plain or simply quoted); otherwise the whole node.
fn inner_span(node: &Node, source: &str, text: &str, start: usize, end: usize) -> Span {
    let written = source.get(node.span.start..node.span.end).unwrap_or_default();
    match written.find(text) {
        Some(at) => Span::new(node.span.start + at + start, node.span.start + at + end),
        None => node.span,
    }
}
