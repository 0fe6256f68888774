//! Completion where the cursor's place is not plain block structure: inside YAML flow
//! mappings and sequences, in and after block scalars and multi-line quoted scalars, and
//! inside Starlark list and dict literals and after multi-line strings. `‸` marks the cursor
//! (`|` is a block scalar's indicator).

use std::path::{Path, PathBuf};

use super::*;
use crate::vfs::MemoryFs;

const TOPOLOGY: &str = "db = service(\"db\", \"bin\",\n    interface(\"pg\", \"postgres\", 5432),\n)\n\
    api = service(\"api\", \"bin\", interface(\"http\", \"http\", 8080), depends_on = [db])\n\
    def probe():\n    return api.http.get(path = \"/\")\nscenario(probe)\n\
    boom = fault_assumption(\"boom\", target = db, write = deny(\"EIO\"))\n";

fn items(path: &str, marked: &str) -> Vec<CompletionItem> {
    let fs = MemoryFs::default().with_file("/w/t.star", TOPOLOGY);
    super::tests::at_cursor((path, marked, '‸'), &fs, &[PathBuf::from("/w/t.star")], completions)
}

fn labels(path: &str, marked: &str) -> Vec<String> {
    let mut got: Vec<String> = items(path, marked).into_iter().map(|i| i.label).collect();
    got.sort();
    got
}

fn spec(marked: &str) -> Vec<String> {
    labels("/w/a.ospec.yml", marked)
}

fn star(marked: &str) -> Vec<String> {
    labels("/w/t.star", marked)
}

/// Asserts every `wanted` label is offered and no `unwanted` one is.
fn offers(got: &[String], wanted: &[&str], unwanted: &[&str]) {
    for label in wanted {
        assert!(got.iter().any(|g| g == label), "{label} missing from {got:?}");
    }
    for label in unwanted {
        assert!(!got.iter().any(|g| g == label), "{label} offered in {got:?}");
    }
}

const METADATA_KEYS: [&str; 7] =
    ["created_at", "estimated_effort", "license", "maintainers", "tags", "updated_at", "version"];

fn metadata_keys_but(given: &[&str]) -> Vec<String> {
    METADATA_KEYS.iter().filter(|k| !given.contains(k)).map(|k| k.to_string()).collect()
}

#[test]
fn keys_inside_a_flow_mapping() {
    assert_eq!(spec("metadata: {‸}\n"), metadata_keys_but(&[]));
    assert_eq!(spec("metadata: {license: MIT, ‸}\n"), metadata_keys_but(&["license"]));
    // Keys after the cursor are present too; the key being typed is not.
    assert_eq!(spec("metadata: {license: MIT, ver‸, tags: [a]}\n"), ["version"]);
    assert_eq!(spec("metadata: {tags: [a, b], ‸, version: \"1\"}\n"), metadata_keys_but(&["tags", "version"]));
    // A nested mapping in block structure, and a half-typed key with `_` words.
    let got = spec("services:\n  api:\n    health: {interval_‸\n");
    assert_eq!(got, ["interval_ms", "interval_seconds"]);
    let got = spec("services:\n  api: {image: x, ‸}\n");
    offers(&got, &["replicas", "ports", "env"], &["image", "api"]);
}

#[test]
fn a_flow_key_is_inserted_in_place_not_as_a_block() {
    let found = items("/w/a.ospec.yml", "metadata: {license: MIT, ver‸}\n");
    let version = found.iter().find(|i| i.label == "version").expect("version offered");
    assert_eq!((version.insert_text.as_deref(), version.is_snippet), (Some("version: "), false));
    let offset = "metadata: {license: MIT, ".len();
    assert_eq!((version.replace.start, version.replace.end), (offset, offset + 3));
}

#[test]
fn values_inside_flow_mappings_and_sequences() {
    // A flow mapping at the root.
    let got = spec("{name: x, outcome_type: ‸}\n");
    offers(&got, &["api", "web-app", "cli"], &["name"]);
    let got = spec("tasks:\n  - {id: a, risk_level: m‸}\n");
    assert_eq!(got, ["medium"]);
    // Flow sequences: the items are references to the spec's and the topology's services.
    let text = "topology: t.star\nservices:\n  web: {}\n  cache: {}\n  api:\n    depends_on: [‸\n";
    offers(&spec(text), &["web", "cache", "db", "api"], &["image"]);
    let text = "services:\n  web: {}\n  cache: {}\n  api:\n    depends_on: [web, ca‸]\n";
    assert_eq!(spec(text), ["cache"]);
    let text = "tasks:\n  - id: setup\n  - id: build\n    dependencies: [\"se‸\"]\n";
    assert_eq!(spec(text), ["setup"]);
}

#[test]
fn mappings_nested_in_flow_sequences_and_flows_over_lines() {
    offers(&spec("tasks: [{id: a, title: b}, {id: c, ‸}]\n"), &["title", "risk_level"], &["id"]);
    let text = "metadata: {\n  license: MIT,\n  ‸\n}\nname: x\n";
    assert_eq!(spec(text), metadata_keys_but(&["license"]));
    let text = "metadata: {\n  license: MIT,\n  tags: [a,\n    ‸]\n}\n";
    assert_eq!(spec(text), Vec::<String>::new());
    // After the collection closes, block structure again: root keys, the flow's keys are not.
    let got = spec("metadata: {\n  license: MIT\n}\n‸\n");
    offers(&got, &["name", "services"], &["metadata", "license"]);
}

