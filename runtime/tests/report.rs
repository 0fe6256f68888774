//! Report outputs: human, JSON, JUnit, HTML, traces, and redaction across all of them.

use std::collections::BTreeMap;

use serde_json::json;

use ospecc_runtime::events::{fields, Event, EventLog};
use ospecc_runtime::report::human::{progress_line, summary};
use ospecc_runtime::report::{html, json as json_report, junit, redact_events, trace, Redactor};
use ospecc_runtime::report::{ItemKind, ItemResult, Outcome, RunDiagnostic, RunReport, ServiceResult, Summary};
use ospecc_schema::plan::topology::{Callable, MatrixCell, TestKind};
use ospecc_schema::plan::{Origin, Plan, Test, Totals};

const SECRET: &str = "s3cr&t<\"val>";

fn origin(line: u32) -> Origin {
    Origin { file: "spec.star".into(), line, column: 1 }
}

fn item(name: &str, kind: ItemKind, outcome: Outcome, message: Option<&str>, ms: f64, seqs: (u64, u64)) -> ItemResult {
    ItemResult {
        name: name.into(),
        kind,
        outcome,
        message: message.map(str::to_owned),
        duration_ms: ms,
        origin: Some(origin(10)),
        matrix: None,
        first_seq: seqs.0,
        end_seq: seqs.1,
        assertions: 1,
        diagnostics: Vec::new(),
    }
}

fn matrix_item(scenario: &str, fault: &str, outcome: Outcome, message: Option<&str>, seqs: (u64, u64)) -> ItemResult {
    let mut r = item(&format!("test_matrix_{scenario}_{fault}"), ItemKind::Test, outcome, message, 12.34, seqs);
    r.matrix = Some((scenario.into(), fault.into()));
    r
}

