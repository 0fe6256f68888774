//! Tests from every source, named as Faultbox names them (reference §4.1): global
//! `def test_*`, `scenario(fn)`, `fault_scenario("x")`, `fault_matrix` cells and `test("x")`.
//! On a name clash the higher-precedence source wins (the static checks report the clash);
//! among fault scenarios and matrix cells a later registration replaces an earlier one.

use ospecc_schema::topology::builtins;
use std::collections::BTreeMap;
use std::sync::Arc;

use ospecc_schema::plan::topology::{Callable, MatrixCell, ProxyRule, SyscallRule, Test, TestKind};
use ospecc_schema::plan::Origin;

use super::faults::{self, records, Assumptions, Resolved};
use super::monitors::Monitors;
use super::services::duration_ms;
use super::{instances, Cx};
use crate::topology::functions::Function as Def;
use crate::topology::values::Function;
use crate::topology::{Arg, Recorded};

/// Precedence of each kind on a name clash (lower wins; equal: the later registration wins).
fn precedence(kind: TestKind) -> u8 {
    match kind {
        TestKind::Def => 1,
        TestKind::Scenario => 2,
        TestKind::FaultScenario | TestKind::MatrixCell => 3,
        TestKind::Test => 4,
    }
}

/// Every test, sorted by name.
pub(super) fn lower(cx: &Cx, assumptions: &Assumptions, monitors: &Monitors) -> Vec<Test> {
    let mut found: Vec<Test> = Vec::new();
    found.extend(defs(cx));
    found.extend(cx.calls_of(builtins::SCENARIO).filter_map(|call| scenario(cx, call)));
    for call in cx.evaluated.calls.iter() {
        match call.builtin.as_str() {
            builtins::FAULT_SCENARIO => found.extend(fault_scenario(cx, assumptions, monitors, call)),
            builtins::FAULT_MATRIX => found.extend(matrix(cx, assumptions, monitors, call)),
            _ => {}
        }
    }
    found.extend(cx.calls_of(builtins::TEST).filter_map(|call| builtin_test(cx, call)));
    let spec_wide = monitors.spec_wide();
    let mut by_name: BTreeMap<String, Test> = BTreeMap::new();
    for mut test in found {
        let mut names = spec_wide.clone();
        names.append(&mut test.monitors);
        test.monitors = names;
        test.scoped_faults = scoped_faults(cx, assumptions, &test);
        test.instances = instances::count(cx, &roots(cx, &test), &test.syscall_rules);
        match by_name.get(&test.name) {
            Some(existing) if precedence(existing.kind) < precedence(test.kind) => {}
            _ => {
                by_name.insert(test.name.clone(), test);
            }
        }
    }
    by_name.into_values().collect()
}

/// Global `def test_*()` functions (defined here or loaded).
fn defs(cx: &Cx) -> Vec<Test> {
    cx.evaluated
        .globals
        .iter()
        .filter(|g| g.name.starts_with("test_"))
        .filter_map(|g| match &g.value {
            Arg::Function(f) => Some(Test::new(g.name.clone(), TestKind::Def, def_origin(cx, f), cx.callable(f))),
            _ => None,
        })
        .collect()
}

/// Where a function is defined: its `def` in the root file, else the start of its file.
fn def_origin(cx: &Cx, f: &Function) -> Origin {
    let in_root = f.file.is_empty() || f.file == cx.evaluated.root;
    let def = cx.evaluated.syntax.as_ref().filter(|_| in_root).and_then(|s| s.defs.iter().find(|d| d.name == f.name));
    match def {
        Some(def) => cx.root_origin(def.name_span),
        None => cx.bundle.origin(&f.file, crate::span::Span::at(0)),
    }
}

fn scenario(cx: &Cx, call: &Recorded) -> Option<Test> {
    let Some(Arg::Function(f)) = call.positional.first() else { return None };
    Some(Test::new(format!("test_{}", f.name), TestKind::Scenario, cx.origin(call), cx.callable(f)))
}

fn fault_scenario(cx: &Cx, assumptions: &Assumptions, monitors: &Monitors, call: &Recorded) -> Option<Test> {
    let name = call.name()?;
    let Some(Arg::Function(body)) = call.named("scenario") else { return None };
    let mut test = Test::new(format!("test_{name}"), TestKind::FaultScenario, cx.origin(call), cx.callable(body));
    let applied: Vec<Resolved> = records(call.named("faults")).map(|a| assumptions.get(cx, a)).collect();
    apply(&mut test, &applied, monitors);
    test.monitors.extend(monitors.names_of(records(call.named("monitors"))));
    test.expect = function(call.named("expect")).map(|f| cx.callable(f));
    test.timeout_ms = timeout(call);
    Some(test)
}

/// Applies assumptions one after another, as `fault_scenario(faults=[a, b])` does: per
/// service, the syscall rules of a later assumption replace the earlier ones; proxy rules and
/// monitors accumulate.
fn apply(test: &mut Test, applied: &[Resolved], monitors: &Monitors) {
    for assumption in applied {
        let services: Vec<&str> = assumption.syscall_rules.iter().map(|r| r.service.as_str()).collect();
        test.syscall_rules.retain(|r| !services.contains(&r.service.as_str()));
        test.syscall_rules.extend(assumption.syscall_rules.iter().cloned());
        test.proxy_rules.extend(assumption.proxy_rules.iter().cloned());
        test.monitors.extend(monitors.names_of(assumption.monitors.iter()));
        test.faults.push(assumption.name.clone());
    }
    sort_rules(&mut test.syscall_rules, &mut test.proxy_rules);
}

