//! The OSpec half of the plan (reference `ospec-format.md` §5): targets with resolved base
//! URLs, a preflight, stages of probes in dependency order, and the items no probe can check.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Origin;

/// Everything an OSpec file asks to verify.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The bundle path of the OSpec file.
    pub spec: String,
    /// The spec's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `core` or `ext`.
    pub profile: String,
    /// Where probes are sent, by service name (`default` when the spec has no services).
    pub targets: Vec<Target>,
    /// Checks that run before anything starts (secrets present).
    pub preflight: Vec<Probe>,
    /// Groups of probes; a stage runs after the stages it needs.
    pub stages: Vec<Stage>,
    /// What the spec states that no probe can verify, with why.
    pub unverifiable: Vec<Unverifiable>,
}

/// A service probes are sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub base_url: String,
    /// Where the base URL came from (`--base-url`, `environments.staging.url`,
    /// `services.api.ports`, `${APP_URL}`, `default`).
    pub base_source: String,
    /// Services this one depends on (their health waits come first).
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    pub needs: Vec<String>,
    pub probes: Vec<Probe>,
}

/// One check the runtime performs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Stable and readable: `health.auth_service`, `endpoint.GET./products`,
    /// `flow.user_registration_flow`, `latency.GET./products`, `throughput.GET./products`,
    /// `command.mytool --version`, `secret.DATABASE_URL`; a repeated id gets `#2`, `#3`, ...
    pub id: String,
    pub origin: Origin,
    pub check: Check,
    /// Why the probe will not run (needs auth, needs a body, unbound path parameter, ambiguous
    /// service, shell not allowed, ...). A skipped probe never counts as passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

/// The statuses a response may have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExpectStatus {
    /// One of these codes.
    Codes { codes: Vec<u16> },
    /// Any code of the class (`2` for `2xx`).
    Class { class: u8 },
}

/// One HTTP request with what its response must satisfy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    pub target: String,
    pub method: String,
    /// The full URL (base URL of the target plus path).
    pub url: String,
    pub expect: ExpectStatus,
    /// Substrings the body must contain.
    pub contains: Vec<String>,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A JSON Schema file (bundle path) the body must validate against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    pub timeout_ms: u64,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// An environment variable is set (its value is never read into any output).
    EnvPresent { variable: String },
    /// Poll until the endpoint answers as expected (first poll after `initial_delay_ms`), failing
    /// after `timeout_ms` in all.
    WaitHealthy {
        target: String,
        url: String,
        expect: ExpectStatus,
        timeout_ms: u64,
        interval_ms: u64,
        #[serde(default)]
        initial_delay_ms: u64,
    },
    /// One request.
    Http(HttpRequest),
    /// Requests in order, sharing one session (cookie jar); a failure skips the rest.
    Flow { name: String, steps: Vec<FlowStep> },
    /// `samples` sequential requests after `warmup`, the statistic (`p95`, `p99`, `max`, ...)
    /// bounded.
    Latency {
        target: String,
        method: String,
        url: String,
        /// Request headers (credentials stay `${VAR}` references).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
        samples: u32,
        warmup: u32,
        stat: String,
        bound_ms: u64,
    },
    /// A closed loop of `concurrency` clients for `duration_ms`: successful requests per second
    /// at least `min_rps`, errors at most `max_error_rate` (a fraction).
    Throughput {
        target: String,
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
        duration_ms: u64,
        concurrency: u32,
        min_rps: f64,
        max_error_rate: f64,
    },
    /// A command (runs only with `--allow-shell`), split into words like a shell would.
    Command {
        argv: Vec<String>,
        /// The working directory, relative to the spec's directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        timeout_ms: u64,
        expect_exit: i32,
        stdout_contains: Vec<String>,
        /// `semver`, `table`, `json` or `text`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stdout_format: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_duration_ms: Option<u64>,
    },
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowStep {
    /// The step as written (a step object is shown as `METHOD [service:]PATH → STATUS`).
    pub text: String,
    /// The request; `None` for a manual step (prose, an action), which a runtime cannot perform
    /// (its `skip` says so, and the steps after it are skipped too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// Values to capture from the JSON response (name, JSONPath), usable as `{name}` in the
    /// paths of later steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capture: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

/// A stated outcome no probe verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unverifiable {
    /// The YAML path (`acceptance.performance.lighthouse_score`).
    pub path: String,
    pub origin: Origin,
    pub reason: String,
}
