//! Fault coverage of a plan: every dependency edge (a consumer → a service's interface, from
//! the consumer's environment address references and its `depends_on`), the tests that fault
//! it, and the gaps. [`suggest`] writes the stubs that would close the gaps.
//!
//! A test faults an edge `C → S.I` when one of its rules (the test's own, or a fault its body
//! applies) reaches that edge:
//! - a protocol rule on `S.I` (any interface of `S` for an edge known only from `depends_on`);
//! - a syscall rule on the provider `S` (not a mock, which has no process to filter), unless it
//!   only denies or delays `connect` (the provider's own outbound calls);
//! - a syscall rule on the consumer `C` on a network syscall, whose path, if it has one,
//!   matches `S.I`'s address (`op(syscalls=["connect"], path="*:5432")`);
//! - a partition between `C` and `S`.

pub mod suggest;

use std::collections::BTreeSet;

use ospecc_schema::plan::topology::{EnvPart, Launch, ProxyAction, ScopedFault, Service, SyscallAction, Test};
use ospecc_schema::plan::Plan;

use crate::ide::DeclaredService;
use serde::Serialize;

/// Syscalls a consumer talks to its dependencies with.
const NETWORK_SYSCALLS: &[&str] = &[
    "connect", "sendto", "sendmsg", "recvfrom", "recvmsg", "read", "readv", "write", "writev", "close", "poll",
    "ppoll", "select", "pselect6",
];

/// The addresses a path glob of a consumer's `connect` is matched against.
const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "localhost", "[::1]", "0.0.0.0"];

/// The coverage of one plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    /// The file the plan was built from (its bundle path).
    pub spec: String,
    pub edges: Vec<Edge>,
    pub total: usize,
    pub covered: usize,
    /// `covered / total` as a percentage; 100 when there is no edge.
    pub percent: f64,
}

/// One dependency edge and the tests that fault it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Edge {
    pub consumer: String,
    pub service: String,
    /// `None` for an edge known only from `depends_on` to a service with several interfaces
    /// (or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Where the edge comes from: `env NAME` (one per variable), `depends_on`.
    pub via: Vec<String>,
    pub faulted_by: Vec<Faulting>,
}

impl Edge {
    /// `api → db.pg`.
    pub fn label(&self) -> String {
        match &self.interface {
            Some(interface) => format!("{} → {}.{interface}", self.consumer, self.service),
            None => format!("{} → {}", self.consumer, self.service),
        }
    }

    pub fn is_covered(&self) -> bool {
        !self.faulted_by.is_empty()
    }
}

/// One test's fault on an edge.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Faulting {
    pub test: String,
    /// `protocol`, `syscall` or `partition`.
    pub kind: &'static str,
    /// What the rule does, for people (`connect denied ECONNREFUSED in api (path *:5432)`).
    pub rule: String,
    /// The fault assumption the rule belongs to, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumption: Option<String>,
}

/// The coverage of a plan's topology (an empty edge list for a plan without one).
pub fn coverage(plan: &Plan) -> Coverage {
    let mut edges = edges(&plan.services);
    for edge in &mut edges {
        let found: Vec<Faulting> = plan.tests.iter().flat_map(|test| faultings(edge, test, &plan.services)).collect();
        edge.faulted_by = found;
        edge.faulted_by.sort();
        edge.faulted_by.dedup();
    }
    let total = edges.len();
    let covered = edges.iter().filter(|e| e.is_covered()).count();
    let percent = if total == 0 { 100.0 } else { covered as f64 * 100.0 / total as f64 };
    let spec = plan.topology.clone().unwrap_or_else(|| plan.root.clone());
    Coverage { spec, edges, total, covered, percent }
}

/// Every edge, in service order (the plan's start order), then by provider and interface.
fn edges(services: &[Service]) -> Vec<Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    for consumer in services {
        let mut own: Vec<Edge> = Vec::new();
        for variable in &consumer.env {
            for part in &variable.parts {
                let EnvPart::Address { service, interface, .. } = part else { continue };
                if *service == consumer.name {
                    continue;
                }
                let via = format!("env {}", variable.name);
                match own.iter_mut().find(|e| e.service == *service && e.interface.as_deref() == Some(interface)) {
                    Some(edge) => {
                        if !edge.via.contains(&via) {
                            edge.via.push(via);
                        }
                    }
                    None => own.push(Edge {
                        consumer: consumer.name.clone(),
                        service: service.clone(),
                        interface: Some(interface.clone()),
                        protocol: protocol_of(services, service, interface),
                        via: vec![via],
                        faulted_by: Vec::new(),
                    }),
                }
            }
        }
        for dependency in consumer.depends_on.iter().filter(|d| **d != consumer.name) {
            let mut found = false;
            for edge in own.iter_mut().filter(|e| e.service == *dependency) {
                edge.via.push("depends_on".to_owned());
                found = true;
            }
            if !found {
                own.push(depends_only(services, consumer, dependency));
            }
        }
        own.sort_by(|a, b| (&a.service, &a.interface).cmp(&(&b.service, &b.interface)));
        edges.extend(own);
    }
    edges
}

