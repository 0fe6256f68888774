//! The gRPC mock, the `grpc.call` step client, h2c on HTTP mocks and the gRPC fault proxy,
//! over real sockets. Clients: grpcio (Python; `tests/deps/grpc.sh` installs it and
//! grpcio-tools, whose protoc writes the descriptor sets; those tests print SKIP without it),
//! a hyper HTTP/2 client written here, `curl --http2-prior-knowledge` when curl is installed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::faults::rules::{Active, Install};
use ospecc_runtime::mock::{self, DynamicHandler, MockHandle, MockReply, MockRequest};
use ospecc_runtime::proxy::{Edge, Proxy, ProxyRules};
use ospecc_schema::plan::topology::{Matcher, ProxyAction, ProxyRule};
use ospecc_schema::plan::{Origin, Service};
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// The test service: typed methods for the descriptor set.
const SHOP_PROTO: &str = r#"syntax = "proto3";
package shop.v1;
message GetItemRequest { string id = 1; int32 qty = 2; }
message Item { string id = 1; string name = 2; int64 price = 3; repeated string tags = 4; bool in_stock = 5; }
service Shop {
  rpc GetItem(GetItemRequest) returns (Item);
  rpc Broken(GetItemRequest) returns (Item);
  rpc Echo(GetItemRequest) returns (Item);
  rpc Any(GetItemRequest) returns (Item);
}
"#;

/// A mock service as the plan writes it.
fn service(name: &str, port: u16, routes: Value, default: Value, descriptors: Option<&Path>) -> Service {
    let mut launch = json!({ "kind": "mock", "routes": routes, "default": default });
    if let Some(path) = descriptors {
        launch["descriptors"] = json!(path.to_string_lossy());
    }
    serde_json::from_value(json!({
        "name": name,
        "origin": { "file": "mocks.star", "line": 1, "column": 1 },
        "launch": launch,
        "interfaces": [{ "name": "main", "protocol": "grpc", "port": port }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .expect("a valid plan service")
}

fn route(key: &str, response: Value) -> Value {
    json!({ "key": key, "response": response })
}

fn struct_reply(body: Value) -> Value {
    json!({ "kind": "grpc", "body": body, "typed": false })
}

fn grpc_error(code: u32, message: &str) -> Value {
    json!({ "kind": "grpc_error", "code": code, "message": message })
}

fn dynamic(id: &str) -> Value {
    json!({ "kind": "dynamic", "callable": { "id": id, "name": "handler" } })
}

/// Answers `Echo` from the decoded request; records what it saw.
#[derive(Default)]
struct Echo {
    seen: Mutex<Vec<MockRequest>>,
}

impl DynamicHandler for Echo {
    fn respond(&self, _: &str, request: &MockRequest) -> MockReply {
        self.seen.lock().unwrap().push(request.clone());
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if body["id"] == "fail" {
            return MockReply {
                status: 200,
                headers: vec![("grpc-status".into(), "NOT_FOUND".into()), ("grpc-message".into(), "no fail".into())],
                body: Vec::new(),
            };
        }
        let qty = body["qty"].as_f64().unwrap_or(0.0) as i64;
        let reply = json!({ "id": body["id"], "name": "echo", "price": qty * 100 });
        MockReply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: reply.to_string().into_bytes(),
        }
    }
}

async fn start(service: &Service, handler: Arc<dyn DynamicHandler>) -> (MockHandle, EventLog) {
    let events = EventLog::default();
    let handle = mock::serve(service, handler, events.clone(), None).await.expect("the mock starts");
    (handle, events)
}

fn of_kind(events: &EventLog, kind: &str) -> Vec<Event> {
    events.since(0).into_iter().filter(|e| e.kind == kind).collect()
}

// ------------------------------------------------------------------ protoc and grpcio

/// Whether grpcio and grpcio-tools import; prints the SKIP line when not.
fn grpcio_present(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools.protoc, google.protobuf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIP {test}: python3 with grpcio and grpcio-tools is absent (bash tests/deps/grpc.sh installs them)"
        );
    }
    ok
}

/// Writes shop.proto and runs protoc: `shop.pb` (the descriptor set) and `shop_pb2.py`.
fn protoc(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("shop.proto"), SHOP_PROTO).unwrap();
    let out = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(dir)
        .arg(format!("--descriptor_set_out={}", dir.join("shop.pb").display()))
        .arg("--include_imports")
        .arg(format!("--python_out={}", dir.display()))
        .arg(dir.join("shop.proto"))
        .output()
        .unwrap();
    assert!(out.status.success(), "protoc failed: {}", String::from_utf8_lossy(&out.stderr));
    dir.join("shop.pb")
}

