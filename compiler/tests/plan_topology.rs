//! Lowering topology files into plans, through `plan::build` with an in-memory file system:
//! callable ids, address references, start order, fault application and composition, the
//! intercept set through helpers and variables, instance counts, loaded files in the bundle.

use std::path::Path;

use ospecc_compiler::plan::{self, PlanInput, PlanOptions};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::Severity;
use ospecc_schema::plan::topology::{EnvPart, SyscallAction, Test};
use ospecc_schema::plan::Plan;

const WS: &str = "/ws";

const SERVICES: &str = r#"
db = service("db", "/bin/db", interface("pg", "postgres", 5432), healthcheck = ready())
cache = service("cache", "/bin/cache", interface("main", "redis", 6379))
api = service("api", "/bin/api", interface("http", "http", 8080),
    env = {"DB": "postgres://" + db.pg.addr + "/x", "CACHE": cache.main.proxy_addr, "LITERAL": "a«b»c"},
    depends_on = [db, cache])
def call():
    resp = api.http.get(path = "/")
    assert_eq(resp.status, 200)
    return resp
"#;

fn build_files(spec: &str, files: &[(&str, &str)]) -> Plan {
    let mut fs = MemoryFs::default();
    for (name, text) in files {
        fs = fs.with_file(Path::new(WS).join(name), *text);
    }
    let path = Path::new(WS).join("spec.star");
    let text = format!("{SERVICES}{spec}");
    fs = fs.with_file(&path, text.clone());
    let options = PlanOptions::default();
    let input = PlanInput { path: &path, text: &text, fs: &fs, root: Path::new(WS), options: &options };
    let built = plan::build(&input);
    let errors: Vec<_> = built.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    built.plan.unwrap_or_else(|| panic!("no plan: {errors:#?}"))
}

fn build(spec: &str) -> Plan {
    build_files(spec, &[])
}

fn test<'p>(plan: &'p Plan, name: &str) -> &'p Test {
    plan.tests.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name} in {:?}", names(plan)))
}

fn names(plan: &Plan) -> Vec<&str> {
    plan.tests.iter().map(|t| t.name.as_str()).collect()
}

fn intercept<'p>(plan: &'p Plan, service: &str) -> Vec<&'p str> {
    let service = plan.services.iter().find(|s| s.name == service).unwrap();
    service.intercept.iter().map(String::as_str).collect()
}

#[test]
fn services_start_after_their_dependencies_and_keep_address_references() {
    let plan = build("scenario(call)\n");
    let order: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["cache", "db", "api"]);
    let api = &plan.services[2];
    let db = api.env.iter().find(|v| v.name == "DB").unwrap();
    assert_eq!(
        db.parts,
        [
            EnvPart::Text { text: "postgres://".into() },
            EnvPart::Address { service: "db".into(), interface: "pg".into(), attribute: "addr".into() },
            EnvPart::Text { text: "/x".into() },
        ]
    );
    assert_eq!(db.rendered, "postgres://localhost:5432/x");
    let cache = api.env.iter().find(|v| v.name == "CACHE").unwrap();
    assert!(matches!(&cache.parts[..], [EnvPart::Address { attribute, .. }] if attribute == "proxy_addr"));
    // Text that only looks like a marker stays text.
    let literal = api.env.iter().find(|v| v.name == "LITERAL").unwrap();
    assert_eq!(literal.parts, [EnvPart::Text { text: "a«b»c".into() }]);
}

#[test]
fn callables_have_stable_ids() {
    let spec = r#"
scenario(call)
f = fault_assumption("f", target = api, connect = deny("ECONNREFUSED"))
g = fault_assumption("g", target = api, read = deny("EIO"))
fault_matrix(scenarios = [call], faults = [f, g],
    default_expect = lambda r: assert_true(r != None),
    overrides = {(call, g): lambda r: assert_eq(r.status, 503)})
"#;
    let plan = build(spec);
    assert_eq!(test(&plan, "test_call").body.id, "spec.star#call");
    let f = test(&plan, "test_matrix_call_f");
    let g = test(&plan, "test_matrix_call_g");
    assert_eq!(f.expect.as_ref().unwrap().id, "spec.star#lambda.1");
    assert_eq!(g.expect.as_ref().unwrap().id, "spec.star#lambda.2");
    assert_eq!(g.expect_source.as_deref(), Some("override"));
    // The same bundle gives the same ids and the same bytes.
    assert_eq!(serde_json::to_string(&plan).unwrap(), serde_json::to_string(&build(spec)).unwrap());
}

