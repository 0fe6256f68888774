//! The normalized trace (`--normalize FILE`): a run's events reduced to what Faultbox's
//! regression goldens hold, so a run of ospecc can be compared byte for byte with Faultbox's
//! (`../shared/data/faultbox-corpus/README.md` describes the format).
//!
//! One block per test in name order (`=== name ===`), one sub-block per service in name order
//! (`--- service ---`; the test driver's own events are `--- test ---`), each listing that
//! service's events in the order they happened:
//! * `service_started`, `service_ready`, `fault_applied`, `fault_removed` — the type alone; a
//!   fault scope is listed under each service whose syscalls it faults (protocol faults are
//!   applied by proxies and, as in Faultbox, list nothing);
//! * `step_send TARGET`, `step_recv TARGET` — a step of the test driver to a service;
//! * `SYSCALL DECISION [PATH]` — an intercepted syscall, with `deny(<error text>)`,
//!   `delay(<ms>ms)`, `allow` or `trace` (an allow by a `trace` scope); `socket:[N]` and
//!   `pipe:[N]` lose their inode. Left out, as Faultbox leaves them out: allowed syscalls with
//!   no path, on system paths, and on pipes, sockets, `anon_inode:*` and `/dev/null`;
//! * `unmediated_io CATEGORY SYSCALL` — determinism mode's unmediated I/O.
//!
//! Every other event (output lines, proxy decisions, assertions) is not part of the format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::model::{ItemKind, RunReport};
use crate::events::Event;

/// The test driver's block name.
const DRIVER: &str = "test";
/// Paths under these are system paths (libraries, configuration, kernel interfaces).
const SYSTEM_PREFIXES: &[&str] = &["/proc/", "/sys/", "/dev/", "/etc/", "/usr/", "/lib", "/bin/", "/sbin/", "/run/"];

