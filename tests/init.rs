//! `ospecc init` end to end: Compose files written here (web + PostgreSQL + Redis, Kafka,
//! healthchecks, build contexts, profiles, extension fields) and one executable become
//! files equal to the goldens in `tests/init/golden/`, which `ospecc check --strict` passes;
//! bad input gets located diagnostics and writes nothing; existing files survive without
//! `--force`.
//!
//! `OSPECC_BLESS=1 cargo test --test init` rewrites the goldens; review the diff.

mod common;

use std::path::{Path, PathBuf};

use common::{ospecc, project, repo_root, Run};

const WEB_POSTGRES_REDIS: &str = r#"
name: shop
services:
  web:
    build: ./web
    ports: ["8000:8000"]
    environment:
      DATABASE_URL: postgres://shop:shop@db:5432/shop
      REDIS_URL: redis://cache:6379/0
      SESSION_TTL: 3600
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/health"]
      interval: 5s
      retries: 6
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: shop
      POSTGRES_DB: shop
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U shop"]
      interval: 2s
      retries: 15
  cache:
    image: redis:7-alpine
    ports: ["6379:6379"]
"#;

const KAFKA: &str = r#"
services:
  zookeeper:
    image: confluentinc/cp-zookeeper:7.6.0
    environment:
      ZOOKEEPER_CLIENT_PORT: 2181
  broker:
    image: confluentinc/cp-kafka:7.6.0
    depends_on: [zookeeper]
    ports: ["9092:9092"]
    environment:
      KAFKA_BROKER_ID: 1
      KAFKA_ZOOKEEPER_CONNECT: zookeeper:2181
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://broker:9092
  orders:
    build: ./orders
    environment:
      - KAFKA_BOOTSTRAP_SERVERS=broker:9092
      - ORDERS_TOPIC=orders
    depends_on: [broker]
"#;

const HEALTHCHECKS: &str = r#"
services:
  gateway:
    image: nginx:1.27-alpine
    ports: ["8080:80"]
    healthcheck:
      test: wget -q --spider http://localhost:80/ || exit 1
      interval: 10s
      start_period: 15s
  search:
    image: opensearchproject/opensearch:2
    expose: ["9200"]
    healthcheck:
      test: ["CMD-SHELL", "nc -z localhost 9200"]
  jobs:
    image: acme/jobs:1
    ports: ["7070:7070"]
    healthcheck:
      test: ["CMD", "/usr/local/bin/jobs", "healthcheck"]
  legacy:
    image: acme/legacy:0.9
    ports: ["7000:7000"]
    healthcheck:
      disable: true
"#;

const BUILDS: &str = r#"
services:
  frontend:
    build:
      context: ./frontend
      dockerfile: Dockerfile.dev
    ports: ["3000:3000"]
    command: npm run dev -- --port 3000
  api:
    build: .
    ports: ["4000:4000"]
    environment:
      PUBLIC_URL: http://frontend:3000
"#;

const PROFILES: &str = r#"
services:
  app:
    image: ghcr.io/acme/app:2.1
    ports: ["8000:8000"]
    environment:
      MONGO_URL: mongodb://mongo:27017/app
      TRACING: http://jaeger:4318
    depends_on: [mongo, jaeger]
  mongo:
    image: mongo:7
  jaeger:
    image: jaegertracing/all-in-one:1.57
    profiles: [tracing]
    ports: ["16686:16686", "4318:4318"]
"#;

const EXTENSIONS: &str = r#"
x-logging: &logging
  logging:
    driver: json-file
x-env: &shared-env
  NATS_URL: nats://bus:4222
  LOG_LEVEL: info

services:
  x-disabled:
    image: never/generated
  bus:
    image: nats:2.10
    ports: ["4222:4222"]
  publisher:
    <<: *logging
    image: acme/publisher:3
    environment:
      <<: *shared-env
      ROLE: publisher
    x-owner: team-a
  subscriber:
    <<: *logging
    image: acme/subscriber:3
    environment: *shared-env
"#;

fn bless() -> bool {
    std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1")
}

fn golden_dir() -> PathBuf {
    repo_root().join("tests/init/golden")
}

/// Compares a generated file with its golden (`<case>.<file>.golden`), or writes it.
fn assert_golden(case: &str, name: &str, actual: &str) {
    let golden = golden_dir().join(format!("{case}.{name}.golden"));
    if bless() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&golden, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("{} is missing: run with OSPECC_BLESS=1", golden.display()));
    assert_eq!(actual, expected, "{case}: {name} differs from {}", golden.display());
}

