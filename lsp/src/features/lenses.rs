//! `textDocument/codeLens`: "Run" and "Run with trace" over every test a topology file
//! declares (a `def test_*`, a `scenario`, a `fault_scenario`, a `test()`, each cell of a
//! `fault_matrix`), from the file's plan. Each lens carries the `ospecc.runTest` command the
//! server executes (`workspace/executeCommand`).

use ospecc_compiler::plan::runnable::{runnables, Runnable};
use ospecc_compiler::Language;
use serde_json::json;
use tower_lsp_server::ls_types::{CodeLens, CodeLensParams, Command, Position, Range, Uri};

use super::run::RUN_TEST;
use super::Snapshot;
use crate::plans::{plan_of, root_file};
use crate::state::Shared;

pub fn code_lenses(shared: &Shared, params: CodeLensParams) -> Option<Vec<CodeLens>> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    if snapshot.language != Language::Topology {
        return Some(Vec::new());
    }
    let Some(plan) = plan_of(shared, &snapshot.path) else {
        return Some(Vec::new());
    };
    let tests = runnables(&plan, root_file(&plan));
    Some(lenses(&snapshot.uri, &tests))
}

/// Two lenses per test; a matrix with several cells also gets one that runs them all.
fn lenses(uri: &Uri, tests: &[Runnable]) -> Vec<CodeLens> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < tests.len() {
        let line = tests[at].line;
        let group: Vec<&Runnable> = tests[at..].iter().take_while(|t| t.line == line).collect();
        at += group.len();
        let cells = group.iter().filter(|t| t.kind == "matrix_cell").count();
        if cells > 1 {
            let names: Vec<&str> = group.iter().filter(|t| t.kind == "matrix_cell").map(|t| t.name.as_str()).collect();
            out.push(lens(uri, line, format!("▶ Run all {cells} cells"), &names, false));
        }
        for test in group {
            let (run, trace) = match test.kind {
                "matrix_cell" => (format!("▶ {}", test.label), "trace".to_owned()),
                _ => ("▶ Run".to_owned(), "Run with trace".to_owned()),
            };
            out.push(lens(uri, line, run, &[test.name.as_str()], false));
            out.push(lens(uri, line, trace, &[test.name.as_str()], true));
        }
    }
    out
}

fn lens(uri: &Uri, line: u32, title: String, tests: &[&str], trace: bool) -> CodeLens {
    let position = Position::new(line.saturating_sub(1), 0);
    CodeLens {
        range: Range::new(position, position),
        command: Some(Command {
            title,
            command: RUN_TEST.to_owned(),
            arguments: Some(vec![json!({ "uri": uri.as_str(), "tests": tests, "trace": trace })]),
        }),
        data: None,
    }
}
