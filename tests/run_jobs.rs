//! `ospecc run --jobs N`: lifecycles at once, each in its own network namespace, report what a
//! serial run reports. The spec's tests all bind the same fixed ports (a real local server and
//! an in-process mock), so overlapping lifecycles prove the isolation; the JSON report (without
//! its times and event numbers), the normalized trace and each test's events match `--jobs 1`.
//! Also: `--jobs 0` is a usage error, and an unprivileged user gets the namespaces through a
//! user namespace of their own.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{ospecc_with, repo_root, run_command, Run};
use serde_json::Value;

const SPEC: &str = "tests/runs/jobs/same-ports.star";
const LIMIT: Duration = Duration::from_secs(240);

/// Serial runs bind the spec's ports on the host: one test at a time.
static HOST_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn host_ports() -> std::sync::MutexGuard<'static, ()> {
    HOST_PORTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a run left: its exit, JSON report, normalized trace and per-test events.
struct Outputs {
    run: Run,
    report: Value,
    normalized: String,
    traces: BTreeMap<String, Vec<Value>>,
}

fn python() -> bool {
    let found = Path::new("/usr/bin/python3").is_file();
    if !found {
        eprintln!("SKIP: /usr/bin/python3 is absent (the spec's local server)");
    }
    found
}

/// `ospecc run SPEC --jobs JOBS` with every output, run as `prefix` (e.g. another user) if any.
fn run_jobs(jobs: &str, prefix: &[&str]) -> Outputs {
    let dir = tempfile::tempdir().unwrap();
    // Another user writes the outputs too.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let (norm, traces) = (dir.path().join("run.norm"), dir.path().join("traces"));
    let args = ["run", SPEC, "--jobs", jobs, "--format", "json", "--normalize", norm.to_str().unwrap()];
    let args = [&args[..], &["--out", traces.to_str().unwrap()]].concat();
    let run = match prefix.split_first() {
        None => ospecc_with(&repo_root(), &args, None, &[], LIMIT),
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(env!("CARGO_BIN_EXE_ospecc")).args(&args).current_dir(repo_root());
            run_command(command, None, LIMIT)
        }
    };
    let report = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not a report ({e}):\n{}", run.text()));
    let normalized = std::fs::read_to_string(&norm).unwrap_or_default();
    let mut events = BTreeMap::new();
    for entry in std::fs::read_dir(&traces).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        events.insert(entry.file_name().to_string_lossy().into_owned(), lines);
    }
    Outputs { run, report, normalized, traces: events }
}

/// The report without what differs between any two runs: times and event numbers.
fn comparable(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "duration_ms" | "ready_ms" | "first_seq" | "end_seq"))
                .map(|(k, v)| (k.clone(), comparable(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(comparable).collect()),
        other => other.clone(),
    }
}

/// A test's events as (service, type), sorted: what happened, whatever the interleaving of
/// the services' output with the steps.
fn happenings(events: &[Value]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["service"].as_str().unwrap_or("").to_owned(), e["type"].as_str().unwrap_or("").to_owned()))
        .collect();
    found.sort();
    found
}

/// Each result's name and message, one per line (what says why a result is not the expected).
fn messages(report: &Value) -> String {
    let results = report["results"].as_array().map(Vec::as_slice).unwrap_or_default();
    results.iter().map(|r| format!("{}: {}\n", r["name"], r["message"])).collect()
}

/// The times (ms since the run started) a test's lifecycle began and ended.
fn span(events: &[Value]) -> (f64, f64) {
    let times: Vec<f64> = events.iter().filter_map(|e| e["at_ms"].as_f64()).collect();
    (times.iter().copied().fold(f64::MAX, f64::min), times.iter().copied().fold(0.0, f64::max))
}

