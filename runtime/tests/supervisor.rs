//! The process supervisor against real processes (fixtures in `tests/fixtures/`). Every test is
//! bounded by a timeout and checks, through /proc, that none of its processes remain.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::supervisor::{kill_all_now, Services, StartOptions};
use ospecc_schema::plan::topology::{EnvPart, EnvVar, Healthcheck, Interface, Launch, Observe};
use ospecc_schema::plan::{Origin, Service};

/// `kill_all_now` kills every group of this test process: that test takes the write half,
/// every other test the read half.
static EXCLUSIVE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const TEST_LIMIT: Duration = Duration::from_secs(60);

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn options(grace_ms: u64) -> StartOptions {
    StartOptions {
        workdir: fixtures(),
        grace: Duration::from_millis(grace_ms),
        extra_env: BTreeMap::new(),
        ..StartOptions::default()
    }
}

fn service(name: &str, launch: Launch) -> Service {
    Service {
        name: name.into(),
        origin: Origin { file: "spec.star".into(), line: 1, column: 1 },
        launch,
        interfaces: vec![],
        env: vec![],
        ports: vec![],
        volumes: vec![],
        healthcheck: None,
        depends_on: vec![],
        observe: vec![],
        ops: vec![],
        seccomp: true,
        intercept: vec![],
        intercept_unknown: vec![],
        reuse: false,
        seed: None,
        reset: None,
    }
}

fn binary(path: &str, args: &[&str]) -> Launch {
    Launch::Binary { path: path.into(), args: args.iter().map(|a| a.to_string()).collect() }
}

fn with_interface(mut s: Service, name: &str, protocol: &str, port: u16) -> Service {
    s.interfaces.push(Interface {
        name: name.into(),
        protocol: protocol.into(),
        port: Some(port),
        spec: None,
        tls: false,
    });
    s
}

fn with_health(mut s: Service, hc: Healthcheck) -> Service {
    s.healthcheck = Some(hc);
    s
}

fn observe(mut s: Service, stream: &str, decoder: &str, pattern: Option<&str>) -> Service {
    s.observe.push(Observe { stream: stream.into(), decoder: Some(decoder.into()), pattern: pattern.map(Into::into) });
    s
}

fn tcp_check(port: u16, timeout_ms: u64) -> Healthcheck {
    Healthcheck::Tcp { address: format!("localhost:{port}"), timeout_ms, interval_ms: 50 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn python_http(name: &str, port: u16) -> Service {
    let s = service(name, binary("python3", &["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"]));
    with_interface(s, "main", "http", port)
}

/// Whether a process runs (a zombie does not count).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().next().unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Live members of a process group.
fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().collect();
            rest.len() > 2 && rest[0] != "Z" && rest[0] != "X" && rest[2] == pgid.to_string()
        })
        .collect()
}

fn pids(events: &EventLog) -> Vec<i32> {
    events
        .since(0)
        .iter()
        .filter(|e| e.kind == "service_started")
        .map(|e| e.fields["pid"].as_i64().unwrap() as i32)
        .collect()
}

