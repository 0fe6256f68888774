//! JUnit XML: one `<testsuite>` per item kind (`tests`, `probes`, `unverifiable`) with its
//! counts, one `<testcase>` per item; failures, errors and skips carry the (escaped) message.
//! Not-run and unverifiable items are skipped with their reason.

use std::fmt::Write as _;

use super::model::{ItemKind, ItemResult, Outcome, RunReport, Summary};

/// Escapes text for an XML attribute: the compiler's XML escaping (one implementation for
/// `check --format junit` and run reports), with line breaks and tabs kept as references so
/// attribute normalisation cannot fold them.
pub fn escape(text: &str) -> String {
    escape_text(text).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

/// Content keeps its newlines readable.
fn escape_text(text: &str) -> String {
    ospecc_compiler::report::junit::escape(text)
}

fn seconds(ms: f64) -> String {
    format!("{:.3}", ms / 1000.0)
}

fn suite_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Test => "tests",
        ItemKind::Probe => "probes",
        ItemKind::Unverifiable => "unverifiable",
    }
}

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all = Summary::of(&report.results);
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        escape(&report.root),
        report.results.len(),
        all.failed,
        all.errored,
        all.skipped + all.not_run + all.unverifiable,
        seconds(report.duration_ms)
    );
    for kind in [ItemKind::Test, ItemKind::Probe, ItemKind::Unverifiable] {
        let items: Vec<&ItemResult> = report.results.iter().filter(|r| r.kind == kind).collect();
        if items.is_empty() {
            continue;
        }
        let counts = Summary::of(&items.iter().map(|r| (*r).clone()).collect::<Vec<_>>());
        let time: f64 = items.iter().map(|r| r.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            suite_name(kind),
            items.len(),
            counts.failed,
            counts.errored,
            counts.skipped + counts.not_run + counts.unverifiable,
            seconds(time)
        );
        for item in items {
            testcase(&mut out, report, kind, item);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn testcase(out: &mut String, report: &RunReport, kind: ItemKind, item: &ItemResult) {
    let mut attrs = format!(
        "name=\"{}\" classname=\"{}.{}\" time=\"{}\"",
        escape(&item.name),
        escape(&report.root),
        suite_name(kind),
        seconds(item.duration_ms)
    );
    if let Some(origin) = &item.origin {
        let _ = write!(attrs, " file=\"{}\" line=\"{}\"", escape(&origin.file), origin.line);
    }
    let message = item.message.as_deref().unwrap_or("");
    let body = match item.outcome {
        Outcome::Passed => None,
        Outcome::Failed => {
            Some(format!("<failure message=\"{}\" type=\"failed\">{}</failure>", escape(message), escape_text(message)))
        }
        Outcome::Errored => {
            Some(format!("<error message=\"{}\" type=\"errored\">{}</error>", escape(message), escape_text(message)))
        }
        Outcome::Skipped => Some(format!("<skipped message=\"{}\"/>", escape(message))),
        Outcome::NotRun => Some(format!("<skipped message=\"{}\"/>", escape(&prefixed("not run", message)))),
        Outcome::Unverifiable => Some(format!("<skipped message=\"{}\"/>", escape(&prefixed("unverifiable", message)))),
    };
    // Run diagnostics go to the test's output, where every JUnit consumer shows them.
    let diagnostics: Vec<String> = item.diagnostics.iter().map(ToString::to_string).collect();
    let output =
        (!diagnostics.is_empty()).then(|| format!("<system-out>{}</system-out>", escape_text(&diagnostics.join("\n"))));
    let parts: Vec<String> = body.into_iter().chain(output).collect();
    if parts.is_empty() {
        let _ = writeln!(out, "    <testcase {attrs}/>");
    } else {
        let _ = writeln!(out, "    <testcase {attrs}>\n      {}\n    </testcase>", parts.join("\n      "));
    }
}

fn prefixed(prefix: &str, message: &str) -> String {
    if message.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}: {message}")
    }
}
