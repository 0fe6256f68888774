//! Evaluation of topology files in the sandbox: the seed patterns evaluate cleanly, and every
//! kind of bad input is a located diagnostic in bounded time (no panic, no hang).

use std::path::Path;
use std::time::{Duration, Instant};

use ospecc_compiler::topology::{self, Arg, Limits, TopologyInput};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::Diagnostic;

const ROOT: &str = "/ws";

fn check_with(fs: &MemoryFs, path: &str, text: &str) -> Vec<Diagnostic> {
    let input = TopologyInput { path: Path::new(path), text, fs, root: Path::new(ROOT), limits: Limits::default() };
    topology::check(&input)
}

fn check(text: &str) -> Vec<Diagnostic> {
    check_with(&MemoryFs::default(), "/ws/spec/main.star", text)
}

/// The code and covered text of the diagnostic with `code`; the static checks may add
/// findings of their own (recursion, rebinding) beside the evaluator's.
fn with_code<'t>(diagnostics: &[Diagnostic], text: &'t str, code: &str) -> (&'static str, &'t str) {
    let d = diagnostics.iter().find(|d| d.code == code).unwrap_or_else(|| panic!("no {code}: {diagnostics:#?}"));
    (d.code, &text[d.span.start..d.span.end])
}

/// The single diagnostic's code and the text its span covers.
fn only<'t>(diagnostics: &[Diagnostic], text: &'t str) -> (&'static str, &'t str) {
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    (d.code, &text[d.span.start..d.span.end])
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/topology").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_seed_patterns_evaluate_without_diagnostics() {
    for name in ["pattern-1.star", "pattern-2.star", "pattern-3.star"] {
        let text = fixture(name);
        let fs = MemoryFs::default();
        let input = TopologyInput {
            path: Path::new("/ws/pattern.star"),
            text: &text,
            fs: &fs,
            root: Path::new(ROOT),
            limits: Limits::default(),
        };
        let evaluated = topology::evaluate(&input);
        assert!(evaluated.diagnostics.is_empty(), "{name}: {:#?}", evaluated.diagnostics);
        assert!(evaluated.complete, "{name}");
        assert!(evaluated.services().count() >= 3, "{name}");
        assert!(!evaluated.tests().is_empty(), "{name}");
    }
}

#[test]
fn the_model_records_services_interfaces_and_tests() {
    let text = fixture("pattern-1.star");
    let fs = MemoryFs::default();
    let input = TopologyInput {
        path: Path::new("/ws/p1.star"),
        text: &text,
        fs: &fs,
        root: Path::new(ROOT),
        limits: Limits::default(),
    };
    let evaluated = topology::evaluate(&input);
    let services: Vec<&str> = evaluated.services().filter_map(|s| s.name()).collect();
    assert_eq!(services, ["db", "cache", "api"]);
    let api = evaluated.services().find(|s| s.name() == Some("api")).unwrap();
    assert_eq!(&text[api.span.start..api.span.start + 14], "service(\"api\",");
    // `db.pg.internal_addr` evaluated to the container address inside `env`.
    let Some(Arg::Dict(env)) = api.named("env") else { panic!("env: {:?}", api.named("env")) };
    assert!(env.iter().any(|(_, v)| *v == Arg::Str("postgres://test@db:5432/mydb".into())), "{env:?}");
    let tests = evaluated.tests();
    assert!(tests.contains(&"test_create_user".to_string()), "{tests:?}");
    // 3 scenarios × 5 faults - 2 excluded = 13 matrix cells.
    assert_eq!(tests.iter().filter(|t| t.starts_with("test_matrix_")).count(), 13, "{tests:?}");
    assert!(evaluated.globals.iter().any(|g| g.name == "db_down" && matches!(g.value, Arg::Record(_))));
}

#[test]
fn a_syntax_error_is_located() {
    let text = "api = service(\"api\",\n    image=\"x\"\n    env={},\n)\n";
    let d = check(text);
    assert_eq!(only(&d, text), ("TOP001", "env"));
    assert!(d[0].help.is_some());
}

#[test]
fn an_unknown_name_is_located_with_a_suggestion() {
    let text = "x = 1\nhc = htpp(\"localhost:80\")\n";
    let d = check(text);
    assert_eq!(only(&d, text), ("TOP011", "htpp"));
    assert!(d[0].message.contains("http"), "{}", d[0].message);
}

#[test]
fn fail_and_type_errors_are_located() {
    let text = "x = 1\nfail(\"boom\")\n";
    assert_eq!(only(&check(text), text), ("TOP010", "fail(\"boom\")"));
    let text = "x = \"a\" + 1\n";
    assert_eq!(only(&check(text), text).0, "TOP010");
}

