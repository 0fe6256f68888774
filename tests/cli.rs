//! End-to-end tests of the `ospecc` binary: discovery, stdin, exit codes, policy flags,
//! `ospecc.toml`, output formats, colour, `explain`, `schema export` and `completions`.

mod common;

use common::{ospecc, ospecc_with, project, repo_root, TIMEOUT};
use serde_json::Value;

const VALID: &[u8] = include_bytes!("fixtures/cli/valid.ospec.yml");

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{text}"))
}

fn paths(doc: &Value) -> Vec<String> {
    doc["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
}

#[test]
fn directories_are_walked_for_spec_names_and_gitignore_is_honoured() {
    let dir = project(&[
        ("a.ospec.yml", VALID),
        ("sub/b.ospec.yaml", VALID),
        ("sub/deeper/c.ospec", VALID),
        ("outcome.yml", VALID),
        ("sub/outcome.yaml", VALID),
        ("notes.yml", b""),
        ("README.md", b""),
        ("ignored/d.ospec.yml", b""),
        (".gitignore", b"ignored/\n"),
    ]);
    let run = ospecc(dir.path(), &["check", "--format", "json"]);
    run.expect(0);
    assert_eq!(
        paths(&json(&run.stdout)),
        ["a.ospec.yml", "outcome.yml", "sub/b.ospec.yaml", "sub/deeper/c.ospec", "sub/outcome.yaml"]
    );
}

#[test]
fn explicit_files_are_checked_whatever_their_name_and_only_once() {
    let dir = project(&[("spec.txt", b""), ("a.ospec.yml", VALID)]);
    let run = ospecc(dir.path(), &["check", "--format", "json", "spec.txt", "a.ospec.yml", "./a.ospec.yml", "."]);
    run.expect(1);
    let doc = json(&run.stdout);
    assert_eq!(paths(&doc), ["a.ospec.yml", "spec.txt"]);
    assert_eq!(doc["files"][1]["diagnostics"][0]["code"], "OSP001");
}

#[test]
fn stdin_is_read_for_dash_with_an_optional_display_name() {
    let root = repo_root();
    let run = ospecc_with(&root, &["check", "-", "--format", "json"], Some(b""), &[], TIMEOUT);
    run.expect(1);
    assert_eq!(paths(&json(&run.stdout)), ["<stdin>"]);
    let run = ospecc_with(&root, &["check", "-", "--stdin-filename", "specs/x.ospec.yml"], Some(VALID), &[], TIMEOUT);
    run.expect(0);
    let run = ospecc_with(&root, &["check", "-", "--stdin-filename", "specs/x.ospec.yml"], Some(b"  \n"), &[], TIMEOUT);
    run.expect(1);
    assert!(run.stdout.contains("specs/x.ospec.yml:1:1"), "{}", run.stdout);
}

#[test]
fn missing_paths_are_named_and_the_rest_is_still_checked() {
    let dir = project(&[("a.ospec.yml", b"")]);
    let run = ospecc(dir.path(), &["check", "does-not-exist.ospec.yml", "a.ospec.yml"]);
    run.expect(2);
    assert!(run.stderr.contains("does-not-exist.ospec.yml: no such file or directory"), "{}", run.stderr);
    assert!(run.stdout.contains("error[OSP001]"), "{}", run.stdout);
    assert!(run.stdout.contains("checked 1 file: 1 error, 0 warnings"), "{}", run.stdout);
}

#[test]
fn human_summary_is_always_printed() {
    let dir = project(&[("valid.ospec.yml", VALID)]);
    let run = ospecc(dir.path(), &["check"]);
    run.expect(0);
    assert_eq!(run.stdout, "checked 1 file: 0 errors, 0 warnings\n");
    let empty = project(&[("notes.yml", b"")]);
    let run = ospecc(empty.path(), &["check"]);
    run.expect(0);
    assert_eq!(run.stdout, "checked 0 files: 0 errors, 0 warnings\n");
    assert!(run.stderr.contains("warning: no OSpec files found"), "{}", run.stderr);
}

#[test]
fn policy_flags_change_severity_and_exit_code() {
    let dir = project(&[("e.ospec.yml", b"")]);
    ospecc(dir.path(), &["check"]).expect(1);
    let run = ospecc(dir.path(), &["check", "--allow", "osp001"]);
    run.expect(0);
    assert_eq!(run.stdout, "checked 1 file: 0 errors, 0 warnings\n");
    let run = ospecc(dir.path(), &["check", "--deny", "OSP01"]);
    run.expect(2);
    assert!(run.stderr.contains("unknown diagnostic code `OSP01`"), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean `OSP00"), "{}", run.stderr);
}

#[test]
fn strict_turns_every_warning_into_an_error() {
    let fixture = repo_root().join("tests/fixtures/cli/unknown-key.ospec.yml");
    let fixture = fixture.to_str().unwrap();
    let plain = ospecc(&repo_root(), &["check", "--format", "json", fixture]);
    plain.no_panic();
    let plain = json(&plain.stdout)["summary"].clone();
    let strict = ospecc(&repo_root(), &["check", "--strict", "--format", "json", fixture]);
    let summary = &json(&strict.stdout)["summary"];
    assert_eq!(summary["warnings"], 0);
    assert_eq!(
        summary["errors"].as_u64().unwrap(),
        plain["errors"].as_u64().unwrap() + plain["warnings"].as_u64().unwrap()
    );
    let expected = if summary["errors"] == 0 { 0 } else { 1 };
    strict.expect(expected);
}

#[test]
fn bad_flags_are_usage_errors() {
    let root = repo_root();
    ospecc(&root, &["check", "--format", "xml"]).expect(2);
    ospecc(&root, &["check", "--no-such-flag"]).expect(2);
    ospecc(&root, &["frobnicate"]).expect(2);
}

#[test]
fn config_is_found_upwards_and_cli_flags_override_it() {
    let dir = project(&[
        ("ospecc.toml", b"[check]\nallow = [\"OSP001\"]\nexclude = [\"specs/drafts/**\", \"*.tmp.ospec.yml\"]\n"),
        ("specs/e.ospec.yml", b""),
        ("specs/deep/x.tmp.ospec.yml", b""),
        ("specs/drafts/d.ospec.yml", b""),
    ]);
    let specs = dir.path().join("specs");
    let run = ospecc(&specs, &["check", "--format", "json"]);
    run.expect(0);
    assert_eq!(paths(&json(&run.stdout)), ["e.ospec.yml"], "exclude is relative to the config's directory");
    ospecc(dir.path(), &["check", "specs"]).expect(0);
    ospecc(dir.path(), &["check", "--deny", "OSP001"]).expect(1);
    ospecc(dir.path(), &["check", "--no-config"]).expect(1);
    // From outside the project, the config is found from the first path.
    let elsewhere = project(&[]);
    let inside = dir.path().join("specs/e.ospec.yml");
    ospecc(elsewhere.path(), &["check", inside.to_str().unwrap()]).expect(0);
    let run = ospecc(dir.path(), &["check", "--format", "json", "specs/drafts/d.ospec.yml"]);
    assert_eq!(paths(&json(&run.stdout)), ["specs/drafts/d.ospec.yml"], "named files are checked even if excluded");
}

#[test]
fn config_problems_are_located_usage_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"[check]\nstrictt = true\n", "ospecc.toml:2:1: unknown field `strictt`"),
        (b"[chek]\n", "ospecc.toml:1:2: unknown field `chek`"),
        (b"[check]\nprofile = \"full\"\n", "ospecc.toml:2:11: unknown profile `full`"),
        (b"[check]\ndeny = [\"OSP01\"]\n", "ospecc.toml:2:9: unknown diagnostic code `OSP01`"),
        (b"[check]\nexclude = [\"a[\"]\n", "ospecc.toml:2:12: invalid exclude pattern `a[`"),
        (b"[check]\nstrict = \"yes\"\n", "ospecc.toml:2:10: invalid type"),
        (b"[check\n", "ospecc.toml:1:"),
    ];
    for (config, expected) in cases {
        let dir = project(&[("ospecc.toml", config), ("a.ospec.yml", VALID)]);
        let run = ospecc(dir.path(), &["check"]);
        run.expect(2);
        assert!(run.stderr.contains(expected), "expected `{expected}` in:\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "nothing is checked with a bad config:\n{}", run.stdout);
    }
}

#[test]
fn explicit_config_file_is_used_and_must_exist() {
    let dir = project(&[("conf/strict.toml", b"[check]\nallow = [\"OSP001\"]\n"), ("e.ospec.yml", b"")]);
    ospecc(dir.path(), &["check", "--config", "conf/strict.toml"]).expect(0);
    let run = ospecc(dir.path(), &["check", "--config", "conf/missing.toml"]);
    run.expect(2);
    assert!(run.stderr.contains("conf/missing.toml"), "{}", run.stderr);
}

#[test]
fn machine_formats_keep_stdout_to_the_document() {
    let dir = project(&[("e.ospec.yml", b""), ("ok.ospec.yml", VALID)]);
    for format in ["json", "sarif"] {
        let run = ospecc(dir.path(), &["check", "--format", format, "missing.ospec.yml", "."]);
        run.expect(2);
        json(&run.stdout);
        assert!(run.stderr.contains("missing.ospec.yml"), "{}", run.stderr);
    }
    let run = ospecc(dir.path(), &["check", "--format", "junit"]);
    run.expect(1);
    let xml = roxmltree::Document::parse(&run.stdout).expect("junit output is well-formed XML");
    let suite = xml.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    assert_eq!((suite.attribute("tests"), suite.attribute("failures")), (Some("2"), Some("1")));
    let failing = xml.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    assert!(failing.text().unwrap().contains("e.ospec.yml:1:1: error[OSP001]"));
}

#[test]
fn json_document_has_the_documented_fields() {
    let dir = project(&[("e.ospec.yml", b"\n\n")]);
    let run = ospecc(dir.path(), &["check", "--format", "json"]);
    let doc = json(&run.stdout);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["tool"]["name"], "ospecc");
    assert_eq!(doc["summary"], serde_json::json!({"files": 1, "errors": 1, "warnings": 0}));
    let file = &doc["files"][0];
    assert_eq!((file["errors"].as_u64(), file["warnings"].as_u64()), (Some(1), Some(0)));
    let d = &file["diagnostics"][0];
    for key in [
        "code",
        "severity",
        "message",
        "line",
        "column",
        "end_line",
        "end_column",
        "span",
        "labels",
        "notes",
        "help",
        "fixes",
    ] {
        assert!(d.get(key).is_some(), "missing `{key}` in {d}");
    }
    // OSP001 marks the first line (empty here), never the whole file.
    assert_eq!((d["line"].as_u64(), d["end_line"].as_u64()), (Some(1), Some(1)));
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = project(&[("e.ospec.yml", b"")]);
    let always = ospecc(dir.path(), &["check", "--color", "always"]);
    assert!(always.stdout.contains('\x1b'), "{}", always.stdout);
    assert!(!ospecc(dir.path(), &["check", "--color", "never"]).stdout.contains('\x1b'));
    // Not a terminal: auto means no colour.
    assert!(!ospecc(dir.path(), &["check"]).stdout.contains('\x1b'));
    let with_no_color = ospecc_with(dir.path(), &["check", "--color", "auto"], None, &[("NO_COLOR", "1")], TIMEOUT);
    assert!(!with_no_color.stdout.contains('\x1b'));
}

#[test]
fn output_is_deterministic_across_runs() {
    let files: Vec<(String, &[u8])> =
        (0..60).map(|i| (format!("d{}/f{i:02}.ospec.yml", i % 7), if i % 3 == 0 { &b""[..] } else { VALID })).collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let dir = project(&refs);
    let first = ospecc(dir.path(), &["check", "--color", "never"]);
    let listed = ospecc(dir.path(), &["check", "--format", "json"]);
    let names = paths(&json(&listed.stdout));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for _ in 0..3 {
        assert_eq!(ospecc(dir.path(), &["check", "--color", "never"]).stdout, first.stdout);
    }
}

#[test]
fn explain_prints_the_long_explanation() {
    let root = repo_root();
    let run = ospecc(&root, &["explain", "osp001"]);
    run.expect(0);
    assert!(run.stdout.starts_with("# OSP001: empty file\n"), "{}", run.stdout);
    let run = ospecc(&root, &["explain", "OSP0001"]);
    run.expect(2);
    assert!(run.stderr.contains("did you mean `OSP00"), "{}", run.stderr);
    let list = ospecc(&root, &["explain", "--list"]);
    list.expect(0);
    assert!(list.stdout.lines().any(|l| l == "OSP001  empty file"), "{}", list.stdout);
    ospecc(&root, &["explain"]).expect(2);
}

#[test]
fn schema_export_writes_each_profile() {
    let dir = project(&[]);
    for profile in ["core", "ext"] {
        let run = ospecc(dir.path(), &["schema", "export", "--profile", profile]);
        run.expect(0);
        assert_eq!(
            run.stdout.trim_end(),
            ospecc_schema::ospec_schema(ospecc_schema::Profile::from_name(profile).unwrap()).trim_end()
        );
    }
    ospecc(dir.path(), &["schema", "export", "-o", "out.json"]).expect(0);
    let written = std::fs::read_to_string(dir.path().join("out.json")).unwrap();
    assert_eq!(written.trim_end(), ospecc_schema::ospec_schema(ospecc_schema::Profile::Ext).trim_end());
    ospecc(dir.path(), &["schema", "export", "-o", "no/such/dir/out.json"]).expect(2);
    // A directory gets every schema, one file each.
    ospecc(dir.path(), &["schema", "export", "schemas/all"]).expect(0);
    let read = |name: &str| std::fs::read_to_string(dir.path().join("schemas/all").join(name)).unwrap();
    assert_eq!(
        read("ospec.schema.json").trim_end(),
        ospecc_schema::ospec_schema(ospecc_schema::Profile::Ext).trim_end()
    );
    assert_eq!(
        read("ospec-core.schema.json").trim_end(),
        ospecc_schema::ospec_schema(ospecc_schema::Profile::Core).trim_end()
    );
    assert_eq!(read("plan.schema.json").trim_end(), ospecc_schema::plan::PLAN_SCHEMA.trim_end());
    ospecc(dir.path(), &["schema", "export", "x", "-o", "y.json"]).expect(2);
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let run = ospecc(&repo_root(), &["completions", shell]);
        run.expect(0);
        assert!(run.stdout.contains("ospecc") && run.stdout.contains("check"), "{shell}");
    }
}
