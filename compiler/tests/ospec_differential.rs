//! Differential test: `--profile core` against the reference validator.
//!
//! For every OSpec fixture under the repository's `tests/`, ospecc (parse + schema validation
//! with `Profile::Core`) must reach the same verdict, and report the same set of failing
//! instance locations, as ajv 8 + ajv-formats running the official OSpec v1.0 schema from
//! `../shared/data/ospec-official/` on the same text read by the npm `yaml` package.
//!
//! The test installs `ajv@8 ajv-formats@3 yaml@2` from the npm registry into
//! `target/ajv-oracle` once, and runs one node process over all fixtures (`tests/ajv/oracle.js`).
//! The same oracle also runs `schema/ospec/core.schema.json` (it must agree with the official
//! file on every fixture) and compiles `ext.schema.json` (it must be valid JSON Schema).
//! It skips, saying why, when node/npm, the registry or `../shared` is unavailable. Files that
//! neither side can parse are excluded; a file only one side can parse is a failure.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ospecc_compiler::diagnostics::Severity;
use ospecc_compiler::ospec::schema;
use ospecc_compiler::syntax::yaml::{self, Node, Style, Value};
use ospecc_compiler::{Profile, Span};
use serde_json::{json, Value as Json};

const PACKAGES: [&str; 3] = ["ajv@8", "ajv-formats@3", "yaml@2"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("compiler/ has a parent").to_path_buf()
}

fn is_ospec_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.ends_with(".ospec.yml")
        || name.ends_with(".ospec.yaml")
        || name.ends_with(".ospec")
        || name == "outcome.yml"
        || name == "outcome.yaml"
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if is_ospec_file(&path) {
            out.push(path);
        }
    }
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the oracle's packages once; `Err` says why it could not.
fn install_oracle(dir: &Path) -> Result<(), String> {
    let modules = dir.join("node_modules");
    if ["ajv", "ajv-formats", "yaml"].iter().all(|p| modules.join(p).join("package.json").exists()) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if !dir.join("package.json").exists() {
        std::fs::write(dir.join("package.json"), "{\"name\": \"ajv-oracle\", \"private\": true}\n")
            .map_err(|e| format!("writing package.json: {e}"))?;
    }
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .args(PACKAGES)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running npm: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("npm install failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn run_oracle(root: &Path, oracle: &Path, schema: &Path, files: &[(String, String)]) -> Vec<Json> {
    let input: Vec<Json> = files.iter().map(|(path, text)| json!({"path": path, "text": text})).collect();
    let mut child = Command::new("node")
        .arg(root.join("tests/ajv/oracle.js"))
        .arg(schema)
        .env("NODE_PATH", oracle.join("node_modules"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let payload = serde_json::to_vec(&input).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().expect("node runs");
    writer.join().unwrap().expect("oracle reads its input");
    assert!(output.status.success(), "oracle failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("oracle prints JSON")
}

/// ospecc's view of one file: `None` when it does not parse; else, per document, the
/// verdict and the set of failing locations.
fn ospecc(text: &str) -> Option<Vec<(bool, BTreeSet<String>)>> {
    let parsed = yaml::parse(text);
    if parsed.diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return None;
    }
    let null = Node { span: Span::default(), value: Value::Null, style: Style::Plain, tag: None };
    let documents = parsed
        .documents
        .iter()
        .map(|document| {
            let findings = schema::findings(document.root.as_ref().unwrap_or(&null), Profile::Core);
            let valid = !findings.iter().any(|f| f.diagnostic.severity == Severity::Error);
            (valid, findings.into_iter().map(|f| f.pointer).collect())
        })
        .collect();
    Some(documents)
}

fn oracle_view(result: &Json) -> Option<Vec<(bool, BTreeSet<String>)>> {
    if result["parse_error"].as_bool().unwrap_or(true) {
        return None;
    }
    let documents = result["documents"].as_array()?;
    Some(
        documents
            .iter()
            .map(|d| {
                let locations = d["locations"].as_array().into_iter().flatten();
                (
                    d["valid"].as_bool().unwrap_or(false),
                    locations.filter_map(|l| l.as_str().map(str::to_string)).collect(),
                )
            })
            .collect(),
    )
}

#[test]
fn core_profile_agrees_with_ajv_on_every_fixture() {
    let root = repo_root();
    let official = root.join("../shared/data/ospec-official/ospec-v1.0.schema.json");
    if !official.exists() {
        println!("SKIP: {} is absent (the official schema is the oracle)", official.display());
        return;
    }
    if !runs("node") || !runs("npm") {
        println!("SKIP: node and npm are needed to run the ajv oracle");
        return;
    }
    let oracle = root.join("target/ajv-oracle");
    if let Err(reason) = install_oracle(&oracle) {
        println!("SKIP: could not install the ajv oracle ({reason})");
        return;
    }
    let mut paths = Vec::new();
    collect(&root.join("tests"), &mut paths);
    paths.sort();
    assert!(paths.len() >= 40, "expected the OSpec fixtures under tests/, found {}", paths.len());
    let files: Vec<(String, String)> = paths
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            Some((p.strip_prefix(&root).unwrap_or(p).display().to_string(), text))
        })
        .collect();
    let results = run_oracle(&root, &oracle, &official, &files);
    assert_eq!(results.len(), files.len());
    // Our schema files are JSON Schema for other tools too: ajv must compile both, and running
    // our core file must give exactly the official file's results.
    let ours = run_oracle(&root, &oracle, &root.join("schema/ospec/core.schema.json"), &files);
    run_oracle(&root, &oracle, &root.join("schema/ospec/ext.schema.json"), &files);

    let (mut compared, mut invalid) = (0, 0);
    let mut excluded = Vec::new();
    let mut mismatches = Vec::new();
    for (((path, text), result), our_schema) in files.iter().zip(&results).zip(&ours) {
        if oracle_view(result) != oracle_view(our_schema) {
            mismatches.push(format!(
                "{path}: ajv gives {:?} with the official schema but {:?} with schema/ospec/core.schema.json",
                oracle_view(result),
                oracle_view(our_schema)
            ));
        }
        match (ospecc(text), oracle_view(result)) {
            (None, None) => excluded.push(path.as_str()),
            (Some(_), None) => mismatches.push(format!("{path}: ospecc parses it, the npm `yaml` package does not")),
            (None, Some(_)) => mismatches.push(format!("{path}: the npm `yaml` package parses it, ospecc does not")),
            (Some(ours), Some(theirs)) => {
                if ours.len() != theirs.len() {
                    mismatches.push(format!("{path}: {} documents vs {} for ajv", ours.len(), theirs.len()));
                    continue;
                }
                for (i, (ours, theirs)) in ours.iter().zip(&theirs).enumerate() {
                    compared += 1;
                    invalid += usize::from(!theirs.0);
                    if ours != theirs {
                        mismatches.push(format!(
                            "{path} (document {i}): ospecc {} at {:?}; ajv {} at {:?}",
                            verdict(ours.0),
                            ours.1,
                            verdict(theirs.0),
                            theirs.1
                        ));
                    }
                }
            }
        }
    }
    println!(
        "differential: {} files, {compared} documents compared ({invalid} invalid); excluded as unparseable by both: {excluded:?}",
        files.len()
    );
    assert!(mismatches.is_empty(), "{} disagreements with ajv:\n{}", mismatches.len(), mismatches.join("\n"));
    assert!(compared >= 40 && invalid >= 20, "too few documents compared: {compared} ({invalid} invalid)");
}

fn verdict(valid: bool) -> &'static str {
    if valid {
        "valid"
    } else {
        "invalid"
    }
}
