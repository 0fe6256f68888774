//! The editor's authoring features of `ospecc lsp`, driven over stdio as an editor drives them:
//! code lenses over the tests of a mock-only spec and the `ospecc.runTest` command they carry
//! (a real `ospecc run`: results as diagnostics on the failing assertion's line, a summary
//! notification, traces on demand), `ospecc.listTests`, and fault-coverage hints with the quick
//! fix that inserts the stubs.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::{project, repo_root};
use serde_json::{json, Value};

/// The longest wait for one message (a run of a few mock tests in a debug build included).
const READ_TIMEOUT: Duration = Duration::from_secs(120);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    backlog: VecDeque<Value>,
    next_id: i64,
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ospecc"))
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ospecc lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = mpsc::channel();
        thread::spawn(move || read_messages(stdout, tx));
        let mut client = Client { child, stdin, incoming, backlog: VecDeque::new(), next_id: 1 };
        let folders = json!([{"uri": uri(root), "name": "w"}]);
        let params = json!({"processId": null, "capabilities": {}, "workspaceFolders": folders,
            "initializationOptions": {"debounceMs": 0}});
        let init = client.request("initialize", params);
        let capabilities = &init["capabilities"];
        assert_eq!(capabilities["codeLensProvider"]["resolveProvider"], false, "{init}");
        let commands = capabilities["executeCommandProvider"]["commands"].as_array().cloned().unwrap_or_default();
        assert!(commands.contains(&json!("ospecc.runTest")) && commands.contains(&json!("ospecc.listTests")), "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).unwrap();
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend(body);
        self.stdin.write_all(&frame).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_for(&format!("the answer to {method}"), |m| m.get("method").is_none() && m["id"] == json!(id))
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.backlog.iter().position(&matches) {
            return self.backlog.remove(at).unwrap();
        }
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.incoming.recv_timeout(left).unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            if message.get("method").is_some() && message.get("id").is_some() {
                self.send(&json!({"jsonrpc": "2.0", "id": message["id"], "result": null}));
            }
            if matches(&message) {
                return message;
            }
            self.backlog.push_back(message);
        }
    }

    /// The next publication for `uri` whose diagnostics satisfy `wanted`.
    fn published(&mut self, uri: &str, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        self.published_where(uri, |_, diagnostics| wanted(diagnostics))
    }

    /// The diagnostics published for `uri` at the document's `version`: a publication for an
    /// earlier version can still be on its way when an edit is sent.
    fn published_at(&mut self, uri: &str, version: i64) -> Vec<Value> {
        self.published_where(uri, |params, _| params["version"] == version)
    }

    fn published_where(&mut self, uri: &str, wanted: impl Fn(&Value, &[Value]) -> bool) -> Vec<Value> {
        loop {
            let message = self.wait_for(&format!("diagnostics of {uri}"), |m| {
                m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
            });
            let diagnostics = message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            if wanted(&message["params"], &diagnostics) {
                return diagnostics;
            }
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        let document = json!({"uri": uri, "languageId": "starlark", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
    }

    fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("the server did not exit");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_messages(stdout: impl Read, tx: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.unwrap_or(0)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(message) = serde_json::from_slice(&body) {
            if tx.send(message).is_err() {
                return;
            }
        }
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A port of this suite's range (45000-45999) that nothing listens on (or lingers on) now.
fn free_port() -> u16 {
    (45100..45999)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port in 45100-45999")
}

fn mock_spec() -> String {
    let text = std::fs::read_to_string(repo_root().join("tests/lsp/run/mock.star")).unwrap();
    text.replace("45110", &free_port().to_string())
}

fn line_of(text: &str, needle: &str) -> u64 {
    text[..text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in the spec"))].matches('\n').count() as u64
}

#[test]
fn code_lenses_run_tests_and_publish_their_failures() {
    let text = mock_spec();
    let dir = project(&[("mock.star", text.as_bytes())]);
    let path = dir.path().join("mock.star");
    let doc = uri(&path);
    let mut client = Client::start(dir.path());
    client.open(&doc, &text);
    client.published(&doc, |_| true);

    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": doc}}));
    let lenses = lenses.as_array().cloned().unwrap_or_default();
    let at = |line: u64| -> Vec<String> {
        lenses
            .iter()
            .filter(|l| l["range"]["start"]["line"] == json!(line))
            .map(|l| l["command"]["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(at(line_of(&text, "def test_health")), ["▶ Run", "Run with trace"], "{lenses:#?}");
    assert_eq!(at(line_of(&text, "def test_slow_is_up")), ["▶ Run", "Run with trace"]);
    assert_eq!(at(line_of(&text, "scenario(fetch)")), ["▶ Run", "Run with trace"]);
    assert_eq!(at(line_of(&text, "fault_scenario(")), ["▶ Run", "Run with trace"]);
    assert_eq!(at(line_of(&text, "fault_matrix(")), ["▶ fetch × api_down", "trace"]);
    assert!(lenses.iter().all(|l| l["command"]["command"] == "ospecc.runTest"), "{lenses:#?}");

    // The editor runs what a lens says: `workspace/executeCommand` with its command.
    let failing = lenses
        .iter()
        .find(|l| l["range"]["start"]["line"] == json!(line_of(&text, "def test_slow_is_up")))
        .map(|l| l["command"].clone())
        .unwrap();
    let started = Instant::now();
    let result = client.request("workspace/executeCommand", failing);
    eprintln!("a run of one failing test from the editor: {} ms", started.elapsed().as_millis());
    assert_eq!(result["passed"], false, "{result}");
    let test = &result["results"][0];
    assert_eq!(
        (test["name"].as_str(), test["outcome"].as_str()),
        (Some("test_slow_is_up"), Some("failed")),
        "{result}"
    );
    let assertion_line = line_of(&text, "assert_eq(resp.status, 200, \"slow answers 200\")");
    assert_eq!(test["line"], json!(assertion_line + 1), "the failing assertion's line (1-based): {result}");
    let shown = client.wait_for("the run's summary", |m| m["method"] == "window/showMessage");
    assert_eq!(shown["params"]["type"], 1, "an error: {shown}");
    assert!(
        shown["params"]["message"]
            .as_str()
            .unwrap()
            .contains("1 failed — test_slow_is_up failed: assert_eq failed: 503 != 200"),
        "{shown}"
    );
    let published = client.published(&doc, |d| d.iter().any(|d| d["source"] == "ospecc-run"));
    let failure = published.iter().find(|d| d["source"] == "ospecc-run").unwrap();
    assert_eq!(failure["range"]["start"]["line"], json!(assertion_line), "{failure}");
    assert_eq!(failure["severity"], 1);
    assert!(failure["message"].as_str().unwrap().contains("slow answers 200"), "{failure}");

    // A passing run: an information summary, and the failure stays (another test's).
    let passing = json!({"command": "ospecc.runTest", "arguments": [{"uri": doc, "tests": ["test_health"]}]});
    let result = client.request("workspace/executeCommand", passing);
    assert_eq!(result["passed"], true, "{result}");
    let shown = client.wait_for("the passing summary", |m| m["method"] == "window/showMessage");
    assert_eq!(shown["params"]["type"], 3, "information: {shown}");
    assert!(shown["params"]["message"].as_str().unwrap().contains("1 passed"), "{shown}");

    // With trace: the traces are kept and named.
    let traced = json!({"command": "ospecc.runTest", "arguments": [{"uri": doc, "tests": ["test_matrix_fetch_api_down"], "trace": true}]});
    let result = client.request("workspace/executeCommand", traced);
    let dir_of_traces = result["trace_dir"].as_str().expect("a trace directory").to_owned();
    assert!(Path::new(&dir_of_traces).join("test_matrix_fetch_api_down.jsonl").is_file(), "{result}");
    assert!(Path::new(&dir_of_traces).join("report.html").is_file(), "{result}");
    assert_eq!(result["results"][0]["outcome"], "failed", "the default expectation fails under the fault: {result}");
    let _ = std::fs::remove_dir_all(&dir_of_traces);

    // The list the test explorers show.
    let list =
        client.request("workspace/executeCommand", json!({"command": "ospecc.listTests", "arguments": [{"uri": doc}]}));
    let names: Vec<&str> = list["tests"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["test_health", "test_slow_is_up", "test_fetch", "test_health_under_fault", "test_matrix_fetch_api_down"]
    );

    // An edit moves the text on: the results of the old text are no longer shown.
    let change = json!({"textDocument": {"uri": doc, "version": 2}, "contentChanges": [{"text": format!("{text}\n")}]});
    client.notify("textDocument/didChange", change);
    client.published(&doc, |d| !d.iter().any(|d| d["source"] == "ospecc-run"));

    // Bad arguments are answered, not fatal.
    let bad = client
        .request_raw("workspace/executeCommand", json!({"command": "ospecc.runTest", "arguments": [{"uri": doc}]}));
    assert!(bad["error"]["message"].as_str().unwrap().contains("needs `tests`"), "{bad}");
    let unknown = client.request_raw("workspace/executeCommand", json!({"command": "ospecc.nope", "arguments": []}));
    assert!(unknown.get("error").is_some(), "{unknown}");
    client.shutdown();
}

#[test]
fn coverage_gaps_are_hints_with_a_quick_fix_that_closes_them() {
    let text = std::fs::read_to_string(repo_root().join("tests/coverage/untested.star")).unwrap();
    let dir = project(&[("spec.star", text.as_bytes())]);
    let doc = uri(&dir.path().join("spec.star"));
    let mut client = Client::start(dir.path());
    client.open(&doc, &text);
    let published = client.published(&doc, |d| d.iter().any(|d| d["source"] == "ospecc-coverage"));
    let hints: Vec<&Value> = published.iter().filter(|d| d["source"] == "ospecc-coverage").collect();
    assert_eq!(hints.len(), 2, "{published:#?}");
    let db = hints.iter().find(|h| h["data"]["service"] == "db").expect("a hint on db");
    assert_eq!(db["severity"], 4, "a hint: {db}");
    assert_eq!(db["range"]["start"]["line"], json!(line_of(&text, "db = service(")), "{db}");
    assert!(db["message"].as_str().unwrap().starts_with("no test faults api → db.pg"), "{db}");

    let params = json!({"textDocument": {"uri": doc}, "range": db["range"], "context": {"diagnostics": [db]}});
    let actions = client.request("textDocument/codeAction", params);
    let action = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Add fault tests for api → db.pg")
        .unwrap_or_else(|| panic!("no coverage action in {actions:#}"))
        .clone();
    assert_eq!(action["kind"], "quickfix");
    let edits = action["edit"]["changes"][&doc].as_array().unwrap().clone();
    let fixed = apply(&text, &edits);
    assert!(fixed.contains("load(\"@faultbox/recipes/postgres.star\", postgres_faults = \"postgres\")"), "{fixed}");
    let change = json!({"textDocument": {"uri": doc, "version": 2}, "contentChanges": [{"text": fixed}]});
    client.notify("textDocument/didChange", change);
    let after = client.published(&doc, |d| !d.iter().any(|d| d["data"]["service"] == "db"));
    let remaining: Vec<&Value> = after.iter().collect();
    assert!(remaining.iter().any(|d| d["data"]["service"] == "cache"), "the cache edge is still a gap: {after:#?}");
    assert!(
        !remaining.iter().any(|d| d["source"] == "ospecc" && d["severity"].as_u64() <= Some(2)),
        "the insert checks clean: {after:#?}"
    );
    client.shutdown();
}

#[test]
fn an_edit_keeps_the_hints_on_their_services_until_the_gaps_are_computed_again() {
    let text = std::fs::read_to_string(repo_root().join("tests/coverage/untested.star")).unwrap();
    let dir = project(&[("spec.star", text.as_bytes())]);
    let doc = uri(&dir.path().join("spec.star"));
    let mut client = Client::start(dir.path());
    client.open(&doc, &text);
    client.published(&doc, |d| d.iter().any(|d| d["source"] == "ospecc-coverage"));
    // Three lines above everything: the edit's own publication moves the hints with the text.
    let moved = format!("# one\n# two\n# three\n{text}");
    let change = json!({"textDocument": {"uri": doc, "version": 2}, "contentChanges": [{"text": moved}]});
    client.notify("textDocument/didChange", change);
    let published = client.published_at(&doc, 2);
    let db = published.iter().find(|h| h["data"]["service"] == "db").unwrap_or_else(|| panic!("{published:#?}"));
    assert_eq!(db["range"]["start"]["line"], json!(line_of(&moved, "db = service(")), "{db}");
    client.shutdown();
}

/// Applies LSP text edits (lines and UTF-16 characters; the text here is ASCII up to the edits).
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| -> usize {
        let line = p["line"].as_u64().unwrap() as usize;
        let character = p["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + character
    };
    let mut sorted: Vec<&Value> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(offset(&e["range"]["start"])));
    let mut out = text.to_owned();
    for edit in sorted {
        let (start, end) = (offset(&edit["range"]["start"]), offset(&edit["range"]["end"]));
        out.replace_range(start..end, edit["newText"].as_str().unwrap());
    }
    out
}