/// The grpcio client: one JSON line per call (`code` by name, `reply` as a dict or `details`).
const CLIENT_PY: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[2])
import grpc
from google.protobuf import json_format, struct_pb2
import shop_pb2

channel = grpc.insecure_channel(sys.argv[1])

def call(name, method, request, reply_type, metadata=None):
    stub = channel.unary_unary(method,
        request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
        response_deserializer=(lambda b: b) if reply_type is None else reply_type.FromString)
    try:
        reply = stub(request, timeout=10, metadata=metadata)
        if reply_type is None:
            out = {"code": "OK", "reply": reply.hex()}
        else:
            out = {"code": "OK", "reply": json_format.MessageToDict(reply, preserving_proto_field_name=True)}
    except grpc.RpcError as e:
        out = {"code": e.code().name, "details": e.details()}
    out["call"] = name
    print(json.dumps(out), flush=True)

req = shop_pb2.GetItemRequest(id="7", qty=3)
calls = sys.argv[3].split(",")
for name in calls:
    if name == "typed":
        call(name, "/shop.v1.Shop/GetItem", req, shop_pb2.Item)
    elif name == "struct":
        call(name, "/flags.v1.Flags/Get", struct_pb2.Struct(), struct_pb2.Struct)
    elif name == "error":
        call(name, "/shop.v1.Shop/Broken", req, shop_pb2.Item)
    elif name == "unknown":
        call(name, "/shop.v1.Other/Nope", req, shop_pb2.Item)
    elif name == "dynamic":
        call(name, "/shop.v1.Shop/Echo", req, shop_pb2.Item, metadata=[("x-user", "ada")])
    elif name == "dynamic_error":
        call(name, "/shop.v1.Shop/Echo", shop_pb2.GetItemRequest(id="fail"), shop_pb2.Item)
    elif name == "pattern":
        call(name, "/shop.v1.Shop/Any", req, shop_pb2.Item)
    elif name == "health":
        call(name, "/grpc.health.v1.Health/Check", b"", None)
"#;

