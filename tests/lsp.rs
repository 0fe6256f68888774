//! `ospecc lsp` driven over stdio by a small JSON-RPC client, as an editor would drive it.
//!
//! Every read has a deadline, so a hung server fails the test instead of hanging the suite.
//! The central check: for every fixture, the diagnostics the server publishes for the opened
//! text equal those of `ospecc check --format json` (code, severity, message, byte range,
//! labels, notes, help), positions converted back from UTF-16 by the test itself.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::{ospecc_with, repo_root, TIMEOUT};
use serde_json::{json, Value};

/// The longest wait for any one message (an analysis in a debug build on a busy machine).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the process may take to exit after `exit`.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON-RPC client over the server's stdio.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Messages read while waiting for another one.
    backlog: VecDeque<Value>,
    next_id: i64,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Client {
    /// Starts `ospecc lsp` and runs `initialize`/`initialized`.
    fn start(roots: &[&Path], options: Value, capabilities: Value) -> (Client, Value) {
        Client::start_with_env(roots, options, capabilities, &[])
    }

    fn start_with_env(roots: &[&Path], options: Value, capabilities: Value, envs: &[(&str, &str)]) -> (Client, Value) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ospecc"));
        command.arg("lsp").current_dir(repo_root()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn ospecc lsp");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr_pipe = child.stderr.take().expect("stderr");
        let (tx, incoming) = mpsc::channel();
        thread::spawn(move || read_messages(stdout, tx));
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        let mut client = Client { child, stdin, incoming, backlog: VecDeque::new(), next_id: 1, stderr: Some(stderr) };
        let folders: Vec<Value> =
            roots.iter().map(|r| json!({"uri": file_uri(r), "name": r.display().to_string()})).collect();
        let params = json!({
            "processId": null,
            "capabilities": capabilities,
            "workspaceFolders": if folders.is_empty() { Value::Null } else { Value::Array(folders) },
            "initializationOptions": options,
        });
        let result = client.request("initialize", params);
        client.notify("initialized", json!({}));
        (client, result)
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to server");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).unwrap();
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend(body);
        self.write_raw(&frame);
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its whole response (`result` or `error`).
    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_for(&format!("the response to {method}"), |m| m.get("method").is_none() && m["id"] == json!(id))
    }

    /// Sends a request and returns its `result`, failing on an error response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// The next message, answering the server's own requests (progress, registrations) on the way.
    fn next(&mut self, deadline: Instant, what: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(left) {
            Ok(message) => {
                if message.get("method").is_some() && message.get("id").is_some() {
                    self.send(&json!({"jsonrpc": "2.0", "id": message["id"], "result": null}));
                }
                message
            }
            Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output while waiting for {what}"),
        }
    }

    /// The first message (from the backlog, else newly read) that `matches`.
    fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.backlog.iter().position(&matches) {
            return self.backlog.remove(at).unwrap();
        }
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let message = self.next(deadline, what);
            if matches(&message) {
                return message;
            }
            self.backlog.push_back(message);
        }
    }

    /// The first diagnostics published for `uri` at `version` that satisfy `wanted` (earlier
    /// publications, e.g. of the text before a dependency changed, are skipped).
    fn diagnostics_where(&mut self, uri: &str, version: Option<i64>, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        loop {
            let found = self.diagnostics(uri, version);
            if wanted(&found) {
                return found;
            }
        }
    }

    /// The check's diagnostics published for `uri` at `version` (`None`: a file that is not
    /// open). Coverage hints and run results (other sources) are tested in tests/lsp_authoring.rs.
    fn diagnostics(&mut self, uri: &str, version: Option<i64>) -> Vec<Value> {
        let what = format!("diagnostics of {uri} at version {version:?}");
        let version = version.map_or(Value::Null, |v| json!(v));
        let message = self.wait_for(&what, |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"].get("version").unwrap_or(&Value::Null) == &version
        });
        let all = message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
        all.into_iter().filter(|d| d["source"] == "ospecc").collect()
    }

    fn open(&mut self, uri: &str, language_id: &str, version: i64, text: &str) {
        let document = json!({"uri": uri, "languageId": language_id, "version": version, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
    }

    fn change(&mut self, uri: &str, version: i64, changes: Value) {
        let params = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes});
        self.notify("textDocument/didChange", params);
    }

    /// `shutdown` then `exit`; the exit status (within [`EXIT_TIMEOUT`]).
    fn shutdown(mut self) -> ExitStatus {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        self.wait_exit()
    }

    fn wait_exit(mut self) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
                assert!(!stderr.contains("panicked at") || stderr.contains("crash test"), "server stderr:\n{stderr}");
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {EXIT_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A failed test must not leave a server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `Content-Length` frames until the stream ends.
fn read_messages(stdout: impl Read, tx: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let message: Value = serde_json::from_slice(&body).expect("the server writes JSON");
        if tx.send(message).is_err() {
            return;
        }
    }
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn fast() -> Value {
    json!({"debounceMs": 0})
}

/// The byte offset of an LSP position (UTF-16 or UTF-8 columns), computed independently of the
/// server: lines end at `\n`, `\r\n` or `\r`.
fn offset_of(text: &str, line: u64, character: u64, utf8: bool) -> usize {
    let mut starts = vec![0];
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                starts.push(i + 2);
                i += 2;
                continue;
            }
            b'\r' | b'\n' => starts.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    let start = starts[line as usize];
    let mut units = 0;
    for (at, c) in text[start..].char_indices() {
        if units >= character as usize || c == '\n' || c == '\r' {
            return start + at;
        }
        units += if utf8 { c.len_utf8() } else { c.len_utf16() };
    }
    text.len()
}

/// One diagnostic in comparable form: (code, severity, message, start byte, end byte).
type Key = (String, String, String, usize, usize);

fn lsp_key(d: &Value, text: &str, utf8: bool) -> Key {
    let at = |p: &Value| offset_of(text, p["line"].as_u64().unwrap(), p["character"].as_u64().unwrap(), utf8);
    let severity = match d["severity"].as_i64() {
        Some(1) => "error",
        Some(2) => "warning",
        _ => "note",
    };
    assert_eq!(d["source"], "ospecc");
    (
        d["code"].as_str().unwrap().to_string(),
        severity.to_string(),
        d["message"].as_str().unwrap().to_string(),
        at(&d["range"]["start"]),
        at(&d["range"]["end"]),
    )
}

fn cli_key(d: &Value, text: &str) -> Key {
    // The CLI's spans may end inside a character; the server's ranges round to character starts.
    let round = |b: u64| {
        let mut b = (b as usize).min(text.len());
        while !text.is_char_boundary(b) {
            b -= 1;
        }
        b
    };
    (
        d["code"].as_str().unwrap().to_string(),
        d["severity"].as_str().unwrap().to_string(),
        d["message"].as_str().unwrap().to_string(),
        round(d["span"]["start"].as_u64().unwrap()),
        round(d["span"]["end"].as_u64().unwrap()),
    )
}

/// Asserts the server's diagnostics equal the CLI's for `text`; returns how many there were.
fn assert_same(name: &str, text: &str, lsp: &[Value], cli: &[Value], utf8: bool) -> usize {
    let ours: Vec<Key> = lsp.iter().map(|d| lsp_key(d, text, utf8)).collect();
    let theirs: Vec<Key> = cli.iter().map(|d| cli_key(d, text)).collect();
    assert_eq!(ours, theirs, "{name}: server and `ospecc check` disagree");
    for (ours, theirs) in lsp.iter().zip(cli) {
        let related: Vec<&str> = ours["relatedInformation"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["message"].as_str().unwrap())
            .collect();
        for label in theirs["labels"].as_array().unwrap() {
            let message = label["message"].as_str().unwrap();
            assert!(related.contains(&message), "{name}: label {message:?} missing from {related:?}");
        }
        // Notes may name the spec's directory: the CLI as given on its command line (relative
        // to the repository root here), the server as the absolute path of the document.
        let prefix = format!("{}/", repo_root().display());
        let related: Vec<String> = related.iter().map(|r| r.replace(&prefix, "")).collect();
        let related: Vec<&str> = related.iter().map(String::as_str).collect();
        for note in theirs["notes"].as_array().unwrap() {
            let note = format!("note: {}", note.as_str().unwrap());
            assert!(related.contains(&note.as_str()), "{name}: {note:?} missing");
        }
        if let Some(help) = theirs["help"].as_str() {
            assert!(related.contains(&format!("help: {help}").as_str()), "{name}: help missing");
        }
    }
    lsp.len()
}

