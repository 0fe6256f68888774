//! The protocol fault proxies end to end: pass-through and every action per protocol against
//! real peers (a hyper upstream, a TCP echo, redis-server and PostgreSQL when installed; those
//! tests print SKIP otherwise, `bash tests/services.sh` installs them), partitions, bad input,
//! and stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::faults::rules::{Active, Install};
use ospecc_runtime::proxy::{Edge, Proxy, ProxyRules};
use ospecc_schema::plan::topology::{Matcher, ProxyAction, ProxyRule};
use ospecc_schema::plan::Origin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(5);

fn edge(protocol: &str, upstream: SocketAddr) -> Edge {
    Edge { consumer: "api".into(), service: "db".into(), interface: "main".into(), protocol: protocol.into(), upstream }
}

fn install(rules: &ProxyRules, action: ProxyAction, matchers: &[(&str, &str)]) -> Arc<Active<ProxyRule>> {
    install_with(rules, action, matchers, None)
}

fn install_with(
    rules: &ProxyRules,
    action: ProxyAction,
    matchers: &[(&str, &str)],
    max_fires: Option<u64>,
) -> Arc<Active<ProxyRule>> {
    let rule = ProxyRule {
        service: "db".into(),
        interface: "main".into(),
        protocol: "any".into(),
        action,
        matchers: matchers
            .iter()
            .map(|(field, glob)| Matcher { field: (*field).into(), glob: (*glob).into() })
            .collect(),
        probability: 1.0,
        assumption: "test".into(),
        origin: Origin { file: "t.star".into(), line: 1, column: 1 },
    };
    rules.install(Install { rule, scope: "scope-1".into(), probability: 1.0, max_fires })
}

fn proxy_events(events: &EventLog, kind: &str) -> Vec<Event> {
    events.since(0).into_iter().filter(|e| e.kind == kind).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

// ---------------------------------------------------------------- HTTP

/// An upstream answering `<n> <method> <path> host=<host> body=<body>`, n counting requests.
async fn http_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let (addr, count, _) = http_upstream_counting().await;
    (addr, count)
}

/// [`http_upstream`], also counting the connections it accepted.
async fn http_upstream_counting() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));
    let (counter, accepted) = (count.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
                        let text = format!(
                            "{n} {} {} host={host} body={}",
                            parts.method,
                            parts.uri,
                            String::from_utf8_lossy(&body)
                        );
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, count, connections)
}

