//! Reporting a run: the result model ([`model`]) and its renderings: the terminal summary and
//! live progress ([`human`]), JSON ([`json`]), JUnit XML ([`junit`]), one self-contained HTML
//! page ([`html`]), per-item JSONL traces ([`trace`]); [`redact`] removes secret values from
//! all of them; [`merge`] combines the reports of a plan's shards.

pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod lanes;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod redact;
pub mod trace;

pub use model::{ItemKind, ItemResult, Outcome, RunDiagnostic, RunReport, ServiceResult, Summary};
pub use redact::{redact_events, Redactor};

/// A duration for people: `12 ms` below a second, `1.23 s` above.
pub fn format_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{} ms", ms.round() as u64)
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}
