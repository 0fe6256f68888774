//! The JSON report: pretty, fields in a fixed order (the order below, then the model's field
//! order), durations rounded to 0.1 ms; and reading one back ([`parse`]), for `report merge`
//! and `diff`.

use serde::{Deserialize, Serialize};

use super::model::{ItemResult, PlanIdentity, RunReport, ServiceResult, Summary};

#[derive(Serialize)]
struct JsonReport<'a> {
    /// `passed` or `failed` (what the exit code says).
    status: &'static str,
    exit_code: i32,
    root: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a str>,
    duration_ms: f64,
    summary: JsonSummary,
    services: Vec<ServiceResult>,
    results: Vec<ItemResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a PlanIdentity>,
}

/// What [`parse`] reads: the model's parts (the summary and status are recomputed from the
/// results, so an edited count cannot disagree with them).
#[derive(Deserialize)]
struct JsonReportIn {
    root: String,
    #[serde(default)]
    shard: Option<String>,
    duration_ms: f64,
    services: Vec<ServiceResult>,
    results: Vec<ItemResult>,
    #[serde(default)]
    plan: Option<PlanIdentity>,
}

#[derive(Serialize)]
struct JsonSummary {
    total: u64,
    #[serde(flatten)]
    counts: Summary,
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// The report as pretty JSON (with a trailing newline).
pub fn render(report: &RunReport) -> String {
    let summary = report.summary;
    let doc = JsonReport {
        status: if summary.failed_run() { "failed" } else { "passed" },
        exit_code: summary.exit_code(),
        root: &report.root,
        shard: report.shard.as_deref(),
        duration_ms: round(report.duration_ms),
        summary: JsonSummary { total: summary.total(), counts: summary },
        services: report
            .services
            .iter()
            .map(|s| ServiceResult { ready_ms: s.ready_ms.map(round), ..s.clone() })
            .collect(),
        results: report.results.iter().map(|r| ItemResult { duration_ms: round(r.duration_ms), ..r.clone() }).collect(),
        plan: report.plan.as_ref(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// Reads a JSON report written by [`render`] (`ospecc run --format json`).
pub fn parse(text: &str) -> Result<RunReport, String> {
    let doc: JsonReportIn =
        serde_json::from_str(text).map_err(|e| format!("not an `ospecc run --format json` report: {e}"))?;
    Ok(RunReport {
        summary: Summary::of(&doc.results),
        root: doc.root,
        shard: doc.shard,
        duration_ms: doc.duration_ms,
        services: doc.services,
        results: doc.results,
        diagnostics: Vec::new(),
        plan: doc.plan,
    })
}
