//! `workspace/executeCommand`: `ospecc.runTest` runs tests of a spec with `ospecc run --test`
//! (lsp/src/runs.rs), publishes the failures as diagnostics on the failing assertion's line (the
//! scheduler republishes the file with them), shows a summary (`window/showMessage`) and
//! answers with the results; `ospecc.listTests` answers with the tests a topology file
//! declares (what the code lenses run), for editors' test explorers.

use std::sync::Arc;

use ospecc_compiler::plan::runnable::runnables;
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::{ExecuteCommandParams, MessageType, Uri};

use super::Snapshot;
use crate::plans::{plan_of, root_file};
use crate::runs::{self, Request};
use crate::scheduler::Event;
use crate::state::Shared;

pub const RUN_TEST: &str = "ospecc.runTest";
pub const LIST_TESTS: &str = "ospecc.listTests";
/// The commands the server executes (its `executeCommandProvider`).
pub const COMMANDS: &[&str] = &[RUN_TEST, LIST_TESTS];

/// One run at a time: a spec's services and mocks listen on fixed ports, so two runs of it at
/// once would fight over them.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn execute(shared: Arc<Shared>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let argument = params.arguments.first().cloned().unwrap_or(Value::Null);
    match params.command.as_str() {
        RUN_TEST => run(shared, &argument).await.map(Some),
        LIST_TESTS => list(shared, &argument).await.map(Some),
        other => Err(invalid(format!("unknown command `{other}` (the server runs {})", COMMANDS.join(", ")))),
    }
}

fn invalid(message: String) -> Error {
    Error { code: ErrorCode::InvalidParams, message: message.into(), data: None }
}

/// The document a command names: `{"uri": ...}` or the URI itself.
fn uri_of(argument: &Value) -> Result<Uri> {
    let text = argument.get("uri").and_then(Value::as_str).or_else(|| argument.as_str());
    let text = text.ok_or_else(|| invalid("the command needs the document's `uri`".to_owned()))?;
    text.parse::<Uri>().map_err(|_| invalid(format!("`{text}` is not a URI")))
}

async fn list(shared: Arc<Shared>, argument: &Value) -> Result<Value> {
    let uri = uri_of(argument)?;
    let tests = tokio::task::spawn_blocking(move || {
        let snapshot = Snapshot::take(&shared, &uri)?;
        let plan = plan_of(&shared, &snapshot.path)?;
        Some(runnables(&plan, root_file(&plan)))
    })
    .await
    .map_err(|_| Error::internal_error())?;
    Ok(json!({ "tests": tests.unwrap_or_default() }))
}

async fn run(shared: Arc<Shared>, argument: &Value) -> Result<Value> {
    let uri = uri_of(argument)?;
    let mut tests: Vec<String> = match argument.get("tests") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    tests.extend(argument.get("test").and_then(Value::as_str).map(str::to_owned));
    if tests.is_empty() {
        return Err(invalid("`ospecc.runTest` needs `tests` (the names `ospecc run --test` takes)".to_owned()));
    }
    let trace = argument.get("trace").and_then(Value::as_bool).unwrap_or(false);
    let Some(executable) = shared.host.executable() else {
        return Err(invalid("this server has no `ospecc` binary to run tests with".to_owned()));
    };
    let snapshot = Snapshot::take(&shared, &uri).ok_or_else(|| invalid(format!("cannot read {}", uri.as_str())))?;
    let version = shared.documents().get(&snapshot.path).map(|d| d.version);
    let unsaved = version.is_some() && std::fs::read_to_string(&snapshot.path).ok().as_deref() != Some(&snapshot.text);
    let request = Request { file: snapshot.path.clone(), tests, trace };
    let names = request.tests.join(", ");
    let _one_at_a_time = RUNNING.lock().await;
    shared.log(MessageType::INFO, format!("running {names} of {}", snapshot.path.display()));
    let outcome = tokio::task::spawn_blocking(move || runs::execute(&executable, &request, runs::RUN_TIMEOUT))
        .await
        .map_err(|_| Error::internal_error())?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(why) => {
            shared.client.show_message(MessageType::ERROR, format!("ospecc: {why}")).await;
            return Err(Error { code: ErrorCode::InternalError, message: why.into(), data: None });
        }
    };
    shared.runs.record(&snapshot.path, version, &outcome, &snapshot.rope, snapshot.encoding);
    shared.send(Event::Changed(snapshot.path.clone()));
    let mut message = format!("ospecc: {}", outcome.summary);
    if unsaved {
        message.push_str(" (the run used the saved file, not the unsaved changes)");
    }
    if let Some(dir) = &outcome.trace_dir {
        message.push_str(&format!(" — traces in {}", dir.display()));
    }
    let kind = if outcome.passed { MessageType::INFO } else { MessageType::ERROR };
    shared.client.show_message(kind, message).await;
    serde_json::to_value(&outcome).map_err(|_| Error::internal_error())
}
