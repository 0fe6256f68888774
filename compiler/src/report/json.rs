//! The json format: one document per run, described in `docs/cli.md`.
//!
//! Every key is always present (empty arrays, `null` help) so consumers need no defaults;
//! `version` is bumped only on incompatible changes.

use serde_json::{json, Map, Value};

use super::{FileResult, Positions, Range, Summary, TOOL_NAME, TOOL_VERSION};
use crate::diagnostics::{Diagnostic, Fix, Label};
use crate::span::Span;

/// The version of the json document's shape.
pub const FORMAT_VERSION: u32 = 1;

/// The whole run as one pretty-printed JSON document (with a trailing newline).
pub fn render(files: &[FileResult]) -> String {
    let summary = Summary::of(files);
    let doc = json!({
        "version": FORMAT_VERSION,
        "tool": { "name": TOOL_NAME, "version": TOOL_VERSION },
        "summary": { "files": summary.files, "errors": summary.errors, "warnings": summary.warnings },
        "files": files.iter().map(file).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

fn file(f: &FileResult) -> Value {
    let positions = Positions::new(&f.text);
    json!({
        "path": f.path,
        "errors": f.errors(),
        "warnings": f.warnings(),
        "diagnostics": f.diagnostics.iter().map(|d| diagnostic(d, &positions)).collect::<Vec<_>>(),
    })
}

fn diagnostic(d: &Diagnostic, positions: &Positions) -> Value {
    // Identity first, then where, then the details: the order a person reads a finding in.
    let mut map = Map::new();
    map.insert("code".into(), json!(d.code));
    map.insert("severity".into(), json!(d.severity.name()));
    map.insert("message".into(), json!(d.message));
    map.extend(located(d.span, positions));
    map.insert("labels".into(), d.labels.iter().map(|l| label(l, positions)).collect());
    map.insert("notes".into(), json!(d.notes));
    map.insert("help".into(), json!(d.help));
    map.insert("fixes".into(), d.fixes.iter().map(|f| fix(f, positions)).collect());
    Value::Object(map)
}

/// `line, column, end_line, end_column, span{start,end}` for a span of this file.
fn located(span: Span, positions: &Positions) -> Map<String, Value> {
    let Range { start, end } = positions.range(span);
    let mut map = Map::new();
    map.insert("line".into(), json!(start.line));
    map.insert("column".into(), json!(start.column));
    map.insert("end_line".into(), json!(end.line));
    map.insert("end_column".into(), json!(end.column));
    map.insert("span".into(), span_value(span));
    map
}

fn span_value(span: Span) -> Value {
    json!({ "start": span.start, "end": span.end })
}

fn label(l: &Label, positions: &Positions) -> Value {
    // A label in another file has no positions here (that file's text is not at hand).
    let mut map = match &l.file {
        None => located(l.span, positions),
        Some(_) => Map::from_iter([("span".to_string(), span_value(l.span))]),
    };
    map.insert("message".into(), json!(l.message));
    map.insert("file".into(), json!(l.file));
    Value::Object(map)
}

fn fix(f: &Fix, positions: &Positions) -> Value {
    let edits = f.edits.iter().map(|e| {
        let mut map = located(e.span, positions);
        map.insert("new_text".into(), json!(e.new_text));
        Value::Object(map)
    });
    json!({ "title": f.title, "edits": edits.collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_the_documented_shape() {
        let text = "id: x\nnaem: y\n".to_string();
        let d = Diagnostic::warning("OSP001", Span::new(6, 10), "unknown key")
            .with_label(Span::new(0, 2), "here")
            .with_replacement("rename", Span::new(6, 10), "name");
        let files = vec![
            FileResult { path: "a.ospec.yml".into(), text: text.into(), diagnostics: vec![d] },
            FileResult { path: "b.ospec.yml".into(), text: "".into(), diagnostics: vec![] },
        ];
        let doc: Value = serde_json::from_str(&render(&files)).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["tool"]["name"], "ospecc");
        assert_eq!(doc["summary"], json!({"files": 2, "errors": 0, "warnings": 1}));
        let d = &doc["files"][0]["diagnostics"][0];
        assert_eq!((d["code"].as_str(), d["severity"].as_str()), (Some("OSP001"), Some("warning")));
        assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(2), Some(1)));
        assert_eq!((d["end_line"].as_u64(), d["end_column"].as_u64()), (Some(2), Some(5)));
        assert_eq!(d["span"], json!({"start": 6, "end": 10}));
        assert_eq!(d["labels"][0]["message"], "here");
        assert_eq!(d["labels"][0]["line"], 1);
        assert_eq!(d["help"], Value::Null);
        assert_eq!(d["notes"], json!([]));
        assert_eq!(d["fixes"][0]["edits"][0]["new_text"], "name");
        assert_eq!(doc["files"][1]["diagnostics"], json!([]));
        let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
        assert_eq!(keys[0..3], ["code", "severity", "message"]);
    }
}
