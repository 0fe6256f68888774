//! OSpec probes against a small in-test HTTP server on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::probes::{run_acceptance, ProbeOptions};
use ospecc_runtime::report::{ItemKind, ItemResult, Outcome};
use ospecc_schema::plan::acceptance::{
    Acceptance, Check, ExpectStatus, FlowStep, HttpRequest, Probe, Stage, Unverifiable,
};
use ospecc_schema::plan::Origin;

// ---------------------------------------------------------------------------------------------
// The server.

#[derive(Default)]
struct State {
    health_polls: AtomicU64,
    half: AtomicU64,
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let cookie = req.headers().get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let method = req.method().as_str().to_owned();
    let reply = |status: u16, body: &str| {
        Response::builder().status(status).body(Full::new(Bytes::from(body.to_owned()))).unwrap()
    };
    let response = match (method.as_str(), path.as_str()) {
        ("GET", "/health") => reply(200, "ok"),
        ("GET", "/json") => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(r#"{"items":[{"id":"abc"}],"name":"widget"}"#)))
            .unwrap(),
        ("GET", "/text") => reply(200, "plain text, not json"),
        ("GET", "/slow") => {
            let ms: u64 = query.strip_prefix("ms=").and_then(|v| v.parse().ok()).unwrap_or(50);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            reply(200, "slow")
        }
        ("GET", "/warming") => {
            // 503 for the first three polls, then healthy.
            let n = state.health_polls.fetch_add(1, Ordering::SeqCst);
            if n < 3 {
                reply(503, "warming up")
            } else {
                reply(200, "ready")
            }
        }
        ("GET", "/half") => {
            let n = state.half.fetch_add(1, Ordering::SeqCst);
            if n & 1 == 0 {
                reply(200, "ok")
            } else {
                reply(500, "boom")
            }
        }
        ("GET", "/secure") => {
            if auth == "Bearer t0ken-value" {
                reply(200, "welcome")
            } else {
                reply(401, "who are you")
            }
        }
        ("POST", "/login") => Response::builder()
            .status(200)
            .header("set-cookie", "session=s1; Path=/")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(r#"{"user":{"id":"u42"}}"#)))
            .unwrap(),
        ("GET", "/profile") => {
            if cookie.contains("session=s1") {
                reply(200, "profile of the session user")
            } else {
                reply(401, "no session")
            }
        }
        ("GET", p) if p.starts_with("/users/") => reply(200, &format!("user {}", &p[7..])),
        ("GET", p) if p.starts_with("/status/") => {
            let code: u16 = p[8..].parse().unwrap_or(500);
            reply(code, "as asked")
        }
        _ => reply(404, "not found"),
    };
    Ok(response)
}

/// Serves on 127.0.0.1:0; returns the base URL.
async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let state = Arc::new(State::default());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(state.clone(), req));
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A URL on which nothing listens.
async fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// Plan builders.

fn origin() -> Origin {
    Origin { file: "outcome.ospec.yml".into(), line: 1, column: 1 }
}

fn probe(id: &str, check: Check) -> Probe {
    Probe { id: id.into(), origin: origin(), check, skip: None }
}

fn get(base: &str, path: &str, codes: &[u16]) -> HttpRequest {
    HttpRequest {
        target: "api".into(),
        method: "GET".into(),
        url: format!("{base}{path}"),
        expect: ExpectStatus::Codes { codes: codes.to_vec() },
        contains: vec![],
        headers: vec![],
        body: None,
        json_schema: None,
        max_latency_ms: None,
        timeout_ms: 5_000,
    }
}

fn stage(name: &str, needs: &[&str], probes: Vec<Probe>) -> Stage {
    Stage { name: name.into(), needs: needs.iter().map(|s| s.to_string()).collect(), probes }
}

fn acceptance(stages: Vec<Stage>) -> Acceptance {
    Acceptance { spec: "outcome.ospec.yml".into(), profile: "ext".into(), stages, ..Acceptance::default() }
}

fn options() -> ProbeOptions {
    ProbeOptions { workdir: std::env::temp_dir(), ..ProbeOptions::default() }
}

async fn run_one(check: Check, options: &ProbeOptions) -> (ItemResult, Vec<Event>) {
    let log = EventLog::default();
    let plan = acceptance(vec![stage("main", &[], vec![probe("the.probe", check)])]);
    let mut results = run_acceptance(&plan, &log, options).await;
    assert_eq!(results.len(), 1);
    let result = results.remove(0);
    let events = log.range(result.first_seq, result.end_seq);
    (result, events)
}

fn message(result: &ItemResult) -> &str {
    result.message.as_deref().unwrap_or("")
}

fn assert_outcome(result: &ItemResult, outcome: Outcome) {
    assert_eq!(result.outcome, outcome, "{}: {:?}", result.name, result.message);
}

// ---------------------------------------------------------------------------------------------
// HTTP.

#[tokio::test]
async fn http_status_codes_and_classes() {
    let base = serve().await;
    let (ok, events) = run_one(Check::Http(get(&base, "/health", &[200])), &options()).await;
    assert_outcome(&ok, Outcome::Passed);
    assert_eq!(ok.kind, ItemKind::Probe);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["probe_started", "http", "probe_finished"]);
    let http = &events[1];
    assert_eq!(http.service, "api");
    assert_eq!(http.fields["method"], "GET");
    assert_eq!(http.fields["url"], format!("{base}/health"));
    assert_eq!(http.fields["status"], 200);
    assert!(http.fields["ms"].is_number());
    assert_eq!(events[2].fields["outcome"], "passed");
    assert_eq!(ok.first_seq, events[0].seq);
    assert_eq!(ok.end_seq, events[2].seq + 1);

