//! `ospecc diff A B`: two runs compared test by test. A side is a bundle (results and
//! events), a JSON report (results) or a normalized trace (per-service lines). What both sides
//! have is compared: each test's outcome, and, per service, the first event where the two
//! runs diverge. Events are compared as decisions, not timings: a line per event of its type
//! and fields, without what differs between any two runs (times, pids, ports, durations) and
//! without output lines (services print timestamps).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::events::Event;
use crate::report::{ItemKind, RunReport};

/// Fields that differ between any two runs of the same decisions.
const VOLATILE: &[&str] = &[
    "at_ms",
    "ms",
    "duration_ms",
    "elapsed_ms",
    "latency_ms",
    "ready_ms",
    "pid",
    "addresses",
    "address",
    "listen",
    "port",
    "peer",
    "client",
];
/// Event types left out of the comparison (their text is the service's, with its own times).
const OUTPUT: &[&str] = &["stdout", "stderr"];
/// The runner's own events (no service) are listed under this name.
const RUNNER: &str = "runner";

/// One side of a diff.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// What the user named (a path).
    pub label: String,
    /// Each result: name → (outcome, message), when the side has results.
    pub results: Option<BTreeMap<String, (String, String)>>,
    /// Each test's events per service as comparable lines, when the side has events.
    pub traces: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

impl Side {
    /// A run: its report and, from a bundle, its events.
    pub fn of_run(label: &str, report: &RunReport, events: Option<&[Event]>) -> Side {
        let results = report
            .results
            .iter()
            .map(|r| (r.name.clone(), (r.outcome.name().to_owned(), r.message.clone().unwrap_or_default())))
            .collect();
        let traces = events.map(|events| {
            report
                .results
                .iter()
                .filter(|r| r.kind == ItemKind::Test)
                .map(|r| (r.name.clone(), by_service(r.events(events))))
                .collect()
        });
        Side { label: label.to_owned(), results: Some(results), traces }
    }

    /// A normalized trace (`--normalize`): `=== test ===` blocks of `--- service ---` lines.
    pub fn of_normalized(label: &str, text: &str) -> Result<Side, String> {
        let mut traces: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        let mut test: Option<String> = None;
        let mut service: Option<String> = None;
        for (number, line) in text.lines().enumerate() {
            if let Some(name) = line.strip_prefix("=== ").and_then(|l| l.strip_suffix(" ===")) {
                traces.entry(name.to_owned()).or_default();
                (test, service) = (Some(name.to_owned()), None);
            } else if let Some(name) = line.strip_prefix("--- ").and_then(|l| l.strip_suffix(" ---")) {
                let current = test.as_ref().ok_or_else(|| not_normalized(label, number))?;
                traces.entry(current.clone()).or_default().entry(name.to_owned()).or_default();
                service = Some(name.to_owned());
            } else if !line.is_empty() {
                let (Some(t), Some(s)) = (&test, &service) else { return Err(not_normalized(label, number)) };
                traces.entry(t.clone()).or_default().entry(s.clone()).or_default().push(line.to_owned());
            }
        }
        Ok(Side { label: label.to_owned(), results: None, traces: Some(traces) })
    }
}

fn not_normalized(label: &str, line: usize) -> String {
    format!(
        "{label}:{}: not a normalized trace (a line before any `=== test ===` / `--- service ---` header)",
        line + 1
    )
}

/// An event as the comparison sees it, or `None` for events it leaves out.
pub fn comparable(event: &Event) -> Option<String> {
    if OUTPUT.contains(&event.kind.as_str()) {
        return None;
    }
    let mut line = event.kind.clone();
    for (key, value) in &event.fields {
        if VOLATILE.contains(&key.as_str()) || key.ends_with("_ms") {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(line, " {key}={}", loopback_ports(&text));
    }
    Some(line)
}

/// `127.0.0.1:40123` → `127.0.0.1:PORT`: proxies and mocks listen on ports the kernel picks.
fn loopback_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

fn by_service(events: &[Event]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events {
        if let Some(line) = comparable(event) {
            let service = if event.service.is_empty() { RUNNER } else { event.service.as_str() };
            out.entry(service.to_owned()).or_default().push(line);
        }
    }
    out
}

/// Where one service's events first differ: the 1-based position and each side's event there
/// (`None` where that side had no more events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub service: String,
    pub position: usize,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// What differs in one test.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestDiff {
    pub name: String,
    /// `(A's, B's)` outcome when they differ; one side `None` when the test is only in the other.
    pub outcome: Option<(Option<String>, Option<String>)>,
    pub divergences: Vec<Divergence>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub compared: usize,
    pub differing: Vec<TestDiff>,
    /// What could not be compared because one side lacks it (results or events).
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn is_empty(&self) -> bool {
        self.differing.is_empty()
    }
}

