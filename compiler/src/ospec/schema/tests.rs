//! Unit tests of the schema walker over trees built from JSON values (each node gets its own
//! span, so tests can check which node a diagnostic marks).

use serde_json::json;

use super::*;
use crate::diagnostics::Severity;
use crate::syntax::yaml::{Entry, Style, Value};

/// Builds a tree from JSON; spans are distinct, increasing, one byte wide.
fn tree(value: &serde_json::Value) -> Node {
    let mut next = 0;
    build(value, &mut next)
}

fn build(value: &serde_json::Value, next: &mut usize) -> Node {
    use serde_json::Value as J;
    let span = Span::new(*next, *next + 1);
    *next += 1;
    let (value, style) = match value {
        J::Null => (Value::Null, Style::Plain),
        J::Bool(b) => (Value::Bool(*b), Style::Plain),
        J::Number(n) => (n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int), Style::Plain),
        J::String(s) => (Value::String(s.clone()), Style::Plain),
        J::Array(items) => (Value::Seq(items.iter().map(|i| build(i, next)).collect()), Style::Collection),
        J::Object(map) => (
            Value::Map(
                map.iter()
                    .map(|(k, v)| Entry { key: build(&J::String(k.clone()), next), value: build(v, next) })
                    .collect(),
            ),
            Style::Collection,
        ),
    };
    Node { span, value, style, tag: None }
}

fn minimal() -> serde_json::Value {
    json!({
        "ospec_version": "1.0.0",
        "id": "hello-api",
        "name": "Hello API",
        "description": "A tiny API that says hello.",
        "outcome_type": "api",
        "acceptance": {"http_endpoints": [{"path": "/hello", "status": 200}]}
    })
}

fn with(mut base: serde_json::Value, pointer: &str, value: serde_json::Value) -> serde_json::Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = base.pointer_mut(parent).unwrap();
    match target {
        serde_json::Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        serde_json::Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("bad pointer {pointer}"),
    }
    base
}

fn without(mut base: serde_json::Value, pointer: &str) -> serde_json::Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    base.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
    base
}

fn core(value: &serde_json::Value) -> Vec<Finding> {
    findings(&tree(value), Profile::Core)
}

fn ext(value: &serde_json::Value) -> Vec<Finding> {
    findings(&tree(value), Profile::Ext)
}

/// `(pointer, code)` of every finding, sorted.
fn summary(found: &[Finding]) -> Vec<(String, &'static str)> {
    let mut out: Vec<_> = found.iter().map(|f| (f.pointer.clone(), f.diagnostic.code)).collect();
    out.sort();
    out
}

#[test]
fn both_schemas_compile() {
    for profile in [Profile::Core, Profile::Ext] {
        let compiled = compiled(profile);
        assert!(!compiled.nodes.is_empty());
        assert!(property_names(profile).root.contains("acceptance"));
    }
}

#[test]
fn minimal_document_is_valid() {
    assert!(core(&minimal()).is_empty(), "{:?}", core(&minimal()));
    assert!(ext(&minimal()).is_empty(), "{:?}", ext(&minimal()));
}

#[test]
fn unknown_key_marks_the_key_and_suggests() {
    let doc = with(minimal(), "/acceptance/http_endpoints/0/stauts", json!(200));
    let doc = without(doc, "/acceptance/http_endpoints/0/status");
    let root = tree(&doc);
    let found = findings(&root, Profile::Core);
    assert_eq!(
        summary(&found),
        vec![
            ("/acceptance/http_endpoints/0".to_string(), "OSP101"),
            ("/acceptance/http_endpoints/0/stauts".to_string(), "OSP100"),
        ]
    );
    let unknown = found.iter().find(|f| f.diagnostic.code == "OSP100").unwrap();
    let item = &root.field("acceptance").unwrap().field("http_endpoints").unwrap().as_seq().unwrap()[0];
    let key = &item.get("stauts").unwrap().key;
    assert_eq!(unknown.diagnostic.span, key.span);
    assert_eq!(unknown.diagnostic.severity, Severity::Error);
    assert_eq!(unknown.diagnostic.fixes[0].edits[0].new_text, "status");
    assert!(unknown.diagnostic.help.as_deref().unwrap().contains("did you mean `status`"));
}