/// An edge known only from `depends_on`: to the service's one interface, if it has one.
fn depends_only(services: &[Service], consumer: &Service, dependency: &str) -> Edge {
    let provider = services.iter().find(|s| s.name == dependency);
    let only = provider.and_then(|p| match p.interfaces.as_slice() {
        [one] => Some(one),
        _ => None,
    });
    Edge {
        consumer: consumer.name.clone(),
        service: dependency.to_owned(),
        interface: only.map(|i| i.name.clone()),
        protocol: only.map(|i| i.protocol.clone()),
        via: vec!["depends_on".to_owned()],
        faulted_by: Vec::new(),
    }
}

fn protocol_of(services: &[Service], service: &str, interface: &str) -> Option<String> {
    let provider = services.iter().find(|s| s.name == service)?;
    provider.interfaces.iter().find(|i| i.name == interface).map(|i| i.protocol.clone())
}

fn port_of(services: &[Service], service: &str, interface: Option<&str>) -> Vec<u16> {
    let Some(provider) = services.iter().find(|s| s.name == service) else { return Vec::new() };
    provider.interfaces.iter().filter(|i| interface.is_none_or(|n| n == i.name)).filter_map(|i| i.port).collect()
}

/// Every way `test` faults `edge`.
fn faultings(edge: &Edge, test: &Test, services: &[Service]) -> Vec<Faulting> {
    let mut found = Vec::new();
    let found = &mut found;
    let add = |found: &mut Vec<Faulting>, kind, rule: String, assumption: Option<&str>| {
        found.push(Faulting { test: test.name.clone(), kind, rule, assumption: assumption.map(str::to_owned) })
    };
    for rule in &test.proxy_rules {
        let interface_matches = edge.interface.as_deref().is_none_or(|i| i == rule.interface);
        if rule.service == edge.service && interface_matches {
            let what = format!("{} on {}.{}", proxy_action(&rule.action), rule.service, rule.interface);
            add(found, "protocol", what, Some(&rule.assumption));
        }
    }
    let provider_is_mock =
        services.iter().find(|s| s.name == edge.service).is_some_and(|s| matches!(s.launch, Launch::Mock { .. }));
    let ports = port_of(services, &edge.service, edge.interface.as_deref());
    for rule in &test.syscall_rules {
        let on_provider = rule.service == edge.service && !provider_is_mock && !outbound_only(&rule.syscalls);
        let on_consumer = rule.service == edge.consumer
            && touches_network(&rule.syscalls)
            && rule.path.as_deref().is_none_or(|glob| matches_address(glob, &ports));
        if on_provider || on_consumer {
            let mut what = format!("{} {} in {}", rule.key, syscall_action(&rule.action), rule.service);
            if let Some(path) = &rule.path {
                what.push_str(&format!(" (path {path})"));
            }
            add(found, "syscall", what, Some(&rule.assumption));
        }
    }
    for scoped in &test.scoped_faults {
        if let Some((kind, what)) = scoped_reach(scoped, edge, provider_is_mock) {
            add(found, kind, what, scoped.assumption.as_deref());
        }
    }
    std::mem::take(found)
}

/// How a fault a test body applies reaches the edge, if it does.
fn scoped_reach(scoped: &ScopedFault, edge: &Edge, provider_is_mock: bool) -> Option<(&'static str, String)> {
    let names = |s: &str| scoped.services.iter().any(|n| n == s);
    if scoped.builtin.starts_with("trace") {
        return None;
    }
    if scoped.builtin.starts_with("partition") {
        let between = names(&edge.consumer) && names(&edge.service);
        return between
            .then(|| ("partition", format!("{} between {} and {}", scoped.builtin, edge.consumer, edge.service)));
    }
    if let Some(interface) = &scoped.interface {
        let (service, iface) = interface.split_once('.')?;
        let reaches = service == edge.service && edge.interface.as_deref().is_none_or(|i| i == iface);
        return reaches.then(|| ("protocol", format!("{}({interface}, ...) in {}", scoped.builtin, scoped.function)));
    }
    if scoped.syscalls.is_empty() {
        return None;
    }
    let on_provider = names(&edge.service) && !provider_is_mock && !outbound_only(&scoped.syscalls);
    let on_consumer = names(&edge.consumer) && touches_network(&scoped.syscalls);
    (on_provider || on_consumer).then(|| {
        let target = if on_provider { &edge.service } else { &edge.consumer };
        ("syscall", format!("{} {} in {target} (from {})", scoped.builtin, scoped.syscalls.join(", "), scoped.function))
    })
}

fn outbound_only(syscalls: &[String]) -> bool {
    !syscalls.is_empty() && syscalls.iter().all(|s| s == "connect")
}

fn touches_network(syscalls: &[String]) -> bool {
    syscalls.iter().any(|s| NETWORK_SYSCALLS.contains(&s.as_str()))
}

