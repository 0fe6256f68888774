//! Confinement on resolved paths, end to end through the binary: every escape route of a spec
//! (a symbolic link to a file, to a directory, to `/proc/self/environ`, `load()` of a linked
//! file, `sub/../link_dir/x`, an OSpec `topology:` outside, file references outside) is refused
//! with a located diagnostic in `check`, `plan` and `build`, leaves no trace of the outside
//! file's content in any output, and works again with `--allow-outside` or `ospecc.toml`.

mod common;

use std::path::{Path, PathBuf};

use common::{ospecc_with, Run, TIMEOUT};

const SECRET: &str = "TOPSECRET_CANARY_7d1f";
const STAR_SECRET: &str = "STAR_CANARY_92ab";
const ENV_SECRET: &str = "ENV_CANARY_5c3e";

/// `ws/` (the workspace, with `ospecc.toml`) beside `out/` (outside it), with links from the
/// one into the other.
struct Tree {
    _dir: tempfile::TempDir,
    ws: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let (ws, out) = (dir.path().join("ws"), dir.path().join("out"));
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    std::fs::create_dir_all(out.join("dir")).unwrap();
    std::fs::write(ws.join("ospecc.toml"), "").unwrap();
    std::fs::write(out.join("secret.txt"), format!("{SECRET}\n")).unwrap();
    let evil = format!("y = \"{STAR_SECRET}\"\nfail(y)\n");
    std::fs::write(out.join("dir/evil.star"), &evil).unwrap();
    std::fs::write(out.join("evil.star"), &evil).unwrap();
    std::os::unix::fs::symlink("../out/secret.txt", ws.join("link")).unwrap();
    std::os::unix::fs::symlink("../out/dir", ws.join("link_dir")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", ws.join("env")).unwrap();
    std::fs::write(out.join("dir/x"), format!("{SECRET}\n")).unwrap();
    Tree { _dir: dir, ws }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let run = ospecc_with(dir, args, None, &[("OSPECC_TEST_CANARY", ENV_SECRET)], TIMEOUT);
    run.no_panic();
    run
}

/// No output of the run holds any outside content.
fn assert_clean(run: &Run) {
    for secret in [SECRET, STAR_SECRET, ENV_SECRET] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{secret} leaked:\n{}", run.text());
    }
}

/// `check` in human and JSON, `plan` and `build`: each refuses `file` with `code` at `line`
/// and prints nothing from outside.
fn assert_refused(dir: &Path, file: &str, code: &str, line: u64) {
    let human = run(dir, &["check", "--color", "never", file]);
    assert_eq!(human.code, Some(1), "{}", human.text());
    assert!(human.stdout.contains(&format!("error[{code}]")), "{}", human.text());
    assert!(human.stdout.contains(&format!("{file}:{line}:")), "not located at line {line}:\n{}", human.text());
    assert!(human.stdout.contains("outside the workspace"), "{}", human.text());
    assert_clean(&human);
    let json = run(dir, &["check", "--format", "json", file]);
    assert_clean(&json);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let found = doc.to_string();
    assert!(found.contains(code), "{}", json.text());
    let plan = run(dir, &["plan", file]);
    assert_ne!(plan.code, Some(0), "{}", plan.text());
    assert!(plan.stderr.contains(code), "{}", plan.text());
    assert_clean(&plan);
    let build = run(dir, &["build", file, "-o", "plan.json"]);
    assert_ne!(build.code, Some(0), "{}", build.text());
    assert_clean(&build);
    assert!(!dir.join("plan.json").exists());
}

#[test]
fn load_file_through_a_link_to_a_file_is_refused_and_allowed_on_request() {
    let t = tree();
    write(&t.ws, "a.star", "x = load_file(\"link\")\nfail(x)\n");
    assert_refused(&t.ws, "a.star", "TOP030", 1);
    let human = run(&t.ws, &["check", "a.star"]);
    assert!(human.stdout.contains("symbolic link `link`"), "the link is named:\n{}", human.text());
    let allowed = run(&t.ws, &["check", "--allow-outside", "../out", "a.star"]);
    assert!(allowed.stdout.contains(SECRET), "--allow-outside reads it again:\n{}", allowed.text());
    let plan = run(&t.ws, &["plan", "--allow-outside", "../out", "a.star"]);
    assert!(plan.stderr.contains(SECRET), "{}", plan.text());
}

