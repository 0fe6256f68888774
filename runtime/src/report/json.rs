//! The JSON report: pretty, fields in a fixed order (the order below, then the model's field
//! order), durations rounded to 0.1 ms.

use serde::Serialize;

use super::model::{ItemResult, RunReport, ServiceResult, Summary};

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
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
