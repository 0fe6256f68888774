//! `ospecc plan --coverage`, `--suggest` and `--min-coverage` through the binary: golden human
//! and JSON reports for the example, a reference pattern with a gap and a spec without fault
//! tests, and the stubs `--suggest` prints, which check clean and close every gap once pasted.
//!
//! `OSPECC_BLESS=1 cargo test --test coverage` rewrites the goldens; review the diff.

mod common;

use std::path::Path;

use common::{ospecc, project, repo_root};

/// The specs and the name of their goldens.
const SPECS: &[(&str, &str)] = &[
    ("examples/users-api/users.star", "users"),
    ("tests/fixtures/topology/pattern-3.star", "pattern-3"),
    ("tests/coverage/untested.star", "untested"),
];

fn bless() -> bool {
    std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1")
}

fn assert_golden(name: &str, actual: &str) {
    let golden = repo_root().join("tests/coverage/golden").join(name);
    if bless() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("{} is missing: run with OSPECC_BLESS=1", golden.display()));
    assert_eq!(actual, expected, "{name} differs from its golden");
}

#[test]
fn golden_reports() {
    for (spec, name) in SPECS {
        let text = ospecc(&repo_root(), &["plan", "--coverage", spec]);
        text.expect(0);
        assert_golden(&format!("{name}.txt"), &text.stdout);
        let json = ospecc(&repo_root(), &["plan", "--coverage", "--suggest", "--format", "json", spec]);
        json.expect(0);
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
        assert!(value["coverage"]["edges"].is_array() && value["suggestions"]["targets"].is_array(), "{value}");
        assert_golden(&format!("{name}.json"), &json.stdout);
        let stubs = ospecc(&repo_root(), &["plan", "--suggest", spec]);
        stubs.expect(0);
        assert_golden(&format!("{name}.suggest.star"), &stubs.stdout);
    }
}

#[test]
fn min_coverage_gates() {
    let run = |spec: &str, min: &str| ospecc(&repo_root(), &["plan", "--min-coverage", min, "--format", "json", spec]);
    run("examples/users-api/users.star", "100").expect(0);
    run("tests/fixtures/topology/pattern-3.star", "60").expect(0);
    let below = run("tests/fixtures/topology/pattern-3.star", "70%");
    below.expect(1);
    assert!(
        below.stderr.contains("fault coverage is 66.7% (2 of 3 edges), below --min-coverage 70%"),
        "{}",
        below.text()
    );
    let none = run("tests/coverage/untested.star", "1");
    none.expect(1);
    let bad = run("tests/coverage/untested.star", "101");
    bad.expect(2);
    let dot = ospecc(&repo_root(), &["plan", "--coverage", "--format", "dot", "tests/coverage/untested.star"]);
    dot.expect(2);
}

/// Pastes `--suggest`'s output as it says (loads at the top, the rest at the end).
fn pasted(spec: &str, suggestion: &str) -> String {
    let (head, body) = suggestion.split_once("# At the end of the file:\n").expect("the stub's two parts");
    let loads: Vec<&str> = head.lines().filter(|l| l.starts_with("load(")).collect();
    format!("{}\n{spec}\n{body}", loads.join("\n"))
}

#[test]
fn pasted_stubs_check_clean_and_close_the_gaps() {
    for (spec, _) in SPECS {
        let text = std::fs::read_to_string(repo_root().join(spec)).unwrap();
        let suggestion = ospecc(&repo_root(), &["plan", "--suggest", spec]);
        suggestion.expect(0);
        if !suggestion.stdout.contains("# At the end of the file:") {
            assert!(suggestion.stdout.contains("nothing to suggest"), "{}", suggestion.text());
            continue;
        }
        let dir = project(&[("spec.star", pasted(&text, &suggestion.stdout).as_bytes())]);
        let before = ospecc(&repo_root(), &["check", "--format", "json", spec]);
        let after = ospecc(dir.path(), &["check", "--format", "json", "spec.star"]);
        let (after, before) = (codes(&after.stdout), codes(&before.stdout));
        let added: Vec<&String> = after.iter().filter(|c| !before.contains(c)).collect();
        assert!(added.is_empty(), "{spec}: pasting added findings {added:?}");
        let coverage = ospecc(dir.path(), &["plan", "--min-coverage", "100", "spec.star"]);
        coverage.expect(0);
    }
}

fn codes(json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut codes: Vec<String> = value["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_owned()))
        .collect();
    codes.sort();
    codes
}

#[test]
fn an_ospec_naming_a_topology_reports_the_topology() {
    let users = Path::new("examples/users-api/users.ospec.yml");
    let run = ospecc(&repo_root(), &["plan", "--coverage", users.to_str().unwrap()]);
    run.expect(0);
    assert!(run.stdout.starts_with("Fault coverage of users.star: 2 of 2"), "{}", run.text());
}
