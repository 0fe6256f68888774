//! The topology half of the plan: services and how to launch them, tests with their resolved
//! fault rules, monitors, and the callables a runtime invokes (by stable id).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Origin;

/// A function of the spec the runtime calls: a scenario, an expectation, a monitor callback.
///
/// `id` is stable for a given source bundle: `FILE#NAME` for a named `def`, `FILE#lambda.N`
/// for the N-th lambda (1-based, in the order the evaluation first met it), and `#N` appended
/// to a name that two different functions share. A runtime that re-evaluates the bundle
/// assigns the same ids the same way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Callable {
    pub id: String,
    /// The function's name (`lambda` for lambdas).
    pub name: String,
}

/// One service to launch (or, for a mock, to serve in-process).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub origin: Origin,
    pub launch: Launch,
    pub interfaces: Vec<Interface>,
    /// Environment variables, sorted by name; address references stay references so the
    /// runtime can render them per consumer (through a proxy edge or directly).
    pub env: Vec<EnvVar>,
    /// Published ports (`ports={host: container}`), sorted by host port.
    pub ports: Vec<PortMap>,
    /// A container's bind mounts (`volumes={host path: container path}`), sorted by host path;
    /// relative host paths resolve against the run's working directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Services that must be healthy before this one starts, sorted.
    pub depends_on: Vec<String>,
    /// Output streams captured as events.
    pub observe: Vec<Observe>,
    /// Named syscall groups (`ops={name: op(...)}`), usable as fault keys.
    pub ops: Vec<Op>,
    /// Whether a seccomp filter may be installed at all (`seccomp=False` opts out).
    pub seccomp: bool,
    /// The syscalls to filter on this service: every syscall some fault or trace in the plan
    /// can target on it, families expanded, sorted. Empty means no filter is installed.
    pub intercept: Vec<String>,
    /// Fault sites whose syscall keys could not be known statically (`**kwargs`): the
    /// intercept set may miss what they fault.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intercept_unknown: Vec<Origin>,
    /// `reuse=True`: the service is kept running from one test to the next instead of being
    /// restarted (its `reset=`, else its `seed=`, runs before each test that reuses it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reuse: bool,
    /// `seed=`: called once after each fresh start of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Callable>,
    /// `reset=`: called before each test that reuses the running service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Callable>,
}

/// How a service comes to run.
// A plan holds a handful of services, each read far more than moved: boxing the mock's
// payload would buy nothing but an indirection in every reader.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Launch {
    /// A local executable with its arguments.
    Binary { path: String, args: Vec<String> },
    /// A container image (needs a container engine).
    Image { image: String, args: Vec<String> },
    /// A container built from a directory (needs a container engine).
    Build { context: String, args: Vec<String> },
    /// An already running service reached over the network.
    Remote { address: String },
    /// An in-process mock.
    Mock {
        routes: Vec<MockRoute>,
        default: Option<MockResponse>,
        /// Protocol-specific seed state (`config=`): Redis `state`, Kafka `topics` and
        /// `partitions`, MongoDB `collections`. Null when the spec gives none.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        config: serde_json::Value,
        /// A gRPC mock's `descriptors=`: a protoc FileDescriptorSet, relative to the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        descriptors: Option<String>,
        /// An HTTP mock served from an OpenAPI document (`openapi=`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        openapi: Option<MockOpenApi>,
    },
}

/// One network interface of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    pub name: String,
    pub protocol: String,
    /// The declared port (`None` when the spec computes it in a way not known statically).
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    #[serde(default)]
    pub tls: bool,
}

/// An environment variable whose value may reference other services' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub parts: Vec<EnvPart>,
    /// The value with every reference rendered to its direct (unproxied) address.
    pub rendered: String,
}

/// A piece of an environment value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnvPart {
    Text {
        text: String,
    },
    /// `svc.iface.ATTRIBUTE` (`addr`, `host`, `internal_addr`, `proxy_addr`, ...).
    Address {
        service: String,
        interface: String,
        attribute: String,
    },
}

/// One bind mount of a container service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub host: String,
    pub container: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortMap {
    pub host: u16,
    pub container: u16,
}

