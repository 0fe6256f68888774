//! A small but realistic plan, written by hand, shared by the text and dot tests: three
//! services (a Postgres image, a mock, a binary that depends on both), a plain test with a
//! scoped fault and a monitor, a 2×2 fault matrix (one syscall fault, one proxy fault), and an
//! acceptance section with a preflight, two stages, a skipped probe and an unverifiable item.

use ospecc_schema::plan::acceptance::{Check, ExpectStatus, HttpRequest, Probe, Stage, Target, Unverifiable};
use ospecc_schema::plan::topology::{
    Callable, EnvPart, EnvVar, Healthcheck, Interface, Launch, Matcher, MatrixCell, MockResponse, MockRoute,
    ProxyAction, ProxyRule, ScopedFault, SyscallAction, SyscallRule,
};
use ospecc_schema::plan::{Acceptance, Monitor, Options, Origin, Plan, Service, Test, Totals, PLAN_VERSION};

pub fn origin(file: &str, line: u32) -> Origin {
    Origin { file: file.to_owned(), line, column: 1 }
}

fn callable(name: &str) -> Callable {
    Callable { id: format!("api.star#{name}"), name: name.to_owned() }
}

fn text(text: &str) -> EnvPart {
    EnvPart::Text { text: text.to_owned() }
}

fn address(service: &str, interface: &str, attribute: &str) -> EnvPart {
    EnvPart::Address { service: service.to_owned(), interface: interface.to_owned(), attribute: attribute.to_owned() }
}

fn interface(name: &str, protocol: &str, port: u16) -> Interface {
    Interface { name: name.to_owned(), protocol: protocol.to_owned(), port: Some(port), spec: None, tls: false }
}

/// A service with nothing but a name, a launch and an origin; callers fill in the rest.
pub fn service(name: &str, line: u32, launch: Launch) -> Service {
    Service {
        name: name.to_owned(),
        origin: origin("api.star", line),
        launch,
        interfaces: Vec::new(),
        env: Vec::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        healthcheck: None,
        depends_on: Vec::new(),
        observe: Vec::new(),
        ops: Vec::new(),
        seccomp: true,
        intercept: Vec::new(),
        intercept_unknown: Vec::new(),
        reuse: false,
        seed: None,
        reset: None,
    }
}

fn services() -> Vec<Service> {
    let mut db = service("db", 3, Launch::Image { image: "postgres:16".to_owned(), args: Vec::new() });
    db.interfaces.push(interface("pg", "postgres", 5432));
    db.healthcheck =
        Some(Healthcheck::Tcp { address: "localhost:5432".to_owned(), timeout_ms: 30_000, interval_ms: 500 });
    let json = |status| MockResponse::Json { status, body: serde_json::json!({"ok": true}), headers: Vec::new() };
    let routes = vec![
        MockRoute { key: "POST /charge".to_owned(), response: json(200) },
        MockRoute { key: "GET /health".to_owned(), response: MockResponse::Status { status: 204 } },
    ];
    let mut payments = service(
        "payments",
        9,
        Launch::Mock {
            routes,
            default: Some(MockResponse::Status { status: 404 }),
            config: serde_json::Value::Null,
            descriptors: None,
            openapi: None,
        },
    );
    payments.interfaces.push(interface("http", "http", 9000));
    let args = ["--port", "8080"].map(str::to_owned).to_vec();
    let mut api = service("api", 15, Launch::Binary { path: "./bin/api".to_owned(), args });
    api.interfaces.push(interface("http", "http", 8080));
    api.depends_on = vec!["db".to_owned(), "payments".to_owned()];
    api.env = vec![
        EnvVar {
            name: "DB_URL".to_owned(),
            parts: vec![text("postgres://"), address("db", "pg", "internal_addr"), text("/app")],
            rendered: "postgres://localhost:5432/app".to_owned(),
        },
        EnvVar {
            name: "PAYMENTS".to_owned(),
            parts: vec![address("payments", "http", "addr")],
            rendered: "localhost:9000".to_owned(),
        },
    ];
    api.healthcheck =
        Some(Healthcheck::Http { url: "localhost:8080/health".to_owned(), timeout_ms: 10_000, interval_ms: 1_000 });
    api.intercept = ["connect", "pwrite64", "write", "writev"].map(str::to_owned).to_vec();
    vec![db, payments, api]
}

fn syscall_rule(line: u32) -> SyscallRule {
    SyscallRule {
        service: "api".to_owned(),
        key: "connect".to_owned(),
        syscalls: vec!["connect".to_owned()],
        action: SyscallAction::Deny { errno: "ECONNREFUSED".to_owned() },
        probability: 1.0,
        max_fires: None,
        mode: None,
        label: None,
        path: None,
        assumption: "db_down".to_owned(),
        origin: origin("api.star", line),
    }
}

fn proxy_rule(line: u32) -> ProxyRule {
    ProxyRule {
        service: "db".to_owned(),
        interface: "pg".to_owned(),
        protocol: "postgres".to_owned(),
        action: ProxyAction::Error { message: None, status: None },
        matchers: vec![Matcher { field: "query".to_owned(), glob: "INSERT INTO users*".to_owned() }],
        probability: 1.0,
        assumption: "insert_fails".to_owned(),
        origin: origin("api.star", line),
    }
}