#[test]
fn missing_required_names_all_and_marks_the_parent_key() {
    let doc = json!({"ospec_version": "1.0.0", "acceptance": {"http_endpoints": [{"method": "GET"}]}});
    let root = tree(&doc);
    let found = findings(&root, Profile::Core);
    let missing: Vec<_> = found.iter().filter(|f| f.diagnostic.code == "OSP101").collect();
    assert_eq!(missing.len(), 2);
    let top = missing.iter().find(|f| f.pointer.is_empty()).unwrap();
    assert!(
        top.diagnostic.message.contains("`id`, `name`, `description`, `outcome_type`"),
        "{}",
        top.diagnostic.message
    );
    assert_eq!(top.diagnostic.span, root.as_map().unwrap()[0].key.span);
    let item = missing.iter().find(|f| f.pointer == "/acceptance/http_endpoints/0").unwrap();
    assert!(item.diagnostic.message.contains("`path`, `status`"));
}

#[test]
fn wrong_type_marks_the_value() {
    let doc = with(minimal(), "/acceptance/http_endpoints/0/status", json!("200"));
    let root = tree(&doc);
    let found = core(&doc);
    assert_eq!(summary(&found), vec![("/acceptance/http_endpoints/0/status".to_string(), "OSP102")]);
    let value = root.field("acceptance").unwrap().field("http_endpoints").unwrap().as_seq().unwrap()[0].field("status");
    assert_eq!(found[0].diagnostic.span, value.unwrap().span);
    assert!(found[0].diagnostic.help.as_deref().unwrap().contains("remove the quotes"));
}

#[test]
fn whole_floats_are_integers() {
    let doc = with(minimal(), "/acceptance/http_endpoints/0/status", json!(200.0));
    assert!(core(&doc).is_empty());
    let doc = with(minimal(), "/acceptance/http_endpoints/0/status", json!(200.5));
    assert_eq!(summary(&core(&doc)), vec![("/acceptance/http_endpoints/0/status".to_string(), "OSP102")]);
}

#[test]
fn ascii_digits_only_in_patterns() {
    let doc = with(minimal(), "/ospec_version", json!("١.٠.٠"));
    assert_eq!(summary(&core(&doc)), vec![("/ospec_version".to_string(), "OSP104")]);
}

#[test]
fn lengths_count_code_points() {
    // Three code points, six bytes: long enough.
    let doc = with(minimal(), "/name", json!("日本語"));
    assert!(core(&doc).is_empty());
    let doc = with(minimal(), "/name", json!("日本"));
    assert_eq!(summary(&core(&doc)), vec![("/name".to_string(), "OSP105")]);
    let doc = with(minimal(), "/name", json!("😀".repeat(100)));
    assert!(core(&doc).is_empty());
    let doc = with(minimal(), "/name", json!("😀".repeat(101)));
    assert_eq!(summary(&core(&doc)), vec![("/name".to_string(), "OSP105")]);
}

#[test]
fn enum_suggests_a_replacement() {
    let doc = with(minimal(), "/outcome_type", json!("web-ap"));
    let found = core(&doc);
    assert_eq!(summary(&found), vec![("/outcome_type".to_string(), "OSP103")]);
    assert_eq!(found[0].diagnostic.fixes[0].edits[0].new_text, "web-app");
}

#[test]
fn ranges_and_min_properties() {
    let doc = with(minimal(), "/acceptance/http_endpoints/0/status", json!(600));
    assert_eq!(summary(&core(&doc)), vec![("/acceptance/http_endpoints/0/status".to_string(), "OSP106")]);
    let doc = with(minimal(), "/acceptance", json!({}));
    assert_eq!(summary(&core(&doc)), vec![("/acceptance".to_string(), "OSP109")]);
    let doc = with(minimal(), "/guardrails", json!({"min_test_coverage": 80}));
    assert_eq!(summary(&core(&doc)), vec![("/guardrails/min_test_coverage".to_string(), "OSP106")]);
}

