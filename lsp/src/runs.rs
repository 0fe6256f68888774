//! Running tests from the editor: `ospecc run FILE --test NAME... --format json --out DIR` as a
//! child process (the binary the host names), its JSON report and per-test traces read back
//! into results, and the failures kept as diagnostics on the failing assertion's line until
//! the document changes or the test runs again. The scheduler publishes them with the
//! document's own diagnostics (it is the only publisher).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ropey::Rope;
use serde::Serialize;
use serde_json::Value;
use tower_lsp_server::ls_types::{self as lsp, NumberOrString};

use crate::encoding::{range_of, PositionEncoding};

/// The `source` of run results.
pub const SOURCE: &str = "ospecc-run";
/// The longest a run from the editor may take before it is stopped.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The most report output read from the child.
const MAX_OUTPUT: u64 = 64 * 1024 * 1024;

/// What the editor asked to run.
#[derive(Clone, Debug)]
pub struct Request {
    pub file: PathBuf,
    pub tests: Vec<String>,
    /// Keep the JSONL traces (and an HTML report) and say where.
    pub trace: bool,
}

/// One test's result, with where to show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestResult {
    pub name: String,
    /// `passed`, `failed`, `errored`, `skipped`, `not_run`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub duration_ms: f64,
    /// 1-based line in the run file: the failing assertion's, else the test's declaration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// A finished run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub results: Vec<TestResult>,
    /// One line for people (`1 passed, 1 failed: test_x: assert_eq failed: ...`).
    pub summary: String,
    pub passed: bool,
    /// Where the traces are (with `trace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_dir: Option<PathBuf>,
}

/// Runs the request with `executable` (the `ospecc` binary); `Err` says why nothing ran.
pub fn execute(executable: &Path, request: &Request, timeout: Duration) -> Result<Outcome, String> {
    let dir = scratch_dir();
    let outcome = run_in(executable, request, &dir, timeout);
    if !request.trace || outcome.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ospecc-lsp-run-{}-{n}", std::process::id()))
}

fn run_in(executable: &Path, request: &Request, dir: &Path, timeout: Duration) -> Result<Outcome, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut command = Command::new(executable);
    command.arg("run").arg(&request.file).args(["--format", "json", "--out"]).arg(dir);
    for test in &request.tests {
        command.arg("--test").arg(test);
    }
    if request.trace {
        command.arg("--report").arg(dir.join("report.html"));
    }
    if let Some(parent) = request.file.parent().filter(|p| !p.as_os_str().is_empty()) {
        command.current_dir(parent);
    }
    let (code, stdout, stderr) = run_bounded(command, timeout)?;
    if code == Some(2) || stdout.trim().is_empty() {
        let why = stderr.lines().find(|l| l.starts_with("error")).unwrap_or(stderr.trim());
        return Err(format!("ospecc run did not run the tests: {}", if why.is_empty() { "no report" } else { why }));
    }
    let report: Value = serde_json::from_str(&stdout).map_err(|e| format!("ospecc run's report is not JSON: {e}"))?;
    let located = failing_assertions(dir);
    let results = results(&report, &located, &root_name(&request.file));
    let summary = summary(&results);
    let passed = results.iter().all(|r| r.outcome == "passed");
    let trace_dir = request.trace.then(|| dir.to_path_buf());
    Ok(Outcome { results, summary, passed, trace_dir })
}

/// Runs `command` to its end or `timeout` (then kills it); its exit code and both outputs.
fn run_bounded(mut command: Command, timeout: Duration) -> Result<(Option<i32>, String, String), String> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child =
        command.spawn().map_err(|e| format!("cannot start {}: {e}", command.get_program().to_string_lossy()))?;
    let readers = [
        child.stdout.take().map(|o| Box::new(o) as Box<dyn Read + Send>),
        child.stderr.take().map(|e| Box::new(e) as Box<dyn Read + Send>),
    ];
    let handles: Vec<std::thread::JoinHandle<String>> = readers
        .into_iter()
        .map(|reader| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(reader) = reader {
                    let _ = reader.take(MAX_OUTPUT).read_to_string(&mut text);
                }
                text
            })
        })
        .collect();
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for ospecc run: {e}")),
        }
    };
    let mut outputs = handles.into_iter().map(|h| h.join().unwrap_or_default());
    let (stdout, stderr) = (outputs.next().unwrap_or_default(), outputs.next().unwrap_or_default());
    match status {
        Some(status) => Ok((status.code(), stdout, stderr)),
        None => Err(format!("the run took longer than {} s and was stopped", timeout.as_secs())),
    }
}

