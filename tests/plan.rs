//! `ospecc plan` and `ospecc build` end to end: golden plans (text and JSON) for the seed
//! patterns, the plan fixtures under `tests/plans/` and the bundled examples; every plan
//! validates against the committed plan JSON Schema; building twice gives identical bytes;
//! `--check-cost` gates on the instance count; Graphviz accepts the dot output.
//!
//! `OSPECC_BLESS=1 cargo test --test plan` (re)writes the goldens under `tests/plans/golden/`.

mod common;

use std::path::{Path, PathBuf};

use common::{ospecc, repo_root};

/// The specs with golden plans: (golden name, path from the repository root, extra flags).
const PLANS: &[(&str, &str, &[&str])] = &[
    ("pattern-1", "tests/fixtures/topology/pattern-1.star", &[]),
    ("pattern-2", "tests/fixtures/topology/pattern-2.star", &[]),
    ("pattern-3", "tests/fixtures/topology/pattern-3.star", &[]),
    ("binaries", "tests/plans/binaries.star", &[]),
    ("mocks", "tests/plans/mocks.star", &[]),
    ("kwargs-fault", "tests/plans/kwargs-fault.star", &[]),
    ("shop-with-topology", "tests/fixtures/xsp/shop.ospec.yml", &[]),
    ("microservices", "examples/microservices/platform.ospec.yml", &[]),
    ("shop", "examples/shop/outcome.yaml", &[]),
    ("cli-tool", "tests/plans/cli-tool.ospec.yml", &[]),
    (
        "cli-tool-staging-beta-shell",
        "tests/plans/cli-tool.ospec.yml",
        &["--env", "staging", "--phase", "beta", "--allow-shell"],
    ),
    ("microservices-base-url", "examples/microservices/platform.ospec.yml", &["--base-url", "http://gateway:8000"]),
];

fn bless() -> bool {
    std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1")
}

fn golden(name: &str, extension: &str) -> PathBuf {
    repo_root().join("tests/plans/golden").join(format!("{name}.{extension}"))
}