/// A test with only the fields every test has; callers fill in the rest.
pub fn test(name: &str, kind: ospecc_schema::plan::topology::TestKind, line: u32, body: &str) -> Test {
    Test { timeout_ms: 60_000, ..Test::new(name.to_owned(), kind, origin("api.star", line), callable(body)) }
}

fn matrix_cell(scenario: &str, fault: &str, expect_source: &str) -> Test {
    use ospecc_schema::plan::topology::TestKind;
    let mut cell = test(&format!("test_matrix_{scenario}_{fault}"), TestKind::MatrixCell, 60, scenario);
    cell.matrix =
        Some(MatrixCell { origin: origin("api.star", 60), scenario: scenario.to_owned(), fault: fault.to_owned() });
    cell.expect_source = Some(expect_source.to_owned());
    cell.expect = (expect_source != "smoke").then(|| callable("expect_error"));
    cell.faults = vec![fault.to_owned()];
    match fault {
        "db_down" => cell.syscall_rules.push(syscall_rule(40)),
        _ => cell.proxy_rules.push(proxy_rule(45)),
    }
    cell.timeout_ms = 30_000;
    cell
}

fn tests() -> Vec<Test> {
    use ospecc_schema::plan::topology::TestKind;
    let mut health = test("test_health", TestKind::Def, 50, "test_health");
    health.scoped_faults.push(ScopedFault {
        builtin: "fault".to_owned(),
        function: "test_health".to_owned(),
        origin: origin("api.star", 52),
        services: vec!["api".to_owned()],
        interface: None,
        syscalls: vec!["connect".to_owned()],
        assumption: Some("db_down".to_owned()),
        direction: None,
    });
    health.monitors = vec!["no_lost_writes".to_owned()];
    health.instances = 2;
    vec![
        health,
        matrix_cell("create_user", "db_down", "override"),
        matrix_cell("create_user", "insert_fails", "default_expect"),
        matrix_cell("list_users", "db_down", "default_expect"),
        matrix_cell("list_users", "insert_fails", "smoke"),
    ]
}

fn monitors() -> Vec<Monitor> {
    vec![Monitor {
        name: "no_lost_writes".to_owned(),
        origin: origin("api.star", 70),
        scope: "spec".to_owned(),
        callables: vec![callable("check_writes")],
        update: None,
        check: None,
        state_init: None,
        filters: vec![("service".to_owned(), "db".to_owned())],
    }]
}

fn request(method: &str, path: &str, expect: ExpectStatus) -> HttpRequest {
    HttpRequest {
        target: "api".to_owned(),
        method: method.to_owned(),
        url: format!("http://localhost:8080{path}"),
        expect,
        contains: Vec::new(),
        headers: Vec::new(),
        body: None,
        json_schema: None,
        max_latency_ms: None,
        timeout_ms: 5_000,
    }
}

fn probe(id: &str, line: u32, check: Check, skip: Option<&str>) -> Probe {
    Probe { id: id.to_owned(), origin: origin("api.yaml", line), check, skip: skip.map(str::to_owned) }
}

fn acceptance() -> Acceptance {
    let health = Check::WaitHealthy {
        target: "api".to_owned(),
        url: "http://localhost:8080/health".to_owned(),
        expect: ExpectStatus::Class { class: 2 },
        timeout_ms: 30_000,
        interval_ms: 1_000,
        initial_delay_ms: 0,
    };
    let users = Check::Http(request("GET", "/users", ExpectStatus::Codes { codes: vec![200] }));
    let create = Check::Http(request("POST", "/users", ExpectStatus::Codes { codes: vec![201] }));
    Acceptance {
        spec: "api.yaml".to_owned(),
        id: Some("users-api".to_owned()),
        profile: "core".to_owned(),
        targets: vec![Target {
            name: "api".to_owned(),
            base_url: "http://localhost:8080".to_owned(),
            base_source: "services.api.ports".to_owned(),
            depends_on: Vec::new(),
        }],
        preflight: vec![probe("secret.DB_PASSWORD", 4, Check::EnvPresent { variable: "DB_PASSWORD".to_owned() }, None)],
        stages: vec![
            Stage { name: "health".to_owned(), needs: Vec::new(), probes: vec![probe("health.api", 10, health, None)] },
            Stage {
                name: "endpoints".to_owned(),
                needs: vec!["health".to_owned()],
                probes: vec![
                    probe("endpoint.1", 20, users, None),
                    probe("endpoint.2", 24, create, Some("needs a request body")),
                ],
            },
        ],
        unverifiable: vec![Unverifiable {
            path: "acceptance.ux.onboarding".to_owned(),
            origin: origin("api.yaml", 40),
            reason: "a judgement about people, not a response".to_owned(),
        }],
    }
}

/// The sample plan; its totals are what lowering would count for it.
pub fn plan() -> Plan {
    Plan {
        version: PLAN_VERSION,
        root: "api.star".to_owned(),
        topology: Some("api.star".to_owned()),
        options: Options { env: Some("staging".to_owned()), ..Options::default() },
        services: services(),
        tests: tests(),
        monitors: monitors(),
        acceptance: Some(acceptance()),
        totals: Totals {
            services: 3,
            tests: 5,
            matrix_cells: 4,
            syscall_rules: 2,
            proxy_rules: 2,
            monitors: 1,
            probes: 4,
            skipped_probes: 1,
            unverifiable: 1,
            instances: 9,
        },
        sources: Vec::new(),
    }
}
