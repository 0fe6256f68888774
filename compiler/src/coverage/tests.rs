//! Coverage on the repository's example and the reference patterns, the rule matching on
//! small specs, and the suggestions: every stub, inserted with its edits, checks clean and
//! closes the gaps it was written for.

use std::path::Path;

use super::suggest::{apply, edits, suggest};
use super::*;
use crate::db::{check_file, FileInput};
use crate::ospec::CheckOptions;
use crate::plan::{build, PlanInput, PlanOptions};
use crate::syntax::Language;
use crate::vfs::MemoryFs;

fn plan_of(text: &str) -> Plan {
    let fs = MemoryFs::default();
    let options = PlanOptions::default();
    let input = PlanInput { path: Path::new("/w/spec.star"), text, fs: &fs, root: Path::new("/w"), options: &options };
    let built = build(&input);
    built.plan.unwrap_or_else(|| panic!("no plan: {:#?}", built.diagnostics))
}

/// The findings of `text` as a topology file (notes too: a smoke matrix cell is one).
fn findings(text: &str) -> Vec<String> {
    let fs = std::sync::Arc::new(MemoryFs::default());
    let options = CheckOptions::default();
    let path = Path::new("/w/spec.star");
    let input = FileInput { path, text, language: Language::Topology, fs, root: Path::new("/w"), options: &options };
    check_file(&input).into_iter().map(|d| format!("{} {}", d.code, d.message)).collect()
}

fn gaps(coverage: &Coverage) -> Vec<String> {
    coverage.edges.iter().filter(|e| !e.is_covered()).map(Edge::label).collect()
}

