//! The tests of a plan an editor can run, placed in the file that declares them: a `def
//! test_*` at its name, a `scenario(fn)`, `fault_scenario(...)` or `test(...)` at its call,
//! every cell of a `fault_matrix` at the matrix's call. Editors put "Run" code lenses there
//! and list them in their test explorers; `ospecc run --test NAME` runs each.

use ospecc_schema::plan::topology::TestKind;
use ospecc_schema::plan::Plan;
use serde::Serialize;

/// One runnable test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Runnable {
    /// The name `ospecc run --test` takes.
    pub name: String,
    /// `def`, `scenario`, `fault_scenario`, `matrix_cell`, `test`.
    pub kind: &'static str,
    /// Where it is declared: 1-based line and column in the file.
    pub line: u32,
    pub column: u32,
    /// A short title (`create_user × db_down` for a matrix cell, else the name).
    pub label: String,
}

/// The tests of `plan` declared in the file whose bundle path is `file` (the root topology's
/// is `plan.topology`), in source order.
pub fn runnables(plan: &Plan, file: &str) -> Vec<Runnable> {
    let mut out: Vec<Runnable> = plan
        .tests
        .iter()
        .filter(|t| t.origin.file == file)
        .map(|test| Runnable {
            name: test.name.clone(),
            kind: kind_name(test.kind),
            line: test.origin.line,
            column: test.origin.column,
            label: match &test.matrix {
                Some(cell) => format!("{} × {}", cell.scenario, cell.fault),
                None => test.name.clone(),
            },
        })
        .collect();
    out.sort_by_key(|r| (r.line, r.column));
    out
}

fn kind_name(kind: TestKind) -> &'static str {
    match kind {
        TestKind::Def => "def",
        TestKind::Scenario => "scenario",
        TestKind::FaultScenario => "fault_scenario",
        TestKind::MatrixCell => "matrix_cell",
        TestKind::Test => "test",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::{build, PlanInput, PlanOptions};
    use crate::vfs::MemoryFs;

    #[test]
    fn every_kind_of_test_is_placed_where_it_is_declared() {
        let text = r#"api = mock_service("api", interface("http", "http", 45120), routes = {"GET /": status_only(200)})

def fetch():
    return api.http.get(path = "/")

scenario(fetch)

def test_plain():
    assert_eq(fetch().status, 200)

down = fault_assumption("down", target = api.http, rules = [error(path = "/", status = 500)])
fault_scenario("under_fault", scenario = fetch, faults = [down], expect = lambda r: assert_eq(r.status, 500))
fault_matrix(scenarios = [fetch], faults = [down], default_expect = lambda r: assert_true(r != None))
test("named", lambda: assert_eq(fetch().status, 200))
"#;
        let fs = MemoryFs::default();
        let options = PlanOptions::default();
        let input = PlanInput { path: Path::new("/w/s.star"), text, fs: &fs, root: Path::new("/w"), options: &options };
        let plan = build(&input).plan.expect("a plan");
        let found: Vec<(String, &str, u32, String)> =
            runnables(&plan, "s.star").into_iter().map(|r| (r.name, r.kind, r.line, r.label)).collect();
        assert_eq!(
            found,
            [
                ("test_fetch".into(), "scenario", 6, "test_fetch".into()),
                ("test_plain".into(), "def", 8, "test_plain".into()),
                ("test_under_fault".into(), "fault_scenario", 12, "test_under_fault".into()),
                ("test_matrix_fetch_down".into(), "matrix_cell", 13, "fetch × down".into()),
                ("test_named".into(), "test", 14, "test_named".into()),
            ]
        );
        assert!(runnables(&plan, "other.star").is_empty());
    }
}
