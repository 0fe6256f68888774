//! Cross-file checks (XSP) at the library level: the fixtures of `tests/fixtures/xsp/` are
//! loaded into an in-memory file system under `/ws`, and each spec's diagnostics are compared
//! by code and by the text their primary span covers (and, for labels, by file and text).

use std::path::{Path, PathBuf};

use ospecc_compiler::crossfile::{self, CrossInput};
use ospecc_compiler::topology::{self, Limits, TopologyInput};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::{Diagnostic, Severity, Span};

const WS: &str = "/ws";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/xsp")
}

/// Every fixture of `tests/fixtures/xsp` under `/ws`.
fn workspace() -> MemoryFs {
    let mut fs = MemoryFs::default();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".star") || name.ends_with(".ospec.yml") {
            fs = fs.with_file(Path::new(WS).join(name), std::fs::read_to_string(&path).unwrap());
        }
    }
    fs
}

fn check_text(fs: &MemoryFs, name: &str, text: &str) -> Vec<Diagnostic> {
    let path = Path::new(WS).join(name);
    crossfile::check(&CrossInput { path: &path, text, fs, root: Path::new(WS), limits: Limits::default() })
}

/// The spec fixture `name`'s text and its cross-file diagnostics.
fn check(name: &str) -> (String, Vec<Diagnostic>) {
    let fs = workspace();
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    let diagnostics = check_text(&fs, name, &text);
    (text, diagnostics)
}

/// `(code, covered text)` of each diagnostic.
fn found<'a>(text: &'a str, diagnostics: &[Diagnostic]) -> Vec<(&'static str, &'a str)> {
    diagnostics.iter().map(|d| (d.code, &text[d.span.start..d.span.end])).collect()
}

fn star(name: &str) -> String {
    std::fs::read_to_string(fixtures_dir().join(name)).unwrap()
}

