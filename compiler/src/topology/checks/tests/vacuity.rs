//! Discovery and vacuity (reference §8.4 item 39). Faultbox warns when a file has no test
//! (`NO_TESTS_DISCOVERED`), and after a run when a passed test evaluated no assertion
//! (`TEST_NO_ASSERTIONS`). The static approximation: follow the test's functions through the
//! functions they name; a test is vacuous when none of them asserts (or calls `fail`) and
//! none calls something that cannot be seen into (a loaded function, a parameter).
//! Scenarios are probes by design (the cookbook's "scenarios return results"), so a scenario,
//! `fault_scenario` or matrix cell that leaves checking to an absent expectation is a note.

use crate::topology::hash::HashMap;

use super::names::{Entry, Source};
use super::{callable, entry_spans, key_name, Functions};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use crate::topology::checks::{Call, Model, Origin};
use crate::topology::values::{Arg, Recorded};
use ospecc_schema::topology::{builtins, CallContext};

/// Whether something asserts: `Some(true)`, `Some(false)`, or `None` when it cannot be told.
type Checks = Option<bool>;

/// The cross part: whether each test asserts (TOP312). [`no_tests`] is load-time.
pub(super) fn check(model: &Model, functions: &Functions, entries: &[Entry], out: &mut Vec<Diagnostic>) {
    for e in entries {
        let finding = match e.source {
            Source::Def => def_test(functions, e),
            Source::Test => e.call.and_then(|c| test_builtin(model, functions, c)),
            Source::Scenario => e.call.and_then(|c| standalone_scenario(model, functions, c)),
            Source::FaultScenario => e.call.and_then(|c| fault_scenario(model, functions, c)),
            Source::Matrix => None,
        };
        if let Some(severity) = finding {
            out.push(vacuous(&e.name, e.at, severity));
        }
    }
    for call in model.every_call_of(builtins::FAULT_MATRIX).filter(|c| c.origin == Origin::Load) {
        smoke_cells(model, functions, call, out);
    }
}

/// TOP311: a file that declares topology (it is a spec, not a library) but no test.
pub(super) fn no_tests(model: &Model, entries: &[Entry], out: &mut Vec<Diagnostic>) {
    let declares = model
        .every_call()
        .iter()
        .any(|c| c.origin == Origin::Load && c.builtin().is_some_and(|b| b.context == CallContext::TopLevel));
    if model.evaluated.complete && entries.is_empty() && declares {
        out.push(
            Diagnostic::warning("TOP311", Span::at(0), "this file declares no test")
                .with_note("Faultbox discovers `def test_…()` functions, `scenario()`, `fault_scenario()`, `fault_matrix()` cells and `test()`")
                .with_help("add a test, e.g. `def test_health():` with a step and an assertion"),
        );
    }
}

fn vacuous(name: &str, at: Span, severity: Severity) -> Diagnostic {
    Diagnostic::new("TOP312", severity, at, format!("`{name}` asserts nothing: it passes whenever it runs to the end"))
        .with_note("no assertion (`assert_*`, `fail`, an expectation) is reachable from the test; Faultbox reports `TEST_NO_ASSERTIONS` after such a test passes")
        .with_help("assert on the step results, e.g. `assert_eq(resp.status, 200)`, or pass an `expect=` callable")
}

/// Whether any of `roots`, or a function they name, asserts.
fn asserts(functions: &Functions, roots: Vec<&super::Function>) -> Checks {
    let reached = functions.reachable(roots);
    if reached.iter().any(|f| f.asserts) {
        Some(true)
    } else if reached.iter().any(|f| f.opaque) {
        None
    } else {
        Some(false)
    }
}

/// What a callable argument (or expectation value) contributes.
fn checks_of(functions: &Functions, arg: Option<&Arg>, at: Span) -> Checks {
    match arg {
        None | Some(Arg::None) => Some(false),
        Some(Arg::Function(_)) => asserts(functions, callable(functions, arg?, at)?),
        Some(Arg::Unknown) => None,
        // `expect_success()` and other expectation values check by themselves.
        Some(_) => Some(true),
    }
}

