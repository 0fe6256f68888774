//! Run diagnostics (reference §3.8): what a test's outcome means given the faults it ran
//! under. A fault that never fired proves nothing; a fault that fired in a test that passed
//! deserves a look at what the test asserts; a test that asserted nothing passed vacuously; a
//! timeout is told apart by whether a fault was firing. Codes are attached here, from facts,
//! never guessed from message text.

use std::collections::BTreeSet;

use ospecc_schema::plan::topology::Test;

use super::Rule;
use crate::events::Event;
use crate::report::{ItemResult, Outcome, RunDiagnostic};

/// What the test's run looked like, for its diagnostics.
pub struct TestFacts<'a> {
    pub test: &'a Test,
    pub installed: &'a [Rule],
    pub timed_out: bool,
    /// A service that crashed during the test, with the cause.
    pub crashed: Option<(String, String)>,
}

/// The diagnostics of one test; with `require_faults_fire`, an unfired fault fails it.
pub fn test(facts: &TestFacts, result: &mut ItemResult) {
    let faults: Vec<&Rule> = facts.installed.iter().filter(|r| !r.is_trace()).collect();
    let fired: Vec<&&Rule> = faults.iter().filter(|r| r.fired() > 0).collect();
    // An exhaustive rule whose leaf gives it no fire is silent on purpose.
    let unfired: Vec<&&Rule> = faults.iter().filter(|r| r.fired() == 0 && !r.silent_by_schedule()).collect();
    let mut found = Vec::new();
    for rule in &unfired {
        let why = if rule.matched() == 0 {
            "nothing it matches happened"
        } else {
            "it matched, but its probability or max_fires never let it fire"
        };
        found.push(diagnostic(
            if facts.test.require_faults_fire { "error" } else { "warning" },
            "FAULT_NOT_FIRED",
            format!("{} (scope `{}`) never fired: {why}", rule.describe(), rule.scope()),
            Some(
                "check the rule's target and matchers against what the scenario does, or drive traffic that reaches it",
            ),
        ));
    }
    if facts.test.require_faults_fire && !unfired.is_empty() && result.outcome == Outcome::Passed {
        result.outcome = Outcome::Failed;
        result.message = Some(format!("require_faults_fire: {} fault(s) never fired", unfired.len()));
    }
    if let Some((service, cause)) = &facts.crashed {
        found.push(diagnostic(
            "error",
            "SERVICE_CRASHED",
            format!("service `{service}` {cause} during the test"),
            Some("a service should degrade under a fault, not die: see its last output in the trace"),
        ));
    }
    if facts.timed_out {
        let (code, text) = match (fired.is_empty(), faults.is_empty()) {
            (false, _) => ("TIMEOUT_DURING_FAULT", "the test timed out while a fault was firing"),
            (true, false) => ("TIMEOUT_NO_FAULT_FIRED", "the test timed out and none of its faults fired"),
            (true, true) => ("TIMEOUT_NO_FAULTS", "the test timed out with no fault installed"),
        };
        found.push(diagnostic("error", code, text.to_owned(), None));
    }
    if result.outcome == Outcome::Passed {
        if result.assertions == 0 {
            found.push(diagnostic(
                "warning",
                "TEST_NO_ASSERTIONS",
                "the test passed without evaluating a single assertion".to_owned(),
                Some("assert on the scenario's result (assert_eq, assert_true, an expect= callable)"),
            ));
        }
        // The test's own assumptions (a fault_scenario or matrix cell) with no expectation:
        // nothing checked how the system handled the fault. (A body that applies a fault
        // itself asserts on it in the same body.)
        let unchecked: Vec<&&&Rule> =
            fired.iter().filter(|r| facts.test.faults.iter().any(|f| r.scope().split('+').any(|s| s == f))).collect();
        if !unchecked.is_empty() && facts.test.expect.is_none() {
            let names: BTreeSet<String> = unchecked.iter().map(|r| r.describe()).collect();
            found.push(diagnostic(
                "info",
                "FAULT_FIRED_BUT_SUCCESS",
                format!("{} fired and the test still passed", names.into_iter().collect::<Vec<_>>().join(", ")),
                Some("if the fault should be visible, assert on how the system handled it"),
            ));
        }
    }
    result.diagnostics.extend(found);
}

