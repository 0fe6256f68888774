//! Lowering OSpec files into the plan's acceptance section, through `plan::build` with an
//! in-memory file system: targets and base URL precedence, health order, skip reasons,
//! `--allow-shell`, the secrets preflight, `--env`/`--phase`, and bad input that must become
//! skips or diagnostics, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use ospecc_compiler::plan::{self, PlanInput, PlanOptions};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::{Diagnostic, Severity};
use ospecc_schema::plan::acceptance::{Acceptance, Check, ExpectStatus, Probe};
use ospecc_schema::plan::Plan;

const WS: &str = "/ws";

fn example(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)).unwrap()
}

/// Builds a plan for `text` as `/ws/spec.ospec.yml`, with extra files under `/ws`.
fn build_with(text: &str, files: &[(&str, &str)], options: &PlanOptions) -> (Option<Plan>, Vec<Diagnostic>) {
    let mut fs = MemoryFs::default();
    for (name, content) in files {
        fs = fs.with_file(Path::new(WS).join(name), *content);
    }
    let path = Path::new(WS).join("spec.ospec.yml");
    fs = fs.with_file(&path, text);
    let input = PlanInput { path: &path, text, fs: &fs, root: Path::new(WS), options };
    let built = plan::build(&input);
    (built.plan, built.diagnostics)
}

fn build(text: &str, options: &PlanOptions) -> (Acceptance, Vec<Diagnostic>) {
    let (plan, diagnostics) = build_with(text, &[], options);
    let plan = plan.unwrap_or_else(|| panic!("no plan: {diagnostics:#?}"));
    (plan.acceptance.expect("an acceptance section"), diagnostics)
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn codes(diagnostics: &[Diagnostic]) -> Vec<&'static str> {
    diagnostics.iter().map(|d| d.code).collect()
}

fn stage<'a>(acceptance: &'a Acceptance, name: &str) -> &'a [Probe] {
    acceptance.stages.iter().find(|s| s.name == name).map_or(&[], |s| &s.probes)
}

fn probe<'a>(acceptance: &'a Acceptance, id: &str) -> &'a Probe {
    let all = acceptance.preflight.iter().chain(acceptance.stages.iter().flat_map(|s| &s.probes));
    let ids: Vec<&str> = all.clone().map(|p| p.id.as_str()).collect();
    all.into_iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no probe `{id}` among {ids:?}"))
}

fn skip<'a>(acceptance: &'a Acceptance, id: &str) -> &'a str {
    probe(acceptance, id).skip.as_deref().unwrap_or("")
}

fn url(probe: &Probe) -> &str {
    match &probe.check {
        Check::Http(request) => &request.url,
        Check::WaitHealthy { url, .. } | Check::Latency { url, .. } | Check::Throughput { url, .. } => url,
        other => panic!("no URL in {other:?}"),
    }
}

/// A minimal valid spec around an `acceptance` block (and extra root keys).
fn spec(rest: &str) -> String {
    format!("ospec_version: \"1.0.0\"\nid: test\nname: Test\ndescription: A test spec.\noutcome_type: api\n{rest}")
}

fn microservices() -> (Plan, Vec<Diagnostic>) {
    let text = example("examples/microservices/platform.ospec.yml");
    let schema = example("examples/microservices/schemas/products.json");
    let (plan, diagnostics) = build_with(&text, &[("schemas/products.json", &schema)], &PlanOptions::default());
    (plan.unwrap_or_else(|| panic!("no plan: {diagnostics:#?}")), diagnostics)
}