#[test]
fn formats_follow_ajv_formats() {
    let doc = with(
        minimal(),
        "/metadata",
        json!({"created_at": "2025-01-31", "maintainers": [{"name": "Ada", "email": "ada@localhost"}]}),
    );
    assert_eq!(
        summary(&core(&doc)),
        vec![("/metadata/created_at".to_string(), "OSP110"), ("/metadata/maintainers/0/email".to_string(), "OSP110")]
    );
}

#[test]
fn scripts_one_of_reports_plainly() {
    let doc =
        with(minimal(), "/scripts", json!({"a": "#!/run.sh", "b": "npm run build", "c": "#!/bin/sh\necho", "d": 5}));
    let found = core(&doc);
    assert_eq!(
        summary(&found),
        vec![
            ("/scripts/a".to_string(), "OSP112"),
            ("/scripts/b".to_string(), "OSP104"),
            ("/scripts/d".to_string(), "OSP102")
        ]
    );
    let ambiguous = &found.iter().find(|f| f.pointer == "/scripts/a").unwrap().diagnostic;
    assert!(ambiguous.message.contains("a script file path and an inline script"), "{}", ambiguous.message);
    let wrong = &found.iter().find(|f| f.pointer == "/scripts/d").unwrap().diagnostic;
    assert!(wrong.message.contains("must be a string"), "{}", wrong.message);
}

#[test]
fn root_must_be_a_mapping() {
    assert_eq!(summary(&core(&json!([1, 2]))), vec![(String::new(), "OSP102")]);
}

/// Every property core declares, ext declares at the same place (ext only adds and relaxes).
#[test]
fn ext_declares_everything_core_does() {
    fn resolve(compiled: &Compiled, mut id: model::Id) -> &model::Schema {
        while let Some(target) = compiled.node(id).reference {
            id = target;
        }
        compiled.node(id)
    }
    fn compare(core: &Compiled, ext: &Compiled, c: model::Id, e: model::Id, path: &str, checked: &mut usize) {
        let (cs, es) = (resolve(core, c), resolve(ext, e));
        for (name, cid) in &cs.properties {
            let eid = es.declared(name).unwrap_or_else(|| panic!("ext lacks {path}/{name}"));
            *checked += 1;
            compare(core, ext, *cid, eid, &format!("{path}/{name}"), checked);
        }
        if let (model::Items::Each(ci), model::Items::Each(ei)) = (&cs.items, &es.items) {
            compare(core, ext, *ci, *ei, &format!("{path}/[]"), checked);
        }
    }
    let (core, ext) = (compiled(Profile::Core), compiled(Profile::Ext));
    let mut checked = 0;
    compare(core, ext, core.root, ext.root, "", &mut checked);
    assert!(checked > 80, "only {checked} properties compared");
}

fn codes_and_severities(found: &[Finding]) -> Vec<(String, &'static str, Severity)> {
    let mut out: Vec<_> = found.iter().map(|f| (f.pointer.clone(), f.diagnostic.code, f.diagnostic.severity)).collect();
    out.sort();
    out
}

#[test]
fn ext_turns_the_nuisance_rules_into_warnings() {
    let doc = with(minimal(), "/technology_stack", json!({"package_manager": "pnpm@9"}));
    let doc = with(doc, "/scripts", json!({"build": "npm run build", "run": "#!/run.sh", "ok": "build.sh"}));
    let doc = with(doc, "/prompts", json!({"system": "You are a helpful agent."}));
    let doc = with(doc, "/acceptance/tests", json!([{"file": "tests/test_api.py"}]));
    let w = Severity::Warning;
    assert_eq!(
        codes_and_severities(&ext(&doc)),
        vec![
            ("/acceptance/tests/0/file".to_string(), "OSP120", w),
            ("/prompts/system".to_string(), "OSP120", w),
            ("/scripts/build".to_string(), "OSP120", w),
            ("/technology_stack/package_manager".to_string(), "OSP120", w),
        ]
    );
    let core_codes: Vec<_> =
        codes_and_severities(&core(&doc)).into_iter().map(|(p, c, s)| (p, c, s == Severity::Error)).collect();
    assert_eq!(core_codes.len(), 5, "{core_codes:?}");
    assert!(core_codes.iter().all(|(_, _, error)| *error));
    let pm = ext(&doc).into_iter().find(|f| f.pointer.ends_with("package_manager")).unwrap();
    assert_eq!(pm.diagnostic.fixes[0].edits[0].new_text, "pnpm");
}

