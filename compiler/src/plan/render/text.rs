//! The plan as a plain-text tree (`ospecc plan --format text`).
//!
//! Each section is built as a tree of [`Node`]s and only then drawn, so the box-drawing,
//! the width limit and the escaping of control characters live in one place ([`draw`]) and
//! the section builders only decide what to say. The output is deterministic: it follows the
//! plan's own order (services in start order, tests by name), and groups matrix cells under
//! the `fault_matrix` call they came from, in order of that call's origin.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ospecc_schema::plan::acceptance::{Check, ExpectStatus, FlowStep, HttpRequest, Probe, Stage, Target};
use ospecc_schema::plan::topology::{
    EnvPart, EnvVar, Healthcheck, Interface, Launch, MockResponse, ProxyAction, ProxyRule, ScopedFault, SyscallAction,
    SyscallRule, TestKind,
};
use ospecc_schema::plan::{Acceptance, Monitor, Origin, Plan, Service, Test, Totals};

/// Lines longer than this (in characters) end in `…`.
const MAX_WIDTH: usize = 110;
/// Probe descriptions are cut shorter than lines so a `SKIP:` reason after them stays visible.
const MAX_PROBE_WHAT: usize = 60;

/// One line of the tree with the lines under it.
struct Node {
    label: String,
    children: Vec<Node>,
}

impl Node {
    fn leaf(label: impl Into<String>) -> Node {
        Node { label: label.into(), children: Vec::new() }
    }

    fn new(label: impl Into<String>, children: Vec<Node>) -> Node {
        Node { label: label.into(), children }
    }
}

/// Renders the whole plan.
pub fn text(plan: &Plan) -> String {
    let mut sections = vec![header(plan)];
    sections.extend(services(&plan.services));
    sections.extend(tests(&plan.tests));
    sections.extend(monitors(&plan.monitors));
    sections.extend(plan.acceptance.as_ref().map(acceptance));
    sections.push(totals(&plan.totals));
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        draw(&mut out, section);
    }
    out
}

// --- drawing ---------------------------------------------------------------------------------

/// Draws a section: its label flush left, its children as a tree under it.
fn draw(out: &mut String, section: &Node) {
    line(out, "", &section.label);
    draw_children(out, "", &section.children);
}

fn draw_children(out: &mut String, prefix: &str, children: &[Node]) {
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, indent) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
        line(out, &format!("{prefix}{branch}"), &child.label);
        draw_children(out, &format!("{prefix}{indent}"), &child.children);
    }
}

/// Writes one line; control characters are escaped so a value can never break the tree.
fn line(out: &mut String, prefix: &str, label: &str) {
    let budget = MAX_WIDTH.saturating_sub(prefix.chars().count());
    let label = truncate(&escape_controls(label), budget);
    let _ = writeln!(out, "{prefix}{}", label.trim_end());
}

fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` characters, the last one `…` when anything was cut.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

// --- shared formatting -----------------------------------------------------------------------

/// `file:line`: the column adds noise in a listing.
fn at(origin: &Origin) -> String {
    format!("{}:{}", origin.file, origin.line)
}

/// A duration the way people write it: `500ms`, `2s`, `1.5s`, `3m`.
fn duration(ms: u64) -> String {
    let (minutes, seconds, millis) = (ms / 60_000, ms / 1_000, ms % 1_000);
    if minutes > 0 && minutes * 60_000 == ms {
        format!("{minutes}m")
    } else if seconds > 0 && millis == 0 {
        format!("{seconds}s")
    } else if seconds > 0 {
        let s = format!("{:.3}", ms as f64 / 1_000.0);
        format!("{}s", s.trim_end_matches('0'))
    } else {
        format!("{ms}ms")
    }
}

/// A value in double quotes, with quotes and backslashes escaped.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A command-line argument, quoted only when it would otherwise read as several.
fn arg(s: &str) -> String {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\') {
        quote(s)
    } else {
        s.to_owned()
    }
}

fn command(head: &str, args: &[String]) -> String {
    std::iter::once(arg(head)).chain(args.iter().map(|a| arg(a))).collect::<Vec<_>>().join(" ")
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A probability worth mentioning (rules at 1.0 fire on every match, the usual case).
fn chance(probability: f64) -> Option<String> {
    (probability < 1.0).then(|| format!("p={probability}"))
}

// --- header ----------------------------------------------------------------------------------

fn header(plan: &Plan) -> Node {
    let options = &plan.options;
    let mut set = Vec::new();
    let named = [("env", &options.env), ("phase", &options.phase), ("base-url", &options.base_url)];
    for (name, value) in named {
        if let Some(value) = value {
            set.push(format!("{name}={value}"));
        }
    }
    if options.allow_shell {
        set.push("allow-shell".to_owned());
    }
    let mut children = Vec::new();
    if !set.is_empty() {
        children.push(Node::leaf(format!("options: {}", set.join(", "))));
    }
    Node::new(format!("plan {}  (IR v{})", plan.root, plan.version), children)
}

// --- services --------------------------------------------------------------------------------

fn services(services: &[Service]) -> Option<Node> {
    if services.is_empty() {
        return None;
    }
    let children = services.iter().map(service).collect();
    Some(Node::new(format!("services ({}, start order)", services.len()), children))
}

fn service(service: &Service) -> Node {
    let mut children = vec![launch(&service.launch)];
    if !service.interfaces.is_empty() {
        let list: Vec<_> = service.interfaces.iter().map(interface).collect();
        children.push(Node::leaf(format!("interfaces: {}", list.join(", "))));
    }
    if !service.ports.is_empty() {
        let list: Vec<_> = service.ports.iter().map(|p| format!("{}→{}", p.host, p.container)).collect();
        children.push(Node::leaf(format!("ports: {}", list.join(", "))));
    }
    if let Some(check) = &service.healthcheck {
        children.push(Node::leaf(format!("healthcheck: {}", healthcheck(check))));
    }
    if !service.depends_on.is_empty() {
        children.push(Node::leaf(format!("depends_on: {}", service.depends_on.join(", "))));
    }
    if !service.env.is_empty() {
        children.push(Node::new("env", service.env.iter().map(|v| Node::leaf(env_var(v))).collect()));
    }
    for observe in &service.observe {
        let decoder = observe.decoder.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        children.push(Node::leaf(format!("observe: {}{decoder}", observe.stream)));
    }
    for op in &service.ops {
        let path = op.path.as_deref().map(|p| format!(" path={}", quote(p))).unwrap_or_default();
        children.push(Node::leaf(format!("op {}: {}{path}", op.name, op.syscalls.join(", "))));
    }
    children.push(intercept(service));
    Node::new(format!("{}  {}", service.name, at(&service.origin)), children)
}

fn launch(launch: &Launch) -> Node {
    let label = match launch {
        Launch::Binary { path, args } => format!("binary {}", command(path, args)),
        Launch::Image { image, args } => format!("image {}", command(image, args)),
        Launch::Build { context, args } => format!("build {}", command(context, args)),
        Launch::Remote { address } => format!("remote {address}"),
        Launch::Mock { routes, default, .. } => {
            let extra = if default.is_some() { " (+ default)" } else { "" };
            let mut children: Vec<_> =
                routes.iter().map(|r| Node::leaf(format!("{} → {}", r.key, mock_response(&r.response)))).collect();
            children.extend(default.as_ref().map(|d| Node::leaf(format!("default → {}", mock_response(d)))));
            return Node::new(format!("launch: mock, {}{extra}", plural(routes.len(), "route", "routes")), children);
        }
    };
    Node::leaf(format!("launch: {label}"))
}

fn mock_response(response: &MockResponse) -> String {
    match response {
        MockResponse::Json { status, .. } => format!("{status} json"),
        MockResponse::Text { status, .. } => format!("{status} text"),
        MockResponse::Status { status } => status.to_string(),
        MockResponse::Redirect { location, status } => format!("{status} redirect {location}"),
        MockResponse::Dynamic { callable } => format!("dynamic {}", callable.name),
        MockResponse::Bytes { status, data } => format!("{status} bytes ({} bytes)", data.len()),
        MockResponse::Grpc { typed: true, .. } => "grpc typed".to_owned(),
        MockResponse::Grpc { typed: false, .. } => "grpc struct".to_owned(),
        MockResponse::GrpcRaw { .. } => "grpc raw".to_owned(),
        MockResponse::GrpcError { code, .. } => format!("grpc error {code}"),
        MockResponse::Other { builtin } => builtin.clone(),
    }
}

fn interface(interface: &Interface) -> String {
    let port = interface.port.map_or_else(|| "?".to_owned(), |p| p.to_string());
    let tls = if interface.tls { " (tls)" } else { "" };
    format!("{} {}:{port}{tls}", interface.name, interface.protocol)
}

fn healthcheck(check: &Healthcheck) -> String {
    let timing =
        |interval: &u64, timeout: &u64| format!("every {}, timeout {}", duration(*interval), duration(*timeout));
    match check {
        Healthcheck::Tcp { address, timeout_ms, interval_ms } => {
            format!("tcp {address} ({})", timing(interval_ms, timeout_ms))
        }
        Healthcheck::Http { url, timeout_ms, interval_ms } => {
            format!("http {url} ({})", timing(interval_ms, timeout_ms))
        }
        Healthcheck::Ready { interface, protocol, timeout_ms, interval_ms } => {
            format!("ready {interface} {protocol} ({})", timing(interval_ms, timeout_ms))
        }
        Healthcheck::Kafka { address, timeout_ms, interval_ms } => {
            format!("kafka {address} ({})", timing(interval_ms, timeout_ms))
        }
    }
}

/// `NAME = value`, address references kept symbolic (`{db.pg.internal_addr}`): the runtime
/// renders them per consumer, so the rendered value would mislead.
fn env_var(var: &EnvVar) -> String {
    let value: String = var
        .parts
        .iter()
        .map(|part| match part {
            EnvPart::Text { text } => text.clone(),
            EnvPart::Address { service, interface, attribute } => format!("{{{service}.{interface}.{attribute}}}"),
        })
        .collect();
    format!("{} = {value}", var.name)
}

fn intercept(service: &Service) -> Node {
    let mut node = if !service.seccomp {
        Node::leaf("no seccomp filter (seccomp=False)")
    } else if service.intercept.is_empty() {
        Node::leaf("no seccomp filter")
    } else {
        Node::leaf(format!("intercept: {}", service.intercept.join(", ")))
    };
    // A fault whose keys come from `**kwargs` may target syscalls the set does not hold.
    node.children = service
        .intercept_unknown
        .iter()
        .map(|o| Node::leaf(format!("may miss syscalls faulted at {} (keys not known statically)", at(o))))
        .collect();
    node
}

// --- tests -----------------------------------------------------------------------------------

fn tests(tests: &[Test]) -> Option<Node> {
    if tests.is_empty() {
        return None;
    }
    let mut children: Vec<Node> = tests.iter().filter(|t| t.matrix.is_none()).map(plain_test).collect();
    // Cells grouped by the `fault_matrix` call they came from, ordered by that call's origin.
    let mut matrices: BTreeMap<&Origin, Vec<&Test>> = BTreeMap::new();
    for test in tests {
        if let Some(cell) = &test.matrix {
            matrices.entry(&cell.origin).or_default().push(test);
        }
    }
    children.extend(matrices.iter().map(|(origin, cells)| matrix(origin, cells)));
    Some(Node::new(format!("tests ({})", tests.len()), children))
}

pub(super) fn kind(kind: TestKind) -> &'static str {
    match kind {
        TestKind::Def => "def",
        TestKind::Scenario => "scenario",
        TestKind::FaultScenario => "fault_scenario",
        TestKind::MatrixCell => "matrix cell",
        TestKind::Test => "test",
    }
}

fn plain_test(test: &Test) -> Node {
    let mut children = Vec::new();
    if let Some(setup) = &test.setup {
        children.push(Node::leaf(format!("setup: {}", setup.name)));
    }
    if let Some(expect) = &test.expect {
        children.push(Node::leaf(format!("expect: {}", expect.name)));
    }
    if !test.faults.is_empty() {
        children.push(Node::leaf(format!("faults: {}", test.faults.join(", "))));
    }
    children.extend(rules(test));
    children.extend(test.scoped_faults.iter().map(|f| Node::leaf(scoped_fault(f, &test.body.name))));
    if !test.monitors.is_empty() {
        children.push(Node::leaf(format!("monitors: {}", test.monitors.join(", "))));
    }
    children.push(Node::leaf(run_line(&[test])));
    Node::new(format!("{}  [{}]  {}", test.name, kind(test.kind), at(&test.origin)), children)
}

/// One line per resolved rule, syscall rules first.
fn rules(test: &Test) -> Vec<Node> {
    let syscall = test.syscall_rules.iter().map(syscall_rule);
    syscall.chain(test.proxy_rules.iter().map(proxy_rule)).map(Node::leaf).collect()
}

/// `syscall api: connect → deny ECONNREFUSED`, with the expansion when the key is a family
/// or an op, and whatever narrows or thins the rule.
fn syscall_rule(rule: &SyscallRule) -> String {
    let mut s = format!("syscall {}: {}", rule.service, syscall_what(rule));
    for extra in syscall_extras(rule) {
        s.push(' ');
        s.push_str(&extra);
    }
    s
}

/// The part of a syscall rule after the service: `connect → deny ECONNREFUSED`.
pub(super) fn syscall_what(rule: &SyscallRule) -> String {
    let expanded = rule.syscalls.len() != 1 || rule.syscalls.first() != Some(&rule.key);
    let key = if expanded { format!("{} [{}]", rule.key, rule.syscalls.join(", ")) } else { rule.key.clone() };
    let action = match &rule.action {
        SyscallAction::Deny { errno } => format!("deny {errno}"),
        SyscallAction::Delay { ms } => format!("delay {}", duration(*ms)),
        SyscallAction::Allow => "allow (trace)".to_owned(),
    };
    format!("{key} → {action}")
}

fn syscall_extras(rule: &SyscallRule) -> Vec<String> {
    let mut extras = Vec::new();
    extras.extend(rule.path.as_deref().map(|p| format!("path={}", quote(p))));
    extras.extend(chance(rule.probability));
    if let Some(max) = rule.max_fires {
        let mode = rule.mode.as_deref().map(|m| format!(" {m}")).unwrap_or_default();
        extras.push(format!("max_fires={max}{mode}"));
    }
    extras.extend(rule.label.as_deref().map(|l| format!("label={}", quote(l))));
    extras
}

/// `proxy db.pg: error query="INSERT INTO users*"`.
fn proxy_rule(rule: &ProxyRule) -> String {
    format!("proxy {}.{}: {}", rule.service, rule.interface, proxy_what(rule))
}

/// The part of a proxy rule after the interface: `error query="INSERT INTO users*"`.
pub(super) fn proxy_what(rule: &ProxyRule) -> String {
    let mut words = vec![proxy_action(&rule.action)];
    words.extend(rule.matchers.iter().map(|m| format!("{}={}", m.field, quote(&m.glob))));
    words.extend(chance(rule.probability));
    words.join(" ")
}

fn proxy_action(action: &ProxyAction) -> String {
    match action {
        ProxyAction::Respond { status, body } => {
            let mut s = "respond".to_owned();
            s.extend(status.map(|st| format!(" {st}")));
            s.extend(body.as_deref().map(|b| format!(" body={}", quote(b))));
            s
        }
        ProxyAction::Error { message, status } => {
            let mut s = "error".to_owned();
            s.extend(status.map(|st| format!(" {st}")));
            s.extend(message.as_deref().map(|m| format!(" {}", quote(m))));
            s
        }
        ProxyAction::Delay { ms } => format!("delay {}", duration(*ms)),
        ProxyAction::Drop => "drop".to_owned(),
        ProxyAction::Duplicate => "duplicate".to_owned(),
    }
}

/// `scoped fault db_down on api [connect]  api.star:52`, naming the function the call is in
/// when it is a helper rather than the test's own body.
fn scoped_fault(fault: &ScopedFault, body: &str) -> String {
    let helper = if fault.function == body { String::new() } else { format!("  in {}", fault.function) };
    format!("scoped {}{helper}  {}", scoped_what(fault), at(&fault.origin))
}

/// What a scoped fault does, without where: `fault db_down on api [connect]`.
pub(super) fn scoped_what(fault: &ScopedFault) -> String {
    let mut s = fault.builtin.clone();
    s.extend(fault.assumption.as_deref().map(|a| format!(" {a}")));
    if let Some(interface) = &fault.interface {
        let _ = write!(s, " on {interface}");
    } else if !fault.services.is_empty() {
        let _ = write!(s, " on {}", fault.services.join(" ↔ "));
    }
    if !fault.syscalls.is_empty() {
        let _ = write!(s, " [{}]", fault.syscalls.join(", "));
    }
    s.extend(fault.direction.as_deref().map(|d| format!(" ({d})")));
    s
}

/// `timeout 30s, 4 instances, faults must fire` over one test or the cells of a matrix.
fn run_line(tests: &[&Test]) -> String {
    let low = tests.iter().map(|t| t.timeout_ms).min().unwrap_or_default();
    let high = tests.iter().map(|t| t.timeout_ms).max().unwrap_or_default();
    let mut parts = vec![if low == high {
        format!("timeout {}", duration(low))
    } else {
        format!("timeout {}–{}", duration(low), duration(high))
    }];
    let instances = tests.iter().map(|t| t.instances).fold(0, u64::saturating_add);
    if instances > tests.len() as u64 {
        parts.push(format!("{instances} instances"));
    }
    if tests.iter().any(|t| t.require_faults_fire) {
        parts.push("faults must fire".to_owned());
    }
    parts.join(", ")
}

/// The order in which values first appear (cells arrive sorted by name, so this is stable).
fn first_seen<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

/// A `fault_matrix`: its faults with their rules once, then a line per scenario listing its
/// cells, then what the cells share.
fn matrix(origin: &Origin, cells: &[&Test]) -> Node {
    let pairs: Vec<(&str, &str)> = cells.iter().filter_map(|t| cell_of(t)).collect();
    let scenarios = first_seen(pairs.iter().map(|p| p.0));
    let faults = first_seen(pairs.iter().map(|p| p.1));
    let label = format!(
        "matrix {}  {} × {} = {}",
        at(origin),
        plural(scenarios.len(), "scenario", "scenarios"),
        plural(faults.len(), "fault", "faults"),
        plural(cells.len(), "cell", "cells"),
    );
    let mut children = Vec::new();
    for fault in &faults {
        // Every cell of a fault applies the same assumption; its first cell speaks for all.
        let rules = cells.iter().find(|t| cell_of(t).is_some_and(|c| c.1 == *fault)).map(|t| rules(t));
        children.push(Node::new(format!("fault {fault}"), rules.unwrap_or_default()));
    }
    for scenario in &scenarios {
        let row: Vec<&&Test> = cells.iter().filter(|t| cell_of(t).is_some_and(|c| c.0 == *scenario)).collect();
        let entries: Vec<String> = row.iter().filter_map(|t| cell_entry(t)).collect();
        let scoped =
            row.first().map(|t| t.scoped_faults.iter().map(|f| Node::leaf(scoped_fault(f, &t.body.name))).collect());
        children.push(Node::new(format!("{scenario}: {}", entries.join(", ")), scoped.unwrap_or_default()));
    }
    let monitors = first_seen(cells.iter().flat_map(|t| t.monitors.iter().map(String::as_str)));
    if !monitors.is_empty() {
        children.push(Node::leaf(format!("monitors: {}", monitors.join(", "))));
    }
    children.push(Node::leaf(run_line(cells)));
    Node::new(label, children)
}

/// A matrix cell's scenario and fault.
fn cell_of(test: &Test) -> Option<(&str, &str)> {
    test.matrix.as_ref().map(|m| (m.scenario.as_str(), m.fault.as_str()))
}

/// `db_down`, or `db_down (override)` when the expectation is not the matrix default.
fn cell_entry(test: &Test) -> Option<String> {
    let fault = &test.matrix.as_ref()?.fault;
    Some(match test.expect_source.as_deref() {
        None | Some("default_expect") => fault.clone(),
        Some(source) => format!("{fault} ({source})"),
    })
}

// --- monitors --------------------------------------------------------------------------------

fn monitors(monitors: &[Monitor]) -> Option<Node> {
    if monitors.is_empty() {
        return None;
    }
    Some(Node::new(format!("monitors ({})", monitors.len()), monitors.iter().map(monitor).collect()))
}

fn monitor(monitor: &Monitor) -> Node {
    let mut children = Vec::new();
    if !monitor.callables.is_empty() {
        let names: Vec<_> = monitor.callables.iter().map(|c| c.name.as_str()).collect();
        children.push(Node::leaf(format!("runs: {}", names.join(", "))));
    }
    if !monitor.filters.is_empty() {
        let filters: Vec<_> = monitor.filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        children.push(Node::leaf(format!("filters: {}", filters.join(", "))));
    }
    Node::new(format!("{}  [{}]  {}", monitor.name, monitor.scope, at(&monitor.origin)), children)
}

// --- acceptance ------------------------------------------------------------------------------

fn acceptance(acceptance: &Acceptance) -> Node {
    let mut about = acceptance.id.iter().map(|id| format!("id {id}")).collect::<Vec<_>>();
    about.push(format!("profile {}", acceptance.profile));
    let label = format!("acceptance {}  ({})", acceptance.spec, about.join(", "));
    let targets = &acceptance.targets;
    let mut children = Vec::new();
    if !targets.is_empty() {
        let list = targets.iter().map(|t| Node::leaf(target(t))).collect();
        children.push(Node::new(format!("targets ({})", targets.len()), list));
    }
    if !acceptance.preflight.is_empty() {
        let probes = acceptance.preflight.iter().map(|p| probe(p, targets)).collect();
        children.push(Node::new(format!("preflight ({})", acceptance.preflight.len()), probes));
    }
    children.extend(acceptance.stages.iter().map(|s| stage(s, targets)));
    if !acceptance.unverifiable.is_empty() {
        let items = acceptance
            .unverifiable
            .iter()
            .map(|u| Node::leaf(format!("{}  {}  — {}", u.path, at(&u.origin), u.reason)))
            .collect();
        children.push(Node::new(format!("unverifiable ({})", acceptance.unverifiable.len()), items));
    }
    Node::new(label, children)
}

fn target(target: &Target) -> String {
    let mut s = format!("{}  {}  (from {})", target.name, target.base_url, target.base_source);
    if !target.depends_on.is_empty() {
        let _ = write!(s, ", depends on {}", target.depends_on.join(", "));
    }
    s
}

fn stage(stage: &Stage, targets: &[Target]) -> Node {
    let needs = if stage.needs.is_empty() { String::new() } else { format!("  (needs {})", stage.needs.join(", ")) };
    let probes = stage.probes.iter().map(|p| probe(p, targets)).collect();
    Node::new(format!("stage {}{needs}", stage.name), probes)
}

/// `endpoint.2  POST /users → 201  SKIP: needs a request body`; flows list their steps.
fn probe(probe: &Probe, targets: &[Target]) -> Node {
    let what = truncate(&check(&probe.check, targets), MAX_PROBE_WHAT);
    let skip = probe.skip.as_deref().map(|s| format!("  SKIP: {s}")).unwrap_or_default();
    let steps = match &probe.check {
        Check::Flow { steps, .. } => steps.iter().enumerate().map(|(i, s)| flow_step(i + 1, s, targets)).collect(),
        _ => Vec::new(),
    };
    Node::new(format!("{}  {what}{skip}", probe.id), steps)
}

fn flow_step(number: usize, step: &FlowStep, targets: &[Target]) -> Node {
    let skip = step.skip.as_deref().map(|s| format!("  SKIP: {s}")).unwrap_or_default();
    // The text of a request step already reads as the request; a manual step has none.
    let request = match &step.request {
        Some(request) if http(request, targets) != step.text => {
            format!("  ({})", truncate(&http(request, targets), MAX_PROBE_WHAT))
        }
        _ => String::new(),
    };
    Node::leaf(format!("{number}. {}{request}{skip}", step.text))
}

/// What a probe checks, in a few words.
pub(super) fn check(check: &Check, targets: &[Target]) -> String {
    match check {
        Check::EnvPresent { variable } => format!("env {variable} is set"),
        Check::WaitHealthy { target, url, expect, timeout_ms, interval_ms, .. } => format!(
            "wait GET {} → {} (every {}, timeout {})",
            short_url(target, url, targets),
            status(expect),
            duration(*interval_ms),
            duration(*timeout_ms)
        ),
        Check::Http(request) => http(request, targets),
        Check::Flow { name, steps } => format!("flow {name} ({})", plural(steps.len(), "step", "steps")),
        Check::Latency { target, method, url, samples, warmup, stat, bound_ms, .. } => format!(
            "latency {method} {} {stat} ≤ {} over {samples} samples (+{warmup} warmup)",
            short_url(target, url, targets),
            duration(*bound_ms)
        ),
        Check::Throughput { target, method, url, duration_ms, concurrency, min_rps, max_error_rate, .. } => format!(
            "throughput {method} {} ≥ {min_rps} rps, errors ≤ {}%, {concurrency} clients for {}",
            short_url(target, url, targets),
            max_error_rate * 100.0,
            duration(*duration_ms)
        ),
        Check::Command { argv, expect_exit, .. } => {
            let (head, rest) = argv.split_first().map_or(("", &[][..]), |(h, r)| (h.as_str(), r));
            format!("command {} → exit {expect_exit}", command(head, rest))
        }
    }
}

fn http(request: &HttpRequest, targets: &[Target]) -> String {
    let mut s = format!(
        "{} {} → {}",
        request.method,
        short_url(&request.target, &request.url, targets),
        status(&request.expect)
    );
    if !request.contains.is_empty() {
        let _ = write!(s, ", contains {}", request.contains.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "));
    }
    s.extend(request.json_schema.as_deref().map(|j| format!(", schema {j}")));
    s.extend(request.max_latency_ms.map(|ms| format!(", ≤ {}", duration(ms))));
    s
}

/// The URL relative to its target's base URL (`/users`), prefixed with the target when the
/// spec has several; the full URL when it does not start with the base.
fn short_url(target: &str, url: &str, targets: &[Target]) -> String {
    let base = targets.iter().find(|t| t.name == target).map(|t| t.base_url.trim_end_matches('/'));
    match base.and_then(|b| url.strip_prefix(b)) {
        Some(path) if targets.len() > 1 => format!("{target}:{}", if path.is_empty() { "/" } else { path }),
        Some(path) => if path.is_empty() { "/" } else { path }.to_owned(),
        None => url.to_owned(),
    }
}

fn status(expect: &ExpectStatus) -> String {
    match expect {
        ExpectStatus::Codes { codes } => codes.iter().map(u16::to_string).collect::<Vec<_>>().join("|"),
        ExpectStatus::Class { class } => format!("{class}xx"),
    }
}

// --- totals ----------------------------------------------------------------------------------

fn totals(totals: &Totals) -> Node {
    let rows = [
        ("services", totals.services.to_string()),
        ("tests", totals.tests.to_string()),
        ("matrix cells", totals.matrix_cells.to_string()),
        ("syscall rules", totals.syscall_rules.to_string()),
        ("proxy rules", totals.proxy_rules.to_string()),
        ("monitors", totals.monitors.to_string()),
        ("probes", format!("{} ({} skipped)", totals.probes, totals.skipped_probes)),
        ("unverifiable", totals.unverifiable.to_string()),
        ("instances", totals.instances.to_string()),
    ];
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or_default();
    Node::new("totals", rows.iter().map(|(name, value)| Node::leaf(format!("{name:<width$}  {value}"))).collect())
}

#[cfg(test)]
mod tests {
    use ospecc_schema::plan::acceptance::FlowStep;
    use ospecc_schema::plan::topology::{Launch, SyscallAction, TestKind};
    use ospecc_schema::plan::{Options, Plan};

    use super::*;
    use crate::plan::render::sample;

    /// The lines of the rendering that contain `needle`, trimmed of the tree drawing.
    fn lines_with<'a>(out: &'a str, needle: &str) -> Vec<&'a str> {
        out.lines().filter(|l| l.contains(needle)).collect()
    }

    #[test]
    fn the_sample_plan_renders_as_a_tree() {
        let expected = r#"plan api.star  (IR v1)
└─ options: env=staging

services (3, start order)
├─ db  api.star:3
│  ├─ launch: image postgres:16
│  ├─ interfaces: pg postgres:5432
│  ├─ healthcheck: tcp localhost:5432 (every 500ms, timeout 30s)
│  └─ no seccomp filter
├─ payments  api.star:9
│  ├─ launch: mock, 2 routes (+ default)
│  │  ├─ POST /charge → 200 json
│  │  ├─ GET /health → 204
│  │  └─ default → 404
│  ├─ interfaces: http http:9000
│  └─ no seccomp filter
└─ api  api.star:15
   ├─ launch: binary ./bin/api --port 8080
   ├─ interfaces: http http:8080
   ├─ healthcheck: http localhost:8080/health (every 1s, timeout 10s)
   ├─ depends_on: db, payments
   ├─ env
   │  ├─ DB_URL = postgres://{db.pg.internal_addr}/app
   │  └─ PAYMENTS = {payments.http.addr}
   └─ intercept: connect, pwrite64, write, writev

tests (5)
├─ test_health  [def]  api.star:50
│  ├─ scoped fault db_down on api [connect]  api.star:52
│  ├─ monitors: no_lost_writes
│  └─ timeout 1m, 2 instances
└─ matrix api.star:60  2 scenarios × 2 faults = 4 cells
   ├─ fault db_down
   │  └─ syscall api: connect → deny ECONNREFUSED
   ├─ fault insert_fails
   │  └─ proxy db.pg: error query="INSERT INTO users*"
   ├─ create_user: db_down (override), insert_fails
   ├─ list_users: db_down, insert_fails (smoke)
   └─ timeout 30s

monitors (1)
└─ no_lost_writes  [spec]  api.star:70
   ├─ runs: check_writes
   └─ filters: service=db

acceptance api.yaml  (id users-api, profile core)
├─ targets (1)
│  └─ api  http://localhost:8080  (from services.api.ports)
├─ preflight (1)
│  └─ secret.DB_PASSWORD  env DB_PASSWORD is set
├─ stage health
│  └─ health.api  wait GET /health → 2xx (every 1s, timeout 30s)
├─ stage endpoints  (needs health)
│  ├─ endpoint.1  GET /users → 200
│  └─ endpoint.2  POST /users → 201  SKIP: needs a request body
└─ unverifiable (1)
   └─ acceptance.ux.onboarding  api.yaml:40  — a judgement about people, not a response

totals
├─ services       3
├─ tests          5
├─ matrix cells   4
├─ syscall rules  2
├─ proxy rules    2
├─ monitors       1
├─ probes         4 (1 skipped)
├─ unverifiable   1
└─ instances      9
"#;
        assert_eq!(text(&sample::plan()), expected);
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(text(&sample::plan()), text(&sample::plan()));
    }

    #[test]
    fn matrix_cells_group_by_scenario_with_expectation_sources() {
        let out = text(&sample::plan());
        assert_eq!(lines_with(&out, "matrix api"), ["└─ matrix api.star:60  2 scenarios × 2 faults = 4 cells"]);
        assert_eq!(lines_with(&out, "create_user:"), ["   ├─ create_user: db_down (override), insert_fails"]);
        assert_eq!(lines_with(&out, "list_users:"), ["   ├─ list_users: db_down, insert_fails (smoke)"]);
        // Each fault's rules appear once, however many scenarios the matrix crosses it with.
        assert_eq!(lines_with(&out, "syscall api:").len(), 1);
        assert_eq!(lines_with(&out, "proxy db.pg:").len(), 1);
    }

    #[test]
    fn options_show_only_when_set() {
        let mut plan = sample::plan();
        plan.options = Options::default();
        assert!(lines_with(&text(&plan), "options:").is_empty());
        plan.options = Options {
            env: Some("staging".to_owned()),
            phase: Some("beta".to_owned()),
            base_url: Some("http://10.0.0.1:8080".to_owned()),
            allow_shell: true,
        };
        let out = text(&plan);
        assert_eq!(
            lines_with(&out, "options:"),
            ["└─ options: env=staging, phase=beta, base-url=http://10.0.0.1:8080, allow-shell"]
        );
    }

    #[test]
    fn syscall_rules_show_expansion_and_what_thins_them() {
        let mut plan = sample::plan();
        let rule = &mut plan.tests[1].syscall_rules[0];
        rule.key = "write".to_owned();
        rule.syscalls = ["pwrite64", "write", "writev"].map(str::to_owned).to_vec();
        rule.action = SyscallAction::Delay { ms: 1_500 };
        rule.probability = 0.25;
        rule.max_fires = Some(2);
        rule.mode = Some("exhaustive".to_owned());
        rule.path = Some("/data/*".to_owned());
        assert_eq!(
            syscall_rule(rule),
            r#"syscall api: write [pwrite64, write, writev] → delay 1.5s path="/data/*" p=0.25 max_fires=2 exhaustive"#
        );
    }

    #[test]
    fn proxy_rules_quote_their_values() {
        let mut plan = sample::plan();
        let rule = &mut plan.tests[2].proxy_rules[0];
        rule.action = ProxyAction::Respond { status: Some(503), body: Some(r#"{"error": "busy"}"#.to_owned()) };
        rule.matchers[0].glob = r"a\b".to_owned();
        assert_eq!(proxy_rule(rule), r#"proxy db.pg: respond 503 body="{\"error\": \"busy\"}" query="a\\b""#);
    }

    #[test]
    fn services_without_a_filter_say_why() {
        let mut plan = sample::plan();
        plan.services[0].seccomp = false;
        plan.services[2].intercept_unknown.push(sample::origin("api.star", 77));
        let out = text(&plan);
        assert_eq!(lines_with(&out, "seccomp=False"), ["│  └─ no seccomp filter (seccomp=False)"]);
        assert_eq!(
            lines_with(&out, "may miss"),
            ["      └─ may miss syscalls faulted at api.star:77 (keys not known statically)"]
        );
    }

    #[test]
    fn long_values_are_cut_at_the_line_width() {
        let mut plan = sample::plan();
        let path = format!("/opt/{}/api", "very-long-directory-name/".repeat(8));
        plan.services[2].launch = Launch::Binary { path, args: Vec::new() };
        let out = text(&plan);
        assert!(out.lines().all(|l| l.chars().count() <= MAX_WIDTH), "{out}");
        let launch = lines_with(&out, "launch: binary");
        assert_eq!(launch.len(), 1);
        assert_eq!(launch[0].chars().count(), MAX_WIDTH);
        assert!(launch[0].ends_with('…'));
    }

    #[test]
    fn control_characters_cannot_break_the_tree() {
        let mut plan = sample::plan();
        plan.services[2].env[1].parts = vec![EnvPart::Text { text: "line one\nline two\u{1b}[31m".to_owned() }];
        let out = text(&plan);
        assert_eq!(out.lines().count(), text(&sample::plan()).lines().count());
        assert_eq!(lines_with(&out, "PAYMENTS"), [r"   │  └─ PAYMENTS = line one\nline two\u{1b}[31m"]);
    }

    #[test]
    fn tests_show_setup_expectation_faults_and_instances() {
        let mut plan = sample::plan();
        let mut test = sample::test("test_checkout", TestKind::FaultScenario, 90, "checkout");
        test.faults = vec!["db_down".to_owned()];
        test.syscall_rules = plan.tests[1].syscall_rules.clone();
        test.require_faults_fire = true;
        test.instances = 8;
        test.timeout_ms = 2_500;
        test.scoped_faults = plan.tests[0].scoped_faults.clone();
        plan.tests.push(test);
        let out = text(&plan);
        let at = out.find("test_checkout").unwrap_or_default();
        let block: Vec<&str> = out[at..].lines().take(5).collect();
        assert_eq!(
            block,
            [
                "test_checkout  [fault_scenario]  api.star:90",
                "│  ├─ faults: db_down",
                "│  ├─ syscall api: connect → deny ECONNREFUSED",
                "│  ├─ scoped fault db_down on api [connect]  in test_health  api.star:52",
                "│  └─ timeout 2.5s, 8 instances, faults must fire",
            ]
        );
    }

    #[test]
    fn a_plan_without_topology_shows_acceptance_and_totals() {
        let mut plan = sample::plan();
        plan.services.clear();
        plan.tests.clear();
        plan.monitors.clear();
        let out = text(&plan);
        let heads: Vec<&str> = out.lines().filter(|l| !l.is_empty() && !l.starts_with([' ', '│', '├', '└'])).collect();
        assert_eq!(heads, ["plan api.star  (IR v1)", "acceptance api.yaml  (id users-api, profile core)", "totals"]);
    }

    #[test]
    fn flows_list_their_steps_and_urls_name_their_target_when_there_are_several() {
        let mut plan = Plan { acceptance: sample::plan().acceptance, ..empty() };
        let Some(acceptance) = plan.acceptance.as_mut() else { return };
        let mut admin = acceptance.targets[0].clone();
        admin.name = "admin".to_owned();
        admin.base_url = "http://localhost:9090".to_owned();
        acceptance.targets.push(admin);
        let Check::Http(request) = acceptance.stages[1].probes[0].check.clone() else { return };
        let steps = vec![
            FlowStep {
                text: "GET api:/users → 200".to_owned(),
                request: Some(request),
                capture: Vec::new(),
                skip: None,
            },
            FlowStep {
                text: "the user confirms by email".to_owned(),
                request: None,
                capture: Vec::new(),
                skip: Some("a manual step".to_owned()),
            },
        ];
        acceptance.stages[1].probes[1].check = Check::Flow { name: "signup".to_owned(), steps };
        let out = text(&plan);
        assert_eq!(lines_with(&out, "endpoint.1"), ["│  ├─ endpoint.1  GET api:/users → 200"]);
        assert_eq!(lines_with(&out, "signup"), ["│  └─ endpoint.2  flow signup (2 steps)  SKIP: needs a request body"]);
        assert_eq!(lines_with(&out, "1. "), ["│     ├─ 1. GET api:/users → 200"]);
        assert_eq!(lines_with(&out, "2. "), ["│     └─ 2. the user confirms by email  SKIP: a manual step"]);
    }

    #[test]
    fn durations_read_the_way_people_write_them() {
        let cases = [(0, "0ms"), (250, "250ms"), (1_000, "1s"), (1_500, "1.5s"), (1_250, "1.25s"), (90_000, "90s")];
        for (ms, expected) in cases {
            assert_eq!(duration(ms), expected);
        }
        assert_eq!(duration(120_000), "2m");
    }

    fn empty() -> Plan {
        let mut plan = sample::plan();
        plan.services.clear();
        plan.tests.clear();
        plan.monitors.clear();
        plan.acceptance = None;
        plan
    }
}