/// Whether a `connect` path glob matches one of the ports on a loopback address.
fn matches_address(glob: &str, ports: &[u16]) -> bool {
    ports.iter().any(|port| LOOPBACK_HOSTS.iter().any(|host| glob_match(glob, &format!("{host}:{port}"))))
}

/// `*` matches any run of characters, `?` one character.
fn glob_match(glob: &str, text: &str) -> bool {
    let (glob, text): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some('*') => {
                star = Some((g, t));
                g += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                g += 1;
                t += 1;
            }
            _ => match star {
                Some((sg, st)) => {
                    g = sg + 1;
                    t = st + 1;
                    star = Some((sg, st + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|c| *c == '*')
}

fn syscall_action(action: &SyscallAction) -> String {
    match action {
        SyscallAction::Deny { errno } => format!("denied {errno}"),
        SyscallAction::Delay { ms } => format!("delayed {ms} ms"),
        SyscallAction::Allow => "allowed (traced)".to_owned(),
    }
}

fn proxy_action(action: &ProxyAction) -> String {
    match action {
        ProxyAction::Respond { status, .. } => match status {
            Some(status) => format!("respond {status}"),
            None => "respond".to_owned(),
        },
        ProxyAction::Error { status: Some(status), .. } => format!("error {status}"),
        ProxyAction::Error { message: Some(message), .. } => format!("error {message:?}"),
        ProxyAction::Error { .. } => "error".to_owned(),
        ProxyAction::Delay { ms } => format!("delay {ms} ms"),
        ProxyAction::Drop => "drop".to_owned(),
        ProxyAction::Duplicate => "duplicate".to_owned(),
    }
}

/// The coverage for people: each edge with the tests that fault it, then the gaps.
pub fn render_text(coverage: &Coverage) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Fault coverage of {}: {} of {} dependency edge{} faulted ({})",
        coverage.spec,
        coverage.covered,
        coverage.total,
        if coverage.total == 1 { "" } else { "s" },
        percent_text(coverage.percent)
    );
    for edge in &coverage.edges {
        let mark = if edge.is_covered() { "ok " } else { "gap" };
        let protocol = edge.protocol.as_deref().map(|p| format!("{p}; ")).unwrap_or_default();
        let _ = writeln!(out, "\n  {mark} {} ({protocol}{})", edge.label(), edge.via.join(", "));
        if !edge.is_covered() {
            let _ = writeln!(out, "        no test faults it");
        }
        let width = edge.faulted_by.iter().map(|f| f.test.chars().count()).max().unwrap_or(0);
        for faulting in &edge.faulted_by {
            let _ = writeln!(out, "        {:width$}  {}: {}", faulting.test, faulting.kind, faulting.rule);
        }
    }
    let gaps: Vec<String> = coverage.edges.iter().filter(|e| !e.is_covered()).map(Edge::label).collect();
    out.push('\n');
    if gaps.is_empty() {
        out.push_str("Every dependency edge is faulted by at least one test.\n");
    } else {
        let _ = writeln!(
            out,
            "{} gap{}: {}. `ospecc plan --coverage --suggest {}` prints the fault assumptions and matrix lines that cover {}.",
            gaps.len(),
            if gaps.len() == 1 { "" } else { "s" },
            gaps.join(", "),
            coverage.spec,
            if gaps.len() == 1 { "it" } else { "them" }
        );
    }
    out
}

/// `75%`, `66.7%`.
pub fn percent_text(percent: f64) -> String {
    if percent.fract() == 0.0 {
        format!("{percent:.0}%")
    } else {
        format!("{percent:.1}%")
    }
}

/// The interfaces of uncovered edges, once each (`service.interface`, or the service alone).
pub fn gap_targets(coverage: &Coverage) -> BTreeSet<(String, Option<String>)> {
    coverage.edges.iter().filter(|e| !e.is_covered()).map(|e| (e.service.clone(), e.interface.clone())).collect()
}

/// A gap shown in an editor: on the declaration of the service no test faults, the edges
/// into it that no test faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub service: String,
    /// The service's name in its `service("name", ...)` call, in the file's text.
    pub span: crate::span::Span,
    pub message: String,
}

/// The gaps of `coverage` as hints on the services `declared` in the topology file the plan
/// came from ([`crate::ide::declared_services`]); a service declared elsewhere gets none.
pub fn hints(coverage: &Coverage, declared: &[DeclaredService]) -> Vec<Hint> {
    let mut hints = Vec::new();
    for (name, name_span) in declared {
        let gaps: Vec<String> =
            coverage.edges.iter().filter(|e| !e.is_covered() && e.service == *name).map(Edge::label).collect();
        if gaps.is_empty() {
            continue;
        }
        let message = format!(
            "no test faults {}: add fault tests with the quick fix, or see `ospecc plan --coverage --suggest`",
            gaps.join(", ")
        );
        hints.push(Hint { service: name.clone(), span: *name_span, message });
    }
    hints
}

#[cfg(test)]
mod tests;