#[test]
fn fault_scenarios_replace_per_service_and_composition_merges() {
    let spec = r#"
a = fault_assumption("a", target = db, write = deny("EIO"), fsync = deny("EIO"))
b = fault_assumption("b", target = db, write = delay("1s"))
both = fault_assumption("both", faults = [a, b])
fault_scenario("applied", scenario = call, faults = [a, b])
fault_scenario("composed", scenario = call, faults = both)
"#;
    let plan = build(spec);
    let applied = test(&plan, "test_applied");
    let keys: Vec<(&str, &str)> =
        applied.syscall_rules.iter().map(|r| (r.key.as_str(), r.assumption.as_str())).collect();
    assert_eq!(keys, [("write", "b")], "b replaces a on db");
    let composed = test(&plan, "test_composed");
    let keys: Vec<(&str, &str)> =
        composed.syscall_rules.iter().map(|r| (r.key.as_str(), r.assumption.as_str())).collect();
    assert_eq!(keys, [("fsync", "a"), ("write", "b")], "composition merges, the later rule winning per key");
    assert_eq!(composed.syscall_rules[1].action, SyscallAction::Delay { ms: 1000 });
    assert_eq!(composed.syscall_rules[0].syscalls, ["fdatasync", "fsync"]);
}

#[test]
fn the_intercept_set_covers_faults_built_in_variables_and_helpers() {
    let spec = r#"
eio = deny("EIO")
def broken_disk(svc):
    return fault(svc, write = eio, run = call)
def test_disk():
    broken_disk(db)
def test_cache():
    fault(cache, recvfrom = deny("ECONNRESET"), run = call)
def test_traced():
    trace(api, syscalls = ["openat"], run = call)
unused = fault_assumption("unused", target = api, connect = deny("ECONNREFUSED"))
"#;
    let plan = build(spec);
    // `broken_disk`'s target is a parameter: every filterable service intercepts `write`.
    assert_eq!(intercept(&plan, "db"), ["pwrite64", "write", "writev"]);
    assert_eq!(intercept(&plan, "cache"), ["pwrite64", "recvfrom", "recvmsg", "write", "writev"]);
    assert_eq!(intercept(&plan, "api"), ["connect", "openat", "pwrite64", "write", "writev"]);
    let disk = test(&plan, "test_disk");
    assert_eq!(disk.scoped_faults.len(), 1, "{:?}", disk.scoped_faults);
    assert_eq!(disk.scoped_faults[0].function, "broken_disk");
}

#[test]
fn instances_count_choose_axes_fan_out_and_interleavings() {
    let spec = r#"
flaky = fault_assumption("flaky", target = db, write = deny("EIO", probability = "50%", max_fires = 3))
def a():
    return call()
def b():
    return call()
def test_axes():
    x = choose("x", [1, 2, 3])
    y = choose("y", ["p", "q"])
    z = choose(["unnamed", "does not fan out"])
    parallel(a, b, interleavings = "all")
    assert_true(x > 0 and y != z)
fault_scenario("fan", scenario = call, faults = [flaky])
"#;
    let plan = build(spec);
    assert_eq!(test(&plan, "test_axes").instances, 3 * 2 * 2);
    assert_eq!(test(&plan, "test_fan").instances, 8);
    assert_eq!(plan.totals.instances, plan.tests.iter().map(|t| t.instances).sum::<u64>());
}

#[test]
fn loaded_files_are_in_the_bundle_with_their_digests() {
    let spec = "load(\"lib/steps.star\", \"ping\")\ndef test_ping():\n    ping(api)\n";
    let lib = "def ping(svc):\n    resp = svc.http.get(path = \"/\")\n    assert_eq(resp.status, 200)\n";
    let plan = build_files(spec, &[("lib/steps.star", lib)]);
    let paths: Vec<&str> = plan.sources.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["lib/steps.star", "spec.star"]);
    let loaded = &plan.sources[0];
    assert_eq!(loaded.text, lib);
    assert_eq!(loaded.sha256.len(), 64);
}
