//! The YAML front end against the yaml-test-suite (`../shared/data/yaml-test-suite`).
//!
//! Every case with `in.json` must lower, document by document, to exactly that JSON (numbers
//! compared numerically); every case with `error` must produce an error diagnostic; every other
//! case must parse without errors; no case may panic. Failures must be exactly the cases listed
//! in `tests/yaml-conformance-allowlist.txt` (so the list stays true), and at least 97% pass.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ospecc_compiler::syntax::yaml::{self, Node, Parsed, Value};
use ospecc_compiler::{Severity, Span};
use serde_json::Value as Json;

const MIN_PASS_RATE: f64 = 0.97;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Case id (`229Q`, `SM9W/00`) to its directory, sorted.
fn cases(suite: &Path) -> BTreeMap<String, PathBuf> {
    let mut cases = BTreeMap::new();
    let Ok(dirs) = fs::read_dir(suite) else { return cases };
    for dir in dirs.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let id = dir.file_name().unwrap().to_string_lossy().to_string();
        if dir.join("in.yaml").exists() {
            cases.insert(id, dir);
            continue;
        }
        for sub in fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.join("in.yaml").exists()) {
            cases.insert(format!("{id}/{}", sub.file_name().unwrap().to_string_lossy()), sub);
        }
    }
    cases
}

/// JSON equality with numbers compared by value (`1` equals `1.0`) and objects unordered.
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn first_error(parsed: &Parsed) -> Option<String> {
    parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .map(|d| format!("{} {} at {}..{}", d.code, d.message, d.span.start, d.span.end))
}

/// Every node and diagnostic span must be a byte range of the text, on char boundaries.
fn check_spans(text: &str, parsed: &Parsed) -> Result<(), String> {
    let valid = |span: Span| span.start <= span.end && text.get(span.start..span.end).is_some();
    let mut stack: Vec<&Node> = parsed.documents.iter().filter_map(|d| d.root.as_ref()).collect();
    while let Some(node) = stack.pop() {
        if !valid(node.span) {
            return Err(format!("node span {:?} is not a range of the text", node.span));
        }
        match &node.value {
            Value::Seq(items) => stack.extend(items),
            Value::Map(entries) => stack.extend(entries.iter().flat_map(|e| [&e.key, &e.value])),
            _ => {}
        }
    }
    match parsed.diagnostics.iter().find(|d| !valid(d.span)) {
        Some(d) => Err(format!("diagnostic span {:?} is not a range of the text", d.span)),
        None => Ok(()),
    }
}

/// `Ok` when the case passes, else why not.
fn run_case(dir: &Path) -> Result<(), String> {
    let text = fs::read_to_string(dir.join("in.yaml")).map_err(|e| format!("unreadable in.yaml: {e}"))?;
    let parsed = catch_unwind(AssertUnwindSafe(|| yaml::parse(&text))).map_err(|_| "panicked".to_string())?;
    check_spans(&text, &parsed)?;
    if dir.join("error").exists() {
        return match first_error(&parsed) {
            Some(_) => Ok(()),
            None => Err("invalid YAML accepted without an error".into()),
        };
    }
    if let Some(error) = first_error(&parsed) {
        return Err(format!("valid YAML rejected: {error}"));
    }
    let Ok(expected_text) = fs::read_to_string(dir.join("in.json")) else { return Ok(()) };
    let expected: Vec<Json> = serde_json::Deserializer::from_str(&expected_text)
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("unreadable in.json: {e}"))?;
    let actual: Vec<Json> =
        parsed.documents.iter().map(|d| d.root.as_ref().map_or(Json::Null, |r| r.to_json())).collect();
    if actual.len() == expected.len() && actual.iter().zip(&expected).all(|(a, e)| same(a, e)) {
        Ok(())
    } else {
        Err(format!("lowered to {} but in.json holds {}", Json::Array(actual), Json::Array(expected)))
    }
}

/// `ID reason…` lines; `#` starts a comment.
fn allowlist() -> BTreeMap<String, String> {
    let text = fs::read_to_string(repo_root().join("tests/yaml-conformance-allowlist.txt")).unwrap_or_default();
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (id, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            (id.to_string(), reason.trim().to_string())
        })
        .collect()
}

#[test]
fn yaml_test_suite() {
    let suite = repo_root().join("../shared/data/yaml-test-suite");
    if !suite.is_dir() {
        eprintln!("SKIP yaml_test_suite: {} is absent", suite.display());
        return;
    }
    let cases = cases(&suite);
    assert!(!cases.is_empty(), "no cases under {}", suite.display());
    let failures: BTreeMap<String, String> =
        cases.iter().filter_map(|(id, dir)| run_case(dir).err().map(|why| (id.clone(), why))).collect();
    let passed = cases.len() - failures.len();
    let rate = passed as f64 / cases.len() as f64;
    println!("yaml-test-suite: {passed}/{} cases pass ({:.2}%)", cases.len(), rate * 100.0);
    for (id, why) in &failures {
        println!("  FAIL {id}: {why}");
    }
    let allowed = allowlist();
    let unexpected: Vec<_> = failures.keys().filter(|id| !allowed.contains_key(*id)).collect();
    let fixed: Vec<_> = allowed.keys().filter(|id| !failures.contains_key(*id)).collect();
    assert!(unexpected.is_empty(), "failing cases not in the allowlist: {unexpected:?}");
    assert!(fixed.is_empty(), "allowlisted cases that now pass (remove them from the list): {fixed:?}");
    assert!(rate >= MIN_PASS_RATE, "pass rate {rate:.4} is below {MIN_PASS_RATE}");
}
