//! Hostile and broken input, through the binary: each case ends in bounded time with a
//! diagnostic or a clear error and the documented exit code, and never panics or crashes.

mod common;

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use common::{ospecc_with, project, Run};
use serde_json::Value;

const VALID: &str = include_str!("fixtures/cli/valid.ospec.yml");

fn check(dir: &Path, args: &[&str], limit: Duration) -> Run {
    let mut all = vec!["check", "--no-config", "--color", "never"];
    all.extend_from_slice(args);
    let run = ospecc_with(dir, &all, None, &[], limit);
    run.no_panic();
    assert!(run.code.is_some(), "ospecc was killed by a signal (stack overflow?):\n{}", run.stderr);
    run
}

fn json_check(dir: &Path, path: &str, limit: Duration) -> (Run, Value) {
    let run = check(dir, &["--format", "json", path], limit);
    let doc = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout));
    (run, doc)
}

fn codes(doc: &Value) -> Vec<String> {
    doc["files"][0]["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn empty_file_is_reported() {
    let dir = project(&[("empty.ospec.yml", b"")]);
    let (run, doc) = json_check(dir.path(), "empty.ospec.yml", Duration::from_secs(30));
    run.expect(1);
    assert_eq!(codes(&doc), ["OSP001"]);
}

#[test]
fn binary_file_is_reported() {
    let dir = project(&[("bin.ospec.yml", b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe")]);
    let (run, doc) = json_check(dir.path(), "bin.ospec.yml", Duration::from_secs(30));
    run.expect(1);
    assert_eq!(codes(&doc), ["OSP002"]);
}

#[test]
fn invalid_utf8_is_located() {
    let dir = project(&[("latin1.ospec.yml", b"id: caf\xe9\nname: x\n")]);
    let (run, doc) = json_check(dir.path(), "latin1.ospec.yml", Duration::from_secs(30));
    run.expect(1);
    assert_eq!(codes(&doc), ["OSP003"]);
    let d = &doc["files"][0]["diagnostics"][0];
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(1), Some(8)));
    // The human format shows the decodable part of the file without failing.
    check(dir.path(), &["latin1.ospec.yml"], Duration::from_secs(30)).expect(1);
}

/// A real-looking 50 MB spec: many endpoints, with one broken status near the end, so the
/// whole file has to be read, parsed and checked to find it.
#[test]
fn fifty_megabyte_file_is_checked_in_bounded_time() {
    let mut text = VALID.to_string();
    let entry = "    - path: /items/0000000/details/and/more/segments/to/make/this/long\n      status: 200\n";
    let mut i = 0;
    while text.len() < 50 * 1024 * 1024 {
        let _ = write!(text, "{}", entry.replace("0000000", &format!("{i:07}")));
        i += 1;
    }
    text.push_str("    - path: /last\n      status: \"not a number\"\n");
    let last_line = text.lines().count();
    let dir = project(&[("big.ospec.yml", text.as_bytes())]);
    let (run, doc) = json_check(dir.path(), "big.ospec.yml", Duration::from_secs(300));
    assert!(matches!(run.code, Some(1)), "a broken 50 MB file must fail: {:?}\n{}", run.code, run.stderr);
    let diagnostics = doc["files"][0]["diagnostics"].as_array().unwrap();
    assert!(!diagnostics.is_empty());
    println!("50 MB file: {:?}, {} diagnostics", run.elapsed, diagnostics.len());
    let located_at_end = diagnostics.iter().any(|d| d["line"].as_u64() == Some(last_line as u64));
    let about_size = diagnostics.iter().any(|d| d["line"].as_u64() == Some(1));
    assert!(located_at_end || about_size, "neither the broken status nor the size was reported: {diagnostics:?}");
}

#[test]
fn deeply_nested_yaml_is_rejected_without_overflowing_the_stack() {
    let depth = 10_000;
    let cases = [
        ("flow-seq.ospec.yml", format!("acceptance: {}{}\n", "[".repeat(depth), "]".repeat(depth))),
        ("flow-map.ospec.yml", format!("acceptance: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth))),
        ("block-seq.ospec.yml", format!("acceptance:\n{}1\n", "- ".repeat(depth))),
    ];
    for (name, text) in cases {
        let dir = project(&[(name, text.as_bytes())]);
        let (run, doc) = json_check(dir.path(), name, Duration::from_secs(60));
        run.expect(1);
        assert!(!codes(&doc).is_empty(), "{name}: no diagnostic");
    }
}

#[test]
fn alias_bomb_is_bounded() {
    let mut text = String::from("ospec_version: \"1.0.0\"\nx-bomb:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        let _ = writeln!(text, "  {}: &{} [{refs}]", pair[1], pair[1]);
    }
    text.push_str("id: bomb\n");
    let dir = project(&[("bomb.ospec.yml", text.as_bytes())]);
    let (run, doc) = json_check(dir.path(), "bomb.ospec.yml", Duration::from_secs(60));
    run.expect(1);
    assert!(!codes(&doc).is_empty());
    assert!(run.elapsed < Duration::from_secs(30), "alias bomb took {:?}", run.elapsed);
}

fn is_root() -> bool {
    // Root reads files whatever their mode: probe it instead of asking for the uid.
    let dir = project(&[("probe", b"x")]);
    let probe = dir.path().join("probe");
    set_mode(&probe, 0o000);
    std::fs::read(&probe).is_ok()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn expect_path_error(dir: &Path, args: &[&str], needle: &str) {
    let run = check(dir, args, Duration::from_secs(30));
    run.expect(2);
    assert!(run.stderr.contains(needle), "expected `{needle}` on stderr:\n{}", run.stderr);
    assert!(run.stdout.contains("checked 1 file"), "the other file is still checked:\n{}", run.stdout);
}

#[test]
fn unreadable_paths_are_named_and_the_rest_is_checked() {
    let dir = project(&[("ok.ospec.yml", VALID.as_bytes())]);
    let base = dir.path();
    // Broken symlink, and a FIFO (which must be refused, not read: reading it would block).
    std::os::unix::fs::symlink(base.join("gone.ospec.yml"), base.join("link.ospec.yml")).unwrap();
    expect_path_error(base, &["link.ospec.yml", "ok.ospec.yml"], "link.ospec.yml: no such file or directory");
    let fifo = base.join("pipe.ospec.yml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    if made {
        expect_path_error(base, &["pipe.ospec.yml", "ok.ospec.yml"], "pipe.ospec.yml: not a regular file");
        std::fs::remove_file(&fifo).unwrap();
    } else {
        println!("SKIP fifo case: mkfifo is not available");
    }
    std::fs::remove_file(base.join("link.ospec.yml")).unwrap();
    if is_root() {
        println!("SKIP chmod 000 cases: running as root, which reads files whatever their mode");
        return;
    }
    let locked = base.join("locked.ospec.yml");
    std::fs::write(&locked, VALID).unwrap();
    set_mode(&locked, 0o000);
    expect_path_error(base, &["locked.ospec.yml", "ok.ospec.yml"], "locked.ospec.yml: permission denied");
    set_mode(&locked, 0o644);
    std::fs::remove_file(&locked).unwrap();
    let sub = base.join("closed");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("x.ospec.yml"), VALID).unwrap();
    set_mode(&sub, 0o000);
    let run = check(base, &["."], Duration::from_secs(30));
    set_mode(&sub, 0o755);
    run.expect(2);
    assert!(run.stderr.contains("closed"), "{}", run.stderr);
}

#[test]
fn ten_thousand_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10_000 {
        let sub = dir.path().join(format!("d{:02}", i % 50));
        if i < 50 {
            std::fs::create_dir(&sub).unwrap();
        }
        let content = if i == 4242 { "" } else { VALID };
        std::fs::write(sub.join(format!("f{i:05}.ospec.yml")), content).unwrap();
    }
    let run = check(dir.path(), &["--format", "json"], Duration::from_secs(300));
    run.expect(1);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["summary"]["files"], 10_000);
    assert_eq!(doc["summary"]["errors"], 1);
    println!("10,000 files: {:?}", run.elapsed);
}
