//! Tests of references and rename across files: an OSpec service with the topology that
//! declares it (and the modules it loads) and the other specs naming that topology; tasks in
//! their spec; the refusals. A rename's edits are applied and the result checked again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::crossfile::{self, CrossInput};
use crate::topology::Limits;
use crate::vfs::MemoryFs;

const T: &str = "load(\"lib.star\", \"helper\")\ndb = service(\"db\", \"bin\", interface(\"pg\", \"postgres\", 5432))\napi = service(\"api\", \"bin\", interface(\"http\", \"http\", 8080), depends_on = [db, \"cache\"])\n";
const LIB: &str =
    "cache = service(\"cache\", \"bin\", interface(\"r\", \"redis\", 6379))\n\ndef helper():\n    return 1\n";
const A: &str = "topology: t.star\nservices:\n  api:\n    dependencies: [cache, db]\n  cache: {}\n  db: {}\ntasks:\n  - id: setup\n    title: Set up\n  - id: build\n    title: Build it\n    dependencies: [setup]\nacceptance:\n  integration_tests:\n    - name: flow\n      steps:\n        - \"GET cache:/x → 200\"\n";
const B: &str = "topology: ./t.star\nacceptance:\n  service_health:\n    - service: \"cache\"\n      endpoint: /h\n";
const OTHER_SPEC: &str = "topology: other.star\nservices:\n  cache: {}\n";
const OTHER: &str = "cache = service(\"cache\", \"bin\", interface(\"r\", \"redis\", 6379))\n";

fn workspace() -> BTreeMap<&'static str, String> {
    [
        ("/w/t.star", T),
        ("/w/lib.star", LIB),
        ("/w/a.ospec.yml", A),
        ("/w/b.ospec.yml", B),
        ("/w/other.ospec.yml", OTHER_SPEC),
        ("/w/other.star", OTHER),
    ]
    .into_iter()
    .map(|(p, t)| (p, t.to_string()))
    .collect()
}

/// Runs `f` on `path` of `files`, the cursor at the first `|` of `marked` (the file's text
/// with a cursor mark).
fn at<T>(files: &BTreeMap<&str, String>, path: &str, marked: &str, f: impl Fn(&FileContext, usize) -> T) -> T {
    let fs = files.iter().fold(MemoryFs::default(), |fs, (p, t)| fs.with_file(*p, t.clone()));
    let list: Vec<PathBuf> = files.keys().map(PathBuf::from).collect();
    super::tests::at_cursor((path, marked, '|'), &fs, &list, f)
}

fn marked(text: &str, needle: &str, nth: usize) -> String {
    let at = text.match_indices(needle).nth(nth).map(|(i, _)| i + 1).expect("the needle");
    format!("{}|{}", &text[..at], &text[at..])
}

/// How many locations fall in each file (`path` itself for the asking file).
fn per_file(path: &str, found: &[Location]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in found {
        let name = l.path.as_deref().unwrap_or(Path::new(path)).display().to_string();
        *out.entry(name).or_insert(0) += 1;
    }
    out
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(p, n)| (p.to_string(), *n)).collect()
}

/// The texts after replacing every location with `new_name`.
fn apply(
    files: &BTreeMap<&'static str, String>,
    asking: &str,
    found: &[Location],
    new_name: &str,
) -> BTreeMap<&'static str, String> {
    let mut out = files.clone();
    for (path, text) in out.iter_mut() {
        let mut spans: Vec<Span> = found
            .iter()
            .filter(|l| l.path.as_deref().unwrap_or(Path::new(asking)) == Path::new(path))
            .map(|l| l.span)
            .collect();
        spans.sort_by_key(|s| std::cmp::Reverse(s.start));
        for span in spans {
            text.replace_range(span.start..span.end, new_name);
        }
    }
    out
}