/// The bundle name of the run file (its file name): assertion locations name it.
fn root_name(file: &Path) -> String {
    file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Per test name, the location (`file`, line, column) of its failing assertion, read from
/// the traces (`assertion` events with `ok: false` carry `at`).
fn failing_assertions(dir: &Path) -> BTreeMap<String, (String, u32, u32)> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let mut test = None;
        let mut failed = None;
        for event in text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
            match event["type"].as_str() {
                Some("test_started") => test = event["fields"]["test"].as_str().map(str::to_owned),
                Some("assertion") if event["fields"]["ok"] == Value::Bool(false) => {
                    failed = event["fields"]["at"].as_str().and_then(parse_at);
                }
                _ => {}
            }
        }
        if let (Some(test), Some(at)) = (test, failed) {
            found.insert(test, at);
        }
    }
    found
}

/// `/bundle/spec.star:20:5` as (the bundle path, 20, 5): the run evaluates the bundle under
/// `/bundle` (with `_` directories for `../` paths).
fn parse_at(at: &str) -> Option<(String, u32, u32)> {
    let (rest, column) = at.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    let mut file = file.strip_prefix("/bundle/").unwrap_or(file);
    while let Some(inner) = file.strip_prefix("_/") {
        file = inner;
    }
    Some((file.to_owned(), line.parse().ok()?, column.parse().ok()?))
}

fn results(report: &Value, located: &BTreeMap<String, (String, u32, u32)>, root: &str) -> Vec<TestResult> {
    let items = report["results"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|item| item["kind"] == "test")
        .map(|item| {
            let name = item["name"].as_str().unwrap_or_default().to_owned();
            let origin = (item["origin"]["file"].as_str() == Some(root))
                .then(|| (item["origin"]["line"].as_u64(), item["origin"]["column"].as_u64()));
            let assertion = located.get(&name).filter(|(file, _, _)| file == root).map(|(_, l, c)| (*l, *c));
            let (line, column) = match (assertion, origin) {
                (Some((line, column)), _) => (Some(line), Some(column)),
                (None, Some((line, column))) => (line.map(|l| l as u32), column.map(|c| c as u32)),
                (None, None) => (None, None),
            };
            TestResult {
                name,
                outcome: item["outcome"].as_str().unwrap_or("errored").to_owned(),
                message: item["message"].as_str().map(str::to_owned),
                duration_ms: item["duration_ms"].as_f64().unwrap_or(0.0),
                line,
                column,
            }
        })
        .collect()
}

fn summary(results: &[TestResult]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for result in results {
        *counts.entry(result.outcome.as_str()).or_default() += 1;
    }
    let order = ["passed", "failed", "errored", "skipped", "not_run"];
    let mut parts: Vec<String> =
        order.iter().filter_map(|o| counts.get(o).map(|n| format!("{n} {}", o.replace('_', " ")))).collect();
    if parts.is_empty() {
        parts.push("no test matched".to_owned());
    }
    let mut text = parts.join(", ");
    if let Some(first) = results.iter().find(|r| r.outcome != "passed") {
        text.push_str(&format!(" — {} {}", first.name, first.outcome.replace('_', " ")));
        if let Some(message) = &first.message {
            text.push_str(&format!(": {message}"));
        }
    }
    text
}

/// The run results of the open documents: per file, per test, the diagnostics of its last
/// run, valid for the document version they ran on.
#[derive(Default)]
pub struct Results {
    by_file: Mutex<BTreeMap<PathBuf, FileResults>>,
}

#[derive(Default)]
struct FileResults {
    /// The document version the results belong to (`None`: the file on disk).
    version: Option<i32>,
    tests: BTreeMap<String, Vec<lsp::Diagnostic>>,
}

impl Results {
    /// Records a run of `outcome`'s tests on the text `rope` (version `version`) of `file`.
    pub fn record(
        &self,
        file: &Path,
        version: Option<i32>,
        outcome: &Outcome,
        rope: &Rope,
        encoding: PositionEncoding,
    ) {
        let mut by_file = self.by_file.lock().unwrap_or_else(|p| p.into_inner());
        let entry = by_file.entry(file.to_path_buf()).or_default();
        if entry.version != version {
            *entry = FileResults { version, tests: BTreeMap::new() };
        }
        for result in &outcome.results {
            entry.tests.insert(result.name.clone(), diagnostic(result, rope, encoding).into_iter().collect());
        }
    }