/// How the runtime decides a service is ready; each check races the process's exit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Healthcheck {
    /// A TCP connect succeeds (`tcp("localhost:5432")`).
    Tcp { address: String, timeout_ms: u64, interval_ms: u64 },
    /// A GET answers 2xx or 3xx (`http("localhost:8080/health")`).
    Http { url: String, timeout_ms: u64, interval_ms: u64 },
    /// The protocol's own readiness check on the default interface (`ready()`).
    Ready { interface: String, protocol: String, timeout_ms: u64, interval_ms: u64 },
    /// A Kafka broker answers metadata with a leader (`kafka_ready(...)`).
    Kafka { address: String, timeout_ms: u64, interval_ms: u64 },
}

/// A captured output stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    /// `stdout` or `stderr`.
    pub stream: String,
    /// `json`, `logfmt` or `regex` (lines are plain text when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<String>,
    /// The `regex` decoder's pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Op {
    pub name: String,
    pub syscalls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// One route of a mock service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockRoute {
    /// `"METHOD /path"` (HTTP), `"/pkg.Svc/Method"` (gRPC) or a byte prefix (TCP).
    pub key: String,
    pub response: MockResponse,
}

/// What a mock answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MockResponse {
    Json {
        status: u16,
        body: serde_json::Value,
        headers: Vec<(String, String)>,
    },
    Text {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    Status {
        status: u16,
    },
    Redirect {
        location: String,
        status: u16,
    },
    /// A function of the request computes the response.
    Dynamic {
        callable: Callable,
    },
    /// Raw bytes (`bytes_response`), for tcp and udp mocks (status 0) or HTTP.
    Bytes {
        status: u16,
        data: String,
    },
    /// A gRPC reply (`grpc_response` as a `google.protobuf.Struct`, `grpc_typed_response`
    /// encoded with the method's declared output type).
    Grpc {
        body: serde_json::Value,
        typed: bool,
    },
    /// A gRPC reply of raw message bytes (`grpc_raw_response`).
    GrpcRaw {
        body: String,
    },
    /// A gRPC status (`grpc_error`): the numeric code and its message.
    GrpcError {
        code: u32,
        message: String,
    },
    /// A response kind the plan records but does not model (gRPC, raw bytes).
    Other {
        builtin: String,
    },
}

/// An OpenAPI-driven HTTP mock (`openapi=`, `examples=`, `validate=`, `overrides=`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockOpenApi {
    /// The OpenAPI document, relative to the spec (carried in the plan's source bundle).
    pub path: String,
    /// `"first"`, `"random"`, `"synthesize"` or an example name.
    pub examples: String,
    /// `"off"`, `"request"`, `"response"` or `"strict"`.
    pub validate: String,
    /// Routes that replace the responses derived from the document.
    pub overrides: Vec<MockRoute>,
}

/// How a test came to be (reference §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// A global `def test_*()`.
    Def,
    /// `scenario(fn)`.
    Scenario,
    /// `fault_scenario("name", ...)`.
    FaultScenario,
    /// One cell of a `fault_matrix`.
    MatrixCell,
    /// `test("name", body)`.
    Test,
}

/// One test: what runs, under which faults, and what decides its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Test {
    pub name: String,
    pub kind: TestKind,
    pub origin: Origin,
    /// The function the test runs (the `def`, the scenario, the `test()` body).
    pub body: Callable,
    /// Called with the body's result; it passes unless it raises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Callable>,
    /// Where `expect` came from in a matrix: `override`, `default_expect`, or `smoke` (none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<Callable>,
    /// The scenario and fault of a matrix cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixCell>,
    /// The fault assumptions applied for the whole test, in application order.
    pub faults: Vec<String>,
    /// Syscall rules active for the whole test.
    pub syscall_rules: Vec<SyscallRule>,
    /// Proxy rules active for the whole test.
    pub proxy_rules: Vec<ProxyRule>,
    /// Faults the body applies itself (`fault(...)`, `fault_start`, `partition`, `trace`),
    /// as far as they are known statically, in source order.
    pub scoped_faults: Vec<ScopedFault>,
    /// Names of the monitors checked during the test.
    pub monitors: Vec<String>,
    pub timeout_ms: u64,
    /// Whether a rule that never fired fails the test.
    pub require_faults_fire: bool,
    /// Executions of this test: 1, times the leaves of named `choose()` axes, times 2^max_fires
    /// per exhaustive probabilistic rule.
    pub instances: u64,
}

