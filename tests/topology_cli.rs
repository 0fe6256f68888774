//! `ospecc check` on topology files (`*.star`) through the binary: every output format, exit
//! codes, mixed directories, bad input (non-UTF-8, empty, huge, `load()` cycles), stdin, and
//! an OSpec checked against its topology (XSP).

mod common;

use std::time::Duration;

use common::{ospecc, ospecc_with, project, TIMEOUT};
use serde_json::Value;

/// A service and a test that asserts: no findings at all.
const CLEAN: &[u8] = b"api = service(\"api\", interface(\"http\", \"http\", 8080), binary=\"./api\")\n\ndef test_health():\n    assert_eq(api.http.get(path=\"/health\").status, 200)\n";
/// The same with one unknown keyword (TOP040, an error) and nothing else.
const BROKEN: &[u8] = b"api = service(\"api\", interface(\"http\", \"http\", 8080), binary=\"./api\", imgae=\"x\")\n\ndef test_health():\n    assert_eq(api.http.get(path=\"/health\").status, 200)\n";
const SPEC: &[u8] = b"ospec_version: \"1.0.0\"\nid: shop\nname: Shop\ndescription: A shop checked against its topology.\noutcome_type: api\ntopology: shop.star\nservices:\n  api:\n    ports: [8080]\nacceptance:\n  service_health:\n    - service: api\n      endpoint: /health\n";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{text}"))
}

/// `(path, codes)` of each file of a JSON report.
fn codes(doc: &Value) -> Vec<(String, Vec<String>)> {
    let files = doc["files"].as_array().unwrap();
    files
        .iter()
        .map(|f| {
            let codes = f["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_owned());
            (f["path"].as_str().unwrap().to_owned(), codes.collect())
        })
        .collect()
}

fn check_json(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["check", "--no-config", "--format", "json"];
    all.extend_from_slice(args);
    let run = ospecc(dir, &all);
    run.no_panic();
    (run.code, json(&run.stdout))
}

#[test]
fn every_format_reports_a_topology_with_findings_and_exits_1() {
    let dir = project(&[("bad.star", BROKEN)]);
    let human = ospecc(dir.path(), &["check", "--no-config", "--color", "never", "bad.star"]);
    human.expect(1);
    assert!(human.stdout.contains("error[TOP040]"), "{}", human.stdout);
    assert!(human.stdout.contains("bad.star:1:"), "{}", human.stdout);
    assert!(human.stdout.ends_with("checked 1 file: 1 error, 0 warnings\n"), "{}", human.stdout);

    let (code, doc) = check_json(dir.path(), &["bad.star"]);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&doc), vec![("bad.star".to_owned(), vec!["TOP040".to_owned()])]);
    assert_eq!(doc["files"][0]["diagnostics"][0]["line"], 1, "{doc:#}");

    let sarif = ospecc(dir.path(), &["check", "--no-config", "--format", "sarif", "bad.star"]);
    sarif.expect(1);
    let log = json(&sarif.stdout);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "TOP040");
    assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "bad.star");

    let junit = ospecc(dir.path(), &["check", "--no-config", "--format", "junit", "bad.star"]);
    junit.expect(1);
    let xml = roxmltree::Document::parse(&junit.stdout).expect("JUnit output is XML");
    let failures: Vec<_> = xml.descendants().filter(|n| n.has_tag_name("failure")).collect();
    assert_eq!(failures.len(), 1, "{}", junit.stdout);
    assert!(junit.stdout.contains("TOP040"));
}