fn cross_codes(files: &BTreeMap<&str, String>, spec: &str) -> Vec<String> {
    let fs = files.iter().fold(MemoryFs::default(), |fs, (p, t)| fs.with_file(*p, t.clone()));
    let input = CrossInput {
        path: Path::new(spec),
        text: &files[spec],
        fs: &fs,
        root: Path::new("/w"),
        limits: Limits::default(),
    };
    crossfile::check(&input).into_iter().map(|d| d.code.to_string()).collect()
}

const CACHE_EVERYWHERE: &[(&str, usize)] =
    &[("/w/a.ospec.yml", 3), ("/w/b.ospec.yml", 1), ("/w/lib.star", 1), ("/w/t.star", 1)];

#[test]
fn ide_a_service_is_found_in_its_topology_its_modules_and_every_spec_naming_it() {
    let files = workspace();
    let from_spec = at(&files, "/w/a.ospec.yml", &marked(A, "cache: {}", 0), |f, o| references(f, o, true));
    assert_eq!(per_file("/w/a.ospec.yml", &from_spec), counts(CACHE_EVERYWHERE), "{from_spec:?}");
    // The other spec names another topology: its `cache` is another service.
    let from_topology = at(&files, "/w/lib.star", &marked(LIB, "\"cache\"", 0), |f, o| references(f, o, true));
    assert_eq!(per_file("/w/lib.star", &from_topology), counts(CACHE_EVERYWHERE), "{from_topology:?}");
    let from_use = at(&files, "/w/t.star", &marked(T, "\"cache\"", 0), |f, o| references(f, o, true));
    assert_eq!(per_file("/w/t.star", &from_use), counts(CACHE_EVERYWHERE), "{from_use:?}");
    // Without declarations: the `services:` key and the `service("cache")` string are left out.
    let uses = at(&files, "/w/b.ospec.yml", &marked(B, "cache", 0), |f, o| references(f, o, false));
    let expected = counts(&[("/w/a.ospec.yml", 2), ("/w/b.ospec.yml", 1), ("/w/t.star", 1)]);
    assert_eq!(per_file("/w/b.ospec.yml", &uses), expected, "{uses:?}");
    let other = at(&files, "/w/other.star", &marked(OTHER, "\"cache\"", 0), |f, o| references(f, o, true));
    assert_eq!(per_file("/w/other.star", &other), counts(&[("/w/other.ospec.yml", 1), ("/w/other.star", 1)]));
}

#[test]
fn ide_renaming_a_service_edits_every_file_and_the_result_still_checks() {
    let files = workspace();
    assert_eq!(cross_codes(&files, "/w/a.ospec.yml"), Vec::<String>::new());
    let cursor = marked(B, "cache", 0);
    let span = at(&files, "/w/b.ospec.yml", &cursor, prepare_rename).expect("renameable");
    assert_eq!(&B[span.start..span.end], "cache");
    let found = at(&files, "/w/b.ospec.yml", &cursor, |f, o| rename(f, o, "redis")).expect("renamed");
    assert_eq!(per_file("/w/b.ospec.yml", &found), counts(CACHE_EVERYWHERE), "{found:?}");
    let renamed = apply(&files, "/w/b.ospec.yml", &found, "redis");
    assert!(renamed["/w/lib.star"].contains("service(\"redis\""), "{}", renamed["/w/lib.star"]);
    assert!(renamed["/w/t.star"].contains("depends_on = [db, \"redis\"]"), "{}", renamed["/w/t.star"]);
    assert!(renamed["/w/a.ospec.yml"].contains("GET redis:/x"), "{}", renamed["/w/a.ospec.yml"]);
    assert!(renamed["/w/b.ospec.yml"].contains("service: \"redis\""), "{}", renamed["/w/b.ospec.yml"]);
    assert_eq!(renamed["/w/other.ospec.yml"], OTHER_SPEC);
    for spec in ["/w/a.ospec.yml", "/w/b.ospec.yml", "/w/other.ospec.yml"] {
        assert_eq!(cross_codes(&renamed, spec), Vec::<String>::new(), "{spec}");
    }
    // The specs' edits alone would not check: the topology must follow.
    let is_topology = |l: &&Location| l.path.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "star"));
    let specs_only: Vec<Location> = found.iter().filter(|l| !is_topology(l)).cloned().collect();
    assert!(cross_codes(&apply(&files, "/w/b.ospec.yml", &specs_only, "redis"), "/w/b.ospec.yml")
        .contains(&"XSP003".to_string()));
    // From the topology side, the same edits.
    let from_topology =
        at(&files, "/w/lib.star", &marked(LIB, "\"cache\"", 0), |f, o| rename(f, o, "redis")).expect("renamed");
    assert_eq!(apply(&files, "/w/lib.star", &from_topology, "redis"), renamed);
}

