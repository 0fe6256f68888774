//! Stubs for the gaps of a coverage report: for each uncovered interface, one
//! `fault_assumption` per usual fault of its protocol (taken from the embedded
//! `@faultbox/recipes/<protocol>.star`), and the `fault_matrix` line that runs them against
//! the spec's scenarios. The stubs use the file's own variables and load names, claim names
//! that are free in the file, and come with the edits that insert them (a `load()` with the
//! others, the rest at the end), so the CLI prints what the editor inserts.

use std::fmt::Write;

use ospecc_schema::plan::topology::{Service, TestKind};
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::catalog;
use serde::Serialize;

use super::{Coverage, Edge};
use crate::diagnostics::TextEdit;
use crate::ide::topology::index::Index;
use crate::init::protocols;
use crate::span::Span;

/// Per protocol, the recipe members that make its usual faults: an error the protocol
/// answers with, a slow path, a dropped connection.
const USUAL_FAULTS: &[(&str, &[&str])] = &[
    ("amqp", &["broker_unavailable", "slow_publish", "connection_drop"]),
    ("cassandra", &["unavailable", "slow_reads", "connection_drop"]),
    ("clickhouse", &["memory_limit", "slow_analytics", "connection_drop"]),
    ("grpc", &["unavailable", "deadline_exceeded", "connection_drop"]),
    ("http", &["server_error", "slow_endpoint", "connection_drop"]),
    ("http2", &["server_error", "slow_endpoint", "stream_reset"]),
    ("kafka", &["not_leader_for_partition", "slow_produce", "connection_drop"]),
    ("memcached", &["server_error", "slow_command", "connection_drop"]),
    ("mongodb", &["replica_unavailable", "slow_query", "connection_drop"]),
    ("mysql", &["gone_away", "slow_query", "too_many_connections"]),
    ("nats", &["slow_delivery", "connection_drop"]),
    ("postgres", &["connection_failure", "slow_query", "too_many_connections"]),
    ("redis", &["connection_drop", "slow_command", "loading"]),
    ("udp", &["packet_loss", "jitter"]),
];

/// Protocols without a recipe module Faultbox ships (`tcp`'s is an ospecc extension): the
/// builtins themselves, as far as the protocol's proxy implements them.
const BUILTIN_FAULTS: &[(&str, &str, &str)] =
    &[("drop", "drop()", "the connection is dropped"), ("delay", "delay(delay = \"3s\")", "3 s longer")];

/// What closes the gaps of one file.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Suggestions {
    /// The file the stubs go into (its bundle path).
    pub file: String,
    /// One entry per uncovered interface (or service, for `depends_on`-only edges).
    pub targets: Vec<Target>,
    /// `load(...)` statements the stubs need that the file does not have.
    pub loads: Vec<String>,
    /// Scenario functions written because the file registers none.
    pub scenarios: Vec<String>,
    /// The `fault_matrix(...)` that runs every stub.
    pub matrix: Option<String>,
    /// Gaps no stub is written for, with why.
    pub skipped: Vec<String>,
}

/// The stubs for one uncovered interface.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The uncovered edges into it (`api → cache.redis`).
    pub edges: Vec<String>,
    /// The variables the stubs bind, in order.
    pub assumptions: Vec<String>,
    /// The `fault_assumption(...)` statements.
    pub text: String,
}

impl Suggestions {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Everything after the loads, as it is appended to the file.
    pub fn body(&self) -> String {
        let mut out = String::new();
        for scenario in &self.scenarios {
            out.push_str(scenario);
            out.push('\n');
        }
        for target in &self.targets {
            out.push_str(&target.text);
            out.push('\n');
        }
        if let Some(matrix) = &self.matrix {
            out.push_str(matrix);
        }
        out
    }
}