fn repo(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

/// Inserts every suggestion and asserts the result has no finding the file did not have
/// before (the reference patterns carry warnings of their own) and no gap left.
fn assert_suggestions_close_the_gaps(name: &str, text: &str) -> String {
    let plan = plan_of(text);
    let before = coverage(&plan);
    let suggestions = suggest(&before, &plan, text, None);
    assert_eq!(suggestions.skipped, Vec::<String>::new(), "{name}");
    let fixed = apply(text, &edits(&suggestions, text));
    assert_eq!(findings(&fixed), findings(text), "{name}: the stubs do not check clean:\n{fixed}");
    let after = coverage(&plan_of(&fixed));
    assert_eq!(gaps(&after), Vec::<String>::new(), "{name}: gaps remain after inserting:\n{fixed}");
    assert_eq!(after.percent, 100.0);
    fixed
}

#[test]
fn the_example_is_covered_edge_by_edge() {
    let coverage = coverage(&plan_of(&repo("examples/users-api/users.star")));
    let labels: Vec<String> = coverage.edges.iter().map(Edge::label).collect();
    assert_eq!(labels, ["api → cache.redis", "api → db.pg"]);
    assert_eq!((coverage.covered, coverage.total), (2, 2));
    let cache = &coverage.edges[0];
    assert_eq!(cache.via, ["env REDIS_URL", "depends_on"]);
    // Only the connect fault scoped to the cache's port reaches the cache edge.
    assert!(cache.faulted_by.iter().all(|f| f.assumption.as_deref() == Some("cache_down")), "{cache:#?}");
    let db = &coverage.edges[1];
    let assumptions: BTreeSet<&str> = db.faulted_by.iter().filter_map(|f| f.assumption.as_deref()).collect();
    assert_eq!(assumptions.into_iter().collect::<Vec<_>>(), ["db_down", "db_slow", "disk_full", "insert_fail"]);
}

#[test]
fn pattern_three_leaves_the_gateway_edge_uncovered() {
    let text = repo("tests/fixtures/topology/pattern-3.star");
    let coverage = coverage(&plan_of(&text));
    assert_eq!(gaps(&coverage), ["gateway → orders.grpc"]);
    let inventory = coverage.edges.iter().find(|e| e.label() == "orders → inventory.grpc").unwrap();
    assert!(inventory.faulted_by.iter().any(|f| f.kind == "partition"), "{inventory:#?}");
    let fixed = assert_suggestions_close_the_gaps("pattern-3", &text);
    assert!(fixed.contains("load(\"@faultbox/recipes/grpc.star\", grpc_faults = \"grpc\")"), "{fixed}");
    assert!(fixed.contains("target = orders.grpc,\n    rules = [grpc_faults.unavailable()],"), "{fixed}");
}

#[test]
fn every_reference_pattern_and_the_example_take_their_suggestions() {
    for path in [
        "tests/fixtures/topology/pattern-1.star",
        "tests/fixtures/topology/pattern-2.star",
        "examples/users-api/users.star",
    ] {
        let text = repo(path);
        assert_suggestions_close_the_gaps(path, &text);
    }
}

const UNTESTED: &str = r#"
db = service("db", "db.sh",
    interface("pg", "postgres", 5432),
    healthcheck = ready(),
)

cache = service("cache", "cache.sh",
    interface("redis", "redis", 6379),
)

queue = service("queue", "queue.sh",
    interface("main", "tcp", 7000),
    interface("admin", "http", 7001),
)

api = service("api", "api.sh",
    interface("http", "http", 8080),
    env = {
        "DATABASE_URL": "postgres://" + db.pg.addr + "/app",
        "REDIS": cache.redis.addr,
    },
    depends_on = [db, cache, queue],
)

def test_health():
    resp = api.http.get(path = "/health")
    assert_eq(resp.status, 200)
"#;

#[test]
fn a_spec_without_fault_tests_gets_stubs_for_every_edge() {
    let plan = plan_of(UNTESTED);
    let coverage = coverage(&plan);
    assert_eq!(gaps(&coverage), ["api → cache.redis", "api → db.pg", "api → queue"]);
    assert_eq!(coverage.percent, 0.0);
    let fixed = assert_suggestions_close_the_gaps("untested", UNTESTED);
    // No scenario is registered: one is written for the consumer.
    assert!(fixed.contains("def api_happy_path():\n    return api.http.get(path = \"/\")"), "{fixed}");
    assert!(fixed.contains("queue_write_errors = fault_assumption(\"queue_write_errors\",\n    target = queue,\n    write = deny(\"EIO\"),"), "{fixed}");
    assert!(fixed.contains("rules = [redis_faults.connection_drop()],"), "{fixed}");
}

#[test]
fn the_editor_gets_the_stubs_of_one_service() {
    let plan = plan_of(UNTESTED);
    let coverage = coverage(&plan);
    let only = suggest(&coverage, &plan, UNTESTED, Some("cache"));
    assert_eq!(only.targets.len(), 1);
    assert_eq!(only.targets[0].edges, ["api → cache.redis"]);
    let fixed = apply(UNTESTED, &edits(&only, UNTESTED));
    assert_eq!(findings(&fixed), Vec::<String>::new(), "{fixed}");
    assert_eq!(gaps(&super::coverage(&plan_of(&fixed))), ["api → db.pg", "api → queue"]);
}

#[test]
fn consumer_side_rules_reach_only_the_edges_their_path_names() {
    let text = format!(
        "{UNTESTED}\n{}",
        r#"
def scenario_health():
    return api.http.get(path = "/health")

scenario(scenario_health)

cut_db = fault_assumption("cut_db", target = api, connect = deny("ECONNREFUSED"))
fault_matrix(scenarios = [scenario_health], faults = [cut_db])
"#
    );
    let coverage = coverage(&plan_of(&text));
    // An unscoped connect deny on the consumer cuts every edge of it.
    assert_eq!(gaps(&coverage), Vec::<String>::new());
    let scoped = text
        .replace("depends_on = [db, cache, queue],", "depends_on = [db, cache, queue],\n    ops = {\"db_connect\": op(syscalls = [\"connect\"], path = \"*:5432\")},")
        .replace("connect = deny(\"ECONNREFUSED\")", "db_connect = deny(\"ECONNREFUSED\")");
    let coverage = super::coverage(&plan_of(&scoped));
    assert_eq!(gaps(&coverage), ["api → cache.redis", "api → queue"]);
    let db = coverage.edges.iter().find(|e| e.service == "db").unwrap();
    assert_eq!(db.faulted_by[0].rule, "db_connect denied ECONNREFUSED in api (path *:5432)");
}

#[test]
fn globs_and_percentages() {
    assert!(glob_match("*:5432", "127.0.0.1:5432"));
    assert!(!glob_match("*:5432", "127.0.0.1:15432x"));
    assert!(glob_match("127.0.0.?:*", "127.0.0.1:80"));
    assert!(glob_match("*", ""));
    assert_eq!(percent_text(100.0), "100%");
    assert_eq!(percent_text(200.0 / 3.0), "66.7%");
}

#[test]
fn hints_sit_on_the_declarations_of_unfaulted_services() {
    let coverage = coverage(&plan_of(UNTESTED));
    let declared = crate::ide::declared_services(UNTESTED);
    let found: Vec<(String, &str)> =
        hints(&coverage, &declared).into_iter().map(|h| (h.service, &UNTESTED[h.span.start..h.span.end])).collect();
    assert_eq!(found, [("db".into(), "db"), ("cache".into(), "cache"), ("queue".into(), "queue")]);
    assert!(hints(&coverage, &declared)[0].message.starts_with("no test faults api → db.pg: "));
}

#[test]
fn every_protocol_s_usual_faults_check_clean() {
    let protocols = [
        "amqp",
        "cassandra",
        "clickhouse",
        "grpc",
        "http",
        "http2",
        "kafka",
        "memcached",
        "mongodb",
        "mysql",
        "nats",
        "postgres",
        "redis",
        "udp",
        "tcp",
    ];
    let mut text = String::new();
    let mut refs = Vec::new();
    for (i, protocol) in protocols.iter().enumerate() {
        text.push_str(&format!(
            "p{i} = service(\"p{i}\", \"p.sh\", interface(\"main\", \"{protocol}\", {}))\n",
            45900 + i
        ));
        refs.push(format!("\"P{i}\": p{i}.main.addr"));
    }
    let deps: Vec<String> = (0..protocols.len()).map(|i| format!("p{i}")).collect();
    text.push_str(&format!(
        "app = service(\"app\", \"app.sh\", interface(\"http\", \"http\", 45999), env = {{{}}}, depends_on = [{}])\n",
        refs.join(", "),
        deps.join(", ")
    ));
    text.push_str("\ndef test_app():\n    assert_eq(app.http.get(path = \"/\").status, 200)\n");
    let fixed = assert_suggestions_close_the_gaps("every protocol", &text);
    for protocol in protocols.iter().filter(|p| **p != "tcp") {
        assert!(fixed.contains(&format!("load(\"@faultbox/recipes/{protocol}.star\"")), "{protocol}: {fixed}");
    }
    assert!(fixed.contains("rules = [drop()],"), "tcp gets the builtins: {fixed}");
}
