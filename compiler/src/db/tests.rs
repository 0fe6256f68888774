use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::vfs::MemoryFs;

const LIB: &str = "def make(name):\n    return service(name, interface(\"main\", \"http\", 8080), image = \"x:1\")\n";

fn workspace() -> MemoryFs {
    MemoryFs::default()
        .with_file("/w/lib/common.star", LIB)
        .with_file("/w/a.star", "load(\"lib/common.star\", \"make\")\napi = make(\"api\")\n")
        .with_file("/w/b.star", "load(\"lib/common.star\", \"make\")\nweb = make(\"web\")\n")
        .with_file("/w/c.star", "x = 1\n")
        .with_file(
            "/w/s.ospec.yml",
            "ospec_version: \"1.0\"\nname: s\ntopology: a.star\nservices:\n  - name: api\n    port: 8080\n",
        )
}

fn request(path: &str) -> Request {
    let language = if path.ends_with(".star") { Language::Topology } else { Language::OSpec };
    Request {
        path: PathBuf::from(path),
        written: PathBuf::from(path),
        language,
        root: PathBuf::from("/w"),
        options: CheckOptions::default(),
        limits: Limits::default(),
        confinement: None,
    }
}

fn logging(fs: MemoryFs) -> (Database, EventLog) {
    Database::logging(Arc::new(fs), topology::MAX_READ_BYTES)
}

fn executed(log: &EventLog, query: &str) -> usize {
    log.take().iter().filter(|e| e.starts_with(&format!("{query}("))).count()
}

/// The stages without the database (the whole module evaluated, no skeleton, no memo): the
/// oracle the database is held to.
fn direct(fs: &MemoryFs, path: &str) -> Vec<Diagnostic> {
    let text = fs.read_to_string(Path::new(path), u64::MAX).unwrap();
    direct_text(fs, &request(path), &text)
}

#[test]
fn a_database_that_lived_through_other_checks_reports_what_a_fresh_one_reports() {
    let fs = workspace();
    let (db, _) = logging(fs.clone());
    for path in ["/w/a.star", "/w/b.star", "/w/c.star", "/w/s.ospec.yml", "/w/lib/common.star"] {
        assert_eq!(db.check(&request(path)), direct(&fs, path), "{path}");
    }
}

#[test]
fn a_shared_loaded_module_is_evaluated_once_for_a_directory() {
    let (db, log) = logging(workspace());
    for path in ["/w/a.star", "/w/b.star", "/w/c.star"] {
        db.check(&request(path));
    }
    assert_eq!(executed(&log, "loaded_module"), 1, "lib/common.star serves both importers");
}

#[test]
fn an_unrelated_edit_evaluates_no_module_again() {
    let (mut db, log) = logging(workspace());
    for path in ["/w/a.star", "/w/b.star", "/w/c.star"] {
        db.check(&request(path));
    }
    log.take();
    db.set_content(Path::new("/w/c.star"), FileContent::Bytes(Arc::from(&b"x = 2\n"[..])), true);
    for path in ["/w/a.star", "/w/b.star", "/w/c.star"] {
        db.check(&request(path));
    }
    let events = log.take();
    assert!(!events.iter().any(|e| e.starts_with("loaded_module(")), "{events:#?}");
    let checked: Vec<&String> = events.iter().filter(|e| e.starts_with("topology_diagnostics(")).collect();
    assert_eq!(checked.len(), 1, "only the edited file is checked again: {events:#?}");
}

#[test]
fn an_edit_to_a_loaded_module_reaches_its_importers() {
    let (mut db, log) = logging(workspace());
    let before = db.check(&request("/w/a.star"));
    assert!(before.is_empty(), "{before:#?}");
    db.set_content(Path::new("/w/lib/common.star"), FileContent::Bytes(Arc::from(&b"def make(:\n"[..])), true);
    log.take();
    let after = db.check(&request("/w/a.star"));
    assert_eq!(after.iter().map(|d| d.code).collect::<Vec<_>>(), ["TOP024"]);
    assert_eq!(executed(&log, "loaded_module"), 1);
}

