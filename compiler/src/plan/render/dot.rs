//! The plan as a Graphviz graph (`ospecc plan --format dot`).
//!
//! Services are boxes with `depends_on` edges; tests are ellipses, the cells of each
//! `fault_matrix` inside one `cluster_` subgraph, with a dashed edge to every service a test
//! faults (labelled with the rules) and a dotted one for faults the body applies itself;
//! acceptance probes sit in a cluster per stage, stages linked by their `needs`.
//!
//! Every id and label goes through [`quoted`], so names with quotes, backslashes or newlines
//! cannot break the file. Ids are namespaced by kind (`svc:db`, `test:test_x`) so a test and
//! a service of the same name stay two nodes, and made unique by [`Ids`] in plan order, so
//! the output is deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ospecc_schema::plan::acceptance::{Probe, Target};
use ospecc_schema::plan::{Acceptance, Origin, Plan, Service, Test};

use super::text::{check, kind, plural, proxy_what, scoped_what, syscall_what, truncate};

/// Labels longer than this (in characters) end in `…`; Graphviz does not wrap.
const MAX_LABEL: usize = 60;

/// Renders the plan as a `digraph`.
pub fn dot(plan: &Plan) -> String {
    let mut graph = Graph::new(plan);
    graph.services(&plan.services);
    graph.tests(&plan.tests);
    if let Some(acceptance) = &plan.acceptance {
        graph.acceptance(acceptance);
    }
    graph.finish()
}

/// A Graphviz quoted string: backslashes and quotes escaped, line breaks as `\n` (which
/// Graphviz shows as a centred line break), other control characters dropped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A label: each line cut to [`MAX_LABEL`], then quoted.
fn label(s: &str) -> String {
    let lines: Vec<String> = s.lines().map(|l| truncate(l, MAX_LABEL)).collect();
    quoted(&lines.join("\n"))
}

fn at(origin: &Origin) -> String {
    format!("{}:{}", origin.file, origin.line)
}

/// Unique, deterministic node ids: `kind:name`, then `kind:name#2`, ... on a clash.
#[derive(Default)]
struct Ids {
    taken: BTreeSet<String>,
}

impl Ids {
    fn fresh(&mut self, kind: &str, name: &str) -> String {
        let base = format!("{kind}:{name}");
        let mut id = base.clone();
        let mut n = 1;
        while self.taken.contains(&id) {
            n += 1;
            id = format!("{base}#{n}");
        }
        self.taken.insert(id.clone());
        id
    }
}

/// An edge whose labels accumulate: several rules from one test to one service make one edge.
struct Edge {
    from: String,
    to: String,
    style: &'static str,
    labels: Vec<String>,
}

struct Graph {
    out: String,
    ids: Ids,
    /// Service name → node id (rules and `depends_on` name services).
    services: BTreeMap<String, String>,
    edges: Vec<Edge>,
}

impl Graph {
    fn new(plan: &Plan) -> Graph {
        let mut out = String::from("digraph plan {\n");
        let title = format!("plan {} (IR v{})", plan.root, plan.version);
        let _ = writeln!(out, "  graph [label={}, labelloc=t, rankdir=LR, charset=\"UTF-8\"];", label(&title));
        out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
        out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
        Graph { out, ids: Ids::default(), services: BTreeMap::new(), edges: Vec::new() }
    }

    fn node(&mut self, indent: &str, id: &str, attributes: &str, text: &str) {
        let _ = writeln!(self.out, "{indent}{} [{attributes}, label={}];", quoted(id), label(text));
    }

    /// The node id of a service, minting one for a name the plan does not declare (so an
    /// edge to it still has a single, quoted node).
    fn service_id(&mut self, name: &str) -> String {
        if let Some(id) = self.services.get(name) {
            return id.clone();
        }
        let id = self.ids.fresh("svc", name);
        self.services.insert(name.to_owned(), id.clone());
        id
    }

    fn edge(&mut self, from: &str, to: &str, style: &'static str, text: String) {
        match self.edges.iter_mut().find(|e| e.from == from && e.to == to && e.style == style) {
            Some(edge) if !edge.labels.contains(&text) => edge.labels.push(text),
            Some(_) => {}
            None => self.edges.push(Edge { from: from.to_owned(), to: to.to_owned(), style, labels: vec![text] }),
        }
    }

    fn services(&mut self, services: &[Service]) {
        // Ids first, so `depends_on` finds a declared service whatever the order.
        let ids: Vec<String> = services.iter().map(|s| self.service_id(&s.name)).collect();
        for (service, id) in services.iter().zip(&ids) {
            let text = format!("{}\n{}", service.name, launch(service));
            self.node("  ", id, "shape=box", &text);
        }
        for (service, id) in services.iter().zip(&ids) {
            for dependency in &service.depends_on {
                let to = self.service_id(dependency);
                self.edge(id, &to, "solid", "depends_on".to_owned());
            }
        }
    }

