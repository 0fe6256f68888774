//! OSpec probes (reference `ospec-format.md` §5): the preflight, the stages of health waits,
//! endpoint probes, flows, thresholds and commands, each turned into an [`ItemResult`].
//!
//! Probes of a stage run one after another, so each probe's events form one contiguous slice
//! of the log (`first_seq..end_seq`). A stage whose probes failed makes every stage that needs
//! it (directly or through another stage) skipped. A probe the plan marks `skip` is skipped with
//! the plan's reason; nothing skipped ever counts as passed.

mod command;
mod expand;
mod http;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use ospecc_schema::plan::acceptance::{Acceptance, Check, Probe, Stage};

use crate::events::{fields, EventLog};
use crate::report::model::{ItemKind, ItemResult, Outcome};

pub use expand::{expand_vars, json_path};

/// How probes run.
#[derive(Clone)]
pub struct ProbeOptions {
    /// `--allow-shell`: command probes run only when set.
    pub allow_shell: bool,
    /// Values for `${VAR}` in URLs, headers and bodies, and the variables `env_present` checks
    /// (usually the process environment). Commands get these on top of the inherited
    /// environment.
    pub environment: BTreeMap<String, String>,
    /// The spec's directory: `json_schema` files and command `cwd`s are relative to it.
    pub workdir: PathBuf,
    /// The longest a throughput probe runs, whatever the plan asks (e.g. 10 s).
    pub max_throughput: Duration,
}

/// Shows the environment's names only: its values may be secrets.
impl std::fmt::Debug for ProbeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeOptions")
            .field("allow_shell", &self.allow_shell)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("workdir", &self.workdir)
            .field("max_throughput", &self.max_throughput)
            .finish()
    }
}

impl Default for ProbeOptions {
    fn default() -> ProbeOptions {
        ProbeOptions {
            allow_shell: false,
            environment: BTreeMap::new(),
            workdir: PathBuf::from("."),
            max_throughput: Duration::from_secs(10),
        }
    }
}

/// What one probe concluded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub outcome: Outcome,
    pub message: Option<String>,
    /// Conditions evaluated (status, each `contains`, a bound, ...).
    pub assertions: u32,
}

impl Verdict {
    pub fn passed(message: Option<String>, assertions: u32) -> Verdict {
        Verdict { outcome: Outcome::Passed, message, assertions }
    }
    pub fn failed(message: impl Into<String>, assertions: u32) -> Verdict {
        Verdict { outcome: Outcome::Failed, message: Some(message.into()), assertions }
    }
    pub fn errored(message: impl Into<String>) -> Verdict {
        Verdict { outcome: Outcome::Errored, message: Some(message.into()), assertions: 0 }
    }
    pub fn skipped(message: impl Into<String>) -> Verdict {
        Verdict { outcome: Outcome::Skipped, message: Some(message.into()), assertions: 0 }
    }
}

/// The message of a command probe when `--allow-shell` is not given.
pub const SHELL_NOT_ALLOWED: &str = "shell not allowed (use --allow-shell)";

/// Runs every probe of `acceptance`: the preflight, then the stages in dependency order, then
/// lists the unverifiable items. One result per probe and per unverifiable item, in that order.
pub async fn run_acceptance(acceptance: &Acceptance, events: &EventLog, options: &ProbeOptions) -> Vec<ItemResult> {
    let mut results = Vec::new();

    for probe in &acceptance.preflight {
        results.push(run_probe(probe, events, options, None).await);
    }

    // Stages whose probes did not all pass (or that were skipped because of their needs).
    let mut unhealthy: BTreeMap<String, bool> = BTreeMap::new();
    for stage in stage_order(&acceptance.stages) {
        // The first need that failed (`true`) or was itself skipped (`false`).
        let blocked = stage.needs.iter().find_map(|need| unhealthy.get(need).map(|&ran| (need, ran)));
        let reason = blocked.map(|(need, ran)| {
            if ran {
                format!("needs {need}, which failed")
            } else {
                format!("needs {need}, which did not run")
            }
        });
        let mut failed = false;
        for probe in &stage.probes {
            let result = run_probe(probe, events, options, reason.as_deref()).await;
            failed |= result.outcome.fails_run();
            results.push(result);
        }
        if blocked.is_some() {
            unhealthy.insert(stage.name.clone(), false);
        } else if failed {
            unhealthy.insert(stage.name.clone(), true);
        }
    }

    for item in &acceptance.unverifiable {
        let seq = events.next_seq();
        results.push(ItemResult {
            name: item.path.clone(),
            kind: ItemKind::Unverifiable,
            outcome: Outcome::Unverifiable,
            message: Some(item.reason.clone()),
            duration_ms: 0.0,
            origin: Some(item.origin.clone()),
            matrix: None,
            first_seq: seq,
            end_seq: seq,
            assertions: 0,
            diagnostics: Vec::new(),
        });
    }
    results
}