#[test]
fn ide_a_service_rename_that_would_not_check_is_refused_with_the_reason() {
    let mut files = workspace();
    files.insert("/w/t.star", format!("{T}web = client(\"web\", api.http)\n"));
    let cursor = marked(A, "cache: {}", 0);
    for (new_name, why) in [
        ("db", "`db` is already a service in /w/a.ospec.yml"),
        ("web", "`web` is a client in /w/t.star"),
        ("a b", "not a valid service name"),
        ("-x", "not a valid service name"),
        ("true", "YAML reads it as a value"),
        ("12", "YAML reads it as a value"),
    ] {
        let refused = at(&files, "/w/a.ospec.yml", &cursor, |f, o| rename(f, o, new_name));
        assert!(refused.as_ref().is_err_and(|e| e.contains(why)), "{new_name}: {refused:?}");
    }
    // A service the topology declares under a computed name cannot follow.
    files.insert("/w/t2.star", "n = \"x\"\nservice(n, \"bin\")\n".into());
    let spec = "topology: t2.star\nservices:\n  x: {}\n";
    files.insert("/w/c.ospec.yml", spec.into());
    let refused = at(&files, "/w/c.ospec.yml", &marked(spec, "x:", 0), |f, o| rename(f, o, "y"));
    assert!(refused.as_ref().is_err_and(|e| e.contains("is not declared by a `service(\"x\"")), "{refused:?}");
    // A step naming the service in a string written with an escape cannot be edited in place.
    let spec = "topology: t.star\nservices:\n  db: {}\nacceptance:\n  integration_tests:\n    - name: f\n      steps: [\"GET db:/\\u0078 → 200\"]\n";
    files.insert("/w/d.ospec.yml", spec.into());
    let refused = at(&files, "/w/d.ospec.yml", &marked(spec, "db:", 0), |f, o| rename(f, o, "pg"));
    assert!(refused.as_ref().is_err_and(|e| e.contains("cannot edit in place")), "{refused:?}");
    // Not a name, and `topology:`: prepareRename says why.
    for (needle, why) in [("ospec", "no service, task"), ("t.star", "names a file")] {
        let text = format!("{A}# ospec\n");
        let refused = at(&files, "/w/a.ospec.yml", &marked(&text, needle, 0), prepare_rename);
        assert!(refused.as_ref().is_err_and(|e| e.contains(why)), "{needle}: {refused:?}");
    }
}

#[test]
fn ide_tasks_rename_within_their_spec_against_the_schema_pattern() {
    let files = workspace();
    let cursor = marked(A, "setup]", 0);
    let refs = at(&files, "/w/a.ospec.yml", &cursor, |f, o| references(f, o, true));
    assert_eq!(per_file("/w/a.ospec.yml", &refs), counts(&[("/w/a.ospec.yml", 2)]), "{refs:?}");
    let found = at(&files, "/w/a.ospec.yml", &cursor, |f, o| rename(f, o, "prepare_env")).expect("renamed");
    let renamed = apply(&files, "/w/a.ospec.yml", &found, "prepare_env");
    assert!(
        renamed["/w/a.ospec.yml"].contains("- id: prepare_env\n")
            && renamed["/w/a.ospec.yml"].contains("[prepare_env]")
    );
    for (new_name, why) in
        [("build", "already a task"), ("Setup", "must match `^[a-z][a-z0-9-_]*$`"), ("1st", "must match")]
    {
        let refused = at(&files, "/w/a.ospec.yml", &cursor, |f, o| rename(f, o, new_name));
        assert!(refused.as_ref().is_err_and(|e| e.contains(why)), "{new_name}: {refused:?}");
    }
}