#[test]
fn a_spec_follows_its_topology() {
    let (mut db, _) = logging(workspace());
    assert!(db.check(&request("/w/s.ospec.yml")).iter().all(|d| !d.code.starts_with("XSP")));
    db.set_content(Path::new("/w/a.star"), FileContent::Bytes(Arc::from(&b"x = (\n"[..])), true);
    let found = db.check(&request("/w/s.ospec.yml"));
    assert!(found.iter().any(|d| d.code == "XSP002"), "{found:#?}");
}

#[test]
fn a_created_file_clears_a_missing_reference() {
    let fs = MemoryFs::default().with_file("/w/s.ospec.yml", "ospec_version: \"1.0\"\nname: s\ntopology: t.star\n");
    let (mut db, _) = logging(fs);
    assert!(db.check(&request("/w/s.ospec.yml")).iter().any(|d| d.code == "XSP001"));
    db.set_content(Path::new("/w/t.star"), FileContent::Bytes(Arc::from(&b"x = 1\n"[..])), true);
    let found = db.check(&request("/w/s.ospec.yml"));
    assert!(!found.iter().any(|d| d.code == "XSP001"), "{found:#?}");
}

#[test]
fn a_load_cycle_is_reported_as_the_run_sees_it() {
    let fs = MemoryFs::default()
        .with_file("/w/a.star", "load(\"b.star\", \"y\")\nx = 1\n")
        .with_file("/w/b.star", "load(\"a.star\", \"x\")\ny = 1\n");
    let (db, _) = logging(fs.clone());
    for path in ["/w/a.star", "/w/b.star"] {
        let found = db.check(&request(path));
        assert_eq!(found, direct(&fs, path), "{path}");
        assert!(found.iter().any(|d| d.message.contains("cycle")), "{found:#?}");
    }
}

#[test]
fn a_newer_revision_cancels_a_running_check_and_the_retry_sees_it() {
    // Thirty loaded modules, each a few thousand evaluation steps: the check is still going
    // when the edit comes, and notices it at the next module it asks for.
    let mut fs = MemoryFs::default().with_file("/w/other.star", "x = 1\n");
    let mut root = String::new();
    for i in 0..30 {
        fs = fs.with_file(format!("/w/m{i}.star"), format!("v{i} = len([n for n in range(3000)])\n"));
        root.push_str(&format!("load(\"m{i}.star\", \"v{i}\")\n"));
    }
    let fs = fs.with_file("/w/root.star", root);
    let (mut db, log) = logging(fs);
    // The edit below must change an input the database has (a new input is no new revision).
    assert!(db.check(&request("/w/other.star")).is_empty());
    let worker = db.clone();
    let running = std::thread::spawn(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.check(&request("/w/root.star"))))
    });
    let started = std::time::Instant::now();
    while !log.take().iter().any(|e| e.starts_with("loaded_module(")) {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the check never started a module");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Waits for the worker's handle to be dropped: the worker unwinds at its next query.
    db.set_content(Path::new("/w/other.star"), FileContent::Bytes(Arc::from(&b"x = 2\n"[..])), true);
    let outcome = running.join().unwrap();
    let payload = outcome.expect_err("the check of the older revision was cancelled");
    assert!(is_cancellation(payload.as_ref()));
    assert!(db.check(&request("/w/root.star")).is_empty(), "the retry on the new revision finishes");
}

