//! The junit format: JUnit XML as CI systems (GitLab, Jenkins, Azure) read it.
//!
//! One `<testsuite>` (inside `<testsuites>`, which every consumer accepts), one `<testcase>`
//! per file. A file with errors fails, with every error in the `<failure>` body; warnings go to
//! `<system-out>` so they are visible without failing the case.

use std::fmt::Write;

use super::{plural, FileResult, Positions, Summary, TOOL_NAME};
use crate::diagnostics::{Diagnostic, Severity};

/// The whole run as one JUnit XML document.
pub fn render(files: &[FileResult]) -> String {
    let summary = Summary::of(files);
    let failures = files.iter().filter(|f| f.errors() > 0).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!("tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\"", summary.files);
    let _ = writeln!(out, "<testsuites name=\"{TOOL_NAME}\" {counts}>");
    let _ = writeln!(out, "  <testsuite name=\"{TOOL_NAME} check\" {counts}>");
    for file in files {
        testcase(&mut out, file);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn testcase(out: &mut String, file: &FileResult) {
    let path = escape(&file.path);
    let _ = write!(out, "    <testcase name=\"{path}\" classname=\"{TOOL_NAME}.check\" file=\"{path}\"");
    let positions = Positions::new(&file.text);
    let lines = |severity: Severity| -> String {
        file.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .map(|d| format!("{}\n", line(&file.path, d, &positions)))
            .collect()
    };
    let errors = lines(Severity::Error);
    let others: String = [lines(Severity::Warning), lines(Severity::Note)].concat();
    if errors.is_empty() && others.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if !errors.is_empty() {
        let message = plural(file.errors(), "error");
        let _ = writeln!(out, "      <failure message=\"{message}\" type=\"error\">{}</failure>", escape(&errors));
    }
    if !others.is_empty() {
        let _ = writeln!(out, "      <system-out>{}</system-out>", escape(&others));
    }
    out.push_str("    </testcase>\n");
}

/// `path:line:column: severity[CODE]: message` (plus help), the grep-friendly one-liner.
fn line(path: &str, d: &Diagnostic, positions: &Positions) -> String {
    let start = positions.range(d.span).start;
    let mut text = format!("{path}:{}:{}: {}[{}]: {}", start.line, start.column, d.severity.name(), d.code, d.message);
    if let Some(help) = &d.help {
        let _ = write!(text, " (help: {help})");
    }
    text
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at all
/// (most C0 controls) become U+FFFD, so a message quoting a binary file still yields valid XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    #[test]
    fn one_case_per_file_with_failures_and_escaping() {
        let files = vec![
            FileResult {
                path: "a&b.ospec.yml".into(),
                text: "x: <1>\n".into(),
                diagnostics: vec![
                    Diagnostic::error("OSP001", Span::new(3, 6), "bad <value> \"q\"\u{1}"),
                    Diagnostic::warning("OSP001", Span::new(0, 1), "w"),
                ],
            },
            FileResult { path: "ok.ospec.yml".into(), text: "".into(), diagnostics: vec![] },
        ];
        let xml = render(&files);
        assert!(xml.contains("<testsuites name=\"ospecc\" tests=\"2\" failures=\"1\""), "{xml}");
        assert_eq!(xml.matches("<testsuite ").count(), 1);
        assert_eq!(xml.matches("<testcase ").count(), 2);
        assert!(xml.contains("name=\"a&amp;b.ospec.yml\""), "{xml}");
        assert!(xml.contains("a&amp;b.ospec.yml:1:4: error[OSP001]: bad &lt;value&gt; &quot;q&quot;\u{FFFD}"), "{xml}");
        assert!(xml.contains("<failure message=\"1 error\" type=\"error\">"), "{xml}");
        assert!(xml.contains("<system-out>a&amp;b.ospec.yml:1:1: warning[OSP001]: w\n</system-out>"), "{xml}");
        assert!(xml.contains("<testcase name=\"ok.ospec.yml\" classname=\"ospecc.check\" file=\"ok.ospec.yml\"/>"));
    }
}