/// Compares with the golden (or writes it when blessing); returns the problem, if any.
fn compare(path: &Path, actual: &str) -> Option<String> {
    if bless() {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    match std::fs::read_to_string(path) {
        Err(_) => Some(format!("{}: missing golden (OSPECC_BLESS=1 cargo test --test plan)", path.display())),
        Ok(expected) if expected == actual => None,
        Ok(expected) => {
            let line = expected.lines().zip(actual.lines()).position(|(e, a)| e != a).map_or(0, |i| i + 1);
            Some(format!("{}: differs from the golden (first at line {line})", path.display()))
        }
    }
}

/// `plan --format FORMAT` of a spec, checked to succeed.
fn plan(path: &str, format: &str, extra: &[&str]) -> String {
    let mut args = vec!["plan", path, "--format", format];
    args.extend_from_slice(extra);
    let run = ospecc(&repo_root(), &args);
    run.expect(0);
    run.stdout.clone()
}

/// The plan JSON without the bundled source texts (their digests stay): goldens show the
/// lowering, not copies of the fixtures.
fn without_source_texts(json: &str) -> String {
    let mut plan: serde_json::Value = serde_json::from_str(json).unwrap();
    for source in plan["sources"].as_array_mut().unwrap() {
        let bytes = source["text"].as_str().unwrap().len();
        source["text"] = serde_json::Value::String(format!("<{bytes} bytes>"));
    }
    let mut text = serde_json::to_string_pretty(&plan).unwrap();
    text.push('\n');
    text
}

#[test]
fn golden_plans() {
    let mut problems = Vec::new();
    for (name, path, extra) in PLANS {
        problems.extend(compare(&golden(name, "plan.txt"), &plan(path, "text", extra)));
        problems.extend(compare(&golden(name, "plan.json"), &without_source_texts(&plan(path, "json", extra))));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_plan_validates_against_the_schema_and_carries_its_sources() {
    let schema: serde_json::Value = serde_json::from_str(ospecc_schema::plan::PLAN_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the plan schema compiles");
    for (name, path, extra) in PLANS {
        let plan: serde_json::Value = serde_json::from_str(&plan(path, "json", extra)).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&plan).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: the plan does not validate:\n{}", errors.join("\n"));
        let sources = plan["sources"].as_array().unwrap();
        assert!(sources.iter().any(|s| s["path"] == plan["root"]), "{name}: the root file is not in the bundle");
        for source in sources {
            let text = source["text"].as_str().unwrap();
            assert_eq!(source["sha256"].as_str().unwrap(), sha256(text), "{name}: digest of {}", source["path"]);
        }
        // The IR reads back into its types.
        let typed: Result<ospecc_schema::plan::Plan, _> = serde_json::from_value(plan.clone());
        assert!(typed.is_ok(), "{name}: {:?}", typed.err());
    }
}

fn sha256(text: &str) -> String {
    let output = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha256sum runs");
    String::from_utf8_lossy(&output.stdout).split_whitespace().next().unwrap_or_default().to_owned()
}

/// The spec files under `dir`, sorted.
fn star_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "star") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_clean_corpus_spec_has_a_golden_plan() {
    let corpus = repo_root().join("tests/topology/positive");
    let golden_dir = repo_root().join("tests/plans/golden/corpus");
    if bless() {
        std::fs::create_dir_all(&golden_dir).unwrap();
    }
    let mut problems = Vec::new();
    for spec in star_files(&corpus) {
        let relative = spec.strip_prefix(repo_root()).unwrap().to_str().unwrap().to_owned();
        let name = spec.file_stem().unwrap().to_str().unwrap().to_owned();
        problems.extend(compare(&golden_dir.join(format!("{name}.plan.txt")), &plan(&relative, "text", &[])));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn plan_refuses_exactly_the_specs_check_finds_errors_in() {
    let negative = repo_root().join("tests/topology/negative");
    let specs = star_files(&negative);
    assert!(specs.len() > 100, "the negative corpus is missing");
    for spec in specs {
        let relative = spec.strip_prefix(repo_root()).unwrap().to_str().unwrap().to_owned();
        let check = ospecc(&repo_root(), &["check", "--format", "json", &relative]);
        let has_errors = check.code == Some(1);
        let planned = ospecc(&repo_root(), &["plan", &relative, "--format", "json"]);
        planned.no_panic();
        if has_errors {
            assert_eq!(planned.code, Some(1), "{relative}: check finds errors, so there must be no plan");
            assert!(planned.stdout.is_empty(), "{relative}: no plan is printed");
        } else {
            assert_eq!(planned.code, Some(0), "{relative}: a spec without errors has a plan\n{}", planned.stderr);
            let plan: Result<ospecc_schema::plan::Plan, _> = serde_json::from_str(&planned.stdout);
            assert!(plan.is_ok(), "{relative}: {:?}", plan.err());
        }
    }
}

#[test]
fn building_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path, extra) in PLANS {
        let mut outputs = Vec::new();
        for round in 0..2 {
            let out = dir.path().join(format!("{name}.{round}.json"));
            let mut args = vec!["build", path, "-o", out.to_str().unwrap()];
            args.extend_from_slice(extra);
            ospecc(&repo_root(), &args).expect(0);
            outputs.push(std::fs::read(&out).unwrap());
        }
        assert!(outputs[0] == outputs[1], "{name}: two builds differ");
        assert_eq!(
            String::from_utf8_lossy(&outputs[0]),
            plan(path, "json", extra),
            "{name}: build ≠ plan --format json"
        );
    }
}

#[test]
fn check_cost_gates_on_the_instance_count() {
    // binaries.star has 22 instances (a 2×2 matrix with a 2-fire exhaustive rule, 6 choose leaves).
    let path = "tests/plans/binaries.star";
    let over = ospecc(&repo_root(), &["plan", path, "--check-cost", "--max-instances", "21"]);
    over.expect(1);
    assert!(over.stderr.contains("22 instances, more than --max-instances 21"), "{}", over.stderr);
    ospecc(&repo_root(), &["plan", path, "--check-cost", "--max-instances", "22"]).expect(0);
    // `--check-cost` without a budget is a usage error.
    ospecc(&repo_root(), &["plan", path, "--check-cost"]).expect(2);
}

#[test]
fn a_spec_with_errors_has_no_plan() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.star");
    std::fs::write(&spec, "api = service(\"api\", interface(\"http\", \"http\", 8080), binary = \"/bin/true\", healthcheck = htp(\"x\"))\n")
        .unwrap();
    let out = dir.path().join("plan.json");
    let run = ospecc(dir.path(), &["build", "broken.star", "-o", out.to_str().unwrap()]);
    run.expect(1);
    assert!(run.stderr.contains("error["), "{}", run.stderr);
    assert!(!out.exists(), "no plan is written for a spec with errors");
    let missing = ospecc(dir.path(), &["plan", "nowhere.star"]);
    missing.expect(2);
    assert!(missing.stderr.contains("nowhere.star"), "{}", missing.stderr);
}

#[test]
fn graphviz_renders_the_dot_output() {
    if std::process::Command::new("dot").arg("-V").output().is_err() {
        println!("SKIP: graphviz is not installed (tests/run installs it)");
        return;
    }
    for (name, path, extra) in PLANS {
        let dot = plan(path, "dot", extra);
        let mut child = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{name}: dot failed: {}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("<svg"), "{name}");
    }
}