impl Test {
    /// Faultbox's default test timeout (`fault_scenario`, `test()`, matrix cells).
    pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

    /// A test that runs `body` once, with no faults, monitors or expectation yet.
    pub fn new(name: String, kind: TestKind, origin: Origin, body: Callable) -> Test {
        Test {
            name,
            kind,
            origin,
            body,
            expect: None,
            expect_source: None,
            setup: None,
            matrix: None,
            faults: Vec::new(),
            syscall_rules: Vec::new(),
            proxy_rules: Vec::new(),
            scoped_faults: Vec::new(),
            monitors: Vec::new(),
            timeout_ms: Test::DEFAULT_TIMEOUT_MS,
            require_faults_fire: false,
            instances: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixCell {
    /// The `fault_matrix` call this cell came from.
    pub origin: Origin,
    pub scenario: String,
    pub fault: String,
}

/// A syscall fault on one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyscallRule {
    pub service: String,
    /// The key as written (`write`, an op name).
    pub key: String,
    /// The syscalls it filters, families and ops expanded, sorted.
    pub syscalls: Vec<String>,
    pub action: SyscallAction,
    /// 0.0 to 1.0; 1.0 fires on every matching call.
    pub probability: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fires: Option<u32>,
    /// `exhaustive` or `stochastic` (only with `max_fires`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A path glob for file syscalls (from an op's `path=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The fault assumption the rule belongs to.
    pub assumption: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyscallAction {
    /// Fail the call with this errno (upper-case name).
    Deny { errno: String },
    /// Hold the call this long, then let it run.
    Delay { ms: u64 },
    /// Let the call run (tracing; forces a filter).
    Allow,
}

/// A protocol fault on one interface's proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyRule {
    pub service: String,
    pub interface: String,
    pub protocol: String,
    pub action: ProxyAction,
    /// Globs; a matcher the protocol does not consult is dropped (it would not narrow).
    pub matchers: Vec<Matcher>,
    /// 0.0 to 1.0; a proxy rule with probability 0 in the source fires always (1.0 here).
    pub probability: f64,
    pub assumption: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// `method`, `path`, `query`, `command`, `key` or `topic`.
    pub field: String,
    pub glob: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProxyAction {
    Respond {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    Delay {
        ms: u64,
    },
    Drop,
    Duplicate,
}

/// A fault the test body applies for part of its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopedFault {
    /// `fault`, `fault_all`, `fault_start`, `trace`, `trace_start`, `partition`, ...
    pub builtin: String,
    /// The function the call is in (the body or a helper it calls).
    pub function: String,
    pub origin: Origin,
    /// Services it targets, where known.
    pub services: Vec<String>,
    /// `service.interface` for an interface-form `fault(ref, rules...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Syscall keys it faults or traces, families expanded, sorted.
    pub syscalls: Vec<String>,
    /// The fault assumption applied (`fault(assumption, run=...)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumption: Option<String>,
    /// `both`, `a_to_b` or `b_to_a` for partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
}

/// An invariant checked over a test's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    pub name: String,
    pub origin: Origin,
    /// `spec` (every test), or the fault assumption or matrix that claims it.
    pub scope: String,
    /// Every callable it runs (the `on` function, `update`, `check`), in that order.
    pub callables: Vec<Callable>,
    /// `update(event, state) -> state` of a stateful monitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Callable>,
    /// `check(event, state) -> bool` of a stateful monitor (else the `on` function decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Callable>,
    /// The state before the first event (`state_init=`), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_init: Option<serde_json::Value>,
    /// Event filters (`service=`, `match.event(...)` criteria), sorted.
    pub filters: Vec<(String, String)>,
}