#[test]
fn load_file_of_proc_self_environ_is_refused() {
    let t = tree();
    write(&t.ws, "d.star", "x = load_file(\"env\")\nfail(x)\n");
    assert_refused(&t.ws, "d.star", "TOP030", 1);
    let allowed = run(&t.ws, &["check", "--allow-outside", "/proc", "d.star"]);
    assert!(allowed.stdout.contains(ENV_SECRET), "{}", allowed.text());
}

#[test]
fn load_of_a_star_in_a_linked_directory_is_refused() {
    let t = tree();
    write(&t.ws, "b.star", "load(\"link_dir/evil.star\", \"y\")\nfail(y)\n");
    assert_refused(&t.ws, "b.star", "TOP021", 1);
    let allowed = run(&t.ws, &["check", "--allow-outside", "../out", "b.star"]);
    assert!(allowed.stdout.contains(STAR_SECRET), "{}", allowed.text());
}

#[test]
fn a_dotdot_path_through_a_linked_directory_is_refused() {
    let t = tree();
    write(&t.ws, "c.star", "x = load_file(\"sub/../link_dir/x\")\nfail(x)\n");
    assert_refused(&t.ws, "c.star", "TOP030", 1);
    let allowed = run(&t.ws, &["check", "--allow-outside", "../out", "c.star"]);
    assert!(allowed.stdout.contains(SECRET), "{}", allowed.text());
}

#[test]
fn ospecc_toml_allows_outside_paths_for_monorepos() {
    let t = tree();
    write(&t.ws, "a.star", "x = load_file(\"link\")\nfail(x)\n");
    write(&t.ws, "ospecc.toml", "[workspace]\nallow_outside = [\"../out\"]\n");
    let allowed = run(&t.ws, &["check", "a.star"]);
    assert!(allowed.stdout.contains(SECRET), "{}", allowed.text());
}

const SPEC_HEAD: &str = "ospec_version: \"1.0.0\"\nid: conf\nname: Confinement\ndescription: A spec naming files outside its workspace.\noutcome_type: api\nacceptance:\n  tests: []\n";

#[test]
fn an_ospec_topology_outside_the_workspace_is_refused() {
    let t = tree();
    for (name, path) in [("rel.ospec.yml", "../out/evil.star"), ("abs.ospec.yml", "ABS")] {
        let absolute = t.ws.parent().unwrap().join("out/evil.star");
        let path = if path == "ABS" { absolute.display().to_string() } else { path.to_string() };
        write(&t.ws, name, &format!("{SPEC_HEAD}topology: {path}\n"));
        assert_refused(&t.ws, name, "XSP001", 8);
        let allowed = run(&t.ws, &["check", "--allow-outside", "../out", name]);
        assert!(!allowed.stdout.contains("XSP001"), "{}", allowed.text());
        assert!(allowed.stdout.contains("XSP002"), "the topology is evaluated again:\n{}", allowed.text());
    }
}

#[test]
fn file_references_outside_do_not_reveal_whether_they_exist() {
    let t = tree();
    let spec = |path: &str| format!("{SPEC_HEAD}scripts:\n  a: {path}\n");
    write(&t.ws, "exists.ospec.yml", &spec("../out/dir/evil.sh"));
    std::fs::write(t.ws.parent().unwrap().join("out/dir/evil.sh"), "#!/bin/sh\n").unwrap();
    write(&t.ws, "missing.ospec.yml", &spec("../out/dir/nope.sh"));
    let shown = |name: &str| {
        let run = run(&t.ws, &["check", "--format", "json", name]);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let diagnostics = doc["files"][0]["diagnostics"].as_array().cloned().unwrap_or_default();
        let osp207: Vec<String> = diagnostics
            .iter()
            .filter(|d| d["code"] == "OSP207")
            .map(|d| d["message"].as_str().unwrap().replace("evil.sh", "X").replace("nope.sh", "X"))
            .collect();
        osp207
    };
    let (exists, missing) = (shown("exists.ospec.yml"), shown("missing.ospec.yml"));
    assert_eq!(exists.len(), 1, "{exists:?}");
    assert!(exists[0].contains("outside the workspace"), "{exists:?}");
    assert_eq!(exists, missing, "the same finding whether the outside file exists or not");
    // Through a link, the same.
    write(&t.ws, "linked.ospec.yml", &spec("link_dir/evil.sh"));
    let linked = shown("linked.ospec.yml");
    assert!(linked.len() == 1 && linked[0].contains("symbolic link `link_dir`"), "{linked:?}");
}