/// A topology with services, a helper run at load, scenarios handed to builtins and tests.
const TOPOLOGY: &str = "\
def make(name, port):
    return service(name, interface(\"main\", \"http\", port), binary = \"./\" + name)

api = make(\"api\", 8080)
db = service(\"db\", interface(\"pg\", \"postgres\", 5432), image = \"postgres:16\")

def scenario_read():
    return api.main.get(path = \"/items\")

scenario(scenario_read)

def test_create():
    created = api.main.post(path = \"/items\", body = \"{}\")
    assert_eq(created.status, 201)

def test_query():
    rows = db.pg.query(sql = \"select 1\")
    assert_true(rows != None)

fault_assumption(\"slow\", target = api, write = delay(\"1s\"))
";

fn set(db: &mut Database, path: &str, text: &str) {
    db.set_content(Path::new(path), FileContent::Bytes(Arc::from(text.as_bytes())), true);
}

/// [`direct`] for `path` with the content `text`.
fn direct_text(fs: &dyn crate::vfs::FileSystem, request: &Request, text: &str) -> Vec<Diagnostic> {
    let policy = &request.options.policy;
    if let Err(diagnostic) = crate::syntax::text::decode(text.as_bytes()) {
        return policy.apply(vec![diagnostic]);
    }
    let (path, root, limits) = (request.path.as_path(), request.root.as_path(), request.limits);
    match request.language {
        Language::OSpec => {
            let own = crate::ospec::check(&crate::ospec::CheckInput { path, text, fs, options: &request.options });
            if request.options.profile != ospecc_schema::Profile::Ext {
                return own;
            }
            let cross = crate::crossfile::check(&crate::crossfile::CrossInput { path, text, fs, root, limits });
            crate::crossfile::merge(own, policy.apply(cross))
        }
        Language::Topology => policy.apply(topology::check(&topology::TopologyInput { path, text, fs, root, limits })),
    }
}

/// A topology at `/w/t.star` with the text `text` on disk, opened in an editor with the same
/// text (volatile from then on: a value whose inputs became less durable is never reused as
/// unchanged, so a first edit would not show it), with the database's event log.
fn opened(text: &str) -> (MemoryFs, Database, EventLog, Request) {
    let fs = MemoryFs::default().with_file("/w/t.star", text);
    let (mut db, log) = logging(fs.clone());
    set(&mut db, "/w/t.star", text);
    (fs, db, log, request("/w/t.star"))
}

#[test]
fn an_edit_inside_a_test_body_evaluates_no_module_again() {
    let (fs, mut db, log, request) = opened(TOPOLOGY);
    assert_eq!(db.check(&request), direct(&fs, "/w/t.star"));
    assert_eq!(executed(&log, "stubbed_def_findings"), 3);
    // A keystroke inside a body: a later statement's offsets move, and the body now has a
    // mistake its static reading reports.
    let edited = TOPOLOGY.replace("assert_eq(created.status, 201)", "assert_eq(created.status, 2011)\n    api.mian");
    set(&mut db, "/w/t.star", &edited);
    let found = db.check(&request);
    let events = log.take();
    assert!(!events.iter().any(|e| e.starts_with("topology_evaluation(")), "{events:#?}");
    assert!(events.iter().any(|e| e.starts_with("topology_skeleton(")), "{events:#?}");
    assert_eq!(events.iter().filter(|e| e.starts_with("topology_diagnostics(")).count(), 1, "{events:#?}");
    // Three bodies are stubbed; only the edited one is checked again.
    assert_eq!(events.iter().filter(|e| e.starts_with("stubbed_def_findings(")).count(), 1, "{events:#?}");
    assert_eq!(found, direct_text(&fs, &request, &edited));
    assert!(found.iter().any(|d| d.message.contains("mian")), "{found:#?}");
}

#[test]
fn a_closed_file_checks_its_bodies_together_again() {
    let (fs, mut db, log, request) = opened(TOPOLOGY);
    let edited = TOPOLOGY.replace("assert_eq(created.status, 201)", "assert_eq(created.status, 2011)");
    set(&mut db, "/w/t.star", &edited);
    db.check(&request);
    assert_eq!(executed(&log, "stubbed_def_findings"), 3);
    // Closed: the disk's text again, and no def is read alone any more.
    db.refresh(Path::new("/w/t.star"));
    assert_eq!(db.check(&request), direct(&fs, "/w/t.star"));
    assert_eq!(executed(&log, "stubbed_def_findings"), 0);
}

#[test]
fn the_load_time_findings_are_kept_through_a_body_edit_and_move_with_their_calls() {
    // An assumption that does nothing (TOP224) is a finding of the load-time part: it comes
    // from the evaluation's query, which a body edit above it does not run again.
    let text = format!("{TOPOLOGY}fault_assumption(\"inert\", target = api)\n");
    let (fs, mut db, log, request) = opened(&text);
    let before = db.check(&request);
    let at = |text: &str| text.find("fault_assumption(\"inert\"").unwrap_or(0);
    assert!(before.iter().any(|d| d.code == "TOP224" && d.span.start == at(&text)), "{before:#?}");
    log.take();
    let edited =
        text.replace("assert_eq(created.status, 201)", "assert_eq(created.status, 201)\n    assert_true(True)");
    set(&mut db, "/w/t.star", &edited);
    let after = db.check(&request);
    assert_eq!(executed(&log, "topology_evaluation"), 0);
    assert!(after.iter().any(|d| d.code == "TOP224" && d.span.start == at(&edited)), "{after:#?}");
    assert_eq!(after, direct_text(&fs, &request, &edited));
}

#[test]
fn the_declared_services_follow_a_body_edit_without_reading_the_file_again() {
    // A test before every declaration: an edit in its body moves them all.
    let text = format!("def test_first():\n    assert_true(True)\n\n{TOPOLOGY}");
    let (_, mut db, log, request) = opened(&text);
    db.check(&request);
    assert_eq!(db.declared_services(&request), crate::ide::declared_services(&text));
    assert_eq!(executed(&log, "skeleton_services"), 1);
    let edited = text.replace("assert_true(True)", "assert_true(True and True)");
    set(&mut db, "/w/t.star", &edited);
    db.check(&request);
    let declared = db.declared_services(&request);
    assert_eq!(executed(&log, "skeleton_services"), 0);
    assert_eq!(declared, crate::ide::declared_services(&edited));
    assert!(declared.iter().any(|(name, _)| name == "db"), "{declared:#?}");
    // A declaration inside a stubbed body is not in the skeleton: the file is read instead.
    let inside = edited.replace("True and True)", "True)\n    service(\"late\", binary = \"./late\")");
    set(&mut db, "/w/t.star", &inside);
    db.check(&request);
    let declared = db.declared_services(&request);
    assert_eq!(declared, crate::ide::declared_services(&inside));
    assert!(declared.iter().any(|(name, _)| name == "late"), "{declared:#?}");
}

/// Findings of every kind, made in both parts: a rule value applied at load and in a stubbed
/// body (reported once, at its first use), a scope left open in a body (a call check), a
/// callable handed over in a body (a cross check), a test that asserts nothing.
const MIXED_PARTS: &str = "\
api = service(\"api\", interface(\"http\", \"http\", 8080), image = \"api:1\")
slow = delay(query = \"search*\", delay = \"2s\")
slow_search = fault_assumption(\"slow_search\", target = api.http, rules = [slow])

def test_open():
    fault_start(api, write = deny(\"EIO\"))
    fault(api.http, slow, run = probe)

def probe(extra):
    return api.http.get(path = \"/\")

def test_quiet():
    api.http.get(path = \"/\")
";

#[test]
fn the_two_parts_report_what_one_whole_run_reports_through_body_edits() {
    let (fs, mut db, _, request) = opened(MIXED_PARTS);
    let found = db.check(&request);
    assert_eq!(found, direct(&fs, "/w/t.star"));
    let codes: Vec<&str> = found.iter().map(|d| d.code).collect();
    for code in ["TOP210", "TOP223", "TOP312"] {
        assert!(codes.contains(&code), "{code} in {found:#?}");
    }
    // Each body edited in turn, by a line that moves everything after it.
    for body in ["    fault_start(api", "    return api.http", "    api.http.get(path = \"/\")\n"] {
        let edited = MIXED_PARTS.replacen(body, &format!("    edited_ = 1\n{body}"), 1);
        set(&mut db, "/w/t.star", &edited);
        assert_eq!(db.check(&request), direct_text(&fs, &request, &edited), "{body}");
    }
}

/// Replaces `from` with `to` in the topology after a first check: how many times the module
/// was evaluated again, and whether the diagnostics are those of the stages run without the
/// database.
fn evaluations_after_edit(from: &str, to: &str) -> usize {
    let fs = MemoryFs::default().with_file("/w/t.star", TOPOLOGY);
    let (mut db, log) = logging(fs.clone());
    let request = request("/w/t.star");
    db.check(&request);
    log.take();
    assert!(TOPOLOGY.contains(from), "the edit's text `{from}`");
    let edited = TOPOLOGY.replace(from, to);
    set(&mut db, "/w/t.star", &edited);
    let found = db.check(&request);
    assert_eq!(found, direct_text(&fs, &request, &edited));
    executed(&log, "topology_evaluation")
}

#[test]
fn an_edit_at_top_level_evaluates_the_module_again() {
    assert_eq!(evaluations_after_edit("delay(\"1s\")", "delay(\"2s\")"), 1);
}

#[test]
fn an_edit_inside_a_helper_run_at_load_evaluates_the_module_again() {
    assert_eq!(evaluations_after_edit("binary = \"./\" + name", "binary = \"./bin/\" + name"), 1);
}

/// `text` with a statement added at the start of every top-level def's body (all later
/// offsets move), for the files that have one.
fn with_bodies_edited(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut edited = false;
    let mut after_def = false;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        if after_def && indent > 0 && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            out.push_str(&line[..indent]);
            out.push_str("edited_ = 1\n");
            edited = true;
            after_def = false;
        }
        if line.starts_with("def ") && line.trim_end().ends_with(':') {
            after_def = true;
        }
        out.push_str(line);
    }
    edited.then_some(out)
}

/// Every topology file under `dir`, sorted.
fn star_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            star_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "star") {
            out.push(path);
        }
    }
}

#[test]
fn every_topology_file_checks_as_without_the_database_before_and_after_body_edits() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let shared = std::env::var_os("OSPECC_SHARED_DIR").map_or_else(|| repo.join("../shared"), PathBuf::from);
    let corpus = shared.join("data/faultbox-corpus");
    let mut roots = vec![repo.clone()];
    if corpus.is_dir() {
        roots.push(corpus.clone());
    } else {
        eprintln!("SKIP (corpus part): {} is absent", corpus.display());
    }
    let fs = crate::vfs::RealFs;
    let mut checked = 0;
    for root in roots {
        let mut files = Vec::new();
        for dir in ["tests", "examples", "corpus", "poc"] {
            star_files(&root.join(dir), &mut files);
        }
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let (mut db, _) = (Database::new(Arc::new(crate::vfs::RealFs), topology::MAX_READ_BYTES), ());
            let request = Request { root: root.clone(), ..request(&path.display().to_string()) };
            assert_eq!(db.check(&request), direct_text(&fs, &request, &text), "{}", path.display());
            let declared = crate::ide::declared_services(&text);
            assert_eq!(db.declared_services(&request), declared, "{}", path.display());
            if let Some(edited) = with_bodies_edited(&text) {
                db.set_content(&path, FileContent::Bytes(Arc::from(edited.as_bytes())), true);
                assert_eq!(db.check(&request), direct_text(&fs, &request, &edited), "{} (edited)", path.display());
                let declared = crate::ide::declared_services(&edited);
                assert_eq!(db.declared_services(&request), declared, "{} (edited)", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} topology files found");
}

#[test]
fn what_starlark_refuses_before_running_is_reported_from_a_body_as_before() {
    // Each body holds something starlark-rust may refuse when it compiles the module (which it
    // does before running anything): the database must report what the stages run without it do.
    let bodies = [
        "print(a = 1, a = 2)",
        "def g(x, x):\n        pass",
        "return [x for x in y for y in [1]]",
        "x = 1\n    x += undefined",
        "for i in []:\n        pass\n    break",
        "def g(*, a):\n        pass",
        "def g(x: int):\n        pass",
        "return lambda r = missing: r",
        "return {\"a\": 1, \"a\": 2}",
        "return f\"{x}\"",
        "return 1 // 0",
        "return \"%d\" % \"a\"",
        "return [1, 2][5]",
        "load(\"x.star\", \"y\")",
        "return (1, 2) = (3, 4)",
        "a, b = 1",
        "return 9999999999999999999999999999",
        "nonlocal_name = global_name",
    ];
    for body in bodies {
        let text = format!("api = service(\"api\", interface(\"main\", \"http\", 80), binary = \"./api\")\n\ndef test_x():\n    {body}\n\nx = 1\n");
        let fs = MemoryFs::default().with_file("/w/t.star", text.as_str());
        let (db, _) = logging(fs.clone());
        assert_eq!(db.check(&request("/w/t.star")), direct(&fs, "/w/t.star"), "{body}");
    }
}