    let mut class = get(&base, "/status/204", &[]);
    class.expect = ExpectStatus::Class { class: 2 };
    assert_outcome(&run_one(Check::Http(class), &options()).await.0, Outcome::Passed);

    let (bad, _) = run_one(Check::Http(get(&base, "/status/503", &[200, 204])), &options()).await;
    assert_outcome(&bad, Outcome::Failed);
    assert!(message(&bad).contains("expected status 200|204, got 503"), "{}", message(&bad));
    assert!(message(&bad).contains("body: as asked"), "{}", message(&bad));

    let (down, events) = run_one(Check::Http(get(&closed_url().await, "/x", &[200])), &options()).await;
    assert_outcome(&down, Outcome::Failed);
    assert!(events.iter().any(|e| e.kind == "http" && e.fields.contains_key("error")));
}

#[tokio::test]
async fn http_contains_every_substring() {
    let base = serve().await;
    let mut request = get(&base, "/json", &[200]);
    request.contains = vec!["widget".into(), "\"id\"".into()];
    let (ok, _) = run_one(Check::Http(request.clone()), &options()).await;
    assert_outcome(&ok, Outcome::Passed);
    assert_eq!(ok.assertions, 3);

    request.contains.push("gadget".into());
    request.contains.push("sprocket".into());
    let (bad, _) = run_one(Check::Http(request), &options()).await;
    assert_outcome(&bad, Outcome::Failed);
    assert!(message(&bad).contains(r#"body does not contain "gadget", "sprocket""#), "{}", message(&bad));
}

#[tokio::test]
async fn http_headers_expand_from_the_environment() {
    let base = serve().await;
    let mut request = get(&base, "/secure", &[200]);
    request.headers = vec![("Authorization".into(), "Bearer ${API_TOKEN}".into())];

    let mut opts = options();
    let (skipped, _) = run_one(Check::Http(request.clone()), &opts).await;
    assert_outcome(&skipped, Outcome::Skipped);
    assert_eq!(message(&skipped), "needs ${API_TOKEN}, which is not set");

    opts.environment.insert("API_TOKEN".into(), "t0ken-value".into());
    assert_outcome(&run_one(Check::Http(request.clone()), &opts).await.0, Outcome::Passed);

    opts.environment.insert("API_TOKEN".into(), "wrong".into());
    let (bad, events) = run_one(Check::Http(request), &opts).await;
    assert_outcome(&bad, Outcome::Failed);
    // Header values are not logged.
    assert!(!serde_json::to_string(&events).unwrap().contains("wrong"));

    // `${VAR}` in the URL too.
    opts.environment.insert("BASE".into(), base.clone());
    let url_var = get("${BASE}", "/health", &[200]);
    assert_outcome(&run_one(Check::Http(url_var), &opts).await.0, Outcome::Passed);
}

#[tokio::test]
async fn http_json_schema_validates_the_body() {
    let base = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{"type": "object", "required": ["items", "name"], "properties": {"name": {"type": "string"}}}"#;
    std::fs::write(dir.path().join("item.schema.json"), schema).unwrap();
    std::fs::write(dir.path().join("strict.schema.json"), r#"{"type": "object", "required": ["price"]}"#).unwrap();
    let opts = ProbeOptions { workdir: dir.path().to_owned(), ..ProbeOptions::default() };

    let mut request = get(&base, "/json", &[200]);
    request.json_schema = Some("item.schema.json".into());
    let (ok, _) = run_one(Check::Http(request.clone()), &opts).await;
    assert_outcome(&ok, Outcome::Passed);

    request.json_schema = Some("strict.schema.json".into());
    let (mismatch, _) = run_one(Check::Http(request.clone()), &opts).await;
    assert_outcome(&mismatch, Outcome::Failed);
    assert!(message(&mismatch).contains("does not match strict.schema.json"), "{}", message(&mismatch));
    assert!(message(&mismatch).contains("price"), "{}", message(&mismatch));
    request.json_schema = Some("item.schema.json".into());

    request.url = format!("{base}/text");
    let (bad, _) = run_one(Check::Http(request.clone()), &opts).await;
    assert_outcome(&bad, Outcome::Failed);
    assert!(message(&bad).contains("body is not JSON"), "{}", message(&bad));

    request.url = format!("{base}/json");
    request.json_schema = Some("missing.schema.json".into());
    let (errored, _) = run_one(Check::Http(request), &opts).await;
    assert_outcome(&errored, Outcome::Errored);
    assert!(message(&errored).contains("cannot read the JSON Schema missing.schema.json"));
}

#[tokio::test]
async fn http_max_latency() {
    let base = serve().await;
    let mut request = get(&base, "/slow?ms=150", &[200]);
    request.max_latency_ms = Some(50);
    let (bad, _) = run_one(Check::Http(request.clone()), &options()).await;
    assert_outcome(&bad, Outcome::Failed);
    assert!(message(&bad).contains("over the 50 ms limit"), "{}", message(&bad));

    request.timeout_ms = 50;
    request.max_latency_ms = None;
    let (timed_out, _) = run_one(Check::Http(request), &options()).await;
    assert_outcome(&timed_out, Outcome::Failed);
    assert!(message(&timed_out).contains("timed out after 50 ms"), "{}", message(&timed_out));
}

// ---------------------------------------------------------------------------------------------
// Health waits.

#[tokio::test]
async fn wait_healthy_polls_until_ready_or_times_out() {
    let base = serve().await;
    let check = Check::WaitHealthy {
        target: "api".into(),
        url: format!("{base}/warming"),
        expect: ExpectStatus::Codes { codes: vec![200] },
        timeout_ms: 5_000,
        interval_ms: 20,
        initial_delay_ms: 0,
    };
    let (ok, events) = run_one(check, &options()).await;
    assert_outcome(&ok, Outcome::Passed);
    let statuses: Vec<u64> =
        events.iter().filter(|e| e.kind == "http").map(|e| e.fields["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [503, 503, 503, 200]);

    let check = Check::WaitHealthy {
        target: "api".into(),
        url: format!("{base}/status/503"),
        expect: ExpectStatus::Codes { codes: vec![200] },
        timeout_ms: 300,
        interval_ms: 50,
        initial_delay_ms: 50,
    };
    let started = Instant::now();
    let (bad, _) = run_one(check, &options()).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_outcome(&bad, Outcome::Failed);
    assert!(message(&bad).contains("not healthy after 300 ms"), "{}", message(&bad));
    assert!(message(&bad).contains("last: status 503, expected 200"), "{}", message(&bad));
}

// ---------------------------------------------------------------------------------------------
// Flows.

fn step(text: &str, request: HttpRequest) -> FlowStep {
    FlowStep { text: text.into(), request: Some(request), capture: vec![], skip: None }
}

fn post(base: &str, path: &str, codes: &[u16]) -> HttpRequest {
    HttpRequest { method: "POST".into(), body: Some(r#"{"user":"a"}"#.into()), ..get(base, path, codes) }
}

#[tokio::test]
async fn flows_share_cookies_and_captures() {
    let base = serve().await;
    let mut login = step("POST /login → 200", post(&base, "/login", &[200]));
    login.capture = vec![("uid".into(), "$.user.id".into())];
    let mut user = step("GET /users/{uid} → 200", get(&base, "/users/{uid}", &[200]));
    user.request.as_mut().unwrap().contains = vec!["user u42".into()];
    let flow = Check::Flow {
        name: "login".into(),
        steps: vec![login, step("GET /profile → 200", get(&base, "/profile", &[200])), user],
    };
    let (ok, events) = run_one(flow, &options()).await;
    assert_outcome(&ok, Outcome::Passed);
    let urls: Vec<&str> =
        events.iter().filter(|e| e.kind == "http").map(|e| e.fields["url"].as_str().unwrap()).collect();
    assert_eq!(urls, [format!("{base}/login"), format!("{base}/profile"), format!("{base}/users/u42")]);

    // Without the login step, the profile needs a session the jar does not have.
    let (alone, _) = run_one(
        Check::Flow {
            name: "no_login".into(),
            steps: vec![step("GET /profile → 200", get(&base, "/profile", &[200]))],
        },
        &options(),
    )
    .await;
    assert_outcome(&alone, Outcome::Failed);
}

#[tokio::test]
async fn a_failing_step_fails_the_flow_and_skips_the_rest() {
    let base = serve().await;
    let flow = Check::Flow {
        name: "broken".into(),
        steps: vec![
            step("GET /health → 200", get(&base, "/health", &[200])),
            step("GET /status/500 → 200", get(&base, "/status/500", &[200])),
            step("GET /profile → 200", get(&base, "/profile", &[200])),
            step("GET /health → 200", get(&base, "/health", &[200])),
        ],
    };
    let (bad, events) = run_one(flow, &options()).await;
    assert_outcome(&bad, Outcome::Failed);
    let text = message(&bad);
    assert!(text.starts_with("step 2 `GET /status/500 → 200` failed: GET "), "{text}");
    assert!(text.contains("expected status 200, got 500"), "{text}");
    assert!(text.ends_with("; skipped: step 3 `GET /profile → 200`, step 4 `GET /health → 200`"), "{text}");
    assert_eq!(events.iter().filter(|e| e.kind == "http").count(), 2);

    // A manual step skips the flow (never a pass).
    let manual = Check::Flow {
        name: "manual".into(),
        steps: vec![
            step("GET /health → 200", get(&base, "/health", &[200])),
            FlowStep {
                text: "Complete checkout".into(),
                request: None,
                capture: vec![],
                skip: Some("a manual step".into()),
            },
        ],
    };
    let (skipped, _) = run_one(manual, &options()).await;
    assert_outcome(&skipped, Outcome::Skipped);
    assert_eq!(message(&skipped), "step 2 `Complete checkout` cannot run: a manual step (1 step(s) before it passed)");
}

// ---------------------------------------------------------------------------------------------
// Thresholds.

#[tokio::test]
async fn latency_statistics_against_the_bound() {
    let base = serve().await;
    let latency = |path: &str, stat: &str, bound_ms: u64| Check::Latency {
        target: "api".into(),
        method: "GET".into(),
        url: format!("{base}{path}"),
        headers: vec![],
        samples: 10,
        warmup: 2,
        stat: stat.into(),
        bound_ms,
    };
    let (ok, events) = run_one(latency("/health", "p95", 1_000), &options()).await;
    assert_outcome(&ok, Outcome::Passed);
    assert!(message(&ok).starts_with("p95 "), "{}", message(&ok));
    assert!(message(&ok).contains("≤ 1000 ms over 10 samples"), "{}", message(&ok));
    assert_eq!(events.iter().filter(|e| e.kind == "http").count(), 12);

    let (slow, _) = run_one(latency("/slow?ms=40", "median", 20), &options()).await;
    assert_outcome(&slow, Outcome::Failed);
    let text = message(&slow);
    assert!(text.starts_with("median "), "{text}");
    assert!(text.contains("exceeds 20 ms over 10 samples"), "{text}");
    let measured: f64 = text["median ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(measured >= 40.0, "{text}");

    assert_outcome(&run_one(latency("/slow?ms=5", "max", 2_000), &options()).await.0, Outcome::Passed);
    assert_outcome(&run_one(latency("/health", "p99", 2_000), &options()).await.0, Outcome::Passed);
    let (errors, _) = run_one(latency("/status/500", "p95", 2_000), &options()).await;
    assert_outcome(&errors, Outcome::Failed);
    assert!(message(&errors).contains("10 of 10 samples answered with an error status (first 500)"));
    assert_outcome(&run_one(latency("/health", "fastest", 10), &options()).await.0, Outcome::Errored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_rps_and_error_rate() {
    let base = serve().await;
    let throughput = |path: &str, min_rps: f64, max_error_rate: f64, duration_ms: u64| Check::Throughput {
        target: "api".into(),
        method: "GET".into(),
        url: format!("{base}{path}"),
        headers: vec![],
        duration_ms,
        concurrency: 4,
        min_rps,
        max_error_rate,
    };
    // The plan's 60 s is capped by max_throughput.
    let opts = ProbeOptions { max_throughput: Duration::from_millis(500), ..options() };
    let started = Instant::now();
    let (ok, events) = run_one(throughput("/health", 20.0, 0.01, 60_000), &opts).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_outcome(&ok, Outcome::Passed);
    let load = events.iter().find(|e| e.kind == "load").expect("a load event");
    assert_eq!(load.fields["concurrency"], 4);
    assert!(load.fields["rps"].as_f64().unwrap() >= 20.0);
    assert_eq!(load.fields["errors"], 0);
    assert!(message(&ok).contains("rps (min 20)"), "{}", message(&ok));

    let (slow, _) = run_one(throughput("/slow?ms=100", 1_000.0, 0.01, 400), &opts).await;
    assert_outcome(&slow, Outcome::Failed);
    assert!(message(&slow).starts_with("below the minimum rate: "), "{}", message(&slow));

    let (flaky, _) = run_one(throughput("/half", 1.0, 0.01, 300), &opts).await;
    assert_outcome(&flaky, Outcome::Failed);
    assert!(message(&flaky).starts_with("too many errors: "), "{}", message(&flaky));
    assert!(message(&flaky).contains("first error: status 500"), "{}", message(&flaky));
}

// ---------------------------------------------------------------------------------------------
// Commands.

fn command(argv: &[&str], timeout_ms: u64) -> Check {
    Check::Command {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        cwd: None,
        timeout_ms,
        expect_exit: 0,
        stdout_contains: vec![],
        stdout_format: None,
        max_duration_ms: None,
    }
}

fn shell() -> ProbeOptions {
    ProbeOptions { allow_shell: true, ..options() }
}

#[tokio::test]
async fn commands_need_allow_shell() {
    let (skipped, events) = run_one(command(&["true"], 1_000), &options()).await;
    assert_outcome(&skipped, Outcome::Skipped);
    assert_eq!(message(&skipped), "shell not allowed (use --allow-shell)");
    assert!(events.iter().all(|e| e.kind != "command"));
    assert_outcome(&run_one(command(&["true"], 1_000), &shell()).await.0, Outcome::Passed);
}

#[tokio::test]
async fn commands_check_exit_stdout_format_and_duration() {
    let mut check = command(&["sh", "-c", "echo 'mytool 1.4.2'; echo built >&2"], 5_000);
    if let Check::Command { stdout_contains, stdout_format, max_duration_ms, .. } = &mut check {
        *stdout_contains = vec!["mytool".into()];
        *stdout_format = Some("semver".into());
        *max_duration_ms = Some(4_000);
    }
    let (ok, events) = run_one(check, &shell()).await;
    assert_outcome(&ok, Outcome::Passed);
    let event = events.iter().find(|e| e.kind == "command").unwrap();
    assert_eq!(event.fields["exit"], 0);
    assert_eq!(event.fields["stdout"], "mytool 1.4.2\n");
    assert_eq!(event.fields["stderr"], "built\n");

    let mut table = command(&["printf", "NAME   AGE\nbob    3\nalice  4\n"], 5_000);
    if let Check::Command { stdout_format, .. } = &mut table {
        *stdout_format = Some("table".into());
    }
    assert_outcome(&run_one(table, &shell()).await.0, Outcome::Passed);

    let mut bad = command(&["sh", "-c", "echo nope; exit 3"], 5_000);
    if let Check::Command { stdout_contains, stdout_format, .. } = &mut bad {
        *stdout_contains = vec!["yes".into()];
        *stdout_format = Some("semver".into());
    }
    let (failed, _) = run_one(bad, &shell()).await;
    assert_outcome(&failed, Outcome::Failed);
    assert_eq!(
        message(&failed),
        "`sh -c echo nope; exit 3`: exit code 3, expected 0; stdout does not contain \"yes\"; \
         stdout has no semantic version (x.y.z); stdout: nope"
    );

    let mut slow = command(&["sleep", "0.2"], 5_000);
    if let Check::Command { max_duration_ms, .. } = &mut slow {
        *max_duration_ms = Some(50);
    }
    let (too_slow, _) = run_one(slow, &shell()).await;
    assert_outcome(&too_slow, Outcome::Failed);
    assert!(message(&too_slow).contains("over the 50 ms limit"), "{}", message(&too_slow));

    let (missing, _) = run_one(command(&["/nonexistent/tool", "--version"], 1_000), &shell()).await;
    assert_outcome(&missing, Outcome::Failed);
    assert!(message(&missing).starts_with("cannot run `/nonexistent/tool --version`"), "{}", message(&missing));
}

#[tokio::test]
async fn command_cwd_is_relative_to_the_workdir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/marker.txt"), "here").unwrap();
    let mut check = command(&["cat", "marker.txt"], 5_000);
    if let Check::Command { cwd, stdout_contains, .. } = &mut check {
        *cwd = Some("sub".into());
        *stdout_contains = vec!["here".into()];
    }
    let opts = ProbeOptions { allow_shell: true, workdir: PathBuf::from(dir.path()), ..ProbeOptions::default() };
    assert_outcome(&run_one(check, &opts).await.0, Outcome::Passed);
}

#[tokio::test]
async fn a_command_timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    // The grandchild holds stdout open; only killing the whole group ends it.
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let started = Instant::now();
    let (timed_out, events) = run_one(command(&["sh", "-c", &script], 300), &shell()).await;
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert_outcome(&timed_out, Outcome::Failed);
    assert!(message(&timed_out).contains("timed out after 300 ms and was killed"), "{}", message(&timed_out));
    assert_eq!(events.iter().find(|e| e.kind == "command").unwrap().fields["timed_out"], true);

    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let mut alive = true;
    for _ in 0..50 {
        // Gone, or a zombie waiting for a reaper (the sandbox's init may not reap orphans).
        alive = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        };
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive, "the grandchild {pid} survived");
}

// ---------------------------------------------------------------------------------------------
// Stages, skips, preflight, unverifiable items.

#[tokio::test]
async fn needs_propagate_and_plan_skips_are_kept() {
    let base = serve().await;
    let down = closed_url().await;
    let health = probe(
        "health.api",
        Check::WaitHealthy {
            target: "api".into(),
            url: format!("{down}/health"),
            expect: ExpectStatus::Codes { codes: vec![200] },
            timeout_ms: 200,
            interval_ms: 50,
            initial_delay_ms: 0,
        },
    );
    let mut needs_auth = probe("endpoint.GET./secure", Check::Http(get(&base, "/secure", &[200])));
    needs_auth.skip = Some("needs auth".into());
    let plan = Acceptance {
        preflight: vec![
            probe("secret.DATABASE_URL", Check::EnvPresent { variable: "DATABASE_URL".into() }),
            probe("secret.STRIPE_KEY", Check::EnvPresent { variable: "STRIPE_KEY".into() }),
        ],
        stages: vec![
            // Written out of order: `perf` needs `endpoints`, which needs `health`.
            stage("perf", &["endpoints"], vec![probe("latency.GET./health", command(&["true"], 100))]),
            stage(
                "endpoints",
                &["health"],
                vec![probe("endpoint.GET./health", Check::Http(get(&base, "/health", &[200])))],
            ),
            stage("health", &[], vec![health]),
            stage(
                "independent",
                &[],
                vec![needs_auth, probe("endpoint.GET./json", Check::Http(get(&base, "/json", &[200])))],
            ),
        ],
        unverifiable: vec![Unverifiable {
            path: "acceptance.performance.lighthouse_score".into(),
            origin: origin(),
            reason: "needs a browser harness".into(),
        }],
        ..acceptance(vec![])
    };
    let mut opts = options();
    opts.environment.insert("DATABASE_URL".into(), "postgres://user:hunter22@db/app".into());
    let log = EventLog::default();
    let results = run_acceptance(&plan, &log, &opts).await;
    let summary: Vec<(&str, Outcome, &str)> =
        results.iter().map(|r| (r.name.as_str(), r.outcome, r.message.as_deref().unwrap_or(""))).collect();
    assert_eq!(
        summary,
        [
            ("secret.DATABASE_URL", Outcome::Passed, ""),
            ("secret.STRIPE_KEY", Outcome::Failed, "environment variable STRIPE_KEY is not set"),
            ("health.api", Outcome::Failed, summary[2].2),
            ("endpoint.GET./health", Outcome::Skipped, "needs health, which failed"),
            ("latency.GET./health", Outcome::Skipped, "needs endpoints, which did not run"),
            ("endpoint.GET./secure", Outcome::Skipped, "needs auth"),
            ("endpoint.GET./json", Outcome::Passed, ""),
            ("acceptance.performance.lighthouse_score", Outcome::Unverifiable, "needs a browser harness"),
        ]
    );
    assert_eq!(results[7].kind, ItemKind::Unverifiable);
    // The secret's value is never logged.
    let all = serde_json::to_string(&log.since(0)).unwrap();
    assert!(!all.contains("hunter22"));
    // Slices are contiguous and cover the log.
    for pair in results.windows(2) {
        assert_eq!(pair[0].end_seq, pair[1].first_seq);
    }
    assert_eq!(results.last().unwrap().end_seq, log.next_seq());
    let skipped_events = log.range(results[3].first_seq, results[3].end_seq);
    assert_eq!(skipped_events.len(), 1);
    assert_eq!(skipped_events[0].kind, "probe_finished");
    assert_eq!(skipped_events[0].fields["outcome"], "skipped");
}

#[test]
fn run_acceptance_can_be_spawned_and_options_hide_values() {
    fn assert_send<T: Send>(_: &T) {}
    let log = EventLog::default();
    let plan = acceptance(vec![]);
    let opts = options();
    let future = run_acceptance(&plan, &log, &opts);
    assert_send(&future);
    drop(future);

    let mut opts = options();
    opts.environment.insert("DB_PASSWORD".into(), "hunter22".into());
    let shown = format!("{opts:?}");
    assert!(shown.contains("DB_PASSWORD") && !shown.contains("hunter22"), "{shown}");
}
