//! The plan IR: what `ospecc plan` shows and `ospecc run` executes (DESIGN.md §6).
//!
//! A plan is versioned, deterministic JSON (same input, same bytes) and self-contained: it
//! carries the source bundle, so a runtime needs nothing else. Topology files lower into
//! services, tests, fault rules and monitors ([`topology`]); OSpec files lower into targets,
//! health waits and probes ([`acceptance`]). The JSON Schema (`schema/plan/plan.schema.json`)
//! is generated from these types and checked against them by a test.

pub mod acceptance;
pub mod topology;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use acceptance::Acceptance;
pub use topology::{Monitor, Service, Test};

/// The IR version. A change that an older runtime could misread bumps it.
pub const PLAN_VERSION: u32 = 1;

/// The JSON Schema of the plan IR, as committed.
pub const PLAN_SCHEMA: &str = include_str!("../../plan/plan.schema.json");

/// One executable plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The IR version ([`PLAN_VERSION`]).
    #[schemars(extend("const" = 1))]
    pub version: u32,
    /// The bundle path of the file the plan was built from.
    pub root: String,
    /// The bundle path of the topology file (the root itself, or the one an OSpec names): the
    /// runtime evaluates it to call the plan's callables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<String>,
    /// The command-line choices that shaped the plan.
    pub options: Options,
    /// Services in start order (every service after the services it depends on).
    pub services: Vec<Service>,
    /// Tests sorted by name.
    pub tests: Vec<Test>,
    /// Monitors, spec-wide and scoped, in declaration order.
    pub monitors: Vec<Monitor>,
    /// The OSpec acceptance probes, when the plan was built from (or with) an OSpec file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<Acceptance>,
    pub totals: Totals,
    /// Every file the plan was built from, with its text and digest.
    pub sources: Vec<SourceFile>,
}

/// The command-line choices recorded in the plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// `--env NAME`: the environment whose overrides were merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// `--phase NAME`: the phase whose overrides were merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `--base-url URL`: the base URL that overrides every other source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `--allow-shell`: whether command probes may run.
    #[serde(default)]
    pub allow_shell: bool,
}

/// Counts over the plan, for people and for `--check-cost`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub services: u64,
    pub tests: u64,
    pub matrix_cells: u64,
    pub syscall_rules: u64,
    pub proxy_rules: u64,
    pub monitors: u64,
    /// Acceptance probes (health waits, endpoint probes, flows, thresholds, commands).
    pub probes: u64,
    /// Probes that will be skipped, with their reasons in the plan.
    pub skipped_probes: u64,
    pub unverifiable: u64,
    /// Executions in all: every test's instances plus every probe that runs.
    pub instances: u64,
}

/// One file of the source bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// The path relative to the bundle root (the root file's directory), `/`-separated;
    /// embedded stdlib files keep their `@faultbox/...` name.
    pub path: String,
    /// Lower-case hex SHA-256 of `text`.
    pub sha256: String,
    pub text: String,
}

/// Where something was written: a bundle path and a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The JSON Schema generated from the types (the committed file must equal it).
pub fn generated_schema() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