/// INSTANCES_NOT_EXPLORED (info): leaves past `--max-instances`, or `parallel` interleavings
/// (which this runtime does not fan out), that did not run.
pub fn instances_not_explored(message: String) -> RunDiagnostic {
    diagnostic(
        "info",
        "INSTANCES_NOT_EXPLORED",
        message,
        Some("raise --max-instances to run more leaves; parallel() runs its functions in one order"),
    )
}

/// NO_POSITIVE_CONTROL: an interface some test stepped, but no passing test without a fired
/// fault saw a successful step on it (so nothing shows it works when nothing is wrong).
pub fn suite(results: &[ItemResult], events: &[Event]) -> Vec<RunDiagnostic> {
    let mut stepped = BTreeSet::new();
    let mut controlled = BTreeSet::new();
    for result in results {
        let slice = result.events(events);
        let faulted = slice.iter().any(|e| {
            e.kind == "proxy"
                || (e.kind == "syscall" && e.fields.get("decision").and_then(|d| d.as_str()) != Some("allow"))
        });
        for event in slice.iter().filter(|e| e.kind == "step") {
            let target = format!(
                "{}.{}",
                event.fields.get("target").and_then(|v| v.as_str()).unwrap_or_default(),
                event.fields.get("interface").and_then(|v| v.as_str()).unwrap_or_default()
            );
            let ok = event.fields.get("ok").and_then(|v| v.as_bool()).unwrap_or(false);
            if ok && !faulted && result.outcome == Outcome::Passed {
                controlled.insert(target.clone());
            }
            stepped.insert(target);
        }
    }
    stepped
        .difference(&controlled)
        .map(|target| {
            diagnostic(
                "warning",
                "NO_POSITIVE_CONTROL",
                format!("`{target}` is stepped, but no passing fault-free test saw a successful step on it"),
                Some("add a test that exercises it with no fault, so a failure under a fault means something"),
            )
        })
        .collect()
}