/// A run with every outcome, a 2×2 fault matrix with one excluded cell, and events with a
/// secret in a message, an event field and an HTTP header.
fn fixture() -> (RunReport, Vec<Event>, Plan) {
    let log = EventLog::default();
    // 0..3: test_matrix_order_db_down (failed)
    log.push("", "test_started", fields([("test", json!("test_matrix_order_db_down"))]));
    log.push("api", "stderr", fields([("line", json!("db connect failed <refused> & retry"))]));
    log.push("", "test_finished", fields([("outcome", json!("failed"))]));
    // 3..4: test_matrix_order_slow_disk (passed)
    log.push("", "test_finished", fields([("outcome", json!("passed"))]));
    // 4..6: test_matrix_refund_db_down (errored)
    log.push("", "test_started", fields([("test", json!("test_matrix_refund_db_down"))]));
    log.push("api", "service_exited", fields([("code", json!(1))]));
    // 6..9: endpoint.GET./orders (failed, with the secret)
    log.push("api", "probe_started", fields([("probe", json!("endpoint.GET./orders"))]));
    log.push(
        "api",
        "http",
        fields([
            ("method", json!("GET")),
            ("url", json!(format!("http://127.0.0.1:3000/orders?key={SECRET}"))),
            ("status", json!(500)),
            ("headers", json!({"Authorization": format!("Bearer {SECRET}")})),
        ]),
    );
    log.push("api", "probe_finished", fields([("outcome", json!("failed"))]));
    let events = log.since(0);

    let results = vec![
        matrix_item("order", "db_down", Outcome::Failed, Some("assertion failed: expected 503, got 200"), (0, 3)),
        matrix_item("order", "slow_disk", Outcome::Passed, None, (3, 4)),
        matrix_item("refund", "db_down", Outcome::Errored, Some("service api exited with code 1"), (4, 6)),
        ItemResult {
            diagnostics: vec![RunDiagnostic {
                level: "warning".into(),
                code: "TEST_NO_ASSERTIONS".into(),
                message: "the test passed without evaluating a single assertion".into(),
                suggestion: Some("assert on the <result>".into()),
            }],
            ..item("test_happy", ItemKind::Test, Outcome::Passed, None, 5.0, (6, 6))
        },
        item("test_partition", ItemKind::Test, Outcome::NotRun, Some("needs fault injection"), 0.0, (6, 6)),
        item(
            "endpoint.GET./orders",
            ItemKind::Probe,
            Outcome::Failed,
            Some(&format!("GET /orders: expected status 200, got 500; body: <b>token {SECRET}</b>")),
            3.21,
            (6, 9),
        ),
        item("endpoint.GET./admin", ItemKind::Probe, Outcome::Skipped, Some("needs auth"), 0.0, (9, 9)),
        ItemResult {
            origin: None,
            assertions: 0,
            diagnostics: Vec::new(),
            ..item(
                "acceptance.performance.lighthouse_score",
                ItemKind::Unverifiable,
                Outcome::Unverifiable,
                Some("needs a browser"),
                0.0,
                (9, 9),
            )
        },
    ];
    let report = RunReport {
        diagnostics: vec![RunDiagnostic {
            level: "warning".into(),
            code: "NO_POSITIVE_CONTROL".into(),
            message: "`api.http` is stepped, but no passing fault-free test saw a successful step on it".into(),
            suggestion: None,
        }],
        root: "spec.star".into(),
        plan: None,
        shard: None,
        duration_ms: 1234.5,
        services: vec![
            ServiceResult { name: "api".into(), state: "ready".into(), message: None, ready_ms: Some(80.25) },
            ServiceResult {
                name: "db".into(),
                state: "failed".into(),
                message: Some("exited with code 2".into()),
                ready_ms: None,
            },
        ],
        summary: Summary::of(&results),
        results,
    };

    let callable = Callable { id: "spec.star#s".into(), name: "s".into() };
    let mut tests = vec![Test::new("test_happy".into(), TestKind::Def, origin(3), callable.clone())];
    for (scenario, fault) in [("order", "db_down"), ("order", "slow_disk"), ("refund", "db_down")] {
        let mut t =
            Test::new(format!("test_matrix_{scenario}_{fault}"), TestKind::MatrixCell, origin(20), callable.clone());
        t.matrix = Some(MatrixCell { origin: origin(20), scenario: scenario.into(), fault: fault.into() });
        tests.push(t);
    }
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    // From JSON, so fields the plan gains later (all optional) need no change here.
    let mut plan: Plan = serde_json::from_value(json!({
        "version": 1, "root": "spec.star", "options": {}, "services": [], "tests": [], "monitors": [],
        "totals": Totals::default(), "sources": [],
    }))
    .unwrap();
    plan.tests = tests;
    (report, events, plan)
}

fn redactor() -> Redactor {
    let env: BTreeMap<String, String> = [("API_TOKEN".to_owned(), SECRET.to_owned())].into();
    Redactor::from_env(&[], &env, &[])
}

// ---------------------------------------------------------------------------------------------

#[test]
fn human_summary_lists_what_did_not_pass() {
    let (report, _, _) = fixture();
    let report = report.redacted(&redactor());
    assert_eq!(
        summary(&report),
        "service db failed: exited with code 2\n\
         FAIL    test_matrix_order_db_down: assertion failed: expected 503, got 200\n\
         FAIL    endpoint.GET./orders: GET /orders: expected status 200, got 500; body: <b>token [REDACTED]</b>\n\
         ERROR   test_matrix_refund_db_down: service api exited with code 1\n\
         NOT RUN test_partition: needs fault injection\n\
         SKIP    endpoint.GET./admin: needs auth\n\
         test_happy: warning[TEST_NO_ASSERTIONS]: the test passed without evaluating a single assertion (hint: assert on the <result>)\n\
         run: warning[NO_POSITIVE_CONTROL]: `api.http` is stepped, but no passing fault-free test saw a successful step on it\n\
         \n\
         2 passed, 2 failed, 1 errored, 1 skipped, 1 not run, 1 unverifiable in 1.23 s\n"
    );
    assert_eq!(progress_line(&report.results[1]), "PASS test_matrix_order_slow_disk (12 ms)");
    assert_eq!(progress_line(&report.results[6]), "SKIP endpoint.GET./admin (0 ms): needs auth");

    let clean = RunReport {
        results: vec![],
        services: vec![],
        diagnostics: vec![],
        summary: Summary::default(),
        duration_ms: 12.0,
        ..report
    };
    assert_eq!(summary(&clean), "0 passed, 0 failed, 0 errored, 0 skipped, 0 not run, 0 unverifiable in 12 ms\n");
}

