//! Tests of the ide layer over small texts: `|` marks the cursor.

use std::path::{Path, PathBuf};

use super::*;
use crate::vfs::MemoryFs;

const TOPOLOGY: &str = "db = service(\"db\", \"bin\",\n    interface(\"pg\", \"postgres\", 5432),\n)\napi = service(\"api\", \"bin\", interface(\"http\", \"http\", 8080), depends_on = [db])\ndef probe():\n    api.http.get(path = \"/\")\nscenario(probe)\nboom = fault_assumption(\"boom\", target = db, write = deny(\"EIO\"))\n";

/// Runs `f` on the file at `path` whose text is `marked` without its first `mark` (the
/// cursor), with `fs` around it and `files` as the workspace's files: the ide tests' one way
/// to make a `FileContext`.
pub(super) fn at_cursor<T>(
    (path, marked, mark): (&str, &str, char),
    fs: &MemoryFs,
    files: &[PathBuf],
    f: impl FnOnce(&FileContext, usize) -> T,
) -> T {
    let offset = marked.find(mark).expect("a cursor mark");
    let text = marked.replacen(mark, "", 1);
    let language = if path.ends_with(".star") { Language::Topology } else { Language::OSpec };
    let file =
        FileContext { path: Path::new(path), text: &text, language, fs, workspace_files: files, profile: Profile::Ext };
    f(&file, offset)
}

fn run<T>(path: &str, marked: &str, fs: &MemoryFs, f: impl Fn(&FileContext, usize) -> T) -> T {
    let files = [PathBuf::from("/w/t.star"), PathBuf::from("/w/lib/helpers.star")];
    at_cursor((path, marked, '|'), fs, &files, f)
}

fn labels(path: &str, marked: &str) -> Vec<String> {
    let fs = MemoryFs::default().with_file("/w/t.star", TOPOLOGY);
    run(path, marked, &fs, completions).into_iter().map(|i| i.label).collect()
}

#[test]
fn ospec_root_keys_required_first_and_present_keys_left_out() {
    let fs = MemoryFs::default();
    let items = run("/w/a.ospec.yml", "name: x\n|", &fs, completions);
    assert!(!items.iter().any(|i| i.label == "name"));
    let id = items.iter().find(|i| i.label == "id").expect("id offered");
    assert!(id.sort_text.as_deref().is_some_and(|s| s.starts_with('0')), "{id:?}");
    let acceptance = items.iter().find(|i| i.label == "acceptance").expect("acceptance offered");
    assert!(
        acceptance.is_snippet && acceptance.insert_text.as_deref().is_some_and(|t| t.contains('\n')),
        "{acceptance:?}"
    );
    assert!(!run("/w/a.ospec.yml", "|", &fs, completions).is_empty());
}

#[test]
fn ospec_enum_values_and_references() {
    let got = labels("/w/a.ospec.yml", "outcome_type: |\n");
    assert!(got.contains(&"web-app".to_string()) && got.contains(&"api".to_string()), "{got:?}");
    let text = "topology: t.star\nservices:\n  web:\n    depends_on: [|]\n  cache: {}\n";
    let got = labels("/w/a.ospec.yml", text);
    for name in ["cache", "db", "api"] {
        assert!(got.contains(&name.to_string()), "{name} in {got:?}");
    }
    let got = labels("/w/a.ospec.yml", "tasks:\n  - id: setup\n  - id: build\n    dependencies:\n      - |\n");
    assert!(got.contains(&"setup".to_string()), "{got:?}");
    let got = labels("/w/a.ospec.yml", "topology: |\n");
    assert!(got.contains(&"t.star".to_string()), "{got:?}");
}

#[test]
fn ospec_hover_and_definition() {
    let fs = MemoryFs::default().with_file("/w/t.star", TOPOLOGY);
    let hover = run("/w/a.ospec.yml", "outcome_|type: api\n", &fs, super::hover).expect("hover");
    assert!(hover.markdown.contains("kind of outcome") && hover.markdown.contains("`web-app`"), "{}", hover.markdown);
    let text = "topology: t.star\nservices:\n  db: {}\n  web:\n    depends_on: [d|b]\n";
    let found = run("/w/a.ospec.yml", text, &fs, definition);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1].path.as_deref(), Some(Path::new("/w/t.star")));
    let found = run("/w/a.ospec.yml", "topology: t.s|tar\n", &fs, definition);
    assert_eq!(found[0].path.as_deref(), Some(Path::new("/w/t.star")));
    let refs = run(
        "/w/a.ospec.yml",
        "services:\n  d|b: {}\n  a:\n    depends_on: [db]\n  b:\n    depends_on: db\n",
        &fs,
        |f, o| references(f, o, true),
    );
    assert_eq!(refs.len(), 3, "{refs:?}");
}