/// The stubs for the gaps of `coverage` in `text` (the topology file the plan came from).
/// `only` keeps the gaps into one service (the editor's action on a service declaration).
pub fn suggest(coverage: &Coverage, plan: &Plan, text: &str, only: Option<&str>) -> Suggestions {
    let index = Index::new(text);
    let mut names = Names::of(&index);
    let services = index.services(text);
    let variable = |name: &str| -> Option<String> { services.iter().find(|s| s.name == name)?.variable.clone() };
    let mut suggestions = Suggestions { file: coverage.spec.clone(), ..Suggestions::default() };
    let mut recipe_aliases: Vec<(String, String)> = Vec::new();
    for (service, interface) in super::gap_targets(coverage) {
        if only.is_some_and(|o| o != service) {
            continue;
        }
        let edges: Vec<&Edge> = coverage
            .edges
            .iter()
            .filter(|e| !e.is_covered() && e.service == service && e.interface == interface)
            .collect();
        let labels: Vec<String> = edges.iter().map(|e| e.label()).collect();
        let Some(var) = variable(service.as_str()) else {
            suggestions
                .skipped
                .push(format!("{}: `{service}` is not bound to a variable in this file", labels.join(", ")));
            continue;
        };
        let provider = plan.services.iter().find(|s| s.name == service);
        let protocol = edges.first().and_then(|e| e.protocol.clone());
        let faults: Vec<(String, String, String)> = match (&interface, protocol.as_deref()) {
            (Some(iface), Some(protocol)) => {
                protocol_faults(protocol, &index, &mut names, &mut recipe_aliases, &mut suggestions.loads)
                    .into_iter()
                    .map(|(name, rule, about)| (name, format!("target = {var}.{iface},\n    rules = [{rule}],"), about))
                    .collect()
            }
            _ if provider.is_some_and(|p| matches!(p.launch, ospecc_schema::plan::topology::Launch::Mock { .. })) => {
                suggestions.skipped.push(format!("{}: a mock with no single interface to fault", labels.join(", ")));
                continue;
            }
            _ => syscall_faults(&var),
        };
        let prefix = match &interface {
            Some(iface) => format!("{var}_{iface}"),
            None => var.clone(),
        };
        let mut target = Target {
            service: service.clone(),
            interface: interface.clone(),
            edges: labels.clone(),
            assumptions: Vec::new(),
            text: format!("# No test faults {} yet.\n", labels.join(", ")),
        };
        for (fault, arguments, about) in faults {
            let name = names.claim(&format!("{prefix}_{fault}"));
            let description = format!("{}: {about}", labels.join(", "));
            let _ = writeln!(
                target.text,
                "{name} = fault_assumption({},\n    {arguments}\n    description = {},\n)",
                quoted(&name),
                quoted(&description)
            );
            target.assumptions.push(name);
        }
        suggestions.targets.push(target);
    }
    if !suggestions.targets.is_empty() {
        let scenarios = scenarios(plan, &index, text, &coverage.edges, &suggestions.targets, &mut names, &services);
        let (list, stubs) = scenarios;
        suggestions.scenarios = stubs;
        let faults: Vec<&str> =
            suggestions.targets.iter().flat_map(|t| t.assumptions.iter().map(String::as_str)).collect();
        suggestions.matrix = Some(matrix(&list, &faults, existing_matrix(&index, text)));
    }
    suggestions
}

/// The names a file binds (top-level bindings, defs, loaded symbols) and the ones claimed.
struct Names {
    taken: Vec<String>,
}

impl Names {
    fn of(index: &Index) -> Names {
        let mut taken: Vec<String> = index.bindings.iter().map(|b| b.name.clone()).collect();
        taken.extend(index.defs.iter().map(|d| d.name.clone()));
        taken.extend(index.loads.iter().flat_map(|l| l.symbols.iter().map(|s| s.0.clone())));
        Names { taken }
    }

    /// `base` (made an identifier), or `base_2`, `base_3`, ... when taken or reserved.
    fn claim(&mut self, base: &str) -> String {
        let base: String = base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) || crate::init::is_reserved_name(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.push(candidate.clone());
        candidate
    }
}