#[test]
fn json_is_stable_and_complete() {
    let (report, _, _) = fixture();
    let mut report = report.redacted(&redactor());
    report.results.truncate(2);
    report.results[0].duration_ms = 12.345;
    report.summary = Summary::of(&report.results);
    report.services.truncate(1);
    let expected = r#"{
  "status": "failed",
  "exit_code": 1,
  "root": "spec.star",
  "duration_ms": 1234.5,
  "summary": {
    "total": 2,
    "passed": 1,
    "failed": 1,
    "errored": 0,
    "skipped": 0,
    "not_run": 0,
    "unverifiable": 0
  },
  "services": [
    {
      "name": "api",
      "state": "ready",
      "ready_ms": 80.3
    }
  ],
  "results": [
    {
      "name": "test_matrix_order_db_down",
      "kind": "test",
      "outcome": "failed",
      "message": "assertion failed: expected 503, got 200",
      "duration_ms": 12.3,
      "origin": {
        "file": "spec.star",
        "line": 10,
        "column": 1
      },
      "matrix": [
        "order",
        "db_down"
      ],
      "first_seq": 0,
      "end_seq": 3,
      "assertions": 1
    },
    {
      "name": "test_matrix_order_slow_disk",
      "kind": "test",
      "outcome": "passed",
      "duration_ms": 12.3,
      "origin": {
        "file": "spec.star",
        "line": 10,
        "column": 1
      },
      "matrix": [
        "order",
        "slow_disk"
      ],
      "first_seq": 3,
      "end_seq": 4,
      "assertions": 1
    }
  ]
}
"#;
    assert_eq!(json_report::render(&report), expected);

    // The whole fixture parses, with the exit status and counts.
    let (full, _, _) = fixture();
    let value: serde_json::Value = serde_json::from_str(&json_report::render(&full)).unwrap();
    assert_eq!(value["exit_code"], 1);
    assert_eq!(value["summary"]["total"], 8);
    assert_eq!(value["summary"]["not_run"], 1);
    assert_eq!(value["results"].as_array().unwrap().len(), 8);

    let passing =
        RunReport { results: vec![full.results[1].clone()], summary: Summary::of(&full.results[1..2]), ..full };
    let value: serde_json::Value = serde_json::from_str(&json_report::render(&passing)).unwrap();
    assert_eq!((value["status"].as_str(), value["exit_code"].as_i64()), (Some("passed"), Some(0)));
}

/// A minimal XML well-formedness check: tags balance, attributes are quoted, no raw `<` or `&`
/// in text or attribute values. Returns the element names in document order.
fn check_xml(xml: &str) -> Vec<String> {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(!text.contains('>'), "raw > in text {text:?}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"].iter().any(|e| entity.starts_with(e)),
                "raw & in {text:?}"
            );
        }
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        // Attribute values never contain < (it is escaped); quotes are balanced.
        assert!(!tag.contains('<'), "< inside tag {tag:?}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else {
            let name = tag.split([' ', '/']).next().unwrap().to_owned();
            names.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert!(rest.trim().is_empty());
    names
}

