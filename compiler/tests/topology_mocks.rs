//! `check` on bad mock inputs and on what `ospecc run` cannot run: seed state of the wrong
//! shape (TOP127), descriptor sets (TOP128) and OpenAPI documents (TOP129) read through the
//! injected file system, mocks `ospecc run` does not serve (TOP130) and steps it has no client
//! for (TOP131); each located at the offending argument.

use std::path::Path;

use ospecc_compiler::topology::{check, Limits, TopologyInput};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::{Diagnostic, Severity};
use ospecc_schema::topology::catalog;
use prost::Message;

fn diagnostics_with(text: &str, fs: MemoryFs) -> Vec<Diagnostic> {
    let path = Path::new("/ws/spec.star");
    let fs = fs.with_file(path, text);
    let input = TopologyInput { path, text, fs: &fs, root: Path::new("/ws"), limits: Limits::default() };
    check(&input)
}

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    diagnostics_with(text, MemoryFs::default())
}

/// The diagnostics of `code`, each with the text it points at.
fn found<'t>(text: &'t str, all: &[Diagnostic], code: &str) -> Vec<(Severity, &'t str, String)> {
    all.iter()
        .filter(|d| d.code == code)
        .map(|d| (d.severity, &text[d.span.start..d.span.end], d.message.clone()))
        .collect()
}

fn codes(all: &[Diagnostic]) -> Vec<&str> {
    all.iter().map(|d| d.code).collect()
}

#[test]
fn seed_state_of_the_wrong_shape_is_a_warning_at_the_offending_value() {
    let text = r#"
cache = mock_service("cache", interface("main", "redis", 6379),
    config = {"state": {"user:1": "alice", "user:2": None}})
bus = mock_service("bus", interface("main", "kafka", 9092),
    config = {"topics": {"orders": [], "payments": "none"}, "partitions": 0})
docs = mock_service("docs", interface("main", "mongodb", 27017),
    config = {"collections": {"users": [{"_id": 1}, "alice"]}})
flat = mock_service("flat", interface("main", "redis", 6380), config = {"state": ["a"]})
"#;
    let all = diagnostics(text);
    let top127 = found(text, &all, "TOP127");
    assert_eq!(top127.len(), 5, "{all:#?}");
    assert!(top127.iter().all(|(s, _, _)| *s == Severity::Warning));
    let at: Vec<&str> = top127.iter().map(|(_, at, _)| *at).collect();
    assert_eq!(at, ["None", "\"none\"", "0", "\"alice\"", "[\"a\"]"]);
    assert!(top127[0].2.contains("`state`[\"user:2\"]") && top127[0].2.contains("redis mock `cache`"), "{top127:?}");
    assert!(top127[2].2.contains("is 0, not a positive int"), "{top127:?}");
    assert!(top127[3].2.contains("[1]") && top127[3].2.contains("a str"), "{top127:?}");
}

#[test]
fn well_shaped_seeds_and_seeds_of_other_protocols_are_quiet() {
    let text = r#"
cache = mock_service("cache", interface("main", "redis", 6379),
    config = {"state": {"a": "x", "b": 1, "c": 1.5, "d": True, "e": [1], "f": {"g": 1}}})
bus = mock_service("bus", interface("main", "kafka", 9092),
    config = {"topics": {"orders": [{"key": "k", "value": "v"}]}, "partitions": 3, "state": 1})
docs = mock_service("docs", interface("main", "mongodb", 27017), config = {"collections": {"users": [{"_id": 1}]}})
"#;
    let all = diagnostics(text);
    assert!(found(text, &all, "TOP127").is_empty(), "{all:#?}");
}