    fn tests(&mut self, tests: &[Test]) {
        let mut matrices: BTreeMap<&Origin, Vec<&Test>> = BTreeMap::new();
        for test in tests {
            match &test.matrix {
                Some(cell) => matrices.entry(&cell.origin).or_default().push(test),
                None => {
                    let id = self.ids.fresh("test", &test.name);
                    self.test("  ", &id, test, &format!("{}\n[{}]", test.name, kind(test.kind)));
                }
            }
        }
        for (n, (origin, cells)) in matrices.iter().enumerate() {
            let _ = writeln!(self.out, "  subgraph {} {{", quoted(&format!("cluster_matrix_{}", n + 1)));
            let title = format!("matrix {}\n{}", at(origin), plural(cells.len(), "cell", "cells"));
            let _ = writeln!(self.out, "    label={};", label(&title));
            for cell in cells {
                let id = self.ids.fresh("test", &cell.name);
                self.test("    ", &id, cell, &cell_label(cell));
            }
            self.out.push_str("  }\n");
        }
    }

    /// A test node and its fault edges.
    fn test(&mut self, indent: &str, id: &str, test: &Test, text: &str) {
        self.node(indent, id, "shape=ellipse", text);
        for rule in &test.syscall_rules {
            let to = self.service_id(&rule.service);
            self.edge(id, &to, "dashed", syscall_what(rule));
        }
        for rule in &test.proxy_rules {
            let to = self.service_id(&rule.service);
            self.edge(id, &to, "dashed", format!("{}: {}", rule.interface, proxy_what(rule)));
        }
        for fault in &test.scoped_faults {
            for service in &fault.services {
                let to = self.service_id(service);
                self.edge(id, &to, "dotted", scoped_what(fault));
            }
        }
    }

    fn acceptance(&mut self, acceptance: &Acceptance) {
        let targets = &acceptance.targets;
        if !acceptance.preflight.is_empty() {
            self.out.push_str("  subgraph \"cluster_preflight\" {\n    label=\"preflight\";\n");
            for probe in &acceptance.preflight {
                self.probe(probe, targets);
            }
            self.out.push_str("  }\n");
        }
        // A stage is a node of its own inside its cluster: `needs` edges join stages even
        // when one has no probes, without Graphviz's compound-edge clipping.
        let mut stage_ids: BTreeMap<String, String> = BTreeMap::new();
        for (n, stage) in acceptance.stages.iter().enumerate() {
            let id = self.ids.fresh("stage", &stage.name);
            let _ = writeln!(self.out, "  subgraph {} {{", quoted(&format!("cluster_stage_{}", n + 1)));
            let _ = writeln!(self.out, "    label={};", label(&format!("stage {}", stage.name)));
            self.node("    ", &id, "shape=folder", &format!("stage {}", stage.name));
            for probe in &stage.probes {
                self.probe(probe, targets);
            }
            self.out.push_str("  }\n");
            stage_ids.entry(stage.name.clone()).or_insert(id);
        }
        for stage in &acceptance.stages {
            let Some(from) = stage_ids.get(stage.name.as_str()).cloned() else { continue };
            for need in &stage.needs {
                // A need the plan has no stage for still gets one node, however many need it.
                let to = match stage_ids.get(need.as_str()) {
                    Some(id) => id.clone(),
                    None => {
                        let id = self.ids.fresh("stage", need);
                        stage_ids.insert(need.clone(), id.clone());
                        id
                    }
                };
                self.edge(&from, &to, "bold", "needs".to_owned());
            }
        }
    }

    fn probe(&mut self, probe: &Probe, targets: &[Target]) {
        let id = self.ids.fresh("probe", &probe.id);
        let mut text = format!("{}\n{}", probe.id, check(&probe.check, targets));
        let mut attributes = "shape=note".to_owned();
        if let Some(reason) = &probe.skip {
            let _ = write!(text, "\nSKIP: {reason}");
            attributes.push_str(", style=dashed, fontcolor=gray40");
        }
        self.node("    ", &id, &attributes, &text);
    }

    fn finish(mut self) -> String {
        for edge in std::mem::take(&mut self.edges) {
            let _ = writeln!(
                self.out,
                "  {} -> {} [style={}, label={}];",
                quoted(&edge.from),
                quoted(&edge.to),
                edge.style,
                label(&edge.labels.join("\n"))
            );
        }
        self.out.push_str("}\n");
        self.out
    }
}

/// `create_user × db_down`, with the expectation source when it is not the matrix default.
fn cell_label(test: &Test) -> String {
    let Some(cell) = &test.matrix else { return test.name.clone() };
    let mut text = format!("{} × {}", cell.scenario, cell.fault);
    if let Some(source) = test.expect_source.as_deref().filter(|s| *s != "default_expect") {
        let _ = write!(text, "\n({source})");
    }
    text
}