#[test]
fn junit_has_a_suite_per_kind_with_counts() {
    let (report, _, _) = fixture();
    let report = report.redacted(&redactor());
    let xml = junit::render(&report);
    let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="spec.star" tests="8" failures="2" errors="1" skipped="3" time="1.234">
  <testsuite name="tests" tests="5" failures="1" errors="1" skipped="1" time="0.042">
    <testcase name="test_matrix_order_db_down" classname="spec.star.tests" time="0.012" file="spec.star" line="10">
      <failure message="assertion failed: expected 503, got 200" type="failed">assertion failed: expected 503, got 200</failure>
    </testcase>
    <testcase name="test_matrix_order_slow_disk" classname="spec.star.tests" time="0.012" file="spec.star" line="10"/>
    <testcase name="test_matrix_refund_db_down" classname="spec.star.tests" time="0.012" file="spec.star" line="10">
      <error message="service api exited with code 1" type="errored">service api exited with code 1</error>
    </testcase>
    <testcase name="test_happy" classname="spec.star.tests" time="0.005" file="spec.star" line="10">
      <system-out>warning[TEST_NO_ASSERTIONS]: the test passed without evaluating a single assertion (hint: assert on the &lt;result&gt;)</system-out>
    </testcase>
    <testcase name="test_partition" classname="spec.star.tests" time="0.000" file="spec.star" line="10">
      <skipped message="not run: needs fault injection"/>
    </testcase>
  </testsuite>
  <testsuite name="probes" tests="2" failures="1" errors="0" skipped="1" time="0.003">
    <testcase name="endpoint.GET./orders" classname="spec.star.probes" time="0.003" file="spec.star" line="10">
      <failure message="GET /orders: expected status 200, got 500; body: &lt;b&gt;token [REDACTED]&lt;/b&gt;" type="failed">GET /orders: expected status 200, got 500; body: &lt;b&gt;token [REDACTED]&lt;/b&gt;</failure>
    </testcase>
    <testcase name="endpoint.GET./admin" classname="spec.star.probes" time="0.000" file="spec.star" line="10">
      <skipped message="needs auth"/>
    </testcase>
  </testsuite>
  <testsuite name="unverifiable" tests="1" failures="0" errors="0" skipped="1" time="0.000">
    <testcase name="acceptance.performance.lighthouse_score" classname="spec.star.unverifiable" time="0.000">
      <skipped message="unverifiable: needs a browser"/>
    </testcase>
  </testsuite>
</testsuites>
"#;
    assert_eq!(xml, expected);
    let names = check_xml(&xml);
    assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 8);
    assert_eq!(names.iter().filter(|n| *n == "testsuite").count(), 3);
    assert_eq!(names.iter().filter(|n| *n == "skipped").count(), 3);

    // Escaping of everything XML cannot carry raw, including control characters.
    let mut odd = report.clone();
    odd.results.truncate(1);
    odd.results[0].name = "a<b>&\"c'".into();
    odd.results[0].message = Some("line1\nline2 \u{1} <x>".into());
    let xml = junit::render(&odd);
    check_xml(&xml);
    assert!(xml.contains(r#"name="a&lt;b&gt;&amp;&quot;c&apos;""#));
    assert!(xml.contains("message=\"line1&#10;line2 \u{FFFD} &lt;x&gt;\""));
    assert!(xml.contains(">line1\nline2 \u{FFFD} &lt;x&gt;</failure>"));
}

#[test]
fn html_has_the_coloured_matrix_results_and_timelines() {
    let (report, events, plan) = fixture();
    let r = redactor();
    let page = html::render(&report.redacted(&r), Some(&plan), &redact_events(&events, &r));

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<style>") && !page.contains("<script") && !page.contains("<link"));
    assert!(!page.contains("src=") && !page.contains("href=\"http"), "no external assets");
    assert!(page.contains("<span class=\"verdict failed\">FAILED</span>"));
    assert!(page.contains("<li class=\"failed\">2 failed</li>"));
    assert!(
        page.contains("<ul class=\"diagnostics\"><li class=\"warning\">warning[TEST_NO_ASSERTIONS]"),
        "run diagnostics are listed, escaped"
    );
    assert!(page.contains("assert on the &lt;result&gt;"));

    // The matrix: rows are scenarios, columns faults, cells coloured by outcome.
    let start = page.find("<table class=\"matrix\">").expect("matrix table");
    let matrix = &page[start..start + page[start..].find("</table>").unwrap()];
    assert!(matrix.contains("<caption>fault_matrix at spec.star:20:1</caption>"));
    assert!(matrix.contains("<thead><tr><th>scenario \\ fault</th><th><code>db_down</code></th><th><code>slow_disk</code></th></tr></thead>"));
    let rows: Vec<&str> = matrix.split("<tr><th><code>").skip(1).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with("order</code></th>"));
    assert!(rows[0].contains(
        "<td class=\"cell failed\" title=\"test_matrix_order_db_down: failed\"><a href=\"#item-0\">failed</a></td>\
         <td class=\"cell passed\" title=\"test_matrix_order_slow_disk: passed\"><a href=\"#item-1\">passed</a></td>"
    ));
    assert!(rows[1].starts_with("refund</code></th>"));
    assert!(rows[1].contains(
        "<td class=\"cell errored\" title=\"test_matrix_refund_db_down: errored\"><a href=\"#item-2\">errored</a></td>\
         <td class=\"cell excluded\" title=\"excluded\">excluded</td>"
    ));
    // The classes have colours.
    for rule in [
        ".passed { background: var(--passed-bg)",
        ".failed { background: var(--failed-bg)",
        ".errored { background: var(--errored-bg)",
        "table.matrix td.excluded { background: var(--excluded-bg)",
        "--failed-bg: #ffcdd2",
        "--excluded-bg: #e0e0e0",
    ] {
        assert!(page.contains(rule), "missing CSS {rule}");
    }

    // Results: a row per item, anchors for the matrix links.
    for i in 0..8 {
        assert!(page.contains(&format!("<tr id=\"item-{i}\"")));
    }
    assert!(page.contains("<td class=\"message\">GET /orders: expected status 200, got 500; body: &lt;b&gt;token [REDACTED]&lt;/b&gt;</td>"));

    // A picture for every test, passed ones too; event tables for the failed and errored items.
    let timelines = &page[page.find("<section id=\"timelines\">").expect("timelines")..];
    assert_eq!(timelines.matches("<table class=\"timeline\">").count(), 3);
    assert!(timelines.contains("<h3 id=\"timeline-0\"><code>test_matrix_order_db_down</code>"));
    assert!(timelines.contains("<h3 id=\"timeline-2\"><code>test_matrix_refund_db_down</code>"));
    assert!(timelines.contains("<h3 id=\"timeline-5\"><code>endpoint.GET./orders</code>"));
    let happy = &timelines[timelines.find("<code>test_happy</code>").expect("a passed test's timeline")..];
    let happy = &happy[..happy[1..].find("<h3").map_or(happy.len(), |i| i + 1)];
    assert!(happy.contains("<svg class=\"lanes\"") || happy.contains("No events"), "{happy}");
    assert!(!happy.contains("<table class=\"timeline\">"), "no event table for a passed test");
    assert!(timelines.contains("<td>api</td><td><code>stderr</code></td><td class=\"fields mono\">line=db connect failed &lt;refused&gt; &amp; retry</td>"));
    assert!(timelines.contains("<td><code>service_exited</code></td><td class=\"fields mono\">code=1</td>"));
    assert!(timelines.contains("status=500"));
}