fn either(a: Checks, b: Checks) -> Checks {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn def_test(functions: &Functions, e: &Entry) -> Option<Severity> {
    let roots: Vec<_> = functions.defs(&e.name).filter(|f| f.top_level).collect();
    if roots.is_empty() {
        return None;
    }
    (asserts(functions, roots) == Some(false)).then_some(Severity::Warning)
}

fn test_builtin(model: &Model, functions: &Functions, call: &Call) -> Option<Severity> {
    if call.record.named("expect").is_some() {
        return None;
    }
    let (body, at) = match call.record.named("body") {
        Some(b) => (Some(b), model.value_span(call, "body")),
        None => (call.record.positional.get(1), model.positional_span(call, 1)),
    };
    body?;
    let setup = checks_of(functions, call.record.named("setup"), model.value_span(call, "setup"));
    (either(checks_of(functions, body, at), setup) == Some(false)).then_some(Severity::Warning)
}

/// A `scenario(fn)` test whose function no matrix or `fault_scenario` uses as a probe.
fn standalone_scenario(model: &Model, functions: &Functions, call: &Call) -> Option<Severity> {
    let Some(Arg::Function(name)) = call.record.positional.first() else { return None };
    if used_as_probe(model, name) {
        return None;
    }
    let at = model.positional_span(call, 0);
    (checks_of(functions, call.record.positional.first(), at) == Some(false)).then_some(Severity::Note)
}

fn used_as_probe(model: &Model, name: &str) -> bool {
    let is = |a: &Arg| matches!(a, Arg::Function(f) if f == name);
    model.every_call_of(builtins::FAULT_SCENARIO).any(|c| c.record.named("scenario").is_some_and(is))
        || model.every_call_of(builtins::FAULT_MATRIX).any(|c| match c.record.named("scenarios") {
            Some(Arg::List(items)) => items.iter().any(is),
            _ => false,
        })
}

fn fault_scenario(model: &Model, functions: &Functions, call: &Call) -> Option<Severity> {
    let record = &call.record;
    let monitored = has_monitors(record.named("monitors")) || faults_monitored(record.named("faults"));
    if monitored {
        return None;
    }
    let expect = checks_of(functions, record.named("expect"), model.value_span(call, "expect"));
    let scenario = checks_of(functions, record.named("scenario"), model.value_span(call, "scenario"));
    (either(expect, scenario) == Some(false)).then_some(Severity::Note)
}

fn has_monitors(arg: Option<&Arg>) -> bool {
    matches!(arg, Some(Arg::List(items)) if !items.is_empty())
}

/// Whether an assumption (or a list of them) carries monitors, children included.
fn faults_monitored(arg: Option<&Arg>) -> bool {
    match arg {
        Some(Arg::List(items)) => items.iter().any(|a| faults_monitored(Some(a))),
        Some(Arg::Record(r)) => assumption_monitored(r),
        _ => false,
    }
}

fn assumption_monitored(r: &Recorded) -> bool {
    r.ty == "fault_assumption" && (has_monitors(r.named("monitors")) || faults_monitored(r.named("faults")))
}

/// TOP312 (note) once per matrix, listing the cells with no expectation, no monitor and a
/// scenario that asserts nothing.
fn smoke_cells(model: &Model, functions: &Functions, call: &Call, out: &mut Vec<Diagnostic>) {
    let record = &call.record;
    if has_monitors(record.named("monitors")) {
        return;
    }
    let default = checks_of(functions, record.named("default_expect"), model.value_span(call, "default_expect"));
    let overrides = overrides(model, functions, call);
    // Looked up once per cell (scenarios × faults): by key, the first override of a cell
    // winning as in a scan of the list.
    let mut by_cell: HashMap<(&str, &str), Checks> = HashMap::default();
    for ((s, f), checks) in &overrides {
        by_cell.entry((s.as_str(), f.as_str())).or_insert(*checks);
    }
    let list = |k: &str| match record.named(k) {
        Some(Arg::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut smoke = Vec::new();
    for s in list("scenarios") {
        let Some(s_name) = key_name(&s) else { continue };
        let scenario = match &s {
            Arg::Function(n) if n != "lambda" => asserts(functions, functions.defs(n).collect()),
            _ => None,
        };
        for f in list("faults") {
            let Some(f_name) = key_name(&f) else { continue };
            if f.record().is_some_and(|r| assumption_monitored(r)) {
                continue;
            }
            let expect = by_cell.get(&(s_name.as_str(), f_name.as_str())).map_or(default, |c| *c);
            if either(expect, scenario) == Some(false) {
                smoke.push(format!("test_matrix_{s_name}_{f_name}"));
            }
        }
    }
    if smoke.is_empty() {
        return;
    }
    out.push(
        Diagnostic::new(
            "TOP312",
            Severity::Note,
            model.callee_span(call),
            format!(
                "{} matrix cell{} assert nothing: {}",
                smoke.len(),
                if smoke.len() == 1 { "" } else { "s" },
                smoke.join(", ")
            ),
        )
        .with_note(
            "a cell without `default_expect`, override or monitor is a smoke test: it passes unless the scenario fails",
        )
        .with_help("add `default_expect=` (or an override) that asserts on the scenario's result"),
    );
}

/// Each override's cell and what its expectation contributes.
fn overrides(model: &Model, functions: &Functions, call: &Call) -> Vec<((String, String), Checks)> {
    let Some(Arg::Dict(entries)) = call.record.named("overrides") else { return Vec::new() };
    let whole = model.value_span(call, "overrides");
    let spans = entry_spans(model, whole, entries.len());
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, (k, v))| {
            let Arg::Tuple(pair) = k else { return None };
            let (s, f) = (key_name(pair.first()?)?, key_name(pair.get(1)?)?);
            let at = spans.as_ref().and_then(|s| s.get(i)).map_or(whole, |(_, v)| *v);
            Some(((s, f), checks_of(functions, Some(v), at)))
        })
        .collect()
}