/// One request on a connection of its own: (status, body), or the error.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "svc.example:8080")
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(WAIT, exchange).await.map_err(|_| "timed out".to_string())?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_passes_through_and_applies_each_action() {
    let (upstream, count) = http_upstream().await;
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let proxy = Proxy::start(edge("http", upstream), rules.clone(), events.clone()).await.unwrap();
    let addr = proxy.addr();

    let (status, body) = http(addr, "POST", "/users?x=1", "hello").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "1 POST /users?x=1 host=svc.example:8080 body=hello");

    let respond = install(
        &rules,
        ProxyAction::Respond { status: Some(201), body: Some("canned".into()) },
        &[("method", "get"), ("path", "/canned/*")],
    );
    assert_eq!(http(addr, "GET", "/canned/1?q", "").await.unwrap(), (201, "canned".into()));
    assert_eq!(count.load(Ordering::SeqCst), 1, "a respond rule never reaches the upstream");
    rules.remove(respond.id);

    let error = install(&rules, ProxyAction::Error { status: None, message: Some("boom".into()) }, &[("path", "/e")]);
    assert_eq!(http(addr, "GET", "/e", "").await.unwrap(), (500, "boom".into()));
    rules.remove(error.id);
    let error = install(&rules, ProxyAction::Error { status: Some(503), message: None }, &[("query", "fail=*")]);
    assert_eq!(http(addr, "GET", "/q?fail=1", "").await.unwrap(), (503, "injected fault".into()));
    assert_eq!(http(addr, "GET", "/q?ok=1", "").await.unwrap().0, 200, "the query glob narrows");
    rules.remove(error.id);

    let delay = install(&rules, ProxyAction::Delay { ms: 300 }, &[("path", "/slow")]);
    let started = Instant::now();
    assert_eq!(http(addr, "GET", "/slow", "").await.unwrap().0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    rules.remove(delay.id);

    let drop_rule = install(&rules, ProxyAction::Drop, &[("path", "/drop")]);
    assert!(http(addr, "GET", "/drop", "").await.is_err(), "dropped without a response");
    rules.remove(drop_rule.id);

    let before = count.load(Ordering::SeqCst);
    let duplicate = install(&rules, ProxyAction::Duplicate, &[("method", "PUT")]);
    let (status, body) = http(addr, "PUT", "/twice", "payload").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(count.load(Ordering::SeqCst), before + 2);
    assert_eq!(body, format!("{} PUT /twice host=svc.example:8080 body=payload", before + 2), "the second response");
    rules.remove(duplicate.id);

    let fired = proxy_events(&events, "proxy");
    let actions: Vec<_> = fired.iter().map(|e| e.fields["action"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(actions, ["respond", "error", "error", "delay", "drop", "duplicate"]);
    let first = &fired[0];
    assert_eq!(first.service, "db");
    assert_eq!(first.fields["consumer"], "api");
    assert_eq!(first.fields["interface"], "main");
    assert_eq!(first.fields["protocol"], "http");
    assert_eq!(first.fields["method"], "GET");
    assert_eq!(first.fields["path"], "/canned/1");
    assert_eq!(first.fields["status"], 201);
    assert_eq!(first.fields["rule"], respond.id);
    assert_eq!(first.fields["scope"], "scope-1");
    assert_eq!(respond.fired(), 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keeps_one_upstream_connection_per_consumer_connection() {
    let (upstream, count, connections) = http_upstream_counting().await;
    let proxy = Proxy::start(edge("http", upstream), ProxyRules::new(1), EventLog::default()).await.unwrap();
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    for n in 1..=3 {
        let request = Request::builder().uri("/k").body(Full::new(Bytes::new())).unwrap();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).starts_with(&format!("{n} GET /k")));
    }
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(connections.load(Ordering::SeqCst), 1, "keep-alive is kept upstream too");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_upstream_refusing_answers_502_and_max_fires_come_from_the_table() {
    let refused: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let proxy = Proxy::start(edge("http", refused), rules.clone(), events.clone()).await.unwrap();
    let (status, body) = http(proxy.addr(), "GET", "/", "").await.unwrap();
    assert_eq!(status, 502);
    assert!(body.contains("unreachable"), "{body}");
    assert_eq!(proxy_events(&events, "proxy_error").len(), 1);

    let limited =
        install_with(&rules, ProxyAction::Respond { status: Some(418), body: None }, &[("path", "/limited")], Some(2));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(http(proxy.addr(), "GET", "/limited", "").await.unwrap().0);
    }
    assert_eq!(statuses, [418, 418, 502], "the third match passes through (to the dead upstream)");
    assert_eq!((limited.matched(), limited.fired()), (3, 2));
    proxy.stop().await;
}

// ---------------------------------------------------------------- TCP

async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Reads exactly `n` bytes within `within`; `None` on timeout or close.
async fn read_n(stream: &mut TcpStream, n: usize, within: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    match tokio::time::timeout(within, stream.read_exact(&mut buf)).await {
        Ok(Ok(_)) => Some(buf),
        _ => None,
    }
}

/// Whether the peer closes the connection within `WAIT` (EOF or reset, no data).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(WAIT, stream.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_relays_and_applies_connect_rules() {
    let upstream = echo_upstream().await;
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    // Any protocol without a plugin is a TCP relay.
    let proxy = Proxy::start(edge("amqp", upstream), rules.clone(), events.clone()).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    assert_eq!(read_n(&mut stream, 5, WAIT).await.as_deref(), Some(&b"hello"[..]));

    let delay = install(&rules, ProxyAction::Delay { ms: 250 }, &[]);
    let started = Instant::now();
    let mut slow = TcpStream::connect(proxy.addr()).await.unwrap();
    slow.write_all(b"x").await.unwrap();
    assert_eq!(read_n(&mut slow, 1, WAIT).await.as_deref(), Some(&b"x"[..]));
    assert!(started.elapsed() >= Duration::from_millis(250));
    rules.remove(delay.id);

    let drop_rule = install(&rules, ProxyAction::Drop, &[]);
    let mut dropped = TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(closed(&mut dropped).await);
    rules.remove(drop_rule.id);

    install(&rules, ProxyAction::Respond { status: None, body: Some("banner".into()) }, &[]);
    let mut answered = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_n(&mut answered, 6, WAIT).await.as_deref(), Some(&b"banner"[..]));
    assert!(closed(&mut answered).await);

    // The established connection is unaffected by later connect rules.
    stream.write_all(b"again").await.unwrap();
    assert_eq!(read_n(&mut stream, 5, WAIT).await.as_deref(), Some(&b"again"[..]));
    let actions: Vec<_> = proxy_events(&events, "proxy").iter().map(|e| e.fields["action"].clone()).collect();
    assert_eq!(actions, ["delay", "drop", "respond"]);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_method_rules_match_a_prefix_of_the_first_chunk() {
    let upstream = echo_upstream().await;
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let proxy = Proxy::start(edge("tcp", upstream), rules.clone(), events.clone()).await.unwrap();
    install(&rules, ProxyAction::Respond { status: None, body: Some("-DENIED\r\n".into()) }, &[("method", "PING")]);
    install(&rules, ProxyAction::Delay { ms: 250 }, &[("method", "slow*")]);
    install(&rules, ProxyAction::Duplicate, &[("method", "TWICE")]);
    install(&rules, ProxyAction::Drop, &[("topic", "*")]);

    let mut answered = TcpStream::connect(proxy.addr()).await.unwrap();
    answered.write_all(b"ping\r\nmore\n").await.unwrap();
    assert_eq!(read_n(&mut answered, 9, WAIT).await.as_deref(), Some(&b"-DENIED\r\n"[..]));
    assert!(closed(&mut answered).await);

    let started = Instant::now();
    let mut slow = TcpStream::connect(proxy.addr()).await.unwrap();
    slow.write_all(b"slowly").await.unwrap();
    assert_eq!(read_n(&mut slow, 6, WAIT).await.as_deref(), Some(&b"slowly"[..]));
    assert!(started.elapsed() >= Duration::from_millis(250));

    let mut twice = TcpStream::connect(proxy.addr()).await.unwrap();
    twice.write_all(b"TWICE").await.unwrap();
    assert_eq!(read_n(&mut twice, 10, WAIT).await.as_deref(), Some(&b"TWICETWICE"[..]));

    // No prefix matches (and `topic` means nothing to an opaque stream): relayed unchanged,
    // later chunks too.
    let mut plain = TcpStream::connect(proxy.addr()).await.unwrap();
    plain.write_all(b"hello").await.unwrap();
    assert_eq!(read_n(&mut plain, 5, WAIT).await.as_deref(), Some(&b"hello"[..]));
    plain.write_all(b"PING").await.unwrap();
    assert_eq!(read_n(&mut plain, 4, WAIT).await.as_deref(), Some(&b"PING"[..]));

    let fired: Vec<_> = proxy_events(&events, "proxy")
        .iter()
        .map(|e| (e.fields["action"].clone(), e.fields["method"].clone()))
        .collect();
    assert_eq!(
        fired,
        [
            ("respond".into(), "ping\r\nmore".into()),
            ("delay".into(), "slowly".into()),
            ("duplicate".into(), "TWICE".into())
        ]
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_stalls_established_and_new_connections_and_heals() {
    let upstream = echo_upstream().await;
    let proxy = Proxy::start(edge("tcp", upstream), ProxyRules::new(1), EventLog::default()).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(b"a").await.unwrap();
    assert!(read_n(&mut stream, 1, WAIT).await.is_some());

    proxy.set_blackhole(true, true);
    stream.write_all(b"ping").await.unwrap();
    assert!(read_n(&mut stream, 4, Duration::from_millis(300)).await.is_none(), "silence while partitioned");
    let mut fresh = TcpStream::connect(proxy.addr()).await.expect("new connections are accepted");
    fresh.write_all(b"new").await.unwrap();
    let mut probe = [0u8; 8];
    assert!(tokio::time::timeout(Duration::from_millis(200), fresh.read(&mut probe)).await.is_err(), "and held");

    proxy.set_blackhole(false, false);
    assert_eq!(read_n(&mut stream, 4, WAIT).await.as_deref(), Some(&b"ping"[..]), "held bytes arrive after healing");
    assert_eq!(read_n(&mut fresh, 3, WAIT).await.as_deref(), Some(&b"new"[..]));

    // One direction: requests reach the echo, the replies wait.
    proxy.set_blackhole(false, true);
    stream.write_all(b"one-way").await.unwrap();
    assert!(read_n(&mut stream, 7, Duration::from_millis(300)).await.is_none());
    proxy.set_blackhole(false, false);
    assert_eq!(read_n(&mut stream, 7, WAIT).await.as_deref(), Some(&b"one-way"[..]));
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_the_listener_and_every_connection() {
    let upstream = echo_upstream().await;
    let proxy = Proxy::start(edge("tcp", upstream), ProxyRules::new(1), EventLog::default()).await.unwrap();
    let addr = proxy.addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    assert!(read_n(&mut stream, 1, WAIT).await.is_some());
    // A partitioned connection is parked on the gate; stop must still end it.
    let mut parked = TcpStream::connect(addr).await.unwrap();
    proxy.set_blackhole(true, true);
    parked.write_all(b"held").await.unwrap();
    let started = Instant::now();
    proxy.stop().await;
    assert!(started.elapsed() < Duration::from_millis(1100), "stop is bounded: {:?}", started.elapsed());
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after stop");
    assert!(closed(&mut stream).await);
    assert!(closed(&mut parked).await);
}

// ---------------------------------------------------------------- bad input

/// An upstream that accepts and never answers (bad-input tests never get that far).
async fn silent_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_mid_message_closes_end_only_that_connection() {
    let upstream = silent_upstream().await;
    let cases: &[(&str, &[u8], bool)] = &[
        ("postgres", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false),
        ("postgres", &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4], false),
        ("postgres", &[0, 0, 0, 100, 0, 3, 0], true),
        ("redis", b"*abc\r\n", false),
        ("redis", b"*2\r\n:1\r\n:2\r\n", false),
        ("redis", b"*1\r\n$999999999999\r\n", false),
        ("redis", b"*2\r\n$3\r\nGET", true),
    ];
    for (protocol, bytes, half_close) in cases {
        let events = EventLog::default();
        let proxy = Proxy::start(edge(protocol, upstream), ProxyRules::new(1), events.clone()).await.unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        if *half_close {
            stream.shutdown().await.unwrap();
        }
        assert!(closed(&mut stream).await, "{protocol} {bytes:?}");
        let deadline = Instant::now() + WAIT;
        while proxy_events(&events, "proxy_error").is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let errors = proxy_events(&events, "proxy_error");
        assert_eq!(errors.len(), 1, "{protocol} {bytes:?}: {errors:?}");
        assert_eq!(errors[0].fields["protocol"], *protocol);
        assert!(!errors[0].fields["error"].as_str().unwrap_or("").is_empty());
        // The proxy still serves other connections.
        assert!(TcpStream::connect(proxy.addr()).await.is_ok());
        proxy.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_garbage_gets_400_and_one_proxy_error() {
    let (upstream, _) = http_upstream().await;
    for bytes in [&b"\x00\x01 garbage\r\n\r\n"[..], b"POST / HTTP/1.1\r\nContent-Length: 50\r\n\r\nshort"] {
        let events = EventLog::default();
        let proxy = Proxy::start(edge("http", upstream), ProxyRules::new(1), events.clone()).await.unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await;
        let deadline = Instant::now() + WAIT;
        while proxy_events(&events, "proxy_error").is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(proxy_events(&events, "proxy_error").len(), 1, "{bytes:?}");
        proxy.stop().await;
    }
}

// ---------------------------------------------------------------- Redis (real server)

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<(Server, SocketAddr)> {
    let port = free_port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("SKIP: redis-server is not installed (bash tests/services.sh installs it)");
        return None;
    };
    let server = Server(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            eprintln!("SKIP: redis-server did not listen on {addr}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((server, addr))
}

/// Sends `request` and expects exactly `reply` back.
async fn exchange(stream: &mut TcpStream, request: &str, reply: &str) {
    stream.write_all(request.as_bytes()).await.unwrap();
    let got = read_n(stream, reply.len(), WAIT).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    assert_eq!(got.as_deref(), Some(reply), "for {request:?}");
}

fn resp(args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for arg in args {
        out += &format!("${}\r\n{arg}\r\n", arg.len());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes_through_and_applies_each_action_in_order() {
    let Some((_server, upstream)) = start_redis() else { return };
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let proxy = Proxy::start(edge("redis", upstream), rules.clone(), events.clone()).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut stream, "PING\r\n", "+PONG\r\n").await;
    exchange(&mut stream, &resp(&["SET", "a", "1"]), "+OK\r\n").await;
    exchange(&mut stream, &resp(&["GET", "a"]), "$1\r\n1\r\n").await;

    install(
        &rules,
        ProxyAction::Error { message: Some("boom\r\nx".into()), status: None },
        &[("command", "get"), ("key", "bad*")],
    );
    install(&rules, ProxyAction::Respond { status: None, body: Some("hello".into()) }, &[("key", "canned")]);
    install(&rules, ProxyAction::Respond { status: None, body: None }, &[("key", "nil")]);
    install(&rules, ProxyAction::Delay { ms: 250 }, &[("command", "ECHO")]);
    install(&rules, ProxyAction::Duplicate, &[("command", "INCR")]);
    exchange(&mut stream, &resp(&["GET", "bad1"]), "-ERR boom  x\r\n").await;
    exchange(&mut stream, &resp(&["GET", "canned"]), "$5\r\nhello\r\n").await;
    exchange(&mut stream, &resp(&["GET", "nil"]), "$-1\r\n").await;
    let started = Instant::now();
    exchange(&mut stream, &resp(&["ECHO", "hi"]), "$2\r\nhi\r\n").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    exchange(&mut stream, &resp(&["INCR", "n"]), ":2\r\n").await;

    // Pipelined: the local answer keeps its place between the forwarded replies.
    let pipeline = resp(&["SET", "b", "2"]) + &resp(&["GET", "bad2"]) + &resp(&["GET", "b"]) + "GET a\r\n";
    exchange(&mut stream, &pipeline, "+OK\r\n-ERR boom  x\r\n$1\r\n2\r\n$1\r\n1\r\n").await;

    install(&rules, ProxyAction::Drop, &[("command", "DEL")]);
    stream.write_all(resp(&["DEL", "a"]).as_bytes()).await.unwrap();
    assert!(closed(&mut stream).await);
    let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut again, &resp(&["GET", "a"]), "$1\r\n1\r\n").await;

    let fired = proxy_events(&events, "proxy");
    let seen: Vec<_> = fired
        .iter()
        .map(|e| format!("{} {} {}", e.fields["action"], e.fields["command"], e.fields["key"]).replace('"', ""))
        .collect();
    assert_eq!(
        seen,
        [
            "error GET bad1",
            "respond GET canned",
            "respond GET nil",
            "delay ECHO hi",
            "duplicate INCR n",
            "error GET bad2",
            "drop DEL a"
        ]
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_subscribers_get_an_opaque_relay() {
    let Some((_server, upstream)) = start_redis() else { return };
    let proxy = Proxy::start(edge("redis", upstream), ProxyRules::new(1), EventLog::default()).await.unwrap();
    let mut subscriber = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(
        &mut subscriber,
        &resp(&["SUBSCRIBE", "c1", "c2"]),
        &(resp(&["subscribe", "c1"]).replace("*2\r\n", "*3\r\n")
            + ":1\r\n"
            + &resp(&["subscribe", "c2"]).replace("*2\r\n", "*3\r\n")
            + ":2\r\n"),
    )
    .await;
    let mut publisher = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut publisher, &resp(&["PUBLISH", "c1", "m"]), ":1\r\n").await;
    let message = resp(&["message", "c1", "m"]);
    let got = read_n(&mut subscriber, message.len(), WAIT).await;
    assert_eq!(got.as_deref(), Some(message.as_bytes()));
    proxy.stop().await;
}

// ---------------------------------------------------------------- PostgreSQL (real server)

/// A TLS connector that asks for TLS, so that `sslmode=prefer` sends an `SSLRequest`, and
/// fails if the answer is yes (the proxy answers no).
#[derive(Clone, Copy)]
struct AsksForTls;

enum NoStream {}

impl tokio::io::AsyncRead for NoStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match *self.get_mut() {}
    }
}

impl tokio::io::AsyncWrite for NoStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match *self.get_mut() {}
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match *self.get_mut() {}
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match *self.get_mut() {}
    }
}

impl postgres::tls::TlsStream for NoStream {
    fn channel_binding(&self) -> postgres::tls::ChannelBinding {
        match *self {}
    }
}

impl postgres::tls::TlsConnect<postgres::Socket> for AsksForTls {
    type Stream = NoStream;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<NoStream, std::io::Error>>;
    fn connect(self, _: postgres::Socket) -> Self::Future {
        std::future::ready(Err(std::io::Error::other("the proxy should have declined TLS")))
    }
}

impl postgres::tls::MakeTlsConnect<postgres::Socket> for AsksForTls {
    type Stream = NoStream;
    type TlsConnect = AsksForTls;
    type Error = std::io::Error;
    fn make_tls_connect(&mut self, _: &str) -> Result<AsksForTls, std::io::Error> {
        Ok(*self)
    }
}

/// A PostgreSQL server in a temporary directory (the users-api example's script: SCRAM
/// authentication for user, password and database `app`), stopped on drop.
struct Postgres {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // A fast shutdown (SIGINT) ends the backends too; SIGKILL if it lingers.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pg_url(addr: SocketAddr, sslmode: &str) -> String {
    format!(
        "host={} port={} user=app password=app dbname=app sslmode={sslmode} connect_timeout=5",
        addr.ip(),
        addr.port()
    )
}

fn start_postgres() -> Option<Postgres> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/postgres").exists()))
        .unwrap_or(false);
    if !installed {
        eprintln!("SKIP: no PostgreSQL server under /usr/lib/postgresql (bash tests/services.sh installs it)");
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/users-api/scripts/postgres.sh");
    let log = std::fs::File::create(dir.path().join("server.log")).ok()?;
    let child = std::process::Command::new("bash")
        .arg(script)
        .env("OSPECC_PG_DIR", dir.path().join("pg"))
        .env("PGPORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    let server = Postgres { child, addr, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if postgres::Client::connect(&pg_url(addr, "disable"), postgres::NoTls).is_ok() {
            return Some(server);
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(server._dir.path().join("server.log")).unwrap_or_default();
            panic!("PostgreSQL did not start on {addr}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sqlstate(error: &postgres::Error) -> String {
    error.code().map(|c| c.code().to_owned()).unwrap_or_else(|| format!("no SQLSTATE: {error}"))
}

#[test]
fn postgres_errors_keep_the_connection_in_step() {
    let Some(pg) = start_postgres() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let proxy = runtime.block_on(Proxy::start(edge("postgres", pg.addr), rules.clone(), events.clone())).unwrap();
    // sslmode=prefer with a connector able to do TLS: the SSLRequest is answered N.
    let mut client = postgres::Client::connect(&pg_url(proxy.addr(), "prefer"), AsksForTls).unwrap();
    let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    client.batch_execute("DROP TABLE IF EXISTS users; CREATE TABLE users (id serial PRIMARY KEY, name text)").unwrap();

    let error = install(
        &rules,
        ProxyAction::Error { message: Some("disk full".into()), status: None },
        &[("query", "INSERT INTO users*")],
    );
    // Extended protocol: Parse/Describe/Sync pass, Bind passes, Execute fails; the proxy
    // discards until Sync. The next statements on the same connection must work.
    let failed = client.execute("insert into users (name)\n  values ($1) returning id", &[&"a"]).unwrap_err();
    assert_eq!(sqlstate(&failed), "53100");
    assert!(failed.as_db_error().is_some_and(|e| e.message() == "disk full"), "{failed}");
    let count: i64 = client.query_one("SELECT count(*) FROM users", &[]).unwrap().get(0);
    assert_eq!(count, 0);
    // Simple protocol.
    let failed = client.simple_query("INSERT INTO users (name) VALUES ('b');").unwrap_err();
    assert_eq!(sqlstate(&failed), "53100");
    let rows = client.simple_query("SELECT 2").unwrap();
    let value = rows.iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(value.as_deref(), Some("2"));
    // In a transaction block the error leaves it failed; the rollback goes through.
    let mut transaction = client.transaction().unwrap();
    assert!(transaction.execute("INSERT INTO users (name) VALUES ($1)", &[&"c"]).is_err());
    transaction.rollback().unwrap();
    // The server's transaction fails with it: what came before in the block is not committed.
    client.batch_execute("DROP TABLE IF EXISTS audit; CREATE TABLE audit (note text)").unwrap();
    let mut transaction = client.transaction().unwrap();
    transaction.execute("INSERT INTO audit (note) VALUES ($1)", &[&"before"]).unwrap();
    assert!(transaction.execute("INSERT INTO users (name) VALUES ($1)", &[&"e"]).is_err());
    let _ = transaction.commit();
    let audited: i64 = client.query_one("SELECT count(*) FROM audit", &[]).unwrap().get(0);
    assert_eq!(audited, 0, "a COMMIT after an injected error rolls back, as after a real error");

    rules.remove(error.id);
    assert_eq!(client.execute("INSERT INTO users (name) VALUES ($1)", &[&"d"]).unwrap(), 1);
    let count: i64 = client.query_one("SELECT count(*) FROM users", &[]).unwrap().get(0);
    assert_eq!(count, 1);

    let delay = install(&rules, ProxyAction::Delay { ms: 300 }, &[("query", "select $1::int + 40")]);
    let started = Instant::now();
    let sum: i32 = client.query_one("SELECT $1::int + 40", &[&2]).unwrap().get(0);
    assert_eq!(sum, 42);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    rules.remove(delay.id);

    // Cancel requests reach the server through the proxy.
    let cancel = client.cancel_token();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel_query(postgres::NoTls)
    });
    let started = Instant::now();
    let cancelled = client.simple_query("SELECT pg_sleep(10)").unwrap_err();
    assert_eq!(sqlstate(&cancelled), "57014");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(canceller.join().is_ok_and(|r| r.is_ok()));

    install(&rules, ProxyAction::Drop, &[("query", "SELECT 3")]);
    assert!(client.simple_query("SELECT 3").is_err());
    assert!(client.is_closed() || client.simple_query("SELECT 1").is_err(), "the connection is gone");
    let mut fresh = postgres::Client::connect(&pg_url(proxy.addr(), "disable"), postgres::NoTls).unwrap();
    let count: i64 = fresh.query_one("SELECT count(*) FROM users", &[]).unwrap().get(0);
    assert_eq!(count, 1);

    let fired = proxy_events(&events, "proxy");
    let errors: Vec<_> = fired
        .iter()
        .filter(|e| e.fields["action"] == "error" && e.fields["query"].as_str().is_some_and(|q| q.contains("INSERT")))
        .collect();
    assert_eq!(errors.len(), 3, "{fired:?}");
    let actions: Vec<_> = fired.iter().map(|e| e.fields["action"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(actions, ["error", "error", "error", "error", "delay", "drop"]);
    assert!(proxy_events(&events, "proxy_error").is_empty(), "{:?}", proxy_events(&events, "proxy_error"));
    runtime.block_on(proxy.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ssl_requests_are_declined_by_the_proxy() {
    let proxy =
        Proxy::start(edge("postgres", silent_upstream().await), ProxyRules::new(1), EventLog::default()).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    for code in [80_877_103u32, 80_877_104] {
        let mut request = 8u32.to_be_bytes().to_vec();
        request.extend_from_slice(&code.to_be_bytes());
        stream.write_all(&request).await.unwrap();
        assert_eq!(read_n(&mut stream, 1, WAIT).await.as_deref(), Some(&b"N"[..]));
    }
    proxy.stop().await;
}
