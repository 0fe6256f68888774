//! `init` end to end without IO: Compose text in, files out, and every generated topology and
//! OSpec file checked by the same analysis `ospecc check` runs.

use std::path::Path;

use super::*;
use crate::db::{check_file, FileInput};
use crate::ospec::CheckOptions;
use crate::syntax::Language;
use crate::vfs::MemoryFs;

fn compose(text: &str) -> Generated {
    compose_with(text, &[])
}

fn compose_with(text: &str, profiles: &[String]) -> Generated {
    from_compose(&ComposeInput {
        text,
        file_name: "docker-compose.yml",
        default_name: "shop",
        profiles,
        base: "",
        spec_name: None,
    })
}

/// Every generated file, which `ospecc fmt` leaves as it is, checked beside the others; returns the errors and warnings as
/// `file: CODE message` (notes, such as "needs a container engine", are information).
fn check_generated(generated: &Generated) -> Vec<String> {
    let mut fs = MemoryFs::default();
    for file in &generated.files {
        fs = fs.with_file(format!("/w/{}", file.name), &file.text);
    }
    let options = CheckOptions::default();
    let mut found = Vec::new();
    for file in &generated.files {
        let path = format!("/w/{}", file.name);
        let language = if file.name.ends_with(".star") { Language::Topology } else { Language::OSpec };
        let formatted = crate::fmt::format(language, &file.text, &crate::fmt::Options::default());
        assert_eq!(
            formatted.text.as_deref(),
            Some(file.text.as_str()),
            "{} is not in `ospecc fmt`'s layout",
            file.name
        );
        let input = FileInput {
            path: Path::new(&path),
            text: &file.text,
            language,
            fs: std::sync::Arc::new(fs.clone()),
            root: Path::new("/w"),
            options: &options,
        };
        let diagnostics = check_file(&input);
        let findings = diagnostics.iter().filter(|d| d.severity != crate::Severity::Note);
        found.extend(findings.map(|d| format!("{}: {} {}", file.name, d.code, d.message)));
    }
    found
}

fn star(generated: &Generated) -> &str {
    &generated.files.iter().find(|f| f.name.ends_with(".star")).unwrap().text
}

const WEB_PG_REDIS: &str = r#"
services:
  web:
    build: ./web
    ports: ["8000:8000"]
    environment:
      DATABASE_URL: postgres://app:secret@db:5432/app
      REDIS_URL: redis://cache:6379/0
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: secret
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app"]
      interval: 5s
      retries: 10
  cache:
    image: redis:7-alpine
"#;