#[test]
fn microservices_targets_follow_the_dependency_order() {
    let (plan, _) = microservices();
    let acceptance = plan.acceptance.as_ref().unwrap();
    assert_eq!(acceptance.id.as_deref(), Some("microservices-ecommerce"));
    assert_eq!((acceptance.spec.as_str(), acceptance.profile.as_str()), ("spec.ospec.yml", "ext"));
    let targets: Vec<(&str, &str, &str)> =
        acceptance.targets.iter().map(|t| (t.name.as_str(), t.base_url.as_str(), t.base_source.as_str())).collect();
    assert_eq!(
        targets,
        [
            ("auth_service", "http://127.0.0.1:3003", "services.auth_service.ports"),
            ("product_service", "http://127.0.0.1:3002", "services.product_service.ports"),
            ("user_service", "http://127.0.0.1:3001", "services.user_service.ports"),
        ]
    );
    assert_eq!(acceptance.targets[2].depends_on, ["auth_service"]);
    let health: Vec<(&str, &str)> = stage(acceptance, "health").iter().map(|p| (p.id.as_str(), url(p))).collect();
    assert_eq!(
        health,
        [
            ("health.auth_service", "http://127.0.0.1:3003/ping"),
            ("health.product_service", "http://127.0.0.1:3002/docs"),
            ("health.user_service", "http://127.0.0.1:3001/health"),
        ]
    );
    let stages: Vec<(&str, Vec<String>)> =
        acceptance.stages.iter().map(|s| (s.name.as_str(), s.needs.clone())).collect();
    assert_eq!(stages[0], ("health", vec![]));
    assert_eq!(stages[1], ("endpoints", vec!["health".to_owned()]));
    assert_eq!(stages[3], ("performance", vec!["health".to_owned(), "endpoints".to_owned(), "flows".to_owned()]));
    let origin = &probe(acceptance, "health.auth_service").origin;
    assert_eq!((origin.file.as_str(), origin.line, origin.column), ("spec.ospec.yml", 29, 7));
}

#[test]
fn microservices_probes_and_skips() {
    let (plan, diagnostics) = microservices();
    let acceptance = plan.acceptance.as_ref().unwrap();
    // Three services and no `service:` on the endpoint: skipped, with a warning, never passed.
    assert!(skip(acceptance, "endpoint.GET./products").starts_with("ambiguous service"));
    assert!(codes(&diagnostics).contains(&"PLN104"));
    let Check::Http(request) = &probe(acceptance, "endpoint.GET./products").check else { panic!() };
    assert_eq!(request.json_schema.as_deref(), Some("schemas/products.json"));
    assert!(plan.sources.iter().any(|s| s.path == "schemas/products.json"));
    // POST with no body: the flow cannot start.
    let registration = probe(acceptance, "flow.user_registration_flow");
    assert!(registration.skip.as_deref().unwrap().contains("needs body"));
    let Check::Flow { steps, .. } = &registration.check else { panic!() };
    assert_eq!(steps[1].skip.as_deref(), Some("after skipped step 1"));
    assert_eq!(steps[2].request.as_ref().unwrap().url, "http://127.0.0.1:3001/users/profile");
    // Two GETs run; the prose step is manual and listed as unverifiable.
    let catalog = probe(acceptance, "flow.product_catalog_flow");
    assert_eq!(catalog.skip, None);
    let Check::Flow { steps, .. } = &catalog.check else { panic!() };
    assert_eq!(steps[1].request.as_ref().unwrap().expect, ExpectStatus::Codes { codes: vec![200, 404] });
    assert!(steps[2].request.is_none());
    assert!(steps[2].skip.as_deref().unwrap().starts_with("manual step"));
    assert_eq!(acceptance.unverifiable[0].path, "acceptance.integration_tests[1].steps[2]");
    let Check::Latency { stat, samples, warmup, bound_ms, .. } = &probe(acceptance, "latency.GET./products").check
    else {
        panic!()
    };
    assert_eq!((stat.as_str(), *samples, *warmup, *bound_ms), ("p95", 20, 3, 250));
    assert_eq!((plan.totals.probes, plan.totals.skipped_probes, plan.totals.unverifiable), (7, 3, 1));
}

#[test]
fn plans_are_deterministic() {
    let first = serde_json::to_string(&microservices().0).unwrap();
    let second = serde_json::to_string(&microservices().0).unwrap();
    assert_eq!(first, second);
}