fn sort_rules(syscall: &mut [SyscallRule], proxy: &mut [ProxyRule]) {
    syscall.sort_by(|a, b| (&a.service, &a.key).cmp(&(&b.service, &b.key)));
    proxy.sort_by(|a, b| (&a.service, &a.interface).cmp(&(&b.service, &b.interface)));
}

/// The cells of one `fault_matrix` (reference §4.2).
fn matrix(cx: &Cx, assumptions: &Assumptions, monitors: &Monitors, call: &Arc<Recorded>) -> Vec<Test> {
    let list = |key: &str| match call.named(key) {
        Some(Arg::List(items) | Arg::Tuple(items)) => items.clone(),
        _ => Vec::new(),
    };
    let pair = |arg: &Arg| match arg {
        Arg::Tuple(pair) | Arg::List(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
            (Arg::Function(s), Arg::Record(f)) => Some((s.name.clone(), f.name().unwrap_or_default().to_owned())),
            _ => None,
        },
        _ => None,
    };
    let excluded: Vec<(String, String)> = list("exclude").iter().filter_map(pair).collect();
    let overrides: Vec<((String, String), Function)> = match call.named("overrides") {
        Some(Arg::Dict(entries)) => {
            entries.iter().filter_map(|(k, v)| Some((pair(k)?, function(Some(v))?.clone()))).collect()
        }
        _ => Vec::new(),
    };
    let default_expect = function(call.named("default_expect"));
    let require_faults_fire = matches!(call.named("require_faults_fire"), Some(Arg::Bool(true)));
    let origin = cx.origin(call);
    let claimed = monitors.names_of(records(call.named("monitors")));
    let mut cells = Vec::new();
    for scenario in list("scenarios").iter().filter_map(|s| function(Some(s))) {
        for fault in list("faults").iter().filter_map(Arg::record) {
            let fault_name = fault.name().unwrap_or_default().to_owned();
            let key = (scenario.name.clone(), fault_name.clone());
            if excluded.contains(&key) {
                continue;
            }
            let name = format!("test_matrix_{}_{}", scenario.name, fault_name);
            let mut test = Test::new(name, TestKind::MatrixCell, origin.clone(), cx.callable(scenario));
            let over = overrides.iter().find(|(k, _)| *k == key).map(|(_, f)| f);
            (test.expect, test.expect_source) = match (over, default_expect) {
                (Some(f), _) => (Some(cx.callable(f)), Some("override".to_owned())),
                (None, Some(f)) => (Some(cx.callable(f)), Some("default_expect".to_owned())),
                (None, None) => (None, Some("smoke".to_owned())),
            };
            apply(&mut test, &[assumptions.get(cx, fault)], monitors);
            test.monitors.extend(claimed.iter().cloned());
            test.matrix =
                Some(MatrixCell { origin: origin.clone(), scenario: scenario.name.clone(), fault: fault_name });
            test.require_faults_fire = require_faults_fire;
            cells.push(test);
        }
    }
    cells
}

fn builtin_test(cx: &Cx, call: &Recorded) -> Option<Test> {
    let name = call.name()?;
    let body = function(call.positional.get(1).or_else(|| call.named("body")))?;
    let mut test = Test::new(format!("test_{name}"), TestKind::Test, cx.origin(call), cx.callable(body));
    test.setup = function(call.named("setup")).map(|f| cx.callable(f));
    // `expect=` is an `eventually(...)`/`always(...)` expectation: its predicate decides.
    if let Some(expectation) = call.named("expect").and_then(Arg::record) {
        test.expect = function(expectation.positional.first()).map(|f| cx.callable(f));
        test.expect_source = Some(expectation.builtin.clone());
    }
    test.timeout_ms = timeout(call);
    Some(test)
}

fn function(arg: Option<&Arg>) -> Option<&Function> {
    match arg {
        Some(Arg::Function(f)) => Some(f),
        _ => None,
    }
}

fn timeout(call: &Recorded) -> u64 {
    call.named("timeout").and_then(Arg::as_str).and_then(duration_ms).unwrap_or(Test::DEFAULT_TIMEOUT_MS)
}

/// The root-file functions a test runs: its body, setup and expectation (named `def`s; a
/// lambda cannot be found by name), for the static reading of what they call.
fn roots<'c>(cx: &'c Cx, test: &Test) -> Vec<&'c Def> {
    let Some(functions) = &cx.functions else { return Vec::new() };
    let names = [Some(&test.body), test.expect.as_ref(), test.setup.as_ref()];
    let root_file = cx.bundle.path_of(&cx.evaluated.root);
    let in_root = |c: &Callable| c.id.split_once('#').is_some_and(|(file, _)| file == root_file);
    let roots: Vec<&Def> =
        names.into_iter().flatten().filter(|c| in_root(c)).flat_map(|c| functions.defs(&c.name)).collect();
    functions.reachable(roots)
}

/// The faults the test's functions apply themselves, in source order.
fn scoped_faults(cx: &Cx, assumptions: &Assumptions, test: &Test) -> Vec<ospecc_schema::plan::topology::ScopedFault> {
    let reachable = roots(cx, test);
    let Some(functions) = &cx.functions else { return Vec::new() };
    let mut out: Vec<_> = cx
        .body_calls
        .iter()
        .filter(|call| {
            functions.enclosing(call.record.span).is_some_and(|f| reachable.iter().any(|r| r.span == f.span))
        })
        .filter_map(|call| faults::scoped(cx, assumptions, call))
        .map(|s| s.fault)
        .collect();
    out.sort_by(|a, b| a.origin.cmp(&b.origin));
    out
}