#[test]
fn topology_completions_by_context() {
    let got = labels("/w/t.star", &format!("{TOPOLOGY}api.|"));
    assert!(got.contains(&"http".to_string()), "{got:?}");
    let got = labels("/w/t.star", &format!("{TOPOLOGY}api.http.|"));
    assert!(got.contains(&"get".to_string()) && got.contains(&"post".to_string()), "{got:?}");
    let got = labels("/w/t.star", &format!("{TOPOLOGY}x = deny(\"E|"));
    assert!(got.contains(&"EIO".to_string()) && !got.contains(&"deny".to_string()), "{got:?}");
    let got = labels("/w/t.star", &format!("{TOPOLOGY}fault_matrix(scenarios = [probe], |"));
    assert!(got.contains(&"faults=".to_string()) && !got.contains(&"scenarios=".to_string()), "{got:?}");
    let got =
        labels("/w/t.star", &format!("{TOPOLOGY}fault_matrix(scenarios = [probe], faults = [boom], overrides = {{(|"));
    assert!(got.contains(&"probe".to_string()) && !got.contains(&"boom".to_string()), "{got:?}");
    let got = labels(
        "/w/t.star",
        &format!("{TOPOLOGY}fault_matrix(scenarios = [probe], faults = [boom], exclude = [(probe, |"),
    );
    assert!(got.contains(&"boom".to_string()), "{got:?}");
    let got = labels("/w/t.star", &format!("{TOPOLOGY}def t():\n    fault(db, |"));
    assert!(got.contains(&"write".to_string()) && got.contains(&"run=".to_string()), "{got:?}");
    let got = labels("/w/t.star", "load(\"|\")");
    assert!(
        got.iter().any(|l| l.starts_with("@faultbox/")) && got.contains(&"./lib/helpers.star".to_string()),
        "{got:?}"
    );
    assert!(labels("/w/t.star", "|").contains(&"service".to_string()));
}

#[test]
fn topology_argument_starts_offer_what_fits_not_every_name() {
    let fs = MemoryFs::default();
    let list = |marked: &str| run("/w/t.star", marked, &fs, completion_list);
    // After a keyword argument only keywords may follow: exactly the remaining ones.
    let found = list(&format!("{TOPOLOGY}x = service(\"x\", \"bin\", image = \"i\", |)"));
    let got: Vec<&str> = found.items.iter().map(|i| i.label.as_str()).collect();
    assert!(got.contains(&"healthcheck=") && !got.contains(&"image="), "{got:?}");
    assert!(got.iter().all(|l| l.ends_with('=')) && !found.incomplete, "{got:?}");
    // Where a positional may come: keywords, then values of the next parameter's type
    // (`*binary_or_interfaces: str|interface`), marked incomplete; the file's functions and
    // values of other types are left out until a prefix is typed.
    let text = format!("i = interface(\"m\", \"http\", 80)\n{TOPOLOGY}x = service(\"x\", |)");
    let found = list(&text);
    let got: Vec<&str> = found.items.iter().map(|i| i.label.as_str()).collect();
    assert!(found.incomplete, "{got:?}");
    assert!(got.contains(&"image=") && got.contains(&"i") && got.contains(&"interface"), "{got:?}");
    assert!(!got.contains(&"probe") && !got.contains(&"boom") && !got.contains(&"deny"), "{got:?}");
    // A callable parameter takes the file's functions.
    let got: Vec<String> = list(&format!("{TOPOLOGY}scenario(|)")).items.into_iter().map(|i| i.label).collect();
    assert!(got.contains(&"probe".to_string()) && !got.contains(&"db".to_string()), "{got:?}");
    // With a prefix typed, every matching name again.
    let got: Vec<String> =
        list(&format!("{TOPOLOGY}x = service(\"x\", pr|)")).items.into_iter().map(|i| i.label).collect();
    assert!(got.contains(&"probe".to_string()), "{got:?}");
}

#[test]
fn completion_lists_are_capped_and_then_incomplete() {
    let fs = MemoryFs::default();
    let defs: String = (0..MAX_COMPLETIONS + 50).map(|i| format!("def f{i}():\n    pass\n")).collect();
    let found = run("/w/t.star", &format!("{defs}|"), &fs, completion_list);
    assert_eq!(found.items.len(), MAX_COMPLETIONS);
    assert!(found.incomplete);
}

