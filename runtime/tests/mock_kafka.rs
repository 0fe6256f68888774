//! The Kafka mock (`runtime::mock`, protocol `kafka`), its steps and its proxy plugin,
//! exercised over real sockets: kcat (librdkafka) producing and consuming, with and without a
//! consumer group, the step client (a second, independent client), garbage input, and the
//! proxy's topic rules. Skips the kcat parts with a printed reason when kcat is absent.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{mock_service, ospecc_binary, NoHandler};
use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::faults::rules::{Active, Install};
use ospecc_runtime::mock::{self, MockHandle};
use ospecc_runtime::proxy::{Edge, Proxy, ProxyRules};
use ospecc_runtime::steps::kafka::{self, Publish};
use ospecc_schema::plan::topology::{Matcher, ProxyAction, ProxyRule};
use ospecc_schema::plan::{Origin, Service};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// A Kafka mock service as the plan writes it.
fn broker(name: &str, port: u16, config: Value) -> Service {
    mock_service(name, "kafka", port, config)
}

async fn start(config: Value) -> (MockHandle, EventLog) {
    let events = EventLog::default();
    let handle = mock::serve(&broker("bus", 0, config), Arc::new(NoHandler), events.clone(), None)
        .await
        .expect("the mock starts");
    (handle, events)
}

fn of_kind(events: &EventLog, kind: &str) -> Vec<Event> {
    events.since(0).into_iter().filter(|e| e.kind == kind).collect()
}

fn kcat_present() -> bool {
    let present = Command::new("kcat").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !present {
        eprintln!("SKIP: kcat is not installed (tests/deps/kafka.sh installs it)");
    }
    present
}

