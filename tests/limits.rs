//! Evaluation limits that hold, end to end through the binary: each memory or time blow-up of
//! a topology file is refused with TOP012/TOP013 at the statement that caused it, with no panic
//! message, in human and JSON output; `ospecc.toml`'s `[limits]` moves the bounds. The timeout
//! is a hang guard, not a speed assertion.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ospecc_with, Run};

/// Generous: a debug build on a loaded machine; the point is that the check ends.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn check(dir: &Path, file: &str, text: &str, format: &str) -> Run {
    std::fs::write(dir.join(file), text).unwrap();
    let run = ospecc_with(dir, &["check", "--color", "never", "--format", format, file], None, &[], HANG_GUARD);
    assert!(run.code.is_some(), "killed by the hang guard or a signal:\n{}", run.text());
    assert!(!run.stderr.contains("panicked"), "a panic message reached stderr:\n{}", run.text());
    run
}

/// (code, line) of every error in a JSON report.
fn errors(run: &Run) -> Vec<(String, u64)> {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{}", run.text()));
    let mut found = Vec::new();
    for file in doc["files"].as_array().unwrap() {
        for d in file["diagnostics"].as_array().unwrap() {
            if d["severity"] == "error" {
                let line = d["line"].as_u64().unwrap_or(0);
                found.push((d["code"].as_str().unwrap().to_owned(), line));
            }
        }
    }
    found
}

/// A workspace whose time bound is far away, so that a slow (debug) build meets the memory
/// bound first where that is the one under test.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ospecc.toml"), "[limits]\nmax_time_ms = 90000\n").unwrap();
    dir
}

const GROW_LIST: &str =
    "def grow():\n    x = [0]\n    for i in range(40):\n        x = x + x\n    return x\n\ny = grow()\n";
const GROW_LIST_IN_PLACE: &str =
    "def grow():\n    x = [0]\n    for i in range(40):\n        x += x\n    return x\n\ny = grow()\n";
const GROW_STR: &str =
    "def grow():\n    s = \"x\"\n    for i in range(40):\n        s += s\n    return s\n\ny = grow()\n";

/// (file text, code, line).
const BLOW_UPS: &[(&str, &str, u64)] = &[
    ("x = [0] * 1000000000\n", "TOP013", 1),
    ("a = 1\nx = \"x\" * 2000000000\n", "TOP013", 2),
    ("x = 2000000000 * [\"y\"]\n", "TOP013", 1),
    (GROW_LIST, "TOP013", 4),
    (GROW_LIST_IN_PLACE, "TOP013", 4),
    (GROW_STR, "TOP013", 4),
    ("a = 1\n\nx = [[0] * 1000000 for _ in range(100000)]\n", "TOP013", 3),
    ("x = list(range(1000000000))\n", "TOP012", 1),
    ("a = 1\nx = sorted(range(1000000000))\n", "TOP012", 2),
    ("x = max(range(2000000000))\n", "TOP012", 1),
];

#[test]
fn every_blow_up_is_refused_at_its_statement() {
    let dir = workspace();
    for (i, (text, code, line)) in BLOW_UPS.iter().enumerate() {
        let file = format!("b{i}.star");
        let json = check(dir.path(), &file, text, "json");
        let found = errors(&json);
        assert!(
            found.contains(&((*code).to_owned(), *line)),
            "{text:?}: expected {code} at line {line}, got {found:?}"
        );
        let human = check(dir.path(), &file, text, "human");
        assert!(human.stdout.contains(&format!("{file}:{line}:")), "{text:?}:\n{}", human.text());
    }
}

#[test]
fn range_beyond_32_bits_says_so_at_the_call() {
    let dir = workspace();
    let run = check(dir.path(), "r.star", "n = 1000000000000\nfor_each = range(n)\n", "human");
    assert!(run.stdout.contains("range() takes at most 2^31−1 (2147483647), got 1000000000000"), "{}", run.text());
    assert!(run.stdout.contains("r.star:2:"), "{}", run.text());
    assert!(!run.stdout.contains("Error unpacking value"), "{}", run.text());
}

#[test]
fn ospecc_toml_moves_the_bounds() {
    let dir = workspace();
    let text = "x = [0] * 1000000\n";
    assert!(errors(&check(dir.path(), "m.star", text, "json")).is_empty(), "8 MiB fits the default budget");
    std::fs::write(dir.path().join("ospecc.toml"), "[limits]\nmax_memory_mib = 4\n").unwrap();
    assert_eq!(errors(&check(dir.path(), "m.star", text, "json")), vec![("TOP013".to_owned(), 1)]);
    std::fs::write(dir.path().join("ospecc.toml"), "[limits]\nmax_steps = 1000\n").unwrap();
    let loop_text = "def f():\n    n = 0\n    for i in range(100000):\n        n += i\n    return n\n\nx = f()\n";
    let found = errors(&check(dir.path(), "t.star", loop_text, "json"));
    assert_eq!(found.first().map(|f| f.0.as_str()), Some("TOP012"), "{found:?}");
    std::fs::write(dir.path().join("ospecc.toml"), "[limits]\nmax_memory_mib = 0\n").unwrap();
    let run = check(dir.path(), "m.star", text, "json");
    assert_eq!(run.code, Some(2), "{}", run.text());
    assert!(run.stderr.contains("max_memory_mib"), "{}", run.text());
}

/// String methods build their result in one native step no guard can size beforehand; the
/// allocator's ceiling stops the process at the statement instead of letting it take gigabytes.
#[test]
fn string_methods_past_the_ceiling_stop_at_their_statement() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ospecc.toml"), "[limits]\nmax_memory_mib = 16\nmax_time_ms = 90000\n").unwrap();
    let cases = [
        "s = \"a\" * 20000\nt = s.replace(\"a\", s)\n",
        "s = \"a\" * 100000\n\nt = s.join([\"\"] * 4000)\n",
        "s = \"a\" * 100000\nf = \"{0}\" * 3000\nt = f.format(s)\n",
    ];
    let lines = [2, 3, 3];
    for (i, (text, line)) in cases.iter().zip(lines).enumerate() {
        let file = format!("s{i}.star");
        let run = check(dir.path(), &file, text, "human");
        assert_eq!(run.code, Some(1), "{text:?}:\n{}", run.text());
        let at = format!(
            "error[TOP013]: {}:{line}:1: an operation of this statement needed",
            dir.path().join(&file).display()
        );
        let found = run.stderr.contains(&at) || run.stderr.contains(&format!("error[TOP013]: {file}:{line}:1:"));
        assert!(found, "{text:?}: expected TOP013 at line {line}:\n{}", run.text());
        assert!(run.stderr.contains("max_memory_mib"), "{}", run.text());
    }
}