/// `ospecc check --format json` on `paths` (relative to the repository root): diagnostics by path.
fn cli_diagnostics(paths: &[String]) -> BTreeMap<String, Vec<Value>> {
    let mut args = vec!["check", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let run = ospecc_with(&repo_root(), &args, None, &[], Duration::from_secs(600));
    run.no_panic();
    let report: Value = serde_json::from_str(&run.stdout).expect("json report");
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["diagnostics"].as_array().unwrap().clone()))
        .collect()
}

/// `ospecc check --format json` on `text` given on stdin as `path`.
fn cli_on_text(path: &Path, text: &str) -> Vec<Value> {
    let name = path.display().to_string();
    let args = ["check", "--format", "json", "--stdin-filename", &name, "-"];
    let run = ospecc_with(&repo_root(), &args, Some(text.as_bytes()), &[], TIMEOUT);
    let report: Value = serde_json::from_str(&run.no_panic().stdout).expect("json report");
    report["files"][0]["diagnostics"].as_array().unwrap().clone()
}

fn is_spec(name: &str) -> bool {
    let suffixes = [".ospec.yml", ".ospec.yaml", ".ospec", ".star"];
    suffixes.iter().any(|s| name.len() > s.len() && name.ends_with(s)) || matches!(name, "outcome.yml" | "outcome.yaml")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(is_spec) {
            out.push(path);
        }
    }
}

#[test]
fn diagnostics_equal_ospecc_check_for_every_fixture() {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["tests/fixtures", "tests/topology"] {
        collect(&root.join(dir), &mut files);
    }
    files.sort();
    let relative: Vec<String> = files.iter().map(|f| f.strip_prefix(&root).unwrap().display().to_string()).collect();
    let expected = cli_diagnostics(&relative);
    let (mut client, _) = Client::start(&[], fast(), json!({}));
    let (mut compared, mut diagnostics, mut topology) = (0, 0, 0);
    for (file, name) in files.iter().zip(&relative) {
        let text = std::fs::read_to_string(file).unwrap();
        let uri = file_uri(file);
        let language = if name.ends_with(".star") { "starlark" } else { "yaml" };
        topology += usize::from(language == "starlark");
        client.open(&uri, language, 1, &text);
        let published = client.diagnostics(&uri, Some(1));
        let cli = expected.get(name).unwrap_or_else(|| panic!("`ospecc check` did not report {name}"));
        diagnostics += assert_same(name, &text, &published, cli, false);
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
        compared += 1;
    }
    assert!(compared > 300 && topology > 200 && diagnostics > 300, "{compared} files, {diagnostics} diagnostics");
    eprintln!("compared {compared} fixtures ({topology} topology files), {diagnostics} diagnostics");
    assert!(client.shutdown().success());
}

#[test]
fn initialize_negotiates_the_position_encoding() {
    let (client, result) = Client::start(&[], fast(), json!({}));
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(result["capabilities"]["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(result["serverInfo"]["name"], "ospecc");
    assert_eq!(client.shutdown().code(), Some(0));
    let offers = json!({"general": {"positionEncodings": ["utf-16", "utf-8"]}});
    let (client, result) = Client::start(&[], fast(), offers);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    assert_eq!(client.shutdown().code(), Some(0));
}

const EMOJI_SPEC: &str = "ospec_version: \"1.0.0\"\nid: emoji\nname: \"😀 中文\"\n\
    description: A tiny API that says hello to whoever asks.\noutcome_type: api\n\
    acceptance: {notes: \"😀中文🎉\", http_endpointz: []}\n";

/// The (line, character) of the diagnostic with `message` containing `needle`.
fn start_of(diagnostics: &[Value], needle: &str) -> (u64, u64) {
    let d = diagnostics.iter().find(|d| d["message"].as_str().unwrap().contains(needle)).expect(needle);
    (d["range"]["start"]["line"].as_u64().unwrap(), d["range"]["start"]["character"].as_u64().unwrap())
}

#[test]
fn positions_after_emoji_and_cjk_are_exact_in_both_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emoji.ospec.yml");
    let uri = file_uri(&path);
    let cli = cli_on_text(&path, EMOJI_SPEC);
    for (capabilities, utf8, column) in [
        // `acceptance: {notes: "` is 21 units; 😀中文🎉 is 6 UTF-16 units or 14 bytes; then `", `.
        (json!({}), false, 30),
        (json!({"general": {"positionEncodings": ["utf-8"]}}), true, 38),
    ] {
        let (mut client, _) = Client::start(&[], fast(), capabilities);
        client.open(&uri, "yaml", 1, EMOJI_SPEC);
        let published = client.diagnostics(&uri, Some(1));
        assert_eq!(start_of(&published, "http_endpointz"), (5, column));
        assert_same("emoji", EMOJI_SPEC, &published, &cli, utf8);
        assert!(client.shutdown().success());
    }
}

#[test]
fn crlf_files_map_to_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crlf.ospec.yml");
    let uri = file_uri(&path);
    let lf = std::fs::read_to_string(repo_root().join("tests/fixtures/cli/unknown-key.ospec.yml")).unwrap();
    let crlf = lf.replace('\n', "\r\n");
    // The default debounce (100 ms) here: the other tests analyse at once.
    let (mut client, _) = Client::start(&[], json!({}), json!({}));
    client.open(&uri, "yaml", 1, &crlf);
    let published = client.diagnostics(&uri, Some(1));
    assert_same("crlf", &crlf, &published, &cli_on_text(&path, &crlf), false);
    assert_eq!(start_of(&published, "metdata"), (10, 0), "the CRLF line of `metdata:`");
    // An edit addressed in CRLF lines lands where the client means it.
    client.change(&uri, 2, json!([{"range": {"start": {"line": 10, "character": 0}, "end": {"line": 10, "character": 7}}, "text": "metadata"}]));
    let fixed = crlf.replace("metdata:", "metadata:");
    let published = client.diagnostics(&uri, Some(2));
    assert_same("crlf edited", &fixed, &published, &cli_on_text(&path, &fixed), false);
    assert!(client.shutdown().success());
}

/// Applies one LSP change to `text` the way a client does (UTF-16 positions).
fn apply(text: &str, start: (u64, u64), end: (u64, u64), new_text: &str) -> String {
    let a = offset_of(text, start.0, start.1, false);
    let b = offset_of(text, end.0, end.1, false);
    format!("{}{}{}", &text[..a], new_text, &text[b..])
}

#[test]
fn rapid_incremental_edits_stay_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edits.ospec.yml");
    let uri = file_uri(&path);
    let mut text = EMOJI_SPEC.to_string();
    let (mut client, _) = Client::start(&[], fast(), json!({}));
    client.open(&uri, "yaml", 1, &text);
    // Twenty notifications back to back, several events each, ranges relative to the state the
    // previous event left: applied out of order, the final text would differ.
    let mut version = 1;
    for round in 0..20u64 {
        let mut events = Vec::new();
        for (start, end, new_text) in [
            ((2, 0), (2, 0), format!("x-note{round}: \"🎉{round}\"\n")),
            ((0, 0), (0, 0), "# 注释 😀\r\n".to_string()),
            ((1, 2), (1, 5), "改".to_string()),
        ] {
            text = apply(&text, start, end, &new_text);
            events.push(json!({
                "range": {"start": {"line": start.0, "character": start.1}, "end": {"line": end.0, "character": end.1}},
                "text": new_text,
            }));
        }
        version += 1;
        client.change(&uri, version, Value::Array(events));
    }
    let published = client.diagnostics(&uri, Some(version));
    assert_same("after 20 edits", &text, &published, &cli_on_text(&path, &text), false);
    // A full replacement, then an edit past the end of the text (clamped to the end).
    client.change(&uri, version + 1, json!([{"text": EMOJI_SPEC}, {"range": {"start": {"line": 999, "character": 9}, "end": {"line": 999, "character": 99}}, "text": "bogus_key: 1\n"}]));
    let text = format!("{EMOJI_SPEC}bogus_key: 1\n");
    let published = client.diagnostics(&uri, Some(version + 1));
    assert_same("replaced and clamped", &text, &published, &cli_on_text(&path, &text), false);
    assert!(client.shutdown().success());
}