/// Runs kcat with `args`, feeding `input`, bounded by a timeout; returns stdout.
fn kcat(address: SocketAddr, args: &[&str], input: &str) -> String {
    let mut child = Command::new("timeout")
        .arg("20")
        .arg("kcat")
        .args(["-b", &address.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kcat {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_produces_and_consumes_seeded_and_new_messages() {
    if !kcat_present() {
        return;
    }
    let (handle, events) = start(json!({
        "topics": {"orders": ["seeded", {"key": "k0", "value": "with-key", "headers": {"h": "v"}}]},
        "partitions": 1
    }))
    .await;
    let address = handle.address();
    blocking(move || kcat(address, &["-P", "-t", "orders", "-K:"], "k1:first\nk2:second\n")).await;
    let consumed =
        blocking(move || kcat(address, &["-C", "-t", "orders", "-o", "beginning", "-e", "-f", "%k=%s@%o|%h\\n"], ""))
            .await;
    let lines: Vec<&str> = consumed.lines().collect();
    assert_eq!(lines, ["=seeded@0|", "k0=with-key@1|h=v", "k1=first@2|", "k2=second@3|"], "{consumed}");
    // A topic nobody declared is created on first use, as a dev broker does.
    blocking(move || kcat(address, &["-P", "-t", "fresh"], "one\n")).await;
    let fresh = blocking(move || kcat(address, &["-C", "-t", "fresh", "-o", "beginning", "-e"], "")).await;
    assert_eq!(fresh.trim(), "one");

    let requests = of_kind(&events, "mock_request");
    let apis: Vec<&str> = requests.iter().filter_map(|e| e.fields["api"].as_str()).collect();
    for api in ["api_versions", "metadata", "produce", "fetch"] {
        assert!(apis.contains(&api), "no {api} in {apis:?}");
    }
    let produce = requests.iter().find(|e| e.fields["api"] == "produce").unwrap();
    assert_eq!(produce.fields["topic"], "orders");
    assert_eq!(produce.fields["interface"], "main");
    assert_eq!(produce.service, "bus");
    assert!(of_kind(&events, "mock_error").is_empty(), "{:?}", of_kind(&events, "mock_error"));
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_consumer_group_commits_and_resumes() {
    if !kcat_present() {
        return;
    }
    let (handle, events) = start(json!({"topics": {"orders": ["a", "b", "c"]}, "partitions": 2})).await;
    let address = handle.address();
    let group_read = move || kcat(address, &["-G", "billing", "orders", "-e", "-X", "auto.offset.reset=earliest"], "");
    let first = blocking(group_read).await;
    let mut seen: Vec<&str> = first.lines().collect();
    seen.sort_unstable();
    assert_eq!(seen, ["a", "b", "c"], "{first}");
    // The group committed its offsets: a second member of the same group reads only what is new.
    blocking(move || kcat(address, &["-P", "-t", "orders", "-p", "1"], "d\n")).await;
    let second = blocking(group_read).await;
    assert_eq!(second.trim(), "d", "{second}");
    let apis: Vec<String> =
        of_kind(&events, "mock_request").iter().filter_map(|e| e.fields["api"].as_str().map(str::to_owned)).collect();
    for api in ["find_coordinator", "join_group", "sync_group", "offset_fetch", "offset_commit", "leave_group"] {
        assert!(apis.iter().any(|a| a == api), "no {api} in {apis:?}");
    }
    handle.stop().await;
}

/// Writes `bytes` on a fresh connection and waits for the mock to close it.
async fn closed_after(address: SocketAddr, bytes: &[u8], half_close: bool) -> bool {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(WAIT, stream.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_half_frames_close_only_that_connection() {
    let (handle, events) = start(json!({"topics": {"orders": []}})).await;
    let address = handle.address();
    let cases: &[(&str, &[u8], bool)] = &[
        ("http", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false),
        ("negative length", &[0xff, 0xff, 0xff, 0xf0, 1, 2], false),
        ("unknown api", &[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1], false),
        ("unsupported version", &[0, 0, 0, 10, 0, 0, 0, 99, 0, 0, 0, 1, 0, 0], false),
        ("truncated body", &[0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0x7f], false),
        ("half frame", &[0, 0, 0, 100, 0, 3, 0], true),
        ("half length", &[0, 0], true),
    ];
    for (i, (what, bytes, half_close)) in cases.iter().enumerate() {
        assert!(closed_after(address, bytes, *half_close).await, "{what}");
        let deadline = Instant::now() + WAIT;
        while of_kind(&events, "mock_error").len() <= i && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let errors = of_kind(&events, "mock_error");
        assert_eq!(errors.len(), i + 1, "{what}: {errors:?}");
        assert_eq!(errors[i].fields["interface"], "main");
        assert!(!errors[i].fields["error"].as_str().unwrap_or("").is_empty());
    }
    // A clean close between frames is no error, and the mock still serves.
    assert!(closed_after(address, b"", true).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(of_kind(&events, "mock_error").len(), cases.len());
    if kcat_present() {
        let listed = blocking(move || kcat(address, &["-L"], "")).await;
        assert!(listed.contains("topic \"orders\""), "{listed}");
    }
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_seed_configs_are_refused_with_a_reason() {
    let events = EventLog::default();
    let refused =
        mock::serve(&broker("bus", 0, json!({"topics": {"orders": "nope"}})), Arc::new(NoHandler), events, None).await;
    let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("bus") && error.contains("orders") && error.contains("list"), "{error}");
}

fn publish(address: SocketAddr, topic: &str, key: Option<&str>, data: &str) -> Result<Value, String> {
    let message = Publish {
        topic: topic.into(),
        data: data.into(),
        key: key.map(str::to_owned),
        headers: [("trace".to_owned(), "t-1".to_owned())].into(),
    };
    kafka::publish_message(&address.to_string(), &message, Instant::now() + WAIT)
}

fn consume(address: SocketAddr, topic: &str, group: &str, within: Duration) -> Result<Value, String> {
    kafka::consume_message(&address.to_string(), topic, group, Instant::now() + within)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_client_publishes_and_consumes_through_a_group() {
    let (handle, events) = start(json!({"topics": {"orders": []}, "partitions": 1})).await;
    let address = handle.address();
    let results = blocking(move || {
        let published = publish(address, "orders", Some("o-1"), r#"{"id":1}"#);
        let second = publish(address, "orders", None, "two");
        let first_read = consume(address, "orders", "billing", WAIT);
        let second_read = consume(address, "orders", "billing", WAIT);
        // Nothing left for the group: the read gives up at its timeout with a reason.
        let empty = consume(address, "orders", "billing", Duration::from_millis(700));
        // Another group starts from the earliest offset.
        let other = consume(address, "orders", "audit", WAIT);
        (published, second, first_read, second_read, empty, other)
    })
    .await;
    let (published, second, first_read, second_read, empty, other) = results;
    assert_eq!(published, Ok(json!({"published": true, "topic": "orders"})));
    assert!(second.is_ok(), "{second:?}");
    assert_eq!(
        first_read,
        Ok(json!({"topic": "orders", "partition": 0, "offset": 0, "key": "o-1", "value": r#"{"id":1}"#}))
    );
    assert_eq!(second_read.as_ref().map(|v| v["value"].clone()), Ok(json!("two")), "{second_read:?}");
    assert_eq!(second_read.map(|v| v["offset"].clone()), Ok(json!(1)));
    let error = empty.err().unwrap_or_default();
    assert!(error.contains("no message on orders"), "{error}");
    assert_eq!(other.map(|v| v["offset"].clone()), Ok(json!(0)));
    assert!(of_kind(&events, "mock_error").is_empty(), "{:?}", of_kind(&events, "mock_error"));
    handle.stop().await;
}

/// Waits until the mock has answered `n` requests of `api`.
async fn wait_for_requests(events: &EventLog, api: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let count = || of_kind(events, "mock_request").iter().filter(|e| e.fields["api"] == api).count();
    while count() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(count() >= n, "{} {api} requests, wanted {n}", count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kcat_member_and_a_step_consumer_rebalance_one_group() {
    if !kcat_present() {
        return;
    }
    let (handle, events) = start(json!({"topics": {"jobs": []}, "partitions": 2})).await;
    let address = handle.address();
    // kcat joins first, alone, and holds both partitions.
    let member = Command::new("timeout")
        .args(["10", "kcat", "-b", &address.to_string(), "-G", "workers", "-f", "%p:%s\\n"])
        .args(["-X", "heartbeat.interval.ms=100", "-X", "auto.offset.reset=earliest", "jobs"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kcat runs");
    wait_for_requests(&events, "sync_group", 1).await;
    // The step joins: kcat learns of the rebalance from its heartbeat and rejoins; the two
    // split the partitions (both members sync again).
    let step = tokio::task::spawn_blocking(move || consume(address, "jobs", "workers", WAIT));
    wait_for_requests(&events, "sync_group", 3).await;
    let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    let published = values.clone();
    blocking(move || {
        for value in &published {
            publish(address, "jobs", Some(value), value).unwrap();
        }
    })
    .await;
    let read = step.await.unwrap().expect("the step reads a message");
    assert_eq!(read["offset"], 0, "{read}");
    let output = blocking(move || member.wait_with_output().unwrap()).await;
    let printed: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    // kcat printed every message but the one the step consumed and committed past: those of
    // its own partition, then, once the step left, the rest of the step's partition.
    let mut expected: Vec<String> = Vec::new();
    for value in &values {
        if *value != read["value"] {
            expected.push(value.clone());
        }
    }
    let mut seen: Vec<String> = printed.iter().filter_map(|l| l.split_once(':').map(|(_, v)| v.to_owned())).collect();
    seen.sort();
    assert_eq!(seen, expected, "kcat printed {printed:?}; the step read {read}");
    let stepped = read["partition"].as_i64().unwrap();
    assert!(printed.iter().any(|l| !l.starts_with(&format!("{stepped}:"))), "{printed:?}");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_client_and_kcat_read_each_others_messages() {
    if !kcat_present() {
        return;
    }
    let (handle, _) = start(json!({"topics": {"orders": []}})).await;
    let address = handle.address();
    blocking(move || publish(address, "orders", Some("k"), "from-step").unwrap()).await;
    let read =
        blocking(move || kcat(address, &["-C", "-t", "orders", "-o", "beginning", "-e", "-f", "%k=%s|%h\\n"], ""))
            .await;
    assert_eq!(read.trim(), "k=from-step|trace=t-1");
    blocking(move || kcat(address, &["-P", "-t", "orders", "-K:"], "k2:from-kcat\n")).await;
    let consumed = blocking(move || {
        let first = consume(address, "orders", "g", WAIT).unwrap();
        let second = consume(address, "orders", "g", WAIT).unwrap();
        (first, second)
    })
    .await;
    assert_eq!(consumed.0["value"], "from-step");
    assert_eq!((consumed.1["key"].clone(), consumed.1["value"].clone()), (json!("k2"), json!("from-kcat")));
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_a_dead_broker_or_a_bad_topic_fails_with_a_reason() {
    let (handle, _) = start(json!({})).await;
    let address = handle.address();
    let bad = blocking(move || publish(address, "no spaces allowed", None, "x")).await;
    let error = bad.err().unwrap_or_default();
    assert!(error.contains("no spaces allowed") && error.contains("error code 17"), "{error}");
    handle.stop().await;
    let dead = blocking(move || publish(address, "orders", None, "x")).await;
    let error = dead.err().unwrap_or_default();
    assert!(error.contains("cannot reach the broker"), "{error}");
}

fn install(rules: &ProxyRules, action: ProxyAction, topic: &str) -> Arc<Active<ProxyRule>> {
    let rule = ProxyRule {
        service: "bus".into(),
        interface: "main".into(),
        protocol: "kafka".into(),
        action,
        matchers: vec![Matcher { field: "topic".into(), glob: topic.into() }],
        probability: 1.0,
        assumption: "test".into(),
        origin: Origin { file: "t.star".into(), line: 1, column: 1 },
    };
    rules.install(Install { rule, scope: "scope-1".into(), probability: 1.0, max_fires: None })
}

async fn proxied(config: Value) -> (MockHandle, Proxy, ProxyRules, EventLog) {
    let (handle, events) = start(config).await;
    let rules = ProxyRules::new(1);
    let edge = Edge {
        consumer: "test".into(),
        service: "bus".into(),
        interface: "main".into(),
        protocol: "kafka".into(),
        upstream: handle.address(),
    };
    let proxy = Proxy::start(edge, rules.clone(), events.clone()).await.unwrap();
    (handle, proxy, rules, events)
}

fn fired(events: &EventLog) -> Vec<(String, String, String)> {
    of_kind(events, "proxy")
        .iter()
        .map(|e| {
            let field = |name: &str| e.fields.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("action"), field("api"), field("topic"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_rules_by_topic_error_delay_drop_and_duplicate() {
    let (handle, proxy, rules, events) = proxied(json!({"topics": {"orders": [], "payments": []}})).await;
    let (via, direct) = (proxy.addr(), handle.address());

    let code6 = "NotLeaderForPartitionException (error code 6): This server is not the leader";
    let rule = install(&rules, ProxyAction::Error { message: Some(code6.into()), status: None }, "ord*");
    let (refused, other) =
        blocking(move || (publish(via, "orders", None, "x"), publish(via, "payments", None, "y"))).await;
    let error = refused.err().unwrap_or_default();
    assert!(error.contains("error code 6") && error.contains("orders"), "{error}");
    assert!(other.is_ok(), "{other:?}");
    rules.remove(rule.id);

    let rule =
        install(&rules, ProxyAction::Error { message: Some("broker overloaded".into()), status: None }, "orders");
    let refused = blocking(move || publish(via, "orders", None, "x")).await;
    let error = refused.err().unwrap_or_default();
    assert!(error.contains("error code -1"), "{error}");
    // A fetch is answered with the error too.
    let fetch = blocking(move || consume(via, "orders", "g", Duration::from_secs(3))).await;
    assert!(fetch.err().unwrap_or_default().contains("error code -1"));
    rules.remove(rule.id);

    let rule = install(&rules, ProxyAction::Delay { ms: 300 }, "orders");
    let started = Instant::now();
    let delayed = blocking(move || publish(via, "orders", None, "late")).await;
    assert!(delayed.is_ok() && started.elapsed() >= Duration::from_millis(300), "{delayed:?}");
    rules.remove(rule.id);

    let rule = install(&rules, ProxyAction::Drop, "orders");
    let dropped = blocking(move || publish(via, "orders", None, "lost")).await;
    assert!(dropped.err().unwrap_or_default().contains("reading from the broker"));
    rules.remove(rule.id);

    let rule = install(&rules, ProxyAction::Duplicate, "orders");
    let twice = blocking(move || publish(via, "orders", Some("d"), "twice")).await;
    assert!(twice.is_ok(), "{twice:?}");
    // Fetches are not duplicated: the consumer reads through the proxy as usual.
    let reads = blocking(move || {
        (0..3).map(|_| consume(via, "orders", "readers", WAIT).map(|v| v["value"].clone())).collect::<Vec<_>>()
    })
    .await;
    assert_eq!(reads, [Ok(json!("late")), Ok(json!("twice")), Ok(json!("twice"))]);
    rules.remove(rule.id);

    assert_eq!(
        fired(&events),
        [
            ("error".into(), "produce".into(), "orders".into()),
            ("error".into(), "produce".into(), "orders".into()),
            ("error".into(), "fetch".into(), "orders".into()),
            ("delay".into(), "produce".into(), "orders".into()),
            ("drop".into(), "produce".into(), "orders".into()),
            ("duplicate".into(), "produce".into(), "orders".into()),
        ]
    );
    // Nothing reached the mock for the refused and dropped produces.
    let stored = blocking(move || consume(direct, "orders", "all", WAIT).map(|v| v["value"].clone())).await;
    assert_eq!(stored, Ok(json!("late")));
    assert!(of_kind(&events, "proxy_error").is_empty(), "{:?}", of_kind(&events, "proxy_error"));
    proxy.stop().await;
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_stays_behind_the_proxy_after_bootstrapping() {
    if !kcat_present() {
        return;
    }
    let (handle, proxy, rules, events) = proxied(json!({"topics": {"orders": []}})).await;
    let (via, direct) = (proxy.addr(), handle.address());
    // The metadata kcat gets names the proxy, so its produce passes the rule.
    install(&rules, ProxyAction::Duplicate, "orders");
    blocking(move || kcat(via, &["-P", "-t", "orders"], "once\n")).await;
    let read = blocking(move || kcat(direct, &["-C", "-t", "orders", "-o", "beginning", "-e"], "")).await;
    assert_eq!(read.lines().collect::<Vec<_>>(), ["once", "once"]);
    assert_eq!(fired(&events), [("duplicate".into(), "produce".into(), "orders".into())]);
    let listed = blocking(move || kcat(via, &["-L"], "")).await;
    assert!(listed.contains(&format!("broker 0 at {via}")), "{listed}");
    proxy.stop().await;
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_garbage_and_half_frames_are_one_proxy_error() {
    let (handle, proxy, _, events) = proxied(json!({})).await;
    for (i, (bytes, half_close)) in
        [(&[0xff, 0xff, 0xff, 0xff, 1][..], false), (&[0, 0, 0, 50, 0, 0, 0][..], true)].into_iter().enumerate()
    {
        assert!(closed_after(proxy.addr(), bytes, half_close).await);
        let deadline = Instant::now() + WAIT;
        while of_kind(&events, "proxy_error").len() <= i && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(of_kind(&events, "proxy_error").len(), i + 1);
    }
    let via = proxy.addr();
    assert!(blocking(move || publish(via, "orders", None, "still")).await.is_ok());
    proxy.stop().await;
    handle.stop().await;
}

/// `corpus/kafka_basic.star`'s tests (with `data=`: the checker refuses the `value=` the
/// corpus passes, which Faultbox ignores) plus a round trip, over `mock_service(...)` directly.
const SPEC: &str = r#"
bus = mock_service("bus",
    interface("main", "kafka", 21100),
    config = {"topics": {"orders": [], "payments": [{"key": "p-0", "value": "seeded"}]}, "partitions": 1},
)

def test_publish_to_orders_topic():
    r = bus.main.publish(topic = "orders", key = "o-1", data = '{"id":1}')
    assert_true(r.ok, "publish to 'orders' failed: %s" % r.error)
    assert_eq(r.data["published"], True)
    assert_eq(r.data["topic"], "orders")

def test_publish_to_payments_topic():
    r = bus.main.publish(topic = "payments", key = "p-1", data = '{"amount":100}')
    assert_true(r.ok, "publish to 'payments' failed: %s" % r.error)

def test_publish_then_consume():
    bus.main.publish(topic = "orders", key = "o-2", data = '{"id":2}')
    r = bus.main.consume(topic = "orders", group = "billing")
    assert_true(r.ok, "consume failed: %s" % r.error)
    assert_eq(r.data["key"], "o-2")
    assert_eq(r.data["value"], '{"id":2}')
    assert_eq(r.data["offset"], 0)
    assert_eq(r.data["partition"], 0)

def test_seeded_messages_are_consumed_first():
    r = bus.main.consume(topic = "payments")
    assert_true(r.ok, "consume failed: %s" % r.error)
    assert_eq(r.data["value"], "seeded")
"#;

#[test]
fn a_kafka_spec_runs_end_to_end_through_the_binary() {
    let Some(binary) = ospecc_binary() else {
        eprintln!("SKIP: the ospecc binary is not built (cargo build, or cargo test --workspace, builds it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("kafka_basic.star");
    std::fs::write(&spec, SPEC).unwrap();
    let output = Command::new("timeout")
        .arg("120")
        .arg(&binary)
        .args(["run", spec.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("4 passed, 0 failed, 0 errored"), "{text}");
    for test in ["publish_to_orders_topic", "publish_to_payments_topic", "publish_then_consume", "seeded_messages"] {
        assert!(text.lines().any(|l| l.starts_with("PASS") && l.contains(test)), "{test}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_array_count_is_refused_without_reserving_memory() {
    let (handle, events) = start(json!({})).await;
    // Metadata v1, client id "x", a topic array that claims 2^31-1 entries in 4 bytes.
    let body: &[u8] = &[0, 3, 0, 1, 0, 0, 0, 7, 0, 1, b'x', 0x7f, 0xff, 0xff, 0xff];
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    assert!(closed_after(handle.address(), &frame, false).await);
    // The client may see the close before the mock's task has logged why: wait for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while of_kind(&events, "mock_error").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(of_kind(&events, "mock_error").len(), 1);
    handle.stop().await;
}