#[test]
fn keys_after_a_block_scalar_and_none_inside_it() {
    let got = spec("description: |\n  some text\n‸\n");
    offers(&got, &["name", "id", "services"], &["description"]);
    assert!(spec("description: |\n  some te‸\n").is_empty());
    assert!(spec("description: |\n  text\n  ‸\n").is_empty());
    assert!(spec("description: >-\n  image: not a key\n  ‸\n").is_empty());
    // A body that reads like keys is not structure: `image` is still to be given.
    let text = "services:\n  api:\n    description: |\n      image: x\n      replicas: 2\n    ‸\n";
    offers(&spec(text), &["image", "replicas"], &["description"]);
    let text = "tasks:\n  - id: a\n    description: |\n      title: no\n    ‸\n";
    offers(&spec(text), &["title"], &["id", "description"]);
    // A value on the key line after the scalar's body.
    let text = "description: |\n  text\noutcome_type: w‸\n";
    offers(&spec(text), &["web-app", "web-service"], &["api"]);
}

#[test]
fn quoted_scalars_over_lines_are_text() {
    assert!(spec("description: \"first\n  sec‸ond\"\n").is_empty());
    let got = spec("description: \"first\n  second: x\"\n‸\n");
    offers(&got, &["name"], &["description", "second"]);
}

#[test]
fn starlark_list_items_offer_what_fits_not_keywords() {
    let got = star(&format!("{TOPOLOGY}web = service(\"web\", \"bin\", depends_on = [db, ‸])\n"));
    offers(&got, &["db", "api"], &["healthcheck=", "image=", "boom"]);
    let got = star(&format!("{TOPOLOGY}web = service(\"web\", \"bin\", depends_on = [\n    db,\n    a‸\n"));
    offers(&got, &["api"], &["healthcheck=", "args="]);
    // Dict literals: keys and values are names, never keyword arguments.
    let got = star(&format!("{TOPOLOGY}web = service(\"web\", \"bin\", env = {{\"A\": \"1\", ‸}})\n"));
    offers(&got, &["db", "api"], &["healthcheck=", "env="]);
    let got = star(&format!("{TOPOLOGY}web = service(\"web\", \"bin\", env = {{\"A\": a‸}})\n"));
    offers(&got, &["api"], &["args="]);
    // Outside the literal, the call's keyword arguments again.
    let got = star(&format!("{TOPOLOGY}web = service(\"web\", \"bin\", depends_on = [db], ‸)\n"));
    offers(&got, &["healthcheck="], &["depends_on="]);
}

#[test]
fn starlark_after_and_inside_multi_line_strings() {
    let doc = "DOC = \"\"\"A note (with a paren\nand a second line: deny(\n\"\"\"\n";
    let got = star(&format!("{doc}{TOPOLOGY}ser‸"));
    offers(&got, &["service"], &["service="]);
    let got = star(&format!("{doc}{TOPOLOGY}x = service(\"x\", \"bin\", ‸)"));
    offers(&got, &["healthcheck="], &[]);
    assert!(star(&format!("{TOPOLOGY}def t():\n    \"\"\"Doc\n    ser‸\n    \"\"\"\n")).is_empty());
}

#[test]
fn starlark_comments_complete_nothing() {
    assert!(star(&format!("{TOPOLOGY}# ser‸")).is_empty());
    assert!(star(&format!("{TOPOLOGY}x = 1  # see ser‸\ny = 2\n")).is_empty());
    assert!(star(&format!("{TOPOLOGY}web = service(\"web\", # a ‸\n)")).is_empty());
    // A `#` inside a string is not a comment.
    offers(&star(&format!("{TOPOLOGY}x = \"#\" + ser‸")), &["service"], &[]);
}

#[test]
fn every_offset_of_odd_flows_and_scalars_answers_without_panicking() {
    let texts = [
        "a: {b: [1, {c: \"d\\\"é\", e: 'f''g'}], h: |\n  😀 x: [\n  y\ni: \"open\n  more é\nj: [\n  k, {l: m\n",
        "- [a, {b: c}\n- {d: [e\n  , f]}\n- |-2\n    t\n- 'q\n",
        "x: &a !t [1, 2\ny: *a\n\"k\": {\"z\":1,}\n{: }\n[: ]\n]]}}\n: |\n",
        "s = [\n  \"\"\"é\n(\"\"\", # (\n  {\"k\": [1,\n}\n# x\n",
    ];
    let fs = MemoryFs::default();
    for text in texts {
        for path in ["/w/a.ospec.yml", "/w/t.star"] {
            let language = if path.ends_with(".star") { Language::Topology } else { Language::OSpec };
            let file = FileContext {
                path: Path::new(path),
                text,
                language,
                fs: &fs,
                workspace_files: &[],
                profile: Profile::Ext,
            };
            for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
                for item in completions(&file, offset) {
                    let span = item.replace;
                    assert!(span.start <= span.end && span.end <= text.len(), "{item:?}");
                    assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{item:?}");
                }
                std::hint::black_box(hover(&file, offset));
            }
        }
    }
}