/// Runs the grpcio client against `address`; the lines by call name.
fn grpcio(dir: &Path, address: SocketAddr, calls: &[&str]) -> Vec<Value> {
    std::fs::write(dir.join("client.py"), CLIENT_PY).unwrap();
    let out = Command::new("timeout")
        .arg("60")
        .arg("python3")
        .arg(dir.join("client.py"))
        .arg(address.to_string())
        .arg(dir)
        .arg(calls.join(","))
        .output()
        .unwrap();
    assert!(out.status.success(), "the grpcio client failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn line<'a>(lines: &'a [Value], call: &str) -> &'a Value {
    lines.iter().find(|l| l["call"] == call).unwrap_or_else(|| panic!("no `{call}` in {lines:?}"))
}

fn shop_service(descriptors: &Path) -> Service {
    let item = json!({ "id": "42", "name": "widget", "price": 1999, "tags": ["a", "b"], "in_stock": true });
    service(
        "shop",
        0,
        json!([
            route("/shop.v1.Shop/GetItem", json!({ "kind": "grpc", "body": item, "typed": true })),
            route("/flags.v1.Flags/Get", struct_reply(json!({ "enabled": true, "variant": "B" }))),
            route("/shop.v1.Shop/Broken", grpc_error(5, "no such item")),
            route("/shop.v1.Shop/Echo", dynamic("mocks.star#handler")),
            route("/shop.v1.Shop/*", json!({ "kind": "grpc", "body": { "id": "any" }, "typed": true })),
        ]),
        Value::Null,
        Some(descriptors),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_gets_typed_struct_error_unimplemented_dynamic_and_health_replies() {
    if !grpcio_present("grpcio_gets_typed_struct_error_unimplemented_dynamic_and_health_replies") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let descriptors = protoc(dir.path());
    let echo = Arc::new(Echo::default());
    let (handle, events) = start(&shop_service(&descriptors), echo.clone()).await;
    let address = handle.address();
    let calls = ["typed", "struct", "error", "unknown", "dynamic", "dynamic_error", "pattern", "health"];
    let dir_path = dir.path().to_owned();
    let lines = tokio::task::spawn_blocking(move || grpcio(&dir_path, address, &calls)).await.unwrap();

    let typed = line(&lines, "typed");
    assert_eq!(typed["code"], "OK", "{typed}");
    assert_eq!(
        typed["reply"],
        json!({ "id": "42", "name": "widget", "price": "1999", "tags": ["a", "b"], "in_stock": true })
    );
    assert_eq!(line(&lines, "struct")["reply"], json!({ "enabled": true, "variant": "B" }));
    assert_eq!(line(&lines, "error")["code"], "NOT_FOUND");
    assert_eq!(line(&lines, "error")["details"], "no such item");
    assert_eq!(line(&lines, "unknown")["code"], "UNIMPLEMENTED");
    let dynamic = line(&lines, "dynamic");
    assert_eq!(dynamic["reply"], json!({ "id": "7", "name": "echo", "price": "300" }), "{dynamic}");
    assert_eq!(line(&lines, "dynamic_error")["code"], "NOT_FOUND");
    assert_eq!(line(&lines, "dynamic_error")["details"], "no fail");
    assert_eq!(line(&lines, "pattern")["reply"], json!({ "id": "any" }));
    assert_eq!(line(&lines, "health")["reply"], "0801");

    // The handler saw the typed request as JSON, with the call's metadata.
    let seen = echo.seen.lock().unwrap().clone();
    assert_eq!(serde_json::from_str::<Value>(&seen[0].body).unwrap(), json!({ "id": "7", "qty": 3 }));
    assert_eq!(seen[0].path, "/shop.v1.Shop/Echo");
    assert!(seen[0].headers.iter().any(|(n, v)| n == "x-user" && v == "ada"), "{:?}", seen[0].headers);
    assert!(seen[0].headers.iter().any(|(n, v)| n == "content-type" && v.starts_with("application/grpc")));

    let requests = of_kind(&events, "mock_request");
    let codes: Vec<(String, u64)> = requests
        .iter()
        .map(|e| (e.fields["method"].as_str().unwrap().to_owned(), e.fields["code"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("/shop.v1.Shop/GetItem".to_owned(), 0),
            ("/flags.v1.Flags/Get".to_owned(), 0),
            ("/shop.v1.Shop/Broken".to_owned(), 5),
            ("/shop.v1.Other/Nope".to_owned(), 12),
            ("/shop.v1.Shop/Echo".to_owned(), 0),
            ("/shop.v1.Shop/Echo".to_owned(), 5),
            ("/shop.v1.Shop/Any".to_owned(), 0),
            ("/grpc.health.v1.Health/Check".to_owned(), 0),
        ]
    );
    assert!(requests.iter().all(|e| e.service == "shop" && e.fields["interface"] == "main"));
    assert_eq!(requests[6].fields["route"], "/shop.v1.Shop/*");
    assert!(of_kind(&events, "mock_error").is_empty());
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_that_cannot_serve_the_routes_are_refused_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("shop.proto.txt");
    std::fs::write(&text, SHOP_PROTO).unwrap();
    let typed = |key: &str| json!([route(key, json!({ "kind": "grpc", "body": {}, "typed": true }))]);
    let handler: Arc<dyn DynamicHandler> = Arc::new(Echo::default());
    let refused = |service: Service| {
        let handler = handler.clone();
        async move { mock::serve(&service, handler, EventLog::default(), None).await.unwrap_err().to_string() }
    };

    let error = refused(service("m", 0, typed("/shop.v1.Shop/GetItem"), Value::Null, Some(&text))).await;
    assert!(
        error.contains("not a protobuf FileDescriptorSet") || error.contains("holds no file descriptor"),
        "{error}"
    );
    let error = refused(service("m", 0, typed("/shop.v1.Shop/GetItem"), Value::Null, None)).await;
    assert!(error.contains("needs the mock's `descriptors=`"), "{error}");
    let error = refused(service("m", 0, json!([route("GET /x", struct_reply(json!({})))]), Value::Null, None)).await;
    assert!(error.contains("not a gRPC method path"), "{error}");
    let json_reply = json!({ "kind": "json", "status": 200, "body": {}, "headers": [] });
    let error = refused(service("m", 0, json!([route("/a.B/C", json_reply)]), Value::Null, None)).await;
    assert!(error.contains("not json_response"), "{error}");
    let error = refused(service("m", 0, json!([route("/a.B/C", grpc_error(99, "x"))]), Value::Null, None)).await;
    assert!(error.contains("99 is not a gRPC status code"), "{error}");

    if !grpcio_present("descriptors_that_cannot_serve_the_routes_are_refused_before_binding (typed part)") {
        return;
    }
    let descriptors = protoc(dir.path());
    let error = refused(service("m", 0, typed("/shop.v1.Shop/Missing"), Value::Null, Some(&descriptors))).await;
    assert!(error.contains("`/shop.v1.Shop/Missing` is not in the mock's descriptors"), "{error}");
    let bad_body =
        json!([route("/shop.v1.Shop/GetItem", json!({ "kind": "grpc", "body": { "nope": 1 }, "typed": true }))]);
    let error = refused(service("m", 0, bad_body, Value::Null, Some(&descriptors))).await;
    assert!(error.contains("not a `shop.v1.Item`"), "{error}");
}

// ------------------------------------------------------------------ a hyper HTTP/2 client

/// One h2c connection; calls are unary.
struct H2 {
    sender: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
}

/// (grpc-status, grpc-message, the reply message).
type Called = (u32, String, Option<Vec<u8>>);

impl H2 {
    async fn connect(address: SocketAddr) -> H2 {
        let stream = TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        H2 { sender }
    }

    async fn call(&mut self, method: &str, message: &[u8]) -> Result<Called, String> {
        let mut framed = vec![0];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(message);
        self.send(method, framed).await
    }

    async fn send(&mut self, method: &str, framed: Vec<u8>) -> Result<Called, String> {
        let request = hyper::Request::post(format!("http://mock{method}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from(framed)))
            .unwrap();
        let response = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
        assert_eq!(response.status(), 200);
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.map_err(|e| e.to_string())?;
        let trailers = collected.trailers().cloned().unwrap_or(parts.headers);
        let bytes = collected.to_bytes();
        let code = trailers["grpc-status"].to_str().unwrap().parse().unwrap();
        let message = trailers.get("grpc-message").map(|m| m.to_str().unwrap().to_owned()).unwrap_or_default();
        let reply = (bytes.len() >= 5).then(|| bytes[5..].to_vec());
        Ok((code, message, reply))
    }
}

fn struct_bytes(json: Value) -> Vec<u8> {
    let desc = DescriptorPool::global().get_message_by_name("google.protobuf.Struct").unwrap();
    prost::Message::encode_to_vec(&DynamicMessage::deserialize(desc, json).unwrap())
}

fn struct_json(bytes: &[u8]) -> Value {
    let desc = DescriptorPool::global().get_message_by_name("google.protobuf.Struct").unwrap();
    serde_json::to_value(DynamicMessage::decode(desc, bytes).unwrap()).unwrap()
}

fn flags() -> Service {
    service(
        "flags",
        0,
        json!([
            route("/flags.v1.Flags/Get", struct_reply(json!({ "enabled": true, "variant": "B" }))),
            route("/flags.v1.Flags/Fail", grpc_error(14, "backend down: 100%")),
            route("/flags.v1.Flags/Raw", json!({ "kind": "grpc_raw", "body": "\u{8}*" })),
            route("/flags.v1.Flags/Echo", dynamic("mocks.star#echo")),
            route("/grpc.health.v1.Health/Check", grpc_error(14, "draining")),
        ]),
        Value::Null,
        None,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_h2_client_gets_structs_raw_bytes_statuses_and_dynamic_replies() {
    let echo = Arc::new(Echo::default());
    let (handle, events) = start(&flags(), echo.clone()).await;
    let mut client = H2::connect(handle.address()).await;

    let (code, _, reply) = client.call("/flags.v1.Flags/Get", &[]).await.unwrap();
    assert_eq!((code, struct_json(&reply.unwrap())), (0, json!({ "enabled": true, "variant": "B" })));
    let (code, message, reply) = client.call("/flags.v1.Flags/Fail", &[]).await.unwrap();
    assert_eq!((code, message.as_str(), reply), (14, "backend down: 100%25", None));
    assert_eq!(client.call("/flags.v1.Flags/Raw", &[]).await.unwrap().2, Some(vec![8, b'*']));
    assert_eq!(client.call("/flags.v1.Flags/Nope", &[]).await.unwrap().0, 12);
    // Routed health answers as routed.
    assert_eq!(client.call("/grpc.health.v1.Health/Check", &[]).await.unwrap().0, 14);
    // Without descriptors the handler gets a Struct request as JSON, and its JSON reply is sent
    // as a Struct.
    let (code, _, reply) =
        client.call("/flags.v1.Flags/Echo", &struct_bytes(json!({ "id": "9", "qty": 2 }))).await.unwrap();
    assert_eq!((code, struct_json(&reply.unwrap())), (0, json!({ "id": "9", "name": "echo", "price": 200.0 })));
    assert_eq!(
        serde_json::from_str::<Value>(&echo.seen.lock().unwrap()[0].body).unwrap(),
        json!({ "id": "9", "qty": 2.0 })
    );

    // A compressed message is refused with a status; a half message is INTERNAL.
    let (code, message, _) = client.send("/flags.v1.Flags/Get", vec![1, 0, 0, 0, 1, 7]).await.unwrap();
    assert_eq!(code, 12, "{message}");
    assert!(message.contains("compressed"), "{message}");
    let (code, message, _) = client.send("/flags.v1.Flags/Get", vec![0, 0, 0, 0, 9, 1]).await.unwrap();
    assert_eq!(code, 13, "{message}");

    let requests = of_kind(&events, "mock_request");
    assert_eq!(requests.len(), 8);
    assert_eq!(requests[6].fields["code"], 12);
    assert!(requests[6].fields["error"].as_str().unwrap().contains("compressed"));
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_answers_unrouted_methods_and_health_serves_unless_routed() {
    let default = struct_reply(json!({ "fallback": true }));
    let mock = service("m", 0, json!([]), default, None);
    let (handle, events) = start(&mock, Arc::new(Echo::default())).await;
    let mut client = H2::connect(handle.address()).await;
    let (code, _, reply) = client.call("/any.Svc/Thing", &[]).await.unwrap();
    assert_eq!((code, struct_json(&reply.unwrap())), (0, json!({ "fallback": true })));
    let (code, _, reply) = client.call("/grpc.health.v1.Health/Check", &[]).await.unwrap();
    assert_eq!((code, reply), (0, Some(vec![0x08, 0x01])));
    assert_eq!(of_kind(&events, "mock_request")[0].fields["route"], Value::Null);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_client_calls_the_mock() {
    use ospecc_runtime::steps::grpc::unary;
    let (handle, _) = start(&flags(), Arc::new(Echo::default())).await;
    let metadata = [("x-user".to_owned(), "ada".to_owned())];
    let reply = unary(handle.address(), "/flags.v1.Flags/Get", &[], &metadata, WAIT).await.unwrap();
    assert_eq!((reply.code, struct_json(&reply.body.unwrap())), (0, json!({ "enabled": true, "variant": "B" })));
    let reply = unary(handle.address(), "/flags.v1.Flags/Fail", &[], &[], WAIT).await.unwrap();
    assert_eq!((reply.code, reply.message.as_str(), reply.body), (14, "backend down: 100%", None));
    let reply = unary(handle.address(), "/x.Y/Z", &[], &[], WAIT).await.unwrap();
    assert_eq!(reply.code, 12);
    // Nothing listening: an error, not a panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    assert!(unary(closed, "/x.Y/Z", &[], &[], WAIT).await.unwrap_err().contains("connect"));
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_one_mock_error_and_other_connections_are_served() {
    let (handle, events) = start(&flags(), Arc::new(Echo::default())).await;
    let mut client = H2::connect(handle.address()).await;

    let mut garbage = TcpStream::connect(handle.address()).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let read =
        tokio::time::timeout(WAIT, garbage.read_to_end(&mut rest)).await.expect("the mock closes the connection");
    assert!(read.is_ok() || rest.is_empty());
    // A preface followed by frames that are not HTTP/2.
    let mut broken = TcpStream::connect(handle.address()).await.unwrap();
    broken.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").await.unwrap();
    let _ = tokio::time::timeout(WAIT, broken.read_to_end(&mut rest)).await.expect("the mock closes the connection");
    // A TCP health check (connect, close) is not an error.
    drop(TcpStream::connect(handle.address()).await.unwrap());
    // Half a preface, then silence: closed after a while.
    let mut half = TcpStream::connect(handle.address()).await.unwrap();
    half.write_all(b"PRI * HT").await.unwrap();
    let _ = tokio::time::timeout(WAIT, half.read_to_end(&mut rest)).await.expect("the mock closes the connection");

    assert_eq!(client.call("/flags.v1.Flags/Get", &[]).await.unwrap().0, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let errors = of_kind(&events, "mock_error");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].fields["error"].as_str().unwrap().contains("not HTTP/2"), "{errors:?}");
    assert!(errors[2].fields["error"].as_str().unwrap().contains("half an HTTP/2 preface"), "{errors:?}");
    assert!(errors.iter().all(|e| e.service == "flags" && e.fields["interface"] == "main"));
    handle.stop().await;
}

// ------------------------------------------------------------------ the mock-demo flags mock

/// The `flags` mock of Faultbox's mock-demo (poc/mock-demo/faultbox.star: grpc_response and
/// grpc_error routes, no descriptors), lowered by the compiler from the same routes, serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_demo_flags_mock_is_served() {
    use ospecc_compiler::plan::{self, PlanInput, PlanOptions};
    use ospecc_compiler::vfs::MemoryFs;
    let demo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/faultbox-corpus/poc/mock-demo/faultbox.star");
    if let Ok(text) = std::fs::read_to_string(&demo) {
        // The inline spec below copies these routes; fail if the demo changed them.
        for needle in [
            "\"/flags.v1.Flags/Get\":  grpc_response(",
            "grpc_error(code = \"UNAVAILABLE\", message = \"backend down\")",
        ] {
            assert!(text.contains(needle), "the mock-demo no longer has {needle}");
        }
    } else {
        eprintln!("note: {} is absent; the inline copy of its flags mock is tested alone", demo.display());
    }
    let spec = r#"
flags_stub = mock_service("flags",
    interface("main", "grpc", 21351),
    routes = {
        "/flags.v1.Flags/Get":  grpc_response(body = {"enabled": True, "variant": "B"}),
        "/flags.v1.Flags/List": grpc_response(body = {
            "flags": [
                {"name": "rollout",  "enabled": True},
                {"name": "darkmode", "enabled": False},
            ],
        }),
        "/flags.v1.Flags/Fail": grpc_error(code = "UNAVAILABLE", message = "backend down"),
    },
)
def test_flags():
    pass
"#;
    let path = Path::new("/ws/spec.star");
    let fs = MemoryFs::default().with_file(path, spec);
    let options = PlanOptions::default();
    let input = PlanInput { path, text: spec, fs: &fs, root: Path::new("/ws"), options: &options };
    let built = plan::build(&input);
    let plan = built.plan.unwrap_or_else(|| panic!("no plan: {:#?}", built.diagnostics));
    let flags = plan.services.iter().find(|s| s.name == "flags").unwrap();
    let (handle, events) = start(flags, Arc::new(Echo::default())).await;
    assert_eq!(handle.address().port(), 21351);
    let mut client = H2::connect(handle.address()).await;
    let (code, _, reply) = client.call("/flags.v1.Flags/Get", &[]).await.unwrap();
    assert_eq!((code, struct_json(&reply.unwrap())), (0, json!({ "enabled": true, "variant": "B" })));
    let (code, _, reply) = client.call("/flags.v1.Flags/List", &[]).await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        struct_json(&reply.unwrap()),
        json!({ "flags": [{ "name": "rollout", "enabled": true }, { "name": "darkmode", "enabled": false }] })
    );
    let (code, message, _) = client.call("/flags.v1.Flags/Fail", &[]).await.unwrap();
    assert_eq!((code, message.as_str()), (14, "backend down"));
    assert_eq!(of_kind(&events, "mock_request").len(), 3);
    handle.stop().await;
}

// ------------------------------------------------------------------ h2c on HTTP mocks

fn http_mock(protocol: &str) -> Service {
    serde_json::from_value(json!({
        "name": "api",
        "origin": { "file": "mocks.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": [
            route("GET /hello", json!({ "kind": "json", "status": 200, "body": { "hi": 1 }, "headers": [] }))
        ], "default": null },
        "interfaces": [{ "name": "main", "protocol": protocol, "port": 0 }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mocks_serve_h2c_with_prior_knowledge_and_http1() {
    for protocol in ["http2", "http"] {
        let (handle, events) = start(&http_mock(protocol), Arc::new(Echo::default())).await;
        let address = handle.address();
        // hyper's HTTP/2 client (prior knowledge).
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::get(format!("http://{address}/hello")).body(Full::new(Bytes::new())).unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!((response.status().as_u16(), response.version()), (200, hyper::Version::HTTP_2));
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), &br#"{"hi":1}"#[..]);
        // HTTP/1.1 on the same port.
        let http1 = reqwest::Client::builder().no_proxy().build().unwrap();
        let response = http1.get(format!("http://{address}/hello")).send().await.unwrap();
        assert_eq!((response.status().as_u16(), response.version()), (200, reqwest::Version::HTTP_11));
        // curl, when installed.
        match Command::new("curl").arg("--version").output() {
            Ok(o) if o.status.success() => {
                let out = tokio::task::spawn_blocking(move || {
                    Command::new("curl")
                        .args(["-s", "--max-time", "10", "--http2-prior-knowledge", "-w", " %{http_version}"])
                        .arg(format!("http://{address}/hello"))
                        .output()
                        .unwrap()
                })
                .await
                .unwrap();
                assert_eq!(String::from_utf8_lossy(&out.stdout), r#"{"hi":1} 2"#);
            }
            _ => eprintln!("SKIP (curl part): curl is absent"),
        }
        assert!(of_kind(&events, "mock_request").len() >= 2);
        handle.stop().await;
    }
}

// ------------------------------------------------------------------ the gRPC proxy

fn install(rules: &ProxyRules, action: ProxyAction, method: &str) -> Arc<Active<ProxyRule>> {
    let rule = ProxyRule {
        service: "flags".into(),
        interface: "main".into(),
        protocol: "grpc".into(),
        action,
        matchers: vec![Matcher { field: "method".into(), glob: method.into() }],
        probability: 1.0,
        assumption: "test".into(),
        origin: Origin { file: "t.star".into(), line: 1, column: 1 },
    };
    rules.install(Install { rule, scope: "scope-1".into(), probability: 1.0, max_fires: None })
}

async fn proxied() -> (MockHandle, EventLog, Proxy, ProxyRules, EventLog) {
    let (handle, mock_events) = start(&flags(), Arc::new(Echo::default())).await;
    let edge = Edge {
        consumer: "api".into(),
        service: "flags".into(),
        interface: "main".into(),
        protocol: "grpc".into(),
        upstream: handle.address(),
    };
    let rules = ProxyRules::new(1);
    let events = EventLog::default();
    let proxy = Proxy::start(edge, rules.clone(), events.clone()).await.unwrap();
    (handle, mock_events, proxy, rules, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_relays_and_applies_error_delay_drop_duplicate_on_method_globs() {
    let (handle, mock_events, proxy, rules, events) = proxied().await;
    let mut client = H2::connect(proxy.addr()).await;
    // Pass-through, trailers included.
    let (code, _, reply) = client.call("/flags.v1.Flags/Get", &[]).await.unwrap();
    assert_eq!((code, struct_json(&reply.unwrap())), (0, json!({ "enabled": true, "variant": "B" })));
    assert_eq!(client.call("/flags.v1.Flags/Fail", &[]).await.unwrap().0, 14);

    let error =
        install(&rules, ProxyAction::Error { status: Some(7), message: Some("denied".into()) }, "/flags.v1.Flags/G*");
    let (code, message, reply) = client.call("/flags.v1.Flags/Get", &[]).await.unwrap();
    assert_eq!((code, message.as_str(), reply), (7, "denied", None));
    rules.remove(error.id);

    let delay = install(&rules, ProxyAction::Delay { ms: 300 }, "/flags.v1.Flags/*");
    let started = Instant::now();
    assert_eq!(client.call("/flags.v1.Flags/Get", &[]).await.unwrap().0, 0);
    assert!(started.elapsed() >= Duration::from_millis(300));
    rules.remove(delay.id);

    let drop_rule = install(&rules, ProxyAction::Drop, "/flags.v1.Flags/Get");
    let dropped = client.call("/flags.v1.Flags/Get", &[]).await;
    assert!(dropped.is_err(), "{dropped:?}");
    // The connection carries on: other methods pass.
    let mut client = H2::connect(proxy.addr()).await;
    assert_eq!(client.call("/flags.v1.Flags/Raw", &[]).await.unwrap().2, Some(vec![8, b'*']));
    rules.remove(drop_rule.id);

    let before = of_kind(&mock_events, "mock_request").len();
    let duplicate = install(&rules, ProxyAction::Duplicate, "/flags.v1.Flags/Get");
    assert_eq!(client.call("/flags.v1.Flags/Get", &[]).await.unwrap().0, 0);
    assert_eq!(of_kind(&mock_events, "mock_request").len(), before + 2);
    rules.remove(duplicate.id);

    let fired: Vec<(String, String)> = of_kind(&events, "proxy")
        .iter()
        .map(|e| (e.fields["action"].as_str().unwrap().to_owned(), e.fields["method"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("error", "Get"), ("delay", "Get"), ("drop", "Get"), ("duplicate", "Get")];
    assert_eq!(fired, expected.map(|(a, m)| (a.to_owned(), format!("/flags.v1.Flags/{m}"))));
    assert_eq!(of_kind(&events, "proxy")[0].fields["code"], 7);
    proxy.stop().await;
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_answers_grpcio_with_the_rule_status_and_refuses_garbage() {
    let (handle, _, proxy, rules, events) = proxied().await;
    let mut garbage = TcpStream::connect(proxy.addr()).await.unwrap();
    garbage.write_all(b"hello there, not http/2 at all\r\n\r\n\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, garbage.read_to_end(&mut rest)).await.expect("the proxy closes it");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(of_kind(&events, "proxy_error").len(), 1);

    if !grpcio_present("the_proxy_answers_grpcio_with_the_rule_status_and_refuses_garbage (grpcio part)") {
        proxy.stop().await;
        handle.stop().await;
        return;
    }
    install(
        &rules,
        ProxyAction::Error { status: Some(14), message: Some("unavailable now".into()) },
        "/flags.v1.*/Get",
    );
    let dir = tempfile::tempdir().unwrap();
    protoc(dir.path());
    let (dir_path, address) = (dir.path().to_owned(), proxy.addr());
    let lines = tokio::task::spawn_blocking(move || grpcio(&dir_path, address, &["struct", "health"])).await.unwrap();
    assert_eq!(line(&lines, "struct")["code"], "UNAVAILABLE");
    assert_eq!(line(&lines, "struct")["details"], "unavailable now");
    // Health is routed to UNAVAILABLE in `flags`; the relayed status reaches grpcio.
    assert_eq!(line(&lines, "health")["code"], "UNAVAILABLE");
    assert_eq!(line(&lines, "health")["details"], "draining");
    proxy.stop().await;
    handle.stop().await;
}

// ------------------------------------------------------------------ measurements

/// Unary latency over one connection (~1000 calls) and mock start-up time, printed for the
/// record; the bounds only catch a mock gone pathological.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_start_up_are_measured() {
    let started = Instant::now();
    let (handle, _) = start(&flags(), Arc::new(Echo::default())).await;
    let start_up = started.elapsed();
    let mut client = H2::connect(handle.address()).await;
    for _ in 0..50 {
        client.call("/flags.v1.Flags/Get", &[]).await.unwrap();
    }
    let mut samples = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t = Instant::now();
        let (code, _, _) = client.call("/flags.v1.Flags/Get", &[]).await.unwrap();
        samples.push(t.elapsed());
        assert_eq!(code, 0);
    }
    samples.sort();
    let (p50, p99) = (samples[499], samples[989]);
    eprintln!("MEASURE grpc mock: start-up {start_up:?}, unary p50 {p50:?}, p99 {p99:?} (1000 calls, one connection)");
    assert!(p50 < Duration::from_millis(50), "p50 {p50:?}");
    assert!(start_up < Duration::from_secs(2), "start-up {start_up:?}");
    handle.stop().await;

    if !grpcio_present("latency_and_start_up_are_measured (typed, grpcio part)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let descriptors = protoc(dir.path());
    let started = Instant::now();
    let (handle, _) = start(&shop_service(&descriptors), Arc::new(Echo::default())).await;
    let start_up = started.elapsed();
    std::fs::write(dir.path().join("bench.py"), BENCH_PY).unwrap();
    let (script, dir_path, address) = (dir.path().join("bench.py"), dir.path().to_owned(), handle.address());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout").arg("120").arg("python3").arg(script).arg(address.to_string()).arg(dir_path).output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let measured: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "MEASURE grpc mock with descriptors: start-up {start_up:?}; grpcio typed unary p50 {} ms, p99 {} ms (1000 calls)",
        measured["p50_ms"], measured["p99_ms"]
    );
    assert!(measured["p50_ms"].as_f64().unwrap() < 50.0, "{measured}");
    handle.stop().await;
}

/// 1000 typed unary calls from grpcio on one channel: p50 and p99 in milliseconds.
const BENCH_PY: &str = r#"
import json, sys, time
sys.path.insert(0, sys.argv[2])
import grpc
import shop_pb2
channel = grpc.insecure_channel(sys.argv[1])
stub = channel.unary_unary("/shop.v1.Shop/GetItem",
    request_serializer=lambda m: m.SerializeToString(), response_deserializer=shop_pb2.Item.FromString)
request = shop_pb2.GetItemRequest(id="7", qty=3)
for _ in range(50):
    stub(request, timeout=10)
samples = []
for _ in range(1000):
    t = time.perf_counter()
    stub(request, timeout=10)
    samples.append((time.perf_counter() - t) * 1000)
samples.sort()
print(json.dumps({"p50_ms": round(samples[499], 3), "p99_ms": round(samples[989], 3)}))
"#;

/// An h2c client (what `http2` steps speak) reaches an `http2` mock through the HTTP proxy,
/// and its rules apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_requests_pass_the_http_proxy() {
    let (handle, events) = start(&http_mock("http2"), Arc::new(Echo::default())).await;
    let edge = Edge {
        consumer: "test".into(),
        service: "api".into(),
        interface: "main".into(),
        protocol: "http2".into(),
        upstream: handle.address(),
    };
    let rules = ProxyRules::new(1);
    let proxy = Proxy::start(edge, rules.clone(), EventLog::default()).await.unwrap();
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let get =
        |path: &str| hyper::Request::get(format!("http://api.local{path}")).body(Full::new(Bytes::new())).unwrap();
    let response = sender.send_request(get("/hello?x=1")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), &br#"{"hi":1}"#[..]);
    let seen = of_kind(&events, "mock_request");
    assert_eq!((seen[0].fields["path"].as_str(), seen[0].fields["query"].as_str()), (Some("/hello"), Some("x=1")));
    let rule = ProxyRule {
        service: "api".into(),
        interface: "main".into(),
        protocol: "http2".into(),
        action: ProxyAction::Error { status: Some(503), message: None },
        matchers: vec![Matcher { field: "path".into(), glob: "/hello".into() }],
        probability: 1.0,
        assumption: "test".into(),
        origin: Origin { file: "t.star".into(), line: 1, column: 1 },
    };
    rules.install(Install { rule, scope: "s".into(), probability: 1.0, max_fires: None });
    assert_eq!(sender.send_request(get("/hello")).await.unwrap().status().as_u16(), 503);
    proxy.stop().await;
    handle.stop().await;
}
