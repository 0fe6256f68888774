//! `ospecc check` on uses of the embedded `@faultbox/...` modules, through the binary: every
//! export called with its defaults, typical uses of the 14 recipe and 6 mock modules
//! (`tests/stdlib/`), all without a finding; and Faultbox's mock-only corpus specs without an
//! error.

mod common;

use std::path::{Path, PathBuf};

use common::{ospecc, project, repo_root};
use ospecc_compiler::ide::stdlib_modules::{stdlib_apis, ModuleApi};
use serde_json::Value;

/// `(code, severity, message)` of every error and warning of `ospecc check --format json` on
/// `file` (notes, such as "running needs a container engine", are not findings about the spec).
fn findings(dir: &Path, file: &str) -> Vec<(String, String, String)> {
    let run = ospecc(dir, &["check", "--no-config", "--format", "json", file]);
    run.no_panic();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.text()));
    let files = doc["files"].as_array().cloned().unwrap_or_default();
    files
        .iter()
        .flat_map(|f| f["diagnostics"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            let field = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (field("code"), field("severity"), field("message"))
        })
        .filter(|(_, severity, _)| severity == "error" || severity == "warning")
        .collect()
}

/// The protocol a mock module's constructor serves.
fn mock_protocol(api: &ModuleApi) -> &'static str {
    match api.path.rsplit('/').next().unwrap_or_default() {
        "grpc.star" => "grpc",
        "kafka.star" => "kafka",
        "mongodb.star" => "mongodb",
        "redis.star" => "redis",
        _ => "http",
    }
}

/// A value for a required parameter; `n` keeps service names and ports apart.
fn placeholder(api: &ModuleApi, member: &str, param: &str, n: usize) -> String {
    match param {
        "name" => format!("\"svc{n}\""),
        "interface" => format!("interface(\"main\", \"{}\", {})", mock_protocol(api), 20000 + n),
        "port" => "7000".into(),
        "openapi" => "\"data/catalog.openapi.yaml\"".into(),
        "descriptors" => "\"data/flags.pb\"".into(),
        "fn" => "lambda request: None".into(),
        "keypair" => "jwt_keypair(kid = \"k1\")".into(),
        "code" if member == "status_only" => "404".into(),
        "code" => "\"NOT_FOUND\"".into(),
        "body" => "\"AAE=\"".into(),
        "location" => "\"/next\"".into(),
        other => format!("\"{other}\""),
    }
}

/// A topology file loading every embedded module and calling every export with its defaults.
fn every_export_with_defaults() -> String {
    let mut text = String::from("# Every export of the embedded stdlib, called with its defaults.\n\n");
    for (i, api) in stdlib_apis().iter().enumerate() {
        text.push_str(&format!("load(\"{}\", m{i} = \"{}\")\n", api.path, api.name));
    }
    text.push('\n');
    let mut n = 0;
    for (i, api) in stdlib_apis().iter().enumerate() {
        for export in &api.exports {
            n += 1;
            let required: Vec<String> = export
                .params
                .iter()
                .filter(|p| p.default.is_none())
                .map(|p| placeholder(api, &export.name, &p.name, n))
                .collect();
            text.push_str(&format!("v{n} = m{i}.{}({})\n", export.name, required.join(", ")));
        }
    }
    text
}

/// The fixture project: `tests/stdlib/` with its data files.
fn fixtures() -> PathBuf {
    repo_root().join("tests/stdlib")
}

fn fixture_files() -> Vec<(String, Vec<u8>)> {
    ["data/catalog.openapi.yaml", "data/flags.pb"]
        .iter()
        .map(|p| (p.to_string(), std::fs::read(fixtures().join(p)).unwrap()))
        .collect()
}

#[test]
fn every_export_called_with_its_defaults_checks_clean() {
    let text = every_export_with_defaults();
    let calls = text.lines().filter(|l| l.starts_with('v')).count();
    assert!(calls > 140, "{calls} calls");
    let mut files = fixture_files();
    files.push(("all.star".into(), text.clone().into_bytes()));
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    let dir = project(&borrowed);
    let found = findings(dir.path(), "all.star");
    assert!(found.is_empty(), "{found:#?}\n{text}");
}

#[test]
fn typical_recipe_and_mock_uses_check_clean() {
    for file in ["recipes.star", "mocks.star"] {
        let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
        let loads = text.lines().filter(|l| l.starts_with("load(\"@faultbox/")).count();
        assert!(loads >= if file == "recipes.star" { 14 } else { 7 }, "{file}: {loads} modules");
        let found = findings(&fixtures(), file);
        assert!(found.is_empty(), "{file}: {found:#?}");
    }
}

/// A spec whose only outside need is a mock, in Faultbox's corpus: no errors (warnings such as
/// kafka `publish(value=)`, which Faultbox ignores, are expected).
#[test]
fn faultbox_mock_corpus_specs_have_no_errors() {
    let shared = std::env::var_os("OSPECC_SHARED_DIR").map_or_else(|| repo_root().join("../shared"), PathBuf::from);
    let corpus = shared.join("data/faultbox-corpus");
    let Ok(cases) = std::fs::read_to_string(corpus.join("cases.tsv")) else {
        eprintln!("SKIP: {} is absent (the Faultbox corpus lives in ../shared beside the clone)", corpus.display());
        return;
    };
    let mut specs: Vec<&str> = cases
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            (cells.get(4).is_some_and(|needs| needs.starts_with("mock"))).then(|| cells[1])
        })
        .collect();
    specs.sort_unstable();
    specs.dedup();
    assert_eq!(specs.len(), 8, "{specs:?}");
    for spec in specs {
        let errors: Vec<_> =
            findings(&corpus, spec).into_iter().filter(|(_, severity, _)| severity == "error").collect();
        assert!(errors.is_empty(), "{spec}: {errors:#?}");
    }
}

/// Faultbox drops a keyword its step methods do not read: a warning with the rename, not an
/// error (kafka `publish(value=)` publishes an empty message; the parameter is `data=`).
#[test]
fn an_ignored_step_keyword_is_a_warning_with_the_rename() {
    let text = "load(\"@faultbox/mocks/kafka.star\", \"kafka\")\nbus = kafka.broker(\"bus\", interface(\"main\", \"kafka\", 19092))\n\ndef test_publish():\n    r = bus.main.publish(topic = \"orders\", value = \"{}\")\n    assert_true(r.ok)\n";
    let dir = project(&[("k.star", text.as_bytes())]);
    let found = findings(dir.path(), "k.star");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].0.as_str(), found[0].1.as_str()), ("TOP040", "warning"));
    let run = ospecc(dir.path(), &["check", "--no-config", "k.star"]);
    assert!(run.stdout.contains("rename to `data`"), "{}", run.text());
    // A keyword Faultbox rejects stays an error.
    let text = "api = service(\"api\", interface(\"http\", \"http\", 8080), binary = \"./api\", imgae = \"x\")\n";
    let dir = project(&[("s.star", text.as_bytes())]);
    let found = findings(dir.path(), "s.star");
    assert!(found.iter().any(|(code, severity, _)| code == "TOP040" && severity == "error"), "{found:#?}");
}