#[test]
fn bad_messages_do_not_stop_the_server() {
    let (mut client, _) = Client::start_with_env(&[], fast(), json!({}), &[("OSPECC_LSP_CRASH_TEST", "1")]);
    // A body that is not JSON, then one that is JSON but not JSON-RPC.
    client.write_raw(b"Content-Length: 12\r\n\r\n{not json!!}");
    client.write_raw(b"Content-Length: 2\r\n\r\n[]");
    // A header that is not a length, then a body of unknown length: the next frame still parses.
    client.write_raw(b"Content-Length: lots\r\n\r\n{\"half\": ");
    for expected in [-32700, -32600, -32700] {
        let refusal = client.wait_for("a refusal", |m| m.get("error").is_some() && m["id"].is_null());
        assert_eq!(refusal["error"]["code"], expected, "{refusal}");
    }
    let unknown = client.request_raw("ospecc/noSuchMethod", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    // Changes to a document never opened, and a close of one: logged, no crash.
    client.change("file:///never/opened.ospec.yml", 2, json!([{"text": "x: 1"}]));
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": "file:///never/opened.ospec.yml"}}));
    client.notify("textDocument/didOpen", json!({"textDocument": {"uri": 7}}));
    // A panicking request answers with an internal error; the server lives on.
    let crash = client.request_raw("ospecc/crashTest", Value::Null);
    assert_eq!(crash["error"]["code"], -32603, "{crash}");
    let uri = "file:///tmp/ospecc-lsp-after-crash.ospec.yml";
    client.open(uri, "yaml", 1, "name: [\n");
    let published = client.diagnostics(uri, Some(1));
    assert!(!published.is_empty(), "the server still analyses after a panic");
    // A document that is not a file (an unsaved buffer) is analysed under its own URI.
    client.open("untitled:Untitled-1", "yaml", 3, "name: [\n");
    let untitled = client.diagnostics("untitled:Untitled-1", Some(3));
    let strip = |ds: &[Value]| {
        ds.iter().map(|d| (d["code"].clone(), d["message"].clone(), d["range"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(strip(&untitled), strip(&published));
    assert_eq!(untitled[0]["relatedInformation"][0]["location"]["uri"], "untitled:Untitled-1");
    assert!(client.shutdown().success());
}

#[test]
fn exit_without_shutdown_is_code_1() {
    let (mut client, _) = Client::start(&[], fast(), json!({}));
    client.notify("exit", Value::Null);
    assert_eq!(client.wait_exit().code(), Some(1));
}

#[test]
fn a_huge_document_is_not_analysed_and_says_so() {
    let (mut client, _) = Client::start(&[], fast(), json!({}));
    let uri = "file:///tmp/ospecc-lsp-huge.ospec.yml";
    let line = "x-filler: \"😀 中文 0123456789 abcdefghijklmnopqrstuvwxyz\"\r\n";
    let huge = line.repeat(10 * 1024 * 1024 / line.len() + 1);
    assert!(huge.len() > 10 * 1024 * 1024);
    client.open(uri, "yaml", 1, &huge);
    let notice = client.wait_for("the size notice", |m| m["method"] == "window/showMessage");
    assert!(notice["params"]["message"].as_str().unwrap().contains("not analysed"), "{notice}");
    assert!(client.diagnostics(uri, Some(1)).is_empty());
    // Edits still apply; cut down below the cap, the document is analysed again.
    client.change(uri, 2, json!([{"range": {"start": {"line": 1, "character": 0}, "end": {"line": 999999, "character": 0}}, "text": "bogus_key: 1\n"}]));
    let published = client.diagnostics(uri, Some(2));
    assert!(published.iter().any(|d| d["message"].as_str().unwrap().contains("bogus_key")), "{published:?}");
    assert!(client.shutdown().success());
}

const SPEC_WITH_TOPOLOGY: &str = "ospec_version: \"1.0.0\"\nname: Shop\n\
    description: A spec checked against its topology.\noutcome_type: distributed-system\n\
    id: shop\ntopology: shop.star\nacceptance:\n  service_health:\n    - service: api\n      endpoint: /health\n";
const TOPOLOGY: &str = "api = service(\"api\", interface(\"http\", \"http\", 8080), image=\"shop/api:1\")\n";

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics.iter().map(|d| d["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn workspace_is_indexed_with_progress_and_topology_edits_republish_specs() {
    let project = common::project(&[
        ("ospecc.toml", b""),
        ("open.ospec.yml", SPEC_WITH_TOPOLOGY.as_bytes()),
        ("closed.ospec.yml", SPEC_WITH_TOPOLOGY.as_bytes()),
        ("shop.star", TOPOLOGY.as_bytes()),
        ("broken.ospec.yml", b"name: [\n"),
    ]);
    let root = project.path().canonicalize().unwrap();
    let capabilities = json!({"window": {"workDoneProgress": true}});
    let (mut client, _) = Client::start(&[&root], fast(), capabilities);
    // Indexing: progress from begin to end, and the closed broken file gets its diagnostics.
    let begin =
        client.wait_for("progress begin", |m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin");
    assert_eq!(begin["params"]["value"]["message"], "0/4");
    client.wait_for("progress end", |m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end");
    let broken = client.diagnostics(&file_uri(&root.join("broken.ospec.yml")), None);
    assert!(!broken.is_empty());

    let spec = file_uri(&root.join("open.ospec.yml"));
    client.open(&spec, "yaml", 1, SPEC_WITH_TOPOLOGY);
    let clean = client.diagnostics(&spec, Some(1));
    assert!(!codes(&clean).iter().any(|c| c.starts_with("XSP")), "{clean:?}");
    // Rename the service in the (open, unsaved) topology: both specs now name an unknown
    // service, the open one and the closed one.
    let star = file_uri(&root.join("shop.star"));
    let names_unknown = |d: &[Value]| codes(d).contains(&"XSP003".to_string());
    client.open(&star, "starlark", 1, TOPOLOGY);
    let edit =
        json!([{"range": {"start": {"line": 0, "character": 15}, "end": {"line": 0, "character": 18}}, "text": "web"}]);
    client.change(&star, 2, edit);
    let open_spec = client.diagnostics_where(&spec, Some(1), names_unknown);
    client.diagnostics_where(&file_uri(&root.join("closed.ospec.yml")), None, names_unknown);
    // What the CLI says once the topology is saved that way.
    std::fs::write(root.join("shop.star"), TOPOLOGY.replace("\"api\"", "\"web\"")).unwrap();
    let cli = cli_on_text(&root.join("open.ospec.yml"), SPEC_WITH_TOPOLOGY);
    assert_eq!(codes(&open_spec), codes(&cli));
    // Closed, the topology reverts to the disk's text: restored to `api`, both specs are clean.
    std::fs::write(root.join("shop.star"), TOPOLOGY).unwrap();
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": star}}));
    client.diagnostics_where(&spec, Some(1), |d| !names_unknown(d));
    client.diagnostics_where(&file_uri(&root.join("closed.ospec.yml")), None, |d| d.is_empty());
    assert!(client.shutdown().success());
}

// ---- Editor features: completion (golden), hover, definition, references, symbols, code
// actions, signature help, semantic tokens, and bad positions. `|` marks the cursor.
// `OSPECC_BLESS=1 cargo test --test lsp` (re)writes the goldens under `tests/lsp/golden/`.

/// The project every feature test opens its documents in.
const FEATURE_TOPOLOGY: &str = "load(\"lib/helpers.star\", \"helper\")\n\
    db = service(\"db\", \"bin/db\",\n    interface(\"pg\", \"postgres\", 5432),\n)\n\
    api = service(\"api\", \"bin/api\", interface(\"http\", \"http\", 8080), depends_on = [db])\n\
    def create_user():\n    return api.http.post(path = \"/users\")\n\
    scenario(create_user)\n\
    disk_full = fault_assumption(\"disk_full\", target = db, write = deny(\"ENOSPC\"))\n";
const FEATURE_HELPERS: &str = "def helper(x):\n    return x\n\ndef _private():\n    pass\n\nRETRIES = 3\n";

fn feature_project() -> (tempfile::TempDir, PathBuf) {
    let project = common::project(&[
        ("shop.star", FEATURE_TOPOLOGY.as_bytes()),
        ("lib/helpers.star", FEATURE_HELPERS.as_bytes()),
    ]);
    let root = project.path().canonicalize().unwrap();
    (project, root)
}

/// The text without its `|` and the cursor's UTF-16 position.
fn cursor(marked: &str) -> (String, Value) {
    let at = marked.find('|').expect("a cursor mark");
    let before = &marked[..at];
    let line = before.matches('\n').count() + before.matches('\r').count() - before.matches("\r\n").count();
    let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let character = before[line_start..].encode_utf16().count();
    (marked.replacen('|', "", 1), json!({"line": line, "character": character}))
}

fn golden_path(name: &str) -> PathBuf {
    repo_root().join("tests/lsp/golden").join(format!("{name}.txt"))
}

fn bless() -> bool {
    std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1")
}

/// Compares with the golden (or writes it when blessing); the problem, if any.
fn compare_golden(name: &str, actual: &str) -> Option<String> {
    let path = golden_path(name);
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    match std::fs::read_to_string(&path) {
        Err(_) => Some(format!("{}: missing golden (OSPECC_BLESS=1 cargo test --test lsp)", path.display())),
        Ok(expected) if expected == actual => None,
        Ok(expected) => {
            let line = expected.lines().zip(actual.lines()).position(|(e, a)| e != a).map_or(0, |i| i + 1);
            Some(format!("{}: differs from the golden (first at line {line}):\n{actual}", path.display()))
        }
    }
}

/// One completion list as golden text: sorted as the editor would, one item a line; a list
/// the server marks incomplete (to be asked for again as the prefix grows) says so first.
fn render_completions(result: &Value) -> String {
    let (list, incomplete) = match result.get("items") {
        Some(items) => (items, result["isIncomplete"] == json!(true)),
        None => (result, false),
    };
    let mut items: Vec<&Value> = list.as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let key = |i: &Value| i["sortText"].as_str().or(i["label"].as_str()).unwrap_or_default().to_string();
    items.sort_by_key(|i| (key(i), i["label"].as_str().unwrap_or_default().to_string()));
    let mut out = String::new();
    if incomplete {
        out.push_str("(incomplete)\n");
    }
    for item in items {
        let edit = &item["textEdit"];
        let range = &edit["range"];
        let snippet = if item["insertTextFormat"] == 2 { " snippet" } else { "" };
        out.push_str(&format!(
            "{} [{}{}] {} @{}:{}-{}:{} => {}\n",
            item["label"].as_str().unwrap_or_default(),
            item["kind"],
            snippet,
            item["detail"].as_str().unwrap_or_default(),
            range["start"]["line"],
            range["start"]["character"],
            range["end"]["line"],
            range["end"]["character"],
            edit["newText"].as_str().unwrap_or_default().replace('\n', "⏎"),
        ));
        // Enum members show their own docs (the first line), so a golden catches a value
        // documented with its property's description instead.
        if item["kind"] == 20 {
            let docs = item["documentation"]["value"].as_str().or(item["documentation"].as_str()).unwrap_or_default();
            out.push_str(&format!("    {}\n", docs.lines().next().unwrap_or_default()));
        }
    }
    out
}

/// (golden name, document file name, text with the cursor).
const COMPLETION_CASES: &[(&str, &str, &str)] = &[
    ("ospec-empty-file", "case.ospec.yml", "|"),
    ("ospec-half-typed-root-key", "case.ospec.yml", "ospec_version: \"1.0.0\"\nname: Shop\nout|\n"),
    ("ospec-enum-value", "case.ospec.yml", "outcome_type: |\n"),
    ("ospec-quoted-enum-prefix", "case.ospec.yml", "outcome_type: \"mi|\"\n"),
    ("ospec-service-keys", "case.ospec.yml", "services:\n  api:\n    ports: [\"8080:8080\"]\n    |\n"),
    ("ospec-task-dependencies", "case.ospec.yml", "tasks:\n  - id: setup\n  - id: build\n    dependencies:\n      - |\n"),
    (
        "ospec-service-from-topology",
        "case.ospec.yml",
        "topology: shop.star\nservices:\n  web: {}\nacceptance:\n  service_health:\n    - service: |\n",
    ),
    ("ospec-topology-path", "case.ospec.yml", "topology: |\n"),
    ("ospec-crlf-emoji", "case.ospec.yml", "name: \"😀 中文\"\r\ndescription: x\r\noutc|\r\n"),
    ("star-empty-file", "case.star", "|"),
    ("star-service-kwargs", "case.star", "db = service(\"db\", \"bin\", interface(\"pg\", \"postgres\", 5432), env = {}, |)\n"),
    (
        "star-positional-argument",
        "case.star",
        "pg = interface(\"pg\", \"postgres\", 5432)\ndef check():\n    pass\ndb = service(\"db\", |)\n",
    ),
    ("star-interfaces", "case.star", "api = service(\"api\", \"bin\", interface(\"http\", \"http\", 8080))\napi.|\n"),
    ("star-methods", "case.star", "api = service(\"api\", \"bin\", interface(\"http\", \"http\", 8080))\napi.http.p|\n"),
    ("star-errno", "case.star", "f = deny(\"E|\")\n"),
    ("star-protocol", "case.star", "i = interface(\"main\", \"|\", 80)\n"),
    ("star-syscall-keys", "case.star", "db = service(\"db\", \"bin\", interface(\"pg\", \"postgres\", 5432))\ndef t():\n    fault(db, wr|\n"),
    (
        "star-matrix-tuple",
        "case.star",
        "def a():\n    pass\nscenario(a)\nf = fault_assumption(\"f\", write = deny(\"EIO\"))\nfault_matrix(scenarios = [a], faults = [f], exclude = [(a, |)])\n",
    ),
    ("star-load-path", "case.star", "load(\"|\")\n"),
    ("star-load-symbols", "case.star", "load(\"lib/helpers.star\", \"|\")\n"),
    ("star-stdlib-members", "case.star", "load(\"@faultbox/recipes/redis.star\", \"redis\")\nr = redis.|\n"),
    ("star-stdlib-member-kwargs", "case.star", "load(\"@faultbox/mocks/kafka.star\", \"kafka\")\nb = kafka.broker(\"bus\", |)\n"),
];

#[test]
fn golden_completions() {
    let (_project, root) = feature_project();
    let (mut client, init) = Client::start(&[&root], fast(), json!({}));
    let triggers = &init["capabilities"]["completionProvider"]["triggerCharacters"];
    assert!(triggers.as_array().is_some_and(|t| t.contains(&json!(".")) && t.contains(&json!("\""))), "{init}");
    let mut problems = Vec::new();
    for (i, (name, file, marked)) in COMPLETION_CASES.iter().enumerate() {
        let uri = file_uri(&root.join(file));
        let (text, position) = cursor(marked);
        let language = if file.ends_with(".star") { "starlark" } else { "yaml" };
        client.open(&uri, language, i as i64 + 1, &text);
        let result =
            client.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": position}));
        problems.extend(compare_golden(&format!("completion/{name}"), &render_completions(&result)));
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(client.shutdown().success());
}

/// Sends a positional request for the marked document (opened under `file` in `root`).
fn at_cursor(client: &mut Client, root: &Path, file: &str, marked: &str, method: &str, extra: Value) -> Value {
    let uri = file_uri(&root.join(file));
    let (text, position) = cursor(marked);
    let language = if file.ends_with(".star") { "starlark" } else { "yaml" };
    client.open(&uri, language, 1, &text);
    let mut params = json!({"textDocument": {"uri": uri}, "position": position});
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    let result = client.request(method, params);
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    result
}

#[test]
fn hover_definition_and_references_across_languages() {
    let (_project, root) = feature_project();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    let none = json!({});
    let spec = "topology: shop.star\noutcome_type: api\nservices:\n  web:\n    depends_on: [api]\n";
    // Hover on a key: the schema's description, type and values.
    let hover = at_cursor(
        &mut client,
        &root,
        "s.ospec.yml",
        &spec.replace("outcome_type", "outcome_ty|pe"),
        "textDocument/hover",
        none.clone(),
    );
    let markdown = hover["contents"]["value"].as_str().unwrap();
    assert!(markdown.contains("kind of outcome") && markdown.contains("`web-app`"), "{hover}");
    assert_eq!(hover["range"], json!({"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 12}}));
    // Hover on a service reference: where the topology declares it.
    let hover = at_cursor(
        &mut client,
        &root,
        "s.ospec.yml",
        &spec.replace("[api]", "[a|pi]"),
        "textDocument/hover",
        none.clone(),
    );
    assert!(hover["contents"]["value"].as_str().unwrap().contains("shop.star"), "{hover}");
    // Definition: from the spec's reference into the topology file.
    let found = at_cursor(
        &mut client,
        &root,
        "s.ospec.yml",
        &spec.replace("[api]", "[a|pi]"),
        "textDocument/definition",
        none.clone(),
    );
    let shop = file_uri(&root.join("shop.star"));
    assert_eq!(found[0]["uri"], shop, "{found}");
    assert_eq!(found[0]["range"]["start"], json!({"line": 4, "character": 15}));
    // And from `topology:` to the file.
    let found = at_cursor(
        &mut client,
        &root,
        "s.ospec.yml",
        &spec.replace("shop.star", "sh|op.star"),
        "textDocument/definition",
        none.clone(),
    );
    assert_eq!(found[0]["uri"], shop);
    // Topology: across `load()` into the module.
    let star = format!("{FEATURE_TOPOLOGY}x = hel|per(1)\n");
    let found = at_cursor(&mut client, &root, "t.star", &star, "textDocument/definition", none.clone());
    assert_eq!(found[0]["uri"], file_uri(&root.join("lib/helpers.star")), "{found}");
    assert_eq!(found[0]["range"]["start"], json!({"line": 0, "character": 4}));
    // Topology: `api.http` to the interface declaration, builtin hover from the catalog.
    let found = at_cursor(
        &mut client,
        &root,
        "t.star",
        &format!("{FEATURE_TOPOLOGY}api.ht|tp.get()\n"),
        "textDocument/definition",
        none.clone(),
    );
    assert_eq!(found[0]["range"]["start"], json!({"line": 4, "character": 43}), "{found}");
    let hover = at_cursor(
        &mut client,
        &root,
        "t.star",
        &FEATURE_TOPOLOGY.replace("fault_assumption", "fault_assum|ption"),
        "textDocument/hover",
        none.clone(),
    );
    assert!(hover["contents"]["value"].as_str().unwrap().contains("fault_assumption(name: str"), "{hover}");
    // References: a service's uses in the spec (with its definition when asked).
    let refs_spec = "services:\n  api: {}\n  web:\n    depends_on: [api]\n  worker:\n    depends_on: api\n";
    let refs = at_cursor(
        &mut client,
        &root,
        "r.ospec.yml",
        &refs_spec.replacen("api", "a|pi", 1),
        "textDocument/references",
        json!({"context": {"includeDeclaration": true}}),
    );
    assert_eq!(refs.as_array().map(Vec::len), Some(3), "{refs}");
    let refs = at_cursor(
        &mut client,
        &root,
        "t.star",
        &FEATURE_TOPOLOGY.replacen("db =", "d|b =", 1),
        "textDocument/references",
        json!({"context": {"includeDeclaration": false}}),
    );
    assert_eq!(refs.as_array().map(Vec::len), Some(2), "{refs}");
    assert!(client.shutdown().success());
}

#[test]
fn symbols_signature_help_semantic_tokens_and_quick_fixes() {
    let (_project, root) = feature_project();
    let (mut client, init) = Client::start(&[&root], fast(), json!({}));
    let legend = init["capabilities"]["semanticTokensProvider"]["legend"]["tokenTypes"].as_array().unwrap().clone();
    let uri = file_uri(&root.join("shop.star"));
    client.open(&uri, "starlark", 1, FEATURE_TOPOLOGY);
    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    let names: Vec<&str> = symbols.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lib/helpers.star", "db", "api", "create_user", "create_user", "disk_full"]);
    assert_eq!(symbols[1]["children"][0]["name"], "pg");
    // Tokens: `service` on line 1 is a builtin function.
    let tokens = client.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    let data: Vec<u64> = tokens["data"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let (mut line, mut start, mut found) = (0, 0, false);
    for chunk in data.chunks(5) {
        line += chunk[0];
        start = if chunk[0] == 0 { start + chunk[1] } else { chunk[1] };
        if line == 1 && start == 5 {
            found = legend[chunk[3] as usize] == "function" && chunk[2] == 7;
        }
    }
    assert!(found, "{data:?}");
    // Signature help: the active parameter follows the arguments.
    let help =
        at_cursor(&mut client, &root, "t.star", "interface(\"main\", |", "textDocument/signatureHelp", json!({}));
    assert_eq!(help["activeParameter"], 1, "{help}");
    assert!(help["signatures"][0]["label"].as_str().unwrap().starts_with("interface(name: str"));
    // Quick fix: an unknown key's did-you-mean rename, as a workspace edit.
    let spec_uri = file_uri(&root.join("fix.ospec.yml"));
    client.open(&spec_uri, "yaml", 1, "nmae: Shop\n");
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": spec_uri}, "range": {"start": {"line": 0, "character": 1}, "end": {"line": 0, "character": 1}}, "context": {"diagnostics": []}}),
    );
    let rename = actions.as_array().unwrap().iter().find(|a| a["title"] == "rename to `name`").expect("a rename fix");
    assert_eq!(rename["kind"], "quickfix");
    assert_eq!(rename["edit"]["changes"][&spec_uri][0]["newText"], "name");
    assert_eq!(rename["diagnostics"][0]["code"], "OSP100");
    // OSpec symbols: tasks named by their ids.
    let outline_uri = file_uri(&root.join("outline.ospec.yml"));
    client.open(&outline_uri, "yaml", 1, "name: x\ntasks:\n  - id: setup\n  - id: build\n");
    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": outline_uri}}));
    assert_eq!(symbols[1]["children"][1]["name"], "build", "{symbols}");
    assert!(client.shutdown().success());
}

#[test]
fn features_survive_bad_positions_odd_text_and_huge_documents() {
    let (_project, root) = feature_project();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    let methods =
        ["textDocument/completion", "textDocument/hover", "textDocument/definition", "textDocument/signatureHelp"];
    let texts = [
        ("odd.ospec.yml", "a: \"😀\"\r\n  - b: 中\r\n- : :\n\"unterminated"),
        ("odd.star", "x = \"😀\nf(a, b=\r\n'''"),
    ];
    for (file, text) in texts {
        let uri = file_uri(&root.join(file));
        client.open(&uri, "plaintext", 1, text);
        for position in [
            json!({"line": 0, "character": 4}),
            json!({"line": 1, "character": 3}),
            json!({"line": 99, "character": 999}),
            json!({"line": 0, "character": 5}),
        ] {
            for method in methods {
                let response = client.request_raw(method, json!({"textDocument": {"uri": uri}, "position": position}));
                assert!(response.get("error").is_none(), "{method} at {position}: {response}");
            }
        }
        for method in ["textDocument/documentSymbol", "textDocument/semanticTokens/full", "textDocument/foldingRange"] {
            client.request(method, json!({"textDocument": {"uri": uri}}));
        }
    }
    // UTF-16 exact: completing after an emoji replaces exactly the half-typed word.
    let result =
        at_cursor(&mut client, &root, "e.ospec.yml", "name: \"😀\"\r\ndes|\r\n", "textDocument/completion", json!({}));
    let item = result.as_array().unwrap().iter().find(|i| i["label"] == "description").expect("description offered");
    assert_eq!(
        item["textEdit"]["range"],
        json!({"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 3}})
    );
    // Past the size cap, features answer nothing (the notice is phase 1's), and quickly.
    let uri = "file:///tmp/ospecc-lsp-features-huge.ospec.yml";
    let huge = "x-filler: \"😀 中文 0123456789 abcdefghijklmnopqrstuvwxyz\"\r\n".repeat(200_000);
    client.open(uri, "yaml", 1, &huge);
    for method in methods {
        let response =
            client.request_raw(method, json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 3}}));
        assert_eq!(response["result"], Value::Null, "{method}: {response}");
    }
    assert!(client.shutdown().success());
}

// ---- Folding ranges (golden) and workspace symbols.

/// Folds as golden text: `start-end kind | the start line`, one a line.
fn render_folds(result: &Value, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for fold in result.as_array().into_iter().flatten() {
        let start = fold["startLine"].as_u64().unwrap_or_default();
        let line = lines.get(start as usize).map_or("", |l| l.trim());
        let kind = fold["kind"].as_str().unwrap_or("-");
        out.push_str(&format!("{start}-{} {kind} | {line}\n", fold["endLine"]));
        assert!(fold.get("startCharacter").is_none() && fold.get("endCharacter").is_none(), "{fold}");
    }
    out
}

/// (golden name, fixture, document file name).
const FOLDING_CASES: &[(&str, &str, &str)] = &[
    ("ospec-valid-full", "tests/fixtures/ospec/schema/valid-full.ospec.yml", "full.ospec.yml"),
    ("star-pattern-1", "tests/fixtures/topology/pattern-1.star", "pattern.star"),
];

#[test]
fn golden_folding_ranges() {
    let (_project, root) = feature_project();
    let capabilities = json!({"textDocument": {"foldingRange": {"lineFoldingOnly": true}}});
    let (mut client, init) = Client::start(&[&root], fast(), capabilities);
    assert_eq!(init["capabilities"]["foldingRangeProvider"], true, "{init}");
    let mut problems = Vec::new();
    for (i, (name, fixture, file)) in FOLDING_CASES.iter().enumerate() {
        let text = std::fs::read_to_string(repo_root().join(fixture)).unwrap();
        let uri = file_uri(&root.join(file));
        let language = if file.ends_with(".star") { "starlark" } else { "yaml" };
        client.open(&uri, language, i as i64 + 1, &text);
        let result = client.request("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
        problems.extend(compare_golden(&format!("folding/{name}"), &render_folds(&result, &text)));
        // The same text with CRLF line ends folds the same lines.
        client.change(&uri, i as i64 + 2, json!([{"text": text.replace('\n', "\r\n")}]));
        let crlf = client.request("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
        assert_eq!(crlf, result, "{name} with CRLF");
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A document never opened is read from disk; one that does not exist answers null.
    let shop = client
        .request("textDocument/foldingRange", json!({"textDocument": {"uri": file_uri(&root.join("shop.star"))}}));
    assert!(shop.as_array().is_some_and(|f| f.iter().any(|f| f["startLine"] == 1 && f["endLine"] == 3)), "{shop}");
    let missing = client.request_raw(
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": file_uri(&root.join("missing.ospec.yml"))}}),
    );
    assert_eq!(missing["result"], Value::Null, "{missing}");
    // Past the size cap: nothing, like every other feature.
    let uri = "file:///tmp/ospecc-lsp-folding-huge.ospec.yml";
    client.open(uri, "yaml", 1, &"a:\n  b: \"0123456789 abcdefghijklmnopqrstuvwxyz 0123456789\"\n".repeat(100_000));
    let huge = client.request_raw("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
    assert_eq!(huge["result"], Value::Null);
    assert!(client.shutdown().success());
}

/// `workspace/symbol`'s answer as (name, file name, line).
fn found_symbols(result: &Value) -> Vec<(String, String, u64)> {
    let items = result.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|s| {
            let uri = s["location"]["uri"].as_str().unwrap_or_default();
            let file = uri.rsplit('/').next().unwrap_or_default().to_string();
            let line = s["location"]["range"]["start"]["line"].as_u64().unwrap_or_default();
            (s["name"].as_str().unwrap_or_default().to_string(), file, line)
        })
        .collect()
}

#[test]
fn workspace_symbols_across_languages_with_open_documents_over_the_disk() {
    let (_project, root) = feature_project();
    std::fs::write(root.join("shop.ospec.yml"), "name: shop\ntasks:\n  - id: seed_database\n  - id: apigen\n").unwrap();
    let (mut client, init) = Client::start(&[&root], fast(), json!({}));
    assert_eq!(init["capabilities"]["workspaceSymbolProvider"], true, "{init}");
    let query = |client: &mut Client, q: &str| found_symbols(&client.request("workspace/symbol", json!({"query": q})));
    // A service in the topology (exact match first), a task in the spec by subsequence.
    let api = query(&mut client, "API");
    assert_eq!(api.first(), Some(&("api".to_string(), "shop.star".to_string(), 4)), "{api:?}");
    assert!(api.iter().any(|s| s.0 == "apigen" && s.1 == "shop.ospec.yml"), "{api:?}");
    assert_eq!(query(&mut client, "sddb"), [("seed_database".to_string(), "shop.ospec.yml".to_string(), 2)]);
    // Functions of a loaded module, interfaces, registrations.
    let all = query(&mut client, "");
    for name in ["helper", "create_user", "pg", "http", "disk_full", "db"] {
        assert!(all.iter().any(|s| s.0 == name), "{name} missing from {all:?}");
    }
    assert!(!all.iter().any(|s| s.0 == "lib/helpers.star" || s.0 == "name"), "{all:?}");
    // An open document overrides the disk; an unsaved one counts too.
    let spec = file_uri(&root.join("shop.ospec.yml"));
    client.open(&spec, "yaml", 1, "tasks:\n  - id: migrate_database\n");
    let db = query(&mut client, "database");
    assert_eq!(db, [("migrate_database".to_string(), "shop.ospec.yml".to_string(), 1)]);
    client.open(&file_uri(&root.join("new.star")), "starlark", 1, "def fresh_check():\n    pass\n");
    assert_eq!(query(&mut client, "fresh").len(), 1);
    assert!(query(&mut client, "zzzz-no-such").is_empty());
    assert!(client.shutdown().success());
}

/// The time one `workspace/symbol` takes over the benchmark's generated 1,000-file workspace
/// (`OSPECC_WS_BENCH=DIR` names the `workspace/` folder `bench/lsp/generate.py` wrote).
#[test]
#[ignore]
fn workspace_symbols_timing() {
    let Some(dir) = std::env::var_os("OSPECC_WS_BENCH") else { return };
    let root = PathBuf::from(dir).canonicalize().unwrap();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    // The first discovery: wait for the indexing's end (progress is not asked for, so poll).
    let mut count = 0;
    for attempt in 0..600 {
        let started = Instant::now();
        count = client.request("workspace/symbol", json!({"query": ""})).as_array().map_or(0, Vec::len);
        eprintln!("cold attempt {attempt}: {count} symbols in {:?}", started.elapsed());
        if count > 0 {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    for (round, q) in ["", "orders", "usvc", "", "orders"].iter().enumerate() {
        let started = Instant::now();
        let result = client.request("workspace/symbol", json!({"query": q}));
        let n = result.as_array().map_or(0, Vec::len);
        eprintln!("round {round} query {q:?}: {n} symbols in {:?}", started.elapsed());
    }
    eprintln!("(first answer had {count} symbols)");
    assert!(client.shutdown().success());
}

// ---- Formatting: the server's edits, applied as a client applies them, give what `ospecc fmt`
// writes.

/// `text` with LSP `edits` (UTF-16 positions into `text`, not overlapping) applied.
fn apply_edits(text: &str, edits: &Value) -> String {
    let at = |p: &Value| offset_of(text, p["line"].as_u64().unwrap(), p["character"].as_u64().unwrap(), false);
    let mut spans: Vec<(usize, usize, &str)> = edits
        .as_array()
        .expect("an array of edits")
        .iter()
        .map(|e| (at(&e["range"]["start"]), at(&e["range"]["end"]), e["newText"].as_str().unwrap()))
        .collect();
    spans.sort_by_key(|s| s.0);
    let mut out = String::new();
    let mut from = 0;
    for (start, end, new_text) in spans {
        assert!(start >= from && end >= start, "overlapping or inverted edits: {edits}");
        out.push_str(&text[from..start]);
        out.push_str(new_text);
        from = end;
    }
    out + &text[from..]
}

/// What `ospecc fmt` writes for `text` as a file called `name` (no ospecc.toml).
fn fmt_cli(name: &str, text: &str) -> String {
    let args = ["fmt", "--no-config", "--stdin-filename", name, "-"];
    let out = ospecc_with(&repo_root(), &args, Some(text.as_bytes()), &[], TIMEOUT);
    out.expect(0);
    out.stdout
}

fn format_request(client: &mut Client, uri: &str) -> Value {
    client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 8, "insertSpaces": false}}),
    )
}

/// Range formatting of the lines `first..=last`, whole (the last up to its line break).
fn range_format_request(client: &mut Client, uri: &str, text: &str, (first, last): (usize, usize)) -> Value {
    let width =
        text.split_inclusive('\n').nth(last).map_or(0, |l| l.trim_end_matches(['\r', '\n']).encode_utf16().count());
    let range = json!({"start": {"line": first, "character": 0}, "end": {"line": last, "character": width}});
    let params = json!({"textDocument": {"uri": uri}, "range": range, "options": {"tabSize": 2, "insertSpaces": true}});
    client.request("textDocument/rangeFormatting", params)
}

/// The formatting documents: the golden inputs of `tests/fmt.rs` (also with `\r\n` line breaks),
/// and files with no final line break whose last edit ends after an emoji (a UTF-16 column that
/// is not a byte column).
fn formatting_documents() -> Vec<(String, String)> {
    let mut documents: Vec<(String, String)> = ["messy.star", "messy.ospec.yml"]
        .iter()
        .map(|name| (name.to_string(), std::fs::read_to_string(repo_root().join("tests/fmt").join(name)).unwrap()))
        .collect();
    // The same with `\r\n` line breaks, which formatting keeps.
    let crlf: Vec<(String, String)> =
        documents.iter().map(|(name, text)| (format!("crlf-{name}"), text.replace('\n', "\r\n"))).collect();
    documents.extend(crlf);
    documents.push(("emoji.star".into(), "x=1\ny  =  \"😀 中文\"".into()));
    documents.push(("emoji.ospec.yml".into(), "name:   \"😀 中文\"\ntargets:\n-   name: api".into()));
    documents
}

#[test]
fn formatting_edits_give_what_ospecc_fmt_writes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    for (name, text) in formatting_documents() {
        let expected = fmt_cli(&name, &text);
        assert_ne!(expected, text, "{name}: the document is not already formatted");
        let uri = file_uri(&root.join(&name));
        let language = if name.ends_with(".star") { "starlark" } else { "yaml" };
        client.open(&uri, language, 1, &text);
        let edits = format_request(&mut client, &uri);
        assert!(!edits.as_array().unwrap().is_empty(), "{name}: {edits}");
        let formatted = apply_edits(&text, &edits);
        assert_eq!(formatted, expected, "{name}: the edits applied differ from `ospecc fmt`");
        assert_eq!(formatted.contains("\r\n"), text.contains("\r\n"), "{name}: the line breaks are kept");
        // The formatted document needs no more edits.
        client.change(&uri, 2, json!([{ "text": formatted }]));
        assert_eq!(format_request(&mut client, &uri), json!([]), "{name}: formatted twice");
    }
    assert!(client.shutdown().success());
}

/// Asserts `after` differs from `before` only on the lines `first..=last` of `before` (the
/// lines above are the same, and so are the lines below, counted from the end).
fn assert_only_lines_changed(name: &str, before: &str, after: &str, first: usize, last: usize) {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    assert_eq!(new[..first], old[..first], "{name}: a line above the range changed");
    let below = old.len() - last - 1;
    assert!(new.len() >= first + below, "{name}: lines below the range are gone");
    assert_eq!(new[new.len() - below..], old[old.len() - below..], "{name}: a line below the range changed");
}

#[test]
fn range_formatting_changes_only_the_lines_the_range_touches() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    // Three lines out of layout; the range touches the middle one: only it changes.
    let cases = [
        ("three.star", "x=1\ny=f(a,b)\nz=[1,2]\n", (1, 1), "x=1\ny = f(a, b)\nz=[1,2]\n"),
        (
            "three.ospec.yml",
            "name:    shop\ndescription:    \"😀\"\nversion:   \"1\"\n",
            (1, 1),
            "name:    shop\ndescription: \"😀\"\nversion:   \"1\"\n",
        ),
        // A range over one line of a block: the block's re-indented lines go together (one of
        // them alone would change the meaning); the sequence below stays as written.
        (
            "block.ospec.yml",
            "acceptance:\n    - id: a\n      run: x\ntargets:\n-   name: api\n",
            (1, 1),
            "acceptance:\n  - id: a\n    run: x\ntargets:\n-   name: api\n",
        ),
    ];
    for (name, text, lines, expected) in cases {
        let uri = file_uri(&root.join(name));
        client.open(&uri, "plaintext", 1, text);
        let edits = range_format_request(&mut client, &uri, text, lines);
        assert_eq!(apply_edits(text, &edits), expected, "{name}: {edits}");
    }
    // The golden inputs, every line as a range in turn: whatever comes back changes nothing
    // outside the lines its edits touch, and those edits touch the range.
    for (name, text) in formatting_documents() {
        let uri = file_uri(&root.join(&name));
        client.open(&uri, "plaintext", 1, &text);
        let whole = apply_edits(&text, &format_request(&mut client, &uri));
        let mut partial_ranges = 0;
        for (line, content) in text.split_inclusive('\n').enumerate() {
            if content.trim().is_empty() {
                continue; // An empty range: whatever meets its point, above or below.
            }
            let edits = range_format_request(&mut client, &uri, &text, (line, line));
            let (mut first, mut last) = (line, line);
            let line = line as u64;
            for edit in edits.as_array().unwrap() {
                let (start, end) = (&edit["range"]["start"], &edit["range"]["end"]);
                let start_line = start["line"].as_u64().unwrap();
                // An edit ends at the start of the line after its last one (or at the text's end).
                let end_line = match end["character"].as_u64().unwrap() {
                    0 => end["line"].as_u64().unwrap().saturating_sub(1).max(start_line),
                    _ => end["line"].as_u64().unwrap(),
                };
                assert!(
                    start_line <= line && line <= end_line.max(start_line),
                    "{name}: line {line}: {edit} misses the range"
                );
                first = first.min(start_line as usize);
                last = last.max(end_line as usize);
            }
            let after = apply_edits(&text, &edits);
            assert_only_lines_changed(&format!("{name} line {line}"), &text, &after, first, last);
            partial_ranges += usize::from(after != whole && after != text);
        }
        assert!(partial_ranges > 0, "{name}: no range gave a partial formatting");
    }
    assert!(client.shutdown().success());
}

#[test]
fn a_document_with_syntax_errors_gets_no_formatting_edits() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    for (name, text) in
        [("bad.ospec.yml", "a: [1,\nb:   2\n"), ("bad.star", "x  = (1,\ny=2\n"), ("bad2.star", "def f(:\n  pass\n")]
    {
        let uri = file_uri(&root.join(name));
        client.open(&uri, "plaintext", 1, text);
        for method in ["textDocument/formatting", "textDocument/rangeFormatting"] {
            let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}});
            let params =
                json!({"textDocument": {"uri": uri}, "range": range, "options": {"tabSize": 4, "insertSpaces": true}});
            let result = client.request(method, params);
            assert!(result.is_null() || result == json!([]), "{name} {method}: {result}");
        }
    }
    // The server is still there and still formats.
    let uri = file_uri(&root.join("ok.star"));
    client.open(&uri, "starlark", 1, "x=1\n");
    assert_eq!(apply_edits("x=1\n", &format_request(&mut client, &uri)), "x = 1\n");
    assert!(client.shutdown().success());
}

#[test]
fn references_and_rename_follow_a_loaded_name_across_files() {
    let project = common::project(&[
        ("lib.star", b"def make(name):\n    return name\n\nRETRIES = 3\n"),
        ("a.star", b"load(\"lib.star\", \"make\")\nx = make(\"a\")\ny = make(\"b\")\n"),
        ("b.star", b"load(\"lib.star\", mk = \"make\")\nz = mk(\"c\")\n"),
    ]);
    let root = project.path().canonicalize().unwrap();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    let lib = std::fs::read_to_string(root.join("lib.star")).unwrap();
    let refs = at_cursor(
        &mut client,
        &root,
        "lib.star",
        &lib.replacen("make", "ma|ke", 1),
        "textDocument/references",
        json!({"context": {"includeDeclaration": true}}),
    );
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for location in refs.as_array().unwrap() {
        let uri = location["uri"].as_str().unwrap();
        *per_file.entry(uri.rsplit('/').next().unwrap().to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> =
        [("lib.star", 1), ("a.star", 3), ("b.star", 1)].iter().map(|(f, n)| (f.to_string(), *n)).collect();
    assert_eq!(per_file, expected, "{refs}");

    // Rename from a use in an importer: prepareRename names the range, rename edits every file.
    let a = std::fs::read_to_string(root.join("a.star")).unwrap();
    let uri = file_uri(&root.join("a.star"));
    let (text, position) = cursor(&a.replacen("make(\"a\")", "ma|ke(\"a\")", 1));
    client.open(&uri, "starlark", 1, &text);
    let at = json!({"textDocument": {"uri": uri}, "position": position});
    let range = client.request("textDocument/prepareRename", at.clone());
    assert_eq!(range["start"], json!({"line": 1, "character": 4}), "{range}");
    let mut params = at.clone();
    params["newName"] = json!("build");
    let edit = client.request("textDocument/rename", params);
    let changes = edit["changes"].as_object().unwrap();
    let count = |file: &str| changes[&file_uri(&root.join(file))].as_array().map_or(0, Vec::len);
    assert_eq!((count("lib.star"), count("a.star"), count("b.star")), (1, 3, 1), "{edit}");
    // Refusals say why: a name taken in the defining file, a name that is not a name.
    for (new_name, why) in [("RETRIES", "already a name"), ("1x", "not a valid name")] {
        let mut params = at.clone();
        params["newName"] = json!(new_name);
        let response = client.request_raw("textDocument/rename", params);
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{new_name}: {response}");
    }
    assert!(client.shutdown().success());
}

/// How many locations (or edits) each file got, by file name.
fn count_per_file(locations: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for location in locations {
        let uri = location["uri"].as_str().unwrap_or_default();
        *out.entry(uri.rsplit('/').next().unwrap_or_default().to_string()).or_default() += 1;
    }
    out
}

fn per_file(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(f, n)| (f.to_string(), *n)).collect()
}

#[test]
fn references_and_rename_follow_an_ospec_service_into_its_topology_and_every_spec() {
    let topology = "db = service(\"db\", \"bin\", interface(\"pg\", \"postgres\", 5432))\napi = service(\"api\", \"bin\", interface(\"http\", \"http\", 8080), depends_on = [\"db\"])\n";
    let a = "topology: t.star\nservices:\n  api:\n    dependencies: [db]\n  db: {}\ntasks:\n  - id: setup\n    title: Set up\n  - id: build\n    title: Build it\n    dependencies: [setup]\n";
    let b = "topology: t.star\nacceptance:\n  service_health:\n    - service: db\n      endpoint: /h\n";
    let project = common::project(&[
        ("t.star", topology.as_bytes()),
        ("a.ospec.yml", a.as_bytes()),
        ("b.ospec.yml", b.as_bytes()),
    ]);
    let root = project.path().canonicalize().unwrap();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    let everywhere = per_file(&[("a.ospec.yml", 2), ("b.ospec.yml", 1), ("t.star", 2)]);
    let with_declaration = json!({"context": {"includeDeclaration": true}});
    // From the spec's `services:` key and from the topology's `service("db", …)`: the same places.
    for (file, marked) in
        [("a.ospec.yml", a.replacen("db: {}", "d|b: {}", 1)), ("t.star", topology.replacen("\"db\"", "\"d|b\"", 1))]
    {
        let refs = at_cursor(&mut client, &root, file, &marked, "textDocument/references", with_declaration.clone());
        assert_eq!(count_per_file(refs.as_array().unwrap()), everywhere, "from {file}: {refs}");
    }
    let uses = at_cursor(
        &mut client,
        &root,
        "b.ospec.yml",
        &b.replacen("service: db", "service: d|b", 1),
        "textDocument/references",
        json!({"context": {"includeDeclaration": false}}),
    );
    let expected = per_file(&[("a.ospec.yml", 1), ("b.ospec.yml", 1), ("t.star", 1)]);
    assert_eq!(count_per_file(uses.as_array().unwrap()), expected, "{uses}");

    // Rename from a spec's use: prepareRename names the range, rename edits every file.
    let uri = file_uri(&root.join("b.ospec.yml"));
    let (text, position) = cursor(&b.replacen("service: db", "service: d|b", 1));
    client.open(&uri, "yaml", 1, &text);
    let at = json!({"textDocument": {"uri": uri}, "position": position});
    let range = client.request("textDocument/prepareRename", at.clone());
    assert_eq!(range, json!({"start": {"line": 3, "character": 15}, "end": {"line": 3, "character": 17}}), "{range}");
    let mut params = at.clone();
    params["newName"] = json!("postgres");
    let edit = client.request("textDocument/rename", params);
    let changes = edit["changes"].as_object().unwrap();
    let edits: Vec<Value> = changes
        .iter()
        .flat_map(|(uri, list)| list.as_array().unwrap().iter().map(move |e| json!({"uri": uri, "edit": e})))
        .collect();
    assert_eq!(count_per_file(&edits), everywhere, "{edit}");
    assert!(edits.iter().all(|e| e["edit"]["newText"] == "postgres"), "{edit}");
    let topology_edits = &changes[&file_uri(&root.join("t.star"))];
    assert_eq!(apply_edits(topology, topology_edits), topology.replace("\"db\"", "\"postgres\""), "{edit}");
    // Refusals say why: a name another service has, a name that is not a service name.
    for (new_name, why) in [("api", "already a service"), ("a b", "not a valid service name")] {
        let mut params = at.clone();
        params["newName"] = json!(new_name);
        let response = client.request_raw("textDocument/rename", params);
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{new_name}: {response}");
    }

    // A task id with its `dependencies` entries, in its spec; a taken id is refused.
    let uri = file_uri(&root.join("a.ospec.yml"));
    let (text, position) = cursor(&a.replacen("[setup]", "[se|tup]", 1));
    client.open(&uri, "yaml", 1, &text);
    let at = json!({"textDocument": {"uri": uri}, "position": position});
    let mut params = at.clone();
    params["newName"] = json!("prepare");
    let edit = client.request("textDocument/rename", params);
    assert_eq!(apply_edits(a, &edit["changes"][&uri]), a.replace("setup", "prepare"), "{edit}");
    let mut params = at.clone();
    params["newName"] = json!("build");
    let response = client.request_raw("textDocument/rename", params);
    assert!(response["error"]["message"].as_str().unwrap_or_default().contains("already a task"), "{response}");
    // `topology:` names a file: prepareRename refuses with the reason.
    let (_, position) = cursor(&a.replacen("t.star", "t.s|tar", 1));
    let response =
        client.request_raw("textDocument/prepareRename", json!({"textDocument": {"uri": uri}, "position": position}));
    assert!(response["error"]["message"].as_str().unwrap_or_default().contains("names a file"), "{response}");
    assert!(client.shutdown().success());
}

/// Completion inside YAML flow collections and around block scalars, and inside Starlark
/// list literals, over the wire: the labels, and the edit of a flow mapping's key (in place,
/// `key: `, not a block snippet). `>` scalars here, as `|` marks the cursor.
#[test]
fn completion_in_flow_collections_and_after_block_scalars() {
    let (_project, root) = feature_project();
    let (mut client, _) = Client::start(&[&root], fast(), json!({}));
    let labels = |result: &Value| -> Vec<String> {
        let items = result.get("items").unwrap_or(result);
        let mut labels: Vec<String> =
            items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect();
        labels.sort();
        labels
    };
    let mut complete =
        |file: &str, marked: &str| at_cursor(&mut client, &root, file, marked, "textDocument/completion", json!({}));
    let result = complete("f.ospec.yml", "metadata: {license: MIT, ver|}\n");
    assert_eq!(labels(&result), ["version"], "{result}");
    let item = &result.get("items").unwrap_or(&result)[0];
    assert_eq!(item["textEdit"]["newText"], json!("version: "), "{item}");
    assert_eq!(item["textEdit"]["range"]["start"], json!({"line": 0, "character": 25}), "{item}");
    assert_ne!(item["insertTextFormat"], json!(2), "{item}");
    let spec = "services:\n  web: {}\n  cache: {}\n  api:\n    depends_on: [web, |]\n";
    assert_eq!(labels(&complete("f.ospec.yml", spec)), ["api", "cache", "web"]);
    let result = complete("f.ospec.yml", "tasks: [{id: a, title: b}, {id: c, ti|}]\n");
    assert_eq!(labels(&result), ["title"], "{result}");
    let result = complete("f.ospec.yml", "description: >\n  some text\noutc|\n");
    assert_eq!(labels(&result), ["outcome", "outcome_type"], "{result}");
    let result = complete("f.ospec.yml", "description: >\n  some te|\n");
    assert!(labels(&result).is_empty(), "{result}");
    let star = "x = service(\"x\", \"bin\", depends_on = [|])\n";
    let got = labels(&complete("f.star", &format!("{FEATURE_TOPOLOGY}{star}")));
    assert!(got.contains(&"db".to_string()) && !got.iter().any(|l| l.ends_with('=')), "{got:?}");
    assert!(client.shutdown().success());
}
