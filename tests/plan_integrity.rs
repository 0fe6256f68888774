//! `ospecc run plan.json` trusts only what the plan's own sources say: an edited source, an
//! edited launch entry, monitor or rule, and a plan that breaks the IR's invariants are each
//! refused with exit 2 before anything starts, naming what is wrong.

mod common;

use std::time::Duration;

use common::{ospecc_with, repo_root, Run};
use serde_json::Value;

fn ospecc(args: &[&str]) -> Run {
    ospecc_with(&repo_root(), args, None, &[], Duration::from_secs(120))
}

/// The example's plan, as JSON.
fn built() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    ospecc(&["build", "examples/users-api/users.star", "-o", path.to_str().unwrap()]).expect(0);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Runs an edited plan (only one test is selected: an accepted plan would start services).
fn run_edited(plan: &Value) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, serde_json::to_string(plan).unwrap()).unwrap();
    ospecc(&["run", path.to_str().unwrap(), "--test", "no_such_test_selected"])
}

fn refused(plan: &Value, why: &str) {
    let run = run_edited(plan);
    run.expect(2);
    assert!(run.stderr.contains("cannot be trusted"), "{}", run.text());
    assert!(run.stderr.contains(why), "expected `{why}`:\n{}", run.text());
}

#[test]
fn an_untouched_plan_is_accepted() {
    // It passes verification and reaches test selection (which then names the tests).
    let run = run_edited(&built());
    run.expect(2);
    assert!(!run.stderr.contains("cannot be trusted"), "{}", run.text());
    assert!(run.stderr.contains("no test has that name"), "{}", run.text());
}

#[test]
fn edits_and_broken_invariants_are_refused() {
    let plan = built();

    let mut edited = plan.clone();
    let text = edited["sources"][0]["text"].as_str().unwrap().replace("assert_eq", "print");
    edited["sources"][0]["text"] = Value::String(text);
    refused(&edited, "does not match its sha256");

    let mut launch = plan.clone();
    let api = launch["services"].as_array_mut().unwrap().iter_mut().find(|s| s["name"] == "api").unwrap();
    api["launch"] = serde_json::json!({"kind": "binary", "path": "/bin/sh", "args": ["-c", "echo owned"]});
    refused(&launch, "the services (launch entries");

    let mut rules = plan.clone();
    let test = rules["tests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| !t["proxy_rules"].as_array().unwrap().is_empty())
        .unwrap();
    test["proxy_rules"] = serde_json::json!([]);
    refused(&rules, "the tests (callables, fault rules");

    let mut twice = plan.clone();
    let first = twice["services"][0].clone();
    twice["services"].as_array_mut().unwrap().push(first);
    refused(&twice, "two services are named `cache`");

    let mut unknown = plan.clone();
    unknown["services"][2]["depends_on"] = serde_json::json!(["cache", "ghost", "api"]);
    refused(&unknown, "depends on `ghost`, which is not a service");
    refused(&unknown, "service `api` depends on itself");

    let mut odds = plan.clone();
    let test = odds["tests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| !t["syscall_rules"].as_array().unwrap().is_empty())
        .unwrap();
    test["syscall_rules"][0]["probability"] = serde_json::json!(5.0);
    test["syscall_rules"][0]["action"] = serde_json::json!({"kind": "deny", "errno": "EBOGUS"});
    refused(&odds, "has probability 5");
    refused(&odds, "unknown errno `EBOGUS`");
}