/// The normalized trace of every test of the run.
pub fn render(report: &RunReport, events: &[Event]) -> String {
    let mut tests: Vec<_> = report.results.iter().filter(|r| r.kind == ItemKind::Test).collect();
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for test in tests {
        let slice = events.iter().filter(|e| e.seq >= test.first_seq && e.seq < test.end_seq);
        let _ = writeln!(out, "=== {} ===", test.name);
        for (service, lines) in by_service(slice) {
            let _ = writeln!(out, "--- {service} ---");
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// Each service's normalized lines, services in name order.
fn by_service<'a>(events: impl Iterator<Item = &'a Event>) -> BTreeMap<String, Vec<String>> {
    let mut blocks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events {
        for (service, line) in lines(event) {
            blocks.entry(service).or_default().push(line);
        }
    }
    blocks
}

/// The (service, line) pairs one event contributes.
fn lines(event: &Event) -> Vec<(String, String)> {
    let text = |key: &str| event.fields.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let on_service = |line: String| vec![(event.service.clone(), line)];
    match event.kind.as_str() {
        "service_started" | "service_ready" => on_service(event.kind.clone()),
        "fault_applied" | "fault_removed" => {
            syscall_targets(event).into_iter().map(|service| (service, event.kind.clone())).collect()
        }
        "step_send" => vec![(DRIVER.to_owned(), format!("step_send {}", text("target")))],
        "step" => vec![(DRIVER.to_owned(), format!("step_recv {}", text("target")))],
        "syscall" => syscall_line(event).map(on_service).unwrap_or_default(),
        "unmediated_io" => on_service(format!("unmediated_io {} {}", text("category"), text("syscall"))),
        _ => Vec::new(),
    }
}

/// The services whose syscalls a fault scope targets (`targets` holds `svc` for syscall
/// rules and `svc.iface` for protocol rules).
fn syscall_targets(event: &Event) -> Vec<String> {
    let targets = event.fields.get("targets").and_then(Value::as_array).cloned().unwrap_or_default();
    targets.iter().filter_map(Value::as_str).filter(|t| !t.contains('.')).map(str::to_owned).collect()
}

/// `write deny(no space left on device) /data/x`, or `None` for what Faultbox leaves out.
fn syscall_line(event: &Event) -> Option<String> {
    let field = |key: &str| event.fields.get(key);
    let name = field("syscall").and_then(Value::as_str)?;
    let path = field("path").and_then(Value::as_str).map(short_path);
    let decision = match field("decision").and_then(Value::as_str)? {
        "deny" => format!("deny({})", error_text(field("errno_code").and_then(Value::as_i64).unwrap_or(0))),
        "delay" => format!("delay({}ms)", field("delay_ms").and_then(Value::as_u64).unwrap_or(0)),
        _ if field("scope").and_then(Value::as_str).is_some_and(|s| s.starts_with("trace")) => "trace".to_owned(),
        _ if path.as_deref().is_none_or(quiet_path) => return None,
        _ => "allow".to_owned(),
    };
    Some(match path {
        Some(path) => format!("{name} {decision} {path}"),
        None => format!("{name} {decision}"),
    })
}

/// `socket:[123]` → `socket`, `pipe:[7]` → `pipe`; other paths as they are.
fn short_path(path: &str) -> String {
    match path.split_once(":[") {
        Some((kind @ ("socket" | "pipe"), _)) => kind.to_owned(),
        _ => path.to_owned(),
    }
}

/// Paths whose allowed accesses are noise: system paths, pipes, sockets, anonymous inodes.
fn quiet_path(path: &str) -> bool {
    matches!(path, "socket" | "pipe" | "/dev/null")
        || path.starts_with("anon_inode:")
        || SYSTEM_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// An errno's message as Go prints it (`no space left on device`).
fn error_text(code: i64) -> String {
    let Ok(code) = i32::try_from(code) else { return format!("errno {code}") };
    // SAFETY: strerror returns a pointer to a static or thread-local NUL-terminated string.
    let text = unsafe {
        let ptr = libc::strerror(code);
        if ptr.is_null() {
            return format!("errno {code}");
        }
        std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned()
    };
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_lowercase().collect::<String>() + chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{ItemResult, Outcome, Summary};

    fn event(seq: u64, service: &str, kind: &str, fields: Value) -> Event {
        let fields = fields.as_object().cloned().unwrap_or_default().into_iter().collect();
        Event { seq, at_ms: 0.0, service: service.into(), kind: kind.into(), fields }
    }

    fn result(name: &str, first_seq: u64, end_seq: u64) -> ItemResult {
        ItemResult {
            name: name.into(),
            kind: ItemKind::Test,
            outcome: Outcome::Passed,
            message: None,
            duration_ms: 0.0,
            origin: None,
            matrix: None,
            first_seq,
            end_seq,
            assertions: 0,
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn tests_and_services_in_name_order_with_faultbox_lines() {
        let events = vec![
            event(0, "db", "service_started", serde_json::json!({})),
            event(1, "api", "service_started", serde_json::json!({})),
            event(2, "api", "service_ready", serde_json::json!({})),
            event(3, "", "fault_applied", serde_json::json!({"targets": ["db", "api.http"]})),
            event(4, "test", "step_send", serde_json::json!({"target": "api"})),
            event(
                5,
                "db",
                "syscall",
                serde_json::json!({"syscall": "write", "decision": "deny", "errno_code": 28, "path": "/data/x"}),
            ),
            event(
                6,
                "db",
                "syscall",
                serde_json::json!({"syscall": "write", "decision": "allow", "path": "pipe:[4411]"}),
            ),
            event(
                7,
                "db",
                "syscall",
                serde_json::json!({"syscall": "openat", "decision": "allow", "scope": "trace(db)", "path": "/data/wal"}),
            ),
            event(8, "db", "syscall", serde_json::json!({"syscall": "fsync", "decision": "delay", "delay_ms": 500})),
            event(9, "test", "step", serde_json::json!({"target": "api"})),
            event(10, "api", "stdout", serde_json::json!({"line": "hi"})),
            event(11, "", "fault_removed", serde_json::json!({"targets": ["db"]})),
            event(12, "api", "service_started", serde_json::json!({})),
        ];
        let report = RunReport {
            root: "x.star".into(),
            shard: None,
            duration_ms: 0.0,
            services: Vec::new(),
            results: vec![result("test_b", 12, 13), result("test_a", 0, 12)],
            diagnostics: Vec::new(),
            summary: Summary::default(),
            plan: None,
        };
        let expected = "=== test_a ===\n--- api ---\nservice_started\nservice_ready\n--- db ---\nservice_started\n\
                        fault_applied\nwrite deny(no space left on device) /data/x\nopenat trace /data/wal\n\
                        fsync delay(500ms)\nfault_removed\n--- test ---\nstep_send api\nstep_recv api\n\
                        === test_b ===\n--- api ---\nservice_started\n";
        assert_eq!(render(&report, &events), expected);
    }
}