/// `(fault name, rule expression, what it does)` for a protocol's usual faults.
fn protocol_faults(
    protocol: &str,
    index: &Index,
    names: &mut Names,
    aliases: &mut Vec<(String, String)>,
    loads: &mut Vec<String>,
) -> Vec<(String, String, String)> {
    let recipe = USUAL_FAULTS.iter().find(|(p, _)| *p == protocol);
    let path = format!("@faultbox/recipes/{protocol}.star");
    let api = crate::ide::topology::modules::stdlib_api(&path);
    let (Some((_, members)), Some(api)) = (recipe, api) else {
        return builtin_faults(protocol);
    };
    let implemented = catalog().protocol(protocol).map(|p| p.actions.clone()).unwrap_or_default();
    let module = ospecc_schema::stdlib::module(&path).unwrap_or_default();
    let members: Vec<&&str> = members
        .iter()
        .filter(|m| recipe_action(module, m).is_some_and(|action| implemented.iter().any(|a| a == action)))
        .collect();
    if members.is_empty() {
        return builtin_faults(protocol);
    }
    let alias = recipe_alias(index, &path, api.name, names, aliases, loads);
    members
        .into_iter()
        .filter_map(|member| {
            let export = api.export(member)?;
            let about = format!("{member} ({path}): {}", export.doc.trim_end_matches('.'));
            Some(((*member).to_owned(), format!("{alias}.{member}()"), about))
        })
        .collect()
}

/// The proxy action a recipe member returns (`error`, `delay`, `drop`, `respond`): the builtin
/// its `def _member(...)` returns. A protocol's proxy ignores the actions it does not
/// implement (TOP209), so only members it implements are suggested.
fn recipe_action(module: &str, member: &str) -> Option<&'static str> {
    let body = &module[module.find(&format!("def _{member}("))?..];
    let body = body[1..].find("\ndef ").map_or(body, |end| &body[..end + 1]);
    let returned = body.split("return ").nth(1)?.trim_start();
    // The builtin it returns a call of, and the proxy action the catalog gives that builtin.
    let callee = &returned[..returned.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?];
    let after = &returned[callee.len()..];
    if !after.starts_with('(') {
        return None;
    }
    catalog().builtin(callee)?.proxy_action.as_deref()
}

/// The builtins' own faults for a protocol without recipes, those its proxy implements.
fn builtin_faults(protocol: &str) -> Vec<(String, String, String)> {
    let actions = ospecc_schema::topology::catalog().protocol(protocol).map(|p| p.actions.clone()).unwrap_or_default();
    BUILTIN_FAULTS
        .iter()
        .filter(|(action, _, _)| actions.iter().any(|a| a == action))
        .map(|(action, rule, about)| ((*action).to_owned(), (*rule).to_owned(), format!("{action}: {about}")))
        .collect()
}

/// Faults on a service reached only through `depends_on`: its writes fail, then stall.
fn syscall_faults(var: &str) -> Vec<(String, String, String)> {
    vec![
        (
            "write_errors".into(),
            format!("target = {var},\n    write = deny(\"EIO\"),"),
            "its writes fail with EIO".into(),
        ),
        (
            "slow_writes".into(),
            format!("target = {var},\n    write = delay(\"2s\"),"),
            "its writes take 2 s longer".into(),
        ),
    ]
}

/// The local name of a recipe module's struct: the file's own load of it, else a new load
/// with a name that shadows nothing (`redis_faults`: a service is often called `redis`).
fn recipe_alias(
    index: &Index,
    path: &str,
    export: &str,
    names: &mut Names,
    aliases: &mut Vec<(String, String)>,
    loads: &mut Vec<String>,
) -> String {
    let existing = index.loads.iter().filter(|l| l.path == path).flat_map(|l| &l.symbols).find(|s| s.2 == export);
    if let Some((local, _, _)) = existing {
        return local.clone();
    }
    if let Some((_, alias)) = aliases.iter().find(|(p, _)| p == path) {
        return alias.clone();
    }
    let alias = names.claim(&format!("{export}_faults"));
    loads.push(format!("load({}, {alias} = {})", quoted(path), quoted(export)));
    aliases.push((path.to_owned(), alias.clone()));
    alias
}