#[test]
fn ospec_entity_hover_where_names_are() {
    let fs = MemoryFs::default().with_file("/w/t.star", TOPOLOGY);
    let spec = "topology: t.star\nservices:\n  db: {}\n  web:\n    depends_on: [db]\ntasks:\n  - id: setup\n  - id: build\n    dependencies: [setup]\n  - id: ship\n    dependencies:\n      - build\nacceptance:\n  service_health:\n    - service: db\n  integration_tests:\n    - name: t\n      steps:\n        - GET db:/health -> 200\n";
    let hover_at = |needle: &str, at: usize| {
        let offset = spec.find(needle).expect("needle") + at;
        let marked = format!("{}|{}", &spec[..offset], &spec[offset..]);
        run("/w/a.ospec.yml", &marked, &fs, super::hover).map(|h| h.markdown).unwrap_or_default()
    };
    assert!(hover_at("db: {}", 1).starts_with("service `db`"), "{}", hover_at("db: {}", 1));
    assert!(hover_at("[db]", 2).starts_with("service `db`"));
    assert!(hover_at("id: setup", 5).starts_with("task `setup`"));
    assert!(hover_at("[setup]", 2).starts_with("task `setup`"));
    assert!(hover_at("- build", 3).starts_with("task `build`"), "{}", hover_at("- build", 3));
    assert!(hover_at("service: db", 10).starts_with("service `db`"));
    assert!(hover_at("GET db:/", 5).starts_with("service `db`"), "{}", hover_at("GET db:/", 5));
    assert!(hover_at("t.star", 1).starts_with("topology file"));
    // Elsewhere the schema answers.
    let key = hover_at("integration_tests", 1);
    assert!(!key.is_empty() && !key.contains("`db`"), "{key}");
}

#[test]
fn topology_hover_signature_definition() {
    let fs = MemoryFs::default().with_file("/w/lib.star", "def helper(x):\n    return x\n");
    let hover = run("/w/t.star", "x = de|ny(\"EIO\")", &fs, super::hover).expect("hover");
    assert!(hover.markdown.contains("deny(") && hover.markdown.contains("errno"), "{}", hover.markdown);
    let hover = run("/w/t.star", "x = deny(\"EI|O\")", &fs, super::hover).expect("hover on errno");
    assert!(hover.markdown.starts_with("`EIO`"), "{}", hover.markdown);
    let help = run("/w/t.star", "interface(\"a\", |", &fs, signature_help).expect("signature");
    assert_eq!(help.active_parameter, Some(1));
    let found = run("/w/t.star", "load(\"lib.star\", \"helper\")\nhel|per(1)\n", &fs, definition);
    assert_eq!(found, [Location { path: Some(PathBuf::from("/w/lib.star")), span: Span::new(4, 10) }]);
}

#[test]
fn symbols_of_both_languages() {
    let outline = symbols(&FileContext {
        path: Path::new("/w/t.star"),
        text: TOPOLOGY,
        language: Language::Topology,
        fs: &MemoryFs::default(),
        workspace_files: &[],
        profile: Profile::Ext,
    });
    let names: Vec<&str> = outline.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "api", "probe", "probe", "boom"]);
    assert_eq!(outline[0].children[0].name, "pg");
    let text = "name: x\ntasks:\n  - id: a\n    title: T\n";
    let outline = symbols(&FileContext {
        path: Path::new("/w/a.ospec.yml"),
        text,
        language: Language::OSpec,
        fs: &MemoryFs::default(),
        workspace_files: &[],
        profile: Profile::Ext,
    });
    assert_eq!(outline[1].children[0].name, "a");
}

#[test]
fn bad_positions_and_odd_text_never_panic() {
    let fs = MemoryFs::default();
    for (path, text) in
        [("/w/a.ospec.yml", "a: \"😀\"\r\n  - b: 中\r\n- : :\n"), ("/w/t.star", "x = \"😀\nf(a, b=\r\n'''")]
    {
        for offset in (0..text.len() + 3).chain([usize::MAX]) {
            let file = FileContext {
                path: Path::new(path),
                text,
                language: if path.ends_with(".star") { Language::Topology } else { Language::OSpec },
                fs: &fs,
                workspace_files: &[],
                profile: Profile::Ext,
            };
            let _ = (completions(&file, offset), hover(&file, offset), definition(&file, offset));
            let _ = (references(&file, offset, true), signature_help(&file, offset));
            let _ = (symbols(&file), semantic_tokens(&file));
        }
    }
}

const STDLIB_LOADS: &str =
    "load(\"@faultbox/recipes/redis.star\", \"redis\")\nload(\"@faultbox/mocks/mongodb.star\", db_mock = \"mongo\")\n";