/// `ospecc check --strict` on a directory passes: no error, no warning.
fn assert_checks_clean(dir: &Path) {
    let run = ospecc(dir, &["check", "--strict", "--color", "never", "."]);
    run.expect(0);
    assert!(run.stdout.contains("0 errors, 0 warnings"), "{}", run.text());
}

fn generated(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".star") || name.ends_with(".ospec.yml"))
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// Writes `compose` as `compose.yaml`, runs `ospecc init --from-compose` with `extra`
/// arguments, compares both files with the goldens and checks them.
fn compose_case(case: &str, compose: &str, extra: &[&str]) -> Run {
    let dir = project(&[("compose.yaml", compose.as_bytes())]);
    let mut args = vec!["init", "--from-compose"];
    args.extend_from_slice(extra);
    let run = ospecc(dir.path(), &args);
    run.expect(0);
    let files = generated(dir.path());
    assert_eq!(files.len(), 2, "{case}: {files:?}");
    for (name, text) in &files {
        assert_golden(case, name, text);
    }
    assert_checks_clean(dir.path());
    run
}

#[test]
fn web_postgres_redis() {
    let run = compose_case("web-postgres-redis", WEB_POSTGRES_REDIS, &[]);
    assert!(run.stderr.contains("wrote shop.star") && run.stderr.contains("wrote shop.ospec.yml"), "{}", run.text());
}

#[test]
fn kafka() {
    compose_case("kafka", KAFKA, &["--name", "orders"]);
}

#[test]
fn healthchecks() {
    compose_case("healthchecks", HEALTHCHECKS, &["--name", "edge"]);
}

#[test]
fn build_contexts() {
    compose_case("builds", BUILDS, &["--name", "builds"]);
}

#[test]
fn profiles_off_and_on() {
    let off = compose_case("profiles-off", PROFILES, &["--name", "traced"]);
    assert!(off.stderr.contains("warning[INI005]"), "{}", off.text());
    compose_case("profiles-on", PROFILES, &["--name", "traced", "--profile", "tracing"]);
}

#[test]
fn extension_fields() {
    compose_case("extensions", EXTENSIONS, &["--name", "bus"]);
}

#[test]
fn build_contexts_are_relative_to_the_output_directory() {
    let dir = project(&[("app/docker-compose.yml", BUILDS.as_bytes())]);
    let run =
        ospecc(dir.path(), &["init", "--from-compose", "app/docker-compose.yml", "--out", "specs", "--name", "b"]);
    run.expect(0);
    let star = std::fs::read_to_string(dir.path().join("specs/b.star")).unwrap();
    assert!(star.contains("build = \"../app/frontend\","), "{star}");
    assert!(star.contains("build = \"../app\","), "{star}");
    assert_checks_clean(&dir.path().join("specs"));
}

#[test]
fn an_executable() {
    let dir = project(&[]);
    let run = ospecc(dir.path(), &["init", "--name", "api", "--port", "9000", "--protocol", "http", "./bin/api"]);
    run.expect(0);
    for (name, text) in generated(dir.path()) {
        assert_golden("binary", &name, &text);
    }
    assert_checks_clean(dir.path());
    let elsewhere = ospecc(dir.path(), &["init", "--name", "api", "--out", "specs", "./bin/api"]);
    elsewhere.expect(0);
    let star = std::fs::read_to_string(dir.path().join("specs/api.star")).unwrap();
    assert!(star.contains("    \"api\",\n    \"../bin/api\",\n"), "{star}");
    let bad = ospecc(dir.path(), &["init", "--protocol", "gopher", "--out", "x", "./bin/api"]);
    bad.expect(2);
    assert!(bad.stderr.contains("unknown protocol `gopher`"), "{}", bad.text());
    assert!(!dir.path().join("x").exists());
}

#[test]
fn existing_files_are_kept_without_force() {
    let dir = project(&[("compose.yaml", KAFKA.as_bytes()), ("orders.star", b"# mine\n")]);
    let refused = ospecc(dir.path(), &["init", "--from-compose", "--name", "orders"]);
    refused.expect(2);
    assert!(
        refused.stderr.contains("orders.star already exists; nothing written (--force overwrites)"),
        "{}",
        refused.text()
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("orders.star")).unwrap(), "# mine\n");
    assert!(!dir.path().join("orders.ospec.yml").exists(), "nothing is written when one file exists");
    ospecc(dir.path(), &["init", "--from-compose", "--name", "orders", "--force"]).expect(0);
    assert!(std::fs::read_to_string(dir.path().join("orders.star")).unwrap().contains("broker = service"));
}

