//! `ospecc run` end to end against real processes: a local binary and an in-process mock,
//! every report format, shards, built plans, secret redaction, misbehaving services and
//! scenarios (each a clear per-test result), and SIGINT/SIGTERM mid-run. After every run no
//! process of it may remain: the traces name each service's pid (its process group), and
//! `/proc` must hold no member of those groups.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ospecc_with, repo_root, Run};

/// The specs listen on fixed loopback ports: the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run(args: &[&str]) -> Run {
    ospecc_with(&repo_root(), args, None, &[], Duration::from_secs(240))
}

/// `ospecc run SPEC --format json --out <a temporary traces directory>`: the run, the traces
/// directory and the temporary directory holding it (dropping it deletes the traces).
fn run_json_traced(spec: &str) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    let run = run(&["run", spec, "--format", "json", "--out", traces.to_str().unwrap()]);
    (run, traces, dir)
}

/// The fault fixtures serve through python3; without it their tests skip, saying why.
fn python3_missing() -> bool {
    let missing = !Path::new("/usr/bin/python3").exists();
    if missing {
        eprintln!("SKIP: /usr/bin/python3 is not installed");
    }
    missing
}

/// Process groups of the services a run started, from its traces.
fn service_groups(trace_dir: &Path) -> Vec<i64> {
    let mut groups = Vec::new();
    for entry in std::fs::read_dir(trace_dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["type"] == "service_started" {
                if let Some(pid) = event["fields"]["pid"].as_i64() {
                    groups.push(pid);
                }
            }
        }
    }
    groups
}

/// Live processes whose process group is one of `groups`.
fn members_of(groups: &[i64]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (state, pgrp) = (fields.first().copied(), fields.get(2).and_then(|p| p.parse::<i64>().ok()));
        if state != Some("Z") && pgrp.is_some_and(|g| groups.contains(&g)) {
            found.push(stat);
        }
    }
    found
}

fn assert_nothing_left(trace_dir: &Path) {
    let groups = service_groups(trace_dir);
    assert!(!groups.is_empty(), "the traces name the services' pids");
    // Reaping is asynchronous to our exit only in pathological cases: allow a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !members_of(&groups).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(members_of(&groups), Vec::<String>::new(), "processes of the run remain");
}

fn results(json: &str) -> Vec<(String, String, String)> {
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("name"), text("outcome"), text("message"))
        })
        .collect()
}

#[test]
fn a_local_binary_and_a_mock_run_end_to_end_with_every_report() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (junit, html, traces) =
        (dir.path().join("junit.xml"), dir.path().join("report.html"), dir.path().join("traces"));
    let run = run(&[
        "run",
        "tests/runs/local-http.star",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
        "--out",
        traces.to_str().unwrap(),
    ]);
    run.expect(1);
    let found = results(&run.stdout);
    let outcome = |name: &str| found.iter().find(|r| r.0 == name).map(|r| r.1.clone()).unwrap_or_default();
    let message = |name: &str| found.iter().find(|r| r.0 == name).map(|r| r.2.clone()).unwrap_or_default();
    for passed in ["test_index", "test_lookup", "test_create_checked", "test_logs_requests"] {
        // The result's own message last and short: CI excerpts keep the tail of a failure.
        assert_eq!(outcome(passed), "passed", "{found:?}\n{passed}: {}", message(passed));
    }
    assert_eq!(outcome("test_missing_page"), "failed");
    assert!(found.iter().any(|r| r.2.contains("assert_eq failed: 404 != 200")), "{found:?}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count(), 5);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("test_missing_page") && page.contains("<html"), "an HTML report");
    assert!(traces.join("test_index.jsonl").exists());
    assert_nothing_left(&traces);
}

#[test]
fn shards_split_the_tests_without_overlap() {
    let _serial = serial();
    let mut seen: Vec<String> = Vec::new();
    for shard in ["1/2", "2/2"] {
        let run = run(&["run", "tests/runs/local-http.star", "--format", "json", "--shard", shard]);
        run.no_panic();
        seen.extend(results(&run.stdout).into_iter().map(|r| r.0));
    }
    seen.sort();
    let expected = ["test_create_checked", "test_index", "test_logs_requests", "test_lookup", "test_missing_page"];
    assert_eq!(seen, expected);
    run(&["run", "tests/runs/local-http.star", "--shard", "3/2"]).expect(2);
}