/// The stages in an order where every stage comes after the stages it needs (ties and cycles
/// keep the plan's order; a need naming no stage is ignored).
fn stage_order(stages: &[Stage]) -> Vec<&Stage> {
    let names: BTreeSet<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<&Stage> = Vec::new();
    let mut left: Vec<&Stage> = stages.iter().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|s| {
            s.needs.iter().all(|n| done.contains(n.as_str()) || !names.contains(n.as_str()) || *n == s.name)
        });
        // A cycle: take the first remaining stage as written.
        let index = ready.unwrap_or(0);
        let stage = left.remove(index);
        done.insert(stage.name.as_str());
        order.push(stage);
    }
    order
}

/// The event `service` of a probe: its target, or empty for the runner's own checks.
fn probe_service(check: &Check) -> &str {
    match check {
        Check::WaitHealthy { target, .. } | Check::Latency { target, .. } | Check::Throughput { target, .. } => target,
        Check::Http(request) => &request.target,
        Check::Flow { steps, .. } => steps.iter().find_map(|s| s.request.as_ref()).map_or("", |r| r.target.as_str()),
        Check::EnvPresent { .. } | Check::Command { .. } => "",
    }
}

fn check_kind(check: &Check) -> &'static str {
    match check {
        Check::EnvPresent { .. } => "env_present",
        Check::WaitHealthy { .. } => "wait_healthy",
        Check::Http(_) => "http",
        Check::Flow { .. } => "flow",
        Check::Latency { .. } => "latency",
        Check::Throughput { .. } => "throughput",
        Check::Command { .. } => "command",
    }
}

/// Runs one probe (or records why it does not run) with its `probe_started`/`probe_finished`
/// events around everything it logs.
async fn run_probe(probe: &Probe, events: &EventLog, options: &ProbeOptions, blocked: Option<&str>) -> ItemResult {
    let service = probe_service(&probe.check);
    let kind = check_kind(&probe.check);
    let first_seq = events.next_seq();
    let started = Instant::now();

    let skip_reason = probe.skip.clone().or_else(|| blocked.map(str::to_owned)).or_else(|| match &probe.check {
        Check::Command { .. } if !options.allow_shell => Some(SHELL_NOT_ALLOWED.to_owned()),
        _ => None,
    });
    let verdict = if let Some(reason) = skip_reason {
        Verdict::skipped(reason)
    } else {
        events.push(service, "probe_started", fields([("probe", json!(probe.id)), ("check", json!(kind))]));
        let ctx = http::Ctx { events, options, service, probe: &probe.id };
        match &probe.check {
            Check::EnvPresent { variable } => env_present(variable, options),
            Check::WaitHealthy { url, expect, timeout_ms, interval_ms, initial_delay_ms, .. } => {
                http::wait_healthy(&ctx, url, expect, *timeout_ms, *interval_ms, *initial_delay_ms).await
            }
            Check::Http(request) => http::single(&ctx, request).await,
            Check::Flow { steps, .. } => http::flow(&ctx, steps).await,
            Check::Latency { method, url, headers, samples, warmup, stat, bound_ms, .. } => {
                http::latency(&ctx, method, url, headers, *samples, *warmup, stat, *bound_ms).await
            }
            Check::Throughput { method, url, headers, duration_ms, concurrency, min_rps, max_error_rate, .. } => {
                let duration = Duration::from_millis(*duration_ms).min(options.max_throughput);
                http::throughput(&ctx, method, url, headers, duration, *concurrency, *min_rps, *max_error_rate).await
            }
            Check::Command { argv, cwd, timeout_ms, expect_exit, stdout_contains, stdout_format, max_duration_ms } => {
                command::run(
                    &ctx,
                    &command::CommandCheck {
                        argv,
                        cwd: cwd.as_deref(),
                        timeout_ms: *timeout_ms,
                        expect_exit: *expect_exit,
                        stdout_contains,
                        stdout_format: stdout_format.as_deref(),
                        max_duration_ms: *max_duration_ms,
                    },
                )
                .await
            }
        }
    };

    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut finished = fields([
        ("probe", json!(probe.id)),
        ("check", json!(kind)),
        ("outcome", json!(verdict.outcome.name())),
        ("ms", json!(round_ms(duration_ms))),
    ]);
    if let Some(message) = &verdict.message {
        finished.insert("message".to_owned(), json!(message));
    }
    events.push(service, "probe_finished", finished);

    ItemResult {
        name: probe.id.clone(),
        kind: ItemKind::Probe,
        outcome: verdict.outcome,
        message: verdict.message,
        duration_ms,
        origin: Some(probe.origin.clone()),
        matrix: None,
        first_seq,
        end_seq: events.next_seq(),
        assertions: verdict.assertions,
        diagnostics: Vec::new(),
    }
}

/// `secrets.required`: the variable is set and not empty. Its value is never read into any
/// output.
fn env_present(variable: &str, options: &ProbeOptions) -> Verdict {
    match options.environment.get(variable) {
        Some(value) if !value.is_empty() => Verdict::passed(None, 1),
        Some(_) => Verdict::failed(format!("environment variable {variable} is set but empty"), 1),
        None => Verdict::failed(format!("environment variable {variable} is not set"), 1),
    }
}

/// Milliseconds rounded to 0.1 for events and messages.
pub(crate) fn round_ms(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}
