//! `ospecc fmt` end to end: golden outputs (`tests/fmt/*` → `*.formatted`; `OSPECC_BLESS=1`
//! rewrites them), `--check` with its diff and exit code, writing files in place, and files
//! with syntax errors left untouched.

mod common;

use std::time::Duration;

use common::{ospecc_with, repo_root as root, Run};

fn ospecc(args: &[&str]) -> Run {
    ospecc_with(&root(), args, None, &[], Duration::from_secs(60))
}

fn ospecc_stdin(args: &[&str], stdin: &str) -> Run {
    ospecc_with(&root(), args, Some(stdin.as_bytes()), &[], Duration::from_secs(60))
}

#[test]
fn golden_outputs() {
    for name in ["messy.star", "messy.ospec.yml"] {
        let input = root().join("tests/fmt").join(name);
        let golden = root().join("tests/fmt").join(format!("{name}.formatted"));
        let text = std::fs::read_to_string(&input).unwrap();
        let out = ospecc_stdin(&["fmt", "--no-config", "--stdin-filename", name, "-"], &text);
        out.expect(0);
        if std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&golden, &out.stdout).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        assert_eq!(out.stdout, expected, "{name}: bless with OSPECC_BLESS=1 cargo test --test fmt");
        let again = ospecc_stdin(&["fmt", "--no-config", "--stdin-filename", name, "-"], &expected);
        again.expect(0);
        assert_eq!(again.stdout, expected, "{name}: idempotent");
    }
}

#[test]
fn check_prints_a_diff_and_fails_then_fmt_writes_and_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("a.star");
    std::fs::write(&spec, "x=1\n").unwrap();
    let check = ospecc(&["fmt", "--check", spec.to_str().unwrap()]);
    check.expect(1);
    assert!(check.stdout.contains("-x=1\n+x = 1\n"), "{}", check.stdout);
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "x=1\n", "--check changes nothing");
    ospecc(&["fmt", dir.path().to_str().unwrap()]).expect(0);
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "x = 1\n");
    let clean = ospecc(&["fmt", "--check", dir.path().to_str().unwrap()]);
    clean.expect(0);
    assert!(clean.stdout.is_empty());
}

#[test]
fn syntax_errors_are_reported_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.ospec.yml");
    std::fs::write(&spec, "a: [1,\nb:   2\n").unwrap();
    let out = ospecc(&["fmt", spec.to_str().unwrap()]);
    out.expect(1);
    assert!(out.stderr.contains("OSP0"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "a: [1,\nb:   2\n");
}

#[test]
fn the_repository_is_formatted() {
    let out = ospecc(&["fmt", "--check", root().to_str().unwrap()]);
    out.expect(0);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn crlf_line_breaks_and_a_byte_order_mark_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("crlf.star", "x=1\r\ndef f():\r\n  return 2\r\n", "x = 1\r\n\r\n\r\ndef f():\r\n    return 2\r\n"),
        ("crlf.ospec.yml", "a:    1\r\nb:\r\n- x\r\n", "a: 1\r\nb:\r\n  - x\r\n"),
        ("bom.ospec.yml", "\u{feff}a:    1\nb:\n- x\n", "\u{feff}a: 1\nb:\n  - x\n"),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let check = ospecc(&["fmt", "--check", path.to_str().unwrap()]);
        check.expect(1);
        assert!(check.stdout.contains("\r\n") == text.contains("\r\n"), "{name}: {}", check.stdout);
        ospecc(&["fmt", path.to_str().unwrap()]).expect(0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected, "{name}");
        ospecc(&["fmt", "--check", path.to_str().unwrap()]).expect(0);
    }
}