#[test]
fn ext_unknown_keys_are_warnings_and_x_keys_are_free() {
    let doc = with(minimal(), "/x-owner", json!({"team": "payments"}));
    let doc = with(doc, "/acceptance/x-note", json!("free"));
    let doc = with(doc, "/acceptance/http_endpoints/0/x-probe", json!(true));
    let doc = with(doc, "/servces", json!({}));
    let found = ext(&doc);
    assert_eq!(codes_and_severities(&found), vec![("/servces".to_string(), "OSP100", Severity::Warning)]);
    assert_eq!(found[0].diagnostic.fixes[0].edits[0].new_text, "services");
    // Core rejects all of them, and says which keys are `ext` extensions.
    let found = core(&doc);
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|f| f.diagnostic.notes.is_empty()), "typos and x- keys are not extensions");
    let doc = with(minimal(), "/services", json!({}));
    let doc = with(doc, "/acceptance/service_health", json!([]));
    let found = core(&doc);
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| f.diagnostic.notes[0].contains("`ext` profile")), "{found:?}");
}

#[test]
fn ext_outcome_type_knows_corpus_values_and_warns_on_others() {
    let doc = with(minimal(), "/outcome_type", json!("distributed-system"));
    assert!(ext(&doc).is_empty());
    assert_eq!(summary(&core(&doc)), vec![("/outcome_type".to_string(), "OSP103")]);
    let doc = with(minimal(), "/outcome_type", json!("microservices"));
    assert_eq!(codes_and_severities(&ext(&doc)), vec![("/outcome_type".to_string(), "OSP103", Severity::Warning)]);
    let doc = with(minimal(), "/outcome_type", json!(3));
    assert_eq!(codes_and_severities(&ext(&doc)), vec![("/outcome_type".to_string(), "OSP102", Severity::Error)]);
}

#[test]
fn ext_aliases_warn_and_satisfy_required() {
    let doc = with(minimal(), "/acceptance/http_endpoints/0", json!({"path": "/health", "expected_status": 200}));
    let found = ext(&doc);
    assert_eq!(
        codes_and_severities(&found),
        vec![("/acceptance/http_endpoints/0/expected_status".to_string(), "OSP114", Severity::Warning)]
    );
    assert_eq!(found[0].diagnostic.fixes[0].edits[0].new_text, "status");
    let doc = with(minimal(), "/acceptance/http_endpoints/0", json!({"path": "/health"}));
    let found = ext(&doc);
    assert_eq!(summary(&found), vec![("/acceptance/http_endpoints/0".to_string(), "OSP101")]);
    assert!(found[0].diagnostic.message.contains("`status`"), "{}", found[0].diagnostic.message);
}

#[test]
fn ext_types_services_flows_and_thresholds() {
    let doc = with(
        minimal(),
        "/services",
        json!({
            "auth": {"ports": ["3003:3000", 8080], "dependencies": ["db"]},
            "db": {"ports": [true], "dependencies": "auth"}
        }),
    );
    let doc = with(
        doc,
        "/acceptance/integration_tests",
        json!([{"name": "signup", "steps": ["POST /auth/register → 201", {"method": "GET", "path": "/me", "expect_status": 200}, {"method": "GET", "path": "me"}]}]),
    );
    let doc = with(
        doc,
        "/acceptance/performance",
        json!({"response_time_p95_ms": 200, "api_latency_p99_ms": 300, "respose_time": 5}),
    );
    let found = ext(&doc);
    assert_eq!(
        codes_and_severities(&found),
        vec![
            ("/acceptance/integration_tests/0/steps/2".to_string(), "OSP104", Severity::Error),
            ("/acceptance/performance/respose_time".to_string(), "OSP100", Severity::Warning),
            ("/services/db/dependencies".to_string(), "OSP102", Severity::Error),
            ("/services/db/ports/0".to_string(), "OSP102", Severity::Error),
        ]
    );
    let typo = found.iter().find(|f| f.diagnostic.code == "OSP100").unwrap();
    assert_eq!(typo.diagnostic.fixes[0].edits[0].new_text, "response_times");
}