#[test]
fn embedded_module_members_complete_with_signatures_and_docs() {
    let fs = MemoryFs::default();
    let items = run("/w/t.star", &format!("{STDLIB_LOADS}x = redis.|"), &fs, completions);
    let got: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    for member in ["oom", "loading", "cluster_down", "slow_command", "connection_drop"] {
        assert!(got.contains(&member), "{member} in {got:?}");
    }
    assert!(!got.contains(&"server"), "{got:?}");
    let oom = items.iter().find(|i| i.label == "oom").unwrap();
    assert_eq!(oom.detail.as_deref(), Some("redis.oom(key = \"*\")"));
    assert!(oom.documentation.as_deref().is_some_and(|d| d.contains("OOM")), "{oom:?}");
    assert_eq!(oom.insert_text.as_deref(), Some("oom($0)"));
    // An alias of a module's struct completes the same; the struct's own name does not.
    let got = labels("/w/t.star", &format!("{STDLIB_LOADS}x = db_mock.|"));
    assert_eq!(got, ["server"]);
    let items = run("/w/t.star", &format!("{STDLIB_LOADS}x = db_mock.|"), &fs, completions);
    assert_eq!(items[0].detail.as_deref(), Some("db_mock.server(name, interface, collections = {}, depends_on = [])"));
    // Keyword arguments of a member, from its def.
    let got = labels("/w/t.star", &format!("{STDLIB_LOADS}x = redis.slow_command(|)"));
    assert!(got.contains(&"duration=".to_string()) && got.contains(&"key=".to_string()), "{got:?}");
}

#[test]
fn every_embedded_module_path_completes_in_load() {
    let got = labels("/w/t.star", "load(\"@faultbox/|\")");
    for (path, _) in ospecc_schema::stdlib::MODULES {
        assert!(got.contains(&path.to_string()), "{path} in {got:?}");
    }
    assert_eq!(got.iter().filter(|l| l.starts_with("@faultbox/")).count(), ospecc_schema::stdlib::MODULES.len());
    let got = labels("/w/t.star", "load(\"@faultbox/mocks/jwt.star\", \"|\")");
    assert_eq!(got, ["jwt"]);
}

#[test]
fn embedded_module_members_hover_and_signature_help() {
    let fs = MemoryFs::default();
    let hover = run("/w/t.star", &format!("{STDLIB_LOADS}x = redis.lo|ading()"), &fs, super::hover).expect("hover");
    assert!(hover.markdown.contains("redis.loading(key = \"*\")"), "{}", hover.markdown);
    assert!(hover.markdown.contains("LOADING") && hover.markdown.contains("@faultbox/recipes/redis.star"));
    let hover = run("/w/t.star", &format!("{STDLIB_LOADS}x = red|is.oom()"), &fs, super::hover).expect("hover");
    assert!(hover.markdown.contains("`oom`") && hover.markdown.contains("`wrongtype`"), "{}", hover.markdown);
    let hover = run("/w/t.star", "load(\"@faultbox/discovery/k|8s.star\", \"k8s\")", &fs, super::hover).expect("hover");
    assert!(hover.markdown.contains("endpoint"), "{}", hover.markdown);
    let help = run("/w/t.star", &format!("{STDLIB_LOADS}x = redis.slow_command(\"1s\", |)"), &fs, signature_help)
        .expect("signature help");
    assert_eq!(help.label, "redis.slow_command(duration = \"3s\", key = \"*\")");
    assert_eq!(help.active_parameter, Some(1));
}

/// Non-ASCII text before `:` (and anywhere else) must never make a feature slice inside a
/// character: every feature at every character boundary of such texts answers without a panic.
#[test]
fn non_ascii_text_never_panics_any_feature() {
    let texts = [
        "x = \"é\":",
        "é:",
        "def f(ü):\n    ä.b:",
        "api = service(\"añ\", \"bin\", interface(\"h\", \"http\", 1))\napi.h.get(path=\"/ü\"):\nλ: ",
        "# 日本語: コメント\nx = {\"ключ\": 1}\nx[\"ключ\"]:",
        "s = '💥'\ns.:",
    ];
    let fs = MemoryFs::default();
    for text in texts {
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let mut marked = text.to_owned();
            marked.insert(offset, '|');
            let _ = run("/w/t.star", &marked, &fs, completions);
            let _ = run("/w/t.star", &marked, &fs, hover);
            let _ = run("/w/t.star", &marked, &fs, signature_help);
            let _ = run("/w/t.star", &marked, &fs, definition);
            let _ = run("/w/a.ospec.yml", &marked, &fs, completions);
            let _ = run("/w/a.ospec.yml", &marked, &fs, hover);
        }
    }
}