fn descriptor_set() -> Vec<u8> {
    prost_types::FileDescriptorSet {
        file: vec![prost_types::FileDescriptorProto {
            name: Some("users.proto".into()),
            package: Some("users".into()),
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn a_descriptors_file_must_be_a_file_descriptor_set() {
    let text = r#"
good = mock_service("good", interface("main", "grpc", 50051), descriptors = "users.pb")
source = mock_service("source", interface("main", "grpc", 50052), descriptors = "users.proto")
empty = mock_service("empty", interface("main", "grpc", 50053), descriptors = "empty.pb")
missing = mock_service("missing", interface("main", "grpc", 50054), descriptors = "nowhere.pb")
"#;
    let fs = MemoryFs::default()
        .with_bytes("/ws/users.pb", descriptor_set())
        .with_file("/ws/users.proto", "syntax = \"proto3\";\npackage users;\nmessage User { string id = 1; }\n")
        .with_bytes("/ws/empty.pb", Vec::new());
    let all = diagnostics_with(text, fs);
    let top128 = found(text, &all, "TOP128");
    let at: Vec<&str> = top128.iter().map(|(_, at, _)| *at).collect();
    assert_eq!(at, ["\"users.proto\"", "\"empty.pb\"", "\"nowhere.pb\""], "{all:#?}");
    assert!(top128.iter().all(|(s, _, _)| *s == Severity::Error));
    assert!(top128[0].2.contains("not a protobuf FileDescriptorSet"), "{top128:?}");
    assert!(top128[2].2.contains("cannot read"), "{top128:?}");
    let help = all.iter().find(|d| d.code == "TOP128").and_then(|d| d.help.clone()).unwrap_or_default();
    assert!(help.contains("--descriptor_set_out"), "{help}");
}

#[test]
fn an_openapi_file_must_parse_and_have_paths() {
    let text = r#"
good = mock_service("good", interface("main", "http", 8080), openapi = "api.yaml")
json = mock_service("json", interface("main", "http", 8081), openapi = "api.json")
broken = mock_service("broken", interface("main", "http", 8082), openapi = "broken.yaml")
pathless = mock_service("pathless", interface("main", "http", 8083), openapi = "pathless.yaml")
"#;
    let fs = MemoryFs::default()
        .with_file("/ws/api.yaml", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /users:\n    get: {}\n")
        .with_file("/ws/api.json", r#"{"openapi": "3.0.3", "paths": {"/a": {}}}"#)
        .with_file("/ws/broken.yaml", "openapi: 3.0.3\npaths: {\n")
        .with_file("/ws/pathless.yaml", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n");
    let all = diagnostics_with(text, fs);
    let top129 = found(text, &all, "TOP129");
    let at: Vec<&str> = top129.iter().map(|(_, at, _)| *at).collect();
    assert_eq!(at, ["\"broken.yaml\"", "\"pathless.yaml\""], "{all:#?}");
    assert!(top129.iter().all(|(s, _, _)| *s == Severity::Error));
    assert!(top129[0].2.contains("does not parse"), "{top129:?}");
    assert!(top129[1].2.contains("no `paths`"), "{top129:?}");
}

/// A protocol in the catalog that Faultbox mocks (or steps) and `ospecc run` does not, if any.
fn first_protocol(wanted: impl Fn(&ospecc_schema::topology::Protocol) -> bool) -> Option<String> {
    catalog().protocols.iter().find(|p| wanted(p)).map(|p| p.name.clone())
}

#[test]
fn a_mock_ospecc_run_does_not_serve_is_a_warning_at_its_protocol() {
    let Some(proto) = first_protocol(|p| p.mock_capable && !p.mock_served) else {
        eprintln!("SKIP: ospecc run serves every protocol Faultbox mocks");
        return;
    };
    let text = format!("m = mock_service(\"m\", interface(\"main\", \"{proto}\", 21520))\n");
    let all = diagnostics(&text);
    let top130 = found(&text, &all, "TOP130");
    assert_eq!(top130.len(), 1, "{all:#?}");
    assert_eq!(top130[0].0, Severity::Warning);
    assert_eq!(top130[0].1, format!("\"{proto}\""));
    let served = "m = mock_service(\"m\", interface(\"main\", \"http\", 21521))\n";
    assert!(!codes(&diagnostics(served)).contains(&"TOP130"));
}

#[test]
fn a_step_ospecc_run_has_no_client_for_is_a_warning_at_the_step() {
    let Some(proto) = first_protocol(|p| !p.methods.is_empty() && !p.steps_run) else {
        eprintln!("SKIP: ospecc run steps every protocol Faultbox steps");
        return;
    };
    let method = catalog().protocol(&proto).unwrap().methods[0].name.clone();
    let text = format!(
        "svc = service(\"svc\", interface(\"main\", \"{proto}\", 21522), image = \"x:1\")\n\
         def test_it():\n    svc.main.{method}()\n"
    );
    let all = diagnostics(&text);
    let top131 = found(&text, &all, "TOP131");
    assert_eq!(top131.len(), 1, "{all:#?}");
    assert_eq!(top131[0].0, Severity::Warning);
    assert_eq!(top131[0].1, format!("svc.main.{method}"));
    let http = "svc = service(\"svc\", interface(\"main\", \"http\", 21523), image = \"x:1\")\n\
                def test_it():\n    svc.main.get(path = \"/\")\n";
    assert!(!codes(&diagnostics(http)).contains(&"TOP131"));
}