#[test]
fn ext_descriptive_sections_are_open() {
    let doc = with(minimal(), "/game", json!({"genre": "puzzle", "modes": ["solo"], "anything": {"deep": 1}}));
    let doc = with(doc, "/metadata", json!({"optimized_for": ["claude-code"], "version": "1.0.0"}));
    assert!(ext(&doc).is_empty(), "{:?}", ext(&doc));
}

#[test]
fn unknown_key_removal_keeps_the_next_key_in_place() {
    let doc = with(minimal(), "/acceptance/bogus_section_name", json!(1));
    let root = tree(&doc);
    let found = findings(&root, Profile::Core);
    let edit = &found[0].diagnostic.fixes.last().unwrap().edits[0];
    let acceptance = root.field("acceptance").unwrap().as_map().unwrap();
    // `bogus_section_name` is the last entry: the removal starts at the previous value's end.
    assert_eq!(edit.span, Span::new(acceptance[0].value.span.end, acceptance[1].value.span.end));
}

/// Applies the first edit of the fix titled `title` to `text`.
fn apply_fix(text: &str, profile: Profile, title_prefix: &str) -> String {
    let parsed = crate::syntax::yaml::parse(text);
    let root = parsed.documents[0].root.as_ref().unwrap();
    let found = findings(root, profile);
    let fix = found
        .iter()
        .flat_map(|f| &f.diagnostic.fixes)
        .find(|fix| fix.title.starts_with(title_prefix))
        .unwrap_or_else(|| panic!("no fix `{title_prefix}…` in {found:?}"));
    let edit = &fix.edits[0];
    format!("{}{}{}", &text[..edit.span.start], edit.new_text, &text[edit.span.end..])
}

#[test]
fn fixes_edit_real_yaml_cleanly() {
    let text = "acceptance:\n  http_endpoints:\n    - path: /a\n      stauts: 200\n  bogus_thing_here: 1\n  tests:\n    - file: a.test.ts\n";
    let renamed = apply_fix(text, Profile::Core, "rename");
    assert!(renamed.contains("      status: 200\n"), "{renamed}");
    let removed = apply_fix(text, Profile::Core, "remove `bogus");
    assert_eq!(
        removed,
        "acceptance:\n  http_endpoints:\n    - path: /a\n      stauts: 200\n  tests:\n    - file: a.test.ts\n"
    );
    let last = "acceptance:\n  http_endpoints: []\n  bogus_thing_here: 1\n";
    assert_eq!(apply_fix(last, Profile::Core, "remove"), "acceptance:\n  http_endpoints: []\n");
    let quoted = "outcome_type: 'web-ap'\n";
    assert_eq!(apply_fix(quoted, Profile::Core, "replace"), "outcome_type: 'web-app'\n");
}

#[test]
fn spans_point_into_real_yaml() {
    let text = "ospec_version: 1.0\nid: x\nname: Xyz\ndescription: A long enough description.\noutcome_type: api\nacceptance:\n  http_endpoints:\n    - path: /a\n";
    let parsed = crate::syntax::yaml::parse(text);
    let root = parsed.documents[0].root.as_ref().unwrap();
    let found = findings(root, Profile::Core);
    let at = |code: &str| {
        let span = found.iter().find(|f| f.diagnostic.code == code).unwrap().diagnostic.span;
        &text[span.start..span.end]
    };
    assert_eq!(at("OSP102"), "1.0");
    // The missing `status` is reported on the item's first key.
    assert_eq!(at("OSP101"), "path");
}