#[test]
fn an_agreeing_pair_has_no_findings() {
    let (_, diagnostics) = check("shop.ospec.yml");
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

#[test]
fn the_agreeing_topology_itself_is_clean() {
    let text = star("shop.star");
    let path = Path::new(WS).join("shop.star");
    let fs = workspace();
    let input = TopologyInput { path: &path, text: &text, fs: &fs, root: Path::new(WS), limits: Limits::default() };
    // Notes (a container engine is needed to run it) are fine; errors and warnings are not.
    let diagnostics: Vec<Diagnostic> =
        topology::check(&input).into_iter().filter(|d| d.severity != Severity::Note).collect();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

#[test]
fn unknown_services_are_found_wherever_the_spec_names_them() {
    let (text, diagnostics) = check("unknown-service.ospec.yml");
    assert_eq!(
        found(&text, &diagnostics),
        vec![("XSP003", "apii"), ("XSP003", "gateway"), ("XSP003", "atuh"), ("XSP003", "users")]
    );
    // Close names get a fix: quoted for a whole scalar, bare inside a step string.
    let apii = &diagnostics[0];
    assert_eq!(apii.help.as_deref(), Some("did you mean `api`?"));
    assert_eq!(apii.fixes[0].edits[0].new_text, "\"api\"");
    let atuh = &diagnostics[2];
    assert_eq!(atuh.fixes[0].edits[0].new_text, "auth");
    assert!(diagnostics[1].help.as_deref().unwrap().starts_with("the topology declares: api, auth;"));
}

#[test]
fn ports_disagreeing_with_interfaces_or_published_ports() {
    let (text, diagnostics) = check("ports.ospec.yml");
    assert_eq!(
        found(&text, &diagnostics),
        vec![("XSP004", "\"18081:8080\""), ("XSP004", "\"18080:80/tcp\""), ("XSP004", "9002")]
    );
    assert!(diagnostics[0].message.contains("host port 18081 is not in its `ports=` (18080: 8080)"));
    assert!(diagnostics[1].message.contains("host port 18080 maps to container port 8080 there, not 80"));
    assert!(diagnostics[2].message.contains("(9000, 9001)"), "{}", diagnostics[2].message);
    // The label points at the service's declaration in the topology file.
    let label = &diagnostics[0].labels[0];
    assert_eq!(label.file.as_deref(), Some("/ws/ports.star"));
    assert!(star("ports.star")[label.span.start..label.span.end].starts_with("service(\"api\""));
}

#[test]
fn a_spec_dependency_the_topology_lacks() {
    let (text, diagnostics) = check("spec-dependency.ospec.yml");
    assert_eq!(found(&text, &diagnostics), vec![("XSP005", "db")]);
    assert_eq!(text[..diagnostics[0].span.start].lines().count(), 13, "the `db` of `api`, not of `auth`");
    let label = &diagnostics[0].labels[0];
    assert!(star("spec-dependency.star")[label.span.start..label.span.end].starts_with("service(\"api\""));
}

#[test]
fn topology_dependencies_the_spec_lacks() {
    let (text, diagnostics) = check("topology-dependency.ospec.yml");
    // `auth` has no `dependencies` (its key is the location); `api` lists only `auth`.
    assert_eq!(found(&text, &diagnostics), vec![("XSP006", "auth"), ("XSP006", "dependencies")]);
    assert!(diagnostics[0].message.contains("`auth` depend on `db`"));
    assert!(diagnostics[1].message.contains("`api` depend on `db`"));
}

#[test]
fn a_broken_topology_is_one_finding_at_the_reference() {
    let (text, diagnostics) = check("broken-topology.ospec.yml");
    assert_eq!(found(&text, &diagnostics), vec![("XSP002", "broken-topology.star")]);
    let label = &diagnostics[0].labels[0];
    assert_eq!(label.file.as_deref(), Some("/ws/broken-topology.star"));
    assert!(star("broken-topology.star")[label.span.start..label.span.end].contains("undefined_helper"));
}

#[test]
fn with_declared_services_only_their_keys_are_compared() {
    let fs = workspace();
    let text = "topology: shop.star\nservices:\n  db: {}\n  cahce: {}\nacceptance:\n  service_health:\n    - service: gateway\n";
    let diagnostics = check_text(&fs, "s.ospec.yml", text);
    // `gateway` is OSP205's finding (not a key of `services`); `cahce` is not in the topology.
    assert_eq!(found(text, &diagnostics), vec![("XSP003", "cahce")]);
}

#[test]
fn a_missing_topology_supersedes_the_missing_file_warning() {
    let own = vec![
        Diagnostic::warning("OSP207", Span::new(10, 20), "missing"),
        Diagnostic::warning("OSP207", Span::new(30, 40), "other"),
    ];
    let cross = vec![Diagnostic::error("XSP001", Span::new(10, 20), "cannot read")];
    let merged = crossfile::merge(own, cross);
    let codes: Vec<(&str, usize)> = merged.iter().map(|d| (d.code, d.span.start)).collect();
    assert_eq!(codes, vec![("XSP001", 10), ("OSP207", 30)]);
}

#[test]
fn a_missing_topology_is_located_at_the_reference() {
    let (text, diagnostics) = check("missing-topology.ospec.yml");
    assert_eq!(found(&text, &diagnostics), vec![("XSP001", "topology/missing.star")]);
    assert!(diagnostics[0].message.contains("no such file"), "{}", diagnostics[0].message);
}

#[test]
fn several_disagreements_in_one_spec() {
    let (text, diagnostics) = check("mixed.ospec.yml");
    assert_eq!(
        found(&text, &diagnostics),
        vec![("XSP006", "api"), ("XSP004", "\"8080:8081\""), ("XSP003", "apl")],
        "{diagnostics:#?}"
    );
    assert_eq!(diagnostics[2].help.as_deref(), Some("did you mean `api`?"));
}

#[test]
fn specs_without_topology_and_other_profiles_are_untouched() {
    let fs = workspace();
    assert!(check_text(&fs, "a.ospec.yml", "id: a\nservices:\n  x: {}\n").is_empty());
    // A non-string or empty `topology:` is the schema's finding.
    assert!(check_text(&fs, "a.ospec.yml", "topology: 3\n").is_empty());
    assert!(check_text(&fs, "a.ospec.yml", "topology: ''\n").is_empty());
}

#[test]
fn each_document_is_checked_against_its_own_topology() {
    let fs = workspace();
    let text = "topology: shop.star\nservices:\n  api: {}\n---\ntopology: none.star\n";
    let diagnostics = check_text(&fs, "multi.ospec.yml", text);
    // `api` in the first document lacks auth/db edges; the second names a missing file.
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec!["XSP006", "XSP006", "XSP001"]);
}

#[test]
fn a_topology_outside_the_workspace_root_is_still_read() {
    let fs = MemoryFs::default()
        .with_file("/other/t.star", "api = service(\"api\", interface(\"h\", \"http\", 80), image=\"x\")\n");
    let path = Path::new("/ws/s.ospec.yml");
    let text = "topology: ../other/t.star\nservices:\n  ap: {}\n";
    let input = CrossInput { path, text, fs: &fs, root: Path::new(WS), limits: Limits::default() };
    let diagnostics = crossfile::check(&input);
    assert_eq!(found(text, &diagnostics), vec![("XSP003", "ap")]);
}

#[test]
fn a_non_utf8_or_oversized_topology_is_unreadable() {
    let fs = MemoryFs::default().with_file("/ws/big.star", "#".repeat(64));
    let path = Path::new("/ws/s.ospec.yml");
    let text = "topology: big.star\n";
    let limits = Limits { max_file_bytes: 10, ..Limits::default() };
    let diagnostics = crossfile::check(&CrossInput { path, text, fs: &fs, root: Path::new(WS), limits });
    assert_eq!(found(text, &diagnostics), vec![("XSP001", "big.star")]);
}