/// The scenarios the matrix runs: those the spec registers (`scenario(fn)`, or uses in a
/// matrix) and defines in this file; else one stub per consumer of a gap, calling the
/// consumer's first interface that `ospecc run` can step.
fn scenarios(
    plan: &Plan,
    index: &Index,
    text: &str,
    edges: &[Edge],
    targets: &[Target],
    names: &mut Names,
    services: &[crate::ide::topology::index::Service],
) -> (Vec<String>, Vec<String>) {
    let defined = |name: &str| index.defs.iter().any(|d| d.name == name);
    let mut registered: Vec<String> = index.scenarios(text).into_iter().filter(|s| defined(s)).collect();
    for test in &plan.tests {
        let name = match (&test.kind, &test.matrix) {
            (TestKind::Scenario, _) => Some(test.body.name.clone()),
            (_, Some(cell)) => Some(cell.scenario.clone()),
            _ => None,
        };
        if let Some(name) = name.filter(|n| defined(n) && !registered.contains(n)) {
            registered.push(name);
        }
    }
    if !registered.is_empty() {
        return (registered, Vec::new());
    }
    let mut consumers: Vec<&str> = Vec::new();
    for target in targets {
        for edge in
            edges.iter().filter(|e| !e.is_covered() && e.service == target.service && e.interface == target.interface)
        {
            if !consumers.contains(&edge.consumer.as_str()) {
                consumers.push(&edge.consumer);
            }
        }
    }
    let mut list = Vec::new();
    let mut stubs = Vec::new();
    for consumer in consumers {
        let Some(var) = services.iter().find(|s| s.name == consumer).and_then(|s| s.variable.clone()) else { continue };
        let name = names.claim(&format!("{var}_happy_path"));
        let call = plan_service(plan, consumer).and_then(|s| {
            s.interfaces.iter().find_map(|i| Some(format!("{var}.{}.{}", i.name, protocols::step(&i.protocol)?.call)))
        });
        let body = match call {
            Some(call) => format!("    return {call}"),
            None => format!("    # `{consumer}` has no interface a test can call: exercise it through what it serves.\n    return None"),
        };
        stubs.push(format!(
            "# What a client of {consumer} does; the matrix runs it under each fault.\ndef {name}():\n{body}\n"
        ));
        list.push(name);
    }
    (list, stubs)
}

fn plan_service<'p>(plan: &'p Plan, name: &str) -> Option<&'p Service> {
    plan.services.iter().find(|s| s.name == name)
}

/// The file's first `fault_matrix(...)`: its line and its `default_expect` as written.
struct Existing {
    line: usize,
    default_expect: Option<String>,
}

fn existing_matrix(index: &Index, text: &str) -> Option<Existing> {
    let (i, call) = index.calls.iter().enumerate().find(|(_, c)| c.callee == "fault_matrix")?;
    let line = text[..call.callee_span.start].matches('\n').count() + 1;
    let expect = index.calls[i].args.iter().find(|a| a.name.as_ref().is_some_and(|(n, _)| n == "default_expect"));
    let default_expect = expect.and_then(|arg| {
        let (_, name) = arg.name.as_ref()?;
        let last = index.tokens.get(arg.end.checked_sub(1)?)?;
        let written = text.get(name.end..last.span.end)?;
        Some(written.trim_start().strip_prefix('=')?.trim().to_owned())
    });
    Some(Existing { line, default_expect })
}

/// What a cell expects when the file's matrix does not say: the scenario came back (the
/// reference patterns' expectation), which a hang or a crash fails.
const DEFAULT_EXPECT: &str = "lambda r: assert_true(r != None, \"the scenario answers under the fault\")";