#[test]
fn two_jobs_report_what_one_job_reports() {
    if !python() {
        return;
    }
    let _host = host_ports();
    let serial = run_jobs("1", &[]);
    serial.run.expect(1);
    let parallel = run_jobs("2", &[]);
    parallel.run.expect(1);
    assert!(!parallel.run.stderr.contains("one at a time"), "{}", parallel.run.text());

    let outcomes: Vec<(&str, &str)> = parallel.report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("test_a", "passed"),
            ("test_b", "passed"),
            ("test_c", "passed"),
            ("test_d_fails", "failed"),
            ("test_e", "passed")
        ],
        // The messages last and short: CI excerpts keep the tail of a failure.
        "{}",
        messages(&parallel.report)
    );
    assert_eq!(comparable(&serial.report), comparable(&parallel.report));
    assert!(parallel.normalized.contains("=== test_e ==="), "{}", parallel.normalized);
    assert_eq!(serial.normalized, parallel.normalized);
    assert_eq!(serial.traces.keys().collect::<Vec<_>>(), parallel.traces.keys().collect::<Vec<_>>());
    for (name, events) in &serial.traces {
        assert_eq!(happenings(events), happenings(&parallel.traces[name]), "{name}");
    }
    // Each result's slice is its own lifecycle: it starts with it and ends with its test.
    for events in parallel.traces.values() {
        assert_eq!(events.first().and_then(|e| e["type"].as_str()), Some("lifecycle_started"));
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gapless: {seqs:?}");
    }

    // With two jobs, lifecycles that bound the same ports were up at the same time.
    assert!(overlapped(&parallel), "no two lifecycles overlapped");
    let serial_spans: Vec<(f64, f64)> = serial.traces.values().map(|events| span(events)).collect();
    assert!(serial_spans.windows(2).all(|w| w[0].1 <= w[1].0), "--jobs 1 runs one at a time: {serial_spans:?}");
}

#[test]
fn zero_jobs_is_a_usage_error_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let run =
        ospecc_with(&repo_root(), &["run", SPEC, "--jobs", "0", "--junit", junit.to_str().unwrap()], None, &[], LIMIT);
    run.expect(2);
    assert!(run.stderr.contains("--jobs 0: at least one job must run"), "{}", run.text());
    assert!(!junit.exists(), "nothing is written");
    let run = ospecc_with(&repo_root(), &["run", SPEC, "--jobs", "many"], None, &[], LIMIT);
    run.expect(2);
    assert!(run.stderr.contains("--jobs"), "{}", run.text());
}

/// As an unprivileged user (root drops to `nobody` for the test), the run enters a user
/// namespace of its own and still gives every job its network namespace.
#[test]
fn an_unprivileged_user_gets_jobs_through_a_user_namespace() {
    if !python() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: not root, so this test cannot switch to another user");
        return;
    }
    let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "unshare", "--user", "--net", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("SKIP: setpriv is absent or unprivileged user namespaces are disabled here");
        return;
    }
    let ours = repo_root().join(SPEC);
    let readable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o004 != 0)
    };
    if !readable(&ours) || !readable(Path::new(env!("CARGO_BIN_EXE_ospecc"))) {
        eprintln!("SKIP: the spec or the binary is not readable by other users in this checkout");
        return;
    }
    let _host = host_ports();
    let parallel = run_jobs("2", &nobody);
    parallel.run.expect(1);
    assert!(!parallel.run.stderr.contains("one at a time"), "{}", parallel.run.text());
    let serial = run_jobs("1", &[]);
    assert_eq!(comparable(&serial.report), comparable(&parallel.report));
    assert_eq!(serial.normalized, parallel.normalized);
    assert!(overlapped(&parallel), "no two lifecycles overlapped");
}

/// Whether two lifecycles of the run were up at the same time.
fn overlapped(outputs: &Outputs) -> bool {
    let spans: Vec<(f64, f64)> = outputs.traces.values().map(|events| span(events)).collect();
    spans.iter().enumerate().any(|(i, a)| spans[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1))
}
