//! The raw TCP mock (`runtime::mock`, protocol `tcp`): byte-prefix routes, the default,
//! dynamic routes and events, over std sockets and with `nc` (netcat-openbsd; skipped, saying
//! why, when it is not installed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ospecc_runtime::events::EventLog;
use ospecc_runtime::mock::{self, DynamicHandler, MockHandle, MockReply, MockRequest};
use ospecc_schema::plan::Service;
use serde_json::{json, Value};

/// Answers `echo:<body>`.
struct Echo;

impl DynamicHandler for Echo {
    fn respond(&self, callable_id: &str, request: &MockRequest) -> MockReply {
        if request.body.starts_with("BOOM") {
            panic!("the handler failed");
        }
        let body = format!("{callable_id}|{}|{}", request.method, request.body).into_bytes();
        MockReply { status: 0, headers: Vec::new(), body }
    }
}

fn service(routes: Value, default: Value) -> Service {
    serde_json::from_value(json!({
        "name": "legacy",
        "origin": { "file": "mocks.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": routes, "default": default },
        "interfaces": [{ "name": "raw", "protocol": "tcp", "port": 0 }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .expect("a valid plan service")
}

fn bytes(data: &str) -> Value {
    json!({"kind": "bytes", "status": 0, "data": data})
}

fn route(key: &str, response: Value) -> Value {
    json!({"key": key, "response": response})
}

struct Running {
    runtime: tokio::runtime::Runtime,
    handle: Option<MockHandle>,
    events: EventLog,
    address: SocketAddr,
}

impl Running {
    fn start(routes: Value, default: Value) -> Running {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let events = EventLog::default();
        let handle = runtime
            .block_on(mock::serve(&service(routes, default), Arc::new(Echo), events.clone(), None))
            .expect("the mock starts");
        let address = handle.address();
        Running { runtime, handle: Some(handle), events, address }
    }

    fn standard() -> Running {
        Running::start(
            json!([
                route("PING", bytes("PONG\n")),
                route("GET", bytes("short\n")),
                route("GET /long", bytes("long\n")),
                route("ECHO", json!({"kind": "dynamic", "callable": {"id": "spec.star#echo", "name": "echo"}})),
                route("BOOM", json!({"kind": "dynamic", "callable": {"id": "spec.star#boom", "name": "boom"}})),
                route("JSON", json!({"kind": "json", "status": 200, "body": {"ok": true}, "headers": []})),
            ]),
            bytes("?\n"),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.stop());
        }
    }
}

fn connect(address: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let socket = TcpStream::connect(address).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let reader = BufReader::new(socket.try_clone().unwrap());
    (socket, reader)
}

fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut text = String::new();
    reader.read_line(&mut text).unwrap();
    text
}

#[test]
fn routes_match_by_the_longest_prefix_and_lines_are_answered_in_order() {
    let mock = Running::standard();
    let (mut socket, mut reader) = connect(mock.address);
    socket.write_all(b"PING\nGET /long/x\nGET /short\nnothing\nJSON\n").unwrap();
    let answers: Vec<String> = (0..4).map(|_| line(&mut reader)).collect();
    assert_eq!(answers, ["PONG\n", "long\n", "short\n", "?\n"]);
    let mut json = [0; 11];
    reader.read_exact(&mut json).unwrap();
    assert_eq!(&json, br#"{"ok":true}"#);
    // A message without a newline is what one read brought.
    socket.write_all(b"PINGX").unwrap();
    assert_eq!(line(&mut reader), "PONG\n");
    let events: Vec<Value> = mock
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == "mock_request" && e.service == "legacy")
        .map(|e| json!([e.fields["route"], e.fields["size"], e.fields["interface"]]))
        .collect();
    assert_eq!(
        events[..4],
        [
            json!(["PING", 5, "raw"]),
            json!(["GET /long", 12, "raw"]),
            json!(["GET", 11, "raw"]),
            json!([null, 8, "raw"])
        ]
    );
}

#[test]
fn dynamic_routes_call_the_handler_and_a_failing_one_answers_nothing() {
    let mock = Running::standard();
    let (mut socket, mut reader) = connect(mock.address);
    socket.write_all(b"ECHO hi\n").unwrap();
    assert_eq!(line(&mut reader), "spec.star#echo|TCP|ECHO hi\n");
    socket.write_all(b"BOOM\nPING\n").unwrap();
    assert_eq!(line(&mut reader), "PONG\n", "the failed handler sent nothing; the connection lives on");
    let failed = mock.events.since(0).into_iter().find(|e| e.fields.get("route") == Some(&json!("BOOM"))).unwrap();
    assert!(failed.fields["error"].as_str().unwrap().contains("spec.star#boom"));
}

#[test]
fn without_a_default_an_unmatched_message_gets_no_answer() {
    let mock = Running::start(json!([route("PING", bytes("PONG\n"))]), Value::Null);
    let (mut socket, mut reader) = connect(mock.address);
    socket.write_all(b"HELLO\n").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut nothing = [0; 1];
    assert!(reader.get_mut().read(&mut nothing).is_err(), "no answer");
    socket.write_all(b"PING\n").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(line(&mut reader), "PONG\n");
}

#[test]
fn responses_tcp_cannot_send_are_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let routes = json!([route("X", json!({"kind": "status", "status": 204}))]);
    let error = runtime
        .block_on(mock::serve(&service(routes, Value::Null), Arc::new(Echo), EventLog::default(), None))
        .expect_err("refused");
    assert!(error.to_string().contains("route `X` answers an HTTP status"), "{error}");
}

#[test]
fn nc_talks_to_the_mock() {
    if Command::new("nc").arg("-h").stderr(Stdio::null()).stdout(Stdio::null()).status().is_err() {
        eprintln!("SKIP: nc is not installed (tests/deps/redis-tools.sh installs netcat-openbsd)");
        return;
    }
    let mock = Running::standard();
    let port = mock.address.port().to_string();
    let mut child = Command::new("timeout")
        .args(["20", "nc", "-N", "-w", "2", "127.0.0.1", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"PING\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "PONG\n");
}