#[test]
fn web_postgres_redis_generates_a_clean_spec() {
    let generated = compose(WEB_PG_REDIS);
    assert!(generated.diagnostics.is_empty(), "{:#?}", generated.diagnostics);
    let text = star(&generated);
    eprintln!("{text}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}

fn codes(generated: &Generated) -> Vec<&'static str> {
    generated.diagnostics.iter().map(|d| d.code).collect()
}

/// The line of a diagnostic's start in `text` (1-based).
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[test]
fn kafka_with_zookeeper_references_brokers_but_never_itself() {
    let text = r#"
services:
  zookeeper:
    image: confluentinc/cp-zookeeper:7.6.0
    environment:
      ZOOKEEPER_CLIENT_PORT: 2181
  kafka:
    image: confluentinc/cp-kafka:7.6.0
    depends_on: [zookeeper]
    ports: ["9092:9092"]
    environment:
      KAFKA_ZOOKEEPER_CONNECT: zookeeper:2181
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://kafka:9092
  orders:
    build: ./orders
    environment:
      - KAFKA_BROKERS=kafka:9092
      - TOPIC=orders
    depends_on: [kafka]
"#;
    let generated = compose(text);
    assert!(generated.diagnostics.is_empty(), "{:#?}", generated.diagnostics);
    let star = star(&generated);
    assert!(star.contains("interface(\"main\", \"tcp\", 2181)"), "{star}");
    assert!(star.contains("\"KAFKA_ZOOKEEPER_CONNECT\": zookeeper.main.addr,"), "{star}");
    assert!(star.contains("\"KAFKA_ADVERTISED_LISTENERS\": \"PLAINTEXT://kafka:9092\","), "{star}");
    assert!(star.contains("\"KAFKA_BROKERS\": kafka.kafka.addr,"), "{star}");
    assert!(star.contains("kafka.kafka.publish(topic = \"ospecc-init\", data = \"hello\")"), "{star}");
    // Only the published broker gets a happy path; the zookeeper and the worker are internal.
    assert_eq!(star.matches("\ndef test_").count(), 1, "{star}");
    assert!(star.find("zookeeper = service").unwrap() < star.find("kafka = service").unwrap());
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}

#[test]
fn compose_healthchecks_become_healthcheck_arguments() {
    let text = r#"
services:
  api:
    image: ghcr.io/acme/api:1.4
    ports: ["8080:8080", "9464:9464"]
    healthcheck:
      test: ["CMD", "curl", "-fsS", "http://localhost:8080/healthz"]
      interval: 10s
      retries: 5
      start_period: 20s
  db:
    image: mysql:8
    environment:
      MYSQL_ROOT_PASSWORD: root
    healthcheck:
      test: mysqladmin ping -h localhost
  probe:
    build: ./probe
    expose: ["7000"]
    healthcheck:
      test: ["CMD-SHELL", "nc -z localhost 7000"]
  quiet:
    image: acme/quiet
    ports: ["7100:7100"]
    healthcheck:
      disable: true
  none:
    image: acme/none
    ports: ["7200:7200"]
    healthcheck:
      test: ["NONE"]
  custom:
    image: acme/custom
    ports: ["7300:7300"]
    healthcheck:
      test: ["CMD", "/bin/check", "--deep"]
"#;
    let generated = compose(text);
    assert!(generated.diagnostics.is_empty(), "{:#?}", generated.diagnostics);
    let star = star(&generated);
    assert!(star.contains("healthcheck = http(\"localhost:8080/healthz\", timeout = \"70s\"),"), "{star}");
    assert!(star.contains("interface(\"http_9464\", \"http\", 9464),"), "{star}");
    assert!(star.contains("healthcheck = ready(timeout = \"90s\"),"), "{star}");
    assert!(star.contains("healthcheck = tcp(\"localhost:7000\", timeout = \"90s\"),"), "{star}");
    assert!(
        star.contains("# compose healthcheck: /bin/check --deep\n    healthcheck = tcp(\"localhost:7300\""),
        "{star}"
    );
    for service in ["quiet", "none"] {
        let declaration = &star[star.find(&format!("{service} = service")).unwrap()..];
        let declaration = &declaration[..declaration.find("\n)\n").unwrap()];
        assert!(!declaration.contains("healthcheck"), "{declaration}");
    }
    assert_eq!(check_generated(&generated), Vec::<String>::new());
    let ospec = &generated.files[1].text;
    assert!(ospec.contains("- service: api\n      endpoint: /healthz\n      expected_status: \"2xx\""), "{ospec}");
}

#[test]
fn build_contexts_follow_the_output_directory() {
    let text = r#"
services:
  web:
    build:
      context: ./frontend
      dockerfile: Dockerfile.dev
      args:
        NODE_ENV: development
    image: acme/web:dev
    ports: ["3000:3000"]
    command: npm run dev -- --host 0.0.0.0
  api:
    build: .
    ports: ["4000:4000"]
  tools:
    build: https://github.com/acme/tools.git#main
"#;
    let generated = from_compose(&ComposeInput {
        text,
        file_name: "app/compose.yaml",
        default_name: "app",
        profiles: &[],
        base: "app",
        spec_name: Some("Acme Dev"),
    });
    assert!(generated.diagnostics.is_empty(), "{:#?}", generated.diagnostics);
    assert_eq!(
        generated.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["acme-dev.star", "acme-dev.ospec.yml"]
    );
    let star = star(&generated);
    assert!(star.contains("build = \"app/frontend\","), "{star}");
    assert!(star.contains("# compose builds it with dockerfile `Dockerfile.dev`"), "{star}");
    assert!(star.contains("build = \"app\","), "{star}");
    assert!(star.contains("build = \"https://github.com/acme/tools.git#main\","), "{star}");
    assert!(star.contains("args = [\"npm\", \"run\", \"dev\", \"--\", \"--host\", \"0.0.0.0\"],"), "{star}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}

const PROFILES: &str = r#"
services:
  app:
    image: acme/app
    ports: ["8000:8000"]
    depends_on: [db, debugger]
  db:
    image: postgres:16
  debugger:
    image: acme/debugger
    profiles: [debug]
    ports: ["5678:5678"]
"#;

#[test]
fn profiles_leave_services_out_unless_enabled() {
    let generated = compose(PROFILES);
    assert_eq!(codes(&generated), ["INI005"]);
    let diagnostic = &generated.diagnostics[0];
    assert_eq!(&PROFILES[diagnostic.span.start..diagnostic.span.end], "debugger");
    let star = star(&generated);
    assert!(!star.contains("debugger = service"), "{star}");
    assert!(star.contains("# Left out:\n#   debugger (profile debug: enable it with --profile debug)"), "{star}");
    assert!(star.contains("depends_on = [db],"), "{star}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());

    let enabled = compose_with(PROFILES, &["debug".to_owned()]);
    assert!(enabled.diagnostics.is_empty(), "{:#?}", enabled.diagnostics);
    assert!(star_of(&enabled).contains("depends_on = [db, debugger],"));
    assert_eq!(check_generated(&enabled), Vec::<String>::new());
}

fn star_of(generated: &Generated) -> String {
    star(generated).to_owned()
}

#[test]
fn extension_fields_are_merged_and_skipped() {
    let text = r#"
x-common: &common
  restart: unless-stopped
  environment: &env
    LOG_LEVEL: info
    CACHE_ADDR: cache:6379
x-version: 3

services:
  x-template:
    image: never/used
  worker:
    <<: *common
    image: acme/worker
    x-team: payments
  api:
    <<: *common
    image: acme/api
    ports: ["8080:8080"]
    environment:
      <<: *env
      PORT: 8080
  cache:
    image: valkey/valkey:8
"#;
    let generated = compose(text);
    assert!(generated.diagnostics.is_empty(), "{:#?}", generated.diagnostics);
    let star = star(&generated);
    assert!(!star.contains("never/used"), "{star}");
    assert!(star.contains("\"CACHE_ADDR\": cache.redis.addr,"), "{star}");
    assert!(star.contains("\"LOG_LEVEL\": \"info\","), "{star}");
    assert!(star.contains("\"PORT\": \"8080\","), "{star}");
    assert!(star.find("cache = service").unwrap() < star.find("worker = service").unwrap(), "{star}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}

#[test]
fn invalid_yaml_gets_a_located_diagnostic_and_no_files() {
    let text = "services:\n  web:\n    image: [unclosed\n    ports: 1\n";
    let generated = compose(text);
    assert!(generated.files.is_empty());
    assert!(generated.has_errors());
    let first = &generated.diagnostics[0];
    assert!(first.code.starts_with("OSP0"), "{first:?}");
    assert!(line_of(text, first.span.start) >= 3, "{first:?}");
}

#[test]
fn documents_that_are_not_compose_are_located() {
    let cases: &[(&str, &str)] = &[
        ("- web\n- db\n", "- web"),
        ("name: shop\nversion: '3'\n", "name"),
        ("services:\n  - web\n", "- web"),
        ("services: {}\n", "{}"),
        ("# only a comment\n", ""),
        ("services:\n  web: nginx\n", "services"),
    ];
    for (text, at) in cases {
        let generated = compose(text);
        assert!(generated.files.is_empty(), "{text}");
        let error = generated.diagnostics.iter().find(|d| d.severity == crate::Severity::Error).expect(text);
        assert_eq!(error.code, "INI001", "{text}: {:?}", generated.diagnostics);
        assert!(text[error.span.start..].starts_with(at), "{text}: at {:?}", error.span);
    }
}

#[test]
fn a_depends_on_cycle_is_an_error_at_a_service_of_it() {
    let text = "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n    depends_on: [a]\n";
    let generated = compose(text);
    assert_eq!(codes(&generated), ["INI004"]);
    assert!(generated.files.is_empty());
    assert!(generated.diagnostics[0].message.contains("a -> b -> a"), "{:?}", generated.diagnostics);
}

#[test]
fn a_reference_against_the_order_stays_text() {
    let text = "services:\n  a:\n    image: x\n    ports: ['80:80']\n    depends_on: [b]\n  b:\n    image: y\n    environment:\n      UPSTREAM: http://a:80\n";
    let generated = compose(text);
    assert_eq!(codes(&generated), ["INI005"]);
    let star = star(&generated);
    assert!(star.contains("\"UPSTREAM\": \"http://a:80\","), "{star}");
    // The Compose file has `b` read `a`'s address while `a` waits for `b`: the spec says so too.
    let found = check_generated(&generated);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("TOP124"), "{found:?}");
}

#[test]
fn unset_variables_and_odd_values_are_warnings_and_the_rest_is_generated() {
    let text = r#"
version: "3.9"
volumes: {data: {}}
flavour: odd
services:
  http:
    image: nginx:${NGINX_TAG:-1.27}
    ports: ["8080:80", "not-a-port", "70000"]
    entrypoint: ["/docker-entrypoint.sh"]
    env_file: .env
    environment:
      TOKEN: ${API_TOKEN}
      FROM_SHELL:
"#;
    let generated = compose(text);
    let found: Vec<(&str, usize)> =
        generated.diagnostics.iter().map(|d| (d.code, line_of(text, d.span.start))).collect();
    assert_eq!(
        found,
        [("INI003", 4), ("INI003", 8), ("INI003", 8), ("INI003", 9), ("INI003", 10), ("INI003", 12), ("INI003", 13)]
    );
    assert!(generated.diagnostics.iter().all(|d| d.severity == crate::Severity::Warning));
    let star = star(&generated);
    assert!(star.contains("http_svc = service(\n    \"http\","), "{star}");
    assert!(star.contains("image = \"nginx:1.27\","), "{star}");
    assert!(star.contains("\"TOKEN\": \"\","), "{star}");
    assert!(!star.contains("FROM_SHELL"), "{star}");
    assert!(star.contains("def test_http_svc_http():\n    resp = http_svc.http.get("), "{star}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}

#[test]
fn a_binary_gets_a_service_a_test_and_an_ospec() {
    let generated =
        from_binary(&BinaryInput { name: "api", port: 8080, protocol: "http", binary: "./target/debug/api" }).unwrap();
    let star = star(&generated);
    assert!(
        star.contains(
            "api = service(\n    \"api\",\n    \"./target/debug/api\",\n    interface(\"http\", \"http\", 8080),"
        ),
        "{star}"
    );
    assert!(star.contains("healthcheck = tcp(\"localhost:8080\"),"), "{star}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
    let redis = from_binary(&BinaryInput { name: "kv", port: 6380, protocol: "redis", binary: "bin/kv" }).unwrap();
    assert!(star_of(&redis).contains("healthcheck = ready(),"));
    assert_eq!(check_generated(&redis), Vec::<String>::new());
    assert!(from_binary(&BinaryInput { name: "x", port: 1, protocol: "gopher", binary: "x" })
        .unwrap_err()
        .contains("http"));
    assert!(from_binary(&BinaryInput { name: "x", port: 0, protocol: "tcp", binary: "x" }).is_err());
    assert!(from_binary(&BinaryInput { name: "42", port: 1, protocol: "tcp", binary: "x" }).is_err());
}

#[test]
fn nothing_published_makes_the_entry_points_public() {
    let text = "services:\n  web:\n    image: nginx\n    depends_on: [db]\n  db:\n    image: postgres\n";
    let generated = compose(text);
    let star = star(&generated);
    assert!(star.contains("def test_web_http():"), "{star}");
    assert!(!star.contains("def test_db_pg"), "{star}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}