#[test]
fn catalog_arity_and_keywords_are_checked() {
    let text = "i = interface(\"http\", \"http\")\n";
    assert_eq!(only(&check(text), text), ("TOP041", "interface"));
    let text = "s = service(\"api\", imgae=\"x\")\n";
    let d = check(text);
    let typo = d.iter().find(|d| d.code == "TOP040").unwrap_or_else(|| panic!("{d:#?}"));
    assert_eq!(&text[typo.span.start..typo.span.end], "imgae");
    assert_eq!(typo.help.as_deref(), Some("did you mean `image`?"));
    let text = "i = interface(\"http\", \"http\", 80, 1, 2, 3, 4, 5)\n";
    assert_eq!(with_code(&check(text), text, "TOP042"), ("TOP042", "3"));
}

fn bounded(text: &str, code: &str) {
    let start = Instant::now();
    let d = check(text);
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].code, code, "{d:#?}");
    assert!(d[0].span.end <= text.len());
}

#[test]
fn an_infinite_loop_is_a_diagnostic_in_bounded_time() {
    bounded("def f():\n    for x in range(1000000000):\n        pass\n\nf()\n", "TOP012");
    bounded("x = [i for i in range(1000000000)]\n", "TOP012");
}

#[test]
fn deep_recursion_is_a_diagnostic() {
    let text = "def f(n):\n    return f(n + 1)\n\nf(0)\n";
    let d = check(text);
    assert_eq!(with_code(&d, text, "TOP014"), ("TOP014", "f(n + 1)"));
}

#[test]
fn a_memory_blowup_is_a_diagnostic() {
    // starlark-rust checks its heap bound only now and then; whichever bound fires first
    // (heap, steps or wall time), the check ends with a located diagnostic.
    let text = "def f():\n    x = []\n    for i in range(1000000000):\n        x.append(str(i) * 100000)\n\nf()\n";
    let start = Instant::now();
    let d = check(text);
    // A hang guard, not a speed test: the bounds end it in seconds, a missing bound never.
    assert!(start.elapsed() < Duration::from_secs(90), "{:?}", start.elapsed());
    assert!(d.len() == 1 && matches!(d[0].code, "TOP012" | "TOP013"), "{d:#?}");
}

#[test]
fn huge_and_deeply_nested_files_are_refused_before_parsing() {
    let huge = "x = 1\n".repeat(1_000_000);
    bounded(&huge, "TOP003");
    let nested = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    bounded(&nested, "TOP004");
}

#[test]
fn load_reads_workspace_files_relative_to_the_loading_file() {
    let fs = MemoryFs::default()
        .with_file("/ws/spec/lib/db.star", "load(\"../common.star\", \"port\")\ndb = service(\"db\", interface(\"pg\", \"postgres\", port), image=\"postgres:16\")\n")
        .with_file("/ws/spec/common.star", "port = 5432\n");
    let text = "load(\"lib/db.star\", \"db\")\nurl = db.pg.internal_addr\n";
    let input = TopologyInput {
        path: Path::new("/ws/spec/main.star"),
        text,
        fs: &fs,
        root: Path::new(ROOT),
        limits: Limits::default(),
    };
    let evaluated = topology::evaluate(&input);
    assert!(evaluated.diagnostics.is_empty(), "{:#?}", evaluated.diagnostics);
    let url = evaluated.globals.iter().find(|g| g.name == "url").map(|g| g.value.clone());
    assert_eq!(url, Some(Arg::Str("db:5432".into())));
    assert_eq!(evaluated.services().next().map(|s| s.file.as_str()), Some("/ws/spec/lib/db.star"));
}

#[test]
fn load_of_a_missing_file_is_located() {
    let text = "load(\"lib/missing.star\", \"db\")\n";
    assert_eq!(only(&check(text), text), ("TOP020", "\"lib/missing.star\""));
}

#[test]
fn load_outside_the_workspace_is_refused() {
    let fs = MemoryFs::default().with_file("/etc/evil.star", "x = 1\n");
    let text = "load(\"../../etc/evil.star\", \"x\")\n";
    let d = check_with(&fs, "/ws/spec/main.star", text);
    assert_eq!(only(&d, text), ("TOP021", "\"../../etc/evil.star\""));
    let text = "load(\"/etc/evil.star\", \"x\")\n";
    assert_eq!(only(&check_with(&fs, "/ws/spec/main.star", text), text).0, "TOP021");
}