#[test]
fn every_format_reports_a_clean_topology_and_exits_0() {
    let dir = project(&[("ok.star", CLEAN)]);
    let human = ospecc(dir.path(), &["check", "--no-config", "--color", "never", "ok.star"]);
    human.expect(0);
    assert_eq!(human.stdout, "checked 1 file: 0 errors, 0 warnings\n");
    let (code, doc) = check_json(dir.path(), &["ok.star"]);
    assert_eq!(code, Some(0));
    assert_eq!(codes(&doc), vec![("ok.star".to_owned(), vec![])]);
    let sarif = ospecc(dir.path(), &["check", "--no-config", "--format", "sarif", "ok.star"]);
    sarif.expect(0);
    assert_eq!(json(&sarif.stdout)["runs"][0]["results"].as_array().unwrap().len(), 0);
    let junit = ospecc(dir.path(), &["check", "--no-config", "--format", "junit", "ok.star"]);
    junit.expect(0);
    let xml = roxmltree::Document::parse(&junit.stdout).expect("JUnit output is XML");
    assert!(xml.descendants().all(|n| !n.has_tag_name("failure")), "{}", junit.stdout);
}

#[test]
fn warnings_fail_only_under_strict_and_policy_flags_apply() {
    let dir = project(&[("bad.star", BROKEN)]);
    let run = ospecc(dir.path(), &["check", "--no-config", "--allow", "TOP040", "bad.star"]);
    run.expect(0);
    let (code, doc) = check_json(dir.path(), &["--allow", "TOP040", "bad.star"]);
    assert_eq!(code, Some(0));
    assert_eq!(codes(&doc), vec![("bad.star".to_owned(), vec![])]);
}

#[test]
fn a_missing_star_path_is_a_usage_error_and_the_rest_is_checked() {
    let dir = project(&[("ok.star", CLEAN)]);
    let run = ospecc(dir.path(), &["check", "--no-config", "nope.star", "ok.star"]);
    run.expect(2);
    assert!(run.stderr.contains("nope.star"), "{}", run.stderr);
    assert!(run.stdout.contains("checked 1 file"), "{}", run.stdout);
}

#[test]
fn a_directory_mixing_specs_and_topologies_checks_both_and_cross_checks() {
    let dir = project(&[
        ("shop.star", CLEAN),
        ("shop.ospec.yml", SPEC),
        ("sub/bad.star", BROKEN),
        ("sub/notes.txt", b"not checked"),
        ("sub/lib.starlark", b"not checked"),
    ]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        codes(&doc),
        vec![
            ("shop.ospec.yml".to_owned(), vec![]),
            ("shop.star".to_owned(), vec![]),
            ("sub/bad.star".to_owned(), vec!["TOP040".to_owned()]),
        ]
    );
}

#[test]
fn an_ospec_disagreeing_with_its_topology_shows_both_files() {
    let spec = String::from_utf8(SPEC.to_vec()).unwrap().replace("[8080]", "[\"8080:9090\"]");
    let dir = project(&[("shop.star", CLEAN), ("shop.ospec.yml", spec.as_bytes())]);
    let run = ospecc(dir.path(), &["check", "--no-config", "--color", "never"]);
    run.expect(1);
    assert!(run.stdout.contains("error[XSP004]"), "{}", run.stdout);
    // The label in the topology file is shown with its snippet (both files were checked).
    assert!(run.stdout.contains("┌─ shop.star:1:7"), "{}", run.stdout);
    let (_, doc) = check_json(dir.path(), &["shop.ospec.yml"]);
    let label = &doc["files"][0]["diagnostics"][0]["labels"][0];
    assert_eq!(label["file"], "shop.star", "{doc:#}");
    // `--profile core` knows no `topology:` (an unknown key) and makes no cross-file checks.
    let (_, doc) = check_json(dir.path(), &["--profile", "core", "shop.ospec.yml"]);
    assert!(codes(&doc)[0].1.iter().all(|c| !c.starts_with("XSP")), "{doc:#}");
}

#[test]
fn a_non_utf8_star_is_a_located_diagnostic() {
    let dir = project(&[("latin1.star", b"# caf\xe9\napi = 1\n")]);
    let human = ospecc(dir.path(), &["check", "--no-config", "--color", "never", "latin1.star"]);
    human.expect(1);
    let (code, doc) = check_json(dir.path(), &["latin1.star"]);
    assert_eq!(code, Some(1));
    let diagnostic = &doc["files"][0]["diagnostics"][0];
    assert_eq!(diagnostic["code"], "OSP003", "{doc:#}");
    assert_eq!(diagnostic["line"], 1, "{doc:#}");
    assert!(human.stdout.contains("latin1.star:1:"), "{}", human.stdout);
}

