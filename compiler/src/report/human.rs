//! The human format: rustc-style snippets via codespan-reporting, then one summary line.
//!
//! Colour is a parameter (the binary decides from `--color`, the TTY and `NO_COLOR`), so the
//! same function produces the golden-tested plain text and the coloured terminal output.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer, Config};

use super::{plural, FileResult, Positions, Summary};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::{clamp_to_char_boundary, Span};

/// Renders every diagnostic of every file (in the given order), then the summary line.
pub fn render(files: &[FileResult], color: bool) -> String {
    // Only files that are shown (with findings, or named by a cross-file label) enter the
    // database: a bulk check of clean files should not index every line of every file.
    let referenced: std::collections::HashSet<&str> =
        files.iter().flat_map(|f| &f.diagnostics).flat_map(|d| &d.labels).filter_map(|l| l.file.as_deref()).collect();
    let mut db = SimpleFiles::new();
    let ids: Vec<usize> = files
        .iter()
        .map(|f| match !f.diagnostics.is_empty() || referenced.contains(f.path.as_str()) {
            true => db.add(f.path.as_str(), &*f.text),
            false => usize::MAX,
        })
        .collect();
    let config = Config::default();
    let mut out = String::new();
    for (file, &id) in files.iter().zip(&ids) {
        // Built on first need only: most diagnostics are rendered with snippets.
        let mut positions: Option<Positions> = None;
        let mut without_snippet = |d: &Diagnostic, why: &str| {
            let at = positions.get_or_insert_with(|| Positions::new(&file.text)).range(d.span).start;
            convert_without_labels(d, &format!("{}:{}:{}{why}", file.path, at.line, at.column))
        };
        for diagnostic in &file.diagnostics {
            let rendered = if line_too_long(&file.text, diagnostic.span.start) {
                emit(&db, &config, &without_snippet(diagnostic, " (the line is too long to show)"), color)
            } else {
                let converted = convert(diagnostic, (id, &*file.text), |path| {
                    files.iter().position(|f| f.path == path).map(|i| (ids[i], &*files[i].text))
                });
                emit(&db, &config, &converted, color)
                    .or_else(|| emit(&db, &config, &without_snippet(diagnostic, ""), color))
            };
            out.push_str(&rendered.unwrap_or_default());
        }
    }
    out.push_str(&summary_line(&Summary::of(files)));
    out.push('\n');
    out
}

/// Lines longer than this (in bytes) are not shown as snippets: a minified or generated line
/// would bury the finding.
const MAX_SNIPPET_LINE: usize = 500;

fn line_too_long(text: &str, offset: usize) -> bool {
    let offset = clamp_to_char_boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    end - start > MAX_SNIPPET_LINE
}

/// One diagnostic as text; `None` if codespan rejects it (the caller falls back).
fn emit(db: &SimpleFiles<&str, &str>, config: &Config, d: &CsDiagnostic<usize>, color: bool) -> Option<String> {
    let mut buffer = if color { Buffer::ansi() } else { Buffer::no_color() };
    term::emit_to_write_style(&mut buffer, config, db, d).ok()?;
    Some(String::from_utf8_lossy(buffer.as_slice()).into_owned())
}

/// `checked N files: E errors, W warnings`.
pub fn summary_line(summary: &Summary) -> String {
    format!(
        "checked {}: {}, {}",
        plural(summary.files, "file"),
        plural(summary.errors, "error"),
        plural(summary.warnings, "warning")
    )
}

fn severity(severity: Severity) -> CsSeverity {
    match severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
        Severity::Note => CsSeverity::Note,
    }
}

