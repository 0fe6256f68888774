//! What a run found: one result per test and probe, the services' fates, and the summary the
//! exit code follows. Every output format renders this model.

use serde::{Deserialize, Serialize};

use ospecc_schema::plan::Origin;

use crate::events::Event;

/// How one test or probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// An assertion failed, an expectation raised, a probe's response was wrong.
    Failed,
    /// Something other than an assertion went wrong: the scenario raised, a service died,
    /// the test timed out.
    Errored,
    /// Statically unbindable or filtered out (needs auth, `--shard`): never counted as passed.
    Skipped,
    /// Needs a capability this runtime does not have yet (fault injection): never counted as
    /// passed.
    NotRun,
    /// A stated outcome no probe can verify.
    Unverifiable,
}

impl Outcome {
    /// Whether this outcome makes the run fail (exit 1).
    pub fn fails_run(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::Skipped => "skipped",
            Outcome::NotRun => "not run",
            Outcome::Unverifiable => "unverifiable",
        }
    }
}

/// What kind of item a result is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A topology test (any source).
    Test,
    /// An OSpec probe (health wait, endpoint, flow, threshold, command, preflight).
    Probe,
    /// An OSpec item no probe verifies.
    Unverifiable,
}

/// One test's or probe's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The test name or probe id.
    pub name: String,
    pub kind: ItemKind,
    pub outcome: Outcome,
    /// Why it failed, errored, was skipped or not run (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub duration_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// `(scenario, fault)` for a fault-matrix cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<(String, String)>,
    /// The event log slice of this item: `first_seq <= seq < end_seq`.
    pub first_seq: u64,
    pub end_seq: u64,
    /// Assertions evaluated (for vacuity reporting).
    pub assertions: u32,
    /// Run diagnostics (reference §3.8): faults that never fired, vacuous passes, timeouts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<RunDiagnostic>,
}

/// A finding about a run's item (or the whole run), with a code a program can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDiagnostic {
    /// `error`, `warning` or `info`.
    pub level: String,
    /// `FAULT_NOT_FIRED`, `TEST_NO_ASSERTIONS`, `SERVICE_CRASHED`, ...
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl std::fmt::Display for RunDiagnostic {
    /// `warning[FAULT_NOT_FIRED]: message (suggestion)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]: {}", self.level, self.code, self.message)?;
        match &self.suggestion {
            Some(suggestion) => write!(f, " (hint: {suggestion})"),
            None => Ok(()),
        }
    }
}

/// How a service fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceResult {
    pub name: String,
    /// `ready`, `failed`, `not_started` (a container service, or after an earlier failure).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Milliseconds from start to ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<f64>,
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub not_run: u64,
    pub unverifiable: u64,
}

impl Summary {
    pub fn of(results: &[ItemResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            *match r.outcome {
                Outcome::Passed => &mut s.passed,
                Outcome::Failed => &mut s.failed,
                Outcome::Errored => &mut s.errored,
                Outcome::Skipped => &mut s.skipped,
                Outcome::NotRun => &mut s.not_run,
                Outcome::Unverifiable => &mut s.unverifiable,
            } += 1;
        }
        s
    }

    /// Whether the run failed (exit code 1).
    pub fn failed_run(&self) -> bool {
        self.failed + self.errored > 0
    }

    /// Every item counted.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.errored + self.skipped + self.not_run + self.unverifiable
    }

    /// The exit code the run's outcome gives: 1 when something failed or errored, else 0.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failed_run())
    }
}

impl ItemResult {
    /// This item's slice of the run's events (`first_seq <= seq < end_seq`). `events` must be
    /// ordered by `seq` (as [`crate::events::EventLog`] gives them); it need not start at 0.
    pub fn events<'a>(&self, events: &'a [Event]) -> &'a [Event] {
        let from = events.partition_point(|e| e.seq < self.first_seq);
        let to = events.partition_point(|e| e.seq < self.end_seq).max(from);
        &events[from..to]
    }

    /// A test's result with one assertion and nothing else to say (for unit tests).
    #[cfg(test)]
    pub(crate) fn sample(name: &str, outcome: Outcome) -> ItemResult {
        ItemResult {
            name: name.into(),
            kind: ItemKind::Test,
            outcome,
            message: None,
            duration_ms: 1.0,
            origin: None,
            matrix: None,
            first_seq: 0,
            end_seq: 0,
            assertions: 1,
            diagnostics: Vec::new(),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The plan's root file.
    pub root: String,
    /// `K/N` when sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub duration_ms: f64,
    pub services: Vec<ServiceResult>,
    pub results: Vec<ItemResult>,
    /// Findings about the whole run (NO_POSITIVE_CONTROL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<RunDiagnostic>,
    pub summary: Summary,
    /// Which plan ran: what lets the shards of one plan merge (and refuses another's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanIdentity>,
}

/// A plan as a report names it: the SHA-256 of its JSON (sources, options, services, tests)
/// and its tests in plan order (name order), which is the order an unsharded run reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanIdentity {
    pub digest: String,
    pub tests: Vec<String>,
}

impl PlanIdentity {
    pub fn of(plan: &ospecc_schema::plan::Plan) -> PlanIdentity {
        use sha2::{Digest, Sha256};
        let bytes = serde_json::to_vec(plan).unwrap_or_default();
        let digest = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        PlanIdentity { digest, tests: plan.tests.iter().map(|t| t.name.clone()).collect() }
    }

    /// The index of the plan test a result belongs to: its own name, or a leaf or repetition
    /// of it (`name[...]`); the longest such name wins.
    pub fn test_of(&self, result: &str) -> Option<usize> {
        self.tests
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                result == t.as_str() || result.strip_prefix(t.as_str()).is_some_and(|rest| rest.starts_with('['))
            })
            .max_by_key(|(_, t)| t.len())
            .map(|(i, _)| i)
    }
}