#[test]
fn ide_topology_names_still_rename_through_their_loads() {
    let files = workspace();
    let cursor = marked(T, "\"helper\"", 0);
    let found = at(&files, "/w/t.star", &cursor, |f, o| rename(f, o, "assist")).expect("renamed");
    assert_eq!(per_file("/w/t.star", &found), counts(&[("/w/lib.star", 1), ("/w/t.star", 1)]), "{found:?}");
    let span = at(&files, "/w/t.star", &marked(T, "\"db\"", 0), prepare_rename).expect("a service name");
    assert_eq!(&T[span.start..span.end], "db");
}

#[test]
fn ide_references_and_rename_at_every_offset_never_panic() {
    let files = workspace();
    for (path, text) in [("/w/a.ospec.yml", A), ("/w/b.ospec.yml", B), ("/w/t.star", T), ("/w/lib.star", LIB)] {
        for offset in (0..=text.len()).filter(|o| text.is_char_boundary(*o)) {
            let marked = format!("{}|{}", &text[..offset], &text[offset..]);
            let found = at(&files, path, &marked, |f, o| {
                let refs = references(f, o, true);
                let renamed = rename(f, o, "n1");
                (refs, prepare_rename(f, o), renamed)
            });
            // A rename's edits are the references' places.
            if let Ok(edits) = &found.2 {
                assert_eq!(edits, &found.0, "{path}@{offset}");
                assert!(found.1.is_ok(), "{path}@{offset}");
            }
        }
    }
}

/// A topology whose `cache` is declared by a stdlib mock helper (`mock_service` underneath),
/// by position and by keyword.
const MOCKED: &str = "load(\"@faultbox/mocks/redis.star\", \"redis\")\nload(\"@faultbox/mocks/mongodb.star\", db_mock = \"mongo\")\ncache = redis.server(\"cache\", interface(\"main\", \"redis\", 6379))\nstore = db_mock.server(name = \"store\", interface = interface(\"main\", \"mongodb\", 27017))\n";
const MOCKED_SPEC: &str = "topology: mocked.star\nservices:\n  cache: {}\n  store: {}\n";

#[test]
fn ide_a_service_declared_by_a_stdlib_mock_helper_is_renamed_with_its_specs() {
    let files: BTreeMap<&str, String> = [("/w/mocked.star", MOCKED), ("/w/m.ospec.yml", MOCKED_SPEC)]
        .into_iter()
        .map(|(p, t)| (p, t.to_string()))
        .collect();
    assert_eq!(cross_codes(&files, "/w/m.ospec.yml"), Vec::<String>::new());
    for (name, new_name) in [("cache", "sessions"), ("store", "documents")] {
        let cursor = marked(MOCKED_SPEC, &format!("{name}: {{}}"), 0);
        let found = at(&files, "/w/m.ospec.yml", &cursor, |f, o| rename(f, o, new_name)).expect("renamed");
        assert_eq!(
            per_file("/w/m.ospec.yml", &found),
            counts(&[("/w/m.ospec.yml", 1), ("/w/mocked.star", 1)]),
            "{found:?}"
        );
        let renamed = apply(&files, "/w/m.ospec.yml", &found, new_name);
        assert!(renamed["/w/mocked.star"].contains(&format!("\"{new_name}\"")), "{}", renamed["/w/mocked.star"]);
        assert_eq!(cross_codes(&renamed, "/w/m.ospec.yml"), Vec::<String>::new(), "{new_name}");
    }
}