/// Maps our diagnostic onto codespan's; labels in other files resolve through `file`, and
/// ones naming a file that is not loaded become notes (their location is still printed).
fn convert<'t>(
    d: &Diagnostic,
    own: (usize, &str),
    file: impl Fn(&str) -> Option<(usize, &'t str)>,
) -> CsDiagnostic<usize> {
    let (id, text) = own;
    let mut labels = vec![CsLabel::primary(id, clamp(d.span, text))];
    let mut notes = Vec::new();
    for label in &d.labels {
        let target = match label.file.as_deref() {
            None => Some((id, text)),
            Some(path) => file(path),
        };
        match target {
            Some((other, other_text)) => {
                labels.push(CsLabel::secondary(other, clamp(label.span, other_text)).with_message(&label.message))
            }
            None => notes.push(format!("{}: {}", label.file.as_deref().unwrap_or_default(), label.message)),
        }
    }
    notes.extend(d.notes.iter().cloned());
    notes.extend(trailer(d));
    CsDiagnostic::new(severity(d.severity))
        .with_code(d.code)
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// A span codespan accepts: inside the text and on char boundaries.
fn clamp(span: Span, text: &str) -> std::ops::Range<usize> {
    clamp_to_char_boundary(text, span.start)..clamp_to_char_boundary(text, span.end)
}

/// The diagnostic with its location as text instead of a snippet.
fn convert_without_labels(d: &Diagnostic, location: &str) -> CsDiagnostic<usize> {
    let mut notes = vec![format!("at {location}")];
    notes.extend(d.notes.iter().cloned());
    notes.extend(trailer(d));
    CsDiagnostic::new(severity(d.severity)).with_code(d.code).with_message(&d.message).with_notes(notes)
}

/// The help text and fix titles, which follow the notes.
fn trailer(d: &Diagnostic) -> Vec<String> {
    let help = d.help.iter().map(|h| format!("help: {h}"));
    let fixes = d.fixes.iter().map(|f| format!("fix: {}", f.title));
    help.chain(fixes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn sample() -> Vec<FileResult> {
        let text = "id: x\nnaem: y\n".to_string();
        let d = Diagnostic::warning("OSP001", Span::new(6, 10), "unknown key `naem`")
            .with_label(Span::new(0, 2), "the document starts here")
            .with_note("a note")
            .with_help("did you mean `name`?")
            .with_replacement("rename to `name`", Span::new(6, 10), "name");
        vec![FileResult { path: "dir/a.ospec.yml".into(), text: text.into(), diagnostics: vec![d] }]
    }

    #[test]
    fn plain_output_has_snippet_labels_notes_and_summary() {
        let out = render(&sample(), false);
        assert!(out.contains("warning[OSP001]: unknown key `naem`"), "{out}");
        assert!(out.contains("dir/a.ospec.yml:2:1"), "{out}");
        assert!(out.contains("naem: y"), "{out}");
        assert!(out.contains("the document starts here"), "{out}");
        assert!(out.contains("= help: did you mean `name`?"), "{out}");
        assert!(out.contains("= fix: rename to `name`"), "{out}");
        assert!(out.ends_with("checked 1 file: 0 errors, 1 warning\n"), "{out}");
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn colour_is_controlled_by_the_flag() {
        assert!(render(&sample(), true).contains('\x1b'));
    }

    #[test]
    fn out_of_range_spans_do_not_lose_the_finding() {
        let d = Diagnostic::error("OSP001", Span::new(50, 60), "far away");
        let files = vec![FileResult { path: "a".into(), text: "x".into(), diagnostics: vec![d] }];
        let out = render(&files, false);
        assert!(out.contains("far away"), "{out}");
    }

    #[test]
    fn very_long_lines_are_not_printed() {
        let text = format!("a: [{}]\n", "1, ".repeat(1000));
        let d = Diagnostic::error("OSP001", Span::new(1500, 1501), "deep in a long line");
        let files = vec![FileResult { path: "long.ospec.yml".into(), text: text.into(), diagnostics: vec![d] }];
        let out = render(&files, false);
        assert!(out.contains("= at long.ospec.yml:1:1501 (the line is too long to show)"), "{out}");
        assert!(out.len() < 400, "{out}");
    }

    #[test]
    fn labels_in_unloaded_files_become_notes() {
        let mut d = Diagnostic::error("OSP001", Span::new(0, 1), "m");
        d.labels.push(crate::diagnostics::Label {
            span: Span::new(0, 1),
            message: "defined here".into(),
            file: Some("other.star".into()),
        });
        let files = vec![FileResult { path: "a".into(), text: "x".into(), diagnostics: vec![d] }];
        assert!(render(&files, false).contains("other.star: defined here"));
    }
}