#[test]
fn a_load_cycle_is_reported() {
    let fs = MemoryFs::default()
        .with_file("/ws/a.star", "load(\"b.star\", \"y\")\nx = 1\n")
        .with_file("/ws/b.star", "load(\"a.star\", \"x\")\ny = 2\n");
    let text = "load(\"a.star\", \"x\")\n";
    let d = check_with(&fs, "/ws/main.star", text);
    assert_eq!(only(&d, text).0, "TOP024", "{d:#?}");
    assert!(d[0].message.contains("cycle"), "{}", d[0].message);
    // A file loading itself.
    let fs = MemoryFs::default().with_file("/ws/main.star", "load(\"main.star\", \"x\")\nx = 1\n");
    let text = "load(\"main.star\", \"x\")\nx = 1\n";
    let d = check_with(&fs, "/ws/main.star", text);
    assert_eq!(with_code(&d, text, "TOP022"), ("TOP022", "\"main.star\""));
}

#[test]
fn an_error_in_a_loaded_file_is_reported_at_the_load() {
    let fs = MemoryFs::default().with_file("/ws/lib.star", "x = (\n");
    let text = "load(\"lib.star\", \"x\")\n";
    assert_eq!(only(&check_with(&fs, "/ws/main.star", text), text), ("TOP024", "\"lib.star\""));
}

#[test]
fn the_embedded_stdlib_loads() {
    for (module, name) in
        [("http", "server_error"), ("postgres", "deadlock"), ("redis", "oom"), ("tcp", "connection_drop")]
    {
        let text = format!("load(\"@faultbox/recipes/{module}.star\", \"{module}\")\nrule = {module}.{name}()\n");
        assert!(check(&text).is_empty(), "{module}: {:#?}", check(&text));
    }
    let text = "load(\"@faultbox/recipes/postgress.star\", \"postgres\")\n";
    let d = check(text);
    assert_eq!(only(&d, text).0, "TOP023");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `@faultbox/recipes/postgres.star`?"));
}

#[test]
fn file_readers_stay_below_the_spec_directory() {
    let fs = MemoryFs::default()
        .with_file("/ws/spec/data/users.yaml", "users:\n  - alice\n  - bob\n")
        .with_file("/ws/spec/data/seed.json", "{\"n\": 2}\n")
        .with_file("/ws/secret.txt", "secret\n");
    let text = "users = load_yaml(\"data/users.yaml\")[\"users\"]\nn = load_json(\"data/seed.json\")[\"n\"]\nraw = load_file(\"./data/seed.json\")\n";
    assert!(check_with(&fs, "/ws/spec/main.star", text).is_empty());
    for bad in
        ["../../etc/passwd", "../secret.txt", "/etc/passwd", "http://example.com/x.yaml", "data/../../secret.txt"]
    {
        let text = format!("x = load_yaml(\"{bad}\")\n");
        let d = check_with(&fs, "/ws/spec/main.star", &text);
        assert_eq!(only(&d, &text), ("TOP030", &text[4..text.len() - 1]), "{bad}");
    }
    let text = "x = load_json(\"data/missing.json\")\n";
    assert_eq!(only(&check_with(&fs, "/ws/spec/main.star", text), text).0, "TOP031");
    let fs = MemoryFs::default().with_file("/ws/spec/bad.json", "{\"a\": 1,}");
    let text = "x = load_json(\"bad.json\")\n";
    assert_eq!(only(&check_with(&fs, "/ws/spec/main.star", text), text).0, "TOP032");
}

#[test]
fn long_expressions_are_refused_before_they_exhaust_the_stack() {
    for chain in [" + 1", ".b", " and 1", "()"] {
        let text = format!("x = 1{}\n", chain.repeat(50_000));
        bounded(&text, "TOP004");
    }
    // Deep, but within the bound: checked on the analysis thread's stack.
    let text = format!("x = 1{}\n", " + 1".repeat(5_000));
    assert!(check(&text).is_empty());
    let mut nested = String::from("def f():\n");
    for level in 1..=400 {
        nested.push_str(&format!("{}if True:\n", " ".repeat(level)));
    }
    nested.push_str(&format!("{}pass\n", " ".repeat(401)));
    assert!(check(&nested).is_empty());
}

#[test]
fn every_syntax_error_of_a_file_is_reported() {
    let text = "a = service(\"a\" interface(\"h\", \"http\", 80), binary=\"./a\")\n\ndef test_x():\n    x = = 1\n\nb = [1 2]\nc = 1\n";
    let d = check(text);
    let at: Vec<(&str, usize)> = d.iter().map(|d| (d.code, d.span.start)).collect();
    assert_eq!(at.len(), 3, "{d:#?}");
    assert!(at.iter().all(|(code, _)| *code == "TOP001"), "{d:#?}");
    assert_eq!(&text[d[0].span.start..d[0].span.end], "interface");
    assert_eq!(&text[d[1].span.start..d[1].span.start + 1], "=");
    assert_eq!(&text[d[2].span.start..d[2].span.end], "2");
    // A consequence of the first error (the bracket left open) is not reported again.
    let text = "a = service(\"a\", interface(\"h\", \"http\", 80)\nb = 1\n";
    assert_eq!(check(text).len(), 1, "{:#?}", check(text));
}
