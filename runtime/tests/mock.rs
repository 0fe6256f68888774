//! In-process HTTP mocks (`runtime::mock`), exercised over real sockets with a real client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ospecc_runtime::events::EventLog;
use ospecc_runtime::mock::{self, DynamicHandler, MockError, MockHandle, MockReply, MockRequest};
use ospecc_schema::plan::Service;
use serde_json::{json, Value};

/// A mock service as the plan writes it, with `interfaces` as (name, protocol, port).
fn service(name: &str, interfaces: &[(&str, &str, u16)], routes: Value, default: Value) -> Service {
    let interfaces: Vec<Value> =
        interfaces.iter().map(|(n, p, port)| json!({ "name": n, "protocol": p, "port": port })).collect();
    serde_json::from_value(json!({
        "name": name,
        "origin": { "file": "mocks.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": routes, "default": default },
        "interfaces": interfaces,
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .expect("a valid plan service")
}

fn route(key: &str, response: Value) -> Value {
    json!({ "key": key, "response": response })
}

/// Records what it was asked and answers from the request.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, MockRequest)>>,
}

impl DynamicHandler for Recorder {
    fn respond(&self, callable_id: &str, request: &MockRequest) -> MockReply {
        self.seen.lock().unwrap().push((callable_id.to_owned(), request.clone()));
        match request.path.as_str() {
            "/panic" => panic!("the handler failed"),
            "/bad-status" => MockReply { status: 0, headers: Vec::new(), body: Vec::new() },
            "/slow" => {
                std::thread::sleep(Duration::from_millis(300));
                MockReply { status: 200, headers: Vec::new(), body: b"slow".to_vec() }
            }
            path => MockReply {
                status: 202,
                headers: vec![("X-Echo".to_owned(), request.method.clone()), ("Bad Header".to_owned(), "x".to_owned())],
                body: format!("{}|{}|{}", path, request.query, request.body).into_bytes(),
            },
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap()
}

fn url(address: SocketAddr, path: &str) -> String {
    format!("http://{address}{path}")
}

async fn start(service: &Service) -> (MockHandle, Arc<Recorder>, EventLog) {
    let recorder = Arc::new(Recorder::default());
    let events = EventLog::default();
    let handle = mock::serve(service, recorder.clone(), events.clone(), None).await.expect("the mock starts");
    (handle, recorder, events)
}

fn payments() -> Service {
    service(
        "payments",
        &[("http", "http", 0)],
        json!([
            route("GET /health", json!({ "kind": "status", "status": 204 })),
            route(
                "POST /charges",
                json!({ "kind": "json", "status": 201, "body": { "id": "ch_1", "paid": true },
                                           "headers": [["X-Mock", "yes"]] })
            ),
            route(
                "GET /charges/{id}",
                json!({ "kind": "dynamic", "callable": { "id": "mocks.star#lookup", "name": "lookup" } })
            ),
            route("GET /charges/latest", json!({ "kind": "text", "status": 200, "body": "the latest", "headers": [] })),
            route("GET /legacy", json!({ "kind": "redirect", "location": "/charges", "status": 301 })),
            route(
                "GET /version",
                json!({ "kind": "text", "status": 200, "body": "1.0", "headers": [["Content-Type", "text/x-version"]] })
            ),
            route("GET /raw", json!({ "kind": "other", "builtin": "bytes_response" })),
            route("* /any/**", json!({ "kind": "status", "status": 299 })),
        ]),
        json!({ "kind": "json", "status": 418, "body": { "error": "no route" }, "headers": [] }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_routes_answer_as_declared() {
    let (handle, _, _) = start(&payments()).await;
    let address = handle.address();
    assert_eq!(address.ip().to_string(), "127.0.0.1");
    let http = client();

    let health = http.get(url(address, "/health")).send().await.unwrap();
    assert_eq!(health.status(), 204);

    let created = http.post(url(address, "/charges")).body("{}").send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["content-type"], "application/json");
    assert_eq!(created.headers()["x-mock"], "yes");
    assert_eq!(created.json::<Value>().await.unwrap(), json!({ "id": "ch_1", "paid": true }));

    // The exact route wins over the `{id}` pattern declared before it.
    let latest = http.get(url(address, "/charges/latest")).send().await.unwrap();
    assert_eq!(latest.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(latest.text().await.unwrap(), "the latest");

    let legacy = http.get(url(address, "/legacy")).send().await.unwrap();
    assert_eq!(legacy.status(), 301);
    assert_eq!(legacy.headers()["location"], "/charges");

    let version = http.get(url(address, "/version")).send().await.unwrap();
    assert_eq!(version.headers()["content-type"], "text/x-version", "a declared Content-Type is kept");
    assert_eq!(version.text().await.unwrap(), "1.0");

    let any = http.delete(url(address, "/any/deeply/nested")).send().await.unwrap();
    assert_eq!(any.status(), 299);

    // Unmatched (wrong method, unknown path) → the default.
    let wrong_method = http.put(url(address, "/health")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 418);
    let unknown = http.get(url(address, "/nowhere?x=1")).send().await.unwrap();
    assert_eq!(unknown.status(), 418);
    assert_eq!(unknown.json::<Value>().await.unwrap(), json!({ "error": "no route" }));

    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_default_unmatched_requests_get_a_json_404() {
    let svc = service(
        "m",
        &[("http", "http", 0)],
        json!([route("GET /a", json!({ "kind": "status", "status": 200 }))]),
        Value::Null,
    );
    let (handle, _, events) = start(&svc).await;
    let response = client().post(url(handle.address(), "/b")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no route for POST /b");
    handle.stop().await;
    let logged = events.since(0);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].fields["route"], Value::Null);
    assert_eq!(logged[0].fields["status"], 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_routes_call_the_handler_with_the_request() {
    let (handle, recorder, _) = start(&payments()).await;
    let response = client()
        .get(url(handle.address(), "/charges/ch_9?expand=true"))
        .header("X-Trace", "t-1")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["x-echo"], "GET");
    assert!(response.headers().get("bad header").is_none(), "an invalid header name is left out");
    assert_eq!(response.text().await.unwrap(), "/charges/ch_9|expand=true|hello");

    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (callable, request) = &seen[0];
    assert_eq!(callable, "mocks.star#lookup");
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/charges/ch_9");
    assert_eq!(request.query, "expand=true");
    assert!(request.headers.contains(&("x-trace".to_owned(), "t-1".to_owned())), "{:?}", request.headers);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_failures_are_500s_and_the_mock_keeps_serving() {
    let svc = service(
        "m",
        &[("http", "http", 0)],
        json!([route("* /{what}", json!({ "kind": "dynamic", "callable": { "id": "m.star#f", "name": "f" } }))]),
        Value::Null,
    );
    let (handle, _, events) = start(&svc).await;
    let http = client();
    let panicked = http.get(url(handle.address(), "/panic")).send().await.unwrap();
    assert_eq!(panicked.status(), 500);
    let body: Value = panicked.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("m.star#f"), "{body}");
    let bad = http.get(url(handle.address(), "/bad-status")).send().await.unwrap();
    assert_eq!(bad.status(), 500);
    let fine = http.get(url(handle.address(), "/fine")).send().await.unwrap();
    assert_eq!(fine.status(), 202);
    handle.stop().await;
    let errors: Vec<_> = events.since(0).into_iter().filter(|e| e.fields.contains_key("error")).collect();
    // Two handler failures, and the invalid header of the good answer.
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_response_kinds_answer_501() {
    let (handle, _, _) = start(&payments()).await;
    let response = client().get(url(handle.address(), "/raw")).send().await.unwrap();
    assert_eq!(response.status(), 501);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("bytes_response"), "{body}");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_a_mock_request_event() {
    let (handle, _, events) = start(&payments()).await;
    let http = client();
    http.get(url(handle.address(), "/health")).send().await.unwrap();
    http.post(url(handle.address(), "/charges")).send().await.unwrap();
    http.get(url(handle.address(), "/nope?q=1")).send().await.unwrap();
    handle.stop().await;
    let logged = events.since(0);
    assert_eq!(logged.len(), 3);
    assert!(logged.iter().all(|e| e.kind == "mock_request" && e.service == "payments"));
    let summary: Vec<(Value, Value, Value, Value)> = logged
        .iter()
        .map(|e| {
            (
                e.fields["method"].clone(),
                e.fields["path"].clone(),
                e.fields["status"].clone(),
                e.fields["route"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!("GET"), json!("/health"), json!(204), json!("GET /health")),
            (json!("POST"), json!("/charges"), json!(201), json!("POST /charges")),
            (json!("GET"), json!("/nope"), json!(418), Value::Null),
        ]
    );
    assert_eq!(logged[2].fields["query"], "q=1");
    assert_eq!(logged[0].fields["interface"], "http");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn dynamic_handlers_run_off_the_async_workers() {
    // One worker thread: handlers that block it would run one after another.
    let svc = service(
        "m",
        &[("http", "http", 0)],
        json!([route("GET /slow", json!({ "kind": "dynamic", "callable": { "id": "m.star#slow", "name": "slow" } }))]),
        Value::Null,
    );
    let (handle, _, _) = start(&svc).await;
    let http = client();
    let started = Instant::now();
    let requests = (0..6).map(|_| {
        let http = http.clone();
        let target = url(handle.address(), "/slow");
        tokio::spawn(async move { http.get(target).send().await.unwrap().status() })
    });
    for request in requests.collect::<Vec<_>>() {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_interface_is_served_and_stop_frees_the_ports() {
    let svc = service(
        "m",
        &[("public", "http", 0), ("admin", "http2", 0)],
        json!([route("GET /", json!({ "kind": "status", "status": 200 }))]),
        Value::Null,
    );
    let (handle, _, events) = start(&svc).await;
    let addresses: Vec<(String, SocketAddr)> = handle.addresses().to_vec();
    assert_eq!(addresses.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["public", "admin"]);
    assert_eq!(handle.address(), addresses[0].1);
    assert_eq!(handle.service(), "m");
    let http = client();
    for (_, address) in &addresses {
        assert_eq!(http.get(url(*address, "/")).send().await.unwrap().status(), 200);
    }
    handle.stop().await;
    assert_eq!(
        events.since(0).iter().map(|e| e.fields["interface"].clone()).collect::<Vec<_>>(),
        [json!("public"), json!("admin")]
    );
    for (_, address) in &addresses {
        assert!(tokio::net::TcpStream::connect(address).await.is_err(), "{address} still accepts");
        // The same port can be served again at once.
        std::net::TcpListener::bind(address).expect("the port is free again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_ports_are_bound_and_a_busy_port_is_an_error() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    let svc = service("fixed", &[("http", "http", port)], json!([]), Value::Null);
    // The port is taken by `probe`.
    let error = mock::serve(&svc, Arc::new(Recorder::default()), EventLog::default(), None).await.unwrap_err();
    assert!(matches!(error, MockError::Bind { .. }), "{error}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");
    drop(probe);
    let (handle, _, _) = start(&svc).await;
    assert_eq!(handle.address(), SocketAddr::from(([127, 0, 0, 1], port)));
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_lets_a_request_in_flight_finish() {
    let svc = service(
        "m",
        &[("http", "http", 0)],
        json!([route("GET /slow", json!({ "kind": "dynamic", "callable": { "id": "m.star#slow", "name": "slow" } }))]),
        Value::Null,
    );
    let (handle, _, _) = start(&svc).await;
    let target = url(handle.address(), "/slow");
    let in_flight = tokio::spawn(async move { client().get(target).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    handle.stop().await;
    assert!(started.elapsed() < mock::STOP_GRACE + Duration::from_secs(1));
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_closes_the_listener() {
    let svc = service("m", &[("http", "http", 0)], json!([]), Value::Null);
    let (handle, _, _) = start(&svc).await;
    let address = handle.address();
    drop(handle);
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < deadline, "{address} still accepts after the handle was dropped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn what_cannot_be_served_is_an_error_before_anything_binds() {
    let handler: Arc<dyn DynamicHandler> = Arc::new(Recorder::default());
    let udp = service("rpc", &[("http", "http", 0), ("api", "udp", 0)], json!([]), Value::Null);
    let error = mock::serve(&udp, handler.clone(), EventLog::default(), None).await.unwrap_err();
    assert!(
        matches!(&error, MockError::Protocol { protocol, interface, .. } if protocol == "udp" && interface == "api")
    );
    assert!(error.to_string().contains("`udp`"), "{error}");

    let bad_key = service(
        "m",
        &[("http", "http", 0)],
        json!([route("http", json!({ "kind": "other", "builtin": "unknown" }))]),
        Value::Null,
    );
    let error = mock::serve(&bad_key, handler.clone(), EventLog::default(), None).await.unwrap_err();
    assert!(matches!(&error, MockError::Setup { reason, .. } if reason.contains("route `http`")), "{error}");

    let bad_status = service(
        "m",
        &[("http", "http", 0)],
        json!([route("GET /", json!({ "kind": "status", "status": 42 }))]),
        Value::Null,
    );
    let error = mock::serve(&bad_status, handler.clone(), EventLog::default(), None).await.unwrap_err();
    assert!(matches!(&error, MockError::Setup { .. }), "{error}");
    assert!(error.to_string().contains("42"), "{error}");

    let no_interfaces = service("m", &[], json!([]), Value::Null);
    let error = mock::serve(&no_interfaces, handler.clone(), EventLog::default(), None).await.unwrap_err();
    assert!(matches!(&error, MockError::NoInterfaces { .. }), "{error}");

    let mut binary = service("bin", &[("http", "http", 0)], json!([]), Value::Null);
    binary.launch = serde_json::from_value(json!({ "kind": "binary", "path": "/bin/true", "args": [] })).unwrap();
    let error = mock::serve(&binary, handler, EventLog::default(), None).await.unwrap_err();
    assert!(matches!(&error, MockError::NotAMock { .. }), "{error}");
}

/// The mock of the plan fixture (tests/plans/mocks.star, lowered by the compiler) serves as
/// its routes say; only the port is changed to a free one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_plan_mock_serves() {
    let plan = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plans/golden/mocks.plan.json");
    let Ok(text) = std::fs::read_to_string(&plan) else {
        println!("SKIP: {} is absent", plan.display());
        return;
    };
    let plan: Value = serde_json::from_str(&text).unwrap();
    let mut payments = plan["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["launch"]["kind"] == "mock")
        .expect("the fixture has a mock")
        .clone();
    for iface in payments["interfaces"].as_array_mut().unwrap() {
        iface["port"] = json!(0);
    }
    let payments: Service = serde_json::from_value(payments).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    struct Counting(Arc<AtomicUsize>);
    impl DynamicHandler for Counting {
        fn respond(&self, _: &str, request: &MockRequest) -> MockReply {
            self.0.fetch_add(1, Ordering::SeqCst);
            MockReply { status: 200, headers: Vec::new(), body: request.path.clone().into_bytes() }
        }
    }
    let handle = mock::serve(&payments, Arc::new(Counting(calls.clone())), EventLog::default(), None).await.unwrap();
    let http = client();
    assert_eq!(http.get(url(handle.address(), "/health")).send().await.unwrap().status(), 200);
    assert_eq!(http.post(url(handle.address(), "/charges")).send().await.unwrap().status(), 201);
    assert_eq!(
        http.get(url(handle.address(), "/charges/ch_7")).send().await.unwrap().text().await.unwrap(),
        "/charges/ch_7"
    );
    assert_eq!(http.get(url(handle.address(), "/legacy")).send().await.unwrap().status(), 301);
    assert_eq!(http.get(url(handle.address(), "/version")).send().await.unwrap().text().await.unwrap(), "1.0");
    assert_eq!(http.get(url(handle.address(), "/missing")).send().await.unwrap().status(), 404);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    handle.stop().await;
}

#[tokio::test]
async fn garbage_and_half_requests_close_their_connection_with_one_event() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (handle, _, events) = start(&payments()).await;
    let address = handle.address();
    for bytes in [&b"\x00\x01GARBAGE \xff\r\n\r\n"[..], &b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Len"[..]] {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        // A half request: the peer gives up (closes its side) mid-message.
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    }
    // A well-behaved client is still served, and a plain connect-and-close is no error.
    drop(tokio::net::TcpStream::connect(address).await.unwrap());
    let status = client().get(url(address, "/health")).send().await.unwrap().status();
    assert_eq!(status, 204);
    // The close can reach the client before the mock's task has logged why: wait for both.
    let logged = || events.since(0).into_iter().filter(|e| e.kind == "mock_error").count();
    let deadline = Instant::now() + Duration::from_secs(5);
    while logged() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let errors: Vec<_> = events.since(0).into_iter().filter(|e| e.kind == "mock_error").collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.service == "payments" && e.fields["interface"] == "http"), "{errors:?}");
    handle.stop().await;
}