#[test]
fn a_built_plan_runs_like_its_spec() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    run(&["build", "tests/runs/misbehaving.star", "-o", plan.to_str().unwrap()]).expect(0);
    // The plan carries its sources: it runs from anywhere (relative binaries resolve beside it).
    let from_plan = run(&["run", plan.to_str().unwrap(), "--format", "json"]);
    let from_spec = run(&["run", "tests/runs/misbehaving.star", "--format", "json"]);
    let outcomes = |r: &Run| results(&r.stdout).into_iter().map(|r| (r.0, r.1)).collect::<Vec<_>>();
    assert_eq!(outcomes(&from_plan), outcomes(&from_spec));
    std::fs::write(&plan, "{\"version\": 99}").unwrap();
    let bad = run(&["run", plan.to_str().unwrap()]);
    bad.expect(2);
    assert!(bad.stderr.contains("is not a plan"), "{}", bad.stderr);
}

#[test]
fn misbehaving_scenarios_become_results_and_the_run_goes_on() {
    let _serial = serial();
    let (run, traces, _dir) = run_json_traced("tests/runs/misbehaving.star");
    run.expect(1);
    let found = results(&run.stdout);
    let get = |name: &str| found.iter().find(|r| r.0 == name).cloned().unwrap_or_default();
    assert_eq!(get("test_ping").1, "passed");
    assert_eq!(get("test_nothing").1, "passed", "a scenario that returns nothing still runs");
    assert_eq!(get("test_raises").1, "errored");
    assert!(get("test_raises").2.contains("raised"), "{:?}", get("test_raises"));
    assert_eq!(get("test_spins").1, "errored");
    assert!(get("test_spins").2.contains("timed out"), "{:?}", get("test_spins"));
    assert_nothing_left(&traces);
}

#[test]
fn misbehaving_services_become_clear_results() {
    let _serial = serial();
    let cases = [
        ("tests/runs/missing-binary.star", "No such file or directory"),
        ("tests/runs/exits-at-once.star", "exited with code 3 before it became ready"),
        ("tests/runs/never-healthy.star", "did not become ready within 1000 ms"),
    ];
    for (spec, expected) in cases {
        let (run, traces, _dir) = run_json_traced(spec);
        run.expect(1);
        let found = results(&run.stdout);
        assert_eq!(found.len(), 1, "{spec}: {found:?}");
        assert_eq!(found[0].1, "errored", "{spec}");
        assert!(found[0].2.contains(expected), "{spec}: {}", found[0].2);
        if !spec.contains("missing") {
            assert_nothing_left(&traces);
        }
    }
}

#[test]
fn a_service_that_floods_ignores_sigterm_and_forks_leaves_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    let run = run(&[
        "run",
        "tests/runs/stubborn.star",
        "--grace",
        "1",
        "--format",
        "json",
        "--out",
        traces.to_str().unwrap(),
    ]);
    run.expect(0);
    assert_nothing_left(&traces);
}