    /// The diagnostics to publish with `file` at `version` (none once the text moved on).
    pub fn diagnostics(&self, file: &Path, version: Option<i32>) -> Vec<lsp::Diagnostic> {
        let by_file = self.by_file.lock().unwrap_or_else(|p| p.into_inner());
        match by_file.get(file) {
            Some(entry) if entry.version == version => entry.tests.values().flatten().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// A failed or errored test as a diagnostic on its line (the whole line's text).
fn diagnostic(result: &TestResult, rope: &Rope, encoding: PositionEncoding) -> Option<lsp::Diagnostic> {
    if !matches!(result.outcome.as_str(), "failed" | "errored") {
        return None;
    }
    let line = result.line?.checked_sub(1)? as usize;
    if line >= rope.len_lines() {
        return None;
    }
    let start = rope.line_to_byte(line);
    let text = rope.line(line).to_string();
    let indent = text.len() - text.trim_start().len();
    let end = start + text.trim_end().len();
    let message =
        format!("{} {}: {}", result.name, result.outcome, result.message.as_deref().unwrap_or("(no message)"));
    Some(lsp::Diagnostic {
        range: range_of(rope, start + indent.min(text.trim_end().len()), end, encoding),
        severity: Some(lsp::DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String(result.outcome.clone())),
        source: Some(SOURCE.to_owned()),
        message,
        ..lsp::Diagnostic::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn locations_and_results_are_read_from_the_report() {
        assert_eq!(parse_at("/bundle/spec.star:20:5"), Some(("spec.star".into(), 20, 5)));
        assert_eq!(parse_at("/bundle/_/_/lib/x.star:3:1"), Some(("lib/x.star".into(), 3, 1)));
        assert_eq!(parse_at("nonsense"), None);
        let report = json!({"results": [
            {"name": "test_a", "kind": "test", "outcome": "failed", "message": "assert_eq failed: 1 != 2",
             "duration_ms": 3.0, "origin": {"file": "s.star", "line": 4, "column": 5}},
            {"name": "test_b", "kind": "test", "outcome": "passed", "duration_ms": 1.0,
             "origin": {"file": "s.star", "line": 9, "column": 5}},
            {"name": "health.api", "kind": "probe", "outcome": "passed", "duration_ms": 1.0},
        ]});
        let located = BTreeMap::from([("test_a".to_owned(), ("s.star".to_owned(), 6, 5))]);
        let results = results(&report, &located, "s.star");
        assert_eq!(results.len(), 2);
        assert_eq!((results[0].line, results[1].line), (Some(6), Some(9)));
        assert_eq!(summary(&results), "1 passed, 1 failed — test_a failed: assert_eq failed: 1 != 2");
        let rope = Rope::from_str("a\nb\nc\nd\ne\n    assert_eq(1, 2)  \n");
        let d = diagnostic(&results[0], &rope, PositionEncoding::Utf16).unwrap();
        assert_eq!((d.range.start.line, d.range.start.character, d.range.end.character), (5, 4, 19));
        assert!(diagnostic(&results[1], &rope, PositionEncoding::Utf16).is_none());
    }

    #[test]
    fn results_last_until_the_text_changes() {
        let store = Results::default();
        let outcome = Outcome {
            results: vec![TestResult {
                name: "t".into(),
                outcome: "failed".into(),
                message: None,
                duration_ms: 1.0,
                line: Some(1),
                column: Some(1),
            }],
            summary: String::new(),
            passed: false,
            trace_dir: None,
        };
        let rope = Rope::from_str("x = 1\n");
        store.record(Path::new("/w/s.star"), Some(3), &outcome, &rope, PositionEncoding::Utf16);
        assert_eq!(store.diagnostics(Path::new("/w/s.star"), Some(3)).len(), 1);
        assert!(store.diagnostics(Path::new("/w/s.star"), Some(4)).is_empty());
        let passed =
            Outcome { results: vec![TestResult { outcome: "passed".into(), ..outcome.results[0].clone() }], ..outcome };
        store.record(Path::new("/w/s.star"), Some(3), &passed, &rope, PositionEncoding::Utf16);
        assert!(store.diagnostics(Path::new("/w/s.star"), Some(3)).is_empty());
    }
}