fn diagnostic(level: &str, code: &str, message: String, suggestion: Option<&str>) -> RunDiagnostic {
    RunDiagnostic { level: level.to_owned(), code: code.to_owned(), message, suggestion: suggestion.map(str::to_owned) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::rules::{Install, Table};
    use ospecc_schema::plan::topology::{Callable, ProxyAction, ProxyRule, TestKind};
    use ospecc_schema::plan::Origin;

    fn origin() -> Origin {
        Origin { file: "t.star".into(), line: 1, column: 1 }
    }

    fn test(require: bool) -> Test {
        let body = Callable { id: "t.star#body".into(), name: "body".into() };
        let mut test = Test::new("test_x".into(), TestKind::MatrixCell, origin(), body);
        test.faults = vec!["down".into()];
        test.require_faults_fire = require;
        test
    }

    fn rule(table: &Table<ProxyRule>) -> Rule {
        let rule = ProxyRule {
            service: "db".into(),
            interface: "pg".into(),
            protocol: "postgres".into(),
            action: ProxyAction::Drop,
            matchers: vec![],
            probability: 1.0,
            assumption: "down".into(),
            origin: origin(),
        };
        Rule::Proxy(table.install(Install { rule, scope: "down".into(), probability: 1.0, max_fires: None }))
    }

    fn result(outcome: Outcome, assertions: u32) -> ItemResult {
        ItemResult { assertions, ..ItemResult::sample("test_x", outcome) }
    }

    fn codes(result: &ItemResult) -> Vec<(&str, &str)> {
        result.diagnostics.iter().map(|d| (d.level.as_str(), d.code.as_str())).collect()
    }

    #[test]
    fn an_unfired_fault_warns_and_fails_with_require_faults_fire() {
        let table = Table::new(0);
        let installed = [rule(&table)];
        let mut lenient = result(Outcome::Passed, 1);
        super::test(
            &TestFacts { test: &test(false), installed: &installed, timed_out: false, crashed: None },
            &mut lenient,
        );
        assert_eq!((lenient.outcome, codes(&lenient)), (Outcome::Passed, vec![("warning", "FAULT_NOT_FIRED")]));
        let mut strict = result(Outcome::Passed, 1);
        super::test(
            &TestFacts { test: &test(true), installed: &installed, timed_out: false, crashed: None },
            &mut strict,
        );
        assert_eq!((strict.outcome, codes(&strict)), (Outcome::Failed, vec![("error", "FAULT_NOT_FIRED")]));
    }

    #[test]
    fn an_exhaustive_rule_its_leaf_keeps_silent_is_not_reported_unfired() {
        let table = Table::new(0);
        let Rule::Proxy(template) = rule(&table) else { return };
        let install = |mask| {
            let install =
                Install { rule: template.rule.clone(), scope: "down".into(), probability: 0.5, max_fires: Some(2) };
            Rule::Proxy(table.install_scheduled(install, Some(crate::explore::Schedule { mask, bits: 2 })))
        };
        let mut silent = result(Outcome::Passed, 1);
        let installed = [install(0)];
        super::test(
            &TestFacts { test: &test(true), installed: &installed, timed_out: false, crashed: None },
            &mut silent,
        );
        assert_eq!((silent.outcome, codes(&silent)), (Outcome::Passed, vec![]));
        let mut unreached = result(Outcome::Passed, 1);
        let installed = [install(0b01)];
        super::test(
            &TestFacts { test: &test(true), installed: &installed, timed_out: false, crashed: None },
            &mut unreached,
        );
        assert_eq!(codes(&unreached), vec![("error", "FAULT_NOT_FIRED")], "a planned fire that never came");
    }

    #[test]
    fn timeouts_say_whether_a_fault_was_firing() {
        let table = Table::new(0);
        let installed = [rule(&table)];
        let timeout = |installed: &[Rule]| {
            let mut r = result(Outcome::Errored, 0);
            super::test(&TestFacts { test: &test(false), installed, timed_out: true, crashed: None }, &mut r);
            r.diagnostics.iter().map(|d| d.code.clone()).filter(|c| c.starts_with("TIMEOUT")).collect::<Vec<_>>()
        };
        assert_eq!(timeout(&[]), vec!["TIMEOUT_NO_FAULTS"]);
        assert_eq!(timeout(&installed), vec!["TIMEOUT_NO_FAULT_FIRED"]);
        assert!(table.first_firing(|_| true).is_some());
        assert_eq!(timeout(&installed), vec!["TIMEOUT_DURING_FAULT"]);
    }

    #[test]
    fn a_fired_assumption_without_expectation_and_a_vacuous_pass_are_reported() {
        let table = Table::new(0);
        let installed = [rule(&table)];
        assert!(table.first_firing(|_| true).is_some());
        let mut r = result(Outcome::Passed, 0);
        super::test(&TestFacts { test: &test(false), installed: &installed, timed_out: false, crashed: None }, &mut r);
        assert_eq!(codes(&r), vec![("warning", "TEST_NO_ASSERTIONS"), ("info", "FAULT_FIRED_BUT_SUCCESS")]);
        let crashed = Some(("db".to_owned(), "exited with code 1".to_owned()));
        let mut r = result(Outcome::Errored, 1);
        super::test(&TestFacts { test: &test(false), installed: &installed, timed_out: false, crashed }, &mut r);
        assert_eq!(codes(&r), vec![("error", "SERVICE_CRASHED")]);
    }
}