const PRECEDENCE: &str = "\
services:
  api:
    ports: [\"8080:80\"]
  web:
    base_url: ${WEB_URL}
    dependencies: [api]
environments:
  staging:
    url: https://staging.example.com/
  prod:
    url: ${PROD_URL}
acceptance:
  http_endpoints:
    - {path: /items, service: api, status: 200}
    - {path: /, service: web, status: 200}
    - {path: /status, status: 200}
";

#[test]
fn base_urls_follow_the_precedence() {
    let text = spec(PRECEDENCE);
    // Own sources: the host port; an unset variable skips the probes of that target.
    let (acceptance, diagnostics) = build(&text, &PlanOptions::default());
    assert_eq!(url(probe(&acceptance, "endpoint.GET.api:/items")), "http://127.0.0.1:8080/items");
    assert_eq!(skip(&acceptance, "endpoint.GET.web:/"), "base URL needs ${WEB_URL}, which is not set");
    assert!(skip(&acceptance, "endpoint.GET./status").starts_with("ambiguous service"));
    assert!(codes(&diagnostics).contains(&"PLN102"));
    // The variable set: expanded into the plan.
    let options = PlanOptions { environment: env(&[("WEB_URL", "https://web.example.com")]), ..PlanOptions::default() };
    let (acceptance, _) = build(&text, &options);
    assert_eq!(url(probe(&acceptance, "endpoint.GET.web:/")), "https://web.example.com/");
    assert_eq!(acceptance.targets[1].base_source, "services.web.base_url");
    // --env: one URL for every target, unqualified probes included.
    let options = PlanOptions { env: Some("staging".into()), ..PlanOptions::default() };
    let (acceptance, diagnostics) = build(&text, &options);
    assert_eq!(url(probe(&acceptance, "endpoint.GET.api:/items")), "https://staging.example.com/items");
    assert_eq!(url(probe(&acceptance, "endpoint.GET./status")), "https://staging.example.com/status");
    assert!(acceptance.targets.iter().all(|t| t.base_source == "environments.staging.url"));
    assert_eq!(acceptance.targets.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["api", "web", "default"]);
    assert!(!codes(&diagnostics).contains(&"PLN102"));
    // --base-url beats --env.
    let options = PlanOptions {
        env: Some("staging".into()),
        base_url: Some("http://localhost:9000".into()),
        ..PlanOptions::default()
    };
    let (acceptance, _) = build(&text, &options);
    assert_eq!(url(probe(&acceptance, "endpoint.GET.web:/")), "http://localhost:9000/");
    assert!(acceptance.targets.iter().all(|t| t.base_source == "--base-url"));
    // An environment URL from a variable.
    let options = PlanOptions {
        env: Some("prod".into()),
        environment: env(&[("PROD_URL", "https://shop.example.com")]),
        ..PlanOptions::default()
    };
    let (acceptance, _) = build(&text, &options);
    assert_eq!(url(probe(&acceptance, "endpoint.GET./status")), "https://shop.example.com/status");
}

#[test]
fn without_services_the_health_check_url_or_app_url_or_a_default() {
    let text = spec(
        "monitoring:\n  health_check_url: ${APP_URL}/health\nacceptance:\n  http_endpoints:\n    - {path: /api, status: 200}\n",
    );
    let options = PlanOptions { environment: env(&[("APP_URL", "https://app.example.com")]), ..PlanOptions::default() };
    let (acceptance, diagnostics) = build(&text, &options);
    assert_eq!(url(probe(&acceptance, "endpoint.GET./api")), "https://app.example.com/api");
    assert_eq!(
        (acceptance.targets[0].name.as_str(), acceptance.targets[0].base_source.as_str()),
        ("default", "${APP_URL}")
    );
    assert_eq!(url(probe(&acceptance, "health.default")), "https://app.example.com/health");
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    // Unset: skipped with the reason, and one warning.
    let (acceptance, diagnostics) = build(&text, &PlanOptions::default());
    assert_eq!(skip(&acceptance, "endpoint.GET./api"), "base URL needs ${APP_URL}, which is not set");
    assert_eq!(skip(&acceptance, "health.default"), "base URL needs ${APP_URL}, which is not set");
    assert_eq!(codes(&diagnostics), ["PLN102"]);
    // `APP_URL` alone, with nothing in the spec.
    let bare = spec("acceptance:\n  http_endpoints:\n    - {path: /api, status: 200}\n");
    let options = PlanOptions { environment: env(&[("APP_URL", "http://10.0.0.5:8000/")]), ..PlanOptions::default() };
    let (acceptance, _) = build(&bare, &options);
    assert_eq!(url(probe(&acceptance, "endpoint.GET./api")), "http://10.0.0.5:8000/api");
    // Nothing at all: the default, with a warning.
    let (acceptance, diagnostics) = build(&bare, &PlanOptions::default());
    assert_eq!(url(probe(&acceptance, "endpoint.GET./api")), "http://127.0.0.1:3000/api");
    assert_eq!(acceptance.targets[0].base_source, "default");
    assert_eq!(codes(&diagnostics), ["PLN103"]);
}

#[test]
fn a_base_url_without_a_scheme_is_reported() {
    let text = spec("acceptance:\n  http_endpoints:\n    - {path: /api, status: 200}\n");
    let options = PlanOptions { base_url: Some("localhost:8080".into()), ..PlanOptions::default() };
    let (acceptance, diagnostics) = build(&text, &options);
    assert!(skip(&acceptance, "endpoint.GET./api").contains("not http(s)"));
    assert_eq!(codes(&diagnostics), ["PLN105"]);
}

const ENDPOINTS: &str = "\
acceptance:
  http_endpoints:
    - path: /me
      status: 200
      auth_required: true
    - path: /tasks
      method: POST
      status: 201
      auth_required: {scheme: bearer, secret: API_TOKEN}
      body: {title: test}
    - path: /orders
      method: POST
      status: 201
    - path: /products/{id}
      status: [200, 404]
    - path: /health
      method: HEAD
      status: 2xx
    - path: /health
      status: 200
      response_time_ms: 50
    - {path: /health, status: 503}
  integration_tests:
    - name: create_then_read
      steps:
        - method: POST
          path: /items
          body: {name: x}
          expect_status: 201
          capture: {id: $.id}
        - \"GET /items/{id} → 200\"
        - \"GET /items/{other} → 200\"
        - \"DELETE /items/{id} → 204\"
";

#[test]
fn endpoints_that_cannot_be_bound_are_skipped_with_the_reason() {
    let options = PlanOptions { base_url: Some("http://127.0.0.1:8080".into()), ..PlanOptions::default() };
    let (acceptance, diagnostics) = build(&spec(ENDPOINTS), &options);
    assert_eq!(skip(&acceptance, "endpoint.GET./me"), "needs auth (set OSPECC_AUTH_TOKEN to send credentials)");
    assert_eq!(skip(&acceptance, "endpoint.POST./tasks"), "needs auth (set API_TOKEN to send credentials)");
    assert_eq!(skip(&acceptance, "endpoint.POST./orders"), "needs body (POST with no `body`)");
    assert_eq!(skip(&acceptance, "endpoint.GET./products/{id}"), "unbound path parameter `{id}`");
    assert_eq!(probe(&acceptance, "endpoint.HEAD./health").skip, None);
    // The same method and path twice: unique ids.
    let Check::Http(first) = &probe(&acceptance, "endpoint.GET./health").check else { panic!() };
    assert_eq!(first.max_latency_ms, Some(50));
    let Check::Http(second) = &probe(&acceptance, "endpoint.GET./health#2").check else { panic!() };
    assert_eq!(second.expect, ExpectStatus::Codes { codes: vec![503] });
    assert!(!codes(&diagnostics).iter().any(|c| c.starts_with("PLN")), "{diagnostics:#?}");
    // Captures bind later path parameters; an unbound one skips its step and the rest.
    let Check::Flow { steps, .. } = &probe(&acceptance, "flow.create_then_read").check else { panic!() };
    assert_eq!(steps[0].text, "POST /items → 201");
    assert_eq!(steps[0].capture, [("id".to_owned(), "$.id".to_owned())]);
    assert_eq!(steps[0].request.as_ref().unwrap().body.as_deref(), Some(r#"{"name":"x"}"#));
    assert_eq!(steps[1].skip, None);
    assert_eq!(steps[2].skip.as_deref(), Some("unbound path parameter `{other}`"));
    assert_eq!(steps[3].skip.as_deref(), Some("after skipped step 3"));
    assert_eq!(probe(&acceptance, "flow.create_then_read").skip, None);
}

#[test]
fn credentials_are_references_never_values() {
    let options = PlanOptions {
        base_url: Some("http://127.0.0.1:8080".into()),
        environment: env(&[("OSPECC_AUTH_TOKEN", "s3cr3t-token"), ("API_TOKEN", "other-s3cr3t")]),
        ..PlanOptions::default()
    };
    let (plan, _) = build_with(&spec(ENDPOINTS), &[], &options);
    let plan = plan.unwrap();
    let acceptance = plan.acceptance.as_ref().unwrap();
    let Check::Http(me) = &probe(acceptance, "endpoint.GET./me").check else { panic!() };
    assert_eq!(me.headers, [("Authorization".to_owned(), "Bearer ${OSPECC_AUTH_TOKEN}".to_owned())]);
    assert_eq!(probe(acceptance, "endpoint.GET./me").skip, None);
    let Check::Http(tasks) = &probe(acceptance, "endpoint.POST./tasks").check else { panic!() };
    assert_eq!(probe(acceptance, "endpoint.POST./tasks").skip, None);
    assert!(tasks.headers.contains(&("Authorization".to_owned(), "Bearer ${API_TOKEN}".to_owned())));
    assert!(tasks.headers.contains(&("Content-Type".to_owned(), "application/json".to_owned())));
    let json = serde_json::to_string(&plan).unwrap();
    assert!(!json.contains("s3cr3t"), "a credential value leaked into the plan");
}

const COMMANDS: &str = "\
acceptance:
  commands:
    - name: mytool --version
      output_format: semver
    - run: mytool list --json
      stdout_contains: [\"[\"]
      max_duration_ms: 500
    - name: mytool show <task-id>
  performance:
    command_response_time_ms: 200
";

#[test]
fn commands_run_only_with_allow_shell() {
    let (acceptance, _) = build(&spec(COMMANDS), &PlanOptions::default());
    let commands = stage(&acceptance, "commands");
    assert_eq!(commands.len(), 3);
    assert!(commands.iter().all(|p| p.skip.as_deref() == Some("shell not allowed (use --allow-shell)")
        || p.skip.as_deref().is_some_and(|s| s.starts_with("unbound placeholder"))));
    let options = PlanOptions { allow_shell: true, ..PlanOptions::default() };
    let (acceptance, _) = build(&spec(COMMANDS), &options);
    let version = probe(&acceptance, "command.mytool --version");
    assert_eq!(version.skip, None);
    let Check::Command { argv, expect_exit, stdout_format, max_duration_ms, .. } = &version.check else { panic!() };
    assert_eq!((argv.as_slice(), *expect_exit), (&["mytool".to_owned(), "--version".to_owned()][..], 0));
    assert_eq!((stdout_format.as_deref(), *max_duration_ms), (Some("semver"), Some(200)));
    let Check::Command { stdout_contains, max_duration_ms, .. } =
        &probe(&acceptance, "command.mytool list --json").check
    else {
        panic!()
    };
    assert_eq!((stdout_contains.as_slice(), *max_duration_ms), (&["[".to_owned()][..], Some(500)));
    assert_eq!(skip(&acceptance, "command.mytool show <task-id>"), "unbound placeholder `<task-id>`");
}

#[test]
fn the_shop_example_secrets_thresholds_and_manual_items() {
    let shop = ["prompts/system.md", "tests/products.test.ts"].map(|f| (f, example(&format!("examples/shop/{f}"))));
    let files: Vec<(&str, &str)> = shop.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let (plan, diagnostics) = build_with(&example("examples/shop/outcome.yaml"), &files, &PlanOptions::default());
    let acceptance = plan.unwrap_or_else(|| panic!("{diagnostics:#?}")).acceptance.unwrap();
    let preflight: Vec<(&str, &Check)> = acceptance.preflight.iter().map(|p| (p.id.as_str(), &p.check)).collect();
    assert_eq!(
        preflight,
        [
            ("secret.DATABASE_URL", &Check::EnvPresent { variable: "DATABASE_URL".into() }),
            ("secret.STRIPE_SECRET_KEY", &Check::EnvPresent { variable: "STRIPE_SECRET_KEY".into() }),
        ]
    );
    assert_eq!(codes(&diagnostics), ["PLN103"]);
    let performance: Vec<&str> = stage(&acceptance, "performance").iter().map(|p| p.id.as_str()).collect();
    assert_eq!(performance, ["latency.GET./", "latency.GET./api/products", "throughput.GET./"]);
    let Check::Throughput { concurrency, min_rps, max_error_rate, duration_ms, .. } =
        &probe(&acceptance, "throughput.GET./").check
    else {
        panic!()
    };
    assert_eq!((*concurrency, *min_rps, *max_error_rate, *duration_ms), (10, 50.0, 0.01, 10_000));
    assert_eq!(skip(&acceptance, "endpoint.POST./api/cart/items"), "needs body (POST with no `body`)");
    let manual: Vec<&str> = acceptance.unverifiable.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(manual, ["acceptance.ux_flows[0]", "acceptance.tests"]);
}

#[test]
fn secrets_preflight_takes_names_and_keys() {
    let text =
        spec("secrets:\n  required: [API_KEY, {key: JWT_SECRET}, API_KEY]\nacceptance:\n  commands: [{run: x}]\n");
    let (acceptance, _) = build(&text, &PlanOptions::default());
    let ids: Vec<&str> = acceptance.preflight.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["secret.API_KEY", "secret.JWT_SECRET"]);
}

const OVERRIDES: &str = "\
environments:
  staging:
    url: https://staging.example.com
    acceptance:
      performance: {response_time_ms: 900}
phases:
  mvp:
    acceptance:
      http_endpoints: [{path: /login, status: 200}]
  beta:
    depends_on: [mvp]
    acceptance:
      http_endpoints: [{path: /reviews, status: 200}]
acceptance:
  http_endpoints:
    - path: /health
      status: 200
  performance:
    response_time_ms: 100
";

#[test]
fn env_and_phase_merge_their_overrides() {
    let options = PlanOptions { env: Some("staging".into()), phase: Some("beta".into()), ..PlanOptions::default() };
    let (acceptance, diagnostics) = build(&spec(OVERRIDES), &options);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let ids: Vec<&str> = stage(&acceptance, "endpoints").iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["endpoint.GET./health", "endpoint.GET./login", "endpoint.GET./reviews"]);
    let latency = probe(&acceptance, "latency.GET./login");
    let Check::Latency { bound_ms, url, .. } = &latency.check else { panic!() };
    assert_eq!((*bound_ms, url.as_str()), (900, "https://staging.example.com/login"));
    // The origin of an overridden threshold is where the override is written.
    assert_eq!(latency.origin.line, 10);
    let options =
        PlanOptions { phase: Some("mvp".into()), base_url: Some("http://h".into()), ..PlanOptions::default() };
    let (acceptance, _) = build(&spec(OVERRIDES), &options);
    assert_eq!(stage(&acceptance, "endpoints").len(), 2);
}

#[test]
fn unknown_env_or_phase_is_an_error_with_a_suggestion() {
    let options = PlanOptions { env: Some("stagign".into()), ..PlanOptions::default() };
    let (plan, diagnostics) = build_with(&spec(OVERRIDES), &[], &options);
    assert!(plan.is_none());
    let error = diagnostics.iter().find(|d| d.code == "PLN100").unwrap();
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(error.help.as_deref(), Some("did you mean `staging`?"));
    let options = PlanOptions { phase: Some("gamma".into()), ..PlanOptions::default() };
    let (plan, diagnostics) = build_with(&spec(OVERRIDES), &[], &options);
    assert!(plan.is_none());
    let error = diagnostics.iter().find(|d| d.code == "PLN101").unwrap();
    assert_eq!(error.help.as_deref(), Some("declared phases: mvp, beta"));
}

const HEALTH: &str = "\
services:
  web:
    ports: [8080]
    dependencies: [api]
    health: {path: /ready, interval_seconds: 2, retries: 5, initial_delay_seconds: 1}
  api:
    ports: [\"9000:9000/tcp\"]
monitoring:
  health_checks:
    - service: api
      endpoint: /healthz
      expected_status: 204
deployment:
  health_checks:
    service: api
    path: /healthz
    expected_status: 204
acceptance:
  service_health:
    - service: web
      endpoint: /ping
      timeout_seconds: 30
  http_endpoints:
    - {path: /, service: web, status: 200}
";

#[test]
fn health_waits_from_every_source_in_dependency_order() {
    let (acceptance, _) = build(&spec(HEALTH), &PlanOptions::default());
    let waits: Vec<(&str, &str, u64, u64, u64)> = stage(&acceptance, "health")
        .iter()
        .map(|p| match &p.check {
            Check::WaitHealthy { url, timeout_ms, interval_ms, initial_delay_ms, .. } => {
                (p.id.as_str(), url.as_str(), *timeout_ms, *interval_ms, *initial_delay_ms)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    // api first (web depends on it); the deployment duplicate of /healthz is dropped.
    assert_eq!(
        waits,
        [
            ("health.api", "http://127.0.0.1:9000/healthz", 60_000, 1_000, 0),
            ("health.web", "http://127.0.0.1:8080/ping", 30_000, 1_000, 0),
            ("health.web#2", "http://127.0.0.1:8080/ready", 11_000, 2_000, 1_000),
        ]
    );
    let Check::WaitHealthy { expect, .. } = &probe(&acceptance, "health.api").check else { panic!() };
    assert_eq!(expect, &ExpectStatus::Codes { codes: vec![204] });
}

#[test]
fn bad_input_is_diagnosed_not_panicked_on() {
    let cases = [
        "services:\n  a: {ports: [\"web:80\"]}\nacceptance:\n  service_health:\n    - endpoint: /health\n",
        "acceptance:\n  integration_tests:\n    - name: empty\n      steps: []\n",
        "acceptance:\n  http_endpoints: 5\n  performance: [1]\n  commands: [42]\n",
        "acceptance:\n  http_endpoints:\n    - {path: 12, method: FETCH, status: [999]}\n",
    ];
    for rest in cases {
        let (plan, diagnostics) = build_with(&spec(rest), &[], &PlanOptions::default());
        assert!(plan.is_none(), "{rest}");
        assert!(diagnostics.iter().any(|d| d.severity == Severity::Error), "{rest}: {diagnostics:#?}");
    }
    // Valid, but nothing can be bound: a service_health with no service among several services.
    let text = spec(
        "services:\n  a: {ports: [3001]}\n  b: {ports: [3002]}\nacceptance:\n  service_health:\n    - service: a\n  \
         integration_tests:\n    - name: prose\n      steps: [\"Log in as an admin\"]\n",
    );
    let (acceptance, _) = build(&text, &PlanOptions::default());
    assert_eq!(skip(&acceptance, "flow.prose"), "no step can run (step 1: manual step: `Log` is not an HTTP method)");
    assert_eq!(url(probe(&acceptance, "health.a")), "http://127.0.0.1:3001/health");
}

/// Every OSpec fixture and example lowers without a panic (with or without a plan).
#[test]
fn the_corpus_never_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pending = vec![root.join("tests/fixtures/ospec"), root.join("tests/fixtures/xsp"), root.join("examples")];
    let mut seen = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().into_owned();
            if path.is_dir() {
                pending.push(path);
            } else if name.ends_with(".ospec.yml") || name.ends_with("outcome.yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                for options in [
                    PlanOptions::default(),
                    PlanOptions { env: Some("staging".into()), phase: Some("mvp".into()), ..PlanOptions::default() },
                ] {
                    build_with(&text, &[], &options);
                }
                seen += 1;
            }
        }
    }
    assert!(seen > 20, "only {seen} files");
}