/// Compares two sides test by test.
pub fn compare(a: &Side, b: &Side) -> Comparison {
    let mut names: BTreeSet<&String> = BTreeSet::new();
    for side in [a, b] {
        names.extend(side.results.iter().flat_map(BTreeMap::keys));
        names.extend(side.traces.iter().flat_map(BTreeMap::keys));
    }
    let mut differing = Vec::new();
    for name in &names {
        let mut diff = TestDiff { name: (*name).clone(), ..TestDiff::default() };
        if let (Some(ra), Some(rb)) = (&a.results, &b.results) {
            let (oa, ob) = (ra.get(*name).map(|r| r.0.clone()), rb.get(*name).map(|r| r.0.clone()));
            if oa != ob {
                diff.outcome = Some((oa, ob));
            }
        }
        if let (Some(ta), Some(tb)) = (&a.traces, &b.traces) {
            let empty = BTreeMap::new();
            let (sa, sb) = (ta.get(*name).unwrap_or(&empty), tb.get(*name).unwrap_or(&empty));
            if ta.contains_key(*name) != tb.contains_key(*name) && diff.outcome.is_none() {
                let side = |has: bool| has.then(|| "present".to_owned());
                diff.outcome = Some((side(ta.contains_key(*name)), side(tb.contains_key(*name))));
            }
            diff.divergences = diverging(sa, sb);
        }
        if diff.outcome.is_some() || !diff.divergences.is_empty() {
            differing.push(diff);
        }
    }
    let mut notes = Vec::new();
    if a.results.is_none() || b.results.is_none() {
        notes.push("outcomes not compared: one side has no results (a normalized trace)".to_owned());
    }
    if a.traces.is_none() || b.traces.is_none() {
        notes.push("events not compared: one side has no events (a JSON report; bundles have them)".to_owned());
    }
    Comparison { a: a.label.clone(), b: b.label.clone(), compared: names.len(), differing, notes }
}

fn diverging(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) -> Vec<Divergence> {
    let services: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let none = Vec::new();
    services
        .into_iter()
        .filter_map(|service| {
            let (la, lb) = (a.get(service).unwrap_or(&none), b.get(service).unwrap_or(&none));
            let at = (0..la.len().max(lb.len())).find(|i| la.get(*i) != lb.get(*i))?;
            Some(Divergence {
                service: service.clone(),
                position: at + 1,
                a: la.get(at).cloned(),
                b: lb.get(at).cloned(),
            })
        })
        .collect()
}

/// The comparison for people (what `ospecc diff` prints).
pub fn render(comparison: &Comparison) -> String {
    let mut out = format!("--- A {}\n+++ B {}\n", comparison.a, comparison.b);
    for test in &comparison.differing {
        match &test.outcome {
            Some((Some(a), Some(b))) => {
                let _ = writeln!(out, "{}: {a} -> {b}", test.name);
            }
            Some((Some(a), None)) => {
                let _ = writeln!(out, "{}: only in A ({a})", test.name);
            }
            Some((None, Some(b))) => {
                let _ = writeln!(out, "{}: only in B ({b})", test.name);
            }
            _ => {
                let _ = writeln!(out, "{}: same outcome, different events", test.name);
            }
        }
        for d in &test.divergences {
            let _ = writeln!(out, "  first divergence in `{}` at event {}:", d.service, d.position);
            let _ = writeln!(out, "    A: {}", d.a.as_deref().unwrap_or("(no more events)"));
            let _ = writeln!(out, "    B: {}", d.b.as_deref().unwrap_or("(no more events)"));
        }
    }
    for note in &comparison.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let verdict = match comparison.differing.len() {
        0 => "no differences".to_owned(),
        1 => "1 differs".to_owned(),
        n => format!("{n} differ"),
    };
    let _ = writeln!(out, "{} tests compared: {verdict}", comparison.compared);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(service: &str, kind: &str, pairs: serde_json::Value) -> Event {
        let fields = pairs.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Event { seq: 0, at_ms: 1.5, service: service.into(), kind: kind.into(), fields }
    }

    #[test]
    fn comparable_lines_drop_times_pids_ports_and_output() {
        let step = event(
            "test",
            "step",
            serde_json::json!({"target": "api", "status": 502, "ms": 3.1, "url": "http://127.0.0.1:40123/x"}),
        );
        assert_eq!(comparable(&step).unwrap(), "step status=502 target=api url=http://127.0.0.1:PORT/x");
        assert_eq!(comparable(&event("api", "stdout", serde_json::json!({"line": "12:00 hi"}))), None);
    }

    #[test]
    fn normalized_traces_compare_per_service() {
        let a =
            Side::of_normalized("a", "=== test_x ===\n--- db ---\nfsync allow\n--- test ---\nstep_send db\n").unwrap();
        let b = Side::of_normalized("b", "=== test_x ===\n--- db ---\nfsync deny(EIO)\n--- test ---\nstep_send db\n")
            .unwrap();
        let comparison = compare(&a, &b);
        assert_eq!(
            render(&comparison),
            "--- A a\n+++ B b\ntest_x: same outcome, different events\n  first divergence in `db` at event 1:\n    A: fsync allow\n    B: fsync deny(EIO)\n\
             note: outcomes not compared: one side has no results (a normalized trace)\n1 tests compared: 1 differs\n"
        );
        assert!(compare(&a, &a).is_empty());
        assert!(Side::of_normalized("c", "stray line\n").unwrap_err().contains("c:1: not a normalized trace"));
    }
}
