//! Rendering check results for people and machines: one module per output format.
//!
//! Renderers are pure: they take the checked files (path, text, diagnostics) and return a
//! string. The binary decides where it goes; nothing here does IO, so every format can be
//! tested (and golden-tested) without a process.

pub mod docs;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use crate::diagnostics::{Diagnostic, Severity};
use crate::span::{LineCol, LineIndex, Span};

/// The tool's name as reports name it.
pub const TOOL_NAME: &str = "ospecc";
/// The tool's version as reports name it (the workspace version).
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One checked file: how it is displayed, its text, and its diagnostics in output order.
#[derive(Clone, Debug)]
pub struct FileResult {
    /// The path as the user should read it (relative to the working directory when possible).
    pub path: String,
    /// Shared (`ospecc check` keeps one copy of each file, for the analysis and the report).
    pub text: std::sync::Arc<str>,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileResult {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == severity).count()
    }

    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }
}

/// Totals over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn of(files: &[FileResult]) -> Summary {
        files.iter().fold(Summary::default(), |s, f| Summary {
            files: s.files + 1,
            errors: s.errors + f.errors(),
            warnings: s.warnings + f.warnings(),
        })
    }
}

/// Start and end of a span as 1-based line:column (end is exclusive, like the span).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: LineCol,
    pub end: LineCol,
}

/// Turns spans into ranges for one file's text (the index is built once per file).
pub struct Positions<'a> {
    text: &'a str,
    index: LineIndex,
}

impl<'a> Positions<'a> {
    pub fn new(text: &'a str) -> Positions<'a> {
        Positions { text, index: LineIndex::new(text) }
    }

    pub fn range(&self, span: Span) -> Range {
        Range { start: self.index.line_col(self.text, span.start), end: self.index.line_col(self.text, span.end) }
    }
}

/// `n thing` / `n things`.
pub fn plural(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

/// The first paragraph of a code's explanation after its `# CODE: title` heading.
pub fn first_paragraph(text: &str) -> String {
    let body = text.lines().skip_while(|l| l.starts_with('#') || l.trim().is_empty());
    body.take_while(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_severities() {
        let file = FileResult {
            path: "a.ospec.yml".into(),
            text: "a: 1\n".into(),
            diagnostics: vec![
                Diagnostic::error("OSP001", Span::new(0, 1), "e"),
                Diagnostic::warning("OSP001", Span::new(0, 1), "w"),
                Diagnostic::warning("OSP001", Span::new(0, 1), "w2"),
            ],
        };
        let empty = FileResult { path: "b".into(), text: "".into(), diagnostics: vec![] };
        assert_eq!(Summary::of(&[file, empty]), Summary { files: 2, errors: 1, warnings: 2 });
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(0, "error"), "0 errors");
    }

    #[test]
    fn first_paragraph_skips_the_heading() {
        assert_eq!(first_paragraph("# X: t\n\nOne\ntwo.\n\nThree."), "One two.");
    }
}