/// What runs the service, in a few words.
fn launch(service: &Service) -> String {
    use ospecc_schema::plan::topology::Launch;
    match &service.launch {
        Launch::Binary { path, .. } => format!("binary {path}"),
        Launch::Image { image, .. } => format!("image {image}"),
        Launch::Build { context, .. } => format!("build {context}"),
        Launch::Remote { address } => format!("remote {address}"),
        Launch::Mock { routes, .. } => format!("mock, {} routes", routes.len()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use ospecc_schema::plan::topology::TestKind;

    use super::*;
    use crate::plan::render::sample;

    /// A plan whose names hold every character that needs escaping in DOT.
    fn awkward_plan() -> Plan {
        let mut plan = sample::plan();
        let awkward = "we\"ird\\svc\nnext";
        plan.services[0].name = awkward.to_owned();
        plan.services[2].depends_on[0] = awkward.to_owned();
        for test in &mut plan.tests {
            for rule in &mut test.proxy_rules {
                rule.service = awkward.to_owned();
                rule.matchers[0].glob = "x\\\"y\r".to_owned();
            }
        }
        // A test named like a service, and two tests sharing a name.
        plan.tests.push(sample::test("api", TestKind::Test, 80, "body"));
        plan.tests.push(sample::test("api", TestKind::Test, 81, "body"));
        plan
    }

    /// Runs `dot -Tsvg`; `None` when Graphviz is not installed.
    fn graphviz(source: &str) -> Option<std::process::Output> {
        let mut child = match Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot run dot: {e}"),
        };
        child.stdin.take().expect("stdin").write_all(source.as_bytes()).expect("write to dot");
        Some(child.wait_with_output().expect("dot output"))
    }

    #[test]
    fn the_sample_plan_has_services_tests_clusters_and_stages() {
        let out = dot(&sample::plan());
        assert!(out.starts_with("digraph plan {\n") && out.ends_with("}\n"));
        let expected = [
            r#"  "svc:db" [shape=box, label="db\nimage postgres:16"];"#,
            r#"  "svc:payments" [shape=box, label="payments\nmock, 2 routes"];"#,
            r#"  "svc:api" -> "svc:db" [style=solid, label="depends_on"];"#,
            r#"  "test:test_health" [shape=ellipse, label="test_health\n[def]"];"#,
            r#"  subgraph "cluster_matrix_1" {"#,
            r#"    label="matrix api.star:60\n4 cells";"#,
            r#"    "test:test_matrix_create_user_db_down" [shape=ellipse, label="create_user × db_down\n(override)"];"#,
            r#"  "test:test_matrix_create_user_db_down" -> "svc:api" [style=dashed, label="connect → deny ECONNREFUSED"];"#,
            r#"  "test:test_matrix_list_users_insert_fails" -> "svc:db" [style=dashed, label="pg: error query=\"INSERT INTO users*\""];"#,
            r#"  "test:test_health" -> "svc:api" [style=dotted, label="fault db_down on api [connect]"];"#,
            r#"  subgraph "cluster_stage_2" {"#,
            r#"    "probe:endpoint.2" [shape=note, style=dashed, fontcolor=gray40, label="endpoint.2\nPOST /users → 201\nSKIP: needs a request body"];"#,
            r#"  "stage:endpoints" -> "stage:health" [style=bold, label="needs"];"#,
        ];
        for line in expected {
            assert!(out.lines().any(|l| l == line), "missing {line}\n{out}");
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(dot(&awkward_plan()), dot(&awkward_plan()));
    }

    #[test]
    fn ids_and_labels_are_escaped() {
        let out = dot(&awkward_plan());
        let node = r#"  "svc:we\"ird\\svc\nnext" [shape=box, label="we\"ird\\svc\nnext\nimage postgres:16"];"#;
        assert!(out.lines().any(|l| l == node), "{out}");
        let edge = r#"  "svc:api" -> "svc:we\"ird\\svc\nnext" [style=solid, label="depends_on"];"#;
        assert!(out.lines().any(|l| l == edge), "{out}");
        // The carriage return is dropped, the backslash and quote escaped.
        assert!(out.contains(r#"label="pg: error query=\"x\\\\\\\"y\"""#), "{out}");
        assert!(!out.contains('\r'));
    }

    #[test]
    fn clashing_names_get_distinct_ids() {
        let out = dot(&awkward_plan());
        assert!(out.contains(r#"  "test:api" [shape=ellipse, label="api\n[test]"];"#));
        assert!(out.contains(r#"  "test:api#2" [shape=ellipse, label="api\n[test]"];"#));
        assert!(out.contains(r#"  "svc:api" [shape=box"#));
    }

    #[test]
    fn quoting_escapes_quotes_backslashes_and_newlines() {
        assert_eq!(quoted("a\"b\\c\nd\re\u{1b}"), r#""a\"b\\c\nde""#);
        assert_eq!(label(&"x".repeat(100)).chars().count(), MAX_LABEL + 2);
    }

    #[test]
    fn graphviz_accepts_the_output() {
        for plan in [sample::plan(), awkward_plan()] {
            let source = dot(&plan);
            let Some(output) = graphviz(&source) else {
                println!("SKIP: graphviz not installed");
                return;
            };
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "dot -Tsvg failed: {stderr}\n{source}");
            assert!(stderr.trim().is_empty(), "dot warned: {stderr}\n{source}");
            assert!(String::from_utf8_lossy(&output.stdout).contains("<svg"));
        }
    }
}