/// Waits (briefly) until nothing of any started process group remains, then asserts it.
async fn assert_all_gone(events: &EventLog) {
    let groups = pids(events);
    let deadline = Instant::now() + Duration::from_secs(5);
    while groups.iter().any(|&g| alive(g) || !group_members(g).is_empty()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for g in groups {
        assert!(!alive(g), "process {g} is still alive");
        assert!(group_members(g).is_empty(), "group {g} still has members {:?}", group_members(g));
    }
}

fn of(events: &EventLog, service: &str, kind: &str) -> Vec<Event> {
    events.since(0).into_iter().filter(|e| e.service == service && e.kind == kind).collect()
}

async fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, future).await.expect("the test took too long")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_http_services_become_ready_and_stop() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let (p1, p2) = (free_port(), free_port());
        let a = with_health(
            python_http("web", p1),
            Healthcheck::Http { url: format!("localhost:{p1}/"), timeout_ms: 15_000, interval_ms: 50 },
        );
        let b = with_health(
            python_http("web2", p2),
            Healthcheck::Ready {
                interface: "main".into(),
                protocol: "http".into(),
                timeout_ms: 15_000,
                interval_ms: 50,
            },
        );
        let events = EventLog::default();
        let services = Services::start(&[a, b], events.clone(), options(3000)).await.expect("start");
        let results = services.results();
        assert_eq!(results.iter().map(|r| r.state.as_str()).collect::<Vec<_>>(), ["ready", "ready"]);
        assert!(results.iter().all(|r| r.ready_ms.is_some_and(|ms| ms > 0.0)));
        assert_eq!(services.address("web", "main"), Some(format!("127.0.0.1:{p1}").parse().unwrap()));
        assert_eq!(services.address("web", "nope"), None);
        assert!(services.crashed().is_empty());
        // It answers.
        let body = reqwest::get(format!("http://127.0.0.1:{p1}/")).await.unwrap().status();
        assert!(body.is_success());

        let results = services.stop().await;
        assert_eq!(results[0].state, "ready", "a service stopped by teardown did not crash");
        for name in ["web", "web2"] {
            assert_eq!(of(&events, name, "service_started").len(), 1);
            assert_eq!(of(&events, name, "service_ready").len(), 1);
            let stopped = of(&events, name, "service_stopped");
            assert_eq!(stopped.len(), 1);
            assert_eq!(stopped[0].fields["signal"], "SIGTERM");
            let exited = of(&events, name, "service_exited");
            assert_eq!(exited[0].fields["during_stop"], true);
        }
        // Reverse start order.
        let stops: Vec<String> =
            events.since(0).into_iter().filter(|e| e.kind == "service_stopped").map(|e| e.service).collect();
        assert_eq!(stops, ["web2", "web"]);
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_binary_fails_with_path_error_and_hint() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let first = service("first", binary("sleep", &["1000"]));
        let missing = service("api", binary("./bin/does-not-exist", &[]));
        let after = service("after", binary("sleep", &["1000"]));
        let failure = Services::start(&[first, missing, after], events.clone(), options(1000)).await.err().unwrap();
        assert_eq!(failure.service, "api");
        let m = &failure.message;
        assert!(m.contains("does-not-exist"), "{m}");
        assert!(m.contains("No such file or directory"), "{m}");
        assert!(m.contains("Build the binary first") && m.contains("workdir"), "{m}");
        let states: Vec<&str> = failure.results.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["ready", "failed", "not_started"]);
        assert_eq!(of(&events, "first", "service_stopped").len(), 1, "the earlier service was torn down");
        assert_all_gone(&events).await;

        let events = EventLog::default();
        let failure = Services::start(&[service("x", binary("not_executable.sh", &[]))], events.clone(), options(1000))
            .await
            .err()
            .unwrap();
        assert!(failure.message.contains("not executable"), "{}", failure.message);

        let failure = Services::start(&[service("y", binary("no-such-program-anywhere", &[]))], events, options(1000))
            .await
            .err()
            .unwrap();
        assert!(failure.message.contains("no executable of that name on PATH"), "{}", failure.message);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_exit_fails_at_once_with_code_and_output() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let s = with_health(service("api", binary("./exit3.sh", &[])), tcp_check(free_port(), 20_000));
        let started = Instant::now();
        let failure = Services::start(&[s], events.clone(), options(1000)).await.err().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "an exit must not wait for the healthcheck timeout");
        let m = &failure.message;
        assert!(m.contains("exited with code 3 before it became ready"), "{m}");
        assert!(m.contains("[stderr] fatal: boom (cannot open config)"), "{m}");
        assert!(m.contains("[stdout] starting up"), "{m}");
        assert_eq!(failure.results[0].state, "failed");
        let exited = of(&events, "api", "service_exited");
        assert_eq!(exited[0].fields["code"], 3);
        assert_eq!(of(&events, "api", "service_failed").len(), 1);
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_becomes_healthy_times_out() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let port = free_port();
        let s = with_health(service("db", binary("sleep", &["1000"])), tcp_check(port, 500));
        let started = Instant::now();
        let failure = Services::start(&[s], events.clone(), options(1000)).await.err().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(500));
        let m = &failure.message;
        assert!(m.contains("did not become ready within 500 ms"), "{m}");
        assert!(m.contains(&format!("tcp connect to localhost:{port}")), "{m}");
        assert!(m.contains("it printed nothing"), "{m}");
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_service_is_capped_drained_and_torn_down() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let services = Services::start(&[service("noisy", binary("yes", &["flood"]))], events.clone(), options(1000))
            .await
            .expect("start");
        let cap = ospecc_runtime::supervisor::process::MAX_LINES_PER_SERVICE as usize;
        eventually("the line cap", Duration::from_secs(30), || of(&events, "noisy", "stdout").len() >= cap).await;
        // Still running (the pipe is drained, so `yes` never blocks) and no more events stored.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pid = services.pid("noisy").unwrap() as i32;
        assert!(alive(pid));
        assert_eq!(of(&events, "noisy", "stdout").len(), cap);
        services.stop().await;
        let dropped = of(&events, "noisy", "output_dropped");
        assert_eq!(dropped.len(), 1);
        assert!(dropped[0].fields["dropped"].as_u64().unwrap() > 0);
        assert_eq!(of(&events, "noisy", "stdout").len(), cap);
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lines_are_truncated_with_a_marker() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let services =
            Services::start(&[service("long", binary("./long_line.sh", &[]))], events.clone(), options(1000))
                .await
                .unwrap();
        eventually("two lines", Duration::from_secs(10), || of(&events, "long", "stdout").len() >= 2).await;
        let lines = of(&events, "long", "stdout");
        let first = lines[0].fields["line"].as_str().unwrap();
        assert!(first.starts_with("aaaa"));
        assert!(first.len() < 64 * 1024 + 100);
        assert!(
            first.ends_with(&format!("[line truncated: {} more bytes]", 200_000 - 64 * 1024)),
            "{}",
            &first[first.len() - 60..]
        );
        assert_eq!(lines[1].fields["line"], "after the long line");
        services.stop().await;
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_ignoring_sigterm_is_killed_after_the_grace_period() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let services =
            Services::start(&[service("stubborn", binary("./ignore_term.sh", &[]))], events.clone(), options(400))
                .await
                .unwrap();
        eventually("its first line", Duration::from_secs(10), || !of(&events, "stubborn", "stdout").is_empty()).await;
        let started = Instant::now();
        services.stop().await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(400), "stopped after {took:?}, before the grace period ended");
        assert!(took < Duration::from_secs(5), "{took:?}");
        let stopped = of(&events, "stubborn", "service_stopped");
        assert_eq!(stopped[0].fields["signal"], "SIGKILL");
        assert_eq!(of(&events, "stubborn", "service_exited")[0].fields["signal"], 9);
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forked_children_are_gone_after_stop() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let services = Services::start(&[service("forker", binary("./forker.sh", &[]))], events.clone(), options(500))
            .await
            .unwrap();
        let pgid = services.pid("forker").unwrap() as i32;
        eventually("the children", Duration::from_secs(10), || group_members(pgid).len() >= 4).await;
        let members = group_members(pgid);
        services.stop().await;
        for pid in members {
            assert!(!alive(pid), "child {pid} survived");
        }
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_decoded_per_observe() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let a = observe(
            observe(service("a", binary("./decode.sh", &[])), "stdout", "json", None),
            "stderr",
            "logfmt",
            None,
        );
        let b = observe(
            service("b", binary("./regex.sh", &[])),
            "stdout",
            "regex",
            Some(r"^(?P<level>[A-Z]+) \[(?P<component>\w+)\] (?P<msg>.*)$"),
        );
        let c = observe(service("c", binary("./regex.sh", &[])), "stdout", "regex", Some("(unclosed"));
        let services = Services::start(&[a, b, c], events.clone(), options(500)).await.unwrap();
        eventually("all lines", Duration::from_secs(10), || {
            of(&events, "a", "stdout").len() >= 3
                && !of(&events, "a", "stderr").is_empty()
                && of(&events, "b", "stdout").len() >= 2
                && of(&events, "c", "stdout").len() >= 2
        })
        .await;
        let json = &of(&events, "a", "stdout")[0].fields;
        assert_eq!(json["level"], "info");
        assert_eq!(json["msg"], "hello json");
        assert_eq!(json["n"], 42);
        assert_eq!(json["line"], r#"{"level":"info","msg":"hello json","n":42}"#);
        let plain = &of(&events, "a", "stdout")[1].fields;
        assert_eq!(plain.len(), 1, "an undecodable line stays plain: {plain:?}");
        let logfmt = &of(&events, "a", "stderr")[0].fields;
        assert_eq!(logfmt["level"], "warn");
        assert_eq!(logfmt["msg"], "disk almost full");
        assert_eq!(logfmt["pct"], "91");
        let re = &of(&events, "b", "stdout")[0].fields;
        assert_eq!(re["level"], "ERROR");
        assert_eq!(re["component"], "db");
        assert_eq!(re["msg"], "connection refused");
        assert_eq!(of(&events, "b", "stdout")[1].fields.len(), 1);
        let errors = of(&events, "c", "decoder_error");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].fields["error"].as_str().unwrap().contains("invalid regex"));
        assert!(of(&events, "c", "stdout").iter().all(|e| e.fields.len() == 1));
        services.stop().await;
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_start_in_order_after_their_dependencies_are_ready() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let port = free_port();
        let upstream = with_health(
            with_interface(service("upstream", binary("./slow_http.sh", &[&port.to_string()])), "main", "http", port),
            Healthcheck::Http { url: format!("http://127.0.0.1:{port}/"), timeout_ms: 15_000, interval_ms: 50 },
        );
        let mut consumer = service("consumer", binary("./env_echo.sh", &[]));
        consumer.depends_on = vec!["upstream".into()];
        consumer.env = vec![EnvVar {
            name: "UPSTREAM".into(),
            parts: vec![
                EnvPart::Text { text: "http://".into() },
                EnvPart::Address { service: "upstream".into(), interface: "main".into(), attribute: "addr".into() },
            ],
            rendered: String::new(),
        }];
        let mut opts = options(1000);
        opts.extra_env.insert("OSPECC_EXTRA".into(), "from-options".into());
        let services = Services::start(&[upstream, consumer], events.clone(), opts).await.unwrap();
        let ready = of(&events, "upstream", "service_ready")[0].seq;
        let started = of(&events, "consumer", "service_started")[0].seq;
        assert!(started > ready, "the consumer started before its dependency was ready");
        assert!(of(&events, "upstream", "service_ready")[0].fields["ms"].as_f64().unwrap() >= 500.0);
        eventually("the consumer's output", Duration::from_secs(10), || of(&events, "consumer", "stdout").len() >= 2)
            .await;
        let lines: Vec<String> =
            of(&events, "consumer", "stdout").iter().map(|e| e.fields["line"].as_str().unwrap().to_owned()).collect();
        assert_eq!(lines[0], format!("UPSTREAM=http://localhost:{port}"));
        assert_eq!(lines[1], "EXTRA=from-options");
        services.stop().await;
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_services_that_cannot_start_say_why_and_mocks_are_skipped() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let mock = service(
            "mock",
            Launch::Mock {
                routes: vec![],
                default: None,
                config: serde_json::Value::Null,
                descriptors: None,
                openapi: None,
            },
        );
        let first = service("first", binary("sleep", &["1000"]));
        // An image that no registry has: with an engine the pull fails, without one there is
        // no engine; either way the start fails with the image's name and the reason.
        let db = service("db", Launch::Image { image: "localhost/ospecc-test-absent:never".into(), args: vec![] });
        let failure = Services::start(&[mock.clone(), first, db], events.clone(), options(1000)).await.err().unwrap();
        assert_eq!(failure.service, "db");
        assert!(failure.message.contains("localhost/ospecc-test-absent:never"), "{}", failure.message);
        assert!(
            failure.message.contains("container engine") || failure.message.contains("pulling it failed"),
            "{}",
            failure.message
        );
        assert_eq!(failure.results.iter().map(|r| r.state.as_str()).collect::<Vec<_>>(), ["ready", "ready", "failed"]);
        assert!(of(&events, "mock", "service_started").is_empty());
        assert_all_gone(&events).await;

        let built = service("api", Launch::Build { context: "./api".into(), args: vec![] });
        let failure = Services::start(&[built], EventLog::default(), options(1000)).await.err().unwrap();
        assert!(
            failure.message.contains("container engine") || failure.message.contains("api` is not a directory"),
            "{}",
            failure.message
        );
        // What `ospecc run` does at its end: the run's network (made for `db`) goes too.
        ospecc_runtime::container::cleanup();

        // Mocks alone start fine.
        let services = Services::start(&[with_interface(mock, "http", "http", 18080)], events.clone(), options(1000))
            .await
            .unwrap();
        assert_eq!(services.results()[0].state, "ready");
        assert_eq!(services.address("mock", "http"), Some("127.0.0.1:18080".parse().unwrap()));
        services.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_services_are_checked_not_started() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let events = EventLog::default();
        let remote = service("ext", Launch::Remote { address: format!("127.0.0.1:{port}") });
        let services = Services::start(&[remote], events.clone(), options(1000)).await.unwrap();
        assert_eq!(services.results()[0].state, "ready");
        assert_eq!(services.address("ext", "main"), Some(format!("127.0.0.1:{port}").parse().unwrap()));
        services.stop().await;

        let gone = service("gone", Launch::Remote { address: format!("127.0.0.1:{}", free_port()) });
        let failure = Services::start(&[gone], events, options(1000)).await.err().unwrap();
        assert!(failure.message.contains("not reachable"), "{}", failure.message);
        drop(listener);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_ready_is_reported() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let s = service("flaky", binary("sh", &["-c", "sleep 0.3; echo dying >&2; exit 7"]));
        let services = Services::start(&[s], events.clone(), options(1000)).await.unwrap();
        assert!(services.crashed().is_empty());
        eventually("the crash", Duration::from_secs(10), || !services.crashed().is_empty()).await;
        assert_eq!(services.crashed(), [("flaky".to_owned(), "exited with code 7".to_owned())]);
        assert_eq!(services.results()[0].state, "exited");
        let results = services.stop().await;
        assert_eq!(results[0].state, "exited");
        assert_eq!(of(&events, "flaky", "service_stopped")[0].fields["signal"], "none");
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_services_without_stop_kills_them() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let a = service("a", binary("./ignore_term.sh", &[]));
        let b = service("b", binary("./forker.sh", &[]));
        let services = Services::start(&[a, b], events.clone(), options(5000)).await.unwrap();
        let pgid = services.pid("b").unwrap() as i32;
        eventually("the children", Duration::from_secs(10), || group_members(pgid).len() >= 4).await;
        let started = Instant::now();
        drop(services);
        assert!(started.elapsed() < Duration::from_millis(500), "drop must not wait for a grace period");
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_running_leaves_no_process() {
    let _guard = EXCLUSIVE.read().await;
    bounded(async {
        let events = EventLog::default();
        let log = events.clone();
        let task = tokio::spawn(async move {
            let services =
                Services::start(&[service("a", binary("sleep", &["1000"]))], log, options(5000)).await.unwrap();
            let _keep = services;
            panic!("a scenario panicked");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_eq!(pids(&events).len(), 1);
        assert_all_gone(&events).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_all_now_kills_every_group() {
    let _guard = EXCLUSIVE.write().await;
    bounded(async {
        let events = EventLog::default();
        let a = service("a", binary("./ignore_term.sh", &[]));
        let b = service("b", binary("./forker.sh", &[]));
        let services = Services::start(&[a, b], events.clone(), options(5000)).await.unwrap();
        let pgid = services.pid("b").unwrap() as i32;
        eventually("the children", Duration::from_secs(10), || group_members(pgid).len() >= 4).await;
        kill_all_now();
        assert_all_gone(&events).await;
        // Teardown afterwards neither waits for the grace period nor signals again.
        let started = Instant::now();
        services.stop().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(of(&events, "a", "service_stopped")[0].fields["signal"] == "none");
    })
    .await
}

/// Not a test on its own: the body of `the_runtime_dying_kills_its_services`, which runs it in a
/// child process (this test binary, re-executed) and SIGKILLs that process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_death_helper() {
    if std::env::var_os("OSPECC_SUPERVISOR_DEATH_HELPER").is_none() {
        return;
    }
    let services =
        Services::start(&[service("orphan", binary("sleep", &["1000"]))], EventLog::default(), options(1000))
            .await
            .unwrap();
    // The harness prints `test parent_death_helper ... ` on the same line.
    println!("PID={}", services.pid("orphan").unwrap());
    // No teardown of any kind: only PR_SET_PDEATHSIG can end the service.
    std::mem::forget(services);
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn the_runtime_dying_kills_its_services() {
    use std::io::BufRead;
    let _guard = EXCLUSIVE.blocking_read();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "parent_death_helper", "--nocapture", "--test-threads=1"])
        .env("OSPECC_SUPERVISOR_DEATH_HELPER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(helper.stdout.take().unwrap());
    let pid: i32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split_once("PID=").map(|(_, p)| p.trim().parse().unwrap()))
        .expect("the helper printed no pid");
    assert!(alive(pid));
    helper.kill().unwrap();
    helper.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "the service {pid} outlived the runtime");
}