#[test]
fn the_default_compose_file_and_stdout() {
    let dir = project(&[("docker-compose.yml", KAFKA.as_bytes())]);
    let run = ospecc(dir.path(), &["init", "--from-compose", "--stdout"]);
    run.expect(0);
    let name = dir.path().file_name().unwrap().to_string_lossy().to_lowercase();
    assert!(
        run.stdout.contains("# ---- ") && run.stdout.contains("broker = service(\n    \"broker\","),
        "{}",
        run.text()
    );
    assert!(run.stdout.contains("ospec_version: \"1.0.0\""), "{}", run.text());
    assert!(!name.is_empty());
    assert_eq!(generated(dir.path()), Vec::<(String, String)>::new(), "--stdout writes no file");
    let empty = project(&[]);
    let none = ospecc(empty.path(), &["init", "--from-compose"]);
    none.expect(2);
    assert!(none.stderr.contains("no Compose file here"), "{}", none.text());
}

#[test]
fn invalid_yaml_and_non_compose_files_are_located_and_write_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        ("services:\n  web:\n    image: [nginx\n    ports: [80]\n", "error[OSP0", "compose.yaml:"),
        ("- web\n- db\n", "error[INI001]", "compose.yaml:1:1"),
        ("version: '3'\nvolumes: {}\n", "error[INI001]", "compose.yaml:1:1"),
        (
            "services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n",
            "error[INI004]",
            "compose.yaml:2:3",
        ),
        ("\u{0}binary", "error[OSP002]", "compose.yaml"),
    ];
    for (text, code, at) in cases {
        let dir = project(&[("compose.yaml", text.as_bytes())]);
        let run = ospecc(dir.path(), &["init", "--from-compose", "compose.yaml"]);
        run.expect(1);
        assert!(run.stderr.contains(code) && run.stderr.contains(at), "{text:?}:\n{}", run.text());
        assert_eq!(generated(dir.path()), Vec::<(String, String)>::new(), "{text:?}");
    }
}

/// The generated spec of an executable runs: its happy-path test and the OSpec's health probe
/// pass against a real HTTP server (Python's, on a port of this suite's range).
#[test]
fn the_spec_of_an_executable_runs() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIP: python3 is not installed (it serves the HTTP the generated test calls)");
        return;
    }
    let script = b"#!/bin/sh\nexec python3 -m http.server \"$PORT\" --bind 127.0.0.1\n";
    let dir = project(&[("serve.sh", script)]);
    let path = dir.path().join("serve.sh");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    ospecc(dir.path(), &["init", "--name", "web", "--port", "45010", "./serve.sh"]).expect(0);
    let run =
        common::ospecc_with(dir.path(), &["run", "web.ospec.yml"], None, &[], std::time::Duration::from_secs(120));
    run.expect(0);
    assert!(run.stdout.contains("2 passed, 0 failed"), "{}", run.text());
    assert!(run.stderr.contains("PASS test_web_http") && run.stderr.contains("PASS health.web"), "{}", run.text());
}

const LOCAL_IMAGES: &str = r#"
name: local
services:
  db:
    image: postgres:16-alpine
    command: ["postgres", "-p", "45432"]
    ports: ["45432:45432"]
    environment:
      POSTGRES_PASSWORD: secret
      PGPORT: "45432"
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -p 45432"]
      interval: 1s
      retries: 60
  cache:
    image: redis:7-alpine
    command: redis-server --port 45379
    ports: ["45379:45379"]
"#;

/// The container engine that has every image here, if one does.
fn engine_with(images: &[&str]) -> Result<String, String> {
    for program in ["podman", "docker"] {
        let has = |image: &str| {
            std::process::Command::new(program)
                .args(["image", "inspect", image])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if images.iter().all(|image| has(image)) {
            return Ok(program.to_owned());
        }
    }
    Err(format!("neither podman nor docker has {} here", images.join(" and ")))
}

/// A Compose file of images this machine has becomes a spec whose happy paths pass against
/// the real containers (PostgreSQL's `SELECT 1`, Redis's `PING`).
#[test]
fn a_compose_spec_runs_where_its_images_exist() {
    let engine = match engine_with(&["postgres:16-alpine", "redis:7-alpine"]) {
        Ok(engine) => engine,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return;
        }
    };
    let dir = project(&[("compose.yaml", LOCAL_IMAGES.as_bytes())]);
    ospecc(dir.path(), &["init", "--from-compose"]).expect(0);
    assert_checks_clean(dir.path());
    let args = ["run", "local.star", "--engine", &engine, "--grace", "2"];
    let run = common::ospecc_with(dir.path(), &args, None, &[], std::time::Duration::from_secs(300));
    run.expect(0);
    assert!(run.stdout.contains("2 passed, 0 failed"), "{}", run.text());
    assert!(run.stderr.contains("PASS test_db_pg") && run.stderr.contains("PASS test_cache_redis"), "{}", run.text());
}
