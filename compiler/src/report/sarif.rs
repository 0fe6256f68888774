//! The sarif format: SARIF 2.1.0 as GitHub code scanning ingests it.
//!
//! One run; `tool.driver.rules` holds every code that occurs (sorted, with title, first
//! paragraph and full explanation from the code docs) and each result points at its rule by
//! `ruleId` and `ruleIndex`. Columns count Unicode code points, as our positions do.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{first_paragraph, FileResult, Positions, Range, TOOL_NAME, TOOL_VERSION};
use crate::diagnostics::{codes, Diagnostic, Severity};

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The whole run as one SARIF log (pretty-printed, trailing newline).
pub fn render(files: &[FileResult]) -> String {
    let used: BTreeSet<&str> = files.iter().flat_map(|f| f.diagnostics.iter().map(|d| d.code)).collect();
    let rule_ids: Vec<&str> = used.into_iter().collect();
    let results: Vec<Value> = files
        .iter()
        .flat_map(|f| {
            let positions = Positions::new(&f.text);
            let rule_ids = &rule_ids;
            f.diagnostics.iter().map(move |d| result(d, &f.path, &positions, rule_ids)).collect::<Vec<_>>()
        })
        .collect();
    let log = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "semanticVersion": TOOL_VERSION,
                "rules": rule_ids.iter().map(|id| rule(id)).collect::<Vec<_>>(),
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

fn rule(id: &str) -> Value {
    let (title, text) = codes::lookup(id).map(|c| (c.title, c.text)).unwrap_or((id, ""));
    let full = first_paragraph(text);
    json!({
        "id": id,
        "name": rule_name(title),
        "shortDescription": { "text": title },
        "fullDescription": { "text": if full.is_empty() { title.to_string() } else { full } },
        "help": { "text": text, "markdown": text },
    })
}

/// SARIF's `name` is an identifier-like PascalCase name ("unknown key" -> "UnknownKey").
fn rule_name(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn result(d: &Diagnostic, path: &str, positions: &Positions, rule_ids: &[&str]) -> Value {
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    let related: Vec<Value> = d
        .labels
        .iter()
        .filter(|l| l.file.is_none())
        .enumerate()
        .map(|(i, l)| {
            let mut location = location(path, positions.range(l.span));
            location["id"] = json!(i);
            location["message"] = json!({ "text": l.message });
            location
        })
        .collect();
    let mut value = json!({
        "ruleId": d.code,
        "ruleIndex": rule_ids.iter().position(|r| *r == d.code).unwrap_or(0),
        "level": level(d.severity),
        "message": { "text": text },
        "locations": [location(path, positions.range(d.span))],
    });
    if !related.is_empty() {
        value["relatedLocations"] = Value::Array(related);
    }
    value
}

fn location(path: &str, range: Range) -> Value {
    json!({ "physicalLocation": {
        "artifactLocation": { "uri": uri(path) },
        "region": {
            "startLine": range.start.line,
            "startColumn": range.start.column,
            "endLine": range.end.line,
            "endColumn": range.end.column,
        },
    }})
}

/// A relative URI reference with forward slashes (absolute paths become `file://` URIs);
/// characters outside RFC 3986's unreserved and path sets are percent-encoded.
pub fn uri(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let slashed = slashed.strip_prefix("./").unwrap_or(&slashed);
    let encoded: String = slashed.bytes().map(encode_byte).collect();
    if slashed.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

fn encode_byte(b: u8) -> String {
    let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b);
    if keep {
        (b as char).to_string()
    } else {
        format!("%{b:02X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    #[test]
    fn results_point_at_rules_and_regions() {
        let files = vec![FileResult {
            path: "specs/my api.ospec.yml".into(),
            text: "a: 1\nb: 2\n".into(),
            diagnostics: vec![
                Diagnostic::error("OSP003", Span::new(5, 6), "m").with_label(Span::new(0, 1), "first"),
                Diagnostic::warning("OSP001", Span::new(0, 1), "w"),
            ],
        }];
        let log: Value = serde_json::from_str(&render(&files)).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "OSP001");
        assert_eq!(run["tool"]["driver"]["rules"][1]["id"], "OSP003");
        let r = &run["results"][0];
        assert_eq!((r["ruleId"].as_str(), r["ruleIndex"].as_u64()), (Some("OSP003"), Some(1)));
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "specs/my%20api.ospec.yml");
        assert_eq!(loc["region"], json!({"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 2}));
        assert_eq!(r["relatedLocations"][0]["message"]["text"], "first");
        assert_eq!(run["results"][1]["level"], "warning");
    }

    #[test]
    fn uris_are_relative_with_forward_slashes() {
        assert_eq!(uri(".\\a\\b.ospec"), "a/b.ospec");
        assert_eq!(uri("/abs/x#y.yml"), "file:///abs/x%23y.yml");
        assert_eq!(rule_name("invalid UTF-8"), "InvalidUTF8");
    }
}