fn matrix(scenarios: &[String], faults: &[&str], existing: Option<Existing>) -> String {
    let mut out = String::from("# The matrix cells that run the scenarios under each new fault");
    match &existing {
        Some(existing) => {
            let _ = writeln!(out, " (or add the faults to the fault_matrix on line {}).", existing.line);
        }
        None => out.push_str(".\n"),
    }
    let expect = existing.and_then(|e| e.default_expect).unwrap_or_else(|| DEFAULT_EXPECT.to_owned());
    let list = |items: Vec<&str>| -> String {
        if items.is_empty() {
            return "[]".to_owned();
        }
        let inner: Vec<String> = items.iter().map(|i| format!("        {i},")).collect();
        format!("[\n{}\n    ]", inner.join("\n"))
    };
    let _ = writeln!(
        out,
        "fault_matrix(\n    scenarios = {},\n    faults = {},\n    default_expect = {expect},\n)",
        list(scenarios.iter().map(String::as_str).collect()),
        list(faults.to_vec())
    );
    out
}

fn quoted(text: &str) -> String {
    crate::init::starlark_string(text)
}

/// The suggestions for people: the loads (for the top of the file), then what to append.
pub fn render_text(suggestions: &Suggestions) -> String {
    let mut out = String::new();
    if suggestions.is_empty() {
        if suggestions.skipped.is_empty() {
            out.push_str("# Every dependency edge is faulted by a test: nothing to suggest.\n");
        }
        for skipped in &suggestions.skipped {
            let _ = writeln!(out, "# No stub for {skipped}.");
        }
        return out;
    }
    let edges: usize = suggestions.targets.iter().map(|t| t.edges.len()).sum();
    let _ = writeln!(
        out,
        "# Fault tests for the {edges} uncovered edge{} of {} (`ospecc plan --coverage` lists them).",
        if edges == 1 { "" } else { "s" },
        suggestions.file
    );
    if !suggestions.loads.is_empty() {
        out.push_str("#\n# With the other load() statements at the top of the file:\n");
        for load in &suggestions.loads {
            let _ = writeln!(out, "{load}");
        }
    }
    out.push_str("#\n# At the end of the file:\n\n");
    out.push_str(&suggestions.body());
    for skipped in &suggestions.skipped {
        let _ = writeln!(out, "\n# No stub for {skipped}.");
    }
    out
}

/// The edits that insert the suggestions into `text`: each load after the file's last
/// top-level `load()` (or before its first statement), the rest at the end.
pub fn edits(suggestions: &Suggestions, text: &str) -> Vec<TextEdit> {
    let mut edits = Vec::new();
    if suggestions.is_empty() {
        return edits;
    }
    if !suggestions.loads.is_empty() {
        let index = Index::new(text);
        let after_loads = index
            .loads
            .iter()
            .filter_map(|l| index.calls.get(l.call).and_then(|c| c.close).map(|t| index.tokens[t].span.end))
            .max();
        let loads = suggestions.loads.join("\n");
        let edit = match after_loads {
            Some(end) => TextEdit { span: Span::at(end), new_text: format!("\n{loads}") },
            None => {
                let at = first_statement(text);
                TextEdit { span: Span::at(at), new_text: format!("{loads}\n\n") }
            }
        };
        edits.push(edit);
    }
    let separator = if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    edits.push(TextEdit { span: Span::at(text.len()), new_text: format!("{separator}{}", suggestions.body()) });
    edits
}

/// The offset of the first line that is neither blank nor a comment.
fn first_statement(text: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !(trimmed.is_empty() || trimmed.starts_with('#')) {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// `text` with `edits` applied (non-overlapping, any order).
pub fn apply(text: &str, edits: &[TextEdit]) -> String {
    let mut sorted: Vec<&TextEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.span.start));
    let mut out = text.to_owned();
    for edit in sorted {
        let end = edit.span.end.min(out.len());
        let start = edit.span.start.min(end);
        out.replace_range(start..end, &edit.new_text);
    }
    out
}