#[test]
fn html_without_a_matrix_has_no_matrix_section() {
    let (report, events, mut plan) = fixture();
    plan.tests.retain(|t| t.matrix.is_none());
    let page = html::render(&report, Some(&plan), &events);
    assert!(!page.contains("<section id=\"matrix\">"));
    assert!(page.contains("<section id=\"results\">"));
}

#[test]
fn traces_are_one_jsonl_file_per_item() {
    let (report, events, _) = fixture();
    let mut report = report;
    // Two names that sanitise alike stay apart.
    report.results[4].name = "endpoint.GET./orders".into();
    let dir = tempfile::tempdir().unwrap();
    trace::write(dir.path(), &report, &events).unwrap();
    let mut files: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(
        files,
        [
            "acceptance.performance.lighthouse_score.jsonl",
            "endpoint.GET._admin.jsonl",
            "endpoint.GET._orders.jsonl",
            "endpoint.GET._orders~2.jsonl",
            "test_happy.jsonl",
            "test_matrix_order_db_down.jsonl",
            "test_matrix_order_slow_disk.jsonl",
            "test_matrix_refund_db_down.jsonl",
        ]
    );
    let text = std::fs::read_to_string(dir.path().join("test_matrix_order_db_down.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["seq"], 1);
    assert_eq!(lines[1]["service"], "api");
    assert_eq!(lines[1]["type"], "stderr");
    assert_eq!(lines[1]["fields"]["line"], "db connect failed <refused> & retry");
    assert!(text.ends_with('\n'));
    assert_eq!(std::fs::read_to_string(dir.path().join("test_happy.jsonl")).unwrap(), "");
    assert_eq!(trace::sanitise(".hidden/../x y"), "_hidden_.._x_y");
}

#[test]
fn a_secret_never_reaches_any_output() {
    let (report, events, plan) = fixture();
    // The secret is really in the raw material: a message, an event field, an HTTP header.
    assert!(report.results[5].message.as_deref().unwrap().contains(SECRET));
    assert!(serde_json::to_string(&events).unwrap().contains("s3cr&t<\\\"val>"));

    let r = redactor();
    let report = report.redacted(&r);
    let events = redact_events(&events, &r);
    let dir = tempfile::tempdir().unwrap();
    trace::write(dir.path(), &report, &events).unwrap();
    let mut traces = String::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        traces.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let outputs = [
        ("human", summary(&report)),
        ("json", json_report::render(&report)),
        ("junit", junit::render(&report)),
        ("html", html::render(&report, Some(&plan), &events)),
        ("trace", traces),
    ];
    // Also its escaped forms (JSON, XML, HTML) and its distinctive part.
    let forms = ["s3cr&t", "s3cr&amp;t", "s3cr\\u0026t", "val&gt;", "val>"];
    for (name, text) in &outputs {
        for form in forms {
            assert!(!text.contains(form), "{name} output contains {form:?}");
        }
    }
    assert!(outputs[1].1.contains("[REDACTED]"));
    assert!(outputs[4].1.contains("Bearer [REDACTED]"));
    assert!(outputs[4].1.contains("/orders?key=[REDACTED]"));
    assert!(outputs[3].1.contains("Bearer [REDACTED]"));
}

#[test]
fn redactor_basics() {
    let r = Redactor::new(vec!["abc".into(), "longer-secret".into(), "".into()]);
    assert_eq!(r.apply("abc longer-secret"), "abc [REDACTED]");
    assert!(Redactor::new(vec![]).is_empty());
    assert_eq!(Redactor::none().apply("unchanged"), "unchanged");
    for name in ["DB_PASSWORD", "client_secret", "GithubToken", "API_KEY", "AWS_CREDENTIALS", "private_pem"] {
        assert!(Redactor::looks_secret(name), "{name}");
    }
    assert!(!Redactor::looks_secret("DATABASE_URL"));
    let env: BTreeMap<String, String> =
        [("DATABASE_URL".to_owned(), "postgres://x:y@h/d".to_owned()), ("HOME".to_owned(), "/root".to_owned())].into();
    let r =
        Redactor::from_env(&["DATABASE_URL".into(), "UNSET".into()], &env, &[("SVC_TOKEN".into(), "abcd1234".into())]);
    assert_eq!(r.apply("postgres://x:y@h/d /root abcd1234"), "[REDACTED] /root [REDACTED]");
}