#[test]
fn secrets_never_reach_any_output() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (junit, html, traces) = (dir.path().join("j.xml"), dir.path().join("r.html"), dir.path().join("t"));
    let mut outputs = Vec::new();
    for format in ["human", "json"] {
        let run = run(&[
            "run",
            "tests/runs/secrets.star",
            "--format",
            format,
            "--junit",
            junit.to_str().unwrap(),
            "--report",
            html.to_str().unwrap(),
            "--out",
            traces.to_str().unwrap(),
        ]);
        run.expect(1);
        outputs.push(run.stdout.clone());
        outputs.push(run.stderr.clone());
        outputs.push(std::fs::read_to_string(&junit).unwrap());
        outputs.push(std::fs::read_to_string(&html).unwrap());
        for entry in std::fs::read_dir(&traces).unwrap().flatten() {
            outputs.push(std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    for output in &outputs {
        assert!(!output.contains("tok-9f8e7d6c5b4a"), "the secret leaked:\n{output}");
    }
    assert!(outputs.iter().any(|o| o.contains("[REDACTED]")), "redaction marks where the value was");
    assert!(outputs.iter().any(|o| o.contains("mode=demo")), "values of other variables stay");
}

/// Starts `ospecc run` on the slow spec, waits until its service listens, sends `signal`.
fn interrupt_with(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ospecc"))
        .args(["run", "tests/runs/slow.star"])
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect("127.0.0.1:18135").is_err() {
        assert!(Instant::now() < deadline, "the service never came up");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The run's services are its children, each leading its own process group.
    let groups: Vec<i64> = children_of(pid);
    assert!(!groups.is_empty(), "the run started a service");
    // SAFETY: kill sends a signal to a child we spawned.
    unsafe { libc::kill(pid as i32, signal) };
    let status = wait_with_timeout(&mut child, Duration::from_secs(30));
    assert_eq!(status, Some(2), "an interrupted run exits 2");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("stopped every service"), "{stderr}");
    let _ = dir;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(members_of(&groups), Vec::<String>::new(), "processes of the run remain");
}

fn children_of(parent: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((pid, rest)) = stat.split_once(' ') else { continue };
        let Some((_, rest)) = rest.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<i64>().ok()) == Some(parent) {
            out.extend(pid.parse::<i64>().ok());
        }
    }
    out
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigint_and_sigterm_mid_run_stop_everything() {
    let _serial = serial();
    interrupt_with(libc::SIGINT);
    interrupt_with(libc::SIGTERM);
}

/// Every event of one trace file.
fn trace(dir: &Path, test: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(format!("{test}.jsonl"))).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn has_event(events: &[serde_json::Value], kind: &str, field: &str, value: &str) -> bool {
    events.iter().any(|e| e["type"] == kind && e["fields"][field] == value)
}

#[test]
fn faults_happen_to_real_processes_and_the_run_says_what_fired() {
    let _serial = serial();
    if python3_missing() {
        return;
    }
    let (run, traces, _dir) = run_json_traced("tests/runs/faults/faults.star");
    run.expect(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let result = |name: &str| {
        report["results"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap_or_default()
    };
    let codes = |name: &str| -> Vec<String> {
        result(name)["diagnostics"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["code"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let passing = [
        "test_plain",
        "test_http_error",
        "test_connect_refused",
        "test_disk_full",
        "test_partition",
        "test_start_stop",
        "test_trace",
        "test_trace_kept_under_fault",
        "test_fault_all",
        "test_backend_down",
        "test_unfired",
    ];
    for name in passing {
        assert_eq!(result(name)["outcome"], "passed", "{name}: {}", result(name));
    }
    // Each mechanism left its trace: a denied syscall, an injected HTTP error, a partition.
    assert!(has_event(&trace(&traces, "test_connect_refused"), "syscall", "decision", "deny"));
    assert!(has_event(&trace(&traces, "test_disk_full"), "syscall", "errno", "ENOSPC"));
    assert!(has_event(&trace(&traces, "test_http_error"), "proxy", "action", "error"));
    assert!(has_event(&trace(&traces, "test_partition"), "partition_applied", "a", "front"));
    assert!(has_event(&trace(&traces, "test_partition"), "partition_removed", "a", "front"));
    // A scope's rules are reported removed once, under the scope's name.
    let removed: Vec<String> = trace(&traces, "test_connect_refused")
        .iter()
        .filter(|e| e["type"] == "fault_removed")
        .map(|e| e["fields"]["scope"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(removed, vec!["fault(front)"]);
    // A fault-free test runs with no filter and no proxy.
    let plain = trace(&traces, "test_plain");
    assert!(!plain.iter().any(|e| e["type"] == "syscall" || e["type"] == "proxy"), "no fault machinery");
    // The diagnostics.
    assert_eq!(codes("test_unfired"), vec!["FAULT_NOT_FIRED"]);
    assert!(codes("test_plain").is_empty(), "{:?}", codes("test_plain"));
    assert_eq!(result("test_not_filterable")["outcome"], "errored");
    assert_eq!(codes("test_not_filterable"), vec!["FAULT_NOT_FILTERABLE"]);
    assert_eq!(result("test_crash")["outcome"], "errored", "{}", result("test_crash"));
    let strict = result("test_matrix_fetch_never");
    assert_eq!(strict["outcome"], "failed", "{strict}");
    assert!(strict["message"].as_str().unwrap_or_default().contains("require_faults_fire"), "{strict}");
    assert_eq!(strict["diagnostics"][0]["level"], "error", "{strict}");
    assert!(codes("test_crash").contains(&"SERVICE_CRASHED".to_owned()), "{:?}", codes("test_crash"));
    assert!(result("test_crash")["message"].as_str().unwrap_or_default().contains("exited with code 3"));
    assert_nothing_left(&traces);
}

#[test]
fn the_same_seed_makes_the_same_probabilistic_decisions() {
    let _serial = serial();
    if python3_missing() {
        return;
    }
    let decisions = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        let traces = dir.path().join("traces");
        let run = run(&["run", "tests/runs/faults/coin.star", "--seed", seed, "--out", traces.to_str().unwrap()]);
        run.expect(0);
        let events = trace(&traces, "test_flips");
        let steps: Vec<String> =
            events.iter().filter(|e| e["type"] == "step").map(|e| e["fields"]["status"].to_string()).collect();
        assert_eq!(steps.len(), 24, "every flip is a step");
        steps
    };
    let first = decisions("7");
    assert_eq!(first, decisions("7"), "the same seed decides the same");
    assert!(first.iter().any(|s| s == "502") && first.iter().any(|s| s == "200"), "a fair coin: {first:?}");
    assert_ne!(first, decisions("8"), "another seed decides otherwise (24 flips)");
}

#[test]
fn a_stateful_monitor_threads_its_state_through_the_events() {
    let _serial = serial();
    let run = run(&["run", "tests/runs/monitors.star", "--format", "json"]);
    run.expect(1);
    let found = results(&run.stdout);
    let outcome =
        |name: &str| found.iter().find(|r| r.0 == name).map(|r| (r.1.clone(), r.2.clone())).unwrap_or_default();
    assert_eq!(outcome("test_two_steps").0, "passed", "{found:?}");
    let (three, message) = outcome("test_three_steps");
    assert_eq!(three, "failed", "{found:?}");
    assert!(message.starts_with("monitor `step_budget` violated at event #"), "{message}");
}

#[test]
fn a_test_runs_once_per_leaf_of_its_choose_axes_and_exhaustive_schedules() {
    let _serial = serial();
    if python3_missing() {
        return;
    }
    let (run, traces, _dir) = run_json_traced("tests/runs/faults/leaves.star");
    run.expect(1);
    let found = results(&run.stdout);
    // Depth-first from the discovery run (leaf 0: first option, no fire), the last axis fastest.
    let mut expected = Vec::new();
    for mode in ["a", "b", "c"] {
        for schedule in ["none", "fire@1", "fire@2", "fire@1+2"] {
            let fails = mode != "c" && schedule == "fire@1+2";
            expected.push((format!("test_leaves[mode={mode}, front.connect={schedule}]"), fails));
        }
    }
    for (name, fails) in [
        ("test_nested[path=plain]", false),
        ("test_nested[path=faulted, front.connect=none]", false),
        ("test_nested[path=faulted, front.connect=fire@1]", false),
        ("test_parallel", false),
    ] {
        expected.push((name.to_owned(), fails));
    }
    let got: Vec<(String, bool)> = found.iter().map(|r| (r.0.clone(), r.1 == "failed")).collect();
    assert_eq!(got, expected, "{found:?}");
    assert!(found.iter().all(|r| r.1 == "passed" || r.1 == "failed"), "{found:?}");
    let failed = found.iter().find(|r| r.1 == "failed").map(|r| r.2.clone()).unwrap_or_default();
    assert!(failed.contains("mode a: a fetch got through"), "{failed}");
    // Each leaf is its own lifecycle, and its schedule decided the front's connects.
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for (name, _) in &expected {
        let events = trace(&traces, &ospecc_runtime::report::trace::sanitise(name));
        let lifecycles = events.iter().filter(|e| e["type"] == "lifecycle_started").count();
        assert_eq!(lifecycles, 1, "{name}: one lifecycle per leaf");
        let denies = events.iter().filter(|e| e["type"] == "syscall" && e["fields"]["decision"] == "deny").count();
        let wanted = if name.ends_with("fire@1+2]") { 2 } else { usize::from(name.contains("fire@")) };
        assert_eq!(denies, wanted, "{name}: the schedule decides the connects");
    }
    // The leaf 0 of an exhaustive rule does not fire by design: no FAULT_NOT_FIRED for it. The
    // interleavings parallel() asks for are noted, not run.
    let diagnostics: Vec<(String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let name = r["name"].as_str().unwrap_or_default().to_owned();
            let codes = r["diagnostics"].as_array().cloned().unwrap_or_default();
            codes.into_iter().map(move |d| (name.clone(), d["code"].as_str().unwrap_or_default().to_owned()))
        })
        .collect();
    assert_eq!(diagnostics, vec![("test_parallel".to_owned(), "INSTANCES_NOT_EXPLORED".to_owned())]);
    assert_nothing_left(&traces);
}

#[test]
fn max_instances_runs_the_first_leaves_and_says_how_many_of_how_many() {
    let _serial = serial();
    if python3_missing() {
        return;
    }
    let run = run(&["run", "tests/runs/faults/leaves.star", "--format", "json", "--max-instances", "2"]);
    run.expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        vec![
            "test_leaves[mode=a, front.connect=none]",
            "test_leaves[mode=a, front.connect=fire@1]",
            "test_nested[path=plain]",
            "test_nested[path=faulted, front.connect=none]",
            "test_parallel",
        ]
    );
    let notes: Vec<(&str, &str, &str)> = results
        .iter()
        .flat_map(|r| r["diagnostics"].as_array().into_iter().flatten())
        .map(|d| {
            (d["level"].as_str().unwrap_or(""), d["code"].as_str().unwrap_or(""), d["message"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert_eq!((notes[0].0, notes[0].1), ("info", "INSTANCES_NOT_EXPLORED"));
    assert!(notes[0].2.contains("`test_leaves` has 12 leaves") && notes[0].2.contains("ran the first 2"), "{notes:?}");
    assert!(notes[1].2.contains("`test_nested` has 3 leaves"), "{notes:?}");
    assert!(notes[2].2.contains("parallel() asked for 2 interleavings"), "{notes:?}");
}

#[test]
fn a_port_already_in_use_is_a_clear_error_at_once() {
    let _serial = serial();
    // The test holds the service's port, as a second run (or anything else) would.
    let holder = std::net::TcpListener::bind("127.0.0.1:21450").unwrap();
    let started = Instant::now();
    let run = run(&["run", "tests/runs/port-taken.star", "--format", "json"]);
    drop(holder);
    let text = run.text();
    assert!(text.contains("port 21450 (interface `http`) is already in use"), "{text}");
    assert!(text.contains(&format!("pid {}", std::process::id())), "the holder is named:\n{text}");
    // Not after the healthcheck's 10 s: before the service starts.
    assert!(started.elapsed() < Duration::from_secs(9), "took {:?}:\n{text}", started.elapsed());
}

/// `--test` (exact and glob, repeatable, acceptance dropped), `--runs` (names per run, seeds
/// drawn anew per run, flakiness), `--show`, `--normalize`; a `--test` that selects nothing is
/// a usage error naming the tests there are.
#[test]
fn runner_options_select_repeat_show_and_normalize() {
    let _serial = serial();
    let spec = "tests/runs/options.star";
    let repeated = run(&["run", spec, "--test", "test_c*", "--runs", "8", "--seed", "1", "--format", "json"]);
    repeated.expect(1);
    let report: serde_json::Value = serde_json::from_str(&repeated.stdout).unwrap();
    let names: Vec<&str> = report["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    let expected: Vec<String> = (1..=8).map(|k| format!("test_coin[run={k}]")).collect();
    assert_eq!(names, expected, "only test_coin, once per run");
    let passed = report["results"].as_array().unwrap().iter().filter(|r| r["outcome"] == "passed").count();
    assert!(passed > 0 && passed < 8, "a fair coin drawn anew per run: {passed} of 8 passed");
    // The same seed makes the same runs.
    let again = run(&["run", spec, "--test", "test_c*", "--runs", "8", "--seed", "1", "--format", "json"]);
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let outcomes = |r: &serde_json::Value| -> Vec<String> {
        r["results"].as_array().unwrap().iter().map(|r| r["outcome"].to_string()).collect()
    };
    assert_eq!(outcomes(&report), outcomes(&again));

    let human = run(&["run", spec, "--test", "test_coin", "--runs", "8", "--seed", "1", "--show", "fail"]);
    human.expect(1);
    assert!(human.stdout.contains(&format!("FLAKY   test_coin: passed {passed} of 8 runs")), "{}", human.text());
    assert!(!human.stderr.contains("PASS test_coin"), "--show fail lists no pass:\n{}", human.text());
    let all = run(&["run", spec, "--test", "test_plain", "--show", "all"]);
    all.expect(0);
    assert!(all.stderr.contains("PASS test_plain"), "{}", all.text());

    let dir = tempfile::tempdir().unwrap();
    let norm = dir.path().join("run.norm");
    let normalized =
        run(&["run", spec, "--test", "test_parallel", "--test", "test_plain", "--normalize", norm.to_str().unwrap()]);
    normalized.expect(0);
    let expected = "=== test_parallel ===\n--- api ---\nservice_started\nservice_ready\n--- test ---\n\
                    step_send api\nstep_send api\nstep_recv api\nstep_recv api\n\
                    === test_plain ===\n--- api ---\nservice_started\nservice_ready\n--- test ---\n\
                    step_send api\nstep_recv api\n";
    assert_eq!(std::fs::read_to_string(&norm).unwrap(), expected);

    let unknown = run(&["run", spec, "--test", "test_plane"]);
    unknown.expect(2);
    assert!(unknown.stderr.contains("--test test_plane: no test has that name"), "{}", unknown.text());
    assert!(unknown.stderr.contains("did you mean `test_plain`"), "{}", unknown.text());
}

/// The processes whose environment marks them as part of run `pid` (`OSPECC_RUN=<pid>-...`).
fn marked_by(pid: u32) -> Vec<i32> {
    let prefix = format!("OSPECC_RUN={pid}-");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|entry| entry.starts_with(prefix.as_bytes())))
                .unwrap_or(false)
        })
        .collect()
}

/// A SIGKILL of `ospecc run` at any moment (while a service starts, once it is healthy, in
/// the test's body) leaves no process and no bound port once the next run has started: the
/// next run reaps them by the killed run's mark.
#[test]
fn a_sigkilled_run_leaves_nothing_once_the_next_run_starts() {
    let _serial = serial();
    if python3_missing() {
        return;
    }
    let port_open = || std::net::TcpStream::connect("127.0.0.1:18471").is_ok();
    for (point, wait_for_port, extra) in
        [("while starting", false, 150), ("once healthy", true, 0), ("in the body", true, 1500)]
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ospecc"))
            .args(["run", "tests/runs/wrapped.star"])
            .current_dir(repo_root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        if wait_for_port {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !port_open() {
                assert!(Instant::now() < deadline, "{point}: the service never came up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        std::thread::sleep(Duration::from_millis(extra));
        // SAFETY: kill sends a signal to a child we spawned.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        let _ = child.wait();
        if wait_for_port {
            // What PR_SET_PDEATHSIG cannot reach: the wrapped server outlives the runtime.
            std::thread::sleep(Duration::from_millis(300));
            assert!(!marked_by(pid).is_empty() && port_open(), "{point}: the wrapped server outlived the runtime");
        }
        // The next run (any spec) reaps what the killed one left.
        run(&["run", "tests/runs/options.star", "--test", "test_plain"]).expect(0);
        let left = marked_by(pid);
        for p in &left {
            // SAFETY: cleanup of a leftover so that later tests are not disturbed.
            unsafe { libc::kill(*p, libc::SIGKILL) };
        }
        assert_eq!(left, Vec::<i32>::new(), "{point}: processes of the killed run remain");
        let deadline = Instant::now() + Duration::from_secs(5);
        while port_open() {
            assert!(Instant::now() < deadline, "{point}: port 18471 is still bound");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
