//! Determinism mode end to end, with a leaker service of our own (`tests/helpers/leaker.rs`):
//! every category is reported as an `unmediated_io` event with its syscall (and connects to a
//! declared interface are not); a raw clock read fails the test under strict mode (the default
//! of `determinism()`, or `--strict-determinism`) and passes once tolerated by
//! `nondeterministic_ok=` or `determinism(allow=)`; `--strict-determinism=false` only reports.

mod common;
#[path = "helpers/compile.rs"]
mod compile;

use std::path::Path;
use std::time::Duration;

use common::{ospecc_with, Run};

/// Runs use fixed ports on the host: one at a time.
static HOST_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The leaker, when this machine can build it and fault syscalls.
fn leaker() -> Option<&'static Path> {
    if let Err(why) = ospecc_runtime::seccomp::probe() {
        eprintln!("SKIP: determinism mode watches syscalls through seccomp, and {why}");
        return None;
    }
    compile::leaker()
}

/// A spec with one leaker service on 43110 (its `network` leak goes to 127.0.0.1:43199, where
/// nothing listens), `head` at the top and `service_extra` in the service's arguments.
fn spec(leaker: &Path, head: &str, service_extra: &str, body: &str) -> String {
    format!(
        r#"{head}
leaker = service("leaker", "{leaker}",
    interface("main", "http", 43110),
    healthcheck = http("localhost:43110/healthz"),
    env = {{"PORT": "43110", "LEAK_ADDR": "127.0.0.1:43199"}},
    {service_extra}
)

{body}
"#,
        leaker = leaker.display()
    )
}

const CLOCK_TEST: &str = r#"def test_clock():
    assert_eq(leaker.main.get(path = "/trigger?leak=clock").status, 200)
"#;

/// `ospecc run` on `text` with `args`; the run and its normalized trace's `unmediated_io` lines.
fn run(text: &str, args: &[&str]) -> (Run, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaks.star");
    std::fs::write(&file, text).unwrap();
    let norm = dir.path().join("run.norm");
    let mut all = vec!["run", file.to_str().unwrap(), "--normalize", norm.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = ospecc_with(dir.path(), &all, None, &[], Duration::from_secs(120));
    let normalized = std::fs::read_to_string(&norm).unwrap_or_default();
    let lines = normalized.lines().filter(|l| l.starts_with("unmediated_io")).map(str::to_owned).collect();
    (run, lines)
}

#[test]
fn a_raw_clock_read_fails_under_strict_mode_and_passes_when_tolerated() {
    let Some(leaker) = leaker() else { return };
    let _host = HOST_PORTS.lock().unwrap_or_else(|p| p.into_inner());

    let (strict, lines) = run(&spec(leaker, "determinism()", "", CLOCK_TEST), &[]);
    strict.expect(1);
    let failure =
        "test_clock: strict determinism: service `leaker` did unmediated I/O of category `clock` (clock_gettime)";
    assert!(strict.stdout.contains(failure), "{}", strict.text());
    assert!(strict.stdout.contains(r#"service("leaker", nondeterministic_ok=["clock"])"#), "{}", strict.text());
    assert_eq!(lines, ["unmediated_io clock clock_gettime"]);

    let (tolerated, lines) =
        run(&spec(leaker, "determinism()", r#"nondeterministic_ok = ["clock"],"#, CLOCK_TEST), &[]);
    tolerated.expect(0);
    assert_eq!(lines, ["unmediated_io clock clock_gettime"], "tolerated leaks are still reported");

    let (allowed, _) = run(&spec(leaker, r#"determinism(allow = ["clock"])"#, "", CLOCK_TEST), &[]);
    allowed.expect(0);
}

#[test]
fn the_flag_turns_strict_mode_on_and_off() {
    let Some(leaker) = leaker() else { return };
    let _host = HOST_PORTS.lock().unwrap_or_else(|p| p.into_inner());

    // Without determinism(): nothing is watched, unless the flag asks.
    let plain = spec(leaker, "", "", CLOCK_TEST);
    let (run_plain, lines) = run(&plain, &[]);
    run_plain.expect(0);
    assert!(lines.is_empty(), "{lines:?}");
    let (flagged, lines) = run(&plain, &["--strict-determinism"]);
    flagged.expect(1);
    assert_eq!(lines, ["unmediated_io clock clock_gettime"]);

    // strict=False reports only; the flag overrides it either way.
    let lenient = spec(leaker, "determinism(strict = False)", "", CLOCK_TEST);
    let (reported, lines) = run(&lenient, &[]);
    reported.expect(0);
    assert_eq!(lines, ["unmediated_io clock clock_gettime"]);
    run(&lenient, &["--strict-determinism"]).0.expect(1);
    run(&spec(leaker, "determinism()", "", CLOCK_TEST), &["--strict-determinism=false"]).0.expect(0);

    // L0 promises plan determinism only: nothing to detect.
    let (level0, lines) = run(&spec(leaker, r#"determinism(level = "L0")"#, "", CLOCK_TEST), &[]);
    level0.expect(0);
    assert!(lines.is_empty(), "{lines:?}");
}

/// Every leak the leaker knows, each in its category with its syscall; a connect to a
/// declared interface (the mock's) is not a leak. The same with two jobs.
#[test]
fn every_category_is_reported_with_its_syscall() {
    let Some(leaker) = leaker() else { return };
    let _host = HOST_PORTS.lock().unwrap_or_else(|p| p.into_inner());
    let body = r#"
declared = mock_service("declared",
    interface("http", "http", 43111),
    routes = {"GET /": json_response(status = 200, body = {})},
)

polite = service("polite", "LEAKER",
    interface("main", "http", 43112),
    healthcheck = http("localhost:43112/healthz"),
    env = {"PORT": "43112", "LEAK_ADDR": "127.0.0.1:43111"},
)

def test_every_leak():
    for kind in ["clock", "rand", "urandom", "dns", "network", "raw"]:
        assert_eq(leaker.main.get(path = "/trigger?leak=" + kind).status, 200)

def test_declared_connect():
    assert_eq(polite.main.get(path = "/trigger?leak=network").status, 200)
"#
    .replace("LEAKER", &leaker.display().to_string());
    let all = r#"determinism(allow = ["clock", "rand", "dns", "network-unmediated"])"#;
    let text = spec(leaker, all, "", &body);
    let (serial, lines) = run(&text, &["--jobs", "1"]);
    serial.expect(0);
    assert_eq!(
        lines,
        [
            "unmediated_io clock clock_gettime",
            "unmediated_io rand getrandom",
            "unmediated_io rand openat",
            "unmediated_io dns connect",
            "unmediated_io network-unmediated connect",
            "unmediated_io network-unmediated socket",
        ],
        "{}",
        serial.text()
    );
    let (parallel, parallel_lines) = run(&text, &["--jobs", "2"]);
    parallel.expect(0);
    assert_eq!(parallel_lines, lines);
}
