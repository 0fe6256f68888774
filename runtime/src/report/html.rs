//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, no external
//! assets) with the summary, the services, the fault matrix as a coloured scenario × fault
//! table per `fault_matrix`, every result, and every test's timeline as a picture
//! ([`super::lanes`]: lanes per service, steps as arrows, fault windows, partitions, fired
//! faults, verdicts), with the event table of each failed or errored item below its picture.
//! `run`, `report merge` and `replay` all render this page. Everything from the run is
//! escaped. Pass a redacted report and redacted events.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ospecc_schema::plan::{Origin, Plan};

use super::format_ms;
use super::lanes;
use super::model::{ItemKind, ItemResult, Outcome, RunReport};
use crate::events::Event;

/// Events a timeline shows at most (the trace has them all).
const TIMELINE_LIMIT: usize = 1000;
/// Characters of one field value a timeline shows at most.
const FIELD_LIMIT: usize = 400;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of an outcome (also the matrix cell class).
pub fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Errored => "errored",
        Outcome::Skipped => "skipped",
        Outcome::NotRun => "not-run",
        Outcome::Unverifiable => "unverifiable",
    }
}

const STYLE: &str = r#"
:root { --passed: #2e7d32; --passed-bg: #c8e6c9; --failed: #c62828; --failed-bg: #ffcdd2;
  --errored: #e65100; --errored-bg: #ffe0b2; --skipped: #8d6e00; --skipped-bg: #fff9c4;
  --not-run: #1565c0; --not-run-bg: #d6e8fb; --unverifiable: #6a1b9a; --unverifiable-bg: #ead7f3;
  --excluded-bg: #e0e0e0; --missing-bg: #f5f5f5; --line: #d0d0d0; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em 2em; color: #212121; }
h1 { font-size: 1.5em; margin: 0 0 .3em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05em; margin-top: 1.4em; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid var(--line); padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #fafafa; }
.verdict { display: inline-block; font-weight: 700; padding: .15em .7em; border-radius: 4px; color: #fff; }
.verdict.passed, .verdict.failed { color: #fff; }
.verdict.passed { background: var(--passed); } .verdict.failed { background: var(--failed); }
ul.counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5em; }
ul.counts li { padding: .15em .6em; border-radius: 4px; }
.badge { display: inline-block; padding: 0 .5em; border-radius: 3px; font-weight: 600; white-space: nowrap; }
.passed { background: var(--passed-bg); color: var(--passed); }
.failed { background: var(--failed-bg); color: var(--failed); }
.errored { background: var(--errored-bg); color: var(--errored); }
.skipped { background: var(--skipped-bg); color: var(--skipped); }
.not-run { background: var(--not-run-bg); color: var(--not-run); }
.unverifiable { background: var(--unverifiable-bg); color: var(--unverifiable); }
table.matrix td.cell { text-align: center; min-width: 6em; font-weight: 600; }
table.matrix td.cell a { color: inherit; text-decoration: none; }
table.matrix td.excluded { background: var(--excluded-bg); color: #757575; font-weight: 400; }
table.matrix td.missing { background: var(--missing-bg); color: #9e9e9e; font-weight: 400; }
table.matrix caption { text-align: left; font-style: italic; color: #616161; }
td.message { white-space: pre-wrap; max-width: 60em; }
table.timeline td { font-size: .9em; } table.timeline td.fields { white-space: pre-wrap; word-break: break-word; max-width: 70em; }
.legend span { margin-right: .6em; padding: 0 .4em; border-radius: 3px; }
.muted { color: #757575; }
"#;

/// The result a matrix cell shows for `test`, with a note on its leaves: the test's own result,
/// or, when it ran once per leaf (`test[axis=value, ...]`), its first failing leaf (else its
/// first leaf).
fn cell_result(results: &[ItemResult], test: &str) -> Option<(usize, String)> {
    let leaf_prefix = format!("{test}[");
    let leaves: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == ItemKind::Test && (r.name == test || r.name.starts_with(&leaf_prefix)))
        .map(|(i, _)| i)
        .collect();
    let shown = leaves.iter().copied().find(|i| results[*i].outcome.fails_run()).or(leaves.first().copied())?;
    let note = match leaves.len() {
        1 => String::new(),
        n => {
            let failing = leaves.iter().filter(|i| results[**i].outcome.fails_run()).count();
            format!(" ({failing} of {n} leaves failed or errored)")
        }
    };
    Some((shown, note))
}

/// One fault matrix: its cells by (scenario, fault), with the scenarios and faults in the order
/// the plan's (name-sorted) tests first name them.
struct Matrix<'a> {
    origin: &'a Origin,
    scenarios: Vec<&'a str>,
    faults: Vec<&'a str>,
    cells: BTreeMap<(&'a str, &'a str), &'a str>,
}

fn matrices(plan: Option<&Plan>) -> Vec<Matrix<'_>> {
    let mut out: Vec<Matrix<'_>> = Vec::new();
    for test in plan.iter().flat_map(|p| &p.tests) {
        let Some(cell) = &test.matrix else { continue };
        let index = match out.iter().position(|m| *m.origin == cell.origin) {
            Some(i) => i,
            None => {
                out.push(Matrix {
                    origin: &cell.origin,
                    scenarios: Vec::new(),
                    faults: Vec::new(),
                    cells: BTreeMap::new(),
                });
                out.len() - 1
            }
        };
        let m = &mut out[index];
        if !m.scenarios.contains(&cell.scenario.as_str()) {
            m.scenarios.push(&cell.scenario);
        }
        if !m.faults.contains(&cell.fault.as_str()) {
            m.faults.push(&cell.fault);
        }
        m.cells.insert((&cell.scenario, &cell.fault), &test.name);
    }
    out.sort_by(|a, b| a.origin.cmp(b.origin));
    out
}

fn item_anchor(index: usize) -> String {
    format!("item-{index}")
}

/// Renders the page.
pub fn render(report: &RunReport, plan: Option<&Plan>, events: &[Event]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let s = &report.summary;
    let failed = s.failed_run();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>ospecc run: {}</title>\n<style>{STYLE}{}</style>\n</head>\n<body>\n{}",
        escape(&report.root),
        lanes::STYLE,
        lanes::DEFS
    );

    // Header.
    let _ = writeln!(
        out,
        "<header>\n<h1>ospecc run <code>{}</code></h1>\n<p><span class=\"verdict {}\">{}</span> \
         <span class=\"muted\">in {}{}</span></p>",
        escape(&report.root),
        if failed { "failed" } else { "passed" },
        if failed { "FAILED" } else { "PASSED" },
        escape(&format_ms(report.duration_ms)),
        report.shard.as_deref().map(|k| format!(", shard {}", escape(k))).unwrap_or_default()
    );
    out.push_str("<ul class=\"counts\" id=\"summary\">\n");
    for (outcome, count) in [
        (Outcome::Passed, s.passed),
        (Outcome::Failed, s.failed),
        (Outcome::Errored, s.errored),
        (Outcome::Skipped, s.skipped),
        (Outcome::NotRun, s.not_run),
        (Outcome::Unverifiable, s.unverifiable),
    ] {
        let _ = writeln!(out, "<li class=\"{}\">{count} {}</li>", outcome_class(outcome), outcome.name());
    }
    out.push_str("</ul>\n</header>\n");

    // Services.
    if !report.services.is_empty() {
        out.push_str("<section id=\"services\">\n<h2>Services</h2>\n<table>\n<thead><tr><th>service</th><th>state</th><th>ready after</th><th>message</th></tr></thead>\n<tbody>\n");
        for service in &report.services {
            let class = match service.state.as_str() {
                "ready" => "passed",
                "failed" => "failed",
                _ => "not-run",
            };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><span class=\"badge {class}\">{}</span></td><td>{}</td><td class=\"message\">{}</td></tr>",
                escape(&service.name),
                escape(&service.state),
                service.ready_ms.map(|ms| escape(&format_ms(ms))).unwrap_or_default(),
                escape(service.message.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }

    // The fault matrix.
    let grids = matrices(plan);
    if !grids.is_empty() {
        out.push_str("<section id=\"matrix\">\n<h2>Fault matrix</h2>\n");
        out.push_str(
            "<p class=\"legend\"><span class=\"passed\">passed</span><span class=\"failed\">failed</span>\
             <span class=\"errored\">errored</span><span class=\"skipped\">skipped</span>\
             <span class=\"not-run\">not run</span><span class=\"excluded-key\" style=\"background:var(--excluded-bg)\">excluded</span></p>\n",
        );
        for grid in &grids {
            let _ = writeln!(
                out,
                "<table class=\"matrix\">\n<caption>fault_matrix at {}</caption>\n<thead><tr><th>scenario \\ fault</th>{}</tr></thead>\n<tbody>",
                escape(&grid.origin.to_string()),
                grid.faults.iter().map(|f| format!("<th><code>{}</code></th>", escape(f))).collect::<String>()
            );
            for scenario in &grid.scenarios {
                let _ = write!(out, "<tr><th><code>{}</code></th>", escape(scenario));
                for fault in &grid.faults {
                    match grid.cells.get(&(*scenario, *fault)) {
                        None => out.push_str("<td class=\"cell excluded\" title=\"excluded\">excluded</td>"),
                        Some(test) => match cell_result(&report.results, test) {
                            Some((i, leaves)) => {
                                let item = &report.results[i];
                                let class = outcome_class(item.outcome);
                                let _ = write!(
                                    out,
                                    "<td class=\"cell {class}\" title=\"{}: {}{leaves}\"><a href=\"#{}\">{}</a></td>",
                                    escape(test),
                                    item.outcome.name(),
                                    item_anchor(i),
                                    item.outcome.name()
                                );
                            }
                            None => {
                                let _ = write!(
                                    out,
                                    "<td class=\"cell missing\" title=\"{}: no result\">no result</td>",
                                    escape(test)
                                );
                            }
                        },
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        out.push_str("</section>\n");
    }

    // Results.
    out.push_str("<section id=\"results\">\n<h2>Results</h2>\n<table class=\"results\">\n<thead><tr><th>name</th><th>kind</th><th>outcome</th><th>time</th><th>origin</th><th>message</th></tr></thead>\n<tbody>\n");
    for (i, item) in report.results.iter().enumerate() {
        let kind = match item.kind {
            ItemKind::Test => "test",
            ItemKind::Probe => "probe",
            ItemKind::Unverifiable => "unverifiable",
        };
        let name = if item.kind == ItemKind::Test || item.outcome.fails_run() {
            format!("<a href=\"#timeline-{i}\"><code>{}</code></a>", escape(&item.name))
        } else {
            format!("<code>{}</code>", escape(&item.name))
        };
        let _ = writeln!(
            out,
            "<tr id=\"{}\" class=\"row-{}\"><td>{name}</td><td>{kind}</td><td><span class=\"badge {}\">{}</span></td><td>{}</td><td class=\"mono\">{}</td><td class=\"message\">{}</td></tr>",
            item_anchor(i),
            outcome_class(item.outcome),
            outcome_class(item.outcome),
            item.outcome.name(),
            escape(&format_ms(item.duration_ms)),
            item.origin.as_ref().map(|o| escape(&o.to_string())).unwrap_or_default(),
            message_cell(item)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");

    // Timelines: every test, and every other item that failed.
    let shown: Vec<(usize, &ItemResult)> =
        report.results.iter().enumerate().filter(|(_, r)| r.kind == ItemKind::Test || r.outcome.fails_run()).collect();
    if !shown.is_empty() {
        let services: Vec<String> = match plan {
            Some(plan) => plan.services.iter().map(|s| s.name.clone()).collect(),
            None => report.services.iter().map(|s| s.name.clone()).collect(),
        };
        out.push_str("<section id=\"timelines\">\n<h2>Timelines</h2>\n");
        out.push_str(&lanes::legend());
        for (i, item) in shown {
            timeline(&mut out, i, item, events, &services);
        }
        out.push_str("</section>\n");
    }

    out.push_str("</body>\n</html>\n");
    out
}

fn timeline(out: &mut String, index: usize, item: &ItemResult, events: &[Event], services: &[String]) {
    let slice = item.events(events);
    let _ = writeln!(
        out,
        "<h3 id=\"timeline-{index}\"><code>{}</code> <span class=\"badge {}\">{}</span></h3>",
        escape(&item.name),
        outcome_class(item.outcome),
        item.outcome.name()
    );
    if let Some(message) = &item.message {
        let _ = writeln!(out, "<p class=\"message\">{}</p>", escape(message));
    }
    if slice.is_empty() {
        out.push_str(
            "<p class=\"muted\">No events (a report without its run's events: merge bundles for pictures).</p>\n",
        );
        return;
    }
    out.push_str(&lanes::svg(item, slice, services));
    if !item.outcome.fails_run() {
        return;
    }
    out.push_str("<details><summary>Events</summary>\n");
    let start = slice[0].at_ms;
    out.push_str("<table class=\"timeline\">\n<thead><tr><th>seq</th><th>time</th><th>+</th><th>service</th><th>type</th><th>fields</th></tr></thead>\n<tbody>\n");
    for event in slice.iter().take(TIMELINE_LIMIT) {
        let fields: Vec<String> = event
            .fields
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{}={}", escape(k), escape(&clip(&value, FIELD_LIMIT)))
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"event-{}\"><td>{}</td><td class=\"mono\">{:.1} ms</td><td class=\"mono\">+{:.1}</td><td>{}</td><td><code>{}</code></td><td class=\"fields mono\">{}</td></tr>",
            escape(&event.kind),
            event.seq,
            event.at_ms,
            event.at_ms - start,
            escape(&event.service),
            escape(&event.kind),
            fields.join("\n")
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if slice.len() > TIMELINE_LIMIT {
        let _ = writeln!(out, "<p class=\"muted\">… {} more events in the trace.</p>", slice.len() - TIMELINE_LIMIT);
    }
    out.push_str("</details>\n");
}

fn clip(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(limit).collect();
    clipped.push('…');
    clipped
}

/// An item's message, then its run diagnostics as a list.
fn message_cell(item: &ItemResult) -> String {
    let mut cell = escape(item.message.as_deref().unwrap_or(""));
    if !item.diagnostics.is_empty() {
        cell.push_str("<ul class=\"diagnostics\">");
        for diagnostic in &item.diagnostics {
            let _ =
                write!(cell, "<li class=\"{}\">{}</li>", escape(&diagnostic.level), escape(&diagnostic.to_string()));
        }
        cell.push_str("</ul>");
    }
    cell
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome) -> ItemResult {
        ItemResult::sample(name, outcome)
    }

    #[test]
    fn a_matrix_cell_run_once_per_leaf_shows_its_first_failing_leaf() {
        let results = [
            result("test_cell_other", Outcome::Failed),
            result("test_cell[mode=a]", Outcome::Passed),
            result("test_cell[mode=b]", Outcome::Failed),
            result("test_cell[mode=c]", Outcome::Failed),
            result("test_plain", Outcome::Passed),
        ];
        assert_eq!(cell_result(&results, "test_cell"), Some((2, " (2 of 3 leaves failed or errored)".to_owned())));
        assert_eq!(cell_result(&results, "test_plain"), Some((4, String::new())));
        assert_eq!(cell_result(&results, "test_missing"), None);
    }
}