#[test]
fn an_empty_star_is_clean() {
    let dir = project(&[("empty.star", b""), ("blank.star", b"\n\n# only a comment\n")]);
    let (code, doc) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(codes(&doc), vec![("blank.star".to_owned(), vec![]), ("empty.star".to_owned(), vec![])]);
}

#[test]
fn a_huge_star_is_checked_in_bounded_time() {
    // About 6 MB: over the evaluator's file limit, refused quickly with a finding.
    let mut huge = Vec::new();
    for i in 0..60_000 {
        huge.extend_from_slice(
            format!("s{i} = service(\"s{i}\", interface(\"h\", \"http\", 8080), image=\"x\")\n").as_bytes(),
        );
    }
    let dir = project(&[("huge.star", &huge)]);
    let run = ospecc_with(dir.path(), &["check", "--no-config", "--format", "json", "huge.star"], None, &[], TIMEOUT);
    run.no_panic();
    assert!(run.elapsed < Duration::from_secs(20), "took {:?}", run.elapsed);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    // Under the limit but long: still bounded (ticks and wall time cap evaluation).
    let long: String = (0..20_000).map(|i| format!("x{i} = [n * 2 for n in range(100)]\n")).collect();
    let dir = project(&[("long.star", long.as_bytes())]);
    let run = ospecc_with(dir.path(), &["check", "--no-config", "long.star"], None, &[], TIMEOUT);
    run.no_panic();
    assert!(run.elapsed < Duration::from_secs(20), "took {:?}", run.elapsed);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
}

#[test]
fn a_load_cycle_between_two_files_is_reported_not_hung() {
    let dir = project(&[
        ("a.star", b"load(\"b.star\", \"y\")\nx = 1\n"),
        ("b.star", b"load(\"a.star\", \"x\")\ny = 2\n"),
        (".git/HEAD", b"ref: refs/heads/main\n"),
    ]);
    let run =
        ospecc_with(dir.path(), &["check", "--no-config", "--format", "json", "a.star", "b.star"], None, &[], TIMEOUT);
    run.no_panic();
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let doc = json(&run.stdout);
    for (path, found) in codes(&doc) {
        assert!(!found.is_empty(), "{path}: the cycle is not reported\n{doc:#}");
    }
    assert!(run.stdout.to_lowercase().contains("cycle"), "{}", run.stdout);
}

#[test]
fn stdin_is_a_topology_when_the_stdin_filename_says_so() {
    let dir = project(&[]);
    let args = ["check", "--no-config", "--format", "json", "-", "--stdin-filename", "topo/x.star"];
    let run = ospecc_with(dir.path(), &args, Some(BROKEN), &[], TIMEOUT);
    run.expect(1);
    assert_eq!(codes(&json(&run.stdout)), vec![("topo/x.star".to_owned(), vec!["TOP040".to_owned()])]);
    let run = ospecc_with(dir.path(), &args, Some(CLEAN), &[], TIMEOUT);
    run.expect(0);
}

#[test]
fn stdin_without_a_star_name_is_read_as_an_ospec() {
    // Without `--stdin-filename *.star`, stdin is an OSpec: Starlark text then fails as YAML
    // or as a spec, with OSpec codes (the report names `<stdin>`), never silently passes.
    let dir = project(&[]);
    let args = ["check", "--no-config", "--format", "json", "-"];
    let run = ospecc_with(dir.path(), &args, Some(CLEAN), &[], TIMEOUT);
    run.expect(1);
    let found = codes(&json(&run.stdout));
    assert_eq!(found[0].0, "<stdin>");
    assert!(!found[0].1.is_empty() && found[0].1.iter().all(|c| c.starts_with("OSP")), "{found:?}");
}
